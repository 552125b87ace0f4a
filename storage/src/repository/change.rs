//! The rows a [`DossierChange`] writes, the same on both backends: the dossier's state,
//! attributes, corrections and extension, its new documents, reviews, scans, withdrawals,
//! moves and purges, and the review claims they settle. Each backend's `apply` brackets this
//! with what differs: the version check that opens the transaction, the locks, job
//! enqueueing and the ordered insertion of events.

use chrono::{DateTime, Utc};

use super::columns::document_params;
use super::statement::{Check, Statement, params};
use super::{DossierChange, RepoError, queue, retention, sql};

/// The objects the change's new documents point at (content and display copies), sorted
/// and once each: the order in which `apply` locks them.
pub(super) fn new_objects(change: &DossierChange) -> Vec<&String> {
    let mut objects: Vec<&String> = change
        .new_documents
        .iter()
        .flat_map(|d| std::iter::once(&d.sha256).chain(&d.display_sha256))
        .collect();
    objects.sort();
    objects.dedup();
    objects
}

/// The statements that write the change's rows, to run inside the transaction that bumped
/// the version and, on PostgreSQL, holds the locks of [`new_objects`]. The first refuse, with
/// [`RepoError::ContentBeingDeleted`], a new document whose object a purge is deleting.
pub(super) fn statements(
    reference: &str,
    change: &DossierChange,
    now: DateTime<Utc>,
) -> Vec<Statement> {
    let mut statements = Vec::new();
    for sha256 in new_objects(change) {
        statements.push(
            Statement::new(retention::BEING_DELETED, params![sha256])
                .checked(Check::False(RepoError::ContentBeingDeleted)),
        );
    }
    if let Some((state, reason)) = &change.state {
        statements.push(Statement::new(
            sql::SET_STATE,
            params![state, reason, reference, now],
        ));
    }
    for (document, rule) in &change.purges {
        statements.push(Statement::new(
            sql::PURGE_DOCUMENT,
            params![now, rule, document, reference],
        ));
    }
    for doc in &change.new_documents {
        statements.push(Statement::new(sql::INSERT_DOCUMENT, document_params(doc)));
    }
    for review in &change.reviews {
        statements.push(Statement::new(
            sql::REVIEW_DOCUMENT,
            params![
                &review.decision,
                &review.reason,
                &review.by,
                now,
                &review.document,
                reference
            ],
        ));
    }
    for scan in &change.scans {
        statements.push(Statement::new(
            sql::SCAN_DOCUMENT,
            params![
                &scan.scan,
                &scan.signature,
                &scan.verdict,
                &scan.reasons,
                &scan.document,
                reference
            ],
        ));
    }
    for id in &change.withdrawals {
        statements.push(Statement::new(
            sql::WITHDRAW_DOCUMENT,
            params![now, id, reference],
        ));
    }
    let dossier_values = [
        (sql::SET_CANDIDATE, &change.candidate),
        (sql::SET_CORRECTIONS, &change.corrections),
        (sql::SET_EXTENSION, &change.extension),
    ];
    for (statement, value) in dossier_values {
        if value.is_some() {
            statements.push(Statement::new(statement, params![value, reference]));
        }
    }
    for moved in &change.assignments {
        statements.push(Statement::new(
            sql::ASSIGN_DOCUMENT,
            params![
                &moved.piece,
                &moved.verdict,
                &moved.reasons,
                &moved.review,
                &moved.reviewed_by,
                now,
                &moved.document,
                reference
            ],
        ));
    }
    // A decided or withdrawn document leaves the review queue, and its claim with it;
    // after the document rows, the order claimers rely on (see queue.rs).
    let settled = change.reviews.iter().map(|r| &r.document);
    for id in settled.chain(&change.withdrawals) {
        statements.push(Statement::new(queue::RELEASE_DOCUMENT, params![id]));
    }
    statements
}
