//! Helpers shared by the test files that drive the built `lpframe` binary.
//!
//! Every wait is bounded: a child is a [`Proc`], killed when the test ends
//! or fails; its output is read on threads and taken with a time limit
//! ([`Pipe`]); its input is written on a thread ([`feed`]). So a binary that
//! hangs fails the test instead of hanging it, and leaves no process
//! behind. Also: a listener on 127.0.0.1 port 0, signals, and the peak
//! resident memory of a child, measured from /proc.

#![allow(dead_code)] // each test file uses its own subset

use std::io::{Read, Write};
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

pub const MIB: u64 = 1024 * 1024;

/// How long any single step of a test may wait for a child.
pub const STEP: Duration = Duration::from_secs(30);

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lpframe"));
    c.env("NO_COLOR", "1");
    c
}

/// A child process, killed and reaped when dropped (a failed test leaves
/// nothing running). Its id stays ours until then.
pub struct Proc(pub Child);

impl Deref for Proc {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl DerefMut for Proc {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `lpframe ARGS` with piped stdin, stdout and stderr.
pub fn spawn(args: &[&str]) -> Proc {
    Proc(
        bin()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    )
}

/// Waits for `child` at most `limit`; kills it and fails the test after.
pub fn wait_for(
    child: &mut Child,
    limit: Duration,
    what: &(impl std::fmt::Debug + ?Sized),
) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what:?} still running after {limit:?}: killed");
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Writes `data` to `stdin` on a thread, then closes it; the thread ends
/// early, quietly, if the child stops reading and exits (or is killed).
pub fn feed(mut stdin: ChildStdin, data: Vec<u8>) -> JoinHandle<()> {
    thread::spawn(move || {
        let _ = stdin.write_all(&data);
    })
}

/// Output of a child, read on a thread and taken with a time limit.
pub struct Pipe {
    rx: mpsc::Receiver<Vec<u8>>,
    buf: Vec<u8>,
    eof: bool,
}

impl Pipe {
    pub fn new(mut r: impl Read + Send + 'static) -> Pipe {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut chunk = vec![0u8; 64 * 1024];
            // Ends at the child's end of output (or its death).
            while let Ok(n) = r.read(&mut chunk) {
                if n == 0 || tx.send(chunk[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Pipe {
            rx,
            buf: Vec::new(),
            eof: false,
        }
    }

    /// Receives until `done(buf)` or the end; fails the test after `limit`.
    fn until(&mut self, limit: Duration, done: impl Fn(&[u8]) -> bool) {
        let deadline = Instant::now() + limit;
        while !self.eof && !done(&self.buf) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(chunk) => self.buf.extend_from_slice(&chunk),
                Err(mpsc::RecvTimeoutError::Disconnected) => self.eof = true,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!(
                        "no output for {limit:?} (have {:?})",
                        String::from_utf8_lossy(&self.buf)
                    )
                }
            }
        }
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize, limit: Duration) -> Vec<u8> {
        self.until(limit, |b| b.len() >= n);
        assert!(
            self.buf.len() >= n,
            "output ended after {} of {n} bytes",
            self.buf.len()
        );
        self.buf.drain(..n).collect()
    }

    /// The next line, with its newline.
    pub fn line(&mut self, limit: Duration) -> String {
        self.until(limit, |b| b.contains(&b'\n'));
        let end = self
            .buf
            .iter()
            .position(|&b| b == b'\n')
            .map_or(self.buf.len(), |i| i + 1);
        String::from_utf8(self.buf.drain(..end).collect()).unwrap()
    }

    /// Everything up to the end of the output.
    pub fn rest(mut self, limit: Duration) -> Vec<u8> {
        self.until(limit, |_| false);
        self.buf
    }

    pub fn rest_text(self, limit: Duration) -> String {
        String::from_utf8(self.rest(limit)).unwrap()
    }
}

/// Reads from `r` on a thread until `done(bytes read)`, then closes it (as
/// `| head` does); the receiver gets the bytes, or `None` if the output
/// ended first.
pub fn read_then_close(
    mut r: impl Read + Send + 'static,
    done: impl Fn(&[u8]) -> bool + Send + 'static,
) -> mpsc::Receiver<Option<Vec<u8>>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut got = Vec::new();
        let mut byte = [0u8; 1];
        while !done(&got) {
            match r.read(&mut byte) {
                Ok(1) => got.push(byte[0]),
                _ => {
                    let _ = tx.send(None);
                    return;
                }
            }
        }
        drop(r);
        let _ = tx.send(Some(got));
    });
    rx
}

