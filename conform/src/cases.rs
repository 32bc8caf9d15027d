//! The conformance cases of PROTOCOL.md appendix A: what each sends to the
//! echo peer, what it expects back, and within which time.

use std::time::{Duration, Instant};

use crate::conn::{plural, Close, Conn, Failure, Step};
use crate::report::human;
use crate::rng::Rng;
use crate::vectors::{self, Ending, Plan, Vector};
use crate::wire::{frame_bytes, header_bytes};
use crate::{rss, Options};

/// A close the peer owes (after a fatal error, after the tester's end of
/// stream, after a foreign protocol) must come within this (appendix A.3).
pub const CLOSE_SLACK: Duration = Duration::from_secs(1);
/// An echo must come within this after the frame's last byte was sent, plus
/// [`ECHO_BYTES_PER_SEC`] for large payloads.
pub const ECHO_SLACK: Duration = Duration::from_secs(1);
pub const ECHO_BYTES_PER_SEC: u64 = 4 << 20;
/// A timeout the peer declared may fire this much late.
pub const TIMEOUT_SLACK: Duration = Duration::from_secs(1);
/// A timeout close seen this much before the declared value fails (the
/// tester's clock starts before the peer's, so a conforming close is never
/// seen early; this allows for the clocks' granularity).
pub const TIMEOUT_EARLY: Duration = Duration::from_millis(250);
/// The header-checksum case's declared length (within any `--max` of at
/// least this), and the payload bytes sent after its header.
pub const CRC_CASE_LEN: u32 = 261;
pub const CRC_CASE_SENT: u32 = 5;
/// After a skipped frame, the connection must stay open this long.
pub const OPEN_CHECK: Duration = Duration::from_millis(200);
/// The pause between bytes in the `bytes` variant of a vector.
pub const BYTE_PAUSE: Duration = Duration::from_millis(1);
/// The `split` variant: pieces of 1 to this many bytes, pauses of 0 to
/// [`SPLIT_PAUSE_MS`] ms.
pub const SPLIT_PIECE: u64 = 20;
pub const SPLIT_PAUSE_MS: u64 = 2;
/// The trickle: one byte per this.
pub const TRICKLE_PAUSE: Duration = Duration::from_millis(100);
/// The stall timeout the tester assumes when it is not told the peer's (an
/// idle timeout of at least 2 s is assumed too: no case leaves a connection
/// idle longer than about 1.2 s).
pub const ASSUMED_MIN_STALL: Duration = Duration::from_secs(3);
/// The idle timeout the tester assumes when it is not told the peer's.
pub const ASSUMED_MIN_IDLE: Duration = Duration::from_secs(2);
/// The largest payload the tester builds (`payload/max` is skipped above).
pub const PAYLOAD_CAP: u32 = 64 << 20;
pub const PIPELINE_FRAMES: usize = 10_000;
/// The memory case: connections, payload bytes each sends after its header,
/// and the bound on the peer's RSS growth.
pub const MEMORY_CONNS: usize = 100;
pub const MEMORY_SENT: usize = 1000;
pub const MEMORY_ALLOWANCE: u64 = 48 << 20;
pub const MEMORY_PER_BYTE: u64 = 8;
/// `flow/unread`: the payload of each frame (or `--max`, if smaller), the
/// smallest `--max` it runs with, how long the tester writes without
/// reading (at most half the stall timeout), and how much it writes: more
/// than the loopback's socket buffers hold, so that a peer that reads on
/// must keep the echoes it cannot write; with `--pid`, enough that keeping
/// them all shows against the allowance.
pub const FLOW_PAYLOAD: u32 = 256 << 10;
pub const FLOW_MIN_PAYLOAD: u32 = 4096;
pub const FLOW_UNREAD: Duration = Duration::from_secs(2);
pub const FLOW_BYTES: usize = 32 << 20;
pub const FLOW_BYTES_PID: usize = 96 << 20;
/// `flow/unread` with `--pid`: the peer's growth while the tester does not
/// read may be this much, plus four frames (the one it decodes, the echo it
/// writes, and their copies).
pub const FLOW_ALLOWANCE: u64 = 16 << 20;

/// How a case ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every check held; perhaps a note (sizes, times).
    Pass(Option<String>),
    /// A MUST (or a declared timeout) was broken.
    Fail(Failure),
    /// A SHOULD was not met: the rule, and what happened.
    Warn {
        /// The rule, quoted from PROTOCOL.md.
        rule: String,
        /// What the peer did.
        actual: String,
    },
    /// The case cannot run with these settings: why.
    Skip(String),
}

impl From<Failure> for Outcome {
    fn from(f: Failure) -> Outcome {
        Outcome::Fail(f)
    }
}

/// How a vector's input is cut into writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    Whole,
    Bytes,
    Split,
}

#[derive(Debug, Clone)]
pub enum Kind {
    Vector(Box<(Vector, Plan)>, Cut),
    ForeignHttp,
    ForeignTls,
    FrameAfterError,
    HeaderCrcLongLength,
    CorruptPayload,
    PayloadSizes,
    PayloadMax,
    OverMax,
    Pipeline,
    Concurrent,
    OrderlyClose,
    Memory,
    Unread,
    Trickle,
    Stall,
    Idle,
}

/// One case: its id, the PROTOCOL.md rules it checks, what it does.
#[derive(Debug, Clone)]
pub struct Case {
    /// Its id, e.g. `vector/hello/whole` (what `--case` matches).
    pub id: String,
    /// The PROTOCOL.md sections it checks, e.g. `4 check 3`.
    pub section: String,
    /// What it does, in a line.
    pub title: String,
    pub(crate) kind: Kind,
}

impl Case {
    fn new(id: &str, section: &str, title: &str, kind: Kind) -> Case {
        Case {
            id: id.into(),
            section: section.into(),
            title: title.into(),
            kind,
        }
    }

