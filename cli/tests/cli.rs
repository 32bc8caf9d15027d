//! Drives the built `lpframe` binary: round trips, golden `inspect` output
//! (text and JSON) for every test vector, the check columns, the events
//! against the vectors' own, exit statuses, messages, and closed or
//! failing standard output. `UPDATE_GOLDEN=1 cargo test -p lpframe-cli`
//! rewrites tests/golden/ (review the diff before committing).

mod common;

use std::path::PathBuf;
use std::process::Stdio;

use common::{bin, feed, frames, read_then_close, run, spawn, temp, wait_for, Pipe, Proc, STEP};
use serde_json::Value;

fn golden_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden"))
}

fn update_golden() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some()
}

/// Compares `text` with golden file `name`, or rewrites it.
fn check_golden(name: &str, text: &str) {
    let golden = golden_dir().join(name);
    if update_golden() {
        std::fs::write(&golden, text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&golden)
        .unwrap_or_else(|_| panic!("missing {} (UPDATE_GOLDEN=1 writes it)", golden.display()));
    assert_eq!(text, want, "output differs from {}", golden.display());
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

/// A test vector of tests/vectors/lpf-v1.txt with its expected events.
struct Vector {
    name: String,
    max: Option<u32>,
    recover: bool,
    input: Vec<u8>,
    /// `Ok(payload)` for a frame, `Err(canonical text)` for an error.
    events: Vec<Result<Vec<u8>, String>>,
}

/// The vectors, read by the project's one parser (`testkit::vectors`).
fn vectors() -> Vec<Vector> {
    let out: Vec<Vector> = testkit::vectors::all()
        .into_iter()
        .map(|v| Vector {
            name: v.name,
            max: Some(v.max),
            recover: v.recover,
            input: v.input,
            events: v.events.iter().map(testkit::Event::as_expected).collect(),
        })
        .collect();
    assert!(out.len() >= 40, "{} vectors", out.len());
    out
}

fn inspect_args(v: &Vector) -> Vec<String> {
    let max = v.max.unwrap_or(lpframe::DEFAULT_MAX_FRAME_LEN).to_string();
    let mut args = vec!["inspect".to_string(), "--max-frame-len".into(), max];
    if v.recover {
        args.push("--recover".into());
    }
    args
}

fn json_lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8(stdout.to_vec())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn inspect_every_vector_matches_its_golden_output() {
    for v in vectors() {
        let args = inspect_args(&v);
        let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
        let text = run(&args, &v.input);
        assert!(
            text.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&text.stderr)
        );
        args.push("--json");
        let json = run(&args, &v.input);
        assert_eq!(json.status.code(), text.status.code(), "{}", v.name);
        let mut golden = String::from_utf8(text.stdout).unwrap();
        assert!(
            !golden.contains('\x1b'),
            "colour codes when stdout is not a terminal"
        );
        golden.push_str(&format!(
            "exit status: {}\n--- --json\n",
            text.status.code().unwrap()
        ));
        golden.push_str(&String::from_utf8(json.stdout).unwrap());
        check_golden(&format!("{}.txt", v.name), &golden);
    }
}

/// The JSON events are the vectors' events, in order, with the vectors'
/// canonical error texts; the summary counts them; the exit status says
/// whether the stream ended clean (0), with errors along the way (3), or
/// at a fatal error (1).
#[test]
fn inspect_json_events_are_the_vectors_events() {
    for v in vectors() {
        let mut args = inspect_args(&v);
        args.push("--json".into());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(&args, &v.input);
        let events = json_lines(&out.stdout);
        let (summary, listed) = events.split_last().expect("at least a summary");
        assert_eq!(summary["event"], "summary", "{}", v.name);
        assert_eq!(listed.len(), v.events.len(), "{}: {listed:?}", v.name);
        let mut fatal = false;
        for (got, want) in listed.iter().zip(&v.events) {
            match want {
                Ok(payload) => {
                    assert_eq!(got["event"], "frame", "{}", v.name);
                    assert_eq!(got["length"], payload.len(), "{}", v.name);
                    let preview: String = payload
                        .iter()
                        .take(64)
                        .map(|b| format!("{b:02x}"))
                        .collect();
                    assert_eq!(got["preview_hex"], preview.as_str(), "{}", v.name);
                    for check in got["checks"].as_object().unwrap().values() {
                        assert_eq!(check, "ok", "{}", v.name);
                    }
                }
                Err(canonical) => {
                    let kind = if canonical.starts_with("Skipped") {
                        "skipped"
                    } else {
                        "error"
                    };
                    assert_eq!(got["event"], kind, "{}", v.name);
                    assert_eq!(got["canonical"], canonical.as_str(), "{}", v.name);
                    let name = canonical.split(' ').next().unwrap();
                    if kind == "error" {
                        assert_eq!(got["error"], name, "{}", v.name);
                        fatal |= got["fatal"] == true;
                    }
                }
            }
        }
        let frames = v.events.iter().filter(|e| e.is_ok()).count();
        let errors = v.events.len() - frames;
        assert_eq!(summary["frames"], frames, "{}", v.name);
        assert_eq!(summary["errors"], errors, "{}", v.name);
        assert_eq!(
            summary["end"],
            if fatal { "fatal" } else { "eof" },
            "{}",
            v.name
        );
        let want = if fatal {
            1
        } else if errors > 0 {
            3
        } else {
            0
        };
        assert_eq!(out.status.code(), Some(want), "{}", v.name);
        if !fatal {
            assert_eq!(summary["input_bytes"], v.input.len(), "{}", v.name);
        }
    }
}

/// `inspect --json` on `input`: the first event.
fn first_event(input: &[u8], max: Option<u32>) -> Value {
    let max = max.unwrap_or(lpframe::DEFAULT_MAX_FRAME_LEN).to_string();
    let out = run(&["inspect", "--json", "--max-frame-len", &max], input);
    json_lines(&out.stdout).remove(0)
}

fn checks(event: &Value) -> [String; 6] {
    [
        "magic",
        "version",
        "header_crc",
        "flags",
        "length",
        "payload_crc",
    ]
    .map(|c| event["checks"][c].as_str().unwrap().to_string())
}

/// A header for `payload` with this version and flags, and the header CRC
/// that is right for those bytes.
fn header_with(version: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut bytes = lpframe::Header::for_payload(payload).unwrap().to_bytes();
    bytes[2] = version;
    bytes[3] = flags;
    let crc = lpframe::Header::from_bytes(&bytes).computed_header_crc();
    bytes[12..].copy_from_slice(&crc.to_be_bytes());
    let mut wire = bytes.to_vec();
    wire.extend_from_slice(payload);
    wire
}

#[test]
fn inspect_columns_follow_the_check_order_truthfully() {
    let v = vectors();
    let input = |name: &str| v.iter().find(|v| v.name == name).unwrap().input.clone();
    let ok = "ok";
    let bad = "bad";
    let nc = "not_checked";
    // A version-2 frame with a right CRC: the CRC is judged on its own.
    let e = first_event(&input("unsupported_version_2"), None);
    assert_eq!(checks(&e), [ok, bad, ok, nc, nc, nc]);
    assert_eq!(e["version"], 2);
    // Version 2 and a wrong CRC: both bad, in that order.
    let e = first_event(&input("version_before_header_crc"), None);
    assert_eq!(checks(&e), [ok, bad, bad, nc, nc, nc]);
    // Flags 0x80 with a right CRC.
    let e = first_event(&header_with(1, 0x80, b"hello"), None);
    assert_eq!(e["error"], "ReservedFlags");
    assert_eq!(checks(&e), [ok, ok, ok, bad, nc, nc]);
    assert_eq!(e["flags"], 0x80);
    // A corrupted header: flags and length are not trusted, not checked.
    let e = first_event(&input("header_checksum_length_bitflip"), None);
    assert_eq!(checks(&e), [ok, ok, bad, nc, nc, nc]);
    // Too large: everything before the length passed.
    let e = first_event(&input("frame_too_large_4gib"), None);
    assert_eq!(checks(&e), [ok, ok, ok, ok, bad, nc]);
    // A corrupt payload under a verified header.
    let e = first_event(&input("payload_checksum_then_valid"), None);
    assert_eq!(checks(&e), [ok, ok, ok, ok, ok, bad]);
    // A truncated payload: its CRC was never checked.
    let e = first_event(&input("truncated_payload"), None);
    assert_eq!(checks(&e), [ok, ok, ok, ok, ok, nc]);
    // A truncated header: the magic and version were checked as they
    // arrived, nothing else.
    let e = first_event(&input("truncated_header"), None);
    assert_eq!(checks(&e), [ok, ok, nc, nc, nc, nc]);
    assert_eq!(e["length"], Value::Null);
    let e = first_event(&input("magic_byte_then_eof"), None);
    assert_eq!(checks(&e), [nc, nc, nc, nc, nc, nc]);
    // Bytes that fail the magic: raw bytes, no fields.
    let e = first_event(&input("bad_magic_http"), None);
    assert_eq!(checks(&e), [bad, nc, nc, nc, nc, nc]);
    assert_eq!(e["raw_hex"], "474554202f20485454502f312e310d0a");
    for field in ["version", "flags", "length", "payload_crc", "header_crc"] {
        assert_eq!(e[field], Value::Null, "{field}");
    }
    // In text: a raw row, with no misaligned fields.
    let out = run(&["inspect"], &input("bad_magic_http"));
    let text = String::from_utf8(out.stdout).unwrap();
    let row = text.lines().nth(2).unwrap();
    assert!(row.contains("4745 BAD  raw 47 45 54 20"), "{row}");
    let fields = row.split("bad magic").next().unwrap();
    assert!(!fields.contains("0x") && !fields.contains(" ok"), "{row}");
    // A recovery skip shows the header that started it.
    let e = first_event(&input("recover_corrupt_header"), None);
    assert_eq!(e["event"], "frame");
    let mut args = vec!["inspect", "--json", "--recover"];
    let out = run(&args, &input("recover_corrupt_header"));
    let skip = &json_lines(&out.stdout)[1];
    assert_eq!(skip["event"], "skipped");
    assert_eq!(skip["cause"], "HeaderChecksum");
    assert_eq!(checks(skip), [ok, ok, bad, nc, nc, nc]);
    args.pop();
    args.pop();
    let text = String::from_utf8(run(&args, &header_with(2, 0, b"hello")).stdout).unwrap();
    assert!(text.contains("2 BAD    0x9573bf02 ok"), "{text}");
}

/// The golden text of the flags-0x80 frame, with a right CRC.
#[test]
fn inspect_flags_0x80_golden() {
    let out = run(&["inspect"], &header_with(1, 0x80, b"hello"));
    let mut text = String::from_utf8(out.stdout).unwrap();
    text.push_str(&format!("exit status: {}\n", out.status.code().unwrap()));
    check_golden("cli_reserved_flags_0x80_right_crc.txt", &text);
}

/// `127.0.0.1:PORT` for any port but 1 (the fixed unreachable one).
fn any_port(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some((head, tail)) = rest.split_once("127.0.0.1:") {
        let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
        let port = &tail[..digits];
        out.push_str(head);
        out.push_str("127.0.0.1:");
        out.push_str(if port == "1" { "1" } else { "PORT" });
        rest = &tail[digits..];
    }
    out.push_str(rest);
    out
}

/// Every error message once, naming its file or address, pluralised, with
/// the exit statuses: a transcript in tests/golden/cli_messages.txt.
#[test]
fn messages_and_exit_statuses_match_the_transcript() {
    let one_two = run(&["encode", "--lines"], b"one\ntwo\n").stdout;
    let mut corrupt = one_two.clone();
    corrupt[17] ^= 1; // "one" -> "nne"
    let mut two_corrupt = corrupt.clone();
    two_corrupt[16 + 3 + 16] ^= 1;
    let mut garbage = one_two.clone();
    garbage.extend_from_slice(b"x");
    garbage.extend_from_slice(&one_two);
    let mut truncated = one_two.clone();
    truncated.extend_from_slice(&one_two[..15]);
    let frames_file = temp("frames.lpf", &one_two);
    let frames_path = frames_file.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &[u8])> = vec![
        (vec!["decode", "/tmp"], b""),
        (vec!["inspect", "/tmp"], b""),
        (vec!["encode", "/tmp"], b""),
        (vec!["decode", "/nonexistent/lpframe-test"], b""),
        (vec!["decode", "--lines", frames_path], b""),
        (vec!["decode", "--lines"], &corrupt),
        (vec!["decode", "--lines"], &two_corrupt),
        (vec!["decode", "--lines"], &garbage),
        (vec!["decode", "--lines", "--recover"], &garbage),
        (vec!["decode", "--lines"], &truncated),
        (vec!["decode", "--lines", "--recover"], &truncated),
        (vec!["decode", "--max-frame-len", "1"], &one_two),
        (vec!["inspect", "--recover"], &garbage),
        (vec!["encode", "--max-frame-len", "4"], b"hello"),
        (vec!["encode", "--max-frame-len", "4"], b"hell"),
        (
            vec!["encode", "--lines", "--max-frame-len", "4"],
            b"ok\r\nfour\r\ntoolong\nnever\n",
        ),
        (vec!["send", "127.0.0.1:1", "--lines"], b"x\n"),
        (vec!["listen", "256.0.0.1:0"], b""),
        (vec!["listen", "127.0.0.1:0", "--count", "0"], b""),
    ];
    let mut transcript = String::new();
    for (args, stdin) in cases {
        let out = run(&args, stdin);
        let shown = args.join(" ").replace(frames_path, "$TMP/frames.lpf");
        transcript.push_str(&format!("$ lpframe {shown}\n"));
        if !stdin.is_empty() {
            transcript.push_str(&format!("  stdin: {} bytes\n", stdin.len()));
        }
        match String::from_utf8(out.stdout.clone()) {
            Ok(text) if !text.bytes().any(|b| b < b' ' && b != b'\n') => {
                for line in text.lines() {
                    transcript.push_str(&format!("  stdout: {}\n", any_port(line)));
                }
            }
            _ => transcript.push_str(&format!("  stdout: {} bytes\n", out.stdout.len())),
        }
        let stderr = String::from_utf8(out.stderr).unwrap();
        for line in stderr.lines() {
            let line = line.replace(frames_path, "$TMP/frames.lpf");
            transcript.push_str(&format!("  stderr: {}\n", any_port(&line)));
        }
        transcript.push_str(&format!("  exit status: {}\n", out.status.code().unwrap()));
        // Each error once: no line repeats another's message.
        let mut seen = std::collections::HashSet::new();
        for line in stderr.lines() {
            assert!(seen.insert(line), "printed twice: {line}");
            assert!(!line.contains("Caused by"), "{line}");
            assert!(!line.contains("panicked"), "{line}");
        }
    }
    check_golden("cli_messages.txt", &transcript);
}

