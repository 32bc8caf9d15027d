//! `lpframe conform` as a command: its exit statuses, usage errors,
//! `--list`, and a closed standard output. What the cases find is tested in
//! the conform crate (conform/tests/), in process.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Kills a child process when dropped.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn drain(mut r: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut s = String::new();
        let _ = r.read_to_string(&mut s);
        s
    })
}

fn lpframe(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lpframe"))
        .args(args)
        .output()
        .expect("run lpframe")
}

#[test]
fn an_unreachable_peer_is_one_line_naming_the_address() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = free.local_addr().expect("address").to_string();
    drop(free);
    let out = lpframe(&["conform", &addr]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).expect("utf-8");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!("lpframe: cannot connect to {addr}: ")),
        "{err}"
    );
    let out = lpframe(&["conform", "no-such-host.invalid:1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).expect("utf-8");
    assert!(
        err.starts_with("lpframe: cannot resolve no-such-host.invalid:1"),
        "{err}"
    );
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["conform"][..],
        &["conform", "127.0.0.1:1", "--case", "no/such/case"],
        // A typo beside a good id is refused too, not ignored.
        &["conform", "127.0.0.1:1", "--case", "vector/hello,no/such"],
        // An address without a port is a usage error, before any lookup.
        &["conform", "127.0.0.1"],
        &["conform", "localhost"],
        &["conform", "[::1]"],
        // One address only: a second positional is refused.
        &["conform", "127.0.0.1:1", "--case", "vector/hello", "typo"],
        &["conform", "127.0.0.1:1", "--stall-timeout", "-1"],
        &["conform", "127.0.0.1:1", "--idle-timeout", "soon"],
        &["conform", "127.0.0.1:1", "--jobs", "0"],
        &["conform", "127.0.0.1:1", "--max", "4294967296"],
        &["conform", "127.0.0.1:1", "--pid", "4294967295"],
    ] {
        let out = lpframe(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(!err.is_empty(), "{args:?}");
    }
    let out = lpframe(&["conform", "127.0.0.1:1", "--case", "vector/hello,no/such"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--case no/such: no case id starts with it"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The usage line's order works as well as any other: `--case ID ADDR`.
#[test]
fn argument_order_is_free() {
    let free = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = free.local_addr().expect("address").to_string();
    drop(free);
    for args in [
        &["conform", "--case", "vector/hello/whole", &addr][..],
        &["conform", &addr, "--case", "vector/hello/whole"],
        &[
            "conform",
            "--json",
            "--case=vector/hello/whole",
            &addr,
            "--seed",
            "1",
        ],
    ] {
        let out = lpframe(args);
        let err = String::from_utf8_lossy(&out.stderr);
        // Parsed: the run gets as far as connecting to the (closed) port.
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("cannot connect to"), "{args:?}: {err}");
    }
}

#[test]
fn list_names_every_case_with_its_section() {
    let out = lpframe(&["conform", "--list"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert_eq!(text.lines().count(), 40 * 3 + 16);
    assert!(text
        .lines()
        .any(|l| l.starts_with("vector/hello/bytes  §10, 2  test vector hello")));
    assert!(text.lines().any(|l| l.starts_with("timeout/idle  §6  ")));
}

/// A reader that goes away (`| head`) ends the run at once and quietly, as
/// with the other subcommands, instead of after the slowest case.
#[test]
fn a_closed_stdout_ends_the_run_quietly() {
    // A peer that accepts connections and never answers: the cases fail,
    // slowly; the run must end at its first report line after the header.
    let peer = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = peer.local_addr().expect("address").to_string();
    let started = Instant::now();
    let mut child = Reaped(
        Command::new(env!("CARGO_BIN_EXE_lpframe"))
            .args(["conform", &addr, "--stall-timeout", "3"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run lpframe conform"),
    );
    let mut lines = BufReader::new(child.0.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("a line").expect("utf-8");
    assert!(first.starts_with("lpframe conform "), "{first}");
    drop(lines);
    let stderr = drain(child.0.stderr.take().expect("stderr"));
    let status = loop {
        if let Some(s) = child.0.try_wait().expect("wait") {
            break s;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "still running");
        thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(0));
    assert_eq!(stderr.join().expect("stderr reader"), "");
    // The trickle and stall cases alone take 4 s.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}
