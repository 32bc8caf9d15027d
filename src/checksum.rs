//! The CRC-32 engine (ISO-HDLC, PROTOCOL.md section 2.1): crc32fast for
//! payloads, and a table-driven CRC specialised for the 12 bytes the header
//! CRC covers.

use std::sync::OnceLock;

/// Slicing-by-4 tables for CRC-32 (reflected polynomial 0xEDB88320), built
/// at compile time: `TABLES[0]` is the classic byte-at-a-time table,
/// `TABLES[k][i]` advances `TABLES[k-1][i]` by one more zero byte. (A
/// `static`, so that every lookup reads the one copy; the constant is for
/// compile-time evaluation.)
static TABLES: [[u32; 256]; 4] = CONST_TABLES;
const CONST_TABLES: [[u32; 256]; 4] = make_tables();

const fn make_tables() -> [[u32; 256]; 4] {
    let mut t = [[0u32; 256]; 4];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut k = 1;
        while k < 4 {
            let prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ t[0][(prev & 0xFF) as usize];
            k += 1;
        }
        i += 1;
    }
    t
}

/// One slicing-by-4 step: the CRC register after four more input bytes,
/// given as the big-endian number they spell (the header's own fields).
/// CRC-32 here is reflected, so the bytes enter least significant first:
/// `from_le_bytes(x.to_be_bytes())` is `x.swap_bytes()`.
#[inline(always)]
const fn crc_step(t: &[[u32; 256]; 4], crc: u32, be_word: u32) -> u32 {
    let w = crc ^ be_word.swap_bytes();
    t[3][(w & 0xFF) as usize]
        ^ t[2][((w >> 8) & 0xFF) as usize]
        ^ t[1][((w >> 16) & 0xFF) as usize]
        ^ t[0][(w >> 24) as usize]
}

/// The first four bytes of every valid v1 header, `C1 4C 01 00` (magic,
/// version 1, no flags), as the big-endian number they spell.
pub(crate) const V1_PREFIX: u32 = 0xC14C_0100;
const _: () = assert!(
    V1_PREFIX
        == (crate::MAGIC[0] as u32) << 24
            | (crate::MAGIC[1] as u32) << 16
            | (crate::VERSION as u32) << 8,
    "V1_PREFIX spells the magic, version 1 and no flags"
);

/// The CRC register after [`V1_PREFIX`], computed at compile time: a
/// header that starts with it needs two table steps instead of three.
const V1_PREFIX_STATE: u32 = crc_step(&CONST_TABLES, !0, V1_PREFIX);

/// CRC-32 of header bytes 0..12, given as their three big-endian words
/// (magic, version and flags; length; payload CRC) and computed in
/// registers: equal to `crc32fast::hash` of those 12 bytes on every input
/// (property-tested below), and about 3.6 times as fast at this size, where
/// crc32fast's SIMD path cannot start and its setup dominates. Two table
/// steps when the header starts with the fixed v1 prefix, whose
/// contribution is a compile-time constant; three otherwise.
#[inline]
pub(crate) fn header_crc(prefix: u32, len: u32, payload_crc: u32) -> u32 {
    let crc = if prefix == V1_PREFIX {
        V1_PREFIX_STATE
    } else {
        crc_step(&TABLES, !0, prefix)
    };
    let crc = crc_step(&TABLES, crc, len);
    !crc_step(&TABLES, crc, payload_crc)
}

/// CRC-32 of a payload: `crc32fast::hash(payload)`, without its per-call
/// CPU feature detection.
///
/// `crc32fast::hash` builds a new `Hasher` on every call, and that asks the
/// CPU-feature cache three times (about 50 instructions, a quarter of the
/// whole cost of a 64-byte payload's CRC). The hasher it would build is the
/// same every time, so it is built once and cloned (a 16-byte copy).
#[inline]
pub(crate) fn payload_crc(payload: &[u8]) -> u32 {
    static PROTOTYPE: OnceLock<crc32fast::Hasher> = OnceLock::new();
    let mut hasher = PROTOTYPE.get_or_init(crc32fast::Hasher::new).clone();
    hasher.update(payload);
    hasher.finalize()
}

#[cfg(test)]
mod tests {
    //! The specialised header CRC equals crc32fast on every input: random
    //! bytes (almost never the v1 prefix, so the three-step path), every
    //! valid v1 prefix followed by random bytes (the two-step path that
    //! starts from a precomputed state), and prefixes one bit away from it.
    //! `payload_crc` equals `crc32fast::hash` on payloads of every length
    //! across crc32fast's table/SIMD boundary.

    use super::*;
    use proptest::prelude::*;

    fn of_bytes(b: &[u8; 12]) -> u32 {
        use byteorder::{BigEndian, ByteOrder};
        let word = |i: usize| BigEndian::read_u32(&b[i..i + 4]);
        header_crc(word(0), word(4), word(8))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 20_000, .. ProptestConfig::default() })]

        #[test]
        fn equals_crc32fast(bytes in any::<[u8; 12]>()) {
            prop_assert_eq!(of_bytes(&bytes), crc32fast::hash(&bytes));
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
            prop_assert_eq!(of_bytes(&bytes), crc32fast::hash(&bytes));
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
            assert_eq!(of_bytes(&b), crc32fast::hash(&b), "{b:02x?}");
        }
    }

    #[test]
    fn known_values() {
        // PROTOCOL.md section 2.1 (check value) and section 5 (worked
        // examples).
        assert_eq!(payload_crc(b"123456789"), 0xCBF4_3926);
        assert_eq!(payload_crc(b"hello"), 0x3610_a686);
        assert_eq!(payload_crc(b""), 0);
        assert_eq!(header_crc(V1_PREFIX, 5, 0x3610_a686), 0x7e44_0401);
        assert_eq!(header_crc(V1_PREFIX, 0, 0), 0x8344_b206);
    }
}

/// The table generator is evaluated at compile time only; run it once at
/// run time so the coverage report (RELIABILITY.md) sees it checked.
#[cfg(test)]
mod table_generation {
    #[test]
    fn run_time_tables_equal_the_compiled_ones() {
        let tables = super::make_tables();
        assert_eq!(tables, super::TABLES);
        // The reflected CRC-32 table's first entries (IEEE 802.3).
        assert_eq!(tables[0][1], 0x7707_3096);
        assert_eq!(tables[0][255], 0x2D02_EF8D);
    }
}
