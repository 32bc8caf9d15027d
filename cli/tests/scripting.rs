//! What a user scripting the tool relies on (issue 23): `send --frames`
//! replays a capture byte for byte, an address without a port is a usage
//! error, `--json` lines from `decode` and `send`, help text that stands on
//! its own, and plurals.

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::time::Duration;

use common::{run, run_for, temp};
use serde_json::Value;

fn json_lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8(stdout.to_vec())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Two frames and a corrupt one between them: what a capture holds.
fn capture() -> Vec<u8> {
    let mut wire = Vec::new();
    for p in [&b"one"[..], b"two", b"three"] {
        lpframe::write_frame(&mut wire, p).unwrap();
    }
    wire[19 + 16] ^= 1;
    wire
}

#[test]
fn send_frames_replays_a_capture_byte_exact() {
    let wire = capture();
    let file = temp("replay.lpf", &wire);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        got
    });
    let out = run_for(
        &["send", &addr, "--frames", file.to_str().unwrap()],
        b"",
        Duration::from_secs(20),
    );
    let got = server.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(got, wire, "the capture, byte for byte, damage included");

    // Without --frames the same file is one frame, and the tool says so.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        got
    });
    let out = run_for(
        &["send", &addr, file.to_str().unwrap()],
        b"",
        Duration::from_secs(20),
    );
    let got = server.join().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(got.len(), 16 + wire.len());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("--frames replays its frames"), "{stderr}");
}

#[test]
fn an_address_without_a_port_is_a_usage_error() {
    for (addr, hint) in [
        ("127.0.0.1", "127.0.0.1:PORT"),
        ("::1", "[::1]:PORT"),
        ("localhost", "localhost:PORT"),
    ] {
        let out = run(&["send", addr, "--lines"], b"x\n");
        assert_eq!(out.status.code(), Some(2), "{addr}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(
            stderr,
            format!("lpframe: address needs a port: {hint}\n"),
            "{addr}"
        );
    }
}

#[test]
fn decode_json_lines() {
    let out = run(&["decode", "--json"], &capture());
    assert_eq!(out.status.code(), Some(3));
    let events = json_lines(&out.stdout);
    assert_eq!(events.len(), 4, "{events:?}");
    assert_eq!(events[0]["event"], "frame");
    assert_eq!(events[0]["offset"], 0);
    assert_eq!(events[0]["text"], "one");
    assert_eq!(events[0]["payload_hex"], "6f6e65");
    assert_eq!(events[1]["event"], "error");
    assert_eq!(events[1]["error"], "PayloadChecksum");
    assert_eq!(events[1]["offset"], 19);
    assert_eq!(events[1]["fatal"], false);
    assert_eq!(events[2]["length"], 5);
    assert_eq!(
        events[3],
        serde_json::json!({"event": "summary", "frames": 2, "dropped_frames": 1,
            "skipped_bytes": 0, "end": "eof"})
    );
    // Binary payloads: hex, and text null.
    let mut bin = Vec::new();
    lpframe::write_frame(&mut bin, &[0xff, 0x00]).unwrap();
    let events = json_lines(&run(&["decode", "--json"], &bin).stdout);
    assert_eq!(events[0]["payload_hex"], "ff00");
    assert_eq!(events[0]["text"], Value::Null);
}

#[test]
fn send_json_lines_for_replies() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        std::io::Write::write_all(&mut s, &capture()).unwrap();
    });
    let out = run_for(
        &["send", &addr, "--lines", "--wait", "2", "--json"],
        b"hi\n",
        Duration::from_secs(20),
    );
    server.join().unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let events = json_lines(&out.stdout);
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["reply", "error", "reply"], "{events:?}");
    assert_eq!(events[2]["text"], "three");
    assert_eq!(events[2]["offset"], 38);
}

#[test]
fn help_stands_on_its_own() {
    for sub in ["encode", "decode", "inspect", "listen", "send"] {
        let help = String::from_utf8(run(&[sub, "--help"], b"").stdout).unwrap();
        assert!(
            !help.contains("README"),
            "{sub} --help points at a file: {help}"
        );
    }
    let help = String::from_utf8(run(&["inspect", "--help"], b"").stdout).unwrap();
    for field in [
        "preview_hex",
        "raw_hex",
        "canonical",
        "stopped_at",
        "not_checked",
    ] {
        assert!(help.contains(field), "inspect --help lacks {field}");
    }
    let help = String::from_utf8(run(&["send", "--help"], b"").stdout).unwrap();
    assert!(help.contains("--frames"));
}

#[test]
fn counts_in_messages_are_pluralised() {
    let out = run(&["encode", "--max-frame-len", "1"], b"hello");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("(1 byte)"), "{stderr}");
    let out = run(&["encode", "--lines", "--max-frame-len", "1"], b"ab\n");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("line 1 is longer than --max-frame-len (1 byte)"),
        "{stderr}"
    );
}

#[test]
fn listen_json_lines() {
    use std::process::Stdio;
    let mut proc = common::Proc(
        common::bin()
            .args(["listen", "127.0.0.1:0", "--json", "--count", "2"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stdout = common::Pipe::new(proc.stdout.take().unwrap());
    let first: Value = serde_json::from_str(&stdout.line(common::STEP)).unwrap();
    assert_eq!(first["event"], "listening");
    let addr = first["addr"].as_str().unwrap().to_string();
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    let local = s.local_addr().unwrap().to_string();
    let mut wire = Vec::new();
    lpframe::write_frame(&mut wire, b"hi").unwrap();
    lpframe::write_frame(&mut wire, &[0xff]).unwrap();
    std::io::Write::write_all(&mut s, &wire).unwrap();
    let status = common::wait_for(&mut proc, Duration::from_secs(20), "lpframe listen");
    assert!(status.success());
    let events = json_lines(&stdout.rest(common::STEP));
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0]["event"], "frame");
    assert_eq!(events[0]["peer"], local.as_str());
    assert_eq!(events[0]["text"], "hi");
    assert_eq!(events[1]["payload_hex"], "ff");
    assert_eq!(events[1]["text"], Value::Null);
}
