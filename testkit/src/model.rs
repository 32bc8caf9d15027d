//! The oracle: a receiver written from PROTOCOL.md section 4 without
//! lpframe's decoder, and what every path must therefore produce.

use lpframe::HEADER_LEN;

use crate::{after, Event};

/// A straightforward, non-incremental receiver written from PROTOCOL.md
/// section 4 independently of `lpframe` (its own field reads, crc32fast for
/// both CRCs, its own canonical texts, parsed back into errors by
/// [`Event::canonical`]): the oracle the real paths are
/// compared with. No recovery mode.
pub fn model(input: &[u8], max: u32) -> Vec<Event> {
    model_with_boundaries(input, max).0
}

/// [`model`], with the offsets at which each frame it decodes starts (the
/// frame boundaries, for faults that only a path which keeps its place
/// between frames survives).
pub fn model_with_boundaries(input: &[u8], max: u32) -> (Vec<Event>, Vec<usize>) {
    let mut out = Vec::new();
    let mut boundaries = Vec::new();
    let mut pos = 0usize;
    loop {
        boundaries.push(pos);
        let rest = &input[pos..];
        if rest.is_empty() {
            return (out, boundaries);
        }
        let err = |s: String| Event::canonical(&s);
        if rest.len() >= 2 && rest[..2] != [0xC1, 0x4C] {
            let found = (u16::from(rest[0]) << 8) | u16::from(rest[1]);
            out.push(err(format!("BadMagic found={found:#06x}")));
            return (out, boundaries);
        }
        if rest.len() >= 3 && rest[2] != 1 {
            out.push(err(format!(
                "UnsupportedVersion found={} supported=1",
                rest[2]
            )));
            return (out, boundaries);
        }
        if rest.len() < HEADER_LEN {
            out.push(err(format!(
                "Truncated part=header missing={}",
                HEADER_LEN - rest.len()
            )));
            return (out, boundaries);
        }
        let be = |i: usize| {
            (u32::from(rest[i]) << 24)
                | (u32::from(rest[i + 1]) << 16)
                | (u32::from(rest[i + 2]) << 8)
                | u32::from(rest[i + 3])
        };
        let (len, pcrc, hcrc) = (be(4), be(8), be(12));
        let actual = crc32fast::hash(&rest[..12]);
        if hcrc != actual {
            out.push(err(format!(
                "HeaderChecksum expected={hcrc:#010x} actual={actual:#010x}"
            )));
            return (out, boundaries);
        }
        if rest[3] != 0 {
            out.push(err(format!("ReservedFlags flags={:#04x}", rest[3])));
            return (out, boundaries);
        }
        if len > max {
            out.push(err(format!("FrameTooLarge len={len} max={max}")));
            return (out, boundaries);
        }
        let body = &rest[HEADER_LEN..];
        if body.len() < len as usize {
            out.push(err(format!(
                "Truncated part=payload missing={}",
                len as usize - body.len()
            )));
            return (out, boundaries);
        }
        let payload = &body[..len as usize];
        let actual = crc32fast::hash(payload);
        if actual == pcrc {
            out.push(Event::Frame(payload.to_vec()));
        } else {
            out.push(err(format!(
                "PayloadChecksum expected={pcrc:#010x} actual={actual:#010x} len={len}"
            )));
        }
        pos += HEADER_LEN + len as usize;
    }
}

/// What a path fed `Script::new(input, .., max)` must produce: the
/// model's events, then the appended frame iff none of them is fatal.
pub fn expected(input: &[u8], max: u32) -> Vec<Event> {
    with_after(model(input, max), max)
}

/// `events`, then the appended frame (for limit `max`) iff none of them is
/// fatal.
pub fn with_after(mut events: Vec<Event>, max: u32) -> Vec<Event> {
    if !events.iter().any(Event::is_fatal_error) {
        events.push(Event::Frame(after(max).to_vec()));
    }
    events
}
