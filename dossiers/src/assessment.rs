//! Assessment: where each piece of a dossier stands, and whether the dossier is complete.
//!
//! A pure function of facts the caller gathers (the campaign's pieces, the requirements, and
//! one [`DocumentFacts`] per document): no clock, no storage.
//!
//! How one document stands (see [`DocumentFacts::standing`]):
//! - withdrawn: ignored entirely;
//! - a staff review decides when there is one: `Accepted` accepts, `Rejected` rejects — staff
//!   may accept a document the machine rejected (a readable scan below the resolution
//!   threshold, say), since a reviewer looked at it;
//! - without a review, a rejected verdict rejects, and an accepted verdict leaves the document
//!   pending. A piece with `review = "auto"` is accepted by the caller recording an
//!   `Accepted` review for a passing verdict (pipeline step 6), not here.
//!
//! How one piece stands ([`PieceStatus`]), in this order: `Accepted` when at least
//! `min_documents` documents are accepted; `Missing` when no document is left;
//! `Rejected` when every document is rejected; `Pending` otherwise.
//!
//! The dossier is complete when every required piece has at least `min_documents` accepted
//! documents. Optional pieces never hold completeness back.

use serde::{Deserialize, Serialize};

use crate::campaign::Campaign;
use crate::candidate::Candidate;
use crate::piece::Piece;
use crate::requirement::Requirement;

/// A staff decision on a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReviewDecision {
    /// The document is good for its piece.
    Accepted,
    /// The document is not; the candidate must send another.
    Rejected,
}

impl ReviewDecision {
    /// The name stored on a document and shown in answers and events.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewDecision::Accepted => "accepted",
            ReviewDecision::Rejected => "rejected",
        }
    }

    /// The decision a stored name stands for.
    pub fn parse(name: &str) -> Option<ReviewDecision> {
        [ReviewDecision::Accepted, ReviewDecision::Rejected]
            .into_iter()
            .find(|d| d.as_str() == name)
    }
}

/// What the assessment needs to know of one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentFacts {
    /// The piece the document is matched to; `None` while unclassified (ignored here).
    pub piece: Option<String>,
    /// Whether the machine's verdict accepted the document.
    pub verdict_accepted: bool,
    /// The staff decision, if any.
    pub review: Option<ReviewDecision>,
    /// Withdrawn by the candidate: ignored.
    pub withdrawn: bool,
}

/// Where one document stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocumentStanding {
    /// Accepted by staff (or automatically, through an `Accepted` review).
    Accepted,
    /// Passed the machine's checks; awaiting staff.
    Pending,
    /// Rejected by the machine or by staff.
    Rejected,
}

impl DocumentFacts {
    /// Where this document stands; `None` when withdrawn.
    pub fn standing(&self) -> Option<DocumentStanding> {
        if self.withdrawn {
            return None;
        }
        Some(match (self.review, self.verdict_accepted) {
            (Some(ReviewDecision::Accepted), _) => DocumentStanding::Accepted,
            (Some(ReviewDecision::Rejected), _) | (None, false) => DocumentStanding::Rejected,
            (None, true) => DocumentStanding::Pending,
        })
    }
}

/// Where one piece stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PieceStatus {
    /// No document (withdrawn ones aside).
    Missing,
    /// Documents are awaiting review, or too few are accepted yet.
    Pending,
    /// At least `min_documents` documents are accepted.
    Accepted,
    /// Every document is rejected.
    Rejected,
    /// Staff asked the candidate to send the piece again: its documents stop counting until
    /// a new one arrives.
    #[serde(rename = "correction_requested")]
    CorrectionRequested,
}

/// One piece of one dossier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PieceAssessment {
    /// The piece's code.
    pub code: String,
    /// Whether the piece is required for this dossier.
    pub required: bool,
    /// Why, in French, for a conditional piece (see [`Requirement`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// Where the piece stands.
    pub status: PieceStatus,
    /// Documents accepted.
    pub accepted: u32,
    /// Documents awaiting a staff decision.
    pub pending: u32,
    /// Documents not withdrawn, whatever their standing.
    pub active: u32,
    /// Accepted documents the piece needs.
    pub min_documents: u32,
}

/// Every piece of one dossier, and whether the dossier is complete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assessment {
    /// In catalog order.
    pub pieces: Vec<PieceAssessment>,
    /// Every required piece has at least `min_documents` accepted documents.
    pub complete: bool,
}

