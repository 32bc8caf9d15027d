//! The blocking path over `std::io::Read`/`Write`: exact reads
//! ([`read_frame`], [`write_frame`]) and buffered, timeout-safe
//! [`FrameReader`]/[`FrameWriter`]. Std only: builds without the `tokio`
//! feature.

use std::io::{self, IoSlice, Read, Write};

use bytes::{Bytes, BytesMut};

use crate::{
    encode::encode_header,
    error::is_retryable,
    header::{check_prefix, Header},
    Config, Error, Flags, Frame, FrameDecoder, FramePart, HEADER_LEN,
};

/// Smallest read a [`FrameReader`] asks of its reader.
const MIN_READ: usize = 8 * 1024;
/// [`read_frame`] reserves at most this much for a payload before its bytes
/// arrive; the rest grows as they do.
const FIRST_PAYLOAD_CHUNK: usize = 64 * 1024;
/// Payloads at least this long are read by [`FrameReader`] straight into a
/// buffer of their own (see `FrameReader::read_large`).
#[cfg(not(fuzzing))]
const LARGE_PAYLOAD: usize = 64 * 1024;
/// Fuzz inputs are small: under `cargo fuzz` the direct path starts at 64
/// bytes so that the differential target compares it with the model.
#[cfg(fuzzing)]
const LARGE_PAYLOAD: usize = 64;
/// A [`FrameWriter`] buffers frames up to this many bytes; larger frames are
/// written straight through without copying the payload.
const WRITE_BUFFER: usize = 8 * 1024;

/// Reads exactly one frame with the default [`Config`]; see
/// [`read_frame_with`].
///
/// ```
/// let mut wire = Vec::new();
/// lpframe::write_frame(&mut wire, b"hello").unwrap();
/// lpframe::write_frame(&mut wire, b"").unwrap();
///
/// let mut r = &wire[..];
/// assert_eq!(lpframe::read_frame(&mut r).unwrap().unwrap().payload(), &b"hello"[..]);
/// assert!(lpframe::read_frame(&mut r).unwrap().unwrap().is_empty());
/// assert!(lpframe::read_frame(&mut r).unwrap().is_none()); // clean end
/// ```
///
/// # Errors
/// As [`read_frame_with`].
pub fn read_frame<R: Read + ?Sized>(r: &mut R) -> Result<Option<Frame>, Error> {
    read_frame_with(r, &Config::default())
}

/// Reads exactly one frame: exactly the header, then exactly the payload,
/// never a byte past the frame — so the stream can be handed on to other
/// code afterwards.
///
/// Returns `Ok(None)` at a clean end of stream (EOF before the first byte
/// of a header). Memory for the payload grows with the bytes that arrive
/// (at most 64 KiB is reserved ahead of them), so a peer declaring a large
/// frame and sending little costs little.
///
/// Recovery mode ([`Config::recover`]) needs to read ahead and is refused
/// with an `InvalidInput` I/O error before anything is read.
///
/// **Any error leaves the stream unusable**, including a read timeout
/// (`set_read_timeout`): the bytes of the frame read so far are lost, and
/// the stream is no longer on a frame boundary. Use [`FrameReader`] when
/// timeouts must be survived.
///
/// # Errors
/// [`Error::Io`], [`Error::Truncated`] (EOF inside a frame), and every
/// header or payload error of [`Error`].
pub fn read_frame_with<R: Read + ?Sized>(
    r: &mut R,
    config: &Config,
) -> Result<Option<Frame>, Error> {
    if config.recovers() {
        // Resynchronising means reading ahead of a frame boundary, which
        // this reader promises never to do: refuse before reading anything.
        return Err(Error::Io(io::Error::new(
            io::ErrorKind::InvalidInput,
            "read_frame cannot recover (it never reads past a frame): use FrameReader or FrameDecoder",
        )));
    }
    let mut head = [0u8; HEADER_LEN];
    let got = read_full(r, &mut head)?;
    if got == 0 {
        return Ok(None);
    }
    if got < HEADER_LEN {
        check_prefix(head.get(..got).unwrap_or(&head))?;
        return Err(Error::Truncated {
            part: FramePart::Header,
            missing: (HEADER_LEN - got) as u32,
        });
    }
    let header = Header::parse(&head, config.read_limit())?;
    let len = header.len as usize;
    let mut payload = Vec::with_capacity(len.min(FIRST_PAYLOAD_CHUNK));
    r.take(u64::from(header.len)).read_to_end(&mut payload)?;
    if payload.len() < len {
        return Err(Error::Truncated {
            part: FramePart::Payload,
            missing: (len - payload.len()) as u32,
        });
    }
    header.verify_payload(&payload)?;
    Ok(Some(Frame::with_flags(header.flags, Bytes::from(payload))))
}

