//! The LPF v1 header: its constants, and the one place where bytes become
//! header fields and back (and where checks 1 to 6 of PROTOCOL.md section 4
//! are made). Pure: no I/O, no allocation.
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
//! All integers are big-endian, read and written with `byteorder`.

use byteorder::{BigEndian, ByteOrder};

use crate::{
    checksum::{header_crc, payload_crc, V1_PREFIX},
    DecodeError, EncodeError, Flags, ForeignProtocol,
};

/// The two magic bytes that start every frame.
pub const MAGIC: [u8; 2] = [0xC1, 0x4C];
/// The protocol version this crate speaks.
pub const VERSION: u8 = 1;
/// The size of the fixed header, in bytes.
pub const HEADER_LEN: usize = 16;

/// The six fields of a 16-byte LPF header, as they are on the wire.
///
/// [`Header::from_bytes`] reads any 16 bytes into fields without judging
/// them (for tools that show what arrived, field by field);
/// [`verify`](Header::verify) then makes checks 1 to 5 of PROTOCOL.md
/// section 4 in their order, and [`verify_payload`](Header::verify_payload)
/// check 6. [`Header::parse`] does the first two at once. A header for
/// sending is built by [`Header::for_payload`], and
/// [`to_bytes`](Header::to_bytes) writes any header back byte for byte.
///
/// ```
/// use lpframe::{Header, HEADER_LEN};
///
/// let header = Header::for_payload(b"hello").unwrap();
/// let bytes: [u8; HEADER_LEN] = header.to_bytes();
/// assert_eq!(&bytes[..4], &[0xC1, 0x4C, 0x01, 0x00]);
/// assert_eq!(header.header_crc, 0x7e44_0401);
/// assert_eq!(Header::parse(&bytes, 5).unwrap(), header);
///
/// // A version-2 header is read into fields, and its CRC can be judged on
/// // its own, although the header fails check 2.
/// let mut v2 = bytes;
/// v2[2] = 2;
/// let fields = Header::from_bytes(&v2);
/// assert_eq!(fields.version, 2);
/// assert!(fields.verify(u32::MAX).is_err());
/// assert_ne!(fields.header_crc, fields.computed_header_crc());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// Bytes 0..2: `MAGIC` in a valid header.
    pub magic: [u8; 2],
    /// Byte 2: `VERSION` (1) in a header this crate accepts.
    pub version: u8,
    /// Byte 3: empty in a valid v1 header.
    pub flags: Flags,
    /// Bytes 4..8: the payload length.
    pub len: u32,
    /// Bytes 8..12: the CRC-32 of the payload.
    pub payload_crc: u32,
    /// Bytes 12..16: the CRC-32 of bytes 0..12.
    pub header_crc: u32,
}

impl Header {
    /// The v1 header for `payload` with no flags: its length and both CRCs.
    ///
    /// # Errors
    /// [`EncodeError::TooLarge`] if the payload is longer than `u32::MAX`.
    pub fn for_payload(payload: &[u8]) -> Result<Header, EncodeError> {
        let len = u32::try_from(payload.len()).map_err(|_| EncodeError::TooLarge {
            len: payload.len(),
            max: u32::MAX,
        })?;
        Ok(Header::v1(Flags::empty(), len, payload_crc(payload)))
    }

    /// A valid v1 header (magic, version 1, no flags, its header CRC)
    /// declaring a payload of `len` bytes whose CRC-32 is `payload_crc`: for
    /// writing a header ahead of a payload that is not in memory yet, and
    /// for tests and tools that send a header on its own (one declaring more
    /// than a receiver's limit, say).
    ///
    /// ```
    /// let h = lpframe::Header::new(5, crc32fast::hash(b"hello"));
    /// assert_eq!(h, lpframe::Header::for_payload(b"hello").unwrap());
    /// assert!(h.verify(4).is_err()); // over a limit of 4
    /// ```
    pub fn new(len: u32, payload_crc: u32) -> Header {
        Header::v1(Flags::empty(), len, payload_crc)
    }

