//! Echo peers for tests/mutation.rs (PROTOCOL.md appendix A): a conforming
//! one, and variants that each break exactly one rule ([`Defect`]).
//!
//! Std sockets and a thread per connection on 127.0.0.1 port 0. The LPF
//! parsing here is its own, a few lines written from PROTOCOL.md (CRCs from
//! crc32fast), so that the tester is checked against a third, independent
//! receiver and none of this depends on the library's API. Every loop is
//! bounded: connections poll a stop flag and end at their deadlines or
//! after [`LIFETIME`]; the accept loop ends when the [`Peer`] is dropped.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The longest a connection (or the accept loop) lives, whatever happens.
const LIFETIME: Duration = Duration::from_secs(120);
/// How often blocked reads and the accept loop look at the stop flag.
const POLL: Duration = Duration::from_millis(20);
/// How long [`Defect::AfterFatal`] keeps going after a fatal error.
const LINGER: Duration = Duration::from_millis(500);
/// [`Defect::TrickleTimeout`]: the silence inside a frame it tolerates,
/// checked every [`POLL`]: it closes 50 to 70 ms after a byte, well before
/// the trickle's next (100 ms) and well after the tester's longest pause
/// in the other cases (2 ms).
const INACTIVITY: Duration = Duration::from_millis(50);

/// The one rule a peer breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Defect {
    /// None: a conforming echo peer.
    None,
    /// After a fatal header error it resynchronises on the next valid
    /// header (like recovery mode) and echoes what it finds for 500 ms,
    /// then closes.
    AfterFatal,
    /// Checks the magic and version only once 16 bytes have arrived.
    LateMagic,
    /// Closes with a reset (SO_LINGER 0), not a FIN, after a fatal error
    /// and when a timeout expires. (Only then: a reset at the end of a
    /// pipelined stream also discards echoes still in the send buffer,
    /// which the tester reports too, but as a race.)
    ResetOnClose,
    /// Reads exactly the bytes it needs, and closes after a fatal error
    /// without shutting down its side first: unread bytes make a reset.
    NoDrain,
    /// Closes the connection on a corrupt payload instead of skipping it.
    CloseOnCorrupt,
    /// Echoes a corrupt payload as if it were valid.
    EchoCorrupt,
    /// At end of stream inside a payload, echoes the partial payload.
    ShortAtEof,
    /// Decodes one frame per read and drops the rest of what it read.
    OnePerRead,
    /// No stall timeout: a started frame is waited on forever.
    NoStall,
    /// No idle timeout: a silent connection is kept forever.
    NoIdle,
    /// Closes a frame whose bytes pause for more than 50 ms.
    TrickleTimeout,
    /// Refuses a payload of exactly `max` bytes (`len >= max`).
    RefusesMax,
    /// Accepts a header declaring `max + 1`.
    AcceptsOverMax,
    /// Allocates and touches the declared length as soon as a header
    /// verifies.
    TouchesDeclared,
    /// Holds an echo back while a complete frame follows it in the buffer
    /// and flushes only after the next delivered frame; loses held echoes
    /// at end of stream (the echo example's bug).
    Withholds,
    /// Does not echo empty payloads.
    EmptyDropped,
    /// Never echoes anything (otherwise conforming).
    Mute,
    /// Does not notice end of stream: waits on until a timeout.
    IgnoresEof,
    /// After a fatal error it stops echoing but does not close: it reads
    /// and discards until end of stream or its idle timeout.
    NoCloseOnFatal,
    /// Serves one connection at a time (in its accept loop).
    Sequential,
    /// Waits for the declared length (within the limit) before checking
    /// the header CRC.
    LengthBeforeCrc,
    /// Reports bad magic after the first byte (not 0xc1) alone.
    MagicFirstByte,
    /// Its stall timeout fires at half the declared value.
    EarlyStall,
    /// Its idle timeout fires at half the declared value.
    EarlyIdle,
    /// Its stall deadline runs from the connection's first frame, never
    /// re-armed per frame.
    StallNotRearmed,
    /// Never lets a blocked write stop its reading: the echoes it cannot
    /// write at once wait in a queue without bound (caught with `--pid`).
    UnboundedQueue,
}

impl Defect {
    /// Every defect (not [`Defect::None`]).
    pub const ALL: [Defect; 26] = [
        Defect::AfterFatal,
        Defect::LateMagic,
        Defect::ResetOnClose,
        Defect::NoDrain,
        Defect::CloseOnCorrupt,
        Defect::EchoCorrupt,
        Defect::ShortAtEof,
        Defect::OnePerRead,
        Defect::NoStall,
        Defect::NoIdle,
        Defect::TrickleTimeout,
        Defect::RefusesMax,
        Defect::AcceptsOverMax,
        Defect::TouchesDeclared,
        Defect::Withholds,
        Defect::EmptyDropped,
        Defect::Mute,
        Defect::IgnoresEof,
        Defect::NoCloseOnFatal,
        Defect::Sequential,
        Defect::LengthBeforeCrc,
        Defect::MagicFirstByte,
        Defect::EarlyStall,
        Defect::EarlyIdle,
        Defect::StallNotRearmed,
        Defect::UnboundedQueue,
    ];
}

