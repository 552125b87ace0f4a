//! Pages of documents made here, drawn in process: what each shows, its size, and what happens
//! to pages that cannot be drawn.

mod support;

use std::io::Cursor;

use dossiers::Kind;
use image::{DynamicImage, ImageFormat, RgbImage, Rgba, RgbaImage};
use previews::{Isolation, Limits, RenderError, Rendered, render_file};
use support::{SHORT, TiffPage, dark_share, file, grey, levels, pdf, pdf_with, text_page, tiff};

const A4: [f32; 4] = [0.0, 0.0, 595.0, 842.0];

fn render(bytes: &[u8], kind: Kind) -> Result<Rendered, RenderError> {
    render_with(bytes, kind, &Limits::default())
}

fn render_with(bytes: &[u8], kind: Kind, limits: &Limits) -> Result<Rendered, RenderError> {
    let (_dir, path) = file(bytes);
    render_file(&path, kind, &Isolation::InProcess, limits)
}

fn drawn(bytes: &[u8], kind: Kind) -> Rendered {
    let rendered = render(bytes, kind).expect("renders");
    for page in &rendered.pages {
        assert_eq!(page.failure, None, "page {}", page.page);
    }
    rendered
}

/// The mean grey level of the rows `rows` of `image`.
fn mean_of_rows(image: &image::GrayImage, rows: std::ops::Range<u32>) -> f64 {
    let mut sum = 0u64;
    let mut n = 0u64;
    for y in rows {
        for x in 0..image.width() {
            sum += u64::from(image.get_pixel(x, y)[0]);
            n += 1;
        }
    }
    sum as f64 / n as f64
}

#[test]
fn text_in_standard_fonts_that_are_not_embedded_is_drawn() {
    let rendered = drawn(&pdf(&[(A4, "", &text_page())]), Kind::Pdf);
    assert_eq!(rendered.page_count, 1);
    let page = &rendered.pages[0];
    assert_eq!(page.page, 1);
    assert_eq!((page.reading.width, page.reading.height), (1600, 2264));
    assert_eq!((page.thumbnail.width, page.thumbnail.height), (200, 283));
    let reading = grey(&page.reading);
    let dark = dark_share(&reading);
    assert!((0.02..0.4).contains(&dark), "{dark} of the page is text");
    assert!(
        dark_share(&grey(&page.thumbnail)) > 0.005,
        "text shows in the thumbnail"
    );

    // The measure means something: the same page without its text is blank.
    let blank = rendered_blank();
    assert_eq!(dark_share(&blank), 0.0);
    assert!(levels(&blank) <= 2, "{} grey levels", levels(&blank));
}

fn rendered_blank() -> image::GrayImage {
    let rendered = drawn(&pdf(&[(A4, "", "")]), Kind::Pdf);
    grey(&rendered.pages[0].reading)
}

#[test]
fn rotated_pages_are_drawn_turned() {
    // A landscape page, its left third black, turned a quarter clockwise: portrait, the black
    // at the top.
    let landscape = [0.0, 0.0, 842.0, 595.0];
    let rendered = drawn(
        &pdf(&[(landscape, "/Rotate 90", "0 0 280 595 re f")]),
        Kind::Pdf,
    );
    let page = grey(&rendered.pages[0].reading);
    assert_eq!((page.width(), page.height()), (1600, 2264));
    assert!(mean_of_rows(&page, 0..700) < 10.0, "the top is black");
    assert!(mean_of_rows(&page, 800..2264) > 245.0, "the rest is white");
}

#[test]
fn long_pages_are_scaled_down_to_the_height_limit() {
    let rendered = drawn(&pdf(&[([0.0, 0.0, 100.0, 1000.0], "", "")]), Kind::Pdf);
    let page = &rendered.pages[0];
    assert_eq!((page.reading.width, page.reading.height), (640, 6400));
    assert_eq!((page.thumbnail.width, page.thumbnail.height), (80, 800));
    let limits = Limits {
        max_height_ratio: 2,
        ..Limits::default()
    };
    let (_dir, path) = file(&pdf(&[([0.0, 0.0, 100.0, 1000.0], "", "")]));
    let rendered = render_file(&path, Kind::Pdf, &Isolation::InProcess, &limits).expect("renders");
    let page = &rendered.pages[0];
    assert_eq!((page.reading.width, page.reading.height), (320, 3200));
}