    /// Runs alone: nothing else may touch the peer's memory meanwhile
    /// (`flow/unread` measures it too, with `--pid`, and loads the peer).
    pub fn exclusive(&self) -> bool {
        matches!(self.kind, Kind::Memory | Kind::Unread)
    }

    /// Mostly waits on the peer's clock: with `--jobs` over 1, started
    /// first, beside the others.
    pub fn background(&self) -> bool {
        matches!(self.kind, Kind::Trickle | Kind::Stall | Kind::Idle)
    }

    /// Runs the case against the peer of `o` (its own connections).
    pub fn run(&self, o: &Options) -> Outcome {
        let mut rng = Rng::for_case(o.seed, &self.id);
        let result = match &self.kind {
            Kind::Vector(v, cut) => vector(o, &v.0, &v.1, *cut, &mut rng),
            Kind::ForeignHttp => foreign_http(o),
            Kind::ForeignTls => foreign_tls(o),
            Kind::FrameAfterError => frame_after_error(o),
            Kind::HeaderCrcLongLength => header_crc_long_length(o),
            Kind::CorruptPayload => corrupt_payload(o),
            Kind::PayloadSizes => payload_sizes(o, &mut rng),
            Kind::PayloadMax => payload_max(o, &mut rng),
            Kind::OverMax => over_max(o),
            Kind::Pipeline => pipeline(o),
            Kind::Concurrent => concurrent(o),
            Kind::OrderlyClose => orderly_close(o),
            Kind::Memory => memory(o),
            Kind::Unread => unread(o, &mut rng),
            Kind::Trickle => trickle(o),
            Kind::Stall => stall(o),
            Kind::Idle => idle(o),
        };
        result.unwrap_or_else(Outcome::Fail)
    }
}

/// Every case, in report order.
///
/// # Errors
/// The embedded vector file does not parse.
pub fn all() -> Result<Vec<Case>, String> {
    let mut out = Vec::new();
    for v in vectors::all()?.into_iter().filter(|v| !v.recover) {
        let plan = v.plan()?;
        let section = plan.ending.section(plan.skipped);
        let ends_by_eof = !matches!(plan.ending, Ending::Fatal { .. });
        let whole = if ends_by_eof {
            "in one write together with the tester's end of stream"
        } else {
            "in one write"
        };
        for (cut, name, how) in [
            (Cut::Whole, "whole", whole),
            (Cut::Bytes, "bytes", "one byte per write, 1 ms apart"),
            (
                Cut::Split,
                "split",
                "in random pieces (seeded) with pauses of 0-2 ms",
            ),
        ] {
            out.push(Case::new(
                &format!("vector/{}/{name}", v.name),
                section,
                &format!("test vector {} {how}", v.name),
                Kind::Vector(Box::new((v.clone(), plan.clone())), cut),
            ));
        }
    }
    out.extend([
        Case::new(
            "foreign/http",
            "4",
            "a 7-byte \"GET /\\r\\n\" is refused within 1 s while the tester keeps its side open (SHOULD: magic checked after 2 bytes)",
            Kind::ForeignHttp,
        ),
        Case::new(
            "foreign/tls",
            "4 check 1",
            "a TLS ClientHello record is refused within 1 s, with an orderly close",
            Kind::ForeignTls,
        ),
        Case::new(
            "fatal/frame-after-error",
            "4",
            "a valid frame sent after a fatal error is never echoed",
            Kind::FrameAfterError,
        ),
        Case::new(
            "fatal/header-crc-long-length",
            "4 check 3",
            "a header whose CRC fails, declaring more bytes than follow it, is refused within 1 s (never waits for a corrupted length)",
            Kind::HeaderCrcLongLength,
        ),
        Case::new(
            "skip/corrupt-payload",
            "4 check 6",
            "a corrupt payload mid-stream is skipped; the frames around it are echoed at once, on the same connection",
            Kind::CorruptPayload,
        ),
        Case::new(
            "payload/sizes",
            "2, 6",
            "payloads of 0, 1, 16 KiB and 1 MiB (those within --max) are echoed byte-exact",
            Kind::PayloadSizes,
        ),
        Case::new(
            "payload/max",
            "6",
            "a payload of exactly --max bytes is echoed byte-exact",
            Kind::PayloadMax,
        ),
        Case::new(
            "limit/over-max",
            "4 check 5, 6",
            "a header declaring --max + 1 is refused within 1 s, without waiting for its payload",
            Kind::OverMax,
        ),
        Case::new(
            "pipeline/10000",
            "4",
            "10,000 frames sent without waiting for echoes are all echoed, in order",
            Kind::Pipeline,
        ),
        Case::new(
            "connections/concurrent",
            "A.1",
            "a second connection is served while a first one is open and silent",
            Kind::Concurrent,
        ),
        Case::new(
            "close/orderly",
            "4",
            "after a fatal error the peer's close is a FIN, not a reset (SHOULD)",
            Kind::OrderlyClose,
        ),
        Case::new(
            "memory/declared",
            "6",
            "the peer's memory follows the bytes received, not the lengths declared (needs --pid)",
            Kind::Memory,
        ),
        Case::new(
            "flow/unread",
            "A.1 item 11",
            "the tester writes 32 MiB of frames (96 MiB with --pid) and reads nothing for 2 s (at most half the declared timeouts): every echo then comes, in order (with --pid: the peer's memory stays bounded, it does not keep every echo it cannot write)",
            Kind::Unread,
        ),
        Case::new(
            "timeout/trickle",
            "6",
            "frames trickled one byte at a time, each inside the stall timeout but together longer, are echoed (the stall deadline is per frame)",
            Kind::Trickle,
        ),
        Case::new(
            "timeout/stall",
            "6",
            "a header followed by silence is closed at the stall timeout, not earlier, not 1 s later (needs --stall-timeout)",
            Kind::Stall,
        ),
        Case::new(
            "timeout/idle",
            "6",
            "a connection that sends nothing is closed at the idle timeout, not earlier, not 1 s later (needs --idle-timeout)",
            Kind::Idle,
        ),
    ]);
    Ok(out)
}

