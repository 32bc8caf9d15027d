//! The writing paths under a scripted writer: [`FrameWriter`] (blocking,
//! optionally with a write deadline), [`write_frame_with`] and, with the
//! `tokio` feature, [`FrameSink`](lpframe::FrameSink) polled by hand with a
//! no-op waker (no runtime). Both writers share lpframe's one write queue,
//! so these drivers are how its fault rules are exercised from outside.
//!
//! The properties, checked after every call:
//! - the bytes written are always a prefix of the concatenated
//!   `encode_frame` bytes of the frames accepted (plus, on the call that
//!   failed fatally, that call's frame);
//! - while the writer is usable, written + queued == accepted (nothing lost,
//!   nothing written twice), whatever retryable faults (`WouldBlock`,
//!   `TimedOut`, `Interrupted`, `Pending`) and partial writes struck;
//! - after a fatal fault (another error kind, a write of zero bytes, a
//!   writer that over-reports) the writer never touches its inner writer
//!   again, says it is poisoned, and every call fails with
//!   `WriterPoisoned`;
//! - at the end a usable writer is flushed until it succeeds, and then the
//!   output is exactly every accepted frame, which the model decodes back
//!   to the accepted payloads.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};
use std::time::Duration;

use lpframe::{encode_frame, write_frame_with, Config, EncodeError, Error, FrameWriter};

use crate::{model, Event};

/// The write limit of the writer drivers: payloads up to 16 KiB are
/// accepted, so both the buffered and the straight-through (over 8 KiB)
/// paths are reached, and longer ones are refused.
pub const WRITE_MAX: u32 = 16 * 1024;

/// What the scripted writer does with one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WStep {
    /// Takes at most this many bytes (at least 1).
    Accept(usize),
    /// Not ready: `Poll::Pending` (async) or `WouldBlock` (blocking).
    Pending,
    /// Fails with this kind, taking nothing; retryable or fatal as lpframe
    /// decides (`WouldBlock`, `TimedOut`, `Interrupted` are retryable).
    Fail(io::ErrorKind),
    /// Reports `Ok(0)`: fatal (`WriteZero`).
    Zero,
    /// Takes nothing and reports one byte more than it was offered: fatal.
    Over,
}

impl WStep {
    /// Decodes one step from a byte: mostly partial writes, then the faults.
    pub fn from_byte(b: u8) -> WStep {
        match b % 16 {
            0..=5 => WStep::Accept(usize::from(b >> 4) * 97 + 1),
            6 => WStep::Accept(1),
            7 => WStep::Accept(usize::from(b) * 64 + 1),
            8 | 9 => WStep::Pending,
            10 => WStep::Fail(io::ErrorKind::Interrupted),
            11 => WStep::Fail(io::ErrorKind::TimedOut),
            12 => WStep::Fail(io::ErrorKind::WouldBlock),
            13 => match b >> 6 {
                0 => WStep::Fail(io::ErrorKind::BrokenPipe),
                1 => WStep::Fail(io::ErrorKind::ConnectionReset),
                2 => WStep::Fail(io::ErrorKind::Other),
                _ => WStep::Fail(io::ErrorKind::PermissionDenied),
            },
            14 => WStep::Zero,
            _ => match b >> 7 {
                0 => WStep::Over,
                _ => WStep::Accept(3),
            },
        }
    }

    /// `true` when lpframe must poison its writer after this step.
    pub fn is_fatal(self) -> bool {
        match self {
            WStep::Accept(_) | WStep::Pending => false,
            WStep::Fail(kind) => !matches!(
                kind,
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
            ),
            WStep::Zero | WStep::Over => true,
        }
    }
}

/// A writer that plays [`WStep`]s on every write (and fault steps on
/// `flush`), then accepts everything once they run out. It records what
/// it was given, and panics if it is called again after a fatal step.
#[derive(Debug, Default)]
pub struct ScriptedWriter {
    /// Everything written, in order.
    pub out: Vec<u8>,
    /// The steps still to play.
    pub steps: VecDeque<WStep>,
    /// Whether it supports vectored writes (`write_vectored` takes several
    /// slices; otherwise only the first, as std's default).
    pub vectored: bool,
    /// Set once a fatal step was played.
    pub dead: bool,
    /// Calls made (writes and flushes).
    pub calls: usize,
    /// Whether `flush` plays fault steps (`Interrupted` steps are left to
    /// the writes: lpframe returns an interrupted flush to its caller).
    pub flush_faults: bool,
}

