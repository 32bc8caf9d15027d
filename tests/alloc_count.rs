//! Allocations per frame in steady state, counted by a global allocator
//! wrapper (test-only `unsafe impl GlobalAlloc`; the library itself forbids
//! unsafe code). One test function, so no other test thread allocates
//! while counting.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::BytesMut;

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn count<R>(f: impl FnOnce() -> R) -> (usize, R) {
    let before = ALLOCS.load(Ordering::Relaxed);
    let r = f();
    (ALLOCS.load(Ordering::Relaxed) - before, r)
}

const N: usize = 10_000;

#[test]
fn allocations_per_frame() {
    let payload = vec![0xAB; 64];
    let mut wire = Vec::new();
    for _ in 0..N {
        lpframe::write_frame(&mut wire, &payload).unwrap();
    }

    // Pure decoder / tokio codec path: the payloads share the buffer; the
    // only allocation is BytesMut's one-time switch to shared storage.
    let mut buf = BytesMut::from(&wire[..]);
    let mut dec = lpframe::FrameDecoder::new();
    let (allocs, frames) = count(|| {
        let mut n = 0;
        while let Some(f) = dec.decode(&mut buf).unwrap() {
            std::hint::black_box(f);
            n += 1;
        }
        n
    });
    assert_eq!(frames, N);
    println!("FrameDecoder: {allocs} allocations for {N} frames");
    assert!(
        allocs <= 2,
        "decoder allocated {allocs} times for {N} frames"
    );

    // Borrowed path: nothing at all.
    let (allocs, _) = count(|| {
        let mut rest = &wire[..];
        while let Some((f, used)) =
            lpframe::decode_slice(rest, lpframe::DEFAULT_MAX_FRAME_LEN).unwrap()
        {
            std::hint::black_box(f);
            rest = &rest[used..];
        }
    });
    println!("decode_slice: {allocs} allocations for {N} frames");
    assert_eq!(allocs, 0);

    // Buffered reader: the buffer is reused once frames are dropped.
    let (allocs, _) = count(|| {
        let mut r = lpframe::FrameReader::new(&wire[..]);
        while let Some(f) = r.next_frame().unwrap() {
            std::hint::black_box(f);
        }
    });
    println!("FrameReader: {allocs} allocations for {N} frames");
    assert!(
        allocs <= N / 50,
        "FrameReader allocated {allocs} times for {N} frames"
    );

    // Exact reader: one allocation per frame, the payload's own buffer.
    let (allocs, _) = count(|| {
        let mut r = &wire[..];
        while let Some(f) = lpframe::read_frame(&mut r).unwrap() {
            std::hint::black_box(f);
        }
    });
    println!("read_frame: {allocs} allocations for {N} frames");
    assert!(
        allocs <= N + 2,
        "read_frame allocated {allocs} times for {N} frames"
    );

    // Encoding into a buffer with room: nothing per frame.
    let mut dst = BytesMut::with_capacity(N * 100);
    let (allocs, _) = count(|| {
        for _ in 0..N {
            lpframe::encode_frame(&payload, lpframe::DEFAULT_MAX_FRAME_LEN, &mut dst).unwrap();
        }
    });
    println!("encode_frame: {allocs} allocations for {N} frames");
    assert_eq!(allocs, 0);

    // write_frame: nothing (the header lives on the stack, no payload copy).
    let mut out = Vec::with_capacity(N * 100);
    let (allocs, _) = count(|| {
        for _ in 0..N {
            lpframe::write_frame(&mut out, &payload).unwrap();
        }
    });
    println!("write_frame: {allocs} allocations for {N} frames");
    assert_eq!(allocs, 0);

    #[cfg(feature = "tokio")]
    {
        use tokio_util::codec::{Decoder, Encoder};

        // The two codecs decode through the same FrameDecoder: the same
        // bound as the pure decoder.
        let mut buf = BytesMut::from(&wire[..]);
        let mut codec = lpframe::FrameCodec::new();
        let (allocs, frames) = count(|| {
            let mut n = 0;
            while let Some(item) = codec.decode(&mut buf).unwrap() {
                std::hint::black_box(item.into_frame().unwrap());
                n += 1;
            }
            n
        });
        assert_eq!(frames, N);
        println!("FrameCodec decode: {allocs} allocations for {N} frames");
        assert!(
            allocs <= 2,
            "FrameCodec allocated {allocs} times for {N} frames"
        );

        let mut buf = BytesMut::from(&wire[..]);
        let mut codec = lpframe::PayloadCodec::new();
        let (allocs, frames) = count(|| {
            let mut n = 0;
            while let Some(payload) = codec.decode(&mut buf).unwrap() {
                std::hint::black_box(payload);
                n += 1;
            }
            n
        });
        assert_eq!(frames, N);
        println!("PayloadCodec decode: {allocs} allocations for {N} frames");
        assert!(
            allocs <= 2,
            "PayloadCodec allocated {allocs} times for {N} frames"
        );

        // One shared `Bytes` (its first clone makes it shared: outside the
        // count), cloned per frame as a caller holding one would.
        let shared = bytes::Bytes::copy_from_slice(&payload);
        drop(shared.clone());
        let mut codec = lpframe::FrameCodec::new();
        let mut dst = BytesMut::with_capacity(N * 100);
        let (allocs, _) = count(|| {
            for _ in 0..N {
                codec.encode(shared.clone(), &mut dst).unwrap();
            }
        });
        println!("FrameCodec Encoder<Bytes>: {allocs} allocations for {N} frames");
        assert_eq!(allocs, 0);

        let mut codec = lpframe::PayloadCodec::new();
        let mut dst = BytesMut::with_capacity(N * 100);
        let (allocs, _) = count(|| {
            for _ in 0..N {
                codec.encode(shared.clone(), &mut dst).unwrap();
            }
        });
        println!("PayloadCodec Encoder<Bytes>: {allocs} allocations for {N} frames");
        assert_eq!(allocs, 0);

        sink_allocations(&payload);
        large_frame_allocations();
        wake_up_allocations();
    }
}

