//! Recovery mode's scanner (PROTOCOL.md section 8): after a header-level
//! error, release bytes until the stream starts with a header that
//! verifies. Linear: each byte is passed by the magic search once, and each
//! candidate costs one constant-time header check before the scan moves
//! past it.

use bytes::{Buf, BytesMut};

use crate::{header::check_prefix, DecodeError, Header, HEADER_LEN, MAGIC};

/// A scan in progress: where the damage started and why.
#[derive(Debug, Clone)]
pub(super) struct Scan {
    /// Stream offset of the first skipped byte (the start of the header
    /// that failed).
    start: u64,
    /// The error that started the skip.
    cause: DecodeError,
    /// Stream offset of a candidate already counted while it waited for
    /// its 16 bytes, so that waiting across reads does not count it again.
    counted_at: Option<u64>,
}

impl Scan {
    pub(super) fn new(start: u64, cause: DecodeError) -> Scan {
        Scan {
            start,
            cause,
            counted_at: None,
        }
    }

    /// Releases bytes from the front of `src` (advancing `position`) until
    /// it starts with a header that verifies against `max_len`: then returns
    /// `true`. Returns `false` when every byte of `src` was ruled out, or
    /// when a candidate at its front still waits for its 16 bytes.
    ///
    /// A header found here is trusted like any verified header: if its
    /// payload then fails its CRC, the frame is reported and its declared
    /// length skipped. Rescanning inside that length instead would make the
    /// worst case quadratic (crafted headers every few bytes, each declaring
    /// the maximum length), and a false header in damaged data needs a
    /// 64-bit match (probability 2^-64 per offset; PROTOCOL.md section 8).
    pub(super) fn run(
        &mut self,
        src: &mut BytesMut,
        position: &mut u64,
        candidates: &mut u64,
        max_len: u32,
    ) -> bool {
        // Every iteration releases at least one byte of `src` or returns.
        loop {
            let Some(at) = find_candidate(src) else {
                let all = src.len();
                skip(src, all, position);
                return false;
            };
            skip(src, at, position);
            if src.len() >= MAGIC.len() && self.counted_at != Some(*position) {
                // A magic pair: a candidate (a lone first magic byte at the
                // end is not one until its pair arrives).
                *candidates += 1;
                self.counted_at = Some(*position);
            }
            match src.first_chunk::<HEADER_LEN>() {
                Some(head) if Header::parse(head, max_len).is_ok() => return true,
                Some(_) => {}
                // A candidate still arriving: wait for its 16 bytes unless
                // its first bytes already rule it out.
                None if check_prefix(src).is_ok() => return false,
                None => {}
            }
            skip(src, 1, position);
        }
    }

    /// The report of the bytes skipped from the start of the damage to
    /// stream offset `end`.
    pub(super) fn skipped(&self, end: u64) -> DecodeError {
        DecodeError::Skipped {
            offset: self.start,
            len: end - self.start,
            cause: Box::new(self.cause.clone()),
        }
    }
}

/// Releases `n` bytes from the front of `src`, advancing `position`.
pub(super) fn skip(src: &mut BytesMut, n: usize, position: &mut u64) {
    let n = n.min(src.len());
    src.advance(n);
    *position += n as u64;
}

/// The index of the first possible header start in `src`: a magic pair,
/// or a lone first magic byte at the very end (its pair may follow).
fn find_candidate(src: &[u8]) -> Option<usize> {
    let mut i = 0;
    loop {
        i += src.get(i..)?.iter().position(|&b| b == MAGIC[0])?;
        match src.get(i + 1) {
            None => return Some(i),
            Some(&b) if b == MAGIC[1] => return Some(i),
            Some(_) => i += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    //! The scan's cost bound (PROTOCOL.md section 8): at most one candidate
    //! per two bytes scanned, each verified once, however the input is
    //! split into reads.

    use bytes::BytesMut;

    use crate::{Config, FrameDecoder};

    /// Recovery-mode candidates counted over `input` fed in `chunk`-byte
    /// reads (and, with `eof`, the end of the stream declared).
    fn candidates(input: &[u8], chunk: usize, eof: bool) -> u64 {
        let mut dec = FrameDecoder::recovering(Config::new());
        let mut buf = BytesMut::new();
        for piece in input.chunks(chunk) {
            buf.extend_from_slice(piece);
            while let Ok(Some(_)) | Err(_) = dec.decode(&mut buf) {
                if buf.is_empty() {
                    break;
                }
            }
            // Ruled-out bytes are released as the scan goes.
            assert!(
                buf.len() < crate::HEADER_LEN,
                "the scan kept {} bytes",
                buf.len()
            );
        }
        if eof {
            let _ = dec.decode_eof(&mut buf);
        }
        dec.scan_candidates()
    }

    #[test]
    fn the_candidate_bound_holds_whatever_the_reads() {
        // Issue 16.5: 1 MiB of `c1 4c`, in 4 KiB and in 7-byte reads,
        // counted 524,544 and 674,085 candidates: one waiting for its 16th
        // byte was counted again on every read. Every magic pair but the
        // first (the header whose failure started the scan) is a candidate,
        // counted once: the bound of one per two bytes, less one.
        const LEN: usize = 1 << 20;
        let magic: Vec<u8> = [0xC1, 0x4C].iter().copied().cycle().take(LEN).collect();
        for chunk in [1, 2, 3, 7, 16, 4096, LEN] {
            assert_eq!(
                candidates(&magic, chunk, true),
                LEN as u64 / 2 - 1,
                "{chunk}-byte reads"
            );
        }
        // A lone first magic byte is not a candidate until its pair
        // arrives: `c1 c1 c1 ...` has none, whatever the reads.
        for chunk in [1, 7, 4096] {
            assert_eq!(
                candidates(&[0xC1; 4096], chunk, true),
                0,
                "{chunk}-byte reads"
            );
        }
    }

    #[test]
    fn input_made_of_near_headers_costs_one_candidate_per_four_bytes() {
        // The worst case for a scanner: every fourth byte starts a candidate
        // that passes magic, version and flags and fails only the header
        // CRC (one 12-byte CRC each). Every pair but the one at offset 0
        // (whose failure started the scan) and the last two (the scan waits
        // for the 16 bytes of the one before them, and the end of the stream
        // is not declared) is examined exactly once.
        const LEN: usize = 4 << 20;
        let hostile: Vec<u8> = [0xC1, 0x4C, 0x01, 0x00]
            .iter()
            .copied()
            .cycle()
            .take(LEN)
            .collect();
        for chunk in [7, 64 * 1024] {
            assert_eq!(
                candidates(&hostile, chunk, false),
                LEN as u64 / 4 - 3,
                "{chunk}-byte reads"
            );
        }
    }
}
