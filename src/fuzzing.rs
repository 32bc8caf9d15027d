//! The one "run these bytes through every path" harness.
//!
//! The cargo-fuzz targets in `fuzz/` are one-line calls into the target
//! functions at the end of this file; the integration tests (vectors, damage,
//! the `is_fatal` property, the stable replay of the fuzz corpus) include
//! this same file with `#[path]` and call the same drivers. It is compiled
//! into the library only under `cfg(fuzzing)` (set by cargo-fuzz) and is
//! `#[doc(hidden)]`: not part of the API. It refers to the crate as
//! `lpframe::` and uses only its public API, so it compiles the same way in
//! both places.
//!
//! - [`Event`]: what a path produced, with errors as their canonical text
//!   (PROTOCOL.md section 4.2), the text the vectors use.
//! - [`Script`]: what a path is fed: the input in chunks, I/O faults
//!   (`WouldBlock`, `TimedOut`, `Interrupted`) injected at chosen offsets,
//!   the end of the stream, then one more valid frame ([`AFTER`]) as a
//!   source that grows past its end would deliver it, then the end again.
//! - One driver per path: [`via_decoder`], [`via_codec`],
//!   [`via_payload_codec`], [`via_reader`], [`via_read_frame`],
//!   [`via_slice`] (the async `FramedRead` driver lives with the tests: it
//!   needs a runtime-free `Stream` poll that the library's dependencies do
//!   not provide).
//! - [`model`]: an independent, non-incremental receiver written from
//!   PROTOCOL.md section 4: the oracle.
//!
//! The properties every driver checks, on every run:
//! - after a non-fatal error the path goes on, and after a fatal one it
//!   never delivers again and repeats the same error (a `Truncated` stays
//!   `Truncated` even when more bytes arrive): so the appended frame is
//!   delivered **iff** no error the path called fatal was reported — the
//!   exactness of `is_fatal`, which [`expected`] encodes;
//! - retryable I/O errors are reported as not fatal and lose nothing;
//! - every frame delivered is the verified payload of a header in the
//!   input; the decoder's offsets account for every byte; memory follows
//!   received bytes, never a declared length.
//!
//! Every function panics when a property is violated: that is the point.
#![allow(missing_docs, dead_code)]

use std::collections::VecDeque;
use std::io::{self, Read};

use bytes::BytesMut;
use lpframe::{
    decode_slice, read_frame_with, Config, DecodeError, Error, FrameDecoder, FrameReader, Header,
    HEADER_LEN,
};

/// The read limit used by the byte-level targets: small, so that the
/// fuzzer reaches `FrameTooLarge` and memory checks are meaningful.
pub const FUZZ_MAX: u32 = 4096;

/// The payload of the frame every script appends after the end of the
/// input (see [`Script`]), cut to the receiver's limit.
const AFTER: &[u8] = b"appended after the end of the stream";

/// The appended frame's payload for a receiver with limit `max`.
pub fn after(max: u32) -> &'static [u8] {
    &AFTER[..AFTER.len().min(max as usize)]
}

/// One thing a path produced: a frame's payload, or an error as its
/// canonical text (PROTOCOL.md section 4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Frame(Vec<u8>),
    Error(String),
}

impl Event {
    pub fn error(e: &DecodeError) -> Event {
        Event::Error(e.canonical().to_string())
    }

    /// The error's name, for an error event (`"PayloadChecksum"` ...).
    pub fn error_name(&self) -> Option<&str> {
        match self {
            Event::Error(s) => s.split(' ').next(),
            Event::Frame(_) => None,
        }
    }

    /// `true` for an error event whose error is fatal (PROTOCOL.md section
    /// 4.2: every error but `PayloadChecksum` and recovery's `Skipped`).
    pub fn is_fatal_error(&self) -> bool {
        !matches!(
            self.error_name(),
            None | Some("PayloadChecksum") | Some("Skipped")
        )
    }
}

/// The wire bytes of one frame with `payload`.
pub fn frame_bytes(payload: &[u8]) -> Vec<u8> {
    let mut wire = Vec::with_capacity(HEADER_LEN + payload.len());
    lpframe::encode_frame(payload, u32::MAX, &mut wire).expect("payload fits a frame");
    wire
}

// ---------------------------------------------------------------------
// What a path is fed.
// ---------------------------------------------------------------------

/// A deterministic chunking of `len` bytes from a seed (xorshift): mostly
/// tiny reads, sometimes large ones.
pub fn chunk_sizes(seed: u64, len: usize) -> Vec<usize> {
    let mut x = seed | 1;
    let mut out = Vec::new();
    let mut total = 0;
    while total < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
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

/// Cut points that split `len` bytes into the given chunk sizes.
pub fn sizes_of_cuts(len: usize, cuts: &[usize]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut start = 0;
    for &c in cuts {
        let c = c.clamp(start, len);
        if c > start {
            out.push(c - start);
        }
        start = c;
    }
    if len > start {
        out.push(len - start);
    }
    out
}

/// I/O errors to inject, from a seed: at a few stream offsets, one of the
/// retryable kinds. (Offsets are where the error strikes: before the byte
/// at that offset is delivered.)
pub fn seeded_faults(seed: u64, len: usize) -> Vec<(usize, io::ErrorKind)> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::new();
    let mut at = 0usize;
    loop {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        at += (x >> 16) as usize % 64;
        if at > len {
            return out;
        }
        let kind = match x % 3 {
            0 => io::ErrorKind::WouldBlock,
            1 => io::ErrorKind::TimedOut,
            _ => io::ErrorKind::Interrupted,
        };
        out.push((at, kind));
        at += 1;
    }
}

