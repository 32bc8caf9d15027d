//! Deadlines on the blocking path: [`SetTimeouts`] (how a reader or writer
//! is woken up in time) and the `Read`/`Write` adapters through which
//! [`FrameReader`](crate::FrameReader), [`FrameWriter`](crate::FrameWriter)
//! and [`read_frame_timed`](crate::read_frame_timed) do their I/O when
//! deadlines are set. The clock logic itself is the pure
//! [`DeadlineTracker`].

use std::io::{self, IoSlice, Read, Write};
use std::time::{Duration, Instant};

use crate::deadline::WriteClock;
use crate::{DeadlineTracker, Deadlines, Timeout};

/// A stream whose blocking reads and writes can be given a timeout:
/// implemented for `TcpStream` and `UnixStream` (and references to them),
/// so that a [`FrameReader`](crate::FrameReader) or
/// [`FrameWriter`](crate::FrameWriter) with deadlines sets the socket's
/// timeout to the time left before the next deadline, before every read or
/// write.
///
/// Implement it for your own stream (a TLS stream over a socket, say) by
/// forwarding to the socket.
pub trait SetTimeouts {
    /// As `TcpStream::set_read_timeout` (`None`: block).
    ///
    /// # Errors
    /// As the socket's.
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;

    /// As `TcpStream::set_write_timeout` (`None`: block).
    ///
    /// # Errors
    /// As the socket's.
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
}

impl SetTimeouts for std::net::TcpStream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        std::net::TcpStream::set_read_timeout(self, timeout)
    }

    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        std::net::TcpStream::set_write_timeout(self, timeout)
    }
}

#[cfg(unix)]
impl SetTimeouts for std::os::unix::net::UnixStream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        std::os::unix::net::UnixStream::set_read_timeout(self, timeout)
    }

    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        std::os::unix::net::UnixStream::set_write_timeout(self, timeout)
    }
}

impl<T: SetTimeouts + ?Sized> SetTimeouts for &T {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        (**self).set_read_timeout(timeout)
    }

    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        (**self).set_write_timeout(timeout)
    }
}

/// How a reader or writer is woken up for its deadline.
type SetTimeout<T> = fn(&T, Option<Duration>) -> io::Result<()>;

fn set_read<T: SetTimeouts>(t: &T, d: Option<Duration>) -> io::Result<()> {
    t.set_read_timeout(d)
}

fn set_write<T: SetTimeouts>(t: &T, d: Option<Duration>) -> io::Result<()> {
    t.set_write_timeout(d)
}

/// The read deadlines of a [`FrameReader`](crate::FrameReader).
#[derive(Debug)]
pub(crate) struct ReadDeadlines<R> {
    tracker: DeadlineTracker,
    /// `Some` when the reader sets the source's read timeout itself.
    set: Option<SetTimeout<R>>,
    /// When the last read that returned bytes returned.
    last_read: Instant,
    /// Set when a read was refused because a deadline had passed.
    expired: Option<Timeout>,
    /// The clock: `Instant::now`, scripted in the unit tests.
    now: fn() -> Instant,
}

impl<R> ReadDeadlines<R> {
    /// Deadlines checked after every read; the caller sets a read timeout.
    pub(crate) fn manual(deadlines: Deadlines) -> Self {
        let now = Instant::now();
        ReadDeadlines {
            tracker: DeadlineTracker::new(deadlines, now),
            set: None,
            last_read: now,
            expired: None,
            now: Instant::now,
        }
    }

    /// Deadlines that set the source's read timeout before every read.
    pub(crate) fn socket(deadlines: Deadlines) -> Self
    where
        R: SetTimeouts,
    {
        ReadDeadlines {
            set: Some(set_read::<R>),
            ..ReadDeadlines::manual(deadlines)
        }
    }

    pub(crate) fn deadlines(&self) -> Deadlines {
        self.tracker.deadlines()
    }

    /// New deadlines for the wait or frame in progress (extend and retry).
    pub(crate) fn set_deadlines(&mut self, deadlines: Deadlines, socket: Option<SetTimeout<R>>) {
        self.tracker.set_deadlines(deadlines);
        if socket.is_some() {
            self.set = socket;
        }
    }

    /// Replaces the clock (the unit tests' scripted one).
    #[cfg(all(test, not(lpframe_packaged)))]
    pub(crate) fn set_clock(&mut self, now: fn() -> Instant) {
        self.now = now;
    }

    pub(crate) fn socket_setter() -> SetTimeout<R>
    where
        R: SetTimeouts,
    {
        set_read::<R>
    }

    /// A call to read a frame begins: between frames, the idle wait starts
    /// now.
    pub(crate) fn begin(&mut self) {
        self.expired = None;
        if !self.tracker.is_mid_frame() {
            self.tracker.restart_idle((self.now)());
        }
    }

