//! The repository of the embedded default: SQLite in WAL mode with `synchronous = FULL`,
//! so a committed transaction survives a crash or a power cut.
//!
//! Writes take the database lock at `BEGIN IMMEDIATE`, so a read-modify-write never fails
//! half-way on a lock upgrade; the dossier version check still guards against a change
//! computed from a stale read.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

use super::{
    CampaignRecord, DocumentRecord, DossierChange, DossierRecord, EventRecord, NewEvent, RepoError,
    Repository, TokenRecord,
};

pub struct SqliteRepository {
    pool: SqlitePool,
}

impl From<sqlx::Error> for RepoError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => {
                RepoError::Unavailable(e.to_string())
            }
            sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
                RepoError::Corrupt(e.to_string())
            }
            other => RepoError::Database(other.to_string()),
        }
    }
}

impl SqliteRepository {
    /// Opens (creating if needed) the database at `url` (`sqlite://path`) and migrates it.
    pub async fn connect(url: &str) -> Result<Self, RepoError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|e| RepoError::Database(format!("migration failed: {e}")))?;
        Ok(SqliteRepository { pool })
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, RepoError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

fn json_text(value: &Value) -> String {
    value.to_string()
}

fn parse_json(text: &str) -> Result<Value, RepoError> {
    serde_json::from_str(text).map_err(|e| RepoError::Corrupt(format!("json column: {e}")))
}

