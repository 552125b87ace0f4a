//! Pure checks of guichet: bytes in, verdict out.
//!
//! [`detect`] names the kind of a content from its bytes (never from its name); [`validate`]
//! verifies it in depth (PDF parsed with `lopdf`, images decoded with `image` under pixel and
//! memory limits), compares it with what the sender declared and with the piece's [`Policy`],
//! and returns a [`Verdict`]: refused when it has [`Verdict::reasons`], each a stable
//! [`ReasonCode`] with a French message for the candidate.
//!
//! Invariants: no I/O, no async, no panic on any input (decoders run under `catch_unwind` as a
//! last line of defence), every limit of [`Limits`] enforced while parsing, where the parser
//! allows it, rather than after. The one exception is [`clamd`] (feature `clamd`), the async
//! client of the ClamAV daemon that the pipeline's scan step uses.

mod ccitt;
#[cfg(feature = "clamd")]
pub mod clamd;
mod clock;
mod declared;
mod detect;
mod gif;
mod guard;
mod heif;
mod jpeg;
pub mod mapped;
mod pdf;
mod png_profile;
mod polyglot;
mod raster;
mod reason;
mod tiff;

use dossiers::Kind;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use declared::Declared;
pub use detect::{Detected, HEADER_SEARCH_WINDOW, detect};
pub use heif::{DISPLAY_MAX_SIDE, display_copy};
pub use reason::{Reason, ReasonCode, reasons_document_markdown, reasons_table_markdown};

/// What a piece accepts (from the campaign's piece definition).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Accepted kinds; `None` accepts any kind guichet supports.
    pub accept: Option<Vec<Kind>>,
    /// Largest accepted size in bytes.
    pub max_bytes: Option<u64>,
    /// Most pages accepted (PDF pages, TIFF pages; other images count one).
    pub max_pages: Option<u32>,
}

/// Safety limits of the verification itself, whatever the piece: they bound the time and
/// memory spent on one document. Loadable from configuration; missing keys take the default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Most pixels of an image file (width × height), checked from the header before it is
    /// decoded whole. Default 100 Mpx (an A4 page scanned at 1200 dpi is 140 Mpx; at 600 dpi,
    /// 35 Mpx). Images inside a PDF, never decoded whole, are judged by `max_image_bytes` and
    /// `max_pdf_image_pixels` instead.
    pub max_pixels: u64,
    /// Longest side of an image, in pixels. Default 40 000.
    pub max_image_side: u32,
    /// Most memory a decoder may allocate for one image, in bytes. Default 1 GiB.
    pub max_image_alloc: u64,
    /// Shortest readable side of an image, in pixels; below it the image is refused as too
    /// small to read. Default 100; 0 disables the check.
    pub min_image_side: u32,
    /// Most indirect objects in a PDF. Default 500 000.
    pub max_pdf_objects: usize,
    /// Most values in one PDF object, nested arrays and dictionaries included. Default 100 000
    /// (the largest objects of real documents, structure-tree or font-width arrays, hold a few
    /// thousand).
    pub max_pdf_object_values: usize,
    /// Deepest nesting of arrays and dictionaries in a PDF object, and of the page tree.
    /// Default 64.
    pub max_nesting: usize,
    /// Most pages in a PDF or TIFF, whatever the piece allows. Default 5 000.
    pub max_pdf_pages: u32,
    /// Most bytes one PDF stream may inflate to when it is decoded. Default 256 MiB.
    pub max_stream_bytes: usize,
    /// Most bytes all decoded PDF page contents may add up to. Default 1 GiB.
    pub max_decoded_bytes: u64,
    /// Most frames decoded from a TIFF. Default 512.
    pub max_frames: u32,
    /// Accept a PDF that reads only after repair (broken cross-reference data, wrong offsets,
    /// lengths and object counts), with the note `pdf_repaired`, when the repair lost nothing
    /// (its trailer holds, every object it uses is found, its contents read whole) and every
    /// other check passes. Default `true`; `false` refuses every repaired file as
    /// `pdf_malformed` (or `pdf_truncated`), asking the candidate for a fresh export.
    pub accept_repaired_pdf: bool,
    /// Accept a PDF form whose only JavaScript sits on its fields' keystroke, format, validate
    /// and calculate triggers (official forms format amounts and dates this way), with the note
    /// `pdf_form_scripts`. Default `false`: any JavaScript refuses (`pdf_javascript`), since
    /// Acrobat runs format and calculate scripts when it draws the form.
    pub accept_form_scripts: bool,
    /// Most bytes one image of a PDF may decode to (width × height × components × bits / 8),
    /// from its dictionary (or a JPEG's own header), before anything is decoded; the checks
    /// never decode it whole. Default 2 GiB: an A0 sheet in colour at 600 dpi is 1.7 GB, a
    /// 1-bit A0 page at 600 dpi 70 MB. (`max_pixels` applies to image files, which are decoded
    /// whole.)
    pub max_image_bytes: u64,
    /// Most pixels one image of a PDF may have. Default 1 000 000 000: an A0 sheet at 600 dpi
    /// is 560 Mpx; beyond, no scanner's page, but a bomb for every renderer.
    pub max_pdf_image_pixels: u64,
    /// Content above this size (bytes) is verified with bounded memory: read through a
    /// memory map rather than copied, and, for PDFs, loaded without the data of images and
    /// embedded files, which no check reads. Default 32 MiB.
    pub large_content_bytes: u64,
    /// Most bytes an inline image of a PDF (`BI` … `EI` in a content stream) may decode to.
    /// Default 1 MiB: the PDF specification advises 4 KB; producers put logos and glyphs
    /// there, never scans.
    pub max_inline_image_bytes: u64,
    /// Most time one verification may take, in milliseconds; once it is spent, the checks stop
    /// and the content is refused (`pdf_too_complex` for a PDF, `image_too_large` for an
    /// image). 0 sets no limit. Default 60 000: the slowest real document of the corpus takes
    /// under half a second.
    pub max_verify_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_pixels: 100_000_000,
            max_image_side: 40_000,
            max_image_alloc: 1 << 30,
            min_image_side: 100,
            max_pdf_objects: 500_000,
            max_pdf_object_values: 100_000,
            max_nesting: 64,
            max_pdf_pages: 5_000,
            max_stream_bytes: 256 << 20,
            max_decoded_bytes: 1 << 30,
            max_frames: 512,
            accept_repaired_pdf: true,
            accept_form_scripts: false,
            max_image_bytes: 2 << 30,
            max_pdf_image_pixels: 1_000_000_000,
            large_content_bytes: 32 << 20,
            max_inline_image_bytes: 1 << 20,
            max_verify_ms: 60_000,
        }
    }
}