    /// The call ends with `result`; `leftover` bytes are buffered after a
    /// delivered (or dropped) frame. A read refused at a deadline becomes
    /// [`Error::Timeout`](crate::Error::Timeout).
    pub(crate) fn end<T>(
        &mut self,
        result: Result<T, crate::Error>,
        leftover: usize,
    ) -> Result<T, crate::Error> {
        match result {
            Ok(v) => {
                self.tracker.frame_done(leftover as u64, self.last_read);
                Ok(v)
            }
            Err(crate::Error::Io(e)) => match self.expired.take() {
                Some(t) if e.kind() == io::ErrorKind::TimedOut => Err(crate::Error::Timeout(t)),
                _ => Err(crate::Error::Io(e)),
            },
            Err(e) => {
                if !e.is_fatal() {
                    // A dropped frame (corrupt payload, recovery skip).
                    self.tracker.frame_done(leftover as u64, self.last_read);
                }
                Err(e)
            }
        }
    }
}

/// A read through optional deadlines: before each read, a deadline that
/// has passed refuses it (a `TimedOut` error, recorded in the deadlines);
/// the socket's read timeout is set to the time left; a read timeout before
/// the deadline is a wake-up to check the clock, and the read is retried.
pub(crate) struct Timed<'a, R> {
    pub(crate) inner: &'a mut R,
    pub(crate) deadlines: Option<&'a mut ReadDeadlines<R>>,
}

impl<R: Read> Read for Timed<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(d) = self.deadlines.as_deref_mut() else {
            return self.inner.read(buf);
        };
        loop {
            let now = (d.now)();
            if let Err(t) = d.tracker.check(now) {
                d.expired = Some(t);
                return Err(io::Error::new(io::ErrorKind::TimedOut, t));
            }
            let remaining = d.tracker.remaining(now);
            if let Some(set) = d.set {
                set(self.inner, remaining)?;
            }
            match self.inner.read(buf) {
                Ok(n) => {
                    let at = (d.now)();
                    if n > 0 {
                        d.last_read = at;
                    }
                    d.tracker.received(n as u64, at);
                    return Ok(n);
                }
                // The wake-up for a deadline: check the clock, read again.
                Err(e) if is_timeout(&e) && remaining.is_some() => {}
                Err(e) => return Err(e),
            }
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// The write deadline of a [`FrameWriter`](crate::FrameWriter).
#[derive(Debug)]
pub(crate) struct WriteDeadline<W> {
    clock: WriteClock,
    set: SetTimeout<W>,
    expired: bool,
}

impl<W: SetTimeouts> WriteDeadline<W> {
    pub(crate) fn new(limit: Option<Duration>) -> Self {
        WriteDeadline {
            clock: WriteClock::new(limit),
            set: set_write::<W>,
            expired: false,
        }
    }
}

impl<W> WriteDeadline<W> {
    pub(crate) fn limit(&self) -> Option<Duration> {
        self.clock.limit
    }

    pub(crate) fn set_limit(&mut self, limit: Option<Duration>) {
        self.clock.limit = limit;
    }

    /// A public call (a frame queued, a flush) ended: the next one re-arms.
    pub(crate) fn done(&mut self) {
        self.clock.stop();
        self.expired = false;
    }

    /// After an I/O error: the [`Timeout`] if it was the deadline's, with
    /// `queued` bytes still held by the writer.
    pub(crate) fn take_expired(&mut self, queued: usize) -> Option<Timeout> {
        if !std::mem::take(&mut self.expired) {
            return None;
        }
        self.clock.check(Instant::now(), queued).err()
    }
}

/// A write through an optional deadline (see [`Timed`]).
pub(crate) struct TimedWrite<'a, W> {
    pub(crate) inner: &'a mut W,
    pub(crate) deadline: Option<&'a mut WriteDeadline<W>>,
}

impl<W: Write> TimedWrite<'_, W> {
    fn with(&mut self, mut op: impl FnMut(&mut W) -> io::Result<usize>) -> io::Result<usize> {
        let Some(d) = self.deadline.as_deref_mut() else {
            return op(self.inner);
        };
        if d.clock.limit.is_none() {
            return op(self.inner);
        }
        d.clock.start(Instant::now());
        loop {
            let now = Instant::now();
            if let Err(t) = d.clock.check(now, 0) {
                d.expired = true;
                return Err(io::Error::new(io::ErrorKind::TimedOut, t));
            }
            (d.set)(self.inner, d.clock.remaining(now))?;
            match op(self.inner) {
                Ok(n) => {
                    d.clock.wrote(n);
                    return Ok(n);
                }
                Err(e) if is_timeout(&e) => {}
                Err(e) => return Err(e),
            }
        }
    }
}