/// One step of a [`Script`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Bytes delivered by one read (or several, if the caller's buffer is
    /// smaller).
    Data(Vec<u8>),
    /// A read that fails with this kind and delivers nothing.
    Fault(io::ErrorKind),
    /// A read that returns 0: the end of the stream, for now.
    Eof,
}

/// What a reading path is fed: `input` in chunks, with I/O faults injected
/// at chosen offsets, then the end of the stream, then [`AFTER`] as one
/// more valid frame, then the end again — a source that grows after its
/// end (a file being appended to, a pipe reopened). A path delivers the
/// appended frame iff it reported no fatal error. (Its payload is cut to
/// the receiver's limit: [`after`].)
///
/// As a `Read`, it plays the steps in order; drivers of the pure decoder
/// and the codecs walk them.
#[derive(Debug, Clone)]
pub struct Script {
    pub steps: VecDeque<Step>,
}

impl Script {
    /// `input` cut into `chunks` (sizes), with `faults` (offset, kind)
    /// before the byte at each offset, then EOF, the appended frame for a
    /// receiver with limit `max`, EOF.
    pub fn new(
        input: &[u8],
        chunks: &[usize],
        faults: &[(usize, io::ErrorKind)],
        max: u32,
    ) -> Script {
        let mut script = Script::plain(input, chunks, faults);
        script.steps.push_back(Step::Data(frame_bytes(after(max))));
        script.steps.push_back(Step::Eof);
        script
    }

    /// As [`Script::new`], without the appended frame: `input`, then EOF.
    pub fn plain(input: &[u8], chunks: &[usize], faults: &[(usize, io::ErrorKind)]) -> Script {
        let mut faults: Vec<(usize, io::ErrorKind)> = faults.to_vec();
        faults.sort_by_key(|f| f.0);
        let mut faults = faults.into_iter().peekable();
        let mut steps = VecDeque::new();
        let mut pos = 0;
        let mut sizes = chunks.iter().copied();
        let mut left_in_chunk = 0;
        while pos < input.len() || faults.peek().is_some_and(|f| f.0 <= pos) {
            while let Some(&(at, kind)) = faults.peek() {
                if at > pos {
                    break;
                }
                steps.push_back(Step::Fault(kind));
                faults.next();
            }
            if pos >= input.len() {
                break;
            }
            if left_in_chunk == 0 {
                left_in_chunk = sizes.next().unwrap_or(input.len() - pos).max(1);
            }
            let next_fault = faults.peek().map_or(usize::MAX, |f| f.0);
            let end = (pos + left_in_chunk)
                .min(input.len())
                .min(next_fault.max(pos + 1));
            steps.push_back(Step::Data(input[pos..end].to_vec()));
            left_in_chunk -= end - pos;
            pos = end;
        }
        steps.push_back(Step::Eof);
        Script { steps }
    }

    /// The bytes the script delivers, in order (all data steps).
    pub fn bytes(&self) -> Vec<u8> {
        self.steps
            .iter()
            .filter_map(|s| match s {
                Step::Data(d) => Some(&d[..]),
                _ => None,
            })
            .flatten()
            .copied()
            .collect()
    }

    /// `true` when every step has been played.
    pub fn is_done(&self) -> bool {
        self.steps.is_empty()
    }
}

impl Read for Script {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.steps.front_mut() {
            None => Ok(0),
            Some(Step::Eof) => {
                self.steps.pop_front();
                Ok(0)
            }
            Some(Step::Fault(kind)) => {
                let kind = *kind;
                self.steps.pop_front();
                Err(kind.into())
            }
            Some(Step::Data(data)) => {
                let n = data.len().min(buf.len());
                buf[..n].copy_from_slice(&data[..n]);
                data.drain(..n);
                if data.is_empty() {
                    self.steps.pop_front();
                }
                Ok(n)
            }
        }
    }
}

// ---------------------------------------------------------------------
// The oracle.
// ---------------------------------------------------------------------

/// A straightforward, non-incremental receiver written from PROTOCOL.md
/// section 4 independently of `lpframe` (its own field reads, crc32fast for
/// both CRCs, its own canonical texts): the oracle the real paths are
/// compared with. No recovery mode.
pub fn model(input: &[u8], max: u32) -> Vec<Event> {
    model_with_boundaries(input, max).0
}

