//! The tester against echo peers, in process: a conforming one, the lpframe
//! echo example, the Python implementation's echo server (when it has one),
//! and peers that each break one rule (tests/peer.rs). For every case of
//! the tester some broken peer makes exactly that case fail (or warn, for a
//! SHOULD) while the cases unrelated to its defect pass: each test asserts
//! the exact set of cases that do not pass.

mod peer;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::RwLock;
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;

use peer::{Defect, Peer, Settings};

/// The broken peers' limit and timeouts, passed on to the tester.
const MAX: u32 = 2 << 20;
const IDLE: Duration = Duration::from_secs(2);
const STALL: Duration = Duration::from_secs(3);
/// The seed of every run, so that a failure repeats.
const SEED: &str = "7";
/// A conform run that takes longer than this is killed (a tester bug).
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// The memory case reads this process's RSS (the in-process peers' memory):
/// it runs alone, the other runs share.
static MEMORY: RwLock<()> = RwLock::new(());

fn settings(defect: Defect) -> Settings {
    Settings {
        max: MAX,
        idle: IDLE,
        stall: STALL,
        defect,
    }
}

/// One run of `lpframe conform --json`.
struct Run {
    /// Case id to status (`pass`, `fail`, `warning`, `skipped`).
    statuses: BTreeMap<String, String>,
    summary: serde_json::Value,
    status: ExitCode,
    stdout: String,
}

impl Run {
    fn non_passing(&self) -> BTreeMap<String, String> {
        self.statuses
            .iter()
            .filter(|(_, s)| *s != "PASS")
            .map(|(id, s)| (id.clone(), s.clone()))
            .collect()
    }
}

/// Kills a child process when dropped.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `lpframe conform`'s arguments, parsed as the CLI parses them.
#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: lpframe_conform::Args,
}

/// `lpframe conform ADDR ARGS...`, run in this process (as the CLI runs
/// it): its exit status and report.
fn run_text(addr: &str, args: &[&str]) -> (ExitCode, String) {
    let cli = Cli::try_parse_from(["conform", addr].iter().chain(args)).expect("arguments");
    let mut out = Vec::new();
    let status = lpframe_conform::run_with(cli.args, &mut out).expect("a run");
    (status, String::from_utf8(out).expect("utf-8"))
}

fn conform(addr: &str, args: &[&str]) -> Run {
    let started = Instant::now();
    let mut all = vec!["--json", "--seed", SEED];
    all.extend(args);
    let (status, stdout) = run_text(addr, &all);
    assert!(
        started.elapsed() < RUN_LIMIT,
        "lpframe conform ran for over {RUN_LIMIT:?}"
    );
    let mut statuses = BTreeMap::new();
    let mut summary = serde_json::Value::Null;
    for line in stdout.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        match v["type"].as_str() {
            Some("case") => {
                let id = v["id"].as_str().expect("id").to_string();
                let s = v["status"].as_str().expect("status").to_string();
                assert!(statuses.insert(id, s).is_none(), "a case reported twice");
            }
            Some("summary") => summary = v,
            Some("header") => assert!(statuses.is_empty(), "the header comes first"),
            other => panic!("unexpected object type {other:?}"),
        }
    }
    assert_eq!(summary["cases"].as_u64(), Some(statuses.len() as u64));
    eprintln!(
        "conform {addr} {args:?}: {} in {:.1} s",
        summary,
        started.elapsed().as_secs_f64()
    );
    Run {
        statuses,
        summary,
        status,
        stdout,
    }
}

/// `status id` lines; `vector/NAME/*` stands for its three cuts.
fn expand(specs: &[&str]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for spec in specs {
        let (status, id) = spec.split_once(' ').expect("'status id'");
        match id.strip_suffix("/*") {
            Some(stem) => {
                for cut in ["whole", "bytes", "split"] {
                    out.insert(format!("{stem}/{cut}"), status.to_string());
                }
            }
            None => {
                out.insert(id.to_string(), status.to_string());
            }
        }
    }
    out
}

/// What a conforming peer with these settings does not pass: vectors that
/// assume another limit, and the memory case without --pid.
const SETTINGS_SKIPS: &[&str] = &[
    "SKIP vector/frame_too_large_limit/*",
    "SKIP vector/max_zero_rejects_one_byte/*",
    "SKIP memory/declared",
];

const TIMEOUT_ARGS: [&str; 8] = [
    "--max",
    "2097152",
    "--stall-timeout",
    "3",
    "--idle-timeout",
    "2",
    "--jobs",
    "8",
];

