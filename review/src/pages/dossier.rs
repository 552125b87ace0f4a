//! The dossier page and the reviewer's actions on it: accept or refuse a document, close
//! the dossier. Actions go through `ingest::pipeline::actions`, the code the API runs.
//!
//! Opening the page is journaled (`dossier.viewed`, under the staff member's actor) before
//! it is shown; its history is the dossier's journal, the one record of what was done to it
//! and by whom.

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::Value;

use dossiers::{Candidate, DossierState, Outcome, Piece, PieceStatus, ReviewDecision};
use ingest::auth::staff_actor;
use ingest::events::EventKind;
use ingest::journal::{self, Access};
use ingest::pipeline::actions;
use ingest::pipeline::dossier::{Snapshot, verdict};
use ingest::pipeline::{render, scan};
use storage::DocumentRecord;
use storage::repository::{JournalEntry, SameContent};

use crate::Staff;
use crate::error::PageError;
use crate::index::refresh_dossier;
use crate::names::candidate_name;
use crate::session::Reviewer;
use crate::views::{page, piece_status_class, piece_status_label, size_label, state_label, when};

/// The standard reasons for refusing a document, as `(code, label)`; `autre` needs a text.
pub const REFUSAL_REASONS: [(&str, &str); 7] = [
    ("illisible", "Document illisible ou de qualité insuffisante"),
    (
        "incomplet",
        "Document incomplet (recto ou verso, pages manquantes)",
    ),
    ("perime", "Document périmé ou plus en cours de validité"),
    (
        "non_conforme",
        "Ce document ne correspond pas à la pièce demandée",
    ),
    ("autre_personne", "Document au nom d'une autre personne"),
    ("non_signe", "Signature ou cachet manquant"),
    ("autre", "Autre motif (préciser)"),
];

/// The most journal entries the page shows (the most recent).
const HISTORY: usize = 200;
/// The most other dossiers named in a duplicate flag.
const DUPLICATES: u32 = 5;

pub struct DocView {
    pub id: String,
    pub filename: String,
    pub kind: String,
    pub size: String,
    pub pages: Option<u32>,
    pub channel: &'static str,
    pub received: String,
    pub late: bool,
    pub verdict: &'static str,
    pub reasons: Vec<String>,
    pub scan: Option<&'static str>,
    pub review: &'static str,
    pub reviewed_by: Option<String>,
    pub review_reason: Option<String>,
    pub sha256: String,
    pub duplicates: Vec<(String, String)>,
    /// Where the pictures of its pages stand: `ready`, `pending` or `failed`.
    pub previews: &'static str,
    /// Why there is no picture, when `previews` is `failed`.
    pub preview_why: String,
    /// The pages to show (1-based), when `previews` is `ready`.
    pub page_numbers: Vec<u32>,
    /// Pages shown as a placeholder, and why.
    pub page_failures: Vec<(u32, String)>,
    pub content_url: String,
    pub can_review: bool,
    /// Who is examining it from the review queue, and until when.
    pub claim: Option<String>,
}

pub struct PieceView {
    pub code: String,
    pub label: String,
    pub required: &'static str,
    /// Why the piece is required (or not) for this candidate: the campaign's plain words
    /// when it gives some, else how its condition came out ("exigée : candidate.age < 25").
    pub why: Option<String>,
    /// The condition the campaign's words stand for, when `why` shows those words: for
    /// small print or a title attribute. `None` when `why` already shows the condition.
    pub why_expression: Option<String>,
    pub status: &'static str,
    pub status_class: &'static str,
    pub documents: Vec<DocView>,
}

/// One entry of the dossier's journal, in the reviewer's words.
pub struct HistoryView {
    pub at: String,
    /// Who, as `portal:NAME`, `staff:LOGIN`... say it.
    pub actor: String,
    pub label: String,
    /// The document it concerns, if any.
    pub document: Option<String>,
    pub detail: String,
}

pub struct DossierView {
    pub reference: String,
    pub campaign: String,
    pub campaign_title: String,
    pub name: String,
    /// The candidate's attributes as `(label, value)`: the campaign's label or a built-in
    /// one (`Campaign::attribute_label`), dates written DD/MM/YYYY.
    pub attributes: Vec<(String, String)>,
    pub state: &'static str,
    pub state_reason: Option<String>,
    pub complete: bool,
    pub missing: String,
    pub can_close: bool,
    pub pieces: Vec<PieceView>,
    pub unclassified: Vec<DocView>,
    pub history: Vec<HistoryView>,
    /// Older entries of the journal the page leaves out.
    pub history_older: usize,
}

