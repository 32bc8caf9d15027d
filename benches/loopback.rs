//! End to end over loopback TCP (127.0.0.1, port 0): frames per second from
//! a sender to a receiver that decodes every frame. tokio `Framed` with
//! lpframe's codec vs `LengthDelimitedCodec` (with and without a naive
//! CRC), sending with `feed` and one final `flush`; and the blocking pair
//! (`FrameWriter` → `FrameReader`) vs `BufWriter`/`BufReader` with a 4-byte
//! prefix (with and without a CRC of every payload). Each run is bounded: a
//! fixed number of frames per iteration.
//!
//! `cargo bench --bench loopback`; quick mode: `LPFRAME_BENCH_QUICK=1`.

mod common;

use std::hint::black_box;
use std::io::{BufReader, BufWriter, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
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
#[derive(Clone, Copy, PartialEq)]
enum Blocking {
    /// `FrameWriter` -> `FrameReader`.
    Lpf,
    /// `BufWriter` -> `BufReader` with a 4-byte prefix and a CRC of every
    /// payload on both sides.
    StdCrc,
    /// The same with no CRC.
    Std,
}

fn blocking_run(n: usize, payload: &[u8], mode: Blocking) -> Duration {
    let lpf = mode == Blocking::Lpf;
    let crc = mode == Blocking::StdCrc;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        let mut count = 0;
        if lpf {
            let mut r = FrameReader::new(s);
            while let Some(f) = r.next_frame().unwrap() {
                black_box(f);
                count += 1;
            }
        } else {
            let mut r = BufReader::new(s);
            let mut len = [0u8; 4];
            while r.read_exact(&mut len).is_ok() {
                let mut p = vec![0u8; u32::from_be_bytes(len) as usize];
                r.read_exact(&mut p).unwrap();
                if crc {
                    black_box(crc32fast::hash(&p));
                }
                black_box(&p);
                count += 1;
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
criterion_main!(benches);
