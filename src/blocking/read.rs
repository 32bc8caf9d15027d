//! Reading: the exact [`read_frame`], on the header checks alone, and the
//! buffered, timeout-safe [`FrameReader`], a loop around the one
//! [`FrameDecoder`] with the blocking path's buffer policy.

use std::io::{self, Read};

use bytes::{Buf, Bytes, BytesMut};

use super::deadline::{ReadDeadlines, Timed};
use super::Checked;
use crate::{
    buffers::{FIRST_PAYLOAD_CHUNK, LARGE_PAYLOAD, MAX_STAGED_READ, MIN_READ},
    decode::{missing, InPlace, Need},
    header::check_prefix,
    Config, Deadlines, DecodeError, Error, Frame, FrameDecoder, FramePart, FrameRef, Header,
    DEFAULT_MAX_FRAME_LEN, HEADER_LEN,
};

/// Reads exactly one frame with the default limit (8 MiB); see
/// [`read_frame_with`].
///
/// ```
/// let mut wire = Vec::new();
/// lpframe::write_frame(&mut wire, b"hello").unwrap();
/// lpframe::write_frame(&mut wire, b"").unwrap();
///
/// let mut r = &wire[..];
/// assert_eq!(&lpframe::read_frame(&mut r).unwrap().unwrap()[..], b"hello");
/// assert!(lpframe::read_frame(&mut r).unwrap().unwrap().is_empty());
/// assert!(lpframe::read_frame(&mut r).unwrap().is_none()); // clean end
/// ```
///
/// # Errors
/// As [`read_frame_with`].
pub fn read_frame<R: Read + ?Sized>(r: &mut R) -> Result<Option<Frame>, Error> {
    read_frame_with(r, DEFAULT_MAX_FRAME_LEN)
}

