//! libFuzzer entry of target `rlogin`; the harness is `ork::fuzzing::rlogin` (see docs/fuzzing.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ork::fuzzing::rlogin(data));
