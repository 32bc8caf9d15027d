//! The deadline property harness: random arrival schedules against idle
//! and stall limits, run through the deadline paths on scripted clocks
//! (no sleeping), each outcome compared with a simple [`model`]:
//!
//! - the frame `k` is cut as **idle** iff the gap from the end of frame
//!   `k - 1` (the start, for the first) to its first byte reaches the idle
//!   limit; the cut is at that end plus the limit, with 0 bytes;
//! - else it is cut as **stall** iff its first byte plus the stall limit is
//!   not after its last byte; the cut is at first byte plus the limit, with
//!   the frame's bytes that arrived before it;
//! - else it is delivered, byte-exact.
//!
//! The paths: [`run_tracker`] drives the pure
//! [`DeadlineTracker`](lpframe::DeadlineTracker) the way a reader does (and
//! `lpframe listen` does), over the pure decoder; [`run_with_deadlines`]
//! (feature `tokio`) runs [`WithDeadlines`](lpframe::WithDeadlines) over a
//! `FramedRead` on tokio's paused clock, the bytes written into a duplex
//! pipe at their scheduled instants. Arrival times are even milliseconds
//! and limits odd ones, so that no byte arrives at a deadline's instant
//! (where the order would be the runtime's choice, not the model's).
//!
//! [`blocking_wakeups`] feeds the blocking `FrameReader` scripted
//! `WouldBlock`/`TimedOut` reads (the wake-ups a socket read timeout
//! gives) under deadlines that do not expire: no wake-up may end a frame
//! or lose a byte. The blocking reader's own timing against [`model`] runs
//! in lpframe's unit tests (`src/blocking/deadline.rs`), through a
//! `pub(crate)` clock seam and a scripted socket that honours the read
//! timeout the reader sets: the public API has no clock parameter.

use std::io;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use lpframe::{DeadlineTracker, Deadlines, FrameDecoder, FrameReader, TimeoutKind};

use crate::{frame_bytes, Rng, Script, Step};

/// A connection's traffic: the frames' payloads, and the wire bytes cut
/// into chunks, each arriving at a time (ms from the start).
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The payloads, in order.
    pub payloads: Vec<Vec<u8>>,
    /// (arrival in ms from the start, bytes): strictly increasing times.
    pub chunks: Vec<(u64, Vec<u8>)>,
    /// The deadlines (whole, odd milliseconds).
    pub deadlines: Deadlines,
}

/// What a path produced, in order; a timeout ends the run (the caller
/// would close).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A frame, its payload.
    Frame(Vec<u8>),
    /// A deadline expired: which, when (ms from the start), the frame's
    /// bytes received.
    Timeout {
        /// Which deadline.
        kind: TimeoutKind,
        /// When it was reported, ms from the start.
        at: u64,
        /// `Timeout::bytes`.
        bytes: u64,
    },
    /// The end of the stream on a frame boundary.
    End,
}

