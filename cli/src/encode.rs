//! `lpframe encode`: inputs (or their lines) to frames on standard output,
//! streamed: a frame is written as soon as its input or line has been
//! read, and output is flushed whenever the next read may block, so that a
//! pipe or terminal is served line by line.

use std::path::PathBuf;

use lpframe::{Config, FrameWriter};

use crate::common::{stdout_error, stdout_file};
use crate::input::frame_inputs;
use crate::{Fail, Status};

#[derive(clap::Args)]
pub struct Args {
    /// Input files (default: standard input).
    files: Vec<PathBuf>,
    /// One frame per line (the "\n" or "\r\n" is not part of the payload).
    #[arg(long)]
    lines: bool,
    /// Largest payload to write, in bytes: a longer input or line is
    /// refused as soon as it exceeds it (exit status 1).
    #[arg(long, default_value_t = lpframe::DEFAULT_MAX_FRAME_LEN)]
    max_frame_len: u32,
}

pub fn run(args: Args) -> Result<Status, Fail> {
    let config = Config::new().max_write_frame_len(args.max_frame_len);
    let mut w = FrameWriter::with_config(stdout_file()?, config);
    frame_inputs(
        &args.files,
        args.lines,
        args.max_frame_len,
        &mut w,
        write_error,
    )?;
    Ok(Status::Clean)
}

/// A failure of the frame writer on standard output.
fn write_error(e: lpframe::Error) -> Fail {
    match e {
        lpframe::Error::Io(e) => stdout_error(e),
        // Payloads are checked against the limit as they are read; anything
        // else is reported as it is.
        other => Fail::error(format!("standard output: {other}")),
    }
}
