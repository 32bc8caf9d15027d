//! The one incremental decoder. Every reading path (the tokio codec,
//! [`FrameReader`](crate::FrameReader)) is a loop around
//! [`FrameDecoder::decode`]; [`read_frame`](crate::read_frame) and
//! [`decode_slice`] use the same header and payload checks from
//! [`header`](crate::header).

use bytes::{Buf, Bytes, BytesMut};

use crate::{
    header::{check_prefix, Header, MAGIC},
    Config, Error, Frame, FramePart, FrameRef, HEADER_LEN,
};

/// Where the decoder is inside the stream. Cached so a partial read never
/// parses a header twice.
#[derive(Debug)]
enum State {
    /// Waiting for (the rest of) a header at the front of the buffer.
    Head,
    /// A verified header was consumed; waiting for its payload.
    Payload(Header),
    /// A header-level error happened: the frame boundaries are lost and the
    /// decoder repeats this error on every call.
    Failed(Error),
    /// Recovery mode: scanning for the next header that verifies, since
    /// stream offset `start`, after `cause`.
    Scan { start: u64, cause: Error },
}

/// The incremental LPF decoder over a [`BytesMut`]: feed it bytes as they
/// arrive, in any chunking, and it yields verified frames.
///
/// - `Ok(Some(frame))`: a complete frame, both CRCs verified; its payload
///   shares `src`'s memory (no copy).
/// - `Ok(None)`: more bytes are needed. The decoder never reserves memory
///   in `src` (unlike `LengthDelimitedCodec`, which reserves the declared
///   length): buffer growth follows the bytes that actually arrive.
/// - `Err(e)`: see [`Error::is_fatal`]. After
///   [`PayloadChecksum`](Error::PayloadChecksum) the bad frame has been
///   consumed and the next call continues with the next frame. After any
///   header-level error the decoder is *failed*: it never yields a frame
///   again and returns the same error on every call — unless
///   [recovery mode](Config::recover) is on, where it scans for the next
///   verified header and reports [`Error::Skipped`] instead.
///
/// ```
/// use bytes::BytesMut;
/// use lpframe::{encode_frame, Config, Flags, FrameDecoder};
///
/// let mut wire = Vec::new();
/// encode_frame(Flags::empty(), b"hello", &Config::default(), &mut wire).unwrap();
///
/// let mut decoder = FrameDecoder::new();
/// let mut buf = BytesMut::new();
/// buf.extend_from_slice(&wire[..7]); // half a header
/// assert_eq!(decoder.decode(&mut buf).unwrap(), None);
/// buf.extend_from_slice(&wire[7..]);
/// let frame = decoder.decode(&mut buf).unwrap().unwrap();
/// assert_eq!(frame.payload(), &b"hello"[..]);
/// assert!(buf.is_empty());
/// ```
#[derive(Debug)]
pub struct FrameDecoder {
    config: Config,
    state: State,
    /// Stream offset of the first byte not yet consumed from `src`.
    position: u64,
    /// Stream offset of the header of the frame being (or last) decoded.
    frame_offset: u64,
    /// Recovery mode: candidate headers examined while scanning.
    scan_candidates: u64,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        FrameDecoder::new()
    }
}

impl FrameDecoder {
    /// A decoder with the default [`Config`].
    pub fn new() -> Self {
        FrameDecoder::with_config(Config::default())
    }

    /// A decoder with the given limits.
    pub fn with_config(config: Config) -> Self {
        FrameDecoder {
            config,
            state: State::Head,
            position: 0,
            frame_offset: 0,
            scan_candidates: 0,
        }
    }

    /// The limits in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The limits, to change at runtime (applies from the next header).
    pub fn config_mut(&mut self) -> &mut Config {
        &mut self.config
    }

    /// How many bytes of the stream this decoder has consumed (taken out of
    /// `src`), i.e. the stream offset of the next byte it will read.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The stream offset of the header of the frame last decoded, being
    /// decoded, or that caused the last error — for messages such as "bad
    /// payload CRC in the frame at offset 4096".
    pub fn frame_offset(&self) -> u64 {
        self.frame_offset
    }

    /// Recovery mode: how many candidate headers (magic found) the scans
    /// have examined so far. Each costs at most one 12-byte CRC, so
    /// `scan_candidates() * 12` bounds the CRC work of recovery — the
    /// number that shows the scan is linear (at most one candidate per two
    /// bytes scanned).
    pub fn scan_candidates(&self) -> u64 {
        self.scan_candidates
    }

    /// `true` once a header-level error has made the stream unusable.
    pub fn is_failed(&self) -> bool {
        matches!(self.state, State::Failed(_))
    }

    /// `true` when a header has been consumed and its payload is awaited.
    pub fn is_in_payload(&self) -> bool {
        matches!(self.state, State::Payload(_))
    }

