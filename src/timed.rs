//! [`WithDeadlines`] (feature `tokio`): the read and write deadlines of
//! PROTOCOL.md section 6 around a `Framed`/`FramedRead`/`FramedWrite` of
//! [`FrameCodec`] or a [`FrameSink`], on `tokio::time::Sleep`, so that a
//! service writes no timing code. The clock logic is the pure
//! [`DeadlineTracker`].

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use futures_core::Stream;
use futures_sink::Sink;
use tokio::time::Sleep;
use tokio_util::codec::{Framed, FramedRead, FramedWrite};

use crate::deadline::WriteClock;
use crate::{DeadlineTracker, Deadlines, Error, FrameCodec, FrameSink};

/// A source of frames whose codec says what it has received: implemented
/// for `Framed` and `FramedRead` of [`FrameCodec`].
pub trait ReadProgress {
    /// Bytes that have entered the read buffer in all: the decoder's
    /// position plus what is still buffered (decoding only moves bytes
    /// from one to the other).
    fn received(&self) -> u64;
    /// Bytes in the read buffer now.
    fn buffered(&self) -> usize;
    /// Counts an idle or stall deadline that expired, in the codec's
    /// [`Stats`](crate::Stats) (`deadlines_expired`).
    fn deadline_expired(&mut self);
}

/// A sink of frames that says how many bytes it holds unsent: implemented
/// for `Framed` and `FramedWrite` of [`FrameCodec`], and [`FrameSink`].
pub trait WriteProgress {
    /// Bytes queued and not yet written.
    fn queued(&self) -> usize;
    /// Counts a write deadline that expired, in the codec's or sink's
    /// [`Stats`](crate::Stats) (`deadlines_expired`).
    fn deadline_expired(&mut self);
}

impl<T> ReadProgress for Framed<T, FrameCodec> {
    fn received(&self) -> u64 {
        self.codec().decoder().position() + self.read_buffer().len() as u64
    }
    fn buffered(&self) -> usize {
        self.read_buffer().len()
    }
    fn deadline_expired(&mut self) {
        self.codec_mut().deadline_expired();
    }
}

impl<T> ReadProgress for FramedRead<T, FrameCodec> {
    fn received(&self) -> u64 {
        self.decoder().decoder().position() + self.read_buffer().len() as u64
    }
    fn buffered(&self) -> usize {
        self.read_buffer().len()
    }
    fn deadline_expired(&mut self) {
        self.decoder_mut().deadline_expired();
    }
}

impl<T> WriteProgress for Framed<T, FrameCodec> {
    fn queued(&self) -> usize {
        self.write_buffer().len()
    }
    fn deadline_expired(&mut self) {
        self.codec_mut().deadline_expired();
    }
}

impl<T> WriteProgress for FramedWrite<T, FrameCodec> {
    fn queued(&self) -> usize {
        self.write_buffer().len()
    }
    fn deadline_expired(&mut self) {
        self.encoder_mut().deadline_expired();
    }
}

impl<W> WriteProgress for FrameSink<W> {
    fn queued(&self) -> usize {
        FrameSink::queued(self)
    }
    fn deadline_expired(&mut self) {
        FrameSink::deadline_expired(self);
    }
}