    /// A v1 header with these fields and its header CRC.
    #[inline(always)]
    pub(crate) fn v1(flags: Flags, len: u32, payload_crc: u32) -> Header {
        let prefix = BigEndian::read_u32(&[MAGIC[0], MAGIC[1], VERSION, flags.bits()]);
        Header {
            magic: MAGIC,
            version: VERSION,
            flags,
            len,
            payload_crc,
            header_crc: header_crc(prefix, len, payload_crc),
        }
    }

    /// Reads 16 bytes into fields, checking nothing.
    #[inline]
    pub fn from_bytes(bytes: &[u8; HEADER_LEN]) -> Header {
        let [m0, m1, version, flags, ..] = *bytes;
        // Constant ranges of a fixed-size array: checked at compile time.
        Header {
            magic: [m0, m1],
            version,
            flags: Flags::from_bits_retain(flags),
            len: BigEndian::read_u32(&bytes[4..8]),
            payload_crc: BigEndian::read_u32(&bytes[8..12]),
            header_crc: BigEndian::read_u32(&bytes[12..16]),
        }
    }

    /// The 16 wire bytes of this header, every field as it is (a header read
    /// by [`from_bytes`](Self::from_bytes) is written back unchanged).
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        let [hi, lo] = self.to_words();
        BigEndian::write_u64(&mut b[..8], hi);
        BigEndian::write_u64(&mut b[8..], lo);
        b
    }

    /// The header as two big-endian 64-bit words (bytes 0..8 and 8..16).
    ///
    /// The encoders write these with two 8-byte stores: building the 16
    /// bytes piecewise on the stack and copying them out made every frame
    /// wait on failed store-to-load forwarding (perf annotate: the three
    /// hottest instructions of the encoder, 60 % of its samples).
    #[inline(always)]
    pub(crate) fn to_words(self) -> [u64; 2] {
        [
            (u64::from(self.prefix()) << 32) | u64::from(self.len),
            (u64::from(self.payload_crc) << 32) | u64::from(self.header_crc),
        ]
    }

    /// Bytes 0..4 as a big-endian number.
    #[inline]
    fn prefix(&self) -> u32 {
        BigEndian::read_u32(&[
            self.magic[0],
            self.magic[1],
            self.version,
            self.flags.bits(),
        ])
    }

    /// The CRC-32 of this header's bytes 0..12, to compare with
    /// [`header_crc`](Self::header_crc) (check 3).
    #[inline]
    pub fn computed_header_crc(&self) -> u32 {
        header_crc(self.prefix(), self.len, self.payload_crc)
    }

    /// Checks 1 to 5 of PROTOCOL.md section 4, in its order: magic, version,
    /// header CRC, flags, then `len` against `max_len`.
    ///
    /// # Errors
    /// [`DecodeError::BadMagic`], [`UnsupportedVersion`],
    /// [`HeaderChecksum`], [`ReservedFlags`] or [`FrameTooLarge`]: the first
    /// check that fails.
    ///
    /// [`UnsupportedVersion`]: DecodeError::UnsupportedVersion
    /// [`HeaderChecksum`]: DecodeError::HeaderChecksum
    /// [`ReservedFlags`]: DecodeError::ReservedFlags
    /// [`FrameTooLarge`]: DecodeError::FrameTooLarge
    pub fn verify(&self, max_len: u32) -> Result<(), DecodeError> {
        check(
            self.prefix(),
            self.len,
            self.payload_crc,
            self.header_crc,
            max_len,
        )
        .map_err(|failed| failed.into_error(&self.to_bytes()))
    }

    /// Reads and verifies a complete header: [`from_bytes`](Self::from_bytes)
    /// then [`verify`](Self::verify), as one pass over the four words.
    ///
    /// # Errors
    /// As [`verify`](Self::verify).
    #[inline]
    pub fn parse(bytes: &[u8; HEADER_LEN], max_len: u32) -> Result<Header, DecodeError> {
        // Constant ranges of a fixed-size array: checked at compile time.
        let prefix = BigEndian::read_u32(&bytes[..4]);
        let len = BigEndian::read_u32(&bytes[4..8]);
        let payload_crc = BigEndian::read_u32(&bytes[8..12]);
        let header_crc = BigEndian::read_u32(&bytes[12..16]);
        match check(prefix, len, payload_crc, header_crc, max_len) {
            Ok(()) => Ok(Header {
                magic: MAGIC,
                version: VERSION,
                flags: Flags::from_bits_retain(prefix as u8),
                len,
                payload_crc,
                header_crc,
            }),
            Err(failed) => Err(failed.into_error(bytes)),
        }
    }

    /// Check 6: `payload` against this header's payload CRC.
    ///
    /// # Errors
    /// [`DecodeError::PayloadChecksum`] on a mismatch.
    #[inline]
    pub fn verify_payload(&self, payload: &[u8]) -> Result<(), DecodeError> {
        let actual = payload_crc(payload);
        if actual == self.payload_crc {
            Ok(())
        } else {
            Err(DecodeError::PayloadChecksum {
                expected: self.payload_crc,
                actual,
                len: self.len,
            })
        }
    }
}

