//! Typed errors: one enum for every path, with the numbers in it.

use std::{fmt, io};

use crate::Flags;

/// Which part of a frame an error refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FramePart {
    /// The fixed 16-byte header.
    Header,
    /// The `length` payload bytes after the header.
    Payload,
}

impl fmt::Display for FramePart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FramePart::Header => "header",
            FramePart::Payload => "payload",
        })
    }
}

/// What a peer that sent bytes with the wrong magic seems to be speaking.
///
/// Only a hint for humans reading logs, derived from the first bytes that
/// arrived; never part of the protocol.
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
}

impl ForeignProtocol {
    /// Guesses the protocol from the first bytes received (any length).
    pub fn detect(prefix: &[u8]) -> Option<ForeignProtocol> {
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
        })
    }
}

/// Every error lpframe reports, on every path (tokio codec, blocking reader
/// and writer, pure decoder).
///
/// Each variant says when it happens and whether the stream is still usable
/// afterwards; [`Error::is_fatal`] tells the same in code. Numbers are
/// carried as fields so that callers can match and log them.
///
/// For checksums, `expected` is always the value carried on the wire (in the
/// header) and `actual` the value computed over the bytes received.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The underlying reader or writer failed.
    ///
    /// Usable afterwards only when the kind is
    /// [`WouldBlock`](io::ErrorKind::WouldBlock),
    /// [`TimedOut`](io::ErrorKind::TimedOut) or
    /// [`Interrupted`](io::ErrorKind::Interrupted) **and** the path is one
    /// that keeps its place ([`FrameReader`](crate::FrameReader), the tokio
    /// codec); [`read_frame`](crate::read_frame) loses its place on any
    /// error. See [`Error::is_fatal`].
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),

    /// The first two bytes of a header are not the LPF magic `0xC1 0x4C`.
    ///
    /// Fatal: the receiver cannot find frame boundaries in this stream.
    #[error("bad magic {found:#06x} (expected 0xc14c){}", hint_suffix(.hint))]
    BadMagic {
        /// The two bytes received, big-endian.
        found: u16,
        /// A guess at what the peer is speaking instead, for log messages.
        hint: Option<ForeignProtocol>,
    },

    /// The version byte is not one this receiver speaks.
    ///
    /// Checked before the header CRC, so that a later version may change the
    /// rest of the header. Fatal.
    #[error("unsupported LPF version {found} (this receiver speaks version {supported})")]
    UnsupportedVersion {
        /// The version byte received.
        found: u8,
        /// The version this implementation speaks (1).
        supported: u8,
    },

    /// The header CRC does not match header bytes 0..12: some header byte
    /// (flags, length, payload CRC or the CRC itself) was corrupted.
    ///
    /// Fatal: the length cannot be trusted, so the next frame boundary is
    /// unknown.
    #[error("header checksum mismatch: header says {expected:#010x}, bytes give {actual:#010x}")]
    HeaderChecksum {
        /// The CRC carried in header bytes 12..16.
        expected: u32,
        /// The CRC-32 computed over header bytes 0..12 as received.
        actual: u32,
    },

    /// The header (with a valid CRC) sets a flag bit that this version does
    /// not define. Fatal.
    #[error("reserved flag bits set: {flags}")]
    ReservedFlags {
        /// The flags byte received.
        flags: Flags,
    },

    /// A verified header declares a payload longer than the receiver's
    /// [`max_read_frame_len`](crate::Config::max_read_frame_len).
    ///
    /// Reported before any byte of the payload is waited for or any memory
    /// is reserved for it. Fatal: the receiver will not buffer the payload.
    #[error("frame too large: {len} bytes declared, limit is {max}")]
    FrameTooLarge {
        /// The declared payload length.
        len: u32,
        /// The receiver's limit.
        max: u32,
    },

    /// The payload does not match the CRC in its (intact) header.
    ///
    /// **Not fatal**: the header was verified, so the length is trusted and
    /// the stream is still in sync; the frame is dropped and the next call
    /// returns the next frame.
    #[error("payload checksum mismatch in a {len}-byte payload: header says {expected:#010x}, payload gives {actual:#010x}")]
    PayloadChecksum {
        /// The payload CRC carried in the header.
        expected: u32,
        /// The CRC-32 computed over the payload as received.
        actual: u32,
        /// The payload length.
        len: u32,
    },

    /// The stream ended inside a frame; the partial frame is not delivered.
    ///
    /// Fatal. (End of stream at a frame boundary is not an error: it is the
    /// clean end, reported as `Ok(None)`.)
    #[error("stream ended inside a frame: {missing} more {part} bytes were expected")]
    Truncated {
        /// The part of the frame that was being read.
        part: FramePart,
        /// How many bytes of that part were still missing.
        missing: u32,
    },

    /// The caller asked to send a payload longer than
    /// [`max_write_frame_len`](crate::Config::max_write_frame_len) (or than
    /// `u32::MAX`).
    ///
    /// Reported before any byte is written: the stream is still usable.
    #[error("payload of {len} bytes exceeds the write limit of {max} bytes; nothing was written")]
    EncodeTooLarge {
        /// The payload length the caller passed.
        len: usize,
        /// The writer's limit.
        max: u32,
    },

    /// The caller asked to send a frame with flag bits that LPF v1 does not
    /// define. Nothing was written: the stream is still usable.
    #[error("cannot send flags {flags}: LPF v1 defines no flag; nothing was written")]
    EncodeFlags {
        /// The flags the caller passed.
        flags: Flags,
    },

    /// An earlier write failed part-way through a frame, so the stream now
    /// ends in half a frame; the writer refuses to write more (the peer
    /// would read the next frame's bytes as the rest of the broken one).
    ///
    /// Fatal.
    #[error("writer is unusable: an earlier write failed inside a frame")]
    WriterPoisoned,

    /// Recovery mode only ([`Config::recover`](crate::Config::recover)):
    /// `len` bytes starting at stream offset `offset` were skipped after
    /// `cause`, because no verified header started inside them.
    ///
    /// Not fatal: the next call returns the frame found after them (or the
    /// clean end of the stream). Reported once per damaged region, when the
    /// decoder has found the next header that verifies or the stream ended.
    #[error("skipped {len} bytes at offset {offset} after: {cause}")]
    Skipped {
        /// Stream offset of the first skipped byte.
        offset: u64,
        /// Number of bytes skipped.
        len: u64,
        /// The error that started the skip (a header-level error, or
        /// [`Error::Truncated`] for a damaged tail at the end of the
        /// stream).
        cause: Box<Error>,
    },
}

