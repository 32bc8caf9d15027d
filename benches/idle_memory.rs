//! What an idle connection costs a tokio server, per connection: the
//! growth of the server's RSS (`VmRSS`) and of its live heap (counted by a
//! global allocator, which does not swing) from before the first accept to
//! when N connections have each echoed one 64-byte frame and sit idle, the
//! server's task per connection waiting for the next frame. The clients
//! are a separate process (this binary, started by the server).
//!
//! `idle_memory MODE N` (or `cargo bench --bench idle_memory -- MODE N`):
//! - `bare`: the socket halves, reading into a stack buffer (the floor);
//! - `ldc`: `FramedRead` + `FramedWrite` with `LengthDelimitedCodec`;
//! - `lpf-framed`: `FramedRead` + `FramedWrite` with `FrameCodec`;
//! - `lpf-sink`: `FramedRead<FrameCodec>` + `FrameSink`;
//! - `lpf-deadlines`: `WithDeadlines` over `FramedRead<FrameCodec>`, and a
//!   `FrameSink`.
//!
//! Without arguments it prints the table of BENCHMARKS.md for 1,000, 5,000
//! and 19,000 connections (the machine allows 20,000 open files per
//! process: `ulimit -n`). Prints one line per run: mode, N, RSS KiB per
//! connection, heap bytes per connection.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufRead, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use lpframe::{Deadlines, FrameCodec, FrameSink, Received, WithDeadlines};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::{FramedRead, FramedWrite, LengthDelimitedCodec};

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const MODES: [&str; 5] = ["bare", "ldc", "lpf-framed", "lpf-sink", "lpf-deadlines"];
const PAYLOAD: usize = 64;

fn rss_kib() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    match args.as_slice() {
        [client, port, n, mode] if client == "client" => {
            client_main(port.parse().unwrap(), n.parse().unwrap(), mode)
        }
        [mode, n] => println!("{}", server_main(mode, n.parse().unwrap())),
        [] => {
            println!("| connections | mode | RSS KiB per connection | heap bytes per connection |");
            println!("|---|---|---|---|");
            for n in [1000, 5000, 19000] {
                for mode in MODES {
                    // Each run in a process of its own (a fresh heap).
                    let out = Command::new(std::env::current_exe().unwrap())
                        .args([mode, &n.to_string()])
                        .output()
                        .unwrap();
                    print!("{}", String::from_utf8_lossy(&out.stdout));
                    std::io::stdout().flush().unwrap();
                }
            }
        }
        _ => eprintln!("usage: idle_memory [MODE N] (modes: {MODES:?})"),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// One server run: the per-connection growth, as a table row.
fn server_main(mode: &str, n: usize) -> String {
    assert!(MODES.contains(&mode), "unknown mode {mode}");
    let rt = runtime();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let echoed = Arc::new(AtomicUsize::new(0));
        // Warm the runtime and the allocator (one connection's worth of
        // everything, dropped) before the baseline.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (rss0, live0) = (rss_kib(), LIVE.load(Ordering::Relaxed));
        let mut client = Command::new(std::env::current_exe().unwrap())
            .args(["client", &port.to_string(), &n.to_string(), mode])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut held = Vec::with_capacity(n);
        for _ in 0..n {
            let (socket, _) = listener.accept().await.unwrap();
            let echoed = echoed.clone();
            let mode = mode.to_string();
            held.push(tokio::spawn(
                async move { serve(&mode, socket, echoed).await },
            ));
        }
        let start = Instant::now();
        while echoed.load(Ordering::Relaxed) < n && start.elapsed() < Duration::from_secs(120) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            echoed.load(Ordering::Relaxed),
            n,
            "not every connection echoed"
        );
        // The clients have their echoes; everything is idle now.
        let mut line = String::new();
        std::io::BufReader::new(client.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "echoed");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (rss1, live1) = (rss_kib(), LIVE.load(Ordering::Relaxed));
        drop(client.stdin.take()); // the client closes its sockets and exits
        let _ = client.wait();
        for task in held {
            task.abort();
        }
        format!(
            "| {n} | {mode} | {:.2} | {:.0} |",
            rss1.saturating_sub(rss0) as f64 / n as f64,
            live1.saturating_sub(live0) as f64 / n as f64
        )
    })
}

