//! Drives the built `lpframe` binary: round trips, golden `inspect` output
//! for every test vector, exit codes, one-line errors, and a listen/send
//! pair on 127.0.0.1. `UPDATE_GOLDEN=1 cargo test -p lpframe-cli`
//! rewrites tests/golden/ (review the diff before committing).

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lpframe"));
    c.env("NO_COLOR", "1");
    c
}

fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A child that fails early (bad arguments, missing file) may exit
    // before reading its input: a broken pipe here is not the test's
    // business, the exit status and output are.
    if let Err(e) = child.stdin.take().unwrap().write_all(stdin) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    child.wait_with_output().unwrap()
}

fn temp(name: &str, data: &[u8]) -> PathBuf {
    let p = std::env::temp_dir().join(format!("lpframe-cli-{}-{name}", std::process::id()));
    std::fs::write(&p, data).unwrap();
    p
}

#[test]
fn encode_then_decode_round_trips() {
    let lines = run(&["encode", "--lines"], b"hello\n\nworld\r\nlast");
    assert!(lines.status.success());
    let back = run(&["decode", "--lines"], &lines.stdout);
    assert!(back.status.success());
    assert_eq!(back.stdout, b"hello\n\nworld\nlast\n");

    // Binary files, one frame each, including an empty one.
    let bin_data: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let a = temp("a.bin", &bin_data);
    let e = temp("empty.bin", b"");
    let enc = run(&["encode", a.to_str().unwrap(), e.to_str().unwrap()], b"");
    assert!(enc.status.success());
    assert_eq!(enc.stdout.len(), 16 + 70_000 + 16);
    let dec = run(&["decode"], &enc.stdout);
    assert!(dec.status.success());
    assert_eq!(dec.stdout, bin_data);
    let hex = run(&["decode", "--hex"], &enc.stdout);
    let text = String::from_utf8(hex.stdout).unwrap();
    assert_eq!(text.lines().count(), 2);
    assert_eq!(text.lines().nth(1), Some(""));
}

struct Vector {
    name: String,
    max: Option<u32>,
    recover: bool,
    input: Vec<u8>,
}

fn vectors() -> Vec<Vector> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/lpf-v1.txt");
    let mut out = Vec::new();
    let mut cur: Option<Vector> = None;
    for line in std::fs::read_to_string(path).unwrap().lines() {
        let (k, v) = line.split_once(' ').unwrap_or((line, ""));
        match k {
            "vector" => {
                cur = Some(Vector {
                    name: v.into(),
                    max: None,
                    recover: false,
                    input: Vec::new(),
                })
            }
            "max" => cur.as_mut().unwrap().max = Some(v.parse().unwrap()),
            "mode" => cur.as_mut().unwrap().recover = v == "recover",
            "input" => {
                let digits: Vec<u8> = v.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
                for pair in digits.chunks(2) {
                    let s = std::str::from_utf8(pair).unwrap();
                    cur.as_mut()
                        .unwrap()
                        .input
                        .push(u8::from_str_radix(s, 16).unwrap());
                }
            }
            "end" => out.push(cur.take().unwrap()),
            _ => {}
        }
    }
    out
}

#[test]
fn inspect_every_vector_matches_its_golden_output() {
    let golden_dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden"));
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let vs = vectors();
    assert!(vs.len() >= 20);
    for v in vs {
        let max = v.max.unwrap_or(lpframe::DEFAULT_MAX_FRAME_LEN).to_string();
        let mut args = vec!["inspect", "--max-frame-len", &max];
        if v.recover {
            args.push("--recover");
        }
        let out = run(&args, &v.input);
        let has_error = !out.status.success();
        let mut text = String::from_utf8(out.stdout).unwrap();
        text.push_str(&format!("exit status: {}\n", out.status.code().unwrap()));
        assert!(
            !text.contains('\x1b'),
            "colour codes when stdout is not a terminal"
        );
        let golden = golden_dir.join(format!("{}.txt", v.name));
        if update {
            std::fs::write(&golden, &text).unwrap();
        } else {
            let want = std::fs::read_to_string(&golden)
                .unwrap_or_else(|_| panic!("missing {}", golden.display()));
            assert_eq!(text, want, "inspect output of vector {} changed", v.name);
        }
        // JSON: one object per line, the last one the summary.
        args.push("--json");
        let json = run(&args, &v.input);
        let json = String::from_utf8(json.stdout).unwrap();
        assert!(
            json.lines().all(|l| l.starts_with('{') && l.ends_with('}')),
            "{json}"
        );
        assert!(json
            .lines()
            .last()
            .unwrap()
            .contains("\"kind\":\"summary\""));
        // A skipped range counts as an error for the exit status.
        assert_eq!(
            has_error,
            json.contains("\"kind\":\"error\"") || json.contains("\"kind\":\"skipped\""),
            "vector {}",
            v.name
        );
    }
}

#[test]
fn errors_are_one_line_with_the_right_exit_status() {
    // Corrupted input: exit 1, each error on one line with its offset.
    let mut wire = run(&["encode", "--lines"], b"one\ntwo\n").stdout;
    wire[17] ^= 1;
    let out = run(&["decode", "--lines"], &wire);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(out.stdout, b"two\n");
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("lpframe: error at offset 0: payload checksum mismatch"),
        "{err}"
    );

    // Missing file, unreachable address: exit 1, one line, no panic.
    for args in [
        vec!["decode", "/nonexistent/lpframe-test"],
        vec!["send", "127.0.0.1:1", "--lines"],
    ] {
        let out = run(&args, b"x\n");
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("lpframe: ") && !err.contains("panicked"),
            "{err}"
        );
    }
    // Bad arguments: exit 2.
    assert_eq!(run(&["decode", "--bogus"], b"").status.code(), Some(2));
    assert_eq!(run(&["nosuchcommand"], b"").status.code(), Some(2));
    // Every subcommand has help with an example.
    for sub in ["encode", "decode", "inspect", "listen", "send"] {
        let out = run(&[sub, "--help"], b"");
        assert!(out.status.success());
        assert!(
            String::from_utf8(out.stdout).unwrap().contains("Examples:"),
            "{sub}"
        );
    }
}

#[test]
fn inspect_recover_lists_what_was_skipped() {
    let good = run(&["encode", "--lines"], b"alpha\nbeta\n").stdout;
    let mut damaged = good.clone();
    damaged.extend_from_slice(b"some garbage in between");
    damaged.extend_from_slice(&good);
    let plain = run(&["inspect"], &damaged);
    assert_eq!(plain.status.code(), Some(1));
    let rec = run(&["inspect", "--recover"], &damaged);
    let text = String::from_utf8(rec.stdout).unwrap();
    assert!(text.contains("skipped 23 bytes"), "{text}");
    assert!(text.contains("summary: 4 frames"), "{text}");
}

#[test]
fn listen_and_send_over_loopback() {
    let mut server = bin()
        .args(["listen", "127.0.0.1:0", "--echo", "--count", "3", "--lines"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first
        .strip_prefix("listening on ")
        .expect(&first)
        .to_string();
    assert!(addr.starts_with("127.0.0.1:"));
    let out = run(
        &["send", &addr, "--lines", "--wait", "3"],
        b"one\ntwo\nthree\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"one\ntwo\nthree\n");
    let printed: Vec<String> = lines.map(Result::unwrap).collect();
    assert_eq!(printed, ["one", "two", "three"]);
    assert!(server.wait().unwrap().success());
}
