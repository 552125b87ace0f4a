//! What an exam office does to a dossier beyond reviewing documents: ask the candidate to send
//! a piece again, file a document under the right piece, correct the candidate's attributes,
//! give one dossier more time, reopen a dossier closed by mistake.
//!
//! Each goes through [`dossier::change`] like every other action, so it is atomic, emits its
//! event and is journaled under its actor. None deletes anything: a moved document keeps its
//! history, a correction keeps the documents it asks to replace.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use dossiers::{Candidate, Change, DossierState, Piece};
use storage::Assignment;

use super::actions::check_window;
use super::dossier::{self, AUTO_REVIEWER, Plan, Snapshot};
use super::intake::{Decision, judge_again};
use super::scan;
use crate::app::App;
use crate::error::Error;
use crate::events::EventKind;

/// How many characters of a message, a reason, are kept.
const TEXT_CHARS: usize = 2000;

/// A message or reason as kept: trimmed, bounded; `None` when blank.
fn text(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    (!trimmed.is_empty()).then(|| trimmed.chars().take(TEXT_CHARS).collect())
}

fn now_text() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
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

/// The dossier's corrections without the one on `piece`: it was answered.
pub fn without_correction(snapshot: &Snapshot, piece: &str) -> Value {
    let mut corrections = snapshot
        .record
        .corrections
        .as_object()
        .cloned()
        .unwrap_or_default();
    corrections.remove(piece);
    Value::Object(corrections)
}

/// Staff ask the candidate to send `piece` again, with a message. The piece shows
/// `correction_requested` until the next document for it arrives, through any channel; a
/// submitted or complete dossier goes back to open.
pub async fn request_correction(
    app: &App,
    reference: &str,
    piece: &str,
    message: &str,
    actor: &str,
) -> Result<(), Error> {
    let message = text(message).ok_or(Error::MessageRequired)?;
    dossier::change(app, reference, actor, |snapshot| {
        piece_of(snapshot, piece)?;
        let next = dossiers::state::request_correction(snapshot.state)?;
        let requested_at = now_text();
        let mut corrections = snapshot
            .record
            .corrections
            .as_object()
            .cloned()
            .unwrap_or_default();
        corrections.insert(
            piece.to_string(),
            json!({"message": message, "requested_at": requested_at, "by": actor}),
        );
        let mut plan = Plan::nothing(());
        plan.change.corrections = Some(Value::Object(corrections));
        plan.change.events.push(snapshot.event(
            EventKind::PieceCorrectionRequested,
            None,
            json!({"piece": piece, "message": message}),
        ));
        snapshot.move_to(&mut plan.change, next, Some(message.clone()));
        Ok(plan)
    })
    .await
}

/// Staff file a document under `piece`: one the mailroom could not classify, or one filed
/// under the wrong piece. The document is judged again against the piece's policy (its kinds,
/// size and pages); its review starts afresh (or is automatic on an `auto` piece). A request
/// for correction on the piece counts as answered.
pub async fn assign(app: &App, document: &str, piece: &str, actor: &str) -> Result<(), Error> {
    let doc = app
        .repo
        .document(document)
        .await?
        .ok_or_else(|| Error::UnknownDocument(document.to_string()))?;
    let before = Snapshot::read(app, &doc.dossier).await?;
    let target = piece_of(&before, piece)?.clone();
    if doc.piece.as_deref() == Some(piece) {
        return Ok(());
    }
    // Judged once, outside the change: the content does not change, the policy is the piece's.
    let judged = judge_again(app, &doc, &target).await?;
    dossier::change(app, &doc.dossier, actor, |snapshot| {
        if snapshot.state == DossierState::Closed {
            return Err(dossiers::TransitionError::DossierClosed.into());
        }
        let current = snapshot
            .documents
            .iter()
            .find(|d| d.id == doc.id)
            .ok_or_else(|| Error::UnknownDocument(doc.id.clone()))?;
        if current.withdrawn_at.is_some() {
            return Err(Error::DocumentWithdrawn);
        }
        if current.piece.as_deref() == Some(piece) {
            return Ok(Plan::nothing(()));
        }
        let infected = (current.scan.as_deref() == Some(scan::state::INFECTED))
            .then(|| current.scan_signature.as_deref().unwrap_or("unknown"));
        let scanned_clean = current
            .scan
            .as_deref()
            .is_none_or(|s| s == scan::state::CLEAN);
        let decided = Decision::of(&judged, infected, scanned_clean, Some(&target));
        let mut plan = Plan::nothing(());
        plan.change.assignments.push(Assignment {
            document: current.id.clone(),
            piece: piece.to_string(),
            verdict: decided.verdict.to_string(),
            reasons: decided.reasons.clone(),
            review: decided.review(),
            reviewed_by: decided.reviewer(),
        });
        plan.change.events.push(snapshot.event(
            EventKind::DocumentAssigned,
            Some(&current.id),
            json!({"from": current.piece, "to": piece, "verdict": decided.verdict,
                "reasons": decided.codes()}),
        ));
        if decided.auto {
            plan.change.events.push(snapshot.event(
                EventKind::DocumentAccepted,
                Some(&current.id),
                json!({"piece": piece, "by": AUTO_REVIEWER, "review": false}),
            ));
        }
        if snapshot.correction(piece).is_some() {
            plan.change.corrections = Some(without_correction(snapshot, piece));
        }
        let next = dossiers::state::after_change(
            snapshot.state,
            &snapshot.assessment_after(&plan.change),
            Change::DocumentMoved,
        );
        snapshot.move_to(&mut plan.change, next, None);
        Ok(plan)
    })
    .await
}

