//! Documents: upload (raw body or multipart `file`), content download, staff review.

use axum::Json;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;

use dossiers::ReviewDecision;
use ingest::App;
use ingest::content::{self, Disposition};
use ingest::pipeline::dossier::Snapshot;
use ingest::pipeline::{Arrival, Origin, actions, intake};

use crate::auth::{Caller, Role};
use crate::error::{ApiError, Error};
use crate::{request, views};

#[utoipa::path(post, path = "/api/v1/dossiers/{reference}/pieces/{code}/documents", tag = "documents", security(("token" = [])), params(("reference" = String, Path), ("code" = String, Path)), request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The document, raw (name in `Content-Disposition`) or as a multipart `file` field"), responses((status = 201, description = "Stored and attached", body = Object), (status = 200, description = "The same bytes again: the same document", body = Object), (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody), (status = 401, description = "No token, or an unknown one", body = crate::openapi::ErrorBody), (status = 403, description = "This role may not, or not now", body = crate::openapi::ErrorBody), (status = 404, description = "Unknown campaign, dossier, piece, document or endpoint", body = crate::openapi::ErrorBody), (status = 409, description = "Conflicts with the current state", body = crate::openapi::ErrorBody), (status = 413, description = "Beyond the piece size limit", body = crate::openapi::ErrorBody), (status = 422, description = "Rejected by validation, with every reason", body = crate::openapi::ErrorBody), (status = 503, description = "A dependency is down; retry after `Retry-After`", body = crate::openapi::ErrorBody)))]
pub async fn upload(
    State(app): State<App>,
    caller: Caller,
    Path((reference, piece)): Path<(String, String)>,
    request: Request,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(&[Role::Portal])?;
    let headers = request.headers().clone();
    let is_multipart = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    let outcome = if is_multipart {
        upload_multipart(&app, reference.clone(), piece, request).await?
    } else {
        let upload = Arrival {
            reference: reference.clone(),
            piece: Some(piece),
            filename: request::declared_filename(
                header_text(&headers, header::CONTENT_DISPOSITION)
                    .and_then(|v| request::content_disposition_filename(&v)),
            )?,
            content_type: header_text(&headers, header::CONTENT_TYPE),
            content_length: header_text(&headers, header::CONTENT_LENGTH)
                .and_then(|v| v.parse().ok()),
            origin: Origin::Upload,
            by: None,
        };
        intake(&app, upload, request.into_body().into_data_stream()).await?
    };
    let snapshot = Snapshot::read(&app, &reference).await?;
    let mut body = views::document(&outcome.document);
    body["dossier"] = views::dossier_summary(&snapshot);
    let status = if outcome.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(body)))
}

/// The `file` field of a multipart form, streamed like a raw body; other fields are ignored.
async fn upload_multipart(
    app: &App,
    reference: String,
    piece: String,
    request: Request,
) -> Result<ingest::pipeline::Intake, ApiError> {
    let mut multipart = Multipart::from_request(request, app)
        .await
        .map_err(|e| Error::Malformed(e.body_text()))?;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| Error::Malformed(e.body_text()))?
    {
        if field.name() != Some("file") {
            continue;
        }
        let upload = Arrival {
            reference,
            piece: Some(piece),
            filename: request::declared_filename(field.file_name().map(str::to_string))?,
            content_type: field.content_type().map(str::to_string),
            // The form's length is not the file's: the limit is enforced while streaming.
            content_length: None,
            origin: Origin::Upload,
            by: None,
        };
        let stream = futures::stream::unfold(field, |mut field| async move {
            match field.chunk().await {
                Ok(Some(chunk)) => Some((Ok::<Bytes, String>(chunk), field)),
                Ok(None) => None,
                Err(e) => Some((Err(e.body_text()), field)),
            }
        });
        return Ok(intake(app, upload, stream).await?);
    }
    Err(Error::Malformed("the multipart form has no `file` field".into()).into())
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The bytes of a document, never rendered by the browser in guichet's origin.
#[utoipa::path(get, path = "/api/v1/documents/{id}/content", tag = "documents", security(("token" = [])), params(("id" = String, Path)), responses((status = 200, description = "The bytes", content_type = "application/octet-stream"), (status = 304, description = "Not modified (ETag)"), (status = 401, description = "No token, or an unknown one", body = crate::openapi::ErrorBody), (status = 403, description = "This role may not, or not now", body = crate::openapi::ErrorBody), (status = 404, description = "Unknown campaign, dossier, piece, document or endpoint", body = crate::openapi::ErrorBody), (status = 409, description = "Conflicts with the current state", body = crate::openapi::ErrorBody), (status = 503, description = "A dependency is down; retry after `Retry-After`", body = crate::openapi::ErrorBody)))]
pub async fn content(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    caller.require(&[Role::Portal, Role::Staff])?;
    let doc = app
        .repo
        .document(&id)
        .await?
        .ok_or_else(|| Error::UnknownDocument(id.clone()))?;
    let if_none_match = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    let served = content::serve(&app, &doc, Disposition::Attachment, if_none_match).await?;
    Ok(crate::served(served))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewRequest {
    decision: String,
    #[serde(default)]
    reason: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/documents/{id}/review", tag = "documents", security(("token" = [])), params(("id" = String, Path)), request_body = crate::openapi::Review, responses((status = 200, description = "Reviewed; the dossier as it is now", body = Object), (status = 400, description = "Malformed request", body = crate::openapi::ErrorBody), (status = 401, description = "No token, or an unknown one", body = crate::openapi::ErrorBody), (status = 403, description = "This role may not, or not now", body = crate::openapi::ErrorBody), (status = 404, description = "Unknown campaign, dossier, piece, document or endpoint", body = crate::openapi::ErrorBody), (status = 409, description = "Conflicts with the current state", body = crate::openapi::ErrorBody), (status = 503, description = "A dependency is down; retry after `Retry-After`", body = crate::openapi::ErrorBody)))]
pub async fn review(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(&[Role::Staff])?;
    let review: ReviewRequest = request::json(&body)?;
    let decision = match review.decision.as_str() {
        "accept" | "accepted" => ReviewDecision::Accepted,
        "reject" | "rejected" => ReviewDecision::Rejected,
        other => {
            return Err(Error::Malformed(format!(
                "decision must be \"accept\" or \"reject\", not {other:?}"
            ))
            .into());
        }
    };
    actions::review(&app, &id, decision, review.reason, &caller.name).await?;
    let doc = app
        .repo
        .document(&id)
        .await?
        .ok_or_else(|| Error::UnknownDocument(id.clone()))?;
    let snapshot = Snapshot::read(&app, &doc.dossier).await?;
    let mut body = views::document(&doc);
    body["dossier"] = views::dossier_summary(&snapshot);
    Ok(Json(body))
}
