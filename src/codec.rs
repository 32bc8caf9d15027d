//! tokio-util `Decoder`/`Encoder`s (feature `tokio`): thin wrappers around
//! the one [`FrameDecoder`] and the one serializer.

use std::io;

use bytes::{Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::{
    buffers::{IDLE_READ, LARGE_PAYLOAD, MIN_READ, PAYLOAD_STEP},
    decode::Need,
    encode::{checked_header, put_header},
    Config, DecodeError, Error, Frame, FrameDecoder, Received, HEADER_LEN,
};

/// The LPF codec for `tokio_util::codec::{Framed, FramedRead, FramedWrite}`:
/// each item is a verified frame, or the report of a frame that was
/// dropped, so a corrupt payload costs that frame and never the stream.
///
/// - `Some(Ok(Received::Frame(frame)))`: a frame, both CRCs verified.
/// - `Some(Ok(Received::Dropped(e)))`: a frame was dropped and the stream
///   goes on — a corrupt payload under an intact header
///   ([`DecodeError::PayloadChecksum`]), or for a codec built
///   [`recovering`](FrameCodec::recovering) a damaged region skipped
///   ([`DecodeError::Skipped`]). The frames after it keep coming.
/// - `Some(Err(e))`: a fatal [`Error`] (a broken header, EOF inside a
///   frame, an I/O error): stop and close the connection. (A tokio-util
///   `Framed` yields `None` once after any decoder error, which is why the
///   errors a stream survives are items instead: with a `Decoder::Error`
///   they would end a `while let Some(..)` loop and lose the frames after
///   them.)
///
/// **Idle connections.** Between frames, with nothing buffered, the
/// codec brings `FramedRead`'s read buffer down to 256 bytes when the last
/// read left room unused (the peer is idle, or sends small frames), so
/// that an idle `FramedRead<_, FrameCodec>` + [`FrameSink`](crate::FrameSink)
/// holds about 0.3 KiB of framing buffers instead of 16 KiB (BENCHMARKS.md,
/// "Idle connections"); a busy connection whose reads fill the buffer
/// keeps it. With no configuration, and for `Framed`'s read half too. A
/// `FramedWrite`'s (or `Framed`'s) 8 KiB write buffer belongs to
/// tokio-util and stays allocated: use [`FrameSink`](crate::FrameSink),
/// which gives its buffer back when flushed.
///
/// It encodes [`Bytes`] — one item type, so `send`, `feed` and `flush`
/// need no type annotations; a `Vec<u8>`, `String`, `&'static [u8]` or a
/// received [`Frame`] goes in with `.into()` — and is `Clone`, for
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
/// use lpframe::{FrameCodec, Received};
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
///         Received::Frame(frame) => got.push(frame.into_payload()),
///         Received::Dropped(e) => eprintln!("dropped a frame: {e}"),
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
/// use lpframe::{Config, FrameCodec, Received};
/// use tokio_util::codec::{FramedRead, FramedWrite};
///
/// let (client, server) = tokio::io::duplex(4096);
/// let codec = FrameCodec::with_config(Config::new().max_read_frame_len(64 * 1024));
/// let (read_half, write_half) = tokio::io::split(server);
/// let mut rx = FramedRead::new(read_half, codec.clone());
/// let mut tx = FramedWrite::new(write_half, codec);
/// let echo = tokio::spawn(async move {
///     while let Some(item) = rx.try_next().await? {
///         if let Received::Frame(frame) = item {
///             tx.send(frame.into()).await?; // its payload, as it is: no copy
///         }
///     }
///     Ok::<_, lpframe::Error>(())
/// });
/// let mut client = tokio_util::codec::Framed::new(client, FrameCodec::new());
/// client.send(Bytes::from_static(b"ping")).await?;
/// let reply = client.try_next().await?.and_then(Received::into_frame).expect("an echo");
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
/// use lpframe::{Config, DecodeError, Error, FrameCodec, Received};
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
///     Some(Ok(Received::Frame(_frame))) => "a frame",
///     Some(Ok(Received::Dropped(DecodeError::PayloadChecksum { .. }))) => "a corrupt frame, dropped",
///     Some(Ok(Received::Dropped(_skipped))) => "a damaged region, skipped (recovery mode)",
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
/// framed.flush().await?;
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
    /// Bytes left in the read buffer after the last decode.
    buffered: usize,
}

