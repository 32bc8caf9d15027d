//! `Stats` after a damaged stream, on every path: the decoder, the
//! buffered blocking reader, the tokio codecs (both), the blocking writer
//! and the tokio sink. The `tracing` events beside them: tests/stats_tracing.rs.

use bytes::BytesMut;
use lpframe::{Config, DecodeError, FrameDecoder, FrameReader, FrameWriter, Stats};

/// "one", "two" with a flipped payload bit, "three": one frame dropped.
fn with_corrupt_frame() -> Vec<u8> {
    let mut wire = Vec::new();
    for p in [&b"one"[..], b"two", b"three"] {
        lpframe::write_frame(&mut wire, p).unwrap();
    }
    wire[19 + 16] ^= 1;
    wire
}

/// `with_corrupt_frame`, then 5 bytes of garbage, "four", then half a
/// header: in recovery mode 2 ranges skipped (5 bytes and the 7-byte tail).
fn with_damage() -> Vec<u8> {
    let mut wire = with_corrupt_frame();
    wire.extend_from_slice(b"junk!");
    lpframe::write_frame(&mut wire, b"four").unwrap();
    wire.extend_from_slice(&[0xC1, 0x4C, 1, 0, 0, 0, 0]);
    wire
}

/// What every reading path must count for `with_damage` in recovery mode.
fn damaged_recovered(s: Stats) {
    assert_eq!(s.frames_decoded, 3, "{s:?}");
    assert_eq!(s.frames_dropped, 1, "{s:?}");
    assert_eq!((s.skipped_ranges, s.bytes_skipped), (2, 12), "{s:?}");
    assert_eq!(s.fatal_errors, 0, "{s:?}");
    assert_eq!((s.frames_written, s.bytes_written), (0, 0), "{s:?}");
}

/// What every reading path must count for `with_corrupt_frame` followed
/// by a bad magic, without recovery: one fatal error, counted once however
/// often it is repeated.
fn damaged_fatal(s: Stats) {
    assert_eq!((s.frames_decoded, s.frames_dropped), (2, 1), "{s:?}");
    assert_eq!((s.skipped_ranges, s.bytes_skipped), (0, 0), "{s:?}");
    assert_eq!(s.fatal_errors, 1, "{s:?}");
}

fn with_fatal_end() -> Vec<u8> {
    let mut wire = with_corrupt_frame();
    wire.extend_from_slice(b"\0\0\0\x05hello");
    wire
}

#[test]
fn the_decoder_counts_in_any_chunking() {
    let wire = with_damage();
    for chunk in [1, 2, 7, 16, wire.len()] {
        let mut decoder = FrameDecoder::recovering(Config::new());
        let mut buf = BytesMut::new();
        for piece in wire.chunks(chunk) {
            buf.extend_from_slice(piece);
            while !matches!(decoder.decode(&mut buf), Ok(None)) {}
        }
        while !matches!(decoder.decode_eof(&mut buf), Ok(None)) {}
        damaged_recovered(decoder.stats());
    }

    let wire = with_fatal_end();
    let mut decoder = FrameDecoder::new();
    let mut buf = BytesMut::from(&wire[..]);
    let mut fatal = 0;
    for _ in 0..10 {
        if let Err(e) = decoder.decode(&mut buf) {
            fatal += usize::from(e.is_fatal());
        }
    }
    assert!(decoder.decode_eof(&mut buf).is_err());
    assert!(fatal > 1, "the failed decoder repeats its error");
    damaged_fatal(decoder.stats());
}

#[test]
fn a_truncated_stream_is_one_fatal_error() {
    let mut wire = Vec::new();
    lpframe::write_frame(&mut wire, b"hello").unwrap();
    let mut decoder = FrameDecoder::new();
    let mut buf = BytesMut::from(&wire[..10]);
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    assert!(matches!(
        decoder.decode_eof(&mut buf),
        Err(DecodeError::Truncated { .. })
    ));
    assert!(decoder.decode_eof(&mut buf).is_err());
    assert_eq!(decoder.stats().fatal_errors, 1);
    assert_eq!(decoder.stats().frames_decoded, 0);
}

