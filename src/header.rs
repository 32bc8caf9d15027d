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
//! All integers are big-endian, read and written with `byteorder` and
//! nothing else. The 16 bytes are read and written as one 128-bit word
//! (`BigEndian::read_u128` on a `[u8; 16]`, whose length the type fixes),
//! so no field is ever cut out of the array by a range that could panic.

use byteorder::{BigEndian, ByteOrder};

use crate::{
    checksum::{header_crc, payload_crc, V1_PREFIX},
    DecodeError, EncodeError, ForeignProtocol,
};

/// The two magic bytes that start every frame.
pub const MAGIC: [u8; 2] = [0xC1, 0x4C];
/// The protocol version this crate speaks.
pub const VERSION: u8 = 1;
/// The size of the fixed header, in bytes.
pub const HEADER_LEN: usize = 16;

/// The fields of a 16-byte LPF header, as they are on the wire.
///
/// [`Header::parse`] reads a header and makes checks 1 to 5 of PROTOCOL.md
/// section 4 in their order; [`verify_payload`](Header::verify_payload)
/// makes check 6. A header for sending is built by
/// [`Header::for_payload`] (or [`Header::new`]), and
/// [`to_bytes`](Header::to_bytes) writes it byte for byte.
///
/// ```
/// use lpframe::{Header, HEADER_LEN};
///
/// let header = Header::for_payload(b"hello").unwrap();
/// let bytes: [u8; HEADER_LEN] = header.to_bytes();
/// assert_eq!(&bytes[..4], &[0xC1, 0x4C, 0x01, 0x00]);
/// assert_eq!((header.len(), header.header_crc()), (5, 0x7e44_0401));
/// assert_eq!(Header::parse(&bytes, 5).unwrap(), header);
/// ```
///
/// With the `inspect` feature (for tools that show what arrived, field by
/// field, such as the `lpframe` CLI), `Header::from_bytes` reads any 16
/// bytes into fields without judging them, `verify` then makes checks 1
/// to 5 on them, and the accessors `magic`, `version`, `flags` and
/// `computed_header_crc` show each field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// Bytes 0..4 as a big-endian number: magic, version, flags.
    prefix: u32,
    /// Bytes 4..8: the payload length.
    len: u32,
    /// Bytes 8..12: the CRC-32 of the payload.
    payload_crc: u32,
    /// Bytes 12..16: the CRC-32 of bytes 0..12.
    header_crc: u32,
}

impl Header {
    /// The v1 header for `payload`: its length and both CRCs.
    ///
    /// # Errors
    /// [`EncodeError::TooLarge`] if the payload is longer than `u32::MAX`.
    pub fn for_payload(payload: &[u8]) -> Result<Header, EncodeError> {
        let len = u32::try_from(payload.len()).map_err(|_| EncodeError::TooLarge {
            len: payload.len(),
            max: u32::MAX,
        })?;
        Ok(Header::new(len, payload_crc(payload)))
    }

    /// A valid v1 header (magic, version 1, flags 0, its header CRC)
    /// declaring a payload of `len` bytes whose CRC-32 is `payload_crc`: for
    /// writing a header ahead of a payload that is not in memory yet, and
    /// for tests and tools that send a header on its own (one declaring more
    /// than a receiver's limit, say).
    ///
    /// ```
    /// let h = lpframe::Header::new(5, crc32fast::hash(b"hello"));
    /// assert_eq!(h, lpframe::Header::for_payload(b"hello").unwrap());
    /// assert!(lpframe::Header::parse(&h.to_bytes(), 4).is_err()); // over a limit of 4
    /// ```
    #[inline(always)]
    pub fn new(len: u32, payload_crc: u32) -> Header {
        Header {
            prefix: V1_PREFIX,
            len,
            payload_crc,
            header_crc: header_crc(V1_PREFIX, len, payload_crc),
        }
    }

    /// Bytes 4..8: the payload length.
    #[inline]
    pub fn len(&self) -> u32 {
        self.len
    }

    /// `true` for a header that declares an empty payload.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes 8..12: the CRC-32 of the payload, as sent.
    #[inline]
    pub fn payload_crc(&self) -> u32 {
        self.payload_crc
    }

    /// Bytes 12..16: the CRC-32 of bytes 0..12, as sent.
    #[inline]
    pub fn header_crc(&self) -> u32 {
        self.header_crc
    }

    /// Reads 16 bytes into fields, checking nothing (feature `inspect`).
    ///
    /// ```
    /// let mut v2 = lpframe::Header::for_payload(b"hello").unwrap().to_bytes();
    /// v2[2] = 2;
    /// let fields = lpframe::Header::from_bytes(&v2);
    /// assert_eq!((fields.magic(), fields.version(), fields.flags()), ([0xC1, 0x4C], 2, 0));
    /// assert!(fields.verify(u32::MAX).is_err()); // check 2
    /// assert_ne!(fields.header_crc(), fields.computed_header_crc());
    /// assert_eq!(fields.to_bytes(), v2); // written back unchanged
    /// ```
    #[cfg(feature = "inspect")]
    #[cfg_attr(docsrs, doc(cfg(feature = "inspect")))]
    #[inline]
    pub fn from_bytes(bytes: &[u8; HEADER_LEN]) -> Header {
        let [prefix, len, payload_crc, header_crc] = words(bytes);
        Header {
            prefix,
            len,
            payload_crc,
            header_crc,
        }
    }

    /// Bytes 0..2: [`MAGIC`] in a valid header (feature `inspect`).
    #[cfg(feature = "inspect")]
    #[cfg_attr(docsrs, doc(cfg(feature = "inspect")))]
    pub fn magic(&self) -> [u8; 2] {
        let mut b = [0u8; 4];
        BigEndian::write_u32(&mut b, self.prefix);
        let [m0, m1, _, _] = b;
        [m0, m1]
    }

