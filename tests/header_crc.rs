//! The specialised 12-byte header CRC equals crc32fast on every input:
//! random bytes (almost never the v1 prefix, so the three-step path),
//! every valid v1 prefix followed by random bytes (the two-step path that
//! starts from a precomputed state), and prefixes one bit away from it.
//! `payload_crc` (a cloned crc32fast hasher) equals `crc32fast::hash` on
//! payloads of every length across crc32fast's table/SIMD boundary.

use lpframe::header::{header_crc, payload_crc};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 20_000, .. ProptestConfig::default() })]

    #[test]
    fn equals_crc32fast(bytes in any::<[u8; 12]>()) {
        prop_assert_eq!(header_crc(&bytes), crc32fast::hash(&bytes));
    }

    #[test]
    fn equals_crc32fast_after_the_v1_prefix(rest in any::<[u8; 8]>(), flip in 0usize..33) {
        let mut bytes = [0u8; 12];
        bytes[..4].copy_from_slice(&[0xC1, 0x4C, 0x01, 0x00]);
        bytes[4..].copy_from_slice(&rest);
        // flip == 32: the exact prefix; otherwise one prefix bit flipped.
        if flip < 32 {
            bytes[flip / 8] ^= 1 << (flip % 8);
        }
        prop_assert_eq!(header_crc(&bytes), crc32fast::hash(&bytes));
    }

    #[test]
    fn payload_crc_equals_crc32fast(payload in proptest::collection::vec(any::<u8>(), 0..600)) {
        prop_assert_eq!(payload_crc(&payload), crc32fast::hash(&payload));
    }
}

#[test]
fn equals_crc32fast_on_edge_patterns() {
    let mut cases = vec![[0u8; 12], [0xFF; 12]];
    for i in 0..12 {
        for bit in 0..8 {
            let mut b = [0u8; 12];
            b[i] = 1 << bit;
            cases.push(b);
            let mut b = [0xFF; 12];
            b[i] ^= 1 << bit;
            cases.push(b);
        }
    }
    for b in cases {
        assert_eq!(header_crc(&b), crc32fast::hash(&b), "{b:02x?}");
    }
}
