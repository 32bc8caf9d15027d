//! Behaviour 1: any split of the byte stream into reads decodes to the same
//! frames, on every reading path.

mod common;

use common::{all_paths, encode_all, split_at_points, Event};
use lpframe::Config;
use proptest::prelude::*;

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
    (encode_all(&refs), p.into_iter().map(Event::Frame).collect())
}

#[test]
fn every_single_split_point_gives_the_same_frames() {
    let (wire, expected) = stream();
    for cut in 0..=wire.len() {
        let chunks = split_at_points(&wire, &[cut]);
        assert_eq!(
            all_paths(&chunks, Config::default()),
            expected,
            "split at {cut}"
        );
    }
}

#[test]
fn one_byte_reads_give_the_same_frames() {
    let (wire, expected) = stream();
    let chunks: Vec<Vec<u8>> = wire.chunks(1).map(<[u8]>::to_vec).collect();
    assert_eq!(all_paths(&chunks, Config::default()), expected);
}

#[test]
fn every_pair_of_split_points_on_the_pure_decoder() {
    // All O(n^2) two-cut splits through the pure decoder (cheap), so every
    // combination of "cut inside header" x "cut inside payload" is covered.
    let (wire, expected) = stream();
    for a in 0..=wire.len() {
        for b in a..=wire.len() {
            let chunks = split_at_points(&wire, &[a, b]);
            assert_eq!(
                common::via_decoder(&chunks, Config::default()),
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
        let chunks = split_at_points(&wire, &points);
        let expected: Vec<Event> = payloads.into_iter().map(Event::Frame).collect();
        prop_assert_eq!(all_paths(&chunks, Config::default()), expected);
    }
}
