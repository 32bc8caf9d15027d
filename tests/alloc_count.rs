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
                std::hint::black_box(item.unwrap());
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

        let mut codec = lpframe::FrameCodec::new();
        let mut dst = BytesMut::with_capacity(N * 100);
        let (allocs, _) = count(|| {
            for _ in 0..N {
                codec.encode(&payload[..], &mut dst).unwrap();
            }
        });
        println!("FrameCodec Encoder<&[u8]>: {allocs} allocations for {N} frames");
        assert_eq!(allocs, 0);

        let mut codec = lpframe::PayloadCodec::new();
        let mut dst = BytesMut::with_capacity(N * 100);
        let (allocs, _) = count(|| {
            for _ in 0..N {
                codec.encode(&payload[..], &mut dst).unwrap();
            }
        });
        println!("PayloadCodec Encoder<&[u8]>: {allocs} allocations for {N} frames");
        assert_eq!(allocs, 0);
    }
}
