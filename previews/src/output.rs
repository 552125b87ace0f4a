//! From a drawn page to its two JPEGs: fitted to the reading size, downscaled to the
//! thumbnail, drawn on white, encoded without metadata. And the placeholder of a page that
//! could not be drawn.

use std::sync::OnceLock;

use image::imageops::{self, FilterType};
use image::{DynamicImage, GrayImage, Luma, Pixel};

use crate::source::Drawn;
use crate::{PageImage, READING_WIDTH, RenderedPage, THUMBNAIL_WIDTH};

/// Good enough for reading small print, a third of the size of quality 95.
const JPEG_QUALITY: u8 = 85;

/// A raster page (scan, photo) is never enlarged more than this.
const MAX_ENLARGEMENT: u32 = 2;

/// The size of a page `width` × `height` (points or pixels) drawn to fit `box_width` wide and
/// `ratio` × `box_width` high, its proportions kept; at least one pixel each way.
pub(crate) fn fit(width: f64, height: f64, box_width: u32, ratio: u32) -> (u32, u32) {
    let sane = |v: f64| if v.is_finite() && v > 0.0 { v } else { 1.0 };
    let (width, height) = (sane(width), sane(height));
    let box_width = f64::from(box_width.max(1));
    let box_height = box_width * f64::from(ratio.max(1));
    let scale = (box_width / width).min(box_height / height);
    // Rounded, not truncated: 612 pt × (1600 / 612) is 1599.999…
    let w = (width * scale).round().clamp(1.0, box_width);
    let h = (height * scale).round().clamp(1.0, box_height);
    (w as u32, h as u32)
}

/// The thumbnail and the reading image of a drawn page, as JPEGs.
pub(crate) fn encode(drawn: Drawn, ratio: u32) -> Result<(PageImage, PageImage), String> {
    let reading = match drawn {
        Drawn::Fitted(image) => flatten(image),
        Drawn::Raster(image) => {
            let image = flatten(image);
            let box_width = READING_WIDTH.min(image.width().saturating_mul(MAX_ENLARGEMENT));
            let (w, h) = fit(
                f64::from(image.width()),
                f64::from(image.height()),
                box_width,
                ratio,
            );
            resize(image, w, h)
        }
    };
    let (w, h) = fit(
        f64::from(reading.width()),
        f64::from(reading.height()),
        THUMBNAIL_WIDTH.min(reading.width()),
        ratio,
    );
    let thumbnail = resize(reading.clone(), w, h);
    Ok((jpeg(&thumbnail)?, jpeg(&reading)?))
}

/// The image scaled to exactly `width` × `height`: area-averaged when smaller (what keeps
/// thin strokes of text and scans visible), Catmull-Rom when larger.
fn resize(image: DynamicImage, width: u32, height: u32) -> DynamicImage {
    if (image.width(), image.height()) == (width, height) {
        image
    } else if width <= image.width() && height <= image.height() {
        // On the buffers themselves: through `DynamicImage` each pixel is read by a dynamic
        // call, several times slower.
        match image {
            DynamicImage::ImageLuma8(grey) => {
                DynamicImage::ImageLuma8(imageops::thumbnail(&grey, width, height))
            }
            DynamicImage::ImageRgb8(rgb) => {
                DynamicImage::ImageRgb8(imageops::thumbnail(&rgb, width, height))
            }
            other => other.thumbnail_exact(width, height),
        }
    } else {
        image.resize_exact(width, height, FilterType::CatmullRom)
    }
}

/// The image as 8-bit grey or RGB, drawn over white where it is transparent. Colour without
/// colour (most documents: black on white) is grey: a JPEG of one channel is encoded three
/// times faster, and smaller.
fn flatten(image: DynamicImage) -> DynamicImage {
    match image {
        DynamicImage::ImageRgb8(rgb) if rgb.pixels().all(|p| p[0] == p[1] && p[1] == p[2]) => {
            let (width, height) = rgb.dimensions();
            let grey = rgb.into_raw().into_iter().step_by(3).collect();
            DynamicImage::ImageLuma8(
                GrayImage::from_raw(width, height, grey).expect("one sample of three a pixel"),
            )
        }
        DynamicImage::ImageLuma8(_) | DynamicImage::ImageRgb8(_) => image,
        DynamicImage::ImageLuma16(_) => DynamicImage::ImageLuma8(image.to_luma8()),
        DynamicImage::ImageRgb16(_) | DynamicImage::ImageRgb32F(_) => {
            DynamicImage::ImageRgb8(image.to_rgb8())
        }
        DynamicImage::ImageLumaA8(_) | DynamicImage::ImageLumaA16(_) => {
            let grey = image.to_luma_alpha8();
            let mut out = GrayImage::new(grey.width(), grey.height());
            for (o, p) in out.pixels_mut().zip(grey.pixels()) {
                *o = Luma([over_white(p[0], p[1])]);
            }
            DynamicImage::ImageLuma8(out)
        }
        other => {
            let mut rgba = other.to_rgba8();
            for p in rgba.pixels_mut() {
                let a = p[3];
                p.apply_without_alpha(|c| over_white(c, a));
            }
            DynamicImage::ImageRgb8(DynamicImage::ImageRgba8(rgba).to_rgb8())
        }
    }
}

/// A sample of opacity `alpha` over white.
pub(crate) fn over_white(sample: u8, alpha: u8) -> u8 {
    let (c, a) = (u32::from(sample), u32::from(alpha));
    ((c * a + 255 * (255 - a) + 127) / 255) as u8
}

