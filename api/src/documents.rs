//! Documents: upload (raw body or multipart `file`), content download, display copy (HEIC and
//! AVIF), pictures of the pages, staff review.

use axum::Json;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa::openapi::schema::{Object, Type};

use dossiers::ReviewDecision;
use ingest::App;
use ingest::content::{self, Disposition};
use ingest::pipeline::dossier::Snapshot;
use ingest::pipeline::{Arrival, Origin, actions, intake, render};

use crate::auth::{Caller, Role};
use crate::error::{ApiError, Error, ErrorBody, answers};
use crate::openapi::Binary;
use crate::request;
use crate::views::{self, FiledDocument};

/// The multipart form of an upload: its `file` field; other fields are ignored.
#[derive(ToSchema)]
#[allow(dead_code)] // Describes a form the handler reads field by field; never built.
pub struct UploadForm {
    /// The document, named by the part's `filename`.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

#[utoipa::path(
    post,
    path = "/dossiers/{reference}/pieces/{code}/documents",
    operation_id = "upload_document",
    tag = "documents",
    security(("token" = [])),
    params(("reference" = String, Path), ("code" = String, Path)),
    request_body(
        content(
            (Binary = "application/octet-stream"),
            (UploadForm = "multipart/form-data"),
        ),
        description = "The document, raw (name in `Content-Disposition`) or as a multipart `file` field"
    ),
    responses(
        (status = 201, description = "Stored and attached", body = FiledDocument),
        (status = 200, description = "The same bytes again: the same document", body = FiledDocument),
        answers::Malformed,
        answers::Unauthenticated,
        answers::Forbidden,
        answers::NotFound,
        answers::Conflict,
        (status = 413, description = "Beyond the piece size limit", body = ErrorBody),
        (status = 422, description = "Rejected by validation, with every reason", body = ErrorBody),
        answers::Unavailable,
    )
)]
pub async fn upload(
    State(app): State<App>,
    caller: Caller,
    Path((reference, piece)): Path<(String, String)>,
    request: Request,
) -> Result<(StatusCode, Json<FiledDocument>), ApiError> {
    caller.require(&[Role::Portal])?;
    let headers = request.headers().clone();
    let is_multipart = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    let outcome = if is_multipart {
        upload_multipart(&app, reference.clone(), piece, request, caller.actor()).await?
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
            actor: caller.actor(),
        };
        intake(&app, upload, request.into_body().into_data_stream()).await?
    };
    let scope = caller.campaigns.as_deref();
    let facts = views::facts(
        &app,
        &reference,
        std::slice::from_ref(&outcome.document),
        scope,
    )
    .await?;
    // The dossier as this intake left it: nothing to read again.
    let body = views::filed_document(&outcome.document, &outcome.dossier, &facts);
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
    actor: String,
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
            actor,
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

/// The bytes of a document, never rendered by the browser in guichet's origin. Each answer
/// with bytes is journaled in the dossier's history (`document.downloaded`, under the
/// caller); when the journal cannot record it, the download is refused (503).
#[utoipa::path(
    get,
    path = "/documents/{id}/content",
    operation_id = "document_content",
    tag = "documents",
    security(("token" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The bytes, as their detected media type (`application/pdf`, `image/jpeg`...)",
            body = Binary, content_type = "*/*"),
        (status = 304, description = "Not modified (ETag)"),
        answers::Unauthenticated,
        answers::Forbidden,
        answers::NotFound,
        answers::Conflict,
        answers::Gone,
        answers::Unavailable,
    )
)]
pub async fn content(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    caller.require(&[Role::Portal, Role::Staff])?;
    let (doc, if_none_match) = document_and_etag(&app, &id, &headers).await?;
    let served = content::serve(
        &app,
        &doc,
        Disposition::Attachment,
        if_none_match,
        &caller.actor(),
    )
    .await?;
    Ok(crate::served(served))
}

/// The JPEG display copy of a HEIC or AVIF document, for browsers, which do not draw those:
/// made at intake from the original (kept as it came), turned as the photo says, at most 2048
/// pixels a side, without metadata, with its piece's watermark drawn over it if the piece has
/// one. Journaled like the content.
#[utoipa::path(
    get,
    path = "/documents/{id}/display",
    operation_id = "document_display",
    tag = "documents",
    security(("token" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The display copy, a JPEG", body = Binary, content_type = "image/jpeg"),
        (status = 304, description = "Not modified (ETag)"),
        answers::Unauthenticated,
        answers::Forbidden,
        (status = 404, description = "Unknown document, or one without a display copy (`no_display_copy`: not HEIC or AVIF)", body = ErrorBody),
        answers::Conflict,
        answers::Gone,
        answers::Unavailable,
    )
)]
pub async fn display(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    caller.require(&[Role::Portal, Role::Staff])?;
    let (doc, if_none_match) = document_and_etag(&app, &id, &headers).await?;
    let served = content::serve_display(&app, &doc, if_none_match, &caller.actor()).await?;
    Ok(crate::served(served))
}

/// `GET /api/v1/documents/{id}/pages/{n}`: the width wanted.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Pixels; served by the smallest rendering at least as wide (a thumbnail of 200 pixels
    /// or a reading size of 1600), else the widest. Default: the reading size.
    width: Option<u32>,
}

