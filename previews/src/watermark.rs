//! A line of text laid over a picture, so that a copy of an identity piece shown to staff or
//! to the candidate says what it is for. The document itself is kept and downloaded as sent;
//! only its pictures (page renders, display copies) are marked, when they are served. Pure:
//! a JPEG and a text in, a JPEG of the same size out.
//!
//! - **How it looks.** The text is drawn in DejaVu Sans Bold (embedded from
//!   `fonts/DejaVuSans-Bold.ttf`, its licence beside it), which covers French and the Latin,
//!   Greek and Cyrillic alphabets; a character it lacks is drawn as its missing-glyph box. It
//!   is laid out left to right with the font's advances and kerning, without shaping (no
//!   right-to-left scripts). One line spans about [`SPAN`] of the picture's width (its
//!   glyphs never taller than [`MAX_HEIGHT`] of it), turned along the picture's rising
//!   diagonal (between 20° and 45°), and repeated in staggered rows over the whole picture,
//!   in grey at [`OPACITY`]: the text reads, the page under it still does.
//! - **Deterministic.** The same picture and text give the same bytes; [`VERSION`] names the
//!   drawing, so that an answer's validator (ETag) changes when the drawing does.
//! - **Bounded.** The JPEG's dimensions are read and checked ([`MAX_PIXELS`]) before its
//!   pixels are allocated; the text is rasterised once into a tile a few lines high, and the
//!   picture is marked in place from it, so memory is the picture plus that tile.
//! - Grey pictures stay grey (one channel); anything else comes out RGB. Quality and the
//!   absence of metadata are those of every picture made here.

use std::io::Cursor;
use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, GlyphId, PxScale, PxScaleFont, ScaleFont, point};
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};

use crate::PageImage;
use crate::output;

/// The version of the drawing: changed whenever the same picture and text would come out
/// differently, since answers are cached by a validator that includes it.
pub const VERSION: u32 = 1;

/// The longest text drawn, in characters (a campaign's watermark is at most 120).
pub const MAX_TEXT_CHARS: usize = 500;

/// The largest picture marked: 4 × 1600 × 1600 (the tallest reading size) with room to spare.
pub const MAX_PIXELS: u64 = 16 * 1024 * 1024;

/// The part of the picture's width one line of text spans.
pub const SPAN: f32 = 0.7;

/// The tallest glyphs, as a part of the picture's width (a short text is not blown up).
pub const MAX_HEIGHT: f32 = 0.08;

/// How much of the picture the text hides where it is drawn.
pub const OPACITY: f32 = 0.32;

/// The text's grey level.
const INK: f32 = 70.0;

/// The distance between two rows of text, in lines.
const ROW_PITCH: f32 = 3.2;

/// The space after a copy of the text before the next one on its row, in lines.
const GAP: f32 = 1.5;

/// The font, embedded: no system font is read.
const FONT_DATA: &[u8] = include_bytes!("../fonts/DejaVuSans-Bold.ttf");

#[derive(Debug, thiserror::Error)]
pub enum WatermarkError {
    /// Nothing to draw (empty or only spaces).
    #[error("the watermark text is empty")]
    EmptyText,
    #[error("the watermark text is longer than {MAX_TEXT_CHARS} characters")]
    TextTooLong,
    #[error("the picture does not decode as a JPEG: {0}")]
    Decode(String),
    #[error("a picture of {width}×{height} pixels is too large to mark")]
    TooLarge { width: u32, height: u32 },
    #[error("{0}")]
    Encode(String),
}

/// `jpeg` with `text` drawn over it, as a JPEG of the same size.
pub fn watermark(jpeg: &[u8], text: &str) -> Result<PageImage, WatermarkError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(WatermarkError::EmptyText);
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(WatermarkError::TextTooLong);
    }
    let picture = decode(jpeg)?;
    let marked = match picture {
        DynamicImage::ImageLuma8(mut grey) => {
            mark(&mut grey, text);
            DynamicImage::ImageLuma8(grey)
        }
        other => {
            let mut rgb = other.into_rgb8();
            mark(&mut rgb, text);
            DynamicImage::ImageRgb8(rgb)
        }
    };
    output::jpeg(&marked).map_err(WatermarkError::Encode)
}

/// The JPEG's pixels, its size checked before they are allocated.
fn decode(jpeg: &[u8]) -> Result<DynamicImage, WatermarkError> {
    let undecodable = |e: image::ImageError| WatermarkError::Decode(e.to_string());
    let mut reader = ImageReader::with_format(Cursor::new(jpeg), ImageFormat::Jpeg);
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_PIXELS * 4);
    reader.limits(limits);
    let decoder = reader.into_decoder().map_err(undecodable)?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(WatermarkError::TooLarge { width, height });
    }
    DynamicImage::from_decoder(decoder).map_err(undecodable)
}

