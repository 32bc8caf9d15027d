//! Regression tests for the broken promises a hostile suite written from
//! the spec found (issue 16): each fails on the code before its fix.

use std::io::{self, Read, Write};

use bytes::BytesMut;
use lpframe::{DecodeError, Error, FrameDecoder, FrameReader, FrameWriter, HEADER_LEN};

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut wire = Vec::new();
    lpframe::write_frame(&mut wire, payload).unwrap();
    wire
}

/// 16.1: after `decode_eof` reported `Truncated`, the rest of the frame and
/// a valid frame arrive: the decoder must report `Truncated` again, at
/// every cut point, and never deliver.
#[test]
fn truncated_stays_truncated_in_the_decoder() {
    let mut wire = frame(b"hello");
    wire.extend_from_slice(&frame(b"after"));
    let first = frame(b"hello").len();
    for cut in 1..first {
        let mut dec = FrameDecoder::new();
        let mut buf = BytesMut::from(&wire[..cut]);
        let err = dec.decode_eof(&mut buf).unwrap_err();
        assert!(
            matches!(err, DecodeError::Truncated { .. }),
            "cut {cut}: {err:?}"
        );
        buf.extend_from_slice(&wire[cut..]);
        for _ in 0..3 {
            assert_eq!(dec.decode(&mut buf), Err(err.clone()), "cut {cut}");
            assert_eq!(dec.decode_eof(&mut buf), Err(err.clone()), "cut {cut}");
        }
    }
}

/// A source that returns data, then `Ok(0)`, then more data (a file being
/// appended to, a terminal, a pipe reopened).
struct Growing {
    parts: Vec<Vec<u8>>,
}

impl Read for Growing {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(part) = self.parts.first_mut() else {
            return Ok(0);
        };
        if part.is_empty() {
            self.parts.remove(0);
            return Ok(0); // an end of stream, for now
        }
        let n = part.len().min(buf.len());
        buf[..n].copy_from_slice(&part[..n]);
        part.drain(..n);
        if part.is_empty() {
            self.parts.remove(0);
            self.parts.insert(0, Vec::new());
        }
        Ok(n)
    }
}

#[test]
fn truncated_stays_truncated_in_frame_reader() {
    let whole = frame(b"hello");
    for cut in 1..whole.len() {
        let mut rest = whole[cut..].to_vec();
        rest.extend_from_slice(&frame(b"after"));
        let mut reader = FrameReader::new(Growing {
            parts: vec![whole[..cut].to_vec(), rest],
        });
        let err = reader.next_frame().unwrap_err();
        assert!(
            matches!(err, Error::Decode(DecodeError::Truncated { .. })),
            "cut {cut}: {err:?}"
        );
        for _ in 0..3 {
            match reader.next_frame() {
                Err(Error::Decode(e)) => assert!(matches!(e, DecodeError::Truncated { .. })),
                other => panic!("cut {cut}: a Truncated reader went on: {other:?}"),
            }
        }
    }
    // A clean end is not sticky: a growing file's next frame is read.
    let mut reader = FrameReader::new(Growing {
        parts: vec![frame(b"one"), frame(b"two")],
    });
    assert_eq!(&reader.next_frame().unwrap().unwrap()[..], b"one");
    assert!(reader.next_frame().unwrap().is_none());
    assert_eq!(&reader.next_frame().unwrap().unwrap()[..], b"two");
}

/// A writer that takes nothing and says `WouldBlock` until `open` is set.
#[derive(Debug)]
struct Blocked {
    open: bool,
    out: Vec<u8>,
}

impl Write for Blocked {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.open {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// 16.2: `into_inner` on a retryable error returned the error and lost the
/// queued frames and the writer; now the writer comes back in the error.
#[test]
fn into_inner_on_a_retryable_error_gives_the_writer_back() {
    let mut w = FrameWriter::new(Blocked {
        open: false,
        out: Vec::new(),
    });
    w.write_frame(b"one").unwrap();
    w.write_frame(b"two").unwrap();
    let err = w.into_inner().unwrap_err();
    assert!(err.error().is_timeout() && !err.error().is_fatal());
    let mut w = err.into_writer();
    assert_eq!(w.buffered(), 2 * HEADER_LEN + 6, "nothing was lost");
    w.get_mut().open = true;
    let inner = w.into_inner().map_err(|e| e.into_parts().1).unwrap();
    let mut expected = frame(b"one");
    expected.extend_from_slice(&frame(b"two"));
    assert_eq!(inner.out, expected);
}

/// 16.2: `FrameReader::into_parts` mid-frame returned the payload bytes read
/// but not the header already consumed; now the stream can be handed on
/// from the frame boundary, whichever path held the frame.
#[test]
fn into_parts_mid_frame_gives_back_the_header_too() {
    let small = frame(b"hello");
    let large = frame(&vec![7u8; 100_000]); // the direct large-payload path
    for wire in [small, large] {
        for cut in [
            1,
            HEADER_LEN - 1,
            HEADER_LEN,
            HEADER_LEN + 1,
            wire.len() - 1,
        ] {
            let mut reader = FrameReader::new(common_stall(&wire[..cut]));
            assert!(reader.next_frame().unwrap_err().is_timeout());
            assert!(reader.is_mid_frame());
            let (_, unread) = reader.into_parts();
            assert_eq!(&unread[..], &wire[..cut], "cut {cut} of {}", wire.len());
            // Another reader takes over and gets the frame.
            let mut rest = unread.to_vec();
            rest.extend_from_slice(&wire[cut..]);
            let f = lpframe::read_frame(&mut &rest[..]).unwrap().unwrap();
            assert_eq!(f.len(), wire.len() - HEADER_LEN);
        }
    }
}

/// `data`, then `WouldBlock` forever.
fn common_stall(data: &[u8]) -> impl Read + '_ {
    struct Stall<'a>(&'a [u8]);
    impl Read for Stall<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = self.0.len().min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    Stall(data)
}

/// A `Read` that reports more bytes than the buffer it was given.
struct Liar;

impl Read for Liar {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(buf.len() + 1)
    }
}

/// 16.7: `read_frame` panicked inside std's `Take` on such a reader; a
/// library in a service reports it as an error instead.
#[test]
fn a_reader_that_lies_about_its_count_is_an_error_not_a_panic() {
    let err = lpframe::read_frame(&mut Liar).unwrap_err();
    assert!(err.is_fatal(), "{err:?}");
    assert!(
        err.to_string().contains("bytes read into a buffer of"),
        "{err}"
    );
    // Past a valid header, on the payload path.
    let head = frame(&[1; 200]);
    let mut r = io::Read::chain(&head[..HEADER_LEN], Liar);
    let err = lpframe::read_frame(&mut r).unwrap_err();
    assert!(matches!(err, Error::Desync { done: 16, .. }), "{err:?}");
    let err = FrameReader::new(Liar).next_frame().unwrap_err();
    assert!(err.is_fatal(), "{err:?}");
    let head = frame(&[1; 100_000]);
    let large = io::Read::chain(&head[..HEADER_LEN], Liar);
    assert!(FrameReader::new(large).next_frame().unwrap_err().is_fatal());
}