/// The machine's result on one content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// The detected type's name (`pdf`, `jpeg`..., or `docx`, `elf`, `unknown`...).
    pub kind: String,
    /// The detected media type.
    pub mime: String,
    /// SHA-256 of the content, lowercase hex.
    pub sha256: String,
    pub size: u64,
    /// Pages of a PDF or TIFF; 1 for other images; `None` when not known.
    pub pages: Option<u32>,
    /// Dimensions of an image (the first page of a TIFF).
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Why the document is refused; empty when it is accepted.
    pub reasons: Vec<Reason>,
    /// Observations that do not refuse it (a repaired PDF, an uninformative name...).
    pub notes: Vec<Reason>,
}

impl Verdict {
    /// Whether the document passed every check.
    pub fn accepted(&self) -> bool {
        self.reasons.is_empty()
    }

    /// Whether one of the reasons has this code.
    pub fn has_reason(&self, code: ReasonCode) -> bool {
        self.reasons.iter().any(|r| r.code == code)
    }

    /// The detected kind, if one guichet knows.
    pub fn detected_kind(&self) -> Option<Kind> {
        self.kind.parse().ok()
    }
}

/// What an in-depth check of one kind found.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    pub pages: Option<u32>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub reasons: Vec<Reason>,
    pub notes: Vec<Reason>,
}

impl Findings {
    pub(crate) fn refuse(&mut self, code: ReasonCode, detail: impl Into<String>) {
        self.reasons.push(Reason::with_detail(code, detail));
    }

    pub(crate) fn note(&mut self, code: ReasonCode, detail: impl Into<String>) {
        self.notes.push(Reason::with_detail(code, detail));
    }

    pub(crate) fn refused(&self) -> bool {
        !self.reasons.is_empty()
    }
}

/// Verifies `content` against what was declared, the piece's policy and the safety limits.
pub fn validate(content: &[u8], declared: &Declared, policy: &Policy, limits: &Limits) -> Verdict {
    let sha256 = hex::encode(Sha256::digest(content));
    validate_digested(content, sha256, declared, policy, limits)
}

