//! Resumable uploads with the tus 1.0 protocol (<https://tus.io/protocols/resumable-upload>),
//! for candidates on flaky networks: core, creation, creation-with-upload, termination,
//! checksum (sha1 and sha256) and expiration, at `/dossiers/{reference}/pieces/{code}/uploads`. The
//! work is `ingest::pipeline::resumable`'s; this is its HTTP.
//!
//! Beside the protocol, `GET` on an upload answers its state as JSON: how far it got, the
//! document it became, or why intake refused it. A refused upload answers `HEAD` and `PATCH`
//! with 409 `upload_refused` and the refusal: a client that lost the last answer learns the
//! verdict instead of starting again.

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use ingest::App;
use ingest::pipeline::resumable::{self, Checksum, NewUpload};
use storage::{UploadRecord, upload_state};

use crate::auth::{Caller, Role};
use crate::error::{ApiError, Error, ErrorBody, ErrorDetail};
use crate::openapi::Binary;
use crate::request;

pub const TUS_VERSION: &str = "1.0.0";
const EXTENSIONS: &str = "creation,creation-with-upload,termination,checksum,expiration";
const OFFSET_STREAM: &str = "application/offset+octet-stream";

const TUS_RESUMABLE: HeaderName = HeaderName::from_static("tus-resumable");
const UPLOAD_OFFSET: HeaderName = HeaderName::from_static("upload-offset");
const UPLOAD_LENGTH: HeaderName = HeaderName::from_static("upload-length");
const UPLOAD_METADATA: HeaderName = HeaderName::from_static("upload-metadata");
const UPLOAD_EXPIRES: HeaderName = HeaderName::from_static("upload-expires");
const UPLOAD_CHECKSUM: HeaderName = HeaderName::from_static("upload-checksum");
const UPLOAD_DEFER_LENGTH: HeaderName = HeaderName::from_static("upload-defer-length");
/// What a path segment keeps as it is: RFC 3986's unreserved characters.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The document a finished upload became (not part of tus).
const GUICHET_DOCUMENT: HeaderName = HeaderName::from_static("guichet-document");

/// Middleware for the tus routes: every answer says the protocol version, errors included.
pub async fn version_header(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(TUS_RESUMABLE, HeaderValue::from_static(TUS_VERSION));
    response
}

/// The answers of the tus routes, each described once for the OpenAPI document, beside the
/// API's shared ones. Never built: answers are built from [`ErrorBody`].
mod answers {
    use utoipa::IntoResponses;

    use crate::error::ErrorBody;
    pub use crate::error::answers::*;

    #[derive(IntoResponses)]
    #[response(status = 410, description = "The upload expired")]
    #[allow(dead_code)]
    pub struct Expired(ErrorBody);

    #[derive(IntoResponses)]
    #[response(
        status = 412,
        description = "Not tus 1.0.0: `Tus-Version` says what is spoken"
    )]
    #[allow(dead_code)]
    pub struct NotTus(ErrorBody);

    #[derive(IntoResponses)]
    #[response(status = 413, description = "Beyond the piece's size limit")]
    #[allow(dead_code)]
    pub struct TooLarge(ErrorBody);

    #[derive(IntoResponses)]
    #[response(
        status = 415,
        description = "Bytes not sent as `application/offset+octet-stream`"
    )]
    #[allow(dead_code)]
    pub struct NotOffsetStream(ErrorBody);

    #[derive(IntoResponses)]
    #[response(
        status = 422,
        description = "Every byte in, and intake refused the document, with every reason"
    )]
    #[allow(dead_code)]
    pub struct Refused(ErrorBody);

    #[derive(IntoResponses)]
    #[response(status = 423, description = "Another request is writing it; retry")]
    #[allow(dead_code)]
    pub struct Locked(ErrorBody);

    #[derive(IntoResponses)]
    #[response(
        status = 460,
        description = "The bytes do not match `Upload-Checksum`; they were discarded"
    )]
    #[allow(dead_code)]
    pub struct ChecksumMismatch(ErrorBody);
}