/// Reads exactly one frame: exactly the header, then exactly the payload,
/// never a byte past the frame — so the stream can be handed on to other
/// code afterwards. Payloads up to `max_frame_len` bytes are accepted.
///
/// Returns `Ok(None)` at a clean end of stream (EOF before the first byte
/// of a header). Checks 1 and 2 are made after every read, so a peer
/// speaking another protocol is refused without waiting for 16 bytes.
/// Memory for the payload grows with the bytes that arrive (at most 64 KiB
/// is reserved ahead of them), and the payload is read straight into the
/// frame's own buffer.
///
/// Stateless, so it cannot resume a frame: an I/O error (a read timeout
/// included) **after** part of a frame was read is [`Error::Desync`], which
/// is fatal; the same error before the first byte of the frame is
/// [`Error::Io`], and a retryable one (a timeout) may be retried. Use
/// [`FrameReader`] to survive timeouts inside frames. It cannot recover
/// from damage either (that needs reading ahead): use
/// [`FrameReader::recovering`].
///
/// ```
/// use lpframe::{read_frame_with, DecodeError, Error};
///
/// let mut wire = Vec::new();
/// lpframe::write_frame(&mut wire, b"too long for this reader").unwrap();
/// let err = read_frame_with(&mut &wire[..], 16).unwrap_err();
/// assert!(matches!(err, Error::Decode(DecodeError::FrameTooLarge { len: 24, max: 16 })));
/// assert!(err.is_fatal()); // refused from the header alone: nothing waited for
/// ```
///
/// A read timeout before the first byte of a frame is retryable; after it,
/// the stream is lost:
///
/// ```
/// use std::io::{self, Read};
/// use lpframe::{read_frame, Error};
///
/// /// Delivers `first`, then times out once, then delivers `rest`.
/// struct Pause<'a> { first: &'a [u8], paused: bool, rest: &'a [u8] }
/// impl Read for Pause<'_> {
///     fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
///         let src = if !self.first.is_empty() { &mut self.first }
///             else if !self.paused { self.paused = true; return Err(io::ErrorKind::TimedOut.into()) }
///             else { &mut self.rest };
///         let n = src.len().min(buf.len());
///         buf[..n].copy_from_slice(&src[..n]);
///         *src = &src[n..];
///         Ok(n)
///     }
/// }
/// let mut wire = Vec::new();
/// lpframe::write_frame(&mut wire, b"hello").unwrap();
/// // A timeout on a frame boundary: retry, nothing is lost.
/// let mut r = Pause { first: &[], paused: false, rest: &wire };
/// assert!(read_frame(&mut r).unwrap_err().is_timeout());
/// assert_eq!(&read_frame(&mut r).unwrap().unwrap()[..], b"hello");
/// // A timeout after 10 bytes of the frame: Desync, fatal.
/// let mut r = Pause { first: &wire[..10], paused: false, rest: &wire[10..] };
/// let err = read_frame(&mut r).unwrap_err();
/// assert!(matches!(err, Error::Desync { done: 10, .. }) && err.is_fatal());
/// ```
///
/// # Errors
/// [`Error::Io`], [`Error::Desync`], and [`Error::Decode`]: every
/// [`DecodeError`](crate::DecodeError) of checks 1 to 6, and `Truncated` at
/// EOF inside a frame.
pub fn read_frame_with<R: Read + ?Sized>(
    r: &mut R,
    max_frame_len: u32,
) -> Result<Option<Frame>, Error> {
    let mut r = Checked(r);
    // The header, in reads of exactly what it still lacks; checks 1 and 2
    // on its first bytes as they arrive.
    let mut head = [0u8; HEADER_LEN];
    let mut got = 0;
    while let Some(rest) = head.get_mut(got..).filter(|rest| !rest.is_empty()) {
        let n = read_retrying(&mut r, rest, got)?;
        if n == 0 {
            return match got {
                0 => Ok(None),
                _ => Err(truncated(FramePart::Header, HEADER_LEN, got)),
            };
        }
        got += n;
        let received = head
            .get(..got)
            .expect("got <= HEADER_LEN: each read fills part of the header's rest");
        check_prefix(received)?;
    }
    let header = Header::parse(&head, max_frame_len)?;
    // The payload, straight into the frame's own buffer, which grows with
    // the bytes received (never by the declared length).
    let len = header.len() as usize;
    let mut payload = Vec::with_capacity(len.min(FIRST_PAYLOAD_CHUNK));
    if let Err(io) = (&mut r).take(len as u64).read_to_end(&mut payload) {
        let done = (HEADER_LEN + payload.len()) as u64;
        return Err(Error::Desync { io, done });
    }
    if payload.len() < len {
        return Err(truncated(FramePart::Payload, len, payload.len()));
    }
    header.verify_payload(&payload)?;
    Ok(Some(Frame::new(Bytes::from(payload))))
}

/// The end of the stream inside a frame.
fn truncated(part: FramePart, need: usize, have: usize) -> Error {
    let missing = missing(need, have);
    Error::Decode(DecodeError::Truncated { part, missing })
}

/// One read, retried on `Interrupted`. An error is [`Error::Io`] if no byte
/// of the frame had been read (`done == 0`), [`Error::Desync`] otherwise.
fn read_retrying<R: Read>(r: &mut R, buf: &mut [u8], done: usize) -> Result<usize, Error> {
    loop {
        match r.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(io) if done == 0 => return Err(Error::Io(io)),
            Err(io) => {
                return Err(Error::Desync {
                    io,
                    done: done as u64,
                })
            }
        }
    }
}