fn hint_suffix(hint: &Option<ForeignProtocol>) -> String {
    match hint {
        Some(h) => format!(": {h}"),
        None => String::new(),
    }
}

impl Error {
    /// `true` when the stream cannot be used any more after this error and
    /// the caller should close it.
    ///
    /// Not fatal: [`PayloadChecksum`](Error::PayloadChecksum) (the frame is
    /// skipped), [`Skipped`](Error::Skipped) (recovery mode), [`EncodeTooLarge`](Error::EncodeTooLarge) and
    /// [`EncodeFlags`](Error::EncodeFlags) (nothing was written), and I/O
    /// errors of kind `WouldBlock`, `TimedOut` or `Interrupted` (retry on a
    /// path that keeps its place: [`FrameReader`](crate::FrameReader),
    /// [`FrameWriter`](crate::FrameWriter), the tokio codec).
    ///
    /// ```
    /// use lpframe::Error;
    ///
    /// assert!(!Error::PayloadChecksum { expected: 1, actual: 2, len: 3 }.is_fatal());
    /// assert!(Error::HeaderChecksum { expected: 1, actual: 2 }.is_fatal());
    /// let timeout = std::io::Error::from(std::io::ErrorKind::TimedOut);
    /// assert!(!Error::Io(timeout).is_fatal());
    /// ```
    pub fn is_fatal(&self) -> bool {
        match self {
            Error::Io(e) => !is_retryable(e.kind()),
            Error::PayloadChecksum { .. }
            | Error::EncodeTooLarge { .. }
            | Error::EncodeFlags { .. }
            | Error::Skipped { .. } => false,
            _ => true,
        }
    }

