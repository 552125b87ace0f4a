//! Intake: one document through the pipeline.
//!
//! receive (stream to staging, hash, count, limit) → detect and verify (validators, on a
//! bounded pool) → scan (clamd, when configured; see [`super::scan`]) → store
//! (content-addressed, once) → match (the piece named by the upload) → decide (the verdict;
//! `review = "auto"` accepts a passing one that is not waiting for its scan) → recompute the
//! dossier and emit events, in one transaction (with the rescan job of a pending scan).
//!
//! Crash safety: the staged file removes itself unless stored; the object is durable before
//! the document row is written; the row, the dossier's new state and the events commit
//! together. A crash at any point leaves either nothing acknowledged or everything.

use bytes::Bytes;
use chrono::Utc;
use futures::Stream;
use serde_json::json;
use tokio::io::AsyncReadExt;

use dossiers::{Change, Kind, Piece, ReviewPolicy};
use storage::{DocumentRecord, StagedFile};
use validators::{Declared, Policy, Verdict};

use super::actions::check_window;
use super::dossier::{self, Plan, Snapshot};
use super::receive::receive;
use super::scan::{self, Outcome};
use crate::app::App;
use crate::error::Error;

/// Content up to this size is verified in one pass; above, its first bytes are judged first.
const LOAD_WITHOUT_PRESCREEN: u64 = 16 * 1024 * 1024;

/// How many first bytes the prescreen reads: enough for every signature and leading junk.
const PRESCREEN_HEAD: usize = 64 * 1024;

/// How a document arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Upload,
    Mailroom,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Upload => "upload",
            Channel::Mailroom => "mailroom",
        }
    }
}

/// What the uploader told us; evidence only, never trusted for the kind.
#[derive(Debug, Clone, Default)]
pub struct Upload {
    pub reference: String,
    pub piece: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub content_length: Option<u64>,
}

/// The document the intake ended with; `created` is false for a repeat of the same bytes.
#[derive(Debug, Clone)]
pub struct Intake {
    pub document: DocumentRecord,
    pub created: bool,
}

pub async fn intake<S, E>(app: &App, upload: Upload, body: S) -> Result<Intake, Error>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::fmt::Display,
{
    let result = intake_counted(app, upload, body).await;
    crate::metrics::intake(Channel::Upload.as_str(), &result);
    result
}

async fn intake_counted<S, E>(app: &App, upload: Upload, body: S) -> Result<Intake, Error>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::fmt::Display,
{
    // Refuse what can be refused before reading a byte.
    let before = Snapshot::read(app, &upload.reference).await?;
    let piece = piece_of(&before, &upload.piece)?.clone();
    check_candidate_may_change(&before)?;
    let limit = piece.max_bytes().min(app.settings.max_body_bytes);
    if upload.content_length.is_some_and(|length| length > limit) {
        return Err(Error::TooLarge { limit });
    }

    let staged = receive(app, body, limit).await?;
    let verdict = verify(app, &staged, &upload, &piece).await?;
    if !verdict.accepted() {
        tracing::info!(
            dossier = %upload.reference, piece = %upload.piece, kind = %verdict.kind,
            reasons = ?verdict.reasons.iter().map(|r| r.code.as_str()).collect::<Vec<_>>(),
            "document rejected"
        );
        return Err(Error::Rejected {
            reasons: verdict.reasons,
        });
    }

    let scanned = scan_staged(app, &staged).await?;
    if let Some(Outcome::Infected { signature }) = &scanned {
        return Err(refuse_infected(app, &upload, &staged, signature).await);
    }

    // A repeat of bytes already on file needs no second copy.
    if let Some(existing) = same_content(&before, &upload.piece, staged.key().hex()) {
        check_not_infected(existing)?;
        return Ok(Intake {
            document: existing.clone(),
            created: false,
        });
    }
    check_room(&before, &piece)?;
    let (sha256, size) = (staged.key().hex().to_string(), staged.size());
    app.blobs.put(staged).await?;

    let document = new_document(&upload, &verdict, &piece, sha256, size, scanned.as_ref());
    dossier::change(app, &upload.reference, |snapshot| {
        check_candidate_may_change(snapshot)?;
        if let Some(existing) = same_content(snapshot, &upload.piece, &document.sha256) {
            check_not_infected(existing)?;
            return Ok(Plan::nothing(Intake {
                document: existing.clone(),
                created: false,
            }));
        }
        check_room(snapshot, &piece)?;
        let mut plan = Plan::nothing(Intake {
            document: document.clone(),
            created: true,
        });
        plan.change.new_documents.push(document.clone());
        if document.scan.as_deref() == Some(scan::state::PENDING) {
            plan.change.jobs.push(scan::job(&document));
        }
        plan.change.events.push(snapshot.event(
            "document.received",
            Some(&document.id),
            json!({"piece": document.piece, "sha256": document.sha256, "kind": document.kind,
                   "channel": document.channel}),
        ));
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
    .await
}

fn piece_of<'a>(snapshot: &'a Snapshot, code: &str) -> Result<&'a Piece, Error> {
    snapshot
        .campaign
        .piece(code)
        .ok_or_else(|| Error::UnknownPiece {
            campaign: snapshot.campaign.id().to_string(),
            piece: code.to_string(),
        })
}