/// [`model`], with the offsets at which each frame it decodes starts (the
/// frame boundaries, for faults that only a path which keeps its place
/// between frames survives).
pub fn model_with_boundaries(input: &[u8], max: u32) -> (Vec<Event>, Vec<usize>) {
    let mut out = Vec::new();
    let mut boundaries = Vec::new();
    let mut pos = 0usize;
    loop {
        boundaries.push(pos);
        let rest = &input[pos..];
        if rest.is_empty() {
            return (out, boundaries);
        }
        let err = |s: String| Event::Error(s);
        if rest.len() >= 2 && rest[..2] != [0xC1, 0x4C] {
            let found = (u16::from(rest[0]) << 8) | u16::from(rest[1]);
            out.push(err(format!("BadMagic found={found:#06x}")));
            return (out, boundaries);
        }
        if rest.len() >= 3 && rest[2] != 1 {
            out.push(err(format!(
                "UnsupportedVersion found={} supported=1",
                rest[2]
            )));
            return (out, boundaries);
        }
        if rest.len() < HEADER_LEN {
            out.push(err(format!(
                "Truncated part=header missing={}",
                HEADER_LEN - rest.len()
            )));
            return (out, boundaries);
        }
        let be = |i: usize| {
            (u32::from(rest[i]) << 24)
                | (u32::from(rest[i + 1]) << 16)
                | (u32::from(rest[i + 2]) << 8)
                | u32::from(rest[i + 3])
        };
        let (len, pcrc, hcrc) = (be(4), be(8), be(12));
        let actual = crc32fast::hash(&rest[..12]);
        if hcrc != actual {
            out.push(err(format!(
                "HeaderChecksum expected={hcrc:#010x} actual={actual:#010x}"
            )));
            return (out, boundaries);
        }
        if rest[3] != 0 {
            out.push(err(format!("ReservedFlags flags={:#04x}", rest[3])));
            return (out, boundaries);
        }
        if len > max {
            out.push(err(format!("FrameTooLarge len={len} max={max}")));
            return (out, boundaries);
        }
        let body = &rest[HEADER_LEN..];
        if body.len() < len as usize {
            out.push(err(format!(
                "Truncated part=payload missing={}",
                len as usize - body.len()
            )));
            return (out, boundaries);
        }
        let payload = &body[..len as usize];
        let actual = crc32fast::hash(payload);
        if actual == pcrc {
            out.push(Event::Frame(payload.to_vec()));
        } else {
            out.push(err(format!(
                "PayloadChecksum expected={pcrc:#010x} actual={actual:#010x} len={len}"
            )));
        }
        pos += HEADER_LEN + len as usize;
    }
}

/// What a path fed `Script::new(input, .., max)` must produce: the
/// model's events, then the appended frame iff none of them is fatal.
pub fn expected(input: &[u8], max: u32) -> Vec<Event> {
    with_after(model(input, max), max)
}

/// `events`, then the appended frame (for limit `max`) iff none of them is
/// fatal.
pub fn with_after(mut events: Vec<Event>, max: u32) -> Vec<Event> {
    if !events.iter().any(Event::is_fatal_error) {
        events.push(Event::Frame(after(max).to_vec()));
    }
    events
}

// ---------------------------------------------------------------------
// One driver per path.
// ---------------------------------------------------------------------

/// Records what a path yields and checks the fatal-error contract: after a
/// fatal error, every later call must fail again with the same error and
/// never deliver a frame.
#[derive(Debug, Default)]
struct Recorder {
    events: Vec<Event>,
    fatal: Option<DecodeError>,
}

impl Recorder {
    fn frame(&mut self, path: &str, payload: &[u8]) {
        assert!(
            self.fatal.is_none(),
            "{path}: delivered a frame after the fatal error {:?}",
            self.fatal
        );
        self.events.push(Event::Frame(payload.to_vec()));
    }

    /// Records a decode error; returns `true` if it is fatal.
    fn error(&mut self, path: &str, e: &DecodeError) -> bool {
        match &self.fatal {
            Some(first) => {
                assert_eq!(e, first, "{path}: a failed path changed its error");
                true
            }
            None => {
                self.events.push(Event::error(e));
                if e.is_fatal() {
                    self.fatal = Some(e.clone());
                }
                e.is_fatal()
            }
        }
    }

    /// A call that returned "nothing more for now" (`Ok(None)`).
    fn none(&self, path: &str) {
        assert!(
            self.fatal.is_none(),
            "{path}: returned Ok(None) after the fatal error {:?}",
            self.fatal
        );
    }
}

/// What one call of a buffer-driven decoder gave, for [`walk`].
enum Call {
    Frame(Vec<u8>),
    /// A non-fatal error: the frame was dropped, the stream goes on.
    Dropped(DecodeError),
    /// A fatal error.
    Fatal(DecodeError),
    /// Nothing more until more bytes arrive (or, at the end of the stream,
    /// the clean end).
    More,
}

