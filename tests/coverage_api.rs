//! The public API's small pieces that no other test reaches (accessors,
//! conversions, `Display` texts, rare error arms), each with the behaviour
//! it promises asserted: part of the line-coverage target of
//! RELIABILITY.md ("Coverage"), which is measured with every feature on;
//! most tests here touch the tokio types, so the file is a tokio test.
#![cfg(feature = "tokio")]

use std::io::{self, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use lpframe::{
    decode_slice, encode_frame, Config, Deadlines, DecodeError, Error, Frame, FrameCodec,
    FrameDecoder, FrameReader, FrameSink, FrameWriter, PayloadCodec, ReadProgress, Received,
    SetTimeouts, Timeout, TimeoutKind, WithDeadlines, WriteProgress, HEADER_LEN,
};
use tokio_util::codec::{Framed, FramedRead};

fn wire(payloads: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in payloads {
        encode_frame(p, u32::MAX, &mut out).unwrap();
    }
    out
}

#[test]
fn frames_convert_and_borrow() {
    let f = Frame::from(Bytes::from_static(b"abc"));
    assert_eq!(f.as_ref(), b"abc");
    let r = Received::from(f.clone());
    assert_eq!(r.frame(), Some(&f));
    assert_eq!(r.dropped(), None);
    assert_eq!(r.into_frame(), Some(f.clone()));
    let e = DecodeError::PayloadChecksum {
        len: 3,
        expected: 1,
        actual: 2,
    };
    let d = Received::Dropped(e.clone());
    assert_eq!((d.frame(), d.dropped()), (None, Some(&e)));
    assert_eq!(d.into_frame(), None);

    let w = wire(&[b"xyz"]);
    let (fr, used) = decode_slice(&w, 16).unwrap().unwrap();
    assert_eq!(used, HEADER_LEN + 3);
    assert_eq!((&*fr, fr.as_ref()), (&b"xyz"[..], &b"xyz"[..]));
    let owned = fr.to_frame();
    assert_eq!(owned.payload(), &Bytes::from_static(b"xyz"));
}

// The tool surface (feature `inspect`, which the repository's tests get
// through testkit; the packaged crate's tests run without it).
#[cfg(feature = "inspect")]
#[test]
fn headers_for_payloads_and_inspection() {
    use lpframe::{encode_header, Header, MAGIC, VERSION};
    let h = Header::for_payload(b"hello").unwrap();
    assert_eq!(h.len(), 5);
    assert_eq!(h.payload_crc(), crc32fast::hash(b"hello"));
    let bytes = encode_header(b"hello", 5).unwrap();
    assert_eq!(bytes, h.to_bytes());
    assert!(encode_header(b"hello", 4).is_err());
    let read = Header::from_bytes(&bytes);
    assert_eq!(
        (read.magic(), read.version(), read.flags()),
        (MAGIC, VERSION, 0)
    );
    assert_eq!(read.computed_header_crc(), read.header_crc());
    assert_eq!(read.verify(5), Ok(()));
    assert!(matches!(
        read.verify(4),
        Err(DecodeError::FrameTooLarge { len: 5, max: 4 })
    ));
    let mut bad = bytes;
    bad[3] = 1; // a flag: check 4 after the header CRC, which now fails first
    let e = Header::from_bytes(&bad).verify(u32::MAX).unwrap_err();
    assert_eq!(e.name(), "HeaderChecksum");
}

#[cfg(feature = "inspect")]
#[test]
fn foreign_protocols_are_described() {
    use lpframe::ForeignProtocol;
    let tls = ForeignProtocol::detect(&[0x17, 0x03, 0x03, 0x00, 0x10]).unwrap();
    assert_eq!(tls, ForeignProtocol::Tls);
    assert_eq!(tls.to_string(), "peer sent a TLS record");
    let zeros = ForeignProtocol::detect(&[0; 16]).unwrap();
    assert_eq!(zeros, ForeignProtocol::Zeros);
    assert!(zeros.to_string().starts_with("zero bytes"));
}

#[test]
fn timeouts_print_what_they_cost() {
    let t = Timeout {
        kind: TimeoutKind::Write,
        elapsed: Duration::from_millis(5),
        limit: Duration::from_millis(5),
        bytes: 1,
        queued: 7,
    };
    assert_eq!(
        t.to_string(),
        "write deadline of 5ms expired after 5ms (1 byte written, 7 bytes still queued)"
    );
    let idle = Timeout {
        kind: TimeoutKind::Idle,
        bytes: 0,
        queued: 0,
        ..t
    };
    assert_eq!(idle.to_string(), "idle deadline of 5ms expired after 5ms");
    let one = DecodeError::FrameTooLarge { len: 1, max: 0 };
    assert_eq!(
        one.to_string(),
        "frame too large: 1 byte declared, limit is 0"
    );
    let io: io::Error = Error::Timeout(t).into();
    assert_eq!(io.kind(), io::ErrorKind::TimedOut);
}

#[test]
fn decoders_and_codecs_report_their_settings() {
    let d = FrameDecoder::default();
    assert!(!d.is_recovering());
    assert_eq!(d.config(), FrameDecoder::new().config());
    let r = FrameDecoder::recovering(Config::new());
    assert!(r.is_recovering());
    let c = Config::new().max_read_frame_len(99);
    assert_eq!(FrameCodec::with_config(c).config().max_read_frame_len, 99);
    assert_eq!(PayloadCodec::with_config(c).config().max_read_frame_len, 99);
    let reader = FrameReader::with_config(&b""[..], c);
    assert_eq!(reader.config().max_read_frame_len, 99);
}

#[test]
fn a_writer_reports_and_changes_its_settings() {
    let mut w = FrameWriter::with_config(Vec::new(), Config::new().max_write_frame_len(4));
    assert_eq!(w.config().max_write_frame_len, 4);
    assert!(w.write_frame(b"12345").is_err());
    w.config_mut().max_write_frame_len = 5;
    w.write_frame(b"12345").unwrap();
    assert_eq!(w.into_inner().unwrap(), wire(&[b"12345"]));
}

#[test]
fn an_into_inner_error_prints_and_converts() {
    struct Broken;
    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    impl std::fmt::Debug for Broken {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Broken")
        }
    }
    let mut w = FrameWriter::new(Broken);
    w.write_frame(b"x").unwrap();
    let e = w.into_inner().unwrap_err();
    assert!(e.to_string().starts_with("could not flush the writer: "));
    let as_std: &dyn std::error::Error = &e;
    assert!(as_std.source().is_none());
    let e: Error = e.into();
    assert!(matches!(&e, Error::Io(io) if io.kind() == io::ErrorKind::BrokenPipe));
}

