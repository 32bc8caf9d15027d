//! What the subcommands share: inputs named in messages, a standard output
//! that ends quietly when its reader goes away, payload printing, plurals
//! and durations.

use std::fmt::{self, Display};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::fd::AsFd;
use std::path::Path;
use std::time::Duration;

use lpframe::DecodeError;

use crate::Fail;

/// A named input: a file, or standard input (named "stdin" in messages).
pub struct Input {
    pub name: String,
    pub file: File,
}

impl Input {
    /// Opens `path`, or standard input for `None`.
    pub fn open(path: Option<&Path>) -> Result<Input, Fail> {
        let Some(path) = path else {
            // A handle of our own on descriptor 0: raw reads, without std's
            // stdin buffer in between.
            let fd = io::stdin()
                .as_fd()
                .try_clone_to_owned()
                .map_err(|e| Fail::error(format!("stdin: {e}")))?;
            return Ok(Input {
                name: "stdin".into(),
                file: File::from(fd),
            });
        };
        let name = path.display().to_string();
        let file = File::open(path).map_err(|e| Fail::error(format!("{name}: {e}")))?;
        if file.metadata().is_ok_and(|m| m.is_dir()) {
            return Err(Fail::error(format!("{name}: is a directory")));
        }
        Ok(Input { name, file })
    }

    /// A read error, naming the input.
    pub fn error(&self, e: io::Error) -> Fail {
        Fail::error(format!("{}: {e}", self.name))
    }
}

/// The inputs named on the command line, or standard input if none.
pub fn inputs(files: &[std::path::PathBuf]) -> Vec<Option<&Path>> {
    if files.is_empty() {
        vec![None]
    } else {
        files.iter().map(|f| Some(f.as_path())).collect()
    }
}

/// A handle of our own on standard output (descriptor 1), unbuffered: no
/// line buffering in between, whatever the output is.
pub fn stdout_file() -> Result<File, Fail> {
    io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .map(File::from)
        .map_err(stdout_error)
}

/// Standard output, buffered; every error goes through [`stdout_error`].
pub struct Out(BufWriter<File>);

impl Out {
    pub fn stdout() -> Result<Out, Fail> {
        Ok(Out(BufWriter::with_capacity(64 * 1024, stdout_file()?)))
    }

    pub fn write_all(&mut self, bytes: &[u8]) -> Result<(), Fail> {
        self.0.write_all(bytes).map_err(stdout_error)
    }

    pub fn line(&mut self, text: impl Display) -> Result<(), Fail> {
        writeln!(self.0, "{text}").map_err(stdout_error)
    }

    pub fn flush(&mut self) -> Result<(), Fail> {
        self.0.flush().map_err(stdout_error)
    }
}

/// A failed write to standard output: its reader went away (`| head`):
/// quiet; anything else (a full disk): an error.
pub fn stdout_error(e: io::Error) -> Fail {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Fail::Quiet
    } else {
        Fail::error(format!("standard output: {e}"))
    }
}

/// One line on standard error, `lpframe: MESSAGE`. A failure to write it is
/// ignored: there is nowhere left to report it.
pub fn warn(msg: impl Display) {
    let _ = writeln!(io::stderr().lock(), "lpframe: {msg}");
}

/// How payloads are printed.
#[derive(clap::Args, Clone, Copy, Debug)]
pub struct PayloadFormat {
    /// Print each payload followed by a newline.
    #[arg(long, conflicts_with = "hex")]
    pub lines: bool,
    /// Print each payload as hex, one per line.
    #[arg(long)]
    pub hex: bool,
}

impl PayloadFormat {
    pub fn write(&self, out: &mut Out, payload: &[u8]) -> Result<(), Fail> {
        if self.hex {
            out.line(Hex(payload))
        } else if self.lines {
            out.write_all(payload)?;
            out.write_all(b"\n")
        } else {
            out.write_all(payload)
        }
    }
}

/// Lowercase hex, no separators.
pub struct Hex<'a>(pub &'a [u8]);

impl Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// `1 frame`, `2 frames`, `0 frames`.
pub fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// A decode error for humans: the library's message, without the offset
/// of a skip (the CLI prints every error's offset in front of it).
pub fn describe(e: &DecodeError) -> String {
    match e {
        DecodeError::Skipped { len, cause, .. } => {
            format!(
                "skipped {} after: {}",
                plural(*len, "byte"),
                describe(cause)
            )
        }
        other => other.to_string(),
    }
}