/// [`validate`] on a file, with bounded memory: content above `limits.large_content_bytes`
/// is read through a memory map ([`mapped`]) instead of being copied into memory. `sha256`
/// is the content's digest when the caller already has it (computed while receiving), else
/// it is computed here while reading.
pub fn validate_file(
    path: &std::path::Path,
    sha256: Option<String>,
    declared: &Declared,
    policy: &Policy,
    limits: &Limits,
) -> std::io::Result<Verdict> {
    let size = std::fs::metadata(path)?.len();
    if size <= limits.large_content_bytes {
        let content = std::fs::read(path)?;
        let sha256 = sha256.unwrap_or_else(|| hex::encode(Sha256::digest(&content)));
        return Ok(validate_digested(
            &content, sha256, declared, policy, limits,
        ));
    }
    let content = mapped::MappedFile::open(path)?;
    let sha256 = match sha256 {
        Some(sha256) => sha256,
        None => {
            let mut hasher = Sha256::new();
            mapped::scan_windows::<()>(&content, 0, |window, _| {
                hasher.update(window);
                None
            });
            hex::encode(hasher.finalize())
        }
    };
    let verdict = validate_digested(&content, sha256, declared, policy, limits);
    mapped::release_pages();
    Ok(verdict)
}

/// [`validate`] on content whose digest the caller computed already (while receiving it).
pub fn validate_digested(
    content: &[u8],
    sha256: String,
    declared: &Declared,
    policy: &Policy,
    limits: &Limits,
) -> Verdict {
    let (mut verdict, found) = first_look(content, content.len() as u64, sha256, declared, policy);
    let Some(kind) = found.kind.filter(|_| !content.is_empty()) else {
        if !content.is_empty() {
            scan_for_script(content, &mut verdict.reasons);
        }
        return verdict;
    };

    let clock = clock::start(limits.max_verify_ms);
    let mut findings = match kind {
        Kind::Pdf => pdf::check(&content[found.offset..], limits),
        Kind::Heic | Kind::Avif => heif::check(kind, content, limits),
        Kind::Jp2 => {
            let mut f = Findings::default();
            f.refuse(
                ReasonCode::KindNotSupported,
                format!("{kind}: guichet cannot decode this kind to verify it"),
            );
            f
        }
        _ => raster::check(kind, content, limits),
    };
    if clock::over() {
        let code = if kind == Kind::Pdf {
            ReasonCode::PdfTooComplex
        } else {
            ReasonCode::ImageTooLarge
        };
        findings.refuse(
            code,
            format!(
                "verification stopped after {} ms (limits.max_verify_ms)",
                limits.max_verify_ms
            ),
        );
    }
    drop(clock);
    if kind != Kind::Pdf {
        scan_for_script(content, &mut verdict.reasons);
        scan_for_hidden_file(content, &mut verdict.reasons);
    }
    scan_for_zip(content, &mut verdict.reasons);

    verdict.pages = findings.pages;
    verdict.width = findings.width;
    verdict.height = findings.height;
    verdict.reasons.extend(findings.reasons);
    verdict.notes.extend(findings.notes);

    if let (Some(max), Some(pages)) = (policy.max_pages, verdict.pages)
        && pages > max
    {
        verdict.reasons.push(Reason::with_detail(
            ReasonCode::TooManyPages,
            format!("{pages} pages, the piece allows {max}"),
        ));
    }
    dedup(&mut verdict.reasons);
    verdict
}

/// The reason for content that is not one of the kinds.
/// The verdict on what the first bytes alone can tell, for content too large to load at
/// once: `Some` rejection when its kind, name or size already refuse it, `None` when it
/// needs the full verification of [`validate`]. `head` is the start of the content (a few
/// KiB suffice), `size` its whole length and `sha256` its digest, computed while receiving.
pub fn prescreen(
    head: &[u8],
    size: u64,
    sha256: String,
    declared: &Declared,
    policy: &Policy,
) -> Option<Verdict> {
    let (verdict, _) = first_look(head, size, sha256, declared, policy);
    (!verdict.accepted()).then_some(verdict)
}

