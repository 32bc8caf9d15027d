//! One TCP connection to the peer under test: a writer thread plays a
//! script of sends and pauses while the caller reads, so that neither side
//! can deadlock on full buffers; reads are bounded by deadlines and turn the
//! peer's bytes into echoes and its close into a FIN or a reset.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::wire::EchoReader;

/// How long the tester waits for the peer to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// A single write that blocks this long ends the writer (the peer stopped
/// reading); every case has a shorter deadline of its own anyway.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// One step of what the tester sends.
#[derive(Debug, Clone)]
pub enum Step {
    /// Write these bytes (all of them).
    Send(Vec<u8>),
    /// Write these bytes this many times over (a large stream without a
    /// buffer of its size).
    Repeat(Vec<u8>, usize),
    /// Wait before the next step.
    Pause(Duration),
    /// Shut down the tester's sending side: the peer reads end of stream.
    Finish,
}

/// How the peer ended the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Close {
    /// An orderly end of stream: the read returned 0.
    Fin,
    /// A reset (ECONNRESET and the like): the peer closed abortively, or
    /// with unread bytes in its receive buffer.
    Reset,
}

impl fmt::Display for Close {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Close::Fin => "FIN",
            Close::Reset => "reset",
        })
    }
}

/// A check that did not hold: what the rule requires and what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What the rule requires (and within which time).
    pub expected: String,
    /// What the peer did.
    pub actual: String,
}

impl Failure {
    /// A failure from its two halves.
    pub fn new(expected: impl Into<String>, actual: impl Into<String>) -> Failure {
        Failure {
            expected: expected.into(),
            actual: actual.into(),
        }
    }
}

/// What the writer thread did.
#[derive(Debug)]
pub struct Sent {
    /// When it finished: its last byte was handed to the kernel, or it
    /// stopped on a write error (after the peer closed, writes fail: that
    /// is not in itself a finding, the echoes and the close are judged).
    pub at: Instant,
}

/// What reading produced.
enum Event {
    Echo(Vec<u8>),
    Closed(Close),
    Timeout,
    /// The reply stream is not valid LPF, or the socket failed otherwise.
    Garbled(String),
}

/// A connection to the peer under test.
pub struct Conn {
    stream: TcpStream,
    replies: EchoReader,
    writer: Option<JoinHandle<Sent>>,
    stop: Arc<AtomicBool>,
    /// A write of the writer thread met a reset: the peer reset the
    /// connection, and the reader may then see only the end of stream
    /// (Linux reports a reset once, to whichever call comes first).
    reset: Arc<AtomicBool>,
    closed: Option<Close>,
    /// Echoes received so far.
    echoes: usize,
    buf: Vec<u8>,
    /// When the connection was established.
    pub opened: Instant,
}

impl Conn {
    /// Connects (Nagle off, so that every step leaves at once); the
    /// peer's replies are read under its own limit `max`.
    ///
    /// # Errors
    /// The connection failed, as a one-line message naming `addr`.
    pub fn open(addr: SocketAddr, max: u32) -> Result<Conn, String> {
        let stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        let setup = |s: &TcpStream| {
            s.set_nodelay(true)?;
            s.set_write_timeout(Some(WRITE_TIMEOUT))
        };
        setup(&stream).map_err(|e| format!("{addr}: {e}"))?;
        Ok(Conn {
            stream,
            replies: EchoReader::new(max),
            writer: None,
            stop: Arc::new(AtomicBool::new(false)),
            reset: Arc::new(AtomicBool::new(false)),
            closed: None,
            echoes: 0,
            buf: vec![0; 64 * 1024],
            opened: Instant::now(),
        })
    }

    /// Starts playing `steps` in a writer thread (after the previous
    /// script, which the caller has waited for with [`Conn::sent_by`]).
    ///
    /// # Errors
    /// The socket could not be cloned for the writer.
    pub fn send(&mut self, steps: Vec<Step>) -> Result<(), Failure> {
        self.join_writer();
        let stream = self
            .stream
            .try_clone()
            .map_err(|e| Failure::new("a socket for the writer", e.to_string()))?;
        let stop = Arc::clone(&self.stop);
        let reset = Arc::clone(&self.reset);
        self.writer = Some(thread::spawn(move || play(stream, steps, &stop, &reset)));
        Ok(())
    }

