//! The bodies of the cargo-fuzz targets: each target in `fuzz/` is one
//! line calling one of these, and `tests/fuzz_replay.rs` replays the corpus
//! and past crashes through the same functions on stable.

use lpframe::{Config, Error, Header, HEADER_LEN};

#[cfg(feature = "tokio")]
use crate::paths::via_codec;
use crate::paths::via_decoder;
use crate::recovery::recover_events;
use crate::{
    after, chunk_sizes, every_path, expected, frame_bytes, model, seeded_faults,
    timeouts_before_chunks, with_after, Event, Script, FUZZ_MAX,
};

/// Target `decode_stream`: byte 0 seeds the chunking, the rest is the
/// stream. The decoder (with its invariants) and the codec agree with the
/// model, the appended frame included.
pub fn decode_stream(data: &[u8]) {
    let Some((&seed, input)) = data.split_first() else {
        return;
    };
    let chunks = chunk_sizes(u64::from(seed) * 0x9E37_79B9 + 1, input.len());
    let script = Script::new(input, &chunks, &[], FUZZ_MAX);
    let config = Config::new().max_read_frame_len(FUZZ_MAX);
    let got = via_decoder(&script, config);
    assert_eq!(got, expected(input, FUZZ_MAX));
    #[cfg(feature = "tokio")]
    assert_eq!(via_codec(&script, config), got);
}

/// Target `differential`: every reading path, two chunkings, seeded I/O
/// faults (at any offset for the paths that keep their place, at frame
/// boundaries for `read_frame`), and the model agree event for event, on
/// the full canonical text.
pub fn differential(data: &[u8]) {
    let Some((&seed, input)) = data.split_first() else {
        return;
    };
    let config = Config::new().max_read_frame_len(FUZZ_MAX);
    let expected = expected(input, FUZZ_MAX);
    let a = chunk_sizes(u64::from(seed) + 1, input.len());
    let b = chunk_sizes(u64::from(seed) * 7919 + 12345, input.len());
    let faults = seeded_faults(u64::from(seed), input.len());
    for chunks in [&a, &b] {
        assert_eq!(every_path(input, chunks, &faults, config), expected);
    }
}

/// Target `roundtrip`: payloads → encode (the serializer and the buffered
/// writer) → decode through every path → identical; re-encoding gives
/// identical bytes. A payload over the limit must be refused by both
/// encoders, leaving the output untouched. (The `u8` of each frame is the
/// corpus's old flags byte: lpframe 1.0 has no flags API, so it is unused.)
pub fn roundtrip(frames: &[(u8, Vec<u8>)], seed: u8) {
    use lpframe::{EncodeError, FrameWriter};
    let config = Config::new()
        .max_write_frame_len(FUZZ_MAX)
        .max_read_frame_len(FUZZ_MAX);
    let mut writer = FrameWriter::with_config(Vec::new(), config);
    let mut wire = Vec::new();
    let mut sent = Vec::new();
    for (_unused, payload) in frames {
        let before = wire.len();
        let by_writer = writer.write_frame(payload);
        // The header of any payload is the one the serializer writes.
        let header = Header::for_payload(payload).expect("a fuzz payload fits a u32");
        assert_eq!(
            lpframe::encode_header(payload, u32::MAX).map_err(|_| ()),
            Ok(header.to_bytes())
        );
        match lpframe::encode_frame(payload, FUZZ_MAX, &mut wire) {
            Ok(()) => {
                assert!(by_writer.is_ok());
                assert!(payload.len() <= FUZZ_MAX as usize);
                assert_eq!(wire.len(), before + HEADER_LEN + payload.len());
                sent.push(Event::Frame(payload.clone()));
            }
            Err(EncodeError::TooLarge { len, max }) => {
                assert_eq!((len, max), (payload.len(), FUZZ_MAX));
                assert!(matches!(
                    by_writer,
                    Err(Error::Encode(EncodeError::TooLarge { .. }))
                ));
                assert_eq!(wire.len(), before);
            }
            #[allow(unreachable_patterns)]
            Err(e) => panic!("unexpected encode error {e:?}"),
        }
    }
    // The buffered writer wrote exactly the same bytes.
    let by_writer = writer
        .into_inner()
        .unwrap_or_else(|e| panic!("flush into a Vec failed: {}", e.error()));
    assert_eq!(by_writer, wire);
    let chunks = chunk_sizes(u64::from(seed) + 3, wire.len());
    assert_eq!(model(&wire, FUZZ_MAX), sent);
    let config = Config::new().max_read_frame_len(FUZZ_MAX);
    assert_eq!(
        every_path(&wire, &chunks, &timeouts_before_chunks(&chunks), config),
        with_after(sent.clone(), FUZZ_MAX)
    );
    // Re-encoding what was decoded reproduces the stream byte for byte.
    let mut again = Vec::new();
    for e in &sent {
        if let Event::Frame(p) = e {
            lpframe::encode_frame(p, FUZZ_MAX, &mut again).expect("within the limit");
        }
    }
    assert_eq!(again, wire);
}

