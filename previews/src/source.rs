//! A document opened for drawing, and the loop that draws its pages one at a time: each page
//! is drawn, fitted and encoded on its own, a panic or failure on one becomes that page's
//! placeholder, and nothing of a page is kept once it is handed on.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use dossiers::Kind;
use image::DynamicImage;

use crate::{Limits, RenderError, RenderedPage, output, pdf, raster, tiff};

/// What the drawing loop reports, in order: the page count once, then each page.
pub(crate) enum Progress {
    Count(u32),
    Page(RenderedPage),
}

/// A document whose pages can be drawn one at a time.
enum Source {
    Pdf(pdf::PdfPages),
    Tiff(tiff::TiffPages),
    Image(raster::Photo),
}

/// How a page comes out of its source.
pub(crate) enum Drawn {
    /// Drawn at its reading size already (a PDF page, drawn for it).
    Fitted(DynamicImage),
    /// At its own resolution (a scan, a photo), to be fitted.
    Raster(DynamicImage),
}

impl Source {
    fn open(path: &Path, kind: Kind, limits: &Limits) -> Result<Source, RenderError> {
        Ok(match kind {
            Kind::Pdf => Source::Pdf(pdf::PdfPages::open(std::fs::read(path)?)?),
            Kind::Tiff => Source::Tiff(tiff::TiffPages::open(std::fs::read(path)?, limits)?),
            Kind::Jpeg | Kind::Png | Kind::Webp | Kind::Gif | Kind::Bmp => {
                Source::Image(raster::Photo::open(path, kind, limits)?)
            }
            Kind::Heic | Kind::Avif => {
                return Err(RenderError::NotRenderable(format!(
                    "{kind} photos are drawn from their JPEG display copy"
                )));
            }
            Kind::Jp2 => {
                return Err(RenderError::NotRenderable(format!(
                    "{kind} files are not drawn"
                )));
            }
        })
    }

    fn page_count(&self) -> u32 {
        match self {
            Source::Pdf(pdf) => pdf.page_count(),
            Source::Tiff(tiff) => tiff.page_count(),
            Source::Image(_) => 1,
        }
    }

    /// Draws page `index` (0-based).
    fn draw(&self, index: u32, limits: &Limits) -> Result<Drawn, String> {
        match self {
            Source::Pdf(pdf) => pdf.draw(index, limits.max_height_ratio).map(Drawn::Fitted),
            Source::Tiff(tiff) => tiff.draw(index).map(Drawn::Raster),
            Source::Image(photo) => photo.draw().map(Drawn::Raster),
        }
    }
}

/// Draws pages `from_page..` (1-based) of the file at `path`, up to `limits.max_pages`: tells
/// `progress` the document's page count, then each page as soon as it is drawn. Returns the
/// page count. An error of `progress` (its reader gone) stops the drawing.
pub(crate) fn render_pages(
    path: &Path,
    kind: Kind,
    from_page: u32,
    limits: &Limits,
    mut progress: impl FnMut(Progress) -> std::io::Result<()>,
) -> Result<u32, RenderError> {
    let source = Source::open(path, kind, limits)?;
    let count = source.page_count();
    progress(Progress::Count(count))?;
    for page in from_page.max(1)..=count.min(limits.max_pages) {
        progress(Progress::Page(render_page(&source, page, limits)))?;
    }
    Ok(count)
}

/// Page `page` (1-based) at both widths, or placeholders with the reason it could not be.
fn render_page(source: &Source, page: u32, limits: &Limits) -> RenderedPage {
    // A panic inside a decoder or the renderer is that page's failure: nothing outlives the
    // page but the source, which no drawing changes.
    let images = catch_unwind(AssertUnwindSafe(|| {
        let drawn = source.draw(page - 1, limits)?;
        output::encode(drawn, limits.max_height_ratio)
    }))
    .unwrap_or_else(|panic| Err(format!("the renderer failed: {}", panic_message(&*panic))));
    match images {
        Ok((thumbnail, reading)) => RenderedPage {
            page,
            thumbnail,
            reading,
            failure: None,
        },
        Err(reason) => output::failed(page, reason),
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic")
}
