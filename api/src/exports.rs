//! Campaign exports, for staff and admins: the dossiers as CSV or XLSX, the documents as CSV,
//! their files as a ZIP. Written by `ingest::exports` (the same files the staff pages give),
//! streamed; memory stays flat whatever the campaign's size. The columns are described in
//! `docs/staff.md`.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};

use ingest::App;
use ingest::exports::{self, CampaignExport, Export};

use crate::auth::{Caller, Role};
use crate::error::{ApiError, answers};
use crate::openapi::Binary;

/// The export `what` of the campaign `id`, for staff and admins.
async fn export(
    app: &App,
    caller: &Caller,
    id: &str,
    what: CampaignExport,
) -> Result<Response, ApiError> {
    caller.require(&[Role::Staff, Role::Admin])?;
    let export =
        exports::campaign_export(app, id, what, &caller.actor(), caller.campaigns.clone()).await?;
    Ok(answer(export))
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

/// The campaign's dossiers, one CSV line each (UTF-8, CRLF; a field a spreadsheet would take
/// for a formula is prefixed with `'`), in reference order: `reference`, `candidate.<key>`
/// for each candidate attribute the campaign's dossiers use, `state`, `complete`, `missing`,
/// `created_at`, `updated_at`, and `piece.<code>` for each piece of the catalog: its status
/// as in the dossier (`missing`, `pending`, `accepted`, `rejected`, `correction_requested`),
/// or `not_required` for a piece the candidate need not send and has not sent.
#[utoipa::path(
    get,
    path = "/campaigns/{id}/dossiers.csv",
    operation_id = "export_dossiers_csv",
    tag = "exports",
    security(("token" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The dossiers, streamed; `Content-Disposition: attachment; filename=\"ID-dossiers.csv\"`",
            body = String, content_type = "text/csv"),
        answers::Unauthenticated,
        answers::Forbidden,
        answers::NotFound,
        answers::Unavailable,
    )
)]
pub async fn dossiers_csv(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    export(&app, &caller, &id, CampaignExport::DossiersCsv).await
}

/// The same columns as `dossiers.csv`, on one sheet (`Dossiers`) of a spreadsheet: text
/// cells (never formulas), `complete` a boolean.
#[utoipa::path(
    get,
    path = "/campaigns/{id}/dossiers.xlsx",
    operation_id = "export_dossiers_xlsx",
    tag = "exports",
    security(("token" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The dossiers as a spreadsheet; `Content-Disposition: attachment; filename=\"ID-dossiers.xlsx\"`",
            body = Binary, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        answers::Unauthenticated,
        answers::Forbidden,
        answers::NotFound,
        answers::Unavailable,
    )
)]
pub async fn dossiers_xlsx(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    export(&app, &caller, &id, CampaignExport::DossiersXlsx).await
}

/// The campaign's documents, one CSV line each, withdrawn ones included, by dossier then
/// receipt: `dossier`, `piece` (empty while unclassified), `document`, `filename`, `sha256`,
/// `size`, `kind`, `pages`, `channel`, `batch`, `station`, `first_page`, `last_page`,
/// `verdict`, `reasons` (codes), `review`, `review_reason`, `reviewed_by`, `reviewed_at`,
/// `received_at`, `late`, `scan`, `withdrawn_at`, and `duplicates`: the other dossiers (of
/// any campaign) holding a document, not withdrawn, with the same SHA-256, space separated
/// (after 20, `+N` counts the rest).
#[utoipa::path(
    get,
    path = "/campaigns/{id}/documents.csv",
    operation_id = "export_documents_csv",
    tag = "exports",
    security(("token" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The documents, streamed; `Content-Disposition: attachment; filename=\"ID-documents.csv\"`",
            body = String, content_type = "text/csv"),
        answers::Unauthenticated,
        answers::Forbidden,
        answers::NotFound,
        answers::Unavailable,
    )
)]
pub async fn documents_csv(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    export(&app, &caller, &id, CampaignExport::DocumentsCsv).await
}

/// The campaign's files: `REFERENCE/PIECE/REFERENCE_PIECE_N.EXT` (`non-classe` for
/// documents matched to no piece), stored uncompressed, with `SHA256SUMS` (check with
/// `sha256sum -c SHA256SUMS`). Withdrawn documents are left out; content that may not be
/// served (infected, or not scanned) is left out and listed in `NON_INCLUS.txt`. Written
/// whole before it is sent.
#[utoipa::path(
    get,
    path = "/campaigns/{id}/documents.zip",
    operation_id = "export_documents_zip",
    tag = "exports",
    security(("token" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The files; `Content-Disposition: attachment; filename=\"ID-documents.zip\"`",
            body = Binary, content_type = "application/zip"),
        answers::Unauthenticated,
        answers::Forbidden,
        answers::NotFound,
        answers::Unavailable,
    )
)]
pub async fn documents_zip(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    export(&app, &caller, &id, CampaignExport::DocumentsZip).await
}
