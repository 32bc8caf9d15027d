//! Deadlines on every reading path and the write paths, over real loopback
//! (127.0.0.1): idle clients, header-only stalls, pauses, tricklers, frames
//! that complete just before their deadline, extend-and-retry, and peers
//! that never read. Every wait is bounded.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use lpframe::{Deadlines, Error, Frame, FrameReader, FrameWriter, Timeout, TimeoutKind};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// How late a cut may be on this (shared, loaded) machine: the timer's
/// resolution (blocking: the kernel tick, up to 10 ms; tokio: 1 ms) plus
/// scheduling delay. Never early: asserted exactly.
const LATE: Duration = Duration::from_millis(40);

/// What a client sends: (pause before, bytes).
type Script = Vec<(Duration, Vec<u8>)>;

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut wire = Vec::new();
    lpframe::write_frame(&mut wire, payload).unwrap();
    wire
}

/// Plays `script` to `addr`, then stays connected for `linger`; sends the
/// instant of its first byte (or of the connect, if it sends none).
fn client(addr: SocketAddr, script: Script, linger: Duration) -> mpsc::Receiver<Instant> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_nodelay(true).unwrap();
        let mut first = None;
        // Paced on an absolute schedule (each pause counted from the
        // previous step's due time, not from when a late sleep returned),
        // so that a loaded machine does not slow a trickler down.
        let mut due = Instant::now();
        for (pause, bytes) in script {
            due += pause;
            thread::sleep(due.saturating_duration_since(Instant::now()));
            let now = Instant::now();
            if s.write_all(&bytes).is_err() {
                break; // the server cut us: the point of most tests
            }
            if first.is_none() && !bytes.is_empty() {
                first = Some(now);
                let _ = tx.send(now);
            }
        }
        if first.is_none() {
            let _ = tx.send(Instant::now());
        }
        thread::sleep(linger);
    });
    rx
}

fn trickle(wire: &[u8], every: Duration) -> Script {
    wire.iter().map(|b| (every, vec![*b])).collect()
}

fn idle_and_stall(idle: u64, stall: u64) -> Deadlines {
    Deadlines::new().idle(ms(idle)).stall(ms(stall))
}

/// Asserts a cut: the deadline's kind, never early by the reader's clock
/// nor by the client's, late by at most LATE; returns the cut time counted
/// from the client's first byte.
fn assert_cut(t: &Timeout, kind: TimeoutKind, limit: Duration, since_first: Duration) -> Duration {
    assert_eq!(t.kind, kind, "{t}");
    assert_eq!(t.limit, limit);
    assert!(t.elapsed >= limit, "early: {t}");
    assert!(t.elapsed <= limit + LATE, "late: {t}");
    if kind == TimeoutKind::Stall {
        assert!(
            since_first >= limit,
            "early by the client's clock: {since_first:?}"
        );
        assert!(
            since_first <= limit + LATE,
            "late by the client's clock: {since_first:?}"
        );
    }
    since_first
}

fn summary(name: &str, mut cuts: Vec<Duration>) {
    cuts.sort();
    let n = cuts.len();
    eprintln!(
        "{name}: trickler cut against 400 ms over {n} runs: min {:?} median {:?} max {:?}",
        cuts[0],
        cuts[n / 2],
        cuts[n - 1]
    );
}

// ---- blocking FrameReader (socket timeouts) ----

/// One connection served by a blocking FrameReader with `deadlines`: the
/// first result, the time from the client's first byte to it, the reader.
fn blocking_read(
    script: Script,
    deadlines: Deadlines,
) -> (
    Result<Option<Frame>, Error>,
    Duration,
    FrameReader<TcpStream>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let first = client(listener.local_addr().unwrap(), script, ms(3000));
    let (stream, _) = listener.accept().unwrap();
    let mut reader = FrameReader::with_deadlines(stream, deadlines);
    let result = reader.next_frame();
    let end = Instant::now();
    let first = first.recv_timeout(ms(5000)).unwrap();
    (result, end.saturating_duration_since(first), reader)
}

