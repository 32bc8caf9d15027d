//! Writer faults: a write that fails part-way through a frame is reported,
//! and the writer never lets a later frame follow half a frame.
//! `FrameWriter` poisons itself after a non-retryable error and keeps
//! unsent bytes after a retryable one (`into_inner` hands the writer back
//! with them); the unbuffered `write_frame` reports a fault inside a frame
//! as `Desync`; tokio's `Framed` sink keeps unsent bytes in its buffer, so
//! it never writes a new frame after half of one.

use std::io::{self, Write};

use lpframe::{DecodeError, Error, FrameReader, FrameWriter};

/// A writer that accepts `budget` bytes, then fails once with `kind`
/// (and, if `permanent`, on every later call too).
#[derive(Debug)]
struct Faulty {
    out: Vec<u8>,
    budget: usize,
    kind: io::ErrorKind,
    permanent: bool,
    failed: bool,
}

impl Faulty {
    fn new(budget: usize, kind: io::ErrorKind, permanent: bool) -> Self {
        Faulty {
            out: Vec::new(),
            budget,
            kind,
            permanent,
            failed: false,
        }
    }
}

impl Write for Faulty {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.budget == 0 && (!self.failed || self.permanent) {
            self.failed = true;
            return Err(self.kind.into());
        }
        let n = if self.failed {
            buf.len()
        } else {
            buf.len().min(self.budget)
        };
        self.budget -= n.min(self.budget);
        self.out.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn payloads() -> Vec<Vec<u8>> {
    (0..20).map(|i| vec![i as u8; 100 + i * 50]).collect()
}

#[test]
fn frame_writer_poisons_itself_after_a_fatal_error_mid_frame() {
    for budget in [1usize, 15, 16, 17, 500, 2000] {
        for big in [false, true] {
            let mut w = FrameWriter::new(Faulty::new(budget, io::ErrorKind::BrokenPipe, false));
            let mut first_err = None;
            for (i, p) in payloads().iter().enumerate() {
                let p = if big { vec![p[0]; 20_000] } else { p.clone() };
                if let Err(e) = w.write_frame(&p).and_then(|()| w.flush()) {
                    first_err = Some((i, e));
                    break;
                }
            }
            let (_, e) = first_err.expect("the fault was hit");
            assert!(
                matches!(&e, Error::Io(io) if io.kind() == io::ErrorKind::BrokenPipe),
                "{e:?}"
            );
            assert!(e.is_fatal());
            assert!(w.is_poisoned());
            // The inner writer would accept bytes again, but the stream
            // holds half a frame: the writer refuses.
            assert!(matches!(
                w.write_frame(b"after"),
                Err(Error::WriterPoisoned)
            ));
            assert!(matches!(w.flush(), Err(Error::WriterPoisoned)));
            // What reached the wire decodes to whole frames, then a
            // truncated one — never a frame made of two halves.
            let wire = w.get_ref().out.clone();
            let mut frames = 0;
            for item in FrameReader::new(&wire[..]) {
                match item {
                    Ok(_) => frames += 1,
                    Err(e) => {
                        assert!(
                            matches!(e, Error::Decode(DecodeError::Truncated { .. })),
                            "{e:?}"
                        );
                        break;
                    }
                }
            }
            assert!(frames < payloads().len());
        }
    }
}

#[test]
fn frame_writer_keeps_unsent_bytes_after_a_retryable_error() {
    for budget in [1usize, 15, 16, 17, 500, 2000, 9000] {
        for big in [false, true] {
            let mut w = FrameWriter::new(Faulty::new(budget, io::ErrorKind::WouldBlock, false));
            let mut sent = Vec::new();
            let mut timeouts = 0;
            for p in payloads() {
                let p = if big { vec![p[0]; 20_000] } else { p };
                match w.write_frame(&p) {
                    Ok(()) => sent.push(p),
                    Err(e) if e.is_timeout() => {
                        // The frame is queued: the rest is in the buffer.
                        timeouts += 1;
                        sent.push(p);
                    }
                    Err(e) => panic!("{e:?}"),
                }
            }
            loop {
                match w.flush() {
                    Ok(()) => break,
                    Err(e) if e.is_timeout() => timeouts += 1,
                    Err(e) => panic!("{e:?}"),
                }
            }
            assert!(!w.is_poisoned());
            assert!(timeouts >= 1, "the fault was never hit (budget {budget})");
            let wire = w.get_ref().out.clone();
            let got: Vec<Vec<u8>> = FrameReader::new(&wire[..])
                .map(|f| f.unwrap().payload().to_vec())
                .collect();
            assert!(
                got == sent,
                "budget {budget} big {big}: got {} frames, sent {}",
                got.len(),
                sent.len()
            );
        }
    }
}

#[test]
fn write_frame_reports_a_fault_inside_a_frame_as_desync() {
    // The unbuffered write_frame cannot resume a frame: a fault after part
    // of it was written is Desync (fatal, whatever its kind), with the
    // count; the same fault before its first byte is a plain, retryable Io.
    for budget in [1usize, 15, 16, 17, 100] {
        let mut w = Faulty::new(budget, io::ErrorKind::WouldBlock, false);
        let err = lpframe::write_frame(&mut w, &[9u8; 100]).unwrap_err();
        match &err {
            Error::Desync { io, done } => {
                assert_eq!(io.kind(), io::ErrorKind::WouldBlock);
                assert_eq!(*done, budget as u64);
            }
            other => panic!("budget {budget}: {other:?}"),
        }
        assert!(err.is_fatal());
        assert!(!err.is_timeout(), "a Desync is not a timeout to retry");
    }
    let mut w = Faulty::new(0, io::ErrorKind::WouldBlock, false);
    let err = lpframe::write_frame(&mut w, b"x").unwrap_err();
    assert!(matches!(&err, Error::Io(io) if io.kind() == io::ErrorKind::WouldBlock));
    assert!(!err.is_fatal() && err.is_timeout());
    lpframe::write_frame(&mut w, b"x").unwrap();
    assert_eq!(w.out, frame_bytes(b"x"));
}

fn frame_bytes(payload: &[u8]) -> Vec<u8> {
    let mut wire = Vec::new();
    lpframe::encode_frame(payload, u32::MAX, &mut wire).unwrap();
    wire
}

#[test]
fn into_inner_gives_the_writer_back_when_the_flush_fails() {
    let sent: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 50]).collect();
    let queued = sent.len() * (lpframe::HEADER_LEN + 50);
    // A retryable error: nothing is lost, the writer comes back with every
    // unsent byte still queued, and unwrapping it again finishes the job.
    let mut w = FrameWriter::new(Faulty::new(100, io::ErrorKind::WouldBlock, false));
    for p in &sent {
        w.write_frame(p).unwrap();
    }
    let err = w.into_inner().unwrap_err();
    assert!(err.error().is_timeout(), "{:?}", err.error());
    let w = err.into_writer();
    assert!(!w.is_poisoned());
    assert_eq!(w.buffered(), queued - 100);
    let inner = w.into_inner().unwrap();
    let got: Vec<Vec<u8>> = FrameReader::new(&inner.out[..])
        .map(|f| f.unwrap().to_vec())
        .collect();
    assert_eq!(got, sent);

    // A fatal error: the writer comes back poisoned, and refuses.
    let mut w = FrameWriter::new(Faulty::new(100, io::ErrorKind::BrokenPipe, false));
    for p in &sent {
        w.write_frame(p).unwrap();
    }
    let (mut w, e) = w.into_inner().unwrap_err().into_parts();
    assert!(e.is_fatal(), "{e:?}");
    assert!(w.is_poisoned());
    assert!(matches!(w.flush(), Err(Error::WriterPoisoned)));
    assert_eq!(
        w.get_ref().out.len(),
        100,
        "nothing written after the fault"
    );
}

