//! Cover and separator sheets: the PDF a candidate prints and puts on top of their paper
//! (or, with a piece, before that piece's pages). The QR code carries the campaign, the
//! dossier and the piece, signed with the service secret.

use serde_json::Value;

use crate::app::App;
use crate::error::Error;
use crate::pipeline::dossier::Snapshot;

/// The cover sheet (or, with `piece`, the separator sheet) of a dossier, as a PDF.
pub async fn cover_sheet(
    app: &App,
    reference: &str,
    piece: Option<&str>,
) -> Result<Vec<u8>, Error> {
    let snapshot = Snapshot::read(app, reference).await?;
    let piece = piece
        .map(|code| {
            snapshot
                .campaign
                .piece(code)
                .map(|p| (p.code().to_string(), p.label().to_string()))
                .ok_or_else(|| Error::UnknownPiece {
                    campaign: snapshot.campaign.id().to_string(),
                    piece: code.to_string(),
                })
        })
        .transpose()?;
    let assessment = snapshot.assessment();
    let missing = assessment.missing_for_submission();
    let expected = snapshot
        .campaign
        .pieces()
        .iter()
        .filter(|p| missing.iter().any(|m| m == p.code()))
        .map(|p| (p.code().to_string(), p.label().to_string()))
        .collect();
    let code = scanners::sheet::SheetCode {
        campaign: snapshot.campaign.id().to_string(),
        dossier: reference.to_string(),
        piece: piece.as_ref().map(|(code, _)| code.clone()),
    };
    let sheet = scanners::cover::CoverSheet {
        campaign_title: snapshot.campaign.title().to_string(),
        reference: reference.to_string(),
        candidate_name: candidate_name(&snapshot.record.candidate),
        piece,
        expected,
        code: scanners::sheet::encode(&code, &app.secret),
    };
    Ok(scanners::cover::render(&sheet))
}

/// The candidate's name as the portal gave it: `name`, or `first_name` and `last_name`
/// (or their French `prenom` and `nom`).
fn candidate_name(candidate: &Value) -> Option<String> {
    let field = |key: &str| candidate.get(key).and_then(Value::as_str).map(str::trim);
    if let Some(name) = field("name").filter(|n| !n.is_empty()) {
        return Some(name.to_string());
    }
    let first = field("first_name").or_else(|| field("prenom"));
    let last = field("last_name").or_else(|| field("nom"));
    let joined = [first, last]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (!joined.is_empty()).then_some(joined)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_candidate_name_comes_from_the_usual_fields() {
        assert_eq!(
            candidate_name(&json!({"name": "Ana Lopes"})).as_deref(),
            Some("Ana Lopes")
        );
        assert_eq!(
            candidate_name(&json!({"first_name": "Ana", "last_name": "Lopes"})).as_deref(),
            Some("Ana Lopes")
        );
        assert_eq!(
            candidate_name(&json!({"prenom": "Zoé", "nom": "Martin"})).as_deref(),
            Some("Zoé Martin")
        );
        assert_eq!(candidate_name(&json!({"birth_date": "2001-01-01"})), None);
    }
}
