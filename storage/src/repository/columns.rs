//! How records map to columns, written once for both backends.
//!
//! The tables have the same column names on SQLite and PostgreSQL and their columns hold the
//! same Rust types: JSON is TEXT on SQLite and `jsonb` on PostgreSQL, times are RFC 3339 TEXT
//! and `timestamptz`, booleans INTEGER and `boolean`, and sqlx converts both ways. So the
//! records are read from any row type ([`RecordRow`]), given that the database stores each of
//! those types, and their values listed once for either driver to bind ([`document_params`]).

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{ColumnIndex, Database, Decode, Encode, Row, Type};

use super::statement::{Param, params};
use super::{CampaignRecord, DocumentRecord, DossierRecord, EventRecord, Job, NewEvent, RepoError};

/// A Rust type that the database `DB` stores in a column and reads back.
pub(super) trait Column<DB: Database>:
    for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>
{
}

impl<DB: Database, T> Column<DB> for T where
    T: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>
{
}

/// Builds records from a row selected with the table's column names.
pub(super) trait RecordRow {
    fn campaign(&self) -> Result<CampaignRecord, RepoError>;
    fn dossier(&self) -> Result<DossierRecord, RepoError>;
    fn document(&self) -> Result<DocumentRecord, RepoError>;
    fn event(&self) -> Result<EventRecord, RepoError>;
    fn job(&self) -> Result<Job, RepoError>;
}

impl<R> RecordRow for R
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    String: Column<R::Database>,
    Option<String>: Column<R::Database>,
    i64: Column<R::Database>,
    i32: Column<R::Database>,
    Option<i32>: Column<R::Database>,
    bool: Column<R::Database>,
    DateTime<Utc>: Column<R::Database>,
    Option<DateTime<Utc>>: Column<R::Database>,
    Value: Column<R::Database>,
    Option<Value>: Column<R::Database>,
{
    fn campaign(&self) -> Result<CampaignRecord, RepoError> {
        Ok(CampaignRecord {
            id: self.try_get("id")?,
            source: self.try_get("source")?,
            loaded_at: self.try_get("loaded_at")?,
        })
    }

    fn dossier(&self) -> Result<DossierRecord, RepoError> {
        Ok(DossierRecord {
            reference: self.try_get("reference")?,
            campaign: self.try_get("campaign")?,
            candidate: self.try_get("candidate")?,
            state: self.try_get("state")?,
            state_reason: self.try_get("state_reason")?,
            corrections: self.try_get("corrections")?,
            extension: self.try_get("extension")?,
            version: self.try_get("version")?,
            created_at: self.try_get("created_at")?,
            updated_at: self.try_get("updated_at")?,
        })
    }

    fn document(&self) -> Result<DocumentRecord, RepoError> {
        let size: i64 = self.try_get("size")?;
        let pages: Option<i32> = self.try_get("pages")?;
        Ok(DocumentRecord {
            id: self.try_get("id")?,
            dossier: self.try_get("dossier")?,
            piece: self.try_get("piece")?,
            filename: self.try_get("filename")?,
            declared_type: self.try_get("declared_type")?,
            sha256: self.try_get("sha256")?,
            size: u64::try_from(size).map_err(|_| RepoError::Corrupt("negative size".into()))?,
            kind: self.try_get("kind")?,
            mime: self.try_get("mime")?,
            pages: pages.and_then(|p| u32::try_from(p).ok()),
            channel: self.try_get("channel")?,
            origin: self.try_get("origin")?,
            verdict: self.try_get("verdict")?,
            reasons: self.try_get("reasons")?,
            review: self.try_get("review")?,
            review_reason: self.try_get("review_reason")?,
            reviewed_by: self.try_get("reviewed_by")?,
            reviewed_at: self.try_get("reviewed_at")?,
            withdrawn_at: self.try_get("withdrawn_at")?,
            late: self.try_get("late")?,
            received_at: self.try_get("received_at")?,
            scan: self.try_get("scan")?,
            scan_signature: self.try_get("scan_signature")?,
            display_sha256: self.try_get("display_sha256")?,
            purged_at: self.try_get("purged_at")?,
            purge_rule: self.try_get("purge_rule")?,
        })
    }

    fn event(&self) -> Result<EventRecord, RepoError> {
        Ok(EventRecord {
            id: self.try_get("id")?,
            kind: self.try_get("type")?,
            actor: self.try_get("actor")?,
            dossier: self.try_get("dossier")?,
            document: self.try_get("document")?,
            at: self.try_get("at")?,
            data: self.try_get("data")?,
        })
    }

    fn job(&self) -> Result<Job, RepoError> {
        let state: String = self.try_get("state")?;
        let attempts: i32 = self.try_get("attempts")?;
        Ok(Job {
            id: self.try_get("id")?,
            kind: self.try_get("kind")?,
            key: self.try_get("key")?,
            payload: self.try_get("payload")?,
            state: state.parse()?,
            attempts: u32::try_from(attempts)
                .map_err(|_| RepoError::Corrupt("negative attempts".into()))?,
            lease_owner: self.try_get("lease_owner")?,
            lease_until: self.try_get("lease_until")?,
            last_error: self.try_get("last_error")?,
            run_after: self.try_get("run_after")?,
            created_at: self.try_get("created_at")?,
            updated_at: self.try_get("updated_at")?,
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
