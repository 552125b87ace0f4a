//! Pieces: the entries of a campaign's catalog, each a kind of supporting document.
//!
//! Invariants of a [`Piece`] (checked when its `[[pieces]]` table is read):
//! - `code` is a slug, `label` is not empty, `accept` names at least one known kind;
//! - `max_bytes >= 1`, `max_pages >= 1` when set, `1 <= min_documents <= max_documents`;
//! - a piece is required always (`required = true`), under a condition (`required_when`), or
//!   never; naming both `required` and `required_when` is refused as ambiguous;
//! - `why`, when set, says in plain words why the piece is required (one line, at most
//!   [`MAX_WHY_CHARS`] characters), for staff and the portal to show instead of the
//!   condition. Only a required or conditional piece takes one: a `why` on an optional piece
//!   most likely means its `required` or `required_when` was forgotten.
//!
//! Defaults: `accept = ["pdf", "jpeg", "png"]`, `max_bytes = "10MiB"`, no page limit,
//! `min_documents = 1`, `max_documents = 5`, `review = "staff"`, optional.

use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};
use toml::Spanned;

use crate::campaign::{CampaignError, SourceMap, non_empty, period, plain_text, slug};
use crate::condition::Condition;
use crate::kind::Kind;
use crate::retention::Period;

/// Kinds accepted when a piece names none.
pub const DEFAULT_ACCEPT: [Kind; 3] = [Kind::Pdf, Kind::Jpeg, Kind::Png];
/// Size limit of a document when a piece names none: 10 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 10 * 1024 * 1024;
/// Documents a piece needs when it says nothing.
pub const DEFAULT_MIN_DOCUMENTS: u32 = 1;
/// Documents a piece takes at most when it says nothing.
pub const DEFAULT_MAX_DOCUMENTS: u32 = 5;
/// The longest `why`, in characters.
pub const MAX_WHY_CHARS: usize = 500;
/// A watermark is one short line.
pub const MAX_WATERMARK_CHARS: usize = 120;

/// Who accepts a document of a piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReviewPolicy {
    /// A staff reviewer decides.
    #[default]
    Staff,
    /// A passing verdict accepts the document.
    Auto,
}

/// Whether a piece is required, before any candidate is known.
#[derive(Debug, Clone)]
pub enum Necessity {
    /// `required = true`.
    Required,
    /// Neither `required = true` nor `required_when`.
    Optional,
    /// `required_when = "<expr>"`: required when the condition holds or cannot be decided.
    When(Condition),
}

/// One entry of a campaign's catalog.
#[derive(Debug, Clone)]
pub struct Piece {
    code: String,
    label: String,
    description: Option<String>,
    accept: Vec<Kind>,
    max_bytes: u64,
    max_pages: Option<u32>,
    min_documents: u32,
    max_documents: u32,
    review: ReviewPolicy,
    necessity: Necessity,
    why: Option<String>,
    purge_after_decision: Option<Period>,
    watermark: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPiece {
    pub(crate) code: Spanned<String>,
    label: Spanned<String>,
    description: Option<Spanned<String>>,
    accept: Option<Spanned<Vec<Spanned<String>>>>,
    max_bytes: Option<Spanned<toml::Value>>,
    max_pages: Option<Spanned<u32>>,
    min_documents: Option<Spanned<u32>>,
    max_documents: Option<Spanned<u32>>,
    review: Option<Spanned<ReviewPolicy>>,
    required: Option<Spanned<bool>>,
    required_when: Option<Spanned<String>>,
    why: Option<Spanned<String>>,
    purge_after_decision: Option<Spanned<String>>,
    watermark: Option<Spanned<String>>,
}

impl Piece {
    pub(crate) fn from_raw(map: &SourceMap<'_>, raw: RawPiece) -> Result<Piece, CampaignError> {
        let code = slug(map, "code", raw.code)?;
        let label = non_empty(map, "label", raw.label)?;
        let accept = match raw.accept {
            None => DEFAULT_ACCEPT.to_vec(),
            Some(list) => accept(map, list)?,
        };
        let max_bytes = match raw.max_bytes {
            None => DEFAULT_MAX_BYTES,
            Some(value) => max_bytes(map, value)?,
        };
        let max_pages = match raw.max_pages {
            Some(pages) if *pages.get_ref() == 0 => {
                return Err(map.error(pages.span(), "max_pages must be at least 1"));
            }
            other => other.map(Spanned::into_inner),
        };
        let (min_documents, max_documents) =
            document_counts(map, raw.min_documents, raw.max_documents)?;
        let necessity = match (raw.required, raw.required_when) {
            (Some(_), Some(when)) => {
                return Err(map.error(
                    when.span(),
                    "a piece takes either `required` or `required_when`, not both",
                ));
            }
            (Some(required), None) if *required.get_ref() => Necessity::Required,
            (_, None) => Necessity::Optional,
            (None, Some(when)) => {
                let condition = Condition::compile(when.get_ref()).map_err(|e| {
                    map.error(
                        when.span(),
                        format!("required_when {:?}: {e}", when.get_ref()),
                    )
                })?;
                Necessity::When(condition)
            }
        };
        let why = match raw.why {
            None => None,
            Some(why) if matches!(necessity, Necessity::Optional) => {
                return Err(map.error(
                    why.span(),
                    "why says why a piece is required, but this piece is optional \
                     (add `required = true` or `required_when`, or remove `why`)",
                ));
            }
            Some(why) => Some(plain_text(map, "why", why, MAX_WHY_CHARS)?),
        };
        Ok(Piece {
            code,
            label,
            description: raw.description.map(Spanned::into_inner),
            accept,
            max_bytes,
            max_pages,
            min_documents,
            max_documents,
            review: raw.review.map(Spanned::into_inner).unwrap_or_default(),
            necessity,
            why,
            purge_after_decision: raw
                .purge_after_decision
                .map(|text| period(map, "purge_after_decision", text))
                .transpose()?,
            watermark: raw
                .watermark
                .map(|text| plain_text(map, "watermark", text, MAX_WATERMARK_CHARS))
                .transpose()?,
        })
    }

