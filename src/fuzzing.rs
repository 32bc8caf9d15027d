//! Property checks behind the cargo-fuzz targets in `fuzz/`.
//!
//! Each target is a one-line call into this module, so the same checks run
//! from normal tests: `tests/fuzz_replay.rs` includes this file with
//! `#[path]` and replays every committed corpus and regression input on
//! stable. The module is compiled into the library only under
//! `cfg(fuzzing)` (set by cargo-fuzz) and is `#[doc(hidden)]`: it is not
//! part of the API. It refers to the crate as `lpframe::` and uses only its
//! public API, so it compiles the same way in both places.
//!
//! Every function panics when a property is violated: that is the point.
#![allow(missing_docs)]

use bytes::BytesMut;
use lpframe::{
    decode_slice, encode_frame, header::Header, read_frame_with, Config, Error, Flags,
    FrameDecoder, FrameReader, HEADER_LEN,
};
use std::io::Read;

/// The read limit used by the byte-level targets: small, so that the
/// fuzzer reaches `FrameTooLarge` and memory checks are meaningful.
pub const FUZZ_MAX: u32 = 4096;

/// One decoded event: a payload, or an error reduced to its kind and
/// numbers (the `BadMagic` hint is left out: it is a guess from however
/// many bytes had arrived, so it may differ between chunkings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Frame(Vec<u8>),
    Error(String),
}

pub fn error_key(e: &Error) -> String {
    match e {
        Error::BadMagic { found, .. } => format!("BadMagic found={found:#06x}"),
        Error::Skipped { offset, len, cause } => {
            format!(
                "Skipped offset={offset} len={len} cause={}",
                error_key(cause)
            )
        }
        other => format!("{other:?}"),
    }
}

/// A deterministic chunking of `len` bytes from a seed (xorshift).
pub fn chunk_sizes(seed: u64, len: usize) -> Vec<usize> {
    let mut x = seed | 1;
    let mut out = Vec::new();
    let mut total = 0;
    while total < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        // Mostly tiny reads, sometimes large ones.
        let n = match x % 4 {
            0 => 1,
            1 => (x >> 8) as usize % 17 + 1,
            2 => (x >> 8) as usize % 300 + 1,
            _ => (x >> 8) as usize % 5000 + 1,
        };
        let n = n.min(len - total);
        out.push(n);
        total += n;
    }
    out
}

/// A straightforward, non-incremental model of a receiver, written from
/// PROTOCOL.md section 4 independently of `lpframe::header`: the oracle the
/// real decoders are compared with.
pub fn model(input: &[u8], max: u32) -> Vec<Event> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    loop {
        let rest = &input[pos..];
        if rest.is_empty() {
            return out;
        }
        if rest.len() >= 2 && rest[..2] != [0xC1, 0x4C] {
            out.push(Event::Error(format!(
                "BadMagic found={:#06x}",
                u16::from_be_bytes([rest[0], rest[1]])
            )));
            return out;
        }
        if rest.len() >= 3 && rest[2] != 1 {
            out.push(Event::Error(format!(
                "UnsupportedVersion {{ found: {}, supported: 1 }}",
                rest[2]
            )));
            return out;
        }
        if rest.len() < HEADER_LEN {
            out.push(Event::Error(format!(
                "Truncated {{ part: Header, missing: {} }}",
                HEADER_LEN - rest.len()
            )));
            return out;
        }
        let be = |i: usize| u32::from_be_bytes([rest[i], rest[i + 1], rest[i + 2], rest[i + 3]]);
        let (len, pcrc, hcrc) = (be(4), be(8), be(12));
        let actual = crc32fast::hash(&rest[..12]);
        if hcrc != actual {
            out.push(Event::Error(format!(
                "HeaderChecksum {{ expected: {hcrc}, actual: {actual} }}"
            )));
            return out;
        }
        if rest[3] != 0 {
            out.push(Event::Error(format!(
                "ReservedFlags {{ flags: {:?} }}",
                Flags::from_bits_retain(rest[3])
            )));
            return out;
        }
        if len > max {
            out.push(Event::Error(format!(
                "FrameTooLarge {{ len: {len}, max: {max} }}"
            )));
            return out;
        }
        let body = &rest[HEADER_LEN..];
        if body.len() < len as usize {
            out.push(Event::Error(format!(
                "Truncated {{ part: Payload, missing: {} }}",
                len as usize - body.len()
            )));
            return out;
        }
        let payload = &body[..len as usize];
        let actual = crc32fast::hash(payload);
        if actual == pcrc {
            out.push(Event::Frame(payload.to_vec()));
        } else {
            out.push(Event::Error(format!(
                "PayloadChecksum {{ expected: {pcrc}, actual: {actual}, len: {len} }}"
            )));
        }
        pos += HEADER_LEN + len as usize;
    }
}