/// What a peer with `defect` does not pass in a full run with
/// [`settings`] and [`TIMEOUT_ARGS`], beyond [`SETTINGS_SKIPS`]: the cases
/// that must fail or warn, and the `racy` ones that may fail or pass
/// (whether they meet the defect depends on how TCP coalesces the
/// tester's writes into the peer's reads).
fn expectations(defect: Defect) -> (Vec<String>, Vec<String>) {
    let specs = |s: &[&str]| -> Vec<String> { s.iter().map(|x| x.to_string()).collect() };
    let expected = match defect {
        Defect::None => vec![],
        Defect::AfterFatal => specs(&[
            "FAIL vector/fatal_then_valid_frame/*",
            "FAIL fatal/frame-after-error",
        ]),
        Defect::LateMagic => specs(&[
            "WARN foreign/http",
            "WARN vector/short_bad_magic/*",
            "WARN vector/short_bad_version/*",
        ]),
        Defect::ResetOnClose => specs(&[
            "WARN close/orderly",
            "WARN foreign/http",
            "WARN foreign/tls",
            "WARN timeout/stall",
            "WARN timeout/idle",
        ]),
        Defect::NoDrain => specs(&["WARN foreign/http", "WARN foreign/tls"]),
        // When the corrupt frame is the last and the tester's end of stream
        // comes with it (`whole`), a close on the corrupt frame looks like
        // the close after the end of stream: only the other cuts tell.
        Defect::CloseOnCorrupt => specs(&[
            "FAIL vector/payload_checksum_then_valid/*",
            "FAIL vector/payload_checksum_last_frame/bytes",
            "FAIL vector/payload_checksum_last_frame/split",
            "FAIL vector/empty_payload_nonzero_crc/*",
            "FAIL skip/corrupt-payload",
        ]),
        Defect::EchoCorrupt => specs(&[
            "FAIL vector/payload_checksum_then_valid/*",
            "FAIL vector/payload_checksum_last_frame/*",
            "FAIL vector/empty_payload_nonzero_crc/*",
            "FAIL skip/corrupt-payload",
        ]),
        Defect::ShortAtEof => specs(&[
            "FAIL vector/truncated_payload/*",
            "FAIL vector/truncated_payload_none/*",
        ]),
        Defect::OnePerRead => specs(&[
            "FAIL vector/multi_frame_stream/whole",
            "FAIL vector/payload_checksum_then_valid/whole",
            "FAIL vector/empty_payload_nonzero_crc/whole",
            "FAIL vector/valid_then_bad_magic/whole",
            "FAIL pipeline/10000",
            "FAIL close/orderly",
            "FAIL flow/unread",
        ]),
        Defect::NoStall => specs(&["FAIL timeout/stall"]),
        Defect::NoIdle => specs(&["FAIL timeout/idle"]),
        // It closes a frame after 50 ms of silence: the trickle, the
        // header followed by silence (closed early), and every unfinished
        // frame the tester holds open before its end of stream.
        Defect::TrickleTimeout => with(
            all_cuts_but_whole("FAIL", VECTORS_TRUNCATED),
            &[
                "FAIL timeout/trickle",
                "FAIL timeout/stall",
                // The frame its blocked write interrupted has paused.
                "FAIL flow/unread",
            ],
        ),
        Defect::RefusesMax => specs(&["FAIL payload/max"]),
        Defect::AcceptsOverMax => specs(&["FAIL limit/over-max"]),
        // Without --pid; see a_peer_that_touches_memory_for_the_declared_length.
        Defect::TouchesDeclared => vec![],
        Defect::Withholds => specs(&[
            "FAIL skip/corrupt-payload",
            "FAIL vector/payload_checksum_last_frame/whole",
        ]),
        Defect::EmptyDropped => specs(&[
            "FAIL vector/empty_payload/*",
            "FAIL vector/multi_frame_stream/*",
            "FAIL vector/max_zero_empty_frame/*",
            "FAIL payload/sizes",
        ]),
        Defect::Mute => with(
            all_cuts("FAIL", VECTORS_WITH_ECHOES),
            &[
                "FAIL payload/sizes",
                "FAIL payload/max",
                "FAIL pipeline/10000",
                "FAIL skip/corrupt-payload",
                "FAIL fatal/frame-after-error",
                "FAIL connections/concurrent",
                "FAIL close/orderly",
                "FAIL flow/unread",
                "FAIL timeout/trickle",
            ],
        ),
        Defect::IgnoresEof => with(
            all_cuts("FAIL", VECTORS_ENDED_BY_EOF),
            &[
                "FAIL payload/sizes",
                "FAIL payload/max",
                "FAIL pipeline/10000",
                "FAIL skip/corrupt-payload",
                "FAIL connections/concurrent",
                "FAIL flow/unread",
                "FAIL timeout/trickle",
            ],
        ),
        Defect::LengthBeforeCrc => specs(&[
            "FAIL fatal/header-crc-long-length",
            "FAIL vector/header_checksum_length_grows/*",
        ]),
        Defect::MagicFirstByte => specs(&[
            "FAIL vector/single_zero_byte/bytes",
            "FAIL vector/single_zero_byte/split",
        ]),
        // Its frames may last half the stall timeout: the trickle's last
        // longer.
        Defect::EarlyStall => specs(&["FAIL timeout/stall", "FAIL timeout/trickle"]),
        Defect::EarlyIdle => specs(&["FAIL timeout/idle"]),
        Defect::StallNotRearmed => specs(&["FAIL timeout/trickle"]),
        // Without --pid; see a_peer_that_queues_echoes_without_bound.
        Defect::UnboundedQueue => vec![],
        // Run with --jobs 1 (see check): one case at a time.
        Defect::Sequential => specs(&["FAIL connections/concurrent"]),
        Defect::NoCloseOnFatal => {
            let mut e = all_cuts("FAIL", VECTORS_FATAL);
            e.extend(all_cuts("WARN", &["short_bad_magic", "short_bad_version"]));
            with(
                e,
                &[
                    "WARN foreign/http",
                    "FAIL foreign/tls",
                    "FAIL fatal/frame-after-error",
                    "FAIL close/orderly",
                    "FAIL limit/over-max",
                    "FAIL fatal/header-crc-long-length",
                ],
            )
        }
    };
    let racy = match defect {
        Defect::OnePerRead => specs(&[
            "FAIL vector/multi_frame_stream/bytes",
            "FAIL vector/multi_frame_stream/split",
            "FAIL vector/payload_checksum_then_valid/bytes",
            "FAIL vector/payload_checksum_then_valid/split",
            "FAIL vector/empty_payload_nonzero_crc/bytes",
            "FAIL vector/empty_payload_nonzero_crc/split",
            "FAIL vector/valid_then_bad_magic/bytes",
            "FAIL vector/valid_then_bad_magic/split",
            "FAIL vector/payload_checksum_last_frame/split",
            "FAIL vector/truncated_after_valid_frame/bytes",
            "FAIL vector/truncated_after_valid_frame/split",
        ]),
        Defect::Withholds => specs(&["FAIL vector/payload_checksum_last_frame/split"]),
        // Whether a frame was in progress when its write blocked, and
        // whether the run outlasts its deadline, depends on the socket
        // buffers. And the tester may spend up to half the stall timeout
        // on one frame (A.2), the very time after which EarlyStall cuts
        // it: on a loaded machine the 1,040 one-byte writes of
        // payload_1024 take that long.
        Defect::EarlyStall => specs(&[
            "FAIL flow/unread",
            "FAIL vector/payload_1024/bytes",
            "FAIL vector/payload_1024/split",
        ]),
        Defect::StallNotRearmed => specs(&["FAIL flow/unread"]),
        _ => vec![],
    };
    (expected, racy)
}