    /// Byte 2: [`VERSION`] in a header this crate accepts (feature
    /// `inspect`).
    #[cfg(feature = "inspect")]
    #[cfg_attr(docsrs, doc(cfg(feature = "inspect")))]
    pub fn version(&self) -> u8 {
        (self.prefix >> 8) as u8
    }

    /// Byte 3: 0 in a valid v1 header (feature `inspect`).
    #[cfg(feature = "inspect")]
    #[cfg_attr(docsrs, doc(cfg(feature = "inspect")))]
    pub fn flags(&self) -> u8 {
        self.prefix as u8
    }

    /// The CRC-32 of this header's bytes 0..12, to compare with
    /// [`header_crc`](Self::header_crc) (check 3; feature `inspect`).
    #[cfg(feature = "inspect")]
    #[cfg_attr(docsrs, doc(cfg(feature = "inspect")))]
    #[inline]
    pub fn computed_header_crc(&self) -> u32 {
        header_crc(self.prefix, self.len, self.payload_crc)
    }

    /// Checks 1 to 5 of PROTOCOL.md section 4 on a header read by
    /// [`from_bytes`](Self::from_bytes), in its order: magic, version,
    /// header CRC, flags, then the length against `max_len` (feature
    /// `inspect`).
    ///
    /// # Errors
    /// As [`parse`](Self::parse).
    #[cfg(feature = "inspect")]
    #[cfg_attr(docsrs, doc(cfg(feature = "inspect")))]
    pub fn verify(&self, max_len: u32) -> Result<(), DecodeError> {
        check(
            self.prefix,
            self.len,
            self.payload_crc,
            self.header_crc,
            max_len,
        )
        .map_err(|failed| failed.into_error(&self.to_bytes()))
    }

    /// The 16 wire bytes of this header, every field as it is.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        BigEndian::write_u128(&mut b, self.to_word());
        b
    }

    /// The header as one big-endian 128-bit word.
    ///
    /// The encoders write it with one 16-byte store (`put_u128`): building
    /// the 16 bytes piecewise on the stack and copying them out made every
    /// frame wait on failed store-to-load forwarding (perf annotate: the
    /// three hottest instructions of the encoder, 60 % of its samples).
    #[inline(always)]
    pub(crate) fn to_word(self) -> u128 {
        (u128::from(self.prefix) << 96)
            | (u128::from(self.len) << 64)
            | (u128::from(self.payload_crc) << 32)
            | u128::from(self.header_crc)
    }

    /// Reads and verifies a complete header: checks 1 to 5 of PROTOCOL.md
    /// section 4, in its order (magic, version, header CRC, flags, then the
    /// length against `max_len`), as one pass over the four words.
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
    #[inline]
    pub fn parse(bytes: &[u8; HEADER_LEN], max_len: u32) -> Result<Header, DecodeError> {
        let [prefix, len, payload_crc, header_crc] = words(bytes);
        match check(prefix, len, payload_crc, header_crc, max_len) {
            Ok(()) => Ok(Header {
                prefix,
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

/// The four big-endian 32-bit words of a header: prefix, length, payload
/// CRC, header CRC, from one 128-bit read (no range is cut out of the
/// array: a range on a fixed-size array is not checked at compile time).
#[inline(always)]
fn words(bytes: &[u8; HEADER_LEN]) -> [u32; 4] {
    let w = BigEndian::read_u128(bytes);
    [
        (w >> 96) as u32,
        (w >> 64) as u32,
        (w >> 32) as u32,
        w as u32,
    ]
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
            Failed::Prefix => prefix_error(bytes),
            Failed::HeaderChecksum { expected, actual } => {
                DecodeError::HeaderChecksum { expected, actual }
            }
            Failed::ReservedFlags(flags) => DecodeError::ReservedFlags { flags },
            Failed::TooLarge { len, max } => DecodeError::FrameTooLarge { len, max },
        }
    }
}

/// Checks 1 to 5 on the four words of a header.
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
    // LPF v1 defines no flag: any bit set fails check 4.
    let flags = prefix as u8;
    if flags != 0 {
        return Err(Failed::ReservedFlags(flags));
    }
    if len > max {
        return Err(Failed::TooLarge { len, max });
    }
    Ok(())
}

/// The error of check 1 or 2 for a full header whose prefix `check` found
/// wrong.
#[cold]
fn prefix_error(bytes: &[u8; HEADER_LEN]) -> DecodeError {
    let [m0, m1, version, ..] = *bytes;
    if [m0, m1] != MAGIC {
        return bad_magic(m0, m1, bytes);
    }
    DecodeError::UnsupportedVersion {
        found: version,
        supported: VERSION,
    }
}

#[cold]
fn bad_magic(m0: u8, m1: u8, prefix: &[u8]) -> DecodeError {
    DecodeError::BadMagic {
        found: BigEndian::read_u16(&[m0, m1]),
        hint: ForeignProtocol::recognise(prefix),
    }
}

/// Checks 1 and 2 on the first bytes of a header, as soon as they are
/// there (fewer than 16 bytes: a foreign protocol is refused without
/// waiting for a full header).
pub(crate) fn check_prefix(prefix: &[u8]) -> Result<(), DecodeError> {
    if let [m0, m1, rest @ ..] = prefix {
        if [*m0, *m1] != MAGIC {
            return Err(bad_magic(
                *m0,
                *m1,
                prefix.get(..HEADER_LEN).unwrap_or(prefix),
            ));
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
