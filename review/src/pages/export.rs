//! Exports: the dossier list as CSV (with completeness and missing pieces), and one
//! dossier's documents as a ZIP with a manifest of SHA-256 sums.
//!
//! The CSV is streamed a page of the index at a time. The ZIP is written to an anonymous
//! temporary file (memory stays flat whatever the documents weigh; the file disappears
//! when the answer is sent or dropped), then streamed. Documents are stored uncompressed:
//! PDFs and images are compressed already.

use std::io::{Seek, SeekFrom, Write};

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures::{StreamExt, stream};
use tokio_util::io::{ReaderStream, SyncIoBridge};
use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

use ingest::App;
use ingest::pipeline::scan;
use storage::repository::{DossierIndexRow, DossierQuery};
use storage::{ContentKey, DocumentRecord};

use crate::Staff;
use crate::error::PageError;
use crate::index::refresh_before_reading;
use crate::pages::list::Filters;
use crate::session::Reviewer;

/// Index rows read per page of the CSV.
const CSV_PAGE: u32 = 1000;

const CSV_HEADER: &str = "reference,campagne,candidat,etat,complet,pieces_manquantes,a_examiner,hors_delai,mis_a_jour\r\n";

/// One CSV field: quoted when needed, and defused when a spreadsheet would take it for a
/// formula (a leading `=`, `+`, `-`, `@`, tab or carriage return gets a `'`).
pub fn csv_field(text: &str) -> String {
    let defused = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

pub fn csv_line(row: &DossierIndexRow) -> String {
    let flag = |b: bool| if b { "oui" } else { "non" };
    let fields = [
        csv_field(&row.reference),
        csv_field(&row.campaign),
        csv_field(&row.name),
        csv_field(&row.state),
        flag(row.complete).to_string(),
        csv_field(&row.missing.join(" ")),
        flag(row.awaiting).to_string(),
        flag(row.late).to_string(),
        row.updated_at.to_rfc3339(),
    ];
    format!("{}\r\n", fields.join(","))
}

pub async fn csv(
    State(staff): State<Staff>,
    _user: Reviewer,
    Query(filters): Query<Filters>,
) -> Result<Response, PageError> {
    refresh_before_reading(&staff.app).await?;
    let mut query = filters.query(CSV_PAGE);
    query.after = None;
    let pages = stream::unfold(Some((staff.app.clone(), query)), |state| async move {
        let (app, mut query) = state?;
        match next_page(&app, &query).await {
            Ok((text, last)) => {
                let more = last.is_some();
                query.after = last;
                Some((Ok::<_, std::io::Error>(text), more.then_some((app, query))))
            }
            Err(e) => Some((Err(std::io::Error::other(e.to_string())), None)),
        }
    });
    let body = Body::from_stream(stream::once(async { Ok(CSV_HEADER.to_string()) }).chain(pages));
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"dossiers.csv\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// A page of CSV lines, and the last reference when a full page was read (more may follow).
async fn next_page(
    app: &App,
    query: &DossierQuery,
) -> Result<(String, Option<String>), storage::RepoError> {
    let rows = app.repo.list_dossier_index(query).await?;
    let text: String = rows.iter().map(csv_line).collect();
    let last = (rows.len() == query.limit as usize)
        .then(|| rows.last().map(|r| r.reference.clone()))
        .flatten();
    Ok((text, last))
}

/// The file name of a document in the ZIP: `<reference>_<piece>_<n>.<ext>`.
pub fn zip_name(reference: &str, piece: Option<&str>, n: usize, kind: &str) -> String {
    let ext = match kind {
        "jpeg" => "jpg",
        "tiff" => "tif",
        other => other,
    };
    format!("{reference}_{}_{n}.{ext}", piece.unwrap_or("non-classe"))
}

pub async fn zip(
    State(staff): State<Staff>,
    _user: Reviewer,
    Path(reference): Path<String>,
) -> Result<Response, PageError> {
    if ingest::pipeline::actions::check_reference(&reference).is_err()
        || staff.app.repo.dossier(&reference).await?.is_none()
    {
        return Err(PageError::NotFound(format!("Le dossier {reference}")));
    }
    let documents: Vec<DocumentRecord> = staff
        .app
        .repo
        .documents(&reference)
        .await?
        .into_iter()
        .filter(|d| d.withdrawn_at.is_none())
        .collect();
    let app = staff.app.clone();
    let name = reference.clone();
    let file = tokio::task::spawn_blocking(move || write_zip(&app, &name, &documents))
        .await
        .map_err(|e| PageError::Internal(e.to_string()))??;
    let body = Body::from_stream(ReaderStream::new(tokio::fs::File::from_std(file)));
    let disposition = format!("attachment; filename=\"{reference}_documents.zip\"");
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/zip"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition)
                    .map_err(|e| PageError::Internal(e.to_string()))?,
            ),
        ],
        body,
    )
        .into_response())
}