#[test]
fn the_blocking_reader_counts() {
    let wire = with_damage();
    let mut reader = FrameReader::recovering(&wire[..], Config::new());
    for _ in 0..20 {
        if let Ok(None) = reader.next_frame() {
            break;
        }
    }
    damaged_recovered(reader.stats());

    let wire = with_fatal_end();
    let mut reader = FrameReader::new(&wire[..]);
    let mut last = Ok(None);
    for _ in 0..5 {
        last = reader.next_frame().map(|f| f.map(|f| f.payload().to_vec()));
    }
    assert!(last.is_err());
    damaged_fatal(reader.stats());
}

#[test]
fn the_blocking_writer_counts_what_it_accepts() {
    let config = Config::new().max_write_frame_len(4);
    let mut w = FrameWriter::with_config(Vec::new(), config);
    w.write_frame(b"one").unwrap();
    w.write_frame(b"").unwrap();
    assert!(w.write_frame(b"too long").is_err()); // refused: not counted
    w.flush().unwrap();
    let s = w.stats();
    assert_eq!((s.frames_written, s.bytes_written), (2, 16 + 3 + 16));
    assert_eq!((s.fatal_errors, s.frames_decoded), (0, 0));

    // A writer poisoned by an I/O error: one fatal error.
    struct Broken;
    impl std::io::Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::ConnectionReset.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut w = FrameWriter::new(Broken);
    w.write_frame(b"lost").unwrap();
    assert!(w.flush().is_err());
    assert!(w.flush().is_err()); // WriterPoisoned: not counted again
    assert!(w.is_poisoned());
    assert_eq!(w.stats().fatal_errors, 1);
}

#[cfg(feature = "tokio")]
mod tokio_paths {
    use super::*;
    use bytes::Bytes;
    use futures::{SinkExt, StreamExt};
    use lpframe::{FrameCodec, FrameSink, PayloadCodec};
    use tokio_util::codec::{FramedRead, FramedWrite};

    #[tokio::test]
    async fn the_frame_codec_counts_both_ways() {
        let wire = with_damage();
        let mut rx = FramedRead::new(&wire[..], FrameCodec::recovering(Config::new()));
        let mut items = 0;
        while let Some(item) = rx.next().await {
            assert!(item.is_ok());
            items += 1;
        }
        assert_eq!(items, 6);
        damaged_recovered(rx.decoder().stats());

        let wire = with_fatal_end();
        let mut rx = FramedRead::new(&wire[..], FrameCodec::new());
        while rx.next().await.is_some() {}
        damaged_fatal(rx.decoder().stats());

        let mut tx = FramedWrite::new(Vec::new(), FrameCodec::new());
        tx.send(Bytes::from_static(b"ping")).await.unwrap();
        let s = tx.encoder().stats();
        assert_eq!((s.frames_written, s.bytes_written), (1, 20));
    }

    #[test]
    fn the_payload_codec_counts_past_its_io_errors() {
        use tokio_util::codec::{Decoder, Encoder};
        // Driven directly: a FramedRead ends the stream at its first error
        // once the input has ended, which would hide the rest.
        let wire = with_damage();
        let mut codec = PayloadCodec::recovering(Config::new());
        let mut buf = BytesMut::from(&wire[..]);
        for _ in 0..20 {
            if let Ok(None) = codec.decode(&mut buf) {
                break;
            }
        }
        for _ in 0..20 {
            if let Ok(None) = codec.decode_eof(&mut buf) {
                break;
            }
        }
        damaged_recovered(codec.stats());
        let mut out = BytesMut::new();
        codec.encode(Bytes::from_static(b"ok"), &mut out).unwrap();
        assert_eq!(
            (codec.stats().frames_written, codec.stats().bytes_written),
            (1, 18)
        );
    }

    #[tokio::test]
    async fn the_sink_counts_what_it_accepts() {
        let mut sink = FrameSink::with_config(Vec::new(), Config::new().max_write_frame_len(4));
        sink.send(Bytes::from_static(b"one")).await.unwrap();
        assert!(sink.send(Bytes::from_static(b"too long")).await.is_err());
        sink.send(Bytes::from_static(b"two")).await.unwrap();
        let s = sink.stats();
        assert_eq!((s.frames_written, s.bytes_written), (2, 38));
        assert_eq!(s.fatal_errors, 0);
        assert_eq!(sink.get_ref().len(), 38);
    }
}
