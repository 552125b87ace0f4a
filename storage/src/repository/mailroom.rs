//! Mailroom batches, on both backends. Where each mailroom document came from is on the
//! document itself (`DocumentRecord::origin`).
//!
//! A batch row is written once the batch's bytes are durably stored; the processing itself is
//! a job (`mailroom.batch`, keyed by the batch id) claimed under a lease by any process. The
//! batch's `report` is rewritten as segments are filed, so a reader sees progress and a worker
//! that takes over after a crash sees what was filed (filing a segment is idempotent anyway:
//! the same pages make the same bytes, and the same bytes for the same piece are the same
//! document).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{ColumnIndex, Row};

use super::columns::Column;
use super::{PostgresRepository, RepoError, SqliteRepository};

/// A scanned batch received from a station.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchRecord {
    pub id: String,
    /// The name of the station's token.
    pub station: String,
    pub filename: Option<String>,
    pub sha256: String,
    pub size: u64,
    /// `pdf` or `tiff`.
    pub format: String,
    /// `queued`, `processing`, `done` or `failed`.
    pub state: String,
    /// Pages in the batch, once read.
    pub pages: Option<u32>,
    /// The split's outcome so far (see the mailroom pipeline for its shape).
    pub report: Value,
    /// Why the batch failed, when it did.
    pub error: Option<String>,
    pub received_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[async_trait]
pub trait MailroomRepository: Send + Sync {
    /// Records the batch, or returns the one already there with the same content (`false`).
    async fn insert_batch(&self, batch: &BatchRecord) -> Result<(BatchRecord, bool), RepoError>;
    async fn batch(&self, id: &str) -> Result<Option<BatchRecord>, RepoError>;
    /// The latest `limit` batches, latest received first (callers look for triage entries in
    /// their reports).
    async fn batches(&self, limit: u32) -> Result<Vec<BatchRecord>, RepoError>;
    /// Sets the batch's state, page count, report and error.
    async fn update_batch(
        &self,
        id: &str,
        state: &str,
        pages: Option<u32>,
        report: &Value,
        error: Option<&str>,
    ) -> Result<(), RepoError>;
}

const INSERT_BATCH: &str = "INSERT INTO batches (id, station, filename, sha256, size, format,
        state, pages, report, error, received_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
    ON CONFLICT (sha256) DO NOTHING";
const SELECT_BATCH: &str = "SELECT * FROM batches WHERE id = $1";
const SELECT_BATCHES: &str = "SELECT * FROM batches ORDER BY received_at DESC, id DESC LIMIT $1";
const SELECT_BATCH_BY_SHA: &str = "SELECT * FROM batches WHERE sha256 = $1";
const UPDATE_BATCH: &str = "UPDATE batches SET state = $1, pages = $2, report = $3, error = $4,
        updated_at = $5
    WHERE id = $6";
fn batch<R>(row: &R) -> Result<BatchRecord, RepoError>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    String: Column<R::Database>,
    Option<String>: Column<R::Database>,
    i64: Column<R::Database>,
    Option<i32>: Column<R::Database>,
    DateTime<Utc>: Column<R::Database>,
    Value: Column<R::Database>,
{
    let size: i64 = row.try_get("size")?;
    let pages: Option<i32> = row.try_get("pages")?;
    Ok(BatchRecord {
        id: row.try_get("id")?,
        station: row.try_get("station")?,
        filename: row.try_get("filename")?,
        sha256: row.try_get("sha256")?,
        size: u64::try_from(size).map_err(|_| RepoError::Corrupt(format!("size {size}")))?,
        format: row.try_get("format")?,
        state: row.try_get("state")?,
        pages: pages
            .map(u32::try_from)
            .transpose()
            .map_err(|_| RepoError::Corrupt("negative page count".into()))?,
        report: row.try_get("report")?,
        error: row.try_get("error")?,
        received_at: row.try_get("received_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn to_i32(n: u32) -> Result<i32, RepoError> {
    i32::try_from(n).map_err(|_| RepoError::Database(format!("page number {n} out of range")))
}

/// `impl MailroomRepository for TYPE` (a type with a `pool` field): the statements and their
/// bindings are the same on both databases.
macro_rules! mailroom_impl {
    ($repository:ty) => {
        #[async_trait]
        impl MailroomRepository for $repository {
            async fn insert_batch(
                &self,
                record: &BatchRecord,
            ) -> Result<(BatchRecord, bool), RepoError> {
                let size = i64::try_from(record.size)
                    .map_err(|_| RepoError::Database("batch size out of range".into()))?;
                let inserted = sqlx::query(INSERT_BATCH)
                    .bind(&record.id)
                    .bind(&record.station)
                    .bind(&record.filename)
                    .bind(&record.sha256)
                    .bind(size)
                    .bind(&record.format)
                    .bind(&record.state)
                    .bind(record.pages.map(to_i32).transpose()?)
                    .bind(&record.report)
                    .bind(&record.error)
                    .bind(record.received_at)
                    .execute(&self.pool)
                    .await?
                    .rows_affected()
                    == 1;
                let row = sqlx::query(SELECT_BATCH_BY_SHA)
                    .bind(&record.sha256)
                    .fetch_one(&self.pool)
                    .await?;
                Ok((batch(&row)?, inserted))
            }

            async fn batch(&self, id: &str) -> Result<Option<BatchRecord>, RepoError> {
                let row = sqlx::query(SELECT_BATCH)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(batch).transpose()
            }

            async fn batches(&self, limit: u32) -> Result<Vec<BatchRecord>, RepoError> {
                let rows = sqlx::query(SELECT_BATCHES)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(batch).collect()
            }

            async fn update_batch(
                &self,
                id: &str,
                state: &str,
                pages: Option<u32>,
                report: &Value,
                error: Option<&str>,
            ) -> Result<(), RepoError> {
                sqlx::query(UPDATE_BATCH)
                    .bind(state)
                    .bind(pages.map(to_i32).transpose()?)
                    .bind(report)
                    .bind(error)
                    .bind(Utc::now())
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
        }
    };
}

mailroom_impl!(SqliteRepository);
mailroom_impl!(PostgresRepository);
