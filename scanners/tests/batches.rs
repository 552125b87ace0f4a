//! Generated batches (guichet's own sheets, scanned at 200 and 300 dpi with rotation, skew,
//! noise, blank backs and a stray first page; JPEG and CCITT G4; PDF and TIFF) split into the
//! expected segments, and segments rebuilt without touching the page images, whether the batch
//! is read from memory or page by page from a file.

use lopdf::{Document, Object};
use scanners::generate::{self, Manifest};
use scanners::split::{PageFinding, UnmatchedReason};
use scanners::{Batch, BatchLimits, open, read, segment_pdf, split};

const SECRET: &[u8] = b"test secret for generated batches";

fn check(batch: &Batch, manifest: &Manifest) {
    assert_eq!(batch.pages.len(), manifest.pages, "{}", manifest.name);
    let split = split(batch, SECRET);
    let got: Vec<generate::ExpectedSegment> = split
        .segments
        .iter()
        .map(|s| generate::ExpectedSegment {
            campaign: s.code.campaign.clone(),
            dossier: s.code.dossier.clone(),
            piece: s.code.piece.clone(),
            sheet_page: s.sheet_page,
            pages: s.pages.clone(),
        })
        .collect();
    assert_eq!(
        got, manifest.segments,
        "{}: {:?}",
        manifest.name, split.pages
    );
    for &blank in &manifest.blank_pages {
        assert!(
            matches!(split.pages[blank], PageFinding::Blank { .. }),
            "{}: page {blank} is {:?} (ink {:?})",
            manifest.name,
            split.pages[blank],
            split.ink[blank]
        );
    }
    let expected_unmatched: Vec<(Vec<usize>, UnmatchedReason)> =
        if manifest.before_first_sheet.is_empty() {
            vec![]
        } else {
            vec![(
                manifest.before_first_sheet.clone(),
                UnmatchedReason::BeforeFirstSheet,
            )]
        };
    let got_unmatched: Vec<(Vec<usize>, UnmatchedReason)> = split
        .unmatched
        .iter()
        .map(|u| (u.pages.clone(), u.reason))
        .collect();
    assert_eq!(got_unmatched, expected_unmatched, "{}", manifest.name);

    for segment in split.segments.iter().filter(|s| !s.pages.is_empty()) {
        let pdf = segment_pdf(batch, &segment.pages).expect("segment builds");
        let doc = Document::load_mem(&pdf).expect("segment PDF parses");
        let pages = doc.get_pages();
        assert_eq!(pages.len(), segment.pages.len());
        for (page_id, &source) in pages.values().zip(&segment.pages) {
            let original = batch.pages[source].image.as_ref().expect("image page");
            let original_data = batch
                .image_data(source)
                .expect("image bytes read")
                .expect("image page");
            let (resources, _) = doc.get_page_resources(*page_id).expect("resources");
            let xobjects = resources
                .expect("resources")
                .get(b"XObject")
                .and_then(Object::as_dict)
                .expect("XObject");
            let (_, image) = xobjects.iter().next().expect("one image");
            let stream = doc
                .get_object(image.as_reference().expect("ref"))
                .and_then(Object::as_stream)
                .expect("stream");
            assert_eq!(
                stream.content.as_slice(),
                &*original_data,
                "bytes carried over as they are"
            );
            assert_eq!(
                stream.dict.get(b"Width").and_then(Object::as_i64).ok(),
                Some(original.width as i64)
            );
        }
    }
}

fn run(name: &str) {
    let spec = generate::standard_specs()
        .into_iter()
        .find(|s| s.name == name)
        .expect("a standard batch");
    let (bytes, manifest) = generate::build(&spec, SECRET);
    let batch = read(&bytes, &BatchLimits::default()).expect("generated batch reads");
    check(&batch, &manifest);

    // The same batch read page by page from a file splits and rebuilds the same way.
    let dir = std::env::temp_dir().join(format!("scanners-batches-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let path = dir.join("batch");
    std::fs::write(&path, &bytes).expect("batch written");
    let opened = open(&path, &BatchLimits::default()).expect("batch file reads");
    check(&opened, &manifest);
    drop(opened);
    std::fs::remove_dir_all(&dir).expect("temporary directory removed");
}

#[test]
fn jpeg_pdf_200_dpi_with_blank_backs() {
    run("jpeg-pdf-200");
}

#[test]
fn jpeg_pdf_300_dpi() {
    run("jpeg-pdf-300");
}

#[test]
fn g4_tiff_300_dpi_with_blank_backs() {
    run("g4-tiff-300");
}

#[test]
fn g4_tiff_200_dpi() {
    run("g4-tiff-200");
}

#[test]
fn g4_pdf_300_dpi() {
    run("g4-pdf-300");
}

#[test]
fn jpeg_tiff_200_dpi() {
    run("jpeg-tiff-200");
}
