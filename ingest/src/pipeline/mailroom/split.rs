//! Splitting a batch: the `mailroom.batch` job. A worker of any process claims it under a
//! lease, reads the stored batch, finds its sheets and blank pages (`scanners`), then files
//! each segment ([`super::file`]) and sends what no dossier takes to [`super::triage`],
//! writing the batch's report as it goes so that progress can be read and a resumed run knows
//! what is done. A batch that cannot be read fails for good: its bytes will not read better.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use scanners::batch::BatchLimits;
use scanners::split::{PageFinding, Split};
use storage::Job;

use super::{JOB_KIND, file, read_blob, state, triage};
use crate::app::App;
use crate::error::Error;

/// How long a claimed batch is the worker's; renewed after the split and between segments.
/// A batch whose worker died is taken up by another (or the restarted process) once it lapses.
const LEASE: Duration = Duration::from_secs(30);

/// The background worker: processes queued batches, one at a time per process, until the
/// process ends. Failed attempts are given back and retried with a growing pause.
pub async fn worker(app: App) {
    crate::pipeline::jobs::work(
        app,
        JOB_KIND,
        "mailroom",
        LEASE,
        |app, job, owner| async move { run(&app, &job, &owner).await },
    )
    .await;
}

/// One batch, from its stored bytes to its filed segments. `Err` gives the job back.
async fn run(app: &App, job: &Job, owner: &str) -> Result<(), String> {
    let text = |e: Error| e.to_string();
    let Some(record) = app.repo.batch(&job.key).await.map_err(|e| e.to_string())? else {
        app.repo
            .complete_job(job.id, owner)
            .await
            .map_err(|e| e.to_string())?;
        return Ok(());
    };
    if record.state == state::DONE || record.state == state::FAILED {
        app.repo
            .complete_job(job.id, owner)
            .await
            .map_err(|e| e.to_string())?;
        return Ok(());
    }
    let bytes = read_blob(app, &record.sha256).await.map_err(text)?;
    let secret = app.secret.clone();
    let parsed = tokio::task::spawn_blocking(move || {
        let batch = scanners::batch::read(&bytes, &BatchLimits::default())?;
        let split = scanners::split::split(&batch, &secret);
        Ok::<_, scanners::batch::BatchError>((batch, split))
    })
    .await
    .map_err(|e| format!("batch task failed: {e}"))?;
    let (batch, split) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            // The bytes will not read better next time: the batch fails for good.
            let report = json!({"error": {"code": e.code(), "message": e.to_string()}});
            app.repo
                .update_batch(&record.id, state::FAILED, None, &report, Some(e.code()))
                .await
                .map_err(|e| e.to_string())?;
            tracing::warn!(batch = %record.id, error = %e, "mailroom batch unreadable");
            app.repo
                .complete_job(job.id, owner)
                .await
                .map_err(|e| e.to_string())?;
            return Ok(());
        }
    };
    let pages = u32::try_from(batch.pages.len()).unwrap_or(u32::MAX);
    renew(app, job, owner).await?;
    let mut report = Report::new(&split);
    app.repo
        .update_batch(
            &record.id,
            state::PROCESSING,
            Some(pages),
            &report.json(),
            None,
        )
        .await
        .map_err(|e| e.to_string())?;
    let batch = Arc::new(batch);

    for segment in &split.segments {
        renew(app, job, owner).await?;
        let outcome = file::file_segment(app, &record, &batch, segment)
            .await
            .map_err(text)?;
        report.segments.push(outcome);
        app.repo
            .update_batch(
                &record.id,
                state::PROCESSING,
                Some(pages),
                &report.json(),
                None,
            )
            .await
            .map_err(|e| e.to_string())?;
    }
    for unmatched in &split.unmatched {
        let entry = triage::pages(
            app,
            &batch,
            &unmatched.pages,
            unmatched.reason.code(),
            unmatched.reason.message(),
        )
        .await
        .map_err(text)?;
        report.unmatched.push(entry);
    }
    report.unmatched.sort_by_key(|u| u["pages"][0].as_u64());
    app.repo
        .update_batch(&record.id, state::DONE, Some(pages), &report.json(), None)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(batch = %record.id, pages, segments = report.segments.len(),
        unmatched = report.unmatched.len(), "mailroom batch done");
    app.repo
        .complete_job(job.id, owner)
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Extends the lease; `Err` when another worker took the batch (this one stops filing).
async fn renew(app: &App, job: &Job, owner: &str) -> Result<(), String> {
    let kept = app
        .repo
        .renew_lease(job.id, owner, LEASE)
        .await
        .map_err(|e| e.to_string())?;
    if kept {
        Ok(())
    } else {
        Err("lost the batch's lease to another worker".into())
    }
}

/// What a batch's `report` holds: each page's finding, the segments filed so far, the pages
/// sent to triage.
struct Report {
    findings: Vec<Value>,
    segments: Vec<Value>,
    unmatched: Vec<Value>,
}

impl Report {
    fn new(split: &Split) -> Report {
        let findings = split
            .pages
            .iter()
            .zip(&split.ink)
            .enumerate()
            .map(|(i, (finding, ink))| {
                let (kind, detail) = match finding {
                    PageFinding::Sheet(code) => (
                        "sheet",
                        json!({"dossier": code.dossier, "piece": code.piece}),
                    ),
                    PageFinding::Blank { .. } => ("blank", Value::Null),
                    PageFinding::Content => ("content", Value::Null),
                    PageFinding::UnreadableSheet(why) => {
                        ("unreadable_sheet", json!({"reason": why.code()}))
                    }
                };
                json!({"page": i + 1, "finding": kind, "ink": ink, "sheet": detail})
            })
            .collect();
        Report {
            findings,
            segments: Vec::new(),
            unmatched: Vec::new(),
        }
    }

    fn json(&self) -> Value {
        json!({
            "pages": self.findings,
            "segments": self.segments,
            "unmatched": self.unmatched,
        })
    }
}
