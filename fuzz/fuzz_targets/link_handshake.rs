//! libFuzzer entry of target `link_handshake`; the harness is `ork::fuzzing::link_handshake` (see docs/fuzzing.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ork::fuzzing::link_handshake(data));
