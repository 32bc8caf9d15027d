//! The tokio codecs receive payloads of 64 KiB or more their own way
//! (`FrameDecoder::make_room`: room made before the bytes arrive, reads
//! that stop at the frame's end). That must change nothing but where bytes
//! sit: same frames, same errors, at every chunking — including reads that
//! run far past a frame's end — on every path (`testkit::every_path` runs the
//! codecs directly and under a real `FramedRead`, against the decoder).
#![cfg(feature = "tokio")]

use futures::StreamExt;
use lpframe::{Config, DecodeError, FrameCodec, DEFAULT_MAX_FRAME_LEN};
use testkit::{
    after, chunkings_around_second_header, encode_all, every_path, frames_of_sizes, pattern,
    timeouts_before_chunks, Chunked, Event,
};
use tokio_util::codec::FramedRead;

const SIZES: [usize; 10] = [
    10,
    64 * 1024 - 1,
    64 * 1024,
    3,
    64 * 1024 + 1,
    1024 * 1024,
    0,
    200_000,
    2 * 1024 * 1024 + 7,
    5,
];

fn stream() -> (Vec<Vec<u8>>, Vec<u8>) {
    frames_of_sizes(&SIZES)
}

/// Whole, fixed sizes from small to far larger than a frame, and cuts
/// around the headers of the large frames.
fn chunkings(wire: &[u8]) -> Vec<Vec<usize>> {
    chunkings_around_second_header(wire, &[4099, 65_536, 100_003, 700_001, 3_000_000], 10)
}

fn frames_then_after(payloads: &[Vec<u8>]) -> Vec<Event> {
    let mut expected: Vec<Event> = payloads.iter().cloned().map(Event::Frame).collect();
    expected.push(Event::Frame(after(DEFAULT_MAX_FRAME_LEN).to_vec()));
    expected
}

#[test]
fn large_and_small_frames_at_every_chunking() {
    let (payloads, wire) = stream();
    let expected = frames_then_after(&payloads);
    for chunks in chunkings(&wire) {
        assert_eq!(
            every_path(
                &wire,
                &chunks,
                &timeouts_before_chunks(&chunks),
                Config::default()
            ),
            expected,
            "{} chunks",
            chunks.len()
        );
    }
}

#[test]
fn a_corrupt_large_payload_costs_that_frame_only_wherever_the_flip() {
    let big = pattern(300_000, 9);
    for at in [0, 100, 65_535, 65_536, 150_000, 299_999] {
        let mut wire = encode_all(&[&big, b"after"]);
        wire[16 + at] ^= 0x40;
        for size in [16_411, 1 << 20] {
            let chunks: Vec<usize> = wire.chunks(size).map(<[u8]>::len).collect();
            let events = every_path(
                &wire,
                &chunks,
                &timeouts_before_chunks(&chunks),
                Config::default(),
            );
            assert_eq!(events.len(), 3, "flip at {at}, reads of {size}");
            assert!(
                matches!(
                    &events[0],
                    Event::Error(DecodeError::PayloadChecksum { len: 300_000, .. })
                ),
                "{:?}",
                events[0]
            );
            assert_eq!(events[1], Event::Frame(b"after".to_vec()));
        }
    }
}

#[test]
fn a_large_payload_cut_by_eof_is_truncated_and_recovery_skips_it() {
    let (_, wire) = stream();
    // Inside the 1 MiB payload (frame 5).
    let start = SIZES[..5].iter().map(|n| 16 + n).sum::<usize>();
    for keep in [16, 17, 16 + 65_536, 16 + 1024 * 1024 - 1] {
        let cut = &wire[..start + keep];
        for size in [9_999, 1 << 20] {
            let chunks: Vec<usize> = cut.chunks(size).map(<[u8]>::len).collect();
            let events = every_path(
                cut,
                &chunks,
                &timeouts_before_chunks(&chunks),
                Config::default(),
            );
            let missing = 1024 * 1024 - (keep - 16);
            assert_eq!(events.len(), 6, "5 frames then the error");
            assert_eq!(
                events[5],
                Event::canonical(&format!("Truncated part=payload missing={missing}"))
            );
            let events = every_path(
                cut,
                &chunks,
                &timeouts_before_chunks(&chunks),
                testkit::Setup::recovering(Config::new()),
            );
            assert_eq!(events.len(), 7);
            assert_eq!(
                events[5],
                Event::canonical(&format!(
                    "Skipped offset={start} len={keep} cause=Truncated part=payload missing={missing}"
                ))
            );
        }
    }
}

#[tokio::test]
async fn frames_held_by_the_caller_are_never_overwritten() {
    // Keep every frame while the next ones are read (the buffer is shared,
    // so room must come from new memory): each still holds its payload.
    let (payloads, wire) = stream();
    for chunk in [4096, 65_536, 1 << 20, 8 << 20] {
        let reader = Chunked::new(wire.clone(), chunk);
        let mut framed = FramedRead::new(reader, FrameCodec::new());
        let mut held = Vec::new();
        while let Some(item) = framed.next().await {
            held.push(item.unwrap().into_frame().unwrap());
        }
        assert_eq!(held.len(), payloads.len());
        for (frame, p) in held.iter().zip(&payloads) {
            assert_eq!(&frame[..], &p[..], "reads of {chunk}");
        }
    }
}