    /// How long each document keeps its content once staff decided on it, if the piece says.
    pub fn purge_after_decision(&self) -> Option<&Period> {
        self.purge_after_decision.as_ref()
    }

    /// The text laid over the pictures staff see of this piece's documents, if any (the
    /// original is kept as sent).
    pub fn watermark(&self) -> Option<&str> {
        self.watermark.as_deref()
    }

    /// The piece's slug, unique in its campaign, e.g. `identite`.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// What the candidate reads.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Free text shown under the label, if any.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The kinds accepted, in file order, without duplicates.
    pub fn accept(&self) -> &[Kind] {
        &self.accept
    }

    /// Whether content of this kind may be attached to this piece.
    pub fn accepts(&self, kind: Kind) -> bool {
        self.accept.contains(&kind)
    }

    /// The size limit of one document, in bytes.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// The page limit of one document, if any.
    pub fn max_pages(&self) -> Option<u32> {
        self.max_pages
    }

    /// Accepted documents needed for the piece to be satisfied (at least 1).
    pub fn min_documents(&self) -> u32 {
        self.min_documents
    }

    /// Documents the piece takes at most (at least `min_documents`).
    pub fn max_documents(&self) -> u32 {
        self.max_documents
    }

    /// Who accepts this piece's documents.
    pub fn review(&self) -> ReviewPolicy {
        self.review
    }

    /// Whether the piece is required, before any candidate is known; see
    /// [`Piece::requirement`] for one candidate.
    pub fn necessity(&self) -> &Necessity {
        &self.necessity
    }

    /// Why the piece is required, in plain words for staff and candidates, when the campaign
    /// says so; the condition ([`Piece::condition`]) is the rule, this is its explanation.
    pub fn why(&self) -> Option<&str> {
        self.why.as_deref()
    }

    /// The `required_when` condition, if the piece has one.
    pub fn condition(&self) -> Option<&Condition> {
        match &self.necessity {
            Necessity::When(condition) => Some(condition),
            Necessity::Required | Necessity::Optional => None,
        }
    }
}

/// The catalog entry as the API shows it: `required` is true only for `required = true`;
/// a conditional piece carries `required_when` instead. `why` is null when the campaign
/// gives none.
impl Serialize for Piece {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Piece", 12)?;
        s.serialize_field("code", &self.code)?;
        s.serialize_field("label", &self.label)?;
        s.serialize_field("description", &self.description)?;
        s.serialize_field("accept", &self.accept)?;
        s.serialize_field("max_bytes", &self.max_bytes)?;
        s.serialize_field("max_pages", &self.max_pages)?;
        s.serialize_field("min_documents", &self.min_documents)?;
        s.serialize_field("max_documents", &self.max_documents)?;
        s.serialize_field("review", &self.review)?;
        s.serialize_field("required", &matches!(self.necessity, Necessity::Required))?;
        s.serialize_field("required_when", &self.condition().map(Condition::source))?;
        s.serialize_field("why", &self.why)?;
        s.end()
    }
}

