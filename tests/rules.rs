//! Behaviours 2–5 of the core issue: a corrupt payload costs one frame; a
//! header error fails the decoder for good; nothing proportional to a
//! declared length is reserved early; oversized writes fail before any
//! byte is written. Plus the EOF rules and error conversions.

use bytes::BytesMut;
use lpframe::{
    read_frame, write_frame_with, Config, DecodeError, EncodeError, Error, ForeignProtocol,
    FrameDecoder, FramePart, FrameReader, FrameWriter, Header, HEADER_LEN,
};
use testkit::{after, encode_all, every_path, timeouts_before_chunks, Event};

/// A valid v1 header declaring `len` payload bytes (payload CRC 0).
fn header_bytes(len: u32) -> [u8; HEADER_LEN] {
    Header::new(len, 0).to_bytes()
}

/// The frame every `every_path` script appends after the end of the input:
/// delivered iff no error was fatal.
fn appended() -> Event {
    Event::Frame(after(lpframe::DEFAULT_MAX_FRAME_LEN).to_vec())
}

#[test]
fn payload_crc_mismatch_costs_exactly_one_frame_on_every_path() {
    let mut wire = encode_all(&[b"first", b"corrupt me", b"third"]);
    let corrupt_at = HEADER_LEN + 5 + HEADER_LEN + 3;
    wire[corrupt_at] ^= 0x10;
    let events = every_path(
        &wire,
        &[wire.len()],
        &timeouts_before_chunks(&[wire.len()]),
        Config::default(),
    );
    assert_eq!(events.len(), 4);
    assert_eq!(events[0], Event::Frame(b"first".to_vec()));
    assert!(matches!(
        &events[1],
        Event::Error(DecodeError::PayloadChecksum { len: 10, .. })
    ));
    assert_eq!(events[2], Event::Frame(b"third".to_vec()));
    // Not fatal: the stream goes on past its end too (the appended frame).
    assert_eq!(events[3], appended());
}

#[test]
fn header_error_leaves_the_decoder_failed_and_says_so() {
    let mut wire = encode_all(&[b"aaaa", b"bbbb"]);
    wire[HEADER_LEN + 4 + 5] ^= 0x01; // a length bit of the second header
    let mut dec = FrameDecoder::new();
    let mut buf = BytesMut::from(&wire[..]);
    assert_eq!(
        dec.decode(&mut buf).unwrap().unwrap().payload(),
        &b"aaaa"[..]
    );
    let err = dec.decode(&mut buf).unwrap_err();
    assert!(matches!(err, DecodeError::HeaderChecksum { .. }), "{err:?}");
    assert!(err.is_fatal());
    assert!(err.is_header_level());
    assert!(dec.is_failed());
    // Feed perfectly valid frames: the decoder must not trust the stream again.
    buf.clear();
    buf.extend_from_slice(&encode_all(&[b"valid"]));
    for _ in 0..3 {
        assert_eq!(dec.decode(&mut buf).unwrap_err(), err);
        assert_eq!(dec.decode_eof(&mut buf).unwrap_err(), err);
    }
}

#[test]
fn frame_reader_iterator_ends_after_a_fatal_error() {
    let mut wire = encode_all(&[b"ok"]);
    wire.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
    wire.extend_from_slice(&encode_all(&[b"never"]));
    let items: Vec<_> = FrameReader::new(&wire[..]).collect();
    assert_eq!(items.len(), 2);
    assert!(items[0].is_ok());
    assert!(matches!(
        items[1],
        Err(Error::Decode(DecodeError::BadMagic {
            found: 0x4745,
            hint: Some(ForeignProtocol::Http1)
        }))
    ));
}

#[test]
fn a_4gib_header_fails_at_once_with_the_default_limit() {
    let head = header_bytes(u32::MAX);
    let expect = |e: Error| {
        assert!(
            matches!(
                e,
                Error::Decode(DecodeError::FrameTooLarge {
                    len: u32::MAX,
                    max: 8388608
                })
            ),
            "{e:?}"
        )
    };
    // Pure decoder: only the 16 header bytes are needed.
    let mut buf = BytesMut::from(&head[..]);
    expect(FrameDecoder::new().decode(&mut buf).unwrap_err().into());
    // Exact reader: fails without waiting for (or reserving) the payload.
    expect(read_frame(&mut &head[..]).unwrap_err());
    // Buffered reader.
    expect(FrameReader::new(&head[..]).next_frame().unwrap_err());
}