#[test]
fn sockets_take_the_timeouts_set_through_the_trait() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let s = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let d = Some(Duration::from_secs(2)); // a whole number of kernel ticks
    SetTimeouts::set_read_timeout(&s, d).unwrap();
    SetTimeouts::set_write_timeout(&&s, d).unwrap();
    SetTimeouts::set_read_timeout(&&s, d).unwrap();
    assert_eq!(
        (s.read_timeout().unwrap(), s.write_timeout().unwrap()),
        (d, d)
    );
    #[cfg(unix)]
    {
        let (u, _peer) = std::os::unix::net::UnixStream::pair().unwrap();
        SetTimeouts::set_read_timeout(&u, d).unwrap();
        SetTimeouts::set_write_timeout(&u, d).unwrap();
        assert_eq!(
            (u.read_timeout().unwrap(), u.write_timeout().unwrap()),
            (d, d)
        );
    }
    // And a writer with a write deadline reports it.
    let mut w = FrameWriter::new(s);
    assert_eq!(w.write_deadline(), None);
    w.set_write_deadline(d);
    w.set_write_deadline(Some(Duration::from_secs(1)));
    assert_eq!(w.write_deadline(), Some(Duration::from_secs(1)));
}

#[test]
fn read_deadlines_are_reported_and_other_errors_pass_through() {
    struct Failing(Vec<u8>);
    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::ErrorKind::ConnectionReset.into());
            }
            let n = self.0.len().min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0.drain(..n);
            Ok(n)
        }
    }
    let mut r = FrameReader::new(Failing(wire(&[b"one"])));
    assert_eq!(r.deadlines(), Deadlines::new());
    let d = Deadlines::new()
        .idle(Duration::from_secs(60))
        .stall(Duration::from_secs(60));
    r.set_deadlines_manual(d);
    assert_eq!(r.deadlines(), d);
    assert_eq!(&r.next_frame().unwrap().unwrap()[..], b"one");
    // Not a timeout: the reset comes back as it is, not as a deadline.
    assert!(matches!(
        r.next_frame(),
        Err(Error::Io(e)) if e.kind() == io::ErrorKind::ConnectionReset
    ));
}

