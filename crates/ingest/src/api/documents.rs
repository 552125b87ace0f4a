//! Documents: upload (raw body or multipart `file`), content download, staff review.

use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;
use tokio_util::io::ReaderStream;

use dossiers::ReviewDecision;
use storage::ContentKey;

use super::request;
use crate::app::App;
use crate::auth::{Caller, Role};
use crate::error::Error;
use crate::pipeline::dossier::Snapshot;
use crate::pipeline::{Upload, actions, intake, scan};
use crate::views;

#[utoipa::path(post, path = "/api/v1/dossiers/{reference}/pieces/{code}/documents", tag = "documents", security(("token" = [])), params(("reference" = String, Path), ("code" = String, Path)), request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The document, raw (name in `Content-Disposition`) or as a multipart `file` field"), responses((status = 201, description = "Stored and attached", body = Object), (status = 200, description = "The same bytes again: the same document", body = Object), (status = 400, description = "Malformed request", body = crate::api::openapi::ErrorBody), (status = 401, description = "No token, or an unknown one", body = crate::api::openapi::ErrorBody), (status = 403, description = "This role may not, or not now", body = crate::api::openapi::ErrorBody), (status = 404, description = "Unknown campaign, dossier, piece, document or endpoint", body = crate::api::openapi::ErrorBody), (status = 409, description = "Conflicts with the current state", body = crate::api::openapi::ErrorBody), (status = 413, description = "Beyond the piece size limit", body = crate::api::openapi::ErrorBody), (status = 422, description = "Rejected by validation, with every reason", body = crate::api::openapi::ErrorBody), (status = 503, description = "A dependency is down; retry after `Retry-After`", body = crate::api::openapi::ErrorBody)))]
pub async fn upload(
    State(app): State<App>,
    caller: Caller,
    Path((reference, piece)): Path<(String, String)>,
    request: Request,
) -> Result<(StatusCode, Json<Value>), Error> {
    caller.require(&[Role::Portal])?;
    let headers = request.headers().clone();
    let is_multipart = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    let outcome = if is_multipart {
        upload_multipart(&app, reference.clone(), piece, request).await?
    } else {
        let upload = Upload {
            reference: reference.clone(),
            piece,
            filename: request::declared_filename(
                header_text(&headers, header::CONTENT_DISPOSITION)
                    .and_then(|v| request::content_disposition_filename(&v)),
            )?,
            content_type: header_text(&headers, header::CONTENT_TYPE),
            content_length: header_text(&headers, header::CONTENT_LENGTH)
                .and_then(|v| v.parse().ok()),
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
) -> Result<crate::pipeline::Intake, Error> {
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
        let upload = Upload {
            reference,
            piece,
            filename: request::declared_filename(field.file_name().map(str::to_string))?,
            content_type: field.content_type().map(str::to_string),
            // The form's length is not the file's: the limit is enforced while streaming.
            content_length: None,
        };
        let stream = futures::stream::unfold(field, |mut field| async move {
            match field.chunk().await {
                Ok(Some(chunk)) => Some((Ok::<Bytes, String>(chunk), field)),
                Ok(None) => None,
                Err(e) => Some((Err(e.body_text()), field)),
            }
        });
        return intake(app, upload, stream).await;
    }
    Err(Error::Malformed(
        "the multipart form has no `file` field".into(),
    ))
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The bytes of a document, never rendered by the browser in guichet's origin.
#[utoipa::path(get, path = "/api/v1/documents/{id}/content", tag = "documents", security(("token" = [])), params(("id" = String, Path)), responses((status = 200, description = "The bytes", content_type = "application/octet-stream"), (status = 304, description = "Not modified (ETag)"), (status = 401, description = "No token, or an unknown one", body = crate::api::openapi::ErrorBody), (status = 403, description = "This role may not, or not now", body = crate::api::openapi::ErrorBody), (status = 404, description = "Unknown campaign, dossier, piece, document or endpoint", body = crate::api::openapi::ErrorBody), (status = 409, description = "Conflicts with the current state", body = crate::api::openapi::ErrorBody), (status = 503, description = "A dependency is down; retry after `Retry-After`", body = crate::api::openapi::ErrorBody)))]
pub async fn content(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    caller.require(&[Role::Portal, Role::Staff])?;
    let doc = app
        .repo
        .document(&id)
        .await?
        .ok_or_else(|| Error::UnknownDocument(id.clone()))?;
    scan::check_servable(&doc)?;
    let etag = format!("\"{}\"", doc.sha256);
    let mut response_headers = HeaderMap::new();
    let mut set = |name: header::HeaderName, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            response_headers.insert(name, value);
        }
    };
    set(header::ETAG, &etag);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::CONTENT_SECURITY_POLICY, "sandbox");
    set(header::CACHE_CONTROL, "private, no-cache");
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    if matches {
        return Ok((StatusCode::NOT_MODIFIED, response_headers).into_response());
    }
    let key = ContentKey::from_hex(&doc.sha256)
        .ok_or_else(|| Error::Internal(format!("stored digest of {id} is not a key")))?;
    let blob = app.blobs.open(&key).await?.ok_or(Error::ContentMissing)?;
    set(header::CONTENT_TYPE, &doc.mime);
    set(header::CONTENT_LENGTH, &blob.size.to_string());
    set(
        header::CONTENT_DISPOSITION,
        &attachment(doc.filename.as_deref(), &doc.id, &doc.kind),
    );
    let body = Body::from_stream(ReaderStream::new(blob.reader));
    Ok((StatusCode::OK, response_headers, body).into_response())
}

/// `attachment` with an ASCII fallback name and the exact name in RFC 5987 form.
fn attachment(filename: Option<&str>, id: &str, kind: &str) -> String {
    let fallback = format!("{id}.{kind}");
    let name = filename.unwrap_or(&fallback);
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewRequest {
    decision: String,
    #[serde(default)]
    reason: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/documents/{id}/review", tag = "documents", security(("token" = [])), params(("id" = String, Path)), request_body = crate::api::openapi::Review, responses((status = 200, description = "Reviewed; the dossier as it is now", body = Object), (status = 400, description = "Malformed request", body = crate::api::openapi::ErrorBody), (status = 401, description = "No token, or an unknown one", body = crate::api::openapi::ErrorBody), (status = 403, description = "This role may not, or not now", body = crate::api::openapi::ErrorBody), (status = 404, description = "Unknown campaign, dossier, piece, document or endpoint", body = crate::api::openapi::ErrorBody), (status = 409, description = "Conflicts with the current state", body = crate::api::openapi::ErrorBody), (status = 503, description = "A dependency is down; retry after `Retry-After`", body = crate::api::openapi::ErrorBody)))]
pub async fn review(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, Error> {
    caller.require(&[Role::Staff])?;
    let review: ReviewRequest = request::json(&body)?;
    let decision = match review.decision.as_str() {
        "accept" | "accepted" => ReviewDecision::Accepted,
        "reject" | "rejected" => ReviewDecision::Rejected,
        other => {
            return Err(Error::Malformed(format!(
                "decision must be \"accept\" or \"reject\", not {other:?}"
            )));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachment_names_are_safe_and_exact() {
        let value = attachment(Some("pièce \"1\".pdf"), "id", "pdf");
        assert!(value.starts_with("attachment; filename=\"pi_ce _1_.pdf\""));
        assert!(value.contains("filename*=UTF-8''pi%C3%A8ce%20%221%22%2Epdf"));
        assert_eq!(
            attachment(None, "abc", "pdf"),
            "attachment; filename=\"abc.pdf\"; filename*=UTF-8''abc%2Epdf"
        );
    }
}