/// Plays the script's data into a buffer as tokio-util's `Framed` does:
/// after each step, `decode(buf, stream so far, eof)` until it needs more
/// (an I/O fault changes nothing: a buffer-driven decoder does no I/O; at
/// an end of stream, `eof` is true; if more bytes arrive after it, decoding
/// goes on). Records the events and checks the fatal-error contract.
fn walk(
    path: &str,
    script: &Script,
    mut decode: impl FnMut(&mut BytesMut, &[u8], bool) -> Call,
) -> Vec<Event> {
    let mut buf = BytesMut::new();
    let mut stream = Vec::new();
    let mut rec = Recorder::default();
    let bound = script.bytes().len() + 2;
    for step in &script.steps {
        let eof = match step {
            Step::Data(d) => {
                buf.extend_from_slice(d);
                stream.extend_from_slice(d);
                false
            }
            Step::Fault(_) => continue,
            Step::Eof => true,
        };
        for _ in 0..=bound {
            match decode(&mut buf, &stream, eof) {
                Call::Frame(payload) => rec.frame(path, &payload),
                Call::Dropped(e) => {
                    assert!(
                        !e.is_fatal(),
                        "{path}: a fatal error as a dropped frame: {e:?}"
                    );
                    rec.error(path, &e);
                }
                Call::Fatal(e) => {
                    assert!(e.is_fatal(), "{path}: a non-fatal error as fatal: {e:?}");
                    rec.error(path, &e);
                    break;
                }
                Call::More => {
                    rec.none(path);
                    break;
                }
            }
        }
    }
    rec.events
}

/// The pure decoder, with its own invariants checked on every call: the
/// offsets account for every byte fed, memory follows the bytes received,
/// every frame is the verified payload of a header in the stream, and a
/// failed decoder says so.
pub fn via_decoder(script: &Script, config: Config) -> Vec<Event> {
    let path = "FrameDecoder";
    let mut dec = FrameDecoder::with_config(config);
    walk(path, script, |buf, stream, eof| {
        let res = if eof {
            dec.decode_eof(buf)
        } else {
            dec.decode(buf)
        };
        // Consumed bytes plus buffered bytes are exactly the bytes fed.
        assert_eq!(
            dec.position() as usize + buf.len(),
            stream.len(),
            "{path}: offsets do not account for the bytes fed"
        );
        match res {
            Ok(Some(frame)) => {
                check_delivered(path, stream, dec.frame_offset(), &frame);
                Call::Frame(frame.to_vec())
            }
            Ok(None) => {
                // Memory follows received bytes, never a declared length.
                assert!(
                    buf.capacity() <= 2 * stream.len() + 64,
                    "{path}: capacity {} after {} bytes",
                    buf.capacity(),
                    stream.len()
                );
                Call::More
            }
            Err(e) if e.is_fatal() => {
                assert!(dec.is_failed(), "{path}: fatal error but not failed");
                Call::Fatal(e)
            }
            Err(e) => Call::Dropped(e),
        }
    })
}

/// A delivered frame is the verified payload of a header at `offset` in the
/// stream.
fn check_delivered(path: &str, stream: &[u8], offset: u64, payload: &[u8]) {
    let off = offset as usize;
    let head: &[u8; HEADER_LEN] = stream[off..off + HEADER_LEN].try_into().expect("16 bytes");
    let header = Header::parse(head, u32::MAX).expect("a delivered frame has a valid header");
    assert_eq!(header.len as usize, payload.len(), "{path}: length");
    assert_eq!(
        crc32fast::hash(payload),
        header.payload_crc,
        "{path}: payload CRC"
    );
    assert_eq!(
        &stream[off + HEADER_LEN..off + HEADER_LEN + payload.len()],
        payload,
        "{path}: payload is not the bytes after its header"
    );
}

/// The tokio codec driven as tokio-util's `Framed` drives it, without a
/// runtime: dropped frames must come as items, fatal errors as `Err`.
#[cfg(feature = "tokio")]
pub fn via_codec(script: &Script, config: Config) -> Vec<Event> {
    use tokio_util::codec::Decoder;
    let mut codec = lpframe::FrameCodec::with_config(config);
    walk("FrameCodec", script, |buf, _, eof| {
        let res = if eof {
            codec.decode_eof(buf)
        } else {
            codec.decode(buf)
        };
        match res {
            Ok(Some(Ok(frame))) => Call::Frame(frame.to_vec()),
            Ok(Some(Err(e))) => Call::Dropped(e),
            Ok(None) => Call::More,
            Err(Error::Decode(e)) => Call::Fatal(e),
            Err(other) => panic!("FrameCodec: unexpected {other:?}"),
        }
    })
}

/// The `LengthDelimitedCodec`-shaped codec, driven like [`via_codec`]; its
/// errors are `io::Error`s carrying the typed error, and a caller that
/// polls on past a non-fatal one gets the next frames.
#[cfg(feature = "tokio")]
pub fn via_payload_codec(script: &Script, config: Config) -> Vec<Event> {
    use tokio_util::codec::Decoder;
    let mut codec = lpframe::PayloadCodec::with_config(config);
    walk("PayloadCodec", script, |buf, _, eof| {
        let res = if eof {
            codec.decode_eof(buf)
        } else {
            codec.decode(buf)
        };
        match res {
            Ok(Some(payload)) => Call::Frame(payload.to_vec()),
            Ok(None) => Call::More,
            Err(io) => match io.get_ref().and_then(|e| e.downcast_ref::<Error>()) {
                Some(Error::Decode(e)) if e.is_fatal() => Call::Fatal(e.clone()),
                Some(Error::Decode(e)) => Call::Dropped(e.clone()),
                _ => panic!("PayloadCodec: an io::Error without a decode error: {io:?}"),
            },
        }
    })
}

