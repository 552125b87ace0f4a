//! The candidate: the free JSON attributes a dossier is created with, as conditions see them.
//!
//! Invariants:
//! - The attributes are a JSON object (conditions read them as `candidate.<name>`).
//! - When `birth_date` is present it is a `YYYY-MM-DD` date not after the campaign's
//!   reference date, and `age` is derived from it: full years at the reference date. A derived
//!   age replaces any `age` given alongside, because the date is the evidence and a stated
//!   age may be stale. Without `birth_date`, a given `age` is kept as is.
//! - A `birth_date` of `null` counts as absent.
//!
//! Attributes are shown to staff under a label: the campaign's (`[candidate.labels]`, see
//! [`Campaign::attribute_label`](crate::Campaign::attribute_label)), else a built-in one for
//! the usual keys ([`default_label`]), else the key made readable.

use std::borrow::Cow;

use chrono::{Datelike, NaiveDate};
use serde_json::{Map, Value};

/// The attribute from which `age` is derived.
pub const BIRTH_DATE: &str = "birth_date";
/// The derived attribute.
pub const AGE: &str = "age";

/// A candidate's attributes, with `age` derived at the campaign's reference date.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    attributes: Map<String, Value>,
    age: Option<u32>,
}

/// Why candidate attributes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CandidateError {
    #[error("candidate attributes must be a JSON object, not {found}")]
    NotAnObject { found: &'static str },
    #[error("candidate.birth_date must be a date written YYYY-MM-DD, not {found}")]
    BirthDateNotText { found: &'static str },
    #[error("candidate.birth_date {value:?} is not a valid date written YYYY-MM-DD")]
    MalformedBirthDate { value: String },
    #[error(
        "candidate.birth_date {birth_date} is after the campaign's reference date {reference_date}"
    )]
    BornAfterReference {
        birth_date: NaiveDate,
        reference_date: NaiveDate,
    },
}

impl CandidateError {
    /// A stable snake_case code for API errors.
    pub fn code(&self) -> &'static str {
        match self {
            CandidateError::NotAnObject { .. } => "candidate_not_object",
            CandidateError::BirthDateNotText { .. }
            | CandidateError::MalformedBirthDate { .. }
            | CandidateError::BornAfterReference { .. } => "invalid_birth_date",
        }
    }
}

impl Candidate {
    /// Checks the attributes and derives `age` at `reference_date` from `birth_date`.
    pub fn new(attributes: Value, reference_date: NaiveDate) -> Result<Candidate, CandidateError> {
        let Value::Object(mut attributes) = attributes else {
            return Err(CandidateError::NotAnObject {
                found: json_type(&attributes),
            });
        };
        let birth_date = match attributes.get(BIRTH_DATE) {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(parse_date(text)?),
            Some(other) => {
                return Err(CandidateError::BirthDateNotText {
                    found: json_type(other),
                });
            }
        };
        let age = match birth_date {
            Some(birth_date) => {
                let age = age_at(birth_date, reference_date).ok_or(
                    CandidateError::BornAfterReference {
                        birth_date,
                        reference_date,
                    },
                )?;
                attributes.insert(AGE.to_string(), Value::from(age));
                Some(age)
            }
            None => attributes
                .get(AGE)
                .and_then(Value::as_u64)
                .and_then(|age| u32::try_from(age).ok()),
        };
        Ok(Candidate { attributes, age })
    }

    /// The attributes as conditions read them, `age` included when known.
    pub fn attributes(&self) -> &Map<String, Value> {
        &self.attributes
    }

    /// The age in full years at the reference date: derived from `birth_date`, or the given
    /// `age` when it is a non-negative integer and no `birth_date` is given.
    pub fn age(&self) -> Option<u32> {
        self.age
    }
}

/// Full years from `birth_date` to `on`; `None` when born after `on`.
///
/// The birthday itself counts (18 on the day of the 18th birthday). Someone born on
/// 29 February has their birthday on 1 March in common years, the usual reading in French
/// law: on 28 February they are not a year older yet.
pub fn age_at(birth_date: NaiveDate, on: NaiveDate) -> Option<u32> {
    if birth_date > on {
        return None;
    }
    let mut years = on.year() - birth_date.year();
    if (on.month(), on.day()) < (birth_date.month(), birth_date.day()) {
        years -= 1;
    }
    u32::try_from(years).ok()
}

