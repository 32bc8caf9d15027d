//! `lpframe listen` under bad clients: 50 concurrent echo clients next to
//! clients that reset, close without reading their echoes, or never read;
//! idle and stalled (trickling) peers; the orderly close after a fatal
//! error; SIGINT/SIGTERM with a summary; --count and --once; a closed
//! standard output. Servers bind 127.0.0.1 port 0; every client loop is
//! bounded in count and time.

mod common;

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{bin, feed, listen, read_then_close, spawn, wait_for, Pipe, Proc, STEP};
use lpframe::FrameReader;

fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// Closes `s` with a reset (SO_LINGER 0), not a FIN.
fn reset(s: TcpStream) {
    let socket = tokio::net::TcpSocket::from_std_stream(s);
    socket.set_zero_linger().unwrap();
    drop(socket);
}

/// Lets `n` threads on only once all have arrived; fails after a step
/// (unlike a `Barrier`, a thread that panicked first cannot hang the rest).
struct Gate {
    n: usize,
    arrived: AtomicUsize,
}

impl Gate {
    fn new(n: usize) -> Arc<Gate> {
        Arc::new(Gate {
            n,
            arrived: AtomicUsize::new(0),
        })
    }

    fn pass(&self) {
        self.arrived.fetch_add(1, Ordering::SeqCst);
        let start = Instant::now();
        while self.arrived.load(Ordering::SeqCst) < self.n {
            assert!(
                start.elapsed() < STEP,
                "only {} of {} arrived",
                self.arrived.load(Ordering::SeqCst),
                self.n
            );
            thread::sleep(Duration::from_millis(1));
        }
    }
}

/// The log lines of `stderr` about the client at `addr`.
fn lines_about<'a>(stderr: &'a str, addr: &str) -> Vec<&'a str> {
    stderr
        .lines()
        .filter(|l| l.starts_with(&format!("lpframe: {addr}: ")))
        .collect()
}

