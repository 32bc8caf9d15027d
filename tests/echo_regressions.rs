//! The echo example's server and client (the server RELIABILITY.md and the
//! docs call the tested one), against the failures a hostile suite found
//! (issue 16, items 3, 4 and 8): each test fails on the code before the
//! fix.
#![cfg(feature = "tokio")]

use testkit::server as echo;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use lpframe::{Config, FrameCodec, Received};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use tokio_util::codec::Framed;

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut wire = Vec::new();
    lpframe::write_frame(&mut wire, payload).unwrap();
    wire
}

fn quiet(idle: Duration) -> echo::ServerOptions {
    echo::ServerOptions {
        idle_timeout: idle,
        stall_timeout: Duration::from_secs(5),
        verbose: false,
        ..Default::default()
    }
}

/// Reads one frame's payload, or `None` at the peer's orderly close.
async fn read_echo(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = [0u8; lpframe::HEADER_LEN];
    if stream.read_exact(&mut head).await.is_err() {
        return None;
    }
    let header = lpframe::Header::parse(&head, u32::MAX).unwrap();
    let mut payload = vec![0; header.len() as usize];
    stream.read_exact(&mut payload).await.unwrap();
    Some(payload)
}

/// 16.3: a good frame followed, in the same read, by a corrupt one: the
/// good frame's echo used to wait for the 30 s idle timeout.
#[tokio::test]
async fn a_good_frame_before_a_corrupt_one_is_answered_at_once() {
    let server = echo::Running::start(quiet(Duration::from_secs(30)))
        .await
        .unwrap();
    let mut client = TcpStream::connect(server.addr).await.unwrap();
    let mut wire = frame(b"good");
    let mut bad = frame(b"corrupt");
    bad[lpframe::HEADER_LEN] ^= 1;
    wire.extend_from_slice(&bad);
    client.write_all(&wire).await.unwrap();
    let echo = timeout(Duration::from_secs(2), read_echo(&mut client))
        .await
        .expect("the echo of the good frame within 2 s, not after the idle timeout");
    assert_eq!(echo.as_deref(), Some(&b"good"[..]));
    // The connection is still up: the next frame is answered too.
    client.write_all(&frame(b"next")).await.unwrap();
    let echo = timeout(Duration::from_secs(2), read_echo(&mut client))
        .await
        .unwrap();
    assert_eq!(echo.as_deref(), Some(&b"next"[..]));
    assert_eq!(server.stats.corrupt_frames.load(Ordering::Relaxed), 1);
    server.stop().await.unwrap();
}

/// 16.3: a client that sends its frames and then FIN got nothing back.
#[tokio::test]
async fn a_client_that_half_closes_gets_every_echo_then_the_end() {
    let server = echo::Running::start(quiet(Duration::from_secs(30)))
        .await
        .unwrap();
    for with_corrupt_last in [false, true] {
        let mut client = TcpStream::connect(server.addr).await.unwrap();
        let mut wire = frame(b"one");
        wire.extend_from_slice(&frame(b"two"));
        if with_corrupt_last {
            let mut bad = frame(b"bad");
            bad[lpframe::HEADER_LEN] ^= 1;
            wire.extend_from_slice(&bad);
        }
        client.write_all(&wire).await.unwrap();
        client.shutdown().await.unwrap();
        let mut got = Vec::new();
        let done = timeout(Duration::from_secs(2), async {
            while let Some(p) = read_echo(&mut client).await {
                got.push(p);
            }
        })
        .await;
        assert!(done.is_ok(), "the server did not close after the echoes");
        assert_eq!(got, [b"one".to_vec(), b"two".to_vec()]);
    }
    server.stop().await.unwrap();
}

/// Sends 1 MiB frames without reading any echo until a write blocks for
/// half a second (the server's replies have filled both directions) or
/// fails (the server dropped the connection), at most 256 frames.
async fn fill_without_reading(client: &mut TcpStream) -> usize {
    let big = frame(&vec![0x5A; 1 << 20]);
    for sent in 0..256 {
        match timeout(Duration::from_millis(500), client.write_all(&big)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) | Err(_) => return sent,
        }
    }
    256
}

