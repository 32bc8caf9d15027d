//! The one deadline model (PROTOCOL.md section 6), as pure clock arithmetic
//! with no I/O: [`Deadlines`] (the settings), [`Timeout`] (the typed,
//! non-fatal outcome) and the tracker that every reading path drives.
//!
//! - **Idle**: from the end of the previous frame (or from when the
//!   deadlines were set) to the first byte of the next frame.
//! - **Stall**: for the whole frame, from its first byte to its last, so a
//!   peer that trickles one byte just before each read would time out is
//!   still cut when the deadline passes, not when it pauses.
//! - Both are optional and re-armed for every frame.
//!
//! The tracker is told when bytes arrive and when a frame is done, and
//! answers which deadline comes next and whether it has passed; the paths
//! turn that into a socket read timeout (blocking) or a
//! `tokio::time::Sleep`. Times are [`Instant`]s passed in by the caller, so
//! the logic is tested with a scripted clock, without sleeping.

use std::fmt;
use std::time::{Duration, Instant};

/// The read deadlines of a connection: both optional, re-armed for every
/// frame (PROTOCOL.md section 6).
///
/// ```
/// use std::time::Duration;
/// use lpframe::Deadlines;
///
/// let d = Deadlines::new().idle(Duration::from_secs(30)).stall(Duration::from_secs(5));
/// assert_eq!(d.idle, Some(Duration::from_secs(30)));
/// assert_eq!(Deadlines::default(), Deadlines::new()); // none: wait forever
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Deadlines {
    /// How long to wait for the first byte of a frame, counted from the end
    /// of the previous frame (or from when the deadlines were set).
    pub idle: Option<Duration>,
    /// How long a whole frame may take, counted from its first byte.
    pub stall: Option<Duration>,
}

impl Deadlines {
    /// No deadline: wait forever.
    pub const fn new() -> Self {
        Deadlines {
            idle: None,
            stall: None,
        }
    }

    /// With an idle deadline.
    pub const fn idle(mut self, limit: Duration) -> Self {
        self.idle = Some(limit);
        self
    }

    /// With a stall (whole-frame) deadline.
    pub const fn stall(mut self, limit: Duration) -> Self {
        self.stall = Some(limit);
        self
    }
}

/// Which deadline expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeoutKind {
    /// No byte of a frame arrived within the idle deadline.
    Idle,
    /// A frame started and did not complete within the stall deadline.
    Stall,
    /// The peer did not take the bytes written to it within the write
    /// deadline.
    Write,
}

impl fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutKind::Idle => "idle",
            TimeoutKind::Stall => "stall",
            TimeoutKind::Write => "write",
        })
    }
}

/// A deadline expired: the typed, **non-fatal** outcome of every path with
/// deadlines ([`Error::Timeout`](crate::Error::Timeout)).
///
/// The stream is where it was: a reader keeps the part of the frame it
/// received, a writer keeps every byte still queued. Extend the deadline
/// and call again (the frame is delivered byte-exact), or close.
///
/// ```
/// use std::time::Duration;
/// use lpframe::{Timeout, TimeoutKind};
///
/// let t = Timeout {
///     kind: TimeoutKind::Stall,
///     elapsed: Duration::from_millis(401),
///     limit: Duration::from_millis(400),
///     bytes: 13,
///     queued: 0,
/// };
/// assert_eq!(t.to_string(), "stall deadline of 400ms expired after 401ms (13 bytes of the frame received)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timeout {
    /// Which deadline.
    pub kind: TimeoutKind,
    /// How long it ran: at least `limit`, and later than it by no more than
    /// the timer's resolution.
    pub elapsed: Duration,
    /// The deadline that applied.
    pub limit: Duration,
    /// `Idle`: 0. `Stall`: the bytes of the frame received so far (header
    /// included). `Write`: the bytes written since the wait began.
    pub bytes: u64,
    /// `Write`: the bytes still queued, unsent and kept (nothing is lost:
    /// the next flush continues with them). 0 for the read deadlines.
    pub queued: u64,
}

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} deadline of {:?} expired after {:?}",
            self.kind, self.limit, self.elapsed
        )?;
        match self.kind {
            TimeoutKind::Idle => Ok(()),
            TimeoutKind::Stall => write!(f, " ({} of the frame received)", Count(self.bytes)),
            TimeoutKind::Write => write!(
                f,
                " ({} written, {} still queued)",
                Count(self.bytes),
                Count(self.queued)
            ),
        }
    }
}

