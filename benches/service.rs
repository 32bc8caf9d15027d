//! tokio over loopback TCP (127.0.0.1, port 0), every implementation side
//! by side in one process, in rotating order:
//!
//! - `stream`: one sender `feed`s N frames of one size, then flushes; one
//!   receiver decodes them (64 B, 4 KiB, 64 KiB, 1 MiB, 8 MiB).
//! - `service`: an echo server and C clients, each doing sequential round
//!   trips of mixed sizes (as examples/load.rs: 50 % 32 B, 25 % 512 B,
//!   20 % 4 KiB, 5 % 64 KiB); the server answers every frame that has
//!   arrived, then flushes.
//!
//! Implementations: lpframe `FrameCodec` on both sides (`Framed*`); lpframe
//! `FrameSink` sending (large payloads not copied) with `FrameCodec`
//! receiving; tokio-util's `LengthDelimitedCodec` (LDC) plain; LDC with a
//! crc32fast of every payload on each side that sends or receives it.
//!
//! `cargo bench --bench service -- [stream|service] [REPS]` prints the
//! Markdown rows of BENCHMARKS.md: per cell the median of REPS runs (default
//! 7), the range, and the ratios of the medians. Every run is bounded: a
//! fixed number of frames, and a 60 s timeout around each.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{FutureExt, SinkExt, StreamExt};
use lpframe::{FrameCodec, FrameSink};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::{FramedRead, FramedWrite, LengthDelimitedCodec};

#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    /// `FramedWrite<_, FrameCodec>` → `FramedRead<_, FrameCodec>`.
    Codec,
    /// `FrameSink` → `FramedRead<_, FrameCodec>`.
    Sink,
    /// `LengthDelimitedCodec`, no check.
    Ldc,
    /// `LengthDelimitedCodec` + crc32fast on every payload sent or received.
    LdcCrc,
}

const MODES: [Mode; 4] = [Mode::Codec, Mode::Sink, Mode::Ldc, Mode::LdcCrc];

fn name(m: Mode) -> &'static str {
    match m {
        Mode::Codec => "lpframe FrameCodec",
        Mode::Sink => "lpframe FrameSink + FrameCodec",
        Mode::Ldc => "LDC",
        Mode::LdcCrc => "LDC + crc32fast",
    }
}

fn ldc() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .max_frame_length(16 << 20)
        .new_codec()
}

/// Sends `items` on `stream` in `mode`, `feed` each then one flush.
/// Boxed per mode so the call sites stay small.
enum Tx {
    Codec(FramedWrite<tokio::net::tcp::OwnedWriteHalf, FrameCodec>),
    Sink(FrameSink<tokio::net::tcp::OwnedWriteHalf>),
    Ldc(
        FramedWrite<tokio::net::tcp::OwnedWriteHalf, LengthDelimitedCodec>,
        bool,
    ),
}

impl Tx {
    fn new(mode: Mode, w: tokio::net::tcp::OwnedWriteHalf) -> Tx {
        match mode {
            Mode::Codec => Tx::Codec(FramedWrite::new(w, FrameCodec::new())),
            Mode::Sink => Tx::Sink(FrameSink::new(w)),
            Mode::Ldc => Tx::Ldc(FramedWrite::new(w, ldc()), false),
            Mode::LdcCrc => Tx::Ldc(FramedWrite::new(w, ldc()), true),
        }
    }

    async fn feed(&mut self, p: Bytes) {
        match self {
            Tx::Codec(f) => f.feed(p).await.unwrap(),
            Tx::Sink(s) => s.feed(p).await.unwrap(),
            Tx::Ldc(f, crc) => {
                if *crc {
                    black_box(crc32fast::hash(&p));
                }
                f.feed(p).await.unwrap()
            }
        }
    }

    async fn flush(&mut self) {
        match self {
            Tx::Codec(f) => f.flush().await.unwrap(),
            Tx::Sink(s) => s.flush().await.unwrap(),
            Tx::Ldc(f, _) => SinkExt::<Bytes>::flush(f).await.unwrap(), // LDC has several Encoder impls
        }
    }
}

