//! Exports: the dossier list as CSV (with the list's filters), one dossier's documents as a
//! ZIP, and a campaign's exports (`ingest::exports`: dossiers as CSV or XLSX, documents as
//! CSV or ZIP), the same files the API gives.
//!
//! The list's CSV is streamed a page of the index at a time, through the exports' one CSV
//! writer (quoting, formula defusing).

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};

use ingest::App;
use ingest::auth::staff_actor;
use ingest::exports::{self, CampaignExport, Export};
use storage::repository::{DossierIndexRow, DossierQuery};

use crate::Staff;
use crate::error::PageError;
use crate::index::refresh_before_reading;
use crate::pages::list::Filters;
use crate::session::Reviewer;

/// Index rows read per page of the CSV.
const CSV_PAGE: u32 = 1000;

const CSV_HEADER: [&str; 9] = [
    "reference",
    "campagne",
    "candidat",
    "etat",
    "complet",
    "pieces_manquantes",
    "a_examiner",
    "hors_delai",
    "mis_a_jour",
];

/// The fields of one row of the list.
fn csv_record(row: &DossierIndexRow) -> Vec<String> {
    let flag = |b: bool| if b { "oui" } else { "non" }.to_string();
    vec![
        row.reference.clone(),
        row.campaign.clone(),
        row.name.clone(),
        row.state.clone(),
        flag(row.complete),
        row.missing.join(" "),
        flag(row.awaiting),
        flag(row.late),
        row.updated_at.to_rfc3339(),
    ]
}

pub async fn csv(
    State(staff): State<Staff>,
    user: Reviewer,
    Query(filters): Query<Filters>,
) -> Result<Response, PageError> {
    refresh_before_reading(&staff.app).await?;
    let mut query = filters.query(CSV_PAGE, user.scope());
    query.after = None;
    let header = CSV_HEADER.map(str::to_string).to_vec();
    let body = exports::csv::stream(header, Some((staff.app.clone(), query)), next_page);
    let headers = vec![
        ("content-type", exports::csv::CONTENT_TYPE.to_string()),
        (
            "content-disposition",
            "attachment; filename=\"dossiers.csv\"".to_string(),
        ),
    ];
    Ok(answer(Export { headers, body }))
}

/// A page of the list's records, and what reads the next one (none after a short page).
async fn next_page(
    state: Option<(App, DossierQuery)>,
) -> Result<Option<(Vec<Vec<String>>, Option<(App, DossierQuery)>)>, ingest::Error> {
    let Some((app, mut query)) = state else {
        return Ok(None);
    };
    let rows = app.repo.list_dossier_index(&query).await?;
    let last = (rows.len() == query.limit as usize)
        .then(|| rows.last().map(|r| r.reference.clone()))
        .flatten();
    let records = rows.iter().map(csv_record).collect();
    let more = last.is_some();
    query.after = last;
    Ok(Some((records, more.then_some((app, query)))))
}

pub async fn zip(
    State(staff): State<Staff>,
    user: Reviewer,
    Path(reference): Path<String>,
) -> Result<Response, PageError> {
    match exports::dossier_zip(&staff.app, &reference, &staff_actor(&user.name)).await {
        Ok(export) => Ok(answer(export)),
        Err(ingest::Error::UnknownDossier(_)) => {
            Err(PageError::NotFound(format!("Le dossier {reference}")))
        }
        Err(e) => Err(e.into()),
    }
}

/// `/staff/campaigns/{id}/exports/{file}`: `dossiers.csv`, `dossiers.xlsx`,
/// `documents.csv` or `documents.zip` of the campaign.
pub async fn campaign(
    State(staff): State<Staff>,
    user: Reviewer,
    Path((id, file)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let what: CampaignExport = file
        .parse()
        .map_err(|()| PageError::NotFound(format!("L'export {file}")))?;
    let scope = user.campaigns.clone();
    match exports::campaign_export(&staff.app, &id, what, &staff_actor(&user.name), scope).await {
        Ok(export) => Ok(answer(export)),
        Err(ingest::Error::UnknownCampaign(_)) => {
            Err(PageError::NotFound(format!("La campagne {id}")))
        }
        Err(e) => Err(e.into()),
    }
}

/// An export as the answer: its headers, its streamed body.
fn answer(export: Export) -> Response {
    let mut response = Body::from_stream(export.body).into_response();
    let headers = response.headers_mut();
    for (name, value) in export.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    response
}
