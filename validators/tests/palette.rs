//! Palette TIFF pages — 1-, 4- and 8-bit colour-map indices, uncompressed, LZW or Deflate,
//! either byte order, several pages — are decoded and accepted; damaged data and a colour map
//! of the wrong size are refused. The fixtures and how they were made:
//! `tests/fixtures/palette/README.md`.

mod support;

use support::check;
use validators::{ReasonCode, Verdict};

const FIXTURES: &[(&str, u32)] = &[
    ("pal1-zip.tif", 1),
    ("pal4.tif", 1),
    ("pal8-lzw.tif", 1),
    ("pal8-be.tif", 1),
    ("pal8-2pages.tif", 2),
];

fn fixture(name: &str) -> Vec<u8> {
    support::fixture("palette", name)
}

fn codes(verdict: &Verdict) -> Vec<ReasonCode> {
    verdict.reasons.iter().map(|r| r.code).collect()
}

#[test]
fn palette_pages_are_decoded_and_accepted() {
    for (name, pages) in FIXTURES {
        let verdict = check(&fixture(name), name);
        assert!(verdict.accepted(), "{name}: {:?}", verdict.reasons);
        assert_eq!(verdict.pages, Some(*pages), "{name}");
    }
}

/// `pal8-lzw.tif` holds one LZW strip at offset 8, 2141 bytes long (`tiffinfo -s`).
const STRIP: std::ops::Range<usize> = 8..8 + 2141;

#[test]
fn damaged_palette_data_is_refused() {
    let mut invalid_codes = fixture("pal8-lzw.tif");
    invalid_codes[STRIP.start + 1000..STRIP.start + 1040].fill(0xFF);
    assert_eq!(
        codes(&check(&invalid_codes, "scan.tif")),
        [ReasonCode::ImageCorrupt]
    );

    let mut cut_short = fixture("pal8-lzw.tif");
    cut_short[STRIP.start + 500..STRIP.end].fill(0);
    assert_eq!(
        codes(&check(&cut_short, "scan.tif")),
        [ReasonCode::ImageTruncated]
    );
}

#[test]
fn a_colour_map_of_the_wrong_size_is_refused() {
    let mut tiff = fixture("pal8-lzw.tif");
    // The little-endian directory: its offset at 4, its entry count, then 12-byte entries.
    let ifd = u32::from_le_bytes(tiff[4..8].try_into().expect("4 bytes")) as usize;
    let entries = u16::from_le_bytes([tiff[ifd], tiff[ifd + 1]]) as usize;
    let color_map = (0..entries)
        .map(|n| ifd + 2 + n * 12)
        .find(|&e| u16::from_le_bytes([tiff[e], tiff[e + 1]]) == 320)
        .expect("a ColorMap entry");
    // 3 × 256 values for 8-bit indices; say 3 × 16.
    tiff[color_map + 4..color_map + 8].copy_from_slice(&48u32.to_le_bytes());
    let verdict = check(&tiff, "scan.tif");
    assert_eq!(codes(&verdict), [ReasonCode::ImageStructure]);
    assert!(
        verdict.reasons[0]
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("colour map of 48 values")),
        "{:?}",
        verdict.reasons
    );
}
