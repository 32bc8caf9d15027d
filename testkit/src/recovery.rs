//! Recovery mode's own driver: where every event lies in the stream.

use bytes::BytesMut;
use lpframe::{Config, DecodeError, FrameDecoder, HEADER_LEN};

use crate::Event;

/// Recovery mode through the pure decoder: every event with the stream
/// offset it covers, checking that the events tile the input exactly and
/// that the buffer stays bounded while scanning.
pub fn recover_events(input: &[u8], chunks: &[usize], max: u32) -> Vec<(u64, u64, Event)> {
    let mut dec = FrameDecoder::recovering(Config::new().max_read_frame_len(max));
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let (mut fed, mut eof) = (0usize, false);
    let largest_chunk = chunks.iter().copied().max().unwrap_or(0);
    let mut chunk_iter = chunks.iter();
    for _ in 0..4 * input.len() + 16 {
        let res = if eof {
            dec.decode_eof(&mut buf)
        } else {
            dec.decode(&mut buf)
        };
        // Ruled-out bytes are released: the buffer never holds more than a
        // chunk plus a frame in progress.
        assert!(buf.len() <= largest_chunk + HEADER_LEN + max as usize);
        match res {
            Ok(Some(f)) => {
                let off = dec.frame_offset();
                let at = off as usize + HEADER_LEN;
                assert_eq!(&input[at..at + f.len()], &f[..]);
                out.push((off, (HEADER_LEN + f.len()) as u64, Event::Frame(f.to_vec())));
            }
            Ok(None) if eof => {
                let mut pos = 0;
                for (off, len, ev) in &out {
                    assert_eq!(*off, pos, "gap or overlap before {ev:?}");
                    pos += len;
                }
                assert_eq!(pos, input.len() as u64, "the events do not tile the input");
                return out;
            }
            Ok(None) => match chunk_iter.next() {
                Some(&n) => {
                    buf.extend_from_slice(&input[fed..fed + n]);
                    fed += n;
                }
                None => eof = true,
            },
            Err(e) => {
                assert!(!e.is_fatal(), "fatal error in recovery mode: {e:?}");
                let (off, len) = match &e {
                    DecodeError::Skipped { offset, len, .. } => (*offset, *len),
                    DecodeError::PayloadChecksum { len, .. } => {
                        (dec.frame_offset(), HEADER_LEN as u64 + u64::from(*len))
                    }
                    other => panic!("unexpected {other:?}"),
                };
                out.push((off, len, Event::error(&e)));
            }
        }
    }
    panic!("recovery did not terminate");
}
