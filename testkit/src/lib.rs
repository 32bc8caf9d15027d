//! Test support for lpframe (not published): the one "run these bytes
//! through every path" harness, and what the tests, the fuzz targets, the
//! benches and the CLI's tests share.
//!
//! It uses only lpframe's public API, like an outside user.
//!
//! - [`Event`]: what a path produced, a frame's payload or a
//!   [`DecodeError`](lpframe::DecodeError) compared on its canonical text
//!   (PROTOCOL.md section 4.2), the text the vectors use.
//! - [`Script`]: what a path is fed: the input in chunks, I/O faults
//!   (`WouldBlock`, `TimedOut`, `Interrupted`) injected at chosen offsets,
//!   the end of the stream, then one more valid frame ([`after`]) as a
//!   source that grows past its end would deliver it, then the end again.
//! - [`paths`]: one driver per reading path, and [`every_path`], which runs
//!   an input through all of them ([`Path::ALL`]) and asserts that they
//!   agree.
//! - [`model`]: an independent, non-incremental receiver written from
//!   PROTOCOL.md section 4: the oracle.
//! - [`fuzz`]: the bodies of the cargo-fuzz targets (each target in `fuzz/`
//!   is one line calling one of them; `tests/fuzz_replay.rs` replays the
//!   corpus through the same functions).
//! - [`vectors`]: the one parser of `tests/vectors/lpf-v1.txt`.
//! - [`writers`], [`deadline_fuzz`], [`idle`]: the drivers of the writing
//!   paths under a scripted writer, of the deadline paths under a scripted
//!   clock and scripted read timeouts, and of idle gaps between partial
//!   frames (fuzz targets `writer`, `sink`, `deadline`, `idle`).
//! - [`rng`]: the one seeded random generator.
//! - [`readers`]: small helpers for the reliability tests.
//! - [`deadlines`]: the deadline property harness (random arrival
//!   schedules on scripted clocks against a model of idle and stall).
//! - [`server`] (feature `tokio`): the reference echo server, with
//!   deadlines, statistics and graceful shutdown.
//!
//! The properties every driver checks, on every run:
//! - after a non-fatal error the path goes on, and after a fatal one it
//!   never delivers again and repeats the same error (a `Truncated` stays
//!   `Truncated` even when more bytes arrive): so the appended frame is
//!   delivered **iff** no error the path called fatal was reported — the
//!   exactness of `is_fatal`, which [`expected`] encodes;
//! - retryable I/O errors are reported as not fatal and lose nothing;
//! - every frame delivered is the verified payload of a header in the
//!   input; the decoder's offsets account for every byte; memory follows
//!   received bytes, never a declared length.
//!
//! Every function panics when a property is violated: that is the point.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod deadline_fuzz;
pub mod deadlines;
pub mod event;
#[cfg(feature = "tokio")]
mod framed;
pub mod fuzz;
pub mod idle;
pub mod model;
pub mod paths;
pub mod readers;
pub mod recovery;
pub mod rng;
pub mod script;
#[cfg(feature = "tokio")]
pub mod server;
pub mod setup;
pub mod vectors;
pub mod writers;

pub use event::{after, frame_bytes, Event, FUZZ_MAX};
#[cfg(feature = "tokio")]
pub use framed::Chunked;
pub use model::{expected, model, model_with_boundaries, with_after};
pub use paths::{every_path, timeouts_before_chunks, Path};
pub use readers::{
    chunkings_around_second_header, encode_all, frames_of_sizes, pattern, StallAfter,
};
pub use rng::Rng;
pub use script::{chunk_sizes, seeded_faults, sizes_of_cuts, Script, Step};
pub use setup::Setup;
