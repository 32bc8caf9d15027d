//! Typed messages over lpframe with tokio-serde: a key-value service on
//! loopback TCP, written exactly as it would be over tokio-util's
//! `LengthDelimitedCodec` — the codec is the only change. `PayloadCodec`
//! yields each payload as the `BytesMut` split from the read buffer (no
//! copy per message), and both CRCs check every message on the way.
//!
//! ```text
//! cargo run --example typed
//! ```

use std::collections::HashMap;

use futures::{SinkExt, TryStreamExt};
use lpframe::PayloadCodec;
use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, TcpStream};
use tokio_serde::formats::Json;
use tokio_util::codec::Framed;

#[derive(Debug, Serialize, Deserialize)]
enum Request {
    Set(String, String),
    Get(String),
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Reply {
    Done,
    Value(Option<String>),
}

/// Serves one connection: requests in, replies out.
async fn serve(socket: TcpStream) -> std::io::Result<()> {
    let bytes = Framed::new(socket, PayloadCodec::new());
    let mut conn = tokio_serde::Framed::new(bytes, Json::<Request, Reply>::default());
    let mut store = HashMap::new();
    while let Some(request) = conn.try_next().await? {
        let reply = match request {
            Request::Set(key, value) => {
                store.insert(key, value);
                Reply::Done
            }
            Request::Get(key) => Reply::Value(store.get(&key).cloned()),
        };
        conn.send(reply).await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move { serve(listener.accept().await?.0).await });

    let bytes = Framed::new(TcpStream::connect(addr).await?, PayloadCodec::new());
    let mut client = tokio_serde::Framed::new(bytes, Json::<Reply, Request>::default());
    client
        .send(Request::Set("lang".into(), "rust".into()))
        .await?;
    println!("set: {:?}", client.try_next().await?);
    client.send(Request::Get("lang".into())).await?;
    println!("get: {:?}", client.try_next().await?);
    drop(client);
    server.await??;
    Ok(())
}
