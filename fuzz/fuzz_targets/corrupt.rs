#![no_main]
libfuzzer_sys::fuzz_target!(|input: (Vec<Vec<u8>>, Vec<(u32, u8)>, u8)| testkit::fuzz::corrupt(&input.0, &input.1, input.2));