/// The checks shared by [`validate`] and [`prescreen`]: emptiness, size, the declared name
/// and type against the content, bytes before the signature, the kind and the piece's kinds.
fn first_look(
    head: &[u8],
    size: u64,
    sha256: String,
    declared: &Declared,
    policy: &Policy,
) -> (Verdict, Detected) {
    let found = detect(head);
    let mut verdict = Verdict {
        kind: found.name.clone(),
        mime: found.mime.clone(),
        sha256,
        size,
        pages: None,
        width: None,
        height: None,
        reasons: Vec::new(),
        notes: Vec::new(),
    };
    if size == 0 {
        verdict.reasons.push(Reason::new(ReasonCode::Empty));
        return (verdict, found);
    }
    if let Some(max) = policy.max_bytes
        && size > max
    {
        verdict.reasons.push(Reason::with_detail(
            ReasonCode::TooLarge,
            format!("{size} bytes, the piece allows {max}"),
        ));
    }

    let (mismatch, name_notes) = declared::check(declared, &found);
    verdict.reasons.extend(mismatch);
    verdict.notes.extend(name_notes);

    if found.offset > 0 {
        verdict.reasons.push(Reason::with_detail(
            ReasonCode::DataBeforeHeader,
            format!("{} bytes before the {} signature", found.offset, found.name),
        ));
    }

    match found.kind {
        None => verdict.reasons.push(unhandled_type(&found)),
        Some(kind) => {
            if let Some(accept) = &policy.accept
                && !accept.contains(&kind)
            {
                let names: Vec<&str> = accept.iter().map(|k| k.name()).collect();
                verdict.reasons.push(Reason::with_detail(
                    ReasonCode::KindNotAccepted,
                    format!("found {kind}, the piece accepts {}", names.join(", ")),
                ));
            }
        }
    }
    (verdict, found)
}

fn unhandled_type(found: &Detected) -> Reason {
    if found.executable {
        Reason::with_detail(ReasonCode::Executable, format!("found {}", found.name))
    } else if matches!(found.name.as_str(), "unknown" | "text") {
        Reason::with_detail(ReasonCode::KindUnknown, format!("found {}", found.name))
    } else {
        Reason::with_detail(
            ReasonCode::KindNotSupported,
            format!("found {} ({})", found.name, found.mime),
        )
    }
}

/// Script markers that have no business in an image or an unhandled file: PHP openers and
/// HTML script tags (web-shell uploads hide them in image metadata).
fn scan_for_script(content: &[u8], reasons: &mut Vec<Reason>) {
    const MARKERS: [&[u8]; 2] = [b"<?php", b"<script"];
    for marker in MARKERS {
        if let Some(at) = find_anywhere(content, marker) {
            reasons.push(Reason::with_detail(
                ReasonCode::EmbeddedScript,
                format!("`{}` at byte {at}", String::from_utf8_lossy(marker)),
            ));
            return;
        }
    }
}

/// A ZIP archive that opens from the content: ZIP readers find an archive from its end, so one
/// appended to an image (a JAR after a GIF, a web shell's archive after a JPEG) makes a file
/// that is both. `zip` opens it as `unzip` or Java would.
fn scan_for_zip(content: &[u8], reasons: &mut Vec<Reason>) {
    if let Ok(archive) = zip::ZipArchive::new(std::io::Cursor::new(content)) {
        reasons.push(Reason::with_detail(
            ReasonCode::Polyglot,
            format!("a ZIP archive of {} entries opens from it", archive.len()),
        ));
    }
}

/// The first position of `marker` in `content`, whatever the case of its letters; searched in
/// windows, so that a scan over a large mapped file keeps few pages resident.
fn find_anywhere(content: &[u8], marker: &[u8]) -> Option<usize> {
    let first = marker.first()?;
    let (lower, upper) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    mapped::scan_windows(content, marker.len(), |window, offset| {
        memchr::memchr2_iter(lower, upper, window)
            .find(|&i| {
                window
                    .get(i..i + marker.len())
                    .is_some_and(|w| w.eq_ignore_ascii_case(marker))
            })
            .map(|i| offset + i)
    })
}

/// The stub every Windows program starts with.
const DOS_STUB: &[u8] = b"This program cannot be run in DOS mode";

/// Another file in an image: a PDF header within the first
/// [`detect::HEADER_SEARCH_WINDOW`] bytes (PDF readers look for it there, so they open the
/// image as a PDF), a whole PDF further on (a header, then an end-of-file marker), or a Windows
/// program. Each marker is long enough that compressed pixels do not write it by chance.
fn scan_for_hidden_file(content: &[u8], reasons: &mut Vec<Reason>) {
    let pdf = find_anywhere(content, b"%PDF-");
    let hidden = match pdf {
        Some(at) if at < HEADER_SEARCH_WINDOW => Some(format!(
            "a PDF header at byte {at}: PDF readers open it as a PDF"
        )),
        Some(at) if find_anywhere(&content[at..], b"%%EOF").is_some() => {
            Some(format!("a PDF document from byte {at}"))
        }
        _ => find_anywhere(content, DOS_STUB).map(|at| format!("a Windows program at byte {at}")),
    };
    if let Some(detail) = hidden {
        reasons.push(Reason::with_detail(ReasonCode::Polyglot, detail));
    }
}

