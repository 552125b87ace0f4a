//! Step 3, the virus scan (ClamAV's clamd, `INSTREAM`), when `clamav.address` is set.
//!
//! Nothing passes unscanned: intake scans the staged content before answering. Infected
//! content is refused (422 `infected`) and deleted with its staging file; its SHA-256, the
//! signature and the dossier go into a `document.infected` event. Clean content is stored
//! `clean`. When clamd cannot answer (down, busy, timed out), the document is stored
//! `pending` and a `scan` job keyed by its id is enqueued in the same transaction; the
//! [`worker`] of every `guichet serve` claims those jobs under a lease and scans the stored
//! content until clamd answers. Content clamd will never scan (beyond its `StreamMaxLength`)
//! is recorded `error`.
//!
//! Until a document is `clean` its content is not served and staff cannot accept it; an
//! `infected` document is rejected with the reason `infected`, quarantined for good.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::AsyncRead;

use dossiers::{Change, ReviewDecision, ReviewPolicy};
use storage::{ContentKey, DocumentRecord, Job, NewJob, ReviewChange, ScanChange};
use validators::clamd::ScanResult;
use validators::{Reason, ReasonCode};

use super::dossier::{self, AUTO_REVIEWER, Plan, Snapshot, verdict};
use crate::app::App;
use crate::auth::SYSTEM_ACTOR;
use crate::error::Error;
use crate::events::EventKind;

/// The kind of the jobs that rescan pending documents; their key is the document id.
pub const JOB_KIND: &str = "scan";

/// How long a claimed scan job is the worker's; renewed while the scan runs.
const LEASE: Duration = Duration::from_secs(60);
const RENEW_EVERY: Duration = Duration::from_secs(20);

/// The scan state of a document, as stored.
pub mod state {
    pub const PENDING: &str = "pending";
    pub const CLEAN: &str = "clean";
    pub const INFECTED: &str = "infected";
    pub const ERROR: &str = "error";
}

/// What one attempt to scan ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Clean,
    Infected {
        signature: String,
    },
    /// clamd could not answer now: scan again later.
    Pending {
        why: String,
    },
    /// clamd will never scan this content.
    Failed {
        why: String,
    },
}

impl Outcome {
    /// The stored scan state.
    pub fn state(&self) -> &'static str {
        match self {
            Outcome::Clean => state::CLEAN,
            Outcome::Infected { .. } => state::INFECTED,
            Outcome::Pending { .. } => state::PENDING,
            Outcome::Failed { .. } => state::ERROR,
        }
    }
}

/// Scans `content` with the configured clamd; `None` when no scanner is configured.
pub async fn scan<R>(app: &App, content: R) -> Option<Outcome>
where
    R: AsyncRead + Unpin + Send,
{
    let clamd = app.scanner.as_ref()?;
    Some(match clamd.scan(content).await {
        Ok(ScanResult::Clean) => Outcome::Clean,
        Ok(ScanResult::Infected { signature }) => Outcome::Infected { signature },
        Err(e) if e.is_transient() => {
            tracing::warn!(clamd = %clamd.address(), error = %e, "scan postponed");
            Outcome::Pending { why: e.to_string() }
        }
        Err(e) => {
            tracing::warn!(clamd = %clamd.address(), error = %e, "clamd cannot scan this content");
            Outcome::Failed { why: e.to_string() }
        }
    })
}

/// The reason an infected document is refused with.
pub fn infected_reason(signature: &str) -> Reason {
    Reason::with_detail(
        ReasonCode::Infected,
        format!("ClamAV signature {signature}"),
    )
}

/// Whether the document's content may be served: scanned clean, or stored before any scanner
/// was configured.
pub fn check_servable(doc: &DocumentRecord) -> Result<(), Error> {
    if doc.purged_at.is_some() {
        return Err(Error::ContentPurged);
    }
    match doc.scan.as_deref() {
        None | Some(state::CLEAN) => Ok(()),
        Some(state::INFECTED) => Err(Error::Quarantined),
        Some(state::PENDING) => Err(Error::ScanPending),
        Some(_) => Err(Error::ScanFailed),
    }
}

/// The job that rescans a pending document, to enqueue with the document itself.
pub fn job(document: &DocumentRecord) -> NewJob {
    NewJob {
        kind: JOB_KIND.into(),
        key: document.id.clone(),
        payload: json!({"document": document.id, "dossier": document.dossier}),
    }
}

/// The event of an infected intake that stored nothing: the evidence kept.
pub fn infected_upload_event(snapshot: &Snapshot, facts: Value) -> storage::NewEvent {
    snapshot.event(EventKind::DocumentInfected, None, facts)
}

