//! One driver per reading path, and [`every_path`]: the one place that
//! lists them ([`Path::ALL`]) and runs an input through all of them.

use std::io;

use bytes::BytesMut;
#[cfg(feature = "tokio")]
use lpframe::Received;
use lpframe::{decode_slice, read_frame_with, DecodeError, Error, Header, HEADER_LEN};

#[cfg(feature = "tokio")]
pub use crate::framed::{via_framed, via_framed_with_gaps, ScriptAsync};
use crate::script::Step;
use crate::{model, model_with_boundaries, with_after, Event, Script, Setup};

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
pub fn via_decoder(script: &Script, setup: impl Into<Setup>) -> Vec<Event> {
    let setup: Setup = setup.into();
    let path = "FrameDecoder";
    let mut dec = setup.decoder();
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
    assert_eq!(header.len() as usize, payload.len(), "{path}: length");
    assert_eq!(
        crc32fast::hash(payload),
        header.payload_crc(),
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
pub fn via_codec(script: &Script, setup: impl Into<Setup>) -> Vec<Event> {
    let setup: Setup = setup.into();
    use tokio_util::codec::Decoder;
    let mut codec = setup.codec();
    walk("FrameCodec", script, |buf, _, eof| {
        let res = if eof {
            codec.decode_eof(buf)
        } else {
            codec.decode(buf)
        };
        match res {
            Ok(Some(Received::Frame(frame))) => Call::Frame(frame.to_vec()),
            Ok(Some(Received::Dropped(e))) => Call::Dropped(e),
            Ok(None) => Call::More,
            Err(Error::Decode(e)) => Call::Fatal(e),
            Err(other) => panic!("FrameCodec: unexpected {other:?}"),
        }
    })
}

/// The `LengthDelimitedCodec`-shaped codec, driven like [`via_codec`]. It
/// drops a corrupt frame inside the codec and goes on (a typed stream on it
/// keeps going), so its events are the decoder's without the non-fatal
/// errors; those it must have counted instead. Returns the events and the
/// drops counted in its stats (`frames_dropped + skipped_ranges`). A fatal
/// error is an `io::Error` carrying the typed error.
#[cfg(feature = "tokio")]
pub fn via_payload_codec(script: &Script, setup: impl Into<Setup>) -> (Vec<Event>, u64) {
    let setup: Setup = setup.into();
    use tokio_util::codec::Decoder;
    let mut codec = setup.payload_codec();
    let events = walk("PayloadCodec", script, |buf, _, eof| {
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
                Some(Error::Decode(e)) => {
                    panic!("PayloadCodec: a non-fatal error returned, not dropped: {e:?}")
                }
                _ => panic!("PayloadCodec: an io::Error without a decode error: {io:?}"),
            },
        }
    });
    let stats = codec.stats();
    (events, stats.frames_dropped + stats.skipped_ranges)
}

/// `FrameReader` over the script, called until the script is played out:
/// retryable I/O errors must say "not fatal" and are retried; after
/// `Ok(None)` it is called again (the source may grow); after a fatal error
/// it is called twice more, which must repeat the error without reading.
pub fn via_reader(script: &Script, setup: impl Into<Setup>) -> Vec<Event> {
    reader_events(script, setup.into(), false)
}

/// As [`via_reader`], reading with the lending `FrameReader::next_ref`.
pub fn via_reader_ref(script: &Script, setup: impl Into<Setup>) -> Vec<Event> {
    reader_events(script, setup.into(), true)
}

