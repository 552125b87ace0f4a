//! The exam office's actions on the dossier page, beyond reviews: ask for a piece again, file a
//! document under a piece, correct the candidate's attributes, extend the dossier's deadline,
//! reopen a closed dossier (admins).
//!
//! Each handler checks the session's CSRF token, acts through `ingest::pipeline::office` (the
//! code the API runs) under the staff member's actor, refreshes the staff index and sends the
//! browser back to the dossier page with `?done=…`. [`OfficeView`] is what the page's forms
//! need; the forms themselves are `dossier_office.html`, `dossier_correction.html` and
//! `dossier_assign.html`.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use serde_json::{Map, Number, Value};

use dossiers::DossierState;
use ingest::auth::staff_actor;
use ingest::pipeline::actions;
use ingest::pipeline::dossier::Snapshot;
use ingest::pipeline::office::{self, Editor};

use crate::Staff;
use crate::error::PageError;
use crate::index::refresh_dossier;
use crate::session::{Admin, Reviewer};
use crate::views::{percent_encode, when};

/// The open request to send a piece again, as the page shows it.
pub struct CorrectionView {
    pub message: String,
    pub requested: String,
    pub by: String,
}

/// A piece a document can be filed under.
pub struct PieceChoice {
    pub code: String,
    pub label: String,
}

/// One candidate attribute in the edit form.
pub struct AttributeRow {
    pub key: String,
    pub label: String,
    /// The input to show: `text`, `date`, `bool`, `number` or `json` ([`Kind::as_str`]).
    pub kind: &'static str,
    /// The value as the input holds it ([`shown`]).
    pub value: String,
    /// The input's element id.
    pub id: String,
}

/// What the dossier page's office forms need.
pub struct OfficeView {
    /// Not closed: corrections, assignments and extensions are offered.
    pub open: bool,
    /// An admin looking at a closed dossier.
    pub can_reopen: bool,
    pub pieces: Vec<PieceChoice>,
    pub attributes: Vec<AttributeRow>,
    /// The dossier's own deadline, in French, in the campaign's time zone.
    pub deadline: String,
    pub campaign_deadline: String,
    /// The reason staff gave, when they extended the deadline past the campaign's.
    pub extension: Option<String>,
    /// The deadline as a `datetime-local` input holds it, in the campaign's time zone.
    pub until_value: String,
    pub timezone: String,
    /// How many documents wait to be filed under a piece.
    pub unclassified: usize,
    /// Documents filed under a piece of the campaign: id → piece code.
    filed: HashMap<String, String>,
    corrections: HashMap<String, CorrectionView>,
}

impl OfficeView {
    pub fn of(snapshot: &Snapshot, user: &Reviewer) -> OfficeView {
        let campaign = &snapshot.campaign;
        let zone = campaign.timezone();
        let closed = snapshot.state == DossierState::Closed;
        let campaign_closes = campaign.closes_at().with_timezone(&Utc);
        let extension = snapshot
            .extended_until()
            .filter(|until| *until > campaign_closes)
            .and(snapshot.record.extension.as_ref())
            .map(|e| e["reason"].as_str().unwrap_or_default().to_string());
        let filed: HashMap<String, String> = snapshot
            .active_documents()
            .filter_map(|doc| {
                let code = doc.piece.as_ref()?;
                campaign.piece(code)?;
                Some((doc.id.clone(), code.clone()))
            })
            .collect();
        let unclassified = snapshot.active_documents().count() - filed.len();
        let corrections = campaign
            .pieces()
            .iter()
            .filter_map(|piece| {
                let correction = snapshot.correction(piece.code())?;
                Some((piece.code().to_string(), correction_view(correction)))
            })
            .collect();
        let attributes = snapshot
            .record
            .candidate
            .as_object()
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, (key, value))| AttributeRow {
                key: key.clone(),
                label: campaign.attribute_label(key).into_owned(),
                kind: Kind::of(value).as_str(),
                value: shown(value),
                id: format!("attribute-{i}"),
            })
            .collect();
        OfficeView {
            open: !closed,
            can_reopen: closed && user.is_admin(),
            pieces: campaign
                .pieces()
                .iter()
                .map(|p| PieceChoice {
                    code: p.code().to_string(),
                    label: p.label().to_string(),
                })
                .collect(),
            attributes,
            deadline: dossiers::window::format_fr(snapshot.deadline(), zone),
            campaign_deadline: campaign.deadline_fr(),
            extension,
            until_value: snapshot
                .deadline()
                .with_timezone(&zone)
                .format("%Y-%m-%dT%H:%M")
                .to_string(),
            timezone: zone.name().to_string(),
            unclassified,
            filed,
            corrections,
        }
    }

    /// The open correction request on `piece`, if any.
    pub fn correction(&self, piece: &str) -> Option<&CorrectionView> {
        self.corrections.get(piece)
    }

    /// The piece `document` is filed under; empty while unclassified.
    pub fn filed_under(&self, document: &str) -> &str {
        self.filed.get(document).map_or("", String::as_str)
    }
}