/// A drop-in replacement for tokio-util's `LengthDelimitedCodec`, with
/// LPF's checks: it decodes to the payload as `BytesMut` (split from the
/// read buffer, no copy) and encodes `Bytes`, with
/// `io::Error` as its error — the shape that tokio-serde and other code
/// written for `LengthDelimitedCodec` expect.
///
/// **A corrupt frame does not end the stream.** A frame whose header was
/// intact but whose payload fails its checksum (or, in recovery mode, a
/// damaged range) is dropped inside the codec: the stream goes on with the
/// next frame, so a typed stream built on it (tokio-serde) keeps going, as
/// [`FrameCodec`] does. Each drop is counted in [`stats()`](Self::stats)
/// (`frames_dropped`, `skipped_ranges`, `bytes_skipped`) and, with the
/// `tracing` feature, logged as a `WARN` event with the error and its
/// offset. Use [`FrameCodec`] to receive each dropped frame as an item.
///
/// Only fatal errors (the stream cannot be resynchronised: bad magic,
/// header checksum, oversized or truncated frame, I/O) are returned, as an
/// `io::Error` carrying the typed [`Error`] (`e.get_ref()` and
/// `downcast_ref::<lpframe::Error>()`). As with `LengthDelimitedCodec`,
/// treat such an error as the end of the stream.
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
    /// Bytes left in the read buffer after the last decode.
    buffered: usize,
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
                    decoder: FrameDecoder::with_config(config),
                    buffered: 0,
                }
            }

            /// A codec whose decoder is in recovery mode (see
            /// [`FrameDecoder::recovering`]): for damaged streams such as
            /// captures and serial links, never for a live peer.
            pub fn recovering(config: Config) -> Self {
                $codec {
                    decoder: FrameDecoder::recovering(config),
                    buffered: 0,
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

            /// What this codec has decoded, dropped, skipped and encoded
            /// (see [`Stats`](crate::Stats)).
            pub fn stats(&self) -> crate::Stats {
                self.decoder.stats()
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
                    || (self.buffered > 0 && !self.decoder.is_failed())
            }


            /// The one encoder: the limit checked first, so that a refused
            /// payload never grows `dst`.
            fn encode_payload(&mut self, payload: &[u8], dst: &mut BytesMut) -> Result<(), Error> {
                let max = self.decoder.config().max_write_frame_len;
                let header = checked_header(payload, max)?;
                dst.reserve(HEADER_LEN + payload.len());
                put_header(&header, dst);
                copy_payload(payload, dst);
                self.decoder.stats_mut().written(payload.len());
                Ok(())
            }
        }
    };
}

accessors!(FrameCodec);
accessors!(PayloadCodec);

/// Appends `payload` to `dst`; payloads over 4 KiB in 2 KiB pieces.
///
/// glibc's `memmove` copies one large piece with `rep movsb`, which on
/// some CPUs (the project's AMD EPYC VM) runs about 10x slower when the
/// destination lies 0-31 bytes past the source modulo 4 KiB (4K
/// aliasing). That is where `FramedWrite`'s buffer puts the payload when
/// the buffer was allocated right behind the payload's allocation, and
/// then every frame's copy lands there (BENCHMARKS.md, "Why the 64 KiB
/// runs were bimodal"). Pieces below the `rep movsb` threshold take the
/// vector loop, which does not slow down.
#[inline(always)]
fn copy_payload(payload: &[u8], dst: &mut BytesMut) {
    if payload.len() > 4096 {
        copy_in_pieces(payload, dst);
    } else {
        dst.extend_from_slice(payload);
    }
}

/// The large-payload half of [`copy_payload`], out of line so that the
/// small-frame path stays as it was.
#[inline(never)]
fn copy_in_pieces(payload: &[u8], dst: &mut BytesMut) {
    for piece in payload.chunks(2048) {
        dst.extend_from_slice(piece);
    }
}

/// A decode error as [`FrameCodec`]'s result: a dropped frame is an item,
/// a fatal error the `Err` that ends the stream.
#[inline]
fn dropped_or_fatal(e: DecodeError) -> Result<Option<Received>, Error> {
    if e.is_fatal() {
        Err(Error::Decode(e))
    } else {
        Ok(Some(Received::Dropped(e)))
    }
}

