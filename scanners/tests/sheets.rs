//! A rendered sheet, parsed back and rasterised, is found by `split`; forged and damaged
//! sheets are refused with their reason.

use scanners::generate::{self, Canvas, ImageCoding};
use scanners::split::{PageFinding, SheetFailure, UnmatchedReason};
use scanners::{BatchLimits, SheetCode, read, split};

const SECRET: &[u8] = b"the server secret";

fn batch_of(pages: &[Canvas], coding: ImageCoding) -> scanners::Batch {
    let encoded: Vec<_> = pages
        .iter()
        .map(|p| generate::encode_page(p, coding))
        .collect();
    read(&generate::pdf_batch(&encoded), &BatchLimits::default()).expect("reads")
}

#[test]
fn rendered_sheet_is_found_again() {
    let pdf = generate::sheet_pdf("DEMO-0042", Some("jdc"), SECRET);
    let doc = lopdf::Document::load_mem(&pdf).expect("render() output parses");
    assert_eq!(doc.get_pages().len(), 1);
    let sheet = generate::rasterise_sheet(&pdf, 200).expect("rasterises");
    let content = generate::text_page(200, 9, 1);
    for coding in [ImageCoding::Jpeg, ImageCoding::G4] {
        let split = split(&batch_of(&[sheet.clone(), content.clone()], coding), SECRET);
        let expected = SheetCode {
            campaign: generate::CAMPAIGN.into(),
            dossier: "DEMO-0042".into(),
            piece: Some("jdc".into()),
        };
        assert_eq!(split.pages[0], PageFinding::Sheet(expected));
        assert_eq!(split.pages[1], PageFinding::Content);
        assert_eq!(split.segments.len(), 1);
        assert_eq!(split.segments[0].pages, vec![1]);
        assert!(split.unmatched.is_empty());
    }
}

#[test]
fn sheet_under_another_secret_is_forged() {
    let pdf = generate::sheet_pdf("DEMO-0042", None, b"not the server secret");
    let sheet = generate::rasterise_sheet(&pdf, 200).expect("rasterises");
    let content = generate::text_page(200, 9, 1);
    let split = split(&batch_of(&[sheet, content], ImageCoding::Jpeg), SECRET);
    assert_eq!(
        split.pages[0],
        PageFinding::UnreadableSheet(SheetFailure::BadTag)
    );
    assert!(split.segments.is_empty());
    assert_eq!(split.unmatched.len(), 1);
    assert_eq!(split.unmatched[0].pages, vec![0, 1]);
    assert_eq!(split.unmatched[0].reason, UnmatchedReason::ForgedSheet);
}

#[test]
fn damaged_code_is_an_unreadable_sheet_until_the_next_good_one() {
    let dpi = 200;
    let mut damaged = generate::rasterise_sheet(&generate::sheet_pdf("DEMO-1", None, SECRET), dpi)
        .expect("rasterises");
    // White out the middle of the code, sparing its three finder patterns (corners).
    let s = dpi as f32 / 72.0;
    damaged.fill(360.0 * s, 175.0 * s, 180.0 * s, 90.0 * s, 246);
    let good = generate::rasterise_sheet(&generate::sheet_pdf("DEMO-2", None, SECRET), dpi)
        .expect("rasterises");
    let text = |n| generate::text_page(dpi, 3, n);
    let pages = [damaged, text(1), text(2), good, text(3)];
    let split = split(&batch_of(&pages, ImageCoding::Jpeg), SECRET);
    assert_eq!(
        split.pages[0],
        PageFinding::UnreadableSheet(SheetFailure::Undecodable),
        "{:?}",
        split.pages
    );
    assert_eq!(split.unmatched.len(), 1);
    assert_eq!(split.unmatched[0].pages, vec![0, 1, 2]);
    assert_eq!(split.unmatched[0].reason, UnmatchedReason::UnreadableSheet);
    assert_eq!(split.segments.len(), 1);
    assert_eq!(split.segments[0].code.dossier, "DEMO-2");
    assert_eq!(split.segments[0].pages, vec![4]);
}

