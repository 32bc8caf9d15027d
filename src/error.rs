//! Errors by layer: what a receiver reports ([`DecodeError`]) and what a
//! sender refuses ([`EncodeError`]) are plain data; [`Error`], the error of
//! the paths that do I/O, adds the failures of the stream itself.

use std::{fmt, io};

use crate::{ForeignProtocol, Timeout};

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

/// What a receiver reports about the bytes it received: the errors of
/// PROTOCOL.md section 4.2, with the numbers in them.
///
/// Plain data (`Clone`, `Eq`): the same value comes back from every reading
/// path, and a failed decoder repeats it. Each variant says when it happens
/// and whether the stream is still usable; [`is_fatal`](Self::is_fatal)
/// tells the same in code. For checksums, `expected` is always the value
/// carried in the header and `actual` the value computed over the bytes
/// received.
///
/// `Display` is a message for humans (it may carry a hint, such as "peer
/// sent a TLS ClientHello"); [`canonical`](Self::canonical) is the exact
/// text of the specification, for comparing implementations.
///
/// ```
/// use lpframe::{DecodeError, FramePart};
///
/// let e = DecodeError::Truncated { part: FramePart::Header, missing: 6 };
/// assert!(e.is_fatal());
/// assert_eq!(e.name(), "Truncated");
/// assert_eq!(e.canonical().to_string(), "Truncated part=header missing=6");
/// assert_eq!(e.to_string(), "stream ended inside a frame: 6 more header bytes were expected");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The first two bytes of a header are not the LPF magic `0xC1 0x4C`
    /// (check 1).
    ///
    /// Fatal: the receiver cannot find frame boundaries in this stream.
    /// Reported as soon as two bytes have arrived.
    #[error("bad magic {found:#06x} (expected 0xc14c){}", HintSuffix(.hint))]
    BadMagic {
        /// The two bytes received, big-endian.
        found: u16,
        /// A guess at what the peer is speaking instead, for log messages
        /// (not part of the canonical text).
        hint: Option<ForeignProtocol>,
    },

    /// The version byte is not one this receiver speaks (check 2).
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

    /// The header CRC does not match header bytes 0..12 (check 3): some
    /// header byte (flags, length, payload CRC or the CRC itself) was
    /// corrupted.
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
    /// not define (check 4). Fatal.
    #[error("reserved flag bits set: {flags:#04x}")]
    ReservedFlags {
        /// The flags byte received.
        flags: u8,
    },

    /// A verified header declares a payload longer than the receiver's
    /// [`max_read_frame_len`](crate::Config::max_read_frame_len) (check 5).
    ///
    /// Reported before any byte of the payload is waited for or any memory
    /// is reserved for it. Fatal: the receiver will not buffer the payload.
    #[error("frame too large: {} declared, limit is {max}", Bytes(u64::from(*.len)))]
    FrameTooLarge {
        /// The declared payload length.
        len: u32,
        /// The receiver's limit.
        max: u32,
    },

    /// The payload does not match the CRC in its (intact) header (check 6).
    ///
    /// **Not fatal**: the header was verified, so the length is trusted and
    /// the stream is still in sync; the frame has been consumed and dropped,
    /// and the next call returns the next frame.
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
    /// Fatal, and it stays so: bytes arriving after the end was reported
    /// are never decoded. (End of stream at a frame boundary is not an
    /// error: it is the clean end, reported as `Ok(None)`.)
    #[error(
        "stream ended inside a frame: {missing} more {part} {} expected",
        if *.missing == 1 { "byte was" } else { "bytes were" }
    )]
    Truncated {
        /// The part of the frame that was being read.
        part: FramePart,
        /// How many bytes of that part were still missing.
        missing: u32,
    },

    /// Recovery mode only ([`FrameDecoder::recovering`](crate::FrameDecoder::recovering)):
    /// `len` bytes starting at stream offset `offset` were skipped after
    /// `cause`, because no verified header started inside them.
    ///
    /// Not fatal: the next call returns the frame found after them (or the
    /// clean end of the stream). Reported once per damaged region, when the
    /// decoder has found the next header that verifies or the stream ended.
    #[error("skipped {} at offset {offset} after: {cause}", Bytes(*.len))]
    Skipped {
        /// Stream offset of the first skipped byte.
        offset: u64,
        /// Number of bytes skipped.
        len: u64,
        /// The error that started the skip: a header-level error
        /// ([`is_header_level`](Self::is_header_level)), or
        /// [`Truncated`](Self::Truncated) for a damaged tail at the end of
        /// the stream.
        cause: Box<DecodeError>,
    },
}

