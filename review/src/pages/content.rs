//! Document content for previews and downloads, with the headers [`ingest::content`] decides
//! (sandboxed, `nosniff`, never infected or unscanned content), the display copy of HEIC and
//! AVIF photos, and the first-page preview of scanned PDFs.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::io::AsyncReadExt;
use tokio_util::io::ReaderStream;

use ingest::content::{self, Disposition};
use ingest::pipeline::scan;
use storage::ContentKey;

use crate::Staff;
use crate::error::PageError;
use crate::session::Reviewer;

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
    let (doc, if_none_match) = document_and_etag(&staff, &id, &request_headers).await?;
    let disposition = if query.download.is_some() {
        Disposition::Attachment
    } else {
        Disposition::Inline
    };
    let served = content::serve(&staff.app, &doc, disposition, if_none_match).await?;
    Ok(answer(served))
}

/// The display copy of a HEIC or AVIF photo (a JPEG made at intake); 404 for a document
/// without one.
pub async fn display(
    State(staff): State<Staff>,
    _user: Reviewer,
    Path(id): Path<String>,
    request_headers: HeaderMap,
) -> Result<Response, PageError> {
    let (doc, if_none_match) = document_and_etag(&staff, &id, &request_headers).await?;
    let served = content::serve_display(&staff.app, &doc, if_none_match).await?;
    Ok(answer(served))
}

/// The stored document `id` (a "not found" page otherwise), and the ETag the browser holds.
async fn document_and_etag<'h>(
    staff: &Staff,
    id: &str,
    headers: &'h HeaderMap,
) -> Result<(storage::DocumentRecord, Option<&'h str>), PageError> {
    let doc = staff
        .app
        .repo
        .document(id)
        .await?
        .ok_or_else(|| PageError::NotFound(format!("Le document {id}")))?;
    let if_none_match = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    Ok((doc, if_none_match))
}

/// The answer [`ingest::content`] decided: 200 with its bytes, or 304.
fn answer(served: content::Served) -> Response {
    let mut headers = HeaderMap::new();
    for (name, value) in served.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    match served.body {
        Some(blob) => {
            let body = Body::from_stream(ReaderStream::new(blob.reader));
            (StatusCode::OK, headers, body).into_response()
        }
        None => (StatusCode::NOT_MODIFIED, headers).into_response(),
    }
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
