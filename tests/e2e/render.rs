//! `guichet render-pages`, the child process in which `previews` draws pages: documents drawn
//! through the real binary as the server has them drawn (`Isolation::Process`), what comes
//! back over the pipe, and a page that needs more memory than the child may have.

use std::path::{Path, PathBuf};

use ::previews::{Isolation, Limits, RenderError, Rendered, render_file};
use dossiers::Kind;
use lopdf::content::{Content, Operation};
use lopdf::{Document, Object, Stream, dictionary};

use crate::common::repo_root;

fn child_process() -> Isolation {
    Isolation::Process {
        exe: PathBuf::from(env!("CARGO_BIN_EXE_guichet")),
        args: vec!["render-pages".into()],
    }
}

/// The share of the page's pixels darker than mid-grey.
fn dark_share(jpeg: &[u8]) -> f64 {
    let page = image::load_from_memory(jpeg).expect("a JPEG").to_luma8();
    let dark = page.pixels().filter(|p| p[0] < 128).count();
    dark as f64 / f64::from(page.width() * page.height())
}

fn assert_drawn(rendered: &Rendered, pages: u32) {
    assert_eq!(rendered.page_count, pages);
    let numbers: Vec<u32> = rendered.pages.iter().map(|p| p.page).collect();
    assert_eq!(numbers, (1..=pages).collect::<Vec<_>>());
    for page in &rendered.pages {
        assert_eq!(page.failure, None, "page {}", page.page);
        assert_eq!(page.reading.width, ::previews::READING_WIDTH);
        assert_eq!(page.thumbnail.width, ::previews::THUMBNAIL_WIDTH);
        assert!(
            dark_share(&page.reading.jpeg) > 0.001,
            "page {} shows",
            page.page
        );
    }
}

#[test]
fn pages_drawn_in_the_child_are_those_drawn_in_process() {
    let path = repo_root().join("samples/documents/attestation-jdc.pdf");
    let limits = Limits::default();
    let rendered = render_file(&path, Kind::Pdf, &child_process(), &limits).expect("rendered");
    assert_drawn(&rendered, 1);
    // The same drawing, byte for byte: the pipe loses nothing.
    let in_process = render_file(&path, Kind::Pdf, &Isolation::InProcess, &limits).expect("ok");
    assert_eq!(rendered, in_process);
}

#[test]
fn every_page_of_a_corpus_document_comes_back_in_order() {
    let path = repo_root().join("../shared/corpus/pdf-valid/pypdf_pdflatex-4-pages.pdf");
    if !path.is_file() {
        eprintln!("{} absent: skipped", path.display());
        return;
    }
    let rendered =
        render_file(&path, Kind::Pdf, &child_process(), &Limits::default()).expect("rendered");
    assert_drawn(&rendered, 4);
}

/// An A4 page of text, in Helvetica.
fn text_page(doc: &mut Document, pages_id: lopdf::ObjectId, font_id: lopdf::ObjectId) -> Object {
    let content = Content {
        operations: vec![
            Operation::new("BT", vec![]),
            Operation::new("Tf", vec!["F1".into(), 40.into()]),
            Operation::new("Td", vec![60.into(), 700.into()]),
            Operation::new("Tj", vec![Object::string_literal("Page de texte")]),
            Operation::new("ET", vec![]),
        ],
    };
    let content_id = doc.add_object(Stream::new(
        dictionary! {},
        content.encode().expect("content"),
    ));
    doc.add_object(dictionary! {
        "Type" => "Page",
        "Parent" => pages_id,
        "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        "Resources" => dictionary! { "Font" => dictionary! { "F1" => font_id } },
        "Contents" => content_id,
    })
    .into()
}

