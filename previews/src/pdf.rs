//! PDF pages drawn by hayro at their reading size, rotation (`/Rotate`) and crop box applied,
//! on white.

use hayro::hayro_interpret::InterpreterSettings;
use hayro::hayro_interpret::util::TransformExt;
use hayro::hayro_syntax::{DecryptionError, LoadPdfError, Pdf};
use hayro::kurbo::Affine;
use hayro::vello_cpu::color::palette::css::WHITE;
use hayro::vello_cpu::{PixmapMut, RasterizerSettings, RenderContext, Resources, TargetInit};
use hayro::{RenderCache, RenderSettings, render_into};
use image::{DynamicImage, RgbImage};

use crate::{READING_WIDTH, RenderError, output};

pub(crate) struct PdfPages {
    pdf: Pdf,
}

impl PdfPages {
    pub(crate) fn open(data: Vec<u8>) -> Result<PdfPages, RenderError> {
        // Opened with the empty password: what opens without one (owner password only)
        // is drawn.
        let pdf = Pdf::new(data).map_err(|e| {
            RenderError::NotRenderable(
                match e {
                    LoadPdfError::Decryption(DecryptionError::PasswordProtected) => {
                        "the PDF does not open without its password"
                    }
                    LoadPdfError::Decryption(DecryptionError::UnsupportedAlgorithm) => {
                        "the PDF is encrypted in a way the renderer does not read"
                    }
                    LoadPdfError::Decryption(_) => "the PDF's encryption is damaged",
                    _ => "the PDF's pages cannot be found",
                }
                .into(),
            )
        })?;
        if pdf.pages().is_empty() {
            return Err(RenderError::NotRenderable("the PDF has no pages".into()));
        }
        Ok(PdfPages { pdf })
    }

    pub(crate) fn page_count(&self) -> u32 {
        u32::try_from(self.pdf.pages().len()).unwrap_or(u32::MAX)
    }

    /// Page `index` (0-based), [`READING_WIDTH`] wide or less when long.
    pub(crate) fn draw(&self, index: u32, ratio: u32) -> Result<DynamicImage, String> {
        let pages = self.pdf.pages();
        let page = usize::try_from(index)
            .ok()
            .and_then(|i| pages.get(i))
            .ok_or_else(|| format!("no page {}", u64::from(index) + 1))?;
        // The size the page shows at, after its rotation.
        let (width, height) = page.render_dimensions();
        let (w, h) = output::fit(f64::from(width), f64::from(height), READING_WIDTH, ratio);
        let (w16, h16) = (
            u16::try_from(w).map_err(|_| "page too wide")?,
            u16::try_from(h).map_err(|_| "page too high")?,
        );
        let transform = Affine::scale_non_uniform(
            f64::from(w) / f64::from(width),
            f64::from(h) / f64::from(height),
        ) * page.initial_transform(true).to_kurbo();

        // One cache a page: fonts and images are parsed again on the next page, and what one
        // page needed is freed before the next.
        let cache = RenderCache::new();
        let mut context = RenderContext::new(w16, h16);
        render_into(
            page,
            &cache,
            &InterpreterSettings::default(),
            &RenderSettings::default(),
            &mut context,
            transform,
        );
        context.flush();

        let mut rgba = vec![0u8; w as usize * h as usize * 4];
        let target = PixmapMut::new(w16, h16, &mut rgba).ok_or("no pixmap of the page's size")?;
        context.render_with(
            target,
            &mut Resources::default(),
            RasterizerSettings {
                target_init: TargetInit::Clear(WHITE),
                ..RasterizerSettings::default()
            },
        );
        drop(context);
        let rgb = premultiplied_over_white(rgba);
        let image = RgbImage::from_raw(w, h, rgb).ok_or("a pixmap of the wrong size")?;
        Ok(DynamicImage::ImageRgb8(image))
    }
}

/// Premultiplied RGBA as RGB over white, in place: each colour plus the white showing through.
fn premultiplied_over_white(mut rgba: Vec<u8>) -> Vec<u8> {
    let pixels = rgba.len() / 4;
    for i in 0..pixels {
        let through = 255 - rgba[4 * i + 3];
        for c in 0..3 {
            rgba[3 * i + c] = rgba[4 * i + c].saturating_add(through);
        }
    }
    rgba.truncate(pixels * 3);
    rgba
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn premultiplied_pixels_show_white_through() {
        // Opaque red, transparent, half-transparent black (premultiplied: 0).
        let rgb = premultiplied_over_white(vec![255, 0, 0, 255, 0, 0, 0, 0, 0, 0, 0, 128]);
        assert_eq!(rgb, vec![255, 0, 0, 255, 255, 255, 127, 127, 127]);
    }
}
