//! Recognising another protocol from the first bytes a peer sent: the hint
//! carried by [`DecodeError::BadMagic`](crate::DecodeError::BadMagic).

use std::fmt;

use byteorder::{BigEndian, ByteOrder};

/// What a peer that sent bytes with the wrong magic seems to be speaking.
///
/// Only a hint for humans reading logs, derived from the first bytes that
/// arrived (so it may be less precise when fewer bytes had arrived); never
/// part of the protocol, and left out of the canonical error text.
///
/// ```
/// use lpframe::{DecodeError, ForeignProtocol};
///
/// let mut decoder = lpframe::FrameDecoder::new();
/// let mut buf = bytes::BytesMut::from(&b"GET / HTTP/1.1\r\n"[..]);
/// let Err(DecodeError::BadMagic { hint, .. }) = decoder.decode(&mut buf) else { panic!() };
/// assert_eq!(hint, Some(ForeignProtocol::Http1));
/// ```
///
/// With the `inspect` feature, `ForeignProtocol::detect` makes the same
/// guess on any bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ForeignProtocol {
    /// An HTTP/1.x request or response line (`GET `, `POST`, `HTTP/` ...).
    Http1,
    /// The HTTP/2 connection preface (`PRI * HTTP/2.0`).
    Http2,
    /// A TLS ClientHello: a TLS client is talking to a plaintext LPF port.
    TlsClientHello,
    /// Some other TLS record (content types 0x14–0x17).
    Tls,
    /// An SSH identification banner (`SSH-`).
    Ssh,
    /// Printable ASCII text: a line-based protocol (SMTP, RESP, a human with
    /// netcat ...).
    Text,
    /// Zero bytes: uninitialised or zero-filled data.
    Zeros,
    /// A length prefix, as tokio-util's `LengthDelimitedCodec` writes it
    /// (and most ad-hoc framings): a big-endian u32 of 1 to 8 MiB (that
    /// codec's default limit), which also covers a big-endian u16 prefix
    /// below 256 followed by its payload.
    LengthPrefixed,
}

impl ForeignProtocol {
    /// Guesses the protocol from the first bytes received (any length; fewer
    /// than two bytes never give a guess). Feature `inspect`.
    ///
    /// ```
    /// use lpframe::ForeignProtocol;
    ///
    /// assert_eq!(ForeignProtocol::detect(b"GET / HTTP/1.1\r\n"), Some(ForeignProtocol::Http1));
    /// assert_eq!(ForeignProtocol::detect(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]), Some(ForeignProtocol::TlsClientHello));
    /// // A LengthDelimitedCodec peer: a u32 big-endian length, then the payload.
    /// assert_eq!(ForeignProtocol::detect(b"\0\0\0\x05hello"), Some(ForeignProtocol::LengthPrefixed));
    /// assert_eq!(ForeignProtocol::detect(&[0xC1, 0x4C]), None);
    /// ```
    #[cfg(feature = "inspect")]
    #[cfg_attr(docsrs, doc(cfg(feature = "inspect")))]
    pub fn detect(prefix: &[u8]) -> Option<ForeignProtocol> {
        ForeignProtocol::recognise(prefix)
    }

    /// The guess of [`DecodeError::BadMagic`](crate::DecodeError::BadMagic).
    pub(crate) fn recognise(prefix: &[u8]) -> Option<ForeignProtocol> {
        const HTTP1: [&[u8]; 10] = [
            b"GET ", b"POST", b"PUT ", b"HEAD", b"DELE", b"OPTI", b"PATC", b"CONN", b"TRAC",
            b"HTTP",
        ];
        // A token matches when one is a prefix of the other, so that a
        // hint is given even when only the first bytes have arrived.
        let token = |t: &[u8]| prefix.starts_with(t) || t.starts_with(prefix);
        match prefix {
            [] | [_] => None,
            [0x16, 0x03, _, _, _, 0x01, ..] => Some(ForeignProtocol::TlsClientHello),
            [0x14..=0x17, 0x03, ..] => Some(ForeignProtocol::Tls),
            _ if token(b"PRI * HTTP/2") => Some(ForeignProtocol::Http2),
            _ if token(b"SSH-") => Some(ForeignProtocol::Ssh),
            _ if HTTP1.iter().any(|t| token(t)) => Some(ForeignProtocol::Http1),
            _ if prefix.iter().all(|&b| b == 0) => Some(ForeignProtocol::Zeros),
            _ if length_prefixed(prefix) => Some(ForeignProtocol::LengthPrefixed),
            _ if prefix
                .iter()
                .all(|&b| b.is_ascii_graphic() || matches!(b, b' ' | b'\r' | b'\n' | b'\t')) =>
            {
                Some(ForeignProtocol::Text)
            }
            _ => None,
        }
    }
}

/// `LengthDelimitedCodec`'s default `max_frame_length`.
const LENGTH_PREFIX_MAX: u32 = 8 * 1024 * 1024;

/// A plausible length prefix at the front of `prefix` (not all zeros, which
/// [`ForeignProtocol::Zeros`] takes first): a u32 BE of 1 to 8 MiB, i.e. a
/// zero byte, then three bytes not all zero (with two or three bytes
/// received: a zero byte, then a nonzero one). A u16 BE prefix below 256
/// followed by its payload reads as one too; a larger u16 cannot be told
/// from other binary data in the bytes a decoder looks at.
fn length_prefixed(prefix: &[u8]) -> bool {
    match prefix {
        [0, rest @ ..] if rest.len() >= 3 => {
            (1..=LENGTH_PREFIX_MAX).contains(&BigEndian::read_u24(rest))
        }
        [0, b1] | [0, b1, _] => *b1 != 0,
        _ => false,
    }
}

impl fmt::Display for ForeignProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ForeignProtocol::Http1 => "peer seems to speak HTTP/1",
            ForeignProtocol::Http2 => "peer sent the HTTP/2 connection preface",
            ForeignProtocol::TlsClientHello => {
                "peer sent a TLS ClientHello (TLS client on a plaintext LPF port?)"
            }
            ForeignProtocol::Tls => "peer sent a TLS record",
            ForeignProtocol::Ssh => "peer sent an SSH banner",
            ForeignProtocol::Text => "peer sent plain text",
            ForeignProtocol::Zeros => "zero bytes (zero-filled or uninitialised data?)",
            ForeignProtocol::LengthPrefixed => {
                "peer sent a length-prefixed (LengthDelimitedCodec-style) frame"
            }
        })
    }
}
