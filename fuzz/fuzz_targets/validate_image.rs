//! Image verification: `validate` under a piece that accepts every decodable image kind (JPEG,
//! PNG, TIFF, WebP, GIF, BMP), with the default limits. The body and its checks:
//! crates/validators/tests/fuzz-regressions/harness.rs.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(init: guichet_fuzz::init(), |data: &[u8]| guichet_fuzz::harness::run_validate_image(data));
