//! tokio-serde over lpframe: typed messages as short as over
//! `LengthDelimitedCodec` (the same generic program runs over both codecs),
//! without a per-message copy, going on past a corrupt message (counted),
//! and with a fatal error reported as a typed error.
#![cfg(feature = "tokio")]

use std::io;

use bytes::{Bytes, BytesMut};
use futures::{SinkExt, TryStreamExt};
use lpframe::{DecodeError, Error, PayloadCodec};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tokio_serde::formats::Json;
use tokio_util::codec::{Decoder, Encoder, Framed, LengthDelimitedCodec};

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Msg {
    id: u32,
    text: String,
}

/// A request/reply exchange over any codec of `LengthDelimitedCodec`'s
/// shape: the program does not change with the codec.
async fn exchange<C>(codec: C) -> io::Result<Vec<Msg>>
where
    C: Decoder<Item = BytesMut, Error = io::Error>
        + Encoder<Bytes, Error = io::Error>
        + Clone
        + Send
        + Unpin
        + 'static,
{
    let (a, b) = tokio::io::duplex(4096);
    let server = {
        let codec = codec.clone();
        tokio::spawn(async move {
            let mut conn =
                tokio_serde::Framed::new(Framed::new(b, codec), Json::<Msg, Msg>::default());
            while let Some(mut m) = conn.try_next().await? {
                m.text = m.text.to_uppercase();
                conn.send(m).await?;
            }
            Ok::<_, io::Error>(())
        })
    };
    let mut client = tokio_serde::Framed::new(Framed::new(a, codec), Json::<Msg, Msg>::default());
    let mut replies = Vec::new();
    for (id, text) in [(1, "one"), (2, ""), (3, "three")] {
        client
            .send(Msg {
                id,
                text: text.into(),
            })
            .await?;
        replies.push(client.try_next().await?.expect("a reply"));
    }
    drop(client);
    server.await.map_err(io::Error::other)??;
    Ok(replies)
}

#[tokio::test]
async fn the_same_typed_program_runs_over_lpframe_and_length_delimited() {
    let expected = vec![
        Msg {
            id: 1,
            text: "ONE".into(),
        },
        Msg {
            id: 2,
            text: "".into(),
        },
        Msg {
            id: 3,
            text: "THREE".into(),
        },
    ];
    assert_eq!(
        exchange(LengthDelimitedCodec::new()).await.unwrap(),
        expected
    );
    assert_eq!(exchange(PayloadCodec::new()).await.unwrap(), expected);
}

#[test]
fn payloads_are_split_from_the_read_buffer_not_copied() {
    let mut wire = Vec::new();
    for p in [&b"first message"[..], b"second", b""] {
        lpframe::write_frame(&mut wire, p).unwrap();
    }
    let mut buf = BytesMut::from(&wire[..]);
    let (start, end) = (buf.as_ptr() as usize, buf.as_ptr() as usize + buf.len());
    let mut codec = PayloadCodec::new();
    let mut seen = 0;
    while let Some(payload) = codec.decode(&mut buf).unwrap() {
        let at = payload.as_ptr() as usize;
        assert!(
            payload.is_empty() || (start..end).contains(&at),
            "the payload was copied out of the read buffer"
        );
        seen += 1;
    }
    assert_eq!(seen, 3);
}

#[tokio::test]
async fn a_typed_stream_goes_on_past_a_corrupt_message_and_counts_it() {
    let (mut a, b) = tokio::io::duplex(4096);
    let mut wire = Vec::new();
    for (id, text) in [(1, "kept"), (2, "corrupted"), (3, "after")] {
        let json = serde_json_bytes(&Msg {
            id,
            text: text.into(),
        });
        lpframe::write_frame(&mut wire, &json).unwrap();
    }
    // Flip a bit in the second frame's payload: its header stays intact.
    let second = lpframe::HEADER_LEN
        + serde_json_bytes(&Msg {
            id: 1,
            text: "kept".into(),
        })
        .len();
    wire[second + lpframe::HEADER_LEN + 2] ^= 0x01;
    a.write_all(&wire).await.unwrap();
    drop(a);
    let mut conn: tokio_serde::Framed<_, Msg, Msg, _> = tokio_serde::Framed::new(
        Framed::new(b, PayloadCodec::new()),
        Json::<Msg, Msg>::default(),
    );
    // The corrupt message costs that one message: the next poll gives the
    // one after it, then the clean end of the stream.
    let ids: Vec<u32> = [conn.try_next().await, conn.try_next().await]
        .into_iter()
        .map(|m| m.unwrap().expect("a message").id)
        .collect();
    assert_eq!(ids, [1, 3]);
    assert!(conn.try_next().await.unwrap().is_none());
    let stats = conn.get_ref().codec().stats();
    assert_eq!((stats.frames_decoded, stats.frames_dropped), (2, 1));
    assert_eq!(stats.fatal_errors, 0);
}

#[tokio::test]
async fn a_fatal_error_is_a_typed_io_error_that_ends_the_typed_stream() {
    let (mut a, b) = tokio::io::duplex(4096);
    let mut wire = Vec::new();
    lpframe::write_frame(
        &mut wire,
        &serde_json_bytes(&Msg {
            id: 1,
            text: "kept".into(),
        }),
    )
    .unwrap();
    let at = wire.len();
    lpframe::write_frame(&mut wire, b"{}").unwrap();
    wire[at + 4] ^= 0x80; // the declared length: the header checksum fails
    a.write_all(&wire).await.unwrap();
    drop(a);
    let mut conn: tokio_serde::Framed<_, Msg, Msg, _> = tokio_serde::Framed::new(
        Framed::new(b, PayloadCodec::new()),
        Json::<Msg, Msg>::default(),
    );
    assert_eq!(conn.try_next().await.unwrap().unwrap().id, 1);
    let err = conn.try_next().await.unwrap_err();
    let typed = err.get_ref().and_then(|e| e.downcast_ref::<Error>());
    assert!(
        matches!(
            typed,
            Some(Error::Decode(DecodeError::HeaderChecksum { .. }))
        ),
        "{err:?}"
    );
    assert!(typed.is_some_and(Error::is_fatal));
    assert_eq!(conn.get_ref().codec().stats().fatal_errors, 1);
}

fn serde_json_bytes(m: &Msg) -> Vec<u8> {
    // tokio-serde's Json format, without naming serde_json: serialize
    // through the codec itself.
    use std::pin::Pin;
    use tokio_serde::Serializer;
    let mut json = Json::<Msg, Msg>::default();
    Pin::new(&mut json).serialize(m).unwrap().to_vec()
}
