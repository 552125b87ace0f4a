//! Mailroom triage: the scanned pages no dossier took (before the first sheet, after an
//! unreadable, forged or unknown sheet), each previewed and assigned to a dossier and piece
//! in one step. Assigning goes through `ingest::pipeline::mailroom::assign_triage`, which files
//! the pages exactly as the mailroom files a segment and marks the entry assigned.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::Value;
use tokio_util::io::ReaderStream;

use ingest::pipeline::actions;
use ingest::pipeline::mailroom::{self, triage_entries};
use storage::ContentKey;
use storage::repository::BatchRecord;

use crate::Staff;
use crate::error::PageError;
use crate::index::refresh_dossier;
use crate::session::Reviewer;
use crate::views::{page, percent_encode, when};

/// How many recent batches the page looks through.
const BATCHES: u32 = 200;

pub struct EntryView {
    pub batch: String,
    pub station: String,
    pub filename: String,
    pub received: String,
    pub sha256: String,
    pub pages: String,
    pub reason: String,
    pub message: String,
    /// The sheet's dossier, for entries from a sheet that named one.
    pub named: String,
    /// A unique suffix for the form's element ids.
    pub key: String,
}

/// A batch that failed for good (unreadable, or failed at its every attempt), with why.
pub struct FailedBatch {
    pub batch: String,
    pub station: String,
    pub filename: String,
    pub received: String,
    pub code: String,
    pub message: String,
    /// `après N tentatives`, when it failed its every attempt.
    pub attempts: String,
}

impl FailedBatch {
    fn of(batch: &BatchRecord) -> FailedBatch {
        let error = &batch.report["error"];
        let text = |key: &str| error[key].as_str().unwrap_or_default().to_string();
        FailedBatch {
            batch: batch.id.clone(),
            station: batch.station.clone(),
            filename: batch.filename.clone().unwrap_or_default(),
            received: when(batch.received_at),
            code: batch.error.clone().unwrap_or_else(|| text("code")),
            message: text("message"),
            attempts: error["attempts"]
                .as_u64()
                .map(|n| format!("après {n} tentatives"))
                .unwrap_or_default(),
        }
    }
}

pub struct PieceChoice {
    pub value: String,
    pub label: String,
}

pub struct CampaignChoices {
    pub title: String,
    pub pieces: Vec<PieceChoice>,
}

#[derive(Template)]
#[template(path = "triage.html")]
struct TriagePage {
    user: Reviewer,
    section: &'static str,
    entries: Vec<EntryView>,
    /// Batches that failed for good: a person must look.
    failed: Vec<FailedBatch>,
    campaigns: Vec<CampaignChoices>,
    done: Option<String>,
}

#[derive(Deserialize)]
pub struct Done {
    #[serde(default)]
    dossier: String,
}