/// Read deadlines (idle, stall: [`Deadlines`]) and a write deadline around
/// a frame stream and/or sink: `Framed<_, FrameCodec>`,
/// `FramedRead<_, FrameCodec>`, `FramedWrite<_, FrameCodec>` or
/// [`FrameSink`].
///
/// **Reading.** The items are the inner stream's, unchanged; when a
/// deadline expires the stream yields `Some(Err(Error::Timeout(t)))` —
/// not fatal: the part of the frame received stays in the codec, and
/// polling again (after [`set_deadlines`](Self::set_deadlines) with longer
/// ones, say) goes on with it and delivers the frame byte-exact; or close.
/// In a `while let Some(item) = s.try_next().await?` loop the timeout ends
/// the loop, which is the usual answer. The idle wait is counted from the
/// first poll after the previous item; the stall deadline from the end
/// of the poll that received the frame's first byte (or of the read that
/// brought it along with the end of the previous frame), for the whole
/// frame: a peer trickling one byte at a time is cut when the deadline
/// passes.
///
/// **Writing** (when the inner type is a `Sink`): a
/// [write deadline](Self::set_write_deadline) bounds each wait of
/// `poll_ready`, `poll_flush` and `poll_close` for the peer to take bytes;
/// when it expires the call returns [`Error::Timeout`] (kind `Write`) with
/// the bytes written during the wait and the bytes still queued: nothing
/// queued is lost, a later flush goes on with it.
///
/// **Resolution**: tokio's timer, 1 ms: a deadline is never early, and late
/// by at most a millisecond plus the time the task waits to be scheduled.
/// Needs a runtime with the time driver (`#[tokio::main]`, or
/// `enable_time()`); it follows a paused clock (`tokio::time::pause`).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), lpframe::Error> {
/// use std::time::Duration;
/// use futures::StreamExt;
/// use lpframe::{Deadlines, Error, FrameCodec, TimeoutKind, WithDeadlines};
/// use tokio::io::AsyncWriteExt;
/// use tokio_util::codec::Framed;
///
/// let ms = Duration::from_millis;
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let mut peer = tokio::net::TcpStream::connect(listener.local_addr()?).await?;
/// let (socket, _) = listener.accept().await?;
/// let deadlines = Deadlines::new().idle(ms(5_000)).stall(ms(100));
/// let mut framed = WithDeadlines::new(Framed::new(socket, FrameCodec::new()), deadlines);
///
/// let mut wire = Vec::new();
/// lpframe::write_frame(&mut wire, b"slow").unwrap();
/// peer.write_all(&wire[..3]).await?; // 3 bytes, then silence
/// match framed.next().await {
///     Some(Err(Error::Timeout(t))) => {
///         assert_eq!((t.kind, t.bytes), (TimeoutKind::Stall, 3));
///         assert!(t.elapsed >= ms(100) && t.elapsed < ms(200));
///     }
///     other => panic!("expected a stall timeout, got {other:?}"),
/// }
/// // Not fatal: extend, and the frame comes whole.
/// framed.set_deadlines(deadlines.stall(ms(5_000)));
/// peer.write_all(&wire[3..]).await?;
/// let frame = framed.next().await.unwrap()?.into_frame().unwrap();
/// assert_eq!(&frame[..], b"slow");
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct WithDeadlines<S> {
    inner: S,
    tracker: DeadlineTracker,
    /// Set after an item: the next poll starts a new wait.
    fresh: bool,
    /// The codec's bytes received, as of the last poll.
    received: u64,
    /// When the last poll that received bytes began.
    last_read: Instant,
    read_sleep: Pin<Box<Sleep>>,
    write: WriteClock,
    /// Bytes queued when the current write wait began.
    queued_at_start: usize,
    write_sleep: Pin<Box<Sleep>>,
}

