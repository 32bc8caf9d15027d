//! The reference echo server: the full LPF echo server the tests, the load
//! example and the Python interop tests run (`cargo run -p lpframe-testkit
//! --example reference_server`), and the client demo they drive it with.
//!
//! The server runs one task per connection under the library's deadlines
//! ([`WithDeadlines`], no timing code of its own), re-armed for every
//! frame: an *idle* deadline while the peer is between frames, a *stall*
//! deadline for a whole frame from its first byte (a trickler is cut when
//! it passes), and a *write* deadline for a peer that stops reading its
//! replies. It answers every frame
//! that has arrived before it waits for more (replies to frames that came
//! in one read go out in one write). Corrupt frames whose header was intact
//! are reported and skipped; any fatal error closes the connection in an
//! orderly way (owed replies sent, then FIN, then the peer's unread bytes
//! drained so that the close is not a reset). On Ctrl-C (or the shutdown
//! future in tests) it stops accepting, lets every connection finish the
//! frames it has in flight, and closes; connections still busy after a
//! grace period (a peer that does not read) are dropped.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{FutureExt, SinkExt, StreamExt};
use lpframe::{Config, Deadlines, Error, Frame, FrameCodec, Received, TimeoutKind, WithDeadlines};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::timeout;
use tokio_util::codec::Framed;

/// After a shutdown request, a connection closes once nothing has arrived
/// for this long (frames in flight are answered first); and a closing
/// connection drains its peer's unread bytes for at most this long.
pub const DRAIN: Duration = Duration::from_millis(250);

/// After a shutdown request, connections still open after this long are
/// dropped: shutdown never waits on a peer that does not read.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Server settings.
#[derive(Debug, Clone, Copy)]
pub struct ServerOptions {
    /// Longest wait for the first byte of the next frame.
    pub idle_timeout: Duration,
    /// Longest time for a frame to arrive once its first byte has: a
    /// deadline for the whole frame (PROTOCOL.md section 6).
    pub stall_timeout: Duration,
    /// Longest wait for the peer to take a reply (a peer whose receive
    /// window stays full is not reading).
    pub write_timeout: Duration,
    /// Limits for the connections.
    pub config: Config,
    /// Print one line per event.
    pub verbose: bool,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            idle_timeout: Duration::from_secs(30),
            stall_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(10),
            config: Config::default(),
            verbose: true,
        }
    }
}

/// Counters the server keeps, for tests and the final summary.
#[derive(Debug, Default)]
pub struct ServerStats {
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Frames echoed.
    pub frames_echoed: AtomicU64,
    /// Frames dropped for a bad payload CRC.
    pub corrupt_frames: AtomicU64,
    /// Connections closed by a protocol error.
    pub protocol_errors: AtomicU64,
    /// Connections closed by the idle, stall or write timeout.
    pub timeouts: AtomicU64,
    /// The latest a deadline was reported past its limit, in µs of the
    /// server's clock (`Timeout::elapsed - limit`): the deadlines'
    /// precision under load.
    pub timeout_late_max_us: AtomicU64,
}

impl ServerStats {
    fn timed_out(&self, t: &lpframe::Timeout) {
        let late = t.elapsed.saturating_sub(t.limit).as_micros();
        self.timeout_late_max_us
            .fetch_max(u64::try_from(late).unwrap_or(u64::MAX), Ordering::Relaxed);
    }
}

/// Why a connection ended.
#[derive(Debug)]
pub enum ConnEnd {
    /// The peer closed on a frame boundary (its replies were sent first).
    Clean,
    /// Shutdown was requested; frames in flight were answered first.
    Shutdown,
    /// No new frame within the idle timeout.
    Idle,
    /// A frame started and did not finish within the stall timeout.
    Stalled,
    /// The peer did not take a reply within the write timeout.
    WriteTimeout,
    /// A fatal error.
    Error(Error),
}

/// A server running in the background on 127.0.0.1 (port 0), for the demo,
/// the tests and the load example.
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its counters.
    pub stats: Arc<ServerStats>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Binds 127.0.0.1:0 (with a listen backlog of 4,096: tokio's default
    /// of 1,024 overflows when a thousand clients connect at once, and the
    /// kernel then resets connections) and serves until [`Running::stop`].
    pub async fn start(opts: ServerOptions) -> std::io::Result<Running> {
        let listener = bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let addr = listener.local_addr()?;
        let stats = Arc::new(ServerStats::default());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, opts, Arc::clone(&stats), async {
            let _ = stopped.await;
        }));
        Ok(Running {
            addr,
            stats,
            stop,
            task,
        })
    }

    /// Requests a graceful shutdown and waits for it to finish.
    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.stop.send(());
        self.task.await.map_err(std::io::Error::other)?
    }
}

/// Binds `addr` with a listen backlog of 4,096 (tokio's default, 1,024,
/// overflows when a thousand clients connect at once).
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

