//! The one serializer: every writing path builds its header here.

use bytes::BufMut;

use crate::{header::Header, Config, Error, Flags, HEADER_LEN};

/// Builds the header for `payload`, after checking the write-side rules:
/// no flag set (LPF v1 defines none) and the payload within
/// [`Config::write_limit`].
///
/// # Errors
/// [`Error::EncodeFlags`] or [`Error::EncodeTooLarge`]; nothing is written
/// anywhere in either case.
pub fn encode_header(
    flags: Flags,
    payload: &[u8],
    config: &Config,
) -> Result<[u8; HEADER_LEN], Error> {
    Ok(checked_header(flags, payload, config)?.to_bytes())
}

/// The write-side checks of [`encode_header`], returning the header itself
/// (the buffer encoders write it with [`Header::to_words`]).
#[inline]
pub(crate) fn checked_header(
    flags: Flags,
    payload: &[u8],
    config: &Config,
) -> Result<Header, Error> {
    if !flags.is_empty() {
        return Err(Error::EncodeFlags { flags });
    }
    let max = config.write_limit();
    match u32::try_from(payload.len()) {
        Ok(len) if len <= max => Header::for_payload(payload),
        _ => Err(Error::EncodeTooLarge {
            len: payload.len(),
            max,
        }),
    }
}

/// Writes `header` into `dst` as two 8-byte stores (see
/// [`Header::to_words`]).
#[inline]
pub(crate) fn put_header<B: BufMut>(header: &Header, dst: &mut B) {
    let [hi, lo] = header.to_words();
    dst.put_u64(hi);
    dst.put_u64(lo);
}

/// Appends one complete frame (header and a copy of `payload`) to `dst`.
///
/// The limit and flags are checked first: on error `dst` is untouched.
///
/// ```
/// use lpframe::{encode_frame, Config, Flags};
///
/// let mut out = Vec::new();
/// encode_frame(Flags::empty(), b"hi", &Config::default(), &mut out).unwrap();
/// assert_eq!(out.len(), 16 + 2);
/// assert_eq!(&out[..4], &[0xC1, 0x4C, 1, 0]);
/// ```
///
/// # Errors
/// [`Error::EncodeFlags`] or [`Error::EncodeTooLarge`].
pub fn encode_frame<B: BufMut>(
    flags: Flags,
    payload: &[u8],
    config: &Config,
    dst: &mut B,
) -> Result<(), Error> {
    let header = checked_header(flags, payload, config)?;
    put_header(&header, dst);
    dst.put_slice(payload);
    Ok(())
}
