//! The actions on a dossier other than intake: create, withdraw, submit, review, close.
//! Each checks who may do it and when, then changes the dossier through [`dossier::change`].

use chrono::Utc;
use serde_json::{Value, json};

use dossiers::{Candidate, Change, DossierState, ReviewDecision, Window};
use storage::{DossierRecord, NewEvent, ReviewChange};

use super::dossier::{self, Plan, Snapshot};
use super::scan;
use crate::app::App;
use crate::error::Error;
use crate::events::EventKind;

/// References come from portals and end up in URLs, file names and cover sheets.
pub fn check_reference(reference: &str) -> Result<(), Error> {
    let valid = !reference.is_empty()
        && reference.len() <= 64
        && reference
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !reference.starts_with('.');
    if valid {
        Ok(())
    } else {
        Err(Error::InvalidReference(
            "1 to 64 characters among A-Z a-z 0-9 - _ . (not starting with .)".into(),
        ))
    }
}

/// Creates a dossier, or returns the existing one with the same reference (`false`).
pub async fn create_dossier(
    app: &App,
    campaign_id: &str,
    reference: &str,
    candidate: Value,
    actor: &str,
) -> Result<(DossierRecord, bool), Error> {
    check_reference(reference)?;
    let campaign = app.campaign(campaign_id).await?;
    let candidate_check = Candidate::new(candidate.clone(), campaign.reference_date());
    if let Err(e) = candidate_check {
        return Err(Error::InvalidCandidate {
            code: e.code(),
            message: e.to_string(),
        });
    }
    let now = Utc::now();
    let record = DossierRecord {
        reference: reference.to_string(),
        campaign: campaign.id().to_string(),
        candidate,
        state: DossierState::Open.as_str().to_string(),
        state_reason: None,
        corrections: json!({}),
        extension: None,
        version: 0,
        created_at: now,
        updated_at: now,
    };
    let event = NewEvent {
        kind: EventKind::DossierCreated.as_str().to_string(),
        dossier: Some(reference.to_string()),
        document: None,
        data: json!({"campaign": campaign.id()}),
    };
    let (stored, created) = app.repo.create_dossier(&record, event, actor).await?;
    if stored.campaign != record.campaign {
        return Err(Error::ReferenceTaken {
            reference: reference.to_string(),
            campaign: stored.campaign,
        });
    }
    // A repeat is the same dossier only with the same attributes; a difference is a
    // correction to make with PATCH, never silently dropped.
    if !created && stored.candidate != record.candidate {
        return Err(Error::DossierExists {
            reference: reference.to_string(),
            candidate: stored.candidate,
        });
    }
    Ok((stored, created))
}

/// The campaign must be open for a candidate to act (until the dossier's own deadline, when
/// staff extended it).
pub fn check_window(snapshot: &Snapshot) -> Result<(), Error> {
    match snapshot.window_at(Utc::now()) {
        Window::Open => Ok(()),
        Window::Closed => Err(Error::CampaignClosed {
            deadline: dossiers::window::format_fr(
                snapshot.deadline(),
                snapshot.campaign.timezone(),
            ),
        }),
        Window::NotYetOpen => Err(Error::CampaignNotOpen {
            opening: snapshot.campaign.opening_fr(),
        }),
    }
}

/// The candidate withdraws a document while the dossier is open.
pub async fn withdraw(
    app: &App,
    reference: &str,
    document: &str,
    actor: &str,
) -> Result<(), Error> {
    dossier::change(app, reference, actor, |snapshot| {
        check_window(snapshot)?;
        dossiers::state::candidate_may_change(snapshot.state)?;
        let doc = snapshot
            .documents
            .iter()
            .find(|d| d.id == document)
            .ok_or_else(|| Error::UnknownDocument(document.to_string()))?;
        if doc.withdrawn_at.is_some() {
            return Ok(Plan::nothing(()));
        }
        let mut plan = Plan::nothing(());
        plan.change.withdrawals.push(doc.id.clone());
        plan.change.events.push(snapshot.event(
            EventKind::DocumentWithdrawn,
            Some(&doc.id),
            json!({"piece": doc.piece}),
        ));
        let next = dossiers::state::after_change(
            snapshot.state,
            &snapshot.assessment_after(&plan.change),
            Change::DocumentWithdrawn,
        );
        snapshot.move_to(&mut plan.change, next, None);
        Ok(plan)
    })
    .await
}

/// "J'ai fourni toutes mes pièces".
pub async fn submit(app: &App, reference: &str, actor: &str) -> Result<DossierState, Error> {
    dossier::change(app, reference, actor, |snapshot| {
        check_window(snapshot)?;
        let next = dossiers::state::submit(snapshot.state, &snapshot.assessment())?;
        let mut plan = Plan::nothing(next);
        if next == DossierState::Complete {
            // The declaration and completeness arrive together: both are worth an event.
            plan.change.events.push(snapshot.event(
                EventKind::DossierSubmitted,
                None,
                json!({"from": snapshot.state.as_str(), "to": "submitted"}),
            ));
        }
        snapshot.move_to(&mut plan.change, next, None);
        Ok(plan)
    })
    .await
}

/// A staff decision on a document.
pub async fn review(
    app: &App,
    document: &str,
    decision: ReviewDecision,
    reason: Option<String>,
    by: &str,
    actor: &str,
) -> Result<DossierState, Error> {
    let reason = reason
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    if decision == ReviewDecision::Rejected && reason.is_none() {
        return Err(Error::ReasonRequired);
    }
    let doc = app
        .repo
        .document(document)
        .await?
        .ok_or_else(|| Error::UnknownDocument(document.to_string()))?;
    dossier::change(app, &doc.dossier, actor, |snapshot| {
        if snapshot.state == DossierState::Closed {
            return Err(dossiers::TransitionError::DossierClosed.into());
        }
        if doc.withdrawn_at.is_some() {
            return Err(Error::DocumentWithdrawn);
        }
        // Read from the snapshot: the scan may have finished since `doc` was read.
        let current = snapshot
            .documents
            .iter()
            .find(|d| d.id == doc.id)
            .unwrap_or(&doc);
        if decision == ReviewDecision::Accepted {
            scan::check_servable(current)?;
        }
        let mut plan = Plan::nothing(snapshot.state);
        plan.change.reviews.push(ReviewChange {
            document: doc.id.clone(),
            decision: decision.as_str().to_string(),
            reason: reason.clone(),
            by: by.to_string(),
        });
        let kind = match decision {
            ReviewDecision::Accepted => EventKind::DocumentAccepted,
            ReviewDecision::Rejected => EventKind::DocumentRejected,
        };
        plan.change.events.push(snapshot.event(
            kind,
            Some(&doc.id),
            json!({"piece": doc.piece, "by": by, "reason": reason, "review": true}),
        ));
        let next = dossiers::state::after_change(
            snapshot.state,
            &snapshot.assessment_after(&plan.change),
            Change::Reviewed(decision),
        );
        let state_reason = (next == DossierState::Open)
            .then(|| reason.clone())
            .flatten();
        snapshot.move_to(&mut plan.change, next, state_reason);
        plan.outcome = next;
        Ok(plan)
    })
    .await
}

/// Staff close a complete dossier.
pub async fn close(app: &App, reference: &str, actor: &str) -> Result<(), Error> {
    dossier::change(app, reference, actor, |snapshot| {
        let next = dossiers::state::close(snapshot.state, &snapshot.assessment())?;
        let mut plan = Plan::nothing(());
        snapshot.move_to(&mut plan.change, next, None);
        Ok(plan)
    })
    .await
}
