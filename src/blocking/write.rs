//! Writing: the exact, unbuffered [`write_frame`] and the buffered
//! [`FrameWriter`], both on the one serializer; the writer is a loop over
//! the one write queue, which decides every fault.

use crate::buffers::WRITE_BUFFER;
use std::io::{self, IoSlice, Write};
use std::time::Duration;

use super::deadline::{TimedWrite, WriteDeadline};

use crate::{
    encode::{
        checked_header,
        queue::{checked_write, WriteQueue},
    },
    error::IntoInnerError,
    Config, Error, DEFAULT_MAX_FRAME_LEN, HEADER_LEN,
};

/// Writes one frame with the default limit (8 MiB); see
/// [`write_frame_with`].
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
    write_frame_with(w, payload, DEFAULT_MAX_FRAME_LEN)
}

/// Writes one frame, header and payload, without copying the payload: one
/// vectored write where the writer supports it, with partial writes
/// (including writers that only take the first slice) handled. Payloads up
/// to `max_frame_len` bytes are accepted.
///
/// The limit is checked before any byte is written. Unbuffered: wrap `w` in
/// a [`FrameWriter`] (or a `BufWriter`) for many small frames.
///
/// ```
/// use lpframe::{write_frame_with, EncodeError, Error};
///
/// let mut out = Vec::new();
/// write_frame_with(&mut out, b"fits", 4).unwrap();
/// let err = write_frame_with(&mut out, b"too long", 4).unwrap_err();
/// assert!(matches!(err, Error::Encode(EncodeError::TooLarge { len: 8, max: 4 })));
/// assert!(!err.is_fatal());
/// assert_eq!(out.len(), 16 + 4); // nothing of the refused frame was written
/// ```
///
/// # Errors
/// [`Error::Encode`] (nothing written); [`Error::Io`] when the writer
/// failed before any byte of the frame was written (retryable if its kind
/// is); [`Error::Desync`] when it failed after part of the frame was
/// written, a timeout included: the stream then ends in half a frame and
/// must not be used for further frames (PROTOCOL.md section 3, rule 4).
pub fn write_frame_with<W: Write + ?Sized>(
    w: &mut W,
    payload: &[u8],
    max_frame_len: u32,
) -> Result<(), Error> {
    let header = checked_header(payload, max_frame_len)?.to_bytes();
    match write_all_vectored(w, &header, payload) {
        Ok(()) => Ok(()),
        Err((io, 0)) => Err(Error::Io(io)),
        Err((io, done)) => Err(Error::Desync {
            io,
            done: done as u64,
        }),
    }
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
        let left: usize = bufs.iter().map(|s| s.len()).sum();
        match checked_write(w.write_vectored(bufs), left) {
            Ok(n) => {
                written += n;
                IoSlice::advance_slices(&mut bufs, n);
            }
            Err(e) => return Err((e, written)),
        }
    }
    Ok(())
}

/// A buffered frame writer.
///
/// Small frames are collected in an 8 KiB buffer and written together on
/// [`flush`](FrameWriter::flush) (or when the buffer fills); a frame that
/// does not fit the buffer is written straight through with one vectored
/// write, without copying its payload.
///
/// **Faults.** A retryable error (`WouldBlock`, `TimedOut`, e.g. from
/// `set_write_timeout`) loses nothing and is not fatal: the frame passed to
/// the call that failed *was accepted* (do not send it again), and every
/// unsent byte stays queued — call [`flush`](FrameWriter::flush) until it
/// succeeds (frames written meanwhile queue up behind, growing
/// [`buffered`](FrameWriter::buffered)). Any other I/O error leaves the
/// stream holding part of a frame, so the writer is *poisoned*: every later
/// call fails with [`Error::WriterPoisoned`] and nothing more is written.
///
/// **Dropping does not flush** (as with tokio's `FramedWrite`, and unlike
/// `BufWriter`, whose flush-on-drop swallows errors): call
/// [`flush`](FrameWriter::flush) or [`into_inner`](FrameWriter::into_inner),
/// or frames still queued are lost.
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
/// assert_eq!(&frames[1][..], b"two");
/// ```
#[derive(Debug)]
pub struct FrameWriter<W: Write> {
    inner: W,
    queue: WriteQueue,
    config: Config,
    /// The write deadline, if set (`blocking/deadline.rs`).
    deadline: Option<Box<WriteDeadline<W>>>,
}

impl<W: Write> FrameWriter<W> {
    /// A writer with the default [`Config`].
    pub fn new(inner: W) -> Self {
        FrameWriter::with_config(inner, Config::default())
    }

