//! Payloads from an input, in bounded memory: whole inputs (one frame each,
//! refused as soon as they exceed the limit) or lines (one frame each, as
//! each line arrives).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;

use lpframe::FrameWriter;

use crate::common::{inputs, plural, Input};
use crate::Fail;

/// Frames every input — each of `files` (standard input if none), whole or,
/// with `lines`, line by line — into `w` as it is read, flushing whenever
/// the next read may block (so a pipe or terminal is served line by line),
/// and flushes at the end. `failed` turns a write error into the
/// subcommand's message. Shared by `encode` and `send`.
pub fn frame_inputs<W: Write>(
    files: &[PathBuf],
    lines: bool,
    max: u32,
    w: &mut FrameWriter<W>,
    failed: impl Fn(lpframe::Error) -> Fail,
) -> Result<(), Fail> {
    for path in inputs(files) {
        let mut input = Input::open(path)?;
        if lines {
            let mut lines = Lines::new(input, max);
            loop {
                if lines.would_block() {
                    w.flush().map_err(&failed)?;
                }
                let Some(line) = lines.next_line()? else {
                    break;
                };
                w.write_frame(line).map_err(&failed)?;
            }
        } else {
            let payload = read_whole(&mut input, max)?;
            w.write_frame(&payload).map_err(&failed)?;
        }
    }
    w.flush().map_err(&failed)
}

/// The size of the reads from an input in line mode.
const READ_BUFFER: usize = 64 * 1024;

/// The whole input as one payload: at most `max` bytes are kept; one byte
/// more and the input is refused without reading the rest.
pub fn read_whole(input: &mut Input, max: u32) -> Result<Vec<u8>, Fail> {
    let mut payload = Vec::new();
    (&mut input.file)
        .take(u64::from(max) + 1)
        .read_to_end(&mut payload)
        .map_err(|e| input.error(e))?;
    if payload.len() as u64 > u64::from(max) {
        return Err(Fail::error(format!(
            "{}: larger than --max-frame-len ({}): refused without reading the rest",
            input.name,
            plural(u64::from(max), "byte")
        )));
    }
    Ok(payload)
}

/// The lines of an input, each without its `\n` or `\r\n` (a last line
/// without a newline counts too). Holds at most one line of `max` bytes
/// plus a read buffer: a longer line is refused as soon as it exceeds the
/// limit.
pub struct Lines {
    name: String,
    reader: BufReader<std::fs::File>,
    line: Vec<u8>,
    max: u32,
    number: u64,
}

impl Lines {
    pub fn new(input: Input, max: u32) -> Lines {
        Lines {
            name: input.name,
            reader: BufReader::with_capacity(READ_BUFFER, input.file),
            line: Vec::new(),
            max,
            number: 0,
        }
    }

    /// `true` when nothing read is waiting: the next line needs a read
    /// that may block (a terminal, a pipe), so output should be flushed
    /// first.
    pub fn would_block(&self) -> bool {
        self.reader.buffer().is_empty()
    }

    /// The next line, `None` at the end of the input.
    pub fn next_line(&mut self) -> Result<Option<&[u8]>, Fail> {
        self.line.clear();
        // The payload, its "\r" and its "\n": a line that fills this without
        // its newline is too long (its payload has at least `max + 1` bytes).
        let limit = u64::from(self.max) + 2;
        let n = (&mut self.reader)
            .take(limit)
            .read_until(b'\n', &mut self.line)
            .map_err(|e| Fail::error(format!("{}: {e}", self.name)))?;
        if n == 0 {
            return Ok(None);
        }
        self.number += 1;
        let line = self.line.strip_suffix(b"\n").unwrap_or(&self.line);
        let payload = line.strip_suffix(b"\r").unwrap_or(line);
        if payload.len() as u64 > u64::from(self.max) {
            return Err(Fail::error(format!(
                "{}: line {} is longer than --max-frame-len ({})",
                self.name,
                self.number,
                plural(u64::from(self.max), "byte")
            )));
        }
        Ok(Some(payload))
    }
}
