//! The paper path: cover sheets out, scanned batches in.
//!
//! A station sends a batch (a PDF or a multi-page TIFF). It is received like any upload
//! (streamed to staging, hashed, limited), stored as evidence under its content key, recorded,
//! and a `mailroom.batch` job is enqueued; the station gets 202 with the batch id. A worker of
//! any process claims the job under a lease, reads the batch, splits it on its sheets
//! (`mailroom` crate), and files each segment as one PDF document through the same steps as
//! an upload: verify, scan, store, match, decide, recompute the dossier.
//!
//! Decisions:
//! - Because the paper is in hand, a mailroom document is always attached to its dossier,
//!   whatever its verdict and whatever the dossier's state or the campaign's window; a
//!   rejected one is recorded `rejected` with its reasons for staff to act on, and one
//!   received after `closes_at` (by the batch's reception time) is flagged `late`.
//! - A segment whose sheet names a piece the campaign lacks is attached unclassified, with
//!   the note `unknown_piece` in the batch report.
//! - Pages no dossier can take (before the first sheet, after an unreadable or forged sheet,
//!   after the sheet of an unknown dossier or of another campaign) go to triage: they are
//!   built into one PDF per run, stored, and listed as `unmatched` with the reason.
//! - Resuming after a crash files nothing twice: a segment's PDF is built from the same page
//!   images in the same way, so it has the same bytes, and the same bytes for the same piece
//!   of a dossier are the same document.
//! - The same batch sent again (same bytes) is the same batch: a station that lost the answer
//!   may send again safely.

use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use futures::Stream;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

use dossiers::{Change, Kind, ReviewPolicy};
use mailroom::batch::{Batch, BatchLimits};
use mailroom::split::{PageFinding, Split};
use storage::repository::{BatchRecord, MailroomOrigin};
use storage::{ContentKey, DocumentRecord, Job, NewJob};
use validators::{Declared, Policy, Reason, ReasonCode};

use super::dossier::{self, Plan, Snapshot};
use super::intake::Channel;
use super::receive::receive;
use super::scan::{self, Outcome};
use crate::app::App;
use crate::error::Error;

pub const JOB_KIND: &str = "mailroom.batch";

/// How long a claimed batch is the worker's; renewed after the split and between segments.
/// A batch whose worker died is taken up by another (or the restarted process) once it lapses.
const LEASE: Duration = Duration::from_secs(30);

pub mod state {
    pub const QUEUED: &str = "queued";
    pub const PROCESSING: &str = "processing";
    pub const DONE: &str = "done";
    pub const FAILED: &str = "failed";
}

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
    let staged = receive(app, body, limit).await?;
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