/// A buffered frame reader that survives read timeouts.
///
/// A loop around the one [`FrameDecoder`]. It reads in chunks of at least
/// 8 KiB (so it may read past the current frame: use [`read_frame`] to hand
/// the stream on afterwards, or [`into_parts`](Self::into_parts)), through a
/// staging buffer that is zero-filled once, so the cost of a read does not
/// depend on the buffer size (a peer trickling one byte per read costs one
/// small copy per byte). Memory grows only with the bytes that arrive. A
/// payload of 64 KiB or more, once its header has verified, is read
/// straight into a buffer of its own that becomes the frame's [`Bytes`]
/// (no copy, no zero-filling; it too grows only with the bytes received).
///
/// **Timeouts.** When the reader returns `WouldBlock` or `TimedOut` (e.g. a
/// `TcpStream` with `set_read_timeout`), the error is returned as
/// [`Error::Io`] (not fatal) and nothing is lost: the next call resumes
/// exactly where this one stopped, mid-header or mid-payload.
/// [`is_mid_frame`](Self::is_mid_frame) tells an idle peer (timeout on a
/// frame boundary) from a stalled one (timeout inside a frame), so a caller
/// can apply an idle timeout and a shorter stall timeout.
///
/// **End of stream.** `Ok(None)` is a clean end on a frame boundary; the
/// reader may be called again if its source can grow (a file being
/// appended to). EOF inside a frame is
/// [`Truncated`](crate::DecodeError::Truncated), fatal for good: later
/// calls repeat it, even if more bytes arrive.
///
/// It is also an [`Iterator`] of `Result<Frame, Error>` that ends after a
/// clean EOF or a fatal error.
///
/// [`Bytes`]: bytes::Bytes
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
///
/// A read loop with a timeout that tells an idle peer from a stalled one
/// (here the peer sends one frame and half of the next, then goes silent):
///
/// ```
/// use std::io::Write;
/// use std::net::{TcpListener, TcpStream};
/// use std::time::{Duration, Instant};
/// use lpframe::FrameReader;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let addr = listener.local_addr()?;
/// let peer = std::thread::spawn(move || -> std::io::Result<()> {
///     let mut s = TcpStream::connect(addr)?;
///     let mut wire = Vec::new();
///     lpframe::write_frame(&mut wire, b"first").unwrap();
///     lpframe::write_frame(&mut wire, b"second").unwrap();
///     s.write_all(&wire[..21 + 10])?; // "first", then 10 bytes of "second"
///     std::thread::sleep(Duration::from_millis(600)); // then silence
///     Ok(())
/// });
/// let (stream, _) = listener.accept()?;
/// stream.set_read_timeout(Some(Duration::from_millis(50)))?;
/// let mut reader = FrameReader::new(stream);
/// let (idle, stall) = (Duration::from_secs(30), Duration::from_millis(200));
/// let mut since = Instant::now();
/// let mut frames = Vec::new();
/// let why = loop {
///     match reader.next_frame() {
///         Ok(Some(frame)) => {
///             frames.push(frame);
///             since = Instant::now(); // deadlines re-armed per frame
///         }
///         Ok(None) => break "the peer closed on a frame boundary",
///         Err(e) if e.is_timeout() => {
///             let (limit, what) = if reader.is_mid_frame() {
///                 (stall, "stalled inside a frame")
///             } else {
///                 (idle, "idle")
///             };
///             if since.elapsed() > limit {
///                 break what; // close the connection
///             }
///         }
///         Err(e) if !e.is_fatal() => eprintln!("dropped a frame: {e}"),
///         Err(e) => return Err(e.into()),
///     }
/// };
/// assert_eq!((frames.len(), why), (1, "stalled inside a frame"));
/// peer.join().unwrap()?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    buf: BytesMut,
    decoder: FrameDecoder,
    /// Reads land here first (zero-filled once, then reused), so that a
    /// read's cost does not include zero-filling `buf`'s spare capacity.
    stage: Vec<u8>,
    /// Set once the iterator has returned its last item.
    finished: bool,
    /// Idle and stall deadlines, if set (`blocking/deadline.rs`).
    deadlines: Option<ReadDeadlines<R>>,
    /// The bytes at the front of `buf` that the decoder has consumed: the
    /// frames [`next_ref`] lent in place (the last one still lent), given
    /// back to `buf` in one `advance` before the next read (not one per
    /// frame).
    ///
    /// [`next_ref`]: FrameReader::next_ref
    lent: usize,
    /// Where the payload of the frame lent in place is in `buf`.
    lent_payload: (usize, usize),
    /// The frame `next_ref` lent last when it took the ordinary path (a
    /// large payload, a frame after an error).
    held: Option<Frame>,
}

/// A deadline that expired, counted in the reader's [`Stats`](crate::Stats)
/// (`deadlines_expired`).
#[inline]
fn count_expired<T>(result: &Result<T, Error>, decoder: &mut FrameDecoder) {
    if let Err(Error::Timeout(_)) = result {
        decoder.stats_mut().deadline_expired();
    }
}

impl<R: Read> FrameReader<R> {
    /// A reader with the default [`Config`].
    pub fn new(inner: R) -> Self {
        FrameReader::with_config(inner, Config::default())
    }