/// Reads until `buf` is full or EOF; returns the bytes read.
fn read_full<R: Read + ?Sized>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..).filter(|b| !b.is_empty()) {
        match r.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Writes one frame with the default [`Config`]; see [`write_frame_with`].
///
/// ```
/// let mut wire = Vec::new();
/// lpframe::write_frame(&mut wire, b"hello").unwrap();
/// assert_eq!(wire.len(), lpframe::HEADER_LEN + 5);
/// assert_eq!(&wire[..2], &lpframe::MAGIC);
/// ```
///
/// # Errors
/// As [`write_frame_with`].
pub fn write_frame<W: Write + ?Sized>(w: &mut W, payload: &[u8]) -> Result<(), Error> {
    write_frame_with(w, payload, &Config::default())
}

/// Writes one frame, header and payload, without copying the payload:
/// one vectored write where the writer supports it, with partial writes
/// (including writers that only take the first slice) handled.
///
/// The limit is checked before any byte is written. Unbuffered: wrap `w` in
/// a [`FrameWriter`] (or `BufWriter`) for many small frames.
///
/// # Errors
/// [`Error::EncodeTooLarge`] (nothing written) or [`Error::Io`]. After an
/// I/O error part of the frame may have been written: the stream must not
/// be used for further frames.
pub fn write_frame_with<W: Write + ?Sized>(
    w: &mut W,
    payload: &[u8],
    config: &Config,
) -> Result<(), Error> {
    let header = encode_header(Flags::empty(), payload, config)?;
    write_all_vectored(w, &header, payload).map_err(|(e, _)| Error::Io(e))
}

/// Writes `a` then `b` completely. On error, returns it with the number of
/// bytes that were written.
fn write_all_vectored<W: Write + ?Sized>(
    w: &mut W,
    a: &[u8],
    b: &[u8],
) -> Result<(), (io::Error, usize)> {
    let mut slices = [IoSlice::new(a), IoSlice::new(b)];
    let mut bufs = &mut slices[..];
    IoSlice::advance_slices(&mut bufs, 0);
    let mut written = 0;
    while !bufs.is_empty() {
        match w.write_vectored(bufs) {
            Ok(0) => return Err((io::ErrorKind::WriteZero.into(), written)),
            Ok(n) => {
                written += n;
                IoSlice::advance_slices(&mut bufs, n);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err((e, written)),
        }
    }
    Ok(())
}

/// A buffered frame reader that survives read timeouts.
///
/// Built on the shared [`FrameDecoder`]. Reads in chunks of at least 8 KiB
/// (so it may read past the current frame: use [`read_frame`] to hand the
/// stream on afterwards), and grows its buffer only with the bytes that
/// arrive. A payload of 64 KiB or more, once its header has verified, is
/// read straight into a buffer of its own that becomes the frame's
/// [`Bytes`] (no copy through the read buffer, no zero-filling; it still
/// grows only with the bytes received).
///
/// **Timeouts.** When the reader returns `WouldBlock` or `TimedOut` (e.g.
/// a `TcpStream` with `set_read_timeout`), the error is returned as
/// [`Error::Io`] and nothing is lost: the next call resumes exactly where
/// this one stopped, mid-header or mid-payload. [`is_mid_frame`] tells an
/// idle peer (timeout on a frame boundary) from a stalled one (timeout
/// inside a frame), so a caller can apply an idle timeout and a shorter
/// stall timeout.
///
/// It is also an [`Iterator`] of `Result<Frame, Error>` that ends after a
/// clean EOF or a fatal error.
///
/// [`is_mid_frame`]: FrameReader::is_mid_frame
///
/// ```
/// use lpframe::{write_frame, FrameReader};
///
/// let mut wire = Vec::new();
/// for p in [&b"a"[..], b"bb", b"ccc"] {
///     write_frame(&mut wire, p).unwrap();
/// }
/// let reader = FrameReader::new(&wire[..]);
/// let lens: Vec<usize> = reader.map(|f| f.unwrap().len()).collect();
/// assert_eq!(lens, [1, 2, 3]);
/// ```
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    buf: BytesMut,
    decoder: FrameDecoder,
    /// Set once the iterator has returned its last item.
    finished: bool,
    /// The received part of a large payload being read directly (empty
    /// otherwise); kept across timeouts like `buf`.
    large: Vec<u8>,
}

impl<R: Read> FrameReader<R> {
    /// A reader with the default [`Config`].
    pub fn new(inner: R) -> Self {
        FrameReader::with_config(inner, Config::default())
    }

    /// A reader with the given limits.
    pub fn with_config(inner: R, config: Config) -> Self {
        FrameReader {
            inner,
            buf: BytesMut::new(),
            decoder: FrameDecoder::with_config(config),
            finished: false,
            large: Vec::new(),
        }
    }

    /// Reads the next frame: `Ok(None)` at a clean end of stream.
    ///
    /// # Errors
    /// [`Error::Io`] from the reader (timeouts are retryable: call again),
    /// [`Error::Truncated`] at EOF inside a frame, and every header or
    /// payload error of [`Error`] (see [`Error::is_fatal`]).
    pub fn next_frame(&mut self) -> Result<Option<Frame>, Error> {
        loop {
            if let Some(frame) = self.decoder.decode(&mut self.buf)? {
                return Ok(Some(frame));
            }
            if let Some(len) = self.decoder.pending_payload_len() {
                if len >= LARGE_PAYLOAD {
                    return self.read_large(len);
                }
            }
            if self.fill()? == 0 {
                return self.decoder.decode_eof(&mut self.buf);
            }
        }
    }

    /// Reads the rest of a large payload (its header verified, part of it
    /// perhaps in `buf`) into `self.large`, which becomes the frame's
    /// buffer. `read_to_end` on a `Take` reads into the vector's spare
    /// capacity without zero-filling it and grows it geometrically with the
    /// bytes received (never by the declared length). On an error the bytes
    /// read so far stay in `self.large` and the next call goes on; at EOF
    /// they go back to `buf` so that the decoder reports the truncation
    /// (or, recovering, the skipped range) exactly as on the normal path.
    fn read_large(&mut self, len: usize) -> Result<Option<Frame>, Error> {
        if self.large.is_empty() {
            let start = len.min(self.buf.len().max(MIN_READ));
            self.large = Vec::with_capacity(start);
            self.large.extend_from_slice(&self.buf);
            self.buf.clear();
        }
        let want = len.saturating_sub(self.large.len()) as u64;
        (&mut self.inner).take(want).read_to_end(&mut self.large)?;
        if self.large.len() < len {
            // End of stream inside the payload.
            self.buf = BytesMut::from(&std::mem::take(&mut self.large)[..]);
            return self.decoder.decode_eof(&mut self.buf);
        }
        let payload = Bytes::from(std::mem::take(&mut self.large));
        self.decoder.complete_payload(payload).map(Some)
    }

    /// Reads once from the inner reader into the buffer; returns the bytes
    /// read (0 at EOF). On error the buffer is as it was.
    fn fill(&mut self) -> Result<usize, Error> {
        let buffered = self.buf.len();
        let missing = self.decoder.bytes_missing(buffered);
        // At least MIN_READ; for a large frame, at most what it has already
        // delivered (so memory follows received bytes), capped by its need.
        let chunk = missing.min(buffered).max(MIN_READ);
        self.buf.resize(buffered + chunk, 0);
        loop {
            let res = self
                .inner
                .read(self.buf.get_mut(buffered..).unwrap_or_default());
            match res {
                Ok(n) => {
                    self.buf.truncate(buffered + n.min(chunk));
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.buf.truncate(buffered);
                    return Err(Error::Io(e));
                }
            }
        }
    }
}

impl<R> FrameReader<R> {
    /// `true` when part of a frame has been received but not all of it: a
    /// timeout now means the peer stalled inside a frame, not that it is
    /// idle between frames.
    pub fn is_mid_frame(&self) -> bool {
        !self.buf.is_empty() || self.decoder.is_in_payload()
    }

    /// Bytes received and not yet delivered as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len() + self.large.len()
    }

    /// The limits in use.
    pub fn config(&self) -> &Config {
        self.decoder.config()
    }

    /// The limits, to change at runtime (applies from the next header).
    pub fn config_mut(&mut self) -> &mut Config {
        self.decoder.config_mut()
    }

    /// The shared decoder (stream offsets, failed state).
    pub fn decoder(&self) -> &FrameDecoder {
        &self.decoder
    }

    /// The inner reader.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The inner reader, mutably (e.g. to change its timeout). Reading from
    /// it directly desynchronises the frame stream.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The inner reader and the bytes read from it but not yet decoded.
    pub fn into_parts(self) -> (R, BytesMut) {
        if self.large.is_empty() {
            (self.inner, self.buf)
        } else {
            // Mid large payload: `buf` is empty, the bytes are in `large`.
            (self.inner, BytesMut::from(&self.large[..]))
        }
    }
}