impl<W: Write> Write for TimedWrite<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.with(|w| w.write(buf))
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.with(|w| w.write_vectored(bufs))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

// Uses testkit (a path dev-dependency that `cargo package` strips): left
// out of the packaged crate's tests (`--cfg lpframe_packaged`, set by
// .ci/parts/release.sh).
#[cfg(all(test, not(lpframe_packaged)))]
mod tests {
    //! The blocking reader's timing on a scripted clock: a scripted socket
    //! that honours the read timeout the reader sets (a read that would
    //! wait past it returns `WouldBlock` at its instant) against
    //! testkit's model, as the tracker and tokio's paused clock are in
    //! `tests/deadlines_props.rs`.

    use std::cell::Cell;
    use std::collections::VecDeque;
    use std::io::{self, Read};
    use std::time::{Duration, Instant};

    use crate::{Deadlines, Error, FrameReader, TimeoutKind};

    thread_local! {
        static START: Instant = Instant::now();
        /// Scripted time, ms after START.
        static NOW_MS: Cell<u64> = const { Cell::new(0) };
    }

    fn start() -> Instant {
        START.with(|s| *s)
    }

    fn now() -> Instant {
        start() + Duration::from_millis(NOW_MS.with(Cell::get))
    }

    fn set_now(ms: u64) {
        NOW_MS.with(|n| n.set(ms));
    }

    /// Chunks at scripted instants; reads block until the next chunk or
    /// the read timeout, moving the clock there.
    struct ScriptedSocket {
        chunks: VecDeque<(u64, Vec<u8>)>,
        timeout: Cell<Option<Duration>>,
    }

    impl Read for ScriptedSocket {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let now = NOW_MS.with(Cell::get);
            let Some((at, bytes)) = self.chunks.front_mut() else {
                return Ok(0); // the end of the stream
            };
            if let Some(t) = self.timeout.get() {
                assert!(!t.is_zero(), "a zero read timeout is an error on a socket");
                // Timeouts in whole ms here: the deadlines are whole ms.
                let wake = now + u64::try_from(t.as_millis()).unwrap();
                if wake < (*at).max(now) {
                    set_now(wake);
                    return Err(io::ErrorKind::WouldBlock.into());
                }
            }
            set_now((*at).max(now));
            let n = bytes.len().min(buf.len());
            buf[..n].copy_from_slice(&bytes[..n]);
            bytes.drain(..n);
            if bytes.is_empty() {
                self.chunks.pop_front();
            }
            Ok(n)
        }
    }

    impl crate::SetTimeouts for ScriptedSocket {
        fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
            self.timeout.set(timeout);
            Ok(())
        }
        fn set_write_timeout(&self, _: Option<Duration>) -> io::Result<()> {
            Ok(())
        }
    }

    /// The same shape as `testkit::deadlines::Outcome`, compared on Debug.
    #[derive(Debug)]
    #[allow(dead_code)] // read through Debug
    enum Outcome {
        Frame(Vec<u8>),
        Timeout {
            kind: TimeoutKind,
            at: u64,
            bytes: u64,
        },
        End,
    }

    #[test]
    fn the_blocking_reader_on_a_scripted_clock_matches_the_model() {
        let mut cuts = 0;
        for seed in 0..400 {
            let s = testkit::deadlines::random_schedule(seed);
            let want = format!("{:?}", testkit::deadlines::model(&s));
            set_now(0);
            let deadlines = Deadlines {
                idle: s.deadlines.idle,
                stall: s.deadlines.stall,
            };
            let socket = ScriptedSocket {
                chunks: s.chunks.iter().cloned().collect(),
                timeout: Cell::new(None),
            };
            let mut reader = FrameReader::with_deadlines(socket, deadlines);
            reader.set_clock(now);
            let mut got = Vec::new();
            loop {
                match reader.next_frame() {
                    Ok(Some(f)) => got.push(Outcome::Frame(f.payload().to_vec())),
                    Ok(None) => {
                        got.push(Outcome::End);
                        break;
                    }
                    Err(Error::Timeout(t)) => {
                        let at = now().duration_since(start()).as_millis() as u64;
                        let limit = match t.kind {
                            TimeoutKind::Idle => deadlines.idle,
                            _ => deadlines.stall,
                        };
                        assert_eq!(Some(t.elapsed), limit, "seed {seed}: {t}");
                        got.push(Outcome::Timeout {
                            kind: t.kind,
                            at,
                            bytes: t.bytes,
                        });
                        cuts += 1;
                        break;
                    }
                    Err(e) => panic!("seed {seed}: {e}"),
                }
            }
            assert_eq!(format!("{got:?}"), want, "seed {seed}: {s:?}");
        }
        assert!(cuts >= 60, "{cuts} cuts in 400 schedules");
    }
}