/// A peer's limit, timeouts and defect.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub max: u32,
    pub idle: Duration,
    pub stall: Duration,
    pub defect: Defect,
}

/// A running peer; dropping it stops it (and its connections).
pub struct Peer {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Peer {
    pub fn start(settings: Settings) -> Peer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let accept = thread::spawn(move || {
            let born = Instant::now();
            let mut conns = Vec::new();
            while !flag.load(Ordering::Relaxed) && born.elapsed() < LIFETIME {
                match listener.accept() {
                    Ok((s, _)) if settings.defect == Defect::Sequential => {
                        serve(s, settings, &flag);
                    }
                    Ok((s, _)) => {
                        let flag = Arc::clone(&flag);
                        conns.push(thread::spawn(move || serve(s, settings, &flag)));
                    }
                    // WouldBlock: nobody is connecting; anything else
                    // (EMFILE ...): back off alike.
                    Err(_) => thread::sleep(Duration::from_millis(2)),
                }
                conns.retain(|c: &JoinHandle<()>| !c.is_finished());
            }
            flag.store(true, Ordering::Relaxed);
            for c in conns {
                let _ = c.join();
            }
        });
        Peer {
            addr,
            stop,
            accept: Some(accept),
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(a) = self.accept.take() {
            let _ = a.join();
        }
    }
}

/// What the front of the buffer holds.
enum Parsed {
    Frame {
        payload: Vec<u8>,
        used: usize,
    },
    Corrupt {
        payload: Vec<u8>,
        used: usize,
    },
    /// A verified header whose payload has not all arrived.
    Partial {
        len: usize,
    },
    /// Not even a whole header.
    Need,
    Fatal,
}

struct Conn<'a> {
    s: TcpStream,
    cfg: Settings,
    stop: &'a AtomicBool,
    buf: Vec<u8>,
    out: Vec<u8>,
    /// First byte of the frame in progress.
    frame_start: Option<Instant>,
    /// [`Defect::StallNotRearmed`]: the first byte of the first frame.
    first_start: Option<Instant>,
    /// Last frame boundary (or the connection's start): the idle clock.
    boundary: Instant,
    last_byte: Instant,
    /// [`Defect::TouchesDeclared`]: the memory it touched for the frame.
    held: Vec<u8>,
    /// [`Defect::Withholds`]: echoes are being held back.
    hold: bool,
    /// [`Defect::UnboundedQueue`]: the echoes not yet written, and how
    /// much of the first one was.
    queue: VecDeque<Vec<u8>>,
    queue_at: usize,
    chunk: Vec<u8>,
}

fn serve(s: TcpStream, cfg: Settings, stop: &AtomicBool) {
    let _ = s.set_nodelay(true);
    let now = Instant::now();
    let mut c = Conn {
        s,
        cfg,
        stop,
        buf: Vec::new(),
        out: Vec::new(),
        frame_start: None,
        first_start: None,
        boundary: now,
        last_byte: now,
        held: Vec::new(),
        hold: false,
        queue: VecDeque::new(),
        queue_at: 0,
        chunk: vec![0; 64 * 1024],
    };
    c.run(now + LIFETIME);
}

