//! Behaviour 1: any split of the byte stream into reads decodes to the same
//! frames, on every reading path.

use lpframe::{Config, DEFAULT_MAX_FRAME_LEN};
use proptest::prelude::*;
use testkit::paths::via_decoder;
use testkit::{
    encode_all, every_path, sizes_of_cuts, timeouts_before_chunks, with_after, Event, Script,
};

fn payloads() -> Vec<Vec<u8>> {
    vec![
        b"".to_vec(),
        b"hello".to_vec(),
        (0..=255u8).collect(),
        vec![0xC1; 40], // payload full of magic bytes
        b"x".to_vec(),
    ]
}

fn stream() -> (Vec<u8>, Vec<Event>) {
    let p = payloads();
    let refs: Vec<&[u8]> = p.iter().map(Vec::as_slice).collect();
    let wire = encode_all(&refs);
    let events = p.into_iter().map(Event::Frame).collect();
    (wire, with_after(events, DEFAULT_MAX_FRAME_LEN))
}

#[test]
fn every_single_split_point_gives_the_same_frames() {
    let (wire, expected) = stream();
    for cut in 0..=wire.len() {
        let chunks = sizes_of_cuts(wire.len(), &[cut]);
        assert_eq!(
            every_path(
                &wire,
                &chunks,
                &timeouts_before_chunks(&chunks),
                Config::default()
            ),
            expected,
            "split at {cut}"
        );
    }
}

#[test]
fn one_byte_reads_give_the_same_frames() {
    let (wire, expected) = stream();
    assert_eq!(
        every_path(
            &wire,
            &vec![1; wire.len()],
            &timeouts_before_chunks(&vec![1; wire.len()]),
            Config::default()
        ),
        expected
    );
}

#[test]
fn every_pair_of_split_points_on_the_pure_decoder() {
    // All O(n^2) two-cut splits through the pure decoder (cheap), so every
    // combination of "cut inside header" x "cut inside payload" is covered.
    let (wire, expected) = stream();
    for a in 0..=wire.len() {
        for b in a..=wire.len() {
            let chunks = sizes_of_cuts(wire.len(), &[a, b]);
            let script = Script::new(&wire, &chunks, &[], DEFAULT_MAX_FRAME_LEN);
            assert_eq!(
                via_decoder(&script, Config::default()),
                expected,
                "cuts {a},{b}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn random_payloads_and_chunkings_decode_identically(
        payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..8),
        mut cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
        let wire = encode_all(&refs);
        let mut points: Vec<usize> = cuts.drain(..).map(|i| i.index(wire.len() + 1)).collect();
        points.sort_unstable();
        let chunks = sizes_of_cuts(wire.len(), &points);
        let expected = with_after(
            payloads.into_iter().map(Event::Frame).collect(),
            DEFAULT_MAX_FRAME_LEN,
        );
        prop_assert_eq!(every_path(&wire, &chunks, &timeouts_before_chunks(&chunks), Config::default()), expected);
    }
}