/// A band from black to dark blue, 400 × 100 points at (100, 350) on an A4 page, painted by
/// `content` with `resources` and `streams` (see `support::pdf_with`): what the band's part of
/// the picture is, dark, and the page around it, white.
fn band_is_drawn(content: &str, resources: &str, streams: &[(&str, &str)]) {
    let rendered = drawn(
        &pdf_with(&[(A4, "", content)], resources, streams),
        Kind::Pdf,
    );
    let page = grey(&rendered.pages[0].reading);
    // 1600 × 2264 pixels: the band is x 269–1344, y 1054–1323.
    let band = image::imageops::crop_imm(&page, 320, 1100, 960, 180).to_image();
    let above = image::imageops::crop_imm(&page, 320, 700, 960, 180).to_image();
    assert!(
        dark_share(&band) > 0.95,
        "{} of the band is dark",
        dark_share(&band)
    );
    assert_eq!(dark_share(&above), 0.0, "above the band");
}

/// The shading of the band, from black to dark blue along x, in the space it is painted in.
const BAND_SHADING: &str = "<< /ShadingType 2 /ColorSpace /DeviceRGB /Coords [0 50 400 50] \
    /Function << /FunctionType 2 /Domain [0 1] /C0 [0 0 0] /C1 [0 0 0.4] /N 1 >> \
    /Extend [true true] >>";

#[test]
fn a_shading_painted_in_a_tiling_pattern_cell_is_drawn() {
    // As WeasyPrint draws a CSS gradient: the area clipped, then filled with a tiling pattern
    // whose one cell paints a shading with `sh` (in WeasyPrint, through a form in the cell).
    // Without the clip, hayro-interpret 0.9.0 drew it; with it, nothing (third_party/README.md).
    let cell = format!(
        "/Type /Pattern /PatternType 1 /PaintType 1 /TilingType 1 /BBox [0 0 400 100] \
         /XStep 400 /YStep 100 /Matrix [1 0 0 1 100 350] \
         /Resources << /Shading << /S0 {BAND_SHADING} >> >>"
    );
    band_is_drawn(
        "q 100 350 400 100 re W n /Pattern cs /P0 scn 100 350 400 100 re f Q",
        "/Pattern << /P0 5 0 R >>",
        &[(&cell, "/S0 sh")],
    );
    // The same shading painted on the page itself, as it always was.
    band_is_drawn(
        "q 1 0 0 1 100 350 cm 0 0 400 100 re W n /S0 sh Q",
        &format!("/Shading << /S0 {BAND_SHADING} >>"),
        &[],
    );
}

#[test]
fn every_page_of_a_pdf_is_drawn_in_order() {
    let pages: Vec<String> = (0..3)
        .map(|n| format!("0 0 {} 842 re f", 100 * (n + 1)))
        .collect();
    let document = pdf(&[
        (A4, "", &pages[0]),
        (A4, "", &pages[1]),
        (A4, "", &pages[2]),
    ]);
    let rendered = drawn(&document, Kind::Pdf);
    assert_eq!(rendered.page_count, 3);
    let numbers: Vec<u32> = rendered.pages.iter().map(|p| p.page).collect();
    assert_eq!(numbers, [1, 2, 3]);
    // Each page is its own: a black band wider on each.
    let shares: Vec<f64> = rendered
        .pages
        .iter()
        .map(|p| dark_share(&grey(&p.reading)))
        .collect();
    for (n, share) in shares.iter().enumerate() {
        let expected = 100.0 * (n as f64 + 1.0) / 595.0;
        assert!((share - expected).abs() < 0.01, "page {}: {share}", n + 1);
    }
}