fn open(o: &Options) -> Result<Conn, Failure> {
    Conn::open(o.addr, o.max).map_err(|e| Failure::new("a connection to the peer", e))
}

/// How long an echo of `bytes` may take once they are sent.
fn echo_time(bytes: usize) -> Duration {
    ECHO_SLACK + Duration::from_secs_f64(bytes as f64 / ECHO_BYTES_PER_SEC as f64)
}

/// How long the tester allows itself to play `steps` (their pauses, plus
/// time to push the bytes through a peer that reads them).
fn play_time(steps: &[Step]) -> Duration {
    steps.iter().fold(Duration::from_secs(5), |t, s| match s {
        Step::Pause(d) => t + *d,
        Step::Send(b) => t + echo_time(b.len()) - ECHO_SLACK,
        Step::Repeat(b, n) => t + echo_time(b.len() * n) - ECHO_SLACK,
        Step::Finish => t,
    })
}

/// Sends `steps` and waits until they are played.
fn send(c: &mut Conn, steps: Vec<Step>) -> Result<Instant, Failure> {
    let deadline = Instant::now() + play_time(&steps);
    Ok(c.send_all(steps, deadline)?.at)
}

/// The tester's end of stream, then the peer's close within [`CLOSE_SLACK`].
fn finish(c: &mut Conn) -> Result<Close, Failure> {
    let fin = send(c, vec![Step::Finish])?;
    c.expect_close(
        fin + CLOSE_SLACK,
        "after the tester's end of stream, the peer's close within 1 s, echoing nothing more",
    )
}

/// The pause after each of `pieces` pieces, shortened so that sending them
/// all stays within half the peer's stall timeout.
fn piece_pause(o: &Options, pause: Duration, pieces: usize) -> Duration {
    let budget = o.stall.unwrap_or(ASSUMED_MIN_STALL) / 2;
    match u32::try_from(pieces.max(1)) {
        Ok(n) => pause.min(budget / n),
        Err(_) => Duration::ZERO,
    }
}

fn vector(
    o: &Options,
    v: &Vector,
    plan: &Plan,
    cut: Cut,
    rng: &mut Rng,
) -> Result<Outcome, Failure> {
    if let Some(reason) = v.limit_mismatch(plan, o.max) {
        return Ok(Outcome::Skip(reason));
    }
    let input = &v.input;
    let mut steps = Vec::new();
    match cut {
        Cut::Whole => steps.push(Step::Send(input.clone())),
        Cut::Bytes => {
            let pause = piece_pause(o, BYTE_PAUSE, input.len());
            for &b in input {
                steps.extend([Step::Send(vec![b]), Step::Pause(pause)]);
            }
        }
        Cut::Split => {
            let mut rest = input.as_slice();
            while !rest.is_empty() {
                let n = (rng.range(1, SPLIT_PIECE) as usize).min(rest.len());
                let (piece, tail) = rest.split_at(n);
                let pause = Duration::from_millis(rng.range(0, SPLIT_PAUSE_MS));
                steps.extend([
                    Step::Send(piece.to_vec()),
                    Step::Pause(piece_pause(o, pause, input.len())),
                ]);
                rest = tail;
            }
        }
    }
    // `whole`: the input and the end of stream at once, so the peer must
    // echo after the tester's half-close; `bytes` and `split`: the echoes
    // must come before it (no echo waits for more input, appendix A.1).
    let at_once = cut == Cut::Whole && !matches!(plan.ending, Ending::Fatal { .. });
    if at_once {
        steps.push(Step::Finish);
    }
    let mut c = open(o)?;
    let sent = send(&mut c, steps)?;
    let deadline = sent + echo_time(input.len());
    match &plan.ending {
        Ending::Clean | Ending::Truncated if at_once => {
            c.expect_echoes(
                &plan.echoes,
                deadline,
                "within 1 s of the input and the tester's end of stream",
            )?;
            c.expect_close(deadline, "then the peer's close, echoing nothing more")?;
            Ok(Outcome::Pass(None))
        }
        Ending::Clean | Ending::Truncated => {
            c.expect_echoes(
                &plan.echoes,
                deadline,
                "within 1 s of the tester's last byte, before its end of stream",
            )?;
            if plan.skipped > 0 {
                c.expect_open(
                    OPEN_CHECK,
                    "the connection stays open after a skipped frame (appendix A.1)",
                )?;
            }
            if plan.ending == Ending::Truncated {
                open_until_eof(&mut c, input)?;
            }
            finish(&mut c)?;
            Ok(Outcome::Pass(None))
        }
        Ending::Fatal { complete: true, .. } => {
            c.expect_echoes(
                &plan.echoes,
                deadline,
                "within 1 s of the tester's last byte",
            )?;
            c.expect_close(
                sent + CLOSE_SLACK,
                "after the fatal error, the peer's close within 1 s of the tester's last byte, \
                 echoing nothing more (the tester keeps its side open)",
            )?;
            Ok(Outcome::Pass(None))
        }
        Ending::Fatal {
            complete: false, ..
        } => match wait_close(&mut c, sent + CLOSE_SLACK)? {
            Some(_) => Ok(Outcome::Pass(None)),
            None => {
                finish(&mut c)?;
                Ok(Outcome::Warn {
                    rule: "SHOULD (section 4): check the magic and version as soon as 2-3 bytes \
                           have arrived"
                        .into(),
                    actual: "the input ends inside the failing header; the peer did not close \
                             within 1 s of the tester's last byte, only after the tester's end \
                             of stream"
                        .into(),
                })
            }
        },
    }
}