/// The background worker: processes queued batches, one at a time per process, until the
/// process ends. Failed attempts are given back and retried with a growing pause.
pub async fn worker(app: App) {
    super::jobs::work(
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
        let batch = mailroom::batch::read(&bytes, &BatchLimits::default())?;
        let split = mailroom::split::split(&batch, &secret);
        Ok::<_, mailroom::batch::BatchError>((batch, split))
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
    let batch = std::sync::Arc::new(batch);

    for segment in &split.segments {
        renew(app, job, owner).await?;
        let outcome = file_segment(app, &record, &batch, segment)
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
        let entry = triage(
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

/// Pages as shown to people: 1-based, first and last.
fn page_range(pages: &[usize]) -> Value {
    match (pages.first(), pages.last()) {
        (Some(first), Some(last)) => json!([first + 1, last + 1]),
        _ => json!([]),
    }
}

/// Files one segment in its dossier, or sends it to triage when no dossier can take it.
async fn file_segment(
    app: &App,
    record: &BatchRecord,
    batch: &std::sync::Arc<Batch>,
    segment: &mailroom::split::Segment,
) -> Result<Value, Error> {
    let code = &segment.code;
    let base = json!({
        "sheet_page": segment.sheet_page + 1,
        "pages": page_range(&segment.pages),
        "page_count": segment.pages.len(),
        "dossier": code.dossier,
        "piece": code.piece,
    });
    if segment.pages.is_empty() {
        return Ok(with(base, json!({"note": "empty_segment"})));
    }
    let snapshot = match Snapshot::read(app, &code.dossier).await {
        Ok(snapshot) => snapshot,
        Err(Error::UnknownDossier(_)) => {
            let entry = triage(
                app,
                batch,
                &segment.pages,
                "unknown_dossier",
                "La feuille de couverture désigne un dossier inconnu : classez ces pages à la main.",
            )
            .await?;
            return Ok(with(base, json!({"triage": entry})));
        }
        Err(e) => return Err(e),
    };
    if snapshot.campaign.id() != code.campaign {
        let entry = triage(
            app,
            batch,
            &segment.pages,
            "campaign_mismatch",
            "La feuille de couverture désigne une autre campagne que celle du dossier : classez ces pages à la main.",
        )
        .await?;
        return Ok(with(base, json!({"triage": entry})));
    }
    let piece = code
        .piece
        .as_deref()
        .and_then(|p| snapshot.campaign.piece(p))
        .cloned();
    let unknown_piece = code.piece.is_some() && piece.is_none();

    let (first, last) = (
        segment.pages[0] + 1,
        segment.pages[segment.pages.len() - 1] + 1,
    );
    let pages = segment.pages.clone();
    let source = batch.clone();
    let pdf = tokio::task::spawn_blocking(move || mailroom::split::segment_pdf(&source, &pages))
        .await
        .map_err(|e| Error::Internal(format!("segment task failed: {e}")))?
        .map_err(|e| Error::Internal(format!("building the segment's PDF: {e}")))?;

    let filed = file_pdf(
        app,
        &Filing {
            record,
            snapshot: &snapshot,
            piece: piece.as_ref(),
            pages: (first, last),
            by: None,
        },
        pdf,
    )
    .await?;
    let mut outcome = json!({
        "document": filed.id,
        "verdict": filed.verdict,
        "late": filed.late,
        "reasons": filed.reasons["reasons"],
    });
    if unknown_piece {
        outcome["note"] = json!("unknown_piece");
    }
    Ok(with(base, outcome))
}

/// What a mailroom PDF is filed as: from which batch and pages, into which dossier and piece
/// (none: unclassified), and by whom when a person assigned it from triage.
struct Filing<'a> {
    record: &'a BatchRecord,
    snapshot: &'a Snapshot,
    piece: Option<&'a dossiers::Piece>,
    /// First and last page in the batch, 1-based.
    pages: (usize, usize),
    by: Option<&'a str>,
}

/// Files one mailroom PDF into its dossier like an upload (verify, scan, store, match,
/// decide, recompute the dossier), attached whatever its verdict, and records its origin.
/// The same bytes for the same piece of a dossier from the mailroom are the same document.
async fn file_pdf(app: &App, filing: &Filing<'_>, pdf: Vec<u8>) -> Result<DocumentRecord, Error> {
    let Filing {
        record,
        snapshot,
        piece,
        pages: (first, last),
        by,
    } = *filing;
    let reference = snapshot.reference().to_string();
    let limit = app.settings.max_body_bytes;
    let staged = receive(
        app,
        futures::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(pdf)) }),
        limit,
    )
    .await?;
    let declared = Declared {
        filename: Some(format!(
            "lot-{}-pages-{first}-{last}.pdf",
            short(&record.id)
        )),
        content_type: Some("application/pdf".to_string()),
    };
    let policy = piece.map_or_else(Policy::default, |p| Policy {
        accept: Some(p.accept().to_vec()),
        max_bytes: Some(p.max_bytes()),
        max_pages: p.max_pages(),
    });
    let path = staged.path().to_path_buf();
    let sha256 = staged.key().hex().to_string();
    let limits = app.settings.limits.clone();
    let verdict = {
        let _slot = app
            .verify_slots
            .acquire()
            .await
            .map_err(|_| Error::Internal("verify pool closed".into()))?;
        let declared = declared.clone();
        tokio::task::spawn_blocking(move || {
            validators::validate_file(&path, Some(sha256), &declared, &policy, &limits)
        })
        .await
        .map_err(|e| Error::Internal(format!("verification task failed: {e}")))?
        .map_err(|e| Error::Internal(format!("reading staged content: {e}")))?
    };
    let scanned = if app.scanner.is_some() {
        let file = tokio::fs::File::open(staged.path())
            .await
            .map_err(|e| Error::Internal(format!("reading staged content: {e}")))?;
        scan::scan(app, file).await
    } else {
        None
    };
    let (sha256, size) = (staged.key().hex().to_string(), staged.size());
    app.blobs.put(staged).await?;

    let piece_code = piece.map(|p| p.code().to_string());
    let auto = piece.is_some_and(|p| p.review() == ReviewPolicy::Auto);
    let document = mailroom_document(
        snapshot,
        record,
        piece_code,
        declared,
        &verdict,
        (sha256, size),
        scanned.as_ref(),
        auto,
    );
    let filed = dossier::change(app, &reference, |snapshot| {
        if let Some(existing) = snapshot.active_documents().find(|d| {
            d.piece == document.piece && d.sha256 == document.sha256 && d.channel == "mailroom"
        }) {
            return Ok(Plan::nothing(existing.clone()));
        }
        let mut plan = Plan::nothing(document.clone());
        plan.change.new_documents.push(document.clone());
        if document.scan.as_deref() == Some(scan::state::PENDING) {
            plan.change.jobs.push(scan::job(&document));
        }
        let mut received = json!({"piece": document.piece, "sha256": document.sha256,
               "kind": document.kind, "channel": document.channel,
               "verdict": document.verdict, "late": document.late, "batch": record.id,
               "pages": [first, last]});
        if let Some(by) = by {
            received["by"] = json!(by);
            received["triage"] = json!(true);
        }
        plan.change
            .events
            .push(snapshot.event("document.received", Some(&document.id), received));
        if document.review.is_some() {
            plan.change.events.push(snapshot.event(
                "document.accepted",
                Some(&document.id),
                json!({"piece": document.piece, "by": "auto", "review": false}),
            ));
        }
        let next = dossiers::state::after_change(
            snapshot.state,
            &snapshot.assessment_after(&plan.change),
            Change::DocumentReceived,
        );
        snapshot.move_to(&mut plan.change, next, None);
        Ok(plan)
    })
    .await?;
    app.repo
        .record_origin(&MailroomOrigin {
            document: filed.id.clone(),
            batch: record.id.clone(),
            station: record.station.clone(),
            first_page: u32::try_from(first).unwrap_or(u32::MAX),
            last_page: u32::try_from(last).unwrap_or(u32::MAX),
        })
        .await?;
    Ok(filed)
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
    let record = batch(app, batch_id).await?;
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
    let snapshot = Snapshot::read(app, reference).await?;
    let piece = piece
        .map(|code| {
            snapshot
                .campaign
                .piece(&code)
                .cloned()
                .ok_or_else(|| Error::UnknownPiece {
                    campaign: snapshot.campaign.id().to_string(),
                    piece: code,
                })
        })
        .transpose()?;
    let pdf = read_blob(app, sha256).await?;
    let filed = file_pdf(
        app,
        &Filing {
            record: &record,
            snapshot: &snapshot,
            piece: piece.as_ref(),
            pages: (first, last),
            by: Some(by),
        },
        pdf,
    )
    .await?;
    // Re-read: the report may have been assigned elsewhere meanwhile; the filing itself is
    // idempotent, the mark is written on the latest report.
    let latest = batch(app, batch_id).await?;
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

/// Merges the fields of `extra` into `base`.
fn with(mut base: Value, extra: Value) -> Value {
    if let (Some(base), Value::Object(extra)) = (base.as_object_mut(), extra) {
        base.extend(extra);
    }
    base
}

fn short(id: &str) -> &str {
    id.get(id.len().saturating_sub(8)..).unwrap_or(id)
}

#[allow(clippy::too_many_arguments)]
fn mailroom_document(
    snapshot: &Snapshot,
    batch: &BatchRecord,
    piece: Option<String>,
    declared: Declared,
    verdict: &validators::Verdict,
    (sha256, size): (String, u64),
    scanned: Option<&Outcome>,
    auto: bool,
) -> DocumentRecord {
    let infected = matches!(scanned, Some(Outcome::Infected { .. }));
    let accepted = verdict.accepted() && !infected;
    let clean = scanned.is_none_or(|o| *o == Outcome::Clean);
    let auto = auto && accepted && clean;
    let mut reasons = verdict.reasons.clone();
    if let Some(Outcome::Infected { signature }) = scanned {
        reasons.push(scan::infected_reason(signature));
    }
    let now = Utc::now();
    DocumentRecord {
        id: uuid::Uuid::now_v7().to_string(),
        dossier: snapshot.reference().to_string(),
        piece,
        filename: declared.filename,
        declared_type: declared.content_type,
        sha256,
        size,
        kind: verdict.kind.clone(),
        mime: verdict.mime.clone(),
        pages: verdict.pages,
        channel: Channel::Mailroom.as_str().to_string(),
        verdict: if accepted { "accepted" } else { "rejected" }.to_string(),
        reasons: json!({"reasons": reasons, "notes": verdict.notes}),
        review: auto.then(|| "accepted".to_string()),
        review_reason: None,
        reviewed_by: auto.then(|| "auto".to_string()),
        reviewed_at: auto.then_some(now),
        withdrawn_at: None,
        late: snapshot.campaign.is_late(batch.received_at),
        received_at: now,
        scan: scanned.map(|o| o.state().to_string()),
        scan_signature: match scanned {
            Some(Outcome::Infected { signature }) => Some(signature.clone()),
            _ => None,
        },
    }
}

/// Pages no dossier takes: built into one PDF, stored for staff, listed with the reason.
async fn triage(
    app: &App,
    batch: &std::sync::Arc<Batch>,
    pages: &[usize],
    code: &str,
    message: &str,
) -> Result<Value, Error> {
    let mut entry = json!({
        "pages": pages.iter().map(|p| p + 1).collect::<Vec<_>>(),
        "reason": code,
        "message": message,
    });
    if pages.is_empty() {
        return Ok(entry);
    }
    let source = batch.clone();
    let wanted = pages.to_vec();
    let built = tokio::task::spawn_blocking(move || mailroom::split::segment_pdf(&source, &wanted))
        .await
        .map_err(|e| Error::Internal(format!("triage task failed: {e}")))?;
    match built {
        Ok(pdf) => {
            let key = ContentKey::of(&pdf);
            let staged = receive(
                app,
                futures::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(pdf)) }),
                app.settings.max_body_bytes,
            )
            .await?;
            app.blobs.put(staged).await?;
            entry["sha256"] = json!(key.hex());
        }
        Err(e) => {
            entry["error"] = json!(e.to_string());
        }
    }
    Ok(entry)
}

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