fn check_candidate_may_change(snapshot: &Snapshot) -> Result<(), Error> {
    check_window(snapshot)?;
    dossiers::state::candidate_may_change(snapshot.state)?;
    Ok(())
}

fn same_content<'a>(
    snapshot: &'a Snapshot,
    piece: &str,
    sha256: &str,
) -> Option<&'a DocumentRecord> {
    snapshot
        .active_documents()
        .find(|d| d.piece.as_deref() == Some(piece) && d.sha256 == sha256)
}

/// The same bytes found infected before are refused again, whatever clamd says now.
fn check_not_infected(existing: &DocumentRecord) -> Result<(), Error> {
    match (&existing.scan, &existing.scan_signature) {
        (Some(state), signature) if state == scan::state::INFECTED => Err(Error::Rejected {
            reasons: vec![scan::infected_reason(
                signature.as_deref().unwrap_or("unknown"),
            )],
        }),
        _ => Ok(()),
    }
}

/// A piece holds at most `max_documents` documents that staff have not rejected (infected
/// ones are rejected too).
fn check_room(snapshot: &Snapshot, piece: &Piece) -> Result<(), Error> {
    let held = snapshot
        .active_documents()
        .filter(|d| d.piece.as_deref() == Some(piece.code()))
        .filter(|d| d.review.as_deref() != Some("rejected"))
        .filter(|d| d.scan.as_deref() != Some(scan::state::INFECTED))
        .count();
    if held >= piece.max_documents() as usize {
        return Err(Error::TooManyDocuments {
            piece: piece.code().to_string(),
            max: piece.max_documents(),
        });
    }
    Ok(())
}

/// Detects and verifies the staged bytes against the piece, on the bounded verify pool.
async fn verify(
    app: &App,
    staged: &StagedFile,
    upload: &Upload,
    piece: &Piece,
) -> Result<Verdict, Error> {
    let declared = Declared {
        filename: upload.filename.clone(),
        content_type: upload.content_type.clone(),
    };
    let policy = Policy {
        accept: Some(piece.accept().to_vec()),
        max_bytes: Some(piece.max_bytes()),
        max_pages: piece.max_pages(),
    };
    let read_error = |e: std::io::Error| Error::Internal(format!("reading staged content: {e}"));
    // Large content is judged on its first bytes before anything loads it whole: a 200 MB
    // body of the wrong kind never costs 200 MB of memory.
    if staged.size() > LOAD_WITHOUT_PRESCREEN {
        let mut head = vec![0u8; PRESCREEN_HEAD];
        let mut file = tokio::fs::File::open(staged.path())
            .await
            .map_err(read_error)?;
        let read = file.read(&mut head).await.map_err(read_error)?;
        head.truncate(read);
        let sha256 = staged.key().hex().to_string();
        if let Some(verdict) =
            validators::prescreen(&head, staged.size(), sha256, &declared, &policy)
        {
            return Ok(verdict);
        }
    }
    let _slot = app
        .verify_slots
        .acquire()
        .await
        .map_err(|_| Error::Internal("verify pool closed".into()))?;
    // Large content is read through a memory map, not copied: see validators::mapped.
    let path = staged.path().to_path_buf();
    let sha256 = staged.key().hex().to_string();
    let limits = app.settings.limits.clone();
    tokio::task::spawn_blocking(move || {
        validators::validate_file(&path, Some(sha256), &declared, &policy, &limits)
    })
    .await
    .map_err(|e| Error::Internal(format!("verification task failed: {e}")))?
    .map_err(read_error)
}