#[test]
fn usage_errors_exit_2_and_every_subcommand_has_help_with_examples() {
    assert_eq!(run(&["decode", "--bogus"], b"").status.code(), Some(2));
    assert_eq!(run(&["nosuchcommand"], b"").status.code(), Some(2));
    assert_eq!(
        run(&["listen", "127.0.0.1:0", "--idle-timeout", "-1"], b"")
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        run(&["send", "127.0.0.1:1", "--timeout", "soon"], b"")
            .status
            .code(),
        Some(2)
    );
    let top = String::from_utf8(run(&["--help"], b"").stdout).unwrap();
    for code in [
        "  0  success",
        "  1  failure",
        "  2  usage",
        "  3  finished",
        "  4  timed out",
    ] {
        assert!(top.contains(code), "{top}");
    }
    for sub in ["encode", "decode", "inspect", "listen", "send"] {
        let out = run(&[sub, "--help"], b"");
        assert!(out.status.success());
        let help = String::from_utf8(out.stdout).unwrap();
        assert!(help.contains("Examples:"), "{sub}");
        assert!(help.contains("Exit status:"), "{sub}");
    }
}

/// `lpframe ARGS > pipe` whose reader takes `keep` bytes and closes it
/// while `input` is still being fed: exit 0, nothing on stderr.
fn closed_stdout(args: &[&str], input: Vec<u8>, keep: usize) {
    let mut child = spawn(args);
    let feeder = feed(child.stdin.take().unwrap(), input);
    let stderr = Pipe::new(child.stderr.take().unwrap());
    let head = read_then_close(child.stdout.take().unwrap(), move |b| b.len() >= keep);
    let head = head.recv_timeout(STEP).expect("no output in time");
    assert_eq!(head.map(|h| h.len()), Some(keep), "{args:?}");
    let status = wait_for(&mut child, STEP, args);
    feeder.join().unwrap();
    let stderr = stderr.rest_text(STEP);
    assert_eq!((status.code(), stderr.as_str()), (Some(0), ""), "{args:?}");
}