impl std::error::Error for Timeout {}

struct Count(u64);

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            1 => f.write_str("1 byte"),
            n => write!(f, "{n} bytes"),
        }
    }
}

/// The read-deadline state of one connection: pure, driven by the reading
/// paths with the times at which things happened.
///
/// ```
/// use std::time::{Duration, Instant};
/// use lpframe::{DeadlineTracker, Deadlines, TimeoutKind};
///
/// let ms = Duration::from_millis;
/// let t0 = Instant::now(); // a scripted clock: t0 + n ms
/// let mut t = DeadlineTracker::new(Deadlines::new().idle(ms(1000)).stall(ms(400)), t0);
/// assert_eq!(t.next_deadline(), Some((TimeoutKind::Idle, t0 + ms(1000))));
/// t.received(1, t0 + ms(700)); // the frame's first byte: the stall deadline starts
/// assert_eq!(t.next_deadline(), Some((TimeoutKind::Stall, t0 + ms(1100))));
/// assert!(t.check(t0 + ms(1099)).is_ok());
/// let cut = t.check(t0 + ms(1100)).unwrap_err();
/// assert_eq!((cut.kind, cut.elapsed, cut.bytes), (TimeoutKind::Stall, ms(400), 1));
/// t.frame_done(0, t0 + ms(1050)); // (had it completed) re-armed from there
/// assert_eq!(t.next_deadline(), Some((TimeoutKind::Idle, t0 + ms(2050))));
/// ```
#[derive(Debug, Clone)]
pub struct DeadlineTracker {
    deadlines: Deadlines,
    /// When the wait for the next frame began (the idle deadline's start).
    idle_since: Instant,
    /// When the current frame's first byte was received, if it was.
    frame_since: Option<Instant>,
    /// Bytes of the current frame received.
    bytes: u64,
}

impl DeadlineTracker {
    /// A tracker waiting for a frame since `now`.
    pub fn new(deadlines: Deadlines, now: Instant) -> Self {
        DeadlineTracker {
            deadlines,
            idle_since: now,
            frame_since: None,
            bytes: 0,
        }
    }

    /// The deadlines in use.
    pub fn deadlines(&self) -> Deadlines {
        self.deadlines
    }

    /// New deadlines (to extend after a [`Timeout`], say): they apply to
    /// the wait or the frame in progress, counted from its start as before.
    pub fn set_deadlines(&mut self, deadlines: Deadlines) {
        self.deadlines = deadlines;
    }

    /// Restarts the idle wait at `now` (a frame in progress keeps its start).
    pub fn restart_idle(&mut self, now: Instant) {
        self.idle_since = now;
    }

    /// `n` bytes arrived at `at`; the first byte of a frame starts its
    /// stall deadline.
    pub fn received(&mut self, n: u64, at: Instant) {
        if n == 0 {
            return;
        }
        if self.frame_since.is_none() {
            self.frame_since = Some(at);
        }
        self.bytes = self.bytes.saturating_add(n);
    }

    /// A frame was delivered (or dropped: a corrupt payload, a recovery
    /// skip) from bytes received at `at` or earlier. `leftover` bytes of the
    /// next frame came with it: they start its stall deadline at `at`; with
    /// none, the idle deadline starts at `at`.
    pub fn frame_done(&mut self, leftover: u64, at: Instant) {
        self.idle_since = at;
        self.frame_since = None;
        self.bytes = 0;
        self.received(leftover, at);
    }

    /// `true` once the current frame's first byte has arrived.
    pub fn is_mid_frame(&self) -> bool {
        self.frame_since.is_some()
    }

    /// The deadline that applies now and when it expires: the stall
    /// deadline inside a frame, the idle one between frames; `None` when
    /// that one is not set.
    pub fn next_deadline(&self) -> Option<(TimeoutKind, Instant)> {
        let (kind, since, limit) = self.current()?;
        Some((kind, since.checked_add(limit)?))
    }

