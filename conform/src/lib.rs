//! The LPF conformance tester: checks a running LPF peer, in the manner of
//! h2spec or the Autobahn testsuite. The peer runs the echo service of
//! PROTOCOL.md appendix A; each case opens its own connection, sends bytes,
//! and checks the echoes, the close and its timing.
//!
//! `lpframe conform ADDR` is a thin subcommand over [`run`] (and [`Args`]);
//! programs and tests drive [`check`] with [`Options`] and a writer.
//!
//! ```no_run
//! use std::time::Duration;
//! let o = lpframe_conform::Options {
//!     addr: "127.0.0.1:7878".parse().unwrap(),
//!     max: 8 << 20,
//!     stall: Some(Duration::from_secs(5)),
//!     idle: None,
//!     pid: None,
//!     seed: 7,
//! };
//! let cases = lpframe_conform::cases().unwrap();
//! let counts = lpframe_conform::check(&cases, &o, 4, false, std::io::stdout()).unwrap();
//! assert_eq!(counts.failed, 0);
//! ```
//!
//! The modules: `cases` (what each case sends and expects), `conn` (one
//! connection: a writer thread plays a script while the caller reads under
//! deadlines), `wire` (the only user of the lpframe library: frames built
//! and echoes decoded), `vectors` (tests/vectors/lpf-v1.txt turned into
//! what an echo must do), `report` (text and JSON), `rng`, `rss`.
//!
//! # Which case catches which bug
//!
//! The crate's tests (tests/mutation.rs) run every case against a
//! conforming echo peer and against broken copies of it, one bug each
//! (tests/peer/mod.rs), and assert the exact set of cases each fails; a test
//! checks that every case is failed by at least one broken peer and every
//! broken peer by at least one case, and that this table names them all.
//! The main case of each bug and what the report says (`actual`):
//!
//! | bug (`Defect`) | case | message |
//! |---|---|---|
//! | `AfterFatal`: resynchronises and echoes after a fatal error | `fatal/frame-after-error` | an unexpected echo 2: 32 bytes 7468697320667261... |
//! | `LateMagic`: checks the magic only at 16 bytes | `foreign/http` (WARN) | the connection stayed open 1 s after the 7 bytes; the peer closed (FIN) 0 ms after the tester sent 9 more: it checks the magic only with a whole 16-byte header |
//! | `MagicFirstByte`: reports bad magic after the first byte | `vector/single_zero_byte/bytes` | the peer closed the connection (FIN) after the single byte 00, before the tester's end of stream (seen 0 ms into the 200 ms check): it reported bad magic after the first byte (section 4: not before 2 bytes have arrived), or it cut an unfinished frame before its stall timeout |
//! | `LengthBeforeCrc`: waits for the declared length before the header CRC | `fatal/header-crc-long-length`, `vector/header_checksum_length_grows/*` | the peer kept the connection open 1.0 s after a header whose CRC fails and whose length (261) exceeds what was sent (5 bytes), and closed (FIN) once the tester sent the rest: it waited for the declared length before checking the header CRC |
//! | `ResetOnClose`: resets instead of a FIN (after a fatal error, at a timeout) | `close/orderly`, `timeout/stall`, `timeout/idle` (WARN) | the peer reset the connection, though the tester had sent nothing past the failing header; the peer reset the connection at its stall timeout, after 3.01 s |
//! | `NoDrain`: closes with unread bytes | `foreign/http`, `foreign/tls` (WARN) | the peer reset the connection (it closed with unread bytes of the 517-byte record, or abortively) |
//! | `CloseOnCorrupt`: closes on a corrupt payload | `skip/corrupt-payload` | the peer closed the connection (FIN) after 1 echo |
//! | `EchoCorrupt`: echoes a corrupt payload | `skip/corrupt-payload` | echo 2: 20 bytes "corrupted in transiT" |
//! | `ShortAtEof`: echoes a partial payload at end of stream | `vector/truncated_payload/*` | an unexpected echo 1: 4 bytes "0123" |
//! | `OnePerRead`: decodes one frame per read | `pipeline/10000`, `close/orderly`, `flow/unread` | the peer closed the connection (FIN) after 1 echo |
//! | `NoStall`: no stall timeout | `timeout/stall` | the connection was still open at that deadline |
//! | `EarlyStall`: stall timeout at half the declared value | `timeout/stall` | the peer closed after 1.51 s, before its declared stall timeout of 3.0 s: it cut the connection early |
//! | `StallNotRearmed`: stall deadline not re-armed per frame | `timeout/trickle` | the peer closed the connection (FIN) after 1 echo, during frame 2, 3.21 s after the first frame's first byte (each frame lasts 2.0 s, under the stall timeout of 3.0 s): its stall deadline is not re-armed per frame |
//! | `NoIdle`: no idle timeout | `timeout/idle` | the connection was still open at that deadline |
//! | `EarlyIdle`: idle timeout at half the declared value | `timeout/idle` | the peer closed after 1.02 s, before its declared idle timeout of 2.0 s: it cut the connection early |
//! | `TrickleTimeout`: closes a frame after 50 ms of silence | `timeout/trickle`, `timeout/stall`, `flow/unread`, unfinished vectors | the peer closed after 0.07 s, before its declared stall timeout of 3.0 s: it cut the connection early |
//! | `RefusesMax`: refuses exactly `--max` | `payload/max` | the peer closed the connection (FIN) after 0 echoes |
//! | `AcceptsOverMax`: accepts `--max` + 1 | `limit/over-max` | the connection was still open at that deadline |
//! | `TouchesDeclared`: touches memory for the declared length | `memory/declared` | VmRSS grew by 197.7 MiB while 100 connections declared 200 MiB in all |
//! | `UnboundedQueue`: reads on while its writes are blocked, queueing echoes without bound | `flow/unread` (with `--pid`) | VmRSS grew by 91.8 MiB while the tester wrote 96 MiB and read nothing: the peer keeps the echoes it cannot write instead of reading less |
//! | `Withholds`: holds an echo back before a corrupt frame | `skip/corrupt-payload` | no echo by then (after 0 echoes) |
//! | `EmptyDropped`: drops empty payloads | `payload/sizes`, `vector/empty_payload/*` | no echo by then (after 0 echoes) |
//! | `Mute`: never echoes | every case with an echo, `flow/unread` | the peer closed the connection (FIN) after 0 echoes |
//! | `IgnoresEof`: does not notice end of stream | every case ended by the tester's end of stream | the connection was still open at that deadline |
//! | `NoCloseOnFatal`: does not close after a fatal error | `close/orderly`, fatal vectors, `fatal/header-crc-long-length` | the connection was still open 1 s after the failing header |
//! | `Sequential`: serves one connection at a time | `connections/concurrent` | no echo by then (after 0 echoes) |

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod cases;
mod conn;
mod report;
mod rng;
mod rss;
mod vectors;
mod wire;