/// `FrameReader` over the script, called until the script is played out:
/// retryable I/O errors must say "not fatal" and are retried; after
/// `Ok(None)` it is called again (the source may grow); after a fatal error
/// it is called twice more, which must repeat the error without reading.
pub fn via_reader(script: &Script, config: Config) -> Vec<Event> {
    let path = "FrameReader";
    let bound = 4 * script.bytes().len() + 4 * script.steps.len() + 16;
    let mut reader = FrameReader::with_config(script.clone(), config);
    let mut rec = Recorder::default();
    let mut repeats = 0;
    for _ in 0..bound {
        match reader.next_frame() {
            Ok(Some(frame)) => rec.frame(path, &frame),
            Ok(None) => {
                rec.none(path);
                if reader.get_ref().is_done() {
                    return rec.events;
                }
            }
            Err(Error::Io(e)) => {
                assert!(
                    !Error::Io(io::Error::from(e.kind())).is_fatal(),
                    "{path}: injected {e} is fatal"
                );
                assert!(
                    e.kind() != io::ErrorKind::Interrupted,
                    "{path}: Interrupted surfaced instead of being retried"
                );
            }
            Err(Error::Decode(e)) => {
                if rec.error(path, &e) {
                    repeats += 1;
                    if repeats == 3 {
                        return rec.events;
                    }
                }
            }
            Err(other) => panic!("{path}: unexpected {other:?}"),
        }
    }
    panic!("{path}: did not finish the script");
}

/// The exact `read_frame_with` over the script, called until the script is
/// played out or a fatal error (a stateless reader cannot repeat its error:
/// its caller must stop). An injected retryable fault is only survivable
/// before the first byte of a frame; [`desync_after_fault`] covers the
/// others.
pub fn via_read_frame(script: &Script, max: u32) -> Vec<Event> {
    let path = "read_frame";
    let bound = 2 * script.bytes().len() + 2 * script.steps.len() + 16;
    let mut r = script.clone();
    let mut rec = Recorder::default();
    for _ in 0..bound {
        match read_frame_with(&mut r, max) {
            Ok(Some(frame)) => rec.frame(path, &frame),
            Ok(None) => {
                if r.is_done() {
                    return rec.events;
                }
            }
            Err(Error::Io(e)) => {
                assert!(
                    e.kind() != io::ErrorKind::Interrupted,
                    "{path}: Interrupted surfaced instead of being retried"
                );
                assert!(!Error::Io(e).is_fatal());
            }
            Err(Error::Decode(e)) => {
                if rec.error(path, &e) {
                    return rec.events;
                }
            }
            Err(other) => panic!("{path}: unexpected {other:?}"),
        }
    }
    panic!("{path}: did not finish the script");
}

/// The exact reader after a retryable fault struck inside a frame: it must
/// report [`Error::Desync`] (fatal), with how many bytes of the frame it
/// had consumed; and the claim must be true: a caller that ignored it and
/// read on would not get the frames that follow. `input` must be a valid
/// stream of at least one frame, `at` an offset inside a frame (not a
/// boundary). Returns the `done` count reported.
pub fn desync_after_fault(input: &[u8], at: usize, kind: io::ErrorKind) -> u64 {
    let (events, boundaries) = model_with_boundaries(input, u32::MAX);
    assert!(events.iter().all(|e| matches!(e, Event::Frame(_))));
    assert!(!boundaries.contains(&at) && at < input.len());
    let frame_start = boundaries
        .iter()
        .copied()
        .filter(|&b| b < at)
        .max()
        .unwrap_or(0);
    let mut r = Script::plain(input, &[input.len()], &[(at, kind)]);
    let mut delivered = Vec::new();
    let done = loop {
        match read_frame_with(&mut r, u32::MAX) {
            Ok(Some(f)) => delivered.push(Event::Frame(f.to_vec())),
            Err(e @ Error::Desync { .. }) => {
                assert!(e.is_fatal(), "Desync must be fatal");
                let Error::Desync { io, done } = e else {
                    unreachable!()
                };
                assert_eq!(io.kind(), kind);
                break done;
            }
            other => panic!("read_frame: expected a Desync, got {other:?}"),
        }
    };
    assert_eq!(
        done as usize,
        at - frame_start,
        "bytes of the frame consumed"
    );
    // Reading on regardless does not give back the rest of the stream.
    let rest: Vec<Event> = (0..input.len() + 2)
        .map_while(|_| match read_frame_with(&mut r, u32::MAX) {
            Ok(Some(f)) => Some(Event::Frame(f.to_vec())),
            Ok(None) => None,
            Err(Error::Decode(e)) => Some(Event::error(&e)),
            Err(e) => Some(Event::Error(e.to_string())),
        })
        .take(events.len())
        .collect();
    delivered.extend(rest);
    assert_ne!(delivered, events, "read_frame recovered after a Desync");
    done
}