/// The embedded font at a size.
type Scaled = PxScaleFont<&'static FontRef<'static>>;

/// The embedded font.
fn font() -> &'static FontRef<'static> {
    static FONT: OnceLock<FontRef<'static>> = OnceLock::new();
    FONT.get_or_init(|| {
        FontRef::try_from_slice(FONT_DATA).expect("the embedded DejaVu Sans Bold parses")
    })
}

/// Draws `text` over `picture`, in place, whatever its number of channels (samples of one
/// pixel are darkened alike: the ink is grey).
fn mark<P>(picture: &mut image::ImageBuffer<P, Vec<u8>>, text: &str)
where
    P: image::Pixel<Subpixel = u8>,
{
    let (width, height) = picture.dimensions();
    if width == 0 || height == 0 {
        return;
    }
    let tile = Tile::new(text, width);
    let angle = f64::from(height)
        .atan2(f64::from(width))
        .clamp(20f64.to_radians(), 45f64.to_radians());
    let (sin, cos) = (angle.sin() as f32, angle.cos() as f32);
    let (cx, cy) = (width as f32 / 2.0, height as f32 / 2.0);
    let channels = usize::from(P::CHANNEL_COUNT);
    let row_len = width as usize * channels;
    for (y, row) in picture.chunks_exact_mut(row_len).enumerate() {
        let dy = y as f32 + 0.5 - cy;
        for (x, pixel) in row.chunks_exact_mut(channels).enumerate() {
            let dx = x as f32 + 0.5 - cx;
            // Into the text's frame: along the rising diagonal (up is negative y), and across.
            let along = dx * cos - dy * sin;
            let across = dx * sin + dy * cos;
            let alpha = tile.coverage(along + tile.origin.0, across + tile.origin.1) * OPACITY;
            if alpha > 0.0 {
                for sample in pixel.iter_mut() {
                    let value = f32::from(*sample) * (1.0 - alpha) + INK * alpha;
                    *sample = value.round().clamp(0.0, 255.0) as u8;
                }
            }
        }
    }
}

/// The text rasterised once, two rows of it (the second shifted by half a copy), which
/// repeat in both directions: the pattern laid over the picture.
struct Tile {
    width: usize,
    height: usize,
    /// Coverage, 0 to 1, row by row.
    coverage: Vec<f32>,
    /// Where the picture's centre falls in the tile: the middle of a copy of the text.
    origin: (f32, f32),
}

impl Tile {
    /// The pattern of `text` for a picture `picture_width` pixels wide.
    fn new(text: &str, picture_width: u32) -> Tile {
        let font = font();
        let picture_width = picture_width as f32;
        let ids: Vec<GlyphId> = text.chars().map(|c| font.glyph_id(c)).collect();
        // The text's width for glyphs one pixel tall, then the size that spans the picture.
        let unit = advance(&font.as_scaled(PxScale::from(1.0)), &ids).max(f32::EPSILON);
        let size = (SPAN * picture_width / unit).min(MAX_HEIGHT * picture_width);
        let size = size.max(1.0);
        let scaled = font.as_scaled(PxScale::from(size));
        let text_width = advance(&scaled, &ids);
        let width = (text_width + GAP * size).ceil().max(1.0) as usize;
        let row = (ROW_PITCH * size).ceil().max(1.0) as usize;
        let mut tile = Tile {
            width,
            height: 2 * row,
            coverage: vec![0.0; width * 2 * row],
            origin: (0.0, 0.0),
        };
        // Baselines set so that a line's glyphs sit in the middle of its row.
        let baseline = (row as f32 + scaled.ascent() + scaled.descent()) / 2.0;
        tile.draw(&scaled, &ids, 0.0, baseline);
        tile.draw(&scaled, &ids, width as f32 / 2.0, baseline + row as f32);
        tile.origin = (text_width / 2.0, row as f32 / 2.0);
        tile
    }

