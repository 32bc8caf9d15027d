//! [`FrameSink`] (feature `tokio`): a `Sink` of frames that writes large
//! payloads without copying them — the 16-byte header and the payload's own
//! memory go out together in one vectored write. A poll loop over the one
//! write queue, which decides every fault.

#[cfg(test)]
use crate::buffers::IDLE_WRITE;
use crate::buffers::INITIAL_CAPACITY;
use std::fmt;
use std::io::IoSlice;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use futures_sink::Sink;
use tokio::io::AsyncWrite;

use crate::{encode::checked_header, encode::queue::WriteQueue, Config, Error};

/// At most this many slices per vectored write (as tokio-util's
/// `poll_write_buf`).
const MAX_SLICES: usize = 64;

/// A `Sink` of LPF frames over any [`AsyncWrite`] that does not copy large
/// payloads: the replacement for `FramedWrite<W, FrameCodec>` when payloads
/// are big.
///
/// tokio-util's `Encoder` must copy every payload into the write buffer
/// (tokio-rs/tokio#4122). `FrameSink` takes [`Bytes`] instead and keeps a payload longer than 2 KiB as it is: its header goes
/// into the write buffer, and header and payload are written together with
/// `poll_write_vectored`, straight from the payload's memory. Payloads up to
/// 2 KiB are copied behind their header, so that many small frames still go
/// out in one write. The bytes on the wire are exactly those of
/// [`FrameCodec`](crate::FrameCodec), [`FrameWriter`](crate::FrameWriter)
/// or [`write_frame`](crate::write_frame).
///
/// # Backpressure, flushing, closing
///
/// The same rules as `FramedWrite`: [`poll_ready`](Sink::poll_ready)
/// writes out the queued bytes once they reach the
/// [backpressure boundary](Self::set_backpressure_boundary) (8 KiB by
/// default, counting queued payloads), so memory stays bounded;
/// [`start_send`](Sink::start_send) only queues; [`poll_flush`](Sink::poll_flush)
/// writes everything queued, then flushes the writer;
/// [`poll_close`](Sink::poll_close) flushes, then shuts the writer down.
/// Dropping the sink does not flush: frames still queued are lost.
///
/// # Memory of an idle connection
///
/// A `FrameSink` allocates no write buffer before its first frame, and
/// gives it back when a [`flush`](Sink::poll_flush) (`send`, `flush`,
/// `close`) leaves nothing queued and the buffer holds more than 256 bytes;
/// a single small frame's buffer (a 64-byte payload's 80 bytes) is kept
/// for the next one, so that a request/response connection does not
/// allocate per frame. Flushes at the backpressure boundary, inside a
/// batch, keep it. (tokio-util's `FramedWrite` keeps its 8 KiB buffer for
/// the connection's life: its codec cannot release it; BENCHMARKS.md,
/// "Idle connections".)
///
/// # Errors
///
/// A payload over
/// [`max_write_frame_len`](Config::max_write_frame_len) is refused by `start_send` with [`Error::Encode`] before
/// anything is queued; the sink stays usable. A write or flush that fails
/// with a timeout or an interruption (`TimedOut`, `WouldBlock`,
/// `Interrupted`) returns [`Error::Io`] and loses nothing: every unsent byte
/// stays queued and the next flush continues exactly where the write
/// stopped. Any other I/O error, or a writer that accepts zero bytes, may
/// have left the stream inside a frame, so the sink *poisons* itself, as
/// [`FrameWriter`](crate::FrameWriter) does: that call returns the
/// [`Error::Io`], and every later call fails with [`Error::WriterPoisoned`]
/// without writing another byte — no frame can follow half a frame.
///
/// # Cancel safety
///
/// Every method keeps its progress in the sink, so a
/// future driving it (`SinkExt::send`, `feed`, `flush`) may be dropped at
/// any await point, e.g. by `tokio::time::timeout`: a frame is queued whole
/// or not at all (it is queued once `start_send` has returned `Ok`), and
/// partly written bytes are never written twice or skipped — the next
/// flush resumes mid-frame. A `send` dropped before its frame was queued
/// drops that frame; one dropped during its flush leaves the frame queued.
///
/// The writer must be [`Unpin`] (a `TcpStream`, its write half, a
/// `DuplexStream`...); pin others with `Box::pin`. `FrameSink` is a
/// `Sink<Bytes>` only, so `sink.send(bytes)`, `sink.flush()` and
/// `sink.close()` need no type annotation; a received
/// [`Frame`](crate::Frame) goes back in with
/// [`into_payload`](crate::Frame::into_payload).
///
/// # Examples
///
/// A small frame and a 1 MiB one, read back with `FrameCodec`:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), lpframe::Error> {
/// use bytes::Bytes;
/// use futures::{SinkExt, StreamExt};
/// use lpframe::{FrameCodec, FrameSink};
/// use tokio_util::codec::FramedRead;
///
/// let (a, b) = tokio::io::duplex(64 * 1024);
/// let mut tx = FrameSink::new(a);
/// let mut rx = FramedRead::new(b, FrameCodec::new());
///
/// let big = Bytes::from(vec![7u8; 1 << 20]); // written from its own memory
/// let sender = tokio::spawn(async move {
///     tx.send(Bytes::from_static(b"small")).await?; // copied behind its header
///     tx.send(big).await?;
///     tx.close().await
/// });
/// assert_eq!(&rx.next().await.unwrap()?.into_frame().unwrap()[..], b"small");
/// assert_eq!(rx.next().await.unwrap()?.into_frame().unwrap().len(), 1 << 20);
/// sender.await.unwrap()?;
/// # Ok(())
/// # }
/// ```
///
/// A refused frame is not queued, and the sink stays usable:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use bytes::Bytes;
/// use futures::SinkExt;
/// use lpframe::{Config, EncodeError, Error, FrameSink};
///
/// let config = Config::new().max_write_frame_len(1024);
/// let mut sink = FrameSink::with_config(Vec::new(), config);
/// let err = sink.send(Bytes::from(vec![0u8; 2000])).await.unwrap_err();
/// assert!(matches!(err, Error::Encode(EncodeError::TooLarge { len: 2000, max: 1024 })));
/// assert_eq!(sink.queued(), 0); // nothing was queued
/// sink.send(Bytes::from_static(b"fits")).await.unwrap();
/// assert_eq!(sink.get_ref().len(), 16 + 4);
/// assert!(!sink.is_poisoned());
/// # }
/// ```
pub struct FrameSink<W> {
    inner: W,
    queue: WriteQueue,
    config: Config,
    backpressure_boundary: usize,
}

