//! libFuzzer entry of target `smtp`; the harness is `ork::fuzzing::smtp` (see docs/fuzzing.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ork::fuzzing::smtp(data));