impl Assessment {
    /// Assesses a dossier from its pieces, requirements and documents.
    ///
    /// A piece with no matching requirement is taken as required (the conservative choice, as
    /// for conditions that cannot be decided). Documents matched to no piece, or to a code the
    /// catalog lacks, are ignored.
    pub fn compute(
        pieces: &[Piece],
        requirements: &[Requirement],
        documents: &[DocumentFacts],
    ) -> Assessment {
        let mut assessed = Vec::with_capacity(pieces.len());
        for piece in pieces {
            let requirement = requirements.iter().find(|r| r.piece == piece.code());
            let (required, why) = match requirement {
                Some(r) => (r.required, r.why.clone()),
                None => (
                    true,
                    Some("exigence non calculée : pièce exigée par défaut".to_string()),
                ),
            };
            let standings = documents
                .iter()
                .filter(|d| d.piece.as_deref() == Some(piece.code()))
                .filter_map(DocumentFacts::standing);
            let (mut accepted, mut pending, mut rejected) = (0u32, 0u32, 0u32);
            for standing in standings {
                match standing {
                    DocumentStanding::Accepted => accepted += 1,
                    DocumentStanding::Pending => pending += 1,
                    DocumentStanding::Rejected => rejected += 1,
                }
            }
            let active = accepted + pending + rejected;
            let status = if accepted >= piece.min_documents() {
                PieceStatus::Accepted
            } else if active == 0 {
                PieceStatus::Missing
            } else if rejected == active {
                PieceStatus::Rejected
            } else {
                PieceStatus::Pending
            };
            assessed.push(PieceAssessment {
                code: piece.code().to_string(),
                required,
                why,
                status,
                accepted,
                pending,
                active,
                min_documents: piece.min_documents(),
            });
        }
        let complete = assessed
            .iter()
            .all(|p| !p.required || p.accepted >= p.min_documents);
        Assessment {
            pieces: assessed,
            complete,
        }
    }

    /// The codes of required pieces that still lack documents, counting pending ones as
    /// provided: what the candidate must still send before declaring "J'ai fourni toutes mes
    /// pièces". Empty when the dossier may be submitted.
    pub fn missing_for_submission(&self) -> Vec<String> {
        self.pieces
            .iter()
            .filter(|p| p.required && p.accepted + p.pending < p.min_documents)
            .map(|p| p.code.clone())
            .collect()
    }

    /// The assessment once staff asked again for `pieces`: those count no accepted or pending
    /// document, so a required one holds completeness and submission back until the
    /// candidate sends a new document (which clears the request).
    pub fn with_corrections<'a>(mut self, pieces: impl IntoIterator<Item = &'a str>) -> Self {
        for code in pieces {
            if let Some(piece) = self.pieces.iter_mut().find(|p| p.code == code) {
                piece.status = PieceStatus::CorrectionRequested;
                piece.accepted = 0;
                piece.pending = 0;
            }
        }
        self.complete = self
            .pieces
            .iter()
            .all(|p| !p.required || p.accepted >= p.min_documents);
        self
    }

    /// The piece with this code.
    pub fn piece(&self, code: &str) -> Option<&PieceAssessment> {
        self.pieces.iter().find(|p| p.code == code)
    }
}

