//! The one serializer: every writing path builds its header here, and
//! queues what it writes in the one [`queue::WriteQueue`].

pub(crate) mod queue;

use byteorder::{BigEndian, ByteOrder};
use bytes::BufMut;

use crate::{checksum::payload_crc, EncodeError, Header, HEADER_LEN};

/// The 16 header bytes for `payload`, after the sender's checks: the
/// payload within `max_frame_len` (PROTOCOL.md section 3, rule 3). For
/// writing header and payload yourself, e.g. with a vectored write.
///
/// ```
/// let header = lpframe::encode_header(b"hello", lpframe::DEFAULT_MAX_FRAME_LEN).unwrap();
/// assert_eq!(header[..8], [0xc1, 0x4c, 1, 0, 0, 0, 0, 5]);
/// ```
///
/// # Errors
/// [`EncodeError::TooLarge`].
pub fn encode_header(payload: &[u8], max_frame_len: u32) -> Result<[u8; HEADER_LEN], EncodeError> {
    Ok(checked_header(payload, max_frame_len)?.to_bytes())
}

/// The header for a frame, after the sender's check: the payload within
/// `max`.
#[inline(always)]
pub(crate) fn checked_header(payload: &[u8], max: u32) -> Result<Header, EncodeError> {
    match u32::try_from(payload.len()) {
        Ok(len) if len <= max => Ok(Header::new(len, payload_crc(payload))),
        _ => Err(EncodeError::TooLarge {
            len: payload.len(),
            max,
        }),
    }
}

/// Writes `header` into `dst` as one 16-byte store (see
/// [`Header::to_word`]).
#[inline(always)]
pub(crate) fn put_header<B: BufMut>(header: &Header, dst: &mut B) {
    let mut bytes = [0u8; HEADER_LEN];
    BigEndian::write_u128(&mut bytes, header.to_word());
    dst.put_slice(&bytes);
}

/// Appends one complete frame (header and a copy of `payload`) to `dst`.
///
/// The limit is checked first: on error `dst` is untouched.
///
/// ```
/// let mut out = Vec::new();
/// lpframe::encode_frame(b"hi", lpframe::DEFAULT_MAX_FRAME_LEN, &mut out).unwrap();
/// assert_eq!(out.len(), 16 + 2);
/// assert_eq!(&out[..4], &[0xC1, 0x4C, 1, 0]);
/// ```
///
/// # Errors
/// [`EncodeError::TooLarge`].
pub fn encode_frame<B: BufMut>(
    payload: &[u8],
    max_frame_len: u32,
    dst: &mut B,
) -> Result<(), EncodeError> {
    let header = checked_header(payload, max_frame_len)?;
    put_header(&header, dst);
    dst.put_slice(payload);
    Ok(())
}
