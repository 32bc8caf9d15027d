//! Bit-flip campaign: no corrupted frame is ever delivered as valid, and
//! each corruption is rejected with the error PROTOCOL.md names for the
//! field it hit (section 4: magic → BadMagic, version → UnsupportedVersion,
//! any other header byte → HeaderChecksum, payload → PayloadChecksum).
//! Counts are printed (`cargo test --test reliability_bitflip -- --nocapture`)
//! and recorded in RELIABILITY.md.

use bytes::BytesMut;
use lpframe::{decode_slice, Config, DecodeError, FrameDecoder};

use testkit::{frame_bytes as frame, Rng};

fn payload(len: usize, seed: u64) -> Vec<u8> {
    Rng(seed | 1).bytes(len)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    BadMagic,
    UnsupportedVersion,
    HeaderChecksum,
    PayloadChecksum,
}

/// The error the spec names for a corruption touching these byte offsets.
fn expected(touched: impl IntoIterator<Item = usize>) -> Kind {
    let mut k = Kind::PayloadChecksum;
    for i in touched {
        let this = match i {
            0 | 1 => Kind::BadMagic,
            2 => Kind::UnsupportedVersion,
            3..=15 => Kind::HeaderChecksum,
            _ => Kind::PayloadChecksum,
        };
        k = match (k, this) {
            (Kind::BadMagic, _) | (_, Kind::BadMagic) => Kind::BadMagic,
            (Kind::UnsupportedVersion, _) | (_, Kind::UnsupportedVersion) => {
                Kind::UnsupportedVersion
            }
            (Kind::HeaderChecksum, _) | (_, Kind::HeaderChecksum) => Kind::HeaderChecksum,
            _ => Kind::PayloadChecksum,
        };
    }
    k
}

fn kind(e: &DecodeError) -> Kind {
    match e {
        DecodeError::BadMagic { .. } => Kind::BadMagic,
        DecodeError::UnsupportedVersion { .. } => Kind::UnsupportedVersion,
        DecodeError::HeaderChecksum { .. } => Kind::HeaderChecksum,
        DecodeError::PayloadChecksum { .. } => Kind::PayloadChecksum,
        other => panic!("unexpected error for a corrupted complete frame: {other:?}"),
    }
}

/// Decodes a corrupted frame; it must be rejected with `want`. `full`
/// also runs the incremental decoder (slower; used on a sample).
fn check(corrupted: &[u8], want: Kind, full: bool) {
    let config = Config::new().max_read_frame_len(u32::MAX);
    match decode_slice(corrupted, config.max_read_frame_len) {
        Ok(Some((f, _))) => panic!(
            "corrupted frame delivered as valid ({} bytes)",
            f.payload().len()
        ),
        Ok(None) => panic!("corrupted complete frame reported as incomplete"),
        Err(e) => assert_eq!(kind(&e), want, "{e:?}"),
    }
    if full {
        let mut dec = FrameDecoder::with_config(config);
        let mut buf = BytesMut::from(corrupted);
        match dec.decode_eof(&mut buf) {
            Ok(Some(_)) => panic!("corrupted frame delivered by FrameDecoder"),
            // A corrupted length that still verifies cannot happen; a
            // shorter/longer length is caught by the header CRC first.
            Ok(None) => panic!("nothing reported"),
            Err(e) => assert_eq!(kind(&e), want, "{e:?}"),
        }
    }
}

#[test]
fn every_single_bit_flip_of_every_byte() {
    let mut tried = 0u64;
    for (n, size) in [0usize, 1, 15, 16, 17, 64, 1000, 65536]
        .into_iter()
        .enumerate()
    {
        let original = frame(&payload(size, n as u64 + 1));
        let mut wire = original.clone();
        for byte in 0..wire.len() {
            for bit in 0..8 {
                wire[byte] ^= 1 << bit;
                check(&wire, expected([byte]), size <= 1000);
                wire[byte] ^= 1 << bit;
                tried += 1;
            }
        }
        assert_eq!(wire, original);
    }
    println!("single-bit flips: {tried} tried, {tried} rejected with the field's error");
    assert_eq!(tried, 8 * (8 * 16 + 1 + 15 + 16 + 17 + 64 + 1000 + 65536));
}

#[test]
fn every_two_bit_flip_of_a_32_byte_payload_frame() {
    let mut wire = frame(&payload(32, 7));
    let bits = wire.len() * 8;
    let mut tried = 0u64;
    for a in 0..bits {
        for b in a + 1..bits {
            wire[a / 8] ^= 1 << (a % 8);
            wire[b / 8] ^= 1 << (b % 8);
            check(&wire, expected([a / 8, b / 8]), tried % 7 == 0);
            wire[a / 8] ^= 1 << (a % 8);
            wire[b / 8] ^= 1 << (b % 8);
            tried += 1;
        }
    }
    println!("two-bit flips: {tried} tried, all rejected");
    assert_eq!(tried, (bits * (bits - 1) / 2) as u64);
}

#[test]
fn every_burst_up_to_32_bits_at_every_offset_of_a_64_byte_payload_frame() {
    let original = frame(&payload(64, 9));
    let bits = original.len() * 8;
    let mut tried = 0u64;
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for len in 1..=32usize {
        for start in 0..=bits - len {
            // A burst of length L flips its first and last bit; the bits in
            // between take several patterns: all flipped, none flipped, and
            // four random ones (all 2^(L-2) patterns would be 2^30).
            let mut patterns: Vec<u64> = vec![u64::MAX, 0];
            for _ in 0..4 {
                patterns.push(rng.next());
            }
            for middle in patterns {
                let mut wire = original.clone();
                let mut touched = Vec::new();
                for i in 0..len {
                    let flip = i == 0 || i == len - 1 || (middle >> i) & 1 == 1;
                    if flip {
                        let bit = start + i;
                        wire[bit / 8] ^= 1 << (bit % 8);
                        touched.push(bit / 8);
                    }
                }
                check(&wire, expected(touched), tried % 11 == 0);
                tried += 1;
                if len <= 2 {
                    break; // no middle bits: one pattern
                }
            }
        }
    }
    println!("bursts of 1..=32 bits: {tried} tried, all rejected");
    assert!(tried > 100_000);
}

#[test]
fn a_million_random_multi_byte_corruptions() {
    const CASES: u64 = 1_000_000;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut next = move || rng.next();
    let frames: Vec<Vec<u8>> = (0..64)
        .map(|i| frame(&payload((i * 37) % 300, i as u64 + 100)))
        .collect();
    let mut by_kind = [0u64; 4];
    for case in 0..CASES {
        let original = &frames[(next() % 64) as usize];
        let mut wire = original.clone();
        let hits = 2 + next() % 7; // 2 to 8 corrupted bytes
        for _ in 0..hits {
            let at = (next() % wire.len() as u64) as usize;
            wire[at] ^= (next() % 255 + 1) as u8; // never zero: the byte changes
        }
        // Two hits on one byte may cancel out: judge the bytes that differ.
        let diff: Vec<usize> = (0..wire.len())
            .filter(|&i| original[i] != wire[i])
            .collect();
        if diff.is_empty() {
            continue;
        }
        let want = expected(diff.iter().copied());
        check(&wire, want, case % 64 == 0);
        by_kind[want as usize] += 1;
    }
    let total: u64 = by_kind.iter().sum();
    println!(
        "random multi-byte corruptions: {total} judged (BadMagic {}, UnsupportedVersion {}, HeaderChecksum {}, PayloadChecksum {}), none delivered",
        by_kind[0], by_kind[1], by_kind[2], by_kind[3]
    );
    assert!(total >= 990_000);
}