fn push_err(out: &mut Vec<Event>, e: &Error) -> bool {
    out.push(Event::Error(error_key(e)));
    e.is_fatal()
}

/// The pure decoder fed in the given chunks, with the checks of the
/// `decode_stream` target on every step.
pub fn via_decoder(input: &[u8], chunks: &[usize], max: u32) -> Vec<Event> {
    let mut dec = FrameDecoder::with_config(Config::new().max_read_frame_len(max));
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut fed = 0usize;
    let mut chunk_iter = chunks.iter();
    loop {
        let res = dec.decode(&mut buf);
        // Consumed bytes never exceed the input; the buffer holds the rest.
        assert!(dec.position() as usize <= fed, "consumed past what was fed");
        assert_eq!(dec.position() as usize + buf.len(), fed);
        match res {
            Ok(Some(frame)) => {
                // The frame is the payload of a verified header in the input.
                let off = dec.frame_offset() as usize;
                let head: &[u8; HEADER_LEN] = input[off..off + HEADER_LEN].try_into().unwrap();
                let header =
                    Header::parse(head, u32::MAX).expect("delivered frame has a valid header");
                assert_eq!(header.len as usize, frame.len());
                assert_eq!(crc32fast::hash(frame.payload()), header.payload_crc);
                assert_eq!(
                    &input[off + HEADER_LEN..off + HEADER_LEN + frame.len()],
                    &frame.payload()[..]
                );
                out.push(Event::Frame(frame.payload().to_vec()));
            }
            Ok(None) => {
                // Memory follows received bytes, never a declared length.
                assert!(
                    buf.capacity() <= 2 * fed + 64,
                    "capacity {} after {fed} bytes",
                    buf.capacity()
                );
                match chunk_iter.next() {
                    Some(&n) => {
                        buf.extend_from_slice(&input[fed..fed + n]);
                        fed += n;
                    }
                    None => {
                        match dec.decode_eof(&mut buf) {
                            Ok(None) => {}
                            Ok(Some(_)) => panic!("decode_eof found a frame decode missed"),
                            Err(e) => {
                                push_err(&mut out, &e);
                            }
                        }
                        return out;
                    }
                }
            }
            Err(e) => {
                if push_err(&mut out, &e) {
                    // A failed decoder never yields again.
                    assert!(dec.is_failed() || matches!(e, Error::Truncated { .. }));
                    assert!(dec.decode(&mut buf).is_err());
                    return out;
                }
            }
        }
    }
}

