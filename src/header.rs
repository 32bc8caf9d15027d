//! The LPF v1 header: constants and the only place where bytes become header
//! fields and back. Pure: no I/O, no allocation.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     magic 0xC1    |  magic 0x4C   |  version = 1  |     flags     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                     length (payload bytes)                    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                  payload_crc (CRC-32 of payload)              |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                header_crc (CRC-32 of bytes 0..12)             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! All integers are big-endian. See `PROTOCOL.md` for the normative text.

use std::sync::OnceLock;

use byteorder::{BigEndian, ByteOrder};

use crate::{Error, Flags, ForeignProtocol};

/// The two magic bytes that start every frame.
pub const MAGIC: [u8; 2] = [0xC1, 0x4C];
/// The protocol version this crate speaks.
pub const VERSION: u8 = 1;
/// The size of the fixed header, in bytes.
pub const HEADER_LEN: usize = 16;

/// The number of leading header bytes covered by `header_crc`.
pub const CRC_COVERED: usize = 12;

/// Slicing-by-4 tables for CRC-32 (ISO-HDLC, reflected polynomial
/// 0xEDB88320), built at compile time: `TABLES[0]` is the classic
/// byte-at-a-time table, `TABLES[k][i]` advances `TABLES[k-1][i]` by one
/// more zero byte. (A `static`, so that every lookup reads the one copy;
/// the constant is for compile-time evaluation.)
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

/// The first four bytes of every valid v1 header (magic, version 1, no
/// flags), as a big-endian number.
const V1_PREFIX: u32 = u32::from_be_bytes([MAGIC[0], MAGIC[1], VERSION, 0]);

/// The CRC register after [`V1_PREFIX`], computed at compile time: a
/// header that starts with it needs two table steps instead of three.
const V1_PREFIX_STATE: u32 = crc_step(&CONST_TABLES, !0, V1_PREFIX);

/// CRC-32 of the 12 bytes a header CRC covers — equal to
/// `crc32fast::hash(bytes)` on every input (property-tested), but about
/// twice as fast for this fixed size: crc32fast's SIMD path needs longer
/// inputs, and its setup dominates at 12 bytes. Three slicing-by-4 steps,
/// no loop over the input length; two when the header starts with the
/// fixed v1 prefix (magic, version 1, no flags), whose contribution is a
/// compile-time constant.
///
/// ```
/// let bytes = [0xC1, 0x4C, 1, 0, 0, 0, 0, 5, 0x36, 0x10, 0xa6, 0x86];
/// assert_eq!(lpframe::header::header_crc(&bytes), crc32fast::hash(&bytes));
/// assert_eq!(lpframe::header::header_crc(&bytes), 0x7e44_0401);
/// ```
#[inline]
pub fn header_crc(bytes: &[u8; CRC_COVERED]) -> u32 {
    let [a0, a1, a2, a3, b0, b1, b2, b3, c0, c1, c2, c3] = *bytes;
    header_crc_of_fields(
        u32::from_be_bytes([a0, a1, a2, a3]),
        u32::from_be_bytes([b0, b1, b2, b3]),
        u32::from_be_bytes([c0, c1, c2, c3]),
    )
}

/// [`header_crc`] of the three big-endian words of bytes 0..12 (magic,
/// version and flags; length; payload CRC), computed in registers: the
/// encoder never stores the 12 bytes just to read them back.
#[inline]
fn header_crc_of_fields(prefix: u32, len: u32, payload_crc: u32) -> u32 {
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
/// Equal to `crc32fast::hash` on every input (property-tested in
/// `tests/header_crc.rs`).
///
/// ```
/// assert_eq!(lpframe::header::payload_crc(b"hello"), crc32fast::hash(b"hello"));
/// ```
#[inline]
pub fn payload_crc(payload: &[u8]) -> u32 {
    static PROTOTYPE: OnceLock<crc32fast::Hasher> = OnceLock::new();
    let mut hasher = PROTOTYPE.get_or_init(crc32fast::Hasher::new).clone();
    hasher.update(payload);
    hasher.finalize()
}

/// A verified LPF header.
///
/// Obtained from [`Header::parse`] (which checks magic, version, header CRC,
/// flags and length, in that order) or built by
/// [`Header::for_payload`]; turned back into bytes by [`Header::to_bytes`].
///
/// ```
/// use lpframe::header::{Header, HEADER_LEN};
///
/// let header = Header::for_payload(b"hello").unwrap();
/// let bytes: [u8; HEADER_LEN] = header.to_bytes();
/// assert_eq!(&bytes[..4], &[0xC1, 0x4C, 0x01, 0x00]);
/// assert_eq!(Header::parse(&bytes, u32::MAX).unwrap(), header);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// The flags byte (always empty in a valid v1 header).
    pub flags: Flags,
    /// The payload length in bytes.
    pub len: u32,
    /// The CRC-32 of the payload.
    pub payload_crc: u32,
}