enum Rx {
    Lpf(FramedRead<tokio::net::tcp::OwnedReadHalf, FrameCodec>),
    Ldc(
        FramedRead<tokio::net::tcp::OwnedReadHalf, LengthDelimitedCodec>,
        bool,
    ),
}

impl Rx {
    fn new(mode: Mode, r: tokio::net::tcp::OwnedReadHalf) -> Rx {
        match mode {
            Mode::Codec | Mode::Sink => Rx::Lpf(FramedRead::new(r, FrameCodec::new())),
            Mode::Ldc => Rx::Ldc(FramedRead::new(r, ldc()), false),
            Mode::LdcCrc => Rx::Ldc(FramedRead::new(r, ldc()), true),
        }
    }

    /// The next payload, `None` at the end of the stream.
    async fn next(&mut self) -> Option<Bytes> {
        match self {
            Rx::Lpf(f) => f
                .next()
                .await
                .map(|i| i.unwrap().into_frame().unwrap().into_payload()),
            Rx::Ldc(f, crc) => f.next().await.map(|i| {
                let p = i.unwrap().freeze();
                if *crc {
                    black_box(crc32fast::hash(&p));
                }
                p
            }),
        }
    }

    /// A payload that has already arrived, without waiting.
    fn next_ready(&mut self) -> Option<Bytes> {
        self.next().now_or_never().flatten()
    }
}

async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, server) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let (client, server) = (client.unwrap(), server.unwrap().0);
    client.set_nodelay(true).unwrap();
    server.set_nodelay(true).unwrap();
    (client, server)
}

/// One streaming run: frames per second.
async fn stream_run(mode: Mode, size: usize, n: usize) -> f64 {
    let (client, server) = pair().await;
    let (r, _w) = server.into_split();
    let receiver = tokio::spawn(async move {
        let mut rx = Rx::new(mode, r);
        let mut count = 0;
        while let Some(p) = rx.next().await {
            assert_eq!(p.len(), size);
            black_box(p);
            count += 1;
            if count == n {
                break;
            }
        }
        count
    });
    let (_r, w) = client.into_split();
    let mut tx = Tx::new(mode, w);
    let payload = Bytes::from((0..size).map(|i| (i * 131 + 7) as u8).collect::<Vec<u8>>());
    let start = Instant::now();
    for _ in 0..n {
        tx.feed(payload.clone()).await;
    }
    tx.flush().await;
    assert_eq!(receiver.await.unwrap(), n);
    n as f64 / start.elapsed().as_secs_f64()
}

/// The mixed sizes of examples/load.rs.
fn mixed_size(i: usize, c: usize) -> usize {
    match (i * 7 + c) % 20 {
        0 => 64 * 1024,
        1..=4 => 4096,
        5..=9 => 512,
        _ => 32,
    }
}

/// The echo server's connection: answers every frame that has arrived,
/// then flushes once.
async fn echo(mode: Mode, s: TcpStream) {
    let (r, w) = s.into_split();
    let mut rx = Rx::new(mode, r);
    let mut tx = Tx::new(mode, w);
    while let Some(p) = rx.next().await {
        tx.feed(p).await;
        while let Some(p) = rx.next_ready() {
            tx.feed(p).await;
        }
        tx.flush().await;
    }
}