/// The image as a JPEG of this crate's quality, without metadata: grey in one channel, colour
/// with its chroma halved both ways (4:2:0), as cameras and `image`'s encoder do.
pub(crate) fn jpeg(image: &DynamicImage) -> Result<PageImage, String> {
    use turbojpeg::{Subsamp, compress_image};
    let quality = i32::from(JPEG_QUALITY);
    // On the buffers themselves, as for scaling.
    let jpeg = match image {
        DynamicImage::ImageLuma8(grey) => compress_image(grey, quality, Subsamp::Gray),
        DynamicImage::ImageRgb8(rgb) => compress_image(rgb, quality, Subsamp::Sub2x2),
        other => compress_image(&other.to_rgb8(), quality, Subsamp::Sub2x2),
    }
    .map_err(|e| format!("encoding the page as JPEG: {e}"))?;
    Ok(PageImage {
        width: image.width(),
        height: image.height(),
        jpeg: jpeg.to_vec(),
    })
}

/// A placeholder page image (a light grey page with a visible mark, not blank white) for a
/// page that could not be rendered: an A4-shaped grey sheet, framed and crossed out.
pub fn placeholder(width: u32) -> PageImage {
    let width = width.clamp(8, 8000);
    let height = width * 297 / 210;
    let stroke = (width / 60).max(2);
    let mut page = GrayImage::from_pixel(width, height, Luma([225]));
    let mark = Luma([150]);
    for (x, y, pixel) in page.enumerate_pixels_mut() {
        let border = x < stroke || y < stroke || x >= width - stroke || y >= height - stroke;
        // The two diagonals, `stroke` wide horizontally.
        let along = u64::from(y) * u64::from(width) / u64::from(height);
        let near = |a: u64| a.abs_diff(u64::from(x)) <= u64::from(stroke / 2);
        let cross = near(along) || near(u64::from(width - 1) - along.min(u64::from(width - 1)));
        if border || cross {
            *pixel = mark;
        }
    }
    jpeg(&DynamicImage::ImageLuma8(page)).expect("a grey page of at most 8000×11314 encodes")
}

/// The placeholders of a failed page, with its reason.
pub(crate) fn failed(page: u32, reason: String) -> RenderedPage {
    static PLACEHOLDERS: OnceLock<(PageImage, PageImage)> = OnceLock::new();
    let (thumbnail, reading) = PLACEHOLDERS
        .get_or_init(|| (placeholder(THUMBNAIL_WIDTH), placeholder(READING_WIDTH)))
        .clone();
    RenderedPage {
        page,
        thumbnail,
        reading,
        failure: Some(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_fit_the_width_and_long_ones_the_height() {
        // US Letter in points: 1599.999… rounds to the full width.
        assert_eq!(fit(612.0, 792.0, 1600, 4), (1600, 2071));
        assert_eq!(fit(595.0, 842.0, 200, 4), (200, 283));
        // A receipt ten times as long as wide is scaled down to 4 × 1600 high.
        assert_eq!(fit(200.0, 2000.0, 1600, 4), (640, 6400));
        // Landscape, a sliver, nonsense.
        assert_eq!(fit(842.0, 595.0, 1600, 4), (1600, 1131));
        assert_eq!(fit(10000.0, 1.0, 1600, 4), (1600, 1));
        assert_eq!(fit(f64::NAN, 0.0, 1600, 4), (1600, 1600));
    }

    #[test]
    fn small_photos_are_enlarged_at_most_twice_and_thumbnails_never() {
        let photo =
            DynamicImage::ImageRgb8(image::RgbImage::from_pixel(300, 400, [9, 9, 9].into()));
        let (thumbnail, reading) = encode(Drawn::Raster(photo), 4).expect("encodes");
        assert_eq!((reading.width, reading.height), (600, 800));
        assert_eq!((thumbnail.width, thumbnail.height), (200, 267));
        let tiny = DynamicImage::ImageLuma8(GrayImage::new(50, 40));
        let (thumbnail, reading) = encode(Drawn::Raster(tiny), 4).expect("encodes");
        assert_eq!((reading.width, reading.height), (100, 80));
        assert_eq!((thumbnail.width, thumbnail.height), (100, 80));
    }

    #[test]
    fn transparency_is_drawn_on_white() {
        let clear = image::RgbaImage::from_pixel(20, 10, [0, 0, 0, 0].into());
        let flat = flatten(DynamicImage::ImageRgba8(clear)).to_rgb8();
        assert!(flat.pixels().all(|p| p.0 == [255, 255, 255]));
        assert_eq!(over_white(0, 255), 0);
        assert_eq!(over_white(0, 128), 127);
    }

    #[test]
    fn the_placeholder_is_grey_and_marked() {
        let image = placeholder(READING_WIDTH);
        assert_eq!((image.width, image.height), (1600, 2262));
        let grey = image::load_from_memory(&image.jpeg)
            .expect("a JPEG")
            .to_luma8();
        let light = grey.pixels().filter(|p| (200..240).contains(&p[0])).count();
        let marked = grey.pixels().filter(|p| p[0] < 180).count();
        let total = grey.pixels().count();
        assert!(light > total / 2, "mostly light grey");
        assert!(marked > total / 100, "a visible mark");
        assert!(grey.pixels().all(|p| p[0] < 250), "never white");
    }
}
