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

/// A payload of `len` bytes whose content depends on `seed` and on each
/// byte's position (so a byte moved or lost shows).
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Frames of these payload sizes back to back ([`pattern`] payloads, the
/// i-th seeded with i): the payloads, and the wire bytes.
pub fn frames_of_sizes(sizes: &[usize]) -> (Vec<Vec<u8>>, Vec<u8>) {
    let payloads: Vec<Vec<u8>> = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| pattern(n, i as u8))
        .collect();
    let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
    let wire = encode_all(&refs);
    (payloads, wire)
}

/// Ways to cut `wire` into reads, for streams of large frames: whole, in
/// reads of each of the `fixed` sizes, and cut just before, inside and just
/// after the second frame's header and inside its payload (the first frame's
/// payload being `first_len` bytes).
pub fn chunkings_around_second_header(
    wire: &[u8],
    fixed: &[usize],
    first_len: usize,
) -> Vec<Vec<usize>> {
    let mut out = vec![vec![wire.len()]];
    for &size in fixed {
        out.push(wire.chunks(size.max(1)).map(<[u8]>::len).collect());
    }
    let second = lpframe::HEADER_LEN + first_len;
    for cuts in [
        vec![second, second + 8, second + 16, second + 17],
        vec![second + 16 + 1000, second + 16 + 65_534],
        vec![second + 15],
    ] {
        out.push(crate::sizes_of_cuts(wire.len(), &cuts));
    }
    out
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