#[test]
fn sheets_at_every_orientation_and_small_skew() {
    let sheet = generate::rasterise_sheet(&generate::sheet_pdf("DEMO-7", None, SECRET), 300)
        .expect("rasterises");
    let mut pages = Vec::new();
    for turns in 0..4 {
        for skew in [0.0, 3.0, -3.0] {
            let page = if skew != 0.0 {
                sheet.skewed(skew)
            } else {
                sheet.clone()
            };
            pages.push(page.turned(turns).noisy(turns as u64 + 1, 10, 500));
        }
    }
    for coding in [ImageCoding::Jpeg, ImageCoding::G4] {
        let split = split(&batch_of(&pages, coding), SECRET);
        for (i, finding) in split.pages.iter().enumerate() {
            assert!(
                matches!(finding, PageFinding::Sheet(c) if c.dossier == "DEMO-7"),
                "{coding:?} page {i}: {finding:?}"
            );
        }
    }
}

#[test]
fn hostile_input_is_an_error_not_a_panic() {
    let limits = BatchLimits::default();
    for bytes in [
        &b""[..],
        b"not a batch",
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj trailer << /Root 1 0 R >>",
        b"II*\0\xff\xff\xff\x7f",
        b"MM\0*\0\0\0\x08\0\x01\x01\0\0\x04\0\0\0\x01\xff\xff\xff\xff",
    ] {
        let err = read(bytes, &limits).expect_err("refused");
        assert!(err.code().starts_with("batch_"));
    }
    let pages: Vec<Canvas> = (0..3).map(|n| generate::text_page(100, 1, n)).collect();
    let encoded: Vec<_> = pages
        .iter()
        .map(|p| generate::encode_page(p, ImageCoding::G4))
        .collect();
    let tight = BatchLimits {
        max_pages: 2,
        ..BatchLimits::default()
    };
    for bytes in [
        generate::pdf_batch(&encoded),
        generate::tiff_batch(&encoded),
    ] {
        assert_eq!(
            read(&bytes, &tight).expect_err("too many").code(),
            "batch_too_many_pages"
        );
    }
    let small = BatchLimits {
        max_page_pixels: 1000,
        ..BatchLimits::default()
    };
    assert_eq!(
        read(&generate::tiff_batch(&encoded), &small)
            .expect_err("too large")
            .code(),
        "batch_page_too_large"
    );
}

#[test]
fn blank_backs_are_dropped_and_a_single_short_line_is_kept() {
    let dpi = 200;
    let pt = dpi as f32 / 72.0;
    let back = Canvas::a4(dpi).show_through(5).noisy(5, 12, 400);
    let mut line = Canvas::a4(dpi).noisy(6, 12, 400);
    // One line of 20 letters at 10 pt, as a handwritten "lu et approuvé" would be.
    for i in 0..20 {
        line.fill(200.0 + i as f32 * 5.5 * pt, 600.0, 4.0 * pt, 5.0 * pt, 35);
    }
    for coding in [ImageCoding::Jpeg, ImageCoding::G4] {
        let split = split(&batch_of(&[back.clone(), line.clone()], coding), SECRET);
        assert!(
            matches!(split.pages[0], PageFinding::Blank { ink } if ink <= scanners::split::BLANK_INK_MAX),
            "{coding:?}: {:?}",
            split.pages[0]
        );
        assert_eq!(
            split.pages[1],
            PageFinding::Content,
            "{coding:?} {:?}",
            split.ink
        );
    }
}