    /// Draws the glyphs from `x` on the baseline `y`, wrapping around the tile's edges.
    fn draw(&mut self, font: &Scaled, ids: &[GlyphId], x: f32, y: f32) {
        let mut caret = x;
        let mut previous: Option<GlyphId> = None;
        for &id in ids {
            if let Some(previous) = previous {
                caret += font.kern(previous, id);
            }
            previous = Some(id);
            let glyph = id.with_scale_and_position(font.scale(), point(caret, y));
            caret += font.h_advance(id);
            let Some(outline) = font.outline_glyph(glyph) else {
                continue; // a space
            };
            let bounds = outline.px_bounds();
            let (left, top) = (bounds.min.x as i64, bounds.min.y as i64);
            outline.draw(|gx, gy, c| {
                let tx = (left + i64::from(gx)).rem_euclid(self.width as i64) as usize;
                let ty = (top + i64::from(gy)).rem_euclid(self.height as i64) as usize;
                let cell = &mut self.coverage[ty * self.width + tx];
                *cell = (*cell + c).min(1.0);
            });
        }
    }

    /// The coverage at `(u, v)` in the tile's frame, repeated, interpolated between pixels.
    fn coverage(&self, u: f32, v: f32) -> f32 {
        let (u, v) = (u - 0.5, v - 0.5);
        let (u0, v0) = (u.floor(), v.floor());
        let (fu, fv) = (u - u0, v - v0);
        let wrap = |a: f32, n: usize| (a as i64).rem_euclid(n as i64) as usize;
        let (x0, y0) = (wrap(u0, self.width), wrap(v0, self.height));
        let (x1, y1) = ((x0 + 1) % self.width, (y0 + 1) % self.height);
        let at = |x: usize, y: usize| self.coverage[y * self.width + x];
        let top = at(x0, y0) * (1.0 - fu) + at(x1, y0) * fu;
        let bottom = at(x0, y1) * (1.0 - fu) + at(x1, y1) * fu;
        top * (1.0 - fv) + bottom * fv
    }
}

