//! # lpframe — checked frames over any reliable byte stream
//!
//! lpframe turns a byte stream (TCP, Unix socket, pipe, file) into a stream
//! of verified messages using **LPF**, a small binary framing protocol: a
//! fixed 16-byte header (magic, version, flags, payload length, payload
//! CRC-32, header CRC-32; big-endian) followed by the payload. The header
//! CRC is checked before the length is trusted, so a corrupted length is
//! caught at once instead of being waited on or allocated for. The wire
//! format is specified in `PROTOCOL.md`.
//!
//! ```text
//! +--------+---------+-------+--------+-------------+------------+---------+
//! | C1 4C  | version | flags | length | payload_crc | header_crc | payload |
//! | 2 B    | 1 B     | 1 B   | 4 B    | 4 B         | 4 B        | length B|
//! +--------+---------+-------+--------+-------------+------------+---------+
//! ```
//!
//! ## Paths, one core
//!
//! - [`header`]: the only place bytes become header fields (pure, no I/O).
//! - [`FrameDecoder`]: the one incremental decoder over `BytesMut`; every
//!   reading path is a loop around it. [`decode_slice`] decodes borrowed
//!   frames from a slice with no reference counting.
//! - [`encode_frame`] / [`encode_header`]: the one serializer.
//! - Feature `tokio` (default): [`FrameCodec`] for
//!   `tokio_util::codec::Framed`, and [`FrameResultCodec`] which delivers
//!   corrupt frames as items instead of pausing the stream.
//! - Std only: [`read_frame`] / [`write_frame`] (exact reads, no payload
//!   copy on write) and [`FrameReader`] / [`FrameWriter`] (buffered; survive
//!   read timeouts).
//!
//! ## Errors
//!
//! Every path reports the same typed [`Error`]. [`Error::is_fatal`] says
//! whether the stream is still usable: a corrupt payload under an intact
//! header costs that frame only; any header-level error ends the stream.
//!
//! ## Example (std)
//!
//! ```
//! use lpframe::{read_frame, write_frame, Error};
//!
//! let mut wire = Vec::new();
//! write_frame(&mut wire, b"hello")?;
//! wire[20] ^= 0x01; // flip a payload bit in transit
//! write_frame(&mut wire, b"world")?;
//!
//! let mut r = &wire[..];
//! assert!(matches!(read_frame(&mut r), Err(Error::PayloadChecksum { len: 5, .. })));
//! assert_eq!(read_frame(&mut r)?.unwrap().payload(), &b"world"[..]);
//! assert!(read_frame(&mut r)?.is_none());
//! # Ok::<(), Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod blocking;
mod config;
mod decode;
mod encode;
mod error;
mod flags;
mod frame;
pub mod header;

#[cfg(feature = "tokio")]
mod codec;

// The fuzz targets' property checks (see fuzz/README.md); compiled only by
// cargo-fuzz, which sets `--cfg fuzzing`. tests/fuzz_replay.rs includes the
// same file on stable. It names the crate `lpframe::`, like an outside user.
#[cfg(fuzzing)]
extern crate self as lpframe;
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;

pub use blocking::{
    read_frame, read_frame_with, write_frame, write_frame_with, FrameReader, FrameWriter,
};
#[cfg(feature = "tokio")]
pub use codec::{FrameCodec, FrameResultCodec};
pub use config::{Config, DEFAULT_MAX_FRAME_LEN};
pub use decode::{decode_slice, FrameDecoder};
pub use encode::{encode_frame, encode_header};
pub use error::{Error, ForeignProtocol, FramePart};
pub use flags::Flags;
pub use frame::{Frame, FrameRef};
pub use header::{HEADER_LEN, MAGIC, VERSION};

/// `PROTOCOL.md`, compiled as doctests so that its examples cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../PROTOCOL.md")]
pub struct ProtocolSpec;

/// `README.md`, compiled as doctests so that its usage examples stay true.
#[cfg(all(doctest, feature = "tokio"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