/// An upload as `GET` answers it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadView {
    pub id: String,
    /// Bytes received.
    pub offset: u64,
    /// Bytes announced.
    pub length: u64,
    /// `receiving`, `received` (every byte in, being filed), `filed` or `refused`.
    pub state: String,
    /// The document it became, once filed.
    pub document: Option<String>,
    /// Why intake refused it (`code`, `message`, `details`), when it did.
    #[schema(value_type = Option<Object>)]
    pub refusal: Option<Value>,
    pub expires_at: DateTime<Utc>,
}

impl From<&UploadRecord> for UploadView {
    fn from(upload: &UploadRecord) -> Self {
        UploadView {
            id: upload.id.clone(),
            offset: upload.offset,
            length: upload.length,
            state: upload.state.clone(),
            document: upload.document.clone(),
            refusal: upload.outcome.clone(),
            expires_at: upload.expires_at,
        }
    }
}

/// A refusal of the protocol itself (a version or media type it does not speak), answered
/// with the usual error body.
fn protocol_refusal(status: StatusCode, code: &'static str, message: &str) -> Response {
    let body = ErrorBody {
        error: ErrorDetail {
            code,
            message: message.to_string(),
            details: serde_json::json!({}),
        },
    };
    let mut response = (status, Json(body)).into_response();
    response
        .headers_mut()
        .insert("tus-version", HeaderValue::from_static(TUS_VERSION));
    response
}

/// 412 unless the request speaks tus 1.0.0.
fn unsupported_version(headers: &HeaderMap) -> Option<Response> {
    (headers.get(TUS_RESUMABLE).and_then(|v| v.to_str().ok()) != Some(TUS_VERSION)).then(|| {
        protocol_refusal(
            StatusCode::PRECONDITION_FAILED,
            "unsupported_tus_version",
            "this server speaks tus 1.0.0: send `Tus-Resumable: 1.0.0`",
        )
    })
}

/// 415 unless the body is `application/offset+octet-stream`.
fn not_offset_stream(headers: &HeaderMap) -> Option<Response> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
    (content_type.as_deref() != Some(OFFSET_STREAM)).then(|| {
        protocol_refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "upload bytes are sent as `application/offset+octet-stream`",
        )
    })
}

/// A header holding a non-negative integer.
fn number(headers: &HeaderMap, name: &HeaderName) -> Result<Option<u64>, Error> {
    headers
        .get(name)
        .map(|v| {
            v.to_str()
                .ok()
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| Error::Malformed(format!("{name} must be a non-negative integer")))
        })
        .transpose()
}

/// The digest an `Upload-Checksum` header gives (`sha1 <base64>` or `sha256 <base64>`); other
/// algorithms are refused.
fn checksum(headers: &HeaderMap) -> Result<Option<Checksum>, Error> {
    let Some(value) = headers.get(UPLOAD_CHECKSUM) else {
        return Ok(None);
    };
    let malformed = |why: &str| Error::Malformed(format!("Upload-Checksum: {why}"));
    let value = value.to_str().map_err(|_| malformed("not text"))?;
    let (algorithm, digest) = value
        .trim()
        .split_once(' ')
        .ok_or_else(|| malformed("expected `sha1 <base64>` or `sha256 <base64>`"))?;
    let digest = BASE64
        .decode(digest.trim())
        .map_err(|_| malformed("the digest is not base64"))?;
    let wrong_length = |_| malformed("the digest's length is not its algorithm's");
    match algorithm.to_ascii_lowercase().as_str() {
        "sha1" => Ok(Some(Checksum::Sha1(
            digest.try_into().map_err(wrong_length)?,
        ))),
        "sha256" => Ok(Some(Checksum::Sha256(
            digest.try_into().map_err(wrong_length)?,
        ))),
        _ => Err(malformed("the algorithms supported are sha1 and sha256")),
    }
}

fn text(value: impl ToString) -> HeaderValue {
    HeaderValue::from_str(&value.to_string()).expect("numbers, dates and ids are header values")
}