/// The width of the glyphs `ids` laid out in a row, kerning included.
fn advance(font: &Scaled, ids: &[GlyphId]) -> f32 {
    let kerning: f32 = ids.windows(2).map(|pair| font.kern(pair[0], pair[1])).sum();
    ids.iter().map(|&id| font.h_advance(id)).sum::<f32>() + kerning
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, Luma, RgbImage};

    const TEXT: &str = "Copie réservée au concours BTS 2027";

    fn encoded(picture: DynamicImage) -> Vec<u8> {
        output::jpeg(&picture).expect("encodes").jpeg
    }

    /// A white page with black lines of "text" and a black block in its top-left corner.
    fn page(width: u32, height: u32) -> GrayImage {
        let mut page = GrayImage::from_pixel(width, height, Luma([255]));
        for y in (height / 5..height * 9 / 10).step_by(((height / 40).max(2)) as usize) {
            for x in width / 10..width * 9 / 10 {
                page.put_pixel(x, y, Luma([20]));
            }
        }
        for y in 0..height / 10 {
            for x in 0..width / 4 {
                page.put_pixel(x, y, Luma([0]));
            }
        }
        page
    }

    fn grey(jpeg: &[u8]) -> GrayImage {
        image::load_from_memory_with_format(jpeg, ImageFormat::Jpeg)
            .expect("a JPEG")
            .to_luma8()
    }

    /// How many pixels of `a` and `b` differ by more than `by` grey levels.
    fn changed(a: &GrayImage, b: &GrayImage, by: u8) -> usize {
        a.pixels()
            .zip(b.pixels())
            .filter(|(p, q)| p[0].abs_diff(q[0]) > by)
            .count()
    }

    #[test]
    fn a_page_is_marked_and_keeps_its_size() {
        let plain = encoded(DynamicImage::ImageLuma8(page(1600, 2262)));
        let marked = watermark(&plain, TEXT).expect("marks");
        assert_ne!(marked.jpeg, plain);
        assert_eq!((marked.width, marked.height), (1600, 2262));
        let (before, after) = (grey(&plain), grey(&marked.jpeg));
        assert_eq!(after.dimensions(), before.dimensions());
        let total = before.pixels().count();
        let changed = changed(&before, &after, 24);
        // Readable, but not hiding the page: a few percent of it is ink.
        assert!(changed > total / 50, "{changed} of {total} pixels marked");
        assert!(changed < total / 4, "{changed} of {total} pixels marked");
        // The page under the text still reads: the black block stays black, white stays light.
        assert!(after.get_pixel(10, 10)[0] < 60);
        let lightest_ink = after
            .pixels()
            .zip(before.pixels())
            .filter(|(_, b)| b[0] > 240)
            .map(|(a, _)| a[0])
            .min()
            .expect("white pixels");
        assert!(
            lightest_ink > 150,
            "the text is translucent ({lightest_ink})"
        );
    }

    #[test]
    fn the_text_runs_along_the_diagonal_and_over_the_whole_picture() {
        let plain = encoded(DynamicImage::ImageLuma8(GrayImage::from_pixel(
            1000,
            1000,
            Luma([255]),
        )));
        let after = grey(&watermark(&plain, TEXT).expect("marks").jpeg);
        // Every tenth of the picture, each way, has some of it.
        for cell_y in 0..10 {
            for cell_x in 0..10 {
                let ink = (cell_y * 100..cell_y * 100 + 100)
                    .flat_map(|y| (cell_x * 100..cell_x * 100 + 100).map(move |x| (x, y)))
                    .filter(|&(x, y)| after.get_pixel(x, y)[0] < 220)
                    .count();
                assert!(ink > 0, "nothing in cell ({cell_x}, {cell_y})");
            }
        }
        // Along the rising diagonal, through the centre, the text's line is marked.
        let diagonal = (100..900)
            .filter(|&x| {
                (-3i32..=3).any(|d| after.get_pixel(x, (999 - x as i32 + d) as u32)[0] < 220)
            })
            .count();
        assert!(
            diagonal > 300,
            "{diagonal} of 800 points of the diagonal marked"
        );
    }

    #[test]
    fn thumbnails_and_colour_pictures_are_marked_too() {
        let plain = encoded(DynamicImage::ImageLuma8(page(200, 283)));
        let marked = watermark(&plain, TEXT).expect("marks");
        assert_eq!((marked.width, marked.height), (200, 283));
        assert!(changed(&grey(&plain), &grey(&marked.jpeg), 16) > 200);
        let photo = RgbImage::from_fn(300, 400, |x, y| {
            [(x % 256) as u8, (y % 256) as u8, 200].into()
        });
        let plain = encoded(DynamicImage::ImageRgb8(photo));
        let marked = watermark(&plain, TEXT).expect("marks");
        let decoded = image::load_from_memory(&marked.jpeg).expect("a JPEG");
        assert_eq!(
            decoded.color(),
            image::ColorType::Rgb8,
            "colour stays colour"
        );
        assert_eq!((decoded.width(), decoded.height()), (300, 400));
        // Grey stays grey, one channel.
        let grey_page = encoded(DynamicImage::ImageLuma8(page(400, 300)));
        let marked = watermark(&grey_page, "COPIE").expect("marks");
        let decoded = image::load_from_memory(&marked.jpeg).expect("a JPEG");
        assert_eq!(decoded.color(), image::ColorType::L8);
    }

    #[test]
    fn the_same_picture_and_text_give_the_same_bytes_and_another_text_others() {
        let plain = encoded(DynamicImage::ImageLuma8(page(600, 800)));
        let once = watermark(&plain, TEXT).expect("marks");
        assert_eq!(watermark(&plain, TEXT).expect("marks"), once);
        assert_ne!(watermark(&plain, "Autre texte").expect("marks"), once);
        // Spaces around the text change nothing.
        assert_eq!(
            watermark(&plain, &format!("  {TEXT} ")).expect("marks"),
            once
        );
    }

    #[test]
    fn empty_text_and_what_is_not_a_jpeg_are_refused() {
        let plain = encoded(DynamicImage::ImageLuma8(page(100, 100)));
        assert!(matches!(
            watermark(&plain, ""),
            Err(WatermarkError::EmptyText)
        ));
        assert!(matches!(
            watermark(&plain, " \t "),
            Err(WatermarkError::EmptyText)
        ));
        assert!(matches!(
            watermark(&plain, &"x".repeat(MAX_TEXT_CHARS + 1)),
            Err(WatermarkError::TextTooLong)
        ));
        assert!(matches!(
            watermark(b"%PDF-1.7", TEXT),
            Err(WatermarkError::Decode(_))
        ));
    }

    #[test]
    fn a_picture_claiming_to_be_huge_is_refused_before_its_pixels_are_allocated() {
        let mut jpeg = encoded(DynamicImage::ImageLuma8(page(64, 64)));
        // The frame header (SOF0): marker, length, precision, then height and width.
        let sof = jpeg
            .windows(2)
            .position(|w| w == [0xFF, 0xC0])
            .expect("a baseline frame");
        jpeg[sof + 5..sof + 9].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF]);
        assert!(matches!(
            watermark(&jpeg, TEXT),
            Err(WatermarkError::TooLarge {
                width: 65535,
                height: 65535
            })
        ));
    }

    #[test]
    fn the_font_draws_french() {
        let font = font();
        for c in "àâæçéèêëîïôœùûüÿÀÂÆÇÉÈÊËÎÏÔŒÙÛÜŸ«»’€".chars()
        {
            assert_ne!(font.glyph_id(c).0, 0, "{c} has no glyph");
        }
    }
}