/// Runs the whole suite against a peer with `defect` and checks that the
/// cases that do not pass are exactly its [`expectations`] (plus the
/// settings' skips).
fn check(defect: Defect) {
    let _shared = MEMORY.read().unwrap_or_else(|e| e.into_inner());
    let peer = Peer::start(settings(defect));
    let mut args = TIMEOUT_ARGS;
    if defect == Defect::Sequential {
        // Cases run at once would queue behind each other.
        args[7] = "1";
    }
    let run = conform(&peer.addr.to_string(), &args);
    print_mutants(defect, &run);
    let (expected, racy) = expectations(defect);
    let mut want = expand(SETTINGS_SKIPS);
    want.extend(expand(&refs(&expected)));
    let mut got = run.non_passing();
    for (id, status) in &expand(&refs(&racy)) {
        if got.get(id) == Some(status) {
            eprintln!("{defect:?}: {id}: {status} (racy: depends on how reads coalesce)");
            got.remove(id);
        }
    }
    assert_same(&got, &want, &format!("{defect:?}"), &run);
    assert_exit_status(&run);
}

/// What each non-passing case said, for the mutation table of the crate's
/// docs (shown with --nocapture).
fn print_mutants(defect: Defect, run: &Run) {
    for line in run.stdout.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("JSON");
        if v["type"] == "case" && v["status"] != "PASS" {
            eprintln!(
                "MUTANT {defect:?} | {} | {} | {}",
                v["id"].as_str().unwrap_or_default(),
                v["status"].as_str().unwrap_or_default(),
                v["actual"]
                    .as_str()
                    .or(v["reason"].as_str())
                    .unwrap_or_default()
            );
        }
    }
}

/// `got == want`, or a message listing the differences and the report.
fn assert_same(
    got: &BTreeMap<String, String>,
    want: &BTreeMap<String, String>,
    what: &str,
    run: &Run,
) {
    let diff = |a: &BTreeMap<String, String>, b: &BTreeMap<String, String>| -> Vec<String> {
        a.iter()
            .filter(|(k, v)| b.get(*k) != Some(*v))
            .map(|(k, v)| format!("{v} {k}"))
            .collect()
    };
    let (unexpected, missing) = (diff(got, want), diff(want, got));
    assert!(
        unexpected.is_empty() && missing.is_empty(),
        "{what}: not passing but not expected: {unexpected:#?}\nexpected but not so: {missing:#?}\n{}",
        run.stdout
    );
}

/// Exit status 1 exactly when a case failed; the summary counts agree.
fn assert_exit_status(run: &Run) {
    let count = |s: &str| run.statuses.values().filter(|v| *v == s).count() as u64;
    for (key, status) in [
        ("passed", "PASS"),
        ("failed", "FAIL"),
        ("warnings", "WARN"),
        ("skipped", "SKIP"),
    ] {
        assert_eq!(run.summary[key].as_u64(), Some(count(status)), "{key}");
    }
    let code = if count("FAIL") > 0 { 1 } else { 0 };
    assert_eq!(run.status, ExitCode::from(code), "{}", run.stdout);
}

