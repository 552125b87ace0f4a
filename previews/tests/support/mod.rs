//! Documents made for the tests, and what is measured of a rendered page.

#![allow(dead_code)] // each test file uses its own part

use std::path::PathBuf;

use image::GrayImage;
use previews::PageImage;

/// A file holding `bytes`, removed with the returned guard.
pub fn file(bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("document");
    std::fs::write(&path, bytes).expect("written");
    (dir, path)
}

/// The page image, decoded, as grey levels.
pub fn grey(image: &PageImage) -> GrayImage {
    let decoded =
        image::load_from_memory_with_format(&image.jpeg, image::ImageFormat::Jpeg).expect("a JPEG");
    assert_eq!(
        (decoded.width(), decoded.height()),
        (image.width, image.height),
        "the announced size"
    );
    decoded.to_luma8()
}

/// The share of pixels darker than mid-grey.
pub fn dark_share(image: &GrayImage) -> f64 {
    let dark = image.pixels().filter(|p| p[0] < 128).count();
    dark as f64 / (image.width() as f64 * image.height() as f64)
}

/// How many distinct grey levels the image has: a blank page has one or two.
pub fn levels(image: &GrayImage) -> usize {
    let mut seen = [false; 256];
    for p in image.pixels() {
        seen[p[0] as usize] = true;
    }
    seen.iter().filter(|&&s| s).count()
}

/// A PDF of pages given as (media box, extra page entries, content stream), its text in
/// Helvetica (`/F1`) and Times (`/F2`), neither embedded: readers bring their own.
pub fn pdf(pages: &[([f32; 4], &str, &str)]) -> Vec<u8> {
    pdf_with(pages, "", &[])
}

/// [`pdf`], every page's resources also holding the entries `resources`, which may refer to
/// the `streams` given as (the entries of its dictionary, its data): objects 5, 6...
pub fn pdf_with(
    pages: &[([f32; 4], &str, &str)],
    resources: &str,
    streams: &[(&str, &str)],
) -> Vec<u8> {
    let mut objects: Vec<String> = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".into(),
        String::new(), // the page tree, once the pages are numbered
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".into(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Times-Roman >>".into(),
    ];
    for (entries, data) in streams {
        objects.push(format!(
            "<< {entries} /Length {} >>\nstream\n{data}\nendstream",
            data.len()
        ));
    }
    let mut kids = Vec::new();
    for (media_box, extra, content) in pages {
        let page = objects.len() + 1;
        kids.push(format!("{page} 0 R"));
        let [x0, y0, x1, y1] = media_box;
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [{x0} {y0} {x1} {y1}] {extra} \
             /Resources << /Font << /F1 3 0 R /F2 4 0 R >> {resources} >> /Contents {} 0 R >>",
            page + 1
        ));
        objects.push(format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ));
    }
    objects[1] = format!(
        "<< /Type /Pages /Kids [{}] /Count {} >>",
        kids.join(" "),
        kids.len()
    );
    let mut out = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::new();
    for (n, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n{object}\nendobj\n", n + 1).bytes());
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).bytes());
    for offset in offsets {
        out.extend(format!("{offset:010} 00000 n \n").bytes());
    }
    out.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .bytes(),
    );
    out
}

/// Lines of text filling an A4 page, in Helvetica then Times.
pub fn text_page() -> String {
    let mut content = String::from("BT\n");
    for line in 0..14 {
        let font = if line % 2 == 0 { "F1" } else { "F2" };
        let y = 780 - line * 52;
        content.push_str(&format!(
            "/{font} 34 Tf 1 0 0 1 40 {y} Tm (Piece justificative {line} WMH) Tj\n"
        ));
    }
    content.push_str("ET");
    content
}

pub const SHORT: u16 = 3;
pub const LONG: u16 = 4;

/// One page of a TIFF: its size, its one strip, and its tags other than the size and strip
/// ones.
pub struct TiffPage {
    pub width: u32,
    pub height: u32,
    pub strip: Vec<u8>,
    pub tags: Vec<(u16, u16, Vec<u32>)>,
}

/// A little-endian TIFF of `pages`, each directory after its strip.
pub fn tiff(pages: &[TiffPage]) -> Vec<u8> {
    let mut out = b"II*\0\0\0\0\0".to_vec();
    let mut link = 4;
    for page in pages {
        let strip_at = out.len() as u32;
        out.extend(&page.strip);
        if out.len() % 2 == 1 {
            out.push(0);
        }
        let mut tags = page.tags.clone();
        tags.extend([
            (256, LONG, vec![page.width]),
            (257, LONG, vec![page.height]),
            (273, LONG, vec![strip_at]),
            (278, LONG, vec![page.height]),
            (279, LONG, vec![page.strip.len() as u32]),
        ]);
        tags.sort_by_key(|t| t.0);
        let directory = out.len();
        out[link..link + 4].copy_from_slice(&(directory as u32).to_le_bytes());
        let mut extra_at = directory + 2 + 12 * tags.len() + 4;
        let mut extra = Vec::new();
        out.extend((tags.len() as u16).to_le_bytes());
        for (tag, typ, values) in &tags {
            let bytes: Vec<u8> = values
                .iter()
                .flat_map(|&v| match *typ {
                    SHORT => (v as u16).to_le_bytes().to_vec(),
                    _ => v.to_le_bytes().to_vec(),
                })
                .collect();
            out.extend(tag.to_le_bytes());
            out.extend(typ.to_le_bytes());
            out.extend((values.len() as u32).to_le_bytes());
            if bytes.len() <= 4 {
                let mut inline = bytes.clone();
                inline.resize(4, 0);
                out.extend(inline);
            } else {
                out.extend((extra_at as u32).to_le_bytes());
                extra_at += bytes.len();
                extra.extend(bytes);
            }
        }
        link = out.len();
        out.extend([0; 4]);
        out.extend(extra);
    }
    out
}

/// A bilevel page coded in CCITT Group 4: white with a black square in its top-left quarter.
pub fn g4_page(width: u16, height: u16) -> Vec<u8> {
    let mut encoder = fax::encoder::Encoder::new(fax::VecWriter::new());
    for y in 0..height {
        let pels = (0..width).map(|x| {
            if x < width / 2 && y < height / 2 && x > 10 && y > 10 {
                fax::Color::Black
            } else {
                fax::Color::White
            }
        });
        encoder.encode_line(pels, width).expect("encoded");
    }
    encoder.finish().expect("finished").finish()
}

/// A fax fixture of `validators` (CCITT Group 3 and modified Huffman TIFFs made with libtiff:
/// its `tests/fixtures/fax/README.md`).
pub fn fax_fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../validators/tests/fixtures/fax")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
