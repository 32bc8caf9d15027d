//! End to end over loopback TCP (127.0.0.1, port 0): frames per second from
//! a sender to a receiver that decodes every frame. tokio `Framed` with
//! lpframe's codec vs `LengthDelimitedCodec` (with and without a naive
//! CRC), sending with `feed` and one final `flush`; and the blocking pair
//! (`FrameWriter` → `FrameReader`) vs `BufWriter`/`BufReader` with a 4-byte
//! prefix (with and without a CRC of every payload). Each run is bounded: a
//! fixed number of frames per iteration.
//!
//! The blocking readers are `FrameReader::next_frame` (owned) and
//! `next_ref` (lending); the std baseline reads into one reused `Vec`.
//!
//! `cargo bench --bench loopback`; quick mode: `LPFRAME_BENCH_QUICK=1`.
//! `cargo bench --bench loopback -- ratios RUNS SIZE`: the blocking pairs
//! in rotating rounds, with the ratios' median, min and max (BENCHMARKS.md,
//! "Blocking small frames").

mod common;

use std::hint::black_box;
use std::io::{BufReader, BufWriter, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use criterion::{criterion_group, Criterion, Throughput};
use futures::{SinkExt, StreamExt};
use lpframe::{FrameCodec, FrameReader, FrameWriter};
use tokio_util::codec::{Decoder, Encoder, Framed, LengthDelimitedCodec};

const SIZES_TCP: [usize; 2] = [64, 64 * 1024];

fn frames_for(size: usize) -> usize {
    if size <= 64 {
        20_000
    } else {
        400
    }
}

/// One tokio run: `n` frames from a client to a server over loopback,
/// returning the time from the first send to the last frame decoded.
async fn tokio_run<C, F>(make: F, n: usize, payload: Bytes, crc: bool) -> Duration
where
    C: Decoder + Encoder<Bytes> + Send + 'static,
    <C as Decoder>::Item: Send + AsRef<[u8]>,
    <C as Decoder>::Error: std::fmt::Debug,
    <C as Encoder<Bytes>>::Error: std::fmt::Debug,
    F: Fn() -> C,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server_codec = make();
    let server = tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        let mut framed = Framed::new(s, server_codec);
        let mut count = 0;
        while let Some(f) = framed.next().await {
            let f = f.unwrap();
            if crc {
                black_box(crc32fast::hash(f.as_ref()));
            }
            black_box(&f);
            count += 1;
            if count == n {
                break;
            }
        }
        count
    });
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let mut framed = Framed::new(stream, make());
    let start = Instant::now();
    for _ in 0..n {
        if crc {
            black_box(crc32fast::hash(&payload));
        }
        framed.feed(payload.clone()).await.unwrap();
    }
    framed.flush().await.unwrap();
    assert_eq!(server.await.unwrap(), n);
    start.elapsed()
}

fn tcp_tokio(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for size in SIZES_TCP {
        let n = frames_for(size);
        let payload = payload_bytes(size);
        let mut g = c.benchmark_group(format!("tcp-tokio/{size}B"));
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function("lpframe FrameCodec", |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        rt.block_on(tokio_run(
                            FrameCodecAsRef::default,
                            n,
                            payload.clone(),
                            false,
                        ))
                    })
                    .sum()
            })
        });
        g.bench_function("LengthDelimitedCodec", |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        rt.block_on(tokio_run(
                            LengthDelimitedCodec::new,
                            n,
                            payload.clone(),
                            false,
                        ))
                    })
                    .sum()
            })
        });
        g.bench_function("LengthDelimitedCodec + crc32fast", |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        rt.block_on(tokio_run(
                            LengthDelimitedCodec::new,
                            n,
                            payload.clone(),
                            true,
                        ))
                    })
                    .sum()
            })
        });
        g.finish();
    }
}

/// `FrameCodec` with the frame itself as its item (`Frame: AsRef<[u8]>`)
/// instead of `Result<Frame, DecodeError>`, a dropped frame as an error,
/// so the same generic runner drives every codec.
#[derive(Default)]
struct FrameCodecAsRef(FrameCodec);

impl Decoder for FrameCodecAsRef {
    type Item = lpframe::Frame;
    type Error = lpframe::Error;
    fn decode(
        &mut self,
        src: &mut bytes::BytesMut,
    ) -> Result<Option<lpframe::Frame>, lpframe::Error> {
        match self.0.decode(src)? {
            Some(lpframe::Received::Frame(frame)) => Ok(Some(frame)),
            Some(lpframe::Received::Dropped(e)) => Err(lpframe::Error::Decode(e)),
            None => Ok(None),
        }
    }
}

impl Encoder<Bytes> for FrameCodecAsRef {
    type Error = lpframe::Error;
    fn encode(&mut self, item: Bytes, dst: &mut bytes::BytesMut) -> Result<(), lpframe::Error> {
        self.0.encode(item, dst)
    }
}

/// What the blocking pair sends and checks.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Blocking {
    /// `FrameWriter` -> `FrameReader::next_frame` (owned frames).
    Lpf,
    /// `FrameWriter` -> `FrameReader::next_ref` (lent frames).
    LpfRef,
    /// `FrameWriter` -> a reader that drains the bytes (the writer alone).
    LpfWriter,
    /// `BufWriter` with a CRC of every payload -> a reader that drains.
    StdCrcWriter,
    /// `BufWriter` -> `BufReader` with a 4-byte prefix and a CRC of every
    /// payload on both sides.
    StdCrc,
    /// The same with no CRC.
    Std,
}