fn timeout(r: Result<Option<Frame>, Error>) -> Timeout {
    match r {
        Err(Error::Timeout(t)) => {
            assert!(!Error::Timeout(t).is_fatal());
            t
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[test]
fn blocking_idle_client() {
    let (r, since, reader) = blocking_read(vec![], idle_and_stall(200, 1000));
    let t = timeout(r);
    assert_cut(&t, TimeoutKind::Idle, ms(200), since);
    assert_eq!(t.bytes, 0);
    // Counted where it is enforced.
    assert_eq!(reader.stats().deadlines_expired, 1);
}

#[test]
fn blocking_lending_reads_keep_the_deadlines_and_mix_with_owned_ones() {
    // A frame, 300 ms of silence, a second frame: `next_ref` lends the
    // first, then the idle deadline (100 ms) expires, non-fatal and
    // counted; once extended, `next_frame` (owned) reads the second.
    let (a, b) = (frame(b"lent"), frame(b"owned"));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let _first = client(
        listener.local_addr().unwrap(),
        vec![(ms(0), a), (ms(300), b)],
        ms(3000),
    );
    let (stream, _) = listener.accept().unwrap();
    let mut reader = FrameReader::with_deadlines(stream, idle_and_stall(100, 1000));
    assert_eq!(&reader.next_ref().unwrap().unwrap()[..], b"lent");
    let t = match reader.next_ref() {
        Err(Error::Timeout(t)) => t,
        other => panic!("expected a timeout, got {other:?}"),
    };
    assert_eq!((t.kind, t.bytes), (TimeoutKind::Idle, 0));
    assert_eq!(reader.stats().deadlines_expired, 1);
    reader.set_deadlines(idle_and_stall(5000, 1000));
    let owned = reader.next_frame().unwrap().unwrap();
    assert_eq!(&owned[..], b"owned");
    assert_eq!(reader.stats().frames_decoded, 2);
}

#[test]
fn blocking_an_owned_read_after_a_lent_one_goes_on_from_the_next_frame() {
    let mut wire = frame(b"one");
    wire.extend_from_slice(&frame(b"two"));
    wire.extend_from_slice(&frame(b"three"));
    let mut reader = FrameReader::new(&wire[..]);
    assert_eq!(&reader.next_ref().unwrap().unwrap()[..], b"one");
    assert_eq!(&reader.next_frame().unwrap().unwrap()[..], b"two");
    assert_eq!(&reader.next_ref().unwrap().unwrap()[..], b"three");
    assert!(reader.next_frame().unwrap().is_none());
}

#[test]
fn blocking_header_only_stall() {
    let wire = frame(b"payload never sent");
    let (r, since, reader) = blocking_read(
        vec![(ms(0), wire[..16].to_vec())],
        idle_and_stall(5000, 200),
    );
    let t = timeout(r);
    assert_cut(&t, TimeoutKind::Stall, ms(200), since);
    assert_eq!(t.bytes, 16);
    assert!(reader.is_mid_frame());
}

#[test]
fn blocking_pause_inside_a_frame_shorter_than_the_stall_is_served() {
    // The healthy client: waits 700 ms, 10 bytes, 200 ms, the rest.
    let wire = frame(&[7u8; 24]);
    let script = vec![
        (ms(700), wire[..10].to_vec()),
        (ms(200), wire[10..].to_vec()),
    ];
    let (r, _, _) = blocking_read(script, idle_and_stall(1000, 400));
    assert_eq!(&r.unwrap().unwrap()[..], &[7u8; 24]);
}

#[test]
fn blocking_frame_completing_just_before_its_deadline_is_served() {
    let wire = frame(b"just in time");
    let script = vec![(ms(0), wire[..5].to_vec()), (ms(370), wire[5..].to_vec())];
    let (r, since, _) = blocking_read(script, idle_and_stall(1000, 400));
    assert_eq!(&r.unwrap().unwrap()[..], b"just in time");
    assert!(since < ms(400));
}

#[test]
fn blocking_trickler_is_cut_at_the_deadline() {
    let wire = frame(&[1u8; 24]); // 40 bytes: 1.2 s at 1 byte per 30 ms
    let mut cuts = Vec::new();
    for _ in 0..10 {
        let (r, since, _) = blocking_read(trickle(&wire, ms(30)), idle_and_stall(5000, 400));
        let t = timeout(r);
        cuts.push(assert_cut(&t, TimeoutKind::Stall, ms(400), since));
        assert!((12..=15).contains(&t.bytes), "{t}");
    }
    summary("blocking FrameReader", cuts);
}

#[test]
fn blocking_extend_after_a_timeout_delivers_the_frame_byte_exact() {
    let payload: Vec<u8> = (0..100_000u32).map(|i| (i * 7) as u8).collect();
    let wire = frame(&payload);
    // 70 000 bytes (the reader's direct large-payload path), a 400 ms
    // pause, the rest.
    let script = vec![
        (ms(0), wire[..70_000].to_vec()),
        (ms(400), wire[70_000..].to_vec()),
    ];
    let (r, _, mut reader) = blocking_read(script, idle_and_stall(5000, 150));
    let t = timeout(r);
    assert_eq!(t.kind, TimeoutKind::Stall);
    assert!(t.bytes > 16 && t.bytes <= 70_000, "{t}");
    reader.set_deadlines(idle_and_stall(5000, 5000));
    assert_eq!(&reader.next_frame().unwrap().unwrap()[..], &payload[..]);
}

#[test]
fn blocking_manual_deadlines_cut_a_trickler_between_its_bytes() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let wire = frame(&[1u8; 24]);
    let first = client(
        listener.local_addr().unwrap(),
        trickle(&wire, ms(30)),
        ms(3000),
    );
    let (stream, _) = listener.accept().unwrap();
    stream.set_read_timeout(Some(ms(10))).unwrap(); // the caller's wake-up
    let mut reader = FrameReader::new(stream);
    reader.set_deadlines_manual(idle_and_stall(5000, 400));
    let r = reader.next_frame();
    let since = Instant::now().saturating_duration_since(first.recv_timeout(ms(5000)).unwrap());
    let t = timeout(r);
    // Resolution: the caller's read timeout (10 ms).
    assert_cut(&t, TimeoutKind::Stall, ms(400), since);
}

// ---- read_frame_timed (stateless) ----

#[test]
fn read_frame_timed_idle_is_retryable_and_stall_is_fatal() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let wire = frame(&[1u8; 24]);
    let mut script = vec![(ms(300), Vec::new())];
    script.extend(trickle(&wire, ms(30)));
    let first = client(listener.local_addr().unwrap(), script, ms(3000));
    let (mut stream, _) = listener.accept().unwrap();
    let d = idle_and_stall(150, 400);
    let t = timeout(lpframe::read_frame_timed(&mut stream, 1024, d));
    assert_eq!((t.kind, t.bytes), (TimeoutKind::Idle, 0));
    let start = Instant::now();
    let err = loop {
        match lpframe::read_frame_timed(&mut stream, 1024, d) {
            Err(Error::Timeout(_)) => assert!(start.elapsed() < ms(2000)),
            other => break other.unwrap_err(),
        }
    };
    let since = Instant::now().saturating_duration_since(first.recv_timeout(ms(5000)).unwrap());
    let Error::Desync { io, done } = &err else {
        panic!("{err:?}")
    };
    assert!(err.is_fatal());
    let t = io
        .get_ref()
        .and_then(|e| e.downcast_ref::<Timeout>())
        .copied()
        .unwrap();
    assert_eq!(t.bytes, *done);
    assert_cut(&t, TimeoutKind::Stall, ms(400), since);
}

#[test]
fn read_frame_timed_header_only_stall_is_cut_at_the_deadline() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let wire = frame(b"payload never sent");
    let first = client(
        listener.local_addr().unwrap(),
        vec![(ms(0), wire[..16].to_vec())],
        ms(3000),
    );
    let (mut stream, _) = listener.accept().unwrap();
    let err = lpframe::read_frame_timed(&mut stream, 1024, idle_and_stall(5000, 200)).unwrap_err();
    let since = Instant::now().saturating_duration_since(first.recv_timeout(ms(5000)).unwrap());
    // Stateless: the 16 bytes read are gone, so the stall is fatal
    // (Desync), and carries the Timeout.
    let Error::Desync { io, done } = &err else {
        panic!("{err:?}")
    };
    let t = io
        .get_ref()
        .and_then(|e| e.downcast_ref::<Timeout>())
        .copied()
        .unwrap();
    assert_eq!((t.bytes, *done), (16, 16));
    assert_cut(&t, TimeoutKind::Stall, ms(200), since);
}