/// Vectors whose input carries at least one frame to echo.
const VECTORS_WITH_ECHOES: &[&str] = &[
    "empty_payload",
    "hello",
    "binary_256",
    "payload_1024",
    "multi_frame_stream",
    "max_len_exact",
    "payload_checksum_then_valid",
    "truncated_after_valid_frame",
    "payload_checksum_last_frame",
    "valid_then_bad_magic",
    "empty_payload_nonzero_crc",
    "max_zero_empty_frame",
];

/// Vectors that end at the tester's end of stream (cleanly or inside a
/// frame): the peer must close after it.
const VECTORS_ENDED_BY_EOF: &[&str] = &[
    "empty_payload",
    "hello",
    "binary_256",
    "payload_1024",
    "multi_frame_stream",
    "max_len_exact",
    "payload_checksum_then_valid",
    "truncated_header",
    "truncated_payload",
    "truncated_after_valid_frame",
    "single_zero_byte",
    "truncated_payload_none",
    "empty_input",
    "payload_checksum_last_frame",
    "empty_payload_nonzero_crc",
    "magic_byte_then_eof",
    "magic_then_eof",
    "header_15_bytes",
    "max_zero_empty_frame",
];

/// Vectors with a fatal error in a complete header: the peer must close
/// without the tester's end of stream.
const VECTORS_FATAL: &[&str] = &[
    "bad_magic_zero",
    "bad_magic_http",
    "bad_magic_tls",
    "bad_magic_ssh",
    "unsupported_version_2",
    "unsupported_version_0",
    "version_before_header_crc",
    "header_checksum_length_bitflip",
    "header_checksum_field_corrupt",
    "header_crc_before_flags",
    "reserved_flags",
    "frame_too_large_4gib",
    "flags_before_length",
    "valid_then_bad_magic",
    "fatal_then_valid_frame",
    "bad_second_magic_byte",
    "header_checksum_length_grows",
];

/// Vectors whose input ends inside a frame that failed no check: the peer
/// must keep the connection open until the tester's end of stream.
const VECTORS_TRUNCATED: &[&str] = &[
    "header_15_bytes",
    "magic_byte_then_eof",
    "magic_then_eof",
    "single_zero_byte",
    "truncated_after_valid_frame",
    "truncated_header",
    "truncated_payload",
    "truncated_payload_none",
];

/// The `bytes` and `split` cuts of `names` (in `whole`, the tester's end
/// of stream comes with the input).
fn all_cuts_but_whole(status: &str, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .flat_map(|n| ["bytes", "split"].map(|cut| format!("{status} vector/{n}/{cut}")))
        .collect()
}

fn all_cuts(status: &str, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .map(|n| format!("{status} vector/{n}/*"))
        .collect()
}

fn with(mut specs: Vec<String>, more: &[&str]) -> Vec<String> {
    specs.extend(more.iter().map(|s| s.to_string()));
    specs
}

fn refs(specs: &[String]) -> Vec<&str> {
    specs.iter().map(String::as_str).collect()
}

/// The broken peers and what each test of them is called in a failure
/// report: all run at once, [`WORKERS`] at a time (each run mostly waits
/// on the peer's and the tester's clocks).
/// The slowest first (one case at a time; waiting on timeouts), so that
/// the others run beside them.
const MUTANTS: &[(Defect, &str)] = &[
    (
        Defect::Sequential,
        "a_peer_that_serves_one_connection_at_a_time",
    ),
    (
        Defect::IgnoresEof,
        "a_peer_that_does_not_notice_end_of_stream",
    ),
    (
        Defect::NoCloseOnFatal,
        "a_peer_that_does_not_close_after_a_fatal_error",
    ),
    (Defect::None, "a_conforming_peer_passes_every_case"),
    (
        Defect::AfterFatal,
        "a_peer_that_echoes_frames_found_after_a_fatal_error",
    ),
    (
        Defect::LateMagic,
        "a_peer_that_waits_for_16_bytes_before_checking_the_magic",
    ),
    (Defect::ResetOnClose, "a_peer_that_resets_instead_of_fin"),
    (Defect::NoDrain, "a_peer_that_closes_with_unread_bytes"),
    (
        Defect::CloseOnCorrupt,
        "a_peer_that_closes_on_a_corrupt_payload",
    ),
    (Defect::EchoCorrupt, "a_peer_that_echoes_a_corrupt_payload"),
    (
        Defect::ShortAtEof,
        "a_peer_that_delivers_a_short_frame_at_eof",
    ),
    (Defect::OnePerRead, "a_peer_that_decodes_one_frame_per_read"),
    (Defect::NoStall, "a_peer_without_a_stall_timeout"),
    (Defect::NoIdle, "a_peer_without_an_idle_timeout"),
    (
        Defect::TrickleTimeout,
        "a_peer_that_times_out_a_slow_trickle",
    ),
    (
        Defect::RefusesMax,
        "a_peer_that_refuses_a_payload_of_exactly_max",
    ),
    (Defect::AcceptsOverMax, "a_peer_that_accepts_max_plus_one"),
    (
        Defect::Withholds,
        "a_peer_that_withholds_an_echo_before_a_corrupt_frame",
    ),
    (Defect::EmptyDropped, "a_peer_that_drops_empty_payloads"),
    (Defect::Mute, "a_peer_that_never_echoes"),
    (
        Defect::LengthBeforeCrc,
        "a_peer_that_waits_for_the_declared_length_before_the_header_crc",
    ),
    (
        Defect::MagicFirstByte,
        "a_peer_that_reports_bad_magic_after_one_byte",
    ),
    (Defect::EarlyStall, "a_peer_whose_stall_timeout_fires_early"),
    (Defect::EarlyIdle, "a_peer_whose_idle_timeout_fires_early"),
    (
        Defect::StallNotRearmed,
        "a_peer_whose_stall_deadline_is_not_rearmed_per_frame",
    ),
];

