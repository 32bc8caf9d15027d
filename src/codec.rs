//! tokio-util `Decoder`/`Encoder`s (feature `tokio`): thin wrappers around
//! the one [`FrameDecoder`] and the one serializer.

use std::io;

use bytes::{Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::{
    deadline::Seen,
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
/// # Examples
///
/// A corrupt frame is an item; the frames after it keep coming:
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
///
/// Read and write halves on separate tasks, each with its own copy of the
/// codec (and its settings):
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), lpframe::Error> {
/// use bytes::Bytes;
/// use futures::{SinkExt, TryStreamExt};
/// use lpframe::{Config, FrameCodec};
/// use tokio_util::codec::{FramedRead, FramedWrite};
///
/// let (client, server) = tokio::io::duplex(4096);
/// let codec = FrameCodec::with_config(Config::new().max_read_frame_len(64 * 1024));
/// let (read_half, write_half) = tokio::io::split(server);
/// let mut rx = FramedRead::new(read_half, codec.clone());
/// let mut tx = FramedWrite::new(write_half, codec);
/// let echo = tokio::spawn(async move {
///     while let Some(item) = rx.try_next().await? {
///         if let Ok(frame) = item {
///             tx.send(frame).await?; // a received Frame is sent as it is
///         }
///     }
///     Ok::<_, lpframe::Error>(())
/// });
/// let mut client = tokio_util::codec::Framed::new(client, FrameCodec::new());
/// client.send(Bytes::from_static(b"ping")).await?;
/// let reply = client.try_next().await?.expect("an echo").expect("intact");
/// assert_eq!(&reply[..], b"ping");
/// drop(client);
/// echo.await.expect("the echo task")?;
/// # Ok(())
/// # }
/// ```
///
/// Matching on what went wrong, and closing in an orderly way after a fatal
/// error (PROTOCOL.md section 4): send what is owed, then FIN, then drain
/// the peer's unread bytes for a moment, so that the peer sees the end of
/// the stream and not a reset:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use futures::{SinkExt, StreamExt};
/// use lpframe::{Config, DecodeError, Error, Frame, FrameCodec};
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// use tokio_util::codec::Framed;
///
/// let (mut peer, server) = tokio::io::duplex(1 << 16);
/// let mut framed = Framed::new(server, FrameCodec::with_config(Config::new().max_read_frame_len(1024)));
/// let mut big = Vec::new();
/// lpframe::write_frame(&mut big, &[7; 4096])?; // over the server's limit
/// peer.write_all(&big).await?;
///
/// let why = match framed.next().await {
///     Some(Ok(Ok(_frame))) => "a frame",
///     Some(Ok(Err(DecodeError::PayloadChecksum { .. }))) => "a corrupt frame, dropped",
///     Some(Ok(Err(_dropped))) => "a damaged region, skipped (recovery mode)",
///     Some(Err(Error::Decode(DecodeError::FrameTooLarge { len, max }))) => {
///         assert_eq!((len, max), (4096, 1024));
///         "a frame over the limit: fatal"
///     }
///     Some(Err(e)) if e.is_timeout() => "a timeout",
///     Some(Err(_fatal)) => "another fatal error",
///     None => "the peer closed",
/// };
/// assert_eq!(why, "a frame over the limit: fatal");
///
/// // The orderly close.
/// SinkExt::<Frame>::flush(&mut framed).await?;
/// let io = framed.get_mut();
/// io.shutdown().await?;
/// let mut sink = [0u8; 4096];
/// let _ = tokio::time::timeout(Duration::from_millis(250), async {
///     while matches!(io.read(&mut sink).await, Ok(n) if n > 0) {}
/// })
/// .await;
/// drop(framed);
/// let mut rest = Vec::new();
/// peer.read_to_end(&mut rest).await?; // the end of the stream, not an error
/// assert!(rest.is_empty());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct FrameCodec {
    decoder: FrameDecoder,
    seen: Seen,
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
    seen: Seen,
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
            ///
            /// ```
            /// # #[tokio::main(flavor = "current_thread")]
            /// # async fn main() {
            /// use lpframe::Config;
            /// use tokio_util::codec::Framed;
            ///
            /// let (socket, _peer) = tokio::io::duplex(64);
            /// let config = Config::new().max_read_frame_len(64 * 1024).max_write_frame_len(1 << 20);
            #[doc = concat!("let mut framed = Framed::new(socket, lpframe::", stringify!($codec), "::with_config(config));")]
            /// // Changed at runtime, e.g. after the peers negotiate a limit:
            /// framed.codec_mut().config_mut().max_read_frame_len = 1 << 20;
            /// assert_eq!(framed.codec().config().max_read_frame_len, 1 << 20);
            /// # }
            /// ```
            pub fn with_config(config: Config) -> Self {
                $codec {
                    decoder: FrameDecoder::for_codec(config),
                    seen: Seen::default(),
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
            /// every read, and after every frame it yields): a read that
            /// times out now means the peer stalled inside a frame, not that
            /// it is idle between frames. Bytes of the next frame left in the
            /// buffer behind a frame just yielded count, at once.
            pub fn is_mid_frame(&self) -> bool {
                self.decoder.is_mid_frame()
                    || (self.seen.buffered > 0 && !self.decoder.is_failed())
            }

            /// Bytes received into the read buffer so far, and bytes left in
            /// it, as of the last decode (for [`WithDeadlines`](crate::WithDeadlines)).
            #[allow(dead_code)] // PayloadCodec's: no WithDeadlines over io::Error items yet
            pub(crate) fn seen(&self) -> Seen {
                self.seen
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
        self.seen.before(src);
        let item = split_fatal(self.decoder.decode(src));
        self.seen.after(src);
        item
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, Error> {
        self.seen.before(src);
        let item = split_fatal(self.decoder.decode_eof(src));
        self.seen.after(src);
        item
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
        self.seen.before(src);
        let item =
            self.decoder
                .decode_as(src, |_, payload| payload, |e| Err(Error::Decode(e).into()));
        self.seen.after(src);
        item
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> io::Result<Option<BytesMut>> {
        self.seen.before(src);
        let item = self
            .decoder
            .decode_payload_eof(src)
            .map_err(|e| Error::Decode(e).into());
        self.seen.after(src);
        item
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
