//! The dossier list of a campaign, one row per dossier, for `dossiers.csv` and
//! `dossiers.xlsx` alike:
//!
//! `reference`, `candidate.<key>` for each attribute key that the campaign's dossiers use
//! (sorted; as recorded: text as is, other JSON values as JSON), `state`, `complete`
//! (`true`/`false`), `missing` (the required pieces still to send, as the dossier's JSON
//! `missing`), `created_at`, `updated_at` (RFC 3339), then `piece.<code>` for each piece of
//! the catalog, in its order: the piece's `status` as the dossier's JSON gives it
//! (`missing`, `pending`, `accepted`, `rejected`, `correction_requested`), except that a
//! piece not required for this candidate and without document reads `not_required`.

use serde_json::Value;

use dossiers::{Campaign, PieceStatus};

use super::pages::Page;
use crate::app::App;
use crate::error::Error;
use crate::pipeline::dossier::Snapshot;

/// What a piece not required for the candidate, and without document, reads.
pub const NOT_REQUIRED: &str = "not_required";

/// One cell of a row: text, or a yes/no that a spreadsheet keeps as a boolean.
pub enum Cell {
    Text(String),
    Flag(bool),
}

impl Cell {
    pub fn into_text(self) -> String {
        match self {
            Cell::Text(text) => text,
            Cell::Flag(flag) => flag.to_string(),
        }
    }
}

/// The columns of one campaign's list.
pub struct Columns {
    candidate: Vec<String>,
    pieces: Vec<String>,
}

impl Columns {
    /// The columns for `campaign`: the candidate keys its dossiers use now, and its catalog.
    pub async fn of(app: &App, campaign: &Campaign) -> Result<Columns, Error> {
        let mut candidate = app.repo.candidate_keys(campaign.id()).await?;
        // One order on every database, whatever its collation.
        candidate.sort();
        Ok(Columns {
            candidate,
            pieces: campaign
                .pieces()
                .iter()
                .map(|p| p.code().to_string())
                .collect(),
        })
    }

    pub fn header(&self) -> Vec<String> {
        let mut header = vec!["reference".to_string()];
        header.extend(self.candidate.iter().map(|key| format!("candidate.{key}")));
        header.extend(
            ["state", "complete", "missing", "created_at", "updated_at"].map(str::to_string),
        );
        header.extend(self.pieces.iter().map(|code| format!("piece.{code}")));
        header
    }

    pub fn row(&self, snapshot: &Snapshot) -> Vec<Cell> {
        let record = &snapshot.record;
        let assessment = snapshot.assessment();
        let mut row = vec![Cell::Text(record.reference.clone())];
        row.extend(self.candidate.iter().map(|key| {
            Cell::Text(match record.candidate.get(key) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(text)) => text.clone(),
                Some(other) => other.to_string(),
            })
        }));
        row.push(Cell::Text(snapshot.state.as_str().to_string()));
        row.push(Cell::Flag(assessment.complete));
        row.push(Cell::Text(assessment.missing_for_submission().join(" ")));
        row.push(Cell::Text(record.created_at.to_rfc3339()));
        row.push(Cell::Text(record.updated_at.to_rfc3339()));
        row.extend(self.pieces.iter().map(|code| {
            Cell::Text(match assessment.piece(code) {
                Some(piece) if !piece.required && piece.status == PieceStatus::Missing => {
                    NOT_REQUIRED.to_string()
                }
                Some(piece) => status_name(piece.status),
                None => String::new(),
            })
        }));
        row
    }

    /// The CSV rows of a page.
    pub fn csv_rows(&self, page: &Page) -> Vec<Vec<String>> {
        page.dossiers
            .iter()
            .map(|snapshot| {
                self.row(snapshot)
                    .into_iter()
                    .map(Cell::into_text)
                    .collect()
            })
            .collect()
    }
}

/// A status's name, as the domain serialises it (and the dossier's JSON shows it).
fn status_name(status: PieceStatus) -> String {
    match serde_json::to_value(status) {
        Ok(Value::String(name)) => name,
        _ => format!("{status:?}").to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_as_in_the_dossier_json() {
        assert_eq!(status_name(PieceStatus::Missing), "missing");
        assert_eq!(
            status_name(PieceStatus::CorrectionRequested),
            "correction_requested"
        );
    }
}