    /// A writer with the given settings (it uses
    /// [`max_write_frame_len`](Config::max_write_frame_len)).
    ///
    /// ```
    /// use lpframe::{Config, FrameWriter};
    ///
    /// let mut w = FrameWriter::with_config(Vec::new(), Config::new().max_write_frame_len(1024));
    /// assert!(w.write_frame(&[0; 2048]).is_err()); // refused, the writer still usable
    /// w.write_frame(b"ok").unwrap();
    /// assert_eq!(w.into_inner().unwrap().len(), 18);
    /// ```
    pub fn with_config(inner: W, config: Config) -> Self {
        FrameWriter {
            inner,
            queue: WriteQueue::with_capacity(WRITE_BUFFER),
            config,
            deadline: None,
        }
    }

    /// Queues one frame (written when the buffer fills or on
    /// [`flush`](Self::flush)).
    ///
    /// ```
    /// use std::net::{TcpListener, TcpStream};
    /// use lpframe::FrameWriter;
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let mut w = FrameWriter::new(TcpStream::connect(listener.local_addr()?)?);
    /// for i in 0..100u32 {
    ///     w.write_frame(&i.to_be_bytes())?; // batched in the writer's buffer
    /// }
    /// w.flush()?; // one write for all of them
    /// let (peer, _) = listener.accept()?;
    /// let got = lpframe::FrameReader::new(peer).take(100).count();
    /// assert_eq!(got, 100);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Encode`] (frame refused, nothing written, writer still
    /// usable); [`Error::Io`] — if retryable, the frame was accepted and
    /// [`flush`](Self::flush) finishes it (see the type docs), otherwise the
    /// writer is poisoned; [`Error::WriterPoisoned`].
    pub fn write_frame(&mut self, payload: &[u8]) -> Result<(), Error> {
        let result = self.queue_frame(payload);
        self.deadline_done();
        result
    }

    fn queue_frame(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.queue.usable()?;
        let header = checked_header(payload, self.config.max_write_frame_len)?;
        self.queue.accepted(payload.len());
        let total = HEADER_LEN + payload.len();
        if self.queue.len() + total > WRITE_BUFFER {
            if let Err(e) = self.flush_buf() {
                if !self.queue.is_poisoned() {
                    // Retryable (e.g. a write timeout): this frame is still
                    // accepted, queued behind the unsent bytes; flush() sends it.
                    self.queue.push_copied(&header, payload);
                }
                return Err(match e {
                    Error::Timeout(mut t) => {
                        t.queued = self.queue.len() as u64;
                        Error::Timeout(t)
                    }
                    e => e,
                });
            }
        }
        if total <= WRITE_BUFFER || !self.queue.is_empty() {
            self.queue.push_copied(&header, payload);
            return Ok(());
        }
        // Large frame, empty buffer: straight through, no payload copy.
        let header = header.to_bytes();
        let mut timed = TimedWrite {
            inner: &mut self.inner,
            deadline: self.deadline.as_deref_mut(),
        };
        write_all_vectored(&mut timed, &header, payload).map_err(|(e, written)| {
            let e = self.queue.failed_through(e, &header, payload, written);
            self.expired().unwrap_or(e)
        })
    }

    /// Writes out every queued byte, then flushes the inner writer.
    ///
    /// ```
    /// let mut w = lpframe::FrameWriter::new(Vec::new());
    /// w.write_frame(b"queued")?;
    /// assert_eq!((w.buffered(), w.get_ref().len()), (22, 0));
    /// w.flush()?;
    /// assert_eq!((w.buffered(), w.get_ref().len()), (0, 22));
    /// # Ok::<(), lpframe::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Io`] (retryable kinds keep the unsent bytes; other kinds
    /// poison the writer), [`Error::WriterPoisoned`].
    pub fn flush(&mut self) -> Result<(), Error> {
        let result = self.flush_buf();
        self.deadline_done();
        result?;
        self.inner.flush().map_err(|e| self.queue.on_error(e))
    }

    fn flush_buf(&mut self) -> Result<(), Error> {
        self.queue.usable()?;
        while !self.queue.is_empty() {
            let rest = self.queue.first();
            let mut timed = TimedWrite {
                inner: &mut self.inner,
                deadline: self.deadline.as_deref_mut(),
            };
            let result = timed.write(rest);
            let offered = rest.len();
            if let Err(e) = self.queue.wrote(result, offered) {
                return Err(self.expired().unwrap_or(e));
            }
        }
        Ok(())
    }