/// A picture of one page of the document (1-based), rendered on the server in the background
/// after intake: a JPEG, EXIF orientation applied, without metadata, with its piece's
/// watermark drawn over it if the piece has one. A page that could not be rendered is a
/// placeholder, its reason in `X-Preview-Failure`.
#[utoipa::path(
    get,
    path = "/documents/{id}/pages/{n}",
    operation_id = "document_page",
    tag = "documents",
    security(("token" = [])),
    params(("id" = String, Path), ("n" = u32, Path, description = "The page, from 1"), PageQuery),
    responses(
        (status = 200, description = "The page's picture, a JPEG", body = Binary, content_type = "image/jpeg"),
        (status = 202, description = "Not rendered yet: ask again after `Retry-After` seconds", body = PagePending),
        (status = 304, description = "Not modified (ETag)"),
        answers::Malformed,
        answers::Unauthenticated,
        answers::Forbidden,
        (status = 404, description = "Unknown document, a page beyond its last (`unknown_page`), or a document that has no picture (`no_preview`: its kind does not render, or its rendering failed)", body = ErrorBody),
        answers::Conflict,
        answers::Gone,
        answers::Unavailable,
    )
)]
pub async fn page(
    State(app): State<App>,
    caller: Caller,
    Path((id, n)): Path<(String, String)>,
    query: Result<axum::extract::Query<PageQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let axum::extract::Query(query) = query.map_err(|e| Error::Malformed(e.body_text()))?;
    let n: u32 = n
        .parse()
        .map_err(|_| Error::Malformed(format!("page {n:?} is not a page number")))?;
    caller.require(&[Role::Portal, Role::Staff])?;
    let (doc, if_none_match) = document_and_etag(&app, &id, &headers).await?;
    let width = query.width.unwrap_or(render::READING_WIDTH_CLASS);
    match render::serve_page(&app, &doc, n, width, if_none_match).await? {
        render::PageAnswer::Ready(served) => Ok(crate::served(served)),
        render::PageAnswer::Pending => Ok((
            StatusCode::ACCEPTED,
            [(header::RETRY_AFTER, render::RETRY_AFTER_SECONDS.to_string())],
            Json(PagePending {
                previews: "pending",
            }),
        )
            .into_response()),
    }
}

/// The answer while a page is not rendered yet.
#[derive(serde::Serialize, ToSchema)]
pub struct PagePending {
    /// Always `pending`.
    previews: &'static str,
}

/// The stored document `id` (`unknown_document` otherwise), and the ETag the caller holds.
async fn document_and_etag<'h>(
    app: &App,
    id: &str,
    headers: &'h HeaderMap,
) -> Result<(storage::DocumentRecord, Option<&'h str>), ApiError> {
    let doc = app
        .repo
        .document(id)
        .await?
        .ok_or_else(|| Error::UnknownDocument(id.to_string()))?;
    let if_none_match = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    Ok((doc, if_none_match))
}

/// `POST /api/v1/documents/{id}/review`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Review)]
pub struct ReviewRequest {
    #[schema(schema_with = decision_names)]
    decision: String,
    /// Required with `reject`: shown to the candidate.
    #[serde(default)]
    reason: Option<String>,
}

/// The decisions [`review`] takes, with their past-tense synonyms.
const DECISIONS: [(&str, ReviewDecision); 4] = [
    ("accept", ReviewDecision::Accepted),
    ("accepted", ReviewDecision::Accepted),
    ("reject", ReviewDecision::Rejected),
    ("rejected", ReviewDecision::Rejected),
];

fn decision_names() -> Object {
    Object::builder()
        .schema_type(Type::String)
        .enum_values(Some(DECISIONS.map(|(name, _)| name)))
        .build()
}

#[utoipa::path(
    post,
    path = "/documents/{id}/review",
    operation_id = "review_document",
    tag = "documents",
    security(("token" = [])),
    params(("id" = String, Path)),
    request_body = ReviewRequest,
    responses(
        (status = 200, description = "Reviewed; the document and its dossier as they are now", body = FiledDocument),
        answers::Malformed,
        answers::Unauthenticated,
        answers::Forbidden,
        answers::NotFound,
        answers::Conflict,
        answers::Gone,
        answers::Unavailable,
    )
)]
pub async fn review(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<FiledDocument>, ApiError> {
    caller.require(&[Role::Staff])?;
    let review: ReviewRequest = request::json(&body)?;
    let decision = DECISIONS
        .iter()
        .find(|(name, _)| *name == review.decision)
        .map(|&(_, decision)| decision)
        .ok_or_else(|| {
            Error::Malformed(format!(
                "decision must be \"accept\" or \"reject\", not {:?}",
                review.decision
            ))
        })?;
    actions::review(
        &app,
        &id,
        decision,
        review.reason,
        &caller.name,
        &caller.actor(),
    )
    .await?;
    answer(&app, &caller, &id).await
}

/// The document `id` with its dossier, as it is now, as answers give it to `caller`.
pub async fn answer(app: &App, caller: &Caller, id: &str) -> Result<Json<FiledDocument>, ApiError> {
    let doc = app
        .repo
        .document(id)
        .await?
        .ok_or_else(|| Error::UnknownDocument(id.to_string()))?;
    let snapshot = Snapshot::read(app, &doc.dossier).await?;
    let scope = caller.campaigns.as_deref();
    let facts = views::facts(app, &doc.dossier, std::slice::from_ref(&doc), scope).await?;
    Ok(Json(views::filed_document(
        &doc,
        &snapshot.standing(),
        &facts,
    )))
}