/// Runs `lpframe ARGS` with `stdin` as its input; killed (and the test
/// failed) if it runs longer than `limit`.
pub fn run_for(args: &[&str], stdin: &[u8], limit: Duration) -> Output {
    let mut child = spawn(args);
    // A child that fails early (bad arguments, missing file) may exit
    // before reading its input: the exit status and output are what count.
    let feeder = feed(child.stdin.take().unwrap(), stdin.to_vec());
    let stdout = Pipe::new(child.stdout.take().unwrap());
    let stderr = Pipe::new(child.stderr.take().unwrap());
    let status = wait_for(&mut child, limit, args);
    feeder.join().unwrap();
    Output {
        status,
        stdout: stdout.rest(STEP),
        stderr: stderr.rest(STEP),
    }
}

pub fn run(args: &[&str], stdin: &[u8]) -> Output {
    run_for(args, stdin, STEP)
}

pub fn temp(name: &str, data: &[u8]) -> PathBuf {
    let p = std::env::temp_dir().join(format!("lpframe-cli-{}-{name}", std::process::id()));
    std::fs::write(&p, data).unwrap();
    p
}

/// `n` frames whose payloads are `payload`, encoded by the library.
pub fn frames(payload: &[u8], n: usize) -> Vec<u8> {
    let mut one = Vec::new();
    lpframe::write_frame_with(&mut one, payload, u32::MAX).unwrap();
    one.repeat(n)
}

/// Sends `signal` (e.g. "TERM", "INT") to a child we started and have not
/// reaped, by its id.
pub fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {}", child.id());
}

/// A running `lpframe listen`, its address, and its output.
pub struct Listener {
    pub proc: Proc,
    pub addr: String,
    pub stdout: Pipe,
    pub stderr: Pipe,
}

/// Starts `lpframe listen 127.0.0.1:0 ARGS` and reads its first line,
/// `listening on ADDR`.
pub fn listen(args: &[&str]) -> Listener {
    let mut proc = Proc(
        bin()
            .args(["listen", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stdout = Pipe::new(proc.stdout.take().unwrap());
    let stderr = Pipe::new(proc.stderr.take().unwrap());
    let first = stdout.line(STEP);
    let addr = first
        .trim_end()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line: {first:?}"))
        .to_string();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    Listener {
        proc,
        addr,
        stdout,
        stderr,
    }
}

impl Listener {
    /// Waits for it to end by itself; its status, what it printed after
    /// the address, and its standard error.
    pub fn end(mut self, limit: Duration) -> (ExitStatus, Vec<u8>, String) {
        let status = wait_for(&mut self.proc, limit, "lpframe listen");
        (status, self.stdout.rest(STEP), self.stderr.rest_text(STEP))
    }

    /// Ends it with `sig`; as [`end`](Self::end).
    pub fn stop(self, sig: &str, limit: Duration) -> (ExitStatus, Vec<u8>, String) {
        signal(&self.proc, sig);
        self.end(limit)
    }
}

/// The peak resident set ("VmHWM") of a running process, in bytes.
pub fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// Samples a child's VmHWM every 20 ms on a thread until stopped; the
/// kernel keeps the high-water mark, so the last reading before the child
/// exits is its peak so far.
pub struct PeakRss {
    pid: u32,
    stop: Arc<AtomicBool>,
    sampler: JoinHandle<u64>,
}

impl PeakRss {
    pub fn watch(pid: u32) -> PeakRss {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let sampler = thread::spawn(move || {
            let mut peak = 0;
            // Ends when told, or when the process is gone.
            while !flag.load(Ordering::Relaxed) {
                match vm_hwm(pid) {
                    Some(v) => peak = peak.max(v),
                    None => break,
                }
                thread::sleep(Duration::from_millis(20));
            }
            peak
        });
        PeakRss { pid, stop, sampler }
    }

    /// Reads the high-water mark once more (the child must still be
    /// running, e.g. waiting for the end of its input) and stops sampling.
    pub fn finish(self) -> u64 {
        let last = vm_hwm(self.pid);
        self.stop.store(true, Ordering::Relaxed);
        let sampled = self.sampler.join().unwrap();
        let peak = sampled.max(last.unwrap_or(0));
        assert!(
            last.is_some(),
            "pid {} ended before its peak was read",
            self.pid
        );
        peak
    }
}