    /// How many more bytes the current frame needs when `buffered` bytes of
    /// it are in `src` (at least 1 while the decoder can progress).
    pub fn bytes_missing(&self, buffered: usize) -> usize {
        match &self.state {
            State::Head => HEADER_LEN.saturating_sub(buffered).max(1),
            State::Payload(h) => (h.len as usize).saturating_sub(buffered).max(1),
            State::Failed(_) | State::Scan { .. } => 1,
        }
    }

    /// Decodes the next frame from the front of `src`; see the type docs.
    ///
    /// # Errors
    /// Any protocol error of [`Error`]; never [`Error::Io`].
    pub fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, Error> {
        let header = match &self.state {
            State::Payload(h) => *h,
            State::Failed(e) => return Err(e.duplicate()),
            State::Scan { .. } => return self.scan(src),
            State::Head => {
                self.frame_offset = self.position;
                let Some(head) = src.first_chunk::<HEADER_LEN>() else {
                    // Reject a foreign protocol as soon as its first bytes
                    // show it, instead of waiting for a full header.
                    return match check_prefix(src) {
                        Ok(()) => Ok(None),
                        Err(e) => self.header_error(e, src),
                    };
                };
                let header = match Header::parse(head, self.config.read_limit()) {
                    Ok(h) => h,
                    Err(e) => return self.header_error(e, src),
                };
                src.advance(HEADER_LEN);
                self.position += HEADER_LEN as u64;
                header
            }
        };
        let len = header.len as usize;
        if src.len() < len {
            // Nothing is reserved for the declared length: the caller's
            // buffer grows with the bytes that actually arrive.
            self.state = State::Payload(header);
            return Ok(None);
        }
        let payload = src.split_to(len).freeze();
        self.finish_frame(header, payload).map(Some)
    }

    /// The end of every frame, whichever buffer its payload was read into:
    /// back to `Head`, past the payload, then the payload CRC (check 6).
    fn finish_frame(&mut self, header: Header, payload: Bytes) -> Result<Frame, Error> {
        self.state = State::Head;
        self.position += payload.len() as u64;
        header.verify_payload(&payload)?;
        Ok(Frame::with_flags(header.flags, payload))
    }

    /// Like [`decode`](Self::decode), for when the stream has ended: a
    /// partial frame left in `src` is reported as [`Error::Truncated`]
    /// (in recovery mode: as [`Error::Skipped`] with that cause, after which
    /// the next call returns `Ok(None)`); `Ok(None)` means a clean end on a
    /// frame boundary.
    ///
    /// # Errors
    /// As [`decode`](Self::decode), plus [`Error::Truncated`].
    pub fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, Error> {
        if let Some(frame) = self.decode(src)? {
            return Ok(Some(frame));
        }
        let (part, missing) = match &self.state {
            State::Head if src.is_empty() => return Ok(None),
            State::Head => (FramePart::Header, HEADER_LEN - src.len()),
            State::Payload(h) => (FramePart::Payload, h.len as usize - src.len()),
            State::Failed(e) => return Err(e.duplicate()),
            State::Scan { .. } => {
                // The stream ended while scanning: the rest was damage too.
                let rest = src.len();
                self.skip(src, rest);
                return Err(self.end_scan());
            }
        };
        let truncated = Error::Truncated {
            part,
            missing: u32::try_from(missing).unwrap_or(u32::MAX),
        };
        if !self.config.recovers() {
            return Err(truncated);
        }
        // Recovery mode: a damaged tail is skipped like any damaged region,
        // from the start of its header, and the stream ends cleanly.
        let start = self.frame_offset;
        let rest = src.len();
        self.skip(src, rest);
        self.state = State::Head;
        Err(Error::Skipped {
            offset: start,
            len: self.position - start,
            cause: Box::new(truncated),
        })
    }

    /// The declared payload length, when the decoder has verified a header
    /// and waits for its payload (for readers that read a large payload
    /// into a buffer of its own, then call [`complete_payload`]).
    ///
    /// [`complete_payload`]: FrameDecoder::complete_payload
    pub(crate) fn pending_payload_len(&self) -> Option<usize> {
        match &self.state {
            State::Payload(h) => Some(h.len as usize),
            _ => None,
        }
    }

    /// Finishes the pending frame with `payload`, read by the caller
    /// outside the decoder's buffer, exactly as [`decode`] would have with
    /// those bytes in its buffer: checks the payload CRC and moves on to
    /// the next header.
    ///
    /// [`decode`]: FrameDecoder::decode
    pub(crate) fn complete_payload(&mut self, payload: Bytes) -> Result<Frame, Error> {
        let header = match &self.state {
            State::Payload(h) if h.len as usize == payload.len() => *h,
            // Not reached: the reader calls this only with the pending length.
            _ => {
                return Err(Error::Io(std::io::Error::other(
                    "lpframe internal error: payload completed without a pending header",
                )))
            }
        };
        self.finish_frame(header, payload)
    }