fn received(payload: BytesMut) -> Received {
    Received::Frame(Frame::new(payload.freeze()))
}

impl FrameCodec {
    /// Counts a deadline that expired (`WithDeadlines` around the
    /// `Framed` this codec is in).
    pub(crate) fn deadline_expired(&mut self) {
        self.decoder.stats_mut().deadline_expired();
    }
}

impl Decoder for FrameCodec {
    type Item = Received;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Received>, Error> {
        let item = self
            .decoder
            .decode_with(src, received, dropped_or_fatal, make_room);
        self.buffered = src.len();
        item
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Received>, Error> {
        let item = self
            .decoder
            .decode_eof_with(src, received, dropped_or_fatal);
        self.buffered = src.len();
        item
    }
}

impl Encoder<Bytes> for FrameCodec {
    type Error = Error;

    fn encode(&mut self, item: Bytes, dst: &mut BytesMut) -> Result<(), Error> {
        self.encode_payload(&item, dst)
    }
}

/// A decode error as [`PayloadCodec`]'s result: a fatal error is the
/// `io::Error` that ends the stream; a dropped frame (counted in the
/// decoder's stats) yields nothing, and the codec decodes on
/// ([`PayloadCodec::decode_on`]).
#[inline(always)]
fn skip_or_fail(e: DecodeError) -> io::Result<Option<BytesMut>> {
    if e.is_fatal() {
        Err(Error::Decode(e).into())
    } else {
        Ok(None)
    }
}

impl PayloadCodec {
    /// After `Ok(None)`, which is a wait for more bytes or a dropped frame:
    /// decodes on while each pass makes progress. A wait makes none (no new
    /// bytes), so it returns at once; each drop consumes the frame's bytes,
    /// so the loop ends within `src`. Off the frame path, which pays
    /// nothing for it.
    #[cold]
    #[inline(never)]
    fn decode_on(&mut self, src: &mut BytesMut, eof: bool) -> io::Result<Option<BytesMut>> {
        loop {
            let before = self.decoder.position();
            let item = if eof {
                self.decoder.decode_eof_with(src, |p| p, skip_or_fail)
            } else {
                self.decoder
                    .decode_with(src, |p| p, skip_or_fail, make_room)
            };
            match item {
                Ok(None) if self.decoder.position() != before => continue,
                item => return item,
            }
        }
    }
}

impl Decoder for PayloadCodec {
    type Item = BytesMut;
    type Error = io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> io::Result<Option<BytesMut>> {
        let mut item = self
            .decoder
            .decode_with(src, |p| p, skip_or_fail, make_room);
        if let Ok(None) = item {
            item = self.decode_on(src, false);
        }
        self.buffered = src.len();
        item
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> io::Result<Option<BytesMut>> {
        let mut item = self.decoder.decode_eof_with(src, |p| p, skip_or_fail);
        if let Ok(None) = item {
            item = self.decode_on(src, true);
        }
        self.buffered = src.len();
        item
    }
}

impl Encoder<Bytes> for PayloadCodec {
    type Error = io::Error;

