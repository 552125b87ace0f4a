//! Campaigns: one registration window with its piece catalog, read from a TOML file.
//!
//! A [`Campaign`] only exists parsed and checked: ids and piece codes are slugs, piece codes
//! are unique, kinds are known, conditions compile, `opens_at < closes_at`, and document
//! counts are consistent. Times are instants: whatever offset a file writes, the window is
//! compared in absolute time, so the Europe/Paris daylight-saving change cannot move it; the
//! campaign's `timezone` is for showing deadlines. Anything else is refused with a [`CampaignError`] naming the file, the
//! 1-based line and the reason. Unknown fields are refused too: a misspelt `requried = true`
//! must not silently make a piece optional.
//!
//! Texts shown to people as they are (a piece's `why`, the labels of `[candidate.labels]`)
//! are one line each, not empty and of bounded length: they land in pages, answers and
//! events, where a stray control character or a pasted page would do harm.
//!
//! The source text and its origin are kept, so that a loaded campaign can be shown or stored
//! exactly as written.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, NaiveDate};
use chrono_tz::Tz;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};
use toml::Spanned;

use crate::candidate::default_label;
use crate::piece::{Piece, RawPiece};
use crate::retention::Period;

/// The time zone of a campaign that names none.
pub const DEFAULT_TIMEZONE: Tz = chrono_tz::Europe::Paris;
/// The longest label of a candidate attribute, in characters.
pub const MAX_LABEL_CHARS: usize = 100;

/// A campaign file refused, with where and why.
///
/// Displays as `campaigns/x.toml:12: unknown kind "docx" in accept (known: ...)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}:{line}: {reason}")]
pub struct CampaignError {
    /// Where the source came from, usually a file name.
    pub origin: String,
    /// The 1-based line the problem was found on.
    pub line: usize,
    /// What is wrong, in one line.
    pub reason: String,
}

impl CampaignError {
    /// The stable code for API errors.
    pub fn code(&self) -> &'static str {
        "invalid_campaign"
    }
}

/// A parsed and checked campaign.
#[derive(Debug, Clone)]
pub struct Campaign {
    id: String,
    title: String,
    description: Option<String>,
    opens_at: DateTime<FixedOffset>,
    closes_at: DateTime<FixedOffset>,
    timezone: Tz,
    reference_date: NaiveDate,
    pieces: Vec<Piece>,
    /// Display labels of candidate attributes, by attribute key.
    labels: BTreeMap<String, String>,
    /// `[retention] after_close`: how long documents are kept once their dossier is closed.
    after_close: Option<Period>,
    origin: String,
    source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCampaign {
    id: Spanned<String>,
    title: Spanned<String>,
    description: Option<Spanned<String>>,
    // Values rather than strings: both `"2024-10-10T10:00:00+02:00"` and the bare TOML
    // date-time are accepted, and a wrong type gets our message rather than serde's.
    opens_at: Spanned<toml::Value>,
    closes_at: Spanned<toml::Value>,
    timezone: Option<Spanned<String>>,
    reference_date: Spanned<toml::Value>,
    #[serde(default)]
    pieces: Vec<Spanned<RawPiece>>,
    candidate: Option<RawCandidate>,
    retention: Option<RawRetention>,
}

/// `[retention]`: how long documents are kept (see [`crate::retention`]).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetention {
    after_close: Option<Spanned<String>>,
}

/// `[candidate]`: what the campaign says about candidate attributes. Today their labels;
/// the attributes themselves stay free JSON.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCandidate {
    /// `[candidate.labels]`: attribute key = "label shown to staff".
    #[serde(default)]
    labels: BTreeMap<String, Spanned<String>>,
}

/// Turns byte offsets of the source into the lines errors report.
pub(crate) struct SourceMap<'a> {
    origin: &'a str,
    source: &'a str,
}

impl SourceMap<'_> {
    pub(crate) fn error(&self, span: Range<usize>, reason: impl Into<String>) -> CampaignError {
        let end = span.start.min(self.source.len());
        let line = self.source.as_bytes()[..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        CampaignError {
            origin: self.origin.to_string(),
            line,
            reason: reason.into(),
        }
    }
}