    /// A reader with the given settings.
    ///
    /// ```
    /// use lpframe::{Config, FrameReader};
    ///
    /// // Small requests only.
    /// let config = Config::new().max_read_frame_len(64 * 1024);
    /// let mut wire = Vec::new();
    /// lpframe::write_frame(&mut wire, &[0; 100_000]).unwrap();
    /// let mut reader = FrameReader::with_config(&wire[..], config);
    /// assert!(reader.next_frame().unwrap_err().is_fatal()); // over the limit
    /// ```
    pub fn with_config(inner: R, config: Config) -> Self {
        FrameReader::with_decoder(inner, FrameDecoder::with_config(config))
    }

    /// A reader in recovery mode (see [`FrameDecoder::recovering`]), for
    /// damaged streams such as record files and captures: it carries on
    /// past damage, reporting what it skipped.
    ///
    /// ```
    /// use lpframe::{Config, FrameReader};
    ///
    /// let mut wire = vec![0xEE; 7]; // garbage before the first frame
    /// lpframe::write_frame(&mut wire, b"record").unwrap();
    /// let mut reader = FrameReader::recovering(&wire[..], Config::new());
    /// assert!(!reader.next_frame().unwrap_err().is_fatal()); // "skipped 7 bytes at offset 0"
    /// assert_eq!(&reader.next_frame().unwrap().unwrap()[..], b"record");
    /// ```
    pub fn recovering(inner: R, config: Config) -> Self {
        FrameReader::with_decoder(inner, FrameDecoder::recovering(config))
    }

    fn with_decoder(inner: R, decoder: FrameDecoder) -> Self {
        FrameReader {
            inner,
            buf: BytesMut::new(),
            decoder,
            stage: Vec::new(),
            finished: false,
            deadlines: None,
            lent: 0,
            lent_payload: (0, 0),
            held: None,
        }
    }