/// An `AsyncWrite` that takes everything and fails its shutdown.
struct FailingShutdown(Vec<u8>);

impl tokio::io::AsyncWrite for FailingShutdown {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.0.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Err(io::ErrorKind::ConnectionAborted.into()))
    }
}

#[tokio::test]
async fn a_sink_reports_its_parts_and_a_failed_shutdown_poisons_it() {
    let mut sink = FrameSink::with_config(Vec::<u8>::new(), Config::new().max_write_frame_len(3));
    assert_eq!(sink.config().max_write_frame_len, 3);
    sink.config_mut().max_write_frame_len = 4;
    sink.send(Bytes::from_static(b"four")).await.unwrap();
    assert_eq!(sink.get_mut().len(), HEADER_LEN + 4);
    let text = format!("{sink:?}");
    assert!(text.starts_with("FrameSink {") && text.contains("poisoned: false"));
    assert_eq!(sink.into_inner(), wire(&[b"four"]));

    let mut sink = FrameSink::new(FailingShutdown(Vec::new()));
    let e = sink.close().await.unwrap_err();
    assert!(matches!(&e, Error::Io(io) if io.kind() == io::ErrorKind::ConnectionAborted));
    assert!(sink.is_poisoned());
    assert_eq!(sink.get_ref().0, Vec::<u8>::new()); // nothing was queued
}

#[tokio::test]
async fn with_deadlines_reports_progress_and_settings() {
    let (a, b) = tokio::io::duplex(1024);
    let framed = Framed::new(a, FrameCodec::new());
    let mut timed = WithDeadlines::new(framed, Deadlines::new().idle(Duration::from_secs(5)));
    assert_eq!(
        timed.deadlines(),
        Deadlines::new().idle(Duration::from_secs(5))
    );
    timed.set_deadlines(Deadlines::new());
    timed.set_write_deadline(Some(Duration::from_secs(1)));
    assert!(!timed.is_mid_frame());
    assert_eq!(timed.get_ref().queued(), 0);
    // Sending through Framed: the write deadline is met.
    timed.send(Bytes::from_static(b"hi")).await.unwrap();
    assert_eq!(timed.get_mut().received(), 0);
    let framed = timed.into_inner();
    assert_eq!(ReadProgress::buffered(&framed), 0);

    // FramedRead: received counts what entered the read buffer; with no
    // read deadline a silent peer leaves the stream pending; at the end of
    // the stream, `None`.
    let mut peer = b;
    let mut rx = WithDeadlines::new(
        FramedRead::new(&mut peer, FrameCodec::new()),
        Deadlines::new(),
    );
    let got = rx.next().await.unwrap().unwrap();
    assert_eq!(
        got.into_frame().unwrap().payload(),
        &Bytes::from_static(b"hi")
    );
    assert_eq!(rx.get_ref().received(), (HEADER_LEN + 2) as u64);
    assert_eq!(rx.get_ref().buffered(), 0);
    let waited = tokio::time::timeout(Duration::from_millis(50), rx.next()).await;
    assert!(waited.is_err(), "no deadline: it waits");
    // The other end closes (poll_close through WithDeadlines): `None`.
    let mut timed = WithDeadlines::new(framed, Deadlines::new());
    timed.close().await.unwrap();
    assert!(rx.next().await.is_none());
}

#[tokio::test]
async fn a_sink_without_a_write_deadline_just_waits() {
    // A writer that is never ready: without a write deadline the sink's
    // flush stays pending (no timer armed), with one it times out.
    struct Never;
    impl tokio::io::AsyncWrite for Never {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &[u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Pending
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Pending
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Pending
        }
    }
    let mut timed = WithDeadlines::new(FrameSink::new(Never), Deadlines::new());
    timed.feed(Bytes::from_static(b"x")).await.unwrap();
    let waited = tokio::time::timeout(Duration::from_millis(50), timed.flush()).await;
    assert!(waited.is_err(), "no write deadline: it waits");
    // A deadline too far to be an `Instant` is no deadline either.
    timed.set_write_deadline(Some(Duration::MAX));
    let waited = tokio::time::timeout(Duration::from_millis(50), timed.flush()).await;
    assert!(waited.is_err(), "an unrepresentable deadline: it waits");
    timed.set_write_deadline(Some(Duration::from_millis(10)));
    match timed.flush().await {
        Err(Error::Timeout(t)) => assert_eq!((t.kind, t.queued), (TimeoutKind::Write, 17)),
        other => panic!("expected a write timeout, got {other:?}"),
    }
}
