//! libFuzzer entry of target `cell_link`; the harness is `ork::fuzzing::cell_link` (see docs/fuzzing.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ork::fuzzing::cell_link(data));