/// The headers every answer about an upload carries.
fn progress_headers(upload: &UploadRecord, response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(UPLOAD_OFFSET, text(upload.offset));
    headers.insert(
        UPLOAD_EXPIRES,
        text(upload.expires_at.format("%a, %d %b %Y %H:%M:%S GMT")),
    );
    if let Some(document) = &upload.document {
        headers.insert(GUICHET_DOCUMENT, text(document));
    }
}

/// Where an upload lives, for `Location`.
fn location(reference: &str, piece: &str, id: &str) -> String {
    format!(
        "/api/v1/dossiers/{}/pieces/{}/uploads/{id}",
        utf8_percent_encode(reference, SEGMENT),
        utf8_percent_encode(piece, SEGMENT),
    )
}

/// A refused upload answers its refusal.
fn unless_refused(upload: UploadRecord) -> Result<UploadRecord, Error> {
    if upload.state == upload_state::REFUSED {
        return Err(Error::UploadRefused {
            refusal: upload.outcome.unwrap_or_default(),
        });
    }
    Ok(upload)
}

#[utoipa::path(
    options,
    path = "/dossiers/{reference}/pieces/{code}/uploads",
    operation_id = "describe_uploads",
    tag = "uploads",
    params(("reference" = String, Path), ("code" = String, Path)),
    responses(
        (status = 204, description = "What this server speaks of tus",
            headers(
                ("Tus-Version" = String, description = "`1.0.0`"),
                ("Tus-Extension" = String, description = "The extensions supported"),
                ("Tus-Max-Size" = u64, description = "The largest upload (a piece may allow less)"),
                ("Tus-Checksum-Algorithm" = String, description = "`sha1,sha256`"),
            )),
    )
)]
pub async fn describe(State(app): State<App>) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert("tus-version", HeaderValue::from_static(TUS_VERSION));
    headers.insert("tus-extension", HeaderValue::from_static(EXTENSIONS));
    headers.insert("tus-max-size", text(app.settings.max_body_bytes));
    headers.insert(
        "tus-checksum-algorithm",
        HeaderValue::from_static("sha1,sha256"),
    );
    response
}

#[utoipa::path(
    post,
    path = "/dossiers/{reference}/pieces/{code}/uploads",
    operation_id = "create_upload",
    tag = "uploads",
    security(("token" = [])),
    params(
        ("reference" = String, Path), ("code" = String, Path),
        ("Tus-Resumable" = String, Header, pattern = r"^1\.0\.0$",
            description = "The protocol's version, `1.0.0`"),
        ("Upload-Length" = u64, Header, description = "The document's size in bytes"),
        ("Upload-Metadata" = Option<String>, Header,
            description = "`filename` and `filetype` (or `name` and `type`), base64"),
        ("Upload-Checksum" = Option<String>, Header,
            description = "`sha1 <base64>` or `sha256 <base64>` of the bytes sent with the creation"),
    ),
    request_body(
        content((Binary = "application/offset+octet-stream")),
        description = "Optionally, the first bytes (creation-with-upload)"
    ),
    responses(
        (status = 201, description = "Created; `Upload-Offset` says how many bytes it holds",
            body = UploadView,
            headers(
                ("Location" = String, description = "The upload's URL"),
                ("Upload-Offset" = u64, description = "Bytes received"),
                ("Upload-Expires" = String, description = "When an unfinished upload goes"),
            )),
        answers::Malformed,
        answers::Unauthenticated,
        answers::Forbidden,
        answers::NotFound,
        answers::Conflict,
        answers::NotTus,
        answers::TooLarge,
        answers::NotOffsetStream,
        answers::Refused,
        answers::Locked,
        answers::ChecksumMismatch,
        answers::Unavailable,
    )
)]
pub async fn create(
    State(app): State<App>,
    caller: Caller,
    Path((reference, piece)): Path<(String, String)>,
    request: Request,
) -> Result<Response, ApiError> {
    caller.require(&[Role::Portal])?;
    let headers = request.headers().clone();
    if let Some(refused) = unsupported_version(&headers) {
        return Ok(refused);
    }
    if headers.contains_key(UPLOAD_DEFER_LENGTH) {
        return Err(Error::Malformed(
            "Upload-Defer-Length is not supported: announce Upload-Length".into(),
        )
        .into());
    }
    let length = number(&headers, &UPLOAD_LENGTH)?
        .ok_or_else(|| Error::Malformed("Upload-Length is required".into()))?;
    let metadata = headers
        .get(UPLOAD_METADATA)
        .map(|v| {
            v.to_str()
                .map(str::to_string)
                .map_err(|_| Error::Malformed("Upload-Metadata is not text".into()))
        })
        .transpose()?;
    let (filename, _) = resumable::declared(metadata.as_deref())?;
    request::declared_filename(filename)?;
    let with_bytes = number(&headers, &header::CONTENT_LENGTH)?.unwrap_or(0) > 0
        || headers.contains_key(header::TRANSFER_ENCODING);
    if with_bytes && let Some(refused) = not_offset_stream(&headers) {
        return Ok(refused);
    }
    let digest = checksum(&headers)?;
    let upload = resumable::create(
        &app,
        NewUpload {
            reference: reference.clone(),
            piece: piece.clone(),
            length,
            metadata,
            actor: caller.actor(),
        },
    )
    .await?;
    // An empty document has nothing to wait for: it goes through intake now.
    let upload = if with_bytes || length == 0 {
        let body = request.into_body().into_data_stream();
        resumable::append(&app, &upload, 0, digest, body)
            .await?
            .upload
    } else {
        upload
    };
    let mut response = (StatusCode::CREATED, Json(UploadView::from(&upload))).into_response();
    progress_headers(&upload, &mut response);
    response.headers_mut().insert(
        header::LOCATION,
        text(location(&reference, &piece, &upload.id)),
    );
    Ok(response)
}

