//! Reading: the exact [`read_frame`], on the header checks alone, and the
//! buffered, timeout-safe [`FrameReader`], a loop around the one
//! [`FrameDecoder`] with the blocking path's buffer policy.

use std::io::{self, Read};

use bytes::{Bytes, BytesMut};

use super::Checked;
use crate::{
    buffers::{FIRST_PAYLOAD_CHUNK, LARGE_PAYLOAD, MAX_STAGED_READ, MIN_READ},
    decode::missing,
    header::check_prefix,
    Config, DecodeError, Error, Frame, FrameDecoder, FramePart, Header, DEFAULT_MAX_FRAME_LEN,
    HEADER_LEN,
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
                    Checked(&mut self.inner)
                        .take(missing as u64)
                        .read_to_end(body)?;
                    body.len() - before < missing
                }
                None => self.fill()? == 0,
            };
            if eof {
                return Ok(self.decoder.decode_eof(&mut self.buf)?);
            }
        }
    }

    /// Reads once from the inner reader into the buffer; returns the bytes
    /// read (0 at EOF). On error the buffer is as it was.
    fn fill(&mut self) -> Result<usize, Error> {
        // MIN_READ; for a payload longer than that, up to what it still
        // needs but at most what has already arrived (so memory follows
        // received bytes) and at most MAX_STAGED_READ.
        let buffered = self.buf.len();
        let want = self
            .decoder
            .need()
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
            match Checked(&mut self.inner).read(stage) {
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

impl<R> FrameReader<R> {
    /// `true` when part of a frame has been received but not all of it: a
    /// timeout now means the peer stalled inside a frame, not that it is
    /// idle between frames.
    pub fn is_mid_frame(&self) -> bool {
        self.decoder.is_mid_frame() || (!self.buf.is_empty() && !self.decoder.is_failed())
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
    pub fn into_parts(self) -> (R, BytesMut) {
        let unread = self.decoder.into_unread(self.buf);
        (self.inner, unread)
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