fn correction_view(correction: &Value) -> CorrectionView {
    let text = |key: &str| correction[key].as_str().unwrap_or_default();
    let requested = DateTime::parse_from_rfc3339(text("requested_at"))
        .map(|at| when(at.with_timezone(&Utc)))
        .unwrap_or_default();
    CorrectionView {
        message: text("message").to_string(),
        requested,
        by: actor_name(text("by")).to_string(),
    }
}

/// A staff member's journal actor (`staff:camille`) as their name; other actors as they are.
fn actor_name(actor: &str) -> &str {
    let prefix = staff_actor("");
    actor.strip_prefix(prefix.as_str()).unwrap_or(actor)
}

/// The confirmation shown after an office action's redirect (`?done=…`).
pub fn done_message(done: &str) -> Option<&'static str> {
    match done {
        "correction" => Some("La demande de correction a été enregistrée ; le candidat la voit."),
        "assigned" => Some("Le document a été classé sous la pièce choisie et vérifié à nouveau."),
        "candidate" => Some("Les informations du candidat ont été modifiées."),
        "unchanged" => Some("Aucune information du candidat n'a changé."),
        "extended" => Some("Le délai du dossier a été prolongé."),
        "reopened" => Some("Le dossier a été rouvert."),
        _ => None,
    }
}

/// Back to the dossier page, with the confirmation and the place to look at.
fn back(reference: &str, done: &str, anchor: &str) -> Response {
    Redirect::to(&format!(
        "/staff/dossiers/{}?done={done}#{}",
        percent_encode(reference),
        percent_encode(anchor)
    ))
    .into_response()
}

#[derive(Deserialize)]
pub struct CorrectionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    message: String,
}

pub async fn request_correction(
    State(staff): State<Staff>,
    user: Reviewer,
    Path((reference, code)): Path<(String, String)>,
    Form(form): Form<CorrectionForm>,
) -> Result<Response, PageError> {
    user.check_csrf(&form.csrf)?;
    actions::check_reference(&reference)?;
    let actor = staff_actor(&user.name);
    office::request_correction(&staff.app, &reference, &code, &form.message, &actor).await?;
    refresh_dossier(&staff.app, &reference).await;
    tracing::info!(user = %user.name, dossier = %reference, piece = %code, "staff asked for a correction");
    Ok(back(&reference, "correction", &format!("piece-{code}")))
}

#[derive(Deserialize)]
pub struct AssignForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    piece: String,
}

pub async fn assign(
    State(staff): State<Staff>,
    user: Reviewer,
    Path(id): Path<String>,
    Form(form): Form<AssignForm>,
) -> Result<Response, PageError> {
    user.check_csrf(&form.csrf)?;
    let doc = staff
        .app
        .repo
        .document(&id)
        .await?
        .ok_or_else(|| PageError::NotFound(format!("Le document {id}")))?;
    if form.piece.is_empty() {
        return Err(PageError::BadRequest(
            "Choisissez la pièce sous laquelle classer le document.".into(),
        ));
    }
    office::assign(&staff.app, &doc.id, &form.piece, &staff_actor(&user.name)).await?;
    refresh_dossier(&staff.app, &doc.dossier).await;
    tracing::info!(user = %user.name, document = %doc.id, piece = %form.piece, "staff filed a document");
    Ok(back(&doc.dossier, "assigned", &format!("doc-{}", doc.id)))
}

