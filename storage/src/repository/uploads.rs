//! Resumable uploads (tus), on both backends: how far each one got, what the object store
//! holds of it, and which request may write to it now.
//!
//! The offset is the truth: bytes beyond it, left by a request that failed half-way, are
//! overwritten by the next one. Progress is recorded only under the writer's lease
//! ([`UploadRepository::save_upload`] checks the owner), so a request that lost its lease (its
//! client came back through another connection or process) cannot move the offset.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{ColumnIndex, Row};

use super::columns::Column;
use super::{PostgresRepository, RepoError, SqliteRepository};

/// The states of an upload, as stored.
pub mod upload_state {
    /// Bytes are still expected.
    pub const RECEIVING: &str = "receiving";
    /// Every byte is in; the document has not been through intake yet.
    pub const RECEIVED: &str = "received";
    /// Through intake: `document` names the document on file.
    pub const FILED: &str = "filed";
    /// Through intake and refused: `outcome` holds the error.
    pub const REFUSED: &str = "refused";
}

/// One resumable upload.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadRecord {
    pub id: String,
    /// The dossier's reference.
    pub dossier: String,
    pub piece: String,
    /// Who created it, as the journal names them.
    pub actor: String,
    /// The size announced at creation (`Upload-Length`).
    pub length: u64,
    /// Bytes durably received.
    pub offset: u64,
    /// `Upload-Metadata` as sent.
    pub metadata: Option<String>,
    /// The object store's record of the bytes (see `storage::uploads::Parts`).
    pub parts: Value,
    /// See [`upload_state`].
    pub state: String,
    pub document: Option<String>,
    pub outcome: Option<Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Progress of an upload, recorded under its lease.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadProgress<'a> {
    pub offset: u64,
    pub parts: &'a Value,
    pub state: &'a str,
    pub expires_at: DateTime<Utc>,
}

