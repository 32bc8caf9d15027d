//! Streaming, measured: `inspect`, `encode` and `send` over 256 MiB of
//! input and over an endless input cut after a few seconds, with the
//! child's peak resident memory (VmHWM, /proc) under 16 MiB plus the frame
//! limit; output that appears while the input is still open; `send`
//! reading replies while it sends; `--timeout`.
//!
//! Inputs are generated here and piped, never written to files. The frame
//! limit is 1 MiB in the memory tests, so that the bound means something.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{ChildStdin, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use common::{bin, frames, listen, spawn, wait_for, PeakRss, Pipe, Proc, MIB, STEP};

/// The frame limit of the memory tests.
const FRAME: u64 = MIB;
const FRAME_ARG: &str = "1048576";
/// The bound every streaming command must stay under.
const BOUND: u64 = 16 * MIB + FRAME;
/// "≥ 256 MB of input".
const BIG: u64 = 256 * MIB;
/// How long an endless input runs before it is cut.
const ENDLESS: Duration = Duration::from_secs(3);

/// Writes `block` to `stdin` on a thread until `total` bytes or `time`
/// have passed, or the child stops reading and exits; the receiver gets
/// the bytes written and the pipe (still open: the caller closes it).
fn feeder(
    mut stdin: ChildStdin,
    block: Vec<u8>,
    total: u64,
    time: Duration,
) -> mpsc::Receiver<(u64, ChildStdin)> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let start = Instant::now();
        let mut written = 0u64;
        while written < total && start.elapsed() < time {
            if stdin.write_all(&block).is_err() {
                break;
            }
            written += block.len() as u64;
        }
        let _ = tx.send((written, stdin));
    });
    rx
}

/// Waits for a [`feeder`] (at most `time` and a step more).
fn fed(rx: &mpsc::Receiver<(u64, ChildStdin)>, time: Duration) -> (u64, ChildStdin) {
    rx.recv_timeout(time + STEP)
        .expect("the child stopped reading its input")
}

/// A measured run: peak RSS, bytes fed, output, exit code.
struct Measured {
    peak: u64,
    fed: u64,
    stdout: Vec<u8>,
    stderr: String,
    code: Option<i32>,
    /// Bytes the child had written to stdout when its input was closed.
    out_before_close: u64,
}

/// Runs `lpframe ARGS`, feeding `block` up to `total` bytes or for `time`,
/// and measures its peak RSS before closing its input.
fn measure(args: &[&str], block: &[u8], total: u64, time: Duration) -> Measured {
    let mut child = spawn(args);
    let peak = PeakRss::watch(child.id());
    let mut stdout = child.stdout.take().unwrap();
    let counted = Arc::new(AtomicU64::new(0));
    let count = counted.clone();
    let (kept_tx, kept) = mpsc::channel();
    thread::spawn(move || {
        // Keeps the first 1 MiB and counts the rest.
        let mut first = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            count.fetch_add(n as u64, Ordering::Relaxed);
            if first.len() < MIB as usize {
                first.extend_from_slice(&buf[..n]);
            }
        }
        let _ = kept_tx.send(first);
    });
    let stderr = Pipe::new(child.stderr.take().unwrap());
    let input = feeder(child.stdin.take().unwrap(), block.to_vec(), total, time);
    let (fed, stdin) = fed(&input, time);
    // The child is still running, waiting for the rest of its input.
    thread::sleep(Duration::from_millis(100));
    let out_before_close = counted.load(Ordering::Relaxed);
    let peak = peak.finish();
    drop(stdin);
    let status = wait_for(&mut child, STEP, args);
    Measured {
        peak,
        fed,
        stdout: kept.recv_timeout(STEP).unwrap(),
        stderr: stderr.rest_text(STEP),
        code: status.code(),
        out_before_close,
    }
}

fn report(what: &str, m: &Measured, started: Instant) {
    eprintln!(
        "{what}: {} MiB in, peak RSS {:.1} MiB (bound {} MiB), {:.1} s",
        m.fed / MIB,
        m.peak as f64 / MIB as f64,
        BOUND / MIB,
        started.elapsed().as_secs_f64()
    );
    assert!(
        m.peak < BOUND,
        "{what}: peak RSS {} bytes over the bound {BOUND}",
        m.peak
    );
}

/// 256 lines of 4 KiB (4,095 bytes and a newline): 1 MiB.
fn line_block() -> Vec<u8> {
    let mut line = vec![b'x'; 4095];
    line.push(b'\n');
    line.repeat(256)
}

