//! `lpframe inspect`: one entry per frame, error or skipped range, streamed
//! from the library's own decoder, in bounded memory.
//!
//! No protocol check is made here: which check failed is the decoder's
//! verdict (its [`DecodeError`]); the fields are the library's
//! [`Header::from_bytes`] of the bytes at the entry's offset. Each column
//! shows the verdict of its check in the order of PROTOCOL.md section 4:
//! the checks before the one that failed passed (ok), it failed (BAD), the
//! ones after it were not made (`-`), except the header CRC, which is
//! judged on its own ([`Header::computed_header_crc`]) when only the
//! version failed.

use std::io::{self, IsTerminal};
use std::path::PathBuf;

use lpframe::{Config, DecodeError, Frame, FramePart, Header, HEADER_LEN};
use serde::Serialize;

use crate::common::{describe, error_offset, plural, Hex, Input, Out};
use crate::source::{Source, Step};
use crate::{Fail, Status};

#[derive(clap::Args)]
pub struct Args {
    /// Input file (default: standard input).
    file: Option<PathBuf>,
    /// Continue past damage: resynchronise on the next valid header and
    /// list what was skipped (PROTOCOL.md section 8).
    #[arg(long)]
    recover: bool,
    /// One JSON object per line: an event per frame, error and skipped
    /// range, then a summary.
    #[arg(long, long_help = JSON_HELP)]
    json: bool,
    /// Largest payload to accept, in bytes.
    #[arg(long, default_value_t = lpframe::DEFAULT_MAX_FRAME_LEN)]
    max_frame_len: u32,
}

/// `inspect --help`'s account of `--json`: every field, for someone who
/// has the binary and not the repository.
const JSON_HELP: &str = "One JSON object per line (serde_json), in stream order. \"event\" is \
\"frame\", \"error\", \"skipped\" or, last, \"summary\".
  frame, error, skipped: offset (of the header; of the first skipped byte), magic (hex, \
or null), version, flags, length (numbers or null), payload_crc, header_crc (\"0x...\" or \
null), raw_hex (the bytes at offset, only when the magic failed), checks {magic, version, \
header_crc, flags, length, payload_crc: \"ok\", \"bad\" or \"not_checked\"}.
  frame adds preview_hex (the first 64 payload bytes).
  error adds error (its name in PROTOCOL.md 4.2), canonical (the test vectors' text), \
message, fatal (true: only the summary follows).
  skipped adds skipped_bytes, cause (the error that started the skip), canonical, message.
  summary: frames, payload_bytes, errors, dropped_frames, skipped_bytes, end (\"eof\" or \
\"fatal\"), input_bytes (null after a fatal error), stopped_at (null at eof).";

/// How many payload bytes a JSON frame event shows.
const JSON_PREVIEW: usize = 64;

/// The outcome of one check of PROTOCOL.md section 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Verdict {
    Ok,
    Bad,
    NotChecked,
}

/// The six checks of PROTOCOL.md section 4, in its order.
#[derive(Debug, Serialize)]
struct Checks {
    magic: Verdict,
    version: Verdict,
    header_crc: Verdict,
    flags: Verdict,
    length: Verdict,
    payload_crc: Verdict,
}

/// The bytes at an entry's offset (up to a header's 16, as many as
/// arrived) and what the checks said about them.
struct View<'a> {
    bytes: &'a [u8],
    /// The magic failed: the bytes are not a header, so they are shown
    /// raw, never as fields.
    raw: bool,
    /// The fields, when all 16 bytes arrived and the magic is right.
    header: Option<Header>,
    checks: Checks,
}

impl<'a> View<'a> {
    /// `error`: the decoder's verdict on these bytes (`None`: a frame it
    /// delivered); for a skipped range, the error that started the skip.
    fn new(bytes: &'a [u8], error: Option<&DecodeError>) -> View<'a> {
        use Verdict::{Bad, NotChecked, Ok};
        let error = match error {
            Some(DecodeError::Skipped { cause, .. }) => Some(&**cause),
            other => other,
        };
        // How many checks (1 to 6) passed, and which one failed, as the
        // decoder reported them.
        let (passed, failed) = match error {
            None => (6, None),
            Some(DecodeError::BadMagic { .. }) => (0, Some(1)),
            Some(DecodeError::UnsupportedVersion { .. }) => (1, Some(2)),
            Some(DecodeError::HeaderChecksum { .. }) => (2, Some(3)),
            Some(DecodeError::ReservedFlags { .. }) => (3, Some(4)),
            Some(DecodeError::FrameTooLarge { .. }) => (4, Some(5)),
            Some(DecodeError::PayloadChecksum { .. }) => (5, Some(6)),
            // The stream ended inside the header: checks 1 and 2 are made
            // on its first bytes as they arrive, and passed (or the error
            // would be theirs); the others need all 16.
            Some(DecodeError::Truncated {
                part: FramePart::Header,
                ..
            }) => (bytes.len().saturating_sub(1).min(2), None),
            Some(DecodeError::Truncated {
                part: FramePart::Payload,
                ..
            }) => (5, None),
            Some(_) => (0, None),
        };
        let verdict = |check: usize| {
            if check <= passed {
                Ok
            } else if failed == Some(check) {
                Bad
            } else {
                NotChecked
            }
        };
        let raw = failed == Some(1);
        let header = bytes
            .first_chunk::<HEADER_LEN>()
            .filter(|_| !raw)
            .map(Header::from_bytes);
        let mut header_crc = verdict(3);
        if failed == Some(2) {
            // Judged on its own: the CRC of a header of another version
            // (or with a wrong version byte) is still right or wrong.
            if let Some(h) = header {
                header_crc = if h.header_crc() == h.computed_header_crc() {
                    Ok
                } else {
                    Bad
                };
            }
        }
        View {
            bytes,
            raw,
            header,
            checks: Checks {
                magic: verdict(1),
                version: verdict(2),
                header_crc,
                flags: verdict(4),
                length: verdict(5),
                payload_crc: verdict(6),
            },
        }
    }

    fn magic(&self) -> Option<String> {
        let magic = self.bytes.get(..2).unwrap_or(self.bytes);
        (!magic.is_empty()).then(|| Hex(magic).to_string())
    }

    fn version(&self) -> Option<u8> {
        match self.header {
            Some(h) => Some(h.version()),
            None if self.raw => None,
            None => self.bytes.get(2).copied(),
        }
    }

    fn json(&self) -> HeaderJson<'_> {
        let h = self.header;
        HeaderJson {
            magic: self.magic(),
            version: self.version(),
            flags: h.map(|h| h.flags()),
            length: h.map(|h| h.len()),
            payload_crc: h.map(|h| crc(h.payload_crc())),
            header_crc: h.map(|h| crc(h.header_crc())),
            raw_hex: self.raw.then(|| Hex(self.bytes).to_string()),
            checks: &self.checks,
        }
    }
}

fn crc(value: u32) -> String {
    format!("{value:#010x}")
}

/// The header fields of a JSON event; `null` where the bytes did not
/// arrive or are not a header.
#[derive(Serialize)]
struct HeaderJson<'a> {
    magic: Option<String>,
    version: Option<u8>,
    flags: Option<u8>,
    length: Option<u32>,
    payload_crc: Option<String>,
    header_crc: Option<String>,
    raw_hex: Option<String>,
    checks: &'a Checks,
}

