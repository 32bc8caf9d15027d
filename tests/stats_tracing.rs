//! The `tracing` events (feature `tracing`) beside the `Stats` counts:
//! target "lpframe", the numbers as fields. A test binary of its own, with
//! one test: tracing caches each callsite's interest when it is first hit,
//! and a test on another thread hitting it first, with no subscriber,
//! would hide the events from this one.
#![cfg(feature = "tracing")]

use lpframe::{Config, FrameReader};

fn with_corrupt_frame() -> Vec<u8> {
    let mut wire = Vec::new();
    for p in [&b"one"[..], b"two", b"three"] {
        lpframe::write_frame(&mut wire, p).unwrap();
    }
    wire[19 + 16] ^= 1;
    wire
}

/// As in tests/stats.rs: a corrupt frame, 5 bytes of garbage, a frame and
/// half a header.
fn with_damage() -> Vec<u8> {
    let mut wire = with_corrupt_frame();
    wire.extend_from_slice(b"junk!");
    lpframe::write_frame(&mut wire, b"four").unwrap();
    wire.extend_from_slice(&[0xC1, 0x4C, 1, 0, 0, 0, 0]);
    wire
}

fn with_fatal_end() -> Vec<u8> {
    let mut wire = with_corrupt_frame();
    wire.extend_from_slice(b"\0\0\0\x05hello");
    wire
}

use std::sync::{Arc, Mutex};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

#[derive(Default, Clone)]
struct Collect(Arc<Mutex<Vec<(String, tracing::Level, String)>>>);

struct Fields(String);
impl Visit for Fields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.push_str(&format!("{}={} ", field.name(), value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={:?} ", field.name(), value));
    }
}

impl Subscriber for Collect {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        let m = event.metadata();
        self.0
            .lock()
            .unwrap()
            .push((m.target().to_string(), *m.level(), fields.0));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn dropped_frames_skips_and_fatal_errors_are_events() {
    let collect = Collect::default();
    tracing::subscriber::with_default(collect.clone(), || {
        // Another test's thread may have registered the callsites first,
        // with no subscriber: ask them again.
        tracing::callsite::rebuild_interest_cache();
        let wire = with_damage();
        let mut reader = FrameReader::recovering(&wire[..], Config::new());
        while !matches!(reader.next_frame(), Ok(None)) {}
        let wire = with_fatal_end();
        let mut reader = FrameReader::new(&wire[..]);
        for _ in 0..5 {
            let _ = reader.next_frame();
        }
    });
    let events = collect.0.lock().unwrap().clone();
    let shown: Vec<String> = events
        .iter()
        .map(|(t, l, f)| format!("{t} {l} {f}"))
        .collect();
    // Two readers: drop, skip, skip (the tail); drop, fatal (once).
    assert_eq!(events.len(), 5, "{shown:#?}");
    assert!(events.iter().all(|(t, _, _)| t == "lpframe"), "{shown:#?}");
    let has = |i: usize, parts: &[&str]| parts.iter().all(|p| shown[i].contains(p));
    assert!(
        has(
            0,
            &["WARN", "dropped a corrupt frame", "offset=19 ", "len=3 "]
        ),
        "{shown:#?}"
    );
    assert!(
        has(
            1,
            &["WARN", "skipped a damaged range", "offset=59 ", "len=5 "]
        ),
        "{shown:#?}"
    );
    assert!(has(2, &["offset=84 ", "len=7 "]), "{shown:#?}");
    assert!(
        has(
            4,
            &[
                "ERROR",
                "fatal decode error",
                "offset=59 ",
                "BadMagic found=0x0000"
            ]
        ),
        "{shown:#?}"
    );
}