/// The stream offset an error is about: the start of the skipped bytes, or
/// the header of the frame (`frame_offset`).
pub fn error_offset(e: &DecodeError, frame_offset: u64) -> u64 {
    match e {
        DecodeError::Skipped { offset, .. } => *offset,
        _ => frame_offset,
    }
}

/// `--json` of `decode`, `send` and `listen`: a frame (or reply) as one
/// JSON line. `payload_hex` always; `text` the payload as a string when it
/// is UTF-8, else null; `offset` null where it is not tracked. `extra` adds fields (e.g. the peer's address).
pub fn frame_json(
    event: &str,
    offset: Option<u64>,
    payload: &[u8],
    extra: &[(&str, serde_json::Value)],
) -> String {
    let mut o = serde_json::Map::new();
    o.insert("event".into(), event.into());
    for (k, v) in extra {
        o.insert((*k).into(), v.clone());
    }
    o.insert("offset".into(), offset.into());
    o.insert("length".into(), payload.len().into());
    o.insert("payload_hex".into(), Hex(payload).to_string().into());
    o.insert(
        "text".into(),
        std::str::from_utf8(payload).map_or(serde_json::Value::Null, Into::into),
    );
    serde_json::Value::Object(o).to_string()
}

/// `--json`: a decode error as one JSON line: `error` (its name in
/// PROTOCOL.md 4.2), `canonical`, `message`, `fatal`, and for a skip
/// `skipped_bytes`.
pub fn error_json(offset: u64, e: &DecodeError, extra: &[(&str, serde_json::Value)]) -> String {
    let mut o = serde_json::Map::new();
    o.insert("event".into(), "error".into());
    for (k, v) in extra {
        o.insert((*k).into(), v.clone());
    }
    o.insert("offset".into(), offset.into());
    o.insert("error".into(), e.name().into());
    o.insert("canonical".into(), e.canonical().to_string().into());
    o.insert("message".into(), describe(e).into());
    o.insert("fatal".into(), e.is_fatal().into());
    if let DecodeError::Skipped { len, .. } = e {
        o.insert("skipped_bytes".into(), (*len).into());
    }
    serde_json::Value::Object(o).to_string()
}

/// A deadline option, in seconds (`1.5`); 0 means none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Secs(pub Option<Duration>);

/// Parses a [`Secs`] option.
pub fn parse_secs(s: &str) -> Result<Secs, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if secs == 0.0 {
        return Ok(Secs(None));
    }
    if !(0.001..=1e9).contains(&secs) {
        return Err(format!(
            "{s} s: use 0 (no deadline) or 0.001 to 1000000000 seconds"
        ));
    }
    Ok(Secs(Some(Duration::from_secs_f64(secs))))
}

/// A duration as given (`1.5 s`), for messages.
pub fn secs(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals() {
        assert_eq!(plural(0, "frame"), "0 frames");
        assert_eq!(plural(1, "frame"), "1 frame");
        assert_eq!(plural(2, "error"), "2 errors");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_secs("0"), Ok(Secs(None)));
        assert_eq!(
            parse_secs("1.5"),
            Ok(Secs(Some(Duration::from_millis(1500))))
        );
        assert!(parse_secs("-1").is_err());
        assert!(parse_secs("NaN").is_err());
        assert!(parse_secs("inf").is_err());
        assert!(parse_secs("x").is_err());
        assert_eq!(secs(Duration::from_millis(1500)), "1.5 s");
    }

    #[test]
    fn messages_are_pluralised() {
        use lpframe::FramePart;
        let one = DecodeError::Truncated {
            part: FramePart::Header,
            missing: 1,
        };
        assert_eq!(
            describe(&one),
            "stream ended inside a frame: 1 more header byte was expected"
        );
        let too_large = DecodeError::FrameTooLarge { len: 1, max: 0 };
        assert_eq!(
            describe(&too_large),
            "frame too large: 1 byte declared, limit is 0"
        );
        let skipped = DecodeError::Skipped {
            offset: 3,
            len: 1,
            cause: Box::new(one),
        };
        assert_eq!(
            describe(&skipped),
            "skipped 1 byte after: stream ended inside a frame: 1 more header byte was expected"
        );
    }
}
