//! Helpers shared by the integration tests: scripted readers that deliver a
//! byte stream in chosen chunks (with timeouts between them), the canonical
//! error text used by tests/vectors/, and the vectors file parser.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{self, Read};

use lpframe::{Error, Frame};

/// Encodes payloads back to back with the default config.
pub fn encode_all(payloads: &[&[u8]]) -> Vec<u8> {
    let mut wire = Vec::new();
    for p in payloads {
        lpframe::write_frame(&mut wire, p).unwrap();
    }
    wire
}

/// Splits `data` at the given cut points (sorted, in range).
pub fn split_at_points(data: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut start = 0;
    for &c in cuts {
        let c = c.clamp(start, data.len());
        out.push(data[start..c].to_vec());
        start = c;
    }
    out.push(data[start..].to_vec());
    out
}

/// A `Read` that returns one scripted chunk per call, and (optionally) a
/// `TimedOut` error before every chunk, as a socket with a read timeout
/// fed by a slow writer would.
pub struct ScriptedRead {
    chunks: VecDeque<Vec<u8>>,
    timeout_next: bool,
    with_timeouts: bool,
    pub timeouts: usize,
}

impl ScriptedRead {
    pub fn new(chunks: Vec<Vec<u8>>, with_timeouts: bool) -> Self {
        ScriptedRead {
            chunks: chunks.into_iter().filter(|c| !c.is_empty()).collect(),
            timeout_next: with_timeouts,
            with_timeouts,
            timeouts: 0,
        }
    }
}

impl Read for ScriptedRead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.timeout_next && !self.chunks.is_empty() {
            self.timeout_next = false;
            self.timeouts += 1;
            return Err(io::ErrorKind::TimedOut.into());
        }
        self.timeout_next = self.with_timeouts;
        let Some(chunk) = self.chunks.front_mut() else {
            return Ok(0);
        };
        let n = chunk.len().min(buf.len());
        buf[..n].copy_from_slice(&chunk[..n]);
        chunk.drain(..n);
        if chunk.is_empty() {
            self.chunks.pop_front();
        }
        Ok(n)
    }
}

/// A `Read` that returns `data` in reads of at most `max_read` bytes, then
/// `WouldBlock` forever: a peer that sent part of a stream and went quiet.
pub struct StallAfter {
    pub data: Vec<u8>,
    pub pos: usize,
    pub max_read: usize,
}

impl StallAfter {
    pub fn new(data: Vec<u8>, max_read: usize) -> Self {
        StallAfter {
            data,
            pos: 0,
            max_read,
        }
    }
}

impl Read for StallAfter {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let rest = self.data.get(self.pos..).unwrap_or_default();
        if rest.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = rest.len().min(buf.len()).min(self.max_read);
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }
}

/// One decoded event, as the vectors file lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Frame(Vec<u8>),
    Error(String),
}

impl Event {
    pub fn from_result(r: Result<Frame, Error>) -> Event {
        match r {
            Ok(f) => Event::Frame(f.payload().to_vec()),
            Err(e) => Event::Error(canonical(&e)),
        }
    }
}

/// The canonical error text of PROTOCOL.md / tests/vectors/.
pub fn canonical(e: &Error) -> String {
    match e {
        Error::BadMagic { found, .. } => format!("BadMagic found={found:#06x}"),
        Error::UnsupportedVersion { found, supported } => {
            format!("UnsupportedVersion found={found} supported={supported}")
        }
        Error::HeaderChecksum { expected, actual } => {
            format!("HeaderChecksum expected={expected:#010x} actual={actual:#010x}")
        }
        Error::ReservedFlags { flags } => format!("ReservedFlags flags={:#04x}", flags.bits()),
        Error::FrameTooLarge { len, max } => format!("FrameTooLarge len={len} max={max}"),
        Error::PayloadChecksum {
            expected,
            actual,
            len,
        } => format!("PayloadChecksum expected={expected:#010x} actual={actual:#010x} len={len}"),
        Error::Truncated { part, missing } => format!("Truncated part={part} missing={missing}"),
        Error::Skipped { offset, len, cause } => {
            format!(
                "Skipped offset={offset} len={len} cause={}",
                canonical(cause)
            )
        }
        other => format!("{other:?}"),
    }
}

/// One case of tests/vectors/lpf-v1.txt.
#[derive(Debug, Clone)]
pub struct Vector {
    pub name: String,
    pub max: u32,
    /// `mode recover`: decode in recovery mode (PROTOCOL.md section 8).
    pub recover: bool,
    pub input: Vec<u8>,
    pub events: Vec<Event>,
}

pub fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert!(digits.len() % 2 == 0, "odd hex: {s}");
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

