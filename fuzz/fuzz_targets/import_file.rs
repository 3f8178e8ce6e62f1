#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| local_stack::fuzz::import_file(data));