fn parse_date(text: &str) -> Result<NaiveDate, CandidateError> {
    iso_date(text).ok_or_else(|| CandidateError::MalformedBirthDate {
        value: text.to_string(),
    })
}

/// A date written strictly `YYYY-MM-DD`, as attributes carry dates; `None` for anything
/// else (chrono alone would accept `2005-3-1` or a sign).
pub fn iso_date(text: &str) -> Option<NaiveDate> {
    let shape_ok = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !shape_ok {
        return None;
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// Labels for the attribute keys portals commonly send, in English or French, matched
/// without regard to case and with `-` read as `_`.
const DEFAULT_LABELS: &[(&[&str], &str)] = &[
    (&["first_name", "given_name", "prenom", "prénom"], "Prénom"),
    (&["last_name", "family_name", "nom", "nom_famille"], "Nom"),
    (&["usage_name", "nom_usage"], "Nom d'usage"),
    (
        &[
            "birth_date",
            "date_of_birth",
            "birthdate",
            "date_naissance",
            "date_de_naissance",
        ],
        "Date de naissance",
    ),
    (
        &[
            "birth_place",
            "place_of_birth",
            "lieu_naissance",
            "lieu_de_naissance",
        ],
        "Lieu de naissance",
    ),
    (
        &["email", "e_mail", "courriel", "mail"],
        "Adresse électronique",
    ),
    (
        &["phone", "telephone", "téléphone", "mobile", "portable"],
        "Téléphone",
    ),
    (
        &["nationality", "nationalite", "nationalité"],
        "Nationalité",
    ),
    (&["address", "adresse"], "Adresse"),
    (&["postal_code", "zip_code", "code_postal"], "Code postal"),
    (&["city", "commune", "ville"], "Commune"),
    (&["country", "pays"], "Pays"),
    (&[AGE, "âge"], "Âge"),
    (&["gender", "sex", "sexe", "genre"], "Sexe"),
    (
        &["candidate_number", "numero_candidat", "numéro_candidat"],
        "Numéro de candidat",
    ),
];

/// The label of an attribute key when the campaign gives none: a built-in one for the usual
/// keys (`birth_date` is "Date de naissance"), else the key made readable (`some_key` is
/// "Some key").
pub fn default_label(key: &str) -> Cow<'static, str> {
    let normal = key.trim().to_lowercase().replace('-', "_");
    match DEFAULT_LABELS
        .iter()
        .find(|(keys, _)| keys.contains(&normal.as_str()))
    {
        Some((_, label)) => Cow::Borrowed(*label),
        None => Cow::Owned(readable(key)),
    }
}

/// `some_key` as "Some key": separators as single spaces, the first letter capitalised.
/// A key with nothing readable in it is shown as it is.
fn readable(key: &str) -> String {
    let words: Vec<&str> = key
        .split(|c: char| c == '_' || c == '-' || c == '.' || c.is_whitespace())
        .filter(|word| !word.is_empty())
        .collect();
    let text = words.join(" ");
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => key.to_string(),
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    fn age_of(birth_date: &str, reference: NaiveDate) -> Result<Option<u32>, CandidateError> {
        Candidate::new(json!({ "birth_date": birth_date }), reference).map(|c| c.age())
    }

    #[test]
    fn age_counts_the_birthday_itself() {
        let reference = date(2025, 6, 1);
        assert_eq!(age_of("2000-06-01", reference), Ok(Some(25)));
        assert_eq!(age_of("2000-06-02", reference), Ok(Some(24)));
        assert_eq!(age_of("2000-05-31", reference), Ok(Some(25)));
        assert_eq!(age_of("2025-06-01", reference), Ok(Some(0)));
    }

    #[test]
    fn leap_day_births_age_on_first_of_march_in_common_years() {
        let born = date(2004, 2, 29);
        assert_eq!(age_at(born, date(2025, 2, 28)), Some(20));
        assert_eq!(age_at(born, date(2025, 3, 1)), Some(21));
        assert_eq!(age_at(born, date(2024, 2, 28)), Some(19));
        assert_eq!(age_at(born, date(2024, 2, 29)), Some(20));
    }

    #[test]
    fn birth_date_wins_over_a_given_age_and_is_exposed_as_age() {
        let candidate = Candidate::new(
            json!({"birth_date": "2000-06-02", "age": 40}),
            date(2025, 6, 1),
        )
        .expect("valid");
        assert_eq!(candidate.age(), Some(24));
        assert_eq!(candidate.attributes()["age"], json!(24));
    }

    #[test]
    fn a_given_age_is_kept_without_birth_date() {
        let candidate = Candidate::new(json!({"age": 19}), date(2025, 6, 1)).expect("valid");
        assert_eq!(candidate.age(), Some(19));
        let none = Candidate::new(json!({"nationality": "FR"}), date(2025, 6, 1)).expect("ok");
        assert_eq!(none.age(), None);
        assert!(!none.attributes().contains_key("age"));
    }

    #[test]
    fn malformed_input_is_refused_with_a_code() {
        let reference = date(2025, 6, 1);
        for bad in [
            "2005-3-1",
            "01/03/2005",
            "2005-02-30",
            "+2005-03-01",
            "",
            "2005-03-01T00:00",
        ] {
            let error = age_of(bad, reference).expect_err(bad);
            assert_eq!(error.code(), "invalid_birth_date", "{bad}");
            assert!(error.to_string().contains("YYYY-MM-DD"), "{error}");
        }
        let error = Candidate::new(json!({"birth_date": 20050301}), reference).expect_err("number");
        assert_eq!(error.code(), "invalid_birth_date");
        let error = age_of("2026-01-01", reference).expect_err("future");
        assert!(
            error
                .to_string()
                .contains("after the campaign's reference date")
        );
        let error = Candidate::new(json!(["x"]), reference).expect_err("array");
        assert_eq!(error.code(), "candidate_not_object");
        assert_eq!(
            Candidate::new(json!({"birth_date": null}), reference).map(|c| c.age()),
            Ok(None)
        );
    }

    #[test]
    fn usual_keys_have_french_labels() {
        for (key, label) in [
            ("first_name", "Prénom"),
            ("prenom", "Prénom"),
            ("last_name", "Nom"),
            ("nom", "Nom"),
            ("birth_date", "Date de naissance"),
            ("date_of_birth", "Date de naissance"),
            ("date_naissance", "Date de naissance"),
            ("birth_place", "Lieu de naissance"),
            ("email", "Adresse électronique"),
            ("phone", "Téléphone"),
            ("nationality", "Nationalité"),
            ("address", "Adresse"),
            ("postal_code", "Code postal"),
            ("city", "Commune"),
            ("age", "Âge"),
            ("gender", "Sexe"),
            ("sex", "Sexe"),
            ("candidate_number", "Numéro de candidat"),
            // Case and dashes do not matter.
            ("Birth-Date", "Date de naissance"),
            ("EMAIL", "Adresse électronique"),
        ] {
            assert_eq!(default_label(key), label, "{key}");
        }
    }

    #[test]
    fn other_keys_are_made_readable() {
        assert_eq!(default_label("some_key"), "Some key");
        assert_eq!(
            default_label("dispense_domaine_general"),
            "Dispense domaine general"
        );
        assert_eq!(default_label("__ine--code__"), "Ine code");
        assert_eq!(default_label("INE"), "INE");
        assert_eq!(default_label("établissement"), "Établissement");
        assert_eq!(default_label("_"), "_");
        assert_eq!(default_label(""), "");
    }

    #[test]
    fn iso_dates_are_strict() {
        assert_eq!(iso_date("2004-05-17"), Some(date(2004, 5, 17)));
        for bad in [
            "2004-5-17",
            "17/05/2004",
            "2004-02-30",
            "+2004-05-17",
            "2004-05-17 ",
        ] {
            assert_eq!(iso_date(bad), None, "{bad}");
        }
    }
}