/// A count of bytes for a message: "1 byte", "2 bytes".
struct Bytes(u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            1 => f.write_str("1 byte"),
            n => write!(f, "{n} bytes"),
        }
    }
}

struct HintSuffix<'a>(&'a Option<ForeignProtocol>);

impl fmt::Display for HintSuffix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(h) => write!(f, ": {h}"),
            None => Ok(()),
        }
    }
}

impl DecodeError {
    /// `true` when the stream cannot be decoded any further: every error
    /// but [`PayloadChecksum`](Self::PayloadChecksum) (the frame is skipped)
    /// and [`Skipped`](Self::Skipped) (recovery mode).
    pub fn is_fatal(&self) -> bool {
        !matches!(
            self,
            DecodeError::PayloadChecksum { .. } | DecodeError::Skipped { .. }
        )
    }

    /// `true` for the errors of checks 1 to 5 (magic, version, header CRC,
    /// flags, length over the limit), after which the frame boundaries are
    /// lost: the errors after which [recovery mode](crate::FrameDecoder::recovering)
    /// scans for the next header.
    pub fn is_header_level(&self) -> bool {
        matches!(
            self,
            DecodeError::BadMagic { .. }
                | DecodeError::UnsupportedVersion { .. }
                | DecodeError::HeaderChecksum { .. }
                | DecodeError::ReservedFlags { .. }
                | DecodeError::FrameTooLarge { .. }
        )
    }

    /// The error's name in PROTOCOL.md section 4.2 (`"BadMagic"`,
    /// `"PayloadChecksum"` ...): the first word of its
    /// [canonical](Self::canonical) text.
    pub fn name(&self) -> &'static str {
        match self {
            DecodeError::BadMagic { .. } => "BadMagic",
            DecodeError::UnsupportedVersion { .. } => "UnsupportedVersion",
            DecodeError::HeaderChecksum { .. } => "HeaderChecksum",
            DecodeError::ReservedFlags { .. } => "ReservedFlags",
            DecodeError::FrameTooLarge { .. } => "FrameTooLarge",
            DecodeError::PayloadChecksum { .. } => "PayloadChecksum",
            DecodeError::Truncated { .. } => "Truncated",
            DecodeError::Skipped { .. } => "Skipped",
        }
    }

    /// The canonical text of PROTOCOL.md section 4.2, exactly as the test
    /// vectors write it (`BadMagic found=0x4745`,
    /// `Truncated part=payload missing=6` ...), for comparing
    /// implementations. Formats without allocating.
    ///
    /// ```
    /// use lpframe::DecodeError;
    ///
    /// let e = DecodeError::HeaderChecksum { expected: 0x7e440401, actual: 0x1234 };
    /// assert_eq!(
    ///     e.canonical().to_string(),
    ///     "HeaderChecksum expected=0x7e440401 actual=0x00001234"
    /// );
    /// ```
    pub fn canonical(&self) -> impl fmt::Display + '_ {
        Canonical(self)
    }
}

/// The canonical text of a [`DecodeError`]; see [`DecodeError::canonical`].
struct Canonical<'a>(&'a DecodeError);

impl fmt::Display for Canonical<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.0.name();
        match self.0 {
            DecodeError::BadMagic { found, .. } => write!(f, "{name} found={found:#06x}"),
            DecodeError::UnsupportedVersion { found, supported } => {
                write!(f, "{name} found={found} supported={supported}")
            }
            DecodeError::HeaderChecksum { expected, actual } => {
                write!(f, "{name} expected={expected:#010x} actual={actual:#010x}")
            }
            DecodeError::ReservedFlags { flags } => write!(f, "{name} flags={flags:#04x}"),
            DecodeError::FrameTooLarge { len, max } => write!(f, "{name} len={len} max={max}"),
            DecodeError::PayloadChecksum {
                expected,
                actual,
                len,
            } => write!(
                f,
                "{name} expected={expected:#010x} actual={actual:#010x} len={len}"
            ),
            DecodeError::Truncated { part, missing } => {
                write!(f, "{name} part={part} missing={missing}")
            }
            DecodeError::Skipped { offset, len, cause } => {
                write!(
                    f,
                    "{name} offset={offset} len={len} cause={}",
                    Canonical(cause)
                )
            }
        }
    }
}

/// What a sender refuses to encode. Nothing was written anywhere: the
/// stream is still usable.
///
/// ```
/// use lpframe::{encode_frame, EncodeError};
///
/// let mut out = Vec::new();
/// let err = encode_frame(&[0u8; 10], 4, &mut out).unwrap_err();
/// assert_eq!(err, EncodeError::TooLarge { len: 10, max: 4 });
/// assert!(out.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The payload is longer than the sender's
    /// [`max_write_frame_len`](crate::Config::max_write_frame_len) (or than
    /// `u32::MAX`, which the header cannot express).
    #[error(
        "payload of {} exceeds the write limit of {}; nothing was written",
        Bytes(*.len as u64),
        Bytes(u64::from(*.max))
    )]
    TooLarge {
        /// The payload length the caller passed.
        len: usize,
        /// The limit.
        max: u32,
    },
}