/// `decode_slice` over the whole input (stateless: no appended frame). A
/// trailing partial frame (`Ok(None)`) is compared as the model's
/// `Truncated`, and only a tail the model calls truncated may get it.
pub fn via_slice(input: &[u8], max: u32) -> Vec<Event> {
    let mut rest = input;
    let mut out = Vec::new();
    loop {
        match decode_slice(rest, max) {
            Ok(Some((f, used))) => {
                assert!(used >= HEADER_LEN && used <= rest.len());
                out.push(Event::Frame(f.payload().to_vec()));
                rest = &rest[used..];
            }
            Ok(None) => {
                if !rest.is_empty() {
                    let tail = model(rest, max);
                    assert!(
                        matches!(tail.as_slice(), [e] if e.error_name() == Some("Truncated")),
                        "decode_slice wanted more bytes for a tail the model rejects: {tail:?}"
                    );
                    out.extend(tail);
                }
                return out;
            }
            Err(e) => {
                out.push(Event::error(&e));
                match e {
                    DecodeError::PayloadChecksum { len, .. } => {
                        rest = &rest[HEADER_LEN + len as usize..];
                    }
                    _ => return out,
                }
            }
        }
    }
}

/// Every streaming path fed the same script (the decoder, both codecs,
/// `FrameReader`; `read_frame` too unless the config recovers), asserting
/// that they agree; returns their common events.
pub fn every_path(script: &Script, config: Config) -> Vec<Event> {
    let reference = via_decoder(script, config);
    assert_eq!(via_reader(script, config), reference, "FrameReader");
    #[cfg(feature = "tokio")]
    {
        assert_eq!(via_codec(script, config), reference, "FrameCodec");
        assert_eq!(via_payload_codec(script, config), reference, "PayloadCodec");
    }
    if !config.recover {
        assert_eq!(
            via_read_frame(script, config.max_read_frame_len),
            reference,
            "read_frame"
        );
    }
    reference
}

/// Every path on `input` cut at `cuts` (faults before every chunk for the
/// paths that keep their place; at frame boundaries for `read_frame`), plus
/// `decode_slice` on the whole input. Returns the events of the streaming
/// paths, whose last is the appended frame iff no error was fatal.
pub fn all_paths(input: &[u8], chunks: &[usize], config: Config) -> Vec<Event> {
    let faults: Vec<(usize, io::ErrorKind)> = chunk_starts(chunks)
        .into_iter()
        .map(|at| (at, io::ErrorKind::TimedOut))
        .collect();
    let max = config.max_read_frame_len;
    let script = Script::new(input, chunks, &faults, max);
    let reference = via_decoder(&script, config);
    assert_eq!(via_reader(&script, config), reference, "FrameReader");
    #[cfg(feature = "tokio")]
    {
        assert_eq!(via_codec(&script, config), reference, "FrameCodec");
        assert_eq!(
            via_payload_codec(&script, config),
            reference,
            "PayloadCodec"
        );
    }
    if !config.recover {
        let boundaries = model_with_boundaries(input, max).1;
        let faults: Vec<_> = boundaries
            .iter()
            .map(|&at| (at, io::ErrorKind::TimedOut))
            .collect();
        let script = Script::new(input, chunks, &faults, max);
        assert_eq!(via_read_frame(&script, max), reference, "read_frame");
        let slice = with_after(via_slice(input, max), max);
        assert_eq!(slice, reference, "decode_slice");
    }
    reference
}

/// The offsets at which chunks of these sizes start.
fn chunk_starts(chunks: &[usize]) -> Vec<usize> {
    chunks
        .iter()
        .scan(0, |at, &n| {
            let start = *at;
            *at += n;
            Some(start)
        })
        .collect()
}

// ---------------------------------------------------------------------
// Recovery mode.
// ---------------------------------------------------------------------

/// Recovery mode through the pure decoder: every event with the stream
/// offset it covers, checking that the events tile the input exactly and
/// that the buffer stays bounded while scanning.
pub fn recover_events(input: &[u8], chunks: &[usize], max: u32) -> Vec<(u64, u64, Event)> {
    let config = Config::new().max_read_frame_len(max).recover(true);
    let mut dec = FrameDecoder::with_config(config);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let (mut fed, mut eof) = (0usize, false);
    let largest_chunk = chunks.iter().copied().max().unwrap_or(0);
    let mut chunk_iter = chunks.iter();
    for _ in 0..4 * input.len() + 16 {
        let res = if eof {
            dec.decode_eof(&mut buf)
        } else {
            dec.decode(&mut buf)
        };
        // Ruled-out bytes are released: the buffer never holds more than a
        // chunk plus a frame in progress.
        assert!(buf.len() <= largest_chunk + HEADER_LEN + max as usize);
        match res {
            Ok(Some(f)) => {
                let off = dec.frame_offset();
                let at = off as usize + HEADER_LEN;
                assert_eq!(&input[at..at + f.len()], &f[..]);
                out.push((off, (HEADER_LEN + f.len()) as u64, Event::Frame(f.to_vec())));
            }
            Ok(None) if eof => {
                let mut pos = 0;
                for (off, len, ev) in &out {
                    assert_eq!(*off, pos, "gap or overlap before {ev:?}");
                    pos += len;
                }
                assert_eq!(pos, input.len() as u64, "the events do not tile the input");
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
                    DecodeError::Skipped { offset, len, .. } => (*offset, *len),
                    DecodeError::PayloadChecksum { len, .. } => {
                        (dec.frame_offset(), HEADER_LEN as u64 + u64::from(*len))
                    }
                    other => panic!("unexpected {other:?}"),
                };
                out.push((off, len, Event::error(&e)));
            }
        }
    }
    panic!("recovery did not terminate");
}