#[utoipa::path(
    head,
    path = "/dossiers/{reference}/pieces/{code}/uploads/{id}",
    operation_id = "upload_offset",
    tag = "uploads",
    security(("token" = [])),
    params(
        ("reference" = String, Path), ("code" = String, Path), ("id" = String, Path),
        ("Tus-Resumable" = String, Header, pattern = r"^1\.0\.0$",
            description = "The protocol's version, `1.0.0`"),
    ),
    responses(
        (status = 200, description = "How far the upload got",
            headers(
                ("Upload-Offset" = u64, description = "Bytes received"),
                ("Upload-Length" = u64, description = "Bytes announced"),
                ("Upload-Expires" = String, description = "When an unfinished upload goes"),
            )),
        answers::Unauthenticated,
        answers::Forbidden,
        answers::NotFound,
        (status = 409, description = "The upload was refused by intake", body = ErrorBody),
        answers::Expired,
        answers::NotTus,
        answers::Unavailable,
    )
)]
pub async fn offset(
    State(app): State<App>,
    caller: Caller,
    Path((reference, piece, id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    caller.require(&[Role::Portal])?;
    if let Some(refused) = unsupported_version(&headers) {
        return Ok(refused);
    }
    let upload = unless_refused(resumable::find(&app, &reference, &piece, &id).await?)?;
    let mut response = StatusCode::OK.into_response();
    progress_headers(&upload, &mut response);
    let headers = response.headers_mut();
    headers.insert(UPLOAD_LENGTH, text(upload.length));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(metadata) = upload
        .metadata
        .as_deref()
        .and_then(|m| HeaderValue::from_str(m).ok())
    {
        headers.insert(UPLOAD_METADATA, metadata);
    }
    Ok(response)
}

#[utoipa::path(
    patch,
    path = "/dossiers/{reference}/pieces/{code}/uploads/{id}",
    operation_id = "append_upload",
    tag = "uploads",
    security(("token" = [])),
    params(
        ("reference" = String, Path), ("code" = String, Path), ("id" = String, Path),
        ("Tus-Resumable" = String, Header, pattern = r"^1\.0\.0$",
            description = "The protocol's version, `1.0.0`"),
        ("Upload-Offset" = u64, Header, description = "Where these bytes go: the upload's offset"),
        ("Upload-Checksum" = Option<String>, Header, description = "`sha1 <base64>` or `sha256 <base64>` of these bytes"),
    ),
    request_body(content((Binary = "application/offset+octet-stream")), description = "The next bytes"),
    responses(
        (status = 204, description = "Received; the last bytes also filed the document",
            headers(
                ("Upload-Offset" = u64, description = "Bytes received"),
                ("Upload-Expires" = String, description = "When an unfinished upload goes"),
                ("Guichet-Document" = String, description = "The document, once filed"),
            )),
        answers::Malformed,
        answers::Unauthenticated,
        answers::Forbidden,
        answers::NotFound,
        (status = 409, description = "`Upload-Offset` is not the upload's offset, or intake refused the upload", body = ErrorBody),
        answers::Expired,
        answers::NotTus,
        answers::TooLarge,
        answers::NotOffsetStream,
        answers::Refused,
        answers::Locked,
        answers::ChecksumMismatch,
        answers::Unavailable,
    )
)]
pub async fn append(
    State(app): State<App>,
    caller: Caller,
    Path((reference, piece, id)): Path<(String, String, String)>,
    request: Request,
) -> Result<Response, ApiError> {
    caller.require(&[Role::Portal])?;
    let headers = request.headers().clone();
    if let Some(refused) = unsupported_version(&headers).or_else(|| not_offset_stream(&headers)) {
        return Ok(refused);
    }
    let offset = number(&headers, &UPLOAD_OFFSET)?
        .ok_or_else(|| Error::Malformed("Upload-Offset is required".into()))?;
    let digest = checksum(&headers)?;
    let upload = unless_refused(resumable::find(&app, &reference, &piece, &id).await?)?;
    let body = request.into_body().into_data_stream();
    let appended = resumable::append(&app, &upload, offset, digest, body).await?;
    let upload = unless_refused(appended.upload)?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    progress_headers(&upload, &mut response);
    Ok(response)
}

