//! Decoded frames: owned ([`Frame`]) and borrowed ([`FrameRef`]).

use bytes::Bytes;

use crate::Flags;

/// One verified frame: its payload and header metadata.
///
/// A decoded `Frame` shares the reader's buffer (`Bytes`): decoding does not
/// copy the payload. Both CRCs were verified before the frame was
/// delivered.
///
/// ```
/// use bytes::Bytes;
/// use lpframe::Frame;
///
/// let frame = Frame::new(Bytes::from_static(b"hello"));
/// assert_eq!(frame.payload(), &b"hello"[..]);
/// assert_eq!(frame.len(), 5);
/// assert!(frame.flags().is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Frame {
    flags: Flags,
    payload: Bytes,
}

impl Frame {
    /// A frame with no flags carrying `payload`.
    pub fn new(payload: impl Into<Bytes>) -> Self {
        Frame {
            flags: Flags::empty(),
            payload: payload.into(),
        }
    }

    /// A frame with explicit flags. LPF v1 defines none: encoding a frame
    /// with any flag set fails with
    /// [`Error::EncodeFlags`](crate::Error::EncodeFlags).
    pub fn with_flags(flags: Flags, payload: impl Into<Bytes>) -> Self {
        Frame {
            flags,
            payload: payload.into(),
        }
    }

    /// The flags from the header.
    pub fn flags(&self) -> Flags {
        self.flags
    }

    /// The payload.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// The payload length in bytes.
    pub fn len(&self) -> usize {
        self.payload.len()
    }

    /// `true` for an empty payload.
    pub fn is_empty(&self) -> bool {
        self.payload.is_empty()
    }

    /// Takes the payload out of the frame.
    pub fn into_payload(self) -> Bytes {
        self.payload
    }
}

impl From<Frame> for Bytes {
    fn from(frame: Frame) -> Bytes {
        frame.payload
    }
}

/// A verified frame borrowed from a buffer: no reference count is touched.
///
/// Returned by [`decode_slice`](crate::decode_slice), for callers that are done with a frame before they read the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameRef<'a> {
    flags: Flags,
    payload: &'a [u8],
}

impl<'a> FrameRef<'a> {
    pub(crate) fn new(flags: Flags, payload: &'a [u8]) -> Self {
        FrameRef { flags, payload }
    }

    /// The flags from the header.
    pub fn flags(&self) -> Flags {
        self.flags
    }

    /// The payload, borrowed from the buffer it was decoded from.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// An owned copy.
    pub fn to_frame(&self) -> Frame {
        Frame::with_flags(self.flags, Bytes::copy_from_slice(self.payload))
    }
}
