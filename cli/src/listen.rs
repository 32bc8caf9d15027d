//! `lpframe listen`: accept connections, a task each, and print the frames
//! they carry (and echo them with `--echo`).
//!
//! A client's failure (a reset, a damaged stream, a deadline) is logged
//! once with its address and ends that connection only. Each connection
//! holds at most one frame being received, one being printed and
//! [`ECHO_QUEUE`] bytes of echoes (it stops reading while they wait), and
//! the printer at most [`PRINT_BUDGET`] bytes for all of them.
//!
//! Deadlines (PROTOCOL.md section 6): `--idle-timeout` while waiting for
//! the first byte of a frame, `--stall-timeout` for a whole frame from its
//! first byte (so a peer that trickles a byte at a time is closed too),
//! `--write-timeout` for each echo from the moment it is queued (a peer
//! that does not read). After a fatal error or a deadline the connection is
//! closed in order: the echoes owed are sent, the sending side is shut
//! down (FIN), and what the peer still sends is read and discarded for up
//! to [`DRAIN`], so that it sees the end of the stream, not a reset.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use lpframe::{Config, DeadlineTracker, Deadlines, Frame, FrameDecoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, oneshot, watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{sleep_until, Instant};

use crate::common::{
    describe, frame_json, parse_secs, plural, secs, warn, Out, PayloadFormat, Secs,
};
use crate::{Fail, Status};

#[derive(clap::Args)]
pub struct Args {
    /// Address to bind, e.g. 127.0.0.1:7878 (port 0: any free port).
    addr: String,
    /// Send every frame back to its sender.
    #[arg(long)]
    echo: bool,
    /// Exit after this many frames, from all connections (0: at once).
    #[arg(long)]
    count: Option<u64>,
    /// Serve one connection, then exit when it closes.
    #[arg(long)]
    once: bool,
    /// Close a connection that sends no frame for this long (seconds; 0:
    /// never).
    #[arg(long, value_name = "SECS", default_value = "300", value_parser = parse_secs)]
    idle_timeout: Secs,
    /// Close a connection whose frame is still incomplete this long after
    /// its first byte, however slowly the bytes trickle in (seconds; 0:
    /// never).
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_secs)]
    stall_timeout: Secs,
    /// With --echo: close a connection that has not taken an echo this
    /// long after it was queued, i.e. a peer that does not read (seconds;
    /// 0: never).
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_secs)]
    write_timeout: Secs,
    /// Largest payload to accept, in bytes.
    #[arg(long, default_value_t = lpframe::DEFAULT_MAX_FRAME_LEN)]
    max_frame_len: u32,
    #[command(flatten)]
    out: PayloadFormat,
    /// JSON lines on standard output: first {"event":"listening","addr"},
    /// then per frame {"event":"frame","peer","offset" (null: not
    /// tracked),"length","payload_hex","text" (the payload if UTF-8, else
    /// null)}. Failures and the summary stay on standard error.
    #[arg(long, conflicts_with_all = ["lines", "hex"])]
    json: bool,
}

/// Echo bytes a connection queues before it stops reading its peer.
const ECHO_QUEUE: usize = 256 * 1024;
/// Payload bytes waiting to be printed, all connections together.
const PRINT_BUDGET: usize = 2 * 1024 * 1024;
/// The size of each read from a connection.
const READ_SIZE: usize = 16 * 1024;
/// After Ctrl-C, SIGTERM or --count: how long the connections have to send
/// what they owe and close.
const GRACE: Duration = Duration::from_secs(2);
/// How long a closing connection reads and discards what its peer still
/// sends after our FIN, waiting for the peer's end of stream.
const DRAIN: Duration = Duration::from_secs(1);

pub fn run(args: Args) -> Result<Status, Fail> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Fail::error(format!("cannot start the runtime: {e}")))?;
    let result = rt.block_on(serve(args));
    // A connection task still blocked is not waited for.
    rt.shutdown_timeout(Duration::from_millis(100));
    result
}

/// What the connections share.
struct Shared {
    echo: bool,
    count: Option<u64>,
    /// --idle-timeout and --stall-timeout.
    deadlines: Deadlines,
    write: Option<Duration>,
    config: Config,
    frames: AtomicU64,
    errors: AtomicU64,
    /// Payloads to print, in the order each connection received them.
    print: mpsc::UnboundedSender<Print>,
    /// Bounds the bytes queued in `print`.
    budget: Arc<Semaphore>,
    /// Notified when --count frames have been received.
    counted: Notify,
}

