//! Behaviours 6 and 7: frames written by the blocking path are read by the
//! tokio path and vice versa — over loopback TCP, `tokio::io::duplex` and
//! `UnixStream::pair` — and `FrameReader` survives read timeouts on a real
//! socket whose writer pauses inside a header and inside a payload.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use lpframe::{read_frame, FrameReader, FrameWriter};

/// Payload sizes crossing every interesting boundary (buffer sizes, 64 KiB).
fn payloads() -> Vec<Vec<u8>> {
    [
        0usize, 1, 15, 16, 17, 1000, 8191, 8192, 8193, 65536, 300_000,
    ]
    .iter()
    .enumerate()
    .map(|(i, &n)| (0..n).map(|j| (j * 31 + i) as u8).collect())
    .collect()
}

fn write_blocking<W: Write>(w: W) {
    let mut fw = FrameWriter::new(w);
    for p in payloads() {
        fw.write_frame(&p).unwrap();
    }
    fw.flush().unwrap();
}

fn read_blocking<R: std::io::Read>(r: R) {
    let got: Vec<Vec<u8>> = FrameReader::new(r)
        .map(|f| f.unwrap().payload().to_vec())
        .collect();
    assert_eq!(got, payloads());
}

#[test]
fn blocking_to_blocking_over_tcp_with_read_frame() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let writer = thread::spawn(move || {
        let s = TcpStream::connect(addr).unwrap();
        for p in payloads() {
            lpframe::write_frame(&mut &s, &p).unwrap();
        }
    });
    let (mut s, _) = listener.accept().unwrap();
    for p in payloads() {
        assert_eq!(read_frame(&mut s).unwrap().unwrap().payload(), &p[..]);
    }
    assert!(read_frame(&mut s).unwrap().is_none());
    writer.join().unwrap();
}

