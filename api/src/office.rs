//! What an exam office does to a dossier beyond reviews: correction requests, assignment of a
//! document to a piece, candidate attributes, extensions and reopening (see
//! [`ingest::pipeline::office`]).

use axum::Json;
use axum::extract::{Path, State};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use ingest::App;
use ingest::pipeline::office::{self, Editor};

use crate::auth::{Caller, Role};
use crate::documents;
use crate::dossiers::answer;
use crate::error::{ApiError, answers};
use crate::request;
use crate::views::{Dossier, FiledDocument};

/// `POST /api/v1/dossiers/{reference}/pieces/{code}/corrections`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectionRequest {
    /// What the candidate must do, shown to them: not blank (400 `message_required`).
    #[serde(default)]
    message: String,
}

#[utoipa::path(
    post,
    path = "/dossiers/{reference}/pieces/{code}/corrections",
    operation_id = "request_correction",
    tag = "dossiers",
    security(("token" = [])),
    params(("reference" = String, Path), ("code" = String, Path)),
    request_body = CorrectionRequest,
    responses(
        (status = 200, description = "Asked; the dossier as it is now", body = Dossier),
        answers::Malformed,
        answers::Unauthenticated,
        answers::Forbidden,
        answers::NotFound,
        answers::Conflict,
        answers::Unavailable,
    )
)]
pub async fn request_correction(
    State(app): State<App>,
    caller: Caller,
    Path((reference, code)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Dossier>, ApiError> {
    caller.require(&[Role::Staff])?;
    let request: CorrectionRequest = request::json(&body)?;
    office::request_correction(&app, &reference, &code, &request.message, &caller.actor()).await?;
    answer(&app, &caller, &reference).await
}

/// `POST /api/v1/documents/{id}/assign`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    /// The code of the piece the document is for.
    piece: String,
}

#[utoipa::path(
    post,
    path = "/documents/{id}/assign",
    operation_id = "assign_document",
    tag = "documents",
    security(("token" = [])),
    params(("id" = String, Path)),
    request_body = AssignRequest,
    responses(
        (status = 200, description = "Filed under the piece and judged against it; the document and its dossier as they are now", body = FiledDocument),
        answers::Malformed,
        answers::Unauthenticated,
        answers::Forbidden,
        answers::NotFound,
        answers::Conflict,
        answers::Unavailable,
    )
)]
pub async fn assign(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<FiledDocument>, ApiError> {
    caller.require(&[Role::Staff])?;
    let request: AssignRequest = request::json(&body)?;
    office::assign(&app, &id, &request.piece, &caller.actor()).await?;
    documents::answer(&app, &caller, &id).await
}

/// `PATCH /api/v1/dossiers/{reference}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DossierPatch {
    /// A JSON merge patch of the candidate's attributes: a key given replaces the stored
    /// value, a key given `null` is removed, a key left out is kept.
    #[schema(value_type = Object)]
    candidate: Map<String, Value>,
}

#[utoipa::path(
    patch,
    path = "/dossiers/{reference}",
    operation_id = "update_dossier",
    tag = "dossiers",
    security(("token" = [])),
    params(("reference" = String, Path)),
    request_body = DossierPatch,
    responses(
        (status = 200, description = "Updated (or unchanged); the dossier with its requirements recomputed", body = Dossier),
        answers::Malformed,
        answers::Unauthenticated,
        answers::Forbidden,
        answers::NotFound,
        answers::Conflict,
        answers::Unavailable,
    )
)]
pub async fn update(
    State(app): State<App>,
    caller: Caller,
    Path(reference): Path<String>,
    body: Bytes,
) -> Result<Json<Dossier>, ApiError> {
    caller.require(&[Role::Portal, Role::Staff])?;
    let patch: DossierPatch = request::json(&body)?;
    let editor = if caller.role == Role::Portal {
        Editor::Portal
    } else {
        Editor::Staff
    };
    office::update_candidate(&app, &reference, &patch.candidate, editor, &caller.actor()).await?;
    answer(&app, &caller, &reference).await
}

/// `POST /api/v1/dossiers/{reference}/extension`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionRequest {
    /// Until when the dossier takes documents (RFC 3339), in the future.
    until: DateTime<Utc>,
    /// Why, for the history: not blank (400 `reason_required`).
    #[serde(default)]
    reason: String,
}

#[utoipa::path(
    post,
    path = "/dossiers/{reference}/extension",
    operation_id = "extend_dossier",
    tag = "dossiers",
    security(("token" = [])),
    params(("reference" = String, Path)),
    request_body = ExtensionRequest,
    responses(
        (status = 200, description = "Extended; the dossier with its new `deadline`", body = Dossier),
        answers::Malformed,
        answers::Unauthenticated,
        answers::Forbidden,
        answers::NotFound,
        answers::Conflict,
        answers::Unavailable,
    )
)]
pub async fn extend(
    State(app): State<App>,
    caller: Caller,
    Path(reference): Path<String>,
    body: Bytes,
) -> Result<Json<Dossier>, ApiError> {
    caller.require(&[Role::Staff])?;
    let request: ExtensionRequest = request::json(&body)?;
    office::extend(
        &app,
        &reference,
        request.until,
        &request.reason,
        &caller.actor(),
    )
    .await?;
    answer(&app, &caller, &reference).await
}

/// `POST /api/v1/dossiers/{reference}/reopen`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReopenRequest {
    /// Why, for the history: not blank (400 `reason_required`).
    #[serde(default)]
    reason: String,
}

#[utoipa::path(
    post,
    path = "/dossiers/{reference}/reopen",
    operation_id = "reopen_dossier",
    tag = "dossiers",
    security(("token" = [])),
    params(("reference" = String, Path)),
    request_body = ReopenRequest,
    responses(
        (status = 200, description = "Reopened: complete, or submitted when no longer complete", body = Dossier),
        answers::Malformed,
        answers::Unauthenticated,
        answers::Forbidden,
        answers::NotFound,
        answers::Conflict,
        answers::Unavailable,
    )
)]
pub async fn reopen(
    State(app): State<App>,
    caller: Caller,
    Path(reference): Path<String>,
    body: Bytes,
) -> Result<Json<Dossier>, ApiError> {
    caller.require(&[Role::Admin])?;
    let request: ReopenRequest = request::json(&body)?;
    office::reopen(&app, &reference, &request.reason, &caller.actor()).await?;
    answer(&app, &caller, &reference).await
}