#[utoipa::path(
    delete,
    path = "/dossiers/{reference}/pieces/{code}/uploads/{id}",
    operation_id = "terminate_upload",
    tag = "uploads",
    security(("token" = [])),
    params(
        ("reference" = String, Path), ("code" = String, Path), ("id" = String, Path),
        ("Tus-Resumable" = String, Header, pattern = r"^1\.0\.0$",
            description = "The protocol's version, `1.0.0`"),
    ),
    responses(
        (status = 204, description = "The upload and its bytes are gone (a document filed from it stays)"),
        answers::Unauthenticated,
        answers::Forbidden,
        answers::NotFound,
        answers::Expired,
        answers::NotTus,
        answers::Locked,
        answers::Unavailable,
    )
)]
pub async fn terminate(
    State(app): State<App>,
    caller: Caller,
    Path((reference, piece, id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    caller.require(&[Role::Portal])?;
    if let Some(refused) = unsupported_version(&headers) {
        return Ok(refused);
    }
    let upload = resumable::find(&app, &reference, &piece, &id).await?;
    resumable::terminate(&app, &upload).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(
    get,
    path = "/dossiers/{reference}/pieces/{code}/uploads/{id}",
    operation_id = "read_upload",
    tag = "uploads",
    security(("token" = [])),
    params(("reference" = String, Path), ("code" = String, Path), ("id" = String, Path)),
    responses(
        (status = 200, description = "The upload's state", body = UploadView),
        answers::Unauthenticated,
        answers::Forbidden,
        answers::NotFound,
        answers::Expired,
        answers::Unavailable,
    )
)]
pub async fn read(
    State(app): State<App>,
    caller: Caller,
    Path((reference, piece, id)): Path<(String, String, String)>,
) -> Result<Json<UploadView>, ApiError> {
    caller.require(&[Role::Portal])?;
    let upload = resumable::find(&app, &reference, &piece, &id).await?;
    Ok(Json(UploadView::from(&upload)))
}