/// One PDF of the pages of `pdfs`, in order, as a merging tool (qpdf, pdfunite) makes it.
fn merged(pdfs: &[Vec<u8>]) -> Vec<u8> {
    use lopdf::{Document, Object, dictionary};
    let mut out = Document::with_version("1.7");
    let pages_id = out.new_object_id();
    let mut kids = Vec::new();
    for pdf in pdfs {
        let mut doc = Document::load_mem(pdf).expect("a PDF");
        doc.renumber_objects_with(out.max_id + 1);
        out.max_id = doc.max_id;
        kids.extend(doc.get_pages().into_values().map(Object::Reference));
        out.objects.extend(doc.objects);
    }
    for kid in &kids {
        if let Ok(Object::Dictionary(page)) = out.get_object_mut(kid.as_reference().unwrap()) {
            page.set("Parent", pages_id);
        }
    }
    let count = kids.len() as i64;
    out.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => count }),
    );
    let catalog = out.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    out.trailer.set("Root", catalog);
    let mut bytes = Vec::new();
    out.save_to(&mut bytes).expect("writing to memory");
    bytes
}

/// A born-digital page: a line of text and a small image (a logo).
fn text_and_logo_page() -> Vec<u8> {
    use lopdf::{Document, Object, Stream, dictionary};
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let font = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
    });
    let logo = doc.add_object(Stream::new(
        dictionary! {
            "Type" => "XObject", "Subtype" => "Image", "Width" => 8, "Height" => 8,
            "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8,
        },
        vec![90; 64],
    ));
    let content = doc.add_object(Stream::new(
        dictionary! {},
        b"BT /F1 14 Tf 72 760 Td (Attestation de recensement) Tj ET q 60 0 0 60 72 660 cm /Im1 Do Q"
            .to_vec(),
    ));
    let page = doc.add_object(dictionary! {
        "Type" => "Page",
        "Parent" => pages_id,
        "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        "Contents" => content,
        "Resources" => dictionary! {
            "Font" => dictionary! { "F1" => font },
            "XObject" => dictionary! { "Im1" => logo },
        },
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(
            dictionary! { "Type" => "Pages", "Kids" => vec![page.into()], "Count" => 1 },
        ),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).expect("writing to memory");
    bytes
}

#[test]
fn a_sheet_merged_as_a_pdf_page_is_found_and_born_digital_pages_are_kept_whole() {
    let sheet = generate::sheet_pdf("DEMO-0007", None, SECRET);
    let scanned = generate::pdf_batch(&[generate::encode_page(
        &generate::text_page(200, 3, 1),
        ImageCoding::Jpeg,
    )]);
    let forged = generate::sheet_pdf("DEMO-0008", None, b"another secret");
    let bytes = merged(&[sheet, text_and_logo_page(), scanned, forged]);
    let batch = read(&bytes, &BatchLimits::default()).expect("reads");

    let found = split(&batch, SECRET);
    let expected = SheetCode {
        campaign: generate::CAMPAIGN.into(),
        dossier: "DEMO-0007".into(),
        piece: None,
    };
    assert_eq!(found.pages[0], PageFinding::Sheet(expected));
    assert_eq!(found.pages[1], PageFinding::Content);
    assert_eq!(found.pages[2], PageFinding::Content);
    assert_eq!(
        found.pages[3],
        PageFinding::UnreadableSheet(SheetFailure::BadTag)
    );
    assert_eq!(found.segments.len(), 1);
    assert_eq!(found.segments[0].pages, vec![1, 2]);

    // The born-digital page shows more than its image: it is copied whole, text included;
    // the scanned page is its image alone.
    assert!(!batch.pages[1].single_image);
    assert!(batch.pages[2].single_image);
    let segment = scanners::split::segment_pdf(&batch, &found.segments[0].pages).expect("builds");
    let doc = lopdf::Document::load_mem(&segment).expect("the segment parses");
    let pages = doc.get_pages();
    assert_eq!(pages.len(), 2);
    let first = doc.get_page_content(pages[&1]);
    assert!(
        first
            .windows(b"Attestation de recensement".len())
            .any(|w| w == b"Attestation de recensement"),
        "the text of the born-digital page is kept"
    );
}
