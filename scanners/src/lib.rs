//! The paper path of guichet: bytes in, results out (no network, no database).
//!
//! - [`sheet`]: what a cover or separator sheet's QR code says, tagged under the server secret.
//! - [`cover`]: the printable A4 sheet.
//! - [`batch`]: reading a scanned batch (PDF or multi-page TIFF), from memory or page by page
//!   from a file, into pages that keep their original encoded image.
//! - [`split`]: one decision per page (sheet, blank, content, unreadable sheet), the segments
//!   between sheets and what cannot be attributed; rebuilding a segment as a PDF without
//!   re-encoding.
//! - `generate` (feature `generate`): synthetic scanned batches for tests, samples and the
//!   benchmark.

#![warn(missing_docs)]

pub mod batch;
pub mod cover;
#[cfg(feature = "generate")]
pub mod generate;
mod raster;
mod rebuild;
pub mod sheet;
mod source;
pub mod split;
mod tiff_reader;

pub use batch::{Batch, BatchError, BatchFormat, BatchLimits, Page, PageImage, open, read};
pub use cover::{CoverSheet, render};
pub use sheet::{SheetCode, SheetError, decode, encode};
pub use split::{PageFinding, Segment, Split, Unmatched, UnmatchedReason, segment_pdf, split};
