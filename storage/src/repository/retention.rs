//! Retention, on both backends: which documents a campaign rule makes due, and the deletion
//! of content no live document needs any more.
//!
//! A purge is two steps, each crash-safe on its own:
//! 1. documents are marked `purged_at` (with their rule) in a dossier change, with their
//!    `document.purged` event and journal entries: from then on their content is not served
//!    and not counted as referenced;
//! 2. for each object a purged document pointed at (its content, its display copy, and the
//!    pictures of either), the object is deleted once no live document needs it. A
//!    `content_deletions` row is written first, in the transaction that checks the need,
//!    under the object's lock; an intake of the same bytes takes the same lock and is refused
//!    while the row is there (see `apply`), so no document ever points at an object being
//!    deleted. The row goes once the object and its pictures are gone; a pass finds rows
//!    and documents left half-done by a crash and finishes them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{PostgresRepository, RepoError, SqliteRepository};

/// A document a rule applies to, with the instant its period counts from.
#[derive(Debug, Clone, PartialEq)]
pub struct RetentionCandidate {
    pub document: String,
    pub dossier: String,
    pub piece: Option<String>,
    /// The staff decision (for `purge_after_decision`) or the dossier's closing (for
    /// `after_close`).
    pub since: DateTime<Utc>,
}

/// A purged document whose objects are still to be dealt with.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingPurge {
    pub document: String,
    pub sha256: String,
    pub display_sha256: Option<String>,
}

#[async_trait]
pub trait RetentionRepository: Send + Sync {
    /// Live (not purged) documents of `campaign`'s `piece` decided at or before `until`,
    /// oldest decision first, at most `limit`.
    async fn decided_documents(
        &self,
        campaign: &str,
        piece: &str,
        until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<RetentionCandidate>, RepoError>;

    /// Live documents of `campaign`'s dossiers closed at or before `until`, oldest closing
    /// first, at most `limit`.
    async fn closed_documents(
        &self,
        campaign: &str,
        until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<RetentionCandidate>, RepoError>;

    /// Purged documents whose objects are not dealt with yet, at most `limit`.
    async fn pending_purges(&self, limit: u32) -> Result<Vec<PendingPurge>, RepoError>;

    /// Records that a purged document's objects were dealt with.
    async fn purge_done(&self, document: &str) -> Result<(), RepoError>;

    /// Starts deleting the object `sha256`: `false` (and nothing written) when a live
    /// document still needs it, as its content or its display copy.
    async fn begin_content_deletion(&self, sha256: &str) -> Result<bool, RepoError>;

    /// Objects whose deletion was started and not finished.
    async fn content_deletions(&self) -> Result<Vec<String>, RepoError>;

    /// Whether a picture object is also a page of content other than `source`.
    async fn picture_shared(&self, image: &str, source: &str) -> Result<bool, RepoError>;

    /// Ends the deletion of `sha256`: its pictures' records and its deletion row go.
    async fn finish_content_deletion(&self, sha256: &str) -> Result<(), RepoError>;
}

const DECIDED: &str = "SELECT d.id, d.dossier, d.piece, d.reviewed_at AS since
    FROM documents d JOIN dossiers x ON x.reference = d.dossier
    WHERE x.campaign = $1 AND d.piece = $2 AND d.purged_at IS NULL
        AND d.reviewed_at IS NOT NULL AND d.reviewed_at <= $3
    ORDER BY d.reviewed_at, d.id LIMIT $4";
const CLOSED: &str = "SELECT d.id, d.dossier, d.piece, x.closed_at AS since
    FROM documents d JOIN dossiers x ON x.reference = d.dossier
    WHERE x.campaign = $1 AND x.state = 'closed' AND x.closed_at IS NOT NULL
        AND x.closed_at <= $2 AND d.purged_at IS NULL
    ORDER BY x.closed_at, d.id LIMIT $3";
const PENDING: &str = "SELECT id, sha256, display_sha256 FROM documents
    WHERE purged_at IS NOT NULL AND NOT purge_done ORDER BY purged_at, id LIMIT $1";
const PURGE_DONE: &str = "UPDATE documents SET purge_done = true WHERE id = $1";
/// Whether a live document needs the object.
pub(super) const CONTENT_NEEDED: &str = "SELECT EXISTS (SELECT 1 FROM documents
    WHERE (sha256 = $1 OR display_sha256 = $1) AND purged_at IS NULL)";
const START_DELETION: &str = "INSERT INTO content_deletions (sha256, started_at)
    VALUES ($1, $2) ON CONFLICT (sha256) DO NOTHING";
/// Whether the object is being deleted (an intake of the same bytes must wait).
pub(super) const BEING_DELETED: &str =
    "SELECT EXISTS (SELECT 1 FROM content_deletions WHERE sha256 = $1)";
const DELETIONS: &str = "SELECT sha256 FROM content_deletions ORDER BY started_at, sha256";
const PICTURE_SHARED: &str = "SELECT EXISTS (SELECT 1 FROM preview_pages
    WHERE image_sha256 = $1 AND source_sha256 <> $2)";
