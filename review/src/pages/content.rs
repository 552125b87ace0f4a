//! Document content for previews and downloads, with the headers [`ingest::content`] decides
//! (sandboxed, `nosniff`, never infected or unscanned content), the display copy of HEIC and
//! AVIF photos, and the pictures of every page.
//!
//! The content and the display copy are journaled as downloads under the staff member's
//! actor (`ingest::content` does it); pictures of pages are not: opening the dossier's page
//! is journaled once instead.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio_util::io::ReaderStream;

use ingest::auth::staff_actor;
use ingest::content::{self, Disposition};
use ingest::pipeline::render;

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
    user: Reviewer,
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
    let actor = staff_actor(&user.name);
    let served = content::serve(&staff.app, &doc, disposition, if_none_match, &actor).await?;
    Ok(answer(served))
}

/// The display copy of a HEIC or AVIF photo (a JPEG made at intake); 404 for a document
/// without one.
pub async fn display(
    State(staff): State<Staff>,
    user: Reviewer,
    Path(id): Path<String>,
    request_headers: HeaderMap,
) -> Result<Response, PageError> {
    let (doc, if_none_match) = document_and_etag(&staff, &id, &request_headers).await?;
    let actor = staff_actor(&user.name);
    let served = content::serve_display(&staff.app, &doc, if_none_match, &actor).await?;
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

#[derive(Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    width: Option<u32>,
}

/// A picture of one page (rendered in the background after intake, see
/// [`ingest::pipeline::render`]). While it is not made yet: 202, `Retry-After`, and a
/// picture that says so (an `<img>` shows it; the page's script asks again).
pub async fn page(
    State(staff): State<Staff>,
    _user: Reviewer,
    Path((id, n)): Path<(String, u32)>,
    Query(query): Query<PageQuery>,
    request_headers: HeaderMap,
) -> Result<Response, PageError> {
    let (doc, if_none_match) = document_and_etag(&staff, &id, &request_headers).await?;
    let width = query.width.unwrap_or(render::READING_WIDTH_CLASS);
    match render::serve_page(&staff.app, &doc, n, width, if_none_match).await? {
        render::PageAnswer::Ready(served) => Ok(answer(served)),
        render::PageAnswer::Pending => {
            let headers = [
                (header::CONTENT_TYPE, "image/svg+xml".to_string()),
                (header::CACHE_CONTROL, "no-store".to_string()),
                (header::RETRY_AFTER, render::RETRY_AFTER_SECONDS.to_string()),
            ];
            Ok((StatusCode::ACCEPTED, headers, PENDING_SVG).into_response())
        }
    }
}

/// What a page shows while its picture is being made.
const PENDING_SVG: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"200\" \
    height=\"283\" viewBox=\"0 0 200 283\"><rect width=\"200\" height=\"283\" \
    fill=\"#eef1f5\" stroke=\"#8a94a6\"/><text x=\"100\" y=\"141\" font-family=\"sans-serif\" \
    font-size=\"14\" text-anchor=\"middle\" fill=\"#3a4150\">Aperçu en préparation…</text></svg>";
