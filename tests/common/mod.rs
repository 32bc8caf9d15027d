//! What the integration tests share: the one harness (`src/fuzzing.rs`,
//! also behind the fuzz targets: one event type with canonical error text,
//! one scripted source with injected faults, one driver per path, the
//! model), the async `FramedRead` driver, the vectors file parser, and a
//! few readers for the reliability tests.
#![allow(dead_code)]

#[path = "../../src/fuzzing.rs"]
pub mod harness;

use std::io::{self, Read};

#[allow(unused_imports)]
pub use harness::{Event, Script};

/// xorshift64*: deterministic, dependency-free randomness for seeded
/// tests.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Encodes payloads back to back with the default config.
pub fn encode_all(payloads: &[&[u8]]) -> Vec<u8> {
    let mut wire = Vec::new();
    for p in payloads {
        lpframe::write_frame(&mut wire, p).unwrap();
    }
    wire
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

impl Vector {
    pub fn config(&self) -> lpframe::Config {
        lpframe::Config::new()
            .max_read_frame_len(self.max)
            .recover(self.recover)
    }
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

#[cfg(feature = "tokio")]
pub mod asynchronous {
    //! The tokio codecs under a real `FramedRead`, fed a [`Script`] by an
    //! `AsyncRead` that returns `Pending` before every step, as a socket fed
    //! by a slow peer would.

    use std::pin::Pin;
    use std::task::{Context, Poll};

    use futures::StreamExt;
    use lpframe::{DecodeError, Error};
    use tokio::io::{AsyncRead, ReadBuf};
    use tokio_util::codec::FramedRead;

    use super::harness::{Event, Script, Step};

    pub struct ScriptAsync {
        script: Script,
        pending_next: bool,
    }

    impl ScriptAsync {
        pub fn new(script: Script) -> Self {
            ScriptAsync {
                script,
                pending_next: true,
            }
        }
    }

    impl AsyncRead for ScriptAsync {
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
            match self.script.steps.front_mut() {
                None => Poll::Ready(Ok(())),
                Some(Step::Eof) => {
                    self.script.steps.pop_front();
                    Poll::Ready(Ok(()))
                }
                Some(Step::Fault(kind)) => {
                    let kind = *kind;
                    self.script.steps.pop_front();
                    Poll::Ready(Err(kind.into()))
                }
                Some(Step::Data(data)) => {
                    let n = data.len().min(buf.remaining());
                    buf.put_slice(&data[..n]);
                    data.drain(..n);
                    if data.is_empty() {
                        self.script.steps.pop_front();
                    }
                    Poll::Ready(Ok(()))
                }
            }
        }
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    }

    /// `FramedRead<_, FrameCodec>` over the script: frames and dropped
    /// frames as items; an I/O error (injected) or a fatal error as `Err`,
    /// after which `FramedRead` yields `None` once and is polled on; after
    /// a clean `None` it is polled on while the script has steps left (a
    /// source that grows).
    pub fn via_framed(script: &Script, config: lpframe::Config) -> Vec<Event> {
        runtime().block_on(async {
            let mut framed = FramedRead::new(
                ScriptAsync::new(script.clone()),
                lpframe::FrameCodec::with_config(config),
            );
            let mut events = Vec::new();
            let mut fatal: Option<DecodeError> = None;
            let mut after_error = false;
            for _ in 0..4 * script.bytes().len() + 4 * script.steps.len() + 16 {
                match framed.next().await {
                    Some(Ok(Ok(f))) => {
                        assert!(fatal.is_none(), "a frame after a fatal error");
                        events.push(Event::Frame(f.to_vec()));
                    }
                    Some(Ok(Err(e))) => {
                        assert!(!e.is_fatal(), "a fatal error as an item: {e:?}");
                        events.push(Event::error(&e));
                    }
                    Some(Err(Error::Io(e))) => {
                        assert!(!Error::Io(e).is_fatal(), "an injected fault is fatal");
                        after_error = true;
                    }
                    Some(Err(Error::Decode(e))) => {
                        assert!(e.is_fatal(), "a non-fatal error as Err: {e:?}");
                        match &fatal {
                            Some(first) => {
                                assert_eq!(&e, first, "a failed codec changed its error");
                                return events;
                            }
                            None => {
                                events.push(Event::error(&e));
                                fatal = Some(e);
                            }
                        }
                        after_error = true;
                    }
                    Some(Err(other)) => panic!("unexpected {other:?}"),
                    None if after_error => after_error = false,
                    None if framed.get_ref().script.is_done() => return events,
                    None => {}
                }
            }
            panic!("FramedRead did not finish the script");
        })
    }
}

/// Every path, the async `FramedRead` included, on `input` cut into
/// `chunks`; see [`harness::all_paths`].
pub fn all_paths(input: &[u8], chunks: &[usize], config: lpframe::Config) -> Vec<Event> {
    let events = harness::all_paths(input, chunks, config);
    #[cfg(feature = "tokio")]
    {
        let faults: Vec<_> = chunks
            .iter()
            .scan(0, |at, &n| {
                let start = *at;
                *at += n;
                Some((start, io::ErrorKind::WouldBlock))
            })
            .collect();
        let script = Script::new(input, chunks, &faults, config.max_read_frame_len);
        assert_eq!(
            asynchronous::via_framed(&script, config),
            events,
            "FramedRead<FrameCodec>"
        );
    }
    events
}
