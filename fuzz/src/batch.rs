//! The body of the `read_batch` target and what the mailroom's answers must satisfy, whatever
//! the batch: [`scanners::batch::read`] under the default limits, then
//! [`scanners::split::split`], then [`scanners::split::segment_pdf`] on every group of pages
//! the service would rebuild (each segment after a good sheet, each run of unmatched pages),
//! as the ingest pipeline does.
//!
//! `read` runs under its own `catch_unwind` (a panic there is logged by [`crate::init`] and
//! turned into `batch_malformed`); `split`, apart from the page decoders it guards, and
//! `segment_pdf` have no guard: a panic there escapes and is a crash.

use std::collections::HashMap;

use scanners::batch::{Batch, BatchError, BatchFormat, BatchLimits, Colour};
use scanners::sheet::PREFIX;
use scanners::split::{BLANK_INK_MAX, PageFinding, SheetFailure, Split, UnmatchedReason};

/// The secret sheet codes are checked under. The generated seed batches (`fuzz/seed`, example
/// `seed_batches`) sign their sheets with it, so that the fuzzer starts from batches whose
/// sheets are found and whose segments are rebuilt.
pub const SECRET: &[u8] = b"guichet fuzz sheet secret";

/// Target `read_batch`: read, split, rebuild, and check each answer.
pub fn run_read_batch(data: &[u8]) {
    let limits = BatchLimits::default();
    let batch = match scanners::batch::read(data, &limits) {
        Ok(batch) => batch,
        Err(e) => {
            check_error(data, &limits, &e);
            return;
        }
    };
    check_batch(data, &limits, &batch);
    let split = scanners::split::split(&batch, SECRET);
    check_split(&batch, &split);
    for segment in split.segments.iter().filter(|s| !s.pages.is_empty()) {
        rebuild(&batch, &segment.pages);
    }
    for unmatched in &split.unmatched {
        rebuild(&batch, &unmatched.pages);
    }
}

/// Whether [`scanners::batch::read`] takes `data` for a TIFF (by its magic) and whether it
/// looks for a PDF in it (a `%PDF-` in the first 1024 bytes).
fn format_of(data: &[u8]) -> Option<BatchFormat> {
    if data.starts_with(b"II*\0") || data.starts_with(b"MM\0*") {
        Some(BatchFormat::Tiff)
    } else if data[..data.len().min(1024)]
        .windows(5)
        .any(|w| w == b"%PDF-")
    {
        Some(BatchFormat::Pdf)
    } else {
        None
    }
}

/// What a refusal of `read` must say.
fn check_error(data: &[u8], limits: &BatchLimits, e: &BatchError) {
    assert!(!e.code().is_empty() && !e.to_string().is_empty());
    assert_eq!(
        matches!(e, BatchError::UnknownFormat),
        format_of(data).is_none(),
        "unknown format: {e:?}"
    );
    match e {
        BatchError::NoSuchPage(_) => panic!("read answered {e:?}"),
        BatchError::Encrypted => assert_eq!(format_of(data), Some(BatchFormat::Pdf)),
        BatchError::TooManyPages { pages, limit } => {
            assert_eq!(*limit, limits.max_pages, "{e:?}");
            assert!(*pages > *limit, "{e:?}");
        }
        BatchError::PageTooLarge { page } | BatchError::Unsupported { page, .. } => {
            assert!(*page < limits.max_pages, "{e:?}");
        }
        _ => {}
    }
}

/// What a batch that reads must be.
fn check_batch(data: &[u8], limits: &BatchLimits, batch: &Batch) {
    assert_eq!(Some(batch.format), format_of(data), "format");
    let n = batch.pages.len();
    assert!(n >= 1 && n <= limits.max_pages, "{n} pages");
    for (i, page) in batch.pages.iter().enumerate() {
        assert!(
            matches!(page.rotate, 0 | 90 | 180 | 270),
            "page {i}: rotate {}",
            page.rotate
        );
        let [x0, y0, x1, y1] = page.media_box;
        assert!(
            page.media_box.iter().all(|v| v.is_finite()) && x1 > x0 && y1 > y0,
            "page {i}: media box {:?}",
            page.media_box
        );
        assert!(
            !page.single_image || page.image.is_some(),
            "page {i}: single image without an image"
        );
        if let Some(text) = &page.sheet_text {
            assert!(text.starts_with(PREFIX), "page {i}: sheet text {text:?}");
        }
        if batch.format == BatchFormat::Tiff {
            assert!(
                page.image.is_some() && page.single_image,
                "TIFF page {i} not a single image"
            );
            assert!(
                page.rotate == 0 && page.sheet_text.is_none(),
                "TIFF page {i}"
            );
        }
        let Some(image) = &page.image else { continue };
        assert!(
            image.width > 0 && image.height > 0,
            "page {i}: image {}x{}",
            image.width,
            image.height
        );
        assert!(
            image.width as u64 * image.height as u64 <= limits.max_page_pixels,
            "page {i}: image {}x{} above the limit",
            image.width,
            image.height
        );
        assert!(
            image.data.len() <= limits.max_image_bytes,
            "page {i}: {} image bytes",
            image.data.len()
        );
        if let Colour::Indexed {
            base,
            hival,
            lookup,
        } = &image.colour
        {
            assert!(
                !matches!(**base, Colour::Indexed { .. }),
                "page {i}: palette of a palette"
            );
            assert_eq!(
                lookup.len(),
                (*hival as usize + 1) * base.components() as usize,
                "page {i}: palette size"
            );
        }
    }
}