/// A random schedule: 1 to 6 frames of 0 to 200 bytes, cut into chunks of
/// random sizes (a chunk may hold the end of a frame and the start of the
/// next), with gaps of 2 to 60 ms (even) between chunks and up to 400 ms
/// before a chunk that starts a frame; idle and stall
/// limits of 21 to 301 ms (odd), or none.
pub fn random_schedule(seed: u64) -> Schedule {
    let mut rng = Rng(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) | 1);
    let payloads: Vec<Vec<u8>> = (0..1 + rng.below(6))
        .map(|_| {
            let n = rng.below(201);
            rng.bytes(n)
        })
        .collect();
    let wire: Vec<u8> = payloads.iter().flat_map(|p| frame_bytes(p)).collect();
    let mut frame_starts = std::collections::BTreeSet::new();
    let mut off = 0;
    for p in &payloads {
        frame_starts.insert(off);
        off += 16 + p.len();
    }
    let mut chunks = Vec::new();
    let mut at = 0u64;
    let mut pos = 0;
    while pos < wire.len() {
        // Mostly short gaps (a steady sender), sometimes long ones; before
        // a frame, a think time of up to 400 ms.
        let gap = match rng.below(4) {
            _ if frame_starts.contains(&pos) => 2 * rng.below(201) as u64,
            0 => 0,
            1 | 2 => 2 * rng.below(10) as u64,
            _ => 2 * rng.below(31) as u64,
        };
        at += gap.max(2);
        let n = match rng.below(3) {
            0 => 1,
            1 => 1 + rng.below(20),
            _ => 1 + rng.below(300),
        }
        .min(wire.len() - pos);
        chunks.push((at, wire[pos..pos + n].to_vec()));
        pos += n;
    }
    let limit = |rng: &mut Rng| match rng.below(5) {
        0 => None,
        _ => Some(Duration::from_millis(21 + 2 * rng.below(141) as u64)),
    };
    let deadlines = Deadlines {
        idle: limit(&mut rng),
        stall: limit(&mut rng),
    };
    Schedule {
        payloads,
        chunks,
        deadlines,
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The model's outcomes for `s` (see the module docs).
pub fn model(s: &Schedule) -> Vec<Outcome> {
    // (arrival, offset of the chunk's first byte) per chunk.
    let mut starts = Vec::new();
    let mut off = 0u64;
    for (at, bytes) in &s.chunks {
        starts.push((*at, off));
        off += bytes.len() as u64;
    }
    // The arrival of the byte at `offset`.
    let arrival = |offset: u64| {
        starts
            .iter()
            .rev()
            .find(|(_, o)| *o <= offset)
            .map_or(0, |(at, _)| *at)
    };
    let mut out = Vec::new();
    let mut idle_since = 0u64;
    let mut frame_start = 0u64;
    for p in &s.payloads {
        let len = 16 + p.len() as u64;
        let first = arrival(frame_start);
        let last = arrival(frame_start + len - 1);
        // A frame whose first byte came with the end of the previous one
        // has no idle wait.
        let waited = first > idle_since || frame_start == 0;
        if let Some(idle) = s.deadlines.idle.map(ms) {
            if waited && first - idle_since >= idle {
                out.push(Outcome::Timeout {
                    kind: TimeoutKind::Idle,
                    at: idle_since + idle,
                    bytes: 0,
                });
                return out;
            }
        }
        if let Some(stall) = s.deadlines.stall.map(ms) {
            if last - first >= stall {
                let cut = first + stall;
                let received: u64 = starts
                    .iter()
                    .zip(&s.chunks)
                    .filter(|((at, _), _)| *at < cut)
                    .map(|((_, o), (_, b))| {
                        let end = o + b.len() as u64;
                        end.min(frame_start + len)
                            .saturating_sub((*o).max(frame_start))
                    })
                    .sum();
                out.push(Outcome::Timeout {
                    kind: TimeoutKind::Stall,
                    at: cut,
                    bytes: received,
                });
                return out;
            }
        }
        out.push(Outcome::Frame(p.clone()));
        idle_since = last;
        frame_start += len;
    }
    out.push(Outcome::End);
    out
}

/// The pure tracker driven as a reader drives it: before each arrival the
/// deadline that applies is checked at its instant; each chunk is
/// `received`, decoded, and each frame `frame_done` with the bytes left
/// behind it. Times on a scripted clock.
pub fn run_tracker(s: &Schedule) -> Vec<Outcome> {
    let t0 = Instant::now();
    let at = |t: u64| t0 + Duration::from_millis(t);
    let mut tracker = DeadlineTracker::new(s.deadlines, t0);
    let mut decoder = FrameDecoder::new();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for (time, bytes) in &s.chunks {
        if let Some((_, deadline)) = tracker.next_deadline() {
            if deadline <= at(*time) {
                let t = tracker
                    .check(deadline)
                    .expect_err("the deadline has passed at its instant");
                out.push(Outcome::Timeout {
                    kind: t.kind,
                    at: ms(deadline.duration_since(t0)),
                    bytes: t.bytes,
                });
                assert_eq!(Some(t.elapsed), limit_of(s.deadlines, t.kind));
                return out;
            }
        }
        tracker.received(bytes.len() as u64, at(*time));
        buf.extend_from_slice(bytes);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => {
                    tracker.frame_done(buf.len() as u64, at(*time));
                    out.push(Outcome::Frame(frame.payload().to_vec()));
                }
                Ok(None) => break,
                Err(e) => panic!("the schedule's frames are valid: {e}"),
            }
        }
    }
    out.push(Outcome::End);
    out
}

fn limit_of(d: Deadlines, kind: TimeoutKind) -> Option<Duration> {
    match kind {
        TimeoutKind::Idle => d.idle,
        TimeoutKind::Stall => d.stall,
        TimeoutKind::Write => None,
    }
}

/// [`WithDeadlines`](lpframe::WithDeadlines) over
/// `FramedRead<DuplexStream, FrameCodec>` on tokio's paused clock: a task
/// writes each chunk at its instant; the reader's outcomes are stamped
/// with the paused clock. Nothing sleeps in real time.
#[cfg(feature = "tokio")]
pub fn run_with_deadlines(s: &Schedule) -> Vec<Outcome> {
    use futures::StreamExt;
    use lpframe::{Error, FrameCodec, Received, WithDeadlines};
    use tokio::io::AsyncWriteExt;
    use tokio_util::codec::FramedRead;

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a paused runtime");
    rt.block_on(async {
        let t0 = tokio::time::Instant::now();
        let (mut tx, rx) = tokio::io::duplex(1 << 20);
        let chunks = s.chunks.clone();
        let writer = tokio::spawn(async move {
            for (time, bytes) in chunks {
                tokio::time::sleep_until(t0 + Duration::from_millis(time)).await;
                if tx.write_all(&bytes).await.is_err() {
                    return; // the reader closed: after a timeout
                }
            }
            // Dropping `tx`: the end of the stream, right after the last chunk.
        });
        let mut framed = WithDeadlines::new(FramedRead::new(rx, FrameCodec::new()), s.deadlines);
        let mut out = Vec::new();
        loop {
            let item = framed.next().await;
            let now = ms(tokio::time::Instant::now().duration_since(t0));
            match item {
                Some(Ok(Received::Frame(f))) => out.push(Outcome::Frame(f.payload().to_vec())),
                Some(Ok(Received::Dropped(e))) => panic!("the schedule's frames are valid: {e}"),
                Some(Err(Error::Timeout(t))) => {
                    assert_eq!(Some(t.elapsed), limit_of(s.deadlines, t.kind), "{t}");
                    out.push(Outcome::Timeout {
                        kind: t.kind,
                        at: now,
                        bytes: t.bytes,
                    });
                    break;
                }
                Some(Err(e)) => panic!("{e}"),
                None => {
                    out.push(Outcome::End);
                    break;
                }
            }
        }
        drop(framed);
        writer.await.expect("the writer task");
        out
    })
}