// ---------------------------------------------------------------------
// The fuzz targets.
// ---------------------------------------------------------------------

/// Target `decode_stream`: byte 0 seeds the chunking, the rest is the
/// stream. The decoder (with its invariants) and the codec agree with the
/// model, the appended frame included.
pub fn decode_stream(data: &[u8]) {
    let Some((&seed, input)) = data.split_first() else {
        return;
    };
    let chunks = chunk_sizes(u64::from(seed) * 0x9E37_79B9 + 1, input.len());
    let script = Script::new(input, &chunks, &[], FUZZ_MAX);
    let config = Config::new().max_read_frame_len(FUZZ_MAX);
    let got = via_decoder(&script, config);
    assert_eq!(got, expected(input, FUZZ_MAX));
    #[cfg(feature = "tokio")]
    assert_eq!(via_codec(&script, config), got);
}

/// Target `differential`: every reading path, two chunkings, seeded I/O
/// faults (at any offset for the paths that keep their place, at frame
/// boundaries for `read_frame`), and the model agree event for event, on
/// the full canonical text.
pub fn differential(data: &[u8]) {
    let Some((&seed, input)) = data.split_first() else {
        return;
    };
    let config = Config::new().max_read_frame_len(FUZZ_MAX);
    let (events, boundaries) = model_with_boundaries(input, FUZZ_MAX);
    let expected = with_after(events, FUZZ_MAX);
    let a = chunk_sizes(u64::from(seed) + 1, input.len());
    let b = chunk_sizes(u64::from(seed) * 7919 + 12345, input.len());
    let faults = seeded_faults(u64::from(seed), input.len());
    for chunks in [&a, &b] {
        let script = Script::new(input, chunks, &faults, FUZZ_MAX);
        assert_eq!(every_path_but_exact(&script, config), expected);
        let at_boundaries: Vec<_> = boundaries
            .iter()
            .map(|&at| (at, io::ErrorKind::TimedOut))
            .collect();
        let script = Script::new(input, chunks, &at_boundaries, FUZZ_MAX);
        assert_eq!(via_read_frame(&script, FUZZ_MAX), expected, "read_frame");
    }
    let slice = with_after(via_slice(input, FUZZ_MAX), FUZZ_MAX);
    assert_eq!(slice, expected, "decode_slice");
}

/// The paths that keep their place across I/O faults, asserting that they
/// agree.
fn every_path_but_exact(script: &Script, config: Config) -> Vec<Event> {
    let reference = via_decoder(script, config);
    assert_eq!(via_reader(script, config), reference, "FrameReader");
    #[cfg(feature = "tokio")]
    {
        assert_eq!(via_codec(script, config), reference, "FrameCodec");
        assert_eq!(via_payload_codec(script, config), reference, "PayloadCodec");
    }
    reference
}