fn pages_label(entry: &Value) -> String {
    let pages: Vec<String> = entry["pages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_u64)
        .map(|p| p.to_string())
        .collect();
    match pages.as_slice() {
        [] => String::new(),
        [one] => format!("page {one}"),
        many => format!("pages {}", many.join(", ")),
    }
}

/// The entries of a batch waiting for a person: with a stored PDF, not yet assigned.
fn waiting(batch: &BatchRecord) -> Vec<EntryView> {
    let mut views = Vec::new();
    // The sheet's dossier of a segment sent to triage, by its PDF.
    let named = |sha: &str| {
        batch.report["segments"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["triage"]["sha256"].as_str() == Some(sha))
            .and_then(|s| s["dossier"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    for entry in triage_entries(&batch.report) {
        let Some(sha256) = entry["sha256"].as_str() else {
            continue;
        };
        if entry.get("assigned").is_some() {
            continue;
        }
        let text = |key: &str| entry[key].as_str().unwrap_or_default().to_string();
        views.push(EntryView {
            batch: batch.id.clone(),
            station: batch.station.clone(),
            filename: batch.filename.clone().unwrap_or_default(),
            received: when(batch.received_at),
            sha256: sha256.to_string(),
            pages: pages_label(entry),
            reason: text("reason"),
            message: text("message"),
            named: named(sha256),
            key: format!("{}-{}", batch.id, &sha256[..sha256.len().min(12)]),
        });
    }
    views
}

/// Every campaign's pieces, for the piece menu.
async fn campaign_choices(staff: &Staff) -> Result<Vec<CampaignChoices>, PageError> {
    let mut choices = Vec::new();
    for record in staff.app.repo.campaigns().await? {
        let Ok(campaign) = staff.app.campaign(&record.id).await else {
            continue;
        };
        choices.push(CampaignChoices {
            title: format!("{} ({})", campaign.title(), campaign.id()),
            pieces: campaign
                .pieces()
                .iter()
                .map(|p| PieceChoice {
                    value: p.code().to_string(),
                    label: format!("{} — {}", p.label(), p.code()),
                })
                .collect(),
        });
    }
    Ok(choices)
}

pub async fn list(
    State(staff): State<Staff>,
    user: Reviewer,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let batches = staff.app.repo.batches(BATCHES).await?;
    let entries = batches
        .iter()
        .filter(|b| b.state == mailroom::state::DONE)
        .flat_map(waiting)
        .collect();
    let failed = batches
        .iter()
        .filter(|b| b.state == mailroom::state::FAILED)
        .map(FailedBatch::of)
        .collect();
    let done = (!done.dossier.is_empty()).then(|| done.dossier.clone());
    page(&TriagePage {
        user,
        section: "triage",
        entries,
        failed,
        campaigns: campaign_choices(&staff).await?,
        done,
    })
}

/// The batch, when it is done and `sha256` is one of its triage entries; else 404.
async fn entry_batch(staff: &Staff, batch: &str, sha256: &str) -> Result<BatchRecord, PageError> {
    let missing = || PageError::NotFound(format!("Les pages à classer {sha256} du lot {batch}"));
    let record = staff.app.repo.batch(batch).await?.ok_or_else(missing)?;
    let known = record.state == mailroom::state::DONE
        && triage_entries(&record.report)
            .iter()
            .any(|e| e["sha256"].as_str() == Some(sha256));
    if known { Ok(record) } else { Err(missing()) }
}

/// The PDF of a triage entry, served like document content: sandboxed and not sniffed.
pub async fn content(
    State(staff): State<Staff>,
    _user: Reviewer,
    Path((batch, sha256)): Path<(String, String)>,
) -> Result<Response, PageError> {
    entry_batch(&staff, &batch, &sha256).await?;
    let key = ContentKey::from_hex(&sha256)
        .ok_or_else(|| PageError::NotFound(format!("Les pages à classer {sha256}")))?;
    let blob = staff
        .app
        .blobs
        .open(&key)
        .await
        .map_err(ingest::Error::from)?
        .ok_or(ingest::Error::ContentMissing)?;
    let name = format!("lot-{batch}-a-classer.pdf");
    let headers = [
        (header::CONTENT_TYPE, "application/pdf".to_string()),
        (header::CONTENT_SECURITY_POLICY, "sandbox".to_string()),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        (header::CACHE_CONTROL, "private, no-cache".to_string()),
        (header::CONTENT_LENGTH, blob.size.to_string()),
        (
            header::CONTENT_DISPOSITION,
            format!(
                "inline; filename=\"a-classer.pdf\"; filename*=UTF-8''{}",
                percent_encode(&name)
            ),
        ),
    ];
    let body = axum::body::Body::from_stream(ReaderStream::new(blob.reader));
    Ok((StatusCode::OK, headers, body).into_response())
}

#[derive(Deserialize)]
pub struct AssignForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reference: String,
    /// A piece from the menu; empty: unclassified.
    #[serde(default)]
    piece: String,
    /// A piece code typed by hand; wins over the menu.
    #[serde(default)]
    piece_code: String,
}

pub async fn assign(
    State(staff): State<Staff>,
    user: Reviewer,
    Path((batch, sha256)): Path<(String, String)>,
    Form(form): Form<AssignForm>,
) -> Result<Response, PageError> {
    user.check_csrf(&form.csrf)?;
    entry_batch(&staff, &batch, &sha256).await?;
    let reference = form.reference.trim().to_string();
    if actions::check_reference(&reference).is_err() {
        return Err(PageError::BadRequest(
            "Indiquez une référence de dossier valide.".into(),
        ));
    }
    let typed = form.piece_code.trim();
    let piece = if typed.is_empty() {
        form.piece.trim()
    } else {
        typed
    };
    let piece = (!piece.is_empty()).then(|| piece.to_string());
    let filed = match mailroom::assign_triage(
        &staff.app,
        &batch,
        &sha256,
        &reference,
        piece.clone(),
        &user.name,
    )
    .await
    {
        Ok(filed) => filed,
        Err(ingest::Error::UnknownDossier(_)) => {
            return Err(PageError::BadRequest(format!(
                "Le dossier {reference} est inconnu."
            )));
        }
        Err(ingest::Error::UnknownPiece { campaign, piece }) => {
            return Err(PageError::BadRequest(format!(
                "La campagne {campaign} du dossier {reference} n'a pas de pièce {piece}."
            )));
        }
        Err(e) => return Err(e.into()),
    };
    refresh_dossier(&staff.app, &reference).await;
    tracing::info!(user = %user.name, batch = %batch, dossier = %reference,
        document = %filed.id, "staff assigned mailroom triage");
    Ok(Redirect::to(&format!(
        "/staff/triage?dossier={}",
        percent_encode(&reference)
    ))
    .into_response())
}