    /// Reads the next frame: `Ok(None)` at a clean end of stream.
    ///
    /// ```
    /// use lpframe::{DecodeError, Error, FrameReader};
    ///
    /// let mut wire = Vec::new();
    /// lpframe::write_frame(&mut wire, b"one").unwrap();
    /// lpframe::write_frame(&mut wire, b"two").unwrap();
    /// wire[16] ^= 1; // corrupt "one" in transit
    /// let mut reader = FrameReader::new(&wire[..]);
    /// loop {
    ///     match reader.next_frame() {
    ///         Ok(Some(frame)) => assert_eq!(&frame[..], b"two"),
    ///         Ok(None) => break, // the clean end
    ///         Err(Error::Decode(e @ DecodeError::PayloadChecksum { .. })) => {
    ///             let at = reader.decoder().frame_offset();
    ///             eprintln!("dropped the frame at offset {at}: {e}"); // and go on
    ///         }
    ///         Err(e) if e.is_timeout() => continue, // a socket's read timeout
    ///         Err(e) => panic!("fatal: {e}"),
    ///     }
    /// }
    /// ```
    ///
    /// # Errors
    /// [`Error::Io`] from the reader (timeouts are retryable: call again),
    /// and [`Error::Decode`] for every [`DecodeError`](crate::DecodeError)
    /// (see [`Error::is_fatal`]), including `Truncated` at EOF inside a
    /// frame.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, Error> {
        if self.lent > 0 || self.held.is_some() {
            self.return_lent();
        }
        if let Some(deadlines) = self.deadlines.as_mut() {
            deadlines.begin();
        }
        let result = self.read_next();
        match self.deadlines.as_mut() {
            Some(deadlines) => {
                let result = deadlines.end(result, self.buf.len());
                count_expired(&result, &mut self.decoder);
                result
            }
            None => result, // no deadlines set
        }
    }

    /// Reads the next frame and lends it: a [`FrameRef`] borrowed from the
    /// reader's buffer, valid until the next call — as
    /// [`decode_slice`](crate::decode_slice) lends from a slice. No
    /// allocation and no reference counting per frame: for a loop that
    /// handles each frame in place (parses it, copies what it keeps).
    /// Everything else is as [`next_frame`](Self::next_frame): the same
    /// errors, deadlines, end of stream and stream offsets, and the two may
    /// be mixed on one reader. A payload of 64 KiB or more is read as
    /// `next_frame` reads it (straight into a buffer of its own) and lent
    /// from there.
    ///
    /// ```
    /// use lpframe::FrameReader;
    ///
    /// let mut wire = Vec::new();
    /// for p in [&b"GET a"[..], b"GET bb", b"PUT c"] {
    ///     lpframe::write_frame(&mut wire, p).unwrap();
    /// }
    /// let mut reader = FrameReader::new(&wire[..]);
    /// let mut gets = 0;
    /// while let Some(frame) = reader.next_ref()? {
    ///     if frame.starts_with(b"GET ") {
    ///         gets += 1; // handled in place; `frame` is gone at the next call
    ///     }
    /// }
    /// assert_eq!(gets, 2);
    /// # Ok::<(), lpframe::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`next_frame`](Self::next_frame).
    pub fn next_ref(&mut self) -> Result<Option<FrameRef<'_>>, Error> {
        self.held = None;
        if let Some(deadlines) = self.deadlines.as_mut() {
            deadlines.begin();
        }
        let result = self.lend_next();
        let leftover = self.buf.len() - self.lent;
        let result = match self.deadlines.as_mut() {
            Some(deadlines) => {
                let result = deadlines.end(result, leftover);
                count_expired(&result, &mut self.decoder);
                result
            }
            None => result,
        };
        Ok(match result? {
            Lent::InBuffer => {
                let (start, end) = self.lent_payload;
                self.buf.get(start..end).map(FrameRef::new)
            }
            Lent::Held => self.held.as_ref().map(|f| FrameRef::new(f.payload())),
            Lent::End => None,
        })
    }

    /// [`next_ref`](Self::next_ref) without the deadline bookkeeping: a
    /// frame left at the front of `buf` (`lent` set), or one taken the
    /// ordinary way into `held`.
    fn lend_next(&mut self) -> Result<Lent, Error> {
        loop {
            let unread = self.buf.get(self.lent..).unwrap_or_default();
            let need = match self.decoder.decode_in_place(unread) {
                InPlace::Frame(len) => {
                    self.lent_payload = (self.lent + HEADER_LEN, self.lent + len);
                    self.lent += len;
                    return Ok(Lent::InBuffer);
                }
                InPlace::Short(need @ Need::Header) => need,
                InPlace::Short(need @ Need::Payload { len, .. }) if len < LARGE_PAYLOAD => need,
                InPlace::Short(_) | InPlace::Other => break,
            };
            self.return_lent();
            if self.fill(need)? == 0 {
                // The end of the stream, as `read_next` meets it (reading
                // again would go past it in a source that grows).
                self.held = self.decoder.decode_eof(&mut self.buf)?;
                return Ok(self.held_or_end());
            }
        }
        self.return_lent();
        self.held = self.read_next()?;
        Ok(self.held_or_end())
    }

    fn held_or_end(&self) -> Lent {
        if self.held.is_some() {
            Lent::Held
        } else {
            Lent::End
        }
    }

    /// Drops the frames lent in place (their bytes are consumed already)
    /// and the one lent from `held`.
    #[cold]
    #[inline(never)]
    fn return_lent(&mut self) {
        if self.lent > 0 {
            self.buf.advance(self.lent);
            self.lent = 0;
        }
        self.held = None;
    }

    /// [`next_frame`](Self::next_frame) without the deadline bookkeeping.
    #[inline(always)]
    fn read_next(&mut self) -> Result<Option<Frame>, Error> {
        loop {
            if let Some(frame) = self.decoder.decode(&mut self.buf)? {
                return Ok(Some(frame));
            }
            let eof = match self
                .decoder
                .payload_buffer(&mut self.buf, LARGE_PAYLOAD, MIN_READ)
            {
                // `read_to_end` on a `Take` reads into the vector's spare
                // capacity without zero-filling it, and grows it
                // geometrically with the bytes received. On an error the
                // bytes read so far stay in the decoder's buffer.
                Some((body, missing)) => {
                    let before = body.len();
                    let timed = Timed {
                        inner: &mut self.inner,
                        deadlines: self.deadlines.as_mut(),
                    };
                    Checked(&mut { timed })
                        .take(missing as u64)
                        .read_to_end(body)?;
                    body.len() - before < missing
                }
                None => self.fill(self.decoder.need())? == 0,
            };
            if eof {
                return Ok(self.decoder.decode_eof(&mut self.buf)?);
            }
        }
    }

    /// Reads once from the inner reader into the buffer; returns the bytes
    /// read (0 at EOF). On error the buffer is as it was.
    fn fill(&mut self, need: Need) -> Result<usize, Error> {
        // MIN_READ; for a payload longer than that, up to what it still
        // needs but at most what has already arrived (so memory follows
        // received bytes) and at most MAX_STAGED_READ. (`need` counts the
        // buffered header too when the lending path has not consumed it:
        // one read of at most 16 bytes more.)
        let buffered = self.buf.len();
        let want = need
            .missing(buffered)
            .min(buffered)
            .clamp(MIN_READ, MAX_STAGED_READ);
        if self.stage.len() < want {
            self.stage.resize(want, 0);
        }
        let stage = self
            .stage
            .get_mut(..want)
            .expect("the stage holds at least `want` bytes: resized above");
        let n = loop {
            let mut timed = Timed {
                inner: &mut self.inner,
                deadlines: self.deadlines.as_mut(),
            };
            match Checked(&mut timed).read(stage) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::Io(e)),
            }
        };
        self.buf
            .extend_from_slice(stage.get(..n).expect("n <= want: `Checked` refuses more"));
        Ok(n)
    }
}