#[derive(Template)]
#[template(path = "dossier.html")]
struct DossierPage {
    user: Reviewer,
    section: &'static str,
    d: DossierView,
    done: Option<&'static str>,
    reasons: [(&'static str, &'static str); 7],
    office: crate::pages::office::OfficeView,
}

#[derive(Deserialize)]
pub struct Done {
    #[serde(default)]
    done: String,
}

/// Reads the dossier, or answers 404 for a reference that is malformed or unknown.
async fn snapshot(staff: &Staff, reference: &str) -> Result<Snapshot, PageError> {
    if actions::check_reference(reference).is_err() {
        return Err(PageError::NotFound(format!("Le dossier {reference}")));
    }
    match Snapshot::read(&staff.app, reference).await {
        Ok(snapshot) => Ok(snapshot),
        Err(ingest::Error::UnknownDossier(_)) => {
            Err(PageError::NotFound(format!("Le dossier {reference}")))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn show(
    State(staff): State<Staff>,
    user: Reviewer,
    Path(reference): Path<String>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let snapshot = snapshot(&staff, &reference).await?;
    journal::dossier_viewed(&staff.app, &reference, &staff_actor(&user.name)).await?;
    let mut view = dossier_view(&staff, &user, &snapshot).await?;
    let claims = crate::pages::queue::claims_on(&staff, Some(&reference), &user).await?;
    for doc in view
        .pieces
        .iter_mut()
        .flat_map(|p| p.documents.iter_mut())
        .chain(view.unclassified.iter_mut())
    {
        doc.claim = claims
            .iter()
            .find(|c| c.document == doc.id)
            .map(|c| match c.mine {
                true => format!("Vous examinez ce document jusqu'à {}", c.until),
                false => format!("Pris en charge par {} jusqu'à {}", c.reviewer, c.until),
            });
    }
    let done = match done.done.as_str() {
        "accepted" => Some("Le document a été accepté."),
        "rejected" => Some("Le document a été refusé ; le motif est visible du candidat."),
        "closed" => Some("Le dossier a été clôturé."),
        other => crate::pages::office::done_message(other),
    };
    let office = crate::pages::office::OfficeView::of(&snapshot, &user);
    page(&DossierPage {
        user,
        section: "dossiers",
        d: view,
        done,
        reasons: REFUSAL_REASONS,
        office,
    })
}

/// The page's view of the dossier; the other dossiers named as holding the same content are
/// those of `user`'s scope.
async fn dossier_view(
    staff: &Staff,
    user: &Reviewer,
    snapshot: &Snapshot,
) -> Result<DossierView, PageError> {
    let assessment = snapshot.assessment();
    let closed = snapshot.state == DossierState::Closed;
    let reference = &snapshot.record.reference;
    let repo = &staff.app.repo;
    let same = match &user.campaigns {
        None => {
            repo.same_content_as_dossier(reference, None, DUPLICATES)
                .await?
        }
        Some(scope) => {
            repo.same_content_in_campaigns(reference, None, DUPLICATES, scope)
                .await?
        }
    };
    let mut duplicates: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for SameContent {
        sha256,
        dossier,
        piece,
        ..
    } in same
    {
        duplicates
            .entry(sha256)
            .or_default()
            .push((dossier, piece.unwrap_or_default()));
    }
    let mut pieces = Vec::new();
    for piece in snapshot.campaign.pieces() {
        let assessed = assessment.piece(piece.code());
        let mut documents = Vec::new();
        for doc in snapshot
            .active_documents()
            .filter(|d| d.piece.as_deref() == Some(piece.code()))
        {
            documents.push(doc_view(staff, doc, closed, &duplicates).await?);
        }
        let status = assessed.map_or(PieceStatus::Missing, |a| a.status);
        let required = assessed.is_none_or(|a| a.required);
        let (why, why_expression) = piece_why(
            piece,
            &snapshot.candidate,
            assessed.and_then(|a| a.why.clone()),
        );
        pieces.push(PieceView {
            code: piece.code().to_string(),
            label: piece.label().to_string(),
            required: if required {
                "obligatoire"
            } else {
                "facultative"
            },
            why,
            why_expression,
            status: piece_status_label(status),
            status_class: piece_status_class(status),
            documents,
        });
    }
    let mut unclassified = Vec::new();
    for doc in snapshot.active_documents().filter(|d| {
        d.piece
            .as_ref()
            .is_none_or(|code| snapshot.campaign.piece(code).is_none())
    }) {
        unclassified.push(doc_view(staff, doc, closed, &duplicates).await?);
    }
    let entries = staff.app.repo.journal(&snapshot.record.reference).await?;
    let history_older = entries.len().saturating_sub(HISTORY);
    let history = entries[history_older..].iter().map(history_view).collect();
    let name = candidate_name(&snapshot.record.candidate);
    let attributes = snapshot
        .record
        .candidate
        .as_object()
        .map(|map| {
            map.iter()
                .map(|(key, value)| {
                    let label = snapshot.campaign.attribute_label(key).into_owned();
                    (label, attribute_text(value))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(DossierView {
        reference: snapshot.record.reference.clone(),
        campaign: snapshot.campaign.id().to_string(),
        campaign_title: snapshot.campaign.title().to_string(),
        name: name.shown,
        attributes,
        state: state_label(snapshot.state.as_str()),
        state_reason: snapshot.record.state_reason.clone(),
        complete: assessment.complete,
        missing: assessment.missing_for_submission().join(", "),
        can_close: !closed && assessment.complete,
        pieces,
        unclassified,
        history,
        history_older,
    })
}

/// What the page says of why `piece` is required, and the condition behind it: see
/// [`PieceView::why`]. `assessed` is the assessment's account of the condition.
///
/// The campaign's words say what the rule is, not whether it could be applied: when the
/// condition could not be decided (an attribute missing...), the piece is required by
/// default, and the page says so after the words.
fn piece_why(
    piece: &Piece,
    candidate: &Candidate,
    assessed: Option<String>,
) -> (Option<String>, Option<String>) {
    let Some(words) = piece.why() else {
        return (assessed, None);
    };
    let Some(condition) = piece.condition() else {
        return (Some(words.to_string()), None);
    };
    let why = match (condition.evaluate(candidate), assessed) {
        (Outcome::Holds | Outcome::DoesNotHold, _) | (_, None) => words.to_string(),
        (_, Some(undecided)) => format!("{words} — {undecided}"),
    };
    (Some(why), Some(condition.source().to_string()))
}

/// An attribute's value as staff read it: dates written `YYYY-MM-DD` in the French way
/// (17/05/2004), booleans as oui / non.
fn attribute_text(value: &Value) -> String {
    match value {
        Value::String(s) => match dossiers::candidate::iso_date(s) {
            Some(date) => date.format("%d/%m/%Y").to_string(),
            None => s.clone(),
        },
        Value::Bool(true) => "oui".into(),
        Value::Bool(false) => "non".into(),
        other => other.to_string(),
    }
}

/// A document as the page shows it; `duplicates` are the other dossiers' documents by
/// content, as `(dossier, piece)`.
async fn doc_view(
    staff: &Staff,
    doc: &DocumentRecord,
    closed: bool,
    duplicates: &HashMap<String, Vec<(String, String)>>,
) -> Result<DocView, PageError> {
    let duplicates = duplicates.get(&doc.sha256).cloned().unwrap_or_default();
    let content_url = format!("/staff/documents/{}/content", doc.id);
    let (previews, preview_why, page_numbers, page_failures) =
        match scan::check_servable(doc).map(|()| render::previews(&staff.app, doc)) {
            Err(_) => (
                "failed",
                "le contenu n'est pas servi (analyse antivirus)".to_string(),
                Vec::new(),
                Vec::new(),
            ),
            Ok(state) => match state.await? {
                render::Previews::Pending => ("pending", String::new(), Vec::new(), Vec::new()),
                render::Previews::Failed(why) => ("failed", why, Vec::new(), Vec::new()),
                render::Previews::Ready { pages } => (
                    "ready",
                    String::new(),
                    (1..=pages).collect(),
                    render::page_failures(&staff.app, doc).await?,
                ),
            },
        };
    let reasons = doc
        .reasons
        .get("reasons")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|r| {
                    let code = r.get("code").and_then(Value::as_str).unwrap_or("");
                    let message = r.get("message").and_then(Value::as_str).unwrap_or("");
                    format!("{message} ({code})")
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(DocView {
        id: doc.id.clone(),
        filename: doc
            .filename
            .clone()
            .unwrap_or_else(|| format!("{}.{}", doc.id, doc.kind)),
        kind: doc.kind.to_uppercase(),
        size: size_label(doc.size),
        pages: doc.pages,
        channel: match doc.channel.as_str() {
            "upload" => "déposé en ligne",
            "mailroom" => "reçu par courrier",
            _ => "canal inconnu",
        },
        received: when(doc.received_at),
        late: doc.late,
        verdict: if doc.verdict == verdict::ACCEPTED {
            "conforme"
        } else {
            "non conforme"
        },
        reasons,
        scan: doc.scan.as_deref().map(|s| match s {
            scan::state::CLEAN => "sain",
            scan::state::PENDING => "analyse en attente",
            scan::state::INFECTED => "INFECTÉ — quarantaine",
            _ => "analyse impossible",
        }),
        review: match doc.review.as_deref().and_then(ReviewDecision::parse) {
            Some(ReviewDecision::Accepted) => "acceptée",
            Some(ReviewDecision::Rejected) => "refusée",
            None if doc.verdict == verdict::ACCEPTED => "à examiner",
            _ => "refusée par la vérification automatique",
        },
        reviewed_by: doc.reviewed_by.clone(),
        review_reason: doc.review_reason.clone(),
        sha256: doc.sha256.clone(),
        duplicates,
        previews,
        preview_why,
        page_numbers,
        page_failures,
        content_url,
        can_review: !closed && doc.scan.as_deref() != Some(scan::state::INFECTED),
        claim: None,
    })
}

fn history_view(entry: &JournalEntry) -> HistoryView {
    let data = entry.data_value();
    let text = |key: &str| data.get(key).and_then(Value::as_str);
    let mut detail = Vec::new();
    if let Some(piece) = text("piece") {
        detail.push(format!("pièce {piece}"));
    }
    if let (Some(from), Some(to)) = (text("from"), text("to")) {
        detail.push(format!("de {from} à {to}"));
    }
    if let Some(filename) = text("filename") {
        detail.push(format!("fichier « {filename} »"));
    }
    if text("copy") == Some("display") {
        detail.push("copie d'affichage (JPEG)".to_string());
    }
    if let Some(verdict) = text("verdict") {
        detail.push(format!("vérification : {verdict}"));
    }
    if let Some(until) = text("until") {
        let until = chrono::DateTime::parse_from_rfc3339(until)
            .map_or_else(|_| until.to_string(), |t| when(t.to_utc()));
        detail.push(format!("jusqu'au {until}"));
    }
    if let Some(message) = text("message") {
        detail.push(format!("message : {message}"));
    }
    if let Some(by) = text("by") {
        detail.push(format!("par {by}"));
    }
    if let Some(reason) = text("reason") {
        detail.push(format!("motif : {reason}"));
    }
    HistoryView {
        // The stored text is RFC 3339; an unreadable one is shown as stored.
        at: entry.time().map_or_else(|| entry.at.clone(), when),
        actor: actor_label(&entry.actor),
        label: action_label(&entry.action).to_string(),
        document: entry.document.clone(),
        detail: detail.join(", "),
    }
}

/// Who did it, in the reviewer's words: `staff:camille` is « agent camille ».
fn actor_label(actor: &str) -> String {
    match actor.split_once(':') {
        Some(("portal", name)) => format!("portail {name}"),
        Some(("staff", name)) => format!("agent {name}"),
        Some(("station", name)) => format!("station {name}"),
        Some(("admin", name)) => format!("administrateur {name}"),
        _ if actor == ingest::auth::SYSTEM_ACTOR => "système".to_string(),
        _ => actor.to_string(),
    }
}

#[derive(Deserialize)]
pub struct ReviewForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason_code: String,
    #[serde(default)]
    reason_text: String,
}

/// The reason recorded for a refusal: the standard label, with the reviewer's text.
pub fn refusal_reason(code: &str, text: &str) -> Result<String, PageError> {
    let text = text.trim();
    let (code, label) = REFUSAL_REASONS
        .iter()
        .find(|(c, _)| *c == code)
        .ok_or_else(|| {
            PageError::BadRequest("Choisissez un motif de refus dans la liste.".into())
        })?;
    match (*code, text.is_empty()) {
        ("autre", true) => Err(PageError::BadRequest(
            "Le motif « Autre » demande une précision.".into(),
        )),
        ("autre", false) => Ok(text.to_string()),
        (_, true) => Ok(label.to_string()),
        (_, false) => Ok(format!("{label} : {text}")),
    }
}

/// Caps free text so a pasted novel does not end up in every event.
const REASON_CHARS: usize = 500;

pub async fn review(
    State(staff): State<Staff>,
    user: Reviewer,
    Path((reference, id)): Path<(String, String)>,
    Form(form): Form<ReviewForm>,
) -> Result<Response, PageError> {
    user.check_csrf(&form.csrf)?;
    let doc = staff
        .app
        .repo
        .document(&id)
        .await?
        .filter(|d| d.dossier == reference)
        .ok_or_else(|| PageError::NotFound(format!("Le document {id} de ce dossier")))?;
    let text: String = form.reason_text.chars().take(REASON_CHARS).collect();
    let (decision, reason, done) = match form.decision.as_str() {
        "accept" => (ReviewDecision::Accepted, None, "accepted"),
        "reject" => (
            ReviewDecision::Rejected,
            Some(refusal_reason(&form.reason_code, &text)?),
            "rejected",
        ),
        _ => return Err(PageError::BadRequest("Décision inconnue.".into())),
    };
    actions::review(
        &staff.app,
        &doc.id,
        decision,
        reason,
        &user.name,
        &staff_actor(&user.name),
    )
    .await?;
    refresh_dossier(&staff.app, &reference).await;
    tracing::info!(user = %user.name, document = %doc.id, decision = done, "staff review");
    Ok(Redirect::to(&format!(
        "/staff/dossiers/{reference}?done={done}#doc-{}",
        doc.id
    ))
    .into_response())
}

#[derive(Deserialize)]
pub struct CloseForm {
    #[serde(default)]
    csrf: String,
}

pub async fn close(
    State(staff): State<Staff>,
    user: Reviewer,
    Path(reference): Path<String>,
    Form(form): Form<CloseForm>,
) -> Result<Response, PageError> {
    user.check_csrf(&form.csrf)?;
    snapshot(&staff, &reference).await?;
    actions::close(&staff.app, &reference, &staff_actor(&user.name)).await?;
    refresh_dossier(&staff.app, &reference).await;
    tracing::info!(user = %user.name, dossier = %reference, "staff closed dossier");
    Ok(Redirect::to(&format!("/staff/dossiers/{reference}?done=closed")).into_response())
}

/// A journal entry's action in the reviewer's words: an event kind or an access; an action
/// this version does not know is shown as recorded.
fn action_label(action: &str) -> &str {
    if let Ok(kind) = action.parse::<EventKind>() {
        return kind_label(kind);
    }
    match action.parse::<Access>() {
        Ok(Access::DossierViewed) => "Dossier consulté",
        Ok(Access::DocumentDownloaded) => "Document téléchargé",
        Err(_) => action,
    }
}

/// An event kind in the reviewer's words.
fn kind_label(kind: EventKind) -> &'static str {
    match kind {
        EventKind::DossierCreated => "Dossier créé",
        EventKind::DocumentReceived => "Document reçu",
        EventKind::DocumentAccepted => "Document accepté",
        EventKind::DocumentRejected => "Document refusé",
        EventKind::DocumentWithdrawn => "Document retiré par le candidat",
        EventKind::DocumentInfected => "Document infecté",
        EventKind::DocumentScanned => "Analyse antivirus terminée",
        EventKind::DossierSubmitted => "Dossier déposé par le candidat",
        EventKind::DossierComplete => "Dossier complet",
        EventKind::DossierReopened => "Dossier rouvert",
        EventKind::DossierClosed => "Dossier clôturé",
        EventKind::DocumentAssigned => "Document classé sous une pièce",
        EventKind::DossierUpdated => "Informations du candidat modifiées",
        EventKind::DossierExtended => "Délai prolongé",
        EventKind::PieceCorrectionRequested => "Pièce à renvoyer demandée",
        EventKind::DocumentPurged => "Contenu supprimé (durée de conservation écoulée)",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn campaign() -> dossiers::Campaign {
        let source = "id = \"c\"\ntitle = \"T\"\nopens_at = \"2024-10-10T10:00:00+02:00\"\n\
                      closes_at = \"2024-11-13T19:00:00+01:00\"\nreference_date = \"2025-06-01\"\n\
                      [[pieces]]\ncode = \"jdc\"\nlabel = \"JDC\"\n\
                      required_when = \"candidate.age < 25\"\nwhy = \"Exigée avant 25 ans.\"\n\
                      [[pieces]]\ncode = \"medical\"\nlabel = \"Avis\"\n\
                      required_when = \"candidate.amenagement == true\"\n\
                      [[pieces]]\ncode = \"identite\"\nlabel = \"Identité\"\n\
                      required = true\nwhy = \"Pour vous identifier.\"\n";
        dossiers::Campaign::parse(source, "c.toml").expect("a valid campaign")
    }

    /// The page's `(why, why_expression)` for `code`, for a candidate with `attributes`.
    fn why_of(code: &str, attributes: Value) -> (Option<String>, Option<String>) {
        let campaign = campaign();
        let candidate =
            Candidate::new(attributes, campaign.reference_date()).expect("a valid candidate");
        let piece = campaign.piece(code).expect("a piece of the campaign");
        piece_why(piece, &candidate, piece.requirement(&candidate).why)
    }

    #[test]
    fn why_shows_the_campaign_words_with_the_condition_apart() {
        let expected = (
            Some("Exigée avant 25 ans.".to_string()),
            Some("candidate.age < 25".to_string()),
        );
        assert_eq!(why_of("jdc", json!({"birth_date": "2004-05-17"})), expected);
        // The words state the rule: they hold whether or not it applies.
        assert_eq!(why_of("jdc", json!({"birth_date": "1980-05-17"})), expected);
        // Undecided: required by default, and the page says so.
        let (why, expression) = why_of("jdc", json!({}));
        let why = why.expect("a why");
        assert!(
            why.starts_with("Exigée avant 25 ans. — attribut manquant"),
            "{why}"
        );
        assert!(why.ends_with("pièce exigée par défaut"), "{why}");
        assert_eq!(expression.as_deref(), Some("candidate.age < 25"));
        // Without words, the condition's account, as before.
        assert_eq!(
            why_of("medical", json!({"amenagement": true})),
            (
                Some("exigée : candidate.amenagement == true".to_string()),
                None
            )
        );
        // An always required piece has words and no condition.
        assert_eq!(
            why_of("identite", json!({})),
            (Some("Pour vous identifier.".to_string()), None)
        );
    }

    #[test]
    fn journal_entries_read_in_french() {
        for kind in EventKind::ALL {
            assert_ne!(action_label(kind.as_str()), kind.as_str(), "{kind}");
        }
        for access in Access::ALL {
            assert_ne!(action_label(access.as_str()), access.as_str(), "{access}");
        }
        assert_eq!(action_label("dossier.archived"), "dossier.archived");
        assert_eq!(actor_label("staff:camille"), "agent camille");
        assert_eq!(actor_label("portal:inscriptions"), "portail inscriptions");
        assert_eq!(actor_label("system"), "système");
        let entry = JournalEntry {
            dossier: "D-1".into(),
            seq: 3,
            at: "2026-03-01T09:30:00.000000Z".into(),
            actor: "staff:camille".into(),
            action: "document.downloaded".into(),
            document: Some("doc-1".into()),
            data: json!({"copy": "display", "piece": "identite", "filename": "photo.heic"})
                .to_string(),
            prev_hash: String::new(),
            hash: String::new(),
        };
        let shown = history_view(&entry);
        assert_eq!(shown.at, "1er mars 2026 à 10:30 (heure de Paris)");
        assert_eq!(shown.label, "Document téléchargé");
        assert_eq!(shown.actor, "agent camille");
        assert_eq!(shown.document.as_deref(), Some("doc-1"));
        assert_eq!(
            shown.detail,
            "pièce identite, fichier « photo.heic », copie d'affichage (JPEG)"
        );
    }

    #[test]
    fn attributes_read_in_french() {
        assert_eq!(attribute_text(&json!("2004-05-17")), "17/05/2004");
        assert_eq!(attribute_text(&json!("2004-5-17")), "2004-5-17");
        assert_eq!(attribute_text(&json!("FR")), "FR");
        assert_eq!(attribute_text(&json!(true)), "oui");
        assert_eq!(attribute_text(&json!(3)), "3");
    }

    #[test]
    fn refusals_need_a_listed_reason_and_other_needs_text() {
        assert_eq!(
            refusal_reason("illisible", "").expect("listed"),
            "Document illisible ou de qualité insuffisante"
        );
        assert_eq!(
            refusal_reason("perime", " expiré en 2023 ").expect("listed"),
            "Document périmé ou plus en cours de validité : expiré en 2023"
        );
        assert_eq!(refusal_reason("autre", "flou").expect("text"), "flou");
        assert!(matches!(
            refusal_reason("autre", "  "),
            Err(PageError::BadRequest(_))
        ));
        assert!(matches!(
            refusal_reason("", "x"),
            Err(PageError::BadRequest(_))
        ));
        assert!(matches!(
            refusal_reason("<b>", ""),
            Err(PageError::BadRequest(_))
        ));
    }
}
