//! Document content for previews and downloads. The bytes are served as their detected type
//! with `Content-Security-Policy: sandbox` (a hostile PDF or SVG-like content runs in an
//! opaque origin, never in guichet's) and `nosniff`; infected or unscanned content is never
//! served.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::io::AsyncReadExt;
use tokio_util::io::ReaderStream;

use ingest::pipeline::scan;
use storage::{ContentKey, DocumentRecord};

use crate::Staff;
use crate::error::PageError;
use crate::session::Reviewer;
use crate::views::percent_encode;

#[derive(Deserialize)]
pub struct ContentQuery {
    #[serde(default)]
    download: Option<String>,
}

pub async fn content(
    State(staff): State<Staff>,
    _user: Reviewer,
    Path(id): Path<String>,
    Query(query): Query<ContentQuery>,
    request_headers: HeaderMap,
) -> Result<Response, PageError> {
    let doc = staff
        .app
        .repo
        .document(&id)
        .await?
        .ok_or_else(|| PageError::NotFound(format!("Le document {id}")))?;
    scan::check_servable(&doc)?;
    let etag = format!("\"{}\"", doc.sha256);
    let mut headers = HeaderMap::new();
    let mut set = |name: header::HeaderName, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    set(header::CONTENT_SECURITY_POLICY, "sandbox");
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::ETAG, &etag);
    set(header::CACHE_CONTROL, "private, no-cache");
    let disposition = if query.download.is_some() {
        "attachment"
    } else {
        "inline"
    };
    set(
        header::CONTENT_DISPOSITION,
        &disposition_header(disposition, &doc),
    );
    let unchanged = request_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    if unchanged {
        return Ok((StatusCode::NOT_MODIFIED, headers).into_response());
    }
    let key = ContentKey::from_hex(&doc.sha256)
        .ok_or_else(|| PageError::Internal(format!("stored digest of {id} is not a key")))?;
    let blob = staff
        .app
        .blobs
        .open(&key)
        .await
        .map_err(ingest::Error::from)?
        .ok_or(ingest::Error::ContentMissing)?;
    set(header::CONTENT_TYPE, &doc.mime);
    set(header::CONTENT_LENGTH, &blob.size.to_string());
    let body = Body::from_stream(ReaderStream::new(blob.reader));
    Ok((StatusCode::OK, headers, body).into_response())
}

/// `inline` or `attachment`, with an ASCII fallback name and the exact one (RFC 5987).
pub fn disposition_header(disposition: &str, doc: &DocumentRecord) -> String {
    let fallback = format!("{}.{}", doc.id, doc.kind);
    let name = doc.filename.as_deref().unwrap_or(&fallback);
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
    format!(
        "{disposition}; filename=\"{ascii}\"; filename*=UTF-8''{}",
        percent_encode(name)
    )
}

/// The first page of a scanned PDF as its JPEG (see [`crate::pdf`]); 404 when the PDF has
/// no such page, so the `<object>` showing it falls back to the PDF viewer.
pub async fn first_page(
    State(staff): State<Staff>,
    _user: Reviewer,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let missing = || PageError::NotFound(format!("L'aperçu du document {id}"));
    let doc = staff.app.repo.document(&id).await?.ok_or_else(missing)?;
    scan::check_servable(&doc)?;
    if doc.kind != "pdf" || doc.size > crate::pdf::MAX_PDF_BYTES as u64 {
        return Err(missing());
    }
    let key = ContentKey::from_hex(&doc.sha256)
        .ok_or_else(|| PageError::Internal(format!("stored digest of {id} is not a key")))?;
    let blob = staff
        .app
        .blobs
        .open(&key)
        .await
        .map_err(ingest::Error::from)?
        .ok_or(ingest::Error::ContentMissing)?;
    let mut pdf = Vec::new();
    blob.reader
        .take(crate::pdf::MAX_PDF_BYTES as u64)
        .read_to_end(&mut pdf)
        .await
        .map_err(|e| PageError::Internal(format!("reading {id}: {e}")))?;
    // Parsing is CPU work on untrusted bytes: off the async workers, and a panic in the
    // parser only loses this thumbnail.
    let jpeg = tokio::task::spawn_blocking(move || crate::pdf::first_page_jpeg(&pdf))
        .await
        .ok()
        .flatten()
        .ok_or_else(missing)?;
    let headers = [
        (header::CONTENT_TYPE, "image/jpeg"),
        (header::CONTENT_SECURITY_POLICY, "sandbox"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CACHE_CONTROL, "private, max-age=3600"),
    ];
    Ok((StatusCode::OK, headers, jpeg).into_response())
}
