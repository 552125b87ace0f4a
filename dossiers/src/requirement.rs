//! Requirements: whether each piece is required for one dossier, and why.
//!
//! Invariants:
//! - One [`Requirement`] per piece of the campaign, in catalog order.
//! - A conditional piece always says why, in French, for the candidate and staff to read.
//! - A condition that cannot be decided (missing attribute, non-boolean result, evaluation
//!   failure) makes the piece required, and the `why` says so: asking for a piece too many is
//!   recoverable, silently not asking for a needed one is not.

use serde::{Deserialize, Serialize};

use crate::campaign::Campaign;
use crate::candidate::{AGE, BIRTH_DATE, Candidate};
use crate::condition::{CANDIDATE_VARIABLE, Condition, Outcome};
use crate::piece::{Necessity, Piece};

/// Whether one piece is required for one dossier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirement {
    /// The piece's code.
    pub piece: String,
    /// Whether the dossier needs this piece.
    pub required: bool,
    /// Why, in French, for a conditional piece; `None` for a plainly required or optional one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

impl Piece {
    /// Evaluates this piece's necessity for a candidate.
    pub fn requirement(&self, candidate: &Candidate) -> Requirement {
        let (required, why) = match self.necessity() {
            Necessity::Required => (true, None),
            Necessity::Optional => (false, None),
            Necessity::When(condition) => {
                let (required, why) = conditional(condition, candidate);
                (required, Some(why))
            }
        };
        Requirement {
            piece: self.code().to_string(),
            required,
            why,
        }
    }
}

impl Campaign {
    /// The requirement of every piece for this candidate, in catalog order.
    pub fn requirements(&self, candidate: &Candidate) -> Vec<Requirement> {
        self.pieces()
            .iter()
            .map(|piece| piece.requirement(candidate))
            .collect()
    }
}

/// Whether a conditional piece is required, and why in French.
fn conditional(condition: &Condition, candidate: &Candidate) -> (bool, String) {
    let expr = condition.source();
    match condition.evaluate(candidate) {
        Outcome::Holds => (true, format!("exigée : {expr}")),
        Outcome::DoesNotHold => (false, format!("non exigée : {expr}")),
        Outcome::MissingAttribute(path) => (true, missing_attribute(&path)),
        Outcome::NotBoolean(kind) => (
            true,
            format!(
                "la condition « {expr} » donne une valeur {kind} et non un booléen : \
                 pièce exigée par défaut"
            ),
        ),
        Outcome::Failed(message) => (
            true,
            format!(
                "la condition « {expr} » n'a pu être évaluée ({message}) : \
                 pièce exigée par défaut"
            ),
        ),
    }
}

fn missing_attribute(path: &str) -> String {
    // `age` is derived: the attribute the candidate can actually supply is the birth date.
    let hint = if path == format!("{CANDIDATE_VARIABLE}.{AGE}") {
        format!(" (dérivé de {CANDIDATE_VARIABLE}.{BIRTH_DATE}, non fourni)")
    } else {
        String::new()
    };
    format!("attribut manquant « {path} »{hint} : pièce exigée par défaut")
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::campaign::tests::sample;

    fn requirements(attributes: Value) -> Vec<Requirement> {
        let campaign = sample();
        let candidate =
            Candidate::new(attributes, campaign.reference_date()).expect("valid candidate");
        campaign.requirements(&candidate)
    }

    fn jdc(attributes: Value) -> Requirement {
        requirements(attributes)
            .into_iter()
            .find(|r| r.piece == "jdc")
            .expect("jdc")
    }

    const EXPR: &str = "candidate.age < 25 && candidate.nationality == 'FR'";

    #[test]
    fn plain_pieces_have_no_why() {
        let all = requirements(json!({"birth_date": "2001-01-01", "nationality": "FR"}));
        assert_eq!(
            all[0],
            Requirement {
                piece: "identite".into(),
                required: true,
                why: None
            }
        );
    }

    #[test]
    fn conditional_pieces_say_why() {
        let required = jdc(json!({"birth_date": "2001-01-01", "nationality": "FR"}));
        assert!(required.required);
        assert_eq!(required.why, Some(format!("exigée : {EXPR}")));
        let not_required = jdc(json!({"birth_date": "1990-01-01", "nationality": "FR"}));
        assert!(!not_required.required);
        assert_eq!(not_required.why, Some(format!("non exigée : {EXPR}")));
    }

    #[test]
    fn age_is_taken_on_the_reference_date() {
        // 25 on 2025-06-01, the reference date: no longer under 25.
        assert!(!jdc(json!({"birth_date": "2000-06-01", "nationality": "FR"})).required);
        // 25 a day later: still 24 on the reference date.
        assert!(jdc(json!({"birth_date": "2000-06-02", "nationality": "FR"})).required);
    }

    #[test]
    fn a_missing_attribute_makes_the_piece_required_and_says_so() {
        let requirement = jdc(json!({"birth_date": "2001-01-01"}));
        assert!(requirement.required);
        assert_eq!(
            requirement.why.as_deref(),
            Some("attribut manquant « candidate.nationality » : pièce exigée par défaut")
        );
        let requirement = jdc(json!({"nationality": "FR"}));
        assert!(requirement.required);
        assert_eq!(
            requirement.why.as_deref(),
            Some(
                "attribut manquant « candidate.age » (dérivé de candidate.birth_date, non fourni) \
                 : pièce exigée par défaut"
            )
        );
    }

    #[test]
    fn short_circuit_keeps_an_older_candidate_without_nationality_exempt() {
        let requirement = jdc(json!({"birth_date": "1990-01-01"}));
        assert!(!requirement.required);
        assert_eq!(requirement.why, Some(format!("non exigée : {EXPR}")));
    }

    #[test]
    fn undecidable_conditions_make_the_piece_required() {
        let requirement = jdc(json!({"age": "vingt", "nationality": "FR"}));
        assert!(requirement.required);
        let why = requirement.why.expect("why");
        assert!(why.contains("n'a pu être évaluée"), "{why}");
        assert!(why.ends_with("pièce exigée par défaut"), "{why}");
    }

    #[test]
    fn serializes_without_a_null_why() {
        let json = serde_json::to_value(Requirement {
            piece: "identite".into(),
            required: true,
            why: None,
        })
        .expect("serializes");
        assert_eq!(json, json!({"piece": "identite", "required": true}));
    }
}
