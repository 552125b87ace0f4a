//! Dossier states and the pure transitions between them.
//!
//! ```text
//! open ──submit──▶ submitted ──(all required pieces accepted)──▶ complete ──close──▶ closed
//!   ▲                  │                                            │
//!   └──────────────────┴──────────── staff rejection ◀──────────────┘
//! ```
//!
//! The functions here take the current state and the dossier's [`Assessment`] and return the
//! next state; the caller stores it and emits the events. Nothing here knows the clock: the
//! campaign window is checked separately ([`crate::window`]).
//!
//! [`submit`] — the candidate declares "J'ai fourni toutes mes pièces":
//!
//! | from | assessment | result |
//! |---|---|---|
//! | open | a required piece lacks documents | `Err(MissingPieces)` |
//! | open | complete | complete |
//! | open | otherwise | submitted |
//! | submitted, complete | | `Err(DossierNotOpen)` |
//! | closed | | `Err(DossierClosed)` |
//!
//! [`after_change`] — after a document arrives, is withdrawn, moved or reviewed, or the
//! candidate's attributes change:
//!
//! | from | change | assessment | result |
//! |---|---|---|---|
//! | open | any | any | open: only the candidate's declaration moves it on |
//! | submitted, complete | any | complete | complete (a rejected surplus document does not reopen) |
//! | submitted, complete | staff rejection | not complete | open: the candidate must act |
//! | complete | other | not complete | open: the candidate must act |
//! | submitted | other | a required piece lacks documents | open: the declaration no longer holds |
//! | submitted | other | otherwise | submitted: reviews are still pending |
//! | closed | any | any | closed |
//!
//! [`request_correction`] — staff ask the candidate to send a piece again: a submitted or
//! complete dossier goes back to open; a closed one refuses.
//!
//! [`close`] — staff close a dossier from any state but closed, provided it is complete:
//! a dossier received on paper may be complete without its candidate ever declaring it so.
//!
//! [`reopen`] — an admin takes a closed dossier back to complete, or to submitted when it is
//! no longer complete (a requirement changed since).
//!
//! [`candidate_may_change`] — until the deadline the candidate adds or withdraws documents
//! in any state but closed; a submitted dossier stays submitted while nothing it declared is
//! missing ([`after_change`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::assessment::{Assessment, ReviewDecision};

/// Where a dossier is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DossierState {
    /// Collecting documents; the candidate may change them.
    Open,
    /// The candidate declared every piece provided; staff review.
    Submitted,
    /// Every required piece has at least `min_documents` accepted documents.
    Complete,
    /// Closed by staff; final.
    Closed,
}

impl DossierState {
    /// Every state, in life order.
    pub const ALL: [DossierState; 4] = [
        DossierState::Open,
        DossierState::Submitted,
        DossierState::Complete,
        DossierState::Closed,
    ];

    /// The name used in the API and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            DossierState::Open => "open",
            DossierState::Submitted => "submitted",
            DossierState::Complete => "complete",
            DossierState::Closed => "closed",
        }
    }
}

impl fmt::Display for DossierState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state name that is none of `open`, `submitted`, `complete`, `closed`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown dossier state {0:?} (known: open, submitted, complete, closed)")]
pub struct UnknownState(pub String);

impl FromStr for DossierState {
    type Err = UnknownState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DossierState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| UnknownState(s.to_string()))
    }
}

/// A transition refused; each variant has a stable [`code`](TransitionError::code).
/// All of them are conflicts with the dossier's state (HTTP 409).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("the dossier is {state}, not open")]
    DossierNotOpen { state: DossierState },
    #[error("required pieces still lack documents: {}", pieces.join(", "))]
    MissingPieces { pieces: Vec<String> },
    #[error("the dossier is not complete")]
    NotComplete,
    #[error("the dossier is closed")]
    DossierClosed,
    #[error("the dossier is {state}, not closed")]
    DossierNotClosed { state: DossierState },
}

impl TransitionError {
    /// The stable snake_case code for API errors.
    pub fn code(&self) -> &'static str {
        match self {
            TransitionError::DossierNotOpen { .. } => "dossier_not_open",
            TransitionError::MissingPieces { .. } => "missing_pieces",
            TransitionError::NotComplete => "not_complete",
            TransitionError::DossierClosed => "dossier_closed",
            TransitionError::DossierNotClosed { .. } => "dossier_not_closed",
        }
    }
}