/// A JPEG of `image` with an EXIF block whose Orientation is `orientation`, right after SOI.
fn jpeg_with_orientation(image: &RgbImage, orientation: u16) -> Vec<u8> {
    let mut plain = Vec::new();
    DynamicImage::ImageRgb8(image.clone())
        .write_to(&mut Cursor::new(&mut plain), ImageFormat::Jpeg)
        .expect("encoded");
    // Big-endian TIFF header, one directory of one entry: Orientation, SHORT, 1 value.
    let mut tiff_block = b"MM\0\x2A\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01".to_vec();
    tiff_block.extend(orientation.to_be_bytes());
    tiff_block.extend([0, 0, 0, 0, 0, 0]); // value padding, no next directory
    let mut app1 = vec![0xFF, 0xE1];
    app1.extend(((2 + 6 + tiff_block.len()) as u16).to_be_bytes());
    app1.extend(b"Exif\0\0");
    app1.extend(tiff_block);
    let mut out = plain[..2].to_vec();
    out.extend(app1);
    out.extend(&plain[2..]);
    out
}

#[test]
fn photos_are_turned_as_their_exif_orientation_says() {
    // Stored landscape, its left half black; orientation 6: turn a quarter clockwise to show.
    let stored = RgbImage::from_fn(400, 200, |x, _| {
        if x < 200 {
            [0, 0, 0].into()
        } else {
            [255, 255, 255].into()
        }
    });
    let photo = jpeg_with_orientation(&stored, 6);
    let rendered = drawn(&photo, Kind::Jpeg);
    assert_eq!(rendered.page_count, 1);
    let page = &rendered.pages[0];
    // Portrait, enlarged twice (its 200 pixels of width to 400).
    assert_eq!((page.reading.width, page.reading.height), (400, 800));
    assert_eq!((page.thumbnail.width, page.thumbnail.height), (200, 400));
    let reading = grey(&page.reading);
    assert!(
        mean_of_rows(&reading, 0..380) < 20.0,
        "the black half on top"
    );
    assert!(
        mean_of_rows(&reading, 420..800) > 235.0,
        "the white half below"
    );
    // The same photo without orientation stays landscape.
    let plain = drawn(&jpeg_with_orientation(&stored, 1), Kind::Jpeg);
    assert_eq!(
        (plain.pages[0].reading.width, plain.pages[0].reading.height),
        (800, 400)
    );
    // Nothing of the photo's metadata is carried over.
    for image in [&page.reading, &page.thumbnail] {
        let exif = image.jpeg.windows(6).any(|w| w == b"Exif\0\0");
        assert!(!exif, "no EXIF block");
    }
}

#[test]
fn transparency_is_drawn_on_white() {
    let mut png = Vec::new();
    let picture = RgbaImage::from_fn(300, 300, |x, y| {
        if (100..200).contains(&x) && (100..200).contains(&y) {
            Rgba([0, 0, 0, 255])
        } else {
            Rgba([0, 0, 0, 0])
        }
    });
    DynamicImage::ImageRgba8(picture)
        .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .expect("encoded");
    let rendered = drawn(&png, Kind::Png);
    let page = grey(&rendered.pages[0].reading);
    assert_eq!((page.width(), page.height()), (600, 600));
    assert!(page.get_pixel(20, 20)[0] > 245, "transparent is white");
    assert!(page.get_pixel(300, 300)[0] < 10, "the square is black");
}

#[test]
fn every_photo_format_gives_one_page() {
    let picture = DynamicImage::ImageRgb8(RgbImage::from_fn(320, 240, |x, y| {
        [(x % 256) as u8, (y % 256) as u8, 128].into()
    }));
    for (kind, format) in [
        (Kind::Png, ImageFormat::Png),
        (Kind::Gif, ImageFormat::Gif),
        (Kind::Bmp, ImageFormat::Bmp),
        (Kind::Webp, ImageFormat::WebP),
        (Kind::Jpeg, ImageFormat::Jpeg),
    ] {
        let mut bytes = Vec::new();
        picture
            .write_to(&mut Cursor::new(&mut bytes), format)
            .expect("encoded");
        let rendered = drawn(&bytes, kind);
        assert_eq!(rendered.page_count, 1, "{kind}");
        let page = &rendered.pages[0];
        assert_eq!(
            (page.reading.width, page.reading.height),
            (640, 480),
            "{kind}"
        );
        assert_eq!(
            (page.thumbnail.width, page.thumbnail.height),
            (200, 150),
            "{kind}"
        );
        assert!(
            levels(&grey(&page.reading)) > 100,
            "{kind}: the picture shows"
        );
    }
}

