//! libFuzzer entry of target `descriptor`; the harness is `ork::fuzzing::descriptor` (see docs/fuzzing.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ork::fuzzing::descriptor(data));