impl ScriptedWriter {
    /// A writer playing `steps`.
    pub fn new(steps: impl IntoIterator<Item = WStep>, vectored: bool) -> Self {
        ScriptedWriter {
            steps: steps.into_iter().collect(),
            vectored,
            flush_faults: true,
            ..ScriptedWriter::default()
        }
    }

    fn enter(&mut self) {
        assert!(
            !self.dead,
            "the writer was called after a fatal fault ({} bytes out)",
            self.out.len()
        );
        self.calls += 1;
    }

    /// Plays one write of `offered` bytes, of which it takes from `bufs`
    /// (all of them, or the first only for a writer that is not vectored);
    /// `None`: pending.
    fn play(&mut self, bufs: &[&[u8]], offered: usize) -> Option<io::Result<usize>> {
        self.enter();
        let step = self.steps.pop_front().unwrap_or(WStep::Accept(usize::MAX));
        if step.is_fatal() {
            self.dead = true;
        }
        Some(match step {
            WStep::Pending => return None,
            WStep::Fail(kind) => Err(io::Error::new(kind, "scripted fault")),
            WStep::Zero => Ok(0),
            WStep::Over => Ok(offered + 1),
            WStep::Accept(n) => {
                let mut left = n.max(1);
                let mut taken = 0;
                for b in bufs {
                    let k = left.min(b.len());
                    self.out.extend_from_slice(&b[..k]);
                    taken += k;
                    left -= k;
                    if left == 0 {
                        break;
                    }
                }
                if taken == 0 {
                    // Offered nothing: as a real writer, accept nothing.
                    return Some(Ok(0));
                }
                Ok(taken)
            }
        })
    }

    /// A flush: plays the next step if it is a fault (a write step is left
    /// for the next write); `None`: pending.
    fn play_flush(&mut self) -> Option<io::Result<()>> {
        self.enter();
        match self.steps.front().copied() {
            Some(step @ (WStep::Pending | WStep::Fail(_)))
                if self.flush_faults && step != WStep::Fail(io::ErrorKind::Interrupted) =>
            {
                self.steps.pop_front();
                if step.is_fatal() {
                    self.dead = true;
                }
                match step {
                    WStep::Fail(kind) => Some(Err(io::Error::new(kind, "scripted flush fault"))),
                    _ => None,
                }
            }
            _ => Some(Ok(())),
        }
    }
}

fn would_block() -> io::Error {
    io::Error::new(io::ErrorKind::WouldBlock, "scripted pending")
}

impl Write for ScriptedWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.play(&[buf], buf.len())
            .unwrap_or_else(|| Err(would_block()))
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let offered = bufs.iter().map(|b| b.len()).sum();
        let parts: Vec<&[u8]> = if self.vectored {
            bufs.iter().map(|b| &b[..]).collect()
        } else {
            bufs.iter()
                .map(|b| &b[..])
                .filter(|b| !b.is_empty())
                .take(1)
                .collect()
        };
        self.play(&parts, offered)
            .unwrap_or_else(|| Err(would_block()))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.play_flush().unwrap_or_else(|| Err(would_block()))
    }
}

impl lpframe::SetTimeouts for ScriptedWriter {
    fn set_read_timeout(&self, _: Option<Duration>) -> io::Result<()> {
        Ok(())
    }

    fn set_write_timeout(&self, _: Option<Duration>) -> io::Result<()> {
        Ok(())
    }
}

/// One operation of a writer driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WOp {
    /// Send a frame with this payload.
    Send(Vec<u8>),
    /// Flush.
    Flush,
    /// Change the sink's backpressure boundary (the blocking writer
    /// ignores it).
    Boundary(usize),
}

/// A writer driver's input: the writer's steps and the caller's
/// operations, decoded from fuzz bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteScript {
    /// The writer's behaviour, call by call.
    pub steps: Vec<WStep>,
    /// What the caller does, in order.
    pub ops: Vec<WOp>,
    /// Vectored writer or not.
    pub vectored: bool,
    /// A mode byte for the driver (the blocking writer's deadline).
    pub mode: u8,
}

