//! Small damaged streams with known counts, for the counters' tests
//! (tests/stats.rs, tests/stats_tracing.rs) and the CLI's (a capture).

/// "one", "two" with a flipped payload bit, "three" (19 + 19 + 21 bytes):
/// one frame dropped, two delivered.
pub fn with_corrupt_frame() -> Vec<u8> {
    let mut wire = Vec::new();
    for p in [&b"one"[..], b"two", b"three"] {
        lpframe::write_frame(&mut wire, p).expect("a write into a Vec cannot fail");
    }
    wire[19 + 16] ^= 1;
    wire
}

/// [`with_corrupt_frame`], then 5 bytes of garbage, "four", then half a
/// header: in recovery mode two ranges skipped (the 5 bytes and the 7-byte
/// tail).
pub fn with_damage() -> Vec<u8> {
    let mut wire = with_corrupt_frame();
    wire.extend_from_slice(b"junk!");
    lpframe::write_frame(&mut wire, b"four").expect("a write into a Vec cannot fail");
    wire.extend_from_slice(&[0xC1, 0x4C, 1, 0, 0, 0, 0]);
    wire
}

/// [`with_corrupt_frame`], then a LengthDelimitedCodec frame (`00 00 00 05
/// hello`): a fatal bad magic after one dropped frame.
pub fn with_fatal_end() -> Vec<u8> {
    let mut wire = with_corrupt_frame();
    wire.extend_from_slice(b"\0\0\0\x05hello");
    wire
}
