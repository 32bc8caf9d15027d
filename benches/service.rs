//! tokio over loopback TCP (127.0.0.1, port 0), every implementation side
//! by side in one process, in rotating order:
//!
//! - `stream`: one sender `feed`s N frames of one size, then flushes; one
//!   receiver decodes them (64 B, 4 KiB, 64 KiB, 1 MiB, 8 MiB).
//! - `service`: an echo server and C clients, each doing sequential round
//!   trips of mixed sizes (as examples/load.rs: 50 % 32 B, 25 % 512 B,
//!   20 % 4 KiB, 5 % 64 KiB); the server answers every frame that has
//!   arrived, then flushes.
//!
//! Implementations: lpframe `FrameCodec` on both sides (`Framed*`); lpframe
//! `FrameSink` sending (large payloads not copied) with `FrameCodec`
//! receiving; tokio-util's `LengthDelimitedCodec` (LDC) plain; LDC with a
//! crc32fast of every payload on each side that sends or receives it.
//!
//! `cargo bench --bench service -- [stream|service] [REPS]` prints the
//! Markdown rows of BENCHMARKS.md: per cell the median of REPS runs (default
//! 7), the range, and the ratios of the medians. Every run is bounded: a
//! fixed number of frames, and a 60 s timeout around each.

use std::hint::black_box;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{FutureExt, SinkExt, StreamExt};
use lpframe::{FrameCodec, FrameSink};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::{FramedRead, FramedWrite, LengthDelimitedCodec};

#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    /// `FramedWrite<_, FrameCodec>` → `FramedRead<_, FrameCodec>`.
    Codec,
    /// `FrameSink` → `FramedRead<_, FrameCodec>`.
    Sink,
    /// `LengthDelimitedCodec`, no check.
    Ldc,
    /// `LengthDelimitedCodec` + crc32fast on every payload sent or received.
    LdcCrc,
    /// LDC's wire format, sent by an encoder that copies each payload in
    /// 2 KiB pieces (`one` mode 6 only): whether a copy below glibc's
    /// `rep movsb` threshold escapes the 4K-aliasing slow path.
    LdcChunked,
}

const MODES: [Mode; 4] = [Mode::Codec, Mode::Sink, Mode::Ldc, Mode::LdcCrc];

fn name(m: Mode) -> &'static str {
    match m {
        Mode::Codec => "lpframe FrameCodec",
        Mode::Sink => "lpframe FrameSink + FrameCodec",
        Mode::Ldc => "LDC",
        Mode::LdcCrc => "LDC + crc32fast",
        Mode::LdcChunked => "LDC wire, 2 KiB-piece copy",
    }
}

fn ldc() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .max_frame_length(16 << 20)
        .new_codec()
}

/// Every read and write of the benchmark's sockets, counted: how many
/// calls returned bytes, how many bytes, how many found nothing to do
/// (`Pending`: the task then waits for a wake-up).
static IO: [AtomicU64; 6] = [const { AtomicU64::new(0) }; 6];
/// (destination − source) mod 4096 of the sender's payload copy, + 1 (0:
/// no copy).
static COPY_DELTA: AtomicU64 = AtomicU64::new(0);
/// How many payload copies had (destination − source) mod 4096 < 32: the
/// 4K-aliasing window in which this machine's memmove ran ~10x slower.
static NEAR_COPIES: AtomicU64 = AtomicU64::new(0);
const READS: usize = 0;
const READ_BYTES: usize = 1;
const READ_PENDING: usize = 2;
const WRITES: usize = 3;
const WRITE_BYTES: usize = 4;
const WRITE_PENDING: usize = 5;

fn io_counts() -> [u64; 6] {
    std::array::from_fn(|i| IO[i].load(Ordering::Relaxed))
}

fn count(p: &Poll<std::io::Result<usize>>, done: usize, bytes: usize, pending: usize) {
    match p {
        Poll::Ready(Ok(n)) => {
            IO[done].fetch_add(1, Ordering::Relaxed);
            IO[bytes].fetch_add(*n as u64, Ordering::Relaxed);
        }
        Poll::Pending => {
            IO[pending].fetch_add(1, Ordering::Relaxed);
        }
        Poll::Ready(Err(_)) => {}
    }
}

