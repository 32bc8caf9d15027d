//! The one incremental decoder. Every buffered reading path (the tokio
//! codecs, [`FrameReader`](crate::FrameReader)) is a loop around
//! [`FrameDecoder`], and so is the exact [`read_frame`](crate::read_frame);
//! it alone owns the frame in progress, including a large payload read
//! into a buffer of its own and what the end of the stream means for it.
//! [`decode_slice`] is the stateless path over a borrowed slice. The checks
//! themselves live in [`Header`].

mod recover;

use bytes::{Buf, BytesMut};

use crate::{
    header::check_prefix, Config, DecodeError, Frame, FramePart, FrameRef, Header, Stats,
    HEADER_LEN,
};

/// Where the decoder is inside the stream. Cached so that a partial read
/// never parses a header twice. The first two states are the hot path
/// (inlined into each caller); the others live in [`Slow`].
#[derive(Debug, Clone)]
enum State {
    /// Waiting for (the rest of) a header at the front of the buffer.
    Head,
    /// A verified header was consumed; its payload is awaited in the
    /// caller's buffer.
    Payload(Header),
    /// The states off the hot path.
    Slow(Slow),
}

/// The states that `decode_with` hands to its out-of-line path.
#[derive(Debug, Clone)]
enum Slow {
    /// A verified header was consumed; its payload is being received into
    /// a buffer of its own (a reader's large payload:
    /// [`FrameDecoder::payload_buffer`]).
    Body { header: Header, body: Vec<u8> },
    /// A fatal error happened: the decoder repeats it on every call.
    Failed(DecodeError),
    /// Recovery mode: scanning for the next header that verifies.
    Scan(recover::Scan),
}

impl Slow {
    /// One call of `decode` in a state off the hot path: the result, and
    /// whether the decoder is back in `Head` (a body completed, a scan found
    /// a header).
    #[inline(never)]
    fn step(
        &mut self,
        src: &mut BytesMut,
        position: &mut u64,
        candidates: &mut u64,
        max: u32,
    ) -> (Result<Option<BytesMut>, DecodeError>, bool) {
        match self {
            Slow::Body { header, body } => {
                // A payload being received into its own buffer: whatever
                // the caller put in `src` meanwhile belongs to it first.
                let missing = (header.len() as usize).saturating_sub(body.len());
                let take = missing.min(src.len());
                body.extend_from_slice(&src.split_to(take));
                if take < missing {
                    return (Ok(None), false);
                }
                let body = BytesMut::from(bytes::Bytes::from(std::mem::take(body)));
                *position += body.len() as u64;
                let result = header.verify_payload(&body).map(|()| Some(body));
                (result, true)
            }
            Slow::Failed(e) => (Err(e.clone()), false),
            Slow::Scan(scan) => {
                if !scan.run(src, position, candidates, max) {
                    return (Ok(None), false);
                }
                (Err(scan.skipped(*position)), true)
            }
        }
    }
}

/// What the frame in progress needs next: the decoder's one statement to
/// the readers around it, which decide how much to read and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// (The rest of) a header, at the front of the caller's buffer.
    Header,
    /// The payload of a verified header declaring `len` bytes, of which
    /// `held` are already in the decoder's own buffer (0 unless a reader
    /// asked for [`FrameDecoder::payload_buffer`]); the rest is expected in
    /// the caller's buffer.
    Payload { len: usize, held: usize },
    /// Any bytes: the decoder is scanning (recovery mode) or failed.
    Any,
}

/// What [`FrameDecoder::decode_in_place`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InPlace {
    /// A verified frame of this many bytes (header included) at the front.
    Frame(usize),
    /// Not all of the next frame is there; it needs this.
    Short(Need),
    /// Anything else: decode it the ordinary way.
    Other,
}

impl Need {
    /// How many more bytes the frame in progress needs when `buffered`
    /// bytes are in the caller's buffer (at least 1): the most that a
    /// reader which must not read past a frame may read next.
    pub(crate) fn missing(self, buffered: usize) -> usize {
        match self {
            Need::Header => HEADER_LEN.saturating_sub(buffered).max(1),
            Need::Payload { len, held } => len.saturating_sub(buffered + held).max(1),
            Need::Any => 1,
        }
    }
}

