//! The one write queue: the bytes a writer has accepted and not yet
//! written, and the fault rules both writers follow. Pure, no I/O:
//! [`FrameWriter`](crate::FrameWriter) (blocking) and
//! [`FrameSink`](crate::FrameSink) (tokio) are loops that offer
//! [`first`](WriteQueue::first) or [`io_slices`](WriteQueue::io_slices) to
//! their writer and report the result to [`wrote`](WriteQueue::wrote).
//!
//! ```text
//!   chunks (in order)                              buf
//!   [ buffered segment | large payload | ... ] ++ [ headers, small payloads ]
//!    ^ next byte to write
//! ```
//!
//! Faults, decided here once: an interrupted write is retried; a retryable
//! error (`WouldBlock`, `TimedOut`) loses nothing, every unsent byte stays
//! queued; any other error, a writer that accepts zero bytes, or one that
//! reports more bytes than it was offered may have left the stream inside a
//! frame, so the queue is *poisoned* and every later call fails with
//! [`Error::WriterPoisoned`].

use std::collections::VecDeque;
use std::io;

use bytes::{Buf, Bytes, BytesMut};

use super::put_header;
use crate::buffers::INITIAL_BATCH;
#[cfg(feature = "tokio")]
use crate::buffers::{COPY_THRESHOLD, IDLE_WRITE};
use crate::{error::is_retryable, Error, Header, HEADER_LEN};

/// Checks what one write call reported against the `offered` bytes it was
/// given: the bytes to count as written, `0` after an interruption (call
/// again).
///
/// # Errors
/// The writer's error, `WriteZero` for a writer that accepted nothing, and
/// `InvalidData` for one that reported more than it was offered.
#[inline]
pub(crate) fn checked_write(result: io::Result<usize>, offered: usize) -> io::Result<usize> {
    match result {
        Ok(0) => Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "failed to write frame",
        )),
        Ok(n) if n > offered => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the writer reported {n} bytes written of {offered}"),
        )),
        Ok(n) => Ok(n),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
        Err(e) => Err(e),
    }
}

/// Bytes accepted and not yet written, in order, and whether the stream
/// may hold part of a frame (poisoned).
#[derive(Debug)]
pub(crate) struct WriteQueue {
    /// Queued bytes written before `buf`: write-buffer segments split off
    /// ahead of a large payload, and the large payloads themselves.
    chunks: VecDeque<Bytes>,
    /// The bytes in `chunks`.
    chunked: usize,
    /// Headers and copied payloads, after everything in `chunks`.
    buf: BytesMut,
    poisoned: bool,
    /// The writer's counts.
    stats: crate::stats::WriteStats,
}