impl<R: Read> Iterator for FrameReader<R> {
    type Item = Result<Frame, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        match self.next_frame() {
            Ok(Some(frame)) => Some(Ok(frame)),
            Ok(None) => {
                self.finished = true;
                None
            }
            Err(e) => {
                self.finished = e.is_fatal();
                Some(Err(e))
            }
        }
    }
}

/// A buffered frame writer.
///
/// Small frames are collected in an 8 KiB buffer and written together on
/// [`flush`](FrameWriter::flush) (or when the buffer fills); a frame that
/// does not fit the buffer is written straight through with one vectored
/// write, without copying its payload.
///
/// **Faults.** A retryable error (`WouldBlock`, `TimedOut`, e.g. from
/// `set_write_timeout`) loses nothing: the frame passed to the call that
/// failed *was accepted* (do not send it again), and every unsent byte stays
/// in the buffer — call [`flush`](FrameWriter::flush) until it succeeds
/// (frames written meanwhile queue up behind, growing
/// [`buffered`](FrameWriter::buffered)). Any other I/O error leaves the
/// stream holding part of a frame, so the writer is *poisoned*: every later
/// call fails with [`Error::WriterPoisoned`] and nothing more is written.
///
/// **Dropping does not flush** (as with tokio's `FramedWrite`, and unlike
/// `BufWriter`, whose flush-on-drop swallows errors): call
/// [`flush`](FrameWriter::flush) or [`into_inner`](FrameWriter::into_inner),
/// or frames still in the buffer are lost.
///
/// ```
/// use lpframe::{FrameReader, FrameWriter};
///
/// let mut w = FrameWriter::new(Vec::new());
/// w.write_frame(b"one").unwrap();
/// w.write_frame(b"two").unwrap();
/// let wire = w.into_inner().unwrap();
///
/// let frames: Vec<_> = FrameReader::new(&wire[..]).map(Result::unwrap).collect();
/// assert_eq!(frames[1].payload(), &b"two"[..]);
/// ```
#[derive(Debug)]
pub struct FrameWriter<W: Write> {
    inner: W,
    buf: Vec<u8>,
    config: Config,
    poisoned: bool,
}