/// One line of `--json` output.
#[derive(Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum Event<'a> {
    Frame {
        offset: u64,
        #[serde(flatten)]
        header: HeaderJson<'a>,
        preview_hex: String,
    },
    Error {
        offset: u64,
        error: &'static str,
        canonical: String,
        message: String,
        fatal: bool,
        #[serde(flatten)]
        header: HeaderJson<'a>,
    },
    Skipped {
        offset: u64,
        skipped_bytes: u64,
        cause: &'static str,
        canonical: String,
        message: String,
        #[serde(flatten)]
        header: HeaderJson<'a>,
    },
    Summary {
        frames: u64,
        payload_bytes: u64,
        errors: u64,
        dropped_frames: u64,
        skipped_bytes: u64,
        end: &'static str,
        input_bytes: Option<u64>,
        stopped_at: Option<u64>,
    },
}

/// Totals for the summary.
#[derive(Debug, Default)]
struct Summary {
    frames: u64,
    payload_bytes: u64,
    errors: u64,
    dropped_frames: u64,
    skipped_bytes: u64,
    /// The offset of the fatal error that stopped the listing.
    stopped_at: Option<u64>,
}

pub fn run(args: Args) -> Result<Status, Fail> {
    let config = Config::new().max_read_frame_len(args.max_frame_len);
    let mut src = Source::new(Input::open(args.file.as_deref())?, config, args.recover);
    let color = !args.json && io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut report = Report {
        out: Out::stdout()?,
        json: args.json,
        color,
    };
    report.start()?;
    let mut sum = Summary::default();
    // The bytes (up to a header's 16) at the frame boundary the decoder is
    // at, taken before each call that may consume them.
    let mut head: Vec<u8> = Vec::with_capacity(HEADER_LEN);
    let mut head_at = 0u64;
    let mut boundary = 0u64;
    loop {
        if src.position() == boundary {
            let pending = src.pending();
            head.clear();
            head.extend_from_slice(pending.get(..HEADER_LEN).unwrap_or(pending));
            head_at = boundary;
        }
        let step = src.step();
        let bytes_at = |offset: u64| if head_at == offset { &head[..] } else { &[] };
        match step {
            Step::NeedInput => {
                report.out.flush()?;
                src.fill()?;
                continue;
            }
            Step::End => break,
            Step::Frame(frame) => {
                let offset = src.frame_offset();
                sum.frames += 1;
                sum.payload_bytes += frame.len() as u64;
                report.frame(offset, &View::new(bytes_at(offset), None), &frame)?;
            }
            Step::Error(e) => {
                let offset = error_offset(&e, src.frame_offset());
                sum.errors += 1;
                match &e {
                    DecodeError::Skipped { len, .. } => sum.skipped_bytes += len,
                    DecodeError::PayloadChecksum { .. } => sum.dropped_frames += 1,
                    _ => {}
                }
                report.error(offset, &View::new(bytes_at(offset), Some(&e)), &e)?;
                if e.is_fatal() {
                    sum.stopped_at = Some(offset);
                    break;
                }
            }
        }
        boundary = src.position();
    }
    report.summary(&sum, src.bytes_read())?;
    report.out.flush()?;
    Ok(match sum.stopped_at {
        Some(_) => Status::Failed,
        None => Status::from_errors(sum.errors),
    })
}

