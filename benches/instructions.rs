//! Instruction counts per frame, for `benches/instructions.sh` (valgrind
//! callgrind): counts are repeatable on a noisy machine where wall-clock
//! times of a few nanoseconds are not.
//!
//! `instructions MODE N SIZE` encodes or decodes N frames of SIZE bytes in
//! one of the modes below and exits; the script runs it for two values of
//! N and divides the difference, so setup and process start cancel out.
//! Run by `cargo bench` without arguments it prints its usage and exits.

use std::hint::black_box;

use bytes::{BufMut, Bytes, BytesMut};
use lpframe::{decode_slice, encode_frame, FrameCodec, FrameDecoder, DEFAULT_MAX_FRAME_LEN};
use tokio_util::codec::{Decoder, Encoder, FramedWrite, LengthDelimitedCodec};

const MODES: &str =
    "none lpf-decode lpf-decoder lpf-payload-decode lpf-slice ldc-decode ldc-crc-decode \
                     lpf-encode lpf-encode-bytes ldc-encode ldc-crc-encode \
                     lpf-framed-write lpf-sink ldc-framed-write";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(mode), Some(n), Some(size)) = (
        args.first(),
        args.get(1).and_then(|a| a.parse::<usize>().ok()),
        args.get(2).and_then(|a| a.parse::<usize>().ok()),
    ) else {
        println!("usage: instructions MODE N SIZE (modes: {MODES}); see benches/instructions.sh");
        return;
    };
    let p: Vec<u8> = (0..size).map(|i| (i * 131 + 7) as u8).collect();
    let pb = Bytes::from(p.clone());
    let mut lpf = BytesMut::new();
    let mut ldc = BytesMut::new();
    for _ in 0..n {
        encode_frame(&p, DEFAULT_MAX_FRAME_LEN, &mut lpf).unwrap();
        ldc.put_u32(size as u32);
        ldc.put_slice(&p);
    }
    let mut dst = BytesMut::with_capacity(n * (size + 16));
    match mode.as_str() {
        "none" => {}
        "lpf-decode" => {
            let mut c = FrameCodec::new();
            while let Some(f) = c.decode(&mut lpf).unwrap() {
                black_box(f.into_frame().unwrap());
            }
        }
        "lpf-payload-decode" => {
            let mut c = lpframe::PayloadCodec::new();
            while let Some(f) = c.decode(&mut lpf).unwrap() {
                black_box(f);
            }
        }
        "lpf-decoder" => {
            let mut d = FrameDecoder::new();
            while let Some(f) = d.decode(&mut lpf).unwrap() {
                black_box(f);
            }
        }
        "lpf-slice" => {
            let mut rest = &lpf[..];
            while let Some((f, used)) = decode_slice(rest, DEFAULT_MAX_FRAME_LEN).unwrap() {
                black_box(f.payload());
                rest = &rest[used..];
            }
        }
        "ldc-decode" => {
            let mut c = LengthDelimitedCodec::new();
            while let Some(f) = c.decode(&mut ldc).unwrap() {
                black_box(f);
            }
        }
        "ldc-crc-decode" => {
            let mut c = LengthDelimitedCodec::new();
            while let Some(f) = c.decode(&mut ldc).unwrap() {
                black_box(crc32fast::hash(&f));
                black_box(f);
            }
        }
        "lpf-encode" => {
            // A borrowed payload: the serializer (the codec encodes Bytes
            // only since 1.0; see lpf-encode-bytes).
            for _ in 0..n {
                encode_frame(&p, DEFAULT_MAX_FRAME_LEN, &mut dst).unwrap();
            }
        }
        "lpf-encode-bytes" => {
            let mut c = FrameCodec::new();
            for _ in 0..n {
                c.encode(pb.clone(), &mut dst).unwrap();
            }
        }
        "ldc-encode" => {
            let mut c = LengthDelimitedCodec::new();
            for _ in 0..n {
                c.encode(pb.clone(), &mut dst).unwrap();
            }
        }
        "ldc-crc-encode" => {
            let mut c = LengthDelimitedCodec::new();
            for _ in 0..n {
                black_box(crc32fast::hash(&pb));
                c.encode(pb.clone(), &mut dst).unwrap();
            }
        }
        // Writing paths through a `Sink`, into a writer that copies what it
        // is given (as the kernel does): `FramedWrite` + `FrameCodec` (which
        // copies every payload into its buffer) against `FrameSink` (which
        // copies payloads up to 2 KiB and chains longer ones), and
        // `FramedWrite` + `LengthDelimitedCodec`.
        "lpf-framed-write" => {
            let w = FramedWrite::new(
                Collect(Vec::with_capacity(n * (size + 16))),
                FrameCodec::new(),
            );
            black_box(send_all(w, &pb, n).get_ref().0.len());
        }
        "lpf-sink" => {
            let w = lpframe::FrameSink::new(Collect(Vec::with_capacity(n * (size + 16))));
            black_box(send_all(w, &pb, n).get_ref().0.len());
        }
        "ldc-framed-write" => {
            let w = FramedWrite::new(
                Collect(Vec::with_capacity(n * (size + 16))),
                LengthDelimitedCodec::new(),
            );
            black_box(send_all(w, &pb, n).get_ref().0.len());
        }
        other => {
            eprintln!("unknown mode {other:?} (modes: {MODES})");
            std::process::exit(2);
        }
    }
    black_box(&dst);
}

/// Feeds `n` clones of `payload` into `sink`, then flushes it.
fn send_all<S>(mut sink: S, payload: &Bytes, n: usize) -> S
where
    S: futures::Sink<Bytes> + Unpin,
    S::Error: std::fmt::Debug,
{
    use futures::SinkExt;
    futures::executor::block_on(async {
        for _ in 0..n {
            sink.feed(payload.clone()).await.unwrap();
        }
        sink.flush().await.unwrap();
    });
    sink
}

/// A vectored writer that copies everything it is given into a vector.
struct Collect(Vec<u8>);

impl tokio::io::AsyncWrite for Collect {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.0.extend_from_slice(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }
    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let mut n = 0;
        for b in bufs {
            self.0.extend_from_slice(b);
            n += b.len();
        }
        std::task::Poll::Ready(Ok(n))
    }
    fn is_write_vectored(&self) -> bool {
        true
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}
