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
use criterion::{criterion_group, Criterion, Throughput};
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

/// A reader that hands out at most 8 KiB per `read`, as a socket with a
/// busy peer does.
struct Socketish<'a>(&'a [u8]);

impl Read for Socketish<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.0.len()).min(8 * 1024);
        let (head, rest) = self.0.split_at(n);
        buf[..n].copy_from_slice(head);
        self.0 = rest;
        Ok(n)
    }
}

/// `blocking count MODE N SIZE`: one run of N frames of SIZE bytes, for
/// instruction counts (`valgrind --tool=callgrind`, two values of N; see
/// BENCHMARKS.md, "Blocking small frames"). Modes: `ref`
/// (`FrameReader::next_ref`), `owned` (`next_frame`), `std-crc`
/// (`BufReader` + `read_exact` into one reused `Vec` + crc32fast), `writer`
/// (`FrameWriter`), `std-crc-writer` (`BufWriter` + crc32fast), `none`.
fn count(mode: &str, n: usize, size: usize) {
    let p = payload(size);
    let lpf = lpf_stream(size, n).freeze();
    let ldc = ldc_stream(size, n).freeze();
    let mut frames = 0;
    match mode {
        "none" => frames = n,
        "ref" => {
            let mut r = FrameReader::new(Socketish(&lpf));
            while let Some(f) = r.next_ref().unwrap() {
                black_box(f.payload());
                frames += 1;
            }
        }
        "owned" => {
            let mut r = FrameReader::new(Socketish(&lpf));
            while let Some(f) = r.next_frame().unwrap() {
                black_box(f);
                frames += 1;
            }
        }
        "std-crc" => {
            let mut r = BufReader::new(Socketish(&ldc));
            let mut len = [0u8; 4];
            let mut buf = Vec::new();
            while r.read_exact(&mut len).is_ok() {
                buf.resize(u32::from_be_bytes(len) as usize, 0);
                r.read_exact(&mut buf).unwrap();
                black_box(crc32fast::hash(&buf));
                frames += 1;
            }
        }
        "writer" => {
            let mut w = FrameWriter::new(std::io::sink());
            for _ in 0..n {
                w.write_frame(&p).unwrap();
            }
            w.flush().unwrap();
            frames = n;
        }
        "std-crc-writer" => {
            let mut w = BufWriter::new(std::io::sink());
            for _ in 0..n {
                black_box(crc32fast::hash(&p));
                w.write_all(&(p.len() as u32).to_be_bytes()).unwrap();
                w.write_all(&p).unwrap();
            }
            w.flush().unwrap();
            frames = n;
        }
        other => panic!("unknown mode {other}"),
    }
    assert_eq!(frames, n);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [first, mode, n, size] = args.as_slice() {
        if first == "count" {
            count(mode, n.parse().unwrap(), size.parse().unwrap());
            return;
        }
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
