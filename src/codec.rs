//! tokio-util `Decoder`/`Encoder`s (feature `tokio`): thin wrappers around
//! the one [`FrameDecoder`] and the one serializer.

use std::io;

use bytes::{Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::{
    encode::{checked_header, put_header},
    Config, DecodeError, Error, Flags, Frame, FrameDecoder, HEADER_LEN,
};

/// The LPF codec for `tokio_util::codec::{Framed, FramedRead, FramedWrite}`:
/// each item is a verified frame, or the report of a frame that was
/// dropped, so a corrupt payload costs that frame and never the stream.
///
/// - `Some(Ok(Ok(frame)))`: a frame, both CRCs verified.
/// - `Some(Ok(Err(e)))`: a frame was dropped and the stream goes on — a
///   corrupt payload under an intact header
///   ([`DecodeError::PayloadChecksum`]), or in
///   [recovery mode](Config::recover) a damaged region skipped
///   ([`DecodeError::Skipped`]). The frames after it keep coming.
/// - `Some(Err(e))`: a fatal [`Error`] (a broken header, EOF inside a
///   frame, an I/O error): stop and close the connection. (A tokio-util
///   `Framed` yields `None` once after any decoder error, which is why the
///   errors a stream survives are items instead: with a `Decoder::Error`
///   they would end a `while let Some(..)` loop and lose the frames after
///   them.)
///
/// It encodes [`Bytes`], `&[u8]` and [`Frame`], and is `Clone`, for
/// separate `FramedRead`/`FramedWrite` halves. For a drop-in replacement
/// of `LengthDelimitedCodec` (`BytesMut` items, `io::Error`, e.g. under
/// tokio-serde), see [`PayloadCodec`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), lpframe::Error> {
/// use bytes::Bytes;
/// use futures::{SinkExt, TryStreamExt};
/// use lpframe::FrameCodec;
/// use tokio::io::AsyncWriteExt;
/// use tokio_util::codec::Framed;
///
/// let (a, b) = tokio::io::duplex(1024);
/// let mut left = Framed::new(a, FrameCodec::new());
/// let mut right = Framed::new(b, FrameCodec::new());
///
/// left.send(Bytes::from_static(b"one")).await?;
/// let mut corrupt = Vec::new();
/// lpframe::write_frame(&mut corrupt, b"two").unwrap();
/// corrupt[16] ^= 1; // a bit flipped in transit
/// left.get_mut().write_all(&corrupt).await?;
/// left.send(Bytes::from_static(b"three")).await?;
/// drop(left);
///
/// let mut got = Vec::new();
/// while let Some(item) = right.try_next().await? {
///     match item {
///         Ok(frame) => got.push(frame.into_payload()),
///         Err(dropped) => eprintln!("dropped a frame: {dropped}"),
///     }
/// }
/// assert_eq!(got, ["one", "three"]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct FrameCodec {
    decoder: FrameDecoder,
}

/// A drop-in replacement for tokio-util's `LengthDelimitedCodec`, with
/// LPF's checks: it decodes to the payload as `BytesMut` (split from the
/// read buffer, no copy) and encodes `Bytes` (and `&[u8]`), with
/// `io::Error` as its error — the shape that tokio-serde and other code
/// written for `LengthDelimitedCodec` expect.
///
/// Every error is an `io::Error` carrying the typed [`Error`]
/// (`e.get_ref()` and `downcast_ref::<lpframe::Error>()`). As with
/// `LengthDelimitedCodec`, treat an error as the end of the stream: a
/// tokio-util `Framed` yields `None` after it. (A corrupt payload is not
/// fatal to the decoder, and polling past that `None` goes on with the next
/// frame; use [`FrameCodec`], which yields dropped frames as items, to
/// carry on past corrupt frames as a matter of course.)
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// use bytes::Bytes;
/// use futures::{SinkExt, StreamExt};
/// use lpframe::PayloadCodec;
/// use tokio_util::codec::{FramedRead, FramedWrite};
///
/// let (a, b) = tokio::io::duplex(1024);
/// let mut tx = FramedWrite::new(a, PayloadCodec::new());
/// let mut rx = FramedRead::new(b, PayloadCodec::new());
/// tx.send(Bytes::from_static(b"ping")).await?;
/// let payload = rx.next().await.expect("a frame")?;
/// assert_eq!(&payload[..], b"ping");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct PayloadCodec {
    decoder: FrameDecoder,
}