/// A page of 8-bit grey samples, BlackIsZero, uncompressed.
fn grey_page(width: u32, height: u32, sample: impl Fn(u32, u32) -> u8) -> TiffPage {
    let strip = (0..height)
        .flat_map(|y| (0..width).map(move |x| (x, y)))
        .map(|(x, y)| sample(x, y))
        .collect();
    TiffPage {
        width,
        height,
        strip,
        tags: vec![
            (258, SHORT, vec![8]),
            (259, SHORT, vec![1]),
            (262, SHORT, vec![1]),
        ],
    }
}

#[test]
fn every_page_of_a_tiff_is_drawn_whatever_its_coding() {
    let gradient = grey_page(256, 100, |x, _| x as u8);
    let g4 = TiffPage {
        width: 400,
        height: 300,
        strip: support::g4_page(400, 300),
        tags: vec![
            (258, SHORT, vec![1]),
            (259, SHORT, vec![4]),
            (262, SHORT, vec![0]),
        ],
    };
    // 8-bit indices: entry 1 red, entry 2 blue (16-bit values), left half 1, right half 2.
    let mut map = vec![0u32; 3 * 256];
    map[1] = 0xFFFF;
    map[2 * 256 + 2] = 0xFFFF;
    let palette = TiffPage {
        width: 64,
        height: 32,
        strip: (0..32 * 64)
            .map(|i| if i % 64 < 32 { 1 } else { 2 })
            .collect(),
        tags: vec![
            (258, SHORT, vec![8]),
            (259, SHORT, vec![1]),
            (262, SHORT, vec![3]),
            (320, SHORT, map),
        ],
    };
    // Stored landscape, its left half black, to be shown turned a quarter clockwise.
    let mut turned = grey_page(200, 100, |x, _| if x < 100 { 0 } else { 255 });
    turned.tags.push((274, SHORT, vec![6]));
    let mut min_is_white = TiffPage {
        width: 16,
        height: 2,
        // 1-bit samples, 1 is black: the left half of each row.
        strip: vec![0xFF, 0x00, 0xFF, 0x00],
        tags: vec![
            (258, SHORT, vec![1]),
            (259, SHORT, vec![1]),
            (262, SHORT, vec![0]),
        ],
    };
    min_is_white.tags.push((277, SHORT, vec![1]));

    let document = tiff(&[gradient, g4, palette, turned, min_is_white]);
    let rendered = drawn(&document, Kind::Tiff);
    assert_eq!(rendered.page_count, 5);
    let sizes: Vec<(u32, u32)> = rendered
        .pages
        .iter()
        .map(|p| (p.reading.width, p.reading.height))
        .collect();
    assert_eq!(
        sizes,
        [(512, 200), (800, 600), (128, 64), (200, 400), (32, 4)]
    );

    let gradient = grey(&rendered.pages[0].reading);
    assert!(levels(&gradient) > 200, "a scan has varied pixels");
    assert!(gradient.get_pixel(5, 100)[0] < 10 && gradient.get_pixel(506, 100)[0] > 245);

    let g4 = grey(&rendered.pages[1].reading);
    assert!(g4.get_pixel(200, 150)[0] < 20, "the square, black");
    assert!(g4.get_pixel(600, 450)[0] > 235, "the paper, white");
    let share = dark_share(&g4);
    assert!((0.2..0.25).contains(&share), "{share}");

    let palette = image::load_from_memory(&rendered.pages[2].reading.jpeg)
        .expect("a JPEG")
        .to_rgb8();
    let [r, g, b] = palette.get_pixel(20, 32).0;
    assert!(r > 200 && g < 60 && b < 60, "red: {r} {g} {b}");
    let [r, g, b] = palette.get_pixel(108, 32).0;
    assert!(r < 60 && g < 60 && b > 200, "blue: {r} {g} {b}");

    let turned = grey(&rendered.pages[3].reading);
    assert!(
        mean_of_rows(&turned, 0..190) < 20.0,
        "the black half on top"
    );
    assert!(
        mean_of_rows(&turned, 210..400) > 235.0,
        "the white half below"
    );

    let min_is_white = grey(&rendered.pages[4].reading);
    assert!(min_is_white.get_pixel(2, 1)[0] < 40, "1 is black");
    assert!(min_is_white.get_pixel(29, 1)[0] > 215, "0 is white");
}

