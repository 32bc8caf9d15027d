//! Every test vector of tests/vectors/lpf-v1.txt (listed in PROTOCOL.md)
//! through every decoding path — the pure decoder, the tokio codecs under a
//! scripted reader, `read_frame`, `FrameReader` with a timeout before every
//! read, `decode_slice` — whole, at every single split point, and one byte
//! at a time.

mod common;

use common::{all_paths, load_vectors, recovering_paths, split_at_points, Event};
use lpframe::Config;

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
            vectors.iter().any(|v| v
                .events
                .iter()
                .any(|e| matches!(e, Event::Error(s) if s.starts_with(kind)))),
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
        let config = Config::new().max_read_frame_len(v.max).recover(v.recover);
        // Recovery vectors go through every path that can recover.
        let paths = if v.recover {
            recovering_paths
        } else {
            all_paths
        };
        let whole = paths(std::slice::from_ref(&v.input), config);
        assert_eq!(whole, v.events, "vector {}", v.name);
        for cut in 0..=v.input.len() {
            let chunks = split_at_points(&v.input, &[cut]);
            assert_eq!(
                paths(&chunks, config),
                v.events,
                "vector {} split at {cut}",
                v.name
            );
        }
        let bytewise: Vec<Vec<u8>> = v.input.chunks(1).map(<[u8]>::to_vec).collect();
        assert_eq!(
            paths(&bytewise, config),
            v.events,
            "vector {} byte by byte",
            v.name
        );
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
                |e| matches!(e, Event::Error(s) if s.starts_with("Skipped") && s.contains(cause))
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