/// The cover sheet (or, with `piece`, the separator sheet) of a dossier, as a PDF.
pub async fn cover_sheet(
    app: &App,
    reference: &str,
    piece: Option<&str>,
) -> Result<Vec<u8>, Error> {
    let snapshot = Snapshot::read(app, reference).await?;
    let piece = piece
        .map(|code| {
            snapshot
                .campaign
                .piece(code)
                .map(|p| (p.code().to_string(), p.label().to_string()))
                .ok_or_else(|| Error::UnknownPiece {
                    campaign: snapshot.campaign.id().to_string(),
                    piece: code.to_string(),
                })
        })
        .transpose()?;
    let assessment = snapshot.assessment();
    let missing = assessment.missing_for_submission();
    let expected = snapshot
        .campaign
        .pieces()
        .iter()
        .filter(|p| missing.iter().any(|m| m == p.code()))
        .map(|p| (p.code().to_string(), p.label().to_string()))
        .collect();
    let code = mailroom::sheet::SheetCode {
        campaign: snapshot.campaign.id().to_string(),
        dossier: reference.to_string(),
        piece: piece.as_ref().map(|(code, _)| code.clone()),
    };
    let sheet = mailroom::cover::CoverSheet {
        campaign_title: snapshot.campaign.title().to_string(),
        reference: reference.to_string(),
        candidate_name: candidate_name(&snapshot.record.candidate),
        piece,
        expected,
        code: mailroom::sheet::encode(&code, &app.secret),
    };
    Ok(mailroom::cover::render(&sheet))
}

