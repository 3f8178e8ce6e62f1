#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| local_stack::fuzz::carrier_feed(data));
