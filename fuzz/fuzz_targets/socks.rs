//! libFuzzer entry of target `socks`; the harness is `ork::fuzzing::socks` (see docs/fuzzing.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ork::fuzzing::socks(data));