/// Checks every path against the model for `seeds`; returns how many
/// schedules ended in (idle, stall, delivered) so a caller can see the
/// cases were all exercised.
///
/// # Panics
/// On the first disagreement, with the schedule.
pub fn check_seeds(seeds: std::ops::Range<u64>) -> (usize, usize, usize) {
    let mut counts = (0, 0, 0);
    for seed in seeds {
        let s = random_schedule(seed);
        let want = model(&s);
        assert_eq!(run_tracker(&s), want, "tracker, seed {seed}: {s:?}");
        #[cfg(feature = "tokio")]
        assert_eq!(
            run_with_deadlines(&s),
            want,
            "WithDeadlines, seed {seed}: {s:?}"
        );
        match want.last() {
            Some(Outcome::Timeout {
                kind: TimeoutKind::Idle,
                ..
            }) => counts.0 += 1,
            Some(Outcome::Timeout { .. }) => counts.1 += 1,
            _ => counts.2 += 1,
        }
    }
    counts
}

/// The blocking `FrameReader` under deadlines that do not expire (an hour)
/// over a [`Script`] of the frames of `seed` in random chunks, with
/// scripted `WouldBlock`/`TimedOut` reads (a socket's read-timeout
/// wake-ups) between them: every frame is delivered byte-exact, then the
/// end; no wake-up surfaces as an error.
///
/// # Panics
/// When a frame differs or a wake-up surfaces.
pub fn blocking_wakeups(seed: u64) {
    let s = random_schedule(seed);
    let wire: Vec<u8> = s.chunks.iter().flat_map(|(_, b)| b.clone()).collect();
    let mut rng = Rng(seed | 1);
    let mut steps = std::collections::VecDeque::new();
    for (_, bytes) in &s.chunks {
        for _ in 0..rng.below(3) {
            steps.push_back(Step::Fault(if rng.below(2) == 0 {
                io::ErrorKind::WouldBlock
            } else {
                io::ErrorKind::TimedOut
            }));
        }
        steps.push_back(Step::Data(bytes.clone()));
    }
    steps.push_back(Step::Eof);
    assert_eq!(
        Script {
            steps: steps.clone()
        }
        .bytes(),
        wire
    );
    let mut reader = FrameReader::new(Script { steps });
    let hour = Duration::from_secs(3600);
    reader.set_deadlines_manual(Deadlines::new().idle(hour).stall(hour));
    for p in &s.payloads {
        match reader.next_frame() {
            Ok(Some(f)) => assert_eq!(&f[..], &p[..], "seed {seed}"),
            other => panic!("seed {seed}: expected a frame, got {other:?}"),
        }
    }
    assert!(matches!(reader.next_frame(), Ok(None)), "seed {seed}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_on_hand_made_schedules() {
        let wire = frame_bytes(b"abcd"); // 20 bytes
        let d = |idle, stall| Deadlines {
            idle: Some(Duration::from_millis(idle)),
            stall: Some(Duration::from_millis(stall)),
        };
        // Served: 10 bytes at 100, 10 at 200 (100 ms < stall 101).
        let s = Schedule {
            payloads: vec![b"abcd".to_vec()],
            chunks: vec![(100, wire[..10].to_vec()), (200, wire[10..].to_vec())],
            deadlines: d(101, 101),
        };
        assert_eq!(model(&s), [Outcome::Frame(b"abcd".to_vec()), Outcome::End]);
        // Idle: the first byte at 100 against idle 99.
        let s = Schedule {
            deadlines: d(99, 1001),
            ..s
        };
        let idle = Outcome::Timeout {
            kind: TimeoutKind::Idle,
            at: 99,
            bytes: 0,
        };
        assert_eq!(model(&s), [idle]);
        // Stall: 100 ms from first to last byte against stall 99.
        let s = Schedule {
            deadlines: d(1001, 99),
            ..s
        };
        let stall = Outcome::Timeout {
            kind: TimeoutKind::Stall,
            at: 199,
            bytes: 10,
        };
        assert_eq!(model(&s), [stall]);
    }
}
