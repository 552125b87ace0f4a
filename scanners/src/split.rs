//! Splitting a batch on its sheets: one recorded decision per page (sheet, blank, content,
//! unreadable sheet), the segments that follow good sheets, and the pages that cannot be
//! attributed, with the reason.
//!
//! Each page is decoded small (75 to 150 dpi, see [`crate::raster`]) and measured for ink;
//! a page that is not blank is searched for QR codes with rqrr, which finds them at any
//! rotation and under mild perspective or skew. Only QR codes large enough to be a guichet
//! sheet's count as failed sheets: a small QR code printed on an invoice that does not decode
//! is just content. A failure is retried once at twice the resolution before the page is
//! declared an unreadable sheet.

use std::sync::OnceLock;

use rayon::prelude::*;
use rqrr::{BitGrid, PreparedImage};

use crate::batch::{Batch, BatchError, Page};
use crate::raster::{self, Gray};
use crate::sheet::{self, SheetCode, SheetError};

/// Working resolution for detection, in dpi: the printed code's 1.3–1.8 mm modules are 4–5
/// pixels there, enough for rqrr, and a 300 dpi JPEG page decodes at 1/4 scale.
const WORK_DPI: f32 = 75.0;
/// At or below this share of dark pixels (margins excluded, specks ignored) a page is blank.
/// A single line of 20 letters measures about 0.1 %, three times more; duplex backs with
/// show-through and dust specks measure about 0.
pub const BLANK_INK_MAX: f32 = 0.0003;
/// The smallest QR code (side, in inches) whose failure to decode makes an unreadable sheet;
/// the printed one is 2.5 in (65 mm), and the threshold leaves room for reduced copies.
const MIN_SHEET_QR_INCHES: f32 = 1.2;
/// The smallest module (in inches) of a QR code whose failure makes an unreadable sheet.
/// A sheet's modules are 1.3–1.8 mm (versions 5 to 8 on 65 mm); QR codes printed on
/// documents (invoices, tickets, certificates) have modules of 0.3–0.7 mm.
const MIN_SHEET_MODULE_INCHES: f32 = 0.035;
/// Ignored border, as a share of each dimension: scanner edges and punched holes.
const MARGIN: f32 = 0.05;

/// What was decided for one page.
#[derive(Debug, Clone, PartialEq)]
pub enum PageFinding {
    /// A good guichet sheet.
    Sheet(SheetCode),
    /// A blank page (a duplex back), dropped; `ink` is the measured share of dark pixels.
    Blank {
        /// Share of dark pixels, 0 to 1.
        ink: f32,
    },
    /// A page of a document.
    Content,
    /// A sheet-sized QR code that cannot be read or verified.
    UnreadableSheet(SheetFailure),
}

/// Why a sheet-like code was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SheetFailure {
    /// QR finder patterns were found but the payload could not be decoded.
    Undecodable,
    /// Decoded, with guichet's prefix, but not well formed.
    Malformed,
    /// Decoded and well formed, but the tag does not match: misread or forged.
    BadTag,
}

impl SheetFailure {
    /// A stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            SheetFailure::Undecodable => "undecodable",
            SheetFailure::Malformed => "malformed",
            SheetFailure::BadTag => "bad_tag",
        }
    }
}

/// A document: the pages after a good sheet, up to the next sheet.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// What the sheet says.
    pub code: SheetCode,
    /// The sheet's page (0-based).
    pub sheet_page: usize,
    /// The document's pages (0-based), blanks dropped. Possibly empty (a sheet followed by
    /// nothing); the caller decides what that means.
    pub pages: Vec<usize>,
}

/// Pages that cannot be attributed to a dossier.
#[derive(Debug, Clone, PartialEq)]
pub struct Unmatched {
    /// The pages (0-based), blanks dropped. For an unreadable or forged sheet, the sheet's
    /// own page comes first, so that staff see it.
    pub pages: Vec<usize>,
    /// Why.
    pub reason: UnmatchedReason,
}

/// Why pages are unmatched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnmatchedReason {
    /// Content before the batch's first sheet.
    BeforeFirstSheet,
    /// After a sheet whose code could not be read.
    UnreadableSheet,
    /// After a sheet whose tag does not match.
    ForgedSheet,
}