/// Target `roundtrip`: frames (flags, payload) → encode → decode through
/// every path → identical; re-encoding gives identical bytes. Frames with
/// flags set must be refused by the encoder, leaving the output untouched.
pub fn roundtrip(frames: &[(u8, Vec<u8>)], seed: u8) {
    use bytes::Bytes;
    use lpframe::{EncodeError, Flags, Frame, FrameWriter};
    let config = Config::new()
        .max_write_frame_len(FUZZ_MAX)
        .max_read_frame_len(FUZZ_MAX);
    let mut writer = FrameWriter::with_config(Vec::new(), config);
    let mut wire = Vec::new();
    let mut sent = Vec::new();
    for (flags, payload) in frames {
        let before = wire.len();
        let frame = Frame::with_flags(
            Flags::from_bits_retain(*flags),
            Bytes::from(payload.clone()),
        );
        // The writer has no flags (FrameWriter::send is gone): only frames
        // without flags reach it.
        let by_writer = if *flags == 0 {
            writer.write_frame(payload)
        } else {
            Err(Error::Encode(EncodeError::ReservedFlags {
                flags: frame.flags(),
            }))
        };
        let by_fn = if *flags == 0 {
            lpframe::encode_frame(payload, FUZZ_MAX, &mut wire)
        } else {
            Err(EncodeError::ReservedFlags {
                flags: frame.flags(),
            })
        };
        match by_fn {
            Ok(()) => {
                assert!(by_writer.is_ok());
                assert!(payload.len() <= FUZZ_MAX as usize);
                assert_eq!(wire.len(), before + HEADER_LEN + payload.len());
                sent.push(Event::Frame(payload.clone()));
            }
            Err(EncodeError::ReservedFlags { flags: f }) => {
                assert_eq!(f.bits(), *flags);
                assert!(matches!(
                    by_writer,
                    Err(Error::Encode(EncodeError::ReservedFlags { .. }))
                ));
                assert_eq!(wire.len(), before);
            }
            Err(EncodeError::TooLarge { len, max }) => {
                assert_eq!((len, max), (payload.len(), FUZZ_MAX));
                assert!(matches!(
                    by_writer,
                    Err(Error::Encode(EncodeError::TooLarge { .. }))
                ));
                assert_eq!(wire.len(), before);
            }
            // Unreachable inside the crate (the enum is non-exhaustive only
            // to the tests, which include this file from outside).
            #[allow(unreachable_patterns)]
            Err(e) => panic!("unexpected encode error {e:?}"),
        }
    }
    // The buffered writer wrote exactly the same bytes.
    let by_writer = writer
        .into_inner()
        .unwrap_or_else(|e| panic!("flush into a Vec failed: {}", e.error()));
    assert_eq!(by_writer, wire);
    let chunks = chunk_sizes(u64::from(seed) + 3, wire.len());
    assert_eq!(model(&wire, FUZZ_MAX), sent);
    let config = Config::new().max_read_frame_len(FUZZ_MAX);
    assert_eq!(
        all_paths(&wire, &chunks, config),
        with_after(sent.clone(), FUZZ_MAX)
    );
    // Re-encoding what was decoded reproduces the stream byte for byte.
    let mut again = Vec::new();
    for e in &sent {
        if let Event::Frame(p) = e {
            lpframe::encode_frame(p, FUZZ_MAX, &mut again).expect("within the limit");
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
        wire.extend_from_slice(&frame_bytes(p));
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
    let script = Script::new(&wire, &chunks, &[], u32::MAX);
    let got = via_decoder(&script, Config::new().max_read_frame_len(u32::MAX));
    assert_eq!(got, expected(&wire, u32::MAX));

    let mut events = got.iter();
    for (k, &(start, end)) in spans.iter().enumerate() {
        let header_intact = wire[start..start + HEADER_LEN] == original[start..start + HEADER_LEN];
        let payload_intact = wire[start + HEADER_LEN..end] == original[start + HEADER_LEN..end];
        let Some(ev) = events.next() else {
            panic!("frame {k}: no event");
        };
        match (header_intact, payload_intact) {
            (true, true) => assert_eq!(ev, &Event::Frame(payloads[k].clone()), "frame {k}"),
            // Costs this frame only: reported, then decoding goes on.
            (true, false) => assert_eq!(ev.error_name(), Some("PayloadChecksum"), "frame {k}"),
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
                if let Some(name) = ev.error_name() {
                    assert!(
                        [
                            "BadMagic",
                            "UnsupportedVersion",
                            "HeaderChecksum",
                            "ReservedFlags",
                            "FrameTooLarge",
                            "Truncated"
                        ]
                        .contains(&name),
                        "frame {k}: {ev:?}"
                    );
                }
                return;
            }
        }
    }
    assert_eq!(events.next(), Some(&Event::Frame(after(u32::MAX).to_vec())));
    assert!(events.next().is_none(), "events after the appended frame");
}

/// Target `header`: `from_bytes` → `to_bytes` returns the same bytes for
/// any 16 bytes; `parse` agrees with the model on every input; and each
/// field that `verify` judges agrees with the field-by-field checks a tool
/// would make.
pub fn header(data: &[u8]) {
    let Some(bytes) = data.first_chunk::<HEADER_LEN>() else {
        return;
    };
    let fields = Header::from_bytes(bytes);
    assert_eq!(&fields.to_bytes(), bytes);
    assert_eq!(
        fields.header_crc == fields.computed_header_crc(),
        crc32fast::hash(&bytes[..12]) == fields.header_crc
    );
    match Header::parse(bytes, u32::MAX) {
        Ok(h) => {
            assert_eq!(h, fields);
            // The model accepts the header too: whatever it reports next
            // concerns the (absent) payload.
            let first = model(bytes, u32::MAX).into_iter().next();
            let payload_level = match &first {
                Some(Event::Frame(p)) => p.is_empty() && h.len == 0,
                Some(e) => matches!(e.error_name(), Some("Truncated" | "PayloadChecksum")),
                None => false,
            };
            assert!(payload_level, "parse accepted, model said {first:?}");
        }
        Err(e) => {
            assert_eq!(model(bytes, u32::MAX).first(), Some(&Event::error(&e)));
        }
    }
}

/// Target `recover`: recovery mode never fails, accounts for every byte,
/// delivers only frames that are really in the input, gives the same
/// result for two chunkings and through every path that can recover, and
/// still delivers the appended frame.
pub fn recover(data: &[u8]) {
    let Some((&seed, input)) = data.split_first() else {
        return;
    };
    let a = chunk_sizes(u64::from(seed) + 11, input.len());
    let b = chunk_sizes(u64::from(seed) * 31 + 7, input.len());
    let ea = recover_events(input, &a, FUZZ_MAX);
    assert_eq!(recover_events(input, &b, FUZZ_MAX), ea);
    // Without damage (the model sees no error), recovery changes nothing.
    let plain = model(input, FUZZ_MAX);
    let events: Vec<Event> = ea.into_iter().map(|(_, _, e)| e).collect();
    if plain.iter().all(|e| matches!(e, Event::Frame(_))) {
        assert_eq!(events, plain);
    }
    let config = Config::new().max_read_frame_len(FUZZ_MAX).recover(true);
    let faults = seeded_faults(u64::from(seed), input.len());
    let script = Script::new(input, &a, &faults, FUZZ_MAX);
    assert_eq!(
        every_path_but_exact(&script, config),
        with_after(events, FUZZ_MAX)
    );
}