#[test]
fn frame_reader_survives_read_timeouts_mid_header_and_mid_payload() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut wire = Vec::new();
    let payloads: Vec<Vec<u8>> = vec![b"first".to_vec(), vec![0x5A; 5000], b"last".to_vec()];
    for p in &payloads {
        lpframe::write_frame(&mut wire, p).unwrap();
    }
    // Pause points: inside the first header, inside the second payload,
    // and inside the third header.
    let cuts = [7, 16 + 5 + 16 + 2500, 16 + 5 + 16 + 5000 + 9, wire.len()];
    let writer = thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_nodelay(true).unwrap();
        let mut start = 0;
        for &cut in &cuts {
            s.write_all(&wire[start..cut]).unwrap();
            start = cut;
            thread::sleep(Duration::from_millis(200));
        }
    });
    let (s, _) = listener.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let mut reader = FrameReader::new(s);
    let mut got = Vec::new();
    let (mut idle_timeouts, mut stalled_timeouts) = (0, 0);
    for _ in 0..1000 {
        match reader.next_frame() {
            Ok(Some(f)) => got.push(f.payload().to_vec()),
            Ok(None) => break,
            Err(e) if e.is_timeout() => {
                if reader.is_mid_frame() {
                    stalled_timeouts += 1;
                } else {
                    idle_timeouts += 1;
                }
            }
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    writer.join().unwrap();
    assert_eq!(got, payloads);
    // Each of the three pauses inside a frame was seen as a stall (the
    // 200 ms pause is four 50 ms timeouts; allow for scheduling noise).
    assert!(
        stalled_timeouts >= 3,
        "stalled {stalled_timeouts}, idle {idle_timeouts}"
    );
}

#[cfg(unix)]
#[test]
fn blocking_over_unix_socket_pair() {
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    let w = thread::spawn(move || write_blocking(a));
    read_blocking(b);
    w.join().unwrap();
}

#[cfg(feature = "tokio")]
mod with_tokio {
    use super::*;
    use bytes::Bytes;
    use futures::{SinkExt, StreamExt};
    use lpframe::{DecodeError, Error, FrameCodec, PayloadCodec};
    use tokio_util::codec::{FramedRead, FramedWrite};
    use tokio_util::io::SyncIoBridge;

    async fn write_tokio<W: tokio::io::AsyncWrite + Unpin>(w: W) {
        let mut sink = FramedWrite::new(w, FrameCodec::new());
        for p in payloads() {
            sink.feed(Bytes::from(p)).await.unwrap();
        }
        sink.close().await.unwrap();
    }

    async fn read_tokio<R: tokio::io::AsyncRead + Unpin>(r: R) {
        let frames: Vec<Vec<u8>> = FramedRead::new(r, FrameCodec::new())
            .map(|item| {
                item.expect("no fatal error")
                    .into_frame()
                    .expect("no dropped frame")
                    .to_vec()
            })
            .collect()
            .await;
        assert_eq!(frames, payloads());
    }

    /// The same through the `LengthDelimitedCodec`-shaped codec.
    async fn read_tokio_payloads<R: tokio::io::AsyncRead + Unpin>(r: R) {
        let frames: Vec<Vec<u8>> = FramedRead::new(r, PayloadCodec::new())
            .map(|payload| payload.unwrap().to_vec())
            .collect()
            .await;
        assert_eq!(frames, payloads());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn blocking_writer_to_tokio_reader_over_tcp() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let w = thread::spawn(move || write_blocking(TcpStream::connect(addr).unwrap()));
        let (s, _) = listener.accept().await.unwrap();
        read_tokio(s).await;
        w.join().unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tokio_writer_to_blocking_reader_over_tcp() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let r = thread::spawn(move || read_blocking(listener.accept().unwrap().0));
        write_tokio(tokio::net::TcpStream::connect(addr).await.unwrap()).await;
        tokio::task::spawn_blocking(move || r.join().unwrap())
            .await
            .unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn both_directions_over_duplex() {
        // tokio -> blocking (through SyncIoBridge), then blocking -> tokio.
        let (a, b) = tokio::io::duplex(4096);
        let r = tokio::task::spawn_blocking(move || read_blocking(SyncIoBridge::new(b)));
        write_tokio(a).await;
        r.await.unwrap();

        let (a, b) = tokio::io::duplex(4096);
        let w = tokio::task::spawn_blocking(move || write_blocking(SyncIoBridge::new(a)));
        read_tokio(b).await;
        w.await.unwrap();

        let (a, b) = tokio::io::duplex(4096);
        let w = tokio::task::spawn_blocking(move || write_blocking(SyncIoBridge::new(a)));
        read_tokio_payloads(b).await;
        w.await.unwrap();
    }

    #[cfg(unix)]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn both_directions_over_unix_socket_pair() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let w = thread::spawn(move || write_blocking(a));
        b.set_nonblocking(true).unwrap();
        read_tokio(tokio::net::UnixStream::from_std(b).unwrap()).await;
        w.join().unwrap();

        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let r = thread::spawn(move || read_blocking(b));
        a.set_nonblocking(true).unwrap();
        write_tokio(tokio::net::UnixStream::from_std(a).unwrap()).await;
        tokio::task::spawn_blocking(move || r.join().unwrap())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn framed_truncated_stream_is_an_error_not_a_short_frame() {
        let mut wire = Vec::new();
        lpframe::write_frame(&mut wire, b"complete").unwrap();
        lpframe::write_frame(&mut wire, b"cut short").unwrap();
        wire.truncate(wire.len() - 3);
        let mut framed = FramedRead::new(&wire[..], FrameCodec::new());
        assert_eq!(
            framed
                .next()
                .await
                .unwrap()
                .unwrap()
                .into_frame()
                .unwrap()
                .payload(),
            &b"complete"[..]
        );
        let err = framed.next().await.unwrap().unwrap_err();
        assert!(
            matches!(
                err,
                Error::Decode(DecodeError::Truncated { missing: 3, .. })
            ),
            "{err:?}"
        );
        assert!(framed.next().await.is_none());

        // The same through PayloadCodec: the typed error inside an
        // io::Error of kind UnexpectedEof, as LengthDelimitedCodec reports
        // a stream cut short.
        let mut framed = FramedRead::new(&wire[..], PayloadCodec::new());
        assert_eq!(&framed.next().await.unwrap().unwrap()[..], b"complete");
        let err = framed.next().await.unwrap().unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
        assert!(matches!(
            err.get_ref().and_then(|e| e.downcast_ref::<Error>()),
            Some(Error::Decode(DecodeError::Truncated { missing: 3, .. }))
        ));
        assert!(framed.next().await.is_none());
    }
}