impl UnmatchedReason {
    /// A stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            UnmatchedReason::BeforeFirstSheet => "before_first_sheet",
            UnmatchedReason::UnreadableSheet => "unreadable_sheet",
            UnmatchedReason::ForgedSheet => "forged_sheet",
        }
    }

    /// A message for staff, in French.
    pub fn message(&self) -> &'static str {
        match self {
            UnmatchedReason::BeforeFirstSheet => {
                "Pages placées avant la première feuille de couverture du lot : à classer à la main."
            }
            UnmatchedReason::UnreadableSheet => {
                "Le code de la feuille de couverture n'a pas pu être lu : vérifiez la feuille et classez ces pages à la main."
            }
            UnmatchedReason::ForgedSheet => {
                "Le code de la feuille de couverture ne porte pas une signature valide (feuille altérée ou contrefaite) : ces pages ne sont classées dans aucun dossier."
            }
        }
    }
}

/// The split of a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// One finding per page, in order.
    pub pages: Vec<PageFinding>,
    /// The measured ink of each page (share of dark pixels), `None` where the page image
    /// could not be decoded.
    pub ink: Vec<Option<f32>>,
    /// Segments, in order.
    pub segments: Vec<Segment>,
    /// Pages that cannot be attributed, in order.
    pub unmatched: Vec<Unmatched>,
}

/// Splits `batch`, checking sheet codes under `secret`.
pub fn split(batch: &Batch, secret: &[u8]) -> Split {
    split_with_keys(batch, &[secret])
}

/// Splits `batch`, checking sheet codes under the current secret, then under each previous
/// one (see [`sheet::decode_any`]).
///
/// Pages are decoded and searched in parallel, one a core; each page's image is read from the
/// batch only when its turn comes, so the pages in memory at any time are the few being
/// decoded, whatever the size of the batch. Findings keep the pages' order.
///
/// The work runs on a pool of its own (one thread a core, made once), not on rayon's global
/// pool: the JPEG decoder spreads each image over the pool it is called from, and other work
/// of the process that decodes JPEG images (upload checks) must not queue behind a batch.
pub fn split_with_keys(batch: &Batch, secrets: &[&[u8]]) -> Split {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    let pool = POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("scanners-split-{i}"))
            .build()
            .ok()
    });
    let analyse_all = || -> Vec<(PageFinding, Option<f32>)> {
        (0..batch.pages.len())
            .into_par_iter()
            .map(|i| analyse(batch, &batch.pages[i], secrets))
            .collect()
    };
    let analysed = match pool {
        Some(pool) => pool.install(analyse_all),
        None => analyse_all(),
    };
    let (pages, ink) = analysed.into_iter().unzip();
    assemble(pages, ink)
}

/// Groups pages by the findings.
fn assemble(pages: Vec<PageFinding>, ink: Vec<Option<f32>>) -> Split {
    enum Current {
        None,
        Segment(usize),
        Unmatched(usize),
    }
    let mut segments: Vec<Segment> = Vec::new();
    let mut unmatched: Vec<Unmatched> = Vec::new();
    let mut current = Current::None;
    for (i, finding) in pages.iter().enumerate() {
        match finding {
            PageFinding::Sheet(code) => {
                segments.push(Segment {
                    code: code.clone(),
                    sheet_page: i,
                    pages: Vec::new(),
                });
                current = Current::Segment(segments.len() - 1);
            }
            PageFinding::UnreadableSheet(failure) => {
                let reason = match failure {
                    SheetFailure::BadTag => UnmatchedReason::ForgedSheet,
                    _ => UnmatchedReason::UnreadableSheet,
                };
                unmatched.push(Unmatched {
                    pages: vec![i],
                    reason,
                });
                current = Current::Unmatched(unmatched.len() - 1);
            }
            PageFinding::Blank { .. } => {}
            PageFinding::Content => match current {
                Current::Segment(s) => segments[s].pages.push(i),
                Current::Unmatched(u) => unmatched[u].pages.push(i),
                Current::None => {
                    unmatched.push(Unmatched {
                        pages: vec![i],
                        reason: UnmatchedReason::BeforeFirstSheet,
                    });
                    current = Current::Unmatched(unmatched.len() - 1);
                }
            },
        }
    }
    Split {
        pages,
        ink,
        segments,
        unmatched,
    }
}