    /// The write deadline's expiry, if that is what made a write fail: a
    /// typed, non-fatal timeout saying what is still queued.
    fn expired(&mut self) -> Option<Error> {
        let queued = self.queue.len();
        let t = self
            .deadline
            .as_deref_mut()
            .and_then(|d| d.take_expired(queued))?;
        self.queue.deadline_expired();
        Some(Error::Timeout(t))
    }

    /// The end of a public call: the write deadline re-arms for the next.
    fn deadline_done(&mut self) {
        if let Some(d) = self.deadline.as_mut() {
            d.done();
        }
    }

    /// The frames and bytes written (headers included, counted once the
    /// limit check has accepted a frame) and fatal errors (a poisoned
    /// writer): the writing fields of [`Stats`](crate::Stats).
    pub fn stats(&self) -> crate::Stats {
        self.queue.stats()
    }

    /// `true` after a write failed inside a frame; see the type docs.
    pub fn is_poisoned(&self) -> bool {
        self.queue.is_poisoned()
    }

    /// Bytes queued and not yet written.
    pub fn buffered(&self) -> usize {
        self.queue.len()
    }

    /// The settings in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The settings, to change at runtime (a new limit applies from the
    /// next frame).
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
    /// If flushing fails, the writer comes back inside the error with every
    /// unsent byte still queued (nothing is lost): on a retryable error take
    /// it back with [`IntoInnerError::into_writer`] and try again.
    ///
    /// ```
    /// let mut w = lpframe::FrameWriter::new(Vec::new());
    /// w.write_frame(b"hi").unwrap();
    /// let wire: Vec<u8> = w.into_inner().map_err(|e| e.into_parts().1)?;
    /// assert_eq!(wire.len(), 18);
    /// # Ok::<(), lpframe::Error>(())
    /// ```
    // The writer comes back whole inside the error, as std's
    // `BufWriter::into_inner` does: boxing it would cost every caller an
    // allocation on the error path for no gain.
    #[allow(clippy::result_large_err)]
    pub fn into_inner(mut self) -> Result<W, IntoInnerError<FrameWriter<W>>> {
        match self.flush() {
            Ok(()) => Ok(self.inner),
            Err(e) => Err(IntoInnerError::new(self, e)),
        }
    }
}

impl<W: Write + crate::SetTimeouts> FrameWriter<W> {
    /// Sets a write deadline (`None`: none, the default): each call
    /// ([`write_frame`](Self::write_frame) when the buffer must be written
    /// out, [`flush`](Self::flush)) may wait at most `limit` in all for the
    /// peer to take bytes; the writer sets the socket's write timeout to
    /// the time left before every write. When it expires the call returns
    /// [`Error::Timeout`] (kind `Write`, not fatal) saying how many bytes
    /// were written during the call (`bytes`) and how many are still queued
    /// (`queued`): nothing is lost, and a later [`flush`](Self::flush)
    /// goes on from there — or close the connection (PROTOCOL.md section
    /// 6). Resolution: the OS's write-timeout granularity (on Linux one
    /// kernel tick, 1 to 10 ms).
    ///
    /// ```
    /// use std::net::{TcpListener, TcpStream};
    /// use std::time::{Duration, Instant};
    /// use lpframe::{Error, FrameWriter, TimeoutKind};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let _peer = TcpStream::connect(listener.local_addr()?)?; // never reads
    /// let (stream, _) = listener.accept()?;
    /// let mut w = FrameWriter::new(stream);
    /// w.set_write_deadline(Some(Duration::from_millis(100)));
    /// let chunk = vec![0u8; 1 << 20];
    /// let start = Instant::now();
    /// let t = loop {
    ///     assert!(start.elapsed() < Duration::from_secs(10));
    ///     match w.write_frame(&chunk).and_then(|()| w.flush()) {
    ///         Ok(()) => continue, // the socket buffers took it
    ///         Err(Error::Timeout(t)) => break t,
    ///         Err(e) => return Err(e.into()),
    ///     }
    /// };
    /// assert_eq!(t.kind, TimeoutKind::Write);
    /// assert!(t.elapsed >= Duration::from_millis(100));
    /// assert_eq!(t.queued, w.buffered() as u64); // kept, not lost
    /// assert!(t.queued > 0 && !w.is_poisoned());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_write_deadline(&mut self, limit: Option<Duration>) {
        match self.deadline.as_mut() {
            Some(d) => d.set_limit(limit),
            None => self.deadline = Some(Box::new(WriteDeadline::new(limit))),
        }
    }

    /// The write deadline in use.
    pub fn write_deadline(&self) -> Option<Duration> {
        self.deadline.as_deref().and_then(WriteDeadline::limit)
    }
}
