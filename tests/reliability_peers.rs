//! Slow and silent peers against the example echo server, and graceful
//! shutdown. Every peer is closed by the per-frame idle/stall deadline
//! while a well-behaved client keeps getting answers meanwhile; on
//! shutdown no frame in flight is lost.
#![cfg(feature = "tokio")]

use testkit::server as echo;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use lpframe::{FrameCodec, Header};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

const IDLE: Duration = Duration::from_millis(1500);
const STALL: Duration = Duration::from_millis(800);

async fn start_server() -> echo::Running {
    let opts = echo::ServerOptions {
        idle_timeout: IDLE,
        stall_timeout: STALL,
        verbose: false,
        ..Default::default()
    };
    echo::Running::start(opts).await.unwrap()
}

/// Waits (bounded) until the server closes `s`; returns how long it took.
async fn closed_within(mut s: TcpStream, limit: Duration) -> Duration {
    let start = Instant::now();
    let mut buf = [0u8; 64];
    loop {
        match tokio::time::timeout(limit, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return start.elapsed(),
            Ok(Ok(_)) => continue,
            Err(_) => panic!("peer not closed within {limit:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_silent_peers_are_closed_while_others_are_served() {
    let server = start_server().await;
    let (addr, stats) = (server.addr, Arc::clone(&server.stats));

    // 1. A trickler: a 100-byte frame at 1 byte per 100 ms (would take 11.6 s).
    let trickler = tokio::spawn(async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.set_nodelay(true).unwrap();
        let mut wire = Vec::new();
        lpframe::write_frame(&mut wire, &[b't'; 100]).unwrap();
        let start = Instant::now();
        for b in wire {
            if s.write_all(&[b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            if start.elapsed() > Duration::from_secs(8) {
                panic!("trickler never cut off");
            }
        }
        start.elapsed()
    });
    // 2. Half a header, then silence.
    let half = tokio::spawn(async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let mut wire = Vec::new();
        lpframe::write_frame(&mut wire, b"x").unwrap();
        s.write_all(&wire[..8]).await.unwrap();
        closed_within(s, Duration::from_secs(10)).await
    });
    // 3. A header declaring 8 MiB, then one byte.
    let big = tokio::spawn(async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let h = Header::new(8 * 1024 * 1024, 0).to_bytes();
        s.write_all(&h).await.unwrap();
        s.write_all(&[1]).await.unwrap();
        closed_within(s, Duration::from_secs(10)).await
    });
    // 4. A connected peer that never sends anything.
    let silent = tokio::spawn(async move {
        let s = TcpStream::connect(addr).await.unwrap();
        closed_within(s, Duration::from_secs(10)).await
    });

    // Meanwhile a normal client is served promptly, again and again.
    let stream = TcpStream::connect(addr).await.unwrap();
    let mut framed = Framed::new(stream, FrameCodec::new());
    let mut worst = Duration::ZERO;
    for i in 0..20u32 {
        let t = Instant::now();
        framed
            .send(Bytes::from(i.to_be_bytes().to_vec()))
            .await
            .unwrap();
        let echo = tokio::time::timeout(Duration::from_secs(5), framed.next())
            .await
            .expect("echo within 5 s")
            .expect("connection open")
            .expect("no fatal error")
            .into_frame()
            .expect("no dropped frame");
        assert_eq!(echo.payload(), &i.to_be_bytes()[..]);
        worst = worst.max(t.elapsed());
        tokio::time::sleep(Duration::from_millis(50)).await; // keeps it under the idle timeout
    }

    let t_trickle = trickler.await.unwrap();
    let t_half = half.await.unwrap();
    let t_big = big.await.unwrap();
    let t_silent = silent.await.unwrap();
    println!("closed: trickler after {t_trickle:?}, half header {t_half:?}, 8 MiB header {t_big:?}, silent {t_silent:?}; normal client worst round trip {worst:?}");
    // Stalled frames are cut by the stall deadline, silence by the idle one
    // (the library's deadlines, never early; generous upper bounds for a
    // loaded machine).
    assert!(t_half >= STALL && t_half < STALL * 4, "{t_half:?}");
    assert!(t_big >= STALL && t_big < STALL * 4, "{t_big:?}");
    assert!(t_silent >= IDLE && t_silent < IDLE * 3, "{t_silent:?}");
    assert!(t_trickle < Duration::from_secs(4), "{t_trickle:?}");
    assert!(
        worst < Duration::from_secs(2),
        "normal client starved: {worst:?}"
    );
    drop(framed);
    assert!(stats.timeouts.load(Ordering::Relaxed) >= 4);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_answers_every_frame_in_flight() {
    let server = start_server().await;
    let (addr, stats) = (server.addr, Arc::clone(&server.stats));
    const CLIENTS: usize = 20;
    const FRAMES: usize = 50;
    let (sent_tx, mut sent_rx) = tokio::sync::mpsc::channel::<()>(CLIENTS);
    let mut clients = tokio::task::JoinSet::new();
    for c in 0..CLIENTS {
        let sent_tx = sent_tx.clone();
        clients.spawn(async move {
            let stream = TcpStream::connect(addr).await.unwrap();
            let mut framed = Framed::new(stream, FrameCodec::new());
            // Pipeline everything, tell the test, then read the echoes
            // while the server is shutting down.
            for i in 0..FRAMES {
                framed
                    .feed(Bytes::from(format!("client {c} frame {i}")))
                    .await
                    .unwrap();
            }
            framed.flush().await.unwrap();
            sent_tx.send(()).await.unwrap();
            let mut got = 0;
            while let Some(f) = tokio::time::timeout(Duration::from_secs(10), framed.next())
                .await
                .unwrap()
            {
                assert_eq!(
                    f.expect("no fatal error")
                        .into_frame()
                        .expect("no dropped frame")
                        .payload(),
                    format!("client {c} frame {got}").as_bytes()
                );
                got += 1;
            }
            got
        });
    }
    for _ in 0..CLIENTS {
        sent_rx.recv().await.unwrap();
    }
    // Shutdown while frames are in flight.
    tokio::time::timeout(Duration::from_secs(20), server.stop())
        .await
        .unwrap()
        .unwrap();
    // The listener is closed: new connections are refused.
    assert!(TcpStream::connect(addr).await.is_err());
    let mut total = 0;
    while let Some(r) = clients.join_next().await {
        let got = r.unwrap();
        assert_eq!(got, FRAMES, "a client lost frames in flight");
        total += got;
    }
    assert_eq!(stats.frames_echoed.load(Ordering::Relaxed) as usize, total);
}