impl Conn<'_> {
    fn defect(&self) -> Defect {
        self.cfg.defect
    }

    /// [`Defect::Withholds`] is holding echoes back.
    fn holding(&self) -> bool {
        self.defect() == Defect::Withholds && self.hold
    }

    fn run(&mut self, end_of_life: Instant) {
        let mut fatal_at: Option<Instant> = None;
        let mut eof = false;
        while !self.stop.load(Ordering::Relaxed) && Instant::now() < end_of_life {
            // Decode and echo everything that is complete.
            loop {
                if fatal_at.is_some() && self.defect() == Defect::NoCloseOnFatal {
                    self.buf.clear();
                    break;
                }
                let parsed = if fatal_at.is_some() {
                    self.resync()
                } else {
                    self.parse()
                };
                match parsed {
                    Parsed::Frame { payload, used } => {
                        self.consume(used);
                        let echo = match self.defect() {
                            Defect::Mute => false,
                            Defect::EmptyDropped => !payload.is_empty(),
                            _ => true,
                        };
                        if echo {
                            self.out.extend(frame(&payload));
                        }
                        if self.defect() == Defect::Withholds {
                            self.hold = self.complete_frame_buffered();
                            if !self.hold && !self.flush() {
                                return;
                            }
                        }
                        if self.defect() == Defect::OnePerRead {
                            self.buf.clear();
                            break;
                        }
                    }
                    Parsed::Corrupt { payload, used } => {
                        self.consume(used);
                        match self.defect() {
                            Defect::CloseOnCorrupt => return self.close(),
                            Defect::EchoCorrupt => self.out.extend(frame(&payload)),
                            _ => {}
                        }
                        if self.defect() == Defect::OnePerRead {
                            self.buf.clear();
                            break;
                        }
                    }
                    Parsed::Partial { len } => {
                        if self.defect() == Defect::TouchesDeclared && self.held.len() != len {
                            self.held = vec![0xa5; len];
                        }
                        break;
                    }
                    Parsed::Need => break,
                    Parsed::Fatal => {
                        if !self.flush() {
                            return;
                        }
                        match self.defect() {
                            Defect::AfterFatal | Defect::NoCloseOnFatal => {
                                fatal_at.get_or_insert_with(Instant::now);
                                // AfterFatal: drop a byte and scan on.
                                if self.defect() == Defect::AfterFatal && !self.buf.is_empty() {
                                    self.buf.remove(0);
                                    continue;
                                }
                                break;
                            }
                            // Dropping the socket closes it as it is.
                            Defect::NoDrain => return,
                            Defect::ResetOnClose => {
                                let linger = Some(Duration::ZERO);
                                let _ = socket2::SockRef::from(&self.s).set_linger(linger);
                                return;
                            }
                            _ => return self.close(),
                        }
                    }
                }
            }
            if self.buf.is_empty() {
                self.frame_start = None;
            } else if self.frame_start.is_none() {
                self.frame_start = Some(Instant::now());
            }
            if self.first_start.is_none() {
                self.first_start = self.frame_start;
            }
            if !self.holding() && !self.flush() {
                return;
            }
            if let Some(at) = fatal_at {
                if self.defect() == Defect::AfterFatal && at.elapsed() >= LINGER {
                    return self.close();
                }
            }
            if eof {
                // Only IgnoresEof gets here: it keeps waiting.
                thread::sleep(Duration::from_millis(10));
            }
            // Timeouts.
            let now = Instant::now();
            let mid_frame = !self.buf.is_empty();
            let deadline = if fatal_at.is_some() {
                Some(self.last_byte.max(self.boundary) + self.cfg.idle)
            } else if mid_frame {
                match self.defect() {
                    Defect::NoStall => None,
                    Defect::EarlyStall => self.frame_start.map(|t| t + self.cfg.stall / 2),
                    Defect::StallNotRearmed => self.first_start.map(|t| t + self.cfg.stall),
                    _ => self.frame_start.map(|t| t + self.cfg.stall),
                }
            } else {
                match self.defect() {
                    Defect::NoIdle => None,
                    Defect::EarlyIdle => Some(self.boundary + self.cfg.idle / 2),
                    _ => Some(self.boundary + self.cfg.idle),
                }
            };
            if deadline.is_some_and(|d| now >= d) {
                return self.timeout_close();
            }
            if mid_frame
                && self.defect() == Defect::TrickleTimeout
                && now.duration_since(self.last_byte) > INACTIVITY
            {
                return self.close();
            }
            if eof {
                continue;
            }
            // Read.
            let want = match self.defect() {
                Defect::NoDrain => self.bytes_needed().min(self.chunk.len()),
                _ => self.chunk.len(),
            };
            let _ = self.s.set_read_timeout(Some(POLL));
            match self.s.read(&mut self.chunk[..want]) {
                Ok(0) => {
                    if self.defect() == Defect::IgnoresEof {
                        eof = true;
                        continue;
                    }
                    return self.end_of_stream(fatal_at.is_some());
                }
                Ok(n) => {
                    self.buf.extend_from_slice(&self.chunk[..n]);
                    self.last_byte = Instant::now();
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => return,
            }
        }
    }

    /// The tester's end of stream.
    fn end_of_stream(&mut self, failed: bool) {
        if failed || self.buf.is_empty() {
            return self.close();
        }
        if self.defect() == Defect::ShortAtEof {
            if let Parsed::Partial { .. } = self.parse() {
                let partial = self.buf[16..].to_vec();
                self.out.extend(frame(&partial));
            }
        }
        self.close()
    }

    fn consume(&mut self, used: usize) {
        self.buf.drain(..used);
        self.frame_start = None;
        self.held = Vec::new();
        if self.buf.is_empty() {
            self.boundary = Instant::now();
        }
    }

    /// Writes the pending echoes; `false` if the connection failed.
    fn flush(&mut self) -> bool {
        if self.defect() == Defect::UnboundedQueue {
            return self.flush_queue(false);
        }
        if self.out.is_empty() {
            return true;
        }
        let ok = self.s.write_all(&self.out).is_ok();
        self.out.clear();
        ok
    }

    /// [`Defect::UnboundedQueue`]: queues the pending echoes and writes
    /// what the socket takes without blocking (all of it, with `block`).
    fn flush_queue(&mut self, block: bool) -> bool {
        if !self.out.is_empty() {
            self.queue.push_back(std::mem::take(&mut self.out));
        }
        if self.queue.is_empty() {
            return true;
        }
        if self.s.set_nonblocking(!block).is_err() {
            return false;
        }
        let mut ok = true;
        while let Some(front) = self.queue.front() {
            match self.s.write(&front[self.queue_at..]) {
                Ok(n) => {
                    self.queue_at += n;
                    if self.queue_at == front.len() {
                        self.queue.pop_front();
                        self.queue_at = 0;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => {
                    ok = false;
                    break;
                }
            }
        }
        ok && self.s.set_nonblocking(false).is_ok()
    }

    /// Closes: pending echoes (unless held back), then a FIN.
    fn close(&mut self) {
        if self.defect() == Defect::UnboundedQueue {
            self.flush_queue(true);
        } else if !self.holding() {
            self.flush();
        }
        let _ = self.s.shutdown(Shutdown::Write);
    }

    /// Closes when a timeout expires: as [`Conn::close`], but
    /// [`Defect::ResetOnClose`] resets.
    fn timeout_close(&mut self) {
        if self.defect() == Defect::ResetOnClose {
            let _ = socket2::SockRef::from(&self.s).set_linger(Some(Duration::ZERO));
            return;
        }
        self.close()
    }

    /// Bytes to read next when reading exactly ([`Defect::NoDrain`]).
    fn bytes_needed(&self) -> usize {
        match self.buf.len() {
            0 | 1 => 2 - self.buf.len(),
            2 => 1,
            n if n < 16 => 16 - n,
            n => match self.parse() {
                Parsed::Partial { len } => 16 + len - n,
                _ => 1,
            },
        }
    }

    fn complete_frame_buffered(&self) -> bool {
        matches!(self.parse(), Parsed::Frame { .. } | Parsed::Corrupt { .. })
    }

    /// [`Defect::AfterFatal`]: drops bytes until a valid header starts the
    /// buffer, then parses normally.
    fn resync(&mut self) -> Parsed {
        loop {
            if self.buf.len() < 16 {
                return Parsed::Need;
            }
            match self.parse() {
                Parsed::Fatal => {
                    self.buf.remove(0);
                }
                other => return other,
            }
        }
    }

    /// PROTOCOL.md section 4, checks 1 to 6, in order.
    fn parse(&self) -> Parsed {
        let b = &self.buf;
        let early = self.defect() != Defect::LateMagic;
        let have = |n: usize| b.len() >= n && (early || b.len() >= 16);
        if self.defect() == Defect::MagicFirstByte && b.first().is_some_and(|&x| x != 0xc1) {
            return Parsed::Fatal;
        }
        if have(2) && b[..2] != [0xc1, 0x4c] {
            return Parsed::Fatal;
        }
        if have(3) && b[2] != 1 {
            return Parsed::Fatal;
        }
        if b.len() < 16 {
            return Parsed::Need;
        }
        let word = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        if self.defect() == Defect::LengthBeforeCrc
            && word(4) <= self.cfg.max
            && b.len() < 16 + word(4) as usize
        {
            return Parsed::Partial {
                len: word(4) as usize,
            };
        }
        if crc32fast::hash(&b[..12]) != word(12) || b[3] != 0 {
            return Parsed::Fatal;
        }
        let len = word(4);
        let refused = match self.defect() {
            Defect::RefusesMax => len >= self.cfg.max,
            Defect::AcceptsOverMax => len > self.cfg.max.saturating_add(1),
            _ => len > self.cfg.max,
        };
        if refused {
            return Parsed::Fatal;
        }
        let len = len as usize;
        if b.len() < 16 + len {
            return Parsed::Partial { len };
        }
        let payload = b[16..16 + len].to_vec();
        if crc32fast::hash(&payload) == word(8) {
            Parsed::Frame {
                payload,
                used: 16 + len,
            }
        } else {
            Parsed::Corrupt {
                payload,
                used: 16 + len,
            }
        }
    }
}

/// A valid frame carrying `payload`.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0xc1, 0x4c, 1, 0];
    h.extend((payload.len() as u32).to_be_bytes());
    h.extend(crc32fast::hash(payload).to_be_bytes());
    let crc = crc32fast::hash(&h);
    h.extend(crc.to_be_bytes());
    h.extend(payload);
    h
}