#[test]
fn fax_pages_decode_to_the_same_picture_whatever_their_coding() {
    let reference = grey(&drawn(&support::fax_fixture("g3-1d.tif"), Kind::Tiff).pages[0].reading);
    assert_eq!((reference.width(), reference.height()), (800, 600));
    let share = dark_share(&reference);
    assert!((0.01..0.2).contains(&share), "text on white: {share}");
    assert!(mean_of_rows(&reference, 0..600) > 200.0, "white paper");
    for name in ["g3-2d.tif", "g3-lsb.tif", "rle.tif", "g3-2pages.tif"] {
        let rendered = drawn(&support::fax_fixture(name), Kind::Tiff);
        let page = grey(&rendered.pages[0].reading);
        let difference: u64 = page
            .pixels()
            .zip(reference.pixels())
            .map(|(a, b)| u64::from(a[0].abs_diff(b[0])))
            .sum();
        let mean = difference as f64 / f64::from(800 * 600);
        assert!(mean < 1.0, "{name}: {mean} from the one-dimensional coding");
    }
    let two = drawn(&support::fax_fixture("g3-2pages.tif"), Kind::Tiff);
    assert_eq!(two.page_count, 2);
    assert!(dark_share(&grey(&two.pages[1].reading)) > 0.01);
}

#[test]
fn a_page_that_cannot_be_drawn_does_not_stop_the_others() {
    let mut broken = grey_page(64, 64, |_, _| 0);
    // Old-style JPEG coding, which no decoder here reads.
    broken.tags[1] = (259, SHORT, vec![6]);
    let document = tiff(&[
        grey_page(64, 64, |x, _| x as u8 * 4),
        broken,
        grey_page(64, 64, |_, y| y as u8 * 4),
    ]);
    let rendered = render(&document, Kind::Tiff).expect("renders");
    let failures: Vec<Option<&str>> = rendered
        .pages
        .iter()
        .map(|p| p.failure.as_deref())
        .collect();
    assert_eq!(failures[0], None);
    assert_eq!(failures[2], None);
    let reason = failures[1].expect("page 2 failed");
    assert!(reason.contains("does not decode"), "{reason}");
    // Its images are the placeholders: a light grey page, marked.
    let placeholder = &rendered.pages[1];
    assert_eq!(
        placeholder.reading,
        previews::placeholder(previews::READING_WIDTH)
    );
    assert_eq!(
        placeholder.thumbnail,
        previews::placeholder(previews::THUMBNAIL_WIDTH)
    );
    let page = grey(&placeholder.reading);
    assert!(levels(&page) > 2 && dark_share(&page) == 0.0);
}

#[test]
fn pages_beyond_the_limit_are_counted_not_drawn() {
    let document = tiff(&[
        grey_page(8, 8, |_, _| 0),
        grey_page(8, 8, |_, _| 0),
        grey_page(8, 8, |_, _| 0),
    ]);
    let limits = Limits {
        max_pages: 2,
        ..Limits::default()
    };
    let rendered = render_with(&document, Kind::Tiff, &limits).expect("renders");
    assert_eq!(rendered.page_count, 3);
    assert_eq!(rendered.pages.len(), 2);
}

#[test]
fn what_has_no_pages_to_draw_is_not_renderable() {
    let not_renderable = |bytes: &[u8], kind: Kind| {
        let result = render(bytes, kind);
        assert!(
            matches!(result, Err(RenderError::NotRenderable(_))),
            "{kind}: {result:?}"
        );
    };
    not_renderable(b"%PDF-1.4 nothing else", Kind::Pdf);
    not_renderable(b"II*\0\x08\0\0\0", Kind::Tiff);
    not_renderable(b"not a tiff", Kind::Tiff);
    not_renderable(b"\0\0\0\x1cftypheic", Kind::Heic);
    not_renderable(b"\0\0\0\x1cftypavif", Kind::Avif);
    not_renderable(b"\0\0\0\x0cjP  ", Kind::Jp2);
    let missing = render_file(
        std::path::Path::new("/nonexistent/document.pdf"),
        Kind::Pdf,
        &Isolation::InProcess,
        &Limits::default(),
    );
    assert!(matches!(missing, Err(RenderError::Io(_))), "{missing:?}");
}