/// Target `corrupt`: a valid stream of `payloads`, with XOR `mutations`
/// (position, mask) applied. The decoder must agree with the model; and,
/// checked directly: every frame before the first damaged one is delivered
/// unchanged, a damaged frame is never delivered, and a frame whose header
/// is intact but whose payload is damaged costs that frame only.
pub fn corrupt(payloads: &[Vec<u8>], mutations: &[(u32, u8)], seed: u8) {
    let mut wire = Vec::new();
    let mut spans = Vec::new();
    for p in payloads {
        let start = wire.len();
        wire.extend_from_slice(&frame_bytes(p));
        spans.push((start, wire.len()));
    }
    if wire.is_empty() {
        return;
    }
    let original = wire.clone();
    for &(pos, mask) in mutations {
        let i = pos as usize % wire.len();
        wire[i] ^= mask;
    }
    let chunks = chunk_sizes(u64::from(seed) + 5, wire.len());
    let script = Script::new(&wire, &chunks, &[], u32::MAX);
    let got = via_decoder(&script, Config::new().max_read_frame_len(u32::MAX));
    assert_eq!(got, expected(&wire, u32::MAX));

    let mut events = got.iter();
    for (k, &(start, end)) in spans.iter().enumerate() {
        let header_intact = wire[start..start + HEADER_LEN] == original[start..start + HEADER_LEN];
        let payload_intact = wire[start + HEADER_LEN..end] == original[start + HEADER_LEN..end];
        let Some(ev) = events.next() else {
            panic!("frame {k}: no event");
        };
        match (header_intact, payload_intact) {
            (true, true) => assert_eq!(ev, &Event::Frame(payloads[k].clone()), "frame {k}"),
            // Costs this frame only: reported, then decoding goes on.
            (true, false) => assert_eq!(ev.error_name(), Some("PayloadChecksum"), "frame {k}"),
            (false, _) => {
                // A damaged header: rejected (or, if the damage happens to
                // form another valid header, never delivered as the
                // original). Nothing after it can be checked against the
                // original framing.
                assert_ne!(
                    ev,
                    &Event::Frame(payloads[k].clone()),
                    "frame {k} delivered despite damage"
                );
                if let Some(name) = ev.error_name() {
                    assert!(
                        [
                            "BadMagic",
                            "UnsupportedVersion",
                            "HeaderChecksum",
                            "ReservedFlags",
                            "FrameTooLarge",
                            "Truncated"
                        ]
                        .contains(&name),
                        "frame {k}: {ev:?}"
                    );
                }
                return;
            }
        }
    }
    assert_eq!(events.next(), Some(&Event::Frame(after(u32::MAX).to_vec())));
    assert!(events.next().is_none(), "events after the appended frame");
}

