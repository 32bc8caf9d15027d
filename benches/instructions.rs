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
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec};

const MODES: &str =
    "none lpf-decode lpf-decoder lpf-payload-decode lpf-slice ldc-decode ldc-crc-decode \
                     lpf-encode lpf-encode-bytes ldc-encode ldc-crc-encode";

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
                black_box(f.unwrap());
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
            let mut c = FrameCodec::new();
            for _ in 0..n {
                c.encode(&p[..], &mut dst).unwrap();
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
        other => {
            eprintln!("unknown mode {other:?} (modes: {MODES})");
            std::process::exit(2);
        }
    }
    black_box(&dst);
}
