//! The rows a [`DossierChange`] writes, the same on both backends: the dossier's state,
//! attributes, corrections and extension, its new documents, reviews, scans, withdrawals,
//! moves and purges, and the review claims they settle. Each backend's `apply` brackets this
//! with what differs: the version check that opens the transaction, the locks, job
//! enqueueing and the ordered insertion of events.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{Database, Executor, IntoArguments};

use super::columns::{Column, RecordBinds};
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

/// Writes the change's rows on `conn`, inside the transaction that bumped the version and,
/// on PostgreSQL, holds the locks of [`new_objects`]. Refuses with
/// [`RepoError::ContentBeingDeleted`] a new document whose object a purge is deleting.
pub(super) async fn write<DB>(
    conn: &mut DB::Connection,
    reference: &str,
    change: &DossierChange,
    now: DateTime<Utc>,
) -> Result<(), RepoError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> sqlx::query::Query<'q, DB, DB::Arguments>: RecordBinds,
    String: Column<DB>,
    Option<String>: Column<DB>,
    bool: Column<DB>,
    DateTime<Utc>: Column<DB>,
    Value: Column<DB>,
    Option<Value>: Column<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    let reference = reference.to_string();
    for sha256 in new_objects(change) {
        let deleting: bool = sqlx::query_scalar::<DB, bool>(retention::BEING_DELETED)
            .bind(sha256.clone())
            .fetch_one(&mut *conn)
            .await?;
        if deleting {
            return Err(RepoError::ContentBeingDeleted);
        }
    }
    if let Some((state, reason)) = &change.state {
        sqlx::query::<DB>(sql::SET_STATE)
            .bind(state.clone())
            .bind(reason.clone())
            .bind(reference.clone())
            .bind(now)
            .execute(&mut *conn)
            .await?;
    }
    for (document, rule) in &change.purges {
        sqlx::query::<DB>(sql::PURGE_DOCUMENT)
            .bind(now)
            .bind(rule.clone())
            .bind(document.clone())
            .bind(reference.clone())
            .execute(&mut *conn)
            .await?;
    }
    for doc in &change.new_documents {
        sqlx::query::<DB>(sql::INSERT_DOCUMENT)
            .bind_document(doc)
            .execute(&mut *conn)
            .await?;
    }
    for review in &change.reviews {
        sqlx::query::<DB>(sql::REVIEW_DOCUMENT)
            .bind(review.decision.clone())
            .bind(review.reason.clone())
            .bind(review.by.clone())
            .bind(now)
            .bind(review.document.clone())
            .bind(reference.clone())
            .execute(&mut *conn)
            .await?;
    }
    for scan in &change.scans {
        sqlx::query::<DB>(sql::SCAN_DOCUMENT)
            .bind(scan.scan.clone())
            .bind(scan.signature.clone())
            .bind(scan.verdict.clone())
            .bind(scan.reasons.clone())
            .bind(scan.document.clone())
            .bind(reference.clone())
            .execute(&mut *conn)
            .await?;
    }
    for id in &change.withdrawals {
        sqlx::query::<DB>(sql::WITHDRAW_DOCUMENT)
            .bind(now)
            .bind(id.clone())
            .bind(reference.clone())
            .execute(&mut *conn)
            .await?;
    }
    let dossier_values = [
        (sql::SET_CANDIDATE, change.candidate.as_ref()),
        (sql::SET_CORRECTIONS, change.corrections.as_ref()),
        (sql::SET_EXTENSION, change.extension.as_ref()),
    ];
    for (statement, value) in dossier_values {
        if let Some(value) = value {
            sqlx::query::<DB>(statement)
                .bind(value.clone())
                .bind(reference.clone())
                .execute(&mut *conn)
                .await?;
        }
    }
    for moved in &change.assignments {
        sqlx::query::<DB>(sql::ASSIGN_DOCUMENT)
            .bind(moved.piece.clone())
            .bind(moved.verdict.clone())
            .bind(moved.reasons.clone())
            .bind(moved.review.clone())
            .bind(moved.reviewed_by.clone())
            .bind(now)
            .bind(moved.document.clone())
            .bind(reference.clone())
            .execute(&mut *conn)
            .await?;
    }
    // A decided or withdrawn document leaves the review queue, and its claim with it;
    // after the document rows, the order claimers rely on (see queue.rs).
    let settled = change.reviews.iter().map(|r| &r.document);
    for id in settled.chain(&change.withdrawals) {
        sqlx::query::<DB>(queue::RELEASE_DOCUMENT)
            .bind(id.clone())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