/// Writes the listing, as text or JSON lines.
struct Report {
    out: Out,
    json: bool,
    color: bool,
}

impl Report {
    fn start(&mut self) -> Result<(), Fail> {
        if self.json {
            return Ok(());
        }
        self.out.line(
            "# each check, in the order of PROTOCOL.md section 4: ok, BAD, or - (not checked)",
        )?;
        self.out.line(format!(
            "{:>10}  {:<8}  {:<7}  {:<14}  {:<8}  {:<14}  {:<14}  payload",
            "offset", "magic", "version", "header_crc", "flags", "length", "payload_crc"
        ))
    }

    fn emit(&mut self, event: &Event<'_>) -> Result<(), Fail> {
        let line = serde_json::to_string(event)
            .map_err(|e| Fail::error(format!("cannot write JSON: {e}")))?;
        self.out.line(line)
    }

    fn frame(&mut self, offset: u64, view: &View<'_>, frame: &Frame) -> Result<(), Fail> {
        let payload = frame.payload();
        if self.json {
            return self.emit(&Event::Frame {
                offset,
                header: view.json(),
                preview_hex: Hex(payload.get(..JSON_PREVIEW).unwrap_or(payload)).to_string(),
            });
        }
        let row = self.row(offset, view, &preview(payload));
        self.out.line(row)
    }

    fn error(&mut self, offset: u64, view: &View<'_>, e: &DecodeError) -> Result<(), Fail> {
        if self.json {
            let header = view.json();
            let canonical = e.canonical().to_string();
            let message = describe(e);
            return self.emit(&match e {
                DecodeError::Skipped { len, cause, .. } => Event::Skipped {
                    offset,
                    skipped_bytes: *len,
                    cause: cause.name(),
                    canonical,
                    message,
                    header,
                },
                _ => Event::Error {
                    offset,
                    error: e.name(),
                    canonical,
                    message,
                    fatal: e.is_fatal(),
                    header,
                },
            });
        }
        let message = self.warn(&describe(e));
        let row = self.row(offset, view, &message);
        self.out.line(row)
    }

    fn summary(&mut self, sum: &Summary, input_bytes: u64) -> Result<(), Fail> {
        if self.json {
            return self.emit(&Event::Summary {
                frames: sum.frames,
                payload_bytes: sum.payload_bytes,
                errors: sum.errors,
                dropped_frames: sum.dropped_frames,
                skipped_bytes: sum.skipped_bytes,
                end: if sum.stopped_at.is_some() {
                    "fatal"
                } else {
                    "eof"
                },
                input_bytes: sum.stopped_at.is_none().then_some(input_bytes),
                stopped_at: sum.stopped_at,
            });
        }
        let end = match sum.stopped_at {
            Some(offset) => format!("stopped by a fatal error at offset {offset}"),
            None => format!("end of input after {}", plural(input_bytes, "byte")),
        };
        self.out.line(format!(
            "summary: {}, {}, {}, {} dropped, {} skipped; {end}",
            plural(sum.frames, "frame"),
            plural(sum.payload_bytes, "payload byte"),
            plural(sum.errors, "error"),
            plural(sum.dropped_frames, "corrupt frame"),
            plural(sum.skipped_bytes, "byte"),
        ))
    }