/// The tokio codec driven as `Framed` drives it (decode until `None`, then
/// `decode_eof` at the end), without a runtime.
#[cfg(feature = "tokio")]
pub fn via_codec(input: &[u8], chunks: &[usize], max: u32) -> Vec<Event> {
    use tokio_util::codec::Decoder;
    let mut codec = lpframe::FrameResultCodec::with_config(Config::new().max_read_frame_len(max));
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut fed = 0;
    let mut chunk_iter = chunks.iter();
    loop {
        match codec.decode(&mut buf) {
            Ok(Some(Ok(f))) => out.push(Event::Frame(f.payload().to_vec())),
            Ok(Some(Err(e))) => {
                assert!(!push_err(&mut out, &e));
            }
            Ok(None) => match chunk_iter.next() {
                Some(&n) => {
                    buf.extend_from_slice(&input[fed..fed + n]);
                    fed += n;
                }
                None => loop {
                    match codec.decode_eof(&mut buf) {
                        Ok(Some(Ok(f))) => out.push(Event::Frame(f.payload().to_vec())),
                        Ok(Some(Err(e))) => {
                            push_err(&mut out, &e);
                        }
                        Ok(None) => return out,
                        Err(e) => {
                            push_err(&mut out, &e);
                            return out;
                        }
                    }
                },
            },
            Err(e) => {
                assert!(push_err(&mut out, &e));
                return out;
            }
        }
    }
}

/// A reader returning the input in the given chunks (a chunk larger than
/// the caller's buffer is delivered over several reads).
struct Chunked<'a> {
    data: &'a [u8],
    chunks: std::slice::Iter<'a, usize>,
    left_in_chunk: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left_in_chunk == 0 {
            match self.chunks.next() {
                Some(&n) => self.left_in_chunk = n,
                None => return Ok(0),
            }
        }
        let n = self.left_in_chunk.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        self.left_in_chunk -= n;
        Ok(n)
    }
}

fn chunked<'a>(input: &'a [u8], chunks: &'a [usize]) -> Chunked<'a> {
    Chunked {
        data: input,
        chunks: chunks.iter(),
        left_in_chunk: 0,
    }
}

pub fn via_frame_reader(input: &[u8], chunks: &[usize], max: u32) -> Vec<Event> {
    let reader = FrameReader::with_config(
        chunked(input, chunks),
        Config::new().max_read_frame_len(max),
    );
    let mut out = Vec::new();
    for item in reader.take(input.len() + 2) {
        match item {
            Ok(f) => out.push(Event::Frame(f.payload().to_vec())),
            Err(e) => {
                push_err(&mut out, &e);
            }
        }
    }
    out
}

pub fn via_read_frame(input: &[u8], chunks: &[usize], max: u32) -> Vec<Event> {
    let config = Config::new().max_read_frame_len(max);
    let mut r = chunked(input, chunks);
    let mut out = Vec::new();
    for _ in 0..input.len() + 2 {
        match read_frame_with(&mut r, &config) {
            Ok(Some(f)) => out.push(Event::Frame(f.payload().to_vec())),
            Ok(None) => return out,
            Err(e) => {
                if push_err(&mut out, &e) {
                    return out;
                }
            }
        }
    }
    panic!("read_frame did not terminate");
}

/// `decode_slice` over the whole input; a trailing partial frame (its
/// `Ok(None)`) is compared as the model's `Truncated`.
pub fn via_slice(input: &[u8], max: u32) -> Vec<Event> {
    let config = Config::new().max_read_frame_len(max);
    let mut rest = input;
    let mut out = Vec::new();
    loop {
        match decode_slice(rest, &config) {
            Ok(Some((f, used))) => {
                assert!(used >= HEADER_LEN && used <= rest.len());
                out.push(Event::Frame(f.payload().to_vec()));
                rest = &rest[used..];
            }
            Ok(None) => {
                if !rest.is_empty() {
                    // "Need more bytes" is only right for a tail the model
                    // calls a truncated frame (not, say, a bad magic).
                    let tail = model(rest, max);
                    assert!(
                        matches!(tail.as_slice(), [Event::Error(s)] if s.starts_with("Truncated")),
                        "decode_slice wanted more bytes for a tail the model rejects: {tail:?}"
                    );
                    out.extend(tail);
                }
                return out;
            }
            Err(e) => {
                let fatal = push_err(&mut out, &e);
                match e {
                    Error::PayloadChecksum { len, .. } if !fatal => {
                        rest = &rest[HEADER_LEN + len as usize..];
                    }
                    _ => return out,
                }
            }
        }
    }
}

