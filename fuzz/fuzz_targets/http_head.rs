//! libFuzzer entry of target `http_head`; the harness is `ork::fuzzing::http_head` (see docs/fuzzing.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ork::fuzzing::http_head(data));