pub fn load_vectors() -> Vec<Vector> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/lpf-v1.txt");
    let text = std::fs::read_to_string(path).expect("tests/vectors/lpf-v1.txt");
    let mut out = Vec::new();
    let mut cur: Option<Vector> = None;
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, rest) = line.split_once(' ').unwrap_or((line, ""));
        match key {
            "vector" => {
                assert!(cur.is_none(), "vector inside vector: {line}");
                cur = Some(Vector {
                    name: rest.to_string(),
                    max: lpframe::DEFAULT_MAX_FRAME_LEN,
                    recover: false,
                    input: Vec::new(),
                    events: Vec::new(),
                });
            }
            "end" => out.push(cur.take().expect("end without vector")),
            _ => {
                let v = cur.as_mut().expect("line outside a vector");
                match key {
                    "note" => {}
                    "max" => v.max = rest.trim().parse().unwrap(),
                    "mode" => {
                        assert_eq!(rest.trim(), "recover", "unknown mode in {line}");
                        v.recover = true;
                    }
                    "input" => v.input.extend(hex(rest)),
                    "frame" => v.events.push(Event::Frame(hex(rest))),
                    "error" => v.events.push(Event::Error(rest.trim().to_string())),
                    other => panic!("unknown key {other:?} in {line}"),
                }
            }
        }
    }
    assert!(cur.is_none(), "unterminated vector");
    out
}

/// Decodes `chunks` with the pure decoder, feeding one chunk at a time.
pub fn via_decoder(chunks: &[Vec<u8>], config: lpframe::Config) -> Vec<Event> {
    let mut dec = lpframe::FrameDecoder::with_config(config);
    let mut buf = bytes::BytesMut::new();
    let mut events = Vec::new();
    let mut feed = chunks.iter();
    loop {
        match dec.decode(&mut buf) {
            Ok(Some(f)) => events.push(Event::Frame(f.payload().to_vec())),
            Ok(None) => match feed.next() {
                Some(c) => buf.extend_from_slice(c),
                None => {
                    match dec.decode_eof(&mut buf) {
                        Ok(Some(_)) => unreachable!("decode returned None on the same bytes"),
                        Ok(None) => {}
                        Err(e) => events.push(Event::Error(canonical(&e))),
                    }
                    return events;
                }
            },
            Err(e) => {
                let fatal = e.is_fatal();
                events.push(Event::Error(canonical(&e)));
                if fatal {
                    // A failed decoder must keep failing, never yield again.
                    buf.extend_from_slice(&encode_all(&[b"after"]));
                    let again = dec.decode(&mut buf).expect_err("failed decoder yielded");
                    assert_eq!(canonical(&again), canonical(&e));
                    return events;
                }
            }
        }
    }
}

/// Decodes with `read_frame_with` over a reader returning the chunks.
pub fn via_read_frame(chunks: &[Vec<u8>], config: lpframe::Config) -> Vec<Event> {
    let mut r = ScriptedRead::new(chunks.to_vec(), false);
    let mut events = Vec::new();
    loop {
        match lpframe::read_frame_with(&mut r, &config) {
            Ok(Some(f)) => events.push(Event::Frame(f.payload().to_vec())),
            Ok(None) => return events,
            Err(e) => {
                let fatal = e.is_fatal();
                events.push(Event::Error(canonical(&e)));
                if fatal {
                    return events;
                }
            }
        }
    }
}

/// Decodes with `FrameReader` over a reader returning the chunks, with a
/// `TimedOut` error before every chunk that must be retried losslessly.
pub fn via_frame_reader(chunks: &[Vec<u8>], config: lpframe::Config) -> Vec<Event> {
    let mut reader =
        lpframe::FrameReader::with_config(ScriptedRead::new(chunks.to_vec(), true), config);
    let mut events = Vec::new();
    loop {
        match reader.next_frame() {
            Ok(Some(f)) => events.push(Event::Frame(f.payload().to_vec())),
            Ok(None) => return events,
            Err(e) if e.is_timeout() => continue,
            Err(e) => {
                let fatal = e.is_fatal();
                events.push(Event::Error(canonical(&e)));
                if fatal {
                    return events;
                }
            }
        }
    }
}

/// Decodes with `decode_slice` over the whole input. The slice path has no
/// EOF: a trailing partial frame is returned as `Ok(None)`, which is mapped
/// to the `Truncated` event the streaming paths give.
pub fn via_slice(input: &[u8], config: lpframe::Config) -> Vec<Event> {
    let mut rest = input;
    let mut events = Vec::new();
    loop {
        match lpframe::decode_slice(rest, &config) {
            Ok(Some((f, used))) => {
                events.push(Event::Frame(f.payload().to_vec()));
                rest = &rest[used..];
            }
            Ok(None) => {
                if !rest.is_empty() {
                    // Same bytes through the decoder's EOF rule.
                    events.extend(
                        via_decoder(&[rest.to_vec()], config)
                            .into_iter()
                            .filter(|e| matches!(e, Event::Error(s) if s.starts_with("Truncated"))),
                    );
                }
                return events;
            }
            Err(e) => {
                events.push(Event::Error(canonical(&e)));
                match e {
                    Error::PayloadChecksum { len, .. } => {
                        rest = &rest[lpframe::HEADER_LEN + len as usize..];
                    }
                    _ => return events,
                }
            }
        }
    }
}

#[cfg(feature = "tokio")]
pub mod asynchronous {
    use std::collections::VecDeque;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use futures::StreamExt;
    use tokio::io::{AsyncRead, ReadBuf};
    use tokio_util::codec::FramedRead;

