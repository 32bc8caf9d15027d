//! The fuzz driver of the deadline paths (target `deadline`), under a
//! scripted clock and scripted timeouts, byte by byte from the fuzzer's
//! input (the property harness with random schedules is
//! [`deadlines`](crate::deadlines)):
//! [`drive_tracker`] runs [`DeadlineTracker`] against a model kept in
//! integer milliseconds; [`drive_reader_deadlines`] runs the blocking
//! [`FrameReader`](lpframe::FrameReader) with deadlines over a [`Script`]
//! whose faults are the socket's read timeouts, and checks that a deadline
//! costs nothing: extended after each [`Timeout`], the reader delivers the
//! same events as the plain model.

use std::cell::RefCell;
use std::io::{self, Read};
use std::time::{Duration, Instant};

use lpframe::{Config, DeadlineTracker, Deadlines, Error, FrameReader, Timeout, TimeoutKind};

use crate::{chunk_sizes, expected, Event, Rng, Script, FUZZ_MAX};

/// The model of [`DeadlineTracker`]: PROTOCOL.md section 6 in integer
/// milliseconds since the start.
#[derive(Debug, Clone, Default)]
struct TrackerModel {
    idle: Option<u64>,
    stall: Option<u64>,
    idle_since: u64,
    frame_since: Option<u64>,
    bytes: u64,
}

impl TrackerModel {
    fn received(&mut self, n: u64, at: u64) {
        if n > 0 {
            self.frame_since.get_or_insert(at);
            self.bytes += n;
        }
    }

    /// The deadline that applies: kind, since, limit.
    fn current(&self) -> Option<(TimeoutKind, u64, u64)> {
        match self.frame_since {
            Some(s) => Some((TimeoutKind::Stall, s, self.stall?)),
            None => Some((TimeoutKind::Idle, self.idle_since, self.idle?)),
        }
    }

    fn check(&self, now: u64) -> Result<(), (TimeoutKind, u64, u64, u64)> {
        match self.current() {
            Some((kind, since, limit)) if now >= since + limit => {
                Err((kind, now - since, limit, self.bytes))
            }
            _ => Ok(()),
        }
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn limit(b: u8) -> Option<u64> {
    match b % 4 {
        0 => None,
        1 => Some(0),
        _ => Some(u64::from(b >> 2) * 7),
    }
}

/// Target `deadline`, part one: `data` is a list of (operation, argument)
/// byte pairs played on a [`DeadlineTracker`] and on the model with a
/// scripted clock; after every operation the tracker's `is_mid_frame`,
/// `next_deadline`, `remaining` and `check` equal the model's, and a
/// deadline that has passed stays passed while nothing happens.
pub fn drive_tracker(data: &[u8]) {
    let t0 = Instant::now();
    let at = |n: u64| t0 + ms(n);
    let first = data.first().copied().unwrap_or(0);
    let mut m = TrackerModel {
        idle: limit(first),
        stall: limit(first >> 3),
        ..TrackerModel::default()
    };
    let deadlines = |m: &TrackerModel| Deadlines {
        idle: m.idle.map(ms),
        stall: m.stall.map(ms),
    };
    let mut t = DeadlineTracker::new(deadlines(&m), t0);
    let mut now = 0u64;
    for pair in data.get(1..).unwrap_or_default().chunks(2) {
        let (op, arg) = (pair[0], pair.get(1).copied().unwrap_or(0));
        match op % 6 {
            0 => now += u64::from(arg),
            1 => {
                t.received(u64::from(arg % 64), at(now));
                m.received(u64::from(arg % 64), now);
            }
            2 => {
                let leftover = u64::from(arg % 4) * u64::from(arg >> 2 & 1);
                t.frame_done(leftover, at(now));
                m.idle_since = now;
                m.frame_since = None;
                m.bytes = 0;
                m.received(leftover, now);
            }
            3 => {
                m.idle = limit(arg);
                m.stall = limit(arg >> 3);
                t.set_deadlines(deadlines(&m));
                assert_eq!(t.deadlines(), deadlines(&m));
            }
            4 => {
                t.restart_idle(at(now));
                m.idle_since = now;
            }
            _ => now += u64::from(arg) * 50,
        }
        assert_eq!(t.is_mid_frame(), m.frame_since.is_some());
        let want_next = m.current().map(|(k, since, lim)| (k, at(since + lim)));
        assert_eq!(t.next_deadline(), want_next);
        let want_remaining = m.current().map(|(_, s, l)| ms((s + l).saturating_sub(now)));
        assert_eq!(t.remaining(at(now)), want_remaining);
        let got = t
            .check(at(now))
            .map_err(|e| (e.kind, e.elapsed, e.limit, e.bytes, e.queued));
        let want = m
            .check(now)
            .map_err(|(k, el, lim, b)| (k, ms(el), ms(lim), b, 0));
        assert_eq!(got, want, "check at {now} ms: {m:?}");
        if let Err(e) = t.check(at(now)) {
            // Still passed later, and the text names the kind and limit.
            assert!(t.check(at(now + 1000)).is_err());
            assert_eq!(t.remaining(at(now)), Some(Duration::ZERO));
            let text = e.to_string();
            assert!(text.starts_with(&format!("{} deadline of {:?}", e.kind, e.limit)));
        }
    }
}

/// A [`Script`] as a socket with read timeouts: it records every read
/// timeout the reader sets.
#[derive(Debug)]
pub struct TimedScript {
    /// What the reads play.
    pub script: Script,
    /// The read timeouts set, in order.
    pub timeouts: RefCell<Vec<Option<Duration>>>,
}

impl Read for TimedScript {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.script.read(buf)
    }
}

impl lpframe::SetTimeouts for TimedScript {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.timeouts.borrow_mut().push(timeout);
        Ok(())
    }