/// Who changes the candidate's attributes: the portal only until the deadline and before the
/// dossier closes, staff at any time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Editor {
    Portal,
    Staff,
}

/// Changes the candidate's attributes by a JSON merge patch (RFC 7396): a key given replaces
/// the stored value, a key given `null` is removed. Requirements are recomputed: a piece no
/// longer required keeps its documents but stops counting. The event carries the old and the
/// new values of what changed. Returns whether anything changed.
pub async fn update_candidate(
    app: &App,
    reference: &str,
    patch: &Map<String, Value>,
    editor: Editor,
    actor: &str,
) -> Result<bool, Error> {
    dossier::change(app, reference, actor, |snapshot| {
        if editor == Editor::Portal {
            check_window(snapshot)?;
            dossiers::state::candidate_may_change(snapshot.state)?;
        }
        let stored = snapshot
            .record
            .candidate
            .as_object()
            .cloned()
            .unwrap_or_default();
        let mut updated = stored.clone();
        let (mut old, mut new) = (Map::new(), Map::new());
        for (key, value) in patch {
            let before = stored.get(key).cloned().unwrap_or(Value::Null);
            if before == *value {
                continue;
            }
            if value.is_null() {
                updated.remove(key);
            } else {
                updated.insert(key.clone(), value.clone());
            }
            old.insert(key.clone(), before);
            new.insert(key.clone(), value.clone());
        }
        if new.is_empty() {
            return Ok(Plan::nothing(false));
        }
        let updated = Value::Object(updated);
        Candidate::new(updated.clone(), snapshot.campaign.reference_date()).map_err(|e| {
            Error::InvalidCandidate {
                code: e.code(),
                message: e.to_string(),
            }
        })?;
        let mut plan = Plan::nothing(true);
        plan.change.candidate = Some(updated);
        plan.change.events.push(snapshot.event(
            EventKind::DossierUpdated,
            None,
            json!({"candidate": {"old": old, "new": new}}),
        ));
        let next = dossiers::state::after_change(
            snapshot.state,
            &snapshot.assessment_after(&plan.change),
            Change::AttributesChanged,
        );
        snapshot.move_to(&mut plan.change, next, None);
        Ok(plan)
    })
    .await
}

/// Staff give one dossier until `until` to send its documents. The dossier then takes
/// uploads until then, whatever the campaign's deadline.
pub async fn extend(
    app: &App,
    reference: &str,
    until: DateTime<Utc>,
    reason: &str,
    actor: &str,
) -> Result<(), Error> {
    let reason = text(reason).ok_or(Error::ReasonRequired)?;
    if until <= Utc::now() {
        return Err(Error::ExtensionInPast);
    }
    dossier::change(app, reference, actor, |snapshot| {
        if snapshot.state == DossierState::Closed {
            return Err(dossiers::TransitionError::DossierClosed.into());
        }
        let until = until.to_rfc3339_opts(SecondsFormat::Secs, true);
        let mut plan = Plan::nothing(());
        plan.change.extension = Some(json!({
            "until": until, "reason": reason, "by": actor, "at": now_text(),
        }));
        plan.change.events.push(snapshot.event(
            EventKind::DossierExtended,
            None,
            json!({"until": until, "reason": reason}),
        ));
        Ok(plan)
    })
    .await
}

/// An admin takes a closed dossier back to complete (or submitted, when it is no longer
/// complete), with a reason.
pub async fn reopen(
    app: &App,
    reference: &str,
    reason: &str,
    actor: &str,
) -> Result<DossierState, Error> {
    let reason = text(reason).ok_or(Error::ReasonRequired)?;
    dossier::change(app, reference, actor, |snapshot| {
        let next = dossiers::state::reopen(snapshot.state, &snapshot.assessment())?;
        let mut plan = Plan::nothing(next);
        plan.change.state = Some((next.as_str().to_string(), Some(reason.clone())));
        plan.change.events.push(snapshot.event(
            EventKind::DossierReopened,
            None,
            json!({"from": snapshot.state.as_str(), "to": next.as_str(), "reason": reason}),
        ));
        Ok(plan)
    })
    .await
}