    fn encode(&mut self, item: Bytes, dst: &mut BytesMut) -> io::Result<()> {
        Ok(self.encode_payload(&item, dst)?)
    }
}

/// The codecs' buffer policy: when `decode` needs more bytes in `src`,
/// room for what comes next, without large moves inside `src` and without
/// trusting a declared length.
///
/// `FramedRead` reads into all of `src`'s spare room and, once it is
/// full, grows it by one byte's worth (`BytesMut` then doubles the
/// buffer, moves the unconsumed bytes to its front, or copies them into
/// a new buffer if frames still share the old one). Left alone, a large
/// payload that starts late in a big reused buffer fills the room
/// behind it and is then moved whole, and a long read runs far into the
/// next frame, which must be moved in turn: about one byte moved per
/// payload byte (benches/read_memory.sh). So, for a payload of
/// [`LARGE_PAYLOAD`] (64 KiB) or more (`src` then starts with its bytes
/// received so far):
/// - if `src` is not shared and its allocation can hold the whole frame
///   from its front, the bytes received are moved there now, while they
///   are few (`try_reclaim`: no allocation);
/// - else, if `src` has far more room than the payload's bytes so far
///   justify (at least twice `step = min(missing, max(received,
///   64 KiB))`), the payload moves to a buffer of its own of `received +
///   step` bytes;
/// - else, once `src` is nearly full (less room than 8 KiB and than the
///   bytes received), it grows by `step` (`reserve`: a `realloc` of an
///   unshared buffer), not by `FramedRead`'s doubling of the whole
///   buffer — a 64 KiB payload gets a 64 KiB buffer, not one of 128 KiB
///   (over glibc's mmap threshold: fresh pages, page faults);
/// - once the rest fits, `src` ends at the frame's end (`split_off`), so
///   that reads stop there and the next frame starts in a read of its
///   own.
///
/// Between frames, a buffer left exactly full gets room for an 8 KiB
/// read, and an empty one is put at rest ([`at_rest`]). What this reserves ahead of the received bytes is at most
/// `max(received, 64 KiB)`: memory follows what actually arrived.
#[cold]
#[inline(never)]
fn make_room(need: Need, src: &mut BytesMut) {
    // The codecs never ask for the decoder's own payload buffer, so a
    // payload is always awaited in `src` (`held` is 0).
    let len = match need {
        Need::Payload { len, held: 0 } if len >= LARGE_PAYLOAD => len,
        Need::Header if src.is_empty() => {
            at_rest(src);
            return;
        }
        _ => {
            // Between frames (or in a small one): a buffer that `split_off`
            // below left exactly full gets room for a read (`FramedRead`
            // would ask for one byte, and get exactly one).
            if src.len() == src.capacity() {
                src.reserve(MIN_READ);
            }
            return;
        }
    };
    let have = src.len();
    let missing = len.saturating_sub(have);
    let ahead = src.capacity().saturating_sub(have);
    if ahead < missing && !src.try_reclaim(missing) {
        let step = have.max(PAYLOAD_STEP).min(missing);
        if ahead >= 2 * step {
            let mut own = BytesMut::with_capacity(have + step);
            own.extend_from_slice(src);
            *src = own;
        } else if ahead < MIN_READ.min(have) {
            // Nearly full: grow by what has arrived (at least 64 KiB,
            // at most what is missing), not by doubling the buffer.
            src.reserve(step);
        }
        return;
    }
    // The rest fits: reads stop at the frame's end, so that the next
    // frame starts in a read of its own, near the front of a buffer,
    // instead of behind bytes that a long read ran ahead.
    if src.capacity() > len {
        drop(src.split_off(len));
    }
}

/// Between frames with nothing buffered (the codec is waiting for the next
/// frame's first byte), the read buffer is brought down to what an idle
/// connection needs, so that thousands of idle connections hold no 8 KiB
/// buffers (BENCHMARKS.md, "Idle connections"):
/// - if the last read left more than [`IDLE_READ`] (256 B) of room unused,
///   the peer had no more to send: the buffer is replaced by one of 256 B
///   (the old one is freed once the frames split from it are dropped). A
///   wake-up then reads a small frame whole into it; a larger one grows it
///   as any full buffer grows (one more read, one `realloc`).
/// - else the read filled the buffer (a busy stream, or the small buffer
///   used up): it is reclaimed in place if no frame still shares it (no
///   allocation, no copy: it is empty), as `FramedRead`'s next `reserve`
///   would do anyway, so that a busy connection keeps its buffer and a
///   request/response connection with small frames reuses its 256 B
///   without allocating; if frames still share it and less than 64 B are
///   left, a fresh 256 B buffer (one allocation every few small frames
///   for a caller that keeps its frames a while).
///
/// What this costs a connection woken from idle: the 256 B allocation when
/// it went to rest, and `BytesMut`'s switch to shared storage when the
/// first frame is split from the new buffer; no extra read for a frame of
/// up to 256 B.
#[inline]
fn at_rest(src: &mut BytesMut) {
    let room = src.capacity();
    if room > IDLE_READ {
        *src = BytesMut::with_capacity(IDLE_READ);
    } else if !src.try_reclaim(IDLE_READ) && room < IDLE_READ / 4 {
        // Frames still share the buffer and what is left of it would take
        // a header alone (and `reserve` would then copy it into a buffer
        // grown from a few bytes): a fresh small buffer instead.
        *src = BytesMut::with_capacity(IDLE_READ);
    }
}