#[test]
fn fifty_echo_clients_at_once_next_to_resetting_and_non_reading_clients() {
    let started = Instant::now();
    let server = listen(&["--echo", "--write-timeout", "1"]);
    let addr = server.addr.clone();

    // A client that never reads: it sends until the server stops taking
    // its frames (its echoes fill both directions), and stays connected.
    let deaf = connect(&addr);
    let deaf_addr = deaf.local_addr().unwrap().to_string();
    deaf.set_write_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let deaf_thread = thread::spawn(move || {
        let mut deaf = deaf;
        let frame = common::frames(&[0xd0; 64 * 1024], 1);
        let mut sent = 0usize;
        // At most 64 MiB or 15 s; stops once a write makes no progress.
        let start = Instant::now();
        while sent < 64 << 20 && start.elapsed() < Duration::from_secs(15) {
            match deaf.write_all(&frame) {
                Ok(()) => sent += frame.len(),
                Err(_) => break,
            }
        }
        // Connected, never reading, until the server gives up on it: its
        // close shows as the end of our writes' stream or a reset.
        let start = Instant::now();
        deaf.set_write_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        while start.elapsed() < Duration::from_secs(10) {
            match deaf.write(&frame) {
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Ok(_) => {}
                Err(_) => break,
            }
        }
        sent
    });

    // Clients that reset at once, some maybe before they are accepted.
    for _ in 0..10 {
        reset(connect(&addr));
    }
    // A client that closes without reading its echo: a reset, as its
    // unread echo is in its receive buffer.
    let rude = connect(&addr);
    let rude_addr = rude.local_addr().unwrap().to_string();
    {
        let mut rude = rude;
        lpframe::write_frame(&mut rude, b"bye").unwrap();
        thread::sleep(Duration::from_millis(200));
        let mut one = [0u8; 1];
        // The echo arrived (so closing now resets) ...
        assert_eq!(rude.peek(&mut one).unwrap(), 1);
        // ... and is not read.
    }

    // 50 well-behaved clients, all connected at once: each sends 100
    // frames and must get all 100 echoes back before any of them closes
    // (a server that served one connection at a time would never echo to
    // the second while the first is open).
    const CLIENTS: usize = 50;
    const FRAMES: usize = 100;
    let connected = Gate::new(CLIENTS);
    let echoed = Gate::new(CLIENTS);
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let (addr, connected, echoed) = (addr.clone(), connected.clone(), echoed.clone());
            thread::spawn(move || {
                let mut s = connect(&addr);
                connected.pass();
                let payloads: Vec<Vec<u8>> = (0..FRAMES)
                    .map(|j| {
                        let mut p = format!("client {i} frame {j} ").into_bytes();
                        p.resize(p.len() + (i * 37 + j * 11) % 1500, b'a' + (j % 26) as u8);
                        p
                    })
                    .collect();
                let mut wire = Vec::new();
                for p in &payloads {
                    lpframe::write_frame(&mut wire, p).unwrap();
                }
                s.write_all(&wire).unwrap();
                let mut r = FrameReader::new(s.try_clone().unwrap());
                for (j, p) in payloads.iter().enumerate() {
                    let echo = r
                        .next_frame()
                        .unwrap_or_else(|e| panic!("client {i} echo {j}: {e}"));
                    assert_eq!(echo.as_deref(), Some(&p[..]), "client {i} echo {j}");
                }
                echoed.pass();
                s.shutdown(std::net::Shutdown::Write).unwrap();
                // The server closes in order after our FIN: end of stream.
                assert!(r.next_frame().unwrap().is_none(), "client {i}");
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    let deaf_sent = deaf_thread.join().unwrap();
    let (status, printed, log) = server.stop("TERM", Duration::from_secs(10));
    eprintln!(
        "50 clients x 100 echoes, 11 resets, a client that sent {} KiB and never read: {:.1} s",
        deaf_sent / 1024,
        started.elapsed().as_secs_f64()
    );
    // The deaf client was closed for not reading, logged once.
    let deaf_log = lines_about(&log, &deaf_addr);
    assert_eq!(deaf_log.len(), 1, "{log}");
    assert!(
        deaf_log[0].contains("not reading: an echo waited 1 s"),
        "{log}"
    );
    // The rude one: logged once (a reset, seen reading or echoing).
    let rude_log = lines_about(&log, &rude_addr);
    assert_eq!(rude_log.len(), 1, "{log}");
    assert!(rude_log[0].contains("reset"), "{log}");
    // No client is logged twice; the well-behaved ones not at all.
    let mut per_client: HashMap<&str, usize> = HashMap::new();
    for line in log.lines().filter(|l| !l.contains("listened on")) {
        let client = line.split(": ").nth(1).unwrap();
        *per_client.entry(client).or_default() += 1;
    }
    assert!(per_client.values().all(|&n| n == 1), "{log}");
    assert!(per_client.len() <= 12, "{log}");
    // The summary: every connection, pluralised, and exit status 3 since
    // clients failed.
    let summary = log.lines().last().unwrap();
    assert!(summary.contains(": 62 connections, "), "{summary}");
    assert!(
        summary.ends_with(&format!("{} errors", per_client.len())),
        "{summary}"
    );
    assert_eq!(status.code(), Some(3), "{log}");
    // Every frame of the well-behaved clients was printed.
    assert!(
        printed.len() >= CLIENTS * FRAMES * 16,
        "{} bytes printed",
        printed.len()
    );
}

#[test]
fn idle_and_stalled_peers_are_closed_by_their_deadlines() {
    let server = listen(&["--idle-timeout", "1", "--stall-timeout", "1"]);
    let addr = server.addr.clone();
    // Idle: connected, sends nothing.
    let idle = thread::spawn({
        let addr = addr.clone();
        move || {
            let mut s = connect(&addr);
            let local = s.local_addr().unwrap().to_string();
            let start = Instant::now();
            let mut buf = [0u8; 16];
            // An orderly close: the end of the stream, not a reset.
            assert_eq!(s.read(&mut buf).unwrap(), 0);
            (local, start.elapsed())
        }
    });
    // Stalled: a frame's bytes trickle in, one every 300 ms, so that no
    // single read waits long; the frame as a whole is late.
    let trickle = thread::spawn({
        let addr = addr.clone();
        move || {
            let mut s = connect(&addr);
            let local = s.local_addr().unwrap().to_string();
            let frame = common::frames(b"slowly", 1);
            let start = Instant::now();
            for b in &frame {
                if s.write_all(&[*b]).is_err() {
                    break;
                }
                thread::sleep(Duration::from_millis(300));
                if start.elapsed() > Duration::from_secs(8) {
                    break;
                }
            }
            let mut buf = [0u8; 16];
            let closed = s.read(&mut buf);
            (local, start.elapsed(), closed.map_err(|e| e.kind()))
        }
    });
    let (idle_addr, idle_took) = idle.join().unwrap();
    let (trickle_addr, trickle_took, closed) = trickle.join().unwrap();
    let (status, _, log) = server.stop("INT", Duration::from_secs(10));
    assert!(
        idle_took >= Duration::from_secs(1) && idle_took < Duration::from_secs(4),
        "{idle_took:?}"
    );
    // 22 bytes at 300 ms would take 6.6 s; the deadline ends it near 1 s.
    assert!(trickle_took < Duration::from_secs(4), "{trickle_took:?}");
    assert_eq!(
        closed,
        Ok(0),
        "the trickling peer sees the end of the stream"
    );
    let idle_log = lines_about(&log, &idle_addr);
    assert_eq!(
        idle_log,
        [format!(
            "lpframe: {idle_addr}: no frame for 1 s (--idle-timeout)"
        )],
        "{log}"
    );
    let trickle_log = lines_about(&log, &trickle_addr);
    assert_eq!(
        trickle_log,
        [format!(
            "lpframe: {trickle_addr}: the frame at offset 0 is still incomplete 1 s after its first byte (--stall-timeout)"
        )],
        "{log}"
    );
    assert!(
        log.ends_with(": 2 connections, 0 frames, 2 errors\n"),
        "{log}"
    );
    assert_eq!(status.code(), Some(3));
}

#[test]
fn a_fatal_error_closes_in_order_after_the_echoes_owed() {
    let server = listen(&["--echo", "--lines"]);
    let mut s = connect(&server.addr);
    let local = s.local_addr().unwrap().to_string();
    let mut wire = Vec::new();
    lpframe::write_frame(&mut wire, b"valid").unwrap();
    wire.extend_from_slice(b"GET / HTTP/1.1\r\nHost: example\r\n\r\n");
    s.write_all(&wire).unwrap();
    // More bytes after the error: the server reads and discards them
    // instead of closing on them (which would reset the connection).
    thread::sleep(Duration::from_millis(100));
    s.write_all(&[b'x'; 64 * 1024]).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut r = FrameReader::new(s);
    assert_eq!(r.next_frame().unwrap().as_deref(), Some(&b"valid"[..]));
    // Then the end of the stream: no reset.
    assert!(r.next_frame().unwrap().is_none());
    let (status, printed, log) = server.stop("TERM", Duration::from_secs(10));
    assert_eq!(printed, b"valid\n");
    assert_eq!(
        lines_about(&log, &local),
        [format!(
            "lpframe: {local}: offset 21: bad magic 0x4745 (expected 0xc14c): peer seems to speak HTTP/1"
        )]
    );
    assert!(log.ends_with(": 1 connection, 1 frame, 1 error\n"), "{log}");
    assert_eq!(status.code(), Some(3));
}

#[test]
fn ctrl_c_ends_it_promptly_even_with_a_peer_that_does_not_read() {
    let server = listen(&["--echo"]);
    let mut s = connect(&server.addr);
    let local = s.local_addr().unwrap().to_string();
    s.set_write_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    // Fill the server's echo queue and both socket buffers; never read.
    let frame = common::frames(&[1u8; 64 * 1024], 1);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) && s.write_all(&frame).is_ok() {}
    let stopped = Instant::now();
    let (status, _, log) = server.stop("INT", Duration::from_secs(10));
    let took = stopped.elapsed();
    // The grace is 2 s; the default write timeout (10 s) is not waited.
    assert!(took < Duration::from_secs(4), "{took:?}");
    let about = lines_about(&log, &local);
    assert_eq!(about.len(), 1, "{log}");
    assert!(about[0].contains("not reading"), "{log}");
    let summary = log.lines().last().unwrap();
    assert!(
        summary.contains(": 1 connection, ") && summary.ends_with(" frames, 1 error"),
        "{summary}"
    );
    assert_eq!(status.code(), Some(3));
    drop(s);
}

#[test]
fn count_and_once_end_it_by_themselves() {
    // --count 0: at once, without a client.
    let start = Instant::now();
    let out = common::run_for(
        &["listen", "127.0.0.1:0", "--count", "0"],
        b"",
        Duration::from_secs(10),
    );
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .starts_with("listening on 127.0.0.1:"));

    // --count 3 over two connections: the third frame's echo is sent, the
    // rest is not printed.
    let server = listen(&["--echo", "--count", "3", "--lines"]);
    let mut a = connect(&server.addr);
    let mut b = connect(&server.addr);
    let mut wire = Vec::new();
    lpframe::write_frame(&mut wire, b"a1").unwrap();
    lpframe::write_frame(&mut wire, b"a2").unwrap();
    a.write_all(&wire).unwrap();
    let mut ra = FrameReader::new(a.try_clone().unwrap());
    assert_eq!(ra.next_frame().unwrap().as_deref(), Some(&b"a1"[..]));
    assert_eq!(ra.next_frame().unwrap().as_deref(), Some(&b"a2"[..]));
    lpframe::write_frame(&mut b, b"b1").unwrap();
    let mut rb = FrameReader::new(b.try_clone().unwrap());
    assert_eq!(rb.next_frame().unwrap().as_deref(), Some(&b"b1"[..]));
    let (status, printed, log) = server.end(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0));
    assert_eq!(printed, b"a1\na2\nb1\n");
    assert!(
        log.ends_with(": 2 connections, 3 frames, 0 errors\n"),
        "{log}"
    );
    // Both clients see the end of the stream.
    assert!(ra.next_frame().unwrap().is_none());
    assert!(rb.next_frame().unwrap().is_none());

    // --once: one connection, then exit.
    let server = listen(&["--once", "--lines"]);
    let mut c = connect(&server.addr);
    lpframe::write_frame(&mut c, b"only").unwrap();
    drop(c);
    let (status, printed, log) = server.end(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0));
    assert_eq!(printed, b"only\n");
    assert!(
        log.ends_with(": 1 connection, 1 frame, 0 errors\n"),
        "{log}"
    );
}