/// Writes the ZIP to an anonymous temporary file, rewound for reading. Runs on a blocking
/// thread; object reads are bridged from the async store.
fn write_zip(
    app: &App,
    reference: &str,
    documents: &[DocumentRecord],
) -> Result<std::fs::File, PageError> {
    let internal = |e: &dyn std::fmt::Display| PageError::Internal(format!("zip: {e}"));
    let handle = tokio::runtime::Handle::current();
    let file = tempfile::tempfile().map_err(|e| internal(&e))?;
    let mut zip = zip::ZipWriter::new(file);
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Stored)
        .large_file(true);
    let mut manifest = String::new();
    let mut left_out = String::new();
    let mut counts: std::collections::HashMap<Option<String>, usize> = Default::default();
    for doc in documents {
        if scan::check_servable(doc).is_err() {
            left_out.push_str(&format!(
                "{} ({}) : non inclus, contenu non servi (antivirus : {})\n",
                doc.id,
                doc.filename.as_deref().unwrap_or("sans nom"),
                doc.scan.as_deref().unwrap_or("?")
            ));
            continue;
        }
        let n = counts.entry(doc.piece.clone()).or_insert(0);
        *n += 1;
        let name = zip_name(reference, doc.piece.as_deref(), *n, &doc.kind);
        let key = ContentKey::from_hex(&doc.sha256)
            .ok_or_else(|| internal(&format!("stored digest of {} is not a key", doc.id)))?;
        let blob = handle
            .block_on(app.blobs.open(&key))
            .map_err(|e| internal(&e))?
            .ok_or_else(|| internal(&format!("content of {} is missing", doc.id)))?;
        zip.start_file(name.as_str(), options)
            .map_err(|e| internal(&e))?;
        let mut reader = SyncIoBridge::new(blob.reader);
        std::io::copy(&mut reader, &mut zip).map_err(|e| internal(&e))?;
        manifest.push_str(&format!("{}  {name}\n", doc.sha256));
    }
    zip.start_file("SHA256SUMS", options)
        .map_err(|e| internal(&e))?;
    zip.write_all(manifest.as_bytes())
        .map_err(|e| internal(&e))?;
    if !left_out.is_empty() {
        zip.start_file("NON_INCLUS.txt", options)
            .map_err(|e| internal(&e))?;
        zip.write_all(left_out.as_bytes())
            .map_err(|e| internal(&e))?;
    }
    let mut file = zip.finish().map_err(|e| internal(&e))?;
    file.seek(SeekFrom::Start(0)).map_err(|e| internal(&e))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(csv_field("+1,2"), "\"'+1,2\"");
    }

    #[test]
    fn zip_names_follow_reference_piece_number() {
        assert_eq!(
            zip_name("R-1", Some("identite"), 2, "jpeg"),
            "R-1_identite_2.jpg"
        );
        assert_eq!(zip_name("R-1", None, 1, "pdf"), "R-1_non-classe_1.pdf");
    }
}