    fn set_write_timeout(&self, _: Option<Duration>) -> io::Result<()> {
        Ok(())
    }
}

/// An hour: a deadline that never passes during a run.
const LONG: Duration = Duration::from_secs(3600);

/// Target `deadline`, part two: `input` through `FrameReader` with
/// deadlines, cut by `seed`'s chunking, with a `TimedOut` or `WouldBlock`
/// (the socket's read timeout firing) before chunks. `mode` picks the
/// deadlines: 0 an hour each (every scripted timeout is a wake-up that
/// loses nothing and never surfaces; every timeout the reader sets is at
/// most an hour), 1 a zero idle deadline, 2 a zero stall deadline, 3 both
/// zero, re-armed after every event (each call then times out first with
/// a typed, non-fatal [`Timeout`] of the right kind, and after extending
/// the deadline the same call goes on), the manual flavour for modes 4-7.
/// In every mode the events equal the model's.
pub fn drive_reader_deadlines(input: &[u8], seed: u8, mode: u8) {
    let path = "FrameReader+deadlines";
    let chunks = chunk_sizes(u64::from(seed) * 131 + 17, input.len());
    let mut rng = Rng(u64::from(seed) << 8 | u64::from(mode) | 1);
    let mut faults = Vec::new();
    let mut at = 0;
    for &c in &chunks {
        if rng.next() % 3 == 0 {
            let kind = if rng.next() % 2 == 0 {
                io::ErrorKind::TimedOut
            } else {
                io::ErrorKind::WouldBlock
            };
            faults.push((at, kind));
        }
        at += c;
    }
    let script = Script::new(input, &chunks, &faults, FUZZ_MAX);
    let config = Config::new().max_read_frame_len(FUZZ_MAX);
    let manual = mode & 4 != 0;
    let armed = match mode & 3 {
        0 => Deadlines::new().idle(LONG).stall(LONG),
        1 => Deadlines::new().idle(Duration::ZERO).stall(LONG),
        2 => Deadlines::new().idle(LONG).stall(Duration::ZERO),
        _ => Deadlines::new().idle(Duration::ZERO).stall(Duration::ZERO),
    };
    let long = Deadlines::new().idle(LONG).stall(LONG);
    let source = TimedScript {
        script,
        timeouts: RefCell::new(Vec::new()),
    };
    let mut reader = FrameReader::with_config(source, config);
    let set = |r: &mut FrameReader<TimedScript>, d: Deadlines| {
        if manual {
            r.set_deadlines_manual(d);
        } else {
            r.set_deadlines(d);
        }
    };
    set(&mut reader, armed);
    let mut events = Vec::new();
    let mut fatal: Option<lpframe::DecodeError> = None;
    let mut repeats = 0;
    let mut timeouts = 0usize;
    let bound = 8 * input.len() + 64 * chunks.len() + 64;
    for _ in 0..bound {
        let mid = reader.is_mid_frame();
        match reader.next_frame() {
            Ok(Some(f)) => {
                assert!(fatal.is_none(), "{path}: a frame after a fatal error");
                events.push(Event::Frame(f.to_vec()));
                set(&mut reader, armed);
            }
            Ok(None) => {
                if reader.get_ref().script.is_done() {
                    break;
                }
            }
            Err(Error::Timeout(t)) => {
                timeouts += 1;
                check_timeout(path, &t, mid, armed);
                // Not fatal: extend and go on with the same frame.
                set(&mut reader, long);
            }
            Err(Error::Io(e)) => {
                // Both deadlines are always set, so a read timeout from the
                // socket is always a wake-up before one: it never surfaces.
                panic!("{path}: the socket's {e} surfaced (mode {mode})");
            }
            Err(Error::Decode(e)) => {
                assert!(
                    !matches!(&fatal, Some(f) if f != &e),
                    "{path}: error changed"
                );
                if fatal.is_some() {
                    repeats += 1;
                    if repeats == 2 {
                        break;
                    }
                    continue;
                }
                events.push(Event::error(&e));
                if e.is_fatal() {
                    fatal = Some(e);
                } else {
                    set(&mut reader, armed);
                }
            }
            Err(other) => panic!("{path}: unexpected {other:?}"),
        }
    }
    assert_eq!(events, expected(input, FUZZ_MAX), "{path}: mode {mode}");
    if armed == long {
        assert_eq!(timeouts, 0, "{path}: an hour's deadline expired");
    }
    let set_timeouts = reader.get_ref().timeouts.borrow();
    if manual {
        assert!(
            set_timeouts.is_empty(),
            "{path}: manual deadlines set the socket"
        );
    } else {
        assert!(
            set_timeouts.iter().all(|t| t.is_some_and(|d| d <= LONG)),
            "{path}: a read timeout beyond the deadline"
        );
    }
}

/// A reported timeout has the kind the reader's position calls for (idle
/// between frames, stall inside one, with the frame's bytes counted) and a
/// zero limit (only the zero deadlines can pass during a run).
fn check_timeout(path: &str, t: &Timeout, mid_before: bool, armed: Deadlines) {
    assert!(!Error::Timeout(*t).is_fatal(), "{path}: a timeout is fatal");
    assert_eq!(t.limit, Duration::ZERO, "{path}: {t}");
    match t.kind {
        TimeoutKind::Idle => {
            assert_eq!(armed.idle, Some(Duration::ZERO));
            assert!(!mid_before, "{path}: idle timeout inside a frame");
            assert_eq!(t.bytes, 0);
        }
        TimeoutKind::Stall => {
            assert_eq!(armed.stall, Some(Duration::ZERO));
            assert!(t.bytes > 0, "{path}: a stall without a byte of the frame");
        }
        TimeoutKind::Write => panic!("{path}: a write timeout while reading"),
    }
}
