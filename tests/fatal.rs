//! `is_fatal` is exact on every reading path: an error says "not fatal" if
//! and only if the path that returned it can still deliver the frames that
//! follow. Every run feeds a path its input, then the end of the stream,
//! then one more valid frame (a source that grows after its end), with
//! retryable I/O faults (`WouldBlock`, `TimedOut`, `Interrupted`) injected
//! on the way; the harness (testkit) checks that the appended frame
//! is delivered iff no error the path called fatal was reported, that a
//! path never delivers after a fatal error and repeats it (a `Truncated`
//! stays `Truncated`), and that the events equal the model's. The vectors
//! go through the same drivers in tests/vectors.rs; here, random damage,
//! and every fault position for the exact reader.

use std::io;

use lpframe::Config;
use testkit::paths::{desync_after_fault, via_read_frame, via_reader};
use testkit::{
    chunk_sizes, every_path, expected, frame_bytes, model_with_boundaries, seeded_faults, Event,
    Path, Rng, Script,
};

/// A stream of a few frames with random damage: bit flips anywhere
/// (payloads, headers, magic, version, length), inserted garbage, a cut
/// tail — or none.
fn damaged(seed: u64, max: u32) -> Vec<u8> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut wire = Vec::new();
    for _ in 0..1 + rng.below(6) {
        let limit = if rng.below(4) == 0 {
            max as usize + 40
        } else {
            80
        };
        let len = rng.below(limit);
        let payload: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        wire.extend_from_slice(&frame_bytes(&payload));
    }
    match rng.below(5) {
        0 => {}
        1 | 2 => {
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(wire.len());
                wire[at] ^= 1 << rng.below(8);
            }
        }
        3 => {
            let at = rng.below(wire.len());
            let n = 1 + rng.below(20);
            let garbage: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            wire.splice(at..at, garbage);
        }
        _ => wire.truncate(rng.below(wire.len())),
    }
    wire
}

#[test]
fn is_fatal_is_exact_on_every_path_under_random_damage_and_faults() {
    const MAX: u32 = 512;
    let config = Config::new().max_read_frame_len(MAX);
    let (mut runs, mut errors, mut fatal, mut faults_injected) = (0, 0, 0, 0);
    for seed in 0..1500u64 {
        let input = damaged(seed, MAX);
        let want = expected(&input, MAX);
        let chunks = chunk_sizes(seed, input.len());
        let faults = seeded_faults(seed, input.len());
        faults_injected += faults.len();
        // (The exact reader gets its faults at frame boundaries only: see
        // `Path::ReadFrame`.)
        let got = every_path(&input, &chunks, &faults, config);
        assert_eq!(got, want, "seed {seed}");
        runs += Path::ALL.len();
        let errs = want.iter().filter(|e| e.error_name().is_some()).count();
        errors += errs;
        fatal += usize::from(want.iter().any(Event::is_fatal_error));
    }
    println!(
        "{runs} path runs over 1500 damaged streams: {errors} errors reported per path \
         ({fatal} streams with a fatal one), {faults_injected} I/O faults injected"
    );
    assert!(fatal > 300 && errors > fatal + 100, "damage not exercised");
}

#[test]
fn a_fault_inside_a_frame_is_fatal_for_read_frame_and_only_there() {
    // Every offset of a small valid stream, every retryable kind but
    // Interrupted (which read_frame retries itself): at a frame boundary the
    // exact reader reports a retryable Io error and the caller loses
    // nothing; inside a frame it reports Desync (fatal) with the bytes of
    // the frame it had consumed, and reading on would not recover. The
    // buffered reader survives the same fault anywhere.
    let payloads: [&[u8]; 4] = [b"one", b"", b"three", &[0xC1; 40]];
    let input: Vec<u8> = payloads.iter().flat_map(|p| frame_bytes(p)).collect();
    let boundaries = model_with_boundaries(&input, u32::MAX).1;
    let want = expected(&input, u32::MAX);
    let config = Config::new().max_read_frame_len(u32::MAX);
    let mut cases = 0;
    for at in 0..input.len() {
        for kind in [io::ErrorKind::TimedOut, io::ErrorKind::WouldBlock] {
            let fault = [(at, kind)];
            for chunks in [vec![input.len()], vec![1; input.len()]] {
                let script = Script::new(&input, &chunks, &fault, u32::MAX);
                assert_eq!(
                    via_reader(&script, config),
                    want,
                    "FrameReader, fault at {at}"
                );
                if boundaries.contains(&at) {
                    assert_eq!(via_read_frame(&script, u32::MAX), want, "fault at {at}");
                } else {
                    assert!(desync_after_fault(&input, at, kind) > 0);
                }
                cases += 1;
            }
        }
    }
    println!("{cases} fault positions");
}

#[test]
fn interrupted_never_surfaces() {
    // `Interrupted` is retried inside every path, wherever it strikes.
    let input: Vec<u8> = [&b"a"[..], b"bb", b"ccc"]
        .iter()
        .flat_map(|p| frame_bytes(p))
        .collect();
    let faults: Vec<_> = (0..=input.len())
        .map(|at| (at, io::ErrorKind::Interrupted))
        .collect();
    let want = expected(&input, 64);
    let config = Config::new().max_read_frame_len(64);
    for chunks in [vec![input.len()], vec![1; input.len()]] {
        let script = Script::new(&input, &chunks, &faults, 64);
        assert_eq!(via_reader(&script, config), want);
        assert_eq!(via_read_frame(&script, 64), want);
    }
}