/// The candidate's name as the portal gave it: `name`, or `first_name` and `last_name`
/// (or their French `prenom` and `nom`).
fn candidate_name(candidate: &Value) -> Option<String> {
    let field = |key: &str| candidate.get(key).and_then(Value::as_str).map(str::trim);
    if let Some(name) = field("name").filter(|n| !n.is_empty()) {
        return Some(name.to_string());
    }
    let first = field("first_name").or_else(|| field("prenom"));
    let last = field("last_name").or_else(|| field("nom"));
    let joined = [first, last]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (!joined.is_empty()).then_some(joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_candidate_name_comes_from_the_usual_fields() {
        assert_eq!(
            candidate_name(&json!({"name": "Ana Lopes"})).as_deref(),
            Some("Ana Lopes")
        );
        assert_eq!(
            candidate_name(&json!({"first_name": "Ana", "last_name": "Lopes"})).as_deref(),
            Some("Ana Lopes")
        );
        assert_eq!(
            candidate_name(&json!({"prenom": "Zoé", "nom": "Martin"})).as_deref(),
            Some("Zoé Martin")
        );
        assert_eq!(candidate_name(&json!({"birth_date": "2001-01-01"})), None);
    }

    #[test]
    fn page_ranges_are_one_based() {
        assert_eq!(page_range(&[0, 1, 2]), json!([1, 3]));
        assert_eq!(page_range(&[4]), json!([5, 5]));
        assert_eq!(page_range(&[]), json!([]));
    }
}