fn blocking_run(n: usize, payload: &[u8], mode: Blocking) -> Duration {
    let lpf = matches!(mode, Blocking::Lpf | Blocking::LpfRef | Blocking::LpfWriter);
    let crc = matches!(mode, Blocking::StdCrc | Blocking::StdCrcWriter);
    let frame_len = payload.len() + if lpf { 16 } else { 4 };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        let mut count = 0;
        match mode {
            Blocking::Lpf => {
                let mut r = FrameReader::new(s);
                while let Some(f) = r.next_frame().unwrap() {
                    black_box(f);
                    count += 1;
                }
            }
            Blocking::LpfRef => {
                let mut r = FrameReader::new(s);
                while let Some(f) = r.next_ref().unwrap() {
                    black_box(f.payload());
                    count += 1;
                }
            }
            Blocking::LpfWriter | Blocking::StdCrcWriter => {
                // The bytes only, read as a BufReader reads them.
                let mut r = s;
                let mut buf = vec![0u8; 8 * 1024];
                let mut total = 0;
                loop {
                    let got = r.read(&mut buf).unwrap();
                    if got == 0 {
                        break;
                    }
                    total += got;
                }
                count = total / frame_len;
            }
            Blocking::Std | Blocking::StdCrc => {
                // One reused payload buffer, as a reader that handles each
                // message in place would keep.
                let mut r = BufReader::new(s);
                let mut len = [0u8; 4];
                let mut p = Vec::new();
                while r.read_exact(&mut len).is_ok() {
                    p.resize(u32::from_be_bytes(len) as usize, 0);
                    r.read_exact(&mut p).unwrap();
                    if crc {
                        black_box(crc32fast::hash(&p));
                    }
                    black_box(&p);
                    count += 1;
                }
            }
        }
        count
    });
    let s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    let start = Instant::now();
    if lpf {
        let mut w = FrameWriter::new(s);
        for _ in 0..n {
            w.write_frame(payload).unwrap();
        }
        w.flush().unwrap();
    } else {
        let mut w = BufWriter::new(s);
        for _ in 0..n {
            if crc {
                black_box(crc32fast::hash(payload));
            }
            w.write_all(&(payload.len() as u32).to_be_bytes()).unwrap();
            w.write_all(payload).unwrap();
        }
        w.flush().unwrap();
    }
    assert_eq!(server.join().unwrap(), n);
    start.elapsed()
}

fn tcp_blocking(c: &mut Criterion) {
    for size in SIZES_TCP {
        let n = frames_for(size);
        let p = payload(size);
        let mut g = c.benchmark_group(format!("tcp-blocking/{size}B"));
        g.throughput(Throughput::Elements(n as u64));
        for (name, mode) in [
            ("lpframe FrameWriter -> FrameReader", Blocking::Lpf),
            (
                "lpframe FrameWriter -> FrameReader::next_ref",
                Blocking::LpfRef,
            ),
            ("std BufWriter -> BufReader", Blocking::Std),
            ("std BufWriter -> BufReader + crc32fast", Blocking::StdCrc),
        ] {
            g.bench_function(name, |b| {
                b.iter_custom(|iters| (0..iters).map(|_| blocking_run(n, &p, mode)).sum())
            });
        }
        g.finish();
    }
}

criterion_group! { name = benches; config = config(); targets = tcp_tokio, tcp_blocking }

/// `loopback ratios RUNS SIZE`: the blocking pairs at SIZE bytes, each run
/// RUNS times in rotating order (one run: `frames_for(SIZE)` * 10 frames),
/// frames per second and the ratios of lpframe's paths to the std baselines
/// per round, as median, min and max.
fn ratios(runs: usize, size: usize) {
    let n = frames_for(size) * 10;
    let p = payload(size);
    let modes = [
        Blocking::LpfRef,
        Blocking::Lpf,
        Blocking::StdCrc,
        Blocking::Std,
        Blocking::LpfWriter,
        Blocking::StdCrcWriter,
    ];
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
    for round in 0..runs {
        for k in 0..modes.len() {
            let i = (k + round) % modes.len();
            let t = blocking_run(n, &p, modes[i]);
            rates[i].push(n as f64 / t.as_secs_f64());
        }
    }
    let stats = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        (v[v.len() / 2], v[0], v[v.len() - 1])
    };
    for (i, mode) in modes.iter().enumerate() {
        let (med, min, max) = stats(rates[i].clone());
        println!(
            "{size} B {mode:?}: median {:.2} M frames/s (min {:.2}, max {:.2})",
            med / 1e6,
            min / 1e6,
            max / 1e6
        );
    }
    let ratio = |a: usize, b: usize| {
        let (med, min, max) = stats((0..runs).map(|r| rates[a][r] / rates[b][r]).collect());
        format!("{med:.2}x (min {min:.2}, max {max:.2})")
    };
    println!(
        "{size} B lending / BufReader + crc32fast (reused Vec): {}",
        ratio(0, 2)
    );
    println!(
        "{size} B owned / BufReader + crc32fast (reused Vec): {}",
        ratio(1, 2)
    );
    println!(
        "{size} B FrameWriter / BufWriter + crc32fast (drained): {}",
        ratio(4, 5)
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("ratios") {
        let runs = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(5);
        let size = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(64);
        ratios(runs, size);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