fn dossier_from(row: &SqliteRow) -> Result<DossierRecord, RepoError> {
    Ok(DossierRecord {
        reference: row.try_get("reference")?,
        campaign: row.try_get("campaign")?,
        candidate: parse_json(row.try_get("candidate")?)?,
        state: row.try_get("state")?,
        state_reason: row.try_get("state_reason")?,
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn document_from(row: &SqliteRow) -> Result<DocumentRecord, RepoError> {
    let size: i64 = row.try_get("size")?;
    let pages: Option<i64> = row.try_get("pages")?;
    Ok(DocumentRecord {
        id: row.try_get("id")?,
        dossier: row.try_get("dossier")?,
        piece: row.try_get("piece")?,
        filename: row.try_get("filename")?,
        declared_type: row.try_get("declared_type")?,
        sha256: row.try_get("sha256")?,
        size: u64::try_from(size).map_err(|_| RepoError::Corrupt("negative size".into()))?,
        kind: row.try_get("kind")?,
        mime: row.try_get("mime")?,
        pages: pages.and_then(|p| u32::try_from(p).ok()),
        channel: row.try_get("channel")?,
        verdict: row.try_get("verdict")?,
        reasons: parse_json(row.try_get("reasons")?)?,
        review: row.try_get("review")?,
        review_reason: row.try_get("review_reason")?,
        reviewed_by: row.try_get("reviewed_by")?,
        reviewed_at: row.try_get("reviewed_at")?,
        withdrawn_at: row.try_get("withdrawn_at")?,
        late: row.try_get("late")?,
        received_at: row.try_get("received_at")?,
    })
}

async fn insert_event(
    tx: &mut Transaction<'static, Sqlite>,
    event: &NewEvent,
    at: DateTime<Utc>,
) -> Result<(), RepoError> {
    sqlx::query("INSERT INTO events (type, dossier, document, at, data) VALUES (?, ?, ?, ?, ?)")
        .bind(&event.kind)
        .bind(&event.dossier)
        .bind(&event.document)
        .bind(at)
        .bind(json_text(&event.data))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn insert_document(
    tx: &mut Transaction<'static, Sqlite>,
    doc: &DocumentRecord,
) -> Result<(), RepoError> {
    sqlx::query(
        "INSERT INTO documents (id, dossier, piece, filename, declared_type, sha256, size, kind,
            mime, pages, channel, verdict, reasons, review, review_reason, reviewed_by,
            reviewed_at, withdrawn_at, late, received_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&doc.id)
    .bind(&doc.dossier)
    .bind(&doc.piece)
    .bind(&doc.filename)
    .bind(&doc.declared_type)
    .bind(&doc.sha256)
    .bind(i64::try_from(doc.size).unwrap_or(i64::MAX))
    .bind(&doc.kind)
    .bind(&doc.mime)
    .bind(doc.pages.map(i64::from))
    .bind(&doc.channel)
    .bind(&doc.verdict)
    .bind(json_text(&doc.reasons))
    .bind(&doc.review)
    .bind(&doc.review_reason)
    .bind(&doc.reviewed_by)
    .bind(doc.reviewed_at)
    .bind(doc.withdrawn_at)
    .bind(doc.late)
    .bind(doc.received_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[async_trait]
impl Repository for SqliteRepository {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<(), RepoError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn put_campaign(&self, campaign: &CampaignRecord) -> Result<(), RepoError> {
        sqlx::query(
            "INSERT INTO campaigns (id, source, loaded_at) VALUES (?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET source = excluded.source, loaded_at = excluded.loaded_at",
        )
        .bind(&campaign.id)
        .bind(&campaign.source)
        .bind(campaign.loaded_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn campaign(&self, id: &str) -> Result<Option<CampaignRecord>, RepoError> {
        let row = sqlx::query("SELECT id, source, loaded_at FROM campaigns WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(CampaignRecord {
                id: row.try_get("id")?,
                source: row.try_get("source")?,
                loaded_at: row.try_get("loaded_at")?,
            })
        })
        .transpose()
    }

    async fn campaigns(&self) -> Result<Vec<CampaignRecord>, RepoError> {
        let rows = sqlx::query("SELECT id, source, loaded_at FROM campaigns ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(CampaignRecord {
                    id: row.try_get("id")?,
                    source: row.try_get("source")?,
                    loaded_at: row.try_get("loaded_at")?,
                })
            })
            .collect()
    }

    async fn insert_token(&self, hash: &str, token: &TokenRecord) -> Result<(), RepoError> {
        sqlx::query("INSERT INTO tokens (hash, role, name, created_at) VALUES (?, ?, ?, ?)")
            .bind(hash)
            .bind(&token.role)
            .bind(&token.name)
            .bind(Utc::now())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn token(&self, hash: &str) -> Result<Option<TokenRecord>, RepoError> {
        let row = sqlx::query("SELECT role, name FROM tokens WHERE hash = ?")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(TokenRecord {
                role: row.try_get("role")?,
                name: row.try_get("name")?,
            })
        })
        .transpose()
    }

    async fn create_dossier(
        &self,
        dossier: &DossierRecord,
        event: NewEvent,
    ) -> Result<(DossierRecord, bool), RepoError> {
        let mut tx = self.begin_write().await?;
        let existing = sqlx::query("SELECT * FROM dossiers WHERE reference = ?")
            .bind(&dossier.reference)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(row) = existing {
            return Ok((dossier_from(&row)?, false));
        }
        sqlx::query(
            "INSERT INTO dossiers (reference, campaign, candidate, state, state_reason, version,
                created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&dossier.reference)
        .bind(&dossier.campaign)
        .bind(json_text(&dossier.candidate))
        .bind(&dossier.state)
        .bind(&dossier.state_reason)
        .bind(dossier.version)
        .bind(dossier.created_at)
        .bind(dossier.updated_at)
        .execute(&mut *tx)
        .await?;
        insert_event(&mut tx, &event, dossier.created_at).await?;
        tx.commit().await?;
        Ok((dossier.clone(), true))
    }

    async fn dossier(&self, reference: &str) -> Result<Option<DossierRecord>, RepoError> {
        let row = sqlx::query("SELECT * FROM dossiers WHERE reference = ?")
            .bind(reference)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(dossier_from).transpose()
    }

    async fn documents(&self, reference: &str) -> Result<Vec<DocumentRecord>, RepoError> {
        let rows =
            sqlx::query("SELECT * FROM documents WHERE dossier = ? ORDER BY received_at, rowid")
                .bind(reference)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(document_from).collect()
    }

    async fn document(&self, id: &str) -> Result<Option<DocumentRecord>, RepoError> {
        let row = sqlx::query("SELECT * FROM documents WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(document_from).transpose()
    }

    async fn apply(&self, reference: &str, change: DossierChange) -> Result<(), RepoError> {
        let now = Utc::now();
        let mut tx = self.begin_write().await?;
        let bumped = sqlx::query(
            "UPDATE dossiers SET version = version + 1, updated_at = ?
             WHERE reference = ? AND version = ?",
        )
        .bind(now)
        .bind(reference)
        .bind(change.expected_version)
        .execute(&mut *tx)
        .await?;
        if bumped.rows_affected() != 1 {
            return Err(RepoError::Conflict);
        }
        if let Some((state, reason)) = &change.state {
            sqlx::query("UPDATE dossiers SET state = ?, state_reason = ? WHERE reference = ?")
                .bind(state)
                .bind(reason)
                .bind(reference)
                .execute(&mut *tx)
                .await?;
        }
        for doc in &change.new_documents {
            insert_document(&mut tx, doc).await?;
        }
        for review in &change.reviews {
            sqlx::query(
                "UPDATE documents SET review = ?, review_reason = ?, reviewed_by = ?, reviewed_at = ?
                 WHERE id = ? AND dossier = ?",
            )
            .bind(&review.decision)
            .bind(&review.reason)
            .bind(&review.by)
            .bind(now)
            .bind(&review.document)
            .bind(reference)
            .execute(&mut *tx)
            .await?;
        }
        for id in &change.withdrawals {
            sqlx::query(
                "UPDATE documents SET withdrawn_at = ? WHERE id = ? AND dossier = ? AND withdrawn_at IS NULL",
            )
            .bind(now)
            .bind(id)
            .bind(reference)
            .execute(&mut *tx)
            .await?;
        }
        for event in &change.events {
            insert_event(&mut tx, event, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn events_after(&self, after: i64, limit: u32) -> Result<Vec<EventRecord>, RepoError> {
        let rows = sqlx::query(
            "SELECT id, type, dossier, document, at, data FROM events WHERE id > ? ORDER BY id LIMIT ?",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(EventRecord {
                    id: row.try_get("id")?,
                    kind: row.try_get("type")?,
                    dossier: row.try_get("dossier")?,
                    document: row.try_get("document")?,
                    at: row.try_get("at")?,
                    data: parse_json(row.try_get("data")?)?,
                })
            })
            .collect()
    }

    async fn referenced_content(&self) -> Result<Vec<String>, RepoError> {
        let rows = sqlx::query("SELECT DISTINCT sha256 FROM documents ORDER BY sha256")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|row| Ok(row.try_get("sha256")?)).collect()
    }
}