#[test]
fn a_photo_too_large_for_the_memory_limit_fails_before_its_pixels_are_allocated() {
    // A small JPEG whose frame header claims 60000×60000 pixels: 10 GB once decoded.
    let mut photo = Vec::new();
    DynamicImage::ImageRgb8(RgbImage::new(16, 16))
        .write_to(&mut Cursor::new(&mut photo), ImageFormat::Jpeg)
        .expect("encoded");
    let frame = photo
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("a baseline frame header");
    // Marker, length, precision, then height and width.
    photo[frame + 5..frame + 9].copy_from_slice(&[0xEA, 0x60, 0xEA, 0x60]);
    let rendered = render(&photo, Kind::Jpeg).expect("one page");
    let reason = rendered.pages[0].failure.as_deref().expect("failed");
    assert_eq!(reason, "a photo of 60000×60000 pixels is too large to draw");
}

#[test]
fn a_photo_that_does_not_decode_is_a_failed_page() {
    let rendered = render(b"\xFF\xD8\xFF\xE0 not really", Kind::Jpeg).expect("one page");
    assert_eq!(rendered.page_count, 1);
    let reason = rendered.pages[0].failure.as_deref().expect("failed");
    assert!(reason.contains("does not decode"), "{reason}");
}

#[test]
fn the_child_writes_the_page_count_then_each_page_from_the_one_asked() {
    let document = pdf(&[(A4, "", ""), (A4, "", &text_page())]);
    let (_dir, path) = file(&document);
    let mut out = Vec::new();
    previews::child_main(&path, Kind::Pdf, 2, &Limits::default(), &mut out).expect("written");
    let first_line = out.split(|&b| b == b'\n').next().expect("a line");
    assert_eq!(first_line, br#"{"record":"document","pages":2}"#);
    let text = String::from_utf8_lossy(&out);
    assert_eq!(text.matches(r#""record":"page""#).count(), 1);
    assert!(text.contains(r#""page":2,"failure":null"#), "page 2 only");

    let (_dir, garbage) = file(b"%PDF-1.4 nothing else");
    let mut out = Vec::new();
    let result = previews::child_main(&garbage, Kind::Pdf, 1, &Limits::default(), &mut out);
    assert!(matches!(result, Err(RenderError::NotRenderable(_))));
    assert!(out.starts_with(br#"{"record":"not_renderable","reason":"#));
}

#[test]
fn palette_pages_written_by_real_tools_are_drawn_in_colour() {
    // `validators`' palette fixtures (ImageMagick and libtiff: its
    // `tests/fixtures/palette/README.md`): coloured text on a cream page.
    for name in [
        "pal8-lzw.tif",
        "pal8-be.tif",
        "pal4.tif",
        "pal1-zip.tif",
        "pal8-2pages.tif",
    ] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../validators/tests/fixtures/palette")
            .join(name);
        let bytes = std::fs::read(&path).expect("a fixture");
        let rendered = drawn(&bytes, Kind::Tiff);
        for page in &rendered.pages {
            assert_eq!(
                (page.reading.width, page.reading.height),
                (320, 240),
                "{name}"
            );
            let rgb = image::load_from_memory(&page.reading.jpeg)
                .expect("a JPEG")
                .to_rgb8();
            if name == "pal1-zip.tif" {
                // ImageMagick's reduction to two colours made both black, as Pillow shows it.
                assert!(rgb.pixels().all(|p| p.0.iter().all(|&c| c < 30)), "{name}");
                continue;
            }
            let cream = rgb.pixels().filter(|p| p[0] > 200 && p[2] < p[0]).count();
            assert!(cream > rgb.len() / 3 / 2, "{name}: the page is cream");
            let blue = rgb
                .pixels()
                .filter(|p| u16::from(p[2]) > u16::from(p[0]) + 60)
                .count();
            assert!(blue > 100, "{name}: {blue} blue pixels of text");
        }
    }
}
