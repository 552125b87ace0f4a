//! The paper path: cover sheets out, scanned batches in, one job per step.
//!
//! - [`receive`]: a station sends a batch (a PDF or a multi-page TIFF). It is received like
//!   any upload (streamed to staging, hashed, limited), stored as evidence under its content
//!   key, recorded, and a `mailroom.batch` job is enqueued; the station gets 202 with the
//!   batch id. The same bytes sent again are the same batch.
//! - [`split`]: a worker of any process claims the job under a lease, reads the batch and
//!   splits it on its sheets (`scanners`), keeping the batch's report up to date.
//! - [`file`]: each segment becomes one PDF taken in by the pipeline's one
//!   [`intake`](super::intake()), channel `mailroom`, with its origin (batch, station, pages).
//! - [`triage`]: pages no dossier takes, and segments a dossier refuses (closed, or its piece
//!   full), are stored as one PDF per run and listed for staff to assign by hand.
//! - [`cover`]: the cover and separator sheets a candidate's paper travels with.
//!
//! Resuming after a crash files nothing twice: a segment's PDF is built from the same page
//! images in the same way, so it has the same bytes, and the same bytes for the same piece of a
//! dossier are the same document.

mod cover;
mod file;
mod receive;
mod split;
mod triage;

pub use cover::cover_sheet;
pub use receive::{Received, batch, receive_batch};
pub use split::worker;
pub use triage::{assign_triage, triage_entries};

use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;
use storage::ContentKey;
use storage::repository::BatchRecord;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::app::App;
use crate::auth::{Role, staff_actor};
use crate::error::Error;
use crate::pipeline::intake::{Arrival, Intake, Origin, intake};

/// The job that takes a received batch through the split, the filing and triage.
pub const JOB_KIND: &str = "mailroom.batch";

/// How batches that fail are retried; part of the service configuration (`[mailroom]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailroomSettings {
    /// Attempts per batch, the first included; after the last one the batch is `failed`,
    /// with the reason of its last failure.
    pub max_attempts: u32,
    /// The wait after the first failed attempt (milliseconds); it doubles at each failure,
    /// up to `retry_max_ms`. Other batches are taken meanwhile.
    pub retry_min_ms: u64,
    /// The longest wait between two attempts (milliseconds).
    pub retry_max_ms: u64,
}

impl Default for MailroomSettings {
    fn default() -> Self {
        MailroomSettings {
            max_attempts: 5,
            retry_min_ms: 10_000,
            retry_max_ms: 10 * 60 * 1_000,
        }
    }
}

impl MailroomSettings {
    pub fn validate(&self) -> Result<(), String> {
        if self.max_attempts == 0 {
            return Err("mailroom.max_attempts must be at least 1".into());
        }
        if self.retry_min_ms == 0 || self.retry_max_ms < self.retry_min_ms {
            return Err("mailroom.retry_min_ms must be positive and at most retry_max_ms".into());
        }
        Ok(())
    }

    fn retry(&self) -> crate::pipeline::jobs::Retry {
        crate::pipeline::jobs::Retry {
            max_attempts: Some(self.max_attempts),
            first: Duration::from_millis(self.retry_min_ms),
            max: Duration::from_millis(self.retry_max_ms),
        }
    }
}

/// A batch's states, as recorded and shown.
pub mod state {
    pub const QUEUED: &str = "queued";
    pub const PROCESSING: &str = "processing";
    pub const DONE: &str = "done";
    pub const FAILED: &str = "failed";
}

/// The bytes of a stored object (a batch, or a triage entry's PDF).
async fn read_blob(app: &App, sha256: &str) -> Result<Vec<u8>, Error> {
    let key = ContentKey::from_hex(sha256)
        .ok_or_else(|| Error::Internal(format!("stored batch key {sha256:?}")))?;
    let mut blob = app.blobs.open(&key).await?.ok_or(Error::ContentMissing)?;
    let mut bytes = Vec::with_capacity(usize::try_from(blob.size).unwrap_or(0));
    blob.reader
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| Error::Unavailable(format!("reading the stored batch: {e}")))?;
    Ok(bytes)
}

/// A stored batch copied, as it streams from the store, to a temporary file of the staging
/// directory, for the split to read it page by page (mapped) rather than hold it in memory.
/// The file is removed when the returned path is dropped.
async fn spool_blob(app: &App, sha256: &str) -> Result<tempfile::TempPath, Error> {
    let key = ContentKey::from_hex(sha256)
        .ok_or_else(|| Error::Internal(format!("stored batch key {sha256:?}")))?;
    let mut blob = app.blobs.open(&key).await?.ok_or(Error::ContentMissing)?;
    let local = |e: std::io::Error| Error::Internal(format!("spooling the stored batch: {e}"));
    let (file, path) = tempfile::Builder::new()
        .prefix("mailroom-batch-")
        .tempfile_in(app.staging.dir())
        .map_err(local)?
        .into_parts();
    let mut out = tokio::fs::File::from_std(file);
    let copied = tokio::io::copy(&mut blob.reader, &mut out)
        .await
        .map_err(|e| Error::Unavailable(format!("reading the stored batch: {e}")))?;
    out.flush().await.map_err(local)?;
    if copied != blob.size {
        return Err(Error::Unavailable(format!(
            "the stored batch is {} bytes, {copied} read",
            blob.size
        )));
    }
    Ok(path)
}

/// What a mailroom PDF is filed as: from which batch and pages, into which dossier and piece
/// (none: unclassified), and by whom when a person assigned it from triage.
struct Filing<'a> {
    record: &'a BatchRecord,
    reference: &'a str,
    piece: Option<String>,
    /// First and last page in the batch, 1-based.
    pages: (usize, usize),
    by: Option<&'a str>,
}

/// Takes one mailroom PDF in through the pipeline's intake.
async fn file_pdf(app: &App, filing: &Filing<'_>, pdf: Bytes) -> Result<Intake, Error> {
    let (first, last) = filing.pages;
    let record = filing.record;
    let arrival = Arrival {
        reference: filing.reference.to_string(),
        piece: filing.piece.clone(),
        filename: Some(format!(
            "lot-{}-pages-{first}-{last}.pdf",
            short(&record.id)
        )),
        content_type: Some("application/pdf".to_string()),
        content_length: Some(pdf.len() as u64),
        origin: Origin::Mailroom {
            batch: record.id.clone(),
            station: record.station.clone(),
            first_page: u32::try_from(first).unwrap_or(u32::MAX),
            last_page: u32::try_from(last).unwrap_or(u32::MAX),
            received_at: record.received_at,
        },
        by: filing.by.map(str::to_string),
        actor: filing.by.map_or_else(
            || format!("{}:{}", Role::Station, record.station),
            staff_actor,
        ),
    };
    let body = futures::stream::once(async move { Ok::<_, std::io::Error>(pdf) });
    intake(app, arrival, body).await
}

/// The last characters of a batch id, enough to tell batches apart in a file name.
fn short(id: &str) -> &str {
    id.get(id.len().saturating_sub(8)..).unwrap_or(id)
}
