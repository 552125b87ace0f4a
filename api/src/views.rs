//! The JSON shapes of the API, built from records and the domain's assessment.

use serde_json::{Value, json};

use dossiers::PieceStatus;
use storage::DocumentRecord;

use ingest::pipeline::dossier::Snapshot;
use ingest::pipeline::scan;

pub fn document(doc: &DocumentRecord) -> Value {
    let empty = Value::Array(Vec::new());
    let mut view = json!({
        "id": doc.id,
        "piece": doc.piece,
        "filename": doc.filename,
        "sha256": doc.sha256,
        "size": doc.size,
        "kind": doc.kind,
        "pages": doc.pages,
        "channel": doc.channel,
        "origin": origin(doc),
        "verdict": doc.verdict,
        "reasons": doc.reasons.get("reasons").unwrap_or(&empty),
        "notes": doc.reasons.get("notes").unwrap_or(&empty),
        "review": doc.review,
        "review_reason": doc.review_reason,
        "reviewed_at": doc.reviewed_at,
        "late": doc.late,
        "received_at": doc.received_at,
        "scan": doc.scan,
    });
    if doc.scan.as_deref() == Some(scan::state::INFECTED) {
        view["scan_signature"] = json!(doc.scan_signature);
    }
    view
}

/// Where the document came from: `{channel}`, and for the mailroom its batch, station and
/// pages.
fn origin(doc: &DocumentRecord) -> Value {
    let mut origin = doc.origin.clone();
    if !origin.is_object() {
        origin = json!({});
    }
    origin["channel"] = json!(doc.channel);
    origin
}

/// The dossier with each piece's requirement, status and documents.
pub fn dossier(snapshot: &Snapshot) -> Value {
    let assessment = snapshot.assessment();
    let pieces: Vec<Value> = snapshot
        .campaign
        .pieces()
        .iter()
        .map(|piece| {
            let assessed = assessment.piece(piece.code());
            let documents: Vec<Value> = snapshot
                .active_documents()
                .filter(|d| d.piece.as_deref() == Some(piece.code()))
                .map(document)
                .collect();
            json!({
                "code": piece.code(),
                "label": piece.label(),
                "required": assessed.is_some_and(|a| a.required),
                "why": assessed.and_then(|a| a.why.clone()),
                "status": assessed.map_or(PieceStatus::Missing, |a| a.status),
                "accept": piece.accept(),
                "min_documents": piece.min_documents(),
                "max_documents": piece.max_documents(),
                "review": piece.review(),
                "documents": documents,
            })
        })
        .collect();
    let unclassified: Vec<Value> = snapshot
        .active_documents()
        .filter(|d| {
            d.piece
                .as_ref()
                .is_none_or(|code| snapshot.campaign.piece(code).is_none())
        })
        .map(document)
        .collect();
    json!({
        "reference": snapshot.record.reference,
        "campaign": snapshot.record.campaign,
        "state": snapshot.state,
        "reason": snapshot.record.state_reason,
        "complete": assessment.complete,
        "missing": assessment.missing_for_submission(),
        "candidate": snapshot.record.candidate,
        "pieces": pieces,
        "unclassified": unclassified,
        "created_at": snapshot.record.created_at,
        "updated_at": snapshot.record.updated_at,
    })
}

/// The short form returned with an upload.
pub fn dossier_summary(snapshot: &Snapshot) -> Value {
    let assessment = snapshot.assessment();
    json!({
        "reference": snapshot.record.reference,
        "state": snapshot.state,
        "complete": assessment.complete,
        "missing": assessment.missing_for_submission(),
        "pieces": assessment.pieces.iter().map(|p| json!({
            "code": p.code, "required": p.required, "status": p.status,
        })).collect::<Vec<_>>(),
    })
}
