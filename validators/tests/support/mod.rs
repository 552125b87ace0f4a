//! What the fixture-based tests share: reading a fixture, and verifying it as uploaded.

use std::path::Path;

use validators::{Declared, Limits, Policy, Verdict, validate};

/// The bytes of `tests/fixtures/<dir>/<name>`.
pub fn fixture(dir: &str, name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dir)
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `bytes` verified as a file named `name`, under any piece and the default limits.
pub fn check(bytes: &[u8], name: &str) -> Verdict {
    let declared = Declared {
        filename: Some(name.to_string()),
        content_type: None,
    };
    validate(bytes, &declared, &Policy::default(), &Limits::default())
}
