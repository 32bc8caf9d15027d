//! Frames from an input as it is read, in bounded memory: a loop around the
//! library's one incremental decoder, for `decode` and `inspect`.
//!
//! The buffer holds at most the frame in progress (which the decoder never
//! reserves ahead of its bytes) plus one read.

use std::io::{self, Read};

use bytes::BytesMut;
use lpframe::{Config, DecodeError, Frame, FrameDecoder};

use crate::common::Input;
use crate::Fail;

/// The size of each read from the input.
const READ_SIZE: usize = 64 * 1024;

/// What the decoder found next.
pub enum Step {
    /// A verified frame.
    Frame(Frame),
    /// A decode error; after a fatal one ([`DecodeError::is_fatal`]) there
    /// is nothing more.
    Error(DecodeError),
    /// The end of the input, on a frame boundary.
    End,
    /// More input is needed: call [`Source::fill`].
    NeedInput,
}

pub struct Source {
    pub input: Input,
    buf: BytesMut,
    stage: Vec<u8>,
    decoder: FrameDecoder,
    read: u64,
    eof: bool,
}

impl Source {
    pub fn new(input: Input, config: Config, recover: bool) -> Source {
        Source {
            input,
            buf: BytesMut::new(),
            stage: Vec::new(),
            decoder: if recover {
                FrameDecoder::recovering(config)
            } else {
                FrameDecoder::with_config(config)
            },
            read: 0,
            eof: false,
        }
    }

    /// The next step of the decoder over what has been read.
    pub fn step(&mut self) -> Step {
        let result = if self.eof {
            self.decoder.decode_eof(&mut self.buf)
        } else {
            self.decoder.decode(&mut self.buf)
        };
        match result {
            Ok(Some(frame)) => Step::Frame(frame),
            Ok(None) if self.eof => Step::End,
            Ok(None) => Step::NeedInput,
            Err(e) => Step::Error(e),
        }
    }

    /// Reads once more from the input (at its end, the next
    /// [`step`](Self::step)s finish the stream).
    pub fn fill(&mut self) -> Result<(), Fail> {
        if self.stage.len() < READ_SIZE {
            self.stage.resize(READ_SIZE, 0);
        }
        let n = loop {
            match self.input.file.read(&mut self.stage) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.input.error(e)),
            }
        };
        self.eof = n == 0;
        self.read += n as u64;
        self.buf
            .extend_from_slice(self.stage.get(..n).unwrap_or_default());
        Ok(())
    }

    /// The bytes read and not yet consumed by the decoder; they start at
    /// stream offset [`position`](Self::position).
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }

    /// The stream offset of the first byte the decoder has not consumed.
    pub fn position(&self) -> u64 {
        self.decoder.position()
    }

    /// The stream offset of the header of the frame last decoded, or that
    /// caused the last error.
    pub fn frame_offset(&self) -> u64 {
        self.decoder.frame_offset()
    }

    /// Bytes read from the input so far.
    pub fn bytes_read(&self) -> u64 {
        self.read
    }
}
