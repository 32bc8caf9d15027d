//! tokio-serde over lpframe: typed messages as short as over
//! `LengthDelimitedCodec` (the same generic program runs over both codecs),
//! without a per-message copy, and with a corrupt message reported as a
//! typed error.
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
async fn a_corrupt_message_is_a_typed_error_and_the_stream_goes_on_when_polled() {
    let (mut a, b) = tokio::io::duplex(4096);
    let mut wire = Vec::new();
    for (id, text) in [(1, "kept"), (2, "corrupted"), (3, "after")] {
        let json = serde_json_bytes(&Msg {
            id,
            text: text.into(),
        });
        lpframe::write_frame(&mut wire, &json).unwrap();
    }
    // Flip a bit in the second frame's payload.
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
    assert_eq!(conn.try_next().await.unwrap().unwrap().id, 1);
    let err = conn.try_next().await.unwrap_err();
    let typed = err.get_ref().and_then(|e| e.downcast_ref::<Error>());
    assert!(
        matches!(
            typed,
            Some(Error::Decode(DecodeError::PayloadChecksum { .. }))
        ),
        "{err:?}"
    );
    assert!(!typed.is_some_and(Error::is_fatal));
    // Not fatal: polled on (past the `None` that tokio-util's `Framed`
    // yields after an error), the stream gives the next message.
    let next = match conn.try_next().await.unwrap() {
        Some(m) => m,
        None => conn.try_next().await.unwrap().expect("the message after"),
    };
    assert_eq!(next.id, 3);
}

fn serde_json_bytes(m: &Msg) -> Vec<u8> {
    // tokio-serde's Json format, without naming serde_json: serialize
    // through the codec itself.
    use std::pin::Pin;
    use tokio_serde::Serializer;
    let mut json = Json::<Msg, Msg>::default();
    Pin::new(&mut json).serialize(m).unwrap().to_vec()
}