/// A socket half whose reads and writes are counted in `IO`.
struct Counted<T>(T);

type R = Counted<tokio::net::tcp::OwnedReadHalf>;
type W = Counted<tokio::net::tcp::OwnedWriteHalf>;

impl<T: AsyncRead + Unpin> AsyncRead for Counted<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let p = Pin::new(&mut self.0).poll_read(cx, buf);
        let n = p.map(|r| r.map(|()| buf.filled().len() - before));
        count(&n, READS, READ_BYTES, READ_PENDING);
        n.map(|r| r.map(|_| ()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Counted<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let p = Pin::new(&mut self.0).poll_write(cx, buf);
        count(&p, WRITES, WRITE_BYTES, WRITE_PENDING);
        p
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let p = Pin::new(&mut self.0).poll_write_vectored(cx, bufs);
        count(&p, WRITES, WRITE_BYTES, WRITE_PENDING);
        p
    }
    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// Sends `items` on `stream` in `mode`, `feed` each then one flush.
/// Boxed per mode so the call sites stay small.
enum Tx {
    Codec(FramedWrite<W, FrameCodec>),
    Sink(FrameSink<W>),
    Ldc(FramedWrite<W, LengthDelimitedCodec>, bool),
    Chunked(FramedWrite<W, ChunkedLdc>),
}

/// LDC's framing (4-byte big-endian length), payload copied in 2 KiB
/// pieces.
struct ChunkedLdc;

impl tokio_util::codec::Encoder<Bytes> for ChunkedLdc {
    type Error = std::io::Error;

    fn encode(&mut self, item: Bytes, dst: &mut bytes::BytesMut) -> std::io::Result<()> {
        use bytes::BufMut;
        dst.reserve(4 + item.len());
        dst.put_u32(item.len() as u32);
        for piece in item.chunks(2048) {
            dst.extend_from_slice(piece);
        }
        Ok(())
    }
}

impl Tx {
    fn new(mode: Mode, w: tokio::net::tcp::OwnedWriteHalf) -> Tx {
        let w = Counted(w);
        match mode {
            Mode::Codec => Tx::Codec(FramedWrite::new(w, FrameCodec::new())),
            Mode::Sink => Tx::Sink(FrameSink::new(w)),
            Mode::Ldc => Tx::Ldc(FramedWrite::new(w, ldc()), false),
            Mode::LdcCrc => Tx::Ldc(FramedWrite::new(w, ldc()), true),
            Mode::LdcChunked => Tx::Chunked(FramedWrite::new(w, ChunkedLdc)),
        }
    }

    async fn feed(&mut self, p: Bytes) {
        match self {
            Tx::Codec(f) => f.feed(p).await.unwrap(),
            Tx::Sink(s) => s.feed(p).await.unwrap(),
            Tx::Chunked(f) => f.feed(p).await.unwrap(),
            Tx::Ldc(f, crc) => {
                if *crc {
                    black_box(crc32fast::hash(&p));
                }
                f.feed(p).await.unwrap()
            }
        }
    }

    /// Where the last payload copied into the write buffer ended (the end
    /// of the buffered bytes), for the sinks that copy.
    fn copy_dst(&self) -> Option<usize> {
        fn end(b: &bytes::BytesMut) -> usize {
            b.as_ptr() as usize + b.len()
        }
        match self {
            Tx::Codec(f) => Some(end(f.write_buffer())),
            Tx::Sink(_) => None,
            Tx::Ldc(f, _) => Some(end(f.write_buffer())),
            Tx::Chunked(f) => Some(end(f.write_buffer())),
        }
    }

    async fn flush(&mut self) {
        match self {
            Tx::Codec(f) => f.flush().await.unwrap(),
            Tx::Sink(s) => s.flush().await.unwrap(),
            Tx::Chunked(f) => f.flush().await.unwrap(),
            Tx::Ldc(f, _) => SinkExt::<Bytes>::flush(f).await.unwrap(), // LDC has several Encoder impls
        }
    }
}

enum Rx {
    Lpf(FramedRead<R, FrameCodec>),
    Ldc(FramedRead<R, LengthDelimitedCodec>, bool),
}

impl Rx {
    fn new(mode: Mode, r: tokio::net::tcp::OwnedReadHalf) -> Rx {
        let r = Counted(r);
        match mode {
            Mode::Codec | Mode::Sink => Rx::Lpf(FramedRead::new(r, FrameCodec::new())),
            Mode::Ldc | Mode::LdcChunked => Rx::Ldc(FramedRead::new(r, ldc()), false),
            Mode::LdcCrc => Rx::Ldc(FramedRead::new(r, ldc()), true),
        }
    }

    /// The next payload, `None` at the end of the stream.
    async fn next(&mut self) -> Option<Bytes> {
        match self {
            Rx::Lpf(f) => f
                .next()
                .await
                .map(|i| i.unwrap().into_frame().unwrap().into_payload()),
            Rx::Ldc(f, crc) => f.next().await.map(|i| {
                let p = i.unwrap().freeze();
                if *crc {
                    black_box(crc32fast::hash(&p));
                }
                p
            }),
        }
    }

    /// A payload that has already arrived, without waiting.
    fn next_ready(&mut self) -> Option<Bytes> {
        self.next().now_or_never().flatten()
    }
}

async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, server) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let (client, server) = (client.unwrap(), server.unwrap().0);
    client.set_nodelay(true).unwrap();
    server.set_nodelay(true).unwrap();
    (client, server)
}