impl<W: Write> FrameWriter<W> {
    /// A writer with the default [`Config`].
    pub fn new(inner: W) -> Self {
        FrameWriter::with_config(inner, Config::default())
    }

    /// A writer with the given limits.
    pub fn with_config(inner: W, config: Config) -> Self {
        FrameWriter {
            inner,
            buf: Vec::with_capacity(WRITE_BUFFER),
            config,
            poisoned: false,
        }
    }

    /// Queues one frame (written when the buffer fills or on
    /// [`flush`](Self::flush)).
    ///
    /// # Errors
    /// [`Error::EncodeTooLarge`] (frame refused, nothing written, writer
    /// still usable); [`Error::Io`] — if retryable, the frame was accepted
    /// and [`flush`](Self::flush) finishes it (see the type docs), otherwise
    /// the writer is poisoned; [`Error::WriterPoisoned`].
    pub fn write_frame(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.write_frame_flags(Flags::empty(), payload)
    }

    /// Queues a [`Frame`]; see [`write_frame`](Self::write_frame).
    ///
    /// # Errors
    /// As [`write_frame`](Self::write_frame), plus [`Error::EncodeFlags`].
    pub fn send(&mut self, frame: &Frame) -> Result<(), Error> {
        self.write_frame_flags(frame.flags(), frame.payload())
    }

