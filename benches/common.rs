//! Shared by the benchmarks: stream builders and the quick-mode config.
#![allow(dead_code)]

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use criterion::Criterion;

/// Payload sizes of every in-memory comparison.
pub const SIZES: [usize; 6] = [0, 16, 64, 1024, 64 * 1024, 1024 * 1024];

/// `LPFRAME_BENCH_QUICK=1` (or `cargo bench -- --quick`-style runs of a few
/// minutes): short warm-up and measurement, 10 samples.
pub fn config() -> Criterion {
    let quick = std::env::var_os("LPFRAME_BENCH_QUICK").is_some();
    let c = Criterion::default().configure_from_args();
    if quick {
        c.warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_millis(1200))
            .sample_size(10)
    } else {
        c.warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3))
            .sample_size(20)
    }
}

/// How many frames a stream of `size`-byte payloads holds: about 2 MiB of
/// payload, between 4 and 20,000 frames.
pub fn frame_count(size: usize) -> usize {
    ((2 << 20) / size.max(1)).clamp(4, 20_000)
}

pub fn payload(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i * 131 + 7) as u8).collect()
}

/// `n` LPF frames of `size` bytes, back to back.
pub fn lpf_stream(size: usize, n: usize) -> BytesMut {
    let p = payload(size);
    let mut wire = BytesMut::with_capacity(n * (16 + size));
    for _ in 0..n {
        lpframe::encode_frame(&p, lpframe::DEFAULT_MAX_FRAME_LEN, &mut wire).unwrap();
    }
    wire
}

/// The same frames with `LengthDelimitedCodec`'s default framing: a 4-byte
/// big-endian length, then the payload.
pub fn ldc_stream(size: usize, n: usize) -> BytesMut {
    let p = payload(size);
    let mut wire = BytesMut::with_capacity(n * (4 + size));
    for _ in 0..n {
        wire.put_u32(size as u32);
        wire.put_slice(&p);
    }
    wire
}

pub fn payload_bytes(size: usize) -> Bytes {
    Bytes::from(payload(size))
}