/// The input so far ends inside a frame that failed no check: the peer
/// must keep the connection open until the tester's end of stream.
fn open_until_eof(c: &mut Conn, input: &[u8]) -> Result<(), Failure> {
    let expected = "the connection stays open until the tester's end of stream: the input so \
                    far is an unfinished frame, not an error (section 4.1)";
    let since = Instant::now();
    match c.wait_close(since + OPEN_CHECK, expected)? {
        None => Ok(()),
        Some(close) => {
            // When the tester saw it, from the start of the check (the
            // close itself may have come before the check began).
            let seen = format!(
                "seen {} into the {} ms check",
                human(since.elapsed()),
                OPEN_CHECK.as_millis()
            );
            Err(Failure::new(
                expected,
                match input {
                    [b] if *b != 0xc1 => format!(
                        "the peer closed the connection ({close}) after the single byte {b:02x}, \
                         before the tester's end of stream ({seen}): it reported bad \
                         magic after the first byte (section 4: not before 2 bytes have arrived), \
                         or it cut an unfinished frame before its stall timeout"
                    ),
                    _ => format!(
                        "the peer closed the connection ({close}) after {}, before the \
                         tester's end of stream ({seen}), inside a frame that had \
                         failed no check",
                        plural(input.len(), "byte", "bytes")
                    ),
                },
            ))
        }
    }
}

/// Waits for the peer's close until `deadline`: `None` if it stayed open.
///
/// # Errors
/// An echo, or a malformed reply.
fn wait_close(c: &mut Conn, deadline: Instant) -> Result<Option<Close>, Failure> {
    c.wait_close(deadline, "nothing echoed, then the peer's close within 1 s")
}

const RESET_RULE: &str = "SHOULD (section 4): end the connection in an orderly way \
     (shut down the sending side, then close): the client then reads end of stream, not a reset";

fn foreign_http(o: &Options) -> Result<Outcome, Failure> {
    let mut c = open(o)?;
    let sent = send(&mut c, vec![Step::Send(b"GET /\r\n".to_vec())])?;
    match wait_close(&mut c, sent + CLOSE_SLACK)? {
        Some(Close::Fin) => Ok(Outcome::Pass(None)),
        Some(Close::Reset) => Ok(Outcome::Warn {
            rule: RESET_RULE.into(),
            actual: "the peer reset the connection".into(),
        }),
        None => {
            // Which cause: 9 more bytes make a whole header.
            let more = b"Host: x\r\n".to_vec();
            let sent = send(&mut c, vec![Step::Send(more)])?;
            let actual = match wait_close(&mut c, sent + CLOSE_SLACK)? {
                // At once: the whole header was what it waited for; later,
                // the cause may as well be one of its timeouts.
                Some(close) if sent.elapsed() < Duration::from_millis(500) => format!(
                    "the connection stayed open 1 s after the 7 bytes; the peer closed ({close}) \
                     {} after the tester sent 9 more: it checks the magic only with a whole \
                     16-byte header",
                    human(sent.elapsed())
                ),
                Some(close) => format!(
                    "the connection stayed open 1 s after the 7 bytes; the peer closed ({close}) \
                     {} after the tester sent 9 more (a whole header): it did not refuse the \
                     foreign bytes at once",
                    human(sent.elapsed())
                ),
                None => {
                    finish(&mut c)?;
                    "the connection stayed open 1 s after the 7 bytes, and 1 s after 9 more \
                     (a whole header); it closed only after the tester's end of stream"
                        .into()
                }
            };
            Ok(Outcome::Warn {
                rule: "SHOULD (section 4): refuse a foreign protocol after its first 2-3 bytes"
                    .into(),
                actual,
            })
        }
    }
}

fn foreign_tls(o: &Options) -> Result<Outcome, Failure> {
    let mut c = open(o)?;
    let hello = tls_client_hello();
    let sent = send(&mut c, vec![Step::Send(hello.clone())])?;
    match wait_close(&mut c, sent + CLOSE_SLACK)? {
        Some(Close::Fin) => Ok(Outcome::Pass(None)),
        Some(Close::Reset) => Ok(Outcome::Warn {
            rule: RESET_RULE.into(),
            actual: format!(
                "the peer reset the connection (it closed with unread bytes of the {}-byte record, \
                 or abortively)",
                hello.len()
            ),
        }),
        None => Err(Failure::new(
            "BadMagic (check 1, 16 bytes have arrived), then the peer's close within 1 s",
            "the connection was still open 1 s after the record was sent",
        )),
    }
}

/// `payload`, cut to the peer's limit.
fn fit(o: &Options, payload: &[u8]) -> Vec<u8> {
    let len = payload.len().min(o.max as usize);
    payload.get(..len).unwrap_or_default().to_vec()
}

fn frame_after_error(o: &Options) -> Result<Outcome, Failure> {
    let mut c = open(o)?;
    let before = fit(o, b"before the error");
    let sent = send(&mut c, vec![Step::Send(frame_bytes(&before))])?;
    c.expect_echoes(&[before], sent + ECHO_SLACK, "within 1 s")?;
    // `hello` with a flipped length bit: HeaderChecksum (section 5).
    let mut bad = frame_bytes(b"hello");
    if let Some(b) = bad.get_mut(7) {
        *b ^= 0x01;
    }
    let sent = send(
        &mut c,
        vec![
            Step::Send(bad),
            Step::Pause(Duration::from_millis(100)),
            Step::Send(frame_bytes(&fit(o, b"this frame follows a fatal error"))),
        ],
    )?;
    c.expect_close(
        sent + CLOSE_SLACK,
        "no echo of the frame sent 100 ms after a fatal error (HeaderChecksum), \
         and the peer's close within 1 s",
    )?;
    Ok(Outcome::Pass(None))
}