#[test]
fn a_declared_8mib_frame_with_one_byte_reserves_little() {
    let mut wire = header_bytes(8 * 1024 * 1024).to_vec();
    wire.push(0xAB);
    // Pure decoder: the buffer grows with bytes received, not the declaration.
    let mut dec = FrameDecoder::new();
    let mut buf = BytesMut::from(&wire[..]);
    assert!(dec.decode(&mut buf).unwrap().is_none());
    assert!(
        buf.capacity() < 64 * 1024,
        "reserved {} bytes",
        buf.capacity()
    );
    // Buffered reader: after the stream ends mid-payload, its buffer is small.
    let mut reader = FrameReader::new(&wire[..]);
    let err = reader.next_frame().unwrap_err();
    assert!(
        matches!(err, Error::Decode(DecodeError::Truncated { part: FramePart::Payload, missing }) if missing == 8 * 1024 * 1024 - 1),
        "{err:?}"
    );
    let (_, leftover) = reader.into_parts();
    assert!(
        leftover.capacity() < 64 * 1024,
        "reserved {}",
        leftover.capacity()
    );
}

#[test]
fn reading_a_large_frame_grows_the_buffer_geometrically_not_up_front() {
    // The decoder's capacity stays within twice what has arrived.
    let payload = vec![7u8; 1 << 20];
    let wire = encode_all(&[&payload]);
    let mut dec = FrameDecoder::new();
    let mut buf = BytesMut::new();
    let mut fed = 0;
    for chunk in wire.chunks(4096) {
        buf.extend_from_slice(chunk);
        fed += chunk.len();
        if let Some(f) = dec.decode(&mut buf).unwrap() {
            assert_eq!(f.len(), payload.len());
            return;
        }
        assert!(
            buf.capacity() <= 2 * fed + 4096,
            "capacity {} after {fed} bytes",
            buf.capacity()
        );
    }
    panic!("frame not decoded");
}

#[test]
fn oversized_writes_fail_before_any_byte_is_written() {
    let config = Config::new().max_write_frame_len(4);
    let mut out = Vec::new();
    let err = write_frame_with(&mut out, b"12345", 4).unwrap_err();
    assert!(
        matches!(err, Error::Encode(EncodeError::TooLarge { len: 5, max: 4 })),
        "{err:?}"
    );
    assert!(!err.is_fatal());
    assert!(out.is_empty());
    write_frame_with(&mut out, b"1234", 4).unwrap();

    let mut w = FrameWriter::with_config(Vec::new(), config);
    assert!(matches!(
        w.write_frame(b"12345"),
        Err(Error::Encode(EncodeError::TooLarge { len: 5, max: 4 }))
    ));
    assert!(!w.is_poisoned());
    assert_eq!(w.buffered(), 0);
    w.write_frame(b"ok").unwrap();
    assert_eq!(w.into_inner().unwrap().len(), HEADER_LEN + 2);
}

#[cfg(feature = "tokio")]
#[test]
fn codec_rejects_oversized_payloads_without_touching_dst() {
    use bytes::Bytes;
    use tokio_util::codec::Encoder;
    let mut codec = lpframe::FrameCodec::with_config(Config::new().max_write_frame_len(3));
    let mut dst = BytesMut::new();
    assert!(matches!(
        codec.encode(Bytes::from_static(b"1234"), &mut dst),
        Err(Error::Encode(EncodeError::TooLarge { len: 4, max: 3 }))
    ));
    assert!(dst.is_empty());
    assert_eq!(
        dst.capacity(),
        0,
        "a refused payload grew the output buffer"
    );
    // The limit can change at runtime, e.g. after a negotiation.
    codec.config_mut().max_write_frame_len = 4;
    codec.encode(Bytes::from_static(b"1234"), &mut dst).unwrap();
    assert_eq!(dst.len(), HEADER_LEN + 4);

    // The LengthDelimitedCodec-shaped codec refuses the same way, with the
    // typed error inside its io::Error.
    let mut codec = lpframe::PayloadCodec::with_config(Config::new().max_write_frame_len(3));
    let mut dst = BytesMut::new();
    let err = codec
        .encode(Bytes::from_static(b"1234"), &mut dst)
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(matches!(
        err.get_ref().and_then(|e| e.downcast_ref::<Error>()),
        Some(Error::Encode(EncodeError::TooLarge { len: 4, max: 3 }))
    ));
    assert_eq!(
        dst.capacity(),
        0,
        "a refused payload grew the output buffer"
    );
    codec.config_mut().max_write_frame_len = 4;
    codec.encode(Bytes::from_static(b"1234"), &mut dst).unwrap();
    assert_eq!(dst.len(), HEADER_LEN + 4);
}