impl Header {
    /// The header for `payload` with no flags: its length and CRC-32.
    ///
    /// # Errors
    /// [`Error::EncodeTooLarge`] if the payload is longer than `u32::MAX`.
    pub fn for_payload(payload: &[u8]) -> Result<Header, Error> {
        let len = u32::try_from(payload.len()).map_err(|_| Error::EncodeTooLarge {
            len: payload.len(),
            max: u32::MAX,
        })?;
        Ok(Header {
            flags: Flags::empty(),
            len,
            payload_crc: payload_crc(payload),
        })
    }

    /// The 16 wire bytes of this header, including its header CRC.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let [hi, lo] = self.to_words();
        let mut b = [0u8; HEADER_LEN];
        b[..8].copy_from_slice(&hi.to_be_bytes());
        b[8..].copy_from_slice(&lo.to_be_bytes());
        b
    }

    /// The header as two big-endian 64-bit words (bytes 0..8 and 8..16).
    ///
    /// The encoders write these with two 8-byte stores: building the 16
    /// bytes piecewise on the stack and copying them out made every frame
    /// wait on failed store-to-load forwarding (perf annotate: the three
    /// hottest instructions of `encode_payload`, 60 % of its samples).
    #[inline]
    pub(crate) fn to_words(self) -> [u64; 2] {
        let prefix = u32::from_be_bytes([MAGIC[0], MAGIC[1], VERSION, self.flags.bits()]);
        let crc = header_crc_of_fields(prefix, self.len, self.payload_crc);
        [
            (u64::from(prefix) << 32) | u64::from(self.len),
            (u64::from(self.payload_crc) << 32) | u64::from(crc),
        ]
    }

    /// Parses and verifies a complete header, in the order PROTOCOL.md
    /// prescribes: magic, version, header CRC, flags, then `len` against
    /// `max_len`.
    ///
    /// # Errors
    /// [`Error::BadMagic`], [`Error::UnsupportedVersion`],
    /// [`Error::HeaderChecksum`], [`Error::ReservedFlags`] or
    /// [`Error::FrameTooLarge`]: the first check that fails.
    pub fn parse(bytes: &[u8; HEADER_LEN], max_len: u32) -> Result<Header, Error> {
        check_prefix(bytes)?;
        // Fixed-size array: these constant ranges are checked at compile time.
        let expected = BigEndian::read_u32(&bytes[CRC_COVERED..]);
        let actual = header_crc_of_fields(
            BigEndian::read_u32(&bytes[..4]),
            BigEndian::read_u32(&bytes[4..8]),
            BigEndian::read_u32(&bytes[8..12]),
        );
        if expected != actual {
            return Err(Error::HeaderChecksum { expected, actual });
        }
        let flags = Flags::from_bits_retain(bytes[3]);
        if flags.reserved_bits() != 0 {
            return Err(Error::ReservedFlags { flags });
        }
        let len = BigEndian::read_u32(&bytes[4..8]);
        if len > max_len {
            return Err(Error::FrameTooLarge { len, max: max_len });
        }
        Ok(Header {
            flags,
            len,
            payload_crc: BigEndian::read_u32(&bytes[8..12]),
        })
    }

    /// Verifies `payload` against this header's payload CRC.
    ///
    /// # Errors
    /// [`Error::PayloadChecksum`] on a mismatch.
    pub fn verify_payload(&self, payload: &[u8]) -> Result<(), Error> {
        let actual = payload_crc(payload);
        if actual == self.payload_crc {
            Ok(())
        } else {
            Err(Error::PayloadChecksum {
                expected: self.payload_crc,
                actual,
                len: self.len,
            })
        }
    }
}

/// Checks the magic and version in the first bytes of a header that may not
/// have fully arrived yet, so a peer speaking another protocol is rejected
/// after two or three bytes instead of being waited on for sixteen.
///
/// Bytes past the version are ignored; fewer than two bytes always pass.
///
/// # Errors
/// [`Error::BadMagic`] or [`Error::UnsupportedVersion`].
pub fn check_prefix(prefix: &[u8]) -> Result<(), Error> {
    if let [m0, m1, rest @ ..] = prefix {
        if [*m0, *m1] != MAGIC {
            let head = prefix.get(..HEADER_LEN).unwrap_or(prefix);
            return Err(Error::BadMagic {
                found: u16::from_be_bytes([*m0, *m1]),
                hint: ForeignProtocol::detect(head),
            });
        }
        if let Some(&found) = rest.first() {
            if found != VERSION {
                return Err(Error::UnsupportedVersion {
                    found,
                    supported: VERSION,
                });
            }
        }
    }
    Ok(())
}
