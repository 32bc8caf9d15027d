//! Idle connections hold no framing buffers (BENCHMARKS.md, "Idle
//! connections"): after an exchange, a `FramedRead<FrameCodec>` waiting for
//! the next frame keeps at most a 256-byte read buffer, and a `FrameSink`
//! that was flushed keeps at most its last small frame's buffer (a unit
//! test in src/sink.rs, which sees the buffer); and a frame split across
//! idle gaps (a `Pending` read between its parts) decodes the same on every
//! path.
#![cfg(feature = "tokio")]

use futures::StreamExt;
use lpframe::{Config, FrameCodec, DEFAULT_MAX_FRAME_LEN};
use testkit::{encode_all, every_path, sizes_of_cuts, with_after, Event};
use tokio::io::AsyncWriteExt;
use tokio_util::codec::FramedRead;

/// The read buffer an idle codec keeps (`buffers::IDLE_READ`).
const IDLE_READ: usize = 256;

/// Polls `rx` once: nothing has arrived, so the codec is at rest.
fn poll_once<S: futures::Stream + Unpin>(rx: &mut S) {
    let waker = futures::task::noop_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    assert!(rx.poll_next_unpin(&mut cx).is_pending());
}

#[tokio::test]
async fn an_idle_framed_read_keeps_a_small_buffer() {
    let (mut tx, rx) = tokio::io::duplex(1 << 20);
    let mut rx = FramedRead::new(rx, FrameCodec::new());
    assert_eq!(rx.read_buffer().capacity(), 8 * 1024); // tokio-util's, before any read
    let mut wire = Vec::new();
    for len in [64usize, 240, 1000, 5000, 200_000, 64] {
        wire.clear();
        let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
        lpframe::write_frame(&mut wire, &payload).unwrap();
        tx.write_all(&wire).await.unwrap();
        let frame = rx.next().await.unwrap().unwrap().into_frame().unwrap();
        assert_eq!(frame.payload(), &payload[..]);
        drop(frame);
        poll_once(&mut rx);
        assert!(
            rx.read_buffer().capacity() <= IDLE_READ,
            "after a {len}-byte frame the idle read buffer holds {}",
            rx.read_buffer().capacity()
        );
        assert!(!rx.decoder().is_mid_frame());
    }
}

#[tokio::test]
async fn a_frame_in_progress_keeps_its_bytes() {
    let (mut tx, rx) = tokio::io::duplex(1 << 20);
    let mut rx = FramedRead::new(rx, FrameCodec::new());
    let mut wire = Vec::new();
    lpframe::write_frame(&mut wire, &[9u8; 3000]).unwrap();
    for part in [&wire[..10], &wire[10..2000], &wire[2000..]] {
        poll_once(&mut rx); // an idle gap
        tx.write_all(part).await.unwrap();
        tokio::task::yield_now().await;
    }
    let frame = rx.next().await.unwrap().unwrap().into_frame().unwrap();
    assert_eq!(frame.payload(), &[9u8; 3000][..]);
}

/// Frames of every size class (small, over the 256-byte idle buffer,
/// over 8 KiB, large), delivered at every frame boundary and inside
/// frames, with `Path::Framed` pending before every read: the same events
/// on every path.
#[test]
fn frames_split_across_idle_gaps_decode_the_same() {
    let payloads: Vec<Vec<u8>> = [0usize, 64, 239, 240, 241, 300, 9000, 70_000, 5]
        .iter()
        .map(|&n| (0..n).map(|i| (i * 7 + n) as u8).collect())
        .collect();
    let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
    let wire = encode_all(&refs);
    let expected = with_after(
        payloads.iter().cloned().map(Event::Frame).collect(),
        DEFAULT_MAX_FRAME_LEN,
    );
    let mut boundaries = Vec::new();
    let mut at = 0;
    for p in &payloads {
        at += 16 + p.len();
        boundaries.push(at);
    }
    // Whole frames per read; a cut inside every header and payload; a
    // header alone, then its payload.
    let mut inside = Vec::new();
    let mut start = 0;
    for &end in &boundaries {
        inside.extend([start + 3, start + 16, start + (end - start) / 2]);
        start = end;
    }
    inside.sort_unstable();
    inside.dedup();
    inside.retain(|&c| c < wire.len());
    for cuts in [&boundaries[..boundaries.len() - 1], &inside[..]] {
        let chunks = sizes_of_cuts(wire.len(), cuts);
        assert_eq!(every_path(&wire, &chunks, &[], Config::default()), expected);
    }
}
