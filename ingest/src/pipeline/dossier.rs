//! One dossier read, changed by a pure computation, and written back atomically.
//!
//! Every action on a dossier (intake, withdrawal, submission, review, closing) goes through
//! [`change`]: read the dossier and its documents, let the action compute a [`Plan`] from
//! that snapshot with the rules of `dossiers`, and apply it if nobody changed the dossier
//! meanwhile; otherwise read again and recompute. No lock is held across the computation,
//! so this works the same on one SQLite file and on PostgreSQL shared by many processes.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use dossiers::{
    Assessment, Campaign, Candidate, DocumentFacts, DossierState, ReviewDecision, Window,
};
use serde_json::json;
use storage::{DocumentRecord, DossierChange, DossierRecord, NewEvent, RepoError};

use crate::app::App;
use crate::error::Error;
use crate::events::EventKind;

/// How many times an action is recomputed when the dossier keeps changing under it.
const ATTEMPTS: usize = 8;

/// A dossier as read, with its campaign and candidate ready for the domain rules.
pub struct Snapshot {
    pub record: DossierRecord,
    pub documents: Vec<DocumentRecord>,
    pub campaign: Arc<Campaign>,
    pub candidate: Candidate,
    pub state: DossierState,
}

/// A dossier's state and assessment at one moment: what an answer about it shows.
#[derive(Debug, Clone)]
pub struct Standing {
    pub reference: String,
    pub state: DossierState,
    pub assessment: Assessment,
}

/// What an action decided: the change to write and the answer to give once it is written.
pub struct Plan<T> {
    pub change: DossierChange,
    pub outcome: T,
}

impl<T> Plan<T> {
    /// An action that writes nothing (idempotent repeats).
    pub fn nothing(outcome: T) -> Self {
        Plan {
            change: DossierChange::default(),
            outcome,
        }
    }
}

impl Snapshot {
    pub async fn read(app: &App, reference: &str) -> Result<Snapshot, Error> {
        let record = app
            .repo
            .dossier(reference)
            .await?
            .ok_or_else(|| Error::UnknownDossier(reference.to_string()))?;
        let documents = app.repo.documents(reference).await?;
        let campaign = app.campaign(&record.campaign).await?;
        Snapshot::assemble(record, documents, campaign)
    }

    /// A snapshot of records already read (a page of an export): the dossier, its documents
    /// (withdrawn ones included, oldest first) and its campaign.
    pub fn assemble(
        record: DossierRecord,
        documents: Vec<DocumentRecord>,
        campaign: Arc<Campaign>,
    ) -> Result<Snapshot, Error> {
        let reference = &record.reference;
        let candidate = Candidate::new(record.candidate.clone(), campaign.reference_date())
            .map_err(|e| Error::Internal(format!("stored candidate of {reference}: {e}")))?;
        let state = record
            .state
            .parse()
            .map_err(|e| Error::Internal(format!("stored state of {reference}: {e}")))?;
        Ok(Snapshot {
            record,
            documents,
            campaign,
            candidate,
            state,
        })
    }

    pub fn reference(&self) -> &str {
        &self.record.reference
    }