impl<W> fmt::Debug for FrameSink<W>
where
    W: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameSink")
            .field("inner", &self.inner)
            .field("queued", &self.queued())
            .field("config", &self.config)
            .field("backpressure_boundary", &self.backpressure_boundary)
            .field("poisoned", &self.queue.is_poisoned())
            .finish()
    }
}

impl<W> FrameSink<W> {
    /// A sink with the default [`Config`].
    pub fn new(inner: W) -> Self {
        FrameSink::with_config(inner, Config::default())
    }

    /// A sink with the given settings (it uses
    /// [`max_write_frame_len`](Config::max_write_frame_len)).
    pub fn with_config(inner: W, config: Config) -> Self {
        FrameSink {
            inner,
            // No write buffer until the first frame (an idle connection
            // holds none; see `WriteQueue::at_rest`).
            queue: WriteQueue::with_capacity(0),
            config,
            backpressure_boundary: INITIAL_CAPACITY,
        }
    }

    /// Bytes queued and not yet written (headers and payloads).
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// The number of queued bytes at which
    /// [`poll_ready`](Sink::poll_ready) writes them out before accepting
    /// another frame (default 8 KiB, as `FramedWrite`).
    pub fn backpressure_boundary(&self) -> usize {
        self.backpressure_boundary
    }

    /// Sets the [backpressure boundary](Self::backpressure_boundary).
    /// Queued payloads count in full, so a frame larger than the boundary
    /// is written out before the next one is accepted.
    pub fn set_backpressure_boundary(&mut self, boundary: usize) {
        self.backpressure_boundary = boundary;
    }

    /// The frames and bytes written (headers included, counted once the
    /// limit check has accepted a frame), fatal errors (a poisoned writer)
    /// and write deadlines that expired: the writing fields of
    /// [`Stats`](crate::Stats).
    pub fn stats(&self) -> crate::Stats {
        self.queue.stats()
    }

    /// Counts a write deadline that expired (`WithDeadlines` around it).
    pub(crate) fn deadline_expired(&mut self) {
        self.queue.deadline_expired();
    }

