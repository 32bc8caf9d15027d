//! Small helpers for the reliability tests: encoding a stream, and a
//! reader of a peer that went quiet.

use std::io::{self, Read};

/// Encodes payloads back to back with the default limit.
pub fn encode_all(payloads: &[&[u8]]) -> Vec<u8> {
    let mut wire = Vec::new();
    for p in payloads {
        lpframe::write_frame(&mut wire, p).expect("a write into a Vec cannot fail");
    }
    wire
}

/// A `Read` that returns `data` in reads of at most `max_read` bytes, then
/// `WouldBlock` forever: a peer that sent part of a stream and went quiet.
#[derive(Debug, Clone)]
pub struct StallAfter {
    /// The bytes the peer sent.
    pub data: Vec<u8>,
    /// How many of them have been read.
    pub pos: usize,
    /// The largest read it returns.
    pub max_read: usize,
}

impl StallAfter {
    /// `data` in reads of at most `max_read` bytes, then `WouldBlock`.
    pub fn new(data: Vec<u8>, max_read: usize) -> Self {
        StallAfter {
            data,
            pos: 0,
            max_read,
        }
    }
}

impl Read for StallAfter {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let rest = self.data.get(self.pos..).unwrap_or_default();
        if rest.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = rest.len().min(buf.len()).min(self.max_read);
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }
}
