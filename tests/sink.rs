//! `FrameSink`: the bytes it writes are exactly the frames (whatever the
//! writer accepts per call, vectored or not, with `Pending` between calls),
//! it refuses bad frames before queueing anything, it poisons itself after
//! a write that fails mid-frame (and only then), backpressure bounds what
//! it queues, and dropping a flush half-way loses nothing.
#![cfg(feature = "tokio")]

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use lpframe::{
    Config, DecodeError, EncodeError, Error, FrameCodec, FrameDecoder, FrameSink, HEADER_LEN,
};
use tokio::io::AsyncWrite;
use tokio_util::codec::FramedRead;

/// A writer that follows a script: each call is first answered `Pending`
/// (if `pending`), then takes at most `per_call` bytes; after `fail_at`
/// bytes in total it fails with `fail_kind` (once, if `fail_once`).
struct Scripted {
    out: Vec<u8>,
    per_call: usize,
    vectored: bool,
    pending: bool,
    owe_pending: bool,
    fail_at: Option<usize>,
    fail_kind: io::ErrorKind,
    fail_once: bool,
    calls: usize,
    flushes: usize,
    shutdown: bool,
}

impl Scripted {
    fn new(per_call: usize, vectored: bool, pending: bool) -> Self {
        Scripted {
            out: Vec::new(),
            per_call,
            vectored,
            pending,
            owe_pending: pending,
            fail_at: None,
            fail_kind: io::ErrorKind::BrokenPipe,
            fail_once: false,
            calls: 0,
            flushes: 0,
            shutdown: false,
        }
    }

    fn failing_at(mut self, at: usize, kind: io::ErrorKind, once: bool) -> Self {
        self.fail_at = Some(at);
        self.fail_kind = kind;
        self.fail_once = once;
        self
    }