pub async fn update_candidate(
    State(staff): State<Staff>,
    user: Reviewer,
    Path(reference): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let field = |name: &str| {
        fields
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    user.check_csrf(field("csrf").unwrap_or_default())?;
    actions::check_reference(&reference)?;
    let snapshot = Snapshot::read(&staff.app, &reference).await?;
    let stored = snapshot
        .record
        .candidate
        .as_object()
        .cloned()
        .unwrap_or_default();
    let patch = candidate_patch(&stored, &fields, |key| {
        snapshot.campaign.attribute_label(key).into_owned()
    })?;
    let changed = !patch.is_empty()
        && office::update_candidate(
            &staff.app,
            &reference,
            &patch,
            Editor::Staff,
            &staff_actor(&user.name),
        )
        .await?;
    if changed {
        refresh_dossier(&staff.app, &reference).await;
        let keys: Vec<&str> = patch.keys().map(String::as_str).collect();
        tracing::info!(user = %user.name, dossier = %reference, ?keys, "staff changed the candidate");
    }
    let done = if changed { "candidate" } else { "unchanged" };
    Ok(back(&reference, done, "resume"))
}

#[derive(Deserialize)]
pub struct ExtensionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    reason: String,
}

pub async fn extend(
    State(staff): State<Staff>,
    user: Reviewer,
    Path(reference): Path<String>,
    Form(form): Form<ExtensionForm>,
) -> Result<Response, PageError> {
    user.check_csrf(&form.csrf)?;
    actions::check_reference(&reference)?;
    let snapshot = Snapshot::read(&staff.app, &reference).await?;
    let until = local_instant(&form.until, snapshot.campaign.timezone())?;
    office::extend(
        &staff.app,
        &reference,
        until,
        &form.reason,
        &staff_actor(&user.name),
    )
    .await?;
    refresh_dossier(&staff.app, &reference).await;
    tracing::info!(user = %user.name, dossier = %reference, %until, "staff extended a dossier");
    Ok(back(&reference, "extended", "resume"))
}

#[derive(Deserialize)]
pub struct ReopenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

/// Admins only: a reviewer gets 403 from the [`Admin`] extractor.
pub async fn reopen(
    State(staff): State<Staff>,
    Admin(user): Admin,
    Path(reference): Path<String>,
    Form(form): Form<ReopenForm>,
) -> Result<Response, PageError> {
    user.check_csrf(&form.csrf)?;
    actions::check_reference(&reference)?;
    office::reopen(
        &staff.app,
        &reference,
        &form.reason,
        &staff_actor(&user.name),
    )
    .await?;
    refresh_dossier(&staff.app, &reference).await;
    tracing::info!(user = %user.name, dossier = %reference, "staff reopened a dossier");
    Ok(back(&reference, "reopened", "resume"))
}

/// A `datetime-local` value (`2025-03-30T18:00`) read as a wall-clock time in `zone`. An hour
/// skipped by a change to summer time is refused; an hour lived twice (the change back) is
/// read as the later instant, the more generous deadline.
fn local_instant(text: &str, zone: Tz) -> Result<DateTime<Utc>, PageError> {
    let text = text.trim();
    let naive = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .ok_or_else(|| {
            PageError::BadRequest(
                "Indiquez la nouvelle date limite : le jour et l'heure (AAAA-MM-JJ HH:MM).".into(),
            )
        })?;
    match zone.from_local_datetime(&naive) {
        LocalResult::Single(instant) => Ok(instant.with_timezone(&Utc)),
        LocalResult::Ambiguous(_, later) => Ok(later.with_timezone(&Utc)),
        LocalResult::None => Err(PageError::BadRequest(format!(
            "{} n'existe pas dans le fuseau {} (passage à l'heure d'été) : choisissez une autre heure.",
            naive.format("%d/%m/%Y %H:%M"),
            zone.name()
        ))),
    }
}

/// The longest value or key the form takes, in characters.
const VALUE_CHARS: usize = 1000;
const KEY_CHARS: usize = 64;

/// How an attribute is edited, from the type of its stored value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    /// A text written `YYYY-MM-DD`.
    Date,
    Bool,
    Number,
    /// Anything else (a list, an object), edited as JSON.
    Json,
}

