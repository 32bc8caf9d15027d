//! Memory traffic of the tokio reading paths, per payload byte: bytes
//! allocated, bytes a `realloc` had to preserve (copied, unless the
//! allocator remaps the pages of a large block), allocations per frame, and
//! the peak of live memory — counted by a global allocator, so the figures
//! do not swing with the machine's load. Run under
//! `valgrind --tool=dhat --mode=copy` it also gives every byte moved by
//! `memcpy`/`memmove` (`bash benches/read_memory.sh` does both).
//!
//! `read_memory MODE SIZE READ FRAMES`: FRAMES frames of SIZE payload bytes
//! from a reader that hands out at most READ bytes per `poll_read` (a
//! socket whose receive queue holds READ bytes each time it is polled),
//! each frame dropped once received. Modes: `lpf` (`FramedRead` +
//! `FrameCodec`), `lpf-payload` (`FramedRead` + `PayloadCodec`), `ldc`
//! (`FramedRead` + `LengthDelimitedCodec`), `none` (the stream setup only).
//! Without arguments it prints the table of BENCHMARKS.md.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::{BufMut, Bytes, BytesMut};
use futures::StreamExt;

use testkit::Chunked;
use tokio_util::codec::{FramedRead, LengthDelimitedCodec};

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static ALLOC_BYTES: AtomicUsize = AtomicUsize::new(0);
static REALLOC_MOVED: AtomicUsize = AtomicUsize::new(0);
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grow(by: usize) {
    let live = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: forwards every call to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        ALLOC_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        grow(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        ALLOC_BYTES.fetch_add(new_size, Ordering::Relaxed);
        REALLOC_MOVED.fetch_add(layout.size().min(new_size), Ordering::Relaxed);
        if new_size > layout.size() {
            grow(new_size - layout.size());
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn stream(mode: &str, size: usize, frames: usize) -> Bytes {
    let p: Vec<u8> = (0..size).map(|i| (i * 131 + 7) as u8).collect();
    let mut wire = BytesMut::with_capacity(frames * (size + 16));
    for _ in 0..frames {
        if mode.starts_with("ldc") {
            wire.put_u32(size as u32);
            wire.put_slice(&p);
        } else {
            lpframe::encode_frame(&p, lpframe::DEFAULT_MAX_FRAME_LEN, &mut wire).unwrap();
        }
    }
    wire.freeze()
}

/// Runs one mode; returns (frames received, payload bytes).
fn run(mode: &str, data: Bytes, read: usize) -> (usize, usize) {
    let reader = Chunked::new(data, read);
    futures::executor::block_on(async move {
        let (mut frames, mut bytes) = (0, 0);
        match mode {
            "none" => {}
            "lpf" => {
                let mut r = FramedRead::new(reader, lpframe::FrameCodec::new());
                while let Some(item) = r.next().await {
                    let f = item.unwrap().into_frame().unwrap();
                    bytes += f.len();
                    frames += 1;
                }
            }
            "lpf-payload" => {
                let mut r = FramedRead::new(reader, lpframe::PayloadCodec::new());
                while let Some(item) = r.next().await {
                    bytes += item.unwrap().len();
                    frames += 1;
                }
            }
            "ldc" => {
                let codec = LengthDelimitedCodec::builder()
                    .max_frame_length(lpframe::DEFAULT_MAX_FRAME_LEN as usize)
                    .new_codec();
                let mut r = FramedRead::new(reader, codec);
                while let Some(item) = r.next().await {
                    bytes += item.unwrap().len();
                    frames += 1;
                }
            }
            other => panic!("unknown mode {other:?}"),
        }
        (frames, bytes)
    })
}

struct Counts {
    allocs: usize,
    alloc_bytes: usize,
    realloc_moved: usize,
    peak: usize,
}

fn measure(mode: &str, size: usize, read: usize, frames: usize) -> Counts {
    let data = stream(mode, size, frames);
    let a = ALLOCS.load(Ordering::Relaxed);
    let b = ALLOC_BYTES.load(Ordering::Relaxed);
    let m = REALLOC_MOVED.load(Ordering::Relaxed);
    let live = LIVE.load(Ordering::Relaxed);
    PEAK.store(live, Ordering::Relaxed);
    let (got, bytes) = run(mode, data, read);
    if mode != "none" {
        assert_eq!((got, bytes), (frames, frames * size), "{mode}");
    }
    Counts {
        allocs: ALLOCS.load(Ordering::Relaxed) - a,
        alloc_bytes: ALLOC_BYTES.load(Ordering::Relaxed) - b,
        realloc_moved: REALLOC_MOVED.load(Ordering::Relaxed) - m,
        peak: PEAK.load(Ordering::Relaxed) - live,
    }
}

const MODES: [&str; 3] = ["lpf", "lpf-payload", "ldc"];
const SIZES: [usize; 3] = [64 << 10, 1 << 20, 8 << 20];
const READS: [usize; 2] = [8 << 10, 64 << 10];

fn frames_for(size: usize) -> usize {
    ((64 << 20) / size).clamp(8, 1024)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [mode, size, read, frames] = &args[..] {
        let (size, read, frames) = (
            size.parse().unwrap(),
            read.parse().unwrap(),
            frames.parse().unwrap(),
        );
        let c = measure(mode, size, read, frames);
        println!(
            "{mode} {size} {read} {frames}: allocs {} alloc_bytes {} realloc_moved {} peak {}",
            c.allocs, c.alloc_bytes, c.realloc_moved, c.peak
        );
        return;
    }
    if args.iter().any(|a| a != "--bench") {
        println!("usage: read_memory [MODE SIZE READ FRAMES]; see benches/read_memory.sh");
        return;
    }
    println!("| payload | read | path | allocations / frame | bytes allocated / payload byte | bytes preserved by realloc / payload byte | peak live bytes |");
    println!("|---|---|---|---|---|---|---|");
    for size in SIZES {
        for read in READS {
            for mode in MODES {
                let frames = frames_for(size);
                let c = measure(mode, size, read, frames);
                let total = (frames * size) as f64;
                println!(
                    "| {} | {} KiB | {mode} | {:.2} | {:.3} | {:.3} | {} |",
                    human(size),
                    read >> 10,
                    c.allocs as f64 / frames as f64,
                    c.alloc_bytes as f64 / total,
                    c.realloc_moved as f64 / total,
                    c.peak
                );
            }
        }
    }
}

fn human(n: usize) -> String {
    if n >= 1 << 20 {
        format!("{} MiB", n >> 20)
    } else {
        format!("{} KiB", n >> 10)
    }
}
