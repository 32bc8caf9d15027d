//! Decoded frames: owned ([`Frame`]) and borrowed ([`FrameRef`]).

use std::ops::Deref;

use bytes::Bytes;

use crate::Flags;

/// One verified frame: its payload and header flags.
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
/// assert!(frame.flags().is_empty());
/// let payload: Bytes = frame.into_payload();
/// # assert_eq!(payload, "hello");
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

    /// A frame with explicit flags, for protocol versions that define some.
    /// LPF v1 defines none: encoding a frame with any flag set fails with
    /// [`EncodeError::ReservedFlags`](crate::EncodeError::ReservedFlags).
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

    /// The payload, borrowed from the buffer it was decoded from (for the
    /// buffer's lifetime, unlike `&*frame`).
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// An owned copy.
    pub fn to_frame(&self) -> Frame {
        Frame::with_flags(self.flags, Bytes::copy_from_slice(self.payload))
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
