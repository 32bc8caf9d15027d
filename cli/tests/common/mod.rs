//! Helpers shared by the test files that drive the built `lpframe` binary:
//! running it with a time bound, a listener on 127.0.0.1 port 0, signals,
//! and the peak resident memory of a child, measured from /proc.

#![allow(dead_code)] // each test file uses its own subset

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStderr, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lpframe"));
    c.env("NO_COLOR", "1");
    c
}

/// Runs `lpframe ARGS` with `stdin` as its input; killed (and the test
/// failed) if it runs longer than `limit`.
pub fn run_for(args: &[&str], stdin: &[u8], limit: Duration) -> Output {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    // A child that fails early (bad arguments, missing file) may exit
    // before reading its input: a broken pipe here is not the test's
    // business, the exit status and output are.
    let feeder = thread::spawn(move || {
        if let Err(e) = input.write_all(&data) {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
        }
    });
    let stdout = reader(child.stdout.take().unwrap());
    let stderr = reader(child.stderr.take().unwrap());
    let status = wait_for(&mut child, limit, args);
    feeder.join().unwrap();
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

pub fn run(args: &[&str], stdin: &[u8]) -> Output {
    run_for(args, stdin, Duration::from_secs(30))
}

/// Reads everything from `r` on a thread of its own.
pub fn reader(mut r: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut all = Vec::new();
        let _ = r.read_to_end(&mut all);
        all
    })
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
        thread::sleep(Duration::from_millis(10));
    }
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

/// Sends `signal` (e.g. "TERM", "INT") to a child we started, by its id.
pub fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {}", child.id());
}

/// A running `lpframe listen`, its address, and its standard output and
/// error collected on threads.
pub struct Listener {
    pub child: Child,
    pub addr: String,
    pub stdout: JoinHandle<Vec<u8>>,
    pub stderr: Option<ChildStderr>,
}

/// Starts `lpframe listen 127.0.0.1:0 ARGS` and reads its first line,
/// `listening on ADDR`.
pub fn listen(args: &[&str]) -> Listener {
    let mut child = bin()
        .args(["listen", "127.0.0.1:0"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let addr = first
        .trim_end()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line: {first:?}"))
        .to_string();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    let stderr = child.stderr.take();
    Listener {
        child,
        addr,
        stdout: reader(out),
        stderr,
    }
}

impl Listener {
    /// Ends it with `signal` and returns its exit status, what it printed
    /// after the address, and its standard error.
    pub fn stop(mut self, sig: &str, limit: Duration) -> (ExitStatus, Vec<u8>, String) {
        let stderr = reader(self.stderr.take().unwrap());
        signal(&self.child, sig);
        let status = wait_for(&mut self.child, limit, &"lpframe listen");
        let out = self.stdout.join().unwrap();
        let err = String::from_utf8(stderr.join().unwrap()).unwrap();
        (status, out, err)
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
            // Bounded by the caller's stop, and by the process's end.
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
        assert!(peak > 0, "no VmHWM reading for pid {}", self.pid);
        peak
    }
}

pub const MIB: u64 = 1024 * 1024;
