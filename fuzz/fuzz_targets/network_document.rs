//! libFuzzer entry of target `network_document`; the harness is `ork::fuzzing::network_document` (see docs/fuzzing.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ork::fuzzing::network_document(data));