/// Three pages, the second covered by a 30000×30000 one-bit image: 110 KB compressed, and
/// 900 MB once its samples are decoded a byte each, as the renderer does.
fn pdf_with_a_page_too_large_to_draw() -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
    });
    let side: i64 = 30_000;
    let mut image = Stream::new(
        dictionary! {
            "Type" => "XObject", "Subtype" => "Image",
            "Width" => side, "Height" => side,
            "ColorSpace" => "DeviceGray", "BitsPerComponent" => 1,
        },
        vec![0; (side * side / 8) as usize],
    );
    image.compress().expect("compressed");
    let image_id = doc.add_object(image);
    let draw = Content {
        operations: vec![
            Operation::new("q", vec![]),
            Operation::new(
                "cm",
                vec![
                    595.into(),
                    0.into(),
                    0.into(),
                    842.into(),
                    0.into(),
                    0.into(),
                ],
            ),
            Operation::new("Do", vec!["Im1".into()]),
            Operation::new("Q", vec![]),
        ],
    };
    let draw_id = doc.add_object(Stream::new(dictionary! {}, draw.encode().expect("content")));
    let first = text_page(&mut doc, pages_id, font_id);
    let large = doc.add_object(dictionary! {
        "Type" => "Page",
        "Parent" => pages_id,
        "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        "Resources" => dictionary! { "XObject" => dictionary! { "Im1" => image_id } },
        "Contents" => draw_id,
    });
    let last = text_page(&mut doc, pages_id, font_id);
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => vec![first, large.into(), last],
            "Count" => 3,
        }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).expect("saved");
    bytes
}

fn write(bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("document.pdf");
    std::fs::write(&path, bytes).expect("written");
    (dir, path)
}

#[test]
fn a_page_that_needs_more_memory_than_the_child_may_have_fails_alone() {
    let (_dir, path) = write(&pdf_with_a_page_too_large_to_draw());
    // Room for the renderer (the debug binary maps about 80 MiB) and an ordinary page, not
    // for 900 MB of samples.
    let limits = Limits {
        memory_bytes: 384 << 20,
        ..Limits::default()
    };
    let rendered = render_file(&path, Kind::Pdf, &child_process(), &limits).expect("rendered");
    assert_eq!(rendered.page_count, 3);
    let failures: Vec<Option<&str>> = rendered
        .pages
        .iter()
        .map(|p| p.failure.as_deref())
        .collect();
    assert_eq!(failures, [None, Some("rendering ran out of memory"), None]);
    assert_eq!(
        rendered.pages[1].reading,
        ::previews::placeholder(::previews::READING_WIDTH)
    );
    for page in [&rendered.pages[0], &rendered.pages[2]] {
        assert!(
            dark_share(&page.reading.jpeg) > 0.001,
            "page {} shows",
            page.page
        );
    }
}

#[test]
fn a_memory_limit_too_small_for_the_renderer_fails_without_harm_to_the_caller() {
    let path = repo_root().join("samples/documents/attestation-jdc.pdf");
    let limits = Limits {
        memory_bytes: 64 << 20,
        ..Limits::default()
    };
    // The child sets the limit on itself once started (`previews::confine`): depending on the
    // binary, 64 MiB is then too little to go on, to open the document, or to draw a page: an
    // error or failed pages, each with its reason.
    match render_file(&path, Kind::Pdf, &child_process(), &limits) {
        Err(RenderError::Child(reason)) => assert!(!reason.is_empty()),
        Ok(rendered) => {
            assert_eq!(rendered.pages.len(), 1);
            let reason = rendered.pages[0]
                .failure
                .as_deref()
                .expect("the page failed");
            assert!(!reason.is_empty());
        }
        Err(other) => panic!("{other:?}"),
    }
}

#[test]
fn the_child_says_why_a_document_cannot_be_drawn() {
    let (_dir, path) = write(b"%PDF-1.4 no objects at all");
    let result = render_file(&path, Kind::Pdf, &child_process(), &Limits::default());
    assert!(
        matches!(&result, Err(RenderError::NotRenderable(why)) if why.contains("pages")),
        "{result:?}"
    );
    let missing = Path::new("/nonexistent/document.pdf");
    let result = render_file(missing, Kind::Pdf, &child_process(), &Limits::default());
    assert!(matches!(result, Err(RenderError::Io(_))), "{result:?}");
}