impl Campaign {
    /// Evaluates the requirements for this candidate, then assesses the documents.
    pub fn assess(&self, candidate: &Candidate, documents: &[DocumentFacts]) -> Assessment {
        Assessment::compute(self.pieces(), &self.requirements(candidate), documents)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::campaign::tests::sample;

    fn doc(piece: &str, verdict_accepted: bool, review: Option<ReviewDecision>) -> DocumentFacts {
        DocumentFacts {
            piece: Some(piece.to_string()),
            verdict_accepted,
            review,
            withdrawn: false,
        }
    }

    fn accepted(piece: &str) -> DocumentFacts {
        doc(piece, true, Some(ReviewDecision::Accepted))
    }

    fn pending(piece: &str) -> DocumentFacts {
        doc(piece, true, None)
    }

    fn rejected(piece: &str) -> DocumentFacts {
        doc(piece, true, Some(ReviewDecision::Rejected))
    }

    fn withdrawn(mut facts: DocumentFacts) -> DocumentFacts {
        facts.withdrawn = true;
        facts
    }

    /// The spec's campaign for a young French candidate: identite and jdc both required.
    fn assess(documents: &[DocumentFacts]) -> Assessment {
        let campaign = sample();
        let candidate = Candidate::new(
            json!({"birth_date": "2005-01-01", "nationality": "FR"}),
            campaign.reference_date(),
        )
        .expect("valid");
        campaign.assess(&candidate, documents)
    }

    fn status(assessment: &Assessment, code: &str) -> PieceStatus {
        assessment.piece(code).expect("piece").status
    }

    #[test]
    fn document_standing() {
        assert_eq!(pending("a").standing(), Some(DocumentStanding::Pending));
        assert_eq!(accepted("a").standing(), Some(DocumentStanding::Accepted));
        assert_eq!(rejected("a").standing(), Some(DocumentStanding::Rejected));
        assert_eq!(
            doc("a", false, None).standing(),
            Some(DocumentStanding::Rejected)
        );
        // Staff may accept what the machine rejected.
        assert_eq!(
            doc("a", false, Some(ReviewDecision::Accepted)).standing(),
            Some(DocumentStanding::Accepted)
        );
        assert_eq!(withdrawn(accepted("a")).standing(), None);
    }

    #[test]
    fn a_correction_holds_its_piece_back_until_a_new_document() {
        let complete = assess(&[accepted("identite"), accepted("jdc")]);
        assert!(complete.complete);
        let asked = complete.with_corrections(["jdc"]);
        assert_eq!(status(&asked, "jdc"), PieceStatus::CorrectionRequested);
        assert_eq!(status(&asked, "identite"), PieceStatus::Accepted);
        assert!(!asked.complete);
        assert_eq!(asked.missing_for_submission(), ["jdc"]);
        // A code the catalog lacks changes nothing.
        let unknown = assess(&[accepted("identite"), accepted("jdc")]).with_corrections(["x"]);
        assert!(unknown.complete);
    }

    #[test]
    fn nothing_sent_is_missing_and_incomplete() {
        let assessment = assess(&[]);
        assert_eq!(status(&assessment, "identite"), PieceStatus::Missing);
        assert_eq!(status(&assessment, "jdc"), PieceStatus::Missing);
        assert!(!assessment.complete);
        assert_eq!(assessment.missing_for_submission(), ["identite", "jdc"]);
    }

    #[test]
    fn pending_documents_allow_submission_but_not_completeness() {
        let assessment = assess(&[pending("identite"), pending("jdc")]);
        assert_eq!(status(&assessment, "identite"), PieceStatus::Pending);
        assert!(!assessment.complete);
        assert!(assessment.missing_for_submission().is_empty());
    }

    #[test]
    fn accepted_documents_complete_the_dossier() {
        let assessment = assess(&[accepted("identite"), accepted("jdc"), pending("jdc")]);
        assert_eq!(status(&assessment, "identite"), PieceStatus::Accepted);
        let jdc = assessment.piece("jdc").expect("jdc");
        assert_eq!((jdc.accepted, jdc.active), (1, 2));
        assert_eq!(jdc.status, PieceStatus::Accepted);
        assert!(assessment.complete);
    }

    #[test]
    fn all_rejected_is_rejected_and_mixed_is_pending() {
        let assessment = assess(&[
            rejected("identite"),
            doc("identite", false, None),
            rejected("jdc"),
            pending("jdc"),
        ]);
        assert_eq!(status(&assessment, "identite"), PieceStatus::Rejected);
        assert_eq!(status(&assessment, "jdc"), PieceStatus::Pending);
        assert_eq!(assessment.missing_for_submission(), ["identite"]);
    }

    #[test]
    fn withdrawn_and_unclassified_documents_are_ignored() {
        let unclassified = DocumentFacts {
            piece: None,
            ..accepted("x")
        };
        let assessment = assess(&[
            withdrawn(accepted("identite")),
            unclassified,
            accepted("unknown-piece"),
            accepted("jdc"),
        ]);
        let identite = assessment.piece("identite").expect("identite");
        assert_eq!(
            (identite.status, identite.active),
            (PieceStatus::Missing, 0)
        );
        assert!(!assessment.complete);
    }

    #[test]
    fn optional_pieces_do_not_hold_completeness_back() {
        let campaign = sample();
        let older = Candidate::new(
            json!({"birth_date": "1990-01-01"}),
            campaign.reference_date(),
        )
        .expect("valid");
        let assessment = campaign.assess(&older, &[accepted("identite")]);
        let jdc = assessment.piece("jdc").expect("jdc");
        assert!(!jdc.required);
        assert_eq!(jdc.status, PieceStatus::Missing);
        assert!(assessment.complete);
        assert!(assessment.missing_for_submission().is_empty());
    }

    #[test]
    fn min_documents_counts() {
        let source = crate::campaign::tests::SPEC_SAMPLE.replace(
            "min_documents = 1                      # recto",
            "min_documents = 2                      # recto",
        );
        let campaign = Campaign::parse(&source, "x").expect("parses");
        let candidate = Candidate::new(json!({"age": 40}), campaign.reference_date()).expect("ok");
        let one = campaign.assess(&candidate, &[accepted("identite"), rejected("identite")]);
        assert_eq!(status(&one, "identite"), PieceStatus::Pending);
        assert!(!one.complete);
        assert_eq!(one.missing_for_submission(), ["identite"]);
        let two = campaign.assess(&candidate, &[accepted("identite"), pending("identite")]);
        assert!(two.missing_for_submission().is_empty());
        assert!(!two.complete);
        let done = campaign.assess(&candidate, &[accepted("identite"), accepted("identite")]);
        assert!(done.complete);
    }

    #[test]
    fn a_piece_without_requirement_is_required() {
        let campaign = sample();
        let assessment = Assessment::compute(campaign.pieces(), &[], &[]);
        assert!(assessment.pieces.iter().all(|p| p.required));
    }

    #[test]
    fn serializes_statuses_in_lowercase() {
        let json = serde_json::to_value(assess(&[pending("identite")])).expect("serializes");
        assert_eq!(json["pieces"][0]["status"], "pending");
        assert_eq!(json["pieces"][1]["status"], "missing");
        assert_eq!(
            json["pieces"][1]["why"],
            "exigée : candidate.age < 25 && candidate.nationality == 'FR'"
        );
        assert_eq!(json["complete"], false);
    }
}