#[test]
fn read_frame_timed_pause_and_just_in_time_frames_are_served() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = frame(&[7u8; 24]);
    let b = frame(b"just in time");
    // a: a 200 ms pause inside (stall 400); b: completes 30 ms before its
    // deadline (the exact 1 ms case is on tokio's paused clock below and
    // in the tracker's tests: real loopback cannot place a byte to 1 ms).
    let script = vec![
        (ms(0), a[..10].to_vec()),
        (ms(200), a[10..].to_vec()),
        (ms(50), b[..5].to_vec()),
        (ms(370), b[5..].to_vec()),
    ];
    let _first = client(listener.local_addr().unwrap(), script, ms(3000));
    let (mut stream, _) = listener.accept().unwrap();
    let d = idle_and_stall(1000, 400);
    let got = lpframe::read_frame_timed(&mut stream, 1024, d)
        .unwrap()
        .unwrap();
    assert_eq!(&got[..], &[7u8; 24]);
    let got = lpframe::read_frame_timed(&mut stream, 1024, d)
        .unwrap()
        .unwrap();
    assert_eq!(&got[..], b"just in time");
    // The socket is left blocking.
    assert_eq!(stream.read_timeout().unwrap(), None);
}

#[test]
fn read_frame_timed_after_an_idle_timeout_the_next_call_reads_the_frame() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let payload: Vec<u8> = (0..5000u32).map(|i| (i * 13) as u8).collect();
    let wire = frame(&payload);
    let _first = client(
        listener.local_addr().unwrap(),
        vec![(ms(300), wire)],
        ms(3000),
    );
    let (mut stream, _) = listener.accept().unwrap();
    let t = timeout(lpframe::read_frame_timed(
        &mut stream,
        1 << 20,
        idle_and_stall(100, 1000),
    ));
    assert_eq!((t.kind, t.bytes), (TimeoutKind::Idle, 0));
    // Not fatal: nothing was read; call again with a longer idle deadline.
    let got = lpframe::read_frame_timed(&mut stream, 1 << 20, idle_and_stall(2000, 1000))
        .unwrap()
        .unwrap();
    assert_eq!(&got[..], &payload[..]);
}