use std::io::{self, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::panic::{self, AssertUnwindSafe};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError, RwLock};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use cases::{Case, Outcome};
pub use conn::Failure;
pub use report::Counts;

use conn::Conn;
use report::{CaseResult, Report};

/// Every case, in report order (the order of `--list`).
///
/// # Errors
/// The embedded vector file does not parse (the crate's unit tests catch
/// that before a release).
pub fn cases() -> Result<Vec<Case>, String> {
    cases::all()
}

/// Arguments of `lpframe conform`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Address of the echo peer under test, HOST:PORT, e.g. 127.0.0.1:7878.
    #[arg(required_unless_present = "list", value_parser = host_port)]
    addr: Option<String>,
    /// The peer's max_frame_len, in bytes.
    #[arg(long, value_name = "N", default_value_t = 8_388_608)]
    max: u32,
    /// The peer's stall timeout in seconds (a frame must be complete this
    /// long after its first byte). Without it, timeout/stall is skipped.
    #[arg(long, value_name = "S", value_parser = seconds)]
    stall_timeout: Option<Duration>,
    /// The peer's idle timeout in seconds (between frames). Without it,
    /// timeout/idle is skipped.
    #[arg(long, value_name = "S", value_parser = seconds)]
    idle_timeout: Option<Duration>,
    /// The peer's process id: memory/declared and flow/unread sample its
    /// resident memory (VmRSS in /proc/PID/status, Linux). Without it,
    /// memory/declared is skipped and flow/unread checks only the echoes.
    #[arg(long)]
    pid: Option<u32>,
    /// One JSON object per case, then a summary object.
    #[arg(long)]
    json: bool,
    /// Run only the cases whose id starts with one of these (repeat it, or
    /// separate ids with commas: --case vector/hello,foreign). An id that
    /// starts no case is a usage error.
    #[arg(long = "case", value_name = "ID", value_delimiter = ',')]
    cases: Vec<String>,
    /// Seed for the random splits and payloads (default: from the clock;
    /// the report prints it so that a run can be repeated).
    #[arg(long)]
    seed: Option<u64>,
    /// Cases run at once, each on its own connections. With 1 (the
    /// default) one case at a time, so that a peer serving one connection
    /// at a time fails only connections/concurrent; with more, the timeout
    /// cases start first, beside the others. memory/declared and
    /// flow/unread run alone.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    jobs: u16,
    /// List the cases (id, PROTOCOL.md section, what it checks) and exit.
    #[arg(long)]
    list: bool,
}