/// Accepts connections on `listener` until `shutdown` completes, then stops
/// accepting, lets every connection finish what it has in flight, and
/// drops the connections still open after [`SHUTDOWN_GRACE`].
pub async fn serve(
    listener: TcpListener,
    opts: ServerOptions,
    stats: Arc<ServerStats>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut conns = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // A client that reset before being accepted, or
                        // EMFILE: log, back off briefly, keep serving.
                        eprintln!("[server] accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                stats.connections.fetch_add(1, Ordering::Relaxed);
                let stats = Arc::clone(&stats);
                let stop = stop_rx.clone();
                conns.spawn(async move {
                    let end = handle(stream, opts, &stats, stop).await;
                    if opts.verbose {
                        println!("[server] {peer}: connection ended: {}", describe(&end));
                    }
                    end
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let finished = timeout(SHUTDOWN_GRACE, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if finished.is_err() {
        if opts.verbose {
            println!(
                "[server] dropping {} connection(s) still open after {SHUTDOWN_GRACE:?}",
                conns.len()
            );
        }
        conns.shutdown().await;
    }
    Ok(())
}

fn describe(end: &ConnEnd) -> String {
    match end {
        ConnEnd::Clean => "peer closed cleanly".into(),
        ConnEnd::Shutdown => "server shutting down".into(),
        ConnEnd::Idle => "idle timeout".into(),
        ConnEnd::Stalled => "stall timeout inside a frame".into(),
        ConnEnd::WriteTimeout => "write timeout: the peer is not reading".into(),
        ConnEnd::Error(e) => format!("error: {e}"),
    }
}

type Conn = WithDeadlines<Framed<TcpStream, FrameCodec>>;

/// What waiting for the next item gave.
enum Next {
    Item(Result<Received, Error>),
    End(ConnEnd),
}

/// Serves one connection: echo every frame, with the library's deadlines
/// ([`WithDeadlines`]): idle and stall re-armed per frame, a write deadline
/// on every wait for the peer to take replies.
pub async fn handle(
    stream: TcpStream,
    opts: ServerOptions,
    stats: &ServerStats,
    mut stop: watch::Receiver<bool>,
) -> ConnEnd {
    let _ = stream.set_nodelay(true);
    let deadlines = Deadlines::new()
        .idle(opts.idle_timeout)
        .stall(opts.stall_timeout);
    let framed = Framed::new(stream, FrameCodec::with_config(opts.config));
    let mut framed = WithDeadlines::new(framed, deadlines).write_deadline(opts.write_timeout);
    loop {
        let mut item = match next_item(&mut framed, stats, &opts, &mut stop).await {
            Next::Item(item) => item,
            Next::End(end) => return close(framed, stats, end).await,
        };
        // Answer this item and every one that has already arrived, then
        // flush once: a pipelining peer gets its replies batched, and no
        // reply waits on bytes the peer has not sent.
        loop {
            match item {
                Ok(Received::Frame(frame)) => {
                    if let Err(e) = framed.feed(frame.into()).await {
                        return write_failed(stats, e);
                    }
                    stats.frames_echoed.fetch_add(1, Ordering::Relaxed);
                }
                Ok(Received::Dropped(dropped)) => {
                    stats.corrupt_frames.fetch_add(1, Ordering::Relaxed);
                    if opts.verbose {
                        println!("[server] dropped a frame, connection stays up: {dropped}");
                    }
                }
                Err(e) => {
                    let stopping = *stop.borrow();
                    return close(framed, stats, read_failed(stats, e, stopping)).await;
                }
            }
            match framed.next().now_or_never() {
                Some(Some(next)) => item = next,
                Some(None) => return close(framed, stats, ConnEnd::Clean).await,
                None => break,
            }
        }
        if let Err(e) = framed.flush().await {
            return write_failed(stats, e);
        }
    }
}

/// A reading error: a deadline (not fatal, but the server closes on it)
/// or a fatal error.
fn read_failed(stats: &ServerStats, e: Error, stopping: bool) -> ConnEnd {
    if let Error::Timeout(t) = &e {
        stats.timed_out(t);
    }
    match e {
        Error::Timeout(t) => match t.kind {
            TimeoutKind::Idle if stopping => ConnEnd::Shutdown,
            TimeoutKind::Idle => ConnEnd::Idle,
            TimeoutKind::Stall => ConnEnd::Stalled,
            TimeoutKind::Write => ConnEnd::WriteTimeout,
        },
        e => ConnEnd::Error(e),
    }
}

/// A write error: the write deadline (the peer does not read) or a broken
/// connection.
fn write_failed(stats: &ServerStats, e: Error) -> ConnEnd {
    match e {
        Error::Timeout(t) => {
            stats.timed_out(&t);
            stats.timeouts.fetch_add(1, Ordering::Relaxed);
            ConnEnd::WriteTimeout
        }
        e => ConnEnd::Error(e),
    }
}

/// Waits for the next item under the connection's deadlines. Once shutdown
/// is requested, the idle deadline drops to [`DRAIN`] (counted from the
/// start of the wait, as before): frames already sent by the peer (in
/// flight) are still read and answered.
async fn next_item(
    framed: &mut Conn,
    stats: &ServerStats,
    opts: &ServerOptions,
    stop: &mut watch::Receiver<bool>,
) -> Next {
    loop {
        let stopping = *stop.borrow();
        if stopping {
            let deadlines = framed.deadlines();
            framed.set_deadlines(deadlines.idle(opts.idle_timeout.min(DRAIN)));
        }
        let next = tokio::select! {
            _ = stop.changed(), if !stopping => continue,
            next = framed.next() => next,
        };
        return match next {
            Some(Err(e)) => Next::End(read_failed(stats, e, stopping)),
            Some(item) => Next::Item(item),
            None => Next::End(ConnEnd::Clean),
        };
    }
}

/// Ends a connection in an orderly way (PROTOCOL.md section 4): the replies
/// owed are sent (within the write deadline), then FIN, then the peer's
/// unread bytes are drained for at most [`DRAIN`] so that closing does not
/// turn into a reset.
async fn close(mut framed: Conn, stats: &ServerStats, end: ConnEnd) -> ConnEnd {
    match &end {
        ConnEnd::Idle | ConnEnd::Stalled => {
            stats.timeouts.fetch_add(1, Ordering::Relaxed);
        }
        ConnEnd::Error(_) => {
            stats.protocol_errors.fetch_add(1, Ordering::Relaxed);
        }
        _ => {}
    }
    if framed.flush().await.is_err() {
        return end;
    }
    let stream = framed.get_mut().get_mut();
    if timeout(DRAIN, stream.shutdown()).await.is_err() {
        return end;
    }
    let _ = timeout(DRAIN, async {
        let mut sink = [0u8; 4096];
        while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
    end
}

/// The client demo: a few frames, a corrupted one, more frames, then a
/// foreign-protocol connection.
pub async fn client_demo(addr: SocketAddr) -> Result<(), Error> {
    let stream = TcpStream::connect(addr).await?;
    let mut framed = Framed::new(stream, FrameCodec::new());
    for msg in ["hello", "", "lpframe checks every byte"] {
        framed.send(Bytes::from(msg)).await?;
        let echo = recv(&mut framed).await?;
        println!(
            "[client] sent {:?}, got back {:?}",
            msg,
            String::from_utf8_lossy(echo.payload())
        );
    }

    // Frames up to 1 MiB come back byte for byte.
    let sizes = [0usize, 1, 100, 16 * 1024, 64 * 1024, 1024 * 1024];
    for &size in &sizes {
        let payload: Bytes = (0..size)
            .map(|i| (i % 251) as u8)
            .collect::<Vec<u8>>()
            .into();
        framed.send(payload.clone()).await?;
        let echo = recv(&mut framed).await?;
        if echo.payload() != &payload {
            return Err(Error::Io(std::io::Error::other(format!(
                "echo of {size} bytes differs"
            ))));
        }
    }
    println!("[client] frames of {sizes:?} bytes came back unchanged");

    // Corrupt one payload bit "in transit": the server drops that frame only.
    let mut wire = Vec::new();
    lpframe::write_frame(&mut wire, b"this frame gets corrupted")?;
    if let Some(b) = wire.last_mut() {
        *b ^= 0x20;
    }
    println!("[client] sending a frame with one flipped payload bit");
    framed.get_mut().write_all(&wire).await?;
    // PROTOCOL.md section 4 lets a receiver skip the frame (lpframe does) or
    // close the connection: either is a conforming answer.
    let sent = framed.send(Bytes::from_static(b"still connected?")).await;
    match (sent, framed.next().await) {
        (Ok(()), Some(Ok(Received::Frame(echo)))) => println!(
            "[client] got back {:?}: the corrupt frame cost one frame, not the connection",
            String::from_utf8_lossy(echo.payload())
        ),
        (_, None) | (Err(Error::Io(_)), _) | (_, Some(Err(Error::Io(_)))) => println!(
            "[client] the server closed the connection after the corrupt frame \
             (PROTOCOL.md allows a receiver to close instead of skipping)"
        ),
        (Err(e), _) | (_, Some(Err(e))) => return Err(e),
        (_, Some(Ok(Received::Dropped(dropped)))) => return Err(Error::Decode(dropped)),
    }
    drop(framed);

    // A client speaking the wrong protocol is refused at once.
    let mut http = TcpStream::connect(addr).await?;
    println!("[client] a second connection sends an HTTP request instead of frames");
    http.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await?;
    let mut sink = Vec::new();
    let _ = tokio::io::AsyncReadExt::read_to_end(&mut http, &mut sink).await;
    println!("[client] the server closed that connection");
    Ok(())
}

/// The next echo: a verified frame, or an error (a dropped frame is one
/// too, here: the client sent nothing corrupt).
async fn recv(framed: &mut Framed<TcpStream, FrameCodec>) -> Result<Frame, Error> {
    match framed.next().await {
        Some(Ok(Received::Frame(frame))) => Ok(frame),
        Some(Ok(Received::Dropped(dropped))) => Err(Error::Decode(dropped)),
        Some(Err(e)) => Err(e),
        None => Err(Error::Io(std::io::ErrorKind::UnexpectedEof.into())),
    }
}