/// A vectored writer that takes everything and keeps nothing (its own
/// allocations would be counted otherwise).
#[cfg(feature = "tokio")]
struct Discard(usize);

#[cfg(feature = "tokio")]
impl tokio::io::AsyncWrite for Discard {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.0 += buf.len();
        std::task::Poll::Ready(Ok(buf.len()))
    }
    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let n = bufs.iter().map(|b| b.len()).sum();
        self.0 += n;
        std::task::Poll::Ready(Ok(n))
    }
    fn is_write_vectored(&self) -> bool {
        true
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// `FrameSink`: no allocation per frame once warm, for payloads copied
/// behind their header (64 B) and payloads chained as they are (64 KiB;
/// their `Bytes` are the caller's), fed one by one and flushed at the
/// backpressure boundary as `FramedWrite` is.
#[cfg(feature = "tokio")]
fn sink_allocations(small: &[u8]) {
    use futures::SinkExt;

    let small = bytes::Bytes::copy_from_slice(small);
    let large = bytes::Bytes::from(vec![0xCD; 64 * 1024]);
    for (name, p, n) in [("64 B", small, N), ("64 KiB", large, 1000)] {
        let mut sink = lpframe::FrameSink::new(Discard(0));
        // Warm up: the write buffer and the queue reach their size.
        futures::executor::block_on(async {
            for _ in 0..100 {
                sink.feed(p.clone()).await.unwrap();
            }
            sink.flush().await.unwrap();
        });
        let (allocs, _) = count(|| {
            futures::executor::block_on(async {
                for _ in 0..n {
                    sink.feed(p.clone()).await.unwrap();
                }
                sink.flush().await.unwrap();
            })
        });
        println!("FrameSink, {name} payloads: {allocs} allocations for {n} frames");
        assert_eq!(sink.get_ref().0, (100 + n) * (16 + p.len()));
        assert!(
            allocs <= 2,
            "FrameSink allocated {allocs} times for {n} frames"
        );
    }
}

/// `FramedRead` + `FrameCodec` over 64 KiB reads, each frame dropped once
/// received: 1 MiB payloads share a reused buffer (BENCHMARKS.md, "Reading
/// large frames").
#[cfg(feature = "tokio")]
fn large_frame_allocations() {
    use futures::StreamExt;

    struct Chunked(bytes::Bytes);
    impl tokio::io::AsyncRead for Chunked {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            let n = buf.remaining().min(64 * 1024).min(self.0.len());
            let part = self.0.split_to(n);
            buf.put_slice(&part);
            std::task::Poll::Ready(Ok(()))
        }
    }
    let frames = 64;
    let payload = vec![0x42; 1 << 20];
    let mut wire = Vec::new();
    for _ in 0..frames {
        lpframe::write_frame(&mut wire, &payload).unwrap();
    }
    let wire = bytes::Bytes::from(wire);
    let (allocs, got) = count(|| {
        futures::executor::block_on(async {
            let mut r = tokio_util::codec::FramedRead::new(
                Chunked(wire.clone()),
                lpframe::FrameCodec::new(),
            );
            let mut got = 0;
            while let Some(item) = r.next().await {
                assert_eq!(item.unwrap().into_frame().unwrap().len(), 1 << 20);
                got += 1;
            }
            got
        })
    });
    assert_eq!(got, frames);
    println!("FramedRead + FrameCodec, 1 MiB payloads: {allocs} allocations for {frames} frames");
    // Growth to twice a frame, then reuse (LengthDelimitedCodec: 3 per frame).
    assert!(
        allocs <= frames / 4,
        "{allocs} allocations for {frames} frames"
    );
}

