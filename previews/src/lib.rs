//! The pages of stored documents drawn as JPEG images, so that staff see every page of every
//! document as the candidate sent it, whatever their browser reads.
//!
//! Every page of a PDF, of a multi-page TIFF, or the one page of a photo (JPEG, PNG, WebP, GIF,
//! BMP) is drawn [`READING_WIDTH`] pixels wide, then downscaled to a [`THUMBNAIL_WIDTH`]
//! thumbnail: one drawing a page, not two. A page that cannot be drawn gets a [`placeholder`]
//! and its reason; it never stops the pages after it.
//!
//! # Choices
//!
//! - **PDFs are drawn by hayro**, the pure-Rust renderer whose parser (`hayro-syntax`)
//!   `validators` already uses for damaged files, rather than through bindings to Poppler,
//!   MuPDF or PDFium: no C library parses candidates' files in any process of guichet, the
//!   build needs no system library, and both crates read PDFs alike. Fonts a PDF names without
//!   embedding them (the 14 standard fonts: Helvetica, Times, Courier…) are drawn with the
//!   substitutes hayro embeds.
//! - **In a child process** ([`Isolation::Process`], the hidden `guichet render-pages`):
//!   hayro cannot be interrupted, and a renderer is the code most exposed to hostile input. The
//!   parent waits [`Limits::page_timeout`] for each page; a page that takes longer, or whose
//!   drawing kills the child, gets a placeholder with its reason, the child is killed and
//!   reaped, and a new child goes on from the next page. Pages come back one at a time, framed
//!   on the child's standard output, as soon as each is drawn.
//! - **Memory is bounded by `RLIMIT_AS`** ([`Limits::memory_bytes`]), which the child sets on
//!   itself before it reads the document ([`confine`]; it is told the limit in its
//!   arguments): an allocation beyond it fails, Rust aborts the child, and the parent reports
//!   the page as out of memory. No core file is written (`RLIMIT_CORE` 0). Pages are decoded one at a
//!   time; the file itself is held whole (hayro and the TIFF pages need random access).
//! - **Sizes.** A page is drawn to fit [`READING_WIDTH`] wide and at most
//!   [`Limits::max_height_ratio`] times that high (a long receipt is scaled down to fit). PDF
//!   pages, being vector, fill the width unless that long. Raster pages (scans, photos) are
//!   never enlarged more than twice: a 600-pixel photo is drawn 1200 wide, its text larger on
//!   screen and no blurrier than the browser would make it, rather than stretched to 1600. The
//!   thumbnail is the reading image downscaled (area-averaged), never enlarged.
//! - TIFF pages are decoded by the `tiff` crate, except fax pages (CCITT modified Huffman,
//!   Group 3), decoded with `hayro-ccitt` as `validators` does, and palette pages, which the
//!   `tiff` crate refuses: their indices are read as grey levels and looked up in the colour
//!   map. The TIFF and EXIF orientation of a page or photo is applied.
//! - JPEG output (quality 85) carries no metadata (no EXIF, no comment); transparency is drawn
//!   on white; pages without colour are encoded grey (three times faster, and smaller).
//! - [`watermark()`] lays a piece's text over a picture already made (page or display copy),
//!   when it is served: see that module.
//! - [`Isolation::InProcess`] draws in the calling thread with neither bound: for tests and
//!   trusted input. A photo whose pixels would take more than half of
//!   [`Limits::memory_bytes`] is refused before they are allocated, in either mode.

mod fax;
mod frame;
mod isolation;
mod output;
mod pdf;
mod raster;
mod source;
mod tiff;
pub mod watermark;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use dossiers::Kind;

pub use isolation::confine;
pub use output::placeholder;
pub use watermark::{WatermarkError, watermark};

/// The widths rendered: a thumbnail and a reading size (pixels).
pub const THUMBNAIL_WIDTH: u32 = 200;
pub const READING_WIDTH: u32 = 1600;