/// Runs at once in the mutation suite.
const WORKERS: usize = 8;

/// Every broken peer fails exactly the cases of its [`expectations`] (and
/// the conforming peer none): one test, the runs in parallel threads.
#[test]
fn every_broken_peer_fails_exactly_its_cases() {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    thread::scope(|s| {
        for _ in 0..WORKERS {
            s.spawn(|| {
                while let Some(&(defect, name)) =
                    MUTANTS.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                {
                    let started = Instant::now();
                    let result = std::panic::catch_unwind(|| check(defect));
                    eprintln!("{name}: {:.1} s", started.elapsed().as_secs_f64());
                    if let Err(e) = result {
                        let msg = e
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_default();
                        failures
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(format!("{name}: {msg}"));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap_or_else(|e| e.into_inner());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The vectors that assume a small limit run only against a peer with
/// one: at `--max` 4 and 0, a conforming peer passes them and one that
/// accepts `max` + 1 fails them.
const SMALL_LIMIT_CASES: [&str; 4] = [
    "vector/frame_too_large_limit",
    "vector/max_zero_rejects_one_byte",
    "vector/max_len_exact",
    "limit/over-max",
];

fn small_limit_expectations(max: u32, defect: Defect) -> Vec<&'static str> {
    let mut e = match max {
        4 => vec![
            "SKIP vector/max_zero_rejects_one_byte/*",
            "SKIP vector/max_len_exact/*",
        ],
        _ => vec!["SKIP vector/max_len_exact/*"],
    };
    if defect == Defect::AcceptsOverMax {
        e.push("FAIL limit/over-max");
        e.push(match max {
            4 => "FAIL vector/frame_too_large_limit/*",
            _ => "FAIL vector/max_zero_rejects_one_byte/*",
        });
    }
    e
}

#[test]
fn the_vectors_of_a_small_limit() {
    let _shared = MEMORY.read().unwrap_or_else(|e| e.into_inner());
    for max in [4, 0] {
        for defect in [Defect::None, Defect::AcceptsOverMax] {
            let peer = Peer::start(Settings {
                max,
                ..settings(defect)
            });
            let max_arg = max.to_string();
            let cases = SMALL_LIMIT_CASES.join(",");
            let args = vec!["--max", max_arg.as_str(), "--case", cases.as_str()];
            let run = conform(&peer.addr.to_string(), &args);
            let want = expand(&small_limit_expectations(max, defect));
            assert_same(
                &run.non_passing(),
                &want,
                &format!("--max {max} {defect:?}"),
                &run,
            );
            assert_exit_status(&run);
        }
    }
}

/// A case that no broken peer makes fail (or warn) would test nothing.
#[test]
fn every_case_is_failed_by_some_broken_peer() {
    let ids: Vec<String> = lpframe_conform::cases()
        .expect("cases")
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids.len(), 136);
    let mut covered = std::collections::BTreeSet::new();
    for defect in Defect::ALL {
        assert_ne!(defect, Defect::None);
        covered.extend(expand(&refs(&expectations(defect).0)).into_keys());
    }
    covered.extend(expand(&[MEMORY_FAILURE, FLOW_FAILURE]).into_keys());
    for max in [4, 0] {
        covered.extend(
            expand(&small_limit_expectations(max, Defect::AcceptsOverMax))
                .into_iter()
                .filter(|(_, s)| s != "SKIP")
                .map(|(id, _)| id),
        );
    }
    // And every broken peer fails some case, and is in the crate docs'
    // table.
    let docs = include_str!("../src/lib.rs");
    for defect in Defect::ALL {
        let fails = !expectations(defect).0.is_empty()
            || matches!(defect, Defect::TouchesDeclared | Defect::UnboundedQueue);
        assert!(fails, "{defect:?} fails no case");
        assert!(
            docs.contains(&format!("//! | `{defect:?}`:")),
            "{defect:?} is not in the mutation table of conform/src/lib.rs"
        );
    }
    let untested: Vec<&String> = ids.iter().filter(|id| !covered.contains(*id)).collect();
    assert!(untested.is_empty(), "no broken peer fails {untested:#?}");
    assert_eq!(covered.len(), ids.len(), "an expectation names no case");
}

const MEMORY_FAILURE: &str = "FAIL memory/declared";
const FLOW_FAILURE: &str = "FAIL flow/unread";

/// Only memory/declared, with this process's pid (the peer lives here),
/// alone: no other test's peer allocates meanwhile.
fn memory_run(defect: Defect) -> Run {
    pid_run(defect, "memory")
}

/// Only the cases `case`, with this process's pid, alone.
fn pid_run(defect: Defect, case: &str) -> Run {
    let _alone = MEMORY.write().unwrap_or_else(|e| e.into_inner());
    let peer = Peer::start(settings(defect));
    let pid = std::process::id().to_string();
    let args = ["--max", "2097152", "--case", case, "--pid", pid.as_str()];
    let run = conform(&peer.addr.to_string(), &args);
    print_mutants(defect, &run);
    run
}

#[test]
fn a_conforming_peer_keeps_its_memory_to_the_bytes_received() {
    let run = memory_run(Defect::None);
    assert_same(&run.non_passing(), &BTreeMap::new(), "memory", &run);
    assert_eq!(run.statuses.len(), 1);
    assert_exit_status(&run);
}

#[test]
fn a_peer_that_touches_memory_for_the_declared_length() {
    let run = memory_run(Defect::TouchesDeclared);
    assert_same(
        &run.non_passing(),
        &expand(&[MEMORY_FAILURE]),
        "memory",
        &run,
    );
    assert_exit_status(&run);
    // Its other cases pass.
    check(Defect::TouchesDeclared);
}

#[test]
fn a_conforming_peer_keeps_its_memory_bounded_toward_a_tester_that_does_not_read() {
    let run = pid_run(Defect::None, "flow");
    assert_same(&run.non_passing(), &BTreeMap::new(), "flow", &run);
    assert_eq!(run.statuses.len(), 1);
    assert_exit_status(&run);
}

#[test]
fn a_peer_that_queues_echoes_without_bound() {
    let run = pid_run(Defect::UnboundedQueue, "flow");
    assert_same(&run.non_passing(), &expand(&[FLOW_FAILURE]), "flow", &run);
    assert_exit_status(&run);
    // Its other cases pass.
    check(Defect::UnboundedQueue);
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A server process that announces `listening on ADDR` on its first
/// line: its address, once it has, or how it ended without announcing.
fn listening(child: &mut Reaped, wait: Duration) -> Result<String, String> {
    let stdout = child.0.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    // Reads every line (the server may log per connection) until the
    // process ends, so that it never blocks on a full pipe.
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + wait;
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => {
                if let Some(addr) = line.strip_prefix("listening on ") {
                    return Ok(addr.trim().to_string());
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = child.0.wait().expect("wait");
                let mut stderr = String::new();
                if let Some(mut e) = child.0.stderr.take() {
                    let _ = e.read_to_string(&mut stderr);
                }
                return Err(format!(
                    "exited ({status}) without 'listening on'; stderr: {:?}",
                    stderr.trim()
                ));
            }
            Err(RecvTimeoutError::Timeout) => panic!("no 'listening on' line within {wait:?}"),
        }
    }
}

/// Builds the reference server (testkit/examples/reference_server.rs, the
/// full server examples/echo.rs used to be) into this test's target directory (a no-op
/// when `cargo test --workspace` has built it) and returns its path.
fn echo_example() -> PathBuf {
    // target/PROFILE/deps/mutation-HASH
    let test = std::env::current_exe().expect("this test's path");
    let deps = test.parent().expect("deps directory");
    let profile = deps.parent().expect("profile directory");
    let target = profile.parent().expect("target directory");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(repo_root())
        .args([
            "build",
            "-q",
            "-p",
            "lpframe-testkit",
            "--example",
            "reference_server",
            "--target-dir",
        ])
        .arg(target);
    if profile.file_name().is_some_and(|n| n == "release") {
        build.arg("--release");
    }
    let status = build.status().expect("run cargo build");
    assert!(
        status.success(),
        "cargo build --example reference_server: {status}"
    );
    profile.join("examples").join("reference_server")
}

/// examples/echo.rs, the server the docs call the tested one: 8 MiB limit,
/// stall 5 s, idle 30 s. Every case passes but the two vectors written for
/// another limit (and, here, timeout/idle, which takes the 30 s: see
/// [`the_lpframe_echo_example_idle_timeout`]). (Before issue 16's fixes it
/// failed two: it withheld the echo of a frame that arrived together with
/// a complete corrupt frame.)
#[test]
fn the_lpframe_echo_example() {
    let run = echo_example_run(&[]);
    let want = expand(&[
        "SKIP vector/frame_too_large_limit/*",
        "SKIP vector/max_zero_rejects_one_byte/*",
        "SKIP timeout/idle",
    ]);
    assert_same(&run.non_passing(), &want, "echo example", &run);
    assert_exit_status(&run);
}

/// The long campaign (`cargo test -p lpframe-conform -- --ignored`, run by
/// .ci/run): the echo example's 30 s idle timeout, declared and checked.
#[test]
#[ignore = "takes the echo example's 30 s idle timeout; .ci/run runs it"]
fn the_lpframe_echo_example_idle_timeout() {
    let run = echo_example_run(&["--idle-timeout", "30", "--case", "timeout/idle"]);
    assert_same(&run.non_passing(), &BTreeMap::new(), "echo example", &run);
    assert_exit_status(&run);
}

/// Starts the echo example and runs the tester against it with `more`
/// arguments after its stall timeout, pid and `--jobs 4`.
fn echo_example_run(more: &[&str]) -> Run {
    let _shared = MEMORY.read().unwrap_or_else(|e| e.into_inner());
    let mut server = Reaped(
        Command::new(echo_example())
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the echo example"),
    );
    let addr = listening(&mut server, Duration::from_secs(30)).expect("echo example");
    let pid = server.0.id().to_string();
    let mut args = vec!["--stall-timeout", "5", "--pid", pid.as_str(), "--jobs", "4"];
    args.extend(more);
    let run = conform(&addr, &args);
    println!("{}", run.stdout);
    run
}

/// The independent Python implementation's echo server
/// (`lpframe.py echo-server`), when the checkout has it; otherwise a
/// notice, and the test passes without running.
#[test]
fn the_python_echo_server_if_present() {
    let _shared = MEMORY.read().unwrap_or_else(|e| e.into_inner());
    let script = repo_root().join("interop/python/lpframe.py");
    let spawned = Command::new("python3")
        .arg(&script)
        .args(["echo-server", "--listen", "127.0.0.1:0", "--max", "2097152"])
        .args(["--idle-timeout", "2", "--stall-timeout", "3"])
        .env("PYTHONUNBUFFERED", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut server = match spawned {
        Ok(child) => Reaped(child),
        Err(e) => return notice(&format!("cannot run python3: {e}")),
    };
    let addr = match listening(&mut server, Duration::from_secs(30)) {
        Ok(addr) => addr,
        Err(why) => {
            return notice(&format!(
                "interop/python/lpframe.py has no echo-server mode yet: {why}"
            ))
        }
    };
    let pid = server.0.id().to_string();
    let mut args = TIMEOUT_ARGS.to_vec();
    args.extend(["--pid", pid.as_str()]);
    let run = conform(&addr, &args);
    println!("{}", run.stdout);
    let failed: Vec<_> = run.statuses.iter().filter(|(_, s)| *s == "FAIL").collect();
    assert!(
        failed.is_empty(),
        "Python echo server: {failed:#?}\n{}",
        run.stdout
    );
    assert_exit_status(&run);
}

/// A line on the real standard error: the test harness captures `println!`
/// and `eprintln!` of passing tests, and this must be seen.
fn notice(why: &str) {
    let _ = writeln!(
        std::io::stderr(),
        "NOTICE: the_python_echo_server_if_present did not run: {why}"
    );
}

/// The smallest and the largest limit: the cases that cannot run say why,
/// and the rest pass. The two runs at once.
#[test]
fn a_conforming_peer_at_the_extreme_limits() {
    let _shared = MEMORY.read().unwrap_or_else(|e| e.into_inner());
    let runs: [(u32, &[&str]); 2] = [
        (
            0,
            &[
                // Vectors with a non-empty frame: the peer must refuse it.
                "SKIP vector/hello/*",
                "SKIP vector/binary_256/*",
                "SKIP vector/payload_1024/*",
                "SKIP vector/multi_frame_stream/*",
                "SKIP vector/max_len_exact/*",
                "SKIP vector/payload_checksum_then_valid/*",
                "SKIP vector/truncated_payload/*",
                "SKIP vector/truncated_after_valid_frame/*",
                "SKIP vector/truncated_payload_none/*",
                "SKIP vector/payload_checksum_last_frame/*",
                "SKIP vector/valid_then_bad_magic/*",
                "SKIP vector/empty_payload_nonzero_crc/*",
                "SKIP pipeline/10000",
                "SKIP memory/declared",
                "SKIP fatal/header-crc-long-length",
                "SKIP flow/unread",
            ][..],
        ),
        (
            u32::MAX,
            &[
                "SKIP vector/frame_too_large_4gib/*",
                "SKIP vector/frame_too_large_limit/*",
                "SKIP vector/max_zero_rejects_one_byte/*",
                "SKIP payload/max",
                "SKIP limit/over-max",
                "SKIP memory/declared",
            ][..],
        ),
    ];
    thread::scope(|s| {
        for (max, skipped) in runs {
            s.spawn(move || {
                let peer = Peer::start(Settings {
                    max,
                    ..settings(Defect::None)
                });
                let max = max.to_string();
                let mut args = TIMEOUT_ARGS.to_vec();
                args[1] = &max;
                let run = conform(&peer.addr.to_string(), &args);
                assert_same(
                    &run.non_passing(),
                    &expand(skipped),
                    &format!("--max {max}"),
                    &run,
                );
                assert_exit_status(&run);
            });
        }
    });
}

/// The h2spec-style text report: a line per case in id order, details
/// under a failure, a summary, exit status 1.
#[test]
fn the_text_report() {
    let _shared = MEMORY.read().unwrap_or_else(|e| e.into_inner());
    let peer = Peer::start(settings(Defect::Mute));
    let addr = peer.addr.to_string();
    let (status, text) = run_text(
        &addr,
        &[
            "--seed",
            "3",
            "--case",
            "vector/empty_input,vector/hello/whole",
            "--case",
            "timeout/idle",
        ],
    );
    assert_eq!(status, ExitCode::from(1));
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with(&format!("lpframe conform {addr}: 5 cases; --max 8388608, stall timeout not given, idle timeout not given, no --pid; seed 3")), "{text}");
    let rest: Vec<String> = lines[2..]
        .iter()
        .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        .collect();
    // In the order of --list, whatever the order of --case.
    assert_eq!(
        rest[..9],
        [
            "FAIL vector/hello/whole",
            "case: test",
            "expected: echo",
            "actual: the",
            "PASS vector/empty_input/whole",
            "PASS vector/empty_input/bytes",
            "PASS vector/empty_input/split",
            "SKIP timeout/idle",
            "",
        ],
        "{text}"
    );
    assert!(lines[2].contains("§10, 2"), "{text}");
    assert_eq!(lines[4], "      expected: echo 1, within 1 s of the input and the tester's end of stream: 5 bytes \"hello\"");
    assert_eq!(
        lines[5],
        "      actual:   the peer closed the connection (FIN) after 0 echoes"
    );
    assert!(lines[9].ends_with("--idle-timeout not given"), "{text}");
    assert!(
        lines[11].starts_with("5 cases: 3 passed, 1 failed, 0 warnings, 1 skipped in "),
        "{text}"
    );
    assert!(
        lines[11].ends_with("(seed 3; repeat with --seed 3)"),
        "{text}"
    );
}

/// The JSON objects of cli/README.md: every field a status promises.
#[test]
fn the_json_report_schema() {
    let _shared = MEMORY.read().unwrap_or_else(|e| e.into_inner());
    let peer = Peer::start(settings(Defect::LateMagic));
    let run = conform(
        &peer.addr.to_string(),
        &[
            "--case",
            "vector/hello/whole,foreign/http,limit,timeout/idle",
            "--max",
            "4294967295",
        ],
    );
    let mut objects: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    let keys = |v: &serde_json::Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
        k.sort();
        k
    };
    let common = ["id", "ms", "section", "status", "title", "type"];
    let with = |extra: &[&str]| {
        let mut k: Vec<String> = common.iter().chain(extra).map(|s| s.to_string()).collect();
        k.sort();
        k
    };
    assert_eq!(objects.len(), 6);
    // First the settings, as the text's first line has them.
    let header = objects.remove(0);
    assert_eq!(
        keys(&header),
        [
            "addr",
            "cases",
            "idle_timeout_s",
            "max",
            "pid",
            "seed",
            "stall_timeout_s",
            "type"
        ]
    );
    assert_eq!(header["type"], "header");
    assert_eq!(header["cases"], 4);
    assert_eq!(header["max"], u32::MAX);
    assert_eq!(objects[0]["id"], "vector/hello/whole");
    assert_eq!(objects[0]["status"], "PASS");
    assert_eq!(keys(&objects[0]), with(&[]));
    assert_eq!(objects[1]["id"], "foreign/http");
    assert_eq!(objects[1]["status"], "WARN");
    assert_eq!(keys(&objects[1]), with(&["actual", "rule"]));
    assert_eq!(objects[2]["id"], "limit/over-max");
    assert_eq!(objects[2]["status"], "SKIP");
    assert_eq!(keys(&objects[2]), with(&["reason"]));
    assert_eq!(objects[3]["id"], "timeout/idle");
    assert_eq!(keys(&objects[3]), with(&["reason"]));
    assert!(objects[1]["ms"].as_u64().expect("ms") >= 1000);
    let summary = &objects[4];
    assert_eq!(
        keys(summary),
        [
            "addr",
            "cases",
            "failed",
            "idle_timeout_s",
            "max",
            "ms",
            "passed",
            "pid",
            "seed",
            "skipped",
            "stall_timeout_s",
            "type",
            "warnings"
        ]
    );
    assert_eq!(summary["max"], u32::MAX);
    assert_eq!(summary["seed"], 7);
    assert_eq!(summary["stall_timeout_s"], serde_json::Value::Null);
    assert_eq!(run.status, ExitCode::SUCCESS);

    // A failure carries what was expected and what happened.
    let peer = Peer::start(settings(Defect::Mute));
    let run = conform(&peer.addr.to_string(), &["--case", "payload/sizes"]);
    let fail: serde_json::Value =
        serde_json::from_str(run.stdout.lines().nth(1).expect("a case line")).expect("JSON");
    assert_eq!(fail["status"], "FAIL");
    assert_eq!(keys(&fail), with(&["actual", "expected"]));
    assert_eq!(fail["actual"], "no echo by then (after 0 echoes)");
    assert_eq!(run.status, ExitCode::from(1));
}