/// One of a sink's `poll_*` methods.
type PollOp<S> = fn(Pin<&mut S>, &mut Context<'_>) -> Poll<Result<(), Error>>;

/// Now, on tokio's clock (which may be paused in tests).
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

impl<S> WithDeadlines<S> {
    /// Wraps `inner` with read deadlines (and no write deadline).
    pub fn new(inner: S, deadlines: Deadlines) -> Self {
        let t = now();
        let far = tokio::time::Instant::from_std(t);
        WithDeadlines {
            inner,
            tracker: DeadlineTracker::new(deadlines, t),
            fresh: true,
            received: 0,
            last_read: t,
            read_sleep: Box::pin(tokio::time::sleep_until(far)),
            write: WriteClock::new(None),
            queued_at_start: 0,
            write_sleep: Box::pin(tokio::time::sleep_until(far)),
        }
    }

    /// With a write deadline; see [`set_write_deadline`](Self::set_write_deadline).
    pub fn write_deadline(mut self, limit: Duration) -> Self {
        self.write.limit = Some(limit);
        self
    }

    /// Replaces the read deadlines: a frame in progress keeps its start, so
    /// a longer stall deadline extends it.
    pub fn set_deadlines(&mut self, deadlines: Deadlines) {
        self.tracker.set_deadlines(deadlines);
    }

    /// The read deadlines in use.
    pub fn deadlines(&self) -> Deadlines {
        self.tracker.deadlines()
    }

    /// Sets the write deadline (`None`: none).
    pub fn set_write_deadline(&mut self, limit: Option<Duration>) {
        self.write.limit = limit;
    }

    /// `true` when part of a frame has been received: a frame's first byte,
    /// including bytes buffered behind the last frame yielded.
    pub fn is_mid_frame(&self) -> bool {
        self.tracker.is_mid_frame()
    }

    /// The inner stream or sink.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner stream or sink, mutably (e.g. `codec_mut()`).
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner stream or sink.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, I> Stream for WithDeadlines<S>
where
    S: Stream<Item = Result<I, Error>> + ReadProgress + Unpin,
{
    type Item = Result<I, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let started = now();
        if std::mem::take(&mut this.fresh) && !this.tracker.is_mid_frame() {
            this.tracker.restart_idle(started);
        }
        let poll = Pin::new(&mut this.inner).poll_next(cx);
        let received = this.inner.received();
        if received > this.received {
            // Bytes arrived during this poll: stamped when it returns, as
            // the blocking reader stamps a read when it returns, so that a
            // frame's start is never placed before its first byte arrived
            // (a deadline is never early; late by the poll's duration at
            // most, microseconds).
            let read_at = now();
            this.tracker.received(received - this.received, read_at);
            this.received = received;
            this.last_read = read_at;
        }
        match poll {
            Poll::Ready(Some(item)) => {
                // FramedRead never reads while a complete frame is buffered,
                // so bytes left behind this item came with the last read.
                this.tracker
                    .frame_done(this.inner.buffered() as u64, this.last_read);
                this.fresh = true;
                Poll::Ready(Some(item))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => loop {
                if let Err(t) = this.tracker.check(now()) {
                    this.fresh = true;
                    this.inner.deadline_expired();
                    return Poll::Ready(Some(Err(Error::Timeout(t))));
                }
                let Some((_, at)) = this.tracker.next_deadline() else {
                    return Poll::Pending;
                };
                this.read_sleep
                    .as_mut()
                    .reset(tokio::time::Instant::from_std(at));
                ready!(this.read_sleep.as_mut().poll(cx));
            },
        }
    }
}

impl<S> WithDeadlines<S> {
    /// One write-side poll under the write deadline.
    fn poll_write_op<I>(&mut self, cx: &mut Context<'_>, op: PollOp<S>) -> Poll<Result<(), Error>>
    where
        S: Sink<I, Error = Error> + WriteProgress + Unpin,
    {
        if let Poll::Ready(r) = op(Pin::new(&mut self.inner), cx) {
            self.write.stop();
            return Poll::Ready(r);
        }
        if self.write.limit.is_none() {
            return Poll::Pending;
        }
        let queued = self.inner.queued();
        if self.write.deadline().is_none() {
            self.write.start(now());
            self.queued_at_start = queued;
        }
        self.write
            .set_written(self.queued_at_start.saturating_sub(queued) as u64);
        loop {
            if let Err(t) = self.write.check(now(), queued) {
                self.write.stop();
                self.inner.deadline_expired();
                return Poll::Ready(Err(Error::Timeout(t)));
            }
            let Some(at) = self.write.deadline() else {
                return Poll::Pending;
            };
            self.write_sleep
                .as_mut()
                .reset(tokio::time::Instant::from_std(at));
            ready!(self.write_sleep.as_mut().poll(cx));
        }
    }
}

/// The inner sink's, under the write deadline.
///
/// # Errors
/// The inner sink's, and [`Error::Timeout`] (kind `Write`, not fatal).
impl<S, I> Sink<I> for WithDeadlines<S>
where
    S: Sink<I, Error = Error> + WriteProgress + Unpin,
{
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut()
            .poll_write_op(cx, |s, cx| <S as Sink<I>>::poll_ready(s, cx))
    }

    fn start_send(self: Pin<&mut Self>, item: I) -> Result<(), Error> {
        Pin::new(&mut self.get_mut().inner).start_send(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut()
            .poll_write_op(cx, |s, cx| <S as Sink<I>>::poll_flush(s, cx))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut()
            .poll_write_op(cx, |s, cx| <S as Sink<I>>::poll_close(s, cx))
    }
}
