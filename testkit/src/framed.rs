//! The async path: `FrameCodec` under a real `FramedRead` on a
//! current-thread runtime, fed a [`Script`] by an `AsyncRead` that returns
//! `Pending` before every step, as a socket fed by a slow peer would.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::StreamExt;
use lpframe::{DecodeError, Error, Received};

use crate::Setup;
use tokio::io::{AsyncRead, ReadBuf};
use tokio_util::codec::FramedRead;

use crate::script::Step;
use crate::{Event, Script};

/// An `AsyncRead` that hands out `data` in reads of at most `chunk` bytes,
/// always ready: a fast peer whose bytes arrive in reads of one size (for
/// the codecs' buffer policy, and the benches that count its bytes).
pub struct Chunked {
    data: bytes::Bytes,
    chunk: usize,
}

impl Chunked {
    /// `data` in reads of at most `chunk` (at least 1) bytes.
    pub fn new(data: impl Into<bytes::Bytes>, chunk: usize) -> Self {
        Chunked {
            data: data.into(),
            chunk: chunk.max(1),
        }
    }
}

impl AsyncRead for Chunked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = self.chunk.min(buf.remaining()).min(self.data.len());
        let part = self.data.split_to(n);
        buf.put_slice(&part);
        Poll::Ready(Ok(()))
    }
}

/// An `AsyncRead` that plays a [`Script`], returning `Pending` before
/// every step, as a socket fed by a slow peer would.
pub struct ScriptAsync {
    script: Script,
    pending_next: bool,
    /// Extra `Pending`s (idle gaps) before the next steps, in order.
    gaps: std::collections::VecDeque<usize>,
    pending_left: usize,
}

impl ScriptAsync {
    /// Plays `script`.
    pub fn new(script: Script) -> Self {
        ScriptAsync::with_gaps(script, Vec::new())
    }

    /// Plays `script`, with `gaps[i]` more `Pending`s before step `i`.
    pub fn with_gaps(script: Script, gaps: Vec<usize>) -> Self {
        ScriptAsync {
            script,
            pending_next: true,
            gaps: gaps.into(),
            pending_left: 0,
        }
    }
}

impl AsyncRead for ScriptAsync {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.pending_next {
            self.pending_next = false;
            self.pending_left = self.gaps.pop_front().unwrap_or(0);
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if self.pending_left > 0 {
            self.pending_left -= 1;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.pending_next = true;
        match self.script.steps.front_mut() {
            None => Poll::Ready(Ok(())),
            Some(Step::Eof) => {
                self.script.steps.pop_front();
                Poll::Ready(Ok(()))
            }
            Some(Step::Fault(kind)) => {
                let kind = *kind;
                self.script.steps.pop_front();
                Poll::Ready(Err(kind.into()))
            }
            Some(Step::Data(data)) => {
                let n = data.len().min(buf.remaining());
                buf.put_slice(&data[..n]);
                data.drain(..n);
                if data.is_empty() {
                    self.script.steps.pop_front();
                }
                Poll::Ready(Ok(()))
            }
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

/// `FramedRead<_, FrameCodec>` over the script: frames and dropped
/// frames as items; an I/O error (injected) or a fatal error as `Err`,
/// after which `FramedRead` yields `None` once and is polled on; after
/// a clean `None` it is polled on while the script has steps left (a
/// source that grows).
pub fn via_framed(script: &Script, setup: impl Into<Setup>) -> Vec<Event> {
    via_framed_with_gaps(script, setup, Vec::new())
}

/// [`via_framed`] with `gaps[i]` more `Pending`s (idle gaps: the reader
/// polled with nothing new) before step `i` of the script.
pub fn via_framed_with_gaps(
    script: &Script,
    setup: impl Into<Setup>,
    gaps: Vec<usize>,
) -> Vec<Event> {
    let setup: Setup = setup.into();
    let polls: usize = gaps.iter().sum();
    runtime().block_on(async {
        let mut framed =
            FramedRead::new(ScriptAsync::with_gaps(script.clone(), gaps), setup.codec());
        let mut events = Vec::new();
        let mut fatal: Option<DecodeError> = None;
        let mut after_error = false;
        for _ in 0..4 * script.bytes().len() + 4 * script.steps.len() + polls + 16 {
            match framed.next().await {
                Some(Ok(Received::Frame(f))) => {
                    assert!(fatal.is_none(), "a frame after a fatal error");
                    events.push(Event::Frame(f.to_vec()));
                }
                Some(Ok(Received::Dropped(e))) => {
                    assert!(!e.is_fatal(), "a fatal error as an item: {e:?}");
                    events.push(Event::error(&e));
                }
                Some(Err(Error::Io(e))) => {
                    assert!(!Error::Io(e).is_fatal(), "an injected fault is fatal");
                    after_error = true;
                }
                Some(Err(Error::Decode(e))) => {
                    assert!(e.is_fatal(), "a non-fatal error as Err: {e:?}");
                    match &fatal {
                        Some(first) => {
                            assert_eq!(&e, first, "a failed codec changed its error");
                            return events;
                        }
                        None => {
                            events.push(Event::error(&e));
                            fatal = Some(e);
                        }
                    }
                    after_error = true;
                }
                Some(Err(other)) => panic!("unexpected {other:?}"),
                None if after_error => after_error = false,
                None if framed.get_ref().script.is_done() => return events,
                None => {}
            }
        }
        panic!("FramedRead did not finish the script");
    })
}