/// Target `decode_stream`: byte 0 seeds the chunking, the rest is the
/// stream. Checks (inside `via_decoder`): no panic, every frame is the
/// verified payload of a header in the input, consumed ≤ input, memory
/// follows received bytes; and the result equals the model.
pub fn decode_stream(data: &[u8]) {
    let Some((&seed, input)) = data.split_first() else {
        return;
    };
    let chunks = chunk_sizes(u64::from(seed) * 0x9E37_79B9 + 1, input.len());
    let got = via_decoder(input, &chunks, FUZZ_MAX);
    assert_eq!(got, model(input, FUZZ_MAX));
    #[cfg(feature = "tokio")]
    assert_eq!(via_codec(input, &chunks, FUZZ_MAX), got);
}

/// Target `differential`: every reading path, two chunkings, and the model
/// agree frame for frame and error for error.
pub fn differential(data: &[u8]) {
    let Some((&seed, input)) = data.split_first() else {
        return;
    };
    let a = chunk_sizes(u64::from(seed) + 1, input.len());
    let b = chunk_sizes(u64::from(seed) * 7919 + 12345, input.len());
    let expected = model(input, FUZZ_MAX);
    assert_eq!(via_decoder(input, &a, FUZZ_MAX), expected, "decoder");
    assert_eq!(
        via_frame_reader(input, &a, FUZZ_MAX),
        expected,
        "FrameReader"
    );
    assert_eq!(via_read_frame(input, &b, FUZZ_MAX), expected, "read_frame");
    assert_eq!(via_slice(input, FUZZ_MAX), expected, "decode_slice");
    #[cfg(feature = "tokio")]
    {
        assert_eq!(
            via_codec(input, &a, FUZZ_MAX),
            expected,
            "codec, chunking a"
        );
        assert_eq!(
            via_codec(input, &b, FUZZ_MAX),
            expected,
            "codec, chunking b"
        );
    }
}

/// Target `roundtrip`: frames (flags, payload) → encode → decode through
/// every path → identical; re-encoding gives identical bytes. Frames with
/// flags set must be refused by the encoder, leaving the output untouched.
pub fn roundtrip(frames: &[(u8, Vec<u8>)], seed: u8) {
    let config = Config::new().max_write_frame_len(FUZZ_MAX);
    let mut wire = Vec::new();
    let mut sent = Vec::new();
    for (flags, payload) in frames {
        let before = wire.len();
        match encode_frame(Flags::from_bits_retain(*flags), payload, &config, &mut wire) {
            Ok(()) => {
                assert_eq!(*flags, 0);
                assert!(payload.len() <= FUZZ_MAX as usize);
                assert_eq!(wire.len(), before + HEADER_LEN + payload.len());
                sent.push(Event::Frame(payload.clone()));
            }
            Err(Error::EncodeFlags { flags: f }) => {
                assert_eq!(f.bits(), *flags);
                assert_eq!(wire.len(), before);
            }
            Err(Error::EncodeTooLarge { len, max }) => {
                assert_eq!((len, max), (payload.len(), FUZZ_MAX));
                assert_eq!(wire.len(), before);
            }
            Err(e) => panic!("unexpected encode error {e:?}"),
        }
    }
    let chunks = chunk_sizes(u64::from(seed) + 3, wire.len());
    assert_eq!(model(&wire, FUZZ_MAX), sent);
    assert_eq!(via_decoder(&wire, &chunks, FUZZ_MAX), sent);
    assert_eq!(via_frame_reader(&wire, &chunks, FUZZ_MAX), sent);
    assert_eq!(via_read_frame(&wire, &chunks, FUZZ_MAX), sent);
    assert_eq!(via_slice(&wire, FUZZ_MAX), sent);
    #[cfg(feature = "tokio")]
    assert_eq!(via_codec(&wire, &chunks, FUZZ_MAX), sent);
    // Re-encoding what was decoded reproduces the stream byte for byte.
    let mut again = Vec::new();
    for e in &sent {
        if let Event::Frame(p) = e {
            encode_frame(Flags::empty(), p, &config, &mut again).unwrap();
        }
    }
    assert_eq!(again, wire);
}