#[async_trait]
pub trait UploadRepository: Send + Sync {
    async fn insert_upload(&self, upload: &UploadRecord) -> Result<(), RepoError>;
    async fn upload(&self, id: &str) -> Result<Option<UploadRecord>, RepoError>;
    /// Takes the upload for `owner` until `until`, if nobody holds it, its holder's lease
    /// lapsed before `now`, or `owner` holds it already (a renewal). Whether it was taken.
    async fn lease_upload(
        &self,
        id: &str,
        owner: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, RepoError>;
    /// Records progress and renews the lease to `until`, if `owner` still holds it; `false`
    /// when it does not (nothing was written).
    async fn save_upload(
        &self,
        id: &str,
        owner: &str,
        progress: UploadProgress<'_>,
        until: DateTime<Utc>,
    ) -> Result<bool, RepoError>;
    /// Gives the upload up, if `owner` holds it.
    async fn release_upload(&self, id: &str, owner: &str) -> Result<(), RepoError>;
    /// The end of an upload's intake: `filed` with its document, or `refused` with the error.
    async fn settle_upload(
        &self,
        id: &str,
        state: &str,
        document: Option<&str>,
        outcome: Option<&Value>,
    ) -> Result<(), RepoError>;
    /// Removes the upload's row; whether it was there.
    async fn delete_upload(&self, id: &str) -> Result<bool, RepoError>;
    /// Uploads past their expiry at `now` that nobody holds, oldest first.
    async fn expired_uploads(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<UploadRecord>, RepoError>;
    /// Uploads received whole, not through intake, untouched since `before` and not held at
    /// `now`: their request ended before filing them (a crash, a failing store).
    async fn unsettled_uploads(
        &self,
        before: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<UploadRecord>, RepoError>;
}

const INSERT_UPLOAD: &str = "INSERT INTO uploads (id, dossier, piece, actor, length,
        upload_offset, metadata, parts, state, created_at, updated_at, expires_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11)";
const SELECT_UPLOAD: &str = "SELECT * FROM uploads WHERE id = $1";
const LEASE_UPLOAD: &str = "UPDATE uploads SET lease_owner = $1, lease_until = $2
    WHERE id = $3 AND (lease_owner IS NULL OR lease_owner = $1 OR lease_until < $4)";
const SAVE_UPLOAD: &str = "UPDATE uploads SET upload_offset = $1, parts = $2, state = $3,
        expires_at = $4, updated_at = $5, lease_until = $6
    WHERE id = $7 AND lease_owner = $8";
const RELEASE_UPLOAD: &str = "UPDATE uploads SET lease_owner = NULL, lease_until = NULL
    WHERE id = $1 AND lease_owner = $2";
const SETTLE_UPLOAD: &str = "UPDATE uploads SET state = $1, document = $2, outcome = $3,
        updated_at = $4
    WHERE id = $5";
const DELETE_UPLOAD: &str = "DELETE FROM uploads WHERE id = $1";
const EXPIRED_UPLOADS: &str = "SELECT * FROM uploads
    WHERE expires_at < $1 AND (lease_owner IS NULL OR lease_until < $1)
    ORDER BY expires_at LIMIT $2";
const UNSETTLED_UPLOADS: &str = "SELECT * FROM uploads
    WHERE state = 'received' AND updated_at < $1 AND (lease_owner IS NULL OR lease_until < $2)
    ORDER BY updated_at LIMIT $3";

fn upload<R>(row: &R) -> Result<UploadRecord, RepoError>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    String: Column<R::Database>,
    Option<String>: Column<R::Database>,
    i64: Column<R::Database>,
    DateTime<Utc>: Column<R::Database>,
    Value: Column<R::Database>,
    Option<Value>: Column<R::Database>,
{
    let count = |name: &str| -> Result<u64, RepoError> {
        let n: i64 = row.try_get(name)?;
        u64::try_from(n).map_err(|_| RepoError::Corrupt(format!("upload {name} {n}")))
    };
    Ok(UploadRecord {
        id: row.try_get("id")?,
        dossier: row.try_get("dossier")?,
        piece: row.try_get("piece")?,
        actor: row.try_get("actor")?,
        length: count("length")?,
        offset: count("upload_offset")?,
        metadata: row.try_get("metadata")?,
        parts: row.try_get("parts")?,
        state: row.try_get("state")?,
        document: row.try_get("document")?,
        outcome: row.try_get("outcome")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

fn to_i64(n: u64) -> Result<i64, RepoError> {
    i64::try_from(n).map_err(|_| RepoError::Database(format!("upload size {n} out of range")))
}

/// `impl UploadRepository for TYPE` (a type with a `pool` field): the statements and their
/// bindings are the same on both databases.
macro_rules! uploads_impl {
    ($repository:ty) => {
        #[async_trait]
        impl UploadRepository for $repository {
            async fn insert_upload(&self, record: &UploadRecord) -> Result<(), RepoError> {
                sqlx::query(INSERT_UPLOAD)
                    .bind(&record.id)
                    .bind(&record.dossier)
                    .bind(&record.piece)
                    .bind(&record.actor)
                    .bind(to_i64(record.length)?)
                    .bind(to_i64(record.offset)?)
                    .bind(&record.metadata)
                    .bind(&record.parts)
                    .bind(&record.state)
                    .bind(record.created_at)
                    .bind(record.expires_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn upload(&self, id: &str) -> Result<Option<UploadRecord>, RepoError> {
                let row = sqlx::query(SELECT_UPLOAD)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(upload).transpose()
            }

            async fn lease_upload(
                &self,
                id: &str,
                owner: &str,
                until: DateTime<Utc>,
                now: DateTime<Utc>,
            ) -> Result<bool, RepoError> {
                let taken = sqlx::query(LEASE_UPLOAD)
                    .bind(owner)
                    .bind(until)
                    .bind(id)
                    .bind(now)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                Ok(taken == 1)
            }

            async fn save_upload(
                &self,
                id: &str,
                owner: &str,
                progress: UploadProgress<'_>,
                until: DateTime<Utc>,
            ) -> Result<bool, RepoError> {
                let saved = sqlx::query(SAVE_UPLOAD)
                    .bind(to_i64(progress.offset)?)
                    .bind(progress.parts)
                    .bind(progress.state)
                    .bind(progress.expires_at)
                    .bind(Utc::now())
                    .bind(until)
                    .bind(id)
                    .bind(owner)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                Ok(saved == 1)
            }

            async fn release_upload(&self, id: &str, owner: &str) -> Result<(), RepoError> {
                sqlx::query(RELEASE_UPLOAD)
                    .bind(id)
                    .bind(owner)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn settle_upload(
                &self,
                id: &str,
                state: &str,
                document: Option<&str>,
                outcome: Option<&Value>,
            ) -> Result<(), RepoError> {
                sqlx::query(SETTLE_UPLOAD)
                    .bind(state)
                    .bind(document)
                    .bind(outcome)
                    .bind(Utc::now())
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn delete_upload(&self, id: &str) -> Result<bool, RepoError> {
                let deleted = sqlx::query(DELETE_UPLOAD)
                    .bind(id)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                Ok(deleted == 1)
            }

            async fn expired_uploads(
                &self,
                now: DateTime<Utc>,
                limit: u32,
            ) -> Result<Vec<UploadRecord>, RepoError> {
                let rows = sqlx::query(EXPIRED_UPLOADS)
                    .bind(now)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(upload).collect()
            }

            async fn unsettled_uploads(
                &self,
                before: DateTime<Utc>,
                now: DateTime<Utc>,
                limit: u32,
            ) -> Result<Vec<UploadRecord>, RepoError> {
                let rows = sqlx::query(UNSETTLED_UPLOADS)
                    .bind(before)
                    .bind(now)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(upload).collect()
            }
        }
    };
}

uploads_impl!(SqliteRepository);
uploads_impl!(PostgresRepository);
