//! Splitting a batch: the `mailroom.batch` job. A worker of any process claims it under a
//! lease, reads the stored batch, finds its sheets and blank pages (`scanners`), then files
//! each segment ([`super::file`]) and sends what no dossier takes to [`super::triage`],
//! writing the batch's report as it goes so that progress can be read and a resumed run knows
//! what is done. A batch that cannot be read fails for good: its bytes will not read better.
//! Any other failure gives the batch back, to be tried again after a growing pause
//! ([`MailroomSettings`]) while other batches go on; after the last attempt it is `failed`,
//! with the reason of that attempt in its report. The lease is renewed while the work goes
//! on (the split of a large batch included), so no other process takes the batch midway.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use scanners::batch::BatchLimits;
use scanners::split::{PageFinding, Split};
use storage::Job;

use super::{JOB_KIND, MailroomSettings, file, spool_blob, state, triage};
use crate::app::App;
use crate::error::Error;
use crate::pipeline::jobs::{Retry, with_lease};

/// How long a claimed batch is the worker's; renewed every [`RENEW_EVERY`] while it is worked
/// on. A batch whose worker died is taken up by another (or the restarted process) once it
/// lapses.
const LEASE: Duration = Duration::from_secs(30);
const RENEW_EVERY: Duration = Duration::from_secs(10);

/// The background worker: processes queued batches, one at a time per process, until the
/// process ends. Failed attempts are given back and retried as `settings` say.
pub async fn worker(app: App, settings: MailroomSettings) {
    let retry = settings.retry();
    crate::pipeline::jobs::work(
        app,
        (JOB_KIND, crate::pipeline::jobs::Priority::Prompt),
        "mailroom",
        (LEASE, retry),
        move |app, job, owner| async move { attempt(&app, &job, &owner, retry).await },
    )
    .await;
}

/// One attempt at a batch, under a renewed lease; after the last one, a failure fails the
/// batch with its reason. `Err` gives the job back (or fails it, after the last attempt).
async fn attempt(app: &App, job: &Job, owner: &str, retry: Retry) -> Result<(), String> {
    let work = async { Ok(run(app, job, owner).await.map_err(Failure::from)) };
    let Err(failure) = with_lease(app, job, owner, (LEASE, RENEW_EVERY), work).await? else {
        return Ok(());
    };
    if retry.is_last(job) {
        give_up(app, job, &failure).await;
    }
    Err(failure.detail)
}

/// Why an attempt failed: the error's code and the message a station or staff may read (a
/// fault of the service names no path or address), and the whole story for the log and the
/// job's `last_error`.
struct Failure {
    code: &'static str,
    message: String,
    detail: String,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure {
            code: e.code(),
            message: e.public_message(),
            detail: e.to_string(),
        }
    }
}

/// The batch's last attempt failed: it is `failed`, with the reason in its report.
async fn give_up(app: &App, job: &Job, failure: &Failure) {
    let recorded = async {
        let Some(record) = app.repo.batch(&job.key).await? else {
            return Ok(());
        };
        let mut report = record.report.clone();
        if !report.is_object() {
            report = json!({});
        }
        report["error"] = json!({
            "code": failure.code,
            "message": failure.message,
            "attempts": job.attempts,
        });
        app.repo
            .update_batch(
                &record.id,
                state::FAILED,
                record.pages,
                &report,
                Some(failure.code),
            )
            .await
    };
    if let Err(e) = recorded.await {
        tracing::error!(batch = %job.key, error = %e, "recording a batch's failure");
    }
}

/// One batch, from its stored bytes to its filed segments. `Err` gives the job back.
async fn run(app: &App, job: &Job, owner: &str) -> Result<(), Error> {
    let Some(record) = app.repo.batch(&job.key).await? else {
        app.repo.complete_job(job.id, owner).await?;
        return Ok(());
    };
    if record.state == state::DONE || record.state == state::FAILED {
        app.repo.complete_job(job.id, owner).await?;
        return Ok(());
    }
    // The batch is read page by page from a local copy (kept until the batch is filed), never
    // whole in memory.
    let spooled = spool_blob(app, &record.sha256).await?;
    let path = spooled.to_path_buf();
    let secrets: Vec<Vec<u8>> = app.secrets().into_iter().map(<[u8]>::to_vec).collect();
    let parsed = tokio::task::spawn_blocking(move || {
        let batch = scanners::batch::open(&path, &BatchLimits::default())?;
        let keys: Vec<&[u8]> = secrets.iter().map(Vec::as_slice).collect();
        let split = scanners::split::split_with_keys(&batch, &keys);
        Ok::<_, scanners::batch::BatchError>((batch, split))
    })
    .await
    .map_err(|e| Error::Internal(format!("batch task failed: {e}")))?;
    let (batch, split) = match parsed {
        Ok(parsed) => parsed,
        // The local copy could not be opened: a fault of this host, tried again.
        Err(e @ scanners::batch::BatchError::Io(_)) => {
            return Err(Error::Internal(format!("opening the spooled batch: {e}")));
        }
        Err(e) => {
            // The bytes will not read better next time: the batch fails for good.
            let report = json!({"error": {"code": e.code(), "message": e.to_string()}});
            app.repo
                .update_batch(&record.id, state::FAILED, None, &report, Some(e.code()))
                .await?;
            tracing::warn!(batch = %record.id, error = %e, "mailroom batch unreadable");
            app.repo.complete_job(job.id, owner).await?;
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
        .await?;
    let batch = Arc::new(batch);

    for segment in &split.segments {
        renew(app, job, owner).await?;
        let outcome = file::file_segment(app, &record, &batch, segment).await?;
        report.segments.push(outcome);
        app.repo
            .update_batch(
                &record.id,
                state::PROCESSING,
                Some(pages),
                &report.json(),
                None,
            )
            .await?;
    }
    for unmatched in &split.unmatched {
        let entry = triage::pages(
            app,
            &batch,
            &unmatched.pages,
            unmatched.reason.code(),
            unmatched.reason.message(),
        )
        .await?;
        report.unmatched.push(entry);
    }
    report.unmatched.sort_by_key(|u| u["pages"][0].as_u64());
    app.repo
        .update_batch(&record.id, state::DONE, Some(pages), &report.json(), None)
        .await?;
    tracing::info!(batch = %record.id, pages, segments = report.segments.len(),
        unmatched = report.unmatched.len(), "mailroom batch done");
    app.repo.complete_job(job.id, owner).await?;
    drop(batch);
    drop(spooled);
    Ok(())
}

/// Extends the lease; `Err` when another worker took the batch (this one stops filing).
async fn renew(app: &App, job: &Job, owner: &str) -> Result<(), Error> {
    if app.repo.renew_lease(job.id, owner, LEASE).await? {
        Ok(())
    } else {
        Err(Error::Internal(
            "lost the batch's lease to another worker".into(),
        ))
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
