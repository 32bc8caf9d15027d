#![no_main]
libfuzzer_sys::fuzz_target!(|input: (Vec<(u8, Vec<u8>)>, u8)| testkit::fuzz::roundtrip(&input.0, input.1));