    /// Waits until the writer has played its script, at most until
    /// `deadline`.
    ///
    /// # Errors
    /// The writer was still blocked at the deadline: the peer stopped
    /// reading the tester's bytes.
    pub fn sent_by(&mut self, deadline: Instant) -> Result<Sent, Failure> {
        let finished = loop {
            match &self.writer {
                None => break true,
                Some(w) if w.is_finished() => break true,
                Some(_) if Instant::now() >= deadline => break false,
                Some(_) => thread::sleep(Duration::from_millis(1)),
            }
        };
        if !finished {
            return Err(Failure::new(
                "the peer reads everything the tester sends",
                "the tester's writes were still blocked at the deadline (the peer stopped reading)",
            ));
        }
        Ok(match self.writer.take().map(JoinHandle::join) {
            Some(Ok(sent)) => sent,
            Some(Err(_)) | None => Sent { at: Instant::now() },
        })
    }

    /// Sends `steps` and waits for them to be played, by `deadline`.
    ///
    /// # Errors
    /// See [`Conn::sent_by`].
    pub fn send_all(&mut self, steps: Vec<Step>, deadline: Instant) -> Result<Sent, Failure> {
        self.send(steps)?;
        self.sent_by(deadline)
    }

    /// Reads until the peer has echoed exactly `want`, in order, by
    /// `deadline`; `within` says how long the rule allows (for the report).
    ///
    /// # Errors
    /// A different echo, a close, the deadline, or a malformed reply.
    pub fn expect_echoes(
        &mut self,
        want: &[Vec<u8>],
        deadline: Instant,
        within: &str,
    ) -> Result<(), Failure> {
        for w in want {
            let n = self.echoes + 1;
            let expected = || format!("echo {n}, {within}: {}", show(w));
            match self.next_event(deadline) {
                Event::Echo(got) if got == *w => self.echoes += 1,
                Event::Echo(got) => {
                    return Err(Failure::new(
                        expected(),
                        format!("echo {n}: {}{}", show(&got), first_difference(w, &got)),
                    ))
                }
                Event::Closed(c) => {
                    return Err(Failure::new(
                        expected(),
                        format!(
                            "the peer closed the connection ({c}) after {}",
                            plural(n - 1, "echo", "echoes")
                        ),
                    ))
                }
                Event::Timeout => {
                    return Err(Failure::new(
                        expected(),
                        format!(
                            "no echo by then (after {})",
                            plural(n - 1, "echo", "echoes")
                        ),
                    ))
                }
                Event::Garbled(e) => return Err(Failure::new(expected(), e)),
            }
        }
        Ok(())
    }

    /// Reads until the peer closes, by `deadline`, with no further echo.
    /// `expected` describes the rule for the report.
    ///
    /// # Errors
    /// An echo, the deadline, or a malformed reply.
    pub fn expect_close(&mut self, deadline: Instant, expected: &str) -> Result<Close, Failure> {
        self.wait_close(deadline, expected)?
            .ok_or_else(|| Failure::new(expected, "the connection was still open at that deadline"))
    }

    /// Like [`Conn::expect_close`], but a connection still open at the
    /// deadline is `Ok(None)`, for the caller to judge.
    ///
    /// # Errors
    /// An echo, or a malformed reply.
    pub fn wait_close(
        &mut self,
        deadline: Instant,
        expected: &str,
    ) -> Result<Option<Close>, Failure> {
        match self.next_event(deadline) {
            Event::Closed(c) => Ok(Some(c)),
            Event::Timeout => Ok(None),
            Event::Echo(got) => Err(Failure::new(
                expected,
                format!("an unexpected echo {}: {}", self.echoes + 1, show(&got)),
            )),
            Event::Garbled(e) => Err(Failure::new(expected, e)),
        }
    }

    /// How the peer closed the connection, once the tester has read it.
    pub fn closed(&self) -> Option<Close> {
        self.closed
    }

    /// Checks that for `time` the peer neither echoes nor closes.
    ///
    /// # Errors
    /// An echo, a close, or a malformed reply.
    pub fn expect_open(&mut self, time: Duration, expected: &str) -> Result<(), Failure> {
        match self.next_event(Instant::now() + time) {
            Event::Timeout => Ok(()),
            Event::Closed(c) => Err(Failure::new(
                expected,
                format!("the peer closed the connection ({c})"),
            )),
            Event::Echo(got) => Err(Failure::new(
                expected,
                format!("an unexpected echo {}: {}", self.echoes + 1, show(&got)),
            )),
            Event::Garbled(e) => Err(Failure::new(expected, e)),
        }
    }

