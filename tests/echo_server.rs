//! Behaviour 8: the example's tokio echo server (one task per connection,
//! idle timeout per connection, 127.0.0.1) serves many concurrent clients,
//! and each gets its frames back unchanged.
#![cfg(feature = "tokio")]

use testkit::server as echo;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use lpframe::FrameCodec;
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

const CLIENTS: usize = 64;
const FRAMES: usize = 40;

fn payload(client: usize, i: usize) -> Bytes {
    // Sizes from 0 to ~20 KiB, content unique to (client, frame).
    let len = (client * 7919 + i * 104_729) % 20_000 * usize::from(i % 5 != 0);
    Bytes::from(
        (0..len)
            .map(|j| (j ^ client ^ (i << 3)) as u8)
            .collect::<Vec<u8>>(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_clients_get_their_frames_back_unchanged() {
    let opts = echo::ServerOptions {
        idle_timeout: Duration::from_secs(10),
        stall_timeout: Duration::from_secs(10),
        verbose: false,
        ..Default::default()
    };
    let server = echo::Running::start(opts).await.unwrap();
    let (addr, stats) = (server.addr, Arc::clone(&server.stats));

    let mut clients = tokio::task::JoinSet::new();
    for c in 0..CLIENTS {
        clients.spawn(async move {
            let stream = TcpStream::connect(addr).await.unwrap();
            let mut framed = Framed::new(stream, FrameCodec::new());
            // Pipeline a few frames at a time, then read their echoes.
            for batch in (0..FRAMES).collect::<Vec<_>>().chunks(4) {
                for &i in batch {
                    framed.feed(payload(c, i)).await.unwrap();
                }
                framed.flush().await.unwrap();
                for &i in batch {
                    let echo = tokio::time::timeout(Duration::from_secs(30), framed.next())
                        .await
                        .expect("echo within 30 s")
                        .expect("connection open")
                        .expect("no fatal error")
                        .into_frame()
                        .expect("no dropped frame");
                    assert_eq!(echo.payload(), &payload(c, i), "client {c} frame {i}");
                }
            }
        });
    }
    let deadline = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(r) = clients.join_next().await {
            r.unwrap();
        }
    });
    deadline.await.expect("all clients done within 120 s");
    server.stop().await.unwrap();
    assert_eq!(stats.connections.load(Ordering::Relaxed), CLIENTS as u64);
    assert_eq!(
        stats.frames_echoed.load(Ordering::Relaxed),
        (CLIENTS * FRAMES) as u64
    );
    assert_eq!(stats.protocol_errors.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn idle_connections_are_closed_by_the_idle_timeout() {
    let opts = echo::ServerOptions {
        idle_timeout: Duration::from_millis(200),
        stall_timeout: Duration::from_millis(200),
        verbose: false,
        ..Default::default()
    };
    let server = echo::Running::start(opts).await.unwrap();
    let (addr, stats) = (server.addr, Arc::clone(&server.stats));
    let stream = TcpStream::connect(addr).await.unwrap();
    let mut framed = Framed::new(stream, FrameCodec::new());
    // The server closes the silent connection: the client sees a clean end.
    let end = tokio::time::timeout(Duration::from_secs(10), framed.next())
        .await
        .unwrap();
    assert!(end.is_none());
    assert_eq!(stats.timeouts.load(Ordering::Relaxed), 1);
    server.stop().await.unwrap();
}
