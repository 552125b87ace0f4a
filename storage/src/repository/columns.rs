//! How records map to columns, written once for both backends.
//!
//! The tables have the same column names on SQLite and PostgreSQL and their columns hold the
//! same Rust types: JSON is TEXT on SQLite and `jsonb` on PostgreSQL, times are RFC 3339 TEXT
//! and `timestamptz`, booleans INTEGER and `boolean`, and sqlx converts both ways. So the
//! records are read from any row type ([`RecordRow`]), given that the database stores each of
//! those types, and their values listed once for either driver to bind ([`document_params`]).

use chrono::{DateTime, Utc};
use rusqlite::types::FromSql;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{Postgres, Row, Sqlite};

pub(super) use super::statement::Column;
use super::statement::{NamedRow, Param, params};
use super::{CampaignRecord, DocumentRecord, DossierRecord, EventRecord, Job, NewEvent, RepoError};

/// A Rust type every driver reads from a column: sqlx on SQLite and PostgreSQL, rusqlite on
/// SQLite's reader connections.
pub(super) trait Stored: Column<Sqlite> + Column<Postgres> + FromSql {}

impl<T> Stored for T where T: Column<Sqlite> + Column<Postgres> + FromSql {}

/// A row of any driver, read by column name.
pub(super) trait Columns {
    fn field<T: Stored>(&self, column: &str) -> Result<T, RepoError>;
}

impl Columns for SqliteRow {
    fn field<T: Stored>(&self, column: &str) -> Result<T, RepoError> {
        Ok(Row::try_get(self, column)?)
    }
}

impl Columns for PgRow {
    fn field<T: Stored>(&self, column: &str) -> Result<T, RepoError> {
        Ok(Row::try_get(self, column)?)
    }
}

impl Columns for NamedRow<'_> {
    fn field<T: Stored>(&self, column: &str) -> Result<T, RepoError> {
        Ok(self.named(column)?)
    }
}

/// Builds records from a row selected with the table's column names.
pub(super) trait RecordRow {
    fn campaign(&self) -> Result<CampaignRecord, RepoError>;
    fn dossier(&self) -> Result<DossierRecord, RepoError>;
    fn document(&self) -> Result<DocumentRecord, RepoError>;
    fn event(&self) -> Result<EventRecord, RepoError>;
    fn job(&self) -> Result<Job, RepoError>;
}

impl<R: Columns> RecordRow for R {
    fn campaign(&self) -> Result<CampaignRecord, RepoError> {
        Ok(CampaignRecord {
            id: self.field("id")?,
            source: self.field("source")?,
            loaded_at: self.field("loaded_at")?,
        })
    }

    fn dossier(&self) -> Result<DossierRecord, RepoError> {
        Ok(DossierRecord {
            reference: self.field("reference")?,
            campaign: self.field("campaign")?,
            candidate: self.field("candidate")?,
            state: self.field("state")?,
            state_reason: self.field("state_reason")?,
            corrections: self.field("corrections")?,
            extension: self.field("extension")?,
            version: self.field("version")?,
            created_at: self.field("created_at")?,
            updated_at: self.field("updated_at")?,
        })
    }

    fn document(&self) -> Result<DocumentRecord, RepoError> {
        let size: i64 = self.field("size")?;
        let pages: Option<i32> = self.field("pages")?;
        Ok(DocumentRecord {
            id: self.field("id")?,
            dossier: self.field("dossier")?,
            piece: self.field("piece")?,
            filename: self.field("filename")?,
            declared_type: self.field("declared_type")?,
            sha256: self.field("sha256")?,
            size: u64::try_from(size).map_err(|_| RepoError::Corrupt("negative size".into()))?,
            kind: self.field("kind")?,
            mime: self.field("mime")?,
            pages: pages.and_then(|p| u32::try_from(p).ok()),
            channel: self.field("channel")?,
            origin: self.field("origin")?,
            verdict: self.field("verdict")?,
            reasons: self.field("reasons")?,
            review: self.field("review")?,
            review_reason: self.field("review_reason")?,
            reviewed_by: self.field("reviewed_by")?,
            reviewed_at: self.field("reviewed_at")?,
            withdrawn_at: self.field("withdrawn_at")?,
            late: self.field("late")?,
            received_at: self.field("received_at")?,
            scan: self.field("scan")?,
            scan_signature: self.field("scan_signature")?,
            display_sha256: self.field("display_sha256")?,
            purged_at: self.field("purged_at")?,
            purge_rule: self.field("purge_rule")?,
        })
    }

    fn event(&self) -> Result<EventRecord, RepoError> {
        Ok(EventRecord {
            id: self.field("id")?,
            kind: self.field("type")?,
            actor: self.field("actor")?,
            dossier: self.field("dossier")?,
            document: self.field("document")?,
            at: self.field("at")?,
            data: self.field("data")?,
        })
    }

    fn job(&self) -> Result<Job, RepoError> {
        let state: String = self.field("state")?;
        let attempts: i32 = self.field("attempts")?;
        Ok(Job {
            id: self.field("id")?,
            kind: self.field("kind")?,
            key: self.field("key")?,
            payload: self.field("payload")?,
            state: state.parse()?,
            attempts: u32::try_from(attempts)
                .map_err(|_| RepoError::Corrupt("negative attempts".into()))?,
            lease_owner: self.field("lease_owner")?,
            lease_until: self.field("lease_until")?,
            last_error: self.field("last_error")?,
            run_after: self.field("run_after")?,
            created_at: self.field("created_at")?,
            updated_at: self.field("updated_at")?,
        })
    }
}

/// A dossier's values, in the order of [`super::sql::INSERT_DOSSIER`].
pub(super) fn dossier_params(dossier: &DossierRecord) -> Vec<Param> {
    params![
        &dossier.reference,
        &dossier.campaign,
        &dossier.candidate,
        &dossier.state,
        &dossier.state_reason,
        &dossier.corrections,
        &dossier.extension,
        dossier.version,
        dossier.created_at,
        dossier.updated_at,
    ]
}

/// A document's values, in the order of [`super::sql::INSERT_DOCUMENT`].
pub(super) fn document_params(doc: &DocumentRecord) -> Vec<Param> {
    params![
        &doc.id,
        &doc.dossier,
        &doc.piece,
        &doc.filename,
        &doc.declared_type,
        &doc.sha256,
        i64::try_from(doc.size).unwrap_or(i64::MAX),
        &doc.kind,
        &doc.mime,
        doc.pages.map(|p| i32::try_from(p).unwrap_or(i32::MAX)),
        &doc.channel,
        &doc.verdict,
        &doc.reasons,
        &doc.review,
        &doc.review_reason,
        &doc.reviewed_by,
        doc.reviewed_at,
        doc.withdrawn_at,
        doc.late,
        doc.received_at,
        &doc.scan,
        &doc.scan_signature,
        &doc.origin,
        &doc.display_sha256,
    ]
}

/// One event's values for an insert into `events` ([`super::sql::EVENT_COLUMNS`]), caused by
/// `actor`.
pub(super) fn event_params(event: &NewEvent, at: DateTime<Utc>, actor: &str) -> Vec<Param> {
    params![
        &event.kind,
        &event.dossier,
        &event.document,
        at,
        &event.data,
        actor,
    ]
}
