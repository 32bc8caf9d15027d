//! What a reading path produced, and the frame every script appends.

use std::fmt;
use std::io;

use lpframe::{DecodeError, HEADER_LEN};

/// The read limit used by the byte-level fuzz targets: small, so that the
/// fuzzer reaches `FrameTooLarge` and memory checks are meaningful.
pub const FUZZ_MAX: u32 = 4096;

/// The payload of the frame every script appends after the end of the
/// input (see [`Script`](crate::Script)), cut to the receiver's limit.
const AFTER: &[u8] = b"appended after the end of the stream";

/// The appended frame's payload for a receiver with limit `max`.
pub fn after(max: u32) -> &'static [u8] {
    &AFTER[..AFTER.len().min(max as usize)]
}

/// One thing a path produced: a frame's payload, a decode error, or (only
/// where a test reads on past a fatal I/O error) an I/O error's kind.
///
/// Errors compare on their canonical text (PROTOCOL.md section 4.2), the
/// text the vectors use: what is not in it (`BadMagic`'s hint) does not
/// count. Fatality is the error's own [`DecodeError::is_fatal`].
#[derive(Clone)]
pub enum Event {
    /// A delivered frame with this payload.
    Frame(Vec<u8>),
    /// A decode error (a dropped frame, or the fatal end of the stream).
    Error(DecodeError),
    /// An I/O error that is not a decode error.
    Io(io::ErrorKind),
}

impl Event {
    /// The event of a decode error.
    pub fn error(e: &DecodeError) -> Event {
        Event::Error(e.clone())
    }

    /// The error event whose canonical text is `text`
    /// (`"PayloadChecksum expected=0x... actual=0x... len=10"`).
    ///
    /// # Panics
    /// `text` is not a canonical text.
    pub fn canonical(text: &str) -> Event {
        match crate::vectors::parse_error(text) {
            Ok(e) => Event::Error(e),
            Err(why) => panic!("not a canonical error text: {text:?}: {why}"),
        }
    }

    /// The error's name, for an error event (`"PayloadChecksum"` ...).
    pub fn error_name(&self) -> Option<&'static str> {
        match self {
            Event::Error(e) => Some(e.name()),
            Event::Frame(_) | Event::Io(_) => None,
        }
    }

    /// The event as a vector file states it: `Ok(payload)` for a frame,
    /// `Err(canonical text)` for an error (an I/O kind by its name).
    pub fn as_expected(&self) -> Result<Vec<u8>, String> {
        match self {
            Event::Frame(p) => Ok(p.clone()),
            Event::Error(e) => Err(e.canonical().to_string()),
            Event::Io(kind) => Err(format!("{kind:?}")),
        }
    }

    /// `true` for a decode error event whose error is fatal.
    pub fn is_fatal_error(&self) -> bool {
        matches!(self, Event::Error(e) if e.is_fatal())
    }
}

impl PartialEq for Event {
    fn eq(&self, other: &Event) -> bool {
        match (self, other) {
            (Event::Frame(a), Event::Frame(b)) => a == b,
            (Event::Error(a), Event::Error(b)) => {
                a.canonical().to_string() == b.canonical().to_string()
            }
            (Event::Io(a), Event::Io(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Event {}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Frame(p) => f.debug_tuple("Frame").field(p).finish(),
            Event::Error(e) => f
                .debug_tuple("Error")
                .field(&e.canonical().to_string())
                .finish(),
            Event::Io(kind) => f.debug_tuple("Io").field(kind).finish(),
        }
    }
}

/// The wire bytes of one frame with `payload`.
pub fn frame_bytes(payload: &[u8]) -> Vec<u8> {
    let mut wire = Vec::with_capacity(HEADER_LEN + payload.len());
    lpframe::encode_frame(payload, u32::MAX, &mut wire).expect("payload fits a frame");
    wire
}