    fn take(&mut self, cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<io::Result<usize>> {
        if self.owe_pending {
            self.owe_pending = false;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.owe_pending = self.pending;
        self.calls += 1;
        let mut room = self.per_call;
        if let Some(at) = self.fail_at {
            if self.out.len() >= at {
                if self.fail_once {
                    self.fail_at = None;
                }
                return Poll::Ready(Err(self.fail_kind.into()));
            }
            room = room.min(at - self.out.len());
        }
        let mut n = 0;
        for b in bufs {
            let take = b.len().min(room - n);
            self.out.extend_from_slice(&b[..take]);
            n += take;
            if n == room {
                break;
            }
        }
        Poll::Ready(Ok(n))
    }
}

impl AsyncWrite for Scripted {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().take(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        if me.vectored {
            me.take(cx, bufs)
        } else {
            let first = bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| b);
            me.take(cx, &[IoSlice::new(first)])
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.vectored
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().flushes += 1;
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().shutdown = true;
        Poll::Ready(Ok(()))
    }
}

fn payload(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(13).wrapping_add(seed))
        .collect::<Vec<u8>>()
        .into()
}

/// Sizes on both sides of the copy threshold (2 KiB) and large ones.
fn payloads() -> Vec<Bytes> {
    [
        0,
        1,
        100,
        2047,
        2048,
        2049,
        4096,
        3,
        65_536,
        10,
        300_000,
        0,
        1 << 20,
        5,
    ]
    .iter()
    .enumerate()
    .map(|(i, &n)| payload(n, i as u8))
    .collect()
}

fn expected_wire(payloads: &[Bytes]) -> Vec<u8> {
    let mut wire = Vec::new();
    for p in payloads {
        lpframe::write_frame(&mut wire, p).unwrap();
    }
    wire
}

/// Decodes `wire` completely: the payloads, then the error at its end (if any).
fn decode_all(wire: &[u8]) -> (Vec<Bytes>, Option<DecodeError>) {
    let mut buf = bytes::BytesMut::from(wire);
    let mut decoder = FrameDecoder::new();
    let mut frames = Vec::new();
    loop {
        match decoder.decode_eof(&mut buf) {
            Ok(Some(f)) => frames.push(f.into_payload()),
            Ok(None) => return (frames, None),
            Err(e) => return (frames, Some(e)),
        }
    }
}

#[tokio::test]
async fn writes_exactly_the_frames_whatever_the_writer_takes_per_call() {
    let payloads = payloads();
    let wire = expected_wire(&payloads);
    for per_call in [1, 7, 16, 17, 4096, 100_000, usize::MAX] {
        for vectored in [true, false] {
            for pending in [false, true] {
                if per_call == 1 && pending {
                    continue; // 1.4 M polls: covered by 7 bytes per call
                }
                let mut sink = FrameSink::new(Scripted::new(per_call, vectored, pending));
                for p in &payloads {
                    sink.feed(p.clone()).await.unwrap();
                }
                sink.close().await.unwrap();
                let w = sink.get_ref();
                assert!(
                    w.out == wire,
                    "per_call {per_call} vectored {vectored} pending {pending}"
                );
                assert!(w.shutdown);
            }
        }
    }
}

#[tokio::test]
async fn large_payloads_go_out_from_their_own_memory_with_their_header() {
    // One vectored call takes header and payload of a large frame together.
    let mut sink = FrameSink::new(Scripted::new(usize::MAX, true, false));
    let big = payload(1 << 20, 1);
    sink.send(big.clone()).await.unwrap();
    assert_eq!(sink.get_ref().calls, 1);
    assert_eq!(sink.get_ref().out, expected_wire(&[big]));
    // Small frames are coalesced: 100 of them, one flush, one call.
    let mut sink = FrameSink::new(Scripted::new(usize::MAX, true, false));
    sink.set_backpressure_boundary(1 << 20);
    let small: Vec<Bytes> = (0..100).map(|i| payload(64, i)).collect();
    for p in &small {
        sink.feed(p.clone()).await.unwrap();
    }
    assert_eq!(sink.get_ref().calls, 0);
    sink.flush().await.unwrap();
    assert_eq!(sink.get_ref().calls, 1);
    assert_eq!(sink.get_ref().out, expected_wire(&small));
}

#[tokio::test]
async fn oversized_frames_are_refused_before_queueing() {
    let config = Config::new().max_write_frame_len(10_000);
    let mut sink = FrameSink::with_config(Scripted::new(usize::MAX, true, false), config);
    sink.feed(payload(5, 0)).await.unwrap();
    let queued = sink.queued();
    assert_eq!(queued, HEADER_LEN + 5);

    let err = sink.feed(payload(10_001, 0)).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Encode(EncodeError::TooLarge {
                len: 10_001,
                max: 10_000
            })
        ),
        "{err:?}"
    );
    assert!(!err.is_fatal());
    // Nothing of it was queued, and the sink goes on.
    assert_eq!(sink.queued(), queued);
    assert!(!sink.is_poisoned());
    sink.send(payload(10_000, 1)).await.unwrap();
    assert_eq!(
        sink.get_ref().out,
        expected_wire(&[payload(5, 0), payload(10_000, 1)])
    );
}

#[tokio::test]
async fn a_write_that_fails_mid_frame_poisons_the_sink() {
    let payloads = payloads();
    let wire = expected_wire(&payloads);
    // Inside a header, inside a small and a large payload, and exactly on a
    // frame boundary.
    for fail_at in [5, HEADER_LEN + 50, 20_000, 200_000, HEADER_LEN] {
        for vectored in [true, false] {
            let w = Scripted::new(3000, vectored, true).failing_at(
                fail_at,
                io::ErrorKind::BrokenPipe,
                true,
            );
            let mut sink = FrameSink::new(w);
            let mut first_error = None;
            for p in &payloads {
                if let Err(e) = sink.send(p.clone()).await {
                    first_error = Some(e);
                    break;
                }
            }
            let err = first_error.expect("the writer failed");
            assert!(
                matches!(&err, Error::Io(e) if e.kind() == io::ErrorKind::BrokenPipe),
                "{err:?}"
            );
            assert!(err.is_fatal());
            assert!(sink.is_poisoned());
            // Every later call fails, and nothing more is written, even though
            // the writer would now accept bytes again.
            let written = sink.get_ref().out.len();
            assert_eq!(written, fail_at);
            assert!(matches!(
                sink.send(payload(10, 0)).await,
                Err(Error::WriterPoisoned)
            ));
            assert!(matches!(sink.flush().await, Err(Error::WriterPoisoned)));
            assert!(matches!(sink.close().await, Err(Error::WriterPoisoned)));
            assert_eq!(sink.get_ref().out.len(), written);
            // What reached the wire is whole frames, then (unless the fault
            // fell on a boundary) one truncated frame: never a spliced one.
            assert_eq!(&sink.get_ref().out[..], &wire[..written]);
            let (frames, end) = decode_all(&sink.get_ref().out);
            assert_eq!(&frames[..], &payloads[..frames.len()]);
            if fail_at == HEADER_LEN {
                assert_eq!(end, None);
            } else {
                assert!(
                    matches!(end, Some(DecodeError::Truncated { .. })),
                    "{end:?}"
                );
            }
        }
    }
}