    use super::{canonical, Event};

    /// An `AsyncRead` that delivers one chunk per poll and returns
    /// `Pending` between chunks, like a socket fed by a slow peer.
    pub struct ChunkedAsync {
        chunks: VecDeque<Vec<u8>>,
        pending_next: bool,
    }

    impl ChunkedAsync {
        pub fn new(chunks: Vec<Vec<u8>>) -> Self {
            ChunkedAsync {
                chunks: chunks.into_iter().filter(|c| !c.is_empty()).collect(),
                pending_next: true,
            }
        }
    }

    impl AsyncRead for ChunkedAsync {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            if self.pending_next {
                self.pending_next = false;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            self.pending_next = true;
            if let Some(chunk) = self.chunks.front_mut() {
                let n = chunk.len().min(buf.remaining());
                buf.put_slice(&chunk[..n]);
                chunk.drain(..n);
                if chunk.is_empty() {
                    self.chunks.pop_front();
                }
            }
            Poll::Ready(Ok(()))
        }
    }

    /// Decodes through `FramedRead<_, FrameCodec>`, continuing past a
    /// non-fatal error as the codec docs describe (poll again after the
    /// `None` that follows it).
    pub fn via_framed(chunks: &[Vec<u8>], config: lpframe::Config) -> Vec<Event> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut framed = FramedRead::new(
                ChunkedAsync::new(chunks.to_vec()),
                lpframe::FrameCodec::with_config(config),
            );
            let mut events = Vec::new();
            let mut resume_after_none = false;
            loop {
                match framed.next().await {
                    Some(Ok(f)) => events.push(Event::Frame(f.payload().to_vec())),
                    Some(Err(e)) => {
                        resume_after_none = !e.is_fatal();
                        events.push(Event::Error(canonical(&e)));
                        if e.is_fatal() {
                            return events;
                        }
                    }
                    None if resume_after_none => resume_after_none = false,
                    None => return events,
                }
            }
        })
    }

    /// Decodes through `FramedRead<_, FrameResultCodec>`.
    pub fn via_framed_results(chunks: &[Vec<u8>], config: lpframe::Config) -> Vec<Event> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut framed = FramedRead::new(
                ChunkedAsync::new(chunks.to_vec()),
                lpframe::FrameResultCodec::with_config(config),
            );
            let mut events = Vec::new();
            while let Some(item) = framed.next().await {
                match item {
                    Ok(r) => events.push(Event::from_result(r)),
                    Err(e) => {
                        assert!(e.is_fatal());
                        events.push(Event::Error(canonical(&e)));
                        return events;
                    }
                }
            }
            events
        })
    }
}

/// Every reading path that can recover (the decoder, `FrameReader`,
/// `FrameResultCodec`; not the exact `read_frame` nor `decode_slice`) over
/// the same chunking, in recovery mode; asserts they agree and returns
/// their common events.
pub fn recovering_paths(chunks: &[Vec<u8>], config: lpframe::Config) -> Vec<Event> {
    assert!(config.recovers());
    let reference = via_decoder(chunks, config);
    assert_eq!(
        via_frame_reader(chunks, config),
        reference,
        "FrameReader disagrees"
    );
    #[cfg(feature = "tokio")]
    assert_eq!(
        asynchronous::via_framed_results(chunks, config),
        reference,
        "FrameResultCodec disagrees"
    );
    reference
}

/// Every reading path over the same chunking; asserts they agree and
/// returns their common events.
pub fn all_paths(chunks: &[Vec<u8>], config: lpframe::Config) -> Vec<Event> {
    let input: Vec<u8> = chunks.concat();
    let reference = via_decoder(chunks, config);
    assert_eq!(
        via_read_frame(chunks, config),
        reference,
        "read_frame disagrees"
    );
    assert_eq!(
        via_frame_reader(chunks, config),
        reference,
        "FrameReader disagrees"
    );
    assert_eq!(
        via_slice(&input, config),
        reference,
        "decode_slice disagrees"
    );
    #[cfg(feature = "tokio")]
    {
        // tokio-util's Framed pauses after any decoder error; once the
        // stream has reached EOF it then ends without decoding what is
        // still buffered (documented on FrameCodec: use FrameResultCodec to
        // continue past corrupt frames). So after the first non-fatal error
        // FrameCodec may stop early — but never yield anything different.
        let framed = asynchronous::via_framed(chunks, config);
        let first_non_fatal = reference
            .iter()
            .position(|e| matches!(e, Event::Error(s) if s.starts_with("PayloadChecksum")));
        match first_non_fatal {
            None => assert_eq!(framed, reference, "FrameCodec disagrees"),
            Some(i) => assert!(
                framed.len() > i && reference.starts_with(&framed),
                "FrameCodec disagrees: {framed:?} vs {reference:?}"
            ),
        }
        assert_eq!(
            asynchronous::via_framed_results(chunks, config),
            reference,
            "FrameResultCodec disagrees"
        );
    }
    reference
}