/// What the split of `batch` must be: one finding per page, and every page that is not blank
/// in exactly one place (a segment's sheet, a segment, or unmatched pages), in order.
fn check_split(batch: &Batch, split: &Split) {
    let n = batch.pages.len();
    assert_eq!(split.pages.len(), n, "one finding per page");
    assert_eq!(split.ink.len(), n, "one ink per page");
    for (i, ink) in split.ink.iter().enumerate() {
        if let Some(ink) = ink {
            assert!((0.0..=1.0).contains(ink), "page {i}: ink {ink}");
        }
        if let PageFinding::Blank { ink: blank } = split.pages[i] {
            assert!(blank <= BLANK_INK_MAX, "page {i}: blank with ink {blank}");
            assert_eq!(*ink, Some(blank), "page {i}: blank ink");
        }
    }
    // Where each page went.
    let mut placed: HashMap<usize, &str> = HashMap::new();
    let mut place = |page: usize, what: &'static str| {
        assert!(page < n, "{what} page {page} of {n}");
        if let Some(before) = placed.insert(page, what) {
            panic!("page {page} both in {before} and in {what}");
        }
    };
    let mut last_sheet = None;
    for (s, segment) in split.segments.iter().enumerate() {
        place(segment.sheet_page, "a segment's sheet");
        assert!(
            last_sheet.is_none_or(|l| l < segment.sheet_page),
            "segments out of order"
        );
        last_sheet = Some(segment.sheet_page);
        assert_eq!(
            split.pages[segment.sheet_page],
            PageFinding::Sheet(segment.code.clone()),
            "segment {s}: its sheet's finding"
        );
        let next_sheet = split.segments.get(s + 1).map_or(n, |next| next.sheet_page);
        let mut previous = segment.sheet_page;
        for &page in &segment.pages {
            place(page, "a segment");
            assert!(
                page > previous && page < next_sheet,
                "segment {s}: page {page} out of order"
            );
            previous = page;
            assert_eq!(
                split.pages[page],
                PageFinding::Content,
                "segment {s}: page {page}"
            );
        }
    }
    for (u, unmatched) in split.unmatched.iter().enumerate() {
        assert!(!unmatched.pages.is_empty(), "unmatched group {u} empty");
        assert!(
            unmatched.pages.windows(2).all(|w| w[0] < w[1]),
            "unmatched group {u} out of order"
        );
        for (k, &page) in unmatched.pages.iter().enumerate() {
            place(page, "unmatched pages");
            let finding = &split.pages[page];
            let first_of_sheet = k == 0 && unmatched.reason != UnmatchedReason::BeforeFirstSheet;
            match (first_of_sheet, finding) {
                (true, PageFinding::UnreadableSheet(failure)) => assert_eq!(
                    *failure == SheetFailure::BadTag,
                    unmatched.reason == UnmatchedReason::ForgedSheet,
                    "unmatched group {u}: {failure:?} as {:?}",
                    unmatched.reason
                ),
                (false, PageFinding::Content) => {}
                _ => panic!(
                    "unmatched group {u} ({:?}): page {page} is {finding:?}",
                    unmatched.reason
                ),
            }
        }
    }
    for (i, finding) in split.pages.iter().enumerate() {
        let blank = matches!(finding, PageFinding::Blank { .. });
        assert_eq!(
            placed.contains_key(&i),
            !blank,
            "page {i} ({finding:?}) placed: {:?}",
            placed.get(&i)
        );
    }
}

/// Rebuilds `pages` of `batch` as the service does; a PDF that is built must parse back with
/// as many pages.
fn rebuild(batch: &Batch, pages: &[usize]) {
    match scanners::split::segment_pdf(batch, pages) {
        Ok(pdf) => {
            assert!(pdf.starts_with(b"%PDF-"), "segment PDF without a header");
            let doc = lopdf::Document::load_mem(&pdf)
                .unwrap_or_else(|e| panic!("segment PDF of {pages:?} does not parse: {e}"));
            assert_eq!(
                doc.get_pages().len(),
                pages.len(),
                "pages of the segment PDF of {pages:?}"
            );
        }
        Err(e) => {
            assert!(
                !matches!(e, BatchError::NoSuchPage(_)),
                "{e:?} for pages {pages:?} of {}",
                batch.pages.len()
            );
        }
    }
}
