//! Dossiers: create (idempotent), read, submit, close, withdraw a document.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;

use super::request;
use crate::auth::{Caller, Role};
use crate::error::ApiError;
use crate::views;
use ingest::App;
use ingest::pipeline::actions;
use ingest::pipeline::dossier::Snapshot;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewDossier {
    campaign: String,
    reference: String,
    #[serde(default = "empty_object")]
    candidate: Value,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

#[utoipa::path(post, path = "/api/v1/dossiers", tag = "dossiers", security(("token" = [])), request_body = crate::openapi::NewDossier, responses((status = 201, description = "Created", body = Object), (status = 200, description = "Already there, the same dossier", body = Object), (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody), (status = 401, description = "No token, or an unknown one", body = crate::openapi::ErrorBody), (status = 403, description = "This role may not, or not now", body = crate::openapi::ErrorBody), (status = 404, description = "Unknown campaign, dossier, piece, document or endpoint", body = crate::openapi::ErrorBody), (status = 409, description = "Conflicts with the current state", body = crate::openapi::ErrorBody), (status = 503, description = "A dependency is down; retry after `Retry-After`", body = crate::openapi::ErrorBody)))]
pub async fn create(
    State(app): State<App>,
    caller: Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(&[Role::Portal])?;
    let new: NewDossier = request::json(&body)?;
    let (_, created) =
        actions::create_dossier(&app, &new.campaign, &new.reference, new.candidate).await?;
    let snapshot = Snapshot::read(&app, &new.reference).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(views::dossier(&snapshot))))
}

#[utoipa::path(get, path = "/api/v1/dossiers/{reference}", tag = "dossiers", security(("token" = [])), params(("reference" = String, Path)), responses((status = 200, description = "The dossier, its pieces and documents", body = Object), (status = 401, description = "No token, or an unknown one", body = crate::openapi::ErrorBody), (status = 403, description = "This role may not, or not now", body = crate::openapi::ErrorBody), (status = 404, description = "Unknown campaign, dossier, piece, document or endpoint", body = crate::openapi::ErrorBody), (status = 503, description = "A dependency is down; retry after `Retry-After`", body = crate::openapi::ErrorBody)))]
pub async fn read(
    State(app): State<App>,
    caller: Caller,
    Path(reference): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(&[Role::Portal, Role::Staff])?;
    let snapshot = Snapshot::read(&app, &reference).await?;
    Ok(Json(views::dossier(&snapshot)))
}

#[utoipa::path(post, path = "/api/v1/dossiers/{reference}/submit", tag = "dossiers", security(("token" = [])), params(("reference" = String, Path)), responses((status = 200, description = "Submitted", body = Object), (status = 401, description = "No token, or an unknown one", body = crate::openapi::ErrorBody), (status = 403, description = "This role may not, or not now", body = crate::openapi::ErrorBody), (status = 404, description = "Unknown campaign, dossier, piece, document or endpoint", body = crate::openapi::ErrorBody), (status = 409, description = "Conflicts with the current state", body = crate::openapi::ErrorBody), (status = 503, description = "A dependency is down; retry after `Retry-After`", body = crate::openapi::ErrorBody)))]
pub async fn submit(
    State(app): State<App>,
    caller: Caller,
    Path(reference): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(&[Role::Portal])?;
    actions::submit(&app, &reference).await?;
    let snapshot = Snapshot::read(&app, &reference).await?;
    Ok(Json(views::dossier(&snapshot)))
}

#[utoipa::path(post, path = "/api/v1/dossiers/{reference}/close", tag = "dossiers", security(("token" = [])), params(("reference" = String, Path)), responses((status = 200, description = "Closed", body = Object), (status = 401, description = "No token, or an unknown one", body = crate::openapi::ErrorBody), (status = 403, description = "This role may not, or not now", body = crate::openapi::ErrorBody), (status = 404, description = "Unknown campaign, dossier, piece, document or endpoint", body = crate::openapi::ErrorBody), (status = 409, description = "Conflicts with the current state", body = crate::openapi::ErrorBody), (status = 503, description = "A dependency is down; retry after `Retry-After`", body = crate::openapi::ErrorBody)))]
pub async fn close(
    State(app): State<App>,
    caller: Caller,
    Path(reference): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(&[Role::Staff])?;
    actions::close(&app, &reference).await?;
    let snapshot = Snapshot::read(&app, &reference).await?;
    Ok(Json(views::dossier(&snapshot)))
}

#[utoipa::path(delete, path = "/api/v1/dossiers/{reference}/documents/{id}", tag = "dossiers", security(("token" = [])), params(("reference" = String, Path), ("id" = String, Path)), responses((status = 200, description = "Withdrawn; the dossier as it is now", body = Object), (status = 401, description = "No token, or an unknown one", body = crate::openapi::ErrorBody), (status = 403, description = "This role may not, or not now", body = crate::openapi::ErrorBody), (status = 404, description = "Unknown campaign, dossier, piece, document or endpoint", body = crate::openapi::ErrorBody), (status = 409, description = "Conflicts with the current state", body = crate::openapi::ErrorBody), (status = 503, description = "A dependency is down; retry after `Retry-After`", body = crate::openapi::ErrorBody)))]
pub async fn withdraw(
    State(app): State<App>,
    caller: Caller,
    Path((reference, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    caller.require(&[Role::Portal])?;
    actions::withdraw(&app, &reference, &id).await?;
    let snapshot = Snapshot::read(&app, &reference).await?;
    Ok(Json(views::dossier(&snapshot)))
}