/// Where [`FrameReader::next_ref`]'s frame is.
enum Lent {
    /// At the front of the buffer (`lent` bytes).
    InBuffer,
    /// In `held`.
    Held,
    /// Nowhere: the clean end of the stream.
    End,
}

impl<R> FrameReader<R> {
    /// `true` when part of a frame has been received but not all of it: a
    /// timeout now means the peer stalled inside a frame, not that it is
    /// idle between frames.
    pub fn is_mid_frame(&self) -> bool {
        self.decoder.is_mid_frame() || (self.buf.len() > self.lent && !self.decoder.is_failed())
    }

    /// The settings in use.
    pub fn config(&self) -> &Config {
        self.decoder.config()
    }

    /// The settings, to change at runtime (a new limit applies from the
    /// next header).
    pub fn config_mut(&mut self) -> &mut Config {
        self.decoder.config_mut()
    }

    /// What this reader has decoded, dropped and skipped (see
    /// [`Stats`](crate::Stats)).
    pub fn stats(&self) -> crate::Stats {
        self.decoder.stats()
    }

    /// The decoder: stream offsets (for messages such as "error at offset
    /// N"), failed state, recovery counters.
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

    /// The inner reader, and the bytes read from it that no frame has been
    /// delivered from, starting at a frame boundary: the header and payload
    /// bytes of a frame in progress (which the decoder had already
    /// consumed) come first. So another reader can take the stream over
    /// mid-frame. (After a fatal error the bytes are those left unread at
    /// the error; in recovery mode, bytes already skipped are gone.)
    ///
    /// ```
    /// use std::io::Read;
    ///
    /// let mut wire = Vec::new();
    /// lpframe::write_frame(&mut wire, b"hello").unwrap();
    /// // A source that delivers 10 bytes, then times out.
    /// struct Slow<'a>(&'a [u8]);
    /// impl Read for Slow<'_> {
    ///     fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
    ///         if self.0.is_empty() { return Err(std::io::ErrorKind::TimedOut.into()) }
    ///         let n = self.0.len().min(buf.len());
    ///         buf[..n].copy_from_slice(&self.0[..n]);
    ///         self.0 = &self.0[n..];
    ///         Ok(n)
    ///     }
    /// }
    /// let mut reader = lpframe::FrameReader::new(Slow(&wire[..18]));
    /// assert!(reader.next_frame().unwrap_err().is_timeout());
    /// let (_, unread) = reader.into_parts();
    /// assert_eq!(&unread[..], &wire[..18]); // the header is given back too
    /// ```
    pub fn into_parts(mut self) -> (R, BytesMut) {
        self.buf.advance(self.lent);
        let unread = self.decoder.into_unread(self.buf);
        (self.inner, unread)
    }
}

