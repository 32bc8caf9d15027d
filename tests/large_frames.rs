//! `FrameReader` reads payloads of 64 KiB or more straight into a buffer of
//! their own. That path must behave exactly like the small-frame path:
//! same frames, same errors, nothing lost across timeouts, truncation and
//! recovery reported the same way, and memory that follows the bytes
//! received, not the declared length.

mod common;

use common::{
    canonical, encode_all, split_at_points, via_decoder, via_frame_reader, Event, StallAfter,
};
use lpframe::{Config, FrameReader};

/// Payload `i` of a test stream: deterministic, different per frame.
fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Frames on both sides of the threshold, back to back.
fn stream() -> (Vec<Vec<u8>>, Vec<u8>) {
    let sizes = [
        10,
        64 * 1024 - 1,
        64 * 1024,
        3,
        64 * 1024 + 1,
        1024 * 1024,
        0,
        200_000,
    ];
    let payloads: Vec<Vec<u8>> = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| payload(n, i as u8))
        .collect();
    let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
    let wire = encode_all(&refs);
    (payloads, wire)
}

/// Chunkings of `wire`: whole, fixed sizes, and cuts right around the
/// headers of the large frames.
fn chunkings(wire: &[u8]) -> Vec<Vec<Vec<u8>>> {
    let mut out = vec![vec![wire.to_vec()]];
    for size in [1000, 4096, 8192, 65_536, 100_003] {
        out.push(wire.chunks(size).map(<[u8]>::to_vec).collect());
    }
    // Cut just before, inside and just after a large frame's header, and
    // inside its payload.
    let second = 16 + 10;
    for cuts in [
        vec![second, second + 8, second + 16, second + 17],
        vec![second + 16 + 1000, second + 16 + 65_534],
        vec![second + 15],
    ] {
        out.push(split_at_points(wire, &cuts));
    }
    out
}

#[test]
fn large_and_small_frames_with_a_timeout_before_every_read() {
    let (payloads, wire) = stream();
    let expected: Vec<Event> = payloads.iter().cloned().map(Event::Frame).collect();
    for chunks in chunkings(&wire) {
        // via_frame_reader puts a TimedOut before every chunk and retries:
        // a lost or duplicated byte would change a payload.
        assert_eq!(
            via_frame_reader(&chunks, Config::default()),
            expected,
            "{} chunks",
            chunks.len()
        );
    }
}

#[test]
fn a_large_payload_cut_by_eof_is_truncated_never_delivered() {
    let (_, wire) = stream();
    // End the stream inside the 1 MiB payload (frame 5).
    let start_of_mib = [10, 65_535, 65_536, 3, 65_537]
        .iter()
        .map(|n| 16 + n)
        .sum::<usize>();
    for keep in [16, 17, 16 + 65_536, 16 + 1024 * 1024 - 1] {
        let cut = &wire[..start_of_mib + keep];
        let chunks: Vec<Vec<u8>> = cut.chunks(7_777).map(<[u8]>::to_vec).collect();
        let events = via_frame_reader(&chunks, Config::default());
        assert_eq!(events, via_decoder(&chunks, Config::default()));
        assert_eq!(events.len(), 6, "5 frames then the error");
        let missing = 1024 * 1024 - (keep - 16);
        assert_eq!(
            events.last(),
            Some(&Event::Error(format!(
                "Truncated part=payload missing={missing}"
            )))
        );
        // Recovery reports the partial frame as one skipped range instead.
        let recovering = Config::new().recover(true);
        let events = via_frame_reader(&chunks, recovering);
        assert_eq!(events, via_decoder(&chunks, recovering));
        assert_eq!(
            events.last(),
            Some(&Event::Error(format!(
                "Skipped offset={start_of_mib} len={keep} cause=Truncated part=payload missing={missing}"
            )))
        );
    }
}

#[test]
fn a_corrupt_large_payload_costs_that_frame_only() {
    let big = payload(300_000, 9);
    let mut wire = encode_all(&[&big, b"after"]);
    wire[16 + 150_000] ^= 0x40;
    let chunks: Vec<Vec<u8>> = wire.chunks(10_000).map(<[u8]>::to_vec).collect();
    let events = via_frame_reader(&chunks, Config::default());
    assert_eq!(events, via_decoder(&chunks, Config::default()));
    assert_eq!(events.len(), 2);
    assert!(
        matches!(&events[0], Event::Error(s) if s.starts_with("PayloadChecksum") && s.ends_with("len=300000")),
        "{events:?}"
    );
    assert_eq!(events[1], Event::Frame(b"after".to_vec()));
}

#[test]
fn mid_large_payload_state_is_visible_and_kept() {
    let big = payload(200_000, 3);
    let wire = encode_all(&[&big]);
    // 16 header bytes + 50,000 payload bytes, then the reader times out.
    let chunks = vec![wire[..16 + 50_000].to_vec()];
    let mut reader = FrameReader::new(common::ScriptedRead::new(chunks, false));
    // The scripted reader then reports EOF: truncated, with the count.
    let err = reader.next_frame().unwrap_err();
    assert_eq!(canonical(&err), "Truncated part=payload missing=150000");
    assert!(reader.is_mid_frame());
    assert_eq!(reader.buffered(), 50_000);

    // Over a reader that times out instead: buffered() counts the bytes
    // held for the payload, into_parts() hands them back.
    let mut reader = FrameReader::new(StallAfter::new(wire[..16 + 70_000].to_vec(), 4096));
    let err = reader.next_frame().unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(reader.is_mid_frame());
    assert_eq!(reader.buffered(), 70_000);
    let (_, rest) = reader.into_parts();
    assert_eq!(&rest[..], &big[..70_000]);
}