#[tokio::test]
async fn a_timeout_mid_frame_loses_nothing_and_the_next_flush_finishes() {
    let payloads = payloads();
    let wire = expected_wire(&payloads);
    for fail_at in [5, 20_000, 200_000] {
        let w = Scripted::new(3000, true, false).failing_at(fail_at, io::ErrorKind::TimedOut, true);
        let mut sink = FrameSink::new(w);
        let mut timed_out = 0;
        for p in &payloads {
            match sink.send(p.clone()).await {
                Ok(()) => {}
                Err(e) => {
                    assert!(e.is_timeout() && !e.is_fatal(), "{e:?}");
                    timed_out += 1;
                    // The frame was queued (start_send had succeeded): flush.
                    sink.flush().await.unwrap();
                }
            }
        }
        assert_eq!(timed_out, 1);
        assert!(!sink.is_poisoned());
        assert_eq!(sink.get_ref().out, wire, "fail_at {fail_at}");
    }
}

#[tokio::test]
async fn a_writer_that_accepts_nothing_poisons_the_sink() {
    let mut sink = FrameSink::new(Scripted::new(0, true, false));
    let err = sink.send(payload(10, 0)).await.unwrap_err();
    assert!(matches!(&err, Error::Io(e) if e.kind() == io::ErrorKind::WriteZero));
    assert!(sink.is_poisoned());
}

/// A writer that is never ready: backpressure must stop the queue near
/// the boundary, whatever the frame sizes.
struct Stuck;

impl AsyncWrite for Stuck {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, _: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Pending
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn backpressure_bounds_the_queue() {
    for size in [10, 5000, 100_000] {
        let mut sink = FrameSink::new(Stuck);
        let mut accepted = 0;
        for i in 0..1000 {
            let fed =
                tokio::time::timeout(Duration::from_millis(20), sink.feed(payload(size, i as u8)));
            if fed.await.is_err() {
                break;
            }
            accepted += 1;
        }
        // Queued: below the boundary before the last frame, plus that frame.
        assert!(accepted < 1000);
        assert!(
            sink.queued() < sink.backpressure_boundary() + HEADER_LEN + size,
            "size {size}: {} queued",
            sink.queued()
        );
    }
}

#[tokio::test]
async fn a_flush_dropped_half_way_resumes_exactly() {
    // Over a real pipe with a small buffer and a slow reader: every flush is
    // cut short by a timeout many times, and the reader still gets exactly
    // the frames.
    let payloads = payloads();
    let (a, b) = tokio::io::duplex(1000);
    let reader = tokio::spawn(async move {
        let mut rx = FramedRead::new(b, FrameCodec::new());
        let mut got = Vec::new();
        while let Some(item) = rx.next().await {
            got.push(item.unwrap().into_frame().unwrap().into_payload());
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        got
    });
    let mut sink = FrameSink::new(a);
    let mut cut = 0;
    for p in &payloads {
        sink.feed(p.clone()).await.unwrap();
        loop {
            let flush = sink.flush();
            match tokio::time::timeout(Duration::from_micros(200), flush).await {
                Ok(r) => break r.unwrap(),
                Err(_) => cut += 1,
            }
        }
    }
    sink.close().await.unwrap();
    drop(sink);
    assert_eq!(reader.await.unwrap(), payloads);
    assert!(cut > 0, "no flush was cut short");
}
