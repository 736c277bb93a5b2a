//! libFuzzer entry of target `standard_structure`; the harness is `ork::fuzzing::standard_structure` (see docs/fuzzing.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ork::fuzzing::standard_structure(data));