/// The incremental LPF decoder over a [`BytesMut`]: feed it bytes as they
/// arrive, in any chunking, and it yields verified frames.
///
/// - `Ok(Some(frame))`: a complete frame, both CRCs verified; its payload
///   shares `src`'s memory (no copy).
/// - `Ok(None)`: more bytes are needed. The decoder never reserves memory
///   in `src` (unlike `LengthDelimitedCodec`, which reserves the declared
///   length): how the buffer grows is the reader's business (the tokio
///   codecs and [`FrameReader`](crate::FrameReader) each have a policy of
///   their own), and it follows the bytes that actually arrive.
/// - `Err(e)`: see [`DecodeError::is_fatal`]. After
///   [`PayloadChecksum`](DecodeError::PayloadChecksum) the bad frame has
///   been consumed and the next call continues with the next frame. After a
///   fatal error the decoder is *failed*: it never yields a frame again and
///   returns the same error on every call, whatever bytes follow — unless
///   it was built [`recovering`](Self::recovering), when it scans for the
///   next verified header and reports [`DecodeError::Skipped`] instead.
///
/// **End of stream** is the caller's to declare, with
/// [`decode_eof`](Self::decode_eof): a partial frame is then
/// [`Truncated`](DecodeError::Truncated), which is fatal and stays so. A
/// reader that follows a growing file (or a pipe that may be reopened)
/// calls [`decode`](Self::decode) only, and `decode_eof` once it decides
/// that nothing more will come.
///
/// # States
///
/// ```text
///                 16 bytes verify: header consumed
///    +------+ ----------------------------------> +---------+
///    | Head |                                     | Payload |---+ payload in
///    +------+ <---------------------------------- +---------+   | the reader's
///     |  |  ^  payload complete: frame (or a         |          | own buffer
///     |  |  |  PayloadChecksum error, non-fatal)     |          v
///     |  |  |                                       |      +------+
///     |  |  +---------------------------------------|------| Body |
///     |  |            payload complete               |      +------+
///     |  | header check fails,                       | eof
///     |  | recovering: Scan                          v
///     |  +----------------> +------+  verified   +--------+
///     |                     | Scan | ----------> | Failed | <-- eof inside a frame,
///     |                     +------+  header:    +--------+     or a header check
///     |                          Skipped, back      ^           fails (not recovering)
///     +-----------------------------------------> --+
/// ```
///
/// `Failed` is final: every later call returns its error again. `Scan`
/// returns to `Head` with a [`Skipped`](DecodeError::Skipped) error when a
/// header verifies (or at the end of the stream). In `Head`, checks 1 and 2
/// are made on the first bytes as soon as they arrive.
///
/// ```
/// use bytes::BytesMut;
/// use lpframe::FrameDecoder;
///
/// let mut wire = Vec::new();
/// lpframe::write_frame(&mut wire, b"hello").unwrap();
///
/// let mut decoder = FrameDecoder::new();
/// let mut buf = BytesMut::new();
/// buf.extend_from_slice(&wire[..7]); // half a header
/// assert_eq!(decoder.decode(&mut buf), Ok(None));
/// assert!(decoder.is_mid_frame());
/// buf.extend_from_slice(&wire[7..]);
/// let frame = decoder.decode(&mut buf).unwrap().unwrap();
/// assert_eq!(&frame[..], b"hello");
/// assert!(buf.is_empty());
/// assert_eq!(decoder.decode_eof(&mut buf), Ok(None)); // a clean end
/// ```
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    config: Config,
    /// Recovery mode, chosen at construction ([`FrameDecoder::recovering`]).
    recover: bool,
    state: State,
    /// Stream offset of the first byte not yet taken from the caller's
    /// buffer, not counting the bytes of a `Body` in progress.
    position: u64,
    /// Stream offset of the header of the frame being (or last) decoded.
    frame_offset: u64,
    /// Whether the last `decode` in state `Head` left part of a header in
    /// the caller's buffer.
    head_started: bool,
    /// Recovery mode: candidate headers examined while scanning.
    scan_candidates: u64,
    /// What the decoder has delivered and dropped.
    stats: Stats,
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
            recover: false,
            state: State::Head,
            position: 0,
            frame_offset: 0,
            head_started: false,
            scan_candidates: 0,
            stats: Stats::default(),
        }
    }

    /// A decoder in **recovery mode** (PROTOCOL.md section 8), for streams
    /// that may be damaged (files, captures, serial links) — never for a
    /// live peer that may be hostile or simply speaking another protocol,
    /// where a header-level error should end the connection.
    ///
    /// After a header-level error
    /// ([`DecodeError::is_header_level`]) the decoder does not fail: it
    /// scans forward for the next offset where a complete header verifies
    /// (magic, version, header CRC, flags, length within the limit),
    /// reports the bytes it passed over as one non-fatal
    /// [`DecodeError::Skipped`] `{ offset, len, cause }`, and resumes there.
    /// A frame found this way is delivered only if its payload CRC verifies
    /// too; otherwise it is reported as [`DecodeError::PayloadChecksum`]
    /// and skipped. A partial frame at the end of the stream is reported as
    /// `Skipped` with cause [`DecodeError::Truncated`], then the stream ends
    /// cleanly. So, over a whole stream, delivered frames + frames reported
    /// with a bad payload + skipped bytes account for every byte exactly
    /// once.
    ///
    /// Cost: linear in the bytes scanned, whatever they are — candidates
    /// are found with a byte search for the magic and each is verified in
    /// constant time (one 12-byte CRC); bytes ruled out are released from
    /// the buffer at once, so memory stays bounded while scanning. A
    /// decoder not built this way pays nothing for it.
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use lpframe::{Config, DecodeError, FrameDecoder};
    ///
    /// let mut wire = b"garbage".to_vec();
    /// lpframe::write_frame(&mut wire, b"hello").unwrap();
    /// let mut decoder = FrameDecoder::recovering(Config::new());
    /// let mut buf = BytesMut::from(&wire[..]);
    /// let skipped = decoder.decode(&mut buf).unwrap_err();
    /// assert!(matches!(skipped, DecodeError::Skipped { offset: 0, len: 7, .. }));
    /// assert_eq!(&decoder.decode(&mut buf).unwrap().unwrap()[..], b"hello");
    /// ```
    pub fn recovering(config: Config) -> Self {
        FrameDecoder {
            recover: true,
            ..FrameDecoder::with_config(config)
        }
    }

    /// The limits in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The limits, to change at runtime (a new limit applies from the
    /// next header).
    pub fn config_mut(&mut self) -> &mut Config {
        &mut self.config
    }

    /// `true` for a decoder built [`recovering`](Self::recovering).
    pub fn is_recovering(&self) -> bool {
        self.recover
    }

    /// What this decoder has delivered, dropped and skipped so far: see
    /// [`Stats`].
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The counts, for the layers above the decoder that count too (the
    /// deadlines).
    #[allow(dead_code)]
    pub(crate) fn stats_mut(&mut self) -> &mut Stats {
        &mut self.stats
    }

    /// How many bytes of the stream this decoder has consumed: the stream
    /// offset of the next byte it will read.
    pub fn position(&self) -> u64 {
        self.position + self.body_len() as u64
    }

    /// The stream offset of the header of the frame last decoded, being
    /// decoded, or that caused the last error — for messages such as "bad
    /// payload CRC in the frame at offset 4096".
    ///
    /// ```
    /// use bytes::BytesMut;
    ///
    /// let mut wire = Vec::new();
    /// lpframe::write_frame(&mut wire, b"one").unwrap(); // 19 bytes
    /// lpframe::write_frame(&mut wire, b"two").unwrap();
    /// wire[19 + 16] ^= 1; // corrupt "two"
    /// let mut decoder = lpframe::FrameDecoder::new();
    /// let mut buf = BytesMut::from(&wire[..]);
    /// decoder.decode(&mut buf).unwrap();
    /// assert!(decoder.decode(&mut buf).is_err());
    /// assert_eq!((decoder.frame_offset(), decoder.position()), (19, 38));
    /// ```
    pub fn frame_offset(&self) -> u64 {
        self.frame_offset
    }

    /// Recovery mode: how many candidate headers (an offset where the magic
    /// `0xC1 0x4C` begins) the scans have examined so far. Each costs at
    /// most one 12-byte CRC, however the input was split into reads, so
    /// `scan_candidates() * 12` bounds the CRC work of recovery — the number
    /// that shows the scan is linear (at most one candidate per two bytes
    /// scanned; unit tests in `recover.rs`).
    #[cfg(test)]
    pub(crate) fn scan_candidates(&self) -> u64 {
        self.scan_candidates
    }

    /// `true` once a fatal error has made the stream unusable: every later
    /// call returns that error again.
    pub fn is_failed(&self) -> bool {
        matches!(self.state, State::Slow(Slow::Failed(_)))
    }

    /// `true` when part of a frame has been received and not all of it, as
    /// of the last call to [`decode`](Self::decode): a header has started
    /// or been verified, or (recovery mode) damaged bytes are being
    /// scanned. A read timeout now means the peer stalled inside a frame,
    /// not that it is idle between frames.
    pub fn is_mid_frame(&self) -> bool {
        match self.state {
            State::Head => self.head_started,
            State::Payload(_) | State::Slow(Slow::Body { .. } | Slow::Scan(_)) => true,
            State::Slow(Slow::Failed(_)) => false,
        }
    }

    /// The lending readers' fast path: a frame wholly at the front of
    /// `src`, between frames, with both checks passed, is consumed from the
    /// stream (offsets and counts as [`decode`](Self::decode) keeps them)
    /// but left in `src`, for the caller to lend and drop later: returns its
    /// length on the wire. `Short` when `src` holds less than the frame
    /// (nothing consumed); `Other` for everything else (an error, a frame
    /// already in progress, recovery scanning), which the caller hands to
    /// [`decode`](Self::decode) so that it is reported exactly as there.
    #[inline]
    pub(crate) fn decode_in_place(&mut self, src: &[u8]) -> InPlace {
        if !matches!(self.state, State::Head) {
            return InPlace::Other;
        }
        let Some((head, rest)) = src.split_first_chunk::<HEADER_LEN>() else {
            return InPlace::Short(Need::Header);
        };
        let Ok(header) = Header::parse(head, self.config.max_read_frame_len) else {
            return InPlace::Other;
        };
        let len = header.len() as usize;
        let Some(payload) = rest.get(..len) else {
            return InPlace::Short(Need::Payload { len, held: 0 });
        };
        if header.verify_payload(payload).is_err() {
            return InPlace::Other;
        }
        self.frame_offset = self.position;
        self.position += (HEADER_LEN + len) as u64;
        self.head_started = false;
        self.stats.decoded();
        InPlace::Frame(HEADER_LEN + len)
    }

    /// What the frame in progress needs next; see [`Need`].
    pub(crate) fn need(&self) -> Need {
        match &self.state {
            State::Head => Need::Header,
            State::Payload(header) => Need::Payload {
                len: header.len() as usize,
                held: 0,
            },
            State::Slow(Slow::Body { header, body }) => Need::Payload {
                len: header.len() as usize,
                held: body.len(),
            },
            State::Slow(Slow::Failed(_) | Slow::Scan(_)) => Need::Any,
        }
    }

    /// Decodes the next frame from the front of `src`; see the type docs.
    ///
    /// # Errors
    /// Any [`DecodeError`] except `Truncated` (which only
    /// [`decode_eof`](Self::decode_eof) reports first).
    pub fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
        self.decode_with(src, |payload| Frame::new(payload.freeze()), Err, |_, _| {})
    }

    /// The decoder, for any shape of result: `make` turns a verified
    /// frame's payload into an item, `fail` a decode error into the
    /// caller's result, and `more` is told what the frame needs next when
    /// the fast path finds `src` short (where a reader applies its buffer
    /// policy; [`decode`](Self::decode) passes none). Inlined into each
    /// caller, so that the result is built in place, not converted from
    /// another; the states other than `Head` and `Payload` take the
    /// out-of-line path.
    #[inline(always)]
    pub(crate) fn decode_with<T, E>(
        &mut self,
        src: &mut BytesMut,
        make: impl FnOnce(BytesMut) -> T,
        fail: impl FnOnce(DecodeError) -> Result<Option<T>, E>,
        more: impl FnOnce(Need, &mut BytesMut),
    ) -> Result<Option<T>, E> {
        let header = match &mut self.state {
            State::Head => match self.head(src) {
                Ok(Some(header)) => header,
                Ok(None) => {
                    more(Need::Header, src);
                    return Ok(None);
                }
                Err(e) => return fail(e),
            },
            State::Payload(header) => *header,
            State::Slow(slow) => {
                let max = self.config.max_read_frame_len;
                let (result, done) =
                    slow.step(src, &mut self.position, &mut self.scan_candidates, max);
                if done {
                    self.state = State::Head;
                }
                return match result {
                    Ok(Some(payload)) => {
                        self.stats.decoded();
                        Ok(Some(make(payload)))
                    }
                    Ok(None) => Ok(None),
                    // A failed decoder repeating its error (`done` false)
                    // was counted the first time.
                    Err(e) if done => fail(self.noted(e)),
                    Err(e) => fail(e),
                };
            }
        };
        let len = header.len() as usize;
        if src.len() < len {
            // Nothing is reserved for the declared length: the caller's
            // buffer grows with the bytes that actually arrive.
            self.state = State::Payload(header);
            more(Need::Payload { len, held: 0 }, src);
            return Ok(None);
        }
        let payload = src.split_to(len);
        self.state = State::Head;
        self.position += len as u64;
        match header.verify_payload(&payload) {
            Ok(()) => {
                self.stats.decoded();
                Ok(Some(make(payload)))
            }
            Err(e) => fail(self.noted(e)),
        }
    }

    /// State `Head`: checks the header at the front of `src` and, if it
    /// verifies, consumes it and returns it. Checks 1 and 2 are made as
    /// soon as their bytes are there (so a foreign protocol is refused
    /// without waiting for a full header), all five once 16 bytes are.
    #[inline(always)]
    fn head(&mut self, src: &mut BytesMut) -> Result<Option<Header>, DecodeError> {
        self.frame_offset = self.position;
        let Some(bytes) = src.first_chunk::<HEADER_LEN>() else {
            self.head_started = !src.is_empty();
            return match check_prefix(src) {
                Ok(()) => Ok(None),
                Err(e) => self.header_error(e, src),
            };
        };
        match Header::parse(bytes, self.config.max_read_frame_len) {
            Ok(header) => {
                src.advance(HEADER_LEN);
                self.position += HEADER_LEN as u64;
                self.head_started = false;
                Ok(Some(header))
            }
            Err(e) => self.header_error(e, src),
        }
    }

    /// A header-level error at the front of `src`: fatal, or in recovery
    /// mode the start of a scan. Never returns a header.
    #[cold]
    fn header_error(
        &mut self,
        e: DecodeError,
        src: &mut BytesMut,
    ) -> Result<Option<Header>, DecodeError> {
        if !self.recover {
            return Err(self.fail(e));
        }
        let mut scan = recover::Scan::new(self.position, e);
        recover::skip(src, 1, &mut self.position);
        let max = self.config.max_read_frame_len;
        if scan.run(src, &mut self.position, &mut self.scan_candidates, max) {
            return Err(self.noted(scan.skipped(self.position)));
        }
        self.state = State::Slow(Slow::Scan(scan));
        Ok(None)
    }

    fn fail(&mut self, e: DecodeError) -> DecodeError {
        self.state = State::Slow(Slow::Failed(e.clone()));
        self.noted(e)
    }

    /// An error reported for the first time: counted (and traced).
    fn noted(&mut self, e: DecodeError) -> DecodeError {
        self.stats.decode_error(&e, self.frame_offset);
        e
    }

    /// Like [`decode`](Self::decode), for when the stream has ended: a
    /// partial frame (in `src` or already consumed by the decoder) is
    /// reported as [`DecodeError::Truncated`], which is fatal: later calls
    /// repeat it, even if more bytes arrive. In recovery mode the partial
    /// frame is reported as [`DecodeError::Skipped`] with that cause instead,
    /// and the stream ends cleanly. `Ok(None)` is the clean end on a frame
    /// boundary.
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use lpframe::{DecodeError, FrameDecoder, FramePart};
    ///
    /// let mut wire = Vec::new();
    /// lpframe::write_frame(&mut wire, b"hello").unwrap();
    /// let mut decoder = FrameDecoder::new();
    /// let mut buf = BytesMut::from(&wire[..10]); // the peer died mid-header
    /// assert_eq!(decoder.decode(&mut buf), Ok(None)); // waiting for more
    /// let truncated = DecodeError::Truncated { part: FramePart::Header, missing: 6 };
    /// assert_eq!(decoder.decode_eof(&mut buf), Err(truncated.clone()));
    /// // Fatal for good: the rest arriving later is not decoded.
    /// buf.extend_from_slice(&wire[10..]);
    /// assert_eq!(decoder.decode(&mut buf), Err(truncated));
    /// ```
    ///
    /// # Errors
    /// As [`decode`](Self::decode), plus [`DecodeError::Truncated`].
    pub fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
        self.decode_eof_with(src, |payload| Frame::new(payload.freeze()), Err)
    }

    /// [`decode_eof`](Self::decode_eof) for any shape of result, as
    /// [`decode_with`](Self::decode_with).
    pub(crate) fn decode_eof_with<T, E>(
        &mut self,
        src: &mut BytesMut,
        make: impl FnOnce(BytesMut) -> T,
        mut fail: impl FnMut(DecodeError) -> Result<Option<T>, E>,
    ) -> Result<Option<T>, E> {
        match self.decode_with(src, make, &mut fail, |_, _| {})? {
            Some(item) => Ok(Some(item)),
            None => match self.end_of_stream(src) {
                Ok(()) => Ok(None),
                Err(e) => fail(e),
            },
        }
    }

    /// The end of the stream, after `decode` found no frame in `src`: the
    /// clean end, or the partial frame's error.
    fn end_of_stream(&mut self, src: &mut BytesMut) -> Result<(), DecodeError> {
        let truncated = match &mut self.state {
            State::Head if src.is_empty() => return Ok(()),
            State::Head => DecodeError::Truncated {
                part: FramePart::Header,
                missing: missing(HEADER_LEN, src.len()),
            },
            State::Payload(header) => DecodeError::Truncated {
                part: FramePart::Payload,
                missing: missing(header.len() as usize, src.len()),
            },
            State::Slow(Slow::Body { header, body }) => DecodeError::Truncated {
                part: FramePart::Payload,
                missing: missing(header.len() as usize, src.len() + body.len()),
            },
            State::Slow(Slow::Failed(e)) => return Err(e.clone()),
            State::Slow(Slow::Scan(scan)) => {
                // The stream ended while scanning: the rest was damage too.
                recover::skip(src, src.len(), &mut self.position);
                let skipped = scan.skipped(self.position);
                self.state = State::Head;
                return Err(self.noted(skipped));
            }
        };
        if !self.recover {
            if let State::Slow(Slow::Body { body, .. }) = &self.state {
                // Payload bytes read into the frame's own buffer go back to
                // the caller's buffer, as if they had been read through it:
                // what a failed decoder leaves unconsumed does not depend on
                // the payload's size.
                let mut unconsumed = BytesMut::with_capacity(body.len() + src.len());
                unconsumed.extend_from_slice(body);
                unconsumed.extend_from_slice(src);
                *src = unconsumed;
            }
            return Err(self.fail(truncated));
        }
        // Recovery mode: a damaged tail is skipped like any damaged region,
        // from the start of its header, and the stream ends cleanly.
        recover::skip(src, src.len(), &mut self.position);
        self.position += self.body_len() as u64;
        self.state = State::Head;
        let skipped = DecodeError::Skipped {
            offset: self.frame_offset,
            len: self.position - self.frame_offset,
            cause: Box::new(truncated),
        };
        Err(self.noted(skipped))
    }

    /// The bytes of the payload in progress held in its own buffer.
    fn body_len(&self) -> usize {
        match &self.state {
            State::Slow(Slow::Body { body, .. }) => body.len(),
            _ => 0,
        }
    }

    /// For readers that read a large payload straight into the frame's own
    /// buffer: when a verified header declares at least `threshold` bytes
    /// and its payload is awaited, moves the payload bytes already in `src`
    /// into that buffer (created with room for at most `initial` bytes, or
    /// the declared length if smaller: it grows with the bytes received,
    /// never by the declared length) and returns it with the number of
    /// bytes still missing. The caller appends at most that many bytes,
    /// then calls `decode` or `decode_eof`, which finish the frame exactly
    /// as they would have from `src`.
    pub(crate) fn payload_buffer(
        &mut self,
        src: &mut BytesMut,
        threshold: usize,
        initial: usize,
    ) -> Option<(&mut Vec<u8>, usize)> {
        if let State::Payload(header) = self.state {
            let len = header.len() as usize;
            if len < threshold {
                return None;
            }
            let mut body = Vec::with_capacity(len.min(initial.max(src.len())));
            body.extend_from_slice(&src.split_to(src.len().min(len)));
            self.state = State::Slow(Slow::Body { header, body });
        }
        let State::Slow(Slow::Body { header, body }) = &mut self.state else {
            return None;
        };
        let missing = (header.len() as usize).saturating_sub(body.len());
        Some((body, missing))
    }

    /// Puts the bytes of the frame in progress that the decoder has taken
    /// (its header and any payload bytes held in its own buffer) back in
    /// front of `src`, so that `src` starts at the frame boundary again.
    /// For handing a stream to another reader.
    pub(crate) fn into_unread(self, src: BytesMut) -> BytesMut {
        let (header, body) = match self.state {
            State::Payload(header) => (header, Vec::new()),
            State::Slow(Slow::Body { header, body }) => (header, body),
            State::Head | State::Slow(Slow::Failed(_) | Slow::Scan(_)) => return src,
        };
        let mut out = BytesMut::with_capacity(HEADER_LEN + body.len() + src.len());
        out.extend_from_slice(&header.to_bytes());
        out.extend_from_slice(&body);
        out.extend_from_slice(&src);
        out
    }
}

