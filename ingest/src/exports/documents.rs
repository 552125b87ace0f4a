//! The documents of a campaign, one row per document, withdrawn ones included, by dossier
//! reference then order of receipt (`documents.csv`):
//!
//! `dossier`, `piece` (empty while unclassified), `document` (its id), `filename`, `sha256`,
//! `size` (bytes), `kind`, `pages`, `channel` (`upload`, `mailroom`), `batch`, `station`,
//! `first_page`, `last_page` (the mailroom's, empty for uploads), `verdict`, `reasons` (the
//! verdict's reason codes, space separated), `review`, `review_reason`, `reviewed_by`,
//! `reviewed_at`, `received_at`, `late`, `scan`, `withdrawn_at` (empty unless withdrawn), and
//! `duplicates`: the other dossiers, of any campaign, holding a document not withdrawn with
//! the same SHA-256 (space separated, by reference; after 20 of them `+N` counts the rest).

use chrono::{DateTime, Utc};
use serde_json::Value;

use storage::DocumentRecord;

use super::pages::Page;

const COLUMNS: [&str; 24] = [
    "dossier",
    "piece",
    "document",
    "filename",
    "sha256",
    "size",
    "kind",
    "pages",
    "channel",
    "batch",
    "station",
    "first_page",
    "last_page",
    "verdict",
    "reasons",
    "review",
    "review_reason",
    "reviewed_by",
    "reviewed_at",
    "received_at",
    "late",
    "scan",
    "withdrawn_at",
    "duplicates",
];

pub fn header() -> Vec<String> {
    COLUMNS.map(str::to_string).to_vec()
}

/// The rows of a page's documents.
pub fn rows(page: &Page) -> Vec<Vec<String>> {
    page.dossiers
        .iter()
        .flat_map(|snapshot| &snapshot.documents)
        .map(|doc| row(doc, page.duplicates(doc)))
        .collect()
}

fn row(doc: &DocumentRecord, duplicates: String) -> Vec<String> {
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    let time = |value: Option<DateTime<Utc>>| value.map(|t| t.to_rfc3339()).unwrap_or_default();
    let origin = |key: &str| match doc.origin.get(key) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    };
    let reasons: Vec<&str> = doc
        .reasons
        .get("reasons")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|reason| reason.get("code").and_then(Value::as_str))
        .collect();
    let row = vec![
        doc.dossier.clone(),
        text(&doc.piece),
        doc.id.clone(),
        text(&doc.filename),
        doc.sha256.clone(),
        doc.size.to_string(),
        doc.kind.clone(),
        doc.pages.map(|p| p.to_string()).unwrap_or_default(),
        doc.channel.clone(),
        origin("batch"),
        origin("station"),
        origin("first_page"),
        origin("last_page"),
        doc.verdict.clone(),
        reasons.join(" "),
        text(&doc.review),
        text(&doc.review_reason),
        text(&doc.reviewed_by),
        time(doc.reviewed_at),
        doc.received_at.to_rfc3339(),
        doc.late.to_string(),
        text(&doc.scan),
        time(doc.withdrawn_at),
        duplicates,
    ];
    debug_assert_eq!(row.len(), COLUMNS.len());
    row
}