    /// `true` after a write failed in a way that may have left the stream
    /// inside a frame; see the type docs.
    pub fn is_poisoned(&self) -> bool {
        self.queue.is_poisoned()
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

    /// The inner writer. Frames still queued are dropped: flush first.
    pub fn into_inner(self) -> W {
        self.inner
    }

    /// Queues one frame: after the sender's check, its header goes into the
    /// write buffer, and its payload behind it (copied) or after it (as is).
    fn queue_frame(&mut self, payload: Bytes) -> Result<(), Error> {
        self.queue.usable()?;
        let header = checked_header(&payload, self.config.max_write_frame_len)?;
        self.queue.accepted(payload.len());
        self.queue.push(&header, payload);
        Ok(())
    }
}

impl<W: AsyncWrite + Unpin> FrameSink<W> {
    /// Writes queued bytes until none are left (vectored where the writer
    /// supports it).
    fn poll_write_queued(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.queue.usable()?;
        while !self.queue.is_empty() {
            let (result, offered) = if self.inner.is_write_vectored() {
                let mut slices = [IoSlice::new(&[]); MAX_SLICES];
                let (used, offered) = self.queue.io_slices(&mut slices);
                let slices = slices.get(..used).unwrap_or_default();
                let result = Pin::new(&mut self.inner).poll_write_vectored(cx, slices);
                (result, offered)
            } else {
                let first = self.queue.first();
                (Pin::new(&mut self.inner).poll_write(cx, first), first.len())
            };
            self.queue.wrote(ready!(result), offered)?;
        }
        Poll::Ready(Ok(()))
    }

    fn poll_flush_inner(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        ready!(self.poll_write_queued(cx))?;
        match ready!(Pin::new(&mut self.inner).poll_flush(cx)) {
            Ok(()) => Poll::Ready(Ok(())),
            Err(e) => Poll::Ready(Err(self.queue.on_error(e))),
        }
    }

    fn poll_ready_inner(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.queue.usable()?;
        if self.queued() >= self.backpressure_boundary {
            self.poll_flush_inner(cx)
        } else {
            Poll::Ready(Ok(()))
        }
    }

    fn poll_close_inner(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        ready!(self.poll_flush_inner(cx))?;
        match ready!(Pin::new(&mut self.inner).poll_shutdown(cx)) {
            Ok(()) => Poll::Ready(Ok(())),
            Err(e) => Poll::Ready(Err(self.queue.on_error(e))),
        }
    }
}

/// Frames from their payload.
///
/// # Errors
/// `start_send`: [`Error::Encode`] (nothing queued) and
/// [`Error::WriterPoisoned`]. The `poll_*` methods: [`Error::Io`] and
/// [`Error::WriterPoisoned`]; see the type docs.
impl<W: AsyncWrite + Unpin> Sink<Bytes> for FrameSink<W> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_ready_inner(cx)
    }

    fn start_send(self: Pin<&mut Self>, payload: Bytes) -> Result<(), Error> {
        self.get_mut().queue_frame(payload)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let sink = self.get_mut();
        ready!(sink.poll_flush_inner(cx))?;
        // Flushed by its user (not at the backpressure boundary, inside a
        // batch): the write buffer is given back unless it is small.
        sink.queue.at_rest();
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_close_inner(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::SinkExt;

    #[tokio::test]
    async fn a_flushed_sink_gives_its_buffer_back() {
        let mut tx = FrameSink::new(Vec::new());
        assert_eq!(tx.queue.buffer_capacity(), 0); // none before the first frame
                                                   // A batch, fed and then flushed once: the buffer is given back.
        for _ in 0..200 {
            tx.feed(Bytes::from_static(&[1; 64])).await.unwrap();
        }
        assert!(tx.queue.buffer_capacity() >= 8 * 1024);
        tx.flush().await.unwrap();
        assert_eq!((tx.queued(), tx.queue.buffer_capacity()), (0, 0));
        // One small frame: its 80 bytes are kept for the next one, which
        // reuses them.
        tx.send(Bytes::from_static(&[2; 64])).await.unwrap();
        tx.queue.at_rest();
        let mut probe = tx.queue.buffer_capacity();
        assert!(probe <= IDLE_WRITE, "{probe}");
        tx.send(Bytes::from_static(&[3; 64])).await.unwrap();
        probe = probe.max(tx.queue.buffer_capacity());
        assert!(probe <= IDLE_WRITE, "{probe}");
        // A large payload (chained) leaves at most a small header buffer.
        tx.send(Bytes::from(vec![4; 100_000])).await.unwrap();
        assert!(tx.queue.buffer_capacity() <= IDLE_WRITE);
        let wire = tx.into_inner();
        assert_eq!(wire.len(), 202 * (16 + 64) + 16 + 100_000);
        let mut r = crate::FrameReader::new(&wire[..]);
        let mut n = 0;
        while let Some(f) = r.next_frame().unwrap() {
            assert!(f.payload().iter().all(|&b| b == f.payload()[0]));
            n += 1;
        }
        assert_eq!(n, 203);
    }
}
