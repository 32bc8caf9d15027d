//! The specialised 12-byte header CRC equals crc32fast on every input.

use lpframe::header::header_crc;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 20_000, .. ProptestConfig::default() })]

    #[test]
    fn equals_crc32fast(bytes in any::<[u8; 12]>()) {
        prop_assert_eq!(header_crc(&bytes), crc32fast::hash(&bytes));
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
