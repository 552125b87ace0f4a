//! Filing a segment: the pages after a sheet become one PDF, taken in by the pipeline's one
//! [`intake`] like any document (channel `mailroom`, with its batch, station and pages as its
//! origin), into the dossier and piece the sheet names.
//!
//! - A segment whose sheet names a piece the campaign lacks is filed unclassified, with the
//!   note `unknown_piece` in the batch report.
//! - A segment whose dossier is unknown or of another campaign, or that its dossier refuses (a
//!   closed dossier, a piece already holding its `max_documents`), is kept as evidence in
//!   triage, listed with its code for staff to file by hand.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Value, json};

use dossiers::TransitionError;
use scanners::batch::Batch;
use scanners::split::Segment;
use storage::repository::BatchRecord;

use super::split::page_range;
use super::triage;
use crate::app::App;
use crate::error::Error;
use crate::pipeline::dossier::Snapshot;
use crate::pipeline::intake::{Arrival, Intake, Origin, intake};

/// Files one segment in its dossier, or sends it to triage when no dossier can take it; the
/// answer is the segment's entry in the batch report.
pub(super) async fn file_segment(
    app: &App,
    record: &BatchRecord,
    batch: &Arc<Batch>,
    segment: &Segment,
) -> Result<Value, Error> {
    let code = &segment.code;
    let mut entry = json!({
        "sheet_page": segment.sheet_page + 1,
        "pages": page_range(&segment.pages),
        "page_count": segment.pages.len(),
        "dossier": code.dossier,
        "piece": code.piece,
    });
    let (Some(&first), Some(&last)) = (segment.pages.first(), segment.pages.last()) else {
        entry["note"] = json!("empty_segment");
        return Ok(entry);
    };
    let snapshot = match Snapshot::read(app, &code.dossier).await {
        Ok(snapshot) => Some(snapshot),
        Err(Error::UnknownDossier(_)) => None,
        Err(e) => return Err(e),
    };
    let unfit = match &snapshot {
        None => Some((
            "unknown_dossier",
            "La feuille de couverture désigne un dossier inconnu : classez ces pages à la main.",
        )),
        Some(s) if s.campaign.id() != code.campaign => Some((
            "campaign_mismatch",
            "La feuille de couverture désigne une autre campagne que celle du dossier : classez ces pages à la main.",
        )),
        Some(_) => None,
    };
    if let Some((reason, message)) = unfit {
        entry["triage"] = triage::pages(app, batch, &segment.pages, reason, message).await?;
        return Ok(entry);
    }
    let campaign = snapshot.map(|s| s.campaign);
    let piece = code
        .piece
        .clone()
        .filter(|p| campaign.as_ref().is_some_and(|c| c.piece(p).is_some()));
    let unknown_piece = code.piece.is_some() && piece.is_none();

    let pages = segment.pages.clone();
    let source = batch.clone();
    let pdf = tokio::task::spawn_blocking(move || scanners::split::segment_pdf(&source, &pages))
        .await
        .map_err(|e| Error::Internal(format!("segment task failed: {e}")))?
        .map_err(|e| Error::Internal(format!("building the segment's PDF: {e}")))?;
    let pdf = Bytes::from(pdf);
    let filing = Filing {
        record,
        reference: &code.dossier,
        piece,
        pages: (first + 1, last + 1),
        by: None,
    };
    match file_pdf(app, &filing, pdf.clone()).await {
        Ok(filed) => {
            let doc = &filed.document;
            entry["document"] = json!(doc.id);
            entry["verdict"] = json!(doc.verdict);
            entry["late"] = json!(doc.late);
            entry["reasons"] = doc.reasons["reasons"].clone();
            if unknown_piece {
                entry["note"] = json!("unknown_piece");
            }
        }
        Err(refusal) if refuses_paper(&refusal) => {
            tracing::info!(batch = %record.id, dossier = %code.dossier, code = refusal.code(),
                "mailroom segment kept in triage");
            let message = refusal_message(&refusal);
            entry["refused"] = json!({"code": refusal.code(), "message": message});
            entry["triage"] =
                triage::keep(app, pdf, &segment.pages, refusal.code(), &message).await?;
        }
        Err(e) => return Err(e),
    }
    Ok(entry)
}

/// A dossier's refusal of a document from the mailroom: the paper is kept for staff.
fn refuses_paper(error: &Error) -> bool {
    matches!(
        error,
        Error::Transition(TransitionError::DossierClosed) | Error::TooManyDocuments { .. }
    )
}

/// The refusal in the words of the staff who will file the pages.
fn refusal_message(error: &Error) -> String {
    match error {
        Error::Transition(TransitionError::DossierClosed) => {
            "Le dossier est clôturé : ces pages sont conservées, classez-les à la main.".into()
        }
        Error::TooManyDocuments { piece, max } => format!(
            "La pièce {piece} contient déjà ses {max} documents : ces pages sont conservées, classez-les à la main."
        ),
        other => other.to_string(),
    }
}

/// What a mailroom PDF is filed as: from which batch and pages, into which dossier and piece
/// (none: unclassified), and by whom when a person assigned it from triage.
pub(super) struct Filing<'a> {
    pub record: &'a BatchRecord,
    pub reference: &'a str,
    pub piece: Option<String>,
    /// First and last page in the batch, 1-based.
    pub pages: (usize, usize),
    pub by: Option<&'a str>,
}

/// Takes one mailroom PDF in through the pipeline's intake.
pub(super) async fn file_pdf(app: &App, filing: &Filing<'_>, pdf: Bytes) -> Result<Intake, Error> {
    let (first, last) = filing.pages;
    let record = filing.record;
    let arrival = Arrival {
        reference: filing.reference.to_string(),
        piece: filing.piece.clone(),
        filename: Some(format!(
            "lot-{}-pages-{first}-{last}.pdf",
            short(&record.id)
        )),
        content_type: Some("application/pdf".to_string()),
        content_length: Some(pdf.len() as u64),
        origin: Origin::Mailroom {
            batch: record.id.clone(),
            station: record.station.clone(),
            first_page: u32::try_from(first).unwrap_or(u32::MAX),
            last_page: u32::try_from(last).unwrap_or(u32::MAX),
            received_at: record.received_at,
        },
        by: filing.by.map(str::to_string),
    };
    let body = futures::stream::once(async move { Ok::<_, std::io::Error>(pdf) });
    intake(app, arrival, body).await
}

/// The last characters of a batch id, enough to tell batches apart in a file name.
fn short(id: &str) -> &str {
    id.get(id.len().saturating_sub(8)..).unwrap_or(id)
}