/// The bounds of a rendering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// How long the child may take to draw one page (and to open the document) before the page
    /// is given up. Not enforced by [`Isolation::InProcess`].
    pub page_timeout: Duration,
    /// The address space of the child (`RLIMIT_AS`), its binary and libraries included. Not
    /// enforced by [`Isolation::InProcess`].
    pub memory_bytes: u64,
    /// Pages beyond this are not drawn ([`Rendered::page_count`] still counts them).
    pub max_pages: u32,
    /// A page is drawn at most this many times as high as the width it is drawn for (scaled
    /// down to fit when it is longer).
    pub max_height_ratio: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            page_timeout: Duration::from_secs(20),
            memory_bytes: 2 << 30,
            max_pages: 500,
            max_height_ratio: 4,
        }
    }
}

/// One image of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageImage {
    pub width: u32,
    pub height: u32,
    /// A baseline JPEG, without metadata.
    pub jpeg: Vec<u8>,
}

/// One page at both widths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedPage {
    /// 1-based.
    pub page: u32,
    pub thumbnail: PageImage,
    pub reading: PageImage,
    /// Why the page could not be drawn, when the images are placeholders.
    pub failure: Option<String>,
}

/// The pages of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Pages 1 to `min(page_count, max_pages)`, in order.
    pub pages: Vec<RenderedPage>,
    /// The document's number of pages, including those beyond [`Limits::max_pages`].
    pub page_count: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The kind is not drawn here, or the file is not a document whose pages can be found.
    #[error("not renderable: {0}")]
    NotRenderable(String),
    #[error("input/output: {0}")]
    Io(#[from] std::io::Error),
    /// The child process failed before it could say how many pages the document has.
    #[error("the renderer failed: {0}")]
    Child(String),
}

/// Where the pages are drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Isolation {
    /// In the calling thread, without a time or memory bound (tests, trusted input).
    InProcess,
    /// In child processes: `exe args… --kind K --from-page N … -- FILE`, such as the guichet
    /// binary with `["render-pages"]`, which calls [`child_main`].
    Process { exe: PathBuf, args: Vec<String> },
}

/// Renders every page of the file at `path`, of kind `kind`, at both widths.
pub fn render_file(
    path: &Path,
    kind: Kind,
    isolation: &Isolation,
    limits: &Limits,
) -> Result<Rendered, RenderError> {
    let mut pages = Vec::new();
    let page_count = render_each(path, kind, isolation, limits, |page| pages.push(page))?;
    Ok(Rendered { pages, page_count })
}

/// [`render_file`], giving each page to `on_page` as soon as it is drawn, so that the caller
/// can store it and hold one page at a time. Returns the document's number of pages.
pub fn render_each(
    path: &Path,
    kind: Kind,
    isolation: &Isolation,
    limits: &Limits,
    mut on_page: impl FnMut(RenderedPage),
) -> Result<u32, RenderError> {
    match isolation {
        Isolation::InProcess => source::render_pages(path, kind, 1, limits, |progress| {
            if let source::Progress::Page(page) = progress {
                on_page(page);
            }
            Ok(())
        }),
        Isolation::Process { exe, args } => {
            isolation::render_in_children(path, kind, exe, args, limits, &mut on_page)
        }
    }
}

/// The child side: renders pages `from_page..` of the file at `path` and writes, to `out`, one
/// record as each page is done (the format: `frame`), flushing after each. A document that
/// cannot be drawn is reported by a record too, and returned as the error.
pub fn child_main(
    path: &Path,
    kind: Kind,
    from_page: u32,
    limits: &Limits,
    out: &mut impl Write,
) -> Result<(), RenderError> {
    let result = source::render_pages(path, kind, from_page, limits, |progress| {
        match progress {
            source::Progress::Count(pages) => frame::write_document(out, pages),
            source::Progress::Page(page) => frame::write_page(out, &page),
        }
        .and_then(|()| out.flush())
        .map_err(|e| std::io::Error::new(e.kind(), format!("writing the pages: {e}")))
    });
    match result {
        Ok(_) => Ok(()),
        Err(e) => {
            let written = match &e {
                RenderError::NotRenderable(reason) => frame::write_not_renderable(out, reason),
                other => frame::write_error(out, &other.to_string()),
            };
            // The parent may be gone; the error is still the answer.
            let _ = written.and_then(|()| out.flush());
            Err(e)
        }
    }
}
