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
    header::check_prefix, Config, DecodeError, Flags, Frame, FramePart, FrameRef, Header, Stats,
    HEADER_LEN,
};

/// Where the decoder is inside the stream. Cached so that a partial read
/// never parses a header twice.
#[derive(Debug, Clone)]
enum State {
    /// Waiting for (the rest of) a header at the front of the buffer.
    Head,
    /// A verified header was consumed; waiting for its payload, in the
    /// caller's buffer (`body: None`) or, for a reader that reads a large
    /// payload straight into the frame's own buffer, in `body`.
    Payload {
        header: Header,
        body: Option<Vec<u8>>,
    },
    /// A fatal error happened: the decoder repeats it on every call.
    Failed(DecodeError),
    /// Recovery mode: scanning for the next header that verifies.
    Scan(recover::Scan),
}

/// The incremental LPF decoder over a [`BytesMut`]: feed it bytes as they
/// arrive, in any chunking, and it yields verified frames.
///
/// - `Ok(Some(frame))`: a complete frame, both CRCs verified; its payload
///   shares `src`'s memory (no copy).
/// - `Ok(None)`: more bytes are needed. The decoder never reserves memory
///   in `src` (unlike `LengthDelimitedCodec`, which reserves the declared
///   length): buffer growth follows the bytes that actually arrive.
/// - `Err(e)`: see [`DecodeError::is_fatal`]. After
///   [`PayloadChecksum`](DecodeError::PayloadChecksum) the bad frame has
///   been consumed and the next call continues with the next frame. After a
///   fatal error the decoder is *failed*: it never yields a frame again and
///   returns the same error on every call, whatever bytes follow — unless
///   [recovery mode](Config::recover) is on, where it scans for the next
///   verified header and reports [`DecodeError::Skipped`] instead.
///
/// **End of stream** is the caller's to declare, with
/// [`decode_eof`](Self::decode_eof): a partial frame is then
/// [`Truncated`](DecodeError::Truncated), which is fatal and stays so. A
/// reader that follows a growing file (or a pipe that may be reopened)
/// calls [`decode`](Self::decode) only, and `decode_eof` once it decides
/// that nothing more will come.
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
    state: State,
    /// Stream offset of the first byte not yet taken from the caller's
    /// buffer, not counting the bytes of a `body` in progress.
    position: u64,
    /// Stream offset of the header of the frame being (or last) decoded.
    frame_offset: u64,
    /// Whether the last `decode` in state `Head` left part of a header in
    /// the caller's buffer.
    head_started: bool,
    /// Recovery mode: candidate headers examined while scanning.
    scan_candidates: u64,
    /// Set for the tokio codecs, whose caller (`FramedRead`) reads into
    /// `src`'s spare room: [`make_room`](Self::make_room) runs whenever
    /// more bytes are needed.
    for_codec: bool,
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

    /// A decoder with the given settings.
    pub fn with_config(config: Config) -> Self {
        FrameDecoder {
            config,
            state: State::Head,
            position: 0,
            frame_offset: 0,
            head_started: false,
            scan_candidates: 0,
            for_codec: false,
            stats: Stats::default(),
        }
    }

    /// The decoder of the tokio codecs: [`make_room`](Self::make_room) runs
    /// whenever more bytes are needed.
    #[cfg(feature = "tokio")]
    pub(crate) fn for_codec(config: Config) -> Self {
        FrameDecoder {
            for_codec: true,
            ..FrameDecoder::with_config(config)
        }
    }

    /// The settings in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The settings, to change at runtime (a new limit applies from the
    /// next header).
    pub fn config_mut(&mut self) -> &mut Config {
        &mut self.config
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

    /// The counts of frames decoded, dropped and skipped, and of fatal
    /// errors, so far (see [`Stats`]).
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// For the codecs' encoders and the deadline layer.
    #[allow(dead_code)]
    pub(crate) fn stats_mut(&mut self) -> &mut Stats {
        &mut self.stats
    }

    /// `true` once a fatal error has made the stream unusable: every later
    /// call returns that error again.
    pub fn is_failed(&self) -> bool {
        matches!(self.state, State::Failed(_))
    }

    /// `true` when part of a frame has been received and not all of it, as
    /// of the last call to [`decode`](Self::decode): a header has started
    /// or been verified, or (recovery mode) damaged bytes are being
    /// scanned. A read timeout now means the peer stalled inside a frame,
    /// not that it is idle between frames.
    pub fn is_mid_frame(&self) -> bool {
        match self.state {
            State::Head => self.head_started,
            State::Payload { .. } | State::Scan(_) => true,
            State::Failed(_) => false,
        }
    }

    /// Decodes the next frame from the front of `src`; see the type docs.
    ///
    /// # Errors
    /// Any [`DecodeError`] except `Truncated` (which only
    /// [`decode_eof`](Self::decode_eof) reports first).
    pub fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
        self.decode_as(
            src,
            |flags, payload| Frame::with_flags(flags, payload.freeze()),
            Err,
        )
    }

    /// The decoder, for any shape of result: `make` turns a verified frame's
    /// flags and payload into an item, `fail` a decode error into the
    /// caller's result. Inlined into each caller, so that the result is
    /// built in place, not converted from another; the states other than
    /// `Head` and a payload in `src` take the out-of-line path.
    #[inline(always)]
    pub(crate) fn decode_as<T, E>(
        &mut self,
        src: &mut BytesMut,
        make: impl FnOnce(Flags, BytesMut) -> T,
        fail: impl FnOnce(DecodeError) -> Result<Option<T>, E>,
    ) -> Result<Option<T>, E> {
        let header = match &self.state {
            State::Head => match self.head(src) {
                Ok(Some(header)) => header,
                Ok(None) => {
                    if self.for_codec {
                        self.make_room(src);
                    }
                    return Ok(None);
                }
                Err(e) => return fail(e),
            },
            State::Payload { header, body: None } => *header,
            _ => {
                return match self.decode_other(src) {
                    Ok(frame) => Ok(frame.map(|(f, p)| make(f, p))),
                    Err(e) => fail(e),
                }
            }
        };
        let len = header.len as usize;
        if src.len() < len {
            // Nothing is reserved for the declared length: the caller's
            // buffer grows with the bytes that actually arrive.
            self.state = State::Payload { header, body: None };
            if self.for_codec {
                self.make_room(src);
            }
            return Ok(None);
        }
        let payload = src.split_to(len);
        self.state = State::Head;
        self.position += len as u64;
        match header.verify_payload(&payload) {
            Ok(()) => {
                self.stats.decoded();
                Ok(Some(make(header.flags, payload)))
            }
            Err(e) => fail(self.noted(e)),
        }
    }

    /// The states off the hot path: a payload received into its own buffer,
    /// a failed decoder, a recovery scan.
    fn decode_other(
        &mut self,
        src: &mut BytesMut,
    ) -> Result<Option<(Flags, BytesMut)>, DecodeError> {
        match &mut self.state {
            // Taken by `decode_as`.
            State::Head | State::Payload { body: None, .. } => Ok(None),
            State::Payload {
                header,
                body: Some(body),
            } => {
                // A payload being received into its own buffer: whatever
                // the caller put in `src` meanwhile belongs to it first.
                let missing = (header.len as usize).saturating_sub(body.len());
                let take = missing.min(src.len());
                body.extend_from_slice(src.get(..take).unwrap_or_default());
                src.advance(take);
                if take < missing {
                    return Ok(None);
                }
                let header = *header;
                let body = BytesMut::from(bytes::Bytes::from(std::mem::take(body)));
                self.state = State::Head;
                self.position += body.len() as u64;
                header.verify_payload(&body).map_err(|e| self.noted(e))?;
                self.stats.decoded();
                Ok(Some((header.flags, body)))
            }
            State::Failed(e) => Err(e.clone()),
            State::Scan(scan) => {
                let max = self.config.max_read_frame_len;
                if !scan.run(src, &mut self.position, &mut self.scan_candidates, max) {
                    return Ok(None);
                }
                let skipped = scan.skipped(self.position);
                self.state = State::Head;
                Err(self.noted(skipped))
            }
        }
    }

    /// State `Head`: checks the header at the front of `src` and, if it
    /// verifies, consumes it and returns it.
    #[inline]
    fn head(&mut self, src: &mut BytesMut) -> Result<Option<Header>, DecodeError> {
        match self.check_head(src) {
            Ok(Some(header)) => {
                src.advance(HEADER_LEN);
                Ok(Some(header))
            }
            Ok(None) => Ok(None),
            Err(e) => self.header_error(e, src),
        }
    }

    /// State `Head`, on the bytes of a header received so far: checks 1 and
    /// 2 as soon as their bytes are there (so a foreign protocol is refused
    /// without waiting for a full header), all five once 16 bytes are. A
    /// header that verifies counts as consumed.
    #[inline]
    fn check_head(&mut self, front: &[u8]) -> Result<Option<Header>, DecodeError> {
        self.frame_offset = self.position;
        let Some(bytes) = front.first_chunk::<HEADER_LEN>() else {
            self.head_started = !front.is_empty();
            check_prefix(front)?;
            return Ok(None);
        };
        let header = Header::parse(bytes, self.config.max_read_frame_len)?;
        self.position += HEADER_LEN as u64;
        self.head_started = false;
        Ok(Some(header))
    }

    /// For the exact reader, which reads a header into a buffer of its own
    /// (16 bytes on its stack): checks the bytes of the header received so
    /// far and returns `true` once it has verified, the decoder then
    /// awaiting its payload. An error is fatal, as in `decode`.
    pub(crate) fn read_head(&mut self, front: &[u8]) -> Result<bool, DecodeError> {
        match &self.state {
            State::Head => {}
            State::Failed(e) => return Err(e.clone()),
            // The header was already accepted (or, in recovery mode, which
            // the exact reader never uses, bytes are being scanned).
            State::Payload { .. } | State::Scan(_) => return Ok(true),
        }
        match self.check_head(front) {
            Ok(Some(header)) => {
                self.state = State::Payload { header, body: None };
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(e) => Err(self.fail(e)),
        }
    }

    /// A header-level error at the front of `src`: fatal, or in recovery
    /// mode the start of a scan. Never returns a header.
    fn header_error(
        &mut self,
        e: DecodeError,
        src: &mut BytesMut,
    ) -> Result<Option<Header>, DecodeError> {
        if !self.config.recover {
            return Err(self.fail(e));
        }
        let mut scan = recover::Scan::new(self.position, e);
        recover::skip(src, 1, &mut self.position);
        let max = self.config.max_read_frame_len;
        if scan.run(src, &mut self.position, &mut self.scan_candidates, max) {
            return Err(self.noted(scan.skipped(self.position)));
        }
        self.state = State::Scan(scan);
        Ok(None)
    }

    fn fail(&mut self, e: DecodeError) -> DecodeError {
        self.state = State::Failed(e.clone());
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
        if let Some(frame) = self.decode(src)? {
            return Ok(Some(frame));
        }
        self.end_of_stream(src)?;
        Ok(None)
    }

    /// [`decode_eof`](Self::decode_eof), with the payload as the
    /// `BytesMut` it was split from (for the codec that yields `BytesMut`,
    /// without a copy).
    #[cfg(feature = "tokio")]
    pub(crate) fn decode_payload_eof(
        &mut self,
        src: &mut BytesMut,
    ) -> Result<Option<BytesMut>, DecodeError> {
        if let Some(payload) = self.decode_as(src, |_, payload| payload, Err)? {
            return Ok(Some(payload));
        }
        self.end_of_stream(src)?;
        Ok(None)
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
            State::Payload { header, body } => DecodeError::Truncated {
                part: FramePart::Payload,
                missing: missing(
                    header.len as usize,
                    src.len() + body.as_ref().map_or(0, Vec::len),
                ),
            },
            State::Failed(e) => return Err(e.clone()),
            State::Scan(scan) => {
                // The stream ended while scanning: the rest was damage too.
                recover::skip(src, src.len(), &mut self.position);
                let skipped = scan.skipped(self.position);
                self.state = State::Head;
                return Err(self.noted(skipped));
            }
        };
        if !self.config.recover {
            if let State::Payload {
                body: Some(body), ..
            } = &mut self.state
            {
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
        Err(self.noted(DecodeError::Skipped {
            offset: self.frame_offset,
            len: self.position - self.frame_offset,
            cause: Box::new(truncated),
        }))
    }

    /// The bytes of the payload in progress held in its own buffer.
    fn body_len(&self) -> usize {
        match &self.state {
            State::Payload {
                body: Some(body), ..
            } => body.len(),
            _ => 0,
        }
    }

    /// How many more bytes the frame in progress needs when `buffered`
    /// bytes are in the caller's buffer (at least 1 while the decoder can
    /// progress): the most that a reader which must not read past a frame
    /// may read next.
    pub(crate) fn bytes_missing(&self, buffered: usize) -> usize {
        match &self.state {
            State::Head => HEADER_LEN.saturating_sub(buffered).max(1),
            State::Payload { header, body } => (header.len as usize)
                .saturating_sub(buffered + body.as_ref().map_or(0, Vec::len))
                .max(1),
            State::Failed(_) | State::Scan(_) => 1,
        }
    }

    /// For the tokio codecs, when `decode` needs more bytes in `src`: room
    /// for what comes next, without large moves inside `src` and without
    /// trusting a declared length.
    ///
    /// `FramedRead` reads into all of `src`'s spare room and, once it is
    /// full, grows it by one byte's worth (`BytesMut` then doubles the
    /// buffer, moves the unconsumed bytes to its front, or copies them into
    /// a new buffer if frames still share the old one). Left alone, a large
    /// payload that starts late in a big reused buffer fills the room
    /// behind it and is then moved whole, and a long read runs far into the
    /// next frame, which must be moved in turn: about one byte moved per
    /// payload byte (benches/read_memory.sh). So, for a payload of 64 KiB
    /// or more (`src` then starts with its bytes received so far):
    /// - if `src` is not shared and its allocation can hold the whole frame
    ///   from its front, the bytes received are moved there now, while they
    ///   are few (`try_reclaim`: no allocation);
    /// - else, if `src` has far more room than the payload's bytes so far
    ///   justify (at least twice `step = min(missing, max(received,
    ///   64 KiB))`), the payload moves to a buffer of its own of `received +
    ///   step` bytes;
    /// - else, once `src` is nearly full (less room than 8 KiB and than the
    ///   bytes received), it grows by `step` (`reserve`: a `realloc` of an
    ///   unshared buffer), not by `FramedRead`'s doubling of the whole
    ///   buffer — a 64 KiB payload gets a 64 KiB buffer, not one of 128 KiB
    ///   (over glibc's mmap threshold: fresh pages, page faults);
    /// - once the rest fits, `src` ends at the frame's end (`split_off`), so
    ///   that reads stop there and the next frame starts in a read of its
    ///   own.
    ///
    /// Between frames, a buffer left exactly full gets room for an 8 KiB
    /// read. What this reserves ahead of the received bytes is at most
    /// `max(received, 64 KiB)`: memory follows what actually arrived.
    #[cold]
    #[inline(never)]
    fn make_room(&self, src: &mut BytesMut) {
        let large = match &self.state {
            State::Payload { header, body: None } if header.len as usize >= LARGE_PAYLOAD => {
                Some(header.len as usize)
            }
            _ => None,
        };
        let Some(len) = large else {
            // Between frames (or in a small one): a buffer that `split_off`
            // below left exactly full gets room for a read (`FramedRead`
            // would ask for one byte, and get exactly one).
            if src.len() == src.capacity() {
                src.reserve(MIN_READ);
            }
            return;
        };
        let have = src.len();
        let missing = len.saturating_sub(have);
        let ahead = src.capacity().saturating_sub(have);
        if ahead < missing && !src.try_reclaim(missing) {
            let step = have.max(PAYLOAD_STEP).min(missing);
            if ahead >= 2 * step {
                let mut own = BytesMut::with_capacity(have + step);
                own.extend_from_slice(src);
                *src = own;
            } else if ahead < MIN_READ.min(have) {
                // Nearly full: grow by what has arrived (at least 64 KiB,
                // at most what is missing), not by doubling the buffer.
                src.reserve(step);
            }
            return;
        }
        // The rest fits: reads stop at the frame's end, so that the next
        // frame starts in a read of its own, near the front of a buffer,
        // instead of behind bytes that a long read ran ahead.
        if src.capacity() > len {
            drop(src.split_off(len));
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
    pub(crate) fn direct_payload(
        &mut self,
        src: &mut BytesMut,
        threshold: usize,
        initial: usize,
    ) -> Option<(&mut Vec<u8>, usize)> {
        let State::Payload { header, body } = &mut self.state else {
            return None;
        };
        let len = header.len as usize;
        if len < threshold {
            return None;
        }
        let body = body.get_or_insert_with(|| {
            let mut body = Vec::with_capacity(len.min(initial.max(src.len())));
            let take = src.len().min(len);
            body.extend_from_slice(src.get(..take).unwrap_or_default());
            src.advance(take);
            body
        });
        let missing = len.saturating_sub(body.len());
        Some((body, missing))
    }

    /// Puts the bytes of the frame in progress that the decoder has taken
    /// (its header and any payload bytes held in its own buffer) back in
    /// front of `src`, so that `src` starts at the frame boundary again,
    /// and forgets the frame. For handing a stream to another reader.
    pub(crate) fn unconsume(&mut self, src: BytesMut) -> BytesMut {
        let State::Payload { header, body } = &mut self.state else {
            return src;
        };
        let body = body.take().unwrap_or_default();
        let mut out = BytesMut::with_capacity(HEADER_LEN + body.len() + src.len());
        out.extend_from_slice(&header.to_bytes());
        out.extend_from_slice(&body);
        out.extend_from_slice(&src);
        self.position = self.frame_offset;
        self.state = State::Head;
        out
    }
}

/// Payloads at least this long are received by the tokio codecs as
/// [`FrameDecoder::make_room`] describes: room made before their bytes
/// arrive and reads that stop at their end.
#[cfg(not(fuzzing))]
const LARGE_PAYLOAD: usize = 64 * 1024;
/// The room [`FrameDecoder::make_room`] gives a buffer left exactly full.
#[cfg(not(fuzzing))]
const MIN_READ: usize = 8 * 1024;
/// [`FrameDecoder::make_room`] reserves at most `max(received, PAYLOAD_STEP)`
/// ahead of the payload bytes received.
#[cfg(not(fuzzing))]
const PAYLOAD_STEP: usize = 64 * 1024;

// Fuzz inputs are small: under `cargo fuzz` the codecs' large-payload path
// starts at 64 bytes, so that the differential target reaches it (as
// FrameReader's direct path does).
#[cfg(fuzzing)]
const LARGE_PAYLOAD: usize = 64;
#[cfg(fuzzing)]
const MIN_READ: usize = 16;
#[cfg(fuzzing)]
const PAYLOAD_STEP: usize = 64;

/// `need - have`, as the `u32` of a `Truncated` error (a frame is at most
/// `16 + u32::MAX` bytes, and each part at most `u32::MAX`).
fn missing(need: usize, have: usize) -> u32 {
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
    let Some(payload) = rest.get(..header.len as usize) else {
        return Ok(None);
    };
    header.verify_payload(payload)?;
    Ok(Some((
        FrameRef::new(header.flags, payload),
        HEADER_LEN + payload.len(),
    )))
}
