//! PDF verification: `validate` under a piece that accepts PDF only, with the default limits.
//! Seeded with the corpus's PDFs; whatever the mutations make of them, the answer must come in
//! bounded time and memory and be consistent. The body and its checks:
//! crates/validators/tests/fuzz-regressions/harness.rs.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(init: guichet_fuzz::init(), |data: &[u8]| guichet_fuzz::harness::run_validate_pdf(data));