/// The error of every path that does I/O: the blocking reader and writer
/// and the tokio codecs. It wraps the plain-data protocol errors and adds
/// the failures of the stream itself.
///
/// [`is_fatal`](Self::is_fatal) says whether the stream can still be used,
/// and it is exact for the path that returned the error: a read timeout is
/// retryable on the paths that keep their place and is reported as
/// [`Desync`](Self::Desync) (fatal) by the exact [`read_frame`] once part of
/// a frame was consumed.
///
/// Converts into [`std::io::Error`] for code that works in I/O errors.
///
/// ```
/// use lpframe::{DecodeError, Error, FrameReader};
///
/// /// What a service does with each error of its read loop.
/// fn action(e: &Error) -> &'static str {
///     match e {
///         Error::Io(_) if e.is_timeout() => "check the idle/stall deadline, then call again",
///         Error::Decode(DecodeError::PayloadChecksum { .. }) => "log the dropped frame, go on",
///         Error::Decode(DecodeError::BadMagic { hint: Some(_), .. }) => "log what the peer speaks, close",
///         Error::Decode(DecodeError::FrameTooLarge { len, max }) if len > max => "close: over our limit",
///         _ if e.is_fatal() => "close the connection",
///         _ => "go on",
///     }
/// }
///
/// let mut reader = FrameReader::new(&b"GET / HTTP/1.1\r\n"[..]);
/// let err = reader.next_frame().unwrap_err();
/// assert_eq!(action(&err), "log what the peer speaks, close");
/// assert_eq!(
///     err.to_string(),
///     "bad magic 0x4745 (expected 0xc14c): peer seems to speak HTTP/1"
/// );
/// ```
///
/// [`read_frame`]: crate::read_frame
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The underlying reader or writer failed, and the path kept its place
    /// in the stream (the frame boundary, or the part of a frame already
    /// received, is unchanged).
    ///
    /// Retryable when the kind is [`WouldBlock`](io::ErrorKind::WouldBlock),
    /// [`TimedOut`](io::ErrorKind::TimedOut) or
    /// [`Interrupted`](io::ErrorKind::Interrupted): call again; fatal for
    /// every other kind.
    #[error(transparent)]
    Io(#[from] io::Error),

    /// An I/O error struck after part of a frame had been read or written,
    /// on a path that cannot resume a frame: [`read_frame`] (which keeps no
    /// state between calls) or [`write_frame`]. The stream is no longer on
    /// a frame boundary, whatever the kind of the I/O error (a read
    /// timeout included): fatal.
    ///
    /// [`read_frame`]: crate::read_frame
    /// [`write_frame`]: crate::write_frame
    #[error("{io} after {done} bytes of a frame had been transferred: the stream is no longer on a frame boundary")]
    Desync {
        /// The I/O error.
        io: io::Error,
        /// How many bytes of the frame had been read or written.
        done: u64,
    },

    /// The peer's bytes broke a protocol rule; see [`DecodeError`]. Fatal
    /// unless [`DecodeError::is_fatal`] says otherwise.
    #[error(transparent)]
    Decode(#[from] DecodeError),

    /// The caller asked to send something LPF cannot carry; nothing was
    /// written and the stream is still usable.
    #[error(transparent)]
    Encode(#[from] EncodeError),

    /// An earlier write failed part-way through a frame, so the stream now
    /// ends in half a frame; the writer refuses to write more (the peer
    /// would read the next frame's bytes as the rest of the broken one).
    /// Fatal.
    #[error("writer is unusable: an earlier write failed inside a frame")]
    WriterPoisoned,

    /// A deadline set on the path expired ([`Deadlines`](crate::Deadlines),
    /// write deadlines): not fatal, the stream is where it was (part of a
    /// frame received is kept, queued bytes stay queued). Extend and call
    /// again, or close.
    #[error(transparent)]
    Timeout(Timeout),
}

impl Error {
    /// `true` when the stream cannot be used any more after this error and
    /// the caller should close it.
    ///
    /// Not fatal: [`Decode`](Self::Decode) errors that are not
    /// ([`DecodeError::is_fatal`]: a corrupt payload, a recovery skip),
    /// [`Encode`](Self::Encode) (nothing was written), and
    /// [`Io`](Self::Io) of kind `WouldBlock`, `TimedOut` or `Interrupted`
    /// (call again: the path kept its place).
    ///
    /// ```
    /// use lpframe::{DecodeError, Error};
    /// use std::io;
    ///
    /// let corrupt = DecodeError::PayloadChecksum { expected: 1, actual: 2, len: 3 };
    /// assert!(!Error::from(corrupt).is_fatal());
    /// assert!(!Error::from(io::Error::from(io::ErrorKind::TimedOut)).is_fatal());
    /// let lost = Error::Desync { io: io::ErrorKind::TimedOut.into(), done: 7 };
    /// assert!(lost.is_fatal());
    /// ```
    pub fn is_fatal(&self) -> bool {
        match self {
            Error::Io(e) => !is_retryable(e.kind()),
            Error::Decode(e) => e.is_fatal(),
            Error::Encode(_) | Error::Timeout(_) => false,
            Error::Desync { .. } | Error::WriterPoisoned => true,
        }
    }

    /// `true` for [`Timeout`](Self::Timeout) (a deadline expired) and for
    /// [`Io`](Self::Io) of kind `WouldBlock` or `TimedOut`: a read or write
    /// timeout after which nothing is lost; call again, or close if the
    /// peer has been silent too long.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout(_))
            || matches!(self, Error::Io(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut))
    }
}

/// The kinds of I/O error after which a path that keeps its place may call
/// again.
pub(crate) fn is_retryable(kind: io::ErrorKind) -> bool {
    matches!(
        kind,
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// For callers that work in `std::io::Error` (e.g. a `Framed` stream used
/// where an `io::Error` is expected).
///
/// [`Error::Io`] is unwrapped. Every other error becomes an `io::Error`
/// whose inner error is the typed [`Error`] (`get_ref()` / `downcast`
/// recover it), with the kind `UnexpectedEof` for
/// [`DecodeError::Truncated`], `InvalidData` for the other decode errors,
/// `InvalidInput` for [`Error::Encode`], `BrokenPipe` for
/// [`Error::WriterPoisoned`], `TimedOut` for [`Error::Timeout`] and `Other`
/// for [`Error::Desync`].
///
/// ```
/// use lpframe::{DecodeError, Error};
/// use std::io;
///
/// let e = io::Error::from(Error::from(DecodeError::FrameTooLarge { len: 9, max: 8 }));
/// assert_eq!(e.kind(), io::ErrorKind::InvalidData);
/// let inner = e.get_ref().and_then(|i| i.downcast_ref::<Error>());
/// assert!(matches!(inner, Some(Error::Decode(DecodeError::FrameTooLarge { len: 9, max: 8 }))));
/// ```
impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        let kind = match &e {
            Error::Io(_) | Error::Desync { .. } => io::ErrorKind::Other,
            Error::Decode(DecodeError::Truncated { .. }) => io::ErrorKind::UnexpectedEof,
            Error::Decode(_) => io::ErrorKind::InvalidData,
            Error::Encode(_) => io::ErrorKind::InvalidInput,
            Error::WriterPoisoned => io::ErrorKind::BrokenPipe,
            Error::Timeout(_) => io::ErrorKind::TimedOut,
        };
        match e {
            Error::Io(inner) => inner,
            other => io::Error::new(kind, other),
        }
    }
}

/// A [`FrameWriter`](crate::FrameWriter) that could not be unwrapped because
/// flushing it failed, returned with the error so that nothing is lost: on
/// a retryable error, take the writer back with
/// [`into_writer`](Self::into_writer) and try again (as with std's
/// `BufWriter::into_inner`).
#[derive(Debug)]
pub struct IntoInnerError<W> {
    writer: W,
    error: Error,
}

impl<W> IntoInnerError<W> {
    pub(crate) fn new(writer: W, error: Error) -> Self {
        IntoInnerError { writer, error }
    }

    /// The error that stopped the flush.
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// The writer, with every unsent byte still queued in it.
    pub fn into_writer(self) -> W {
        self.writer
    }

    /// The writer and the error.
    pub fn into_parts(self) -> (W, Error) {
        (self.writer, self.error)
    }
}

impl<W> fmt::Display for IntoInnerError<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "could not flush the writer: {}", self.error)
    }
}

/// The message includes the error's, so `source()` is not set (an error
/// chain printer would show it twice).
impl<W: fmt::Debug> std::error::Error for IntoInnerError<W> {}

/// For `?` where the writer is no longer wanted: keeps the error, drops the
/// writer and what was still queued in it (as std's
/// `From<IntoInnerError<W>> for io::Error` does).
impl<W> From<IntoInnerError<W>> for Error {
    fn from(e: IntoInnerError<W>) -> Error {
        e.error
    }
}