impl WriteQueue {
    /// An empty queue whose write buffer holds `capacity` bytes.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        WriteQueue {
            chunks: VecDeque::new(),
            chunked: 0,
            buf: BytesMut::with_capacity(capacity),
            poisoned: false,
            stats: crate::stats::WriteStats::default(),
        }
    }

    /// Bytes queued and not yet written.
    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        self.chunked + self.buf.len()
    }

    /// `true` when every queued byte has been written.
    #[inline(always)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `true` after a write failed in a way that may have left the stream
    /// inside a frame.
    #[inline(always)]
    pub(crate) fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    /// # Errors
    /// [`Error::WriterPoisoned`] once poisoned.
    #[inline(always)]
    pub(crate) fn usable(&self) -> Result<(), Error> {
        if self.poisoned {
            Err(Error::WriterPoisoned)
        } else {
            Ok(())
        }
    }

    /// Counts a frame of `payload_len` bytes accepted for writing.
    #[inline(always)]
    pub(crate) fn accepted(&mut self, payload_len: usize) {
        self.stats.written(payload_len);
    }

    /// Counts a write deadline that expired.
    pub(crate) fn deadline_expired(&mut self) {
        self.stats.deadline_expired();
    }

    /// The writer's counts (the writing fields of [`Stats`](crate::Stats)).
    pub(crate) fn stats(&self) -> crate::Stats {
        self.stats.get()
    }

    /// Queues a frame, its payload copied behind its header.
    #[inline(always)]
    pub(crate) fn push_copied(&mut self, header: &Header, payload: &[u8]) {
        let need = HEADER_LEN + payload.len();
        if self.buf.capacity() - self.buf.len() < need {
            // A buffer given back at rest ([`at_rest`](Self::at_rest))
            // grows to exactly its first frame (what an idle
            // request/response connection keeps), and at once to 8 KiB
            // when a second frame joins it before a flush (a batch), not
            // by doubling.
            let batch = if self.buf.is_empty() {
                0
            } else {
                INITIAL_BATCH
            };
            self.buf.reserve(need.max(batch));
        }
        put_header(header, &mut self.buf);
        self.buf.extend_from_slice(payload);
    }

    /// Queues a frame: a payload up to [`COPY_THRESHOLD`] is copied behind
    /// its header, a longer one is queued as it is (no copy).
    #[cfg(feature = "tokio")]
    #[inline(always)]
    pub(crate) fn push(&mut self, header: &Header, payload: Bytes) {
        if payload.len() <= COPY_THRESHOLD {
            self.push_copied(header, &payload);
        } else {
            self.push_chained(header, payload);
        }
    }

    /// Queues a frame, its payload as it is (no copy) after its header.
    #[cfg(feature = "tokio")]
    #[inline]
    fn push_chained(&mut self, header: &Header, payload: Bytes) {
        if self.buf.capacity() - self.buf.len() < HEADER_LEN {
            // Room for several headers at once, not one allocation each.
            self.buf.reserve(IDLE_WRITE);
        }
        put_header(header, &mut self.buf);
        // Everything buffered so far goes first; `buf` keeps its spare room
        // for what follows the payload.
        let head = self.buf.split().freeze();
        self.chunked += head.len() + payload.len();
        self.chunks.push_back(head);
        self.chunks.push_back(payload);
    }

    /// Called when a flush has written everything: a write buffer of more
    /// than [`IDLE_WRITE`] bytes is given back (an idle connection then
    /// holds no write buffer), a smaller one — a single small frame's — is
    /// kept for the next frame. Nothing happens while bytes are queued.
    #[cfg(feature = "tokio")]
    pub(crate) fn at_rest(&mut self) {
        // `try_reclaim` (no allocation) tells whether the buffer, moved to
        // the front of its allocation, holds more than `IDLE_WRITE`.
        if self.is_empty() && self.buf.try_reclaim(IDLE_WRITE + 1) {
            self.buf = BytesMut::new();
        }
        if self.chunks.capacity() > 16 && self.chunks.is_empty() {
            self.chunks = VecDeque::new();
        }
    }

    /// The write buffer's room (for tests of the buffer policy).
    #[cfg(all(test, feature = "tokio"))]
    pub(crate) fn buffer_capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// The next queued bytes as one slice, for a writer without vectored
    /// writes (empty when nothing is queued).
    #[inline]
    pub(crate) fn first(&self) -> &[u8] {
        match self.chunks.front() {
            Some(chunk) => chunk,
            None => &self.buf,
        }
    }

    /// Fills `dst` with the queued bytes, in order, as far as it reaches:
    /// returns the slices used and the bytes they hold.
    #[cfg(feature = "tokio")]
    #[inline]
    pub(crate) fn io_slices<'a>(&'a self, dst: &mut [io::IoSlice<'a>]) -> (usize, usize) {
        let parts = self
            .chunks
            .iter()
            .map(|c| &c[..])
            .chain(std::iter::once(&self.buf[..]))
            .filter(|part| !part.is_empty());
        let mut used = 0;
        let mut offered = 0;
        for (slot, part) in dst.iter_mut().zip(parts) {
            *slot = io::IoSlice::new(part);
            used += 1;
            offered += part.len();
        }
        (used, offered)
    }

    /// Takes the result of a write that was offered `offered` queued bytes
    /// (from [`first`](Self::first) or [`io_slices`](Self::io_slices)):
    /// forgets the bytes written; an interruption changes nothing.
    ///
    /// # Errors
    /// As [`checked_write`], through [`on_error`](Self::on_error).
    #[inline]
    pub(crate) fn wrote(&mut self, result: io::Result<usize>, offered: usize) -> Result<(), Error> {
        match checked_write(result, offered) {
            Ok(n) => {
                self.advance(n);
                Ok(())
            }
            Err(e) => Err(self.on_error(e)),
        }
    }

    /// A failed write, flush or shutdown: returned as [`Error::Io`]; unless
    /// retryable, it poisons the queue.
    #[inline]
    pub(crate) fn on_error(&mut self, e: io::Error) -> Error {
        if !is_retryable(e.kind()) {
            self.poisoned = true;
            self.stats.write_failed(&e);
        }
        Error::Io(e)
    }

    /// A frame written straight through (not queued) failed with `e` after
    /// `written` of its bytes: unless that poisons the queue, the unsent
    /// rest is queued, so that the next flush finishes the frame.
    pub(crate) fn failed_through(
        &mut self,
        e: io::Error,
        header: &[u8; HEADER_LEN],
        payload: &[u8],
        written: usize,
    ) -> Error {
        let e = self.on_error(e);
        if !self.poisoned {
            let rest_head = header.get(written..).unwrap_or_default();
            let rest_payload = payload
                .get(written.saturating_sub(HEADER_LEN)..)
                .unwrap_or_default();
            self.buf.reserve(rest_head.len() + rest_payload.len());
            self.buf.extend_from_slice(rest_head);
            self.buf.extend_from_slice(rest_payload);
        }
        e
    }

    /// Forgets the first `n` queued bytes (`n` at most [`len`](Self::len)).
    #[inline]
    fn advance(&mut self, mut n: usize) {
        while n > 0 {
            match self.chunks.front_mut() {
                Some(chunk) if n >= chunk.len() => {
                    n -= chunk.len();
                    self.chunked -= chunk.len();
                    self.chunks.pop_front();
                }
                Some(chunk) => {
                    chunk.advance(n);
                    self.chunked -= n;
                    n = 0;
                }
                None => {
                    self.buf.advance(n.min(self.buf.len()));
                    n = 0;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::checked_header;

    fn header(payload: &[u8]) -> Header {
        checked_header(payload, u32::MAX).unwrap()
    }

    #[test]
    fn partial_writes_resume_where_they_stopped() {
        let mut q = WriteQueue::with_capacity(64);
        q.push_copied(&header(b"ab"), b"ab");
        assert_eq!(q.len(), HEADER_LEN + 2);
        let all = q.first().to_vec();
        q.wrote(Ok(5), 18).unwrap();
        assert_eq!(q.first(), &all[5..]);
        q.wrote(Err(io::ErrorKind::Interrupted.into()), 13).unwrap();
        q.wrote(Ok(13), 13).unwrap();
        assert!(q.is_empty() && !q.is_poisoned());
    }

    #[test]
    fn faults_poison_unless_retryable() {
        let mut q = WriteQueue::with_capacity(64);
        q.push_copied(&header(b"x"), b"x");
        let e = q
            .wrote(Err(io::ErrorKind::TimedOut.into()), 17)
            .unwrap_err();
        assert!(matches!(e, Error::Io(_)) && !q.is_poisoned() && q.len() == 17);
        let e = q.wrote(Ok(18), 17).unwrap_err();
        assert!(
            matches!(&e, Error::Io(e) if e.to_string() == "the writer reported 18 bytes written of 17")
        );
        assert!(q.is_poisoned() && matches!(q.usable(), Err(Error::WriterPoisoned)));

        let mut q = WriteQueue::with_capacity(64);
        q.push_copied(&header(b"x"), b"x");
        let e = q.wrote(Ok(0), 17).unwrap_err();
        assert!(matches!(&e, Error::Io(e) if e.kind() == io::ErrorKind::WriteZero));
        assert!(q.is_poisoned());
    }

    #[test]
    fn a_failed_straight_write_keeps_the_rest() {
        let payload = [7u8; 40];
        let bytes = header(&payload).to_bytes();
        for written in [0, 3, HEADER_LEN, HEADER_LEN + 10] {
            let mut q = WriteQueue::with_capacity(0);
            q.failed_through(io::ErrorKind::WouldBlock.into(), &bytes, &payload, written);
            let mut whole = bytes.to_vec();
            whole.extend_from_slice(&payload);
            assert_eq!(q.first(), &whole[written..]);
        }
        let mut q = WriteQueue::with_capacity(0);
        q.failed_through(io::ErrorKind::BrokenPipe.into(), &bytes, &payload, 3);
        assert!(q.is_poisoned() && q.is_empty());
    }

    #[cfg(feature = "tokio")]
    #[test]
    fn large_payloads_are_chained_not_copied() {
        let mut q = WriteQueue::with_capacity(64);
        let large = Bytes::from(vec![1u8; COPY_THRESHOLD + 1]);
        q.push_copied(&header(b"a"), b"a");
        q.push(&header(&large), large.clone());
        q.push(&header(b"b"), Bytes::from_static(b"b"));
        let mut slices = [io::IoSlice::new(&[]); 8];
        let (used, offered) = q.io_slices(&mut slices);
        assert_eq!((used, offered), (3, q.len()));
        assert_eq!(slices[1].as_ptr(), large.as_ptr()); // the caller's memory
        let (first, third) = (slices[0].len(), slices[2].len());
        q.wrote(Ok(first + 1), offered).unwrap();
        assert_eq!(q.len(), large.len() - 1 + third);
    }
}
