//! An LPF echo server and a client over loopback TCP: the client sends two
//! frames with a corrupted one between them; the server echoes the good
//! ones, logs the dropped one and closes in an orderly way at the end. The
//! server's deadlines (PROTOCOL.md section 6) are the library's: idle
//! before a frame, stall for a whole frame, write toward a peer that does
//! not read.
//!
//! `cargo run --example echo`. The full server (deadlines, limits, stats,
//! graceful shutdown) is the reference server:
//! `cargo run -p lpframe-testkit --example reference_server`.

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use std::time::Duration;

use lpframe::{Deadlines, Error, FrameCodec, Received, WithDeadlines};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::Framed;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    println!("listening on {addr}");
    let server = tokio::spawn(async move {
        let (socket, peer) = listener.accept().await?;
        echo(socket, peer).await
    });

    let mut client = Framed::new(TcpStream::connect(addr).await?, FrameCodec::new());
    client.send(Bytes::from_static(b"hello")).await?;
    let mut corrupt = Vec::new();
    lpframe::write_frame(&mut corrupt, b"flipped in transit")?;
    corrupt[20] ^= 0x01; // one payload bit
    client.get_mut().write_all(&corrupt).await?;
    client.send(Bytes::from_static(b"world")).await?;
    client.get_mut().shutdown().await?; // FIN: nothing more from the client

    while let Some(item) = client.next().await {
        if let Received::Frame(frame) = item? {
            println!("client: echo {:?}", String::from_utf8_lossy(&frame));
        }
    }
    server.await??;
    Ok(())
}

/// Echoes every frame; a corrupt one costs that frame only; a fatal error
/// or the peer's FIN ends the connection with the replies flushed first.
async fn echo(socket: TcpStream, peer: std::net::SocketAddr) -> Result<(), Error> {
    let secs = Duration::from_secs;
    let deadlines = Deadlines::new().idle(secs(30)).stall(secs(10));
    let framed = Framed::new(socket, FrameCodec::new());
    let mut framed = WithDeadlines::new(framed, deadlines).write_deadline(secs(10));
    let result = loop {
        match framed.next().await {
            Some(Ok(Received::Frame(frame))) => framed.send(frame.into()).await?,
            Some(Ok(Received::Dropped(e))) => eprintln!("server: {peer}: dropped a frame: {e}"),
            // Idle, stalled mid-frame, or a fatal error: close.
            Some(Err(e)) => break Err(e),
            None => break Ok(()),
        }
    };
    // The orderly close: what is owed, then FIN.
    framed.flush().await?;
    framed.get_mut().get_mut().shutdown().await?;
    if let Err(e) = &result {
        eprintln!("server: {peer}: closing: {e}");
    }
    result
}
