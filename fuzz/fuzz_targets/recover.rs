#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| lpframe::fuzzing::recover(data));