/// `need - have`, as the `u32` of a `Truncated` error (a frame is at most
/// `16 + u32::MAX` bytes, and each part at most `u32::MAX`).
pub(crate) fn missing(need: usize, have: usize) -> u32 {
    u32::try_from(need.saturating_sub(have)).unwrap_or(u32::MAX)
}

/// Decodes one frame from the front of a byte slice without copying or
/// touching a reference count: the zero-overhead path for callers that
/// finish with a frame before decoding the next (e.g. a file mapped or read
/// into memory). Stateless: it has no recovery mode, and a short slice is
/// "need more bytes", not an end of stream.
///
/// Returns the borrowed frame and the number of bytes it occupied, or
/// `Ok(None)` if `src` does not yet hold a complete frame (after checks 1
/// and 2 on what it holds).
///
/// After [`DecodeError::PayloadChecksum`] `{ len, .. }` the stream is still
/// in sync: skip `HEADER_LEN + len` bytes and continue. Every other error
/// is fatal.
///
/// ```
/// use lpframe::decode_slice;
///
/// let mut wire = Vec::new();
/// lpframe::write_frame(&mut wire, b"one").unwrap();
/// lpframe::write_frame(&mut wire, b"two").unwrap();
///
/// let mut rest = &wire[..];
/// let mut seen = Vec::new();
/// while let Some((frame, used)) = decode_slice(rest, lpframe::DEFAULT_MAX_FRAME_LEN).unwrap() {
///     seen.push(frame.payload());
///     rest = &rest[used..];
/// }
/// assert_eq!(seen, [b"one", b"two"]);
/// ```
///
/// # Errors
/// Any [`DecodeError`] of checks 1 to 6.
pub fn decode_slice(
    src: &[u8],
    max_frame_len: u32,
) -> Result<Option<(FrameRef<'_>, usize)>, DecodeError> {
    let Some((head, rest)) = src.split_first_chunk::<HEADER_LEN>() else {
        check_prefix(src)?;
        return Ok(None);
    };
    let header = Header::parse(head, max_frame_len)?;
    let Some(payload) = rest.get(..header.len() as usize) else {
        return Ok(None);
    };
    header.verify_payload(payload)?;
    Ok(Some((FrameRef::new(payload), HEADER_LEN + payload.len())))
}
