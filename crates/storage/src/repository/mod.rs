//! The metadata repository: campaigns, tokens, dossiers, documents and the event outbox.
//!
//! Records are plain data; the domain rules live in `dossiers` and are applied by the
//! pipeline. A change to a dossier (its state, new documents, reviews, withdrawals, and the
//! events they emit) is one [`DossierChange`], applied in one transaction only if the
//! dossier's version is still the one the change was computed from; otherwise
//! [`RepoError::Conflict`] tells the caller to read again and recompute. That keeps the
//! domain out of SQL and lets several processes share one database.

mod sqlite;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

pub use sqlite::SqliteRepository;

#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("the dossier changed since it was read")]
    Conflict,
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(String),
    #[error("stored record is not readable: {0}")]
    Corrupt(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct CampaignRecord {
    pub id: String,
    /// The campaign's TOML, kept as loaded so it can be parsed again at start.
    pub source: String,
    pub loaded_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TokenRecord {
    pub role: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DossierRecord {
    pub reference: String,
    pub campaign: String,
    pub candidate: Value,
    pub state: String,
    /// Why the dossier is in its state, when staff said so (a rejection sending it back).
    pub state_reason: Option<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DocumentRecord {
    pub id: String,
    pub dossier: String,
    pub piece: Option<String>,
    pub filename: Option<String>,
    pub declared_type: Option<String>,
    pub sha256: String,
    pub size: u64,
    pub kind: String,
    pub mime: String,
    pub pages: Option<u32>,
    pub channel: String,
    pub verdict: String,
    /// The verdict's reasons and notes, as the validators wrote them.
    pub reasons: Value,
    pub review: Option<String>,
    pub review_reason: Option<String>,
    pub reviewed_by: Option<String>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub late: bool,
    pub received_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub kind: String,
    pub dossier: Option<String>,
    pub document: Option<String>,
    pub data: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    pub id: i64,
    pub kind: String,
    pub dossier: Option<String>,
    pub document: Option<String>,
    pub at: DateTime<Utc>,
    pub data: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReviewChange {
    pub document: String,
    pub decision: String,
    pub reason: Option<String>,
    pub by: String,
}

/// Everything one action does to one dossier, applied atomically.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DossierChange {
    /// The version the change was computed from.
    pub expected_version: i64,
    pub state: Option<(String, Option<String>)>,
    pub new_documents: Vec<DocumentRecord>,
    pub reviews: Vec<ReviewChange>,
    pub withdrawals: Vec<String>,
    pub events: Vec<NewEvent>,
}

#[async_trait]
pub trait Repository: Send + Sync {
    fn name(&self) -> &'static str;

    async fn ping(&self) -> Result<(), RepoError>;

    async fn put_campaign(&self, campaign: &CampaignRecord) -> Result<(), RepoError>;
    async fn campaign(&self, id: &str) -> Result<Option<CampaignRecord>, RepoError>;
    async fn campaigns(&self) -> Result<Vec<CampaignRecord>, RepoError>;

    async fn insert_token(&self, hash: &str, token: &TokenRecord) -> Result<(), RepoError>;
    async fn token(&self, hash: &str) -> Result<Option<TokenRecord>, RepoError>;

    /// Creates the dossier with its creation event, or returns the one already there
    /// (`false`): creation is idempotent on the reference.
    async fn create_dossier(
        &self,
        dossier: &DossierRecord,
        event: NewEvent,
    ) -> Result<(DossierRecord, bool), RepoError>;
    async fn dossier(&self, reference: &str) -> Result<Option<DossierRecord>, RepoError>;
    /// The dossier's documents, withdrawn ones included, oldest first.
    async fn documents(&self, reference: &str) -> Result<Vec<DocumentRecord>, RepoError>;
    async fn document(&self, id: &str) -> Result<Option<DocumentRecord>, RepoError>;

    /// Applies a change if the dossier is still at `expected_version`; bumps the version.
    async fn apply(&self, reference: &str, change: DossierChange) -> Result<(), RepoError>;

    /// Events with an id above `after`, in id order, at most `limit`.
    async fn events_after(&self, after: i64, limit: u32) -> Result<Vec<EventRecord>, RepoError>;

    /// Every SHA-256 that a document row points at (for `guichet verify`).
    async fn referenced_content(&self) -> Result<Vec<String>, RepoError>;
}
