//! # lpframe — checked frames over any reliable byte stream
//!
//! lpframe turns a byte stream (TCP, Unix socket, pipe, file) into a stream
//! of verified messages using **LPF**, a small binary framing protocol: a
//! fixed 16-byte header (magic, version, flags, payload length, payload
//! CRC-32, header CRC-32; big-endian) followed by the payload. The header
//! CRC is checked before the length is trusted, so a corrupted length is
//! caught at once instead of being waited on or allocated for. The wire
//! format is specified in [`PROTOCOL.md`](crate::spec).
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
//! - [`FrameDecoder`]: the one incremental decoder over `BytesMut`; every
//!   reading path is a loop around it, and it alone owns the frame in
//!   progress. [`decode_slice`] decodes borrowed frames from a slice with
//!   no reference counting. [`Header`]: the only place bytes become header
//!   fields, and where the checks are made (pure, no I/O).
//! - [`encode_frame`] / [`encode_header`]: the one serializer.
//! - Feature `tokio` (default): [`FrameCodec`] for
//!   `tokio_util::codec::Framed`, which yields each frame, or the report of
//!   a dropped one, as an item; [`PayloadCodec`], a drop-in replacement for
//!   `LengthDelimitedCodec` (`BytesMut` items, `io::Error`; tokio-serde
//!   plugs into it).
//! - Std only: [`read_frame`] / [`write_frame`] (exact: never a byte past
//!   the frame, no payload copy on write) and [`FrameReader`] /
//!   [`FrameWriter`] (buffered; survive read and write timeouts).
//!
//! ## Errors
//!
//! What a receiver finds wrong with the bytes is a [`DecodeError`], plain
//! data with the numbers in it (`FrameTooLarge { len, max }`,
//! `PayloadChecksum { expected, actual, len }` ...); what a sender refuses
//! is an [`EncodeError`]; the paths that do I/O return an [`Error`] that
//! wraps both and adds the stream's own failures. [`Error::is_fatal`] says
//! whether the stream is still usable, exactly, for the path that returned
//! it: a corrupt payload under an intact header costs that frame only; a
//! read timeout costs nothing on the paths that keep their place; any
//! header-level error ends the stream.
//!
//! ## Example (std)
//!
//! ```
//! use lpframe::{read_frame, write_frame, DecodeError, Error};
//!
//! let mut wire = Vec::new();
//! write_frame(&mut wire, b"hello")?;
//! wire[20] ^= 0x01; // flip a payload bit in transit
//! write_frame(&mut wire, b"world")?;
//!
//! let mut r = &wire[..];
//! let err = read_frame(&mut r).unwrap_err();
//! assert!(matches!(err, Error::Decode(DecodeError::PayloadChecksum { len: 5, .. })));
//! assert!(!err.is_fatal()); // that frame is lost, the stream is not
//! assert_eq!(&read_frame(&mut r)?.unwrap()[..], b"world");
//! assert!(read_frame(&mut r)?.is_none()); // the clean end
//! # Ok::<(), Error>(())
//! ```
//!
//! ## Example (tokio)
//!
#![cfg_attr(feature = "tokio", doc = "```")]
#![cfg_attr(not(feature = "tokio"), doc = "```ignore")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), lpframe::Error> {
//! use bytes::Bytes;
//! use futures::{SinkExt, TryStreamExt};
//! use lpframe::{FrameCodec, Received};
//! use tokio_util::codec::Framed;
//!
//! let (client, server) = tokio::io::duplex(4096);
//! let mut client = Framed::new(client, FrameCodec::new());
//! let mut server = Framed::new(server, FrameCodec::new());
//!
//! client.send(Bytes::from_static(b"ping")).await?;
//! // `?` ends the loop on a fatal error; a dropped frame is an item.
//! while let Some(item) = server.try_next().await? {
//!     match item {
//!         Received::Frame(frame) => {
//!             assert_eq!(&frame[..], b"ping");
//!             break;
//!         }
//!         Received::Dropped(e) => eprintln!("dropped a frame: {e}"),
//!     }
//! }
//! # Ok(())
//! # }
//! ```
// Links to the tokio-only items: intra-doc with the feature, docs.rs
// without it (so that a std-only `cargo doc` has no broken link).
#![cfg_attr(
    feature = "tokio",
    doc = "[`FrameCodec`]: crate::FrameCodec\n[`PayloadCodec`]: crate::PayloadCodec"
)]
#![cfg_attr(
    not(feature = "tokio"),
    doc = "[`FrameCodec`]: https://docs.rs/lpframe/latest/lpframe/struct.FrameCodec.html\n\
           [`PayloadCodec`]: https://docs.rs/lpframe/latest/lpframe/struct.PayloadCodec.html"
)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod blocking;
mod buffers;
mod checksum;
mod config;
mod deadline;
mod decode;
mod encode;
mod error;
mod foreign;
mod frame;
mod header;
mod stats;

#[cfg(feature = "tokio")]
mod codec;
#[cfg(feature = "tokio")]
mod sink;
#[cfg(feature = "tokio")]
mod timed;

pub use blocking::{
    read_frame, read_frame_timed, read_frame_with, write_frame, write_frame_with, FrameReader,
    FrameWriter, SetTimeouts,
};
#[cfg(feature = "tokio")]
pub use codec::{FrameCodec, PayloadCodec};
pub use config::{Config, DEFAULT_MAX_FRAME_LEN};
pub use deadline::{DeadlineTracker, Deadlines, Timeout, TimeoutKind};
pub use decode::{decode_slice, FrameDecoder};
pub use encode::{encode_frame, encode_header};
pub use error::{DecodeError, EncodeError, Error, FramePart, IntoInnerError};
pub use foreign::ForeignProtocol;
pub use frame::{Frame, FrameRef, Received};
pub use header::{Header, HEADER_LEN, MAGIC, VERSION};
#[cfg(feature = "tokio")]
pub use sink::FrameSink;
pub use stats::Stats;
#[cfg(feature = "tokio")]
pub use timed::{ReadProgress, WithDeadlines, WriteProgress};

#[doc = include_str!("../PROTOCOL.md")]
pub mod spec {
    // The specification, readable on docs.rs; its Rust examples run as
    // doctests, so they cannot rot. No items.
}

/// `README.md`, compiled as doctests so that its usage examples stay true.
#[cfg(all(doctest, feature = "tokio"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