/// Deadlines (PROTOCOL.md section 6): an idle deadline before a frame's
/// first byte, a stall deadline for the whole frame from its first byte,
/// both re-armed for every frame.
///
/// When one expires, [`next_frame`](Self::next_frame) returns
/// [`Error::Timeout`] (not fatal): the part of the frame already received
/// is kept, and a later call (with longer deadlines set, say) goes on with
/// it and delivers the frame byte-exact; or close. The idle wait is counted
/// from the start of each call between frames; a stall deadline from when
/// the frame's first byte was read, and it is never reset by a call.
///
/// **Resolution.** With [`set_deadlines`](Self::set_deadlines) (the source
/// implements [`SetTimeouts`](crate::SetTimeouts): `TcpStream`,
/// `UnixStream`) the reader sets the socket's read timeout to the time left
/// before the next deadline, before every read: a deadline is never early,
/// and late by the OS's read-timeout granularity only (on Linux, one kernel
/// tick: 1 to 10 ms; measured 0.1 to 1 ms on loopback). Over any other
/// `Read`, [`set_deadlines_manual`](Self::set_deadlines_manual) checks the
/// clock before every read: set a read timeout on the source yourself (say
/// 50 ms); it is the resolution, since a read that blocks is only
/// interrupted by it. The source must be blocking: with deadlines set, a
/// read timeout before a deadline is a wake-up, and the read is retried.
///
/// ```
/// use std::io::Write;
/// use std::net::{TcpListener, TcpStream};
/// use std::time::{Duration, Instant};
/// use lpframe::{Deadlines, Error, FrameReader, TimeoutKind};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let addr = listener.local_addr()?;
/// let mut wire = Vec::new();
/// lpframe::write_frame(&mut wire, b"hello, slowly")?;
/// let peer = std::thread::spawn(move || -> std::io::Result<()> {
///     let mut s = TcpStream::connect(addr)?;
///     s.write_all(&wire[..10])?; // 10 bytes, then a pause longer than the stall deadline
///     std::thread::sleep(Duration::from_millis(300));
///     s.write_all(&wire[10..])
/// });
/// let (stream, _) = listener.accept()?;
/// let mut reader = FrameReader::new(stream);
/// let ms = Duration::from_millis;
/// reader.set_deadlines(Deadlines::new().idle(ms(5_000)).stall(ms(100)));
/// let start = Instant::now();
/// match reader.next_frame() {
///     Err(Error::Timeout(t)) => {
///         assert_eq!((t.kind, t.bytes, t.limit), (TimeoutKind::Stall, 10, ms(100)));
///         assert!(t.elapsed >= ms(100) && start.elapsed() < ms(250));
///     }
///     other => panic!("expected a stall timeout, got {other:?}"),
/// }
/// // Not fatal: extend the deadline and go on with the same frame.
/// reader.set_deadlines(Deadlines::new().idle(ms(5_000)).stall(ms(2_000)));
/// assert_eq!(&reader.next_frame()?.unwrap()[..], b"hello, slowly");
/// peer.join().unwrap()?;
/// # Ok(())
/// # }
/// ```
impl<R: Read + crate::SetTimeouts> FrameReader<R> {
    /// Sets the deadlines (replacing any): the reader sets the source's
    /// read timeout before every read (see above). A frame in progress
    /// keeps its start: a longer stall deadline extends it.
    pub fn set_deadlines(&mut self, deadlines: Deadlines) {
        let set = ReadDeadlines::<R>::socket_setter();
        match self.deadlines.as_mut() {
            Some(d) => d.set_deadlines(deadlines, Some(set)),
            None => self.deadlines = Some(ReadDeadlines::socket(deadlines)),
        }
    }

    /// A reader with deadlines and the default [`Config`]; see
    /// [`set_deadlines`](Self::set_deadlines).
    pub fn with_deadlines(inner: R, deadlines: Deadlines) -> Self {
        let mut reader = FrameReader::new(inner);
        reader.set_deadlines(deadlines);
        reader
    }
}