/// What just happened to a dossier's documents, for [`after_change`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A document arrived (upload or mailroom) and got its verdict.
    DocumentReceived,
    /// The candidate withdrew a document.
    DocumentWithdrawn,
    /// Staff decided on a document.
    Reviewed(ReviewDecision),
    /// Staff filed a document under another piece.
    DocumentMoved,
    /// The candidate's attributes changed, and the requirements with them.
    AttributesChanged,
}

/// The candidate declares "J'ai fourni toutes mes pièces".
pub fn submit(
    state: DossierState,
    assessment: &Assessment,
) -> Result<DossierState, TransitionError> {
    match state {
        DossierState::Open => {}
        DossierState::Closed => return Err(TransitionError::DossierClosed),
        DossierState::Submitted | DossierState::Complete => {
            return Err(TransitionError::DossierNotOpen { state });
        }
    }
    let missing = assessment.missing_for_submission();
    if !missing.is_empty() {
        return Err(TransitionError::MissingPieces { pieces: missing });
    }
    Ok(if assessment.complete {
        DossierState::Complete
    } else {
        DossierState::Submitted
    })
}

/// The state after a change to the dossier's documents, given the new assessment.
/// Total: every state and change has a next state (see the module's table).
pub fn after_change(state: DossierState, assessment: &Assessment, change: Change) -> DossierState {
    match state {
        DossierState::Open | DossierState::Closed => state,
        DossierState::Submitted | DossierState::Complete => {
            if assessment.complete {
                DossierState::Complete
            } else if change == Change::Reviewed(ReviewDecision::Rejected)
                || state == DossierState::Complete
                || !assessment.missing_for_submission().is_empty()
            {
                DossierState::Open
            } else {
                DossierState::Submitted
            }
        }
    }
}

/// Staff close a complete dossier.
pub fn close(
    state: DossierState,
    assessment: &Assessment,
) -> Result<DossierState, TransitionError> {
    match state {
        DossierState::Closed => Err(TransitionError::DossierClosed),
        _ if !assessment.complete => Err(TransitionError::NotComplete),
        _ => Ok(DossierState::Closed),
    }
}

/// Staff ask the candidate to send a piece again.
pub fn request_correction(state: DossierState) -> Result<DossierState, TransitionError> {
    match state {
        DossierState::Closed => Err(TransitionError::DossierClosed),
        _ => Ok(DossierState::Open),
    }
}

/// An admin reopens a closed dossier.
pub fn reopen(
    state: DossierState,
    assessment: &Assessment,
) -> Result<DossierState, TransitionError> {
    match state {
        DossierState::Closed if assessment.complete => Ok(DossierState::Complete),
        DossierState::Closed => Ok(DossierState::Submitted),
        _ => Err(TransitionError::DossierNotClosed { state }),
    }
}

