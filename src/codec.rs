//! tokio-util `Decoder`/`Encoder` (feature `tokio`), thin wrappers around
//! [`FrameDecoder`] and [`encode_header`](crate::encode_header).

use bytes::{Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::{
    encode::{checked_header, put_header},
    Config, Error, Flags, Frame, FrameDecoder, HEADER_LEN,
};

/// The LPF codec for `tokio_util::codec::{Framed, FramedRead, FramedWrite}`.
///
/// Decodes to [`Frame`]; encodes [`Bytes`], `&[u8]` and [`Frame`].
///
/// # Errors in a `Framed` stream
///
/// Every error is a typed [`Error`]. Like every tokio-util decoder error, it
/// makes the `Framed` stream yield `Some(Err(e))` once and then `None` once;
/// polling again after that resumes reading. So:
///
/// - after a fatal error ([`Error::is_fatal`]), stop and drop the stream
///   (the decoder would only repeat the error);
/// - after [`Error::PayloadChecksum`] (one corrupt frame, stream in sync),
///   you may keep polling past the `None` to receive the next frames.
///   Caveats of tokio-util's `Framed`: after that `None` it reads from the
///   socket again before decoding frames it already buffered, so a peer
///   that waits for a reply may stall; and if the error came after the
///   peer closed its side (EOF), the stream ends at once and frames still
///   buffered are never decoded. When corrupt frames must not stop the
///   stream, use [`FrameResultCodec`] instead, which yields them as
///   `Ok(Err(e))` items and never pauses. The same holds for
///   [`Error::Skipped`] in [recovery mode](Config::recover).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), lpframe::Error> {
/// use bytes::Bytes;
/// use futures::{SinkExt, StreamExt};
/// use lpframe::FrameCodec;
/// use tokio_util::codec::Framed;
///
/// let (a, b) = tokio::io::duplex(64);
/// let mut left = Framed::new(a, FrameCodec::new());
/// let mut right = Framed::new(b, FrameCodec::new());
///
/// left.send(Bytes::from_static(b"ping")).await?;
/// let frame = right.next().await.expect("a frame")?;
/// assert_eq!(frame.payload(), &b"ping"[..]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Default)]
pub struct FrameCodec {
    decoder: FrameDecoder,
}

impl FrameCodec {
    /// A codec with the default [`Config`] (8 MiB limits).
    pub fn new() -> Self {
        FrameCodec::default()
    }

    /// A codec with the given limits.
    pub fn with_config(config: Config) -> Self {
        FrameCodec {
            decoder: FrameDecoder::with_config(config),
        }
    }

    /// The limits in use.
    pub fn config(&self) -> &Config {
        self.decoder.config()
    }

    /// The limits, to change at runtime (e.g. through
    /// `Framed::codec_mut()` after a negotiation).
    pub fn config_mut(&mut self) -> &mut Config {
        self.decoder.config_mut()
    }

    /// The underlying decoder (stream offsets, failed state).
    pub fn decoder(&self) -> &FrameDecoder {
        &self.decoder
    }

    fn encode_payload(
        &self,
        flags: Flags,
        payload: &[u8],
        dst: &mut BytesMut,
    ) -> Result<(), Error> {
        // Checks (limit, flags) first: a refused payload must not grow `dst`.
        let header = checked_header(flags, payload, self.decoder.config())?;
        dst.reserve(HEADER_LEN + payload.len());
        put_header(&header, dst);
        dst.extend_from_slice(payload);
        Ok(())
    }
}

impl Decoder for FrameCodec {
    type Item = Frame;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, Error> {
        self.decoder.decode(src)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, Error> {
        self.decoder.decode_eof(src)
    }
}

impl Encoder<Bytes> for FrameCodec {
    type Error = Error;

    fn encode(&mut self, item: Bytes, dst: &mut BytesMut) -> Result<(), Error> {
        self.encode_payload(Flags::empty(), &item, dst)
    }
}

impl Encoder<&[u8]> for FrameCodec {
    type Error = Error;

    fn encode(&mut self, item: &[u8], dst: &mut BytesMut) -> Result<(), Error> {
        self.encode_payload(Flags::empty(), item, dst)
    }
}

impl Encoder<Frame> for FrameCodec {
    type Error = Error;

    fn encode(&mut self, item: Frame, dst: &mut BytesMut) -> Result<(), Error> {
        self.encode_payload(item.flags(), item.payload(), dst)
    }
}

/// Like [`FrameCodec`], but a non-fatal error (a corrupt payload whose
/// header was intact) is delivered as an item, `Ok(Err(e))`, so a `Framed`
/// stream carries on past it without pausing. Fatal errors still end the
/// stream as `Err(e)`.
///
/// ```
/// use bytes::BytesMut;
/// use lpframe::{encode_frame, Config, Error, Flags, FrameResultCodec};
/// use tokio_util::codec::Decoder;
///
/// let mut wire = Vec::new();
/// encode_frame(Flags::empty(), b"bad", &Config::default(), &mut wire).unwrap();
/// *wire.last_mut().unwrap() ^= 1; // corrupt the payload
/// encode_frame(Flags::empty(), b"good", &Config::default(), &mut wire).unwrap();
///
/// let mut codec = FrameResultCodec::new();
/// let mut buf = BytesMut::from(&wire[..]);
/// let first = codec.decode(&mut buf).unwrap().unwrap();
/// assert!(matches!(first, Err(Error::PayloadChecksum { len: 3, .. })));
/// let second = codec.decode(&mut buf).unwrap().unwrap().unwrap();
/// assert_eq!(second.payload(), &b"good"[..]);
/// ```
#[derive(Debug, Default)]
pub struct FrameResultCodec {
    inner: FrameCodec,
}

impl FrameResultCodec {
    /// A codec with the default [`Config`].
    pub fn new() -> Self {
        FrameResultCodec::default()
    }

    /// A codec with the given limits.
    pub fn with_config(config: Config) -> Self {
        FrameResultCodec {
            inner: FrameCodec::with_config(config),
        }
    }

    /// The wrapped codec (limits, decoder state).
    pub fn inner(&self) -> &FrameCodec {
        &self.inner
    }

    /// The wrapped codec, mutably (e.g. to change limits).
    pub fn inner_mut(&mut self) -> &mut FrameCodec {
        &mut self.inner
    }
}

fn split_fatal(r: Result<Option<Frame>, Error>) -> Result<Option<Result<Frame, Error>>, Error> {
    match r {
        Ok(Some(frame)) => Ok(Some(Ok(frame))),
        Ok(None) => Ok(None),
        Err(e) if !e.is_fatal() => Ok(Some(Err(e))),
        Err(e) => Err(e),
    }
}

impl Decoder for FrameResultCodec {
    type Item = Result<Frame, Error>;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, Error> {
        split_fatal(self.inner.decode(src))
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, Error> {
        split_fatal(self.inner.decode_eof(src))
    }
}

impl<T> Encoder<T> for FrameResultCodec
where
    FrameCodec: Encoder<T, Error = Error>,
{
    type Error = Error;

    fn encode(&mut self, item: T, dst: &mut BytesMut) -> Result<(), Error> {
        self.inner.encode(item, dst)
    }
}