    /// A header-level error at the front of `src`: fatal, or in recovery
    /// mode the start of a scan.
    fn header_error(&mut self, e: Error, src: &mut BytesMut) -> Result<Option<Frame>, Error> {
        if !self.config.recovers() {
            return Err(self.fail(e));
        }
        self.state = State::Scan {
            start: self.position,
            cause: e,
        };
        self.skip(src, 1);
        self.scan(src)
    }

    /// Recovery scan: releases bytes until `src` starts with a header that
    /// verifies, then reports the skip. Linear: each byte is passed by the
    /// magic search once, and each candidate costs one constant-time
    /// header check before the scan moves past it. Both loops end: every
    /// iteration releases at least one byte of `src` or returns.
    ///
    /// A header found here is trusted like any verified header: if its
    /// payload then fails its CRC, the frame is reported and its declared
    /// length skipped. Rescanning inside that length instead would make the
    /// worst case quadratic (crafted headers every few bytes, each declaring
    /// the maximum length), and a false header in damaged data needs a
    /// 64-bit match (probability 2^-64 per offset; PROTOCOL.md section 8).
    fn scan(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, Error> {
        loop {
            let Some(at) = find_candidate(src) else {
                let all = src.len();
                self.skip(src, all);
                return Ok(None);
            };
            self.skip(src, at);
            self.scan_candidates += 1;
            match src.first_chunk::<HEADER_LEN>() {
                Some(head) if Header::parse(head, self.config.read_limit()).is_ok() => {
                    return Err(self.end_scan());
                }
                Some(_) => {}
                // A candidate still arriving: wait for its 16 bytes unless
                // its first bytes already rule it out.
                None if check_prefix(src).is_ok() => return Ok(None),
                None => {}
            }
            self.skip(src, 1);
        }
    }

    /// Leaves the scan state, returning the report of what it skipped.
    fn end_scan(&mut self) -> Error {
        match std::mem::replace(&mut self.state, State::Head) {
            State::Scan { start, cause } => Error::Skipped {
                offset: start,
                len: self.position - start,
                cause: Box::new(cause),
            },
            other => {
                // Not scanning: nothing was skipped. (Not reached.)
                self.state = other;
                Error::Skipped {
                    offset: self.position,
                    len: 0,
                    cause: Box::new(Error::WriterPoisoned),
                }
            }
        }
    }

    /// Releases `n` bytes from the front of `src`.
    fn skip(&mut self, src: &mut BytesMut, n: usize) {
        let n = n.min(src.len());
        src.advance(n);
        self.position += n as u64;
    }

    fn fail(&mut self, e: Error) -> Error {
        self.state = State::Failed(e.duplicate());
        e
    }
}

/// The index of the first possible header start in `src`: a magic pair,
/// or a lone first magic byte at the very end (its pair may follow).
fn find_candidate(src: &[u8]) -> Option<usize> {
    let mut i = 0;
    loop {
        i += src.get(i..)?.iter().position(|&b| b == MAGIC[0])?;
        match src.get(i + 1) {
            None => return Some(i),
            Some(&b) if b == MAGIC[1] => return Some(i),
            Some(_) => i += 1,
        }
    }
}

/// Decodes one frame from the front of a byte slice without copying or
/// touching a reference count: the zero-overhead path for callers that
/// finish with a frame before decoding the next (e.g. a file mapped or read
/// into memory).
///
/// Returns the borrowed frame and the number of bytes it occupied, or
/// `Ok(None)` if `src` does not yet hold a complete frame.
///
/// After [`Error::PayloadChecksum`] `{ len, .. }` the stream is still in
/// sync: skip `HEADER_LEN + len` bytes and continue. Every other error is
/// fatal.
///
/// ```
/// use lpframe::{decode_slice, encode_frame, Config, Flags};
///
/// let config = Config::default();
/// let mut wire = Vec::new();
/// encode_frame(Flags::empty(), b"one", &config, &mut wire).unwrap();
/// encode_frame(Flags::empty(), b"two", &config, &mut wire).unwrap();
///
/// let mut rest = &wire[..];
/// let mut seen = Vec::new();
/// while let Some((frame, used)) = decode_slice(rest, &config).unwrap() {
///     seen.push(frame.payload().to_vec());
///     rest = &rest[used..];
/// }
/// assert_eq!(seen, [b"one".to_vec(), b"two".to_vec()]);
/// ```
///
/// # Errors
/// Any protocol error of [`Error`] except [`Error::Truncated`] (a short
/// slice is `Ok(None)`).
pub fn decode_slice<'a>(
    src: &'a [u8],
    config: &Config,
) -> Result<Option<(FrameRef<'a>, usize)>, Error> {
    let Some((head, rest)) = src.split_first_chunk::<HEADER_LEN>() else {
        check_prefix(src)?;
        return Ok(None);
    };
    let header = Header::parse(head, config.read_limit())?;
    let Some(payload) = rest.get(..header.len as usize) else {
        return Ok(None);
    };
    header.verify_payload(payload)?;
    Ok(Some((
        FrameRef::new(header.flags, payload),
        HEADER_LEN + payload.len(),
    )))
}
