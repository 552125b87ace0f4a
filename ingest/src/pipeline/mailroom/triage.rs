//! Triage: pages no dossier takes (before the first sheet, after an unreadable or forged
//! sheet, after the sheet of an unknown dossier or of another campaign) and segments their
//! dossier refused are built into one PDF per run, stored, and listed in the batch report with
//! their reason code, for staff to file by hand ([`assign_triage`]).

use std::sync::Arc;

use bytes::Bytes;
use chrono::Utc;
use serde_json::{Value, json};

use scanners::batch::Batch;
use storage::{ContentKey, DocumentRecord};

use super::{Filing, file_pdf, read_blob, state};
use crate::app::App;
use crate::error::Error;
use crate::pipeline::receive::receive;

/// Pages no dossier takes: built into one PDF, kept for staff, listed with the reason.
pub(super) async fn pages(
    app: &App,
    batch: &Arc<Batch>,
    pages: &[usize],
    code: &str,
    message: &str,
) -> Result<Value, Error> {
    if pages.is_empty() {
        return Ok(entry(pages, code, message));
    }
    let source = batch.clone();
    let wanted = pages.to_vec();
    let built = tokio::task::spawn_blocking(move || scanners::split::segment_pdf(&source, &wanted))
        .await
        .map_err(|e| Error::Internal(format!("triage task failed: {e}")))?;
    match built {
        Ok(pdf) => keep(app, Bytes::from(pdf), pages, code, message).await,
        Err(e) => {
            let mut entry = entry(pages, code, message);
            entry["error"] = json!(e.to_string());
            Ok(entry)
        }
    }
}

/// Stores the PDF of `pages` for staff and answers its triage entry.
pub(super) async fn keep(
    app: &App,
    pdf: Bytes,
    pages: &[usize],
    code: &str,
    message: &str,
) -> Result<Value, Error> {
    let key = ContentKey::of(&pdf);
    let size = pdf.len() as u64;
    let staged = receive(
        app,
        futures::stream::once(async move { Ok::<_, std::io::Error>(pdf) }),
        app.settings.max_body_bytes,
        Some(size),
    )
    .await?;
    app.blobs.put(staged).await?;
    let mut entry = entry(pages, code, message);
    entry["sha256"] = json!(key.hex());
    Ok(entry)
}

/// A triage entry: the pages (1-based), the reason's code and its message.
fn entry(pages: &[usize], code: &str, message: &str) -> Value {
    json!({
        "pages": pages.iter().map(|p| p + 1).collect::<Vec<_>>(),
        "reason": code,
        "message": message,
    })
}

/// The triage entries of a batch report: the `unmatched` runs, then the segments sent to
/// triage (their `triage` field), in report order.
pub fn triage_entries(report: &Value) -> Vec<&Value> {
    let unmatched = report["unmatched"].as_array().into_iter().flatten();
    let segments = report["segments"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.get("triage"));
    unmatched.chain(segments).collect()
}

fn triage_entry_mut<'a>(report: &'a mut Value, sha256: &str) -> Option<&'a mut Value> {
    let is = |entry: &Value| entry["sha256"].as_str() == Some(sha256);
    if let Some(index) = report["unmatched"]
        .as_array()
        .and_then(|list| list.iter().position(is))
    {
        return report["unmatched"].get_mut(index);
    }
    let index = report["segments"]
        .as_array()?
        .iter()
        .position(|s| s.get("triage").is_some_and(is))?;
    report["segments"][index].get_mut("triage")
}

/// Files the stored PDF of a triage entry (named by its SHA-256) of a finished batch into
/// `reference`, under `piece` (none: unclassified), exactly as a segment is filed, records its
/// origin, and marks the entry `assigned` in the batch report. Assigning an entry already
/// assigned files nothing and answers the document it was filed as.
pub async fn assign_triage(
    app: &App,
    batch_id: &str,
    sha256: &str,
    reference: &str,
    piece: Option<String>,
    by: &str,
) -> Result<DocumentRecord, Error> {
    let record = super::batch(app, batch_id).await?;
    if record.state != state::DONE {
        return Err(Error::Malformed(format!(
            "batch {batch_id} is {}; its triage can be assigned once it is done",
            record.state
        )));
    }
    let no_entry = || Error::UnknownBatch(format!("{batch_id} (no triage entry {sha256})"));
    let mut report = record.report.clone();
    let entry = triage_entry_mut(&mut report, sha256).ok_or_else(no_entry)?;
    if let Some(document) = entry["assigned"]["document"].as_str() {
        return app
            .repo
            .document(document)
            .await?
            .ok_or_else(|| Error::UnknownDocument(document.to_string()));
    }
    let pages: Vec<usize> = entry["pages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_u64)
        .filter_map(|p| usize::try_from(p).ok())
        .collect();
    let (Some(&first), Some(&last)) = (pages.first(), pages.last()) else {
        return Err(no_entry());
    };
    let pdf = read_blob(app, sha256).await?;
    let filing = Filing {
        record: &record,
        reference,
        piece,
        pages: (first, last),
        by: Some(by),
    };
    let filed = file_pdf(app, &filing, Bytes::from(pdf)).await?.document;
    // Re-read: the report may have been assigned elsewhere meanwhile; the filing itself is
    // idempotent, the mark is written on the latest report.
    let latest = super::batch(app, batch_id).await?;
    let mut report = latest.report.clone();
    let entry = triage_entry_mut(&mut report, sha256).ok_or_else(no_entry)?;
    if entry.get("assigned").is_none() {
        entry["assigned"] = json!({
            "dossier": reference,
            "piece": filed.piece,
            "document": filed.id,
            "by": by,
            "at": Utc::now(),
        });
        app.repo
            .update_batch(
                &latest.id,
                &latest.state,
                latest.pages,
                &report,
                latest.error.as_deref(),
            )
            .await?;
        tracing::info!(batch = %batch_id, dossier = %reference, document = %filed.id, by,
            "mailroom triage assigned");
    }
    Ok(filed)
}
