//! libFuzzer entry of target `reply_formats`; the harness is `ork::fuzzing::reply_formats` (see docs/fuzzing.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ork::fuzzing::reply_formats(data));