/// Keeps the first reason of each code (details of later ones are dropped).
fn dedup(reasons: &mut Vec<Reason>) {
    let mut seen = std::collections::HashSet::new();
    reasons.retain(|r| seen.insert(r.code));
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn png(width: u32, height: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        });
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png)
            .expect("encode png");
        out.into_inner()
    }

    fn zip_archive() -> Vec<u8> {
        use std::io::Write;
        let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        out.start_file("payload.jsp", zip::write::SimpleFileOptions::default())
            .expect("zip entry");
        out.write_all(b"<% Runtime.getRuntime() %>")
            .expect("zip data");
        out.finish().expect("zip").into_inner()
    }

    #[test]
    fn a_verification_that_outlasts_its_time_is_refused_once_saying_so() {
        let check = |bytes: &[u8], max_verify_ms| {
            let limits = Limits {
                max_verify_ms,
                ..Limits::default()
            };
            validate(bytes, &Declared::default(), &Policy::default(), &limits)
        };
        // Thousands of pages, a large image: far more than a millisecond of work, and well
        // within the default limit.
        for (content, code) in [
            (
                crate::pdf::tests::pdf_of_pages(3_000),
                ReasonCode::PdfTooComplex,
            ),
            (png(1_500, 1_500), ReasonCode::ImageTooLarge),
        ] {
            assert!(check(&content, Limits::default().max_verify_ms).accepted());
            assert!(check(&content, 0).accepted(), "0 sets no limit");
            let late = check(&content, 1);
            let codes: Vec<ReasonCode> = late.reasons.iter().map(|r| r.code).collect();
            assert_eq!(codes, vec![code], "{late:?}");
            let detail = late.reasons[0].detail.as_deref().unwrap_or_default();
            assert!(detail.contains("max_verify_ms"), "{detail}");
        }
    }

    #[test]
    fn an_archive_or_a_pdf_hidden_in_an_image_is_a_polyglot() {
        let check = |bytes: &[u8]| {
            validate(
                bytes,
                &Declared::default(),
                &Policy::default(),
                &Limits::default(),
            )
        };
        let clean = png(200, 150);
        assert!(check(&clean).accepted());

        let mut with_zip = clean.clone();
        with_zip.extend_from_slice(&zip_archive());
        let verdict = check(&with_zip);
        assert!(
            verdict.has_reason(ReasonCode::Polyglot),
            "{:?}",
            verdict.reasons
        );

        // A PNG text chunk placed before the image data carries a PDF header.
        let mut with_pdf = clean[..33].to_vec();
        let text = b"Comment\0%PDF-1.7 1 0 obj";
        with_pdf.extend_from_slice(&(text.len() as u32).to_be_bytes());
        let mut chunk = b"tEXt".to_vec();
        chunk.extend_from_slice(text);
        with_pdf.extend_from_slice(&chunk);
        with_pdf.extend_from_slice(&crc32(&chunk).to_be_bytes());
        with_pdf.extend_from_slice(&clean[33..]);
        let verdict = check(&with_pdf);
        assert!(
            verdict.has_reason(ReasonCode::Polyglot),
            "{:?}",
            verdict.reasons
        );
        assert_eq!(verdict.reasons.len(), 1, "{:?}", verdict.reasons);

        // A whole document or a program after the image's end, where no reader looks first.
        let pdf =
            b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
        let mut stub = b"MZ\x90\0".to_vec();
        stub.extend_from_slice(DOS_STUB);
        for (hidden, what) in [(&pdf[..], "PDF document"), (&stub[..], "Windows program")] {
            let mut appended = clean.clone();
            appended.extend_from_slice(hidden);
            let verdict = check(&appended);
            let codes: Vec<ReasonCode> = verdict.reasons.iter().map(|r| r.code).collect();
            assert_eq!(codes, [ReasonCode::Polyglot], "{what}");
            let detail = verdict.reasons[0].detail.as_deref().unwrap_or_default();
            assert!(detail.contains(what), "{detail}");
        }
        // After the image's end nothing is compressed data: a PDF header alone there is
        // already another file's start.
        let mut header_only = clean.clone();
        header_only.extend_from_slice(b"%PDF-1.7 and nothing more");
        assert!(check(&header_only).has_reason(ReasonCode::Polyglot));
    }

    /// The CRC of a PNG chunk (type and data).
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = flate2::Crc::new();
        crc.update(bytes);
        crc.sum()
    }

    #[test]
    fn prescreen_refuses_on_the_head_and_defers_the_rest() {
        let pdf_only = Policy {
            accept: Some(vec![Kind::Pdf]),
            ..Policy::default()
        };
        let head = png(300, 200);
        let refused = prescreen(
            &head[..64],
            200 << 20,
            "ab".repeat(32),
            &Declared::named("x.png"),
            &pdf_only,
        )
        .expect("a PNG where only PDFs go is refused on its head");
        assert!(refused.has_reason(ReasonCode::KindNotAccepted));
        assert_eq!(refused.size, 200 << 20);
        let zip = prescreen(
            b"PK\x03\x04rest",
            1 << 30,
            String::new(),
            &Declared::default(),
            &Policy::default(),
        )
        .expect("an archive is refused on its head");
        assert!(!zip.accepted());
        assert!(
            prescreen(
                b"%PDF-1.7\n",
                1 << 30,
                String::new(),
                &Declared::named("a.pdf"),
                &pdf_only
            )
            .is_none(),
            "a PDF needs the full verification"
        );
    }

    #[test]
    fn empty_is_refused() {
        let v = validate(
            b"",
            &Declared::default(),
            &Policy::default(),
            &Limits::default(),
        );
        assert!(!v.accepted());
        assert!(v.has_reason(ReasonCode::Empty));
        assert_eq!(
            v.sha256,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn a_good_png_is_accepted_and_described() {
        let bytes = png(300, 200);
        let v = validate(
            &bytes,
            &Declared::named("scan.png"),
            &Policy::default(),
            &Limits::default(),
        );
        assert!(v.accepted(), "{:?}", v.reasons);
        assert_eq!((v.kind.as_str(), v.mime.as_str()), ("png", "image/png"));
        assert_eq!(
            (v.width, v.height, v.pages),
            (Some(300), Some(200), Some(1))
        );
        assert_eq!(v.size, bytes.len() as u64);
    }

    #[test]
    fn policy_kind_size_and_name_are_enforced() {
        let bytes = png(300, 200);
        let policy = Policy {
            accept: Some(vec![Kind::Pdf]),
            max_bytes: Some(10),
            max_pages: None,
        };
        let v = validate(
            &bytes,
            &Declared::named("scan.pdf"),
            &policy,
            &Limits::default(),
        );
        for code in [
            ReasonCode::KindNotAccepted,
            ReasonCode::TooLarge,
            ReasonCode::KindMismatch,
        ] {
            assert!(v.has_reason(code), "{code}: {:?}", v.reasons);
        }
        let detail = v
            .reasons
            .iter()
            .find(|r| r.code == ReasonCode::KindNotAccepted);
        assert!(
            detail
                .and_then(|r| r.detail.clone())
                .unwrap_or_default()
                .contains("png")
        );
    }

    #[test]
    fn other_types_get_specific_codes() {
        let l = Limits::default();
        let p = Policy::default();
        let d = Declared::default();
        let elf = validate(
            b"\x7fELF\x01\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x03\0",
            &d,
            &p,
            &l,
        );
        assert!(elf.has_reason(ReasonCode::Executable));
        let zip = validate(b"PK\x03\x04\x14\0\0\0\0\0", &d, &p, &l);
        assert!(zip.has_reason(ReasonCode::KindNotSupported));
        let html = validate(b"<html><script>alert(1)</script></html>", &d, &p, &l);
        assert!(html.has_reason(ReasonCode::KindNotSupported));
        assert!(html.has_reason(ReasonCode::EmbeddedScript));
    }

    #[test]
    fn limits_deserialize_with_defaults() {
        let l: Limits = serde_json::from_str(r#"{"max_pixels": 5}"#).expect("limits");
        assert_eq!(l.max_pixels, 5);
        assert_eq!(l.max_nesting, Limits::default().max_nesting);
    }

    #[test]
    fn verdict_serializes_reasons_as_code_and_message() {
        let v = validate(
            b"",
            &Declared::default(),
            &Policy::default(),
            &Limits::default(),
        );
        let json = serde_json::to_value(&v).expect("serialize");
        assert_eq!(json["reasons"][0]["code"], "empty");
        assert!(
            json["reasons"][0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("vide"))
        );
    }
}