// ---- exact boundaries, on a scripted clock ----

#[test]
fn tracker_a_frame_completing_1_ms_before_its_deadline_is_served() {
    use lpframe::DeadlineTracker;
    let t0 = Instant::now();
    let mut t = DeadlineTracker::new(idle_and_stall(1000, 400), t0);
    t.received(5, t0 + ms(10));
    assert!(t.check(t0 + ms(409)).is_ok()); // the last byte's read, 1 ms before
    t.received(15, t0 + ms(409));
    t.frame_done(0, t0 + ms(409));
    assert!(t.check(t0 + ms(410)).is_ok()); // re-armed: idle from 409
                                            // And the same frame 1 ms later is cut, at the deadline's instant.
    let mut t = DeadlineTracker::new(idle_and_stall(1000, 400), t0);
    t.received(5, t0 + ms(10));
    let cut = t.check(t0 + ms(410)).unwrap_err();
    assert_eq!(
        (cut.kind, cut.elapsed, cut.bytes),
        (TimeoutKind::Stall, ms(400), 5)
    );
}

// ---- blocking FrameWriter ----

#[test]
fn blocking_write_deadline_against_a_client_that_never_reads() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let _peer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (stream, _) = listener.accept().unwrap();
    let mut w = FrameWriter::new(stream);
    w.set_write_deadline(Some(ms(200)));
    let payload = vec![3u8; 256 * 1024];
    let start = Instant::now();
    let mut accepted = 0u64;
    let t = loop {
        assert!(start.elapsed() < ms(10_000));
        let before = Instant::now();
        match w.write_frame(&payload).and_then(|()| w.flush()) {
            Ok(()) => accepted += 1,
            Err(Error::Timeout(t)) => {
                assert!(
                    before.elapsed() <= ms(200) + LATE,
                    "late: {:?}",
                    before.elapsed()
                );
                break t;
            }
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(t.kind, TimeoutKind::Write);
    assert!(t.elapsed >= ms(200) && t.elapsed <= ms(200) + LATE, "{t}");
    assert_eq!(t.queued, w.buffered() as u64);
    assert!(t.queued > 0 && !w.is_poisoned());
    assert_eq!(w.stats().deadlines_expired, 1);
    // Every byte is accounted for: on the wire or still queued.
    let frame_len = (16 + payload.len()) as u64;
    assert!(accepted * frame_len + frame_len >= t.queued);
}

// ---- tokio: WithDeadlines over Framed<_, FrameCodec> ----

#[cfg(feature = "tokio")]
mod tokio_path {
    use super::*;
    use bytes::Bytes;
    use futures::{SinkExt, StreamExt};
    use lpframe::{FrameCodec, FrameSink, WithDeadlines};
    use tokio_util::codec::Framed;

    type Served = (Option<Result<lpframe::Received, Error>>, Duration);

    /// One connection served through WithDeadlines; the client is a std
    /// thread playing `script`. Returns the first item, the time from the
    /// client's first byte to it, and the stream.
    fn serve(
        script: Script,
        deadlines: Deadlines,
    ) -> (
        Served,
        WithDeadlines<Framed<tokio::net::TcpStream, FrameCodec>>,
        tokio::runtime::Runtime,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (item, since, framed) = rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let first = client(listener.local_addr().unwrap(), script, ms(3000));
            let (socket, _) = listener.accept().await.unwrap();
            let mut framed = WithDeadlines::new(Framed::new(socket, FrameCodec::new()), deadlines);
            let item = tokio::time::timeout(ms(5000), framed.next()).await.unwrap();
            let end = Instant::now();
            let first = tokio::task::spawn_blocking(move || first.recv_timeout(ms(5000)).unwrap())
                .await
                .unwrap();
            (item, end.saturating_duration_since(first), framed)
        });
        ((item, since), framed, rt)
    }

    fn timeout_of(item: Option<Result<lpframe::Received, Error>>) -> Timeout {
        match item {
            Some(Err(Error::Timeout(t))) => t,
            other => panic!("expected a timeout, got {other:?}"),
        }
    }

    fn payload_of(item: Option<Result<lpframe::Received, Error>>) -> Bytes {
        match item {
            Some(Ok(lpframe::Received::Frame(frame))) => frame.into_payload(),
            other => panic!("expected a frame, got {other:?}"),
        }
    }

    #[test]
    fn tokio_idle_client() {
        let ((item, since), framed, _rt) = serve(vec![], idle_and_stall(200, 1000));
        let t = timeout_of(item);
        assert_cut(&t, TimeoutKind::Idle, ms(200), since);
        // Counted in the codec's stats, where an operator reads them.
        assert_eq!(framed.get_ref().codec().stats().deadlines_expired, 1);
    }

    #[test]
    fn tokio_header_only_stall() {
        let wire = frame(b"never");
        let ((item, since), framed, _) = serve(
            vec![(ms(0), wire[..16].to_vec())],
            idle_and_stall(5000, 200),
        );
        let t = timeout_of(item);
        assert_cut(&t, TimeoutKind::Stall, ms(200), since);
        assert_eq!(t.bytes, 16);
        assert!(framed.is_mid_frame() && framed.get_ref().codec().is_mid_frame());
    }

    #[test]
    fn tokio_pause_inside_a_frame_is_served() {
        let wire = frame(&[7u8; 24]);
        let script = vec![
            (ms(700), wire[..10].to_vec()),
            (ms(200), wire[10..].to_vec()),
        ];
        let ((item, _), _, _) = serve(script, idle_and_stall(1000, 400));
        assert_eq!(&payload_of(item)[..], &[7u8; 24]);
    }

    #[test]
    fn tokio_frame_completing_just_before_its_deadline_is_served() {
        let wire = frame(b"just in time");
        let script = vec![(ms(0), wire[..5].to_vec()), (ms(370), wire[5..].to_vec())];
        let ((item, since), _, _) = serve(script, idle_and_stall(1000, 400));
        assert_eq!(&payload_of(item)[..], b"just in time");
        assert!(since < ms(400));
    }

    /// The exact boundary on tokio's paused clock (real loopback cannot
    /// place a byte to the millisecond): the last byte 1 ms before the
    /// stall deadline is served; 1 ms after, the frame is cut at the
    /// deadline, exactly.
    #[test]
    fn tokio_a_frame_completing_1_ms_before_its_deadline_is_served_paused_clock() {
        use tokio::io::AsyncWriteExt;
        for (last_at, served) in [(399u64, true), (401, false)] {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .start_paused(true)
                .build()
                .unwrap();
            rt.block_on(async {
                let wire = frame(b"just in time");
                let (mut tx, rx) = tokio::io::duplex(1024);
                let t0 = tokio::time::Instant::now();
                let writer = tokio::spawn(async move {
                    tokio::time::sleep_until(t0 + ms(10)).await;
                    tx.write_all(&wire[..5]).await.unwrap();
                    tokio::time::sleep_until(t0 + ms(10 + last_at)).await;
                    let _ = tx.write_all(&wire[5..]).await;
                    tx
                });
                let mut framed = WithDeadlines::new(
                    tokio_util::codec::FramedRead::new(rx, FrameCodec::new()),
                    idle_and_stall(1000, 400),
                );
                let item = framed.next().await;
                let at = tokio::time::Instant::now() - t0;
                if served {
                    assert_eq!(&payload_of(item)[..], b"just in time");
                    assert_eq!(at, ms(10 + last_at));
                } else {
                    let t = timeout_of(item);
                    assert_eq!(
                        (t.kind, t.elapsed, t.bytes),
                        (TimeoutKind::Stall, ms(400), 5)
                    );
                    assert_eq!(at, ms(410));
                }
                drop(writer.await.unwrap());
            });
        }
    }

    #[test]
    fn tokio_trickler_is_cut_at_the_deadline() {
        let wire = frame(&[1u8; 24]);
        let mut cuts = Vec::new();
        for _ in 0..10 {
            let ((item, since), _, _) = serve(trickle(&wire, ms(30)), idle_and_stall(5000, 400));
            let t = timeout_of(item);
            cuts.push(assert_cut(&t, TimeoutKind::Stall, ms(400), since));
            assert!((12..=15).contains(&t.bytes), "{t}");
        }
        summary("tokio WithDeadlines", cuts);
    }

    #[test]
    fn tokio_leftover_header_bytes_start_the_next_frame() {
        // One frame and 3 bytes of the next in one write: the next frame's
        // stall deadline runs from that read, and the codec says so at once.
        let mut wire = frame(b"first");
        let second = frame(b"second");
        wire.extend_from_slice(&second[..3]);
        let ((item, _), mut framed, rt) = serve(vec![(ms(0), wire)], idle_and_stall(5000, 200));
        assert_eq!(&payload_of(item)[..], b"first");
        assert!(framed.get_ref().codec().is_mid_frame());
        assert!(framed.is_mid_frame());
        let t = rt.block_on(async { timeout_of(framed.next().await) });
        assert_eq!((t.kind, t.bytes), (TimeoutKind::Stall, 3));
        assert!(t.elapsed >= ms(200) && t.elapsed <= ms(200) + LATE, "{t}");
    }

    #[test]
    fn tokio_extend_after_a_timeout_delivers_the_frame_byte_exact() {
        let payload: Vec<u8> = (0..100_000u32).map(|i| (i * 7) as u8).collect();
        let wire = frame(&payload);
        let script = vec![
            (ms(0), wire[..70_000].to_vec()),
            (ms(400), wire[70_000..].to_vec()),
        ];
        let ((item, _), mut framed, rt) = serve(script, idle_and_stall(5000, 150));
        let t = timeout_of(item);
        assert_eq!(t.kind, TimeoutKind::Stall);
        framed.set_deadlines(idle_and_stall(5000, 5000));
        let item = rt.block_on(framed.next());
        assert_eq!(&payload_of(item)[..], &payload[..]);
    }

    pub(super) fn figures(n: usize) {
        let wire = frame(&[1u8; 24]);
        let header = frame(b"never")[..16].to_vec();
        let (mut trickled, mut trickle_client, mut idle, mut head, mut write) =
            (vec![], vec![], vec![], vec![], vec![]);
        for _ in 0..n {
            let ((item, since), _, _) =
                serve(super::trickle(&wire, ms(30)), idle_and_stall(5000, 400));
            trickled.push(timeout_of(item).elapsed);
            trickle_client.push(since);
            let ((item, _), _, _) = serve(vec![], idle_and_stall(200, 1000));
            idle.push(timeout_of(item).elapsed);
            let ((item, _), _, _) = serve(vec![(ms(0), header.clone())], idle_and_stall(5000, 200));
            head.push(timeout_of(item).elapsed);
            write.push(write_cut(ms(200)));
        }
        eprintln!(
            "tokio WithDeadlines, trickler (1 B / 30 ms) vs 400 ms stall: {}",
            stats(trickled)
        );
        eprintln!(
            "  same, client clock (first byte to the cut): {}",
            stats(trickle_client)
        );
        eprintln!("tokio WithDeadlines, idle vs 200 ms: {}", stats(idle));
        eprintln!(
            "tokio WithDeadlines, header-only vs 200 ms stall: {}",
            stats(head)
        );
        eprintln!(
            "tokio WithDeadlines<FrameSink>, write deadline 200 ms: {}",
            stats(write)
        );
    }

    /// The write deadline on WithDeadlines<FrameSink>: one cut, its elapsed.
    fn write_cut(limit: Duration) -> Duration {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let _peer = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
                .await
                .unwrap();
            let (socket, _) = listener.accept().await.unwrap();
            let mut s =
                WithDeadlines::new(FrameSink::new(socket), Deadlines::new()).write_deadline(limit);
            let payload = Bytes::from(vec![5u8; 256 * 1024]);
            let start = Instant::now();
            loop {
                assert!(start.elapsed() < ms(10_000));
                match s.send(payload.clone()).await {
                    Ok(()) => {}
                    Err(Error::Timeout(t)) => return t.elapsed,
                    Err(e) => panic!("{e}"),
                }
            }
        })
    }

    #[test]
    fn tokio_write_deadline_against_a_client_that_never_reads() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let _peer = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
                .await
                .unwrap();
            let (mut socket, _) = listener.accept().await.unwrap();
            for sink_kind in 0..2 {
                let payload = Bytes::from(vec![5u8; 256 * 1024]);
                let start = Instant::now();
                let t = if sink_kind == 0 {
                    let (_r, w) = socket.split();
                    let mut s = WithDeadlines::new(FrameSink::new(w), Deadlines::new())
                        .write_deadline(ms(200));
                    loop {
                        assert!(start.elapsed() < ms(10_000));
                        let before = Instant::now();
                        match s.send(payload.clone()).await {
                            Ok(()) => {}
                            Err(Error::Timeout(t)) => {
                                assert!(before.elapsed() <= ms(200) + LATE);
                                assert_eq!(t.queued, s.get_ref().queued() as u64);
                                assert_eq!(s.get_ref().stats().deadlines_expired, 1);
                                break t;
                            }
                            Err(e) => panic!("{e}"),
                        }
                    }
                } else {
                    // The codec's write path (the socket is already full).
                    let (_r, w) = socket.split();
                    let mut s = WithDeadlines::new(
                        tokio_util::codec::FramedWrite::new(w, FrameCodec::new()),
                        Deadlines::new(),
                    )
                    .write_deadline(ms(200));
                    match s.send(payload.clone()).await {
                        Err(Error::Timeout(t)) => {
                            assert_eq!(t.queued, s.get_ref().write_buffer().len() as u64);
                            assert_eq!(s.get_ref().encoder().stats().deadlines_expired, 1);
                            t
                        }
                        other => panic!("expected a write timeout, got {other:?}"),
                    }
                };
                assert_eq!(t.kind, TimeoutKind::Write);
                assert!(t.elapsed >= ms(200) && t.elapsed <= ms(200) + LATE, "{t}");
                assert!(t.queued > 0, "{t}");
            }
        });
    }
}

