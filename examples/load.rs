//! Load test: the echo server under many concurrent connections, each
//! sending frames of mixed sizes one at a time and timing each round trip.
//! Prints throughput and p50/p99/max round-trip latency; fails if any frame
//! comes back altered or missing.
//!
//! ```text
//! cargo run --release --example load                          # 1,000 connections x 1,000 frames
//! cargo run --release --example load -- --connections 100 --frames 200
//! ```
//!
//! Loopback only (127.0.0.1). A small bounded run is part of the tests
//! (`tests/reliability_load.rs`).

use testkit::server as echo;

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use lpframe::FrameCodec;
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

/// What a run measured.
#[derive(Debug)]
pub struct LoadReport {
    /// Frames echoed and checked.
    pub frames: u64,
    /// Payload bytes sent (each also received).
    pub bytes: u64,
    /// Wall time of the whole run.
    pub elapsed: Duration,
    /// Round-trip latency percentiles.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Worst round trip.
    pub max: Duration,
}

/// Mixed sizes: mostly small, some medium, a few 64 KiB.
fn size(i: u64, c: u64) -> usize {
    match (i * 7 + c) % 20 {
        0 => 64 * 1024,
        1..=4 => 4096,
        5..=9 => 512,
        _ => 32,
    }
}

/// Runs `connections` clients x `frames` frames against a fresh echo
/// server on 127.0.0.1; panics if a frame is lost or altered.
pub async fn run_load(connections: u64, frames: u64) -> LoadReport {
    // (`Running::start` listens with a backlog for a thousand simultaneous
    // connects.)
    let opts = echo::ServerOptions {
        idle_timeout: Duration::from_secs(60),
        stall_timeout: Duration::from_secs(30),
        verbose: std::env::var_os("LOAD_VERBOSE").is_some(),
        ..Default::default()
    };
    let server = echo::Running::start(opts).await.unwrap();
    let addr = server.addr;
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for c in 0..connections {
        set.spawn(async move {
            let stream = TcpStream::connect(addr).await.expect("connect");
            stream.set_nodelay(true).expect("nodelay");
            let mut framed = Framed::new(stream, FrameCodec::new());
            let mut rtts = Vec::with_capacity(frames as usize);
            let mut bytes = 0u64;
            for i in 0..frames {
                let mut p = vec![(i ^ c) as u8; size(i, c)];
                if let Some(first) = p.first_mut() {
                    *first = c as u8;
                }
                let p = Bytes::from(p);
                let t = Instant::now();
                framed.send(p.clone()).await.expect("send");
                let echo = tokio::time::timeout(Duration::from_secs(60), framed.next())
                    .await
                    .expect("echo within 60 s")
                    .expect("connection open")
                    .expect("no fatal error")
                    .into_frame()
                    .expect("no dropped frame");
                rtts.push(t.elapsed());
                assert_eq!(echo.payload(), &p, "connection {c} frame {i} altered");
                bytes += p.len() as u64;
            }
            (rtts, bytes)
        });
    }
    let mut all = Vec::with_capacity((connections * frames) as usize);
    let mut bytes = 0;
    while let Some(r) = set.join_next().await {
        let (rtts, b) = r.expect("client task");
        all.extend(rtts);
        bytes += b;
    }
    let elapsed = start.elapsed();
    let _ = server.stop().await;
    assert_eq!(all.len() as u64, connections * frames, "frames lost");
    all.sort_unstable();
    let pct = |q: f64| {
        all.get(((all.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or_default()
    };
    LoadReport {
        frames: all.len() as u64,
        bytes,
        elapsed,
        p50: pct(0.50),
        p99: pct(0.99),
        max: all.last().copied().unwrap_or_default(),
    }
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let connections = arg("--connections", 1000);
    let frames = arg("--frames", 1000);
    println!("load: {connections} connections x {frames} frames of mixed sizes (32 B .. 64 KiB), one at a time, on 127.0.0.1");
    let r = run_load(connections, frames).await;
    println!(
        "{} frames, {:.1} MiB each way in {:.2?}: {:.0} frames/s, {:.1} MiB/s; round trip p50 {:.2?}, p99 {:.2?}, max {:.2?}; nothing lost or altered",
        r.frames,
        r.bytes as f64 / 1048576.0,
        r.elapsed,
        r.frames as f64 / r.elapsed.as_secs_f64(),
        r.bytes as f64 / 1048576.0 / r.elapsed.as_secs_f64(),
        r.p50,
        r.p99,
        r.max
    );
}