fn accept(
    map: &SourceMap<'_>,
    list: Spanned<Vec<Spanned<String>>>,
) -> Result<Vec<Kind>, CampaignError> {
    let span = list.span();
    let mut kinds: Vec<Kind> = Vec::new();
    for name in list.into_inner() {
        let kind = name.get_ref().parse::<Kind>().map_err(|_| {
            let known: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
            map.error(
                name.span(),
                format!(
                    "unknown kind {:?} in accept (known: {})",
                    name.get_ref(),
                    known.join(", ")
                ),
            )
        })?;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    if kinds.is_empty() {
        return Err(map.error(span, "accept must name at least one kind"));
    }
    Ok(kinds)
}

/// An integer of bytes, or a human size parsed by `bytesize`: "10MiB", "500KiB", "2MB"
/// (decimal units are powers of 1000, binary ones powers of 1024).
fn max_bytes(map: &SourceMap<'_>, value: Spanned<toml::Value>) -> Result<u64, CampaignError> {
    let bytes = match value.get_ref() {
        toml::Value::Integer(n) => u64::try_from(*n).ok(),
        toml::Value::String(text) => text.trim().parse::<bytesize::ByteSize>().ok().map(|b| b.0),
        _ => None,
    };
    match bytes {
        Some(0) => Err(map.error(value.span(), "max_bytes must be at least 1 byte")),
        Some(bytes) => Ok(bytes),
        None => Err(map.error(
            value.span(),
            format!(
                "max_bytes must be a number of bytes or a size like \"10MiB\", \"500KiB\" \
                 or \"2MB\", not {}",
                value.get_ref()
            ),
        )),
    }
}

fn document_counts(
    map: &SourceMap<'_>,
    min: Option<Spanned<u32>>,
    max: Option<Spanned<u32>>,
) -> Result<(u32, u32), CampaignError> {
    let min_documents = match &min {
        Some(min) if *min.get_ref() == 0 => {
            return Err(map.error(
                min.span(),
                "min_documents must be at least 1 (an optional piece is not required instead)",
            ));
        }
        Some(min) => *min.get_ref(),
        None => DEFAULT_MIN_DOCUMENTS,
    };
    let max_documents = max.as_ref().map_or(DEFAULT_MAX_DOCUMENTS, |m| *m.get_ref());
    if max_documents < min_documents {
        // Point at whichever of the two the author wrote last: that is the one to fix.
        let (span, max_text) = match (&max, &min) {
            (Some(max), _) => (max.span(), max_documents.to_string()),
            (None, Some(min)) => (min.span(), format!("{max_documents}, the default")),
            (None, None) => (0..0, max_documents.to_string()),
        };
        return Err(map.error(
            span,
            format!("max_documents ({max_text}) must be at least min_documents ({min_documents})"),
        ));
    }
    Ok((min_documents, max_documents))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::Campaign;

    fn piece(body: &str) -> Piece {
        let source = format!(
            "id = \"c\"\ntitle = \"T\"\nopens_at = \"2024-10-10T10:00:00+02:00\"\n\
             closes_at = \"2024-11-13T19:00:00+01:00\"\nreference_date = \"2025-06-01\"\n\
             [[pieces]]\ncode = \"a\"\nlabel = \"A\"\n{body}\n"
        );
        let campaign = Campaign::parse(&source, "x").expect("parses");
        campaign.pieces()[0].clone()
    }

    #[test]
    fn human_sizes_parse_with_binary_and_decimal_units() {
        assert_eq!(piece("max_bytes = \"10MiB\"").max_bytes(), 10 * 1024 * 1024);
        assert_eq!(piece("max_bytes = \"500KiB\"").max_bytes(), 500 * 1024);
        assert_eq!(piece("max_bytes = \"2MB\"").max_bytes(), 2_000_000);
        assert_eq!(piece("max_bytes = \"2 MB\"").max_bytes(), 2_000_000);
        assert_eq!(piece("max_bytes = 123456").max_bytes(), 123_456);
    }

    #[test]
    fn accept_uses_kind_aliases_and_drops_duplicates() {
        assert_eq!(
            piece("accept = [\"jpg\", \"JPEG\", \"pdf\"]").accept(),
            &[Kind::Jpeg, Kind::Pdf]
        );
        assert!(piece("accept = [\"tif\"]").accepts(Kind::Tiff));
        assert!(!piece("").accepts(Kind::Tiff));
    }

    #[test]
    fn necessity_follows_required_and_required_when() {
        assert!(matches!(
            piece("required = true").necessity(),
            Necessity::Required
        ));
        assert!(matches!(
            piece("required = false").necessity(),
            Necessity::Optional
        ));
        assert!(matches!(piece("").necessity(), Necessity::Optional));
        assert!(
            piece("required_when = \"candidate.age < 25\"")
                .condition()
                .is_some()
        );
        assert_eq!(piece("review = \"auto\"").review(), ReviewPolicy::Auto);
    }

    #[test]
    fn why_is_kept_trimmed_and_serialised() {
        let jdc = piece(
            "required_when = \"candidate.age < 25\"\n\
             why = \"  Exigé des candidats de moins de 25 ans. \"",
        );
        assert_eq!(jdc.why(), Some("Exigé des candidats de moins de 25 ans."));
        let json = serde_json::to_value(&jdc).expect("serialises");
        assert_eq!(json["why"], "Exigé des candidats de moins de 25 ans.");

        let always = piece("required = true\nwhy = \"Pour vérifier votre identité.\"");
        assert_eq!(always.why(), Some("Pour vérifier votre identité."));

        let plain = piece("required = true");
        assert_eq!(plain.why(), None);
        let json = serde_json::to_value(&plain).expect("serialises");
        assert!(json["why"].is_null(), "{json}");
        assert!(json.as_object().is_some_and(|o| o.contains_key("why")));
    }

    #[test]
    fn why_may_be_written_over_several_lines_in_toml() {
        // A line-ending backslash folds a long text into one line.
        let jdc = piece(
            "required_when = \"candidate.age < 25\"\n\
             why = \"\"\"\\\n  Exigé des candidats \\\n  de moins de 25 ans.\"\"\"",
        );
        assert_eq!(jdc.why(), Some("Exigé des candidats de moins de 25 ans."));
    }
}