/// A header with a failing header CRC declaring [`CRC_CASE_LEN`] bytes,
/// then [`CRC_CASE_SENT`] of them: the peer must close at once. One that
/// stays open is given the rest of the declared length: if it closes then,
/// it waited for the declared length before checking the header CRC.
fn header_crc_long_length(o: &Options) -> Result<Outcome, Failure> {
    let len = CRC_CASE_LEN.min(o.max);
    if len <= CRC_CASE_SENT {
        return Ok(Outcome::Skip(format!(
            "--max {} leaves no length larger than the {CRC_CASE_SENT} bytes sent",
            o.max
        )));
    }
    let mut wire = header_bytes(len, 0).to_vec();
    if let Some(b) = wire.get_mut(15) {
        *b ^= 0xff; // HeaderChecksum
    }
    wire.extend(std::iter::repeat_n(0x5a, CRC_CASE_SENT as usize));
    let mut c = open(o)?;
    let sent = send(&mut c, vec![Step::Send(wire)])?;
    let expected = format!(
        "HeaderChecksum from the header alone: the peer's close within 1 s, nothing echoed \
         (the header declares {len} bytes, {CRC_CASE_SENT} follow, the tester keeps its side open)"
    );
    if wait_close(&mut c, sent + CLOSE_SLACK)?.is_some() {
        return Ok(Outcome::Pass(None));
    }
    let open_for = sent.elapsed().as_secs_f64();
    let rest = vec![0x5a; (len - CRC_CASE_SENT) as usize];
    let filled = send(&mut c, vec![Step::Send(rest)])?;
    let actual = match wait_close(&mut c, filled + CLOSE_SLACK)? {
        Some(close) => format!(
            "the peer kept the connection open {open_for:.1} s after a header whose CRC fails and \
             whose length ({len}) exceeds what was sent ({CRC_CASE_SENT} bytes), and closed \
             ({close}) once the tester sent the rest: it waited for the declared length before \
             checking the header CRC"
        ),
        None => format!(
            "the peer kept the connection open {open_for:.1} s after a header whose CRC fails, \
             and still 1 s after the tester sent all {len} declared bytes: it never reported \
             the header CRC"
        ),
    };
    Err(Failure::new(expected, actual))
}

fn corrupt_payload(o: &Options) -> Result<Outcome, Failure> {
    let mut c = open(o)?;
    let (before, after) = (fit(o, b"before"), fit(o, b"after"));
    let mut corrupt = frame_bytes(&fit(o, b"corrupted in transit"));
    match corrupt.get_mut(16) {
        Some(_) => {
            if let Some(b) = corrupt.last_mut() {
                *b ^= 0x20;
            }
        }
        // --max 0: an empty payload whose header carries a wrong CRC.
        None => corrupt = header_bytes(0, 0x0bad_c0de).to_vec(),
    }
    let mut first = frame_bytes(&before);
    first.extend(corrupt);
    let sent = send(&mut c, vec![Step::Send(first)])?;
    c.expect_echoes(
        &[before],
        sent + ECHO_SLACK,
        "within 1 s, though a corrupt frame came in the same write and nothing follows yet",
    )?;
    let sent = send(&mut c, vec![Step::Send(frame_bytes(&after))])?;
    c.expect_echoes(
        &[after],
        sent + ECHO_SLACK,
        "within 1 s on the same connection, the corrupt frame skipped",
    )?;
    finish(&mut c)?;
    Ok(Outcome::Pass(None))
}