/// Whether the candidate may add or withdraw documents, or change their attributes, in this
/// state (the deadline is checked apart).
pub fn candidate_may_change(state: DossierState) -> Result<(), TransitionError> {
    match state {
        DossierState::Closed => Err(TransitionError::DossierClosed),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assessment::{PieceAssessment, PieceStatus};
    use DossierState::*;

    /// One required piece needing one document: `accepted` and `pending` documents.
    fn assessment(accepted: u32, pending: u32) -> Assessment {
        let status = match (accepted, pending) {
            (1.., _) => PieceStatus::Accepted,
            (0, 1..) => PieceStatus::Pending,
            (0, 0) => PieceStatus::Missing,
        };
        Assessment {
            pieces: vec![PieceAssessment {
                code: "identite".into(),
                required: true,
                why: None,
                status,
                accepted,
                pending,
                active: accepted + pending,
                min_documents: 1,
            }],
            complete: accepted >= 1,
        }
    }

    const REJECTION: Change = Change::Reviewed(ReviewDecision::Rejected);
    const ACCEPTANCE: Change = Change::Reviewed(ReviewDecision::Accepted);

    #[test]
    fn names_round_trip() {
        for state in DossierState::ALL {
            assert_eq!(state.as_str().parse::<DossierState>(), Ok(state));
            assert_eq!(
                serde_json::to_value(state).expect("serializes"),
                serde_json::json!(state.as_str())
            );
        }
        assert!("Open".parse::<DossierState>().is_err());
    }

    #[test]
    fn submit_from_open() {
        assert_eq!(submit(Open, &assessment(0, 1)), Ok(Submitted));
        assert_eq!(submit(Open, &assessment(1, 0)), Ok(Complete));
        let error = submit(Open, &assessment(0, 0)).expect_err("missing");
        assert_eq!(
            error,
            TransitionError::MissingPieces {
                pieces: vec!["identite".into()]
            }
        );
        assert_eq!(error.code(), "missing_pieces");
    }

    #[test]
    fn submit_only_from_open() {
        let done = assessment(1, 0);
        assert_eq!(
            submit(Submitted, &done).map_err(|e| e.code()),
            Err("dossier_not_open")
        );
        assert_eq!(
            submit(Complete, &done).map_err(|e| e.code()),
            Err("dossier_not_open")
        );
        assert_eq!(
            submit(Closed, &done).map_err(|e| e.code()),
            Err("dossier_closed")
        );
    }

    #[test]
    fn after_change_follows_the_table() {
        let done = assessment(1, 0);
        let waiting = assessment(0, 1);
        let rejected = assessment(0, 0);
        // Open stays open: the candidate declares.
        assert_eq!(after_change(Open, &done, ACCEPTANCE), Open);
        assert_eq!(after_change(Open, &rejected, REJECTION), Open);
        // Submitted.
        assert_eq!(after_change(Submitted, &done, ACCEPTANCE), Complete);
        assert_eq!(after_change(Submitted, &waiting, ACCEPTANCE), Submitted);
        assert_eq!(
            after_change(Submitted, &waiting, Change::DocumentReceived),
            Submitted
        );
        assert_eq!(after_change(Submitted, &rejected, REJECTION), Open);
        assert_eq!(after_change(Submitted, &waiting, REJECTION), Open);
        assert_eq!(after_change(Submitted, &done, REJECTION), Complete);
        // Complete.
        assert_eq!(after_change(Complete, &done, REJECTION), Complete);
        assert_eq!(after_change(Complete, &rejected, REJECTION), Open);
        assert_eq!(
            after_change(Complete, &waiting, Change::DocumentWithdrawn),
            Open
        );
        // Closed is final.
        for change in [REJECTION, ACCEPTANCE, Change::DocumentReceived] {
            assert_eq!(after_change(Closed, &rejected, change), Closed);
        }
    }

    #[test]
    fn close_needs_completeness() {
        let done = assessment(1, 0);
        for state in [Open, Submitted, Complete] {
            assert_eq!(close(state, &done), Ok(Closed));
            assert_eq!(
                close(state, &assessment(0, 1)),
                Err(TransitionError::NotComplete)
            );
        }
        assert_eq!(close(Closed, &done), Err(TransitionError::DossierClosed));
        assert_eq!(TransitionError::NotComplete.code(), "not_complete");
    }

    #[test]
    fn candidate_changes_until_closed() {
        for state in [Open, Submitted, Complete] {
            assert_eq!(candidate_may_change(state), Ok(()));
        }
        assert_eq!(
            candidate_may_change(Closed),
            Err(TransitionError::DossierClosed)
        );
    }

    #[test]
    fn a_submitted_dossier_reopens_when_a_declared_piece_goes() {
        let gone = assessment(0, 0);
        let waiting = assessment(0, 1);
        assert_eq!(
            after_change(Submitted, &gone, Change::DocumentWithdrawn),
            Open
        );
        assert_eq!(
            after_change(Submitted, &waiting, Change::DocumentWithdrawn),
            Submitted
        );
        assert_eq!(
            after_change(Submitted, &gone, Change::AttributesChanged),
            Open
        );
        assert_eq!(
            after_change(Submitted, &waiting, Change::DocumentMoved),
            Submitted
        );
    }

    #[test]
    fn corrections_and_reopening() {
        for state in [Open, Submitted, Complete] {
            assert_eq!(request_correction(state), Ok(Open));
        }
        assert_eq!(
            request_correction(Closed),
            Err(TransitionError::DossierClosed)
        );
        assert_eq!(reopen(Closed, &assessment(1, 0)), Ok(Complete));
        assert_eq!(reopen(Closed, &assessment(0, 1)), Ok(Submitted));
        assert_eq!(
            reopen(Open, &assessment(1, 0)).map_err(|e| e.code()),
            Err("dossier_not_closed")
        );
    }
}