/// The decision for one page, and its ink.
pub(crate) fn analyse(batch: &Batch, page: &Page, secrets: &[&[u8]]) -> (PageFinding, Option<f32>) {
    // A sheet put into the batch as a PDF page says its code as text, tag included.
    if let Some(text) = &page.sheet_text {
        let finding = match sheet::decode_any(text, secrets) {
            Ok(code) => PageFinding::Sheet(code),
            Err(SheetError::BadTag) => PageFinding::UnreadableSheet(SheetFailure::BadTag),
            Err(_) => PageFinding::UnreadableSheet(SheetFailure::Malformed),
        };
        return (finding, None);
    }
    let Some(image) = &page.image else {
        return (PageFinding::Content, None);
    };
    let Ok(data) = batch.data_of(image) else {
        return (PageFinding::Content, None);
    };
    let width_pt = page.media_box[2] - page.media_box[0];
    // The decoders are maintained crates fed with hostile data: a panic in one of them makes
    // the page undecodable rather than taking the batch down.
    let decode = |dpi: f32| {
        std::panic::catch_unwind(|| raster::decode(image, &data, width_pt, dpi, 256 << 20))
            .unwrap_or_else(|_| Err("décodage interrompu".into()))
    };
    let Ok(gray) = decode(WORK_DPI) else {
        // Nothing can be said of a page that does not decode: it stays with its document.
        return (PageFinding::Content, None);
    };
    let ink = ink(&gray);
    if ink <= BLANK_INK_MAX {
        return (PageFinding::Blank { ink }, Some(ink));
    }
    let finding = match find_sheet(&gray, secrets) {
        Search::Found(code) => PageFinding::Sheet(code),
        Search::None => PageFinding::Content,
        // On a page drawn from several images (strips, layers) the one searched is only part
        // of the page: a code cut across two images cannot decode, and says nothing of a
        // sheet. Sheets are scanned pages, one image each.
        Search::Failed(SheetFailure::Undecodable) if !page.single_image => PageFinding::Content,
        Search::Failed(first) => match decode(WORK_DPI * 2.0).map(|g| find_sheet(&g, secrets)) {
            Ok(Search::Found(code)) => PageFinding::Sheet(code),
            Ok(Search::Failed(again)) => PageFinding::UnreadableSheet(again),
            _ => PageFinding::UnreadableSheet(first),
        },
    };
    (finding, Some(ink))
}

enum Search {
    Found(SheetCode),
    Failed(SheetFailure),
    None,
}

fn find_sheet(gray: &Gray, secrets: &[&[u8]]) -> Search {
    let black = threshold(gray);
    let mut prepared =
        PreparedImage::prepare_from_bitmap(gray.w, gray.h, |x, y| black[y * gray.w + x]);
    let mut failure = None;
    let mut saw_other = false;
    for grid in prepared.detect_grids() {
        let b = grid.bounds;
        let side = |i: usize, j: usize| {
            let (dx, dy) = ((b[i].x - b[j].x) as f32, (b[i].y - b[j].y) as f32);
            (dx * dx + dy * dy).sqrt()
        };
        let inches = side(0, 1).max(side(1, 2)) / gray.dpi;
        let modules = grid.grid.size().max(21) as f32;
        let sheet_sized =
            inches >= MIN_SHEET_QR_INCHES && inches / modules >= MIN_SHEET_MODULE_INCHES;
        let result = grid
            .decode()
            .map(|(_, text)| sheet::decode_any(&text, secrets));
        let this = match result {
            Ok(Ok(code)) => return Search::Found(code),
            Ok(Err(SheetError::NotOurs)) => {
                saw_other = true;
                None
            }
            Ok(Err(SheetError::Malformed)) => Some(SheetFailure::Malformed),
            Ok(Err(SheetError::BadTag)) => Some(SheetFailure::BadTag),
            Err(_) if sheet_sized => Some(SheetFailure::Undecodable),
            Err(_) => None,
        };
        // A decoded but refused code says more than an undecodable one.
        if this.is_some() && failure.is_none_or(|f| f == SheetFailure::Undecodable) {
            failure = this;
        }
    }
    // A page that carries someone else's QR codes is a document page. With several codes
    // side by side, the detector also pairs finder patterns of different codes into grids that
    // cannot decode; those say nothing of a sheet (a sheet carries only its own code).
    if saw_other && failure == Some(SheetFailure::Undecodable) {
        return Search::None;
    }
    failure.map_or(Search::None, Search::Failed)
}