/// A request/response connection that is idle between frames (every read
/// of a frame is a wake-up, and the read after it is `Pending`): the
/// codec's read buffer is at rest between frames (`codec.rs`, `at_rest`),
/// and `FrameSink` is flushed after every frame. Counted per wake-up, for
/// a frame dropped before the next read (reclaimed in place: none) and for
/// frames kept for a while (a new 256-byte buffer now and then).
#[cfg(feature = "tokio")]
fn wake_up_allocations() {
    use futures::{SinkExt, StreamExt};
    use std::task::{Context, Poll};

    /// A source that is `Pending` until it is given a frame.
    #[derive(Default)]
    struct Gate(Vec<u8>);
    impl tokio::io::AsyncRead for Gate {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            if self.0.is_empty() {
                return Poll::Pending;
            }
            let n = buf.remaining().min(self.0.len());
            buf.put_slice(&self.0[..n]);
            self.0.drain(..n);
            Poll::Ready(Ok(()))
        }
    }
    let mut frame = Vec::new();
    lpframe::write_frame(&mut frame, &[0x33; 64]).unwrap();
    let waker = futures::task::noop_waker();
    for keep in [1usize, 4] {
        let mut rx =
            tokio_util::codec::FramedRead::new(Gate::default(), lpframe::FrameCodec::new());
        let mut tx = lpframe::FrameSink::new(Discard(0));
        let mut kept = std::collections::VecDeque::new();
        let mut cycle = |rx: &mut tokio_util::codec::FramedRead<Gate, lpframe::FrameCodec>| {
            rx.get_mut().0.extend_from_slice(&frame);
            let mut cx = Context::from_waker(&waker);
            let Poll::Ready(Some(Ok(item))) = rx.poll_next_unpin(&mut cx) else {
                panic!("a frame")
            };
            let payload = item.into_frame().unwrap().into_payload();
            futures::executor::block_on(tx.send(payload.clone())).unwrap();
            kept.push_back(payload);
            if kept.len() >= keep {
                kept.pop_front();
            }
            assert!(rx.poll_next_unpin(&mut cx).is_pending()); // idle
        };
        for _ in 0..10 {
            cycle(&mut rx);
        }
        let wakeups = 1000;
        let (allocs, _) = count(|| {
            for _ in 0..wakeups {
                cycle(&mut rx);
            }
        });
        println!(
            "FramedRead<FrameCodec> + FrameSink, idle between 64 B frames, {} kept: {allocs} allocations for {wakeups} wake-ups",
            keep - 1
        );
        assert!(rx.read_buffer().capacity() <= 256);
        // Frames dropped at once: the buffers are reused in place. Frames
        // kept: a 256-byte buffer (and BytesMut's shared header) every
        // three 64-byte frames (measured 667 per 1000).
        let bound = if keep == 1 { 2 } else { wakeups * 3 / 4 };
        assert!(
            allocs <= bound,
            "{allocs} allocations for {wakeups} wake-ups"
        );
    }
}
