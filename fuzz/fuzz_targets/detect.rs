//! Kind detection: `detect` on any bytes, and `prescreen`, the verdict on the first bytes of a
//! large upload. The body and its checks: crates/validators/tests/fuzz-regressions/harness.rs.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(init: guichet_fuzz::init(), |data: &[u8]| guichet_fuzz::harness::run_detect(data));