/// Black and white by rqrr's own adaptive threshold (a pixel is black when darker than 95 %
/// of the average of the eighth of a row around it, the averages running in both directions),
/// computed without its per-pixel divisions, which made it a fifth of the time spent on a
/// page: divisions by the window become multiplications by its reciprocal, exact for the
/// values at stake, and the comparison is made without dividing.
pub(crate) fn threshold(gray: &Gray) -> Vec<bool> {
    let (w, h) = (gray.w, gray.h);
    let s = (w / 8).max(1) as u64;
    // `avg * (s - 1) / s` as one multiplication by `(s - 1) / s` in 40-bit fixed point: exact
    // while `avg * (s - 1) * s < 2^40`, which holds for the running averages (at most 255 * s)
    // when s <= 256 (pictures up to 2,055 pixels wide); wider ones divide.
    let factor = (s - 1) * ((1u64 << 40) / s + 1);
    let fast = s <= 256;
    let decay = |avg: u64| {
        if fast {
            (avg * factor) >> 40
        } else {
            avg * (s - 1) / s
        }
    };
    let mut black = vec![false; w * h];
    let mut row_average = vec![0u64; w];
    let (mut avg_v, mut avg_u) = (0u64, 0u64);
    for y in 0..h {
        let row = &gray.px[y * w..(y + 1) * w];
        row_average.fill(0);
        for x in 0..w {
            let (v, u) = if y % 2 == 0 {
                (w - 1 - x, x)
            } else {
                (x, w - 1 - x)
            };
            avg_v = decay(avg_v) + row[v] as u64;
            avg_u = decay(avg_u) + row[u] as u64;
            row_average[v] += avg_v;
            row_average[u] += avg_u;
        }
        // `px < avg * 95 / (200 s)`, that is `(px + 1) * 200 s <= avg * 95`.
        for ((out, &px), &avg) in black[y * w..(y + 1) * w]
            .iter_mut()
            .zip(row)
            .zip(&row_average)
        {
            *out = (px as u64 + 1) * 200 * s <= avg * 95;
        }
    }
    black
}

/// Share of dark pixels inside the margins, counting a dark pixel only when a neighbour to
/// its right or below is dark too: isolated specks of scanner noise do not count, strokes do.
pub(crate) fn ink(gray: &Gray) -> f32 {
    const DARK: u8 = 140;
    let (mx, my) = (
        (gray.w as f32 * MARGIN) as usize,
        (gray.h as f32 * MARGIN) as usize,
    );
    let (x0, x1, y0, y1) = (
        mx,
        gray.w.saturating_sub(mx + 1),
        my,
        gray.h.saturating_sub(my + 1),
    );
    if x1 <= x0 || y1 <= y0 {
        return 0.0;
    }
    let mut dark = 0usize;
    for y in y0..y1 {
        let row = &gray.px[y * gray.w..(y + 1) * gray.w];
        let below = &gray.px[(y + 1) * gray.w..(y + 2) * gray.w];
        for x in x0..x1 {
            if row[x] < DARK && (row[x + 1] < DARK || below[x] < DARK) {
                dark += 1;
            }
        }
    }
    dark as f32 / ((x1 - x0) * (y1 - y0)) as f32
}