impl<R: Read> FrameReader<R> {
    /// Sets the deadlines over any `Read`: checked before every read, with
    /// the source's own read timeout (which you set) as the wake-up, so its
    /// period is the resolution (see [`set_deadlines`](Self::set_deadlines)).
    /// A trickling peer is still cut: the clock is checked between its
    /// bytes.
    ///
    /// ```
    /// use std::io::{self, Read};
    /// use std::time::Duration;
    /// use lpframe::{Deadlines, Error, FrameReader, TimeoutKind};
    ///
    /// /// A source that times out after 5 ms, as a socket with a read timeout.
    /// struct Silent;
    /// impl Read for Silent {
    ///     fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
    ///         std::thread::sleep(Duration::from_millis(5));
    ///         Err(io::ErrorKind::WouldBlock.into())
    ///     }
    /// }
    /// let mut reader = FrameReader::new(Silent);
    /// reader.set_deadlines_manual(Deadlines::new().idle(Duration::from_millis(30)));
    /// let Err(Error::Timeout(t)) = reader.next_frame() else { panic!() };
    /// assert_eq!(t.kind, TimeoutKind::Idle);
    /// assert!(t.elapsed >= Duration::from_millis(30));
    /// ```
    pub fn set_deadlines_manual(&mut self, deadlines: Deadlines) {
        match self.deadlines.as_mut() {
            Some(d) => d.set_deadlines(deadlines, None),
            None => self.deadlines = Some(ReadDeadlines::manual(deadlines)),
        }
    }

    /// Replaces the deadlines' clock (the unit tests' scripted one).
    #[cfg(all(test, not(lpframe_packaged)))]
    pub(crate) fn set_clock(&mut self, now: fn() -> std::time::Instant) {
        if let Some(d) = self.deadlines.as_mut() {
            d.set_clock(now);
        }
    }

    /// The deadlines in use (none by default).
    pub fn deadlines(&self) -> Deadlines {
        self.deadlines
            .as_ref()
            .map(ReadDeadlines::deadlines)
            .unwrap_or_default()
    }
}

/// [`read_frame_with`] under deadlines, over a stream whose read timeout it
/// sets (see [`SetTimeouts`](crate::SetTimeouts)): at most `idle` for the
/// frame's first byte, at most `stall` for the whole frame from it.
///
/// Stateless, like [`read_frame_with`], so what a deadline costs depends on
/// where it strikes: the idle deadline (no byte read) returns
/// [`Error::Timeout`], not fatal — call again; the stall deadline, after
/// part of the frame was read, returns [`Error::Desync`] (fatal: the bytes
/// read are gone) whose I/O error has kind `TimedOut` and carries the
/// [`Timeout`](crate::Timeout) (`io.get_ref()`). To extend a stall deadline
/// and go on, use [`FrameReader::set_deadlines`]. The socket's read timeout
/// is left unset (blocking) on return. Resolution as for
/// [`FrameReader::set_deadlines`].
///
/// ```
/// use std::net::{TcpListener, TcpStream};
/// use std::time::Duration;
/// use lpframe::{read_frame_timed, Deadlines, Error, TimeoutKind};
///
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let _client = TcpStream::connect(listener.local_addr()?)?; // connects, sends nothing
/// let (mut stream, _) = listener.accept()?;
/// let deadlines = Deadlines::new().idle(Duration::from_millis(50)).stall(Duration::from_secs(1));
/// match read_frame_timed(&mut stream, 1 << 20, deadlines) {
///     Err(Error::Timeout(t)) => assert_eq!((t.kind, t.bytes), (TimeoutKind::Idle, 0)),
///     other => panic!("expected an idle timeout, got {other:?}"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// As [`read_frame_with`], and [`Error::Timeout`] (idle).
pub fn read_frame_timed<S: Read + crate::SetTimeouts>(
    stream: &mut S,
    max_frame_len: u32,
    deadlines: Deadlines,
) -> Result<Option<Frame>, Error> {
    let mut d = ReadDeadlines::<S>::socket(deadlines);
    d.begin();
    let result = read_frame_with(
        &mut Timed {
            inner: &mut *stream,
            deadlines: Some(&mut d),
        },
        max_frame_len,
    );
    let reset = stream.set_read_timeout(None);
    let result = d.end(result, 0);
    reset?;
    result
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
