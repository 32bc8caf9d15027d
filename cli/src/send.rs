//! `lpframe send`: frames from the input to a TCP peer, each sent as soon
//! as it is read, while another thread reads the replies; the first
//! `--wait N` are printed.
//!
//! Reading replies while sending means a peer that echoes never blocks on
//! us, whatever the input's size; memory holds one line or input (at most
//! `--max-frame-len`), one reply, and fixed buffers.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use lpframe::{Config, Error, FrameReader, FrameWriter};

use crate::common::{
    describe, error_json, error_offset, frame_json, inputs, parse_secs, secs, warn, Input, Out,
    PayloadFormat, Secs,
};
use crate::input::frame_inputs;
use crate::{Fail, Status};

#[derive(clap::Args)]
pub struct Args {
    /// Address to connect to, e.g. 127.0.0.1:7878.
    addr: String,
    /// Files to send, one frame each (default: standard input).
    files: Vec<PathBuf>,
    /// One frame per line of the input, sent as soon as the line is read.
    #[arg(long)]
    lines: bool,
    /// The input is LPF frames already (an .lpf capture, `encode`'s
    /// output): replay it byte for byte, as it is read, unchecked and
    /// unframed (a damaged capture replays its damage).
    #[arg(long, conflicts_with = "lines")]
    frames: bool,
    /// Print this many replies (one per line); exit once the input is
    /// sent and they are printed (later replies are read and discarded).
    #[arg(long, default_value_t = 0)]
    wait: u64,
    /// Give up with exit status 4 when connecting, a write the peer does
    /// not take, or (once the input is sent) the next reply takes longer
    /// than this (seconds; 0: wait for ever).
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_secs)]
    timeout: Secs,
    /// Print replies as hex.
    #[arg(long)]
    hex: bool,
    /// Print replies as JSON lines: {"event":"reply","offset","length",
    /// "payload_hex","text" (the payload if UTF-8, else null)}; a damaged
    /// reply as {"event":"error","offset","error","canonical","message",
    /// "fatal"} (also on standard error).
    #[arg(long, conflicts_with = "hex")]
    json: bool,
    /// Largest payload to send, and to accept in a reply, in bytes.
    #[arg(long, default_value_t = lpframe::DEFAULT_MAX_FRAME_LEN)]
    max_frame_len: u32,
}

/// How often the reply reader looks at its deadlines.
const TICK: Duration = Duration::from_millis(100);
/// Once the input is sent and the replies wanted are printed: how long the
/// peer may stay silent before we close (until then its further replies
/// are read and discarded, so that closing does not reset a connection
/// still delivering them).
const QUIET: Duration = Duration::from_secs(1);

/// What the two threads report.
enum Event {
    Input(Result<(), Fail>),
    Replies(Result<Status, Fail>),
}

pub fn run(args: Args) -> Result<Status, Fail> {
    if let Some(hint) = missing_port(&args.addr) {
        return Err(Fail::Usage(format!("address needs a port: {hint}")));
    }
    let args = Arc::new(args);
    let stream = connect(&args.addr, args.timeout.0)?;
    let _ = stream.set_nodelay(true);
    let writer = stream
        .try_clone()
        .map_err(|e| Fail::error(format!("{}: {e}", args.addr)))?;
    // When all the input had been sent.
    let sent = Arc::new(Mutex::new(None::<Instant>));
    let (tx, rx) = mpsc::channel();
    {
        let (args, sent, tx) = (args.clone(), sent.clone(), tx.clone());
        thread::spawn(move || {
            let _ = tx.send(Event::Input(send_input(writer, &args, &sent)));
        });
    }
    {
        let args = args.clone();
        thread::spawn(move || {
            let _ = tx.send(Event::Replies(read_replies(stream, &args, &sent)));
        });
    }
    // The first failure ends the command (a thread still blocked, e.g. on
    // a terminal, is not waited for); success is the reply reader's, which
    // ends only once the input is sent.
    loop {
        match rx.recv() {
            Ok(Event::Input(Ok(()))) => {}
            Ok(Event::Input(Err(fail))) => return Err(fail),
            Ok(Event::Replies(result)) => return result,
            Err(_) => return Err(Fail::error("the sending threads ended without a result")),
        }
    }
}