/// What the cases know about the peer.
#[derive(Debug, Clone)]
pub struct Options {
    /// The peer's address.
    pub addr: SocketAddr,
    /// The peer's max_frame_len, in bytes.
    pub max: u32,
    /// The peer's stall timeout, if declared (else timeout/stall is skipped).
    pub stall: Option<Duration>,
    /// The peer's idle timeout, if declared (else timeout/idle is skipped).
    pub idle: Option<Duration>,
    /// The peer's process id, for memory/declared (Linux `/proc`).
    pub pid: Option<u32>,
    /// Seed of the random splits and payloads.
    pub seed: u64,
}

#[cfg(test)]
impl Options {
    /// A peer that is not there, with the default limit.
    pub fn for_tests() -> Options {
        Options {
            addr: SocketAddr::from(([127, 0, 0, 1], 9)),
            max: 8_388_608,
            stall: None,
            idle: None,
            pid: None,
            seed: 1,
        }
    }
}

/// HOST:PORT (a name or an IP address, and a port): checked before any
/// lookup, so that a missing port is a usage error.
fn host_port(s: &str) -> Result<String, String> {
    if s.parse::<SocketAddr>().is_ok() {
        return Ok(s.into());
    }
    match s.rsplit_once(':') {
        Some((host, port))
            if !host.is_empty() && !host.contains(':') && port.parse::<u16>().is_ok() =>
        {
            Ok(s.into())
        }
        _ => Err("expected HOST:PORT, e.g. 127.0.0.1:7878 (no port given)".into()),
    }
}

fn seconds(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 86_400.0 => Ok(Duration::from_secs_f64(v)),
        _ => Err("expected a number of seconds, more than 0 and at most 86400".into()),
    }
}

/// Runs `lpframe conform` with the report on standard output. A closed
/// standard output (`| head`) ends the process at once, quietly, with
/// status 0 (another output error: one line on standard error, status 1),
/// rather than after the slowest case.
///
/// # Errors
/// The peer cannot be reached: a one-line message (exit status 1).
pub fn run(args: Args) -> Result<ExitCode, String> {
    run_with(args, ExitOnError(io::stdout()))
}

