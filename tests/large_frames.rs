//! `FrameReader` reads payloads of 64 KiB or more straight into a buffer of
//! their own. That path must behave exactly like the small-frame path:
//! same frames, same errors, nothing lost across timeouts, truncation and
//! recovery reported the same way, and memory that follows the bytes
//! received, not the declared length.

use std::io;

use lpframe::{Config, DecodeError, Error, FrameReader, DEFAULT_MAX_FRAME_LEN, HEADER_LEN};
use testkit::paths::{via_decoder, via_reader};
use testkit::{
    after, chunkings_around_second_header, encode_all, frames_of_sizes, pattern, Event, Script,
    StallAfter, Step,
};

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
    frames_of_sizes(&sizes)
}

/// Chunk sizes for `wire`: whole, fixed sizes, and cuts right around the
/// headers of the large frames.
fn chunkings(wire: &[u8]) -> Vec<Vec<usize>> {
    chunkings_around_second_header(wire, &[1000, 4096, 8192, 65_536, 100_003], 10)
}

/// `input` in chunks of these sizes, with a `TimedOut` before every chunk
/// (a socket with a read timeout fed by a slow writer), then the end of the
/// stream, then one more frame (a source that grows): see [`Script::new`].
fn with_timeouts(input: &[u8], chunks: &[usize]) -> Script {
    let mut at = 0;
    let faults: Vec<(usize, io::ErrorKind)> = chunks
        .iter()
        .map(|&n| {
            let fault = (at, io::ErrorKind::TimedOut);
            at += n;
            fault
        })
        .collect();
    Script::new(input, chunks, &faults, DEFAULT_MAX_FRAME_LEN)
}

/// The frame every script appends after the end of its input.
fn appended() -> Event {
    Event::Frame(after(DEFAULT_MAX_FRAME_LEN).to_vec())
}

#[test]
fn large_and_small_frames_with_a_timeout_before_every_read() {
    let (payloads, wire) = stream();
    let mut expected: Vec<Event> = payloads.iter().cloned().map(Event::Frame).collect();
    expected.push(appended());
    for chunks in chunkings(&wire) {
        // A TimedOut before every chunk, retried by via_reader: a lost or
        // duplicated byte would change a payload.
        let script = with_timeouts(&wire, &chunks);
        assert_eq!(
            via_reader(&script, Config::default()),
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
        let chunks: Vec<usize> = cut.chunks(7_777).map(<[u8]>::len).collect();
        let script = with_timeouts(cut, &chunks);
        let events = via_reader(&script, Config::default());
        assert_eq!(events, via_decoder(&script, Config::default()));
        // 5 frames then the error, which is final: the frame that arrives
        // after the end of the stream is not delivered either.
        assert_eq!(events.len(), 6, "5 frames then the error");
        let missing = 1024 * 1024 - (keep - 16);
        assert_eq!(
            events.last(),
            Some(&Event::canonical(&format!(
                "Truncated part=payload missing={missing}"
            )))
        );
        // Recovery reports the partial frame as one skipped range instead,
        // and the stream goes on.
        let recovering = testkit::Setup::recovering(Config::new());
        let events = via_reader(&script, recovering);
        assert_eq!(events, via_decoder(&script, recovering));
        assert_eq!(
            events.len(),
            7,
            "5 frames, the skipped range, the appended frame"
        );
        assert_eq!(
            events[5],
            Event::canonical(&format!(
                "Skipped offset={start_of_mib} len={keep} cause=Truncated part=payload missing={missing}"
            ))
        );
        assert_eq!(events[6], appended());
    }
}

#[test]
fn a_corrupt_large_payload_costs_that_frame_only() {
    let big = pattern(300_000, 9);
    let mut wire = encode_all(&[&big, b"after"]);
    wire[16 + 150_000] ^= 0x40;
    let chunks: Vec<usize> = wire.chunks(10_000).map(<[u8]>::len).collect();
    let script = with_timeouts(&wire, &chunks);
    let events = via_reader(&script, Config::default());
    assert_eq!(events, via_decoder(&script, Config::default()));
    assert_eq!(events.len(), 3);
    assert!(
        matches!(
            &events[0],
            Event::Error(DecodeError::PayloadChecksum { len: 300_000, .. })
        ),
        "{events:?}"
    );
    assert_eq!(events[1], Event::Frame(b"after".to_vec()));
    assert_eq!(events[2], appended());
}

#[test]
fn mid_large_payload_state_is_visible_and_kept() {
    let big = pattern(200_000, 3);
    let wire = encode_all(&[&big]);
    // 16 header bytes + 50,000 payload bytes, then the end of the stream:
    // truncated, with the count. Fatal, so the reader is failed rather than
    // mid-frame, and it stays so even if the source grows.
    let cut = &wire[..HEADER_LEN + 50_000];
    let mut reader = FrameReader::new(Script::plain(cut, &[cut.len()], &[]));
    let err = reader.next_frame().unwrap_err();
    let truncated = DecodeError::Truncated {
        part: lpframe::FramePart::Payload,
        missing: 150_000,
    };
    assert!(
        matches!(&err, Error::Decode(e) if *e == truncated),
        "{err:?}"
    );
    assert!(err.is_fatal());
    assert!(reader.decoder().is_failed());
    assert!(!reader.is_mid_frame());
    reader
        .get_mut()
        .steps
        .push_back(Step::Data(wire[cut.len()..].to_vec()));
    assert!(matches!(reader.next_frame(), Err(Error::Decode(e)) if e == truncated));

    // Over a reader that times out instead: the decoder's position counts
    // the header and the bytes held for the payload, into_parts() hands all
    // of them back (the header included), so another reader can take over.
    let mut reader = FrameReader::new(StallAfter::new(wire[..HEADER_LEN + 70_000].to_vec(), 4096));
    let err = reader.next_frame().unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(!err.is_fatal());
    assert!(reader.is_mid_frame());
    assert_eq!(reader.decoder().position(), (HEADER_LEN + 70_000) as u64);
    assert_eq!(reader.decoder().frame_offset(), 0);
    let (_, rest) = reader.into_parts();
    assert_eq!(&rest[..], &wire[..HEADER_LEN + 70_000]);
}