    /// The next echo or close, reading as needed until `deadline`.
    fn next_event(&mut self, deadline: Instant) -> Event {
        loop {
            match self.replies.next() {
                Ok(Some(p)) => return Event::Echo(p),
                Ok(None) => {}
                Err(e) => return Event::Garbled(format!("the peer's reply is not valid LPF: {e}")),
            }
            if let Some(c) = self.closed {
                return Event::Closed(c);
            }
            let now = Instant::now();
            if now >= deadline {
                return Event::Timeout;
            }
            let wait = (deadline - now).max(Duration::from_millis(1));
            if let Err(e) = self.stream.set_read_timeout(Some(wait)) {
                return Event::Garbled(format!("socket error: {e}"));
            }
            match self.stream.read(&mut self.buf) {
                Ok(0) => {
                    if let Err(e) = self.replies.finish() {
                        return Event::Garbled(format!(
                            "the peer closed the connection inside a reply frame: {e}"
                        ));
                    }
                    // A reset the writer met is the close the peer made,
                    // though this read sees only its aftermath.
                    self.closed = Some(if self.reset.load(Ordering::Relaxed) {
                        Close::Reset
                    } else {
                        Close::Fin
                    });
                }
                Ok(n) => {
                    if let Some(chunk) = self.buf.get(..n) {
                        self.replies.push(chunk);
                    }
                }
                Err(e) => match e.kind() {
                    io::ErrorKind::WouldBlock
                    | io::ErrorKind::TimedOut
                    | io::ErrorKind::Interrupted => {}
                    io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe => self.closed = Some(Close::Reset),
                    _ => return Event::Garbled(format!("socket error: {e}")),
                },
            }
        }
    }

    fn join_writer(&mut self) {
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // Unblocks a writer stuck in a write, then waits for it.
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.stream.shutdown(Shutdown::Both);
        self.join_writer();
    }
}

fn play(mut stream: TcpStream, steps: Vec<Step>, stop: &AtomicBool, reset: &AtomicBool) -> Sent {
    for step in steps {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let result = match step {
            Step::Send(bytes) => stream.write_all(&bytes),
            Step::Repeat(bytes, times) => (0..times).try_for_each(|_| {
                if stop.load(Ordering::Relaxed) {
                    return Err(io::ErrorKind::Interrupted.into());
                }
                stream.write_all(&bytes)
            }),
            Step::Pause(d) => {
                thread::sleep(d);
                Ok(())
            }
            Step::Finish => stream.shutdown(Shutdown::Write),
        };
        if let Err(e) = result {
            if matches!(
                e.kind(),
                io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
            ) {
                reset.store(true, Ordering::Relaxed);
            }
            break;
        }
    }
    Sent { at: Instant::now() }
}

/// A payload for the report: its length, and its bytes when short (as text
/// when printable).
pub fn show(p: &[u8]) -> String {
    let text = |b: &[u8]| b.iter().all(|c| c.is_ascii_graphic() || *c == b' ');
    match p.len() {
        0 => "0 bytes".into(),
        1..=24 if text(p) => format!(
            "{} {:?}",
            plural(p.len(), "byte", "bytes"),
            String::from_utf8_lossy(p)
        ),
        1..=24 => format!("{} {}", plural(p.len(), "byte", "bytes"), hex(p)),
        n => format!("{n} bytes {}...", hex(p.get(..8).unwrap_or(p))),
    }
}

/// `1 echo`, `2 echoes`: a count and its noun.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn first_difference(want: &[u8], got: &[u8]) -> String {
    match want.iter().zip(got).position(|(a, b)| a != b) {
        Some(i) if want.len() > 24 => format!(" (first difference at byte {i})"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A peer that resets the connection while the tester's writer is
    /// writing: Linux reports the reset once, often to the writer, and the
    /// reader then sees only an end of stream. The close is still a reset.
    #[test]
    fn a_reset_met_by_the_writer_is_reported_as_a_reset() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let peer = thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0; 4096];
            let _ = s.read(&mut buf);
            socket2::SockRef::from(&s)
                .set_linger(Some(Duration::ZERO))
                .unwrap();
        });
        let mut c = Conn::open(addr, 1 << 20).unwrap();
        c.send(vec![Step::Repeat(vec![0x5a; 64 << 10], 1000)])
            .unwrap();
        peer.join().unwrap();
        let close = c.wait_close(Instant::now() + Duration::from_secs(5), "a close");
        assert_eq!(close, Ok(Some(Close::Reset)));
    }

    #[test]
    fn payloads_are_shown_briefly() {
        assert_eq!(show(b""), "0 bytes");
        assert_eq!(show(b"next"), "4 bytes \"next\"");
        assert_eq!(show(&[0, 1]), "2 bytes 0001");
        assert_eq!(show(b"x"), "1 byte \"x\"");
        assert_eq!(show(&[0]), "1 byte 00");
        assert_eq!(plural(1, "echo", "echoes"), "1 echo");
        assert_eq!(plural(0, "echo", "echoes"), "0 echoes");
        assert_eq!(show(&[7; 30]), "30 bytes 0707070707070707...");
        let mut other = vec![7u8; 30];
        other[20] = 0;
        assert_eq!(
            first_difference(&[7; 30], &other),
            " (first difference at byte 20)"
        );
    }
}
