//! Serving a stored document's bytes: the one place that decides what goes with them, for the
//! API's downloads and the staff pages' previews alike. A HEIC or AVIF document's display copy
//! (a JPEG made at intake) is served the same way, with the same rules, by [`serve_display`],
//! with its piece's watermark drawn over it if the piece has one (`crate::watermark`).
//!
//! The bytes go out as their detected type with `Content-Security-Policy: sandbox` (hostile
//! content a browser renders runs in an opaque origin, never in guichet's) and `nosniff`;
//! the file name is given twice, as an ASCII fallback and exactly in RFC 5987 form. Infected
//! or unscanned content is never served. The headers are plain names and values: each
//! transport writes them into its own answer.
//!
//! Bytes handed out are journaled as `document.downloaded` under the caller's actor, just
//! before they go (`crate::journal`): once the object is open, so a download that fails for
//! want of content is not recorded, and not on "not modified", where nothing goes. If the
//! journal cannot record it, the download is refused.

use serde_json::json;

use storage::{Blob, ContentKey, DocumentRecord};

use crate::app::App;
use crate::error::Error;
use crate::journal::{self, Access};
use crate::pipeline::scan;

/// How a browser should take the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Shown in the page (staff previews).
    Inline,
    /// Saved as a file.
    Attachment,
}

/// What to answer: headers (lower-case names) and the bytes, or `None` when the client's
/// copy, named by `If-None-Match`, is current (answer "not modified" with the same headers).
pub struct Served {
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<Blob>,
}

/// The answer for `doc`'s bytes to `actor` (journaled). `if_none_match` is the client's
/// header, if any.
pub async fn serve(
    app: &App,
    doc: &DocumentRecord,
    disposition: Disposition,
    if_none_match: Option<&str>,
    actor: &str,
) -> Result<Served, Error> {
    scan::check_servable(doc)?;
    let etag = format!("\"{}\"", doc.sha256);
    let current = if_none_match.is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let mut headers = vec![
        ("etag", etag),
        ("x-content-type-options", "nosniff".to_string()),
        ("content-security-policy", "sandbox".to_string()),
        ("cache-control", "private, no-cache".to_string()),
        ("content-disposition", content_disposition(disposition, doc)),
    ];
    if current {
        return Ok(Served {
            headers,
            body: None,
        });
    }
    let key = ContentKey::from_hex(&doc.sha256)
        .ok_or_else(|| Error::Internal(format!("stored digest of {} is not a key", doc.id)))?;
    let blob = app.blobs.open(&key).await?.ok_or(Error::ContentMissing)?;
    downloaded(app, doc, actor, "content").await?;
    headers.push(("content-type", doc.mime.clone()));
    headers.push(("content-length", blob.size.to_string()));
    Ok(Served {
        headers,
        body: Some(blob),
    })
}

/// The answer for `doc`'s display copy to `actor` (journaled): a JPEG, shown inline, named
/// after the document with `.jpg`. Served under the same rules as the document (never for
/// infected or unscanned content); [`Error::NoDisplayCopy`] when the document has none (not
/// HEIC or AVIF).
pub async fn serve_display(
    app: &App,
    doc: &DocumentRecord,
    if_none_match: Option<&str>,
    actor: &str,
) -> Result<Served, Error> {
    scan::check_servable(doc)?;
    let display = doc
        .display_sha256
        .as_deref()
        .ok_or_else(|| Error::NoDisplayCopy(doc.id.clone()))?;
    let watermark = crate::watermark::text(app, doc).await?;
    let etag = crate::watermark::etag(display, watermark.as_deref());
    let current = if_none_match.is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let shown = DocumentRecord {
        filename: Some(format!(
            "{}.jpg",
            doc.filename.as_deref().map_or(doc.id.as_str(), |name| name
                .rsplit_once('.')
                .map_or(name, |(stem, _)| stem))
        )),
        ..doc.clone()
    };
    let mut headers = vec![
        ("etag", etag),
        ("x-content-type-options", "nosniff".to_string()),
        ("content-security-policy", "sandbox".to_string()),
        ("cache-control", "private, no-cache".to_string()),
        (
            "content-disposition",
            content_disposition(Disposition::Inline, &shown),
        ),
    ];
    if current {
        return Ok(Served {
            headers,
            body: None,
        });
    }
    let key = ContentKey::from_hex(display).ok_or_else(|| {
        Error::Internal(format!("stored display digest of {} is not a key", doc.id))
    })?;
    let blob = app.blobs.open(&key).await?.ok_or(Error::ContentMissing)?;
    let blob = match &watermark {
        Some(text) => crate::watermark::mark(app, blob, text).await?,
        None => blob,
    };
    downloaded(app, doc, actor, "display").await?;
    headers.push(("content-type", "image/jpeg".to_string()));
    headers.push(("content-length", blob.size.to_string()));
    Ok(Served {
        headers,
        body: Some(blob),
    })
}

/// The journal entry of `doc`'s bytes going to `actor`: its `copy` (`content` or `display`),
/// piece and file name.
pub async fn downloaded(
    app: &App,
    doc: &DocumentRecord,
    actor: &str,
    copy: &str,
) -> Result<(), Error> {
    journal::record(
        app,
        &doc.dossier,
        actor,
        Access::DocumentDownloaded,
        Some(&doc.id),
        download_data(doc, copy),
    )
    .await
}

/// What a download's journal entry says besides its document.
pub fn download_data(doc: &DocumentRecord, copy: &str) -> serde_json::Value {
    json!({"copy": copy, "piece": doc.piece, "filename": doc.filename})
}

/// `inline` or `attachment`, with an ASCII fallback name and the exact one (RFC 5987); a
/// document without a name is `<id>.<kind>`.
pub fn content_disposition(disposition: Disposition, doc: &DocumentRecord) -> String {
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
    let encoded = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
    let disposition = match disposition {
        Disposition::Inline => "inline",
        Disposition::Attachment => "attachment",
    };
    format!("{disposition}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(filename: Option<&str>) -> DocumentRecord {
        DocumentRecord {
            id: "abc".into(),
            dossier: "D".into(),
            piece: None,
            filename: filename.map(str::to_string),
            declared_type: None,
            sha256: "00".into(),
            size: 0,
            kind: "pdf".into(),
            mime: "application/pdf".into(),
            pages: None,
            channel: "upload".into(),
            origin: serde_json::json!({}),
            verdict: "accepted".into(),
            reasons: serde_json::json!({}),
            review: None,
            review_reason: None,
            reviewed_by: None,
            reviewed_at: None,
            withdrawn_at: None,
            late: false,
            received_at: chrono::Utc::now(),
            scan: None,
            scan_signature: None,
            display_sha256: None,
            purged_at: None,
            purge_rule: None,
        }
    }

    #[test]
    fn file_names_are_safe_and_exact() {
        let value = content_disposition(Disposition::Attachment, &named(Some("pièce \"1\".pdf")));
        assert!(value.starts_with("attachment; filename=\"pi_ce _1_.pdf\""));
        assert!(value.contains("filename*=UTF-8''pi%C3%A8ce%20%221%22%2Epdf"));
        assert_eq!(
            content_disposition(Disposition::Inline, &named(None)),
            "inline; filename=\"abc.pdf\"; filename*=UTF-8''abc%2Epdf"
        );
    }
}
