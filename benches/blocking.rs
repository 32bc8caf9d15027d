//! The blocking std path over in-memory readers/writers, side by side with
//! the std baseline a user would write by hand: `BufReader` + `read_exact`
//! of a 4-byte big-endian prefix and the payload, `BufWriter` +
//! `write_all`.
//!
//! `cargo bench --bench blocking`; quick mode: `LPFRAME_BENCH_QUICK=1`.

mod common;

use std::hint::black_box;
use std::io::{BufReader, BufWriter, Read, Write};

use common::*;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lpframe::{read_frame, write_frame, FrameReader, FrameWriter};

fn read(c: &mut Criterion) {
    for size in SIZES {
        let n = frame_count(size);
        let mut g = c.benchmark_group(format!("blocking-read/{size}B"));
        g.throughput(Throughput::Elements(n as u64));
        let lpf = lpf_stream(size, n).freeze();
        let ldc = ldc_stream(size, n).freeze();
        g.bench_function("lpframe read_frame (exact)", |b| {
            b.iter(|| {
                let mut r = &lpf[..];
                while let Some(f) = read_frame(&mut r).unwrap() {
                    black_box(f);
                }
            })
        });
        g.bench_function("lpframe FrameReader", |b| {
            b.iter(|| {
                let mut r = FrameReader::new(&lpf[..]);
                while let Some(f) = r.next_frame().unwrap() {
                    black_box(f);
                }
            })
        });
        g.bench_function("std BufReader + read_exact", |b| {
            b.iter(|| {
                let mut r = BufReader::new(&ldc[..]);
                let mut len = [0u8; 4];
                while r.read_exact(&mut len).is_ok() {
                    let mut p = vec![0u8; u32::from_be_bytes(len) as usize];
                    r.read_exact(&mut p).unwrap();
                    black_box(p);
                }
            })
        });
        g.finish();
    }
}

fn write(c: &mut Criterion) {
    for size in SIZES {
        let n = frame_count(size).min(2000);
        let mut g = c.benchmark_group(format!("blocking-write/{size}B"));
        g.throughput(Throughput::Elements(n as u64));
        let p = payload(size);
        let mut out: Vec<u8> = Vec::with_capacity(n * (size + 16));
        g.bench_function("lpframe write_frame (vectored, no copy)", |b| {
            b.iter(|| {
                out.clear();
                for _ in 0..n {
                    write_frame(&mut out, &p).unwrap();
                }
                black_box(&out);
            })
        });
        g.bench_function("lpframe FrameWriter", |b| {
            b.iter(|| {
                out.clear();
                let mut w = FrameWriter::new(&mut out);
                for _ in 0..n {
                    w.write_frame(&p).unwrap();
                }
                w.flush().unwrap();
            })
        });
        g.bench_function("std BufWriter + write_all", |b| {
            b.iter(|| {
                out.clear();
                let mut w = BufWriter::new(&mut out);
                for _ in 0..n {
                    w.write_all(&(p.len() as u32).to_be_bytes()).unwrap();
                    w.write_all(&p).unwrap();
                }
                w.flush().unwrap();
            })
        });
        g.finish();
    }
}

criterion_group! { name = benches; config = config(); targets = read, write }
criterion_main!(benches);
