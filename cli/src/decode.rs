//! `lpframe decode`: the payloads of the frames of an input, written as
//! the frames arrive; each error once on standard error with its offset.

use std::path::PathBuf;

use lpframe::{Config, DecodeError};

use crate::common::{
    describe, error_json, error_offset, frame_json, plural, warn, Input, Out, PayloadFormat,
};
use crate::source::{Source, Step};
use crate::{Fail, Status};

#[derive(clap::Args)]
pub struct Args {
    /// Input file (default: standard input).
    file: Option<PathBuf>,
    #[command(flatten)]
    out: PayloadFormat,
    /// Continue past damage: resynchronise on the next valid header
    /// (PROTOCOL.md section 8); each skipped range is reported.
    #[arg(long)]
    recover: bool,
    /// Largest payload to accept, in bytes (a larger frame is a fatal
    /// error, or a skip with --recover).
    #[arg(long, default_value_t = lpframe::DEFAULT_MAX_FRAME_LEN)]
    max_frame_len: u32,
    /// One JSON object per line instead of payloads: {"event":"frame",
    /// "offset","length","payload_hex","text" (the payload if UTF-8, else
    /// null)}, {"event":"error","offset","error","canonical","message",
    /// "fatal","skipped_bytes" (a skip only)}, and last {"event":"summary",
    /// "frames","dropped_frames","skipped_bytes","end" ("eof" or "fatal")}.
    /// Errors still go to standard error too.
    #[arg(long, conflicts_with_all = ["lines", "hex"])]
    json: bool,
}

pub fn run(args: Args) -> Result<Status, Fail> {
    let config = Config::new().max_read_frame_len(args.max_frame_len);
    let mut src = Source::new(Input::open(args.file.as_deref())?, config, args.recover);
    let mut out = Out::stdout()?;
    let (mut frames, mut dropped, mut skipped) = (0u64, 0u64, 0u64);
    loop {
        match src.step() {
            Step::Frame(frame) => {
                frames += 1;
                if args.json {
                    out.line(frame_json(
                        "frame",
                        Some(src.frame_offset()),
                        frame.payload(),
                        &[],
                    ))?;
                } else {
                    args.out.write(&mut out, frame.payload())?;
                }
            }
            Step::NeedInput => {
                // The read may block (a pipe): what is decoded goes out first.
                out.flush()?;
                src.fill()?;
            }
            Step::End => break,
            Step::Error(e) => {
                out.flush()?;
                let offset = error_offset(&e, src.frame_offset());
                if args.json {
                    out.line(error_json(offset, &e, &[]))?;
                    if e.is_fatal() {
                        out.line(summary(frames, dropped, skipped, "fatal"))?;
                    }
                    out.flush()?;
                }
                warn(format!(
                    "{}: offset {offset}: {}",
                    src.input.name,
                    describe(&e)
                ));
                match e {
                    _ if e.is_fatal() => return Ok(Status::Failed),
                    DecodeError::Skipped { len, .. } => skipped += len,
                    _ => dropped += 1,
                }
            }
        }
    }
    if args.json {
        out.line(summary(frames, dropped, skipped, "eof"))?;
    }
    out.flush()?;
    if dropped + skipped > 0 {
        warn(format!(
            "{}: {} decoded, {} dropped, {} skipped",
            src.input.name,
            plural(frames, "frame"),
            plural(dropped, "corrupt frame"),
            plural(skipped, "byte"),
        ));
    }
    Ok(Status::from_errors(dropped + skipped))
}

/// `--json`'s last line.
fn summary(frames: u64, dropped: u64, skipped: u64, end: &str) -> String {
    serde_json::json!({
        "event": "summary",
        "frames": frames,
        "dropped_frames": dropped,
        "skipped_bytes": skipped,
        "end": end,
    })
    .to_string()
}
