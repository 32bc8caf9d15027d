//! Per-connection counters, readable from every reader and writer, and the
//! `tracing` events (feature `tracing`) emitted where they are counted.

use crate::DecodeError;

/// What one connection's reader or writer has seen so far: the numbers an
/// operator asks for ("how many frames did this connection drop, how many
/// bytes were skipped"), without wrapping the codec.
///
/// Read with `stats()` on [`FrameDecoder`](crate::FrameDecoder),
/// [`FrameReader`](crate::FrameReader), [`FrameWriter`](crate::FrameWriter)
/// and (feature `tokio`) `FrameCodec`, `PayloadCodec` and `FrameSink`. A
/// reader fills the decoding fields, a writer the writing fields; a tokio
/// codec, which does both, fills both (each copy of a cloned codec counts
/// for itself). A value, copied out: compare two readings for rates.
///
/// With the `tracing` feature (off by default), each dropped frame, skipped
/// range and fatal error is also a `tracing` event with target `"lpframe"`
/// and fields `offset`, `len`, `error` (the error's canonical text) — `warn`
/// for what the stream survives, `error` for what ends it. A fatal error
/// repeated by a failed decoder is counted, and traced, once.
///
/// ```
/// use bytes::BytesMut;
/// use lpframe::FrameDecoder;
///
/// let mut wire = Vec::new();
/// lpframe::write_frame(&mut wire, b"one").unwrap();
/// lpframe::write_frame(&mut wire, b"two").unwrap();
/// wire[19 + 16] ^= 1; // corrupt "two"
/// let mut decoder = FrameDecoder::new();
/// let mut buf = BytesMut::from(&wire[..]);
/// assert!(decoder.decode(&mut buf).unwrap().is_some());
/// assert!(decoder.decode(&mut buf).is_err());
/// let stats = decoder.stats();
/// assert_eq!((stats.frames_decoded, stats.frames_dropped), (1, 1));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Stats {
    /// Frames delivered, both CRCs verified.
    pub frames_decoded: u64,
    /// Frames dropped for a corrupt payload under an intact header
    /// ([`DecodeError::PayloadChecksum`]); the stream went on.
    pub frames_dropped: u64,
    /// Recovery mode: damaged regions passed over
    /// ([`DecodeError::Skipped`]), each reported once.
    pub skipped_ranges: u64,
    /// Recovery mode: the bytes of those regions.
    pub bytes_skipped: u64,
    /// Fatal errors: a decoder that failed (it stays failed, so at most 1),
    /// or a writer poisoned by an I/O error.
    pub fatal_errors: u64,
    /// Deadlines that expired on this connection (each
    /// [`Error::Timeout`](crate::Error::Timeout) returned), counted where
    /// they are enforced: `FrameReader`'s idle and stall deadlines,
    /// `FrameWriter`'s write deadline, and (feature `tokio`)
    /// `WithDeadlines` in the codec or sink it wraps. 0 where no deadline
    /// is set; `read_frame_timed`, which keeps no state, counts nothing.
    pub deadlines_expired: u64,
    /// Frames accepted for writing (queued or written), after the limit
    /// check; a frame refused as too large is not counted.
    pub frames_written: u64,
    /// The bytes of those frames, headers included.
    pub bytes_written: u64,
}

impl Stats {
    /// A frame delivered.
    pub(crate) fn decoded(&mut self) {
        self.frames_decoded += 1;
    }

    /// A decode error, reported for the first time (never a failed
    /// decoder's repetition); `offset` is the stream offset of the frame it
    /// concerns.
    pub(crate) fn decode_error(&mut self, e: &DecodeError, offset: u64) {
        match e {
            DecodeError::PayloadChecksum { len, .. } => {
                self.frames_dropped += 1;
                trace_warn(e, offset, u64::from(*len), "dropped a corrupt frame");
            }
            DecodeError::Skipped { offset, len, .. } => {
                self.skipped_ranges += 1;
                self.bytes_skipped += len;
                trace_warn(e, *offset, *len, "skipped a damaged range");
            }
            _ => {
                self.fatal_errors += 1;
                trace_error(e, offset, "fatal decode error");
            }
        }
    }

    /// A frame of `payload_len` bytes accepted for writing (by a codec).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn written(&mut self, payload_len: usize) {
        self.frames_written += 1;
        self.bytes_written += (crate::HEADER_LEN + payload_len) as u64;
    }

    /// A read deadline expired (counted by the deadline layer).
    pub(crate) fn deadline_expired(&mut self) {
        self.deadlines_expired += 1;
    }
}

#[cfg(feature = "tracing")]
fn trace_warn(e: &DecodeError, offset: u64, len: u64, what: &'static str) {
    tracing::warn!(target: "lpframe", offset, len, error = %e.canonical(), "{what}");
}

#[cfg(feature = "tracing")]
fn trace_error(e: &DecodeError, offset: u64, what: &'static str) {
    tracing::error!(target: "lpframe", offset, error = %e.canonical(), "{what}");
}

#[cfg(not(feature = "tracing"))]
fn trace_warn(_: &DecodeError, _: u64, _: u64, _: &'static str) {}

#[cfg(not(feature = "tracing"))]
fn trace_error(_: &DecodeError, _: u64, _: &'static str) {}

/// A writer's counts: the writing fields of [`Stats`] only, so that a
/// writer (and the writer inside its `IntoInnerError`) stays small.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WriteStats {
    frames: u64,
    bytes: u64,
    fatal: u64,
    deadlines: u64,
}

impl WriteStats {
    /// A frame of `payload_len` bytes accepted for writing.
    pub(crate) fn written(&mut self, payload_len: usize) {
        self.frames += 1;
        self.bytes += (crate::HEADER_LEN + payload_len) as u64;
    }

    /// A write deadline expired.
    pub(crate) fn deadline_expired(&mut self) {
        self.deadlines += 1;
    }

    /// A writer poisoned by `e`.
    pub(crate) fn write_failed(&mut self, e: &std::io::Error) {
        self.fatal += 1;
        #[cfg(feature = "tracing")]
        tracing::error!(target: "lpframe", error = %e, "writer poisoned by an I/O error");
        #[cfg(not(feature = "tracing"))]
        let _ = e;
    }

    pub(crate) fn get(&self) -> Stats {
        Stats {
            frames_written: self.frames,
            bytes_written: self.bytes,
            fatal_errors: self.fatal,
            deadlines_expired: self.deadlines,
            ..Stats::default()
        }
    }
}