#[test]
fn read_limit_changes_apply_from_the_next_header() {
    let wire = encode_all(&[b"12345", b"12345"]);
    let mut reader = FrameReader::with_config(&wire[..], Config::new().max_read_frame_len(5));
    assert!(reader.next_frame().unwrap().is_some());
    reader.config_mut().max_read_frame_len = 4;
    assert!(matches!(
        reader.next_frame(),
        Err(Error::Decode(DecodeError::FrameTooLarge { len: 5, max: 4 }))
    ));
}

#[test]
fn eof_rules() {
    let wire = encode_all(&[b"abc"]);
    // Clean end at a boundary, on every path: the stream may go on (the
    // appended frame is delivered).
    assert_eq!(
        every_path(
            &wire,
            &[wire.len()],
            &timeouts_before_chunks(&[wire.len()]),
            Config::default()
        ),
        vec![Event::Frame(b"abc".to_vec()), appended()]
    );
    assert_eq!(
        every_path(&[], &[], &timeouts_before_chunks(&[]), Config::default()),
        vec![appended()]
    );
    // Every truncation point inside the frame is reported, never delivered;
    // and it is final: the frame appended after the end is never delivered.
    for cut in 1..wire.len() {
        let events = every_path(
            &wire[..cut],
            &[cut],
            &timeouts_before_chunks(&[cut]),
            Config::default(),
        );
        let expected = if cut < HEADER_LEN {
            format!("Truncated part=header missing={}", HEADER_LEN - cut)
        } else {
            format!("Truncated part=payload missing={}", wire.len() - cut)
        };
        assert_eq!(events, vec![Event::canonical(&expected)], "cut at {cut}");
    }
}

