//! The buffer sizes of every path, in one place. The policies that use
//! them live with their readers and writers: the tokio codecs' in
//! `codec.rs` (`make_room`), the blocking reader's in `blocking/read.rs`,
//! the writers' with the write queue.
//!
//! Under `cargo fuzz` (`--cfg fuzzing`) the thresholds for large payloads
//! are small, so that the fuzz targets' small inputs reach the large-payload
//! paths too.

/// Payloads at least this long are read by the tokio codecs with room made
/// before their bytes arrive and reads that stop at their end, and by
/// `FrameReader` straight into the frame's own buffer.
#[cfg(not(fuzzing))]
pub(crate) const LARGE_PAYLOAD: usize = 64 * 1024;
#[cfg(fuzzing)]
pub(crate) const LARGE_PAYLOAD: usize = 64;

/// The smallest read a buffered reader makes (and the room a codec's
/// buffer left exactly full gets).
#[cfg(not(fuzzing))]
pub(crate) const MIN_READ: usize = 8 * 1024;
#[cfg(fuzzing)]
pub(crate) const MIN_READ: usize = 16;

/// The codecs reserve at most `max(received, PAYLOAD_STEP)` ahead of a
/// large payload's bytes received.
#[cfg(not(fuzzing))]
#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
pub(crate) const PAYLOAD_STEP: usize = 64 * 1024;
#[cfg(fuzzing)]
#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
pub(crate) const PAYLOAD_STEP: usize = 64;

/// `FrameReader` stages reads of at most this many bytes for a payload
/// shorter than [`LARGE_PAYLOAD`] still arriving.
pub(crate) const MAX_STAGED_READ: usize = 64 * 1024;

/// The exact `read_frame` reads a payload into a buffer of at most this
/// many bytes at first, grown with the bytes received (never by the
/// declared length).
pub(crate) const FIRST_PAYLOAD_CHUNK: usize = 64 * 1024;

/// A `FrameWriter` buffers frames up to this many bytes; larger frames are
/// written straight through without copying the payload.
pub(crate) const WRITE_BUFFER: usize = 8 * 1024;

/// `FrameSink` copies payloads up to this many bytes into its buffer and
/// chains longer ones as they are (threshold measured: BENCHMARKS.md).
#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
pub(crate) const COPY_THRESHOLD: usize = 2 * 1024;

/// `FrameSink`'s default backpressure boundary, as tokio-util's
/// `FramedWrite`.
#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
pub(crate) const INITIAL_CAPACITY: usize = 8 * 1024;

/// A write buffer that holds one frame and is given a second before a
/// flush grows to this many bytes at once (a batch forming).
pub(crate) const INITIAL_BATCH: usize = 8 * 1024;

/// The read buffer a tokio codec keeps between frames when the last read
/// left room unused (its connection is idle, or sends small frames): a
/// 64-byte request fits whole, and 10,000 idle connections hold 2.5 MiB of
/// read buffers instead of 80 MiB.
#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
pub(crate) const IDLE_READ: usize = 256;

/// `FrameSink` gives its write buffer back when a flush leaves it empty
/// and it holds more than this many bytes (a small frame's buffer is kept,
/// so that a request/response connection does not allocate per frame).
#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
pub(crate) const IDLE_WRITE: usize = 256;