fn reader_events(script: &Script, setup: Setup, lend: bool) -> Vec<Event> {
    let path = if lend {
        "FrameReader::next_ref"
    } else {
        "FrameReader"
    };
    let bound = 4 * script.bytes().len() + 4 * script.steps.len() + 16;
    let mut reader = setup.reader(script.clone());
    let mut rec = Recorder::default();
    let mut repeats = 0;
    for _ in 0..bound {
        let next = if lend {
            reader.next_ref().map(|f| f.map(|f| f.to_frame()))
        } else {
            reader.next_frame()
        };
        match next {
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
            Err(e) => Some(Event::Io(io_kind(&e))),
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

/// A reading path of lpframe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// The pure [`FrameDecoder`] ([`via_decoder`]), with its own invariants
    /// checked: the reference the others are compared with.
    Decoder,
    /// The buffered blocking [`FrameReader`] ([`via_reader`]).
    Reader,
    /// `FrameReader`'s lending `next_ref` ([`via_reader_ref`]).
    ReaderRef,
    /// `FrameCodec` driven as `Framed` drives it ([`via_codec`]).
    #[cfg(feature = "tokio")]
    Codec,
    /// `PayloadCodec` driven likewise ([`via_payload_codec`]); it drops
    /// corrupt frames itself, so its events lack the non-fatal errors,
    /// which it counts instead ([`every_path`] checks both).
    #[cfg(feature = "tokio")]
    PayloadCodec,
    /// `FrameCodec` under a real `FramedRead` on a runtime, fed by an
    /// `AsyncRead` that is `Pending` before every step ([`via_framed`]).
    #[cfg(feature = "tokio")]
    Framed,
    /// The exact, stateless `read_frame_with` ([`via_read_frame`]). It
    /// survives an I/O fault only between frames, so it is given a
    /// `TimedOut` at every frame boundary instead of the faults asked for;
    /// it cannot recover.
    ReadFrame,
    /// `decode_slice` over the whole input ([`via_slice`]); it cannot
    /// recover.
    Slice,
}

impl Path {
    /// Every reading path, the reference ([`Path::Decoder`]) first.
    #[cfg(feature = "tokio")]
    pub const ALL: &'static [Path] = &[
        Path::Decoder,
        Path::Reader,
        Path::ReaderRef,
        Path::Codec,
        Path::PayloadCodec,
        Path::Framed,
        Path::ReadFrame,
        Path::Slice,
    ];
    /// Every reading path, the reference ([`Path::Decoder`]) first.
    #[cfg(not(feature = "tokio"))]
    pub const ALL: &'static [Path] = &[
        Path::Decoder,
        Path::Reader,
        Path::ReaderRef,
        Path::ReadFrame,
        Path::Slice,
    ];

    /// The path's events for `input` cut into `chunks` with `faults`
    /// (offset, kind) injected, then the end of the stream and the appended
    /// frame ([`Script::new`]); `None` for a path that cannot take `config`
    /// (the exact readers in recovery mode).
    pub fn events(
        self,
        input: &[u8],
        chunks: &[usize],
        faults: &[(usize, io::ErrorKind)],
        setup: impl Into<Setup>,
    ) -> Option<Vec<Event>> {
        let setup: Setup = setup.into();
        let max = setup.config.max_read_frame_len;
        let recovering = setup.recover;
        let script = || Script::new(input, chunks, faults, max);
        Some(match self {
            Path::Decoder => via_decoder(&script(), setup),
            Path::Reader => via_reader(&script(), setup),
            Path::ReaderRef => via_reader_ref(&script(), setup),
            #[cfg(feature = "tokio")]
            Path::Codec => via_codec(&script(), setup),
            #[cfg(feature = "tokio")]
            Path::PayloadCodec => via_payload_codec(&script(), setup).0,
            #[cfg(feature = "tokio")]
            Path::Framed => via_framed(&script(), setup),
            Path::ReadFrame | Path::Slice if recovering => return None,
            Path::ReadFrame => {
                let at_boundaries: Vec<_> = model_with_boundaries(input, max)
                    .1
                    .into_iter()
                    .map(|at| (at, io::ErrorKind::TimedOut))
                    .collect();
                via_read_frame(&Script::new(input, chunks, &at_boundaries, max), max)
            }
            Path::Slice => with_after(via_slice(input, max), max),
        })
    }
}

/// Every path of [`Path::ALL`] on `input` cut into `chunks`, with `faults`
/// injected (see [`Path::events`]), asserting that they all produce the
/// same events; returns them (the last is the appended frame iff no error
/// was fatal).
pub fn every_path(
    input: &[u8],
    chunks: &[usize],
    faults: &[(usize, io::ErrorKind)],
    setup: impl Into<Setup>,
) -> Vec<Event> {
    let setup: Setup = setup.into();
    let mut reference: Option<Vec<Event>> = None;
    for &path in Path::ALL {
        #[cfg(feature = "tokio")]
        if path == Path::PayloadCodec {
            let want = reference.as_ref().expect("the decoder runs first");
            let max = setup.config.max_read_frame_len;
            let (events, counted) =
                via_payload_codec(&Script::new(input, chunks, faults, max), setup);
            let (kept, dropped): (Vec<Event>, Vec<Event>) = want
                .iter()
                .cloned()
                .partition(|e| !matches!(e, Event::Error(e) if !e.is_fatal()));
            assert_eq!(events, kept, "{path:?} disagrees with the decoder");
            assert_eq!(
                counted,
                dropped.len() as u64,
                "{path:?} miscounted its drops"
            );
            continue;
        }
        let Some(events) = path.events(input, chunks, faults, setup) else {
            continue;
        };
        match &reference {
            None => reference = Some(events),
            Some(want) => assert_eq!(&events, want, "{path:?} disagrees with the decoder"),
        }
    }
    reference.expect("Path::ALL starts with the decoder, which takes every config")
}

/// A retryable `TimedOut` before every chunk of these sizes: the faults of
/// a socket with a read timeout that fires between reads.
pub fn timeouts_before_chunks(chunks: &[usize]) -> Vec<(usize, io::ErrorKind)> {
    chunks
        .iter()
        .scan(0, |at, &n| {
            let start = *at;
            *at += n;
            Some((start, io::ErrorKind::TimedOut))
        })
        .collect()
}

/// The I/O error kind behind a reading error that is not a decode error.
fn io_kind(e: &Error) -> io::ErrorKind {
    match e {
        Error::Io(io) | Error::Desync { io, .. } => io.kind(),
        other => panic!("read_frame: unexpected {other:?}"),
    }
}