#[test]
fn listen_and_send_end_quietly_on_a_closed_stdout() {
    // listen: its reader takes the address and goes away; the next frames
    // end it, quietly.
    let mut child = Proc(
        bin()
            .args(["listen", "127.0.0.1:0", "--lines"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let first = read_then_close(child.stdout.take().unwrap(), |b| b.ends_with(b"\n"));
    let first = String::from_utf8(first.recv_timeout(STEP).unwrap().unwrap()).unwrap();
    let addr = first
        .trim_end()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    let stderr = Pipe::new(child.stderr.take().unwrap());
    let mut s = connect(&addr);
    s.set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let wire = common::frames(b"to nobody", 1000);
    let start = Instant::now();
    // Bounded: until the listener is gone, at most 10 s.
    while start.elapsed() < Duration::from_secs(10) && child.try_wait().unwrap().is_none() {
        if s.write_all(&wire).is_err() {
            break;
        }
        thread::sleep(Duration::from_millis(10));
    }
    let status = wait_for(&mut child, Duration::from_secs(10), "listen");
    assert_eq!(status.code(), Some(0));
    assert_eq!(stderr.rest_text(STEP), "");

    // send: prints replies to a reader that goes away after 10 bytes.
    let server = listen(&["--echo"]);
    let mut child = spawn(&["send", &server.addr, "--lines", "--wait", "100000"]);
    let feeder = feed(child.stdin.take().unwrap(), b"reply line\n".repeat(100_000));
    let stderr = Pipe::new(child.stderr.take().unwrap());
    let head = read_then_close(child.stdout.take().unwrap(), |b| b.len() >= 10);
    assert_eq!(
        head.recv_timeout(STEP).unwrap(),
        Some(b"reply line".to_vec())
    );
    let status = wait_for(&mut child, Duration::from_secs(20), "send");
    feeder.join().unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(stderr.rest_text(STEP), "");
    let _ = server.stop("TERM", STEP);
}
