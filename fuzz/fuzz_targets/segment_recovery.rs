#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| blazemq_fuzz::segment_recovery(data));
