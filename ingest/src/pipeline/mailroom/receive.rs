//! Receiving a batch: staged, checked to be a PDF or a TIFF, stored as evidence, recorded,
//! and its processing enqueued. The same batch sent again (same bytes) is the same batch: a
//! station that lost the answer may send again safely.

use bytes::Bytes;
use chrono::Utc;
use futures::Stream;
use serde_json::json;
use tokio::io::AsyncReadExt;

use dossiers::Kind;
use storage::NewJob;
use storage::repository::BatchRecord;
use validators::{Reason, ReasonCode};

use super::{JOB_KIND, state};
use crate::app::App;
use crate::error::Error;
use crate::pipeline::receive::receive;

/// The batch a station sent; `created` is false when the same bytes were sent before.
pub struct Received {
    pub batch: BatchRecord,
    pub created: bool,
}

/// Receives a batch from `station`: staged, checked to be a PDF or a TIFF, stored, recorded,
/// and its processing enqueued.
pub async fn receive_batch<S, E>(
    app: &App,
    station: &str,
    filename: Option<String>,
    content_length: Option<u64>,
    body: S,
) -> Result<Received, Error>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::fmt::Display,
{
    let limit = app.settings.max_body_bytes;
    if content_length.is_some_and(|length| length > limit) {
        return Err(Error::TooLarge { limit });
    }
    let staged = receive(app, body, limit, content_length).await?;
    let mut head = vec![0u8; 8192];
    let read = tokio::fs::File::open(staged.path())
        .await
        .map_err(|e| Error::Internal(format!("reading staged batch: {e}")))?
        .read(&mut head)
        .await
        .map_err(|e| Error::Internal(format!("reading staged batch: {e}")))?;
    head.truncate(read);
    let format = match validators::detect(&head).kind {
        Some(Kind::Pdf) => "pdf",
        Some(Kind::Tiff) => "tiff",
        other => {
            let found = other.map_or_else(|| "unknown content".to_string(), |k| k.to_string());
            return Err(Error::Rejected {
                reasons: vec![Reason::with_detail(
                    ReasonCode::KindNotAccepted,
                    format!("a batch is a PDF or a multi-page TIFF; found {found}"),
                )],
            });
        }
    };
    let (sha256, size) = (staged.key().hex().to_string(), staged.size());
    app.blobs.put(staged).await?;
    let now = Utc::now();
    let record = BatchRecord {
        id: uuid::Uuid::now_v7().to_string(),
        station: station.to_string(),
        filename,
        sha256,
        size,
        format: format.to_string(),
        state: state::QUEUED.to_string(),
        pages: None,
        report: json!({}),
        error: None,
        received_at: now,
        updated_at: now,
    };
    let (batch, created) = app.repo.insert_batch(&record).await?;
    // Enqueued after the row on purpose: if the process dies in between, the station never
    // got its answer and sends again, which enqueues (idempotently) the job for the same row.
    app.repo
        .enqueue_job(&NewJob {
            kind: JOB_KIND.to_string(),
            key: batch.id.clone(),
            payload: json!({}),
        })
        .await?;
    app.jobs_enqueued.enqueued(JOB_KIND);
    if created {
        tracing::info!(batch = %batch.id, station, size, format, "mailroom batch received");
    }
    Ok(Received { batch, created })
}

pub async fn batch(app: &App, id: &str) -> Result<BatchRecord, Error> {
    app.repo
        .batch(id)
        .await?
        .ok_or_else(|| Error::UnknownBatch(id.to_string()))
}