    /// How long until the deadline that applies now (zero once it has
    /// passed); `None` when there is none.
    pub fn remaining(&self, now: Instant) -> Option<Duration> {
        let (_, at) = self.next_deadline()?;
        Some(at.saturating_duration_since(now))
    }

    /// `Err` once the deadline that applies has passed at `now` (the
    /// deadline instant itself counts as passed, so the cut is never late).
    ///
    /// # Errors
    /// The [`Timeout`], with the numbers.
    pub fn check(&self, now: Instant) -> Result<(), Timeout> {
        let Some((kind, since, limit)) = self.current() else {
            return Ok(());
        };
        let elapsed = now.saturating_duration_since(since);
        if elapsed < limit {
            return Ok(());
        }
        Err(Timeout {
            kind,
            elapsed,
            limit,
            bytes: self.bytes,
            queued: 0,
        })
    }

    fn current(&self) -> Option<(TimeoutKind, Instant, Duration)> {
        match self.frame_since {
            Some(since) => Some((TimeoutKind::Stall, since, self.deadlines.stall?)),
            None => Some((TimeoutKind::Idle, self.idle_since, self.deadlines.idle?)),
        }
    }
}

/// A write deadline: bounds each wait for the peer to take queued bytes,
/// from the first write of an operation (a flush, or a send that must make
/// room) until it completes. Pure, like [`DeadlineTracker`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WriteClock {
    pub(crate) limit: Option<Duration>,
    since: Option<Instant>,
    /// Bytes written since `since`.
    written: u64,
}

impl WriteClock {
    pub(crate) fn new(limit: Option<Duration>) -> Self {
        WriteClock {
            limit,
            since: None,
            written: 0,
        }
    }

    /// An operation starts (no-op if one is in progress).
    pub(crate) fn start(&mut self, now: Instant) {
        if self.since.is_none() {
            self.since = Some(now);
            self.written = 0;
        }
    }

    /// The operation completed or failed: the next one re-arms.
    pub(crate) fn stop(&mut self) {
        self.since = None;
        self.written = 0;
    }

    #[cfg(feature = "tokio")]
    pub(crate) fn set_written(&mut self, n: u64) {
        self.written = n;
    }