impl Shared {
    fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }
}

struct Print {
    peer: SocketAddr,
    payload: Bytes,
    _permit: OwnedSemaphorePermit,
}

/// What a payload waiting to be printed costs besides its bytes (its
/// queue entry), so that a flood of empty frames is bounded too.
const PRINT_OVERHEAD: usize = 64;

/// The permits a payload takes from [`PRINT_BUDGET`]: its length and the
/// overhead, at most all of them.
fn permits(len: usize) -> u32 {
    let cost = len.saturating_add(PRINT_OVERHEAD).min(PRINT_BUDGET);
    u32::try_from(cost).unwrap_or(u32::MAX)
}

/// Why the accept loop ended.
enum Ending {
    /// Ctrl-C, SIGTERM, --count or --once.
    Asked,
    /// The printer stopped: standard output closed or failed.
    Printer(Result<(), Fail>),
}

async fn serve(args: Args) -> Result<Status, Fail> {
    let listener = TcpListener::bind(&args.addr)
        .await
        .map_err(|e| Fail::error(format!("cannot listen on {}: {e}", args.addr)))?;
    let local = listener
        .local_addr()
        .map_err(|e| Fail::error(format!("{}: {e}", args.addr)))?;
    let mut out = Out::stdout()?;
    if args.json {
        out.line(serde_json::json!({"event": "listening", "addr": local.to_string()}))?;
    } else {
        out.line(format!("listening on {local}"))?;
    }
    out.flush()?;
    let summary = |connections: u64, frames: u64, errors: u64| {
        warn(format!(
            "listened on {local}: {}, {}, {}",
            plural(connections, "connection"),
            plural(frames, "frame"),
            plural(errors, "error")
        ));
        Status::from_errors(errors)
    };
    if args.count == Some(0) {
        return Ok(summary(0, 0, 0));
    }
    let signal_error = |e: std::io::Error| Fail::error(format!("cannot handle signals: {e}"));
    let mut sigint = signal(SignalKind::interrupt()).map_err(signal_error)?;
    let mut sigterm = signal(SignalKind::terminate()).map_err(signal_error)?;

    let (print_tx, print_rx) = mpsc::unbounded_channel();
    let (printed_tx, mut printed) = oneshot::channel();
    let (format, json) = (args.out, args.json);
    // A thread of its own: a blocked standard output never holds up the
    // runtime, and is not waited for at the end.
    std::thread::spawn(move || {
        let _ = printed_tx.send(print_loop(out, print_rx, format, json));
    });
    let shared = Arc::new(Shared {
        echo: args.echo,
        count: args.count,
        deadlines: Deadlines {
            idle: args.idle_timeout.0,
            stall: args.stall_timeout.0,
        },
        write: args.write_timeout.0,
        config: Config::new()
            .max_read_frame_len(args.max_frame_len)
            .max_write_frame_len(args.max_frame_len),
        frames: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        print: print_tx,
        budget: Arc::new(Semaphore::new(PRINT_BUDGET)),
        counted: Notify::new(),
    });
    let (stop_tx, stop_rx) = watch::channel(None);
    let mut tasks = JoinSet::new();
    let mut accepting = true;
    let mut connections = 0u64;
    let ending = loop {
        tokio::select! {
            r = listener.accept(), if accepting => match r {
                Ok((stream, peer)) => {
                    connections += 1;
                    let conn = Conn::new(peer, shared.clone(), stop_rx.clone());
                    tasks.spawn(conn.run(stream));
                    accepting = !args.once;
                }
                Err(e) => {
                    // A connection that failed before it was accepted, or
                    // no descriptor left: the listener goes on.
                    warn(format!("{local}: accept failed: {e}"));
                    shared.error();
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                if let Err(e) = done {
                    warn(format!("{local}: a connection task failed: {e}"));
                    shared.error();
                }
                if !accepting && tasks.is_empty() {
                    break Ending::Asked;
                }
            }
            _ = sigint.recv() => break Ending::Asked,
            _ = sigterm.recv() => break Ending::Asked,
            _ = shared.counted.notified() => break Ending::Asked,
            r = &mut printed => break Ending::Printer(r.unwrap_or(Ok(()))),
        }
    };
    drop(listener);
    let deadline = Instant::now() + GRACE;
    let printer_failed = matches!(ending, Ending::Printer(_));
    if !printer_failed {
        // Each connection sends what it owes and closes, by the deadline.
        let _ = stop_tx.send(Some(deadline));
        let hard = deadline + Duration::from_millis(250);
        while !tasks.is_empty() {
            tokio::select! {
                _ = tasks.join_next() => {}
                _ = sleep_until(hard) => break,
                // A second signal: do not wait.
                _ = sigint.recv() => break,
                _ = sigterm.recv() => break,
            }
        }
    }
    tasks.shutdown().await;
    let frames = shared.frames.load(Ordering::Relaxed);
    let errors = shared.errors.load(Ordering::Relaxed);
    // The last senders go: the printer writes what is queued and ends.
    drop(shared);
    let printed = match ending {
        Ending::Printer(r) => r,
        Ending::Asked => {
            let until = deadline.max(Instant::now() + Duration::from_millis(500));
            match tokio::time::timeout_at(until, printed).await {
                Ok(r) => r.unwrap_or(Ok(())),
                // Standard output is blocked: do not wait for it.
                Err(_) => Ok(()),
            }
        }
    };
    printed?;
    Ok(summary(connections, frames, errors))
}

/// Writes the payloads as they come, flushing whenever none is waiting.
fn print_loop(
    mut out: Out,
    mut rx: mpsc::UnboundedReceiver<Print>,
    format: PayloadFormat,
    json: bool,
) -> Result<(), Fail> {
    while let Some(p) = rx.blocking_recv() {
        if json {
            let peer = [("peer", p.peer.to_string().into())];
            out.line(frame_json("frame", None, &p.payload, &peer))?;
        } else {
            format.write(&mut out, &p.payload)?;
        }
        drop(p);
        if rx.is_empty() {
            out.flush()?;
        }
    }
    out.flush()
}

/// How the reading part of a connection ended.
enum End {
    /// Close in order: send the echoes owed, FIN, and (`drain`) read what
    /// the peer still sends for a while.
    Close { drain: bool },
    /// The connection is broken (reset, write error) or its peer does not
    /// read: just close.
    Abort,
}

/// One connection.
struct Conn {
    peer: SocketAddr,
    sh: Arc<Shared>,
    /// `Some(deadline)` once the listener is ending.
    stop: watch::Receiver<Option<Instant>>,
    stopping: Option<Instant>,
    decoder: FrameDecoder,
    inbuf: BytesMut,
    /// Echo bytes not yet sent.
    out: BytesMut,
    /// For each echo not yet fully sent: where it ends in the echo stream
    /// and when it was queued.
    owed: VecDeque<(u64, Instant)>,
    queued: u64,
    sent: u64,
    /// A payload received and not yet handed to the printer.
    pending: Option<Bytes>,
    /// The idle and stall deadlines (the library's clock logic).
    deadlines: DeadlineTracker,
    /// Set when frames were taken (delivered or dropped) since the last
    /// read: the bytes of the next frame read along with the last of them.
    /// The tracker is told when reading resumes, so that the time spent on
    /// our own backlog (printer, echo queue) is not charged to the peer.
    leftover: Option<usize>,
    /// Logged once, when the connection ends.
    failure: Option<String>,
}

impl Conn {
    fn new(peer: SocketAddr, sh: Arc<Shared>, stop: watch::Receiver<Option<Instant>>) -> Conn {
        let deadlines = DeadlineTracker::new(sh.deadlines, Instant::now().into_std());
        Conn {
            peer,
            decoder: FrameDecoder::with_config(sh.config),
            sh,
            stop,
            stopping: None,
            inbuf: BytesMut::new(),
            out: BytesMut::new(),
            owed: VecDeque::new(),
            queued: 0,
            sent: 0,
            pending: None,
            deadlines,
            leftover: None,
            failure: None,
        }
    }

    /// Records the connection's failure (the first one only: it is logged
    /// once).
    fn fail(&mut self, what: String) {
        self.failure.get_or_insert(what);
    }

    async fn run(mut self, mut stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        let (mut rd, mut wr) = stream.split();
        if let End::Close { drain } = self.serve(&mut rd, &mut wr).await {
            if self.finish(&mut wr).await {
                let _ = wr.shutdown().await;
                if drain {
                    self.drain(&mut rd).await;
                }
            }
        }
        if let Some(failure) = self.failure.take() {
            warn(format!("{}: {failure}", self.peer));
            self.sh.error();
        }
    }

    /// Reads, decodes, prints and echoes until the peer ends, fails, or
    /// the listener stops.
    async fn serve(&mut self, rd: &mut ReadHalf<'_>, wr: &mut WriteHalf<'_>) -> End {
        let mut need_input = false;
        let mut eof = false;
        loop {
            if self.stopping.is_some() {
                return End::Close { drain: !eof };
            }
            // Decode one frame at a time, each handed over (printer, echo
            // queue) before the next.
            while self.pending.is_none() && self.out.len() < ECHO_QUEUE && !need_input {
                let decoded = if eof {
                    self.decoder.decode_eof(&mut self.inbuf)
                } else {
                    self.decoder.decode(&mut self.inbuf)
                };
                match decoded {
                    Ok(Some(frame)) => {
                        self.leftover = Some(self.inbuf.len());
                        if !self.take(frame) {
                            return End::Close { drain: !eof };
                        }
                        self.hand_to_printer();
                    }
                    Ok(None) if eof => return End::Close { drain: false },
                    Ok(None) => need_input = true,
                    Err(e) if !e.is_fatal() => {
                        self.leftover = Some(self.inbuf.len());
                        warn(format!(
                            "{}: offset {}: {} (frame dropped)",
                            self.peer,
                            self.decoder.frame_offset(),
                            describe(&e)
                        ));
                        self.sh.error();
                    }
                    Err(e) => {
                        self.fail(format!(
                            "offset {}: {}",
                            self.decoder.frame_offset(),
                            describe(&e)
                        ));
                        return End::Close { drain: !eof };
                    }
                }
            }
            let now = Instant::now();
            let can_read = need_input && !eof && self.stopping.is_none();
            if can_read {
                // Reading resumes after the frames taken: the deadlines are
                // re-armed from now (our own backlog is not the peer's).
                if let Some(leftover) = self.leftover.take() {
                    self.deadlines.frame_done(leftover as u64, now.into_std());
                }
            }
            let mid_frame = self.deadlines.is_mid_frame();
            let read_deadline = if can_read {
                self.deadlines
                    .next_deadline()
                    .map(|(_, at)| Instant::from_std(at))
            } else {
                None
            };
            let write_deadline = self.write_deadline();
            let deadline = match (read_deadline, write_deadline) {
                (Some(r), Some(w)) => Some(r.min(w)),
                (r, w) => r.or(w),
            };
            let want = permits(self.pending.as_ref().map_or(0, Bytes::len));
            if can_read {
                self.inbuf.reserve(READ_SIZE);
            }
            tokio::select! {
                changed = self.stop.changed(), if self.stopping.is_none() => {
                    let deadline = match changed {
                        Ok(()) => *self.stop.borrow_and_update(),
                        Err(_) => None,
                    };
                    self.stopping = Some(deadline.unwrap_or(now));
                }
                permit = self.sh.budget.clone().acquire_many_owned(want),
                    if self.pending.is_some() =>
                {
                    match (permit, self.pending.take()) {
                        (Ok(permit), Some(payload)) => {
                            let _ = self.sh.print.send(Print {
                                peer: self.peer,
                                payload,
                                _permit: permit,
                            });
                        }
                        // The printer is gone: the listener is ending.
                        _ => return End::Abort,
                    }
                }
                r = rd.read_buf(&mut self.inbuf), if can_read => match r {
                    Ok(0) => {
                        eof = true;
                        need_input = false;
                    }
                    Ok(n) => {
                        need_input = false;
                        self.deadlines.received(n as u64, Instant::now().into_std());
                    }
                    Err(e) => {
                        self.fail(format!("receiving: {e}"));
                        return End::Abort;
                    }
                },
                r = wr.write_buf(&mut self.out), if !self.out.is_empty() => {
                    if let Err(e) = r.map(|n| self.sent_bytes(n)) {
                        self.fail(format!("sending echoes: {e}"));
                        return End::Abort;
                    }
                }
                _ = sleep_until(deadline.unwrap_or(now)), if deadline.is_some() => {
                    let now = Instant::now();
                    if write_deadline.is_some_and(|w| w <= now) {
                        self.fail_write();
                        return End::Abort;
                    }
                    if read_deadline.is_some_and(|r| r <= now) {
                        let limits = self.sh.deadlines;
                        let what = if mid_frame {
                            format!(
                                "the frame at offset {} is still incomplete {} after its first byte (--stall-timeout)",
                                self.decoder.frame_offset(),
                                secs(limits.stall.unwrap_or_default())
                            )
                        } else {
                            format!(
                                "no frame for {} (--idle-timeout)",
                                secs(limits.idle.unwrap_or_default())
                            )
                        };
                        self.fail(what);
                        return End::Close { drain: true };
                    }
                }
            }
        }
    }

    /// Counts, queues the echo of, and keeps for the printer a frame just
    /// received; `false` when --count frames were already received.
    fn take(&mut self, frame: Frame) -> bool {
        let frames = &self.sh.frames;
        match self.sh.count {
            None => {
                frames.fetch_add(1, Ordering::Relaxed);
            }
            Some(count) => {
                match frames.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                    (n < count).then_some(n + 1)
                }) {
                    Err(_) => return false,
                    Ok(n) if n + 1 == count => self.sh.counted.notify_one(),
                    Ok(_) => {}
                }
            }
        }
        let now = Instant::now();
        let payload = frame.into_payload();
        if self.sh.echo {
            let before = self.out.len();
            // The payload passed the same limit on the way in.
            if let Err(e) =
                lpframe::encode_frame(&payload, self.sh.config.max_write_frame_len, &mut self.out)
            {
                self.fail(format!("cannot echo: {e}"));
            }
            self.queued += (self.out.len() - before) as u64;
            self.owed.push_back((self.queued, now));
        }
        self.pending = Some(payload);
        true
    }

    /// Hands the pending payload to the printer if the budget allows it
    /// now (otherwise the main loop waits for it).
    fn hand_to_printer(&mut self) {
        let Some(payload) = &self.pending else {
            return;
        };
        if let Ok(permit) = self
            .sh
            .budget
            .clone()
            .try_acquire_many_owned(permits(payload.len()))
        {
            if let Some(payload) = self.pending.take() {
                let _ = self.sh.print.send(Print {
                    peer: self.peer,
                    payload,
                    _permit: permit,
                });
            }
        }
    }

    fn sent_bytes(&mut self, n: usize) {
        self.sent += n as u64;
        while self.owed.front().is_some_and(|&(end, _)| end <= self.sent) {
            self.owed.pop_front();
        }
    }

    /// When the oldest echo not yet sent must have been sent.
    fn write_deadline(&self) -> Option<Instant> {
        let (_, queued) = self.owed.front()?;
        self.sh.write.map(|d| *queued + d)
    }

    fn fail_write(&mut self) {
        let waited = secs(self.sh.write.unwrap_or_default());
        self.fail(format!(
            "not reading: an echo waited {waited} to be sent (--write-timeout); {} not sent",
            plural(self.out.len() as u64, "byte")
        ));
    }

    /// Prints the pending payload and sends the echoes owed, by their
    /// deadlines (and the listener's); `false` if the peer cannot take
    /// them.
    async fn finish(&mut self, wr: &mut WriteHalf<'_>) -> bool {
        if let Some(payload) = self.pending.take() {
            let permit = self
                .sh
                .budget
                .clone()
                .acquire_many_owned(permits(payload.len()));
            let permit = match self.stopping {
                Some(deadline) => tokio::time::timeout_at(deadline, permit).await.ok(),
                None => Some(permit.await),
            };
            if let Some(Ok(permit)) = permit {
                let _ = self.sh.print.send(Print {
                    peer: self.peer,
                    payload,
                    _permit: permit,
                });
            }
        }
        while !self.out.is_empty() {
            let deadline = match (self.write_deadline(), self.stopping) {
                (Some(w), Some(s)) => Some(w.min(s)),
                (w, s) => w.or(s),
            };
            let now = Instant::now();
            tokio::select! {
                r = wr.write_buf(&mut self.out) => {
                    if let Err(e) = r.map(|n| self.sent_bytes(n)) {
                        self.fail(format!("sending echoes: {e}"));
                        return false;
                    }
                }
                _ = sleep_until(deadline.unwrap_or(now)), if deadline.is_some() => {
                    self.fail_write();
                    return false;
                }
            }
        }
        true
    }

    /// Reads and discards what the peer still sends, until its end of
    /// stream or [`DRAIN`] (or the listener's deadline).
    async fn drain(&mut self, rd: &mut ReadHalf<'_>) {
        let mut until = Instant::now() + DRAIN;
        if let Some(stop) = self.stopping {
            until = until.min(stop);
        }
        let mut scratch = [0u8; 4096];
        loop {
            tokio::select! {
                r = rd.read(&mut scratch) => match r {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                },
                _ = sleep_until(until) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_payload_takes_a_bounded_share_of_the_print_budget() {
        // At most PRINT_BUDGET / 64 = 32,768 empty payloads wait.
        assert_eq!(permits(0), 64);
        assert_eq!(permits(5), 69);
        assert_eq!(permits(usize::MAX), PRINT_BUDGET as u32);
    }
}