/// Target `corrupt`: a valid stream of `payloads`, with XOR `mutations`
/// (position, mask) applied. The decoder must agree with the model; and,
/// checked directly: every frame before the first damaged one is delivered
/// unchanged, a damaged frame is never delivered, and a frame whose header
/// is intact but whose payload is damaged costs that frame only.
pub fn corrupt(payloads: &[Vec<u8>], mutations: &[(u32, u8)], seed: u8) {
    let mut wire = Vec::new();
    let mut spans = Vec::new();
    for p in payloads {
        let start = wire.len();
        lpframe::write_frame(&mut wire, p).unwrap();
        spans.push((start, wire.len()));
    }
    if wire.is_empty() {
        return;
    }
    let original = wire.clone();
    for &(pos, mask) in mutations {
        let i = pos as usize % wire.len();
        wire[i] ^= mask;
    }
    let chunks = chunk_sizes(u64::from(seed) + 5, wire.len());
    let got = via_decoder(&wire, &chunks, u32::MAX);
    assert_eq!(got, model(&wire, u32::MAX));

    let mut events = got.iter();
    for (k, &(start, end)) in spans.iter().enumerate() {
        let header_intact = wire[start..start + HEADER_LEN] == original[start..start + HEADER_LEN];
        let payload_intact = wire[start + HEADER_LEN..end] == original[start + HEADER_LEN..end];
        let Some(ev) = events.next() else {
            panic!("frame {k}: no event");
        };
        match (header_intact, payload_intact) {
            (true, true) => assert_eq!(ev, &Event::Frame(payloads[k].clone()), "frame {k}"),
            (true, false) => {
                // Costs this frame only: reported, then decoding goes on.
                assert!(
                    matches!(ev, Event::Error(s) if s.starts_with("PayloadChecksum")),
                    "frame {k}: {ev:?}"
                );
            }
            (false, _) => {
                // A damaged header: rejected (or, if the damage happens to
                // form another valid header, never delivered as the
                // original). Nothing after it can be checked against the
                // original framing.
                assert_ne!(
                    ev,
                    &Event::Frame(payloads[k].clone()),
                    "frame {k} delivered despite damage"
                );
                if let Event::Error(s) = ev {
                    let kind = s.split([' ', '{']).next().unwrap_or_default();
                    assert!(
                        [
                            "BadMagic",
                            "UnsupportedVersion",
                            "HeaderChecksum",
                            "ReservedFlags",
                            "FrameTooLarge",
                            "Truncated"
                        ]
                        .contains(&kind),
                        "frame {k}: {s}"
                    );
                }
                return;
            }
        }
    }
    assert!(events.next().is_none(), "events after the last frame");
}

/// Target `header`: parse → write returns the same bytes whenever parse
/// succeeds, and parse agrees with the model on every input.
pub fn header(data: &[u8]) {
    let Some(bytes) = data.first_chunk::<HEADER_LEN>() else {
        return;
    };
    match Header::parse(bytes, u32::MAX) {
        Ok(h) => {
            assert_eq!(&h.to_bytes(), bytes);
            // The model accepts the header too: whatever it reports next
            // concerns the (absent) payload.
            let first = model(bytes, u32::MAX).into_iter().next();
            let payload_level = match &first {
                Some(Event::Frame(p)) => p.is_empty() && h.len == 0,
                Some(Event::Error(s)) => {
                    s.starts_with("Truncated { part: Payload") || s.starts_with("PayloadChecksum")
                }
                None => false,
            };
            assert!(payload_level, "parse accepted, model said {first:?}");
        }
        Err(e) => {
            assert_eq!(
                model(bytes, u32::MAX).first(),
                Some(&Event::Error(error_key(&e)))
            );
        }
    }
}

