//! Filing a segment: the pages after a sheet become one PDF, taken in by the pipeline's one
//! [`intake`](crate::pipeline::intake()) like any document (channel `mailroom`, with its batch, station and pages as its
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

use super::{Filing, file_pdf, triage};
use crate::app::App;
use crate::error::Error;
use crate::pipeline::dossier::Snapshot;

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

/// Pages as shown to people: 1-based, first and last.
fn page_range(pages: &[usize]) -> Value {
    match (pages.first(), pages.last()) {
        (Some(first), Some(last)) => json!([first + 1, last + 1]),
        _ => json!([]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_ranges_are_one_based() {
        assert_eq!(page_range(&[0, 1, 2]), json!([1, 3]));
        assert_eq!(page_range(&[4]), json!([5, 5]));
        assert_eq!(page_range(&[]), json!([]));
    }
}
