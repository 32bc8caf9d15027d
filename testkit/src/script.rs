//! What a reading path is fed: a [`Script`] of chunks, faults and ends of
//! stream, and the seeded chunkings and faults the tests and fuzz bodies
//! build scripts from.

use std::collections::VecDeque;
use std::io::{self, Read};

use crate::{after, frame_bytes, Rng};

/// A deterministic chunking of `len` bytes from a seed ([`Rng`]): mostly
/// tiny reads, sometimes large ones.
pub fn chunk_sizes(seed: u64, len: usize) -> Vec<usize> {
    let mut rng = Rng(seed | 1);
    let mut out = Vec::new();
    let mut total = 0;
    while total < len {
        let x = rng.next();
        let n = match x % 4 {
            0 => 1,
            1 => (x >> 8) as usize % 17 + 1,
            2 => (x >> 8) as usize % 300 + 1,
            _ => (x >> 8) as usize % 5000 + 1,
        };
        let n = n.min(len - total);
        out.push(n);
        total += n;
    }
    out
}

/// Cut points that split `len` bytes into the given chunk sizes.
pub fn sizes_of_cuts(len: usize, cuts: &[usize]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut start = 0;
    for &c in cuts {
        let c = c.clamp(start, len);
        if c > start {
            out.push(c - start);
        }
        start = c;
    }
    if len > start {
        out.push(len - start);
    }
    out
}

/// I/O errors to inject, from a seed: at a few stream offsets, one of the
/// retryable kinds. (Offsets are where the error strikes: before the byte
/// at that offset is delivered.)
pub fn seeded_faults(seed: u64, len: usize) -> Vec<(usize, io::ErrorKind)> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut out = Vec::new();
    let mut at = 0usize;
    loop {
        let x = rng.next();
        at += (x >> 16) as usize % 64;
        if at > len {
            return out;
        }
        let kind = match x % 3 {
            0 => io::ErrorKind::WouldBlock,
            1 => io::ErrorKind::TimedOut,
            _ => io::ErrorKind::Interrupted,
        };
        out.push((at, kind));
        at += 1;
    }
}

/// One step of a [`Script`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Bytes delivered by one read (or several, if the caller's buffer is
    /// smaller).
    Data(Vec<u8>),
    /// A read that fails with this kind and delivers nothing.
    Fault(io::ErrorKind),
    /// A read that returns 0: the end of the stream, for now.
    Eof,
}

/// What a reading path is fed: `input` in chunks, with I/O faults injected
/// at chosen offsets, then the end of the stream, then the frame of [`after`] as one
/// more valid frame, then the end again — a source that grows after its
/// end (a file being appended to, a pipe reopened). A path delivers the
/// appended frame iff it reported no fatal error. (Its payload is cut to
/// the receiver's limit: [`after`].)
///
/// As a `Read`, it plays the steps in order; drivers of the pure decoder
/// and the codecs walk them.
#[derive(Debug, Clone)]
pub struct Script {
    /// The steps still to play, in order.
    pub steps: VecDeque<Step>,
}

impl Script {
    /// `input` cut into `chunks` (sizes), with `faults` (offset, kind)
    /// before the byte at each offset, then EOF, the appended frame for a
    /// receiver with limit `max`, EOF.
    pub fn new(
        input: &[u8],
        chunks: &[usize],
        faults: &[(usize, io::ErrorKind)],
        max: u32,
    ) -> Script {
        let mut script = Script::plain(input, chunks, faults);
        script.steps.push_back(Step::Data(frame_bytes(after(max))));
        script.steps.push_back(Step::Eof);
        script
    }

    /// As [`Script::new`], without the appended frame: `input`, then EOF.
    pub fn plain(input: &[u8], chunks: &[usize], faults: &[(usize, io::ErrorKind)]) -> Script {
        let mut faults: Vec<(usize, io::ErrorKind)> = faults.to_vec();
        faults.sort_by_key(|f| f.0);
        let mut faults = faults.into_iter().peekable();
        let mut steps = VecDeque::new();
        let mut pos = 0;
        let mut sizes = chunks.iter().copied();
        let mut left_in_chunk = 0;
        while pos < input.len() || faults.peek().is_some_and(|f| f.0 <= pos) {
            while let Some(&(at, kind)) = faults.peek() {
                if at > pos {
                    break;
                }
                steps.push_back(Step::Fault(kind));
                faults.next();
            }
            if pos >= input.len() {
                break;
            }
            if left_in_chunk == 0 {
                left_in_chunk = sizes.next().unwrap_or(input.len() - pos).max(1);
            }
            let next_fault = faults.peek().map_or(usize::MAX, |f| f.0);
            let end = (pos + left_in_chunk)
                .min(input.len())
                .min(next_fault.max(pos + 1));
            steps.push_back(Step::Data(input[pos..end].to_vec()));
            left_in_chunk -= end - pos;
            pos = end;
        }
        steps.push_back(Step::Eof);
        Script { steps }
    }

    /// The bytes the script delivers, in order (all data steps).
    pub fn bytes(&self) -> Vec<u8> {
        self.steps
            .iter()
            .filter_map(|s| match s {
                Step::Data(d) => Some(&d[..]),
                _ => None,
            })
            .flatten()
            .copied()
            .collect()
    }

    /// `true` when every step has been played.
    pub fn is_done(&self) -> bool {
        self.steps.is_empty()
    }
}

impl Read for Script {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.steps.front_mut() {
            None => Ok(0),
            Some(Step::Eof) => {
                self.steps.pop_front();
                Ok(0)
            }
            Some(Step::Fault(kind)) => {
                let kind = *kind;
                self.steps.pop_front();
                Err(kind.into())
            }
            Some(Step::Data(data)) => {
                let n = data.len().min(buf.len());
                buf[..n].copy_from_slice(&data[..n]);
                data.drain(..n);
                if data.is_empty() {
                    self.steps.pop_front();
                }
                Ok(n)
            }
        }
    }
}