impl Campaign {
    /// Parses and checks a campaign file. `origin` names the source in errors (a file name).
    pub fn parse(source: &str, origin: &str) -> Result<Campaign, CampaignError> {
        let map = SourceMap { origin, source };
        let raw: RawCampaign = toml::from_str(source).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            // toml's messages may span lines (a hint under the reason); errors are one line.
            let mut reason = e.message().trim().replace('\n', "; ");
            if reason == "duplicate key" {
                // The span covers the key; name it.
                if let Some(key) = source.get(span.clone()) {
                    reason = format!("duplicate key `{}`", key.trim());
                }
            }
            map.error(span, reason)
        })?;

        let id = slug(&map, "id", raw.id)?;
        let title = non_empty(&map, "title", raw.title)?;
        let description = raw.description.map(Spanned::into_inner);
        let timezone = match raw.timezone {
            None => DEFAULT_TIMEZONE,
            Some(name) => Tz::from_str(name.get_ref()).map_err(|_| {
                map.error(
                    name.span(),
                    format!(
                        "unknown time zone {:?} (an IANA name such as \"Europe/Paris\")",
                        name.get_ref()
                    ),
                )
            })?,
        };
        let opens_at = instant(&map, "opens_at", &raw.opens_at)?;
        let closes_at = instant(&map, "closes_at", &raw.closes_at)?;
        if closes_at <= opens_at {
            return Err(map.error(
                raw.closes_at.span(),
                format!("closes_at ({closes_at}) must be after opens_at ({opens_at})"),
            ));
        }
        let reference_date = date(&map, "reference_date", &raw.reference_date)?;

        if raw.pieces.is_empty() {
            return Err(map.error(
                source.len()..source.len(),
                "a campaign needs at least one [[pieces]] entry",
            ));
        }
        let mut pieces: Vec<Piece> = Vec::with_capacity(raw.pieces.len());
        for raw_piece in raw.pieces {
            let code_span = raw_piece.get_ref().code.span();
            let piece = Piece::from_raw(&map, raw_piece.into_inner())?;
            if pieces.iter().any(|p| p.code() == piece.code()) {
                return Err(map.error(
                    code_span,
                    format!("duplicate piece code {:?}", piece.code()),
                ));
            }
            pieces.push(piece);
        }
        let labels = match raw.candidate {
            None => BTreeMap::new(),
            Some(candidate) => labels(&map, candidate.labels)?,
        };
        let after_close = raw
            .retention
            .and_then(|r| r.after_close)
            .map(|text| period(&map, "after_close", text))
            .transpose()?;

        Ok(Campaign {
            id,
            title,
            description,
            opens_at,
            closes_at,
            timezone,
            reference_date,
            pieces,
            labels,
            after_close,
            origin: origin.to_string(),
            source: source.to_string(),
        })
    }

    /// The campaign's slug, e.g. `cap-2025-poitiers`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The campaign's name as shown to candidates.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// Free text shown with the title, if any.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The first instant of the window (inclusive), with the offset written in the file.
    pub fn opens_at(&self) -> DateTime<FixedOffset> {
        self.opens_at
    }

    /// The first instant after the window (exclusive), with the offset written in the file.
    pub fn closes_at(&self) -> DateTime<FixedOffset> {
        self.closes_at
    }

    /// The time zone deadlines are shown in (`Europe/Paris` unless the file names another).
    pub fn timezone(&self) -> Tz {
        self.timezone
    }

    /// The date at which candidates' ages are computed.
    pub fn reference_date(&self) -> NaiveDate {
        self.reference_date
    }

    /// The piece catalog, in file order.
    pub fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    /// The piece with this code.
    pub fn piece(&self, code: &str) -> Option<&Piece> {
        self.pieces.iter().find(|p| p.code() == code)
    }

    /// How staff read a candidate attribute's key: the campaign's label
    /// (`[candidate.labels]`), else a built-in one for the usual keys (`birth_date` is
    /// "Date de naissance"), else the key made readable (`some_key` is "Some key").
    pub fn attribute_label<'a>(&'a self, key: &str) -> Cow<'a, str> {
        match self.labels.get(key) {
            Some(label) => Cow::Borrowed(label),
            None => default_label(key),
        }
    }

    /// How long a dossier's documents keep their content once it is closed, if the campaign
    /// says (`[retention] after_close`).
    pub fn retention_after_close(&self) -> Option<&Period> {
        self.after_close.as_ref()
    }

    /// Where the campaign was read from, as given to [`Campaign::parse`].
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The TOML text as given to [`Campaign::parse`].
    pub fn source(&self) -> &str {
        &self.source
    }
}