fn payload_sizes(o: &Options, rng: &mut Rng) -> Result<Outcome, Failure> {
    let sizes: Vec<u32> = [0, 1, 16 << 10, 1 << 20]
        .into_iter()
        .filter(|&s| s <= o.max)
        .collect();
    let mut c = open(o)?;
    for &size in &sizes {
        let payload = rng.bytes(size as usize);
        let sent = send(&mut c, vec![Step::Send(frame_bytes(&payload))])?;
        c.expect_echoes(
            &[payload],
            sent + echo_time(size as usize),
            &format!(
                "byte-exact, within {:.1} s",
                echo_time(size as usize).as_secs_f64()
            ),
        )?;
    }
    finish(&mut c)?;
    let note = format!(
        "sizes {}",
        sizes
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(Outcome::Pass(Some(note)))
}

fn payload_max(o: &Options, rng: &mut Rng) -> Result<Outcome, Failure> {
    if o.max > PAYLOAD_CAP {
        return Ok(Outcome::Skip(format!(
            "--max {} is over the tester's cap of {PAYLOAD_CAP} bytes for a payload it builds",
            o.max
        )));
    }
    let payload = rng.bytes(o.max as usize);
    let mut c = open(o)?;
    let sent = send(&mut c, vec![Step::Send(frame_bytes(&payload))])?;
    let time = echo_time(payload.len());
    c.expect_echoes(
        &[payload],
        sent + time,
        &format!("byte-exact, within {:.1} s", time.as_secs_f64()),
    )?;
    finish(&mut c)?;
    Ok(Outcome::Pass(None))
}

fn over_max(o: &Options) -> Result<Outcome, Failure> {
    let Some(len) = o.max.checked_add(1) else {
        return Ok(Outcome::Skip(format!(
            "--max is {}: no length is over it",
            u32::MAX
        )));
    };
    let mut c = open(o)?;
    let sent = send(&mut c, vec![Step::Send(header_bytes(len, 0).to_vec())])?;
    c.expect_close(
        sent + CLOSE_SLACK,
        "FrameTooLarge from the header alone: the peer's close within 1 s, nothing echoed \
         (the tester sends no payload byte and keeps its side open)",
    )?;
    Ok(Outcome::Pass(None))
}

fn pipeline(o: &Options) -> Result<Outcome, Failure> {
    let payloads: Vec<Vec<u8>> = (0..PIPELINE_FRAMES)
        .map(|i| {
            let mut p = (i as u32).to_be_bytes().to_vec();
            p.resize(4 + i % 29, i as u8);
            p
        })
        .filter(|p| p.len() <= o.max as usize)
        .collect();
    if payloads.len() < PIPELINE_FRAMES {
        return Ok(Outcome::Skip(format!(
            "the pipelined payloads are 4 to 32 bytes; --max is {}",
            o.max
        )));
    }
    let wire: Vec<u8> = payloads.iter().flat_map(|p| frame_bytes(p)).collect();
    let mut c = open(o)?;
    let start = Instant::now();
    c.send(vec![Step::Send(wire), Step::Finish])?;
    c.expect_echoes(
        &payloads,
        start + Duration::from_secs(15),
        "in order, all within 15 s",
    )?;
    let sent = c.sent_by(Instant::now() + Duration::from_secs(1))?;
    c.expect_close(
        sent.at.max(Instant::now()) + CLOSE_SLACK,
        "after the tester's end of stream, the peer's close within 1 s, echoing nothing more",
    )?;
    Ok(Outcome::Pass(Some(format!(
        "{PIPELINE_FRAMES} echoes in {:.2} s",
        start.elapsed().as_secs_f64()
    ))))
}

fn concurrent(o: &Options) -> Result<Outcome, Failure> {
    let mut first = open(o)?;
    let mut second = open(o)?;
    for (c, payload, which) in [
        (&mut second, fit(o, b"second"), "on the second connection"),
        (&mut first, fit(o, b"first"), "then on the first one"),
    ] {
        let sent = send(c, vec![Step::Send(frame_bytes(&payload))])?;
        c.expect_echoes(
            &[payload],
            sent + ECHO_SLACK,
            &format!(
                "{which}, within 1 s, while the other is open \
                 (a peer serving one connection at a time cannot)"
            ),
        )?;
    }
    for c in [&mut second, &mut first] {
        finish(c)?;
    }
    Ok(Outcome::Pass(None))
}

fn orderly_close(o: &Options) -> Result<Outcome, Failure> {
    let mut c = open(o)?;
    let payload = fit(o, b"then a fatal error");
    let mut wire = frame_bytes(&payload);
    let mut bad = header_bytes(0, 0);
    bad[15] ^= 0xff; // HeaderChecksum
    wire.extend(bad);
    let sent = send(&mut c, vec![Step::Send(wire)])?;
    c.expect_echoes(&[payload], sent + ECHO_SLACK, "within 1 s")?;
    match wait_close(&mut c, sent + CLOSE_SLACK)? {
        Some(Close::Fin) => Ok(Outcome::Pass(None)),
        Some(Close::Reset) => Ok(Outcome::Warn {
            rule: RESET_RULE.into(),
            actual: "the peer reset the connection, though the tester had sent nothing \
                     past the failing header"
                .into(),
        }),
        None => Err(Failure::new(
            "after HeaderChecksum, the peer's close within 1 s",
            "the connection was still open 1 s after the failing header",
        )),
    }
}

fn memory(o: &Options) -> Result<Outcome, Failure> {
    let Some(pid) = o.pid else {
        return Ok(Outcome::Skip("--pid not given".into()));
    };
    let sent_total = (MEMORY_CONNS * (16 + MEMORY_SENT)) as u64;
    let bound = MEMORY_ALLOWANCE + MEMORY_PER_BYTE * sent_total;
    let declared = MEMORY_CONNS as u64 * u64::from(o.max);
    if declared < 2 * bound || (o.max as usize) < MEMORY_SENT {
        return Ok(Outcome::Skip(format!(
            "{MEMORY_CONNS} x --max = {declared} bytes is too little to tell from the allowance of {bound} bytes"
        )));
    }
    let rss = |what: &str| {
        rss::resident(pid).map_err(|e| Failure::new(format!("the peer's VmRSS {what}"), e))
    };
    let before = rss("before")?;
    let mut conns = Vec::with_capacity(MEMORY_CONNS);
    let mut wire = header_bytes(o.max, 0).to_vec();
    wire.extend(std::iter::repeat_n(0x5a, MEMORY_SENT));
    for _ in 0..MEMORY_CONNS {
        let mut c = open(o)?;
        c.send(vec![Step::Send(wire.clone())])?;
        conns.push(c);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    for c in &mut conns {
        c.sent_by(deadline)?;
    }
    let mut peak = before;
    for _ in 0..20 {
        std::thread::sleep(Duration::from_millis(50));
        peak = peak.max(rss("while the headers are pending")?);
    }
    drop(conns);
    let grew = peak.saturating_sub(before);
    let mib = |b: u64| b as f64 / f64::from(1 << 20);
    if grew > bound {
        return Err(Failure::new(
            format!(
                "RSS growth at most {MEMORY_ALLOWANCE} + {MEMORY_PER_BYTE} x {sent_total} bytes sent = {:.1} MiB",
                mib(bound)
            ),
            format!(
                "VmRSS grew by {:.1} MiB while {MEMORY_CONNS} connections declared {:.0} MiB in all",
                mib(grew),
                mib(declared)
            ),
        ));
    }
    Ok(Outcome::Pass(Some(format!(
        "VmRSS grew by {} KiB; bound {:.1} MiB; {:.0} MiB declared",
        grew >> 10,
        mib(bound),
        mib(declared)
    ))))
}

/// The tester writes [`FLOW_BYTES`] of frames (more with `--pid`) and reads
/// nothing for [`FLOW_UNREAD`] (at most half the stall and idle timeouts): a peer
/// whose echoes cannot be written must stop reading (backpressure), or
/// close on its write timeout (assumed longer), never drop an echo; with
/// `--pid`, its memory must not grow with what it could not write.
fn unread(o: &Options, rng: &mut Rng) -> Result<Outcome, Failure> {
    let len = FLOW_PAYLOAD.min(o.max);
    if len < FLOW_MIN_PAYLOAD {
        return Ok(Outcome::Skip(format!(
            "its frames are {FLOW_MIN_PAYLOAD} bytes or more; --max is {}",
            o.max
        )));
    }
    let total = if o.pid.is_some() {
        FLOW_BYTES_PID
    } else {
        FLOW_BYTES
    };
    let payload = rng.bytes(len as usize);
    let wire = frame_bytes(&payload);
    let frames = total / wire.len();
    // A peer's clocks may run while its write is blocked: half of each.
    let pause = FLOW_UNREAD
        .min(o.stall.unwrap_or(ASSUMED_MIN_STALL) / 2)
        .min(o.idle.unwrap_or(ASSUMED_MIN_IDLE) / 2);
    let rss = |pid: u32, what: &str| {
        rss::resident(pid).map_err(|e| Failure::new(format!("the peer's VmRSS {what}"), e))
    };
    let before = o.pid.map(|pid| rss(pid, "before")).transpose()?;
    let mut c = open(o)?;
    let start = Instant::now();
    c.send(vec![Step::Repeat(wire.clone(), frames)])?;
    let mut peak = before;
    while start.elapsed() < pause {
        std::thread::sleep(Duration::from_millis(50));
        if let (Some(pid), Some(p)) = (o.pid, peak.as_mut()) {
            *p = (*p).max(rss(pid, "while the tester does not read")?);
        }
    }
    let deadline = Instant::now() + echo_time(frames * wire.len());
    let within = format!(
        "once the tester reads again after {:.1} s of writing {frames} frames of {len} bytes \
         without reading",
        pause.as_secs_f64()
    );
    for k in 0..frames {
        if let Err(mut f) = c.expect_echoes(std::slice::from_ref(&payload), deadline, &within) {
            let unread = format!(
                "{:.1} s after the tester began writing (it read nothing for the first {:.1} s)",
                start.elapsed().as_secs_f64(),
                pause.as_secs_f64()
            );
            f.actual = match c.closed() {
                // When it closed is not known: the tester was not reading.
                Some(close) => format!(
                    "the peer closed the connection ({close}) after {} of {frames}, seen {unread}",
                    plural(k, "echo", "echoes"),
                ),
                None if f.actual.starts_with("no echo by then") => format!(
                    "{}, {unread}, with the connection open: the peer dropped echoes it \
                     could not write at once (A.1 item 11: it must stop reading instead)",
                    f.actual
                ),
                None => format!("{}, {unread}", f.actual),
            };
            return Err(f);
        }
    }
    c.sent_by(deadline + CLOSE_SLACK)?;
    finish(&mut c)?;
    let mib = |b: u64| b as f64 / f64::from(1 << 20);
    let note = format!(
        "{frames} echoes of {len} bytes after {:.1} s unread",
        pause.as_secs_f64()
    );
    let (Some(before), Some(peak)) = (before, peak) else {
        return Ok(Outcome::Pass(Some(note)));
    };
    let grew = peak.saturating_sub(before);
    let bound = FLOW_ALLOWANCE + 4 * wire.len() as u64;
    if grew > bound {
        return Err(Failure::new(
            format!(
                "RSS growth at most {:.1} MiB while the tester does not read \
                 (A.1 item 11: no echo buffer without bound)",
                mib(bound)
            ),
            format!(
                "VmRSS grew by {:.1} MiB while the tester wrote {:.0} MiB and read nothing: \
                 the peer keeps the echoes it cannot write instead of reading less",
                mib(grew),
                mib((frames * wire.len()) as u64)
            ),
        ));
    }
    Ok(Outcome::Pass(Some(format!(
        "{note}; VmRSS grew by {} KiB, bound {:.1} MiB",
        grew >> 10,
        mib(bound)
    ))))
}

/// Frames trickled one byte at a time, each lasting about the stall
/// timeout less [`TIMEOUT_SLACK`], and enough of them to last longer
/// together than the stall timeout plus [`TIMEOUT_SLACK`]: a peer whose
/// stall deadline runs from the first frame (not re-armed per frame)
/// closes during them, whatever the declared value.
fn trickle(o: &Options) -> Result<Outcome, Failure> {
    let stall = o.stall.unwrap_or(ASSUMED_MIN_STALL);
    let budget = stall.saturating_sub(TIMEOUT_SLACK);
    let len = 4u32.min(o.max);
    let bytes = 16 + len;
    let pause = TRICKLE_PAUSE.max(budget / bytes);
    let per_frame = pause * bytes;
    if per_frame > budget {
        return Ok(Outcome::Skip(format!(
            "a frame trickled at one byte per 100 ms takes at least 1.6 s, \
             over the stall timeout ({:.1} s) less 1 s",
            stall.as_secs_f64()
        )));
    }
    let together = stall + TIMEOUT_SLACK;
    let frames = (together.as_secs_f64() / per_frame.as_secs_f64()).floor() as usize + 1;
    let frames = frames.max(2);
    let mut c = open(o)?;
    let start = Instant::now();
    for k in 1..=frames {
        let mut payload = format!("tr{k}!").into_bytes();
        payload.truncate(len as usize);
        let mut steps = Vec::new();
        for b in frame_bytes(&payload) {
            steps.extend([Step::Pause(pause), Step::Send(vec![b])]);
        }
        let sent = send(&mut c, steps)?;
        if let Err(mut f) =
            c.expect_echoes(&[payload], sent + ECHO_SLACK, "within 1 s of its last byte")
        {
            if k > 1 && c.closed().is_some() {
                f.actual = format!(
                    "{}, during frame {k}, {:.2} s after the first frame's first byte (each \
                     frame lasts {:.1} s, under the stall timeout of {:.1} s): its stall deadline \
                     is not re-armed per frame",
                    f.actual,
                    start.elapsed().as_secs_f64(),
                    per_frame.as_secs_f64(),
                    stall.as_secs_f64()
                );
            }
            return Err(f);
        }
    }
    finish(&mut c)?;
    Ok(Outcome::Pass(Some(format!(
        "{frames} frames of {bytes} bytes, {:.1} s each",
        per_frame.as_secs_f64()
    ))))
}

fn stall(o: &Options) -> Result<Outcome, Failure> {
    let Some(stall) = o.stall else {
        return Ok(Outcome::Skip("--stall-timeout not given".into()));
    };
    let started = match o.max.min(1024) {
        0 => header_bytes(0, 0).get(..8).unwrap_or_default().to_vec(),
        len => header_bytes(len, 0).to_vec(),
    };
    let mut c = open(o)?;
    let sent = send(&mut c, vec![Step::Send(started)])?;
    timed_close(&mut c, sent, stall, "stall")
}

fn idle(o: &Options) -> Result<Outcome, Failure> {
    let Some(idle) = o.idle else {
        return Ok(Outcome::Skip("--idle-timeout not given".into()));
    };
    let mut c = open(o)?;
    let opened = c.opened;
    timed_close(&mut c, opened, idle, "idle")
}

fn timed_close(
    c: &mut Conn,
    since: Instant,
    limit: Duration,
    name: &str,
) -> Result<Outcome, Failure> {
    let expected = format!(
        "nothing echoed, and the peer's close at the {name} timeout ({:.1} s), not {} ms \
         earlier nor 1 s later",
        limit.as_secs_f64(),
        TIMEOUT_EARLY.as_millis()
    );
    let close = c.expect_close(since + limit + TIMEOUT_SLACK, &expected)?;
    let after = since.elapsed();
    if after + TIMEOUT_EARLY < limit {
        return Err(Failure::new(
            expected,
            format!(
                "the peer closed after {:.2} s, before its declared {name} timeout of {:.1} s: \
                 it cut the connection early",
                after.as_secs_f64(),
                limit.as_secs_f64()
            ),
        ));
    }
    if close == Close::Reset {
        return Ok(Outcome::Warn {
            rule: "SHOULD (A.1 item 8): a timeout close is orderly, like the close after a \
                   fatal error (the tester had sent nothing unread)"
                .into(),
            actual: format!(
                "the peer reset the connection at its {name} timeout, after {:.2} s",
                after.as_secs_f64()
            ),
        });
    }
    Ok(Outcome::Pass(Some(format!(
        "closed after {:.2} s",
        after.as_secs_f64()
    ))))
}

/// A TLS 1.3-style ClientHello record of 517 bytes, the size browsers pad
/// theirs to: `16 03 01 02 00 01 ...`.
pub fn tls_client_hello() -> Vec<u8> {
    const RECORD: usize = 517;
    let mut body = vec![0x03, 0x03]; // legacy_version TLS 1.2
    body.extend((0u8..32).map(|i| i.wrapping_mul(37))); // random
    body.push(32); // legacy_session_id
    body.extend((0u8..32).map(|i| i ^ 0x5c));
    body.extend([0x00, 0x06, 0x13, 0x01, 0x13, 0x02, 0x13, 0x03]); // cipher suites
    body.extend([0x01, 0x00]); // compression: null
    let host = b"localhost";
    let mut ext = Vec::new();
    ext.extend([0x00, 0x00, 0x00, (host.len() + 5) as u8]); // server_name
    ext.extend([0x00, (host.len() + 3) as u8, 0x00, 0x00, host.len() as u8]);
    ext.extend(host);
    ext.extend([0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04]); // supported_versions
                                                            // padding (RFC 7685) up to the record size
    let fixed = 5 + 4 + body.len() + 2 + ext.len() + 4;
    let pad = RECORD.saturating_sub(fixed);
    ext.extend([0x00, 0x15]);
    ext.extend((pad as u16).to_be_bytes());
    ext.extend(std::iter::repeat_n(0, pad));
    body.extend((ext.len() as u16).to_be_bytes());
    body.extend(ext);
    let mut handshake = vec![0x01]; // ClientHello
    handshake.extend(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend(body);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend((handshake.len() as u16).to_be_bytes());
    record.extend(handshake);
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_ids_are_unique_and_cover_every_exact_vector_three_ways() {
        let cases = all().unwrap();
        let mut ids: Vec<_> = cases.iter().map(|c| c.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), cases.len());
        assert_eq!(
            cases.iter().filter(|c| c.id.starts_with("vector/")).count(),
            40 * 3
        );
        assert_eq!(cases.len(), 40 * 3 + 16);
        assert!(cases
            .iter()
            .all(|c| !c.section.is_empty() && !c.title.is_empty()));
    }

    #[test]
    fn the_client_hello_is_one_well_formed_record() {
        let r = tls_client_hello();
        assert_eq!(r.len(), 517);
        assert_eq!(r[..3], [0x16, 0x03, 0x01]);
        assert_eq!(usize::from(u16::from_be_bytes([r[3], r[4]])), r.len() - 5);
        assert_eq!(r[5], 0x01);
        let hs = (usize::from(r[6]) << 16) | (usize::from(r[7]) << 8) | usize::from(r[8]);
        assert_eq!(hs, r.len() - 9);
    }

    #[test]
    fn pauses_shrink_to_fit_a_short_stall_timeout() {
        let mut o = Options::for_tests();
        assert_eq!(piece_pause(&o, BYTE_PAUSE, 100), BYTE_PAUSE);
        o.stall = Some(Duration::from_millis(500));
        assert_eq!(
            piece_pause(&o, BYTE_PAUSE, 1000),
            Duration::from_micros(250)
        );
    }
}