/// A payload of `size` bytes that starts `offset % 4096` bytes into an
/// allocation of `size + 4096` bytes: the allocation (and so whatever the
/// allocator places after it, such as a write buffer) stays where it is,
/// and only the payload's address moves.
fn payload_at(size: usize, offset: usize) -> Bytes {
    let offset = offset % 4096;
    let v: Vec<u8> = (0..size + 4096).map(|i| (i * 131 + 7) as u8).collect();
    Bytes::from(v).slice(offset..offset + size)
}

/// One streaming run: frames per second.
async fn stream_run(mode: Mode, size: usize, n: usize) -> f64 {
    stream_run_at(mode, size, n, 0, false).await
}

/// Counters of this process (all its threads): CPU time, minor page
/// faults, context switches, read from /proc (Linux; zeros elsewhere).
#[derive(Clone, Copy, Default, Debug)]
struct Counters {
    cpu_ns: u64,
    minflt: u64,
    ctxsw: u64,
}

fn counters() -> Counters {
    let mut c = Counters::default();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return c;
    };
    for t in dir.flatten() {
        let path = t.path();
        if let Ok(s) = std::fs::read_to_string(path.join("schedstat")) {
            c.cpu_ns += s
                .split_whitespace()
                .next()
                .and_then(|x| x.parse::<u64>().ok())
                .unwrap_or(0);
        }
        if let Ok(s) = std::fs::read_to_string(path.join("status")) {
            for l in s.lines() {
                if l.starts_with("voluntary_ctxt_switches")
                    || l.starts_with("nonvoluntary_ctxt_switches")
                {
                    c.ctxsw += l
                        .split_whitespace()
                        .nth(1)
                        .and_then(|x| x.parse::<u64>().ok())
                        .unwrap_or(0);
                }
            }
        }
    }
    // Field 10 of /proc/self/stat: minor faults of the whole process
    // (after the command, which is in parentheses).
    if let Ok(s) = std::fs::read_to_string("/proc/self/stat") {
        if let Some(rest) = s.rsplit(')').next() {
            c.minflt = rest
                .split_whitespace()
                .nth(7)
                .and_then(|x| x.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    c
}

/// Raw loopback bytes, no framing: the sender writes `n` chunks of
/// `size` bytes with `write_all`, the receiver reads them into one reused
/// buffer of `rbuf` bytes. The ceiling of every streaming row.
async fn raw_run(size: usize, n: usize, offset: usize, spawn_sender: bool, rbuf: usize) -> f64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (client, server) = pair().await;
    let (r, _w) = server.into_split();
    let mut r = Counted(r);
    let total = size * n;
    let receiver = tokio::spawn(async move {
        let mut buf = vec![0u8; rbuf.max(1)];
        let mut got = 0;
        while got < total {
            let k = r.read(&mut buf).await.unwrap();
            if k == 0 {
                break;
            }
            black_box(&buf[..k]);
            got += k;
        }
        got
    });
    let (_r, w) = client.into_split();
    let mut w = Counted(w);
    let payload = payload_at(size, offset);
    let start = Instant::now();
    let send = async move {
        for _ in 0..n {
            w.write_all(&payload).await.unwrap();
        }
        w.flush().await.unwrap();
        w
    };
    let _w = if spawn_sender {
        tokio::spawn(send).await.unwrap()
    } else {
        send.await
    };
    assert_eq!(receiver.await.unwrap(), total);
    n as f64 / start.elapsed().as_secs_f64()
}

/// One streaming run with the payload `offset` bytes into its allocation;
/// `spawn_sender`: the sender is a spawned task too (else it runs in
/// `block_on`, on the main thread of a multi-thread runtime).
async fn stream_run_at(
    mode: Mode,
    size: usize,
    n: usize,
    offset: usize,
    spawn_sender: bool,
) -> f64 {
    let (client, server) = pair().await;
    let (r, _w) = server.into_split();
    let receiver = tokio::spawn(async move {
        let mut rx = Rx::new(mode, r);
        let mut count = 0;
        while let Some(p) = rx.next().await {
            assert_eq!(p.len(), size);
            black_box(p);
            count += 1;
            if count == n {
                break;
            }
        }
        count
    });
    let (_r, w) = client.into_split();
    let mut tx = Tx::new(mode, w);
    let payload = payload_at(size, offset);
    let start = Instant::now();
    let src = payload.as_ptr() as usize;
    let send = async move {
        for i in 0..n {
            tx.feed(payload.clone()).await;
            // Where this payload was copied to, relative to its source.
            if let Some(end) = tx.copy_dst() {
                let d = end.wrapping_sub(size).wrapping_sub(src) % 4096;
                if i == 1 {
                    COPY_DELTA.store(d as u64 + 1, Ordering::Relaxed);
                }
                if d < 32 {
                    NEAR_COPIES.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        tx.flush().await;
        tx
    };
    let _tx = if spawn_sender {
        tokio::spawn(send).await.unwrap()
    } else {
        send.await
    };
    assert_eq!(receiver.await.unwrap(), n);
    n as f64 / start.elapsed().as_secs_f64()
}

/// The mixed sizes of examples/load.rs.
fn mixed_size(i: usize, c: usize) -> usize {
    match (i * 7 + c) % 20 {
        0 => 64 * 1024,
        1..=4 => 4096,
        5..=9 => 512,
        _ => 32,
    }
}

/// The echo server's connection: answers every frame that has arrived,
/// then flushes once.
async fn echo(mode: Mode, s: TcpStream) {
    let (r, w) = s.into_split();
    let mut rx = Rx::new(mode, r);
    let mut tx = Tx::new(mode, w);
    while let Some(p) = rx.next().await {
        tx.feed(p).await;
        while let Some(p) = rx.next_ready() {
            tx.feed(p).await;
        }
        tx.flush().await;
    }
}

/// One service run: `clients` connections × `frames` sequential round
/// trips; round trips per second.
async fn service_run(mode: Mode, clients: usize, frames: usize) -> f64 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        for _ in 0..clients {
            let (s, _) = listener.accept().await.unwrap();
            s.set_nodelay(true).unwrap();
            conns.spawn(echo(mode, s));
        }
        while conns.join_next().await.is_some() {}
    });
    let payloads: Vec<Bytes> = [32, 512, 4096, 64 * 1024]
        .iter()
        .map(|&n| Bytes::from(vec![0x5Au8; n]))
        .collect();
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for c in 0..clients {
        let payloads = payloads.clone();
        set.spawn(async move {
            let s = TcpStream::connect(addr).await.unwrap();
            s.set_nodelay(true).unwrap();
            let (r, w) = s.into_split();
            let (mut rx, mut tx) = (Rx::new(mode, r), Tx::new(mode, w));
            for i in 0..frames {
                let size = mixed_size(i, c);
                let p = payloads
                    .iter()
                    .find(|p| p.len() == size)
                    .cloned()
                    .unwrap_or_default();
                tx.feed(p).await;
                tx.flush().await;
                let echo = rx.next().await.expect("an echo");
                assert_eq!(echo.len(), size);
            }
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
    let rate = (clients * frames) as f64 / start.elapsed().as_secs_f64();
    server.await.unwrap();
    rate
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Runs `cell(mode)` REPS times for every mode, rotating the order each
/// repetition; prints one Markdown row per mode: the median rate and its
/// range, and the ratios to LDC and to LDC + CRC as the median (and range)
/// of the ratios within each repetition — the four modes of a repetition
/// run back to back, so a slow spell of the shared machine that spans a
/// repetition cancels out of its ratios.
fn table<F: Fn(Mode) -> f64>(label: &str, reps: usize, cell: F) {
    let mut results: Vec<Vec<f64>> = vec![Vec::new(); MODES.len()];
    for rep in 0..reps {
        for k in 0..MODES.len() {
            let i = (rep + k) % MODES.len();
            results[i].push(cell(MODES[i]));
        }
    }
    let ratios = |i: usize, base: usize| -> (f64, f64, f64) {
        let mut r: Vec<f64> = (0..reps)
            .map(|rep| results[i][rep] / results[base][rep])
            .collect();
        let m = median(&mut r);
        (m, r[0], r[r.len() - 1])
    };
    for (i, mode) in MODES.iter().enumerate() {
        let (plain, crc) = (ratios(i, 2), ratios(i, 3));
        let mut v = results[i].clone();
        let med = median(&mut v);
        println!(
            "| {label} | {} | {med:.0} | {:.0}–{:.0} | {:.2}× ({:.2}–{:.2}) | {:.2}× ({:.2}–{:.2}) |",
            name(*mode),
            v[0],
            v[v.len() - 1],
            plain.0,
            plain.1,
            plain.2,
            crc.0,
            crc.1,
            crc.2
        );
    }
}

/// The runtime of a run: `multi` (2 workers; the streaming sender runs in
/// `block_on` on the main thread, as the `stream` table does), `spawn` (2
/// workers, the sender spawned too), `current` (one thread for both ends).
fn runtime(kind: &str) -> tokio::runtime::Runtime {
    let mut b = if kind == "current" {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(2);
        b
    };
    b.enable_all().build().unwrap()
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let what = args.first().map(String::as_str).unwrap_or("stream");
    let reps: usize = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(7).max(1);
    let arg = |i: usize| args.get(i).and_then(|a| a.parse::<usize>().ok());
    // `one` and `one-service` take the runtime as their last argument.
    let rt_kind = match what {
        "one" => args.get(5).map(String::as_str).unwrap_or("multi"),
        "one-service" => args.get(2).map(String::as_str).unwrap_or("multi"),
        _ => "multi",
    };
    let rt = runtime(rt_kind);
    let spawn_sender = rt_kind == "spawn";
    // LPFRAME_BENCH_COUNTERS=1: every run of a table prints its counters
    // (CPU time of all threads, minor faults, context switches) to stderr.
    let verbose = std::env::var_os("LPFRAME_BENCH_COUNTERS").is_some();
    let bounded = |f: std::pin::Pin<Box<dyn std::future::Future<Output = f64>>>| {
        let io_before = io_counts();
        let before = counters();
        let rate = rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(60), f)
                .await
                .expect("a run took over 60 s")
        });
        let after = counters();
        let io_after = io_counts();
        let io: [u64; 6] = std::array::from_fn(|i| io_after[i] - io_before[i]);
        if verbose {
            eprintln!(
                "run rate={rate:.0} cpu_ms={:.1} minflt={} ctxsw={} reads={} read_pending={} writes={} write_pending={}",
                (after.cpu_ns - before.cpu_ns) as f64 / 1e6,
                after.minflt - before.minflt,
                after.ctxsw - before.ctxsw,
                io[READS],
                io[READ_PENDING],
                io[WRITES],
                io[WRITE_PENDING]
            );
        }
        (rate, before, after, io)
    };
    match what {
        "stream" | "service" => {
            println!("| cell | implementation | per second (median) | range | ratio to LDC | ratio to LDC + CRC |");
            println!("|---|---|---|---|---|---|");
        }
        _ => {}
    }
    match what {
        "stream" => {
            for (size, n) in [
                (64, 2_000_000),
                (4096, 100_000),
                (64 << 10, 8_000),
                (1 << 20, 512),
                (8 << 20, 64),
            ] {
                let label = format!("stream {size} B × {n}");
                table(&label, reps, |m| {
                    bounded(Box::pin(stream_run(m, size, n))).0
                });
            }
        }
        "service" => {
            let (clients, frames) = (64, 1000);
            let label = format!("service {clients} clients × {frames} round trips");
            table(&label, reps, |m| {
                bounded(Box::pin(service_run(m, clients, frames))).0
            });
        }
        // One cell in this process, for benches/stream.sh, profiles and
        // syscall counts: `one MODE SIZE N [OFFSET [RUNTIME]]`, MODE 0..=3
        // as MODES, 4 = raw loopback bytes (no framing) read 64 KiB at a
        // time, 5 = the same read in chunk-sized reads, 6 = LDC's wire sent
        // with the payload copied in 2 KiB pieces; OFFSET: where the
        // payload starts in its allocation (default 0); RUNTIME: multi
        // (default), spawn or current (see `runtime`). Prints one line of
        // key=value pairs: the timed section's wall time, CPU time of all
        // threads (both ends), minor faults and context switches.
        "one" => {
            let (Some(m), Some(size), Some(n)) = (arg(1), arg(2), arg(3)) else {
                eprintln!("one MODE SIZE N [OFFSET [multi|spawn|current]]");
                return;
            };
            let offset = arg(4).unwrap_or(0);
            let (rate, name_of) = if m == 6 {
                let r = bounded(Box::pin(stream_run_at(
                    Mode::LdcChunked,
                    size,
                    n,
                    offset,
                    spawn_sender,
                )));
                (r, name(Mode::LdcChunked))
            } else if m >= MODES.len() {
                // 4: reads of at most 64 KiB (as a reader with a 64 KiB
                // buffer); 5: reads of up to the chunk size.
                let (rbuf, label) = if m == MODES.len() {
                    (size.min(64 << 10), "raw")
                } else {
                    (size, "raw, chunk-sized reads")
                };
                let r = bounded(Box::pin(raw_run(size, n, offset, spawn_sender, rbuf)));
                (r, label)
            } else {
                let mode = MODES[m];
                let r = bounded(Box::pin(stream_run_at(mode, size, n, offset, spawn_sender)));
                (r, name(mode))
            };
            report(
                &format!("stream size={size} n={n} offset={offset}"),
                name_of,
                rt_kind,
                rate,
                n as f64 * size as f64,
            );
        }
        // `one-service MODE [RUNTIME]`: one service run.
        "one-service" => {
            let mode = MODES[arg(1).unwrap_or(0).min(MODES.len() - 1)];
            let r = bounded(Box::pin(service_run(mode, 64, 1000)));
            report("service clients=64 n=64000", name(mode), rt_kind, r, 0.0);
        }
        other => eprintln!("unknown {other:?}: stream, service, one or one-service"),
    }
}

/// The line `one` and `one-service` print (parsed by benches/stream.sh).
fn report(
    cell: &str,
    imp: &str,
    rt: &str,
    r: (f64, Counters, Counters, [u64; 6]),
    payload_bytes: f64,
) {
    let (rate, b, a, io) = r;
    let cpu_ns = a.cpu_ns - b.cpu_ns;
    let cpu_ms_per_gb = if payload_bytes > 0.0 {
        cpu_ns as f64 / 1e6 / (payload_bytes / 1e9)
    } else {
        0.0
    };
    println!(
        "RESULT {cell} impl={:?} rt={rt} rate={rate:.1} cpu_ms={:.2} cpu_ms_per_gb={cpu_ms_per_gb:.1} minflt={} ctxsw={} reads={} read_bytes={} read_pending={} writes={} write_bytes={} write_pending={} copy_delta={} near_copies={}",
        imp,
        cpu_ns as f64 / 1e6,
        a.minflt - b.minflt,
        a.ctxsw - b.ctxsw,
        io[READS],
        io[READ_BYTES],
        io[READ_PENDING],
        io[WRITES],
        io[WRITE_BYTES],
        io[WRITE_PENDING],
        COPY_DELTA.load(Ordering::Relaxed) as i64 - 1,
        NEAR_COPIES.load(Ordering::Relaxed)
    );
}