impl Kind {
    fn of(value: &Value) -> Kind {
        match value {
            Value::String(s) if dossiers::candidate::iso_date(s).is_some() => Kind::Date,
            Value::String(_) | Value::Null => Kind::Text,
            Value::Bool(_) => Kind::Bool,
            Value::Number(_) => Kind::Number,
            Value::Array(_) | Value::Object(_) => Kind::Json,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Date => "date",
            Kind::Bool => "bool",
            Kind::Number => "number",
            Kind::Json => "json",
        }
    }

    /// The value a field's text stands for; `label` names the field in the refusal.
    fn parse(self, text: &str, label: &str) -> Result<Value, PageError> {
        let refused = |expected: &str| {
            Err(PageError::BadRequest(format!(
                "« {label} » : {expected} est attendu(e), pas « {text} »."
            )))
        };
        match self {
            Kind::Text => Ok(Value::String(text.to_string())),
            Kind::Date => match dossiers::candidate::iso_date(text) {
                Some(_) => Ok(Value::String(text.to_string())),
                None => refused("une date AAAA-MM-JJ"),
            },
            Kind::Bool => match text {
                "oui" | "true" => Ok(Value::Bool(true)),
                "non" | "false" => Ok(Value::Bool(false)),
                _ => refused("oui ou non"),
            },
            Kind::Number => {
                let text = text.replace(',', ".");
                match text.parse::<i64>() {
                    Ok(n) => Ok(Value::from(n)),
                    Err(_) => match text.parse::<f64>().ok().and_then(Number::from_f64) {
                        Some(n) => Ok(Value::Number(n)),
                        None => refused("un nombre"),
                    },
                }
            }
            Kind::Json => match serde_json::from_str(text) {
                Ok(value) => Ok(value),
                Err(_) => refused("une valeur JSON"),
            },
        }
    }
}

/// An attribute's value as its input holds it: text as it is, dates `YYYY-MM-DD`, booleans
/// `oui` / `non`, anything else as JSON.
fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Bool(true) => "oui".into(),
        Value::Bool(false) => "non".into(),
        other => other.to_string(),
    }
}