#[test]
fn a_closed_stdout_ends_every_file_subcommand_quietly() {
    // 32 MiB of lines and of frames: far more than a pipe holds.
    let lines = b"a line of text\n".repeat(32 << 20 >> 4);
    let wire = frames(&[7u8; 4096], 8192);
    closed_stdout(&["encode", "--lines"], lines.clone(), 10);
    closed_stdout(&["encode"], lines[..1 << 20].to_vec(), 10);
    closed_stdout(&["decode"], wire.clone(), 10);
    closed_stdout(&["decode", "--hex"], wire.clone(), 10);
    closed_stdout(&["inspect"], wire.clone(), 10);
    closed_stdout(&["inspect", "--json"], wire, 10);
}

#[test]
fn a_failing_stdout_is_an_error_named_once() {
    let wire = frames(b"payload", 10);
    for args in [vec!["inspect"], vec!["decode"], vec!["encode", "--lines"]] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let mut child = Proc(
            bin()
                .args(&args)
                .stdin(Stdio::piped())
                .stdout(full)
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let feeder = feed(child.stdin.take().unwrap(), wire.clone());
        let stderr = Pipe::new(child.stderr.take().unwrap());
        let status = wait_for(&mut child, STEP, &args);
        feeder.join().unwrap();
        let stderr = stderr.rest_text(STEP);
        assert_eq!(status.code(), Some(1), "{args:?}");
        assert_eq!(
            stderr, "lpframe: standard output: No space left on device (os error 28)\n",
            "{args:?}"
        );
    }
}