/// One service run: `clients` connections × `frames` sequential round
/// trips; round trips per second.
async fn service_run(mode: Mode, clients: usize, frames: usize) -> f64 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        for _ in 0..clients {
            let (s, _) = listener.accept().await.unwrap();
            s.set_nodelay(true).unwrap();
            conns.spawn(echo(mode, s));
        }
        while conns.join_next().await.is_some() {}
    });
    let payloads: Vec<Bytes> = [32, 512, 4096, 64 * 1024]
        .iter()
        .map(|&n| Bytes::from(vec![0x5Au8; n]))
        .collect();
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for c in 0..clients {
        let payloads = payloads.clone();
        set.spawn(async move {
            let s = TcpStream::connect(addr).await.unwrap();
            s.set_nodelay(true).unwrap();
            let (r, w) = s.into_split();
            let (mut rx, mut tx) = (Rx::new(mode, r), Tx::new(mode, w));
            for i in 0..frames {
                let size = mixed_size(i, c);
                let p = payloads
                    .iter()
                    .find(|p| p.len() == size)
                    .cloned()
                    .unwrap_or_default();
                tx.feed(p).await;
                tx.flush().await;
                let echo = rx.next().await.expect("an echo");
                assert_eq!(echo.len(), size);
            }
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
    let rate = (clients * frames) as f64 / start.elapsed().as_secs_f64();
    server.await.unwrap();
    rate
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Runs `cell(mode)` REPS times for every mode, rotating the order each
/// repetition; prints one Markdown row per mode: the median rate and its
/// range, and the ratios to LDC and to LDC + CRC as the median (and range)
/// of the ratios within each repetition — the four modes of a repetition
/// run back to back, so a slow spell of the shared machine that spans a
/// repetition cancels out of its ratios.
fn table<F: Fn(Mode) -> f64>(label: &str, reps: usize, cell: F) {
    let mut results: Vec<Vec<f64>> = vec![Vec::new(); MODES.len()];
    for rep in 0..reps {
        for k in 0..MODES.len() {
            let i = (rep + k) % MODES.len();
            results[i].push(cell(MODES[i]));
        }
    }
    let ratios = |i: usize, base: usize| -> (f64, f64, f64) {
        let mut r: Vec<f64> = (0..reps)
            .map(|rep| results[i][rep] / results[base][rep])
            .collect();
        let m = median(&mut r);
        (m, r[0], r[r.len() - 1])
    };
    for (i, mode) in MODES.iter().enumerate() {
        let (plain, crc) = (ratios(i, 2), ratios(i, 3));
        let mut v = results[i].clone();
        let med = median(&mut v);
        println!(
            "| {label} | {} | {med:.0} | {:.0}–{:.0} | {:.2}× ({:.2}–{:.2}) | {:.2}× ({:.2}–{:.2}) |",
            name(*mode),
            v[0],
            v[v.len() - 1],
            plain.0,
            plain.1,
            plain.2,
            crc.0,
            crc.1,
            crc.2
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let what = args.first().map(String::as_str).unwrap_or("stream");
    let reps: usize = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(7).max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let bounded = |f: std::pin::Pin<Box<dyn std::future::Future<Output = f64>>>| {
        rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(60), f)
                .await
                .expect("a run took over 60 s")
        })
    };
    println!("| cell | implementation | per second (median) | range | ratio to LDC | ratio to LDC + CRC |");
    println!("|---|---|---|---|---|---|");
    match what {
        "stream" => {
            for (size, n) in [
                (64, 2_000_000),
                (4096, 100_000),
                (64 << 10, 8_000),
                (1 << 20, 512),
                (8 << 20, 64),
            ] {
                let label = format!("stream {size} B × {n}");
                table(&label, reps, |m| bounded(Box::pin(stream_run(m, size, n))));
            }
        }
        "service" => {
            let (clients, frames) = (64, 1000);
            let label = format!("service {clients} clients × {frames} round trips");
            table(&label, reps, |m| {
                bounded(Box::pin(service_run(m, clients, frames)))
            });
        }
        // One cell, for profiles and syscall counts:
        // `one MODE SIZE N` (MODE 0..=3 as MODES).
        "one" => {
            let arg = |i: usize| args.get(i).and_then(|a| a.parse::<usize>().ok());
            let (Some(m), Some(size), Some(n)) = (arg(1), arg(2), arg(3)) else {
                eprintln!("one MODE SIZE N");
                return;
            };
            let mode = MODES[m.min(MODES.len() - 1)];
            let rate = bounded(Box::pin(stream_run(mode, size, n)));
            println!("| one {size} B × {n} | {} | {rate:.0} | | | |", name(mode));
        }
        // `one-service MODE`: one service run.
        "one-service" => {
            let m = args
                .get(1)
                .and_then(|a| a.parse::<usize>().ok())
                .unwrap_or(0);
            let mode = MODES[m.min(MODES.len() - 1)];
            let rate = bounded(Box::pin(service_run(mode, 64, 1000)));
            println!("| one service | {} | {rate:.0} | | | |", name(mode));
        }
        other => eprintln!("unknown {other:?}: stream, service, one or one-service"),
    }
}