/// One PDF made of `pages` of `batch`, each carrying its original image stream (same filter,
/// same bytes), on a page of the source page's size (or, for a TIFF, the image's size at its
/// resolution), with the source page's rotation. A PDF page that is not a single image is
/// copied whole from the source.
pub fn segment_pdf(batch: &Batch, pages: &[usize]) -> Result<Vec<u8>, BatchError> {
    crate::rebuild::segment_pdf(batch, pages)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(d: &str) -> SheetCode {
        SheetCode {
            campaign: "c".into(),
            dossier: d.into(),
            piece: None,
        }
    }

    #[test]
    fn assembles_segments_and_unmatched() {
        use PageFinding::*;
        let pages = vec![
            Content,
            Blank { ink: 0.0 },
            Sheet(code("A")),
            Content,
            Blank { ink: 0.0 },
            Content,
            Sheet(code("B")),
            UnreadableSheet(SheetFailure::Undecodable),
            Content,
            Sheet(code("C")),
            UnreadableSheet(SheetFailure::BadTag),
            Content,
        ];
        let n = pages.len();
        let split = assemble(pages, vec![None; n]);
        let summary: Vec<(String, usize, Vec<usize>)> = split
            .segments
            .iter()
            .map(|s| (s.code.dossier.clone(), s.sheet_page, s.pages.clone()))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("A".into(), 2, vec![3, 5]),
                ("B".into(), 6, vec![]),
                ("C".into(), 9, vec![]),
            ]
        );
        assert_eq!(
            split.unmatched,
            vec![
                Unmatched {
                    pages: vec![0],
                    reason: UnmatchedReason::BeforeFirstSheet
                },
                Unmatched {
                    pages: vec![7, 8],
                    reason: UnmatchedReason::UnreadableSheet
                },
                Unmatched {
                    pages: vec![10, 11],
                    reason: UnmatchedReason::ForgedSheet
                },
            ]
        );
        assert_eq!(UnmatchedReason::ForgedSheet.code(), "forged_sheet");
    }

    #[test]
    fn threshold_is_rqrrs_own() {
        // rqrr's adaptive threshold, as it writes it, with its divisions.
        fn reference(gray: &Gray) -> Vec<bool> {
            let (w, h) = (gray.w, gray.h);
            let s = (w / 8).max(1);
            let mut out = vec![false; w * h];
            let mut row_average = vec![0usize; w];
            let (mut avg_v, mut avg_u) = (0usize, 0usize);
            for y in 0..h {
                row_average.fill(0);
                for x in 0..w {
                    let (v, u) = if y % 2 == 0 {
                        (w - 1 - x, x)
                    } else {
                        (x, w - 1 - x)
                    };
                    avg_v = avg_v * (s - 1) / s + gray.px[y * w + v] as usize;
                    avg_u = avg_u * (s - 1) / s + gray.px[y * w + u] as usize;
                    row_average[v] += avg_v;
                    row_average[u] += avg_u;
                }
                for x in 0..w {
                    out[y * w + x] =
                        (gray.px[y * w + x] as usize) < row_average[x] * (100 - 5) / (200 * s);
                }
            }
            out
        }
        for (w, h) in [(1, 3), (7, 5), (300, 40), (640, 30), (2100, 4)] {
            let mut seed = 0x2545_f491_u32;
            let px = (0..w * h)
                .map(|i| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    // Paper, ink and everything between, in patches.
                    match (i / 37) % 3 {
                        0 => 230 + (seed % 26) as u8,
                        1 => (seed % 60) as u8,
                        _ => seed as u8,
                    }
                })
                .collect();
            let g = Gray {
                w,
                h,
                px,
                dpi: 75.0,
            };
            assert_eq!(threshold(&g), reference(&g), "{w}x{h}");
        }
    }

    #[test]
    fn ink_ignores_specks_and_margins() {
        let (w, h) = (200, 300);
        let mut px = vec![255u8; w * h];
        // Isolated specks everywhere, a black border in the margin.
        for i in (0..w * h).step_by(97) {
            px[i] = 0;
        }
        for y in 0..h {
            px[y * w] = 0;
            px[y * w + 1] = 0;
        }
        let g = Gray {
            w,
            h,
            px,
            dpi: 100.0,
        };
        assert!(ink(&g) <= BLANK_INK_MAX, "{}", ink(&g));
        let mut g = g;
        for y in 100..110 {
            for x in 50..150 {
                g.px[y * w + x] = 20;
            }
        }
        assert!(ink(&g) > 0.01);
    }
}
