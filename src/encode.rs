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
    if !flags.is_empty() {
        return Err(Error::EncodeFlags { flags });
    }
    let max = config.write_limit();
    match u32::try_from(payload.len()) {
        Ok(len) if len <= max => {}
        _ => {
            return Err(Error::EncodeTooLarge {
                len: payload.len(),
                max,
            })
        }
    }
    let header = Header::for_payload(payload)?;
    Ok(header.to_bytes())
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
    let header = encode_header(flags, payload, config)?;
    dst.put_slice(&header);
    dst.put_slice(payload);
    Ok(())
}