/// The JSON shape of `GET /api/v1/campaigns/{id}`: the definition, without the source text.
impl Serialize for Campaign {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Campaign", 8)?;
        s.serialize_field("id", &self.id)?;
        s.serialize_field("title", &self.title)?;
        s.serialize_field("description", &self.description)?;
        s.serialize_field("opens_at", &self.opens_at)?;
        s.serialize_field("closes_at", &self.closes_at)?;
        s.serialize_field("timezone", self.timezone.name())?;
        s.serialize_field("reference_date", &self.reference_date)?;
        s.serialize_field("pieces", &self.pieces)?;
        s.end()
    }
}

/// `[a-z0-9_-]`, 1 to 64 characters, not starting or ending with `-` or `_`: safe in URLs,
/// file names and log lines as is.
pub(crate) fn is_slug(text: &str) -> bool {
    let edge = |b: u8| b == b'-' || b == b'_';
    (1..=64).contains(&text.len())
        && !text.bytes().next().is_some_and(edge)
        && !text.bytes().last().is_some_and(edge)
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || edge(b))
}

pub(crate) fn slug(
    map: &SourceMap<'_>,
    field: &str,
    value: Spanned<String>,
) -> Result<String, CampaignError> {
    if is_slug(value.get_ref()) {
        Ok(value.into_inner())
    } else {
        Err(map.error(
            value.span(),
            format!(
                "{field} {:?} must be a slug: lowercase letters, digits, '-' and '_', \
                 at most 64 characters, not starting or ending with '-' or '_'",
                value.get_ref()
            ),
        ))
    }
}

pub(crate) fn non_empty(
    map: &SourceMap<'_>,
    field: &str,
    value: Spanned<String>,
) -> Result<String, CampaignError> {
    if value.get_ref().trim().is_empty() {
        Err(map.error(value.span(), format!("{field} must not be empty")))
    } else {
        Ok(value.into_inner())
    }
}

/// Text shown to people as written: trimmed, not empty, at most `max_chars` characters, on
/// one line and without other control characters.
/// A retention period (`"P12M"`), refused on its line when it is not one.
pub(crate) fn period(
    map: &SourceMap<'_>,
    field: &str,
    value: Spanned<String>,
) -> Result<Period, CampaignError> {
    Period::parse(value.get_ref().trim())
        .map_err(|e| map.error(value.span(), format!("{field}: {e}")))
}

pub(crate) fn plain_text(
    map: &SourceMap<'_>,
    field: &str,
    value: Spanned<String>,
    max_chars: usize,
) -> Result<String, CampaignError> {
    let text = value.get_ref().trim();
    let chars = text.chars().count();
    let reason = if text.is_empty() {
        format!("{field} must not be empty")
    } else if chars > max_chars {
        format!("{field} must be at most {max_chars} characters, not {chars}")
    } else if let Some(control) = text.chars().find(|c| c.is_control()) {
        format!(
            "{field} must be one line of text without control characters (found U+{:04X})",
            u32::from(control)
        )
    } else {
        return Ok(text.to_string());
    };
    Err(map.error(value.span(), reason))
}

/// `[candidate.labels]`: each key names an attribute, each value is its label.
fn labels(
    map: &SourceMap<'_>,
    raw: BTreeMap<String, Spanned<String>>,
) -> Result<BTreeMap<String, String>, CampaignError> {
    let mut labels = BTreeMap::new();
    for (key, label) in raw {
        if key.trim().is_empty() || key.chars().any(char::is_control) {
            return Err(map.error(
                label.span(),
                format!("candidate.labels: {key:?} is not an attribute name"),
            ));
        }
        let field = format!("candidate.labels.{key}");
        let label = plain_text(map, &field, label, MAX_LABEL_CHARS)?;
        labels.insert(key, label);
    }
    Ok(labels)
}