    /// One row: offset, each field with its verdict, then `tail` (a payload
    /// preview or a message). Bytes that fail the magic are shown raw.
    fn row(&self, offset: u64, view: &View<'_>, tail: &str) -> String {
        let c = &view.checks;
        let magic = self.cell(view.magic(), c.magic, 8);
        if view.raw {
            return format!("{offset:>10}  {magic}  raw {}  {tail}", preview(view.bytes));
        }
        let h = view.header;
        let cells = [
            self.cell(view.version().map(|v| v.to_string()), c.version, 7),
            self.cell(h.map(|h| crc(h.header_crc())), c.header_crc, 14),
            self.cell(h.map(|h| format!("{:#04x}", h.flags())), c.flags, 8),
            self.cell(h.map(|h| h.len().to_string()), c.length, 14),
            self.cell(h.map(|h| crc(h.payload_crc())), c.payload_crc, 14),
        ];
        format!("{offset:>10}  {magic}  {}  {tail}", cells.join("  "))
    }

    /// `value verdict`, padded to `width` (colour codes not counted).
    fn cell(&self, value: Option<String>, verdict: Verdict, width: usize) -> String {
        let word = match verdict {
            Verdict::Ok => "ok",
            Verdict::Bad => "BAD",
            Verdict::NotChecked => "-",
        };
        let value = value.map(|v| v + " ").unwrap_or_default();
        let pad = " ".repeat(width.saturating_sub(value.len() + word.len()));
        let word = match (self.color, verdict) {
            (true, Verdict::Ok) => format!("\x1b[32m{word}\x1b[0m"),
            (true, Verdict::Bad) => format!("\x1b[1;31m{word}\x1b[0m"),
            _ => word.to_string(),
        };
        format!("{value}{word}{pad}")
    }

    fn warn(&self, s: &str) -> String {
        if self.color {
            format!("\x1b[33m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

/// `68 65 6c 6c 6f  |hello|` for the first 16 bytes.
fn preview(bytes: &[u8]) -> String {
    let head = bytes.get(..16).unwrap_or(bytes);
    let hexes: Vec<String> = head.iter().map(|b| format!("{b:02x}")).collect();
    let ascii: String = head
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                char::from(b)
            } else {
                '.'
            }
        })
        .collect();
    let more = match bytes.len().saturating_sub(16) {
        0 => String::new(),
        n => format!(" (+{})", plural(n as u64, "byte")),
    };
    format!("{:<47}  |{ascii}|{more}", hexes.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(version: u8, flags: u8) -> [u8; HEADER_LEN] {
        let mut b = Header::for_payload(b"hello").unwrap().to_bytes();
        b[2] = version;
        b[3] = flags;
        let crc = Header::from_bytes(&b).computed_header_crc();
        b[12..].copy_from_slice(&crc.to_be_bytes());
        b
    }

    #[test]
    fn a_right_crc_is_ok_whatever_the_check_that_failed() {
        let v2 = header(2, 0);
        let e = DecodeError::UnsupportedVersion {
            found: 2,
            supported: 1,
        };
        let c = View::new(&v2, Some(&e)).checks;
        assert_eq!(
            [c.magic, c.version, c.header_crc, c.flags, c.length],
            [
                Verdict::Ok,
                Verdict::Bad,
                Verdict::Ok,
                Verdict::NotChecked,
                Verdict::NotChecked
            ]
        );
        let f80 = header(1, 0x80);
        let e = DecodeError::ReservedFlags { flags: 0x80 };
        let c = View::new(&f80, Some(&e)).checks;
        assert_eq!(
            [c.header_crc, c.flags, c.length, c.payload_crc],
            [
                Verdict::Ok,
                Verdict::Bad,
                Verdict::NotChecked,
                Verdict::NotChecked
            ]
        );
        // A wrong CRC on a version-2 header is judged too.
        let mut bad = v2;
        bad[15] ^= 1;
        let e = DecodeError::UnsupportedVersion {
            found: 2,
            supported: 1,
        };
        assert_eq!(View::new(&bad, Some(&e)).checks.header_crc, Verdict::Bad);
    }

    #[test]
    fn bytes_that_fail_the_magic_have_no_fields() {
        let e = DecodeError::BadMagic {
            found: 0x4745,
            hint: None,
        };
        let v = View::new(b"GET / HTTP/1.1\r\n", Some(&e));
        assert!(v.raw && v.header.is_none() && v.version().is_none());
        assert_eq!(v.checks.magic, Verdict::Bad);
        assert_eq!(v.checks.header_crc, Verdict::NotChecked);
    }
}