/// 16.4: a client that never reads held its connection task forever (no
/// write deadline).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_dropped_by_the_write_timeout() {
    let opts = echo::ServerOptions {
        write_timeout: Duration::from_millis(300),
        ..quiet(Duration::from_secs(30))
    };
    let server = echo::Running::start(opts).await.unwrap();
    let mut client = TcpStream::connect(server.addr).await.unwrap();
    let sent = fill_without_reading(&mut client).await;
    assert!(sent < 256, "the server never stopped reading");
    let start = Instant::now();
    while server.stats.timeouts.load(Ordering::Relaxed) == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no write timeout 10 s after the send buffer filled"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "dropped {:?} after the client saw its writes block for 0.5 s",
        start.elapsed()
    );
    // A well-behaved client is still served.
    let mut other = Framed::new(
        TcpStream::connect(server.addr).await.unwrap(),
        FrameCodec::new(),
    );
    other.send(Bytes::from_static(b"hi")).await.unwrap();
    let echo = timeout(Duration::from_secs(2), other.next()).await.unwrap();
    assert!(matches!(echo, Some(Ok(Received::Frame(f))) if &f[..] == b"hi"));
    server.stop().await.unwrap();
}

/// 16.4: shutdown (Ctrl-C) waited on a peer that does not read; now it ends
/// within the grace period even with the default 10 s write timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_does_not_wait_on_a_client_that_never_reads() {
    let server = echo::Running::start(quiet(Duration::from_secs(30)))
        .await
        .unwrap();
    let mut client = TcpStream::connect(server.addr).await.unwrap();
    assert!(fill_without_reading(&mut client).await < 256);
    let start = Instant::now();
    timeout(echo::SHUTDOWN_GRACE + Duration::from_secs(3), server.stop())
        .await
        .expect("shutdown finished")
        .unwrap();
    println!("shutdown took {:?}", start.elapsed());
    drop(client);
}

/// PROTOCOL.md section 4: after a fatal error the server closes in an
/// orderly way, so the peer sees the end of the stream (FIN), not a reset —
/// even with unread bytes of its frame still arriving.
#[tokio::test]
async fn a_fatal_error_ends_with_fin_not_reset() {
    let opts = echo::ServerOptions {
        config: Config::new().max_read_frame_len(1024),
        ..quiet(Duration::from_secs(30))
    };
    let server = echo::Running::start(opts).await.unwrap();
    let mut client = TcpStream::connect(server.addr).await.unwrap();
    // A header over the limit, then 200 KB of its payload.
    let big = frame(&vec![1u8; 200_000]);
    client.write_all(&big).await.unwrap();
    let mut sink = Vec::new();
    let end = timeout(Duration::from_secs(5), client.read_to_end(&mut sink))
        .await
        .expect("closed within 5 s");
    assert!(end.is_ok(), "the peer saw {end:?}, not an orderly end");
    assert!(sink.is_empty(), "nothing is echoed after a fatal error");
    assert_eq!(server.stats.protocol_errors.load(Ordering::Relaxed), 1);
    server.stop().await.unwrap();
}

/// A conforming peer that closes the connection (orderly) at a corrupt
/// payload instead of skipping it (PROTOCOL.md section 4 allows both).
async fn closing_peer() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        for _ in 0..8 {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut framed = Framed::new(stream, FrameCodec::new());
                while let Some(item) = framed.next().await {
                    match item {
                        Ok(Received::Frame(f)) => {
                            if framed.send(f.into()).await.is_err() {
                                return;
                            }
                        }
                        _ => break,
                    }
                }
                let _ = framed.get_mut().shutdown().await;
                let mut sink = [0u8; 1024];
                let _ = timeout(Duration::from_millis(200), async {
                    while matches!(framed.get_mut().read(&mut sink).await, Ok(n) if n > 0) {}
                })
                .await;
            });
        }
    });
    addr
}

/// 16.8: the example's client exited with `UnexpectedEof` against a peer
/// that closes after the demo's deliberately corrupt frame.
#[tokio::test]
async fn the_demo_client_finishes_against_a_peer_that_closes_on_a_corrupt_frame() {
    let addr = closing_peer().await;
    timeout(Duration::from_secs(20), echo::client_demo(addr))
        .await
        .expect("the demo finished")
        .expect("the demo succeeded");
}

#[tokio::test]
async fn the_demo_runs_against_the_example_server() {
    let server = echo::Running::start(quiet(Duration::from_secs(30)))
        .await
        .unwrap();
    let stats = Arc::clone(&server.stats);
    echo::client_demo(server.addr).await.unwrap();
    server.stop().await.unwrap();
    assert_eq!(stats.corrupt_frames.load(Ordering::Relaxed), 1);
    assert_eq!(stats.protocol_errors.load(Ordering::Relaxed), 1);
}