/// A connection's task: echo one frame, then wait for the next (forever:
/// the run ends by aborting the task).
async fn serve(mode: &str, socket: TcpStream, echoed: Arc<AtomicUsize>) {
    let (rx, tx) = socket.into_split();
    match mode {
        "bare" => {
            let (mut rx, mut tx) = (rx, tx);
            let mut buf = [0u8; 16 + PAYLOAD];
            rx.read_exact(&mut buf).await.unwrap();
            tx.write_all(&buf).await.unwrap();
            echoed.fetch_add(1, Ordering::Relaxed);
            let _ = rx.read(&mut buf).await;
        }
        "ldc" => {
            let mut rx = FramedRead::new(rx, LengthDelimitedCodec::new());
            let mut tx = FramedWrite::new(tx, LengthDelimitedCodec::new());
            let frame = rx.next().await.unwrap().unwrap();
            tx.send(frame.freeze()).await.unwrap();
            echoed.fetch_add(1, Ordering::Relaxed);
            let _ = rx.next().await;
        }
        "lpf-framed" => {
            let mut rx = FramedRead::new(rx, FrameCodec::new());
            let mut tx = FramedWrite::new(tx, FrameCodec::new());
            let frame = next_frame(rx.next().await);
            tx.send(frame).await.unwrap();
            echoed.fetch_add(1, Ordering::Relaxed);
            let _ = rx.next().await;
        }
        "lpf-sink" => {
            let mut rx = FramedRead::new(rx, FrameCodec::new());
            let mut tx = FrameSink::new(tx);
            let frame = next_frame(rx.next().await);
            tx.send(frame).await.unwrap();
            echoed.fetch_add(1, Ordering::Relaxed);
            let _ = rx.next().await;
        }
        "lpf-deadlines" => {
            let deadlines = Deadlines::new().idle(Duration::from_secs(3600));
            let mut rx = WithDeadlines::new(FramedRead::new(rx, FrameCodec::new()), deadlines);
            let mut tx = FrameSink::new(tx);
            let frame = next_frame(rx.next().await);
            tx.send(frame).await.unwrap();
            echoed.fetch_add(1, Ordering::Relaxed);
            let _ = rx.next().await;
        }
        other => panic!("unknown mode {other}"),
    }
}

fn next_frame(item: Option<Result<Received, lpframe::Error>>) -> Bytes {
    match item {
        Some(Ok(Received::Frame(frame))) => frame.into_payload(),
        other => panic!("expected a frame, got {other:?}"),
    }
}

/// The clients: N connections, each sends one frame in the server's
/// framing and reads its echo; then "echoed" on stdout, and the sockets
/// are held until stdin closes.
fn client_main(port: u16, n: usize, mode: &str) {
    let rt = runtime();
    let payload = [0x5Au8; PAYLOAD];
    let mut wire = Vec::new();
    if mode == "ldc" {
        wire.extend_from_slice(&(PAYLOAD as u32).to_be_bytes());
        wire.extend_from_slice(&payload);
    } else if mode == "bare" {
        wire.extend_from_slice(&[0x5A; 16 + PAYLOAD]);
    } else {
        lpframe::write_frame(&mut wire, &payload).unwrap();
    }
    let wire = Arc::new(wire);
    let held = rt.block_on(async {
        let mut held = Vec::with_capacity(n);
        // In batches, so that the listen backlog never overflows.
        for batch in (0..n).collect::<Vec<_>>().chunks(200) {
            let mut set = tokio::task::JoinSet::new();
            for _ in batch {
                let wire = wire.clone();
                set.spawn(async move {
                    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
                    s.write_all(&wire).await.unwrap();
                    let mut echo = vec![0u8; wire.len()];
                    s.read_exact(&mut echo).await.unwrap();
                    s
                });
            }
            while let Some(s) = set.join_next().await {
                held.push(s.unwrap());
            }
        }
        held
    });
    println!("echoed");
    std::io::stdout().flush().unwrap();
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    drop(held);
}