    /// `true` for the errors that make a receiver lose frame boundaries
    /// (magic, version, header CRC, flags, length over the limit): the
    /// errors after which [recovery mode](crate::Config::recover) scans
    /// for the next header.
    pub fn is_header_level(&self) -> bool {
        matches!(
            self,
            Error::BadMagic { .. }
                | Error::UnsupportedVersion { .. }
                | Error::HeaderChecksum { .. }
                | Error::ReservedFlags { .. }
                | Error::FrameTooLarge { .. }
        )
    }

    /// `true` for an I/O timeout (`WouldBlock` or `TimedOut`): nothing is
    /// lost, the call may be repeated on a path that keeps its place.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Io(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut))
    }

    /// A copy of a protocol error (used by a failed decoder to repeat its
    /// error). I/O errors are copied by kind and message.
    pub(crate) fn duplicate(&self) -> Error {
        match self {
            Error::Io(e) => Error::Io(io::Error::new(e.kind(), e.to_string())),
            Error::BadMagic { found, hint } => Error::BadMagic {
                found: *found,
                hint: *hint,
            },
            Error::UnsupportedVersion { found, supported } => Error::UnsupportedVersion {
                found: *found,
                supported: *supported,
            },
            Error::HeaderChecksum { expected, actual } => Error::HeaderChecksum {
                expected: *expected,
                actual: *actual,
            },
            Error::ReservedFlags { flags } => Error::ReservedFlags { flags: *flags },
            Error::FrameTooLarge { len, max } => Error::FrameTooLarge {
                len: *len,
                max: *max,
            },
            Error::PayloadChecksum {
                expected,
                actual,
                len,
            } => Error::PayloadChecksum {
                expected: *expected,
                actual: *actual,
                len: *len,
            },
            Error::Truncated { part, missing } => Error::Truncated {
                part: *part,
                missing: *missing,
            },
            Error::EncodeTooLarge { len, max } => Error::EncodeTooLarge {
                len: *len,
                max: *max,
            },
            Error::EncodeFlags { flags } => Error::EncodeFlags { flags: *flags },
            Error::WriterPoisoned => Error::WriterPoisoned,
            Error::Skipped { offset, len, cause } => Error::Skipped {
                offset: *offset,
                len: *len,
                cause: Box::new(cause.duplicate()),
            },
        }
    }
}

pub(crate) fn is_retryable(kind: io::ErrorKind) -> bool {
    matches!(
        kind,
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// Converts for callers that work in `std::io::Error` (e.g. a `Framed`
/// stream used where an `io::Error` is expected).
///
/// [`Error::Io`] is unwrapped; [`Error::Truncated`] becomes
/// `UnexpectedEof`; encode-side rejections become `InvalidInput`; every
/// other protocol error becomes `InvalidData` with the typed [`Error`] as
/// its inner error, so `get_ref()`/`downcast` recovers it.
impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        let kind = match &e {
            Error::Io(_) => io::ErrorKind::Other,
            Error::Truncated { .. } => io::ErrorKind::UnexpectedEof,
            Error::EncodeTooLarge { .. } | Error::EncodeFlags { .. } => io::ErrorKind::InvalidInput,
            Error::WriterPoisoned => io::ErrorKind::BrokenPipe,
            _ => io::ErrorKind::InvalidData,
        };
        match e {
            Error::Io(inner) => inner,
            other => io::Error::new(kind, other),
        }
    }
}