fn instant(
    map: &SourceMap<'_>,
    field: &str,
    value: &Spanned<toml::Value>,
) -> Result<DateTime<FixedOffset>, CampaignError> {
    let example = "\"2024-10-10T10:00:00+02:00\"";
    let text = match value.get_ref() {
        toml::Value::String(text) => text.clone(),
        toml::Value::Datetime(datetime) => datetime.to_string(),
        other => {
            return Err(map.error(
                value.span(),
                format!(
                    "{field} must be a date-time with an offset like {example}, found {}",
                    other.type_str()
                ),
            ));
        }
    };
    let instant = DateTime::parse_from_rfc3339(&text).map_err(|e| {
        map.error(
            value.span(),
            format!(
                "{field} {text:?} is not an RFC 3339 date-time with an offset ({e}); \
                 write it like {example}"
            ),
        )
    })?;
    Ok(instant)
}

fn date(
    map: &SourceMap<'_>,
    field: &str,
    value: &Spanned<toml::Value>,
) -> Result<NaiveDate, CampaignError> {
    let text = match value.get_ref() {
        toml::Value::String(text) => text.clone(),
        toml::Value::Datetime(datetime) => datetime.to_string(),
        other => {
            return Err(map.error(
                value.span(),
                format!(
                    "{field} must be a date like \"2025-06-01\", found {}",
                    other.type_str()
                ),
            ));
        }
    };
    let well_formed = text.len() == 10;
    match NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
        Ok(date) if well_formed => Ok(date),
        _ => Err(map.error(
            value.span(),
            format!("{field} {text:?} is not a date written YYYY-MM-DD"),
        )),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::Kind;
    use crate::piece::{Necessity, ReviewPolicy};

    /// The campaign of the specification, verbatim.
    pub(crate) const SPEC_SAMPLE: &str = r#"id = "cap-2025-poitiers"
title = "CAP session juin 2025 — candidats individuels"
opens_at = "2024-10-10T10:00:00+02:00"
closes_at = "2024-11-13T19:00:00+01:00"
reference_date = "2025-06-01"          # ages in conditions are computed at this date

[[pieces]]
code = "identite"
label = "Pièce d'identité en cours de validité (CNI, passeport, titre de séjour)"
accept = ["pdf", "jpeg", "png"]        # kinds, detected from content, never from the name
max_bytes = "10MiB"
max_pages = 4
min_documents = 1                      # recto and verso may come as two documents
max_documents = 2
review = "staff"                       # "staff": a reviewer decides; "auto": a passing verdict accepts
required = true

[[pieces]]
code = "jdc"
label = "Certificat de participation à la JDC ou attestation de recensement"
required_when = "candidate.age < 25 && candidate.nationality == 'FR'"
"#;

    pub(crate) fn sample() -> Campaign {
        Campaign::parse(SPEC_SAMPLE, "samples/campaigns/cap-2025-poitiers.toml")
            .expect("the spec's sample parses")
    }

    /// A minimal valid header followed by `pieces`; the header takes lines 1 to 5.
    fn with_pieces(pieces: &str) -> String {
        format!(
            "id = \"c\"\ntitle = \"T\"\nopens_at = \"2024-10-10T10:00:00+02:00\"\n\
             closes_at = \"2024-11-13T19:00:00+01:00\"\nreference_date = \"2025-06-01\"\n{pieces}"
        )
    }

    fn error(source: &str) -> CampaignError {
        Campaign::parse(source, "campaigns/x.toml").expect_err("refused")
    }

    fn assert_error(source: &str, line: usize, fragment: &str) {
        let error = error(source);
        assert_eq!(error.origin, "campaigns/x.toml");
        assert_eq!(error.line, line, "{error}");
        assert!(
            error.reason.contains(fragment),
            "{error} lacks {fragment:?}"
        );
        assert!(!error.reason.contains('\n'), "{error:?} spans lines");
    }

    #[test]
    fn spec_sample_parses_with_its_values() {
        let campaign = sample();
        assert_eq!(campaign.id(), "cap-2025-poitiers");
        assert_eq!(campaign.timezone(), chrono_tz::Europe::Paris);
        assert_eq!(
            campaign.reference_date(),
            NaiveDate::from_ymd_opt(2025, 6, 1).expect("valid")
        );
        assert_eq!(
            campaign.opens_at().to_rfc3339(),
            "2024-10-10T10:00:00+02:00"
        );
        assert_eq!(campaign.pieces().len(), 2);

        let identite = campaign.piece("identite").expect("identite");
        assert_eq!(identite.accept(), &[Kind::Pdf, Kind::Jpeg, Kind::Png]);
        assert_eq!(identite.max_bytes(), 10 * 1024 * 1024);
        assert_eq!(identite.max_pages(), Some(4));
        assert_eq!((identite.min_documents(), identite.max_documents()), (1, 2));
        assert_eq!(identite.review(), ReviewPolicy::Staff);
        assert!(matches!(identite.necessity(), Necessity::Required));

        let jdc = campaign.piece("jdc").expect("jdc");
        assert_eq!(
            jdc.condition().map(|c| c.source()),
            Some("candidate.age < 25 && candidate.nationality == 'FR'")
        );
        // Defaults.
        assert_eq!(jdc.accept(), &[Kind::Pdf, Kind::Jpeg, Kind::Png]);
        assert_eq!(jdc.max_bytes(), 10 * 1024 * 1024);
        assert_eq!(jdc.max_pages(), None);
        assert_eq!((jdc.min_documents(), jdc.max_documents()), (1, 5));
        assert_eq!(jdc.review(), ReviewPolicy::Staff);

        assert_eq!(campaign.source(), SPEC_SAMPLE);
        assert_eq!(
            campaign.origin(),
            "samples/campaigns/cap-2025-poitiers.toml"
        );
    }

    #[test]
    fn serializes_the_definition() {
        let json = serde_json::to_value(sample()).expect("serializes");
        assert_eq!(json["timezone"], "Europe/Paris");
        assert_eq!(json["reference_date"], "2025-06-01");
        assert_eq!(json["pieces"][0]["required"], true);
        assert_eq!(json["pieces"][0]["accept"][1], "jpeg");
        assert_eq!(json["pieces"][1]["required"], false);
        assert_eq!(
            json["pieces"][1]["required_when"],
            "candidate.age < 25 && candidate.nationality == 'FR'"
        );
        assert_eq!(json["pieces"][1]["review"], "staff");
    }

    #[test]
    fn bare_toml_datetimes_and_timezone_are_accepted() {
        let source = "id = \"c\"\ntitle = \"T\"\ntimezone = \"America/Cayenne\"\n\
                      opens_at = 2024-10-10T10:00:00-03:00\ncloses_at = 2024-11-13T19:00:00Z\n\
                      reference_date = 2025-06-01\n[[pieces]]\ncode = \"a\"\nlabel = \"A\"\n";
        let campaign = Campaign::parse(source, "x").expect("parses");
        assert_eq!(campaign.timezone(), chrono_tz::America::Cayenne);
        assert_eq!(
            campaign.closes_at().to_rfc3339(),
            "2024-11-13T19:00:00+00:00"
        );
    }

    #[test]
    fn toml_syntax_error_has_its_line() {
        assert_error(
            &with_pieces("[[pieces]]\ncode = \"a\nlabel = \"A\"\n"),
            7,
            "",
        );
    }

    #[test]
    fn unknown_fields_are_refused_with_their_line() {
        assert_error(
            &with_pieces("[[pieces]]\ncode = \"a\"\nlabel = \"A\"\nrequried = true\n"),
            9,
            "unknown field `requried`",
        );
        assert_error(
            "id = \"c\"\ncolour = \"blue\"\n",
            2,
            "unknown field `colour`",
        );
    }

    #[test]
    fn missing_fields_are_refused() {
        assert_error("id = \"c\"\n", 1, "missing field");
        assert_error(
            &with_pieces("[[pieces]]\ncode = \"a\"\n"),
            6,
            "missing field `label`",
        );
    }

    #[test]
    fn unknown_kind_names_the_known_ones() {
        let source = with_pieces(
            "[[pieces]]\ncode = \"a\"\nlabel = \"A\"\naccept = [\n  \"pdf\",\n  \"docx\",\n]\n",
        );
        let error = error(&source);
        assert_eq!(
            error.to_string(),
            "campaigns/x.toml:11: unknown kind \"docx\" in accept \
             (known: pdf, jpeg, png, tiff, webp, gif, bmp, heic, avif, jp2)"
        );
        assert_error(
            &with_pieces("[[pieces]]\ncode = \"a\"\nlabel = \"A\"\naccept = []\n"),
            9,
            "at least one kind",
        );
    }

    #[test]
    fn retention_periods_are_read_and_a_bad_one_is_refused_at_its_line() {
        let source = with_pieces(
            "[retention]\nafter_close = \"P12M\"\n\n[[pieces]]\ncode = \"a\"\nlabel = \"A\"\n\
             purge_after_decision = \"P30D\"\nwatermark = \"Copie réservée au concours\"\n",
        );
        let campaign = Campaign::parse(&source, "x.toml").expect("parses");
        assert_eq!(
            campaign.retention_after_close().map(Period::as_str),
            Some("P12M")
        );
        let piece = campaign.piece("a").expect("piece");
        assert_eq!(
            piece.purge_after_decision().map(Period::as_str),
            Some("P30D")
        );
        assert_eq!(piece.watermark(), Some("Copie réservée au concours"));
        let bad = with_pieces(
            "[retention]\nafter_close = \"12 mois\"\n[[pieces]]\ncode = \"a\"\nlabel = \"A\"\n",
        );
        assert_error(&bad, 7, "after_close");
        let bad = with_pieces(
            "[[pieces]]\ncode = \"a\"\nlabel = \"A\"\npurge_after_decision = \"P1.5M\"\n",
        );
        assert_error(&bad, 9, "whole number");
    }

    #[test]
    fn condition_that_does_not_compile_is_refused_at_its_line() {
        let source = with_pieces(
            "[[pieces]]\ncode = \"a\"\nlabel = \"A\"\n\n# why\nrequired_when = \"candidate.age <\"\n",
        );
        assert_error(&source, 11, "does not parse");
        let source = with_pieces(
            "[[pieces]]\ncode = \"a\"\nlabel = \"A\"\nrequired_when = \"candiate.age < 25\"\n",
        );
        assert_error(&source, 9, "unknown name `candiate`");
    }

    #[test]
    fn required_and_required_when_together_are_refused() {
        let source = with_pieces(
            "[[pieces]]\ncode = \"a\"\nlabel = \"A\"\nrequired = true\nrequired_when = \"candidate.age < 25\"\n",
        );
        assert_error(&source, 10, "either `required` or `required_when`");
    }

    #[test]
    fn duplicate_piece_code_is_refused_at_the_second() {
        let source = with_pieces(
            "[[pieces]]\ncode = \"a\"\nlabel = \"A\"\n[[pieces]]\ncode = \"b\"\nlabel = \"B\"\n\
             [[pieces]]\ncode = \"a\"\nlabel = \"A again\"\n",
        );
        assert_error(&source, 13, "duplicate piece code \"a\"");
    }

    #[test]
    fn window_and_dates_are_checked() {
        let reversed = "id = \"c\"\ntitle = \"T\"\nopens_at = \"2024-11-13T19:00:00+01:00\"\n\
                        closes_at = \"2024-10-10T10:00:00+02:00\"\nreference_date = \"2025-06-01\"\n";
        assert_error(reversed, 4, "must be after opens_at");
        let opening = |value: &str| {
            format!(
                "id = \"c\"\ntitle = \"T\"\nopens_at = {value}\n\
                 closes_at = \"2024-11-13T19:00:00+01:00\"\nreference_date = \"2025-06-01\"\n\
                 [[pieces]]\ncode = \"a\"\nlabel = \"A\"\n"
            )
        };
        assert_error(&opening("\"2024-10-10T10:00:00\""), 3, "RFC 3339");
        assert_error(&opening("2024-10-10T10:00:00"), 3, "RFC 3339");
        assert_error(&opening("\"10/10/2024 10:00\""), 3, "RFC 3339");
        assert_error(&opening("12"), 3, "found integer");
        let bad_date = "id = \"c\"\ntitle = \"T\"\nopens_at = \"2024-10-10T10:00:00+02:00\"\n\
                        closes_at = \"2024-11-13T19:00:00+01:00\"\nreference_date = \"2025-6-1\"\n";
        assert_error(bad_date, 5, "YYYY-MM-DD");
        let bad_zone = format!("timezone = \"Europe/Poitiers\"\n{}", with_pieces(""));
        assert_error(&bad_zone, 1, "unknown time zone");
    }

    #[test]
    fn any_offset_names_an_instant() {
        // +02:00 on a winter date is 17:00 UTC, an hour before the Paris 19:00 deadline:
        // guichet compares instants and shows them in the campaign's zone.
        let source = "id = \"c\"\ntitle = \"T\"\nopens_at = \"2024-10-10T10:00:00+02:00\"\n\
                      closes_at = \"2024-11-13T19:00:00+02:00\"\nreference_date = \"2025-06-01\"\n\
                      [[pieces]]\ncode = \"a\"\nlabel = \"A\"\n";
        let campaign = Campaign::parse(source, "c.toml").expect("a valid campaign");
        assert_eq!(
            campaign.closes_at().to_rfc3339(),
            "2024-11-13T19:00:00+02:00"
        );
    }

    #[test]
    fn slugs_are_checked() {
        assert_error(
            "id = \"CAP 2025\"\ntitle = \"T\"\nopens_at = \"2024-10-10T10:00:00+02:00\"\n\
                      closes_at = \"2024-11-13T19:00:00+01:00\"\nreference_date = \"2025-06-01\"\n\
                      [[pieces]]\ncode = \"a\"\nlabel = \"A\"\n",
            1,
            "must be a slug",
        );
        assert_error(
            &with_pieces("[[pieces]]\ncode = \"Pièce\"\nlabel = \"A\"\n"),
            7,
            "must be a slug",
        );
        assert!(is_slug("cap-2025-poitiers"));
        assert!(!is_slug("-a") && !is_slug("a-") && !is_slug("") && !is_slug("_a"));
        assert!(is_slug("experience_pro") && !is_slug("A") && !is_slug("a/b"));
    }

    #[test]
    fn document_counts_and_sizes_are_checked() {
        let piece = |extra: &str| {
            with_pieces(&format!(
                "[[pieces]]\ncode = \"a\"\nlabel = \"A\"\n{extra}\n"
            ))
        };
        assert_error(
            &piece("min_documents = 3\nmax_documents = 2"),
            10,
            "max_documents (2) must be at least min_documents (3)",
        );
        assert_error(
            &piece("min_documents = 6"),
            9,
            "max_documents (5, the default)",
        );
        assert_error(&piece("min_documents = 0"), 9, "at least 1");
        assert_error(&piece("max_documents = -1"), 9, "");
        assert_error(&piece("max_pages = 0"), 9, "at least 1");
        assert_error(&piece("max_bytes = \"10 potatoes\""), 9, "max_bytes");
        assert_error(&piece("max_bytes = 0"), 9, "at least 1 byte");
        assert_error(&piece("max_bytes = 1.5"), 9, "max_bytes");
        assert_error(&piece("review = \"robot\""), 9, "unknown variant `robot`");
        assert_error(&piece("label = \"again\""), 9, "duplicate key `label`");
    }

    #[test]
    fn why_is_checked_like_the_other_texts() {
        let conditional = |why: &str| {
            with_pieces(&format!(
                "[[pieces]]\ncode = \"a\"\nlabel = \"A\"\n\
                 required_when = \"candidate.age < 25\"\nwhy = {why}\n"
            ))
        };
        assert_error(&conditional("\"  \""), 10, "why must not be empty");
        let long = format!("\"{}\"", "é".repeat(501));
        assert_error(
            &conditional(&long),
            10,
            "why must be at most 500 characters, not 501",
        );
        let at_most = format!("\"{}\"", "é".repeat(500));
        assert!(Campaign::parse(&conditional(&at_most), "x").is_ok());
        assert_error(
            &conditional("\"Exigé\\ndes mineurs\""),
            10,
            "one line of text without control characters (found U+000A)",
        );
        assert_error(
            &conditional("\"\"\"\nExigé\ndes mineurs\"\"\""),
            10,
            "(found U+000A)",
        );
        assert_error(&conditional("\"a\\tb\""), 10, "(found U+0009)");
        assert_error(&conditional("12"), 10, "invalid type");
    }

    #[test]
    fn why_on_an_optional_piece_is_refused() {
        let source =
            with_pieces("[[pieces]]\ncode = \"a\"\nlabel = \"A\"\nwhy = \"Pour le dossier.\"\n");
        assert_error(&source, 9, "this piece is optional");
        let source = with_pieces(
            "[[pieces]]\ncode = \"a\"\nlabel = \"A\"\nrequired = false\nwhy = \"Pour le dossier.\"\n",
        );
        assert_error(&source, 10, "add `required = true` or `required_when`");
    }

    #[test]
    fn attribute_labels_come_from_the_campaign_then_the_defaults() {
        let source = with_pieces(
            "[[pieces]]\ncode = \"a\"\nlabel = \"A\"\n\n\
             [candidate.labels]\nine = \"Identifiant national élève (INE)\"\n\
             birth_date = \"Né(e) le\"\n",
        );
        let campaign = Campaign::parse(&source, "x").expect("parses");
        assert_eq!(
            campaign.attribute_label("ine"),
            "Identifiant national élève (INE)"
        );
        // The campaign's label wins over the built-in one.
        assert_eq!(campaign.attribute_label("birth_date"), "Né(e) le");
        // Labels are per key, exactly: another spelling gets the default.
        assert_eq!(
            campaign.attribute_label("date_of_birth"),
            "Date de naissance"
        );
        assert_eq!(campaign.attribute_label("email"), "Adresse électronique");
        assert_eq!(campaign.attribute_label("some_key"), "Some key");
        // Without a [candidate] table, the defaults.
        assert_eq!(sample().attribute_label("birth_date"), "Date de naissance");
        assert_eq!(sample().attribute_label("ine"), "Ine");
        // A [candidate] table without labels is fine too.
        let source = with_pieces("[candidate]\n[[pieces]]\ncode = \"a\"\nlabel = \"A\"\n");
        assert!(Campaign::parse(&source, "x").is_ok());
    }

    #[test]
    fn attribute_labels_are_checked() {
        let labels = |body: &str| {
            with_pieces(&format!(
                "[[pieces]]\ncode = \"a\"\nlabel = \"A\"\n[candidate.labels]\n{body}\n"
            ))
        };
        assert_error(
            &labels("ine = \"\""),
            10,
            "candidate.labels.ine must not be empty",
        );
        let long = format!("ine = \"{}\"", "x".repeat(MAX_LABEL_CHARS + 1));
        assert_error(&labels(&long), 10, "at most 100 characters, not 101");
        assert_error(&labels("ine = \"a\\u0007\""), 10, "(found U+0007)");
        assert_error(
            &labels("\"\" = \"Vide\""),
            10,
            "\"\" is not an attribute name",
        );
        assert_error(&labels("ine = 3"), 10, "invalid type");
        assert_error(
            &labels("ine = \"INE\"\nine = \"Encore\""),
            11,
            "duplicate key `ine`",
        );
        assert_error(
            &with_pieces("[candidate]\nlabel = {}\n"),
            7,
            "unknown field `label`",
        );
    }

    /// The samples are what newcomers copy: they parse, and every conditional piece says
    /// why in plain words.
    #[test]
    fn sample_campaigns_explain_their_conditional_pieces() {
        for (origin, source) in [
            (
                "demonstration.toml",
                include_str!("../../samples/campaigns/demonstration.toml"),
            ),
            (
                "cap-2025-poitiers.toml",
                include_str!("../../samples/campaigns/cap-2025-poitiers.toml"),
            ),
        ] {
            let campaign = Campaign::parse(source, origin).expect("a sample parses");
            for piece in campaign.pieces() {
                if piece.condition().is_some() {
                    assert!(
                        piece.why().is_some(),
                        "{origin}: {} lacks why",
                        piece.code()
                    );
                }
            }
            assert_eq!(
                campaign.attribute_label("nationality"),
                "Nationalité (code ISO)"
            );
        }
    }

    #[test]
    fn empty_catalog_is_refused() {
        let source = with_pieces("");
        assert_error(&source, 6, "at least one [[pieces]]");
    }
}