/// `ADDR:PORT` to suggest when `addr` has no port (`127.0.0.1`, `::1`,
/// `[::1]`, `localhost`), else `None`.
fn missing_port(addr: &str) -> Option<String> {
    match addr.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => Some(format!("{ip}:PORT")),
        Ok(IpAddr::V6(ip)) => Some(format!("[{ip}]:PORT")),
        Err(_) if addr.starts_with('[') && addr.ends_with(']') => Some(format!("{addr}:PORT")),
        Err(_) if !addr.contains(':') => Some(format!("{addr}:PORT")),
        Err(_) => None,
    }
}

fn connect(addr: &str, timeout: Option<Duration>) -> Result<TcpStream, Fail> {
    let addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| Fail::error(format!("cannot resolve {addr}: {e}")))?
        .collect();
    let mut last = None;
    for a in &addrs {
        let r = match timeout {
            Some(t) => TcpStream::connect_timeout(a, t),
            None => TcpStream::connect(a),
        };
        match r {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    match last {
        Some(e) if is_timeout(&e) => Err(Fail::Timeout(format!(
            "cannot connect to {addr}: no answer in {} (--timeout)",
            secs(timeout.unwrap_or_default())
        ))),
        Some(e) => Err(Fail::error(format!("cannot connect to {addr}: {e}"))),
        None => Err(Fail::error(format!("cannot resolve {addr}: no address"))),
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

/// Sends every input (or line) as a frame, flushing whenever the next read
/// may block; then shuts down the sending side (FIN).
fn send_input(stream: TcpStream, args: &Args, sent: &Mutex<Option<Instant>>) -> Result<(), Fail> {
    let addr = &args.addr;
    let _ = stream.set_write_timeout(args.timeout.0);
    let config = Config::new().max_write_frame_len(args.max_frame_len);
    let mut w = FrameWriter::with_config(stream, config);
    let failed = |e: Error| -> Fail {
        match e {
            Error::Io(e) if is_timeout(&e) => Fail::Timeout(format!(
                "{addr}: not reading: a write made no progress in {} (--timeout)",
                secs(args.timeout.0.unwrap_or_default())
            )),
            Error::Io(e) if e.kind() == io::ErrorKind::BrokenPipe => Fail::error(format!(
                "{addr} closed the connection before all the input was sent"
            )),
            other => Fail::error(format!("{addr}: sending: {other}")),
        }
    };
    if args.frames {
        replay(&args.files, w.get_mut(), failed)?;
    } else {
        warn_if_frames(&args.files, args.lines);
        frame_inputs(&args.files, args.lines, args.max_frame_len, &mut w, failed)?;
    }
    // Marked before the FIN, so that the reply reader, which may see the
    // peer close right after it, knows that everything was sent.
    if let Ok(mut at) = sent.lock() {
        *at = Some(Instant::now());
    }
    w.get_ref()
        .shutdown(Shutdown::Write)
        .map_err(|e| Fail::error(format!("{addr}: {e}")))?;
    Ok(())
}

/// Reads replies until the input is sent and `--wait` of them are printed
/// (then until the peer closes or is quiet), or a failure.
fn read_replies(
    stream: TcpStream,
    args: &Args,
    sent: &Mutex<Option<Instant>>,
) -> Result<Status, Fail> {
    let addr = &args.addr;
    let (wait, timeout) = (args.wait, args.timeout.0);
    stream
        .set_read_timeout(Some(TICK))
        .map_err(|e| Fail::error(format!("{addr}: {e}")))?;
    let config = Config::new().max_read_frame_len(args.max_frame_len);
    let mut reader = FrameReader::with_config(stream, config);
    let format = PayloadFormat {
        lines: !args.hex,
        hex: args.hex,
    };
    let mut out = if wait > 0 { Some(Out::stdout()?) } else { None };
    let (mut printed, mut dropped) = (0u64, 0u64);
    let mut last_reply = Instant::now();
    let replies = |n: u64| {
        format!(
            "{n} of {wait} {}",
            if wait == 1 { "reply" } else { "replies" }
        )
    };
    loop {
        let next = reader.next_frame();
        // Read after the frame (or the end), never before: the input may
        // have been sent while the reader waited.
        let sent_at = sent.lock().ok().and_then(|at| *at);
        match next {
            Ok(Some(frame)) => {
                last_reply = Instant::now();
                if let (Some(out), true) = (out.as_mut(), printed < wait) {
                    if args.json {
                        let offset = reader.decoder().frame_offset();
                        out.line(frame_json("reply", Some(offset), frame.payload(), &[]))?;
                    } else {
                        format.write(out, frame.payload())?;
                    }
                    out.flush()?;
                    printed += 1;
                }
            }
            Ok(None) if printed < wait => {
                return Err(Fail::error(format!(
                    "{addr} closed the connection after {}",
                    replies(printed)
                )))
            }
            Ok(None) if sent_at.is_none() => {
                return Err(Fail::error(format!(
                    "{addr} closed the connection before all the input was sent"
                )))
            }
            Ok(None) => return Ok(Status::from_errors(dropped)),
            Err(e) if e.is_timeout() => {}
            Err(Error::Decode(e)) => {
                let offset = error_offset(&e, reader.decoder().frame_offset());
                let what = format!("{addr}: reply at offset {offset}: {}", describe(&e));
                if let (Some(out), true) = (out.as_mut(), args.json) {
                    out.line(error_json(offset, &e, &[]))?;
                    out.flush()?;
                }
                if e.is_fatal() {
                    return Err(Fail::error(what));
                }
                warn(format!("{what} (dropped)"));
                dropped += 1;
                last_reply = Instant::now();
            }
            Err(e) => return Err(Fail::error(format!("{addr}: receiving: {e}"))),
        }
        let Some(sent_at) = sent_at else {
            continue;
        };
        let since = last_reply.max(sent_at);
        if printed < wait {
            if let Some(t) = timeout.filter(|&t| since.elapsed() >= t) {
                return Err(Fail::Timeout(format!(
                    "{addr}: no reply for {} (--timeout): {} received",
                    secs(t),
                    replies(printed)
                )));
            }
        } else if since.elapsed() >= QUIET
            || timeout.is_some_and(|t| sent_at.elapsed() >= t.max(QUIET))
        {
            // Done; the peer is quiet, or has had --timeout to close.
            return Ok(Status::from_errors(dropped));
        }
    }
}

/// `--frames`: every input's bytes to `stream` as they are read.
fn replay(
    files: &[PathBuf],
    stream: &mut TcpStream,
    failed: impl Fn(Error) -> Fail,
) -> Result<(), Fail> {
    let mut buf = vec![0u8; 64 * 1024];
    for path in inputs(files) {
        let mut input = Input::open(path)?;
        loop {
            let n = match input.file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(input.error(e)),
            };
            stream
                .write_all(buf.get(..n).unwrap_or_default())
                .map_err(|e| failed(Error::Io(e)))?;
        }
    }
    Ok(())
}

/// A file sent whole that starts with the LPF magic is probably a capture:
/// say how to replay its frames instead.
fn warn_if_frames(files: &[PathBuf], lines: bool) {
    if lines {
        return;
    }
    for f in files {
        let mut magic = [0u8; 2];
        let starts = std::fs::File::open(f).and_then(|mut file| file.read_exact(&mut magic));
        if starts.is_ok() && magic == lpframe::MAGIC {
            warn(format!(
                "{}: starts with the LPF magic: sent as one frame (--frames replays its frames as they are)",
                f.display()
            ));
        }
    }
}