/// Step 3 on the staged content, before anything is stored; `None` when no scanner is set.
async fn scan_staged(app: &App, staged: &StagedFile) -> Result<Option<Outcome>, Error> {
    if app.scanner.is_none() {
        return Ok(None);
    }
    let file = tokio::fs::File::open(staged.path())
        .await
        .map_err(|e| Error::Internal(format!("reading staged content: {e}")))?;
    Ok(scan::scan(app, file).await)
}

/// Infected content is refused and not stored (the staged file deletes itself); the event
/// keeps the evidence. Returns the refusal to answer, even if the event could not be written.
async fn refuse_infected(
    app: &App,
    upload: &Upload,
    staged: &StagedFile,
    signature: &str,
) -> Error {
    tracing::warn!(dossier = %upload.reference, piece = %upload.piece,
        sha256 = %staged.key().hex(), signature, "infected upload refused");
    let facts = json!({
        "piece": upload.piece, "sha256": staged.key().hex(), "size": staged.size(),
        "filename": upload.filename, "signature": signature,
        "channel": Channel::Upload.as_str(), "stored": false,
    });
    let recorded = dossier::change(app, &upload.reference, |snapshot| {
        let mut plan = Plan::nothing(());
        plan.change
            .events
            .push(scan::infected_upload_event(snapshot, facts.clone()));
        Ok(plan)
    })
    .await;
    if let Err(e) = recorded {
        tracing::error!(dossier = %upload.reference, error = %e,
            "could not record the document.infected event");
    }
    Error::Rejected {
        reasons: vec![scan::infected_reason(signature)],
    }
}

fn new_document(
    upload: &Upload,
    verdict: &Verdict,
    piece: &Piece,
    sha256: String,
    size: u64,
    scanned: Option<&Outcome>,
) -> DocumentRecord {
    let kind: Option<Kind> = verdict.kind.parse().ok();
    // A document waiting for its scan is not accepted yet, even on an automatic piece.
    let scanned_clean = scanned.is_none_or(|o| *o == Outcome::Clean);
    let auto = piece.review() == ReviewPolicy::Auto && scanned_clean;
    let now = Utc::now();
    DocumentRecord {
        id: uuid::Uuid::now_v7().to_string(),
        dossier: upload.reference.clone(),
        piece: Some(upload.piece.clone()),
        filename: upload.filename.clone(),
        declared_type: upload.content_type.clone(),
        sha256,
        size,
        kind: verdict.kind.clone(),
        mime: kind.map_or_else(|| verdict.mime.clone(), |k| k.mime().to_string()),
        pages: verdict.pages,
        channel: Channel::Upload.as_str().to_string(),
        verdict: "accepted".into(),
        reasons: json!({"reasons": verdict.reasons, "notes": verdict.notes}),
        review: auto.then(|| "accepted".to_string()),
        review_reason: None,
        reviewed_by: auto.then(|| "auto".to_string()),
        reviewed_at: auto.then_some(now),
        withdrawn_at: None,
        late: false,
        received_at: now,
        scan: scanned.map(|o| o.state().to_string()),
        scan_signature: None,
    }
}