#[test]
fn inspect_256_mib_in_bounded_memory() {
    let started = Instant::now();
    // 1 MiB payloads: the largest the limit allows.
    let block = frames(&vec![0x5a; FRAME as usize], 1);
    let m = measure(
        &["inspect", "--max-frame-len", FRAME_ARG],
        &block,
        BIG,
        Duration::from_secs(120),
    );
    report("inspect, 256 MiB", &m, started);
    assert_eq!(m.fed, BIG / FRAME * block.len() as u64);
    assert_eq!(m.code, Some(0), "{}", m.stderr);
    let text = String::from_utf8(m.stdout).unwrap();
    assert!(
        text.contains("summary: 256 frames, 268435456 payload bytes, 0 errors"),
        "{text}"
    );
    // Listed as they arrived, not at the end.
    assert!(m.out_before_close > 0);
}

#[test]
fn inspect_endless_input_in_bounded_memory() {
    let started = Instant::now();
    let block = frames(&vec![0x33; 64 * 1024], 16);
    let m = measure(
        &["inspect", "--json", "--max-frame-len", FRAME_ARG],
        &block,
        u64::MAX,
        ENDLESS,
    );
    report("inspect --json, endless frames", &m, started);
    assert_eq!(m.code, Some(0), "{}", m.stderr);
    assert!(
        m.out_before_close > 0,
        "nothing listed while the input was open"
    );
    // Endless damage too: --recover scans it in bounded memory.
    let started = Instant::now();
    let zeros = vec![0u8; MIB as usize];
    let m = measure(
        &["inspect", "--recover", "--max-frame-len", FRAME_ARG],
        &zeros,
        u64::MAX,
        ENDLESS,
    );
    report("inspect --recover, endless zeros", &m, started);
    assert_eq!(m.code, Some(3), "{}", m.stderr);
    let text = String::from_utf8(m.stdout).unwrap();
    assert!(
        text.contains(&format!("skipped {} bytes after: bad magic", m.fed)),
        "{text}"
    );
}

#[test]
fn encode_lines_256_mib_in_bounded_memory() {
    let started = Instant::now();
    let block = line_block();
    let m = measure(
        &["encode", "--lines", "--max-frame-len", FRAME_ARG],
        &block,
        BIG,
        Duration::from_secs(120),
    );
    report("encode --lines, 256 MiB", &m, started);
    assert_eq!(m.fed, BIG);
    assert_eq!(m.code, Some(0), "{}", m.stderr);
    assert!(
        m.out_before_close > 0,
        "nothing written while the input was open"
    );
    // Frames of the lines.
    let mut first = &m.stdout[..];
    let frame = lpframe::read_frame(&mut first).unwrap().unwrap();
    assert_eq!(&frame[..], &[b'x'; 4095][..]);
}

#[test]
fn encode_lines_endless_yes_in_bounded_memory() {
    let started = Instant::now();
    let block = b"y\n".repeat(32 * 1024);
    let m = measure(
        &["encode", "--lines", "--max-frame-len", FRAME_ARG],
        &block,
        u64::MAX,
        ENDLESS,
    );
    report("encode --lines, endless 'y' lines", &m, started);
    assert_eq!(m.code, Some(0), "{}", m.stderr);
    assert!(
        m.out_before_close > 0,
        "nothing written while the input was open"
    );
}