const DELETE_PICTURES: &str = "DELETE FROM preview_pages WHERE source_sha256 = $1";
const DELETE_SET: &str = "DELETE FROM previews WHERE source_sha256 = $1";
const END_DELETION: &str = "DELETE FROM content_deletions WHERE sha256 = $1";

fn candidate<R>(row: &R) -> Result<RetentionCandidate, RepoError>
where
    R: sqlx::Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    String: super::columns::Column<R::Database>,
    Option<String>: super::columns::Column<R::Database>,
    DateTime<Utc>: super::columns::Column<R::Database>,
{
    Ok(RetentionCandidate {
        document: row.try_get("id")?,
        dossier: row.try_get("dossier")?,
        piece: row.try_get("piece")?,
        since: row.try_get("since")?,
    })
}

/// `impl RetentionRepository for TYPE` (with `pool` and `begin_write`), given how it locks
/// one object's name for the rest of a transaction (`$lock`, a function of the transaction
/// and the SHA-256).
macro_rules! retention_impl {
    ($repository:ty, $lock:path) => {
        #[async_trait]
        impl RetentionRepository for $repository {
            async fn decided_documents(
                &self,
                campaign: &str,
                piece: &str,
                until: DateTime<Utc>,
                limit: u32,
            ) -> Result<Vec<RetentionCandidate>, RepoError> {
                let rows = sqlx::query(DECIDED)
                    .bind(campaign)
                    .bind(piece)
                    .bind(until)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(candidate).collect()
            }

            async fn closed_documents(
                &self,
                campaign: &str,
                until: DateTime<Utc>,
                limit: u32,
            ) -> Result<Vec<RetentionCandidate>, RepoError> {
                let rows = sqlx::query(CLOSED)
                    .bind(campaign)
                    .bind(until)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(candidate).collect()
            }

            async fn pending_purges(&self, limit: u32) -> Result<Vec<PendingPurge>, RepoError> {
                let rows = sqlx::query(PENDING)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|row| {
                        use sqlx::Row;
                        Ok(PendingPurge {
                            document: row.try_get("id")?,
                            sha256: row.try_get("sha256")?,
                            display_sha256: row.try_get("display_sha256")?,
                        })
                    })
                    .collect()
            }

            async fn purge_done(&self, document: &str) -> Result<(), RepoError> {
                sqlx::query(PURGE_DONE)
                    .bind(document)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn begin_content_deletion(&self, sha256: &str) -> Result<bool, RepoError> {
                let mut tx = self.begin_write().await?;
                $lock(&mut tx, sha256).await?;
                let needed: bool = sqlx::query_scalar(CONTENT_NEEDED)
                    .bind(sha256)
                    .fetch_one(&mut *tx)
                    .await?;
                if needed {
                    return Ok(false);
                }
                sqlx::query(START_DELETION)
                    .bind(sha256)
                    .bind(Utc::now())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn content_deletions(&self) -> Result<Vec<String>, RepoError> {
                Ok(sqlx::query_scalar(DELETIONS).fetch_all(&self.pool).await?)
            }

            async fn picture_shared(&self, image: &str, source: &str) -> Result<bool, RepoError> {
                Ok(sqlx::query_scalar(PICTURE_SHARED)
                    .bind(image)
                    .bind(source)
                    .fetch_one(&self.pool)
                    .await?)
            }

            async fn finish_content_deletion(&self, sha256: &str) -> Result<(), RepoError> {
                let mut tx = self.begin_write().await?;
                for statement in [DELETE_PICTURES, DELETE_SET, END_DELETION] {
                    sqlx::query(statement)
                        .bind(sha256)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }
        }
    };
}

/// SQLite: writers are serialised by `BEGIN IMMEDIATE` already.
pub(super) async fn lock_nothing(
    _tx: &mut sqlx::SqliteConnection,
    _sha256: &str,
) -> Result<(), RepoError> {
    Ok(())
}

/// PostgreSQL: a transaction-scoped advisory lock on the object's name, taken by the purge's
/// check and by an intake's insert of the same bytes alike.
pub(super) async fn lock_content(
    tx: &mut sqlx::PgConnection,
    sha256: &str,
) -> Result<(), RepoError> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('content:' || $1, 0))")
        .bind(sha256)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

retention_impl!(SqliteRepository, lock_nothing);
retention_impl!(PostgresRepository, lock_content);
