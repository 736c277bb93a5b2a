//! libFuzzer entry of target `onion_peel`; the harness is `ork::fuzzing::onion_peel` (see docs/fuzzing.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ork::fuzzing::onion_peel(data));