// ---- the figures of RELIABILITY.md (#[ignore]d: about a minute) ----

fn stats(mut v: Vec<Duration>) -> String {
    v.sort();
    let n = v.len();
    format!(
        "n={n} min {:.1} ms, median {:.1} ms, max {:.1} ms",
        v[0].as_secs_f64() * 1e3,
        v[n / 2].as_secs_f64() * 1e3,
        v[n - 1].as_secs_f64() * 1e3
    )
}

/// The write deadline on the blocking FrameWriter: one cut, its elapsed.
fn blocking_write_cut(limit: Duration) -> Duration {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let _peer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (stream, _) = listener.accept().unwrap();
    let mut w = FrameWriter::new(stream);
    w.set_write_deadline(Some(limit));
    let payload = vec![3u8; 256 * 1024];
    let start = Instant::now();
    loop {
        assert!(start.elapsed() < ms(10_000));
        match w.write_frame(&payload).and_then(|()| w.flush()) {
            Ok(()) => {}
            Err(Error::Timeout(t)) => return t.elapsed,
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
#[ignore = "about a minute: the cut-time figures of RELIABILITY.md"]
fn cut_time_figures() {
    const N: usize = 20;
    let wire = frame(&[1u8; 24]);
    let header = frame(b"payload never sent")[..16].to_vec();
    let (mut trickled, mut trickle_client, mut idle, mut head, mut write) =
        (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..N {
        let (r, since, _) = blocking_read(trickle(&wire, ms(30)), idle_and_stall(5000, 400));
        trickled.push(timeout(r).elapsed);
        trickle_client.push(since);
        let (r, _, _) = blocking_read(vec![], idle_and_stall(200, 1000));
        idle.push(timeout(r).elapsed);
        let (r, _, _) = blocking_read(vec![(ms(0), header.clone())], idle_and_stall(5000, 200));
        head.push(timeout(r).elapsed);
        write.push(blocking_write_cut(ms(200)));
    }
    eprintln!(
        "blocking FrameReader, trickler (1 B / 30 ms) vs 400 ms stall: {}",
        stats(trickled)
    );
    eprintln!(
        "  same, client clock (first byte to the cut): {}",
        stats(trickle_client)
    );
    eprintln!("blocking FrameReader, idle vs 200 ms: {}", stats(idle));
    eprintln!(
        "blocking FrameReader, header-only vs 200 ms stall: {}",
        stats(head)
    );
    eprintln!(
        "blocking FrameWriter, write deadline 200 ms: {}",
        stats(write)
    );
    #[cfg(feature = "tokio")]
    tokio_path::figures(N);
}