/// Target `header`: `from_bytes` → `to_bytes` returns the same bytes for
/// any 16 bytes; `parse` agrees with the model on every input; and each
/// field that `verify` judges agrees with the field-by-field checks a tool
/// would make.
pub fn header(data: &[u8]) {
    let Some(bytes) = data.first_chunk::<HEADER_LEN>() else {
        return;
    };
    let fields = Header::from_bytes(bytes);
    assert_eq!(&fields.to_bytes(), bytes);
    // The tool's field accessors read the bytes they name.
    assert_eq!(fields.magic(), [bytes[0], bytes[1]]);
    assert_eq!((fields.version(), fields.flags()), (bytes[2], bytes[3]));
    // `verify` judges exactly as `parse`, for any limit.
    for max in [u32::MAX, fields.len(), fields.len().saturating_sub(1)] {
        assert_eq!(
            fields.verify(max),
            Header::parse(bytes, max).map(|_| ()),
            "verify disagrees with parse at limit {max}"
        );
    }
    assert_eq!(
        fields.header_crc() == fields.computed_header_crc(),
        crc32fast::hash(&bytes[..12]) == fields.header_crc()
    );
    match Header::parse(bytes, u32::MAX) {
        Ok(h) => {
            assert_eq!(h, fields);
            // The model accepts the header too: whatever it reports next
            // concerns the (absent) payload.
            let first = model(bytes, u32::MAX).into_iter().next();
            let payload_level = match &first {
                Some(Event::Frame(p)) => p.is_empty() && h.is_empty(),
                Some(e) => matches!(e.error_name(), Some("Truncated" | "PayloadChecksum")),
                None => false,
            };
            assert!(payload_level, "parse accepted, model said {first:?}");
        }
        Err(e) => {
            assert_eq!(model(bytes, u32::MAX).first(), Some(&Event::error(&e)));
        }
    }
}

/// Target `recover`: recovery mode never fails, accounts for every byte,
/// delivers only frames that are really in the input, gives the same
/// result for two chunkings and through every path that can recover, and
/// still delivers the appended frame.
pub fn recover(data: &[u8]) {
    let Some((&seed, input)) = data.split_first() else {
        return;
    };
    let a = chunk_sizes(u64::from(seed) + 11, input.len());
    let b = chunk_sizes(u64::from(seed) * 31 + 7, input.len());
    let ea = recover_events(input, &a, FUZZ_MAX);
    assert_eq!(recover_events(input, &b, FUZZ_MAX), ea);
    // Without damage (the model sees no error), recovery changes nothing.
    let plain = model(input, FUZZ_MAX);
    let events: Vec<Event> = ea.into_iter().map(|(_, _, e)| e).collect();
    if plain.iter().all(|e| matches!(e, Event::Frame(_))) {
        assert_eq!(events, plain);
    }
    let config = crate::Setup::recovering(Config::new().max_read_frame_len(FUZZ_MAX));
    let faults = seeded_faults(u64::from(seed), input.len());
    assert_eq!(
        every_path(input, &a, &faults, config),
        with_after(events, FUZZ_MAX)
    );
}

/// Target `writer`: the blocking writers under a scripted writer (see
/// [`crate::writers`]): `FrameWriter` (without a deadline, with an hour's,
/// with a zero one) and `write_frame_with`. The output is always a prefix
/// of the accepted frames' bytes; nothing is lost or written twice on a
/// retryable fault; nothing is written after a fatal one.
pub fn writer(data: &[u8]) {
    crate::writers::drive_frame_writer(&crate::writers::WriteScript::parse(data));
}

/// Target `sink`: `FrameSink` polled by hand with a no-op waker under a
/// scripted `AsyncWrite` (`Pending`, partial, vectored or not, retryable
/// and fatal faults), with the properties of [`writer`].
#[cfg(feature = "tokio")]
pub fn sink(data: &[u8]) {
    crate::writers::drive_frame_sink(&crate::writers::WriteScript::parse(data));
}

/// Target `deadline`: byte 0 picks the part. Even: the
/// `DeadlineTracker` against its model under a scripted clock (the rest
/// are operations). Odd: `FrameReader` with deadlines (zero or an hour,
/// socket or manual, by bits 1-3) over the rest as a stream with scripted
/// read timeouts, seeded by byte 1: the model's events.
pub fn deadline(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    if sel & 1 == 0 {
        crate::deadline_fuzz::drive_tracker(rest);
    } else if let Some((&seed, input)) = rest.split_first() {
        crate::deadline_fuzz::drive_reader_deadlines(input, seed, (sel >> 1) & 7);
    }
}

/// Target `idle`: see [`crate::idle::idle`].
pub fn idle(data: &[u8]) {
    crate::idle::idle(data);
}
