//! Fax TIFF pages — CCITT modified Huffman and Group 3, one- and two-dimensional, either bit
//! order, several strips and pages — are decoded and accepted; damaged coding is refused.
//! The fixtures and how they were made: `tests/fixtures/fax/README.md`.

mod support;

use support::check;
use validators::{ReasonCode, Verdict};

const FIXTURES: &[(&str, u32)] = &[
    ("g3-1d.tif", 1),
    ("g3-2d.tif", 1),
    ("g3-lsb.tif", 1),
    ("rle.tif", 1),
    ("g3-2pages.tif", 2),
];

fn fixture(name: &str) -> Vec<u8> {
    support::fixture("fax", name)
}

#[test]
fn fax_pages_are_decoded_and_accepted() {
    for (name, pages) in FIXTURES {
        let verdict = check(&fixture(name), name);
        assert!(verdict.accepted(), "{name}: {:?}", verdict.reasons);
        assert_eq!(verdict.kind, "tiff", "{name}");
        assert_eq!(verdict.pages, Some(*pages), "{name}");
        assert_eq!(
            (verdict.width, verdict.height),
            (Some(400), Some(300)),
            "{name}"
        );
    }
}

/// The detail of the verdict's first reason among `codes`; panics when there is none.
fn refusal_detail(verdict: &Verdict, codes: &[ReasonCode]) -> String {
    let reason = verdict
        .reasons
        .iter()
        .find(|r| codes.contains(&r.code))
        .unwrap_or_else(|| panic!("none of {codes:?} in {:?}", verdict.reasons));
    reason.detail.clone().unwrap_or_default()
}

#[test]
fn damaged_fax_coding_is_refused_naming_the_strip() {
    for (name, _) in FIXTURES {
        let mut bytes = fixture(name);
        // The strips sit between the header and the directories in these files.
        for b in &mut bytes[1500..1540] {
            *b ^= 0xA5;
        }
        let codes = [ReasonCode::ImageCorrupt, ReasonCode::ImageTruncated];
        let detail = refusal_detail(&check(&bytes, name), &codes);
        assert!(detail.contains("strip"), "{name}: {detail}");
    }
}

#[test]
fn one_damaged_line_refuses_the_page() {
    // One flipped bit inside a line of one-dimensional Group 3 data whose lines all end with an
    // EOL code: libtiff would paint the line white; guichet asks for the fax again.
    let mut bytes = fixture("g3-1d.tif");
    bytes[1000] ^= 0x10;
    let detail = refusal_detail(&check(&bytes, "g3-1d.tif"), &[ReasonCode::ImageCorrupt]);
    assert!(detail.contains("strip 0, row"), "{detail}");
}

#[test]
fn coding_read_with_the_wrong_options_is_refused() {
    // The two-dimensional file with its T4Options saying one-dimensional.
    let mut bytes = fixture("g3-2d.tif");
    let ifd = u32::from_le_bytes(bytes[4..8].try_into().expect("4 bytes")) as usize;
    let entries = u16::from_le_bytes([bytes[ifd], bytes[ifd + 1]]) as usize;
    let t4 = (0..entries)
        .map(|k| ifd + 2 + 12 * k)
        .find(|&e| u16::from_le_bytes([bytes[e], bytes[e + 1]]) == 292)
        .expect("a T4Options entry");
    bytes[t4 + 8..t4 + 12].copy_from_slice(&4u32.to_le_bytes());
    let detail = refusal_detail(&check(&bytes, "g3-2d.tif"), &[ReasonCode::ImageCorrupt]);
    assert!(detail.contains("row 1:"), "{detail}");
}