#[test]
fn frame_writer_to_a_closed_peer_reports_and_refuses() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let client = std::net::TcpStream::connect(addr).unwrap();
    let (server_side, _) = listener.accept().unwrap();
    drop(server_side); // the peer closes
    let mut w = FrameWriter::new(client);
    let big = vec![7u8; 256 * 1024];
    let mut err = None;
    for _ in 0..200 {
        if let Err(e) = w.write_frame(&big).and_then(|()| w.flush()) {
            err = Some(e);
            break;
        }
    }
    let e = err.expect("writing to a closed peer fails within 50 MiB");
    assert!(e.is_fatal(), "{e:?}");
    assert!(matches!(w.write_frame(b"x"), Err(Error::WriterPoisoned)));
}

#[cfg(feature = "tokio")]
mod tokio_sink {
    use super::*;
    use bytes::Bytes;
    use futures::SinkExt;
    use lpframe::FrameCodec;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use tokio_util::codec::FramedWrite;

    /// The async twin of `Faulty`.
    struct AsyncFaulty(Faulty);

    impl tokio::io::AsyncWrite for AsyncFaulty {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Ready(self.0.write(buf))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn framed_sink_reports_the_error_and_never_splices_frames() {
        for budget in [1usize, 15, 16, 17, 500, 2000] {
            // One failure mid-frame (a transient error), then the writer
            // works again: Framed kept the unsent rest, so the next flush
            // finishes the first frame before starting the second.
            let mut sink = FramedWrite::new(
                AsyncFaulty(Faulty::new(budget, io::ErrorKind::ConnectionReset, false)),
                FrameCodec::new(),
            );
            let mut delivered = Vec::new();
            let mut errors = 0;
            for p in payloads() {
                let p = Bytes::from(p);
                match sink.send(p.clone()).await {
                    Ok(()) => delivered.push(p),
                    Err(e) => {
                        errors += 1;
                        assert!(
                            matches!(&e, Error::Io(io) if io.kind() == io::ErrorKind::ConnectionReset),
                            "{e:?}"
                        );
                        delivered.push(p); // still buffered, sent by the next flush
                    }
                }
            }
            sink.flush().await.unwrap();
            assert_eq!(errors, 1, "budget {budget}");
            let wire = sink.get_ref().0.out.clone();
            let got: Vec<Vec<u8>> = FrameReader::new(&wire[..])
                .map(|f| f.unwrap().payload().to_vec())
                .collect();
            let want: Vec<Vec<u8>> = delivered.iter().map(|b| b.to_vec()).collect();
            assert!(
                got == want,
                "budget {budget}: got {} frames, want {}",
                got.len(),
                want.len()
            );

            // A permanent failure: every later send fails too — nothing
            // is written after the half frame.
            let mut sink = FramedWrite::new(
                AsyncFaulty(Faulty::new(budget, io::ErrorKind::BrokenPipe, true)),
                FrameCodec::new(),
            );
            let mut failures = 0;
            for p in payloads() {
                if sink.send(Bytes::from(p)).await.is_err() {
                    failures += 1;
                }
            }
            let wire = sink.get_ref().0.out.clone();
            assert_eq!(wire.len(), budget, "nothing written past the fault");
            assert!(failures >= payloads().len() - (budget / 116));
        }
    }
}