    pub(crate) fn wrote(&mut self, n: usize) {
        self.written = self.written.saturating_add(n as u64);
    }

    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.since?.checked_add(self.limit?)
    }

    pub(crate) fn remaining(&self, now: Instant) -> Option<Duration> {
        Some(self.deadline()?.saturating_duration_since(now))
    }

    /// `Err` once the deadline has passed at `now`; `queued` is what the
    /// writer still holds.
    pub(crate) fn check(&self, now: Instant, queued: usize) -> Result<(), Timeout> {
        let (Some(since), Some(limit)) = (self.since, self.limit) else {
            return Ok(());
        };
        let elapsed = now.saturating_duration_since(since);
        if elapsed < limit {
            return Ok(());
        }
        Err(Timeout {
            kind: TimeoutKind::Write,
            elapsed,
            limit,
            bytes: self.written,
            queued: queued as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn no_deadlines_never_expire() {
        let t0 = Instant::now();
        let mut t = DeadlineTracker::new(Deadlines::new(), t0);
        assert_eq!(t.next_deadline(), None);
        assert!(t.check(t0 + ms(1_000_000)).is_ok());
        t.received(5, t0 + ms(1));
        assert!(t.check(t0 + ms(1_000_000)).is_ok());
        assert_eq!(t.remaining(t0), None);
    }

    #[test]
    fn idle_expires_at_the_limit_exactly() {
        let t0 = Instant::now();
        let t = DeadlineTracker::new(Deadlines::new().idle(ms(100)), t0);
        assert!(t.check(t0 + ms(100) - Duration::from_nanos(1)).is_ok());
        let e = t.check(t0 + ms(100)).unwrap_err();
        assert_eq!(
            e,
            Timeout {
                kind: TimeoutKind::Idle,
                elapsed: ms(100),
                limit: ms(100),
                bytes: 0,
                queued: 0
            }
        );
        assert_eq!(t.remaining(t0 + ms(30)), Some(ms(70)));
        assert_eq!(t.remaining(t0 + ms(300)), Some(Duration::ZERO));
    }

    #[test]
    fn stall_counts_from_the_first_byte_not_the_previous_frame() {
        // The issue's healthy client: waits 700 ms, sends 10 bytes, pauses
        // 200 ms, sends the rest: served under 1 s idle and 400 ms stall.
        let t0 = Instant::now();
        let mut t = DeadlineTracker::new(Deadlines::new().idle(ms(1000)).stall(ms(400)), t0);
        assert!(t.check(t0 + ms(700)).is_ok());
        t.received(10, t0 + ms(700));
        assert!(t.check(t0 + ms(900)).is_ok());
        t.received(10, t0 + ms(900));
        assert!(t.check(t0 + ms(901)).is_ok());
        t.frame_done(0, t0 + ms(901));
        assert_eq!(t.next_deadline(), Some((TimeoutKind::Idle, t0 + ms(1901))));
    }

    #[test]
    fn a_trickler_is_cut_when_the_deadline_passes_not_when_it_pauses() {
        let t0 = Instant::now();
        let mut t = DeadlineTracker::new(Deadlines::new().stall(ms(400)), t0);
        // Waiting for a frame: no idle deadline.
        assert_eq!(t.next_deadline(), None);
        let mut cut = None;
        for i in 0..40u64 {
            let now = t0 + ms(30 * i);
            if let Err(e) = t.check(now) {
                cut = Some((i, e));
                break;
            }
            t.received(1, now);
        }
        let (i, e) = cut.expect("cut");
        // Bytes at 0, 30, ..., 390 ms; checked at 420 ms: expired.
        assert_eq!((i, e.kind, e.bytes), (14, TimeoutKind::Stall, 14));
        assert_eq!(t.next_deadline(), Some((TimeoutKind::Stall, t0 + ms(400))));
    }

    #[test]
    fn leftover_bytes_start_the_next_frame_at_their_read() {
        let t0 = Instant::now();
        let mut t = DeadlineTracker::new(Deadlines::new().idle(ms(50)).stall(ms(100)), t0);
        t.received(40, t0 + ms(10));
        t.frame_done(3, t0 + ms(10));
        assert!(t.is_mid_frame());
        assert_eq!(t.next_deadline(), Some((TimeoutKind::Stall, t0 + ms(110))));
        let e = t.check(t0 + ms(110)).unwrap_err();
        assert_eq!(e.bytes, 3);
    }

    #[test]
    fn extending_after_a_timeout_continues_the_same_frame() {
        let t0 = Instant::now();
        let mut t = DeadlineTracker::new(Deadlines::new().stall(ms(100)), t0);
        t.received(16, t0);
        assert!(t.check(t0 + ms(100)).is_err());
        t.set_deadlines(Deadlines::new().stall(ms(500)));
        assert!(t.check(t0 + ms(100)).is_ok());
        assert_eq!(t.remaining(t0 + ms(100)), Some(ms(400)));
        t.received(4, t0 + ms(200));
        assert!(t.check(t0 + ms(499)).is_ok());
    }

    #[test]
    fn only_a_stall_deadline_inside_frames_only_idle_between() {
        let t0 = Instant::now();
        let mut t = DeadlineTracker::new(Deadlines::new().idle(ms(100)), t0);
        t.received(1, t0 + ms(50));
        // Inside a frame with no stall deadline: none applies.
        assert_eq!(t.next_deadline(), None);
        assert!(t.check(t0 + ms(10_000)).is_ok());
    }

    #[test]
    fn write_clock() {
        let t0 = Instant::now();
        let mut w = WriteClock::new(Some(ms(100)));
        assert!(w.check(t0 + ms(1000), 10).is_ok()); // not started
        w.start(t0);
        w.start(t0 + ms(50)); // already running: keeps its start
        w.wrote(7);
        assert_eq!(w.remaining(t0 + ms(40)), Some(ms(60)));
        let e = w.check(t0 + ms(100), 9).unwrap_err();
        assert_eq!((e.kind, e.bytes, e.queued), (TimeoutKind::Write, 7, 9));
        w.stop();
        assert!(w.check(t0 + ms(1000), 9).is_ok());
    }
}