impl WriteScript {
    /// Decodes `data`: byte 0 the flags (bit 0: vectored; bits 1-2: mode),
    /// byte 1 the number of steps, then the steps, then operations (a tag
    /// byte and, for a frame, a length byte; the payload is a pattern from
    /// the position, so inputs stay small while payloads reach 25 KiB).
    pub fn parse(data: &[u8]) -> WriteScript {
        let mut it = data.iter().copied();
        let flags = it.next().unwrap_or(0);
        let n_steps = usize::from(it.next().unwrap_or(0));
        let steps: Vec<WStep> = it.by_ref().take(n_steps).map(WStep::from_byte).collect();
        let mut ops = Vec::new();
        let mut k = 0u8;
        while let Some(tag) = it.next() {
            k = k.wrapping_add(1);
            let op = match tag % 8 {
                0..=3 => {
                    let b = usize::from(it.next().unwrap_or(0));
                    let len = match tag % 4 {
                        0 => b % 32,
                        1 => b * 9,
                        2 => b * 40,
                        _ => b * 100,
                    };
                    WOp::Send((0..len).map(|i| (i as u8).wrapping_mul(31) ^ k).collect())
                }
                4..=6 => WOp::Flush,
                _ => WOp::Boundary(usize::from(it.next().unwrap_or(0)) * 128),
            };
            ops.push(op);
        }
        WriteScript {
            steps,
            ops,
            vectored: flags & 1 == 1,
            mode: (flags >> 1) & 3,
        }
    }
}

/// The bytes `encode_frame` writes for `payload`.
fn encoded(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(payload, u32::MAX, &mut out).expect("no limit");
    out
}

/// What both drivers track: the frames accepted and the writer's state.
#[derive(Debug, Default)]
struct Ledger {
    /// Concatenated bytes of every frame accepted.
    accepted: Vec<u8>,
    payloads: Vec<Vec<u8>>,
    /// Set on the first fatal error: the bytes out at that time, and the
    /// bytes that may have been written (accepted + the failing frame).
    fatal: Option<(usize, Vec<u8>)>,
}

impl Ledger {
    fn accept(&mut self, payload: &[u8]) {
        self.accepted.extend_from_slice(&encoded(payload));
        self.payloads.push(payload.to_vec());
    }

    /// The invariants after a call: `out` a prefix of what may be written,
    /// and while usable `out + queued == accepted`.
    fn check(&self, path: &str, out: &[u8], queued: usize, poisoned: bool) {
        match &self.fatal {
            Some((at, allowed)) => {
                assert!(poisoned, "{path}: a fatal error, but not poisoned");
                assert_eq!(out.len(), *at, "{path}: bytes written after a fatal fault");
                assert!(allowed.starts_with(out), "{path}: output is not a prefix");
            }
            None => {
                assert!(!poisoned, "{path}: poisoned without a fatal error");
                assert!(
                    self.accepted.starts_with(out),
                    "{path}: output ({} bytes) is not a prefix of the accepted frames ({} bytes)",
                    out.len(),
                    self.accepted.len()
                );
                assert_eq!(
                    out.len() + queued,
                    self.accepted.len(),
                    "{path}: written + queued != accepted (lost or duplicated bytes)"
                );
            }
        }
    }

    /// A fatal error struck during a call whose frame (if any) is `failing`.
    fn fatal(&mut self, path: &str, out: &[u8], failing: Option<&[u8]>, dead: bool) {
        assert!(
            dead,
            "{path}: poisoned, but the writer played no fatal step"
        );
        let mut allowed = self.accepted.clone();
        if let Some(p) = failing {
            allowed.extend_from_slice(&encoded(p));
        }
        assert!(allowed.starts_with(out), "{path}: output is not a prefix");
        self.fatal.get_or_insert((out.len(), allowed));
    }

    /// The end: a usable writer, flushed, wrote exactly the accepted frames.
    fn finish(&self, path: &str, out: &[u8]) {
        if self.fatal.is_some() {
            return;
        }
        assert_eq!(out, &self.accepted[..], "{path}: output != accepted frames");
        let want: Vec<Event> = self.payloads.iter().cloned().map(Event::Frame).collect();
        assert_eq!(model(out, u32::MAX), want, "{path}: the model disagrees");
    }
}

