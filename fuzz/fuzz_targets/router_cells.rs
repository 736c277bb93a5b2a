//! libFuzzer entry of target `router_cells`; the harness is `ork::fuzzing::router_cells` (see docs/fuzzing.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ork::fuzzing::router_cells(data));