    fn write_frame_flags(&mut self, flags: Flags, payload: &[u8]) -> Result<(), Error> {
        if self.poisoned {
            return Err(Error::WriterPoisoned);
        }
        let header = encode_header(flags, payload, &self.config)?;
        let total = HEADER_LEN + payload.len();
        if self.buf.len() + total > WRITE_BUFFER {
            if let Err(e) = self.flush_buf() {
                if self.poisoned {
                    return Err(e);
                }
                // Retryable (e.g. a write timeout): this frame is still
                // accepted, queued behind the unsent bytes; flush() sends it.
                self.buf.extend_from_slice(&header);
                self.buf.extend_from_slice(payload);
                return Err(e);
            }
        }
        if total <= WRITE_BUFFER || !self.buf.is_empty() {
            self.buf.extend_from_slice(&header);
            self.buf.extend_from_slice(payload);
            return Ok(());
        }
        // Large frame, empty buffer: straight through, no payload copy.
        match write_all_vectored(&mut self.inner, &header, payload) {
            Ok(()) => Ok(()),
            Err((e, written)) if is_retryable(e.kind()) => {
                // Keep the unsent rest so that flush() can finish the frame.
                let rest_head = header.get(written..).unwrap_or_default();
                let rest_payload = payload
                    .get(written.saturating_sub(HEADER_LEN)..)
                    .unwrap_or_default();
                self.buf.extend_from_slice(rest_head);
                self.buf.extend_from_slice(rest_payload);
                Err(Error::Io(e))
            }
            Err((e, _)) => {
                self.poisoned = true;
                Err(Error::Io(e))
            }
        }
    }

    /// Writes out every buffered byte, then flushes the inner writer.
    ///
    /// # Errors
    /// [`Error::Io`] (retryable kinds keep the unsent bytes),
    /// [`Error::WriterPoisoned`].
    pub fn flush(&mut self) -> Result<(), Error> {
        self.flush_buf()?;
        self.inner.flush().map_err(|e| self.io_error(e))
    }

    fn flush_buf(&mut self) -> Result<(), Error> {
        if self.poisoned {
            return Err(Error::WriterPoisoned);
        }
        let mut written = 0;
        let result = loop {
            let Some(rest) = self.buf.get(written..).filter(|r| !r.is_empty()) else {
                break Ok(());
            };
            match self.inner.write(rest) {
                Ok(0) => break Err(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        self.buf.drain(..written.min(self.buf.len()));
        result.map_err(|e| self.io_error(e))
    }

    fn io_error(&mut self, e: io::Error) -> Error {
        if !is_retryable(e.kind()) {
            self.poisoned = true;
        }
        Error::Io(e)
    }

    /// `true` after a write failed inside a frame; see the type docs.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    /// Bytes queued and not yet written.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The limits in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The limits, to change at runtime (applies from the next frame).
    pub fn config_mut(&mut self) -> &mut Config {
        &mut self.config
    }

    /// The inner writer.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// The inner writer, mutably. Writing to it directly corrupts the frame
    /// stream.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// Flushes and returns the inner writer.
    ///
    /// # Errors
    /// As [`flush`](Self::flush).
    pub fn into_inner(mut self) -> Result<W, Error> {
        self.flush()?;
        Ok(self.inner)
    }
}