macro_rules! accessors {
    ($codec:ident) => {
        impl Default for $codec {
            fn default() -> Self {
                Self::with_config(Config::default())
            }
        }

        impl $codec {
            /// A codec with the default [`Config`] (8 MiB limits).
            pub fn new() -> Self {
                Self::default()
            }

            /// A codec with the given settings.
            pub fn with_config(config: Config) -> Self {
                $codec {
                    decoder: FrameDecoder::for_codec(config),
                }
            }

            /// The settings in use.
            pub fn config(&self) -> &Config {
                self.decoder.config()
            }

            /// The settings, to change at runtime (e.g. through
            /// `Framed::codec_mut()` after a negotiation; a new limit
            /// applies from the next header or frame).
            pub fn config_mut(&mut self) -> &mut Config {
                self.decoder.config_mut()
            }

            /// The decoder: stream offsets, failed state, recovery counters.
            pub fn decoder(&self) -> &FrameDecoder {
                &self.decoder
            }

            /// `true` when part of a frame is in the read buffer or already
            /// consumed, as of the last decode (which a `Framed` makes after
            /// every read): a read that times out now means the peer stalled
            /// inside a frame, not that it is idle between frames.
            pub fn is_mid_frame(&self) -> bool {
                self.decoder.is_mid_frame()
            }

            /// The one encoder: limit and flags checked first, so that a
            /// refused payload never grows `dst`.
            fn encode_payload(
                &self,
                flags: Flags,
                payload: &[u8],
                dst: &mut BytesMut,
            ) -> Result<(), Error> {
                let max = self.decoder.config().max_write_frame_len;
                let header = checked_header(flags, payload, max)?;
                dst.reserve(HEADER_LEN + payload.len());
                put_header(&header, dst);
                dst.extend_from_slice(payload);
                Ok(())
            }
        }
    };
}

accessors!(FrameCodec);
accessors!(PayloadCodec);

/// A decoded frame, or the report of a dropped one, as the item of
/// [`FrameCodec`]; a fatal error as its `Err`.
fn split_fatal(
    r: Result<Option<Frame>, DecodeError>,
) -> Result<Option<Result<Frame, DecodeError>>, Error> {
    match r {
        Ok(Some(frame)) => Ok(Some(Ok(frame))),
        Ok(None) => Ok(None),
        Err(e) if !e.is_fatal() => Ok(Some(Err(e))),
        Err(e) => Err(Error::Decode(e)),
    }
}

impl Decoder for FrameCodec {
    type Item = Result<Frame, DecodeError>;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, Error> {
        split_fatal(self.decoder.decode(src))
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, Error> {
        split_fatal(self.decoder.decode_eof(src))
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
        self.encode_payload(item.flags(), &item, dst)
    }
}

impl Decoder for PayloadCodec {
    type Item = BytesMut;
    type Error = io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> io::Result<Option<BytesMut>> {
        self.decoder
            .decode_as(src, |_, payload| payload, |e| Err(Error::Decode(e).into()))
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> io::Result<Option<BytesMut>> {
        self.decoder
            .decode_payload_eof(src)
            .map_err(|e| Error::Decode(e).into())
    }
}

impl Encoder<Bytes> for PayloadCodec {
    type Error = io::Error;

    fn encode(&mut self, item: Bytes, dst: &mut BytesMut) -> io::Result<()> {
        Ok(self.encode_payload(Flags::empty(), &item, dst)?)
    }
}

impl Encoder<&[u8]> for PayloadCodec {
    type Error = io::Error;

    fn encode(&mut self, item: &[u8], dst: &mut BytesMut) -> io::Result<()> {
        Ok(self.encode_payload(Flags::empty(), item, dst)?)
    }
}