    /// Until when staff extended this dossier's deadline, if they did.
    pub fn extended_until(&self) -> Option<DateTime<Utc>> {
        let until = self.record.extension.as_ref()?.get("until")?.as_str()?;
        DateTime::parse_from_rfc3339(until)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The dossier's own deadline: the campaign's, or later when staff extended it.
    pub fn deadline(&self) -> DateTime<Utc> {
        let campaign = self.campaign.closes_at().with_timezone(&Utc);
        self.extended_until()
            .map_or(campaign, |until| until.max(campaign))
    }

    /// Where `now` falls relative to this dossier's window.
    pub fn window_at(&self, now: DateTime<Utc>) -> Window {
        self.campaign.window_until(now, self.deadline())
    }

    /// The open correction request on `piece`, if any.
    pub fn correction(&self, piece: &str) -> Option<&serde_json::Value> {
        self.record.corrections.get(piece)
    }

    /// The dossier as it stands.
    pub fn standing(&self) -> Standing {
        self.standing_with(self.state, self.assessment())
    }

    /// The dossier in `state`, assessed as `assessment` (once a change is applied).
    pub fn standing_with(&self, state: DossierState, assessment: Assessment) -> Standing {
        Standing {
            reference: self.reference().to_string(),
            state,
            assessment,
        }
    }

    /// The assessment as stored.
    pub fn assessment(&self) -> Assessment {
        self.assessment_after(&DossierChange::default())
    }

    /// The assessment once `change` is applied.
    pub fn assessment_after(&self, change: &DossierChange) -> Assessment {
        let facts: Vec<DocumentFacts> = self
            .documents
            .iter()
            .chain(&change.new_documents)
            .map(|doc| {
                let review = change
                    .reviews
                    .iter()
                    .rev()
                    .find(|r| r.document == doc.id)
                    .map(|r| r.decision.as_str())
                    .or(doc.review.as_deref());
                let scan = change.scans.iter().rev().find(|s| s.document == doc.id);
                let verdict = scan
                    .and_then(|s| s.verdict.as_deref())
                    .unwrap_or(&doc.verdict);
                // Infected content is rejected whatever anyone decided about it.
                let infected = scan.map(|s| s.scan.as_str()).or(doc.scan.as_deref())
                    == Some(super::scan::state::INFECTED);
                DocumentFacts {
                    piece: doc.piece.clone(),
                    verdict_accepted: verdict == verdict::ACCEPTED && !infected,
                    review: review.and_then(ReviewDecision::parse).filter(|_| !infected),
                    withdrawn: doc.withdrawn_at.is_some() || change.withdrawals.contains(&doc.id),
                }
            })
            .collect();
        let corrections = change
            .corrections
            .as_ref()
            .unwrap_or(&self.record.corrections);
        let candidate = change.candidate.as_ref().and_then(|attributes| {
            Candidate::new(attributes.clone(), self.campaign.reference_date()).ok()
        });
        self.campaign
            .assess(candidate.as_ref().unwrap_or(&self.candidate), &facts)
            .with_corrections(
                corrections
                    .as_object()
                    .into_iter()
                    .flat_map(|map| map.keys().map(String::as_str)),
            )
    }

    /// Documents the candidate still has on file (not withdrawn).
    pub fn active_documents(&self) -> impl Iterator<Item = &DocumentRecord> {
        self.documents.iter().filter(|d| d.withdrawn_at.is_none())
    }

    /// Sets the dossier's next state on `change`, with the events a state change emits.
    pub fn move_to(&self, change: &mut DossierChange, next: DossierState, reason: Option<String>) {
        if next == self.state {
            return;
        }
        change.state = Some((next.as_str().to_string(), reason.clone()));
        let kind = match next {
            DossierState::Open => EventKind::DossierReopened,
            DossierState::Submitted => EventKind::DossierSubmitted,
            DossierState::Complete => EventKind::DossierComplete,
            DossierState::Closed => EventKind::DossierClosed,
        };
        change.events.push(self.event(
            kind,
            None,
            json!({
                "from": self.state.as_str(),
                "to": next.as_str(),
                "reason": reason,
            }),
        ));
    }

    pub fn event(
        &self,
        kind: EventKind,
        document: Option<&str>,
        data: serde_json::Value,
    ) -> NewEvent {
        NewEvent {
            kind: kind.as_str().to_string(),
            dossier: Some(self.record.reference.clone()),
            document: document.map(str::to_string),
            data,
        }
    }
}

/// What a document's `verdict` says: the machine's judgement, before any review.
pub mod verdict {
    pub const ACCEPTED: &str = "accepted";
    pub const REJECTED: &str = "rejected";
}

/// Who reviewed a document that a `review = "auto"` piece accepted.
pub const AUTO_REVIEWER: &str = "auto";

/// Reads the dossier, computes a plan, applies it as done by `actor` (journaled so);
/// recomputes when the dossier changed meanwhile. `compute` may be called several times and
/// must not have side effects.
pub async fn change<T>(
    app: &App,
    reference: &str,
    actor: &str,
    compute: impl FnMut(&Snapshot) -> Result<Plan<T>, Error>,
) -> Result<T, Error> {
    change_from(app, None, reference, actor, compute).await
}

/// [`change`], trying first from `read`, a snapshot the caller read already: one read less
/// when the dossier did not change since (the version check tells).
pub async fn change_from<T>(
    app: &App,
    mut read: Option<Snapshot>,
    reference: &str,
    actor: &str,
    mut compute: impl FnMut(&Snapshot) -> Result<Plan<T>, Error>,
) -> Result<T, Error> {
    for _ in 0..ATTEMPTS {
        let snapshot = match read.take() {
            Some(snapshot) => snapshot,
            None => Snapshot::read(app, reference).await?,
        };
        let mut plan = compute(&snapshot)?;
        if plan.change == DossierChange::default() {
            return Ok(plan.outcome);
        }
        plan.change.expected_version = snapshot.record.version;
        plan.change.actor = actor.to_string();
        let mut enqueued: Vec<String> = plan.change.jobs.iter().map(|j| j.kind.clone()).collect();
        enqueued.sort_unstable();
        enqueued.dedup();
        match app.repo.apply(reference, plan.change).await {
            Ok(()) => {
                // This process's idle workers of those kinds look at once (others poll).
                for kind in &enqueued {
                    app.jobs_enqueued.enqueued(kind);
                }
                return Ok(plan.outcome);
            }
            Err(RepoError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Unavailable(format!(
        "dossier {reference} is changing too fast; try again"
    )))
}
