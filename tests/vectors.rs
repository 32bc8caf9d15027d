//! Every test vector of tests/vectors/lpf-v1.txt (listed in PROTOCOL.md)
//! through every decoding path — the pure decoder, both tokio codecs driven
//! as `Framed` drives them and under a real `FramedRead`, `read_frame`,
//! `FrameReader` with a fault before every read, `decode_slice` — whole, at
//! every single split point, and one byte at a time; each time followed by
//! the end of the stream and then one more valid frame, which every path
//! must deliver iff the vector's errors are not fatal.

use lpframe::DecodeError;
use testkit::vectors::all as load_vectors;
use testkit::{every_path, model, sizes_of_cuts, timeouts_before_chunks, with_after, Event};

#[test]
fn the_vectors_file_has_the_cases_the_spec_promises() {
    let vectors = load_vectors();
    let names: Vec<&str> = vectors.iter().map(|v| v.name.as_str()).collect();
    for kind in [
        "BadMagic",
        "UnsupportedVersion",
        "HeaderChecksum",
        "ReservedFlags",
        "FrameTooLarge",
        "PayloadChecksum",
        "Truncated",
    ] {
        assert!(
            vectors
                .iter()
                .any(|v| v.events.iter().any(|e| e.error_name() == Some(kind))),
            "no vector for {kind}"
        );
    }
    assert!(names.contains(&"empty_payload"), "{names:?}");
    assert!(names.contains(&"multi_frame_stream"), "{names:?}");
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), names.len(), "duplicate vector names");
}

#[test]
fn every_vector_on_every_path_whole_and_at_every_split() {
    for v in load_vectors() {
        let expected = with_after(v.events.clone(), v.max);
        let len = v.input.len();
        let mut chunkings = vec![("whole".to_string(), sizes_of_cuts(len, &[]))];
        for cut in 0..=len {
            chunkings.push((format!("split at {cut}"), sizes_of_cuts(len, &[cut])));
        }
        chunkings.push(("byte by byte".into(), vec![1; len]));
        for (how, chunks) in chunkings {
            assert_eq!(
                every_path(
                    &v.input,
                    &chunks,
                    &timeouts_before_chunks(&chunks),
                    v.setup()
                ),
                expected,
                "vector {}, {how}",
                v.name
            );
        }
    }
}

#[test]
fn the_model_agrees_with_the_vectors_on_the_full_canonical_text() {
    // The fuzz oracle itself is checked against the spec's vectors (the
    // model has no recovery mode; `recover` is checked by its own target
    // and by the recovery vectors above).
    for v in load_vectors().into_iter().filter(|v| !v.recover) {
        assert_eq!(model(&v.input, v.max), v.events, "vector {}", v.name);
    }
}

#[test]
fn recovery_vectors_cover_every_case_of_section_8() {
    let vectors = load_vectors();
    let recovering: Vec<_> = vectors.iter().filter(|v| v.recover).collect();
    for cause in [
        "cause=BadMagic",
        "cause=UnsupportedVersion",
        "cause=HeaderChecksum",
        "cause=FrameTooLarge",
        "cause=Truncated part=header",
        "cause=Truncated part=payload",
    ] {
        assert!(
            recovering.iter().any(|v| v.events.iter().any(
                |e| matches!(e, Event::Error(e @ DecodeError::Skipped { .. }) if e.canonical().to_string().contains(cause))
            )),
            "no recovery vector with {cause}"
        );
    }
    assert!(recovering.iter().all(|v| v.name.starts_with("recover_")));
}

#[test]
fn valid_vectors_are_exactly_what_our_encoder_writes() {
    // A vector that decodes to frames only, with no error, must be
    // byte-identical to our encoding of those payloads (one encoding per
    // payload: there is no second valid way to frame it).
    for v in load_vectors() {
        if v.events.iter().all(|e| matches!(e, Event::Frame(_))) {
            let mut wire = Vec::new();
            for e in &v.events {
                if let Event::Frame(p) = e {
                    lpframe::write_frame(&mut wire, p).unwrap();
                }
            }
            assert_eq!(wire, v.input, "vector {}", v.name);
        }
    }
}

/// What a receiver must have reported after `prefix` alone, before it is
/// given more bytes or the end of the stream (PROTOCOL.md section 10, "as
/// soon as"): the model's events for `prefix`, less a last `Truncated`,
/// which only the end of the stream decides. (Checks 1 and 2 on the first
/// two or three bytes are a SHOULD of section 4; lpframe makes them, so
/// they are part of what it must have reported.)
fn decided_by(prefix: &[u8], max: u32) -> Vec<Event> {
    let mut events = model(prefix, max);
    if matches!(
        events.last(),
        Some(Event::Error(DecodeError::Truncated { .. }))
    ) {
        events.pop();
    }
    events
}

#[test]
fn events_come_as_soon_as_the_bytes_that_decide_them() {
    // A decoder that holds a finished frame (or a decided error) back
    // until the next read or the end of the stream gives the right final
    // list on every split and still fails here.
    for v in load_vectors() {
        for cut in 0..=v.input.len() {
            let mut dec = v.setup().decoder();
            let mut buf = bytes::BytesMut::from(&v.input[..cut]);
            let mut got = Vec::new();
            for _ in 0..=cut + 1 {
                match dec.decode(&mut buf) {
                    Ok(Some(frame)) => got.push(Event::Frame(frame.to_vec())),
                    Ok(None) => break,
                    Err(e) => {
                        got.push(Event::error(&e));
                        if e.is_fatal() {
                            break;
                        }
                    }
                }
            }
            if v.recover {
                // Recovery's skipped ranges end where the next candidate
                // verifies, which the model does not compute: there the
                // events so far must be a prefix of the vector's.
                assert!(
                    v.events.starts_with(&got),
                    "vector {}, after {cut} bytes: {got:?}",
                    v.name
                );
            } else {
                assert_eq!(
                    got,
                    decided_by(&v.input[..cut], v.max),
                    "vector {}, after {cut} of {} bytes, before more input or the end",
                    v.name,
                    v.input.len()
                );
            }
        }
    }
}
