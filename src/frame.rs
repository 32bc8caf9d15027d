//! Decoded frames: owned ([`Frame`]) and borrowed ([`FrameRef`]).

use std::ops::Deref;

use bytes::Bytes;

use crate::DecodeError;

/// One verified frame: its payload.
///
/// A decoded `Frame` shares the reader's buffer (`Bytes`): decoding does not
/// copy the payload. Both CRCs were verified before the frame was
/// delivered. It dereferences to the payload bytes, so `&frame[..]`,
/// `frame.len()` and `AsRef<[u8]>` work where a `BytesMut` or `Vec<u8>` did.
///
/// ```
/// use bytes::Bytes;
/// use lpframe::Frame;
///
/// let frame = Frame::new(Bytes::from_static(b"hello"));
/// assert_eq!(&frame[..], b"hello");
/// assert_eq!(frame.len(), 5);
/// let payload: Bytes = frame.into_payload();
/// # assert_eq!(payload, "hello");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Frame {
    payload: Bytes,
}

impl Frame {
    /// A frame carrying `payload`.
    pub fn new(payload: impl Into<Bytes>) -> Self {
        Frame {
            payload: payload.into(),
        }
    }

    /// The payload.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// Takes the payload out of the frame.
    pub fn into_payload(self) -> Bytes {
        self.payload
    }
}

impl Deref for Frame {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.payload
    }
}

impl AsRef<[u8]> for Frame {
    fn as_ref(&self) -> &[u8] {
        &self.payload
    }
}

impl From<Bytes> for Frame {
    fn from(payload: Bytes) -> Frame {
        Frame::new(payload)
    }
}

impl From<Frame> for Bytes {
    fn from(frame: Frame) -> Bytes {
        frame.payload
    }
}

/// A verified frame borrowed from a buffer: no reference count is touched.
///
/// Returned by [`decode_slice`](crate::decode_slice), for callers that are
/// done with a frame before they read the next one. Dereferences to the
/// payload.
///
/// ```
/// let mut wire = Vec::new();
/// lpframe::write_frame(&mut wire, b"hi").unwrap();
/// let (frame, used) = lpframe::decode_slice(&wire, 1024).unwrap().unwrap();
/// assert_eq!((&frame[..], used), (&b"hi"[..], 18));
/// assert_eq!(frame.to_frame().payload(), &b"hi"[..]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameRef<'a> {
    payload: &'a [u8],
}

impl<'a> FrameRef<'a> {
    pub(crate) fn new(payload: &'a [u8]) -> Self {
        FrameRef { payload }
    }

    /// The payload, borrowed from the buffer it was decoded from (for the
    /// buffer's lifetime, unlike `&*frame`).
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// An owned copy.
    pub fn to_frame(&self) -> Frame {
        Frame::new(Bytes::copy_from_slice(self.payload))
    }
}

impl Deref for FrameRef<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.payload
    }
}

impl AsRef<[u8]> for FrameRef<'_> {
    fn as_ref(&self) -> &[u8] {
        self.payload
    }
}

/// What a reader received: a verified frame, or the report of a frame that
/// was dropped while the stream goes on — the item of
/// `FrameCodec`'s stream (feature `tokio`), whose `Err` is kept for the
/// fatal errors that end it.
///
/// ```
/// use lpframe::{Frame, Received};
///
/// let item = Received::Frame(Frame::new(&b"hi"[..]));
/// match &item {
///     Received::Frame(frame) => assert_eq!(&frame[..], b"hi"),
///     Received::Dropped(e) => panic!("dropped: {e}"),
/// }
/// assert_eq!(item.into_frame().map(Frame::into_payload), Some("hi".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// A frame, both CRCs verified.
    Frame(Frame),
    /// A frame was dropped and the stream goes on: a corrupt payload under
    /// an intact header ([`DecodeError::PayloadChecksum`]) or, in recovery
    /// mode, a damaged region skipped ([`DecodeError::Skipped`]). Never a
    /// fatal error ([`DecodeError::is_fatal`] is `false`).
    Dropped(DecodeError),
}

impl Received {
    /// The frame, or `None` for a dropped one.
    pub fn into_frame(self) -> Option<Frame> {
        match self {
            Received::Frame(frame) => Some(frame),
            Received::Dropped(_) => None,
        }
    }

    /// The frame, borrowed, or `None` for a dropped one.
    pub fn frame(&self) -> Option<&Frame> {
        match self {
            Received::Frame(frame) => Some(frame),
            Received::Dropped(_) => None,
        }
    }

    /// The report of a dropped frame, or `None` for a frame.
    pub fn dropped(&self) -> Option<&DecodeError> {
        match self {
            Received::Frame(_) => None,
            Received::Dropped(e) => Some(e),
        }
    }
}

impl From<Frame> for Received {
    fn from(frame: Frame) -> Received {
        Received::Frame(frame)
    }
}
