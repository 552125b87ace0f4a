//! The bodies of the fuzz targets and what every answer of the validators must satisfy,
//! whatever the input. Shared by the fuzz crate (`fuzz/src/lib.rs` includes this file) and by
//! `tests/fuzz_regressions.rs`, so a find replayed as a test runs exactly what the fuzzer ran.

use std::collections::HashSet;

use dossiers::Kind;
use sha2::{Digest, Sha256};
use validators::{Declared, Detected, HEADER_SEARCH_WINDOW, Limits, Policy, Verdict};

/// The image kinds guichet decodes (JPEG 2000 is refused before decoding).
pub const IMAGE_KINDS: [Kind; 8] = [
    Kind::Jpeg,
    Kind::Png,
    Kind::Tiff,
    Kind::Webp,
    Kind::Gif,
    Kind::Bmp,
    Kind::Heic,
    Kind::Avif,
];

/// The body of a fuzz target.
pub type Target = fn(&[u8]);

/// The fuzz targets, by the name cargo-fuzz knows them.
pub const TARGETS: [(&str, Target); 3] = [
    ("detect", run_detect),
    ("validate_pdf", run_validate_pdf),
    ("validate_image", run_validate_image),
];

/// Target `detect`: kind detection, and the prescreen of a large upload's first bytes (here
/// the head of a file ten times larger, under a name that names no type).
pub fn run_detect(data: &[u8]) {
    let found = validators::detect(data);
    check_detected(data, &found);
    let size = (data.len() as u64).saturating_mul(10).max(1);
    let declared = Declared::named("piece.bin");
    if let Some(v) = validators::prescreen(data, size, String::new(), &declared, &Policy::default())
    {
        assert!(!v.accepted(), "prescreen returned an accepted verdict");
        assert_eq!(v.size, size, "prescreen size");
    }
}

/// Target `validate_pdf`: a piece that accepts PDF only, no piece limit, default safety limits.
pub fn run_validate_pdf(data: &[u8]) {
    let policy = Policy {
        accept: Some(vec![Kind::Pdf]),
        max_bytes: None,
        max_pages: None,
    };
    validate_checked(data, &policy);
}

/// Target `validate_image`: a piece that accepts every decodable image kind.
pub fn run_validate_image(data: &[u8]) {
    let policy = Policy {
        accept: Some(IMAGE_KINDS.to_vec()),
        max_bytes: None,
        max_pages: None,
    };
    validate_checked(data, &policy);
}

/// Validates `data` as an upload with no name (a name never stops the checks early) under the
/// service's default limits, and checks the verdict.
fn validate_checked(data: &[u8], policy: &Policy) {
    let verdict = validators::validate(data, &Declared::default(), policy, &Limits::default());
    check_verdict(data, policy, &verdict);
}

/// What [`validators::detect`] must say of any content.
pub fn check_detected(data: &[u8], found: &Detected) {
    if let Some(kind) = found.kind {
        assert_eq!(found.name, kind.name(), "name of a known kind");
        assert_eq!(found.mime, kind.mime(), "media type of a known kind");
        assert!(!found.executable, "{kind} flagged executable");
        assert!(
            found.offset < data.len() && found.offset <= HEADER_SEARCH_WINDOW + 8,
            "{kind} at offset {} of {} bytes",
            found.offset,
            data.len()
        );
    } else {
        assert_eq!(found.offset, 0, "offset without a kind");
    }
    if data.is_empty() {
        assert_eq!(found.name, "empty");
    }
}

/// What every verdict of [`validators::validate`] on `data` under `policy` must satisfy.
pub fn check_verdict(data: &[u8], policy: &Policy, v: &Verdict) {
    assert_eq!(v.size, data.len() as u64, "size");
    assert_eq!(v.sha256, hex::encode(Sha256::digest(data)), "sha256");
    for r in &v.reasons {
        assert!(r.code.is_blocking(), "a note among the reasons: {r}");
    }
    for n in &v.notes {
        assert!(!n.code.is_blocking(), "a refusal among the notes: {n}");
    }
    let mut codes = HashSet::new();
    for r in &v.reasons {
        assert!(codes.insert(r.code), "reason {} given twice", r.code);
    }
    if !v.accepted() {
        return;
    }
    let kind = v
        .detected_kind()
        .unwrap_or_else(|| panic!("accepted content of no known kind: {}", v.kind));
    if let Some(accept) = &policy.accept {
        assert!(accept.contains(&kind), "accepted {kind} outside {accept:?}");
    }
    assert!(
        v.pages.is_some_and(|p| p >= 1),
        "accepted {kind} with pages {:?}",
        v.pages
    );
    if kind != Kind::Pdf {
        assert!(
            v.width.is_some_and(|w| w > 0) && v.height.is_some_and(|h| h > 0),
            "accepted {kind} of {:?}x{:?}",
            v.width,
            v.height
        );
    }
}