#[test]
fn encode_refuses_an_input_over_the_limit_before_reading_it_all() {
    // 256 MiB offered; the child must stop reading just past 1 MiB.
    let started = Instant::now();
    let zeros = vec![0u8; 64 * 1024];
    let mut child = spawn(&["encode", "--max-frame-len", FRAME_ARG]);
    let stderr = Pipe::new(child.stderr.take().unwrap());
    let stdout = Pipe::new(child.stdout.take().unwrap());
    let input = feeder(child.stdin.take().unwrap(), zeros.clone(), BIG, STEP);
    let (fed, stdin) = fed(&input, STEP);
    drop(stdin);
    let status = wait_for(&mut child, STEP, "encode");
    let stderr = stderr.rest_text(STEP);
    eprintln!(
        "encode, 256 MiB offered: {} KiB taken before the refusal, {:.1} s",
        fed / 1024,
        started.elapsed().as_secs_f64()
    );
    assert_eq!(status.code(), Some(1));
    assert_eq!(
        stderr,
        "lpframe: stdin: larger than --max-frame-len (1048576 bytes): refused without reading the rest\n"
    );
    assert!(stdout.rest(STEP).is_empty());
    // The frame limit, plus what the pipe holds (64 KiB by default, up to
    // 1 MiB if raised), plus one block in flight.
    assert!(
        fed <= FRAME + 2 * MIB + zeros.len() as u64,
        "{fed} bytes taken"
    );
    // And from /dev/zero, with the default limit: refused at once.
    let zero = std::fs::File::open("/dev/zero").unwrap();
    let mut child = Proc(
        bin()
            .arg("encode")
            .stdin(zero)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stderr = Pipe::new(child.stderr.take().unwrap());
    let status = wait_for(&mut child, STEP, "encode < /dev/zero");
    assert_eq!(status.code(), Some(1));
    let stderr = stderr.rest_text(STEP);
    assert!(
        stderr.contains("larger than --max-frame-len (8388608 bytes)"),
        "{stderr}"
    );
}

/// Accepts one connection within `limit` (so that a client that never
/// comes does not hang the test).
fn accept_one(listener: &TcpListener, limit: Duration) -> Option<TcpStream> {
    listener.set_nonblocking(true).unwrap();
    let start = Instant::now();
    while start.elapsed() < limit {
        match listener.accept() {
            Ok((conn, _)) => {
                conn.set_nonblocking(false).unwrap();
                return Some(conn);
            }
            Err(_) => thread::sleep(Duration::from_millis(5)),
        }
    }
    None
}

/// A server on 127.0.0.1 that reads and discards, counting the bytes, until
/// its client closes (each read waits at most a step).
fn sink() -> (String, Arc<AtomicU64>, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let count = Arc::new(AtomicU64::new(0));
    let counted = count.clone();
    let server = thread::spawn(move || {
        let Some(mut conn) = accept_one(&listener, STEP) else {
            return;
        };
        conn.set_read_timeout(Some(STEP)).unwrap();
        let mut buf = vec![0u8; 256 * 1024];
        while let Ok(n) = conn.read(&mut buf) {
            if n == 0 {
                break;
            }
            counted.fetch_add(n as u64, Ordering::Relaxed);
        }
    });
    (addr, count, server)
}

#[test]
fn send_256_mib_in_bounded_memory() {
    let started = Instant::now();
    let (addr, received, server) = sink();
    let block = line_block();
    let m = measure(
        &["send", &addr, "--lines", "--max-frame-len", FRAME_ARG],
        &block,
        BIG,
        Duration::from_secs(120),
    );
    report("send --lines, 256 MiB", &m, started);
    assert_eq!(m.code, Some(0), "{}", m.stderr);
    server.join().unwrap();
    // Every line as a frame: 4,095 bytes and a header each.
    let lines = BIG / 4096;
    assert_eq!(received.load(Ordering::Relaxed), lines * (4095 + 16));
}

#[test]
fn send_endless_input_in_bounded_memory_and_as_it_arrives() {
    let started = Instant::now();
    let (addr, received, server) = sink();
    let block = b"an endless line of input\n".repeat(4096);
    let mut child = spawn(&["send", &addr, "--lines", "--max-frame-len", FRAME_ARG]);
    let peak = PeakRss::watch(child.id());
    let stderr = Pipe::new(child.stderr.take().unwrap());
    let input = feeder(child.stdin.take().unwrap(), block, u64::MAX, ENDLESS);
    let (fed, stdin) = fed(&input, ENDLESS);
    thread::sleep(Duration::from_millis(100));
    let while_open = received.load(Ordering::Relaxed);
    let peak = peak.finish();
    drop(stdin);
    let status = wait_for(&mut child, STEP, "send");
    server.join().unwrap();
    let m = Measured {
        peak,
        fed,
        stdout: Vec::new(),
        stderr: stderr.rest_text(STEP),
        code: status.code(),
        out_before_close: while_open,
    };
    report("send --lines, endless", &m, started);
    assert_eq!(m.code, Some(0), "{}", m.stderr);
    assert!(while_open > 0, "nothing sent while the input was open");
    let lines = fed / 25;
    assert_eq!(received.load(Ordering::Relaxed), lines * (24 + 16));
}

/// The deadlock of issue 13: 64 MiB of lines to an echo server, replies
/// read only at the end. `send` reads them while it sends. The echo server
/// (`listen`) stays in bounded memory too.
#[test]
fn send_64_mib_to_an_echo_server_with_wait_1_finishes() {
    let started = Instant::now();
    let server = listen(&["--echo", "--max-frame-len", FRAME_ARG]);
    let server_peak = PeakRss::watch(server.proc.id());
    // 1 KiB lines: 65,536 frames each way.
    let mut line = vec![b'e'; 1023];
    line.push(b'\n');
    let block = line.repeat(1024);
    let mut child = spawn(&["send", &server.addr, "--lines", "--wait", "1"]);
    let out = Pipe::new(child.stdout.take().unwrap());
    let err = Pipe::new(child.stderr.take().unwrap());
    let time = Duration::from_secs(90);
    let input = feeder(child.stdin.take().unwrap(), block, 64 * MIB, time);
    let (fed, stdin) = fed(&input, time);
    drop(stdin);
    let status = wait_for(&mut child, time, "send --wait 1");
    eprintln!(
        "send --wait 1, 64 MiB of lines to listen --echo: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(fed, 64 * MIB);
    let stderr = err.rest_text(STEP);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(out.rest(STEP), &line[..]);
    let server_peak = server_peak.finish();
    eprintln!(
        "listen --echo: peak RSS {:.1} MiB (bound {} MiB)",
        server_peak as f64 / MIB as f64,
        BOUND / MIB
    );
    assert!(server_peak < BOUND, "listen: peak RSS {server_peak}");
    let (status, printed, log) = server.stop("TERM", STEP);
    assert!(
        log.contains("1 connection, 65536 frames, 0 errors"),
        "{log}"
    );
    assert_eq!(status.code(), Some(0), "{log}");
    // Every payload printed by the server (raw, without the newlines).
    assert_eq!(printed.len(), 65536 * 1023, "bytes printed by the server");
}

/// A server that takes everything and never replies; it keeps the
/// connection open until told (or for a step).
fn mute() -> (String, mpsc::Sender<()>, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (done, wait) = mpsc::channel();
    let server = thread::spawn(move || {
        let Some(mut conn) = accept_one(&listener, STEP) else {
            return;
        };
        conn.set_read_timeout(Some(STEP)).unwrap();
        let mut buf = [0u8; 4096];
        while let Ok(n) = conn.read(&mut buf) {
            if n == 0 {
                break;
            }
        }
        let _ = wait.recv_timeout(STEP);
    });
    (addr, done, server)
}

#[test]
fn send_wait_with_too_few_replies_times_out_with_status_4() {
    let (addr, done, server) = mute();
    let started = Instant::now();
    let out = common::run_for(
        &["send", &addr, "--lines", "--wait", "2", "--timeout", "1"],
        b"ping\n",
        Duration::from_secs(20),
    );
    let took = started.elapsed();
    done.send(()).unwrap();
    server.join().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert_eq!(
        stderr,
        format!("lpframe: {addr}: no reply for 1 s (--timeout): 0 of 2 replies received\n")
    );
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(8),
        "{took:?}"
    );
}

/// A frame goes out as soon as its line is read: input and output are
/// interleaved, line by line, on a pipe kept open.
#[test]
fn encode_decode_and_send_are_interactive() {
    let wait = Duration::from_secs(10);
    // encode --lines: each frame appears before the next line is written.
    let mut child = spawn(&["encode", "--lines"]);
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = Pipe::new(child.stdout.take().unwrap());
    for word in ["one", "two", "three"] {
        stdin.write_all(format!("{word}\n").as_bytes()).unwrap();
        let frame = stdout.take(16 + word.len(), wait);
        assert_eq!(&frame[16..], word.as_bytes());
    }
    drop(stdin);
    assert!(wait_for(&mut child, wait, "encode").success());

    // decode --lines: each payload appears before the next frame.
    let mut child = spawn(&["decode", "--lines"]);
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = Pipe::new(child.stdout.take().unwrap());
    for word in ["one", "two"] {
        lpframe::write_frame(&mut stdin, word.as_bytes()).unwrap();
        assert_eq!(stdout.line(wait), format!("{word}\n"));
    }
    drop(stdin);
    assert!(wait_for(&mut child, wait, "decode").success());

    // send --lines --wait 2 to an echo server: each reply before the next
    // line.
    let server = listen(&["--echo"]);
    let mut child = spawn(&["send", &server.addr, "--lines", "--wait", "2"]);
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = Pipe::new(child.stdout.take().unwrap());
    for word in ["ping", "pong"] {
        stdin.write_all(format!("{word}\n").as_bytes()).unwrap();
        assert_eq!(stdout.line(wait), format!("{word}\n"));
    }
    drop(stdin);
    assert!(wait_for(&mut child, wait, "send").success());
    let (status, printed, _) = server.stop("INT", STEP);
    // Without --lines, listen prints the raw payloads.
    assert_eq!(printed, b"pingpong");
    assert_eq!(status.code(), Some(0));
}