/// The JSON merge patch the candidate form asks for. Fields `attr:KEY` hold the values,
/// `was:KEY` what the page showed: only the fields changed since are sent, so two people
/// editing different attributes do not undo each other. An emptied field removes its
/// attribute (`null`); `new_key` / `new_value` add one, as text.
fn candidate_patch(
    stored: &Map<String, Value>,
    fields: &[(String, String)],
    label: impl Fn(&str) -> String,
) -> Result<Map<String, Value>, PageError> {
    let was = |key: &str| {
        fields
            .iter()
            .find(|(name, _)| name.strip_prefix("was:") == Some(key))
            .map(|(_, value)| value.trim().to_string())
    };
    let mut patch = Map::new();
    for (name, value) in fields {
        let Some(key) = name.strip_prefix("attr:") else {
            continue;
        };
        let value = value.trim();
        let current = stored.get(key).unwrap_or(&Value::Null);
        let before = was(key).unwrap_or_else(|| shown(current));
        if value == before {
            continue;
        }
        if value.chars().count() > VALUE_CHARS {
            return Err(PageError::BadRequest(format!(
                "« {} » : {VALUE_CHARS} caractères au plus.",
                label(key)
            )));
        }
        let new = match value.is_empty() {
            true => Value::Null,
            false => Kind::of(current).parse(value, &label(key))?,
        };
        patch.insert(key.to_string(), new);
    }
    let field = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.trim())
    };
    let (key, value) = (field("new_key"), field("new_value"));
    match (key.is_empty(), value.is_empty()) {
        (true, true) => {}
        (true, false) => {
            return Err(PageError::BadRequest(
                "Donnez un nom (clé) à l'information ajoutée.".into(),
            ));
        }
        (false, true) => {
            return Err(PageError::BadRequest(format!(
                "Donnez une valeur à l'information ajoutée « {key} »."
            )));
        }
        (false, false) => {
            let well_formed = key.chars().count() <= KEY_CHARS
                && key
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
            if !well_formed {
                return Err(PageError::BadRequest(format!(
                    "Le nom « {key} » ne convient pas : {KEY_CHARS} lettres, chiffres, _ ou - au plus."
                )));
            }
            if stored.contains_key(key) || patch.contains_key(key) {
                return Err(PageError::BadRequest(format!(
                    "L'information « {} » existe déjà : modifiez-la à sa ligne.",
                    label(key)
                )));
            }
            if value.chars().count() > VALUE_CHARS {
                return Err(PageError::BadRequest(format!(
                    "« {key} » : {VALUE_CHARS} caractères au plus."
                )));
            }
            patch.insert(key.to_string(), Value::String(value.to_string()));
        }
    }
    Ok(patch)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn patch_of(stored: Value, pairs: &[(&str, &str)]) -> Result<Value, PageError> {
        let stored = stored.as_object().cloned().expect("an object");
        candidate_patch(&stored, &fields(pairs), str::to_string).map(Value::Object)
    }

    #[test]
    fn only_changed_fields_are_patched_with_their_types() {
        let stored = json!({"first_name": "Camille", "birth_date": "1987-04-02",
                            "amenagement": false, "score": 12, "tags": ["a"]});
        let patch = patch_of(
            stored,
            &[
                ("csrf", "x"),
                ("attr:first_name", "Camille"),
                ("was:first_name", "Camille"),
                ("attr:birth_date", "1988-05-03"),
                ("was:birth_date", "1987-04-02"),
                ("attr:amenagement", "oui"),
                ("was:amenagement", "non"),
                ("attr:score", "12,5"),
                ("was:score", "12"),
                ("attr:tags", ""),
                ("was:tags", "[\"a\"]"),
                ("new_key", "ville"),
                ("new_value", " Lyon "),
            ],
        )
        .expect("a valid form");
        assert_eq!(
            patch,
            json!({"birth_date": "1988-05-03", "amenagement": true, "score": 12.5,
                   "tags": null, "ville": "Lyon"})
        );
    }

    #[test]
    fn a_field_left_alone_does_not_undo_another_change() {
        // Someone changed the city since the page was shown: the form still holds the old one.
        let patch = patch_of(
            json!({"city": "Lyon"}),
            &[("attr:city", "Paris"), ("was:city", "Paris")],
        )
        .expect("a valid form");
        assert_eq!(patch, json!({}));
        // Without what the page showed, the stored value is the reference.
        let patch = patch_of(json!({"city": "Lyon"}), &[("attr:city", "Paris")]).expect("valid");
        assert_eq!(patch, json!({"city": "Paris"}));
    }

    #[test]
    fn malformed_values_and_keys_are_refused() {
        let refused = |stored: Value, pairs: &[(&str, &str)]| {
            matches!(patch_of(stored, pairs), Err(PageError::BadRequest(_)))
        };
        assert!(refused(
            json!({"birth_date": "1987-04-02"}),
            &[("attr:birth_date", "02/04/1987")]
        ));
        assert!(refused(json!({"b": true}), &[("attr:b", "peut-être")]));
        assert!(refused(json!({"n": 1}), &[("attr:n", "un")]));
        assert!(refused(
            json!({}),
            &[("new_key", "a b"), ("new_value", "x")]
        ));
        assert!(refused(json!({}), &[("new_key", ""), ("new_value", "x")]));
        assert!(refused(json!({}), &[("new_key", "k"), ("new_value", "")]));
        assert!(refused(
            json!({"k": "v"}),
            &[("new_key", "k"), ("new_value", "w")]
        ));
    }

    #[test]
    fn deadlines_are_read_in_the_campaign_time_zone() {
        let paris = chrono_tz::Europe::Paris;
        let at = |text: &str| local_instant(text, paris).map(|t| t.to_rfc3339());
        assert_eq!(
            at("2030-01-15T18:00").expect("winter"),
            "2030-01-15T17:00:00+00:00"
        );
        assert_eq!(
            at("2030-07-15 18:00").expect("summer"),
            "2030-07-15T16:00:00+00:00"
        );
        // 02:30 is lived twice on 27 October 2030: the later one.
        assert_eq!(
            at("2030-10-27T02:30").expect("ambiguous"),
            "2030-10-27T01:30:00+00:00"
        );
        // 02:30 does not exist on 31 March 2030.
        assert!(matches!(
            at("2030-03-31T02:30"),
            Err(PageError::BadRequest(_))
        ));
        assert!(matches!(at("demain"), Err(PageError::BadRequest(_))));
    }

    #[test]
    fn staff_actors_read_as_names() {
        assert_eq!(actor_name(&staff_actor("camille")), "camille");
        assert_eq!(actor_name("token:abc"), "token:abc");
    }
}
