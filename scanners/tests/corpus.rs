//! The real-world scans of the shared corpus: every PDF and TIFF reads, splits without a
//! sheet (they hold none: their pages are content or blank, before any first sheet), and can
//! be rebuilt as one document.

use std::path::PathBuf;

use scanners::split::{PageFinding, UnmatchedReason};
use scanners::{BatchLimits, read, segment_pdf, split};

fn scans() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/scans");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pdf" | "tif" | "tiff")
            )
        })
        .collect();
    files.sort();
    assert!(files.len() >= 20, "corpus scans found: {}", files.len());
    files
}

#[test]
fn real_scans_read_split_and_rebuild() {
    let mut failures = Vec::new();
    for path in scans() {
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .to_string();
        let bytes = std::fs::read(&path).expect("readable");
        let batch = match read(&bytes, &BatchLimits::default()) {
            Ok(b) => b,
            Err(e) => {
                failures.push(format!("{name}: {} {e}", e.code()));
                continue;
            }
        };
        let split = split(&batch, b"secret");
        assert_eq!(split.pages.len(), batch.pages.len());
        assert!(split.segments.is_empty(), "{name}: {:?}", split.segments);
        for (i, finding) in split.pages.iter().enumerate() {
            assert!(
                matches!(finding, PageFinding::Content | PageFinding::Blank { .. }),
                "{name} page {i}: {finding:?}"
            );
        }
        assert!(
            split
                .unmatched
                .iter()
                .all(|u| u.reason == UnmatchedReason::BeforeFirstSheet),
            "{name}"
        );
        let all: Vec<usize> = (0..batch.pages.len()).collect();
        match segment_pdf(&batch, &all) {
            Ok(pdf) => {
                let doc = lopdf::Document::load_mem(&pdf).expect("rebuilt PDF parses");
                assert_eq!(doc.get_pages().len(), all.len(), "{name}");
            }
            Err(e) => failures.push(format!("{name}: rebuild {e}")),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