/// Runs `lpframe conform` with the report written to `out`; usage errors
/// go to standard error (status 2).
///
/// # Errors
/// The peer cannot be reached, or the report cannot be written: a one-line
/// message (exit status 1).
pub fn run_with<W: Write>(args: Args, mut out: W) -> Result<ExitCode, String> {
    let all = cases::all()?;
    if args.list {
        for c in &all {
            if let Err(e) = writeln!(out, "{}  §{}  {}", c.id, c.section, c.title) {
                return quiet_if_closed(e);
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let selected: Vec<Case> = all
        .into_iter()
        .filter(|c| args.cases.is_empty() || args.cases.iter().any(|p| c.id.starts_with(p)))
        .collect();
    let unknown: Vec<&str> = args
        .cases
        .iter()
        .filter(|p| !selected.iter().any(|c| c.id.starts_with(p.as_str())))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() || selected.is_empty() {
        return Ok(usage(&format!(
            "--case {}: no case id starts with it (lpframe conform --list shows them)",
            unknown.join(",")
        )));
    }
    if let Some(pid) = args.pid {
        if let Err(e) = rss::resident(pid) {
            return Ok(usage(&format!("--pid {pid}: {e}")));
        }
    }
    let name = args.addr.unwrap_or_default();
    let addr = name
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {name}: {e}"))?
        .next()
        .ok_or_else(|| format!("cannot resolve {name}: no address"))?;
    // The peer must be reachable at all: else one line, not a failed case
    // per case.
    drop(Conn::open(addr, args.max)?);
    let o = Options {
        addr,
        max: args.max,
        stall: args.stall_timeout,
        idle: args.idle_timeout,
        pid: args.pid,
        seed: args.seed.unwrap_or_else(clock_seed),
    };
    match report(&selected, &o, &name, usize::from(args.jobs), args.json, out) {
        Ok(counts) if counts.failed == 0 => Ok(ExitCode::SUCCESS),
        Ok(_) => Ok(ExitCode::from(1)),
        Err(e) => quiet_if_closed(e),
    }
}

/// Standard output that ends the process on a write error (see [`run`]).
struct ExitOnError(io::Stdout);

impl ExitOnError {
    fn or_exit<T>(r: io::Result<T>) -> io::Result<T> {
        if let Err(e) = &r {
            let code = match e.kind() {
                io::ErrorKind::BrokenPipe => 0,
                _ => {
                    eprintln!("lpframe: writing the report: {e}");
                    1
                }
            };
            std::process::exit(code);
        }
        r
    }
}

impl Write for ExitOnError {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Self::or_exit(self.0.write(buf))
    }
    fn flush(&mut self) -> io::Result<()> {
        Self::or_exit(self.0.flush())
    }
}

/// Runs `cases` against the peer of `o`, `jobs` at a time, and writes the
/// report (text, or JSON lines with `json`) to `out` as cases finish.
/// Returns the counts of the summary.
///
/// # Errors
/// Writing to `out` failed: the first error, once the cases still running
/// have finished (nothing more is written after it).
pub fn check<W: Write>(
    cases: &[Case],
    o: &Options,
    jobs: usize,
    json: bool,
    out: W,
) -> io::Result<Counts> {
    report(cases, o, &o.addr.to_string(), jobs, json, out)
}

fn report<W: Write>(
    cases: &[Case],
    o: &Options,
    name: &str,
    jobs: usize,
    json: bool,
    out: W,
) -> io::Result<Counts> {
    let start = Instant::now();
    let mut report = Report::new(out, json, cases);
    report.header(o, name, cases.len())?;
    let mut failed: Option<io::Error> = None;
    execute(cases, o, jobs, |case, result| {
        if failed.is_none() {
            failed = report.case(case, result).err();
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    report.summary(o, name, start.elapsed())?;
    Ok(report.counts)
}

/// A closed standard output (`| head`) ends the program quietly, like the
/// other subcommands; any other output error is reported.
fn quiet_if_closed(e: io::Error) -> Result<ExitCode, String> {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(format!("writing the report: {e}"))
    }
}

fn usage(msg: &str) -> ExitCode {
    eprintln!("lpframe conform: {msg}");
    ExitCode::from(2)
}

fn clock_seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    // A short decimal seed is easier to copy from a report.
    (nanos as u64 ^ u64::from(std::process::id())) % 1_000_000_000
}

/// Runs `cases` (`jobs` at a time; exclusive ones alone; with more than
/// one job, background ones beside the rest from the start) and hands each
/// result to `emit` in case order as soon as it and every case before it
/// have finished.
fn execute(cases: &[Case], o: &Options, jobs: usize, mut emit: impl FnMut(&Case, &CaseResult)) {
    let slots: Mutex<Vec<Option<CaseResult>>> = Mutex::new(vec![None; cases.len()]);
    let ready = Condvar::new();
    let gate = RwLock::new(());
    let background = |i: usize| jobs > 1 && cases[i].background();
    let queue: Vec<usize> = (0..cases.len()).filter(|&i| !background(i)).collect();
    let next = AtomicUsize::new(0);
    let run_one = |i: usize| {
        let case = &cases[i];
        let t = Instant::now();
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| case.run(o))).unwrap_or_else(|_| {
            Outcome::Fail(Failure::new(
                "the case runs to its end",
                "the tester panicked",
            ))
        });
        let result = CaseResult {
            outcome,
            elapsed: t.elapsed(),
        };
        if let Some(slot) = slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(i)
        {
            *slot = Some(result);
        }
        ready.notify_all();
    };
    thread::scope(|s| {
        for i in (0..cases.len()).filter(|&i| background(i)) {
            let run_one = &run_one;
            s.spawn(move || run_one(i));
        }
        for _ in 0..jobs.max(1) {
            s.spawn(|| {
                while let Some(&i) = queue.get(next.fetch_add(1, Ordering::Relaxed)) {
                    if cases[i].exclusive() {
                        let _alone = gate.write().unwrap_or_else(PoisonError::into_inner);
                        run_one(i);
                    } else {
                        let _shared = gate.read().unwrap_or_else(PoisonError::into_inner);
                        run_one(i);
                    }
                }
            });
        }
        for (i, case) in cases.iter().enumerate() {
            let mut guard = slots.lock().unwrap_or_else(PoisonError::into_inner);
            let result = loop {
                if let Some(r) = guard.get_mut(i).and_then(Option::take) {
                    break r;
                }
                guard = ready
                    .wait_timeout(guard, Duration::from_millis(100))
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            };
            drop(guard);
            emit(case, &result);
        }
    });
}