#[test]
fn foreign_protocols_are_named_and_rejected_after_two_bytes() {
    let cases: [(&[u8], ForeignProtocol); 7] = [
        (b"GET / HTTP/1.1\r\n", ForeignProtocol::Http1),
        // tokio-util's LengthDelimitedCodec (u32 BE length), and a u16 BE one.
        (b"\0\0\0\x05hello", ForeignProtocol::LengthPrefixed),
        (b"\0\x05hello", ForeignProtocol::LengthPrefixed),
        (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", ForeignProtocol::Http2),
        (
            &[0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00],
            ForeignProtocol::TlsClientHello,
        ),
        (b"SSH-2.0-OpenSSH_9.6\r\n", ForeignProtocol::Ssh),
        (b"EHLO example.org\r\n", ForeignProtocol::Text),
    ];
    for (bytes, proto) in cases {
        let err = read_frame(&mut &bytes[..]).unwrap_err();
        match &err {
            Error::Decode(DecodeError::BadMagic { hint, .. }) => {
                assert_eq!(*hint, Some(proto), "{bytes:?}")
            }
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains("peer"), "{err}");
        // Two bytes are enough to refuse: the decoder does not wait for 16.
        let mut buf = BytesMut::from(&bytes[..2]);
        assert!(matches!(
            FrameDecoder::new().decode(&mut buf),
            Err(DecodeError::BadMagic { .. })
        ));
    }
    let mut buf = BytesMut::from(&[0xC1, 0x4C, 0x02][..]);
    assert_eq!(
        FrameDecoder::new().decode(&mut buf),
        Err(DecodeError::UnsupportedVersion {
            found: 2,
            supported: 1
        })
    );
}

#[test]
fn a_length_delimited_codec_peer_is_named() {
    // What tokio-util's LengthDelimitedCodec sends for b"hello".
    let err = read_frame(&mut &b"\0\0\0\x05hello"[..]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "bad magic 0x0000 (expected 0xc14c): peer sent a length-prefixed \
         (LengthDelimitedCodec-style) frame"
    );
    let detect = ForeignProtocol::detect;
    // The same through the codec path, as the bytes arrive: after two bytes
    // a zero and a nonzero byte, after four the u32.
    assert_eq!(detect(b"\0\x05"), Some(ForeignProtocol::LengthPrefixed));
    assert_eq!(detect(b"\0\0\x01\0"), Some(ForeignProtocol::LengthPrefixed)); // 256
    assert_eq!(detect(b"\0\x80\0\0"), Some(ForeignProtocol::LengthPrefixed)); // 8 MiB
                                                                              // Not plausible: over LengthDelimitedCodec's 8 MiB default, or zero.
    assert_eq!(detect(b"\0\x80\0\x01"), None);
    assert_eq!(detect(b"\0\0\0\0"), Some(ForeignProtocol::Zeros));
    assert_eq!(detect(b"\0\0"), Some(ForeignProtocol::Zeros));
    assert_eq!(detect(b"\x7f\0\0\x05"), None);
}

#[test]
fn errors_convert_to_io_errors_with_sensible_kinds() {
    use std::io::ErrorKind;
    let cases = [
        (
            Error::Decode(DecodeError::Truncated {
                part: FramePart::Header,
                missing: 3,
            }),
            ErrorKind::UnexpectedEof,
        ),
        (
            Error::Decode(DecodeError::HeaderChecksum {
                expected: 1,
                actual: 2,
            }),
            ErrorKind::InvalidData,
        ),
        (
            Error::Encode(EncodeError::TooLarge { len: 9, max: 8 }),
            ErrorKind::InvalidInput,
        ),
        (Error::WriterPoisoned, ErrorKind::BrokenPipe),
        (
            Error::Desync {
                io: ErrorKind::TimedOut.into(),
                done: 7,
            },
            ErrorKind::Other,
        ),
        (
            Error::Io(ErrorKind::ConnectionReset.into()),
            ErrorKind::ConnectionReset,
        ),
    ];
    for (e, kind) in cases {
        let io: std::io::Error = e.into();
        assert_eq!(io.kind(), kind);
    }
    // The typed error survives inside the io::Error.
    let io: std::io::Error = Error::Decode(DecodeError::PayloadChecksum {
        expected: 1,
        actual: 2,
        len: 3,
    })
    .into();
    let inner = io.get_ref().and_then(|e| e.downcast_ref::<Error>());
    assert!(matches!(
        inner,
        Some(Error::Decode(DecodeError::PayloadChecksum { len: 3, .. }))
    ));
}

#[test]
fn write_frame_handles_writers_that_take_one_slice_and_few_bytes() {
    /// A writer with std's default `write_vectored` (first slice only) that
    /// accepts at most 3 bytes per call and is interrupted every other call.
    struct Stingy {
        out: Vec<u8>,
        calls: usize,
    }
    impl std::io::Write for Stingy {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.calls += 1;
            if self.calls % 2 == 0 {
                return Err(std::io::ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(3);
            self.out.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let payload: Vec<u8> = (0..100).collect();
    let mut w = Stingy {
        out: Vec::new(),
        calls: 0,
    };
    lpframe::write_frame(&mut w, &payload).unwrap();
    assert_eq!(w.out, encode_all(&[&payload]));
    let frame = read_frame(&mut &w.out[..]).unwrap().unwrap();
    assert_eq!(frame.payload(), &payload[..]);
}

#[test]
fn read_frame_never_reads_past_the_frame() {
    let mut wire = encode_all(&[b"frame"]);
    wire.extend_from_slice(b"next protocol");
    let mut r = &wire[..];
    assert_eq!(
        read_frame(&mut r).unwrap().unwrap().payload(),
        &b"frame"[..]
    );
    assert_eq!(r, b"next protocol");
}
