//! In-memory decode and encode, side by side with tokio-util's
//! `LengthDelimitedCodec` (no integrity check), the same codec plus a naive
//! `crc32fast::hash` of every payload, and the raw ceilings (CRC alone;
//! memcpy + CRC). Throughput is in frames (elements) per second; payload
//! bytes per second = frames/s × size.
//!
//! `cargo bench --bench codec`; quick mode: `LPFRAME_BENCH_QUICK=1 cargo bench`.

mod common;

use std::hint::black_box;

use bytes::{BufMut, Bytes, BytesMut};
use common::*;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use lpframe::{decode_slice, FrameCodec, Header, DEFAULT_MAX_FRAME_LEN};
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec};

fn decode(c: &mut Criterion) {
    for size in SIZES {
        let n = frame_count(size);
        let mut g = c.benchmark_group(format!("decode/{size}B"));
        g.throughput(Throughput::Elements(n as u64));
        let lpf = lpf_stream(size, n);
        let ldc = ldc_stream(size, n);

        g.bench_function("lpframe FrameCodec (owned)", |b| {
            b.iter_batched(
                || lpf.clone(),
                |mut buf| {
                    let mut codec = FrameCodec::new();
                    while let Some(f) = codec.decode(&mut buf).unwrap() {
                        black_box(f.into_frame().unwrap());
                    }
                },
                BatchSize::LargeInput,
            )
        });
        g.bench_function("lpframe decode_slice (borrowed)", |b| {
            b.iter(|| {
                let mut rest = &lpf[..];
                while let Some((f, used)) = decode_slice(rest, DEFAULT_MAX_FRAME_LEN).unwrap() {
                    black_box(f.payload());
                    rest = &rest[used..];
                }
            })
        });
        g.bench_function("LengthDelimitedCodec", |b| {
            b.iter_batched(
                || ldc.clone(),
                |mut buf| {
                    let mut codec = LengthDelimitedCodec::new();
                    while let Some(f) = codec.decode(&mut buf).unwrap() {
                        black_box(f);
                    }
                },
                BatchSize::LargeInput,
            )
        });
        g.bench_function("LengthDelimitedCodec + crc32fast", |b| {
            b.iter_batched(
                || ldc.clone(),
                |mut buf| {
                    let mut codec = LengthDelimitedCodec::new();
                    while let Some(f) = codec.decode(&mut buf).unwrap() {
                        black_box(crc32fast::hash(&f));
                        black_box(f);
                    }
                },
                BatchSize::LargeInput,
            )
        });
        let p = payload(size);
        g.bench_function("ceiling: crc32fast over the payloads", |b| {
            b.iter(|| {
                for _ in 0..n {
                    black_box(crc32fast::hash(black_box(&p)));
                }
            })
        });
        g.finish();
    }
}

fn encode(c: &mut Criterion) {
    for size in SIZES {
        let n = frame_count(size).min(2000);
        let mut g = c.benchmark_group(format!("encode/{size}B"));
        g.throughput(Throughput::Elements(n as u64));
        let p = payload_bytes(size);
        let mut dst = BytesMut::with_capacity(n * (size + 16));

        g.bench_function("lpframe Encoder<Bytes>", |b| {
            let mut codec = FrameCodec::new();
            b.iter(|| {
                dst.clear();
                for _ in 0..n {
                    codec.encode(p.clone(), &mut dst).unwrap();
                }
                black_box(&dst);
            })
        });
        g.bench_function("lpframe encode_frame(&[u8])", |b| {
            b.iter(|| {
                dst.clear();
                for _ in 0..n {
                    lpframe::encode_frame(&p, lpframe::DEFAULT_MAX_FRAME_LEN, &mut dst).unwrap();
                }
                black_box(&dst);
            })
        });
        g.bench_function("LengthDelimitedCodec", |b| {
            let mut codec = LengthDelimitedCodec::new();
            b.iter(|| {
                dst.clear();
                for _ in 0..n {
                    codec.encode(p.clone(), &mut dst).unwrap();
                }
                black_box(&dst);
            })
        });
        g.bench_function("LengthDelimitedCodec + crc32fast", |b| {
            let mut codec = LengthDelimitedCodec::new();
            b.iter(|| {
                dst.clear();
                for _ in 0..n {
                    black_box(crc32fast::hash(&p));
                    codec.encode(p.clone(), &mut dst).unwrap();
                }
                black_box(&dst);
            })
        });
        // The ceiling writes its payloads at the offsets LPF puts them (one
        // 16-byte gap per frame). Copying them back to back instead put
        // every copy's destination at the same offset modulo 4 KiB as its
        // source, and this machine's memmove then ran 7x slower (4K
        // aliasing): a ceiling below the codecs it bounds. See BENCHMARKS.md.
        g.bench_function("ceiling: memcpy + crc32fast", |b| {
            b.iter(|| {
                dst.clear();
                for _ in 0..n {
                    black_box(crc32fast::hash(&p));
                    dst.put_slice(&[0u8; 16]);
                    dst.put_slice(&p);
                }
                black_box(&dst);
            })
        });
        g.finish();
    }
}

fn header_crc(c: &mut Criterion) {
    let mut g = c.benchmark_group("header-crc/12B");
    let bytes: [u8; 12] = [0xC1, 0x4C, 1, 0, 0, 0, 0, 64, 1, 2, 3, 4];
    // The same 12 bytes (v1 prefix, length 64, payload CRC 0x01020304):
    // `Header::new` computes the library's header CRC over them.
    g.throughput(Throughput::Elements(1));
    g.bench_function("crc32fast::hash", |b| {
        b.iter(|| crc32fast::hash(black_box(&bytes)))
    });
    g.bench_function("lpframe header_crc (slicing-by-4)", |b| {
        b.iter(|| Header::new(black_box(64), black_box(0x0102_0304)).header_crc())
    });
    g.finish();
}

fn _assert_types(_: Bytes) {}

criterion_group! { name = benches; config = config(); targets = header_crc, decode, encode }
criterion_main!(benches);