/// Which of checks 1 to 5 failed; the error itself is built out of line
/// (it is the cold path, and the magic's hint needs the bytes).
enum Failed {
    /// Check 1 or 2.
    Prefix,
    HeaderChecksum {
        expected: u32,
        actual: u32,
    },
    ReservedFlags(u8),
    TooLarge {
        len: u32,
        max: u32,
    },
}

impl Failed {
    #[cold]
    fn into_error(self, bytes: &[u8; HEADER_LEN]) -> DecodeError {
        match self {
            Failed::Prefix => match check_prefix(bytes) {
                Err(e) => e,
                // `check` found the prefix wrong, so `check_prefix` does too.
                Ok(()) => DecodeError::BadMagic {
                    found: BigEndian::read_u16(&bytes[..2]),
                    hint: None,
                },
            },
            Failed::HeaderChecksum { expected, actual } => {
                DecodeError::HeaderChecksum { expected, actual }
            }
            Failed::ReservedFlags(bits) => DecodeError::ReservedFlags {
                flags: Flags::from_bits_retain(bits),
            },
            Failed::TooLarge { len, max } => DecodeError::FrameTooLarge { len, max },
        }
    }
}

/// Checks 1 to 5 on the four header words, in PROTOCOL.md's order. Magic
/// and version are one masked compare of the first word.
#[inline(always)]
fn check(prefix: u32, len: u32, payload_crc: u32, header_crc: u32, max: u32) -> Result<(), Failed> {
    if prefix & 0xFFFF_FF00 != V1_PREFIX {
        return Err(Failed::Prefix);
    }
    let actual = crate::checksum::header_crc(prefix, len, payload_crc);
    if actual != header_crc {
        return Err(Failed::HeaderChecksum {
            expected: header_crc,
            actual,
        });
    }
    let flags = prefix as u8;
    if flags & !Flags::DEFINED_V1 != 0 {
        return Err(Failed::ReservedFlags(flags));
    }
    if len > max {
        return Err(Failed::TooLarge { len, max });
    }
    Ok(())
}

/// Checks 1 and 2 on the first bytes of a header that may not have fully
/// arrived yet, so that a peer speaking another protocol is refused after
/// two or three bytes instead of being waited on for sixteen.
///
/// Bytes past the version are ignored; fewer than two bytes always pass.
pub(crate) fn check_prefix(prefix: &[u8]) -> Result<(), DecodeError> {
    if let [m0, m1, rest @ ..] = prefix {
        if [*m0, *m1] != MAGIC {
            return Err(DecodeError::BadMagic {
                found: BigEndian::read_u16(&[*m0, *m1]),
                hint: ForeignProtocol::detect(prefix.get(..HEADER_LEN).unwrap_or(prefix)),
            });
        }
        if let Some(&found) = rest.first() {
            if found != VERSION {
                return Err(DecodeError::UnsupportedVersion {
                    found,
                    supported: VERSION,
                });
            }
        }
    }
    Ok(())
}
