//! libFuzzer entry of target `reply_endpoint`; the harness is `ork::fuzzing::reply_endpoint` (see docs/fuzzing.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ork::fuzzing::reply_endpoint(data));