/// Records a scan's outcome on a pending document, with what follows from it: an infected
/// document is rejected (which may send a submitted dossier back to its candidate), a clean
/// one of a `review = "auto"` piece is accepted.
pub async fn record(app: &App, document: &DocumentRecord, outcome: &Outcome) -> Result<(), Error> {
    if matches!(outcome, Outcome::Pending { .. }) {
        return Ok(());
    }
    dossier::change(app, &document.dossier, SYSTEM_ACTOR, |snapshot| {
        let Some(doc) = snapshot.documents.iter().find(|d| d.id == document.id) else {
            return Err(Error::UnknownDocument(document.id.clone()));
        };
        if doc.scan.as_deref() != Some(state::PENDING) {
            return Ok(Plan::nothing(()));
        }
        let mut plan = Plan::nothing(());
        let mut scan = ScanChange {
            document: doc.id.clone(),
            scan: outcome.state().to_string(),
            signature: None,
            verdict: None,
            reasons: None,
        };
        let mut change = Change::DocumentReceived;
        let mut state_reason = None;
        match outcome {
            Outcome::Clean => {
                plan.change.events.push(snapshot.event(
                    EventKind::DocumentScanned,
                    Some(&doc.id),
                    json!({"piece": doc.piece, "scan": state::CLEAN}),
                ));
                if auto_accepts(snapshot, doc) {
                    plan.change.reviews.push(ReviewChange {
                        document: doc.id.clone(),
                        decision: ReviewDecision::Accepted.as_str().into(),
                        reason: None,
                        by: AUTO_REVIEWER.into(),
                    });
                    plan.change.events.push(snapshot.event(
                        EventKind::DocumentAccepted,
                        Some(&doc.id),
                        json!({"piece": doc.piece, "by": AUTO_REVIEWER, "review": false}),
                    ));
                }
            }
            Outcome::Infected { signature } => {
                let reason = infected_reason(signature);
                let notes = doc.reasons.get("notes").cloned().unwrap_or(json!([]));
                scan.signature = Some(signature.clone());
                scan.verdict = Some(verdict::REJECTED.into());
                scan.reasons = Some(json!({"reasons": [reason], "notes": notes}));
                plan.change.events.push(snapshot.event(
                    EventKind::DocumentInfected,
                    Some(&doc.id),
                    json!({"piece": doc.piece, "sha256": doc.sha256, "signature": signature,
                           "channel": doc.channel, "stored": true}),
                ));
                plan.change.events.push(snapshot.event(
                    EventKind::DocumentRejected,
                    Some(&doc.id),
                    json!({"piece": doc.piece, "by": "clamav", "reasons": [reason],
                           "review": false}),
                ));
                change = Change::Reviewed(ReviewDecision::Rejected);
                state_reason = Some(ReasonCode::Infected.message_fr().to_string());
            }
            Outcome::Failed { why } => {
                plan.change.events.push(snapshot.event(
                    EventKind::DocumentScanned,
                    Some(&doc.id),
                    json!({"piece": doc.piece, "scan": state::ERROR, "detail": why}),
                ));
            }
            Outcome::Pending { .. } => unreachable!("returned above"),
        }
        plan.change.scans.push(scan);
        let next = dossiers::state::after_change(
            snapshot.state,
            &snapshot.assessment_after(&plan.change),
            change,
        );
        snapshot.move_to(&mut plan.change, next, state_reason);
        Ok(plan)
    })
    .await
}

/// A clean document of a `review = "auto"` piece whose verdict passed is accepted, as it
/// would have been at intake had clamd answered then.
fn auto_accepts(snapshot: &Snapshot, doc: &DocumentRecord) -> bool {
    let auto = doc
        .piece
        .as_deref()
        .and_then(|code| snapshot.campaign.piece(code))
        .is_some_and(|piece| piece.review() == ReviewPolicy::Auto);
    auto && doc.verdict == verdict::ACCEPTED && doc.review.is_none() && doc.withdrawn_at.is_none()
}

/// Claims `scan` jobs and rescans their documents until clamd answers, for as long as the
/// process runs. One per process: scans wait on clamd, not on this machine.
pub async fn worker(app: App) {
    let policy = (LEASE, super::jobs::Retry::UNTIL_DONE);
    super::jobs::work(
        app,
        (JOB_KIND, super::jobs::Priority::Prompt),
        "scan",
        policy,
        |app, job, owner| async move { run(&app, &job, &owner).await },
    )
    .await;
}

/// One job: scan the stored content (renewing the lease meanwhile) and record the outcome.
/// `Err` gives the job back to be retried.
async fn run(app: &App, job: &Job, owner: &str) -> Result<(), String> {
    let document = app
        .repo
        .document(&job.key)
        .await
        .map_err(|e| e.to_string())?;
    let Some(document) = document.filter(|d| d.scan.as_deref() == Some(state::PENDING)) else {
        // Already decided (or never stored): nothing left to do.
        app.repo
            .complete_job(job.id, owner)
            .await
            .map_err(|e| e.to_string())?;
        return Ok(());
    };
    let outcome = scan_stored(app, &document, job, owner).await?;
    if let Outcome::Pending { why } = &outcome {
        return Err(why.clone());
    }
    record(app, &document, &outcome)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(document = %document.id, dossier = %document.dossier,
        scan = outcome.state(), "document scanned");
    app.repo
        .complete_job(job.id, owner)
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

async fn scan_stored(
    app: &App,
    document: &DocumentRecord,
    job: &Job,
    owner: &str,
) -> Result<Outcome, String> {
    let key = ContentKey::from_hex(&document.sha256)
        .ok_or_else(|| format!("stored digest of {} is not a key", document.id))?;
    let blob = app
        .blobs
        .open(&key)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("content of {} is missing from the store", document.id))?;
    let scanning = async {
        scan(app, blob.reader)
            .await
            .ok_or_else(|| "no scanner configured".to_string())
    };
    super::jobs::with_lease(app, job, owner, (LEASE, RENEW_EVERY), scanning).await
}