fn is_retryable(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// [`FrameWriter`] over a [`ScriptedWriter`]; `mode` 1 sets a write
/// deadline of an hour (every retryable fault is then absorbed by the
/// deadline's retry loop: none surfaces), mode 2 a deadline of zero (every
/// call that must write times out with a typed, non-fatal
/// [`Error::Timeout`] saying what is still queued, and loses nothing).
pub fn drive_frame_writer(script: &WriteScript) {
    let path = "FrameWriter";
    let config = Config::new().max_write_frame_len(WRITE_MAX);
    let mut inner = ScriptedWriter::new(script.steps.iter().copied(), script.vectored);
    // The deadline covers writes, not the inner writer's flush.
    inner.flush_faults = script.mode != 1;
    let mut w = FrameWriter::with_config(inner, config);
    match script.mode {
        1 => w.set_write_deadline(Some(Duration::from_secs(3600))),
        2 => w.set_write_deadline(Some(Duration::ZERO)),
        _ => {}
    }
    let mut ledger = Ledger::default();
    // One result handler for a call with frame `failing` (if any).
    let after = |w: &FrameWriter<ScriptedWriter>,
                 ledger: &mut Ledger,
                 result: Result<(), Error>,
                 failing: Option<&[u8]>|
     -> bool {
        let ok = match result {
            Ok(()) => true,
            Err(Error::Encode(EncodeError::TooLarge { len, max })) => {
                assert_eq!(max, WRITE_MAX);
                assert!(failing.is_some_and(|p| p.len() == len && len > WRITE_MAX as usize));
                false
            }
            Err(Error::WriterPoisoned) => {
                assert!(
                    ledger.fatal.is_some(),
                    "{path}: WriterPoisoned before a fatal error"
                );
                false
            }
            Err(Error::Timeout(t)) => {
                assert_eq!(script.mode, 2, "{path}: a timeout without a zero deadline");
                assert_eq!(t.kind, lpframe::TimeoutKind::Write);
                // A zero deadline refuses every write before it is made.
                assert_eq!((t.bytes, t.limit), (0, Duration::ZERO));
                let text = t.to_string();
                assert!(
                    text.starts_with("write deadline of 0ns expired after ")
                        && text.contains(" (0 bytes written, ")
                        && text.ends_with(" still queued)"),
                    "{path}: {text}"
                );
                assert_eq!(
                    t.queued,
                    w.buffered() as u64,
                    "{path}: timeout's queued count"
                );
                assert!(!w.is_poisoned(), "{path}: a timeout poisoned the writer");
                // Not fatal: a frame passed to this call was accepted.
                true
            }
            Err(Error::Io(e)) if is_retryable(&e) => {
                assert_ne!(
                    script.mode, 1,
                    "{path}: {e} surfaced through an hour's deadline"
                );
                assert_ne!(
                    e.kind(),
                    io::ErrorKind::Interrupted,
                    "{path}: Interrupted surfaced"
                );
                assert!(!Error::Io(e).is_fatal());
                assert!(!w.is_poisoned(), "{path}: a retryable error poisoned");
                true
            }
            Err(e @ Error::Io(_)) => {
                assert!(e.is_fatal() || w.is_poisoned(), "{path}: {e:?}");
                let out = &w.get_ref().out;
                ledger.fatal(path, out, failing, w.get_ref().dead);
                false
            }
            Err(other) => panic!("{path}: unexpected {other:?}"),
        };
        if let (true, Some(p)) = (ok, failing) {
            ledger.accept(p);
        }
        ledger.check(path, &w.get_ref().out, w.buffered(), w.is_poisoned());
        ok
    };
    for op in &script.ops {
        match op {
            WOp::Send(p) => {
                let r = w.write_frame(p);
                after(&w, &mut ledger, r, Some(p));
            }
            WOp::Flush => {
                let r = w.flush();
                after(&w, &mut ledger, r, None);
            }
            WOp::Boundary(_) => {}
        }
    }
    if script.mode == 2 {
        // The deadline lifted: what is queued goes out.
        w.set_write_deadline(None);
    }
    for _ in 0..script.steps.len() + 2 {
        if ledger.fatal.is_some() {
            break;
        }
        let r = w.flush();
        let flushed = r.is_ok();
        after(&w, &mut ledger, r, None);
        if flushed {
            break;
        }
    }
    if ledger.fatal.is_none() {
        assert_eq!(w.buffered(), 0, "{path}: flushes did not drain the queue");
        let stats = w.stats();
        assert_eq!(stats.frames_written as usize, ledger.payloads.len());
    }
    ledger.finish(path, &w.get_ref().out);
    exact_writer(script);
}

/// The exact, unbuffered [`write_frame_with`] under the same steps, one
/// frame per fresh writer: `Ok` wrote the frame exactly; `Io` wrote
/// nothing of it; `Desync { done }` wrote `done` bytes of it, more than 0.
fn exact_writer(script: &WriteScript) {
    let Some(payload) = script.ops.iter().find_map(|op| match op {
        WOp::Send(p) => Some(p),
        _ => None,
    }) else {
        return;
    };
    let mut w = ScriptedWriter::new(script.steps.iter().copied(), script.vectored);
    let frame = encoded(payload);
    for _ in 0..script.steps.len() + 1 {
        w.out.clear();
        if w.dead {
            return;
        }
        match write_frame_with(&mut w, payload, WRITE_MAX) {
            Ok(()) => {
                assert_eq!(w.out, frame, "write_frame: wrong bytes");
                return;
            }
            Err(Error::Encode(_)) => {
                assert!(payload.len() > WRITE_MAX as usize && w.calls == 0 && w.out.is_empty());
                return;
            }
            Err(Error::Io(e)) => {
                assert!(
                    w.out.is_empty(),
                    "write_frame: Io after {} bytes",
                    w.out.len()
                );
                assert_ne!(e.kind(), io::ErrorKind::Interrupted);
            }
            Err(Error::Desync { done, .. }) => {
                assert!(
                    done > 0 && done as usize == w.out.len(),
                    "write_frame: Desync count"
                );
                assert!(frame.starts_with(&w.out));
                return;
            }
            Err(other) => panic!("write_frame: unexpected {other:?}"),
        }
    }
}

#[cfg(feature = "tokio")]
pub use sink::{drive_frame_sink, ScriptedAsyncWriter};

#[cfg(feature = "tokio")]
mod sink {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use bytes::Bytes;
    use futures::task::noop_waker_ref;
    use futures::Sink;
    use lpframe::{Config, EncodeError, Error, FrameSink};
    use tokio::io::AsyncWrite;

    use super::{is_retryable, Ledger, ScriptedWriter, WOp, WriteScript, WRITE_MAX};

    /// A [`ScriptedWriter`] as an `AsyncWrite`: `WStep::Pending` is
    /// `Poll::Pending` (the waker is woken at once, as a socket that
    /// becomes writable would).
    #[derive(Debug)]
    pub struct ScriptedAsyncWriter(pub ScriptedWriter);

    impl AsyncWrite for ScriptedAsyncWriter {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            match self.0.play(&[buf], buf.len()) {
                Some(r) => Poll::Ready(r),
                None => {
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
            }
        }

        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[std::io::IoSlice<'_>],
        ) -> Poll<std::io::Result<usize>> {
            let parts: Vec<&[u8]> = bufs.iter().map(|b| &b[..]).collect();
            let offered = parts.iter().map(|b| b.len()).sum();
            match self.0.play(&parts, offered) {
                Some(r) => Poll::Ready(r),
                None => {
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
            }
        }

        fn is_write_vectored(&self) -> bool {
            self.0.vectored
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            match self.0.play_flush() {
                Some(r) => Poll::Ready(r),
                None => {
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
            }
        }

        fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            self.poll_flush(cx)
        }
    }

    /// Polls `f` until it is ready, at most `bound` times; `None` if it
    /// stayed pending.
    fn poll_bounded<T>(bound: usize, mut f: impl FnMut(&mut Context<'_>) -> Poll<T>) -> Option<T> {
        let mut cx = Context::from_waker(noop_waker_ref());
        for _ in 0..bound {
            if let Poll::Ready(v) = f(&mut cx) {
                return Some(v);
            }
        }
        None
    }

    /// [`FrameSink`] over a [`ScriptedAsyncWriter`], polled by hand: a
    /// frame is sent as `SinkExt::send` would (`poll_ready`, then
    /// `start_send`), but a poll that stays `Pending` is abandoned, as a
    /// cancelled future would be; flushes likewise; at the end,
    /// `poll_close`. The properties are those of the module docs.
    pub fn drive_frame_sink(script: &WriteScript) {
        let path = "FrameSink";
        let config = Config::new().max_write_frame_len(WRITE_MAX);
        let inner = ScriptedAsyncWriter(ScriptedWriter::new(
            script.steps.iter().copied(),
            script.vectored,
        ));
        let mut sink = FrameSink::with_config(inner, config);
        let mut ledger = Ledger::default();
        // Pending polls before one is abandoned: sometimes 1, so calls are
        // cut mid-write and resumed by the next one.
        let patience = usize::from(script.mode) * 2 + 1;
        let check = |sink: &FrameSink<ScriptedAsyncWriter>, ledger: &Ledger| {
            ledger.check(
                path,
                &sink.get_ref().0.out,
                sink.queued(),
                sink.is_poisoned(),
            );
        };
        // What a poll result means; `true` when it succeeded.
        let judge = |sink: &FrameSink<ScriptedAsyncWriter>,
                     ledger: &mut Ledger,
                     r: Option<Result<(), Error>>|
         -> bool {
            match r {
                None | Some(Ok(())) => r.is_some(),
                Some(Err(Error::Io(e))) if is_retryable(&e) => {
                    assert_ne!(
                        e.kind(),
                        std::io::ErrorKind::Interrupted,
                        "{path}: Interrupted"
                    );
                    assert!(!sink.is_poisoned(), "{path}: a retryable error poisoned");
                    false
                }
                Some(Err(Error::Io(_))) => {
                    let w = &sink.get_ref().0;
                    ledger.fatal(path, &w.out, None, w.dead);
                    false
                }
                Some(Err(Error::WriterPoisoned)) => {
                    assert!(
                        ledger.fatal.is_some(),
                        "{path}: WriterPoisoned before a fatal error"
                    );
                    false
                }
                Some(Err(other)) => panic!("{path}: unexpected {other:?}"),
            }
        };
        for op in &script.ops {
            match op {
                WOp::Send(p) => {
                    let r = poll_bounded(patience, |cx| Pin::new(&mut sink).poll_ready(cx));
                    let ready = judge(&sink, &mut ledger, r);
                    check(&sink, &ledger);
                    if !ready {
                        continue;
                    }
                    match Pin::new(&mut sink).start_send(Bytes::from(p.clone())) {
                        Ok(()) => ledger.accept(p),
                        Err(Error::Encode(EncodeError::TooLarge { len, max })) => {
                            assert_eq!((len, max), (p.len(), WRITE_MAX));
                        }
                        Err(other) => panic!("{path}: start_send after ready: {other:?}"),
                    }
                }
                WOp::Flush => {
                    let r = poll_bounded(patience, |cx| Pin::new(&mut sink).poll_flush(cx));
                    judge(&sink, &mut ledger, r);
                }
                WOp::Boundary(b) => sink.set_backpressure_boundary(*b),
            }
            check(&sink, &ledger);
        }
        let bound = 2 * script.steps.len() + 4;
        for _ in 0..bound {
            if ledger.fatal.is_some() {
                break;
            }
            let r = poll_bounded(bound, |cx| Pin::new(&mut sink).poll_close(cx));
            let done = judge(&sink, &mut ledger, r);
            check(&sink, &ledger);
            if done {
                break;
            }
        }
        if ledger.fatal.is_none() {
            assert_eq!(sink.queued(), 0, "{path}: close did not drain the queue");
            assert_eq!(sink.stats().frames_written as usize, ledger.payloads.len());
        } else {
            // Poisoned: every call fails without touching the writer.
            let calls = sink.get_ref().0.calls;
            let r = poll_bounded(1, |cx| Pin::new(&mut sink).poll_flush(cx));
            assert!(
                matches!(r, Some(Err(Error::WriterPoisoned))),
                "{path}: {r:?}"
            );
            let r = Pin::new(&mut sink).start_send(Bytes::from_static(b"late"));
            assert!(matches!(r, Err(Error::WriterPoisoned)), "{path}: {r:?}");
            assert_eq!(sink.get_ref().0.calls, calls);
        }
        ledger.finish(path, &sink.get_ref().0.out);
    }
}