/// Recovery mode through the pure decoder: every event with the stream
/// offset it covers, checking that the events tile the input exactly.
pub fn recover_events(input: &[u8], chunks: &[usize]) -> Vec<(u64, u64, Event)> {
    let config = Config::new().max_read_frame_len(FUZZ_MAX).recover(true);
    let mut dec = FrameDecoder::with_config(config);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let (mut fed, mut eof) = (0usize, false);
    let mut chunk_iter = chunks.iter();
    for _ in 0..4 * input.len() + 16 {
        let res = if eof {
            dec.decode_eof(&mut buf)
        } else {
            dec.decode(&mut buf)
        };
        // Ruled-out bytes are released: the buffer never holds more than a
        // chunk plus a frame in progress.
        assert!(buf.len() <= 5000 + HEADER_LEN + FUZZ_MAX as usize);
        match res {
            Ok(Some(f)) => {
                let off = dec.frame_offset();
                let at = off as usize + HEADER_LEN;
                assert_eq!(&input[at..at + f.len()], &f.payload()[..]);
                out.push((
                    off,
                    (HEADER_LEN + f.len()) as u64,
                    Event::Frame(f.payload().to_vec()),
                ));
            }
            Ok(None) if eof => {
                // The events tile the whole input, in order.
                let mut pos = 0;
                for (off, len, ev) in &out {
                    assert_eq!(*off, pos, "gap or overlap before {ev:?}");
                    pos += len;
                }
                assert_eq!(pos, input.len() as u64);
                return out;
            }
            Ok(None) => match chunk_iter.next() {
                Some(&n) => {
                    buf.extend_from_slice(&input[fed..fed + n]);
                    fed += n;
                }
                None => eof = true,
            },
            Err(e) => {
                assert!(!e.is_fatal(), "fatal error in recovery mode: {e:?}");
                let (off, len) = match &e {
                    Error::Skipped { offset, len, .. } => (*offset, *len),
                    Error::PayloadChecksum { len, .. } => {
                        (dec.frame_offset(), HEADER_LEN as u64 + u64::from(*len))
                    }
                    other => panic!("unexpected {other:?}"),
                };
                out.push((off, len, Event::Error(error_key(&e))));
            }
        }
    }
    panic!("recovery did not terminate");
}

/// Target `recover`: recovery mode never fails, accounts for every byte,
/// delivers only frames that are really in the input, and gives the same
/// result for two chunkings and through `FrameReader`.
pub fn recover(data: &[u8]) {
    let Some((&seed, input)) = data.split_first() else {
        return;
    };
    let a = chunk_sizes(u64::from(seed) + 11, input.len());
    let b = chunk_sizes(u64::from(seed) * 31 + 7, input.len());
    let ea = recover_events(input, &a);
    assert_eq!(recover_events(input, &b), ea);
    // Without damage (the model sees no error), recovery changes nothing.
    let plain = model(input, FUZZ_MAX);
    if plain.iter().all(|e| matches!(e, Event::Frame(_))) {
        let frames: Vec<Event> = ea.iter().map(|(_, _, e)| e.clone()).collect();
        assert_eq!(frames, plain);
    }
    let config = Config::new().max_read_frame_len(FUZZ_MAX).recover(true);
    let reader = FrameReader::with_config(chunked(input, &a), config);
    let via_reader: Vec<Event> = reader
        .take(input.len() + 2)
        .map(|r| match r {
            Ok(f) => Event::Frame(f.payload().to_vec()),
            Err(e) => Event::Error(error_key(&e)),
        })
        .collect();
    let expected: Vec<Event> = ea.into_iter().map(|(_, _, e)| e).collect();
    assert_eq!(via_reader, expected);
}
