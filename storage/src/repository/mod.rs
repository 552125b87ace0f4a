//! The metadata repository: campaigns, tokens, dossiers, documents and the event outbox.
//!
//! Records are plain data; the domain rules live in `dossiers` and are applied by the
//! pipeline. A change to a dossier (its state, new documents, reviews, withdrawals, and the
//! events they emit) is one [`DossierChange`], applied in one transaction only if the
//! dossier's version is still the one the change was computed from; otherwise
//! [`RepoError::Conflict`] tells the caller to read again and recompute. That keeps the
//! domain out of SQL and lets several processes share one database.
//!
//! Background work is kept in the same database as [`Job`]s: enqueued idempotently on a
//! `(kind, key)`, claimed under a lease by one worker of any process, claimed again by another
//! once the lease lapses (its worker died). An outbox cursor per consumer records how far the
//! event feed has been taken, moved by compare-and-set so one consumer wins each range.
//!
//! Both backends run the same test suite (`tests/repository.rs`).

#[macro_use]
mod shared;
mod change;
mod columns;
mod exports;
pub mod journal;
mod mailroom;
mod postgres;
mod previews;
mod queue;
mod retention;
mod sql;
mod sqlite;
mod staff;
mod statement;
mod uploads;
mod webhooks;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

pub use exports::{ExportRepository, HeldContent};
pub use journal::{ChainBreak, JournalEntry, JournalRepository, NewJournalEntry};
pub use mailroom::{BatchRecord, MailroomRepository};
pub use postgres::{EVENT_ORDER_LOCK, PostgresRepository};
pub use previews::{PreviewImage, PreviewRepository, PreviewSet};
pub use queue::{ClaimedDocument, QueueCount, QueueFilter, ReviewQueueRepository};
pub use retention::{PendingPurge, RetentionCandidate, RetentionRepository};
pub use sqlite::SqliteRepository;
pub use staff::{
    DossierIndexRow, DossierQuery, IndexCounts, SameContent, StaffRepository, StaffSession,
    StaffUser, TokenListing,
};
pub use uploads::{UploadProgress, UploadRecord, UploadRepository, upload_state};
pub use webhooks::{DeliveryRecord, NewWebhook, QueueDepths, WebhookRecord, WebhookRepository};

#[derive(Debug, Clone, thiserror::Error)]
pub enum RepoError {
    /// The dossier's version moved since the change was computed: read again and recompute.
    #[error("the dossier changed since it was read")]
    Conflict,
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(String),
    #[error("stored record is not readable: {0}")]
    Corrupt(String),
    /// The content of a new document is being deleted by a purge: store it again, then retry.
    #[error("the same content is being deleted by a purge")]
    ContentBeingDeleted,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CampaignRecord {
    pub id: String,
    /// The campaign's TOML, kept as loaded so it can be parsed again at start.
    pub source: String,
    pub loaded_at: DateTime<Utc>,
}

/// An API token as stored (its SHA-256 is the key).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TokenRecord {
    pub role: String,
    pub name: String,
    /// The campaigns it may reach; `None` for every campaign.
    pub campaigns: Option<Vec<String>>,
    /// From then on, the token is refused.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked; a revoked token is refused.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When a request last authenticated with it, to the minute (see
    /// [`Repository::touch_token`]); ignored by [`Repository::insert_token`].
    pub last_used_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DossierRecord {
    pub reference: String,
    pub campaign: String,
    pub candidate: Value,
    pub state: String,
    /// Why the dossier is in its state, when staff said so (a rejection sending it back).
    pub state_reason: Option<String>,
    /// The corrections staff asked for and the candidate has not answered yet, by piece code:
    /// `{"message", "requested_at", "by"}`.
    pub corrections: Value,
    /// This dossier's own deadline, when staff extended it: `{"until", "reason", "by", "at"}`.
    pub extension: Option<Value>,
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
    /// Where it came from: `{"channel": ...}`, and for the mailroom its `batch`, `station`,
    /// `first_page` and `last_page` (1-based, inclusive).
    pub origin: Value,
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
    /// The virus scan: `None` when no scanner was configured at intake, else `pending`,
    /// `clean`, `infected` or `error`.
    pub scan: Option<String>,
    /// The signature clamd found, when `infected`.
    pub scan_signature: Option<String>,
    /// The SHA-256 of its display copy, a JPEG stored as its own object, for the kinds browsers
    /// do not draw (HEIC, AVIF); `None` for the others.
    pub display_sha256: Option<String>,
    /// When a retention rule purged its content (the row, hash and history stay).
    pub purged_at: Option<DateTime<Utc>>,
    /// The rule that did: `after_close P12M`, `purge_after_decision P30D`.
    pub purge_rule: Option<String>,
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
    /// Who caused it (see [`NewJournalEntry::actor`]); `None` for events older than actors.
    pub actor: Option<String>,
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

/// A virus scan's outcome on one document; with `verdict` and `reasons` when it changes them
/// (an infected document becomes `rejected`).
#[derive(Debug, Clone, PartialEq)]
pub struct ScanChange {
    pub document: String,
    pub scan: String,
    pub signature: Option<String>,
    pub verdict: Option<String>,
    pub reasons: Option<Value>,
}

/// A document moved to a piece (from none, or from another), judged again against it.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    pub document: String,
    pub piece: String,
    pub verdict: String,
    pub reasons: Value,
    /// The review it keeps: cleared when it moves (the new piece is reviewed afresh), or the
    /// automatic acceptance of a piece reviewed `auto`.
    pub review: Option<String>,
    pub reviewed_by: Option<String>,
}

impl DossierChange {
    /// The journal entries of the change: one per event of the dossier, under its actor.
    pub fn journal_entries(&self, reference: &str) -> Vec<NewJournalEntry> {
        self.events
            .iter()
            .filter(|e| e.dossier.as_deref() == Some(reference))
            .map(|e| NewJournalEntry {
                actor: self.actor.clone(),
                action: e.kind.clone(),
                document: e.document.clone(),
                data: e.data.clone(),
            })
            .collect()
    }
}

/// Everything one action does to one dossier, applied atomically.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DossierChange {
    /// The version the change was computed from.
    pub expected_version: i64,
    /// Who does it: each event is journaled under this actor.
    pub actor: String,
    pub state: Option<(String, Option<String>)>,
    /// New candidate attributes.
    pub candidate: Option<Value>,
    /// The dossier's corrections as they are after the change.
    pub corrections: Option<Value>,
    /// The dossier's extension as it is after the change.
    pub extension: Option<Value>,
    pub assignments: Vec<Assignment>,
    /// Documents whose content a retention rule purges: `(document, rule)`.
    pub purges: Vec<(String, String)>,
    pub new_documents: Vec<DocumentRecord>,
    pub reviews: Vec<ReviewChange>,
    pub withdrawals: Vec<String>,
    pub scans: Vec<ScanChange>,
    pub events: Vec<NewEvent>,
    /// Background work that follows from the change, enqueued in the same transaction
    /// (idempotently: a job already there for its `(kind, key)` is left as it is).
    pub jobs: Vec<NewJob>,
}

/// Background work to enqueue. `key` makes it idempotent: one job per `(kind, key)`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub kind: String,
    pub key: String,
    pub payload: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Waiting for a worker (new, or given back to be retried).
    Queued,
    /// Claimed by `lease_owner` until `lease_until`; claimable again once the lease lapses.
    Running,
    Done,
    /// Given up: `last_error` says why.
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
        }
    }
}

impl std::str::FromStr for JobState {
    type Err = RepoError;

    fn from_str(s: &str) -> Result<Self, RepoError> {
        match s {
            "queued" => Ok(JobState::Queued),
            "running" => Ok(JobState::Running),
            "done" => Ok(JobState::Done),
            "failed" => Ok(JobState::Failed),
            other => Err(RepoError::Corrupt(format!("unknown job state {other:?}"))),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub key: String,
    pub payload: Value,
    pub state: JobState,
    /// How many times the job was claimed, this claim included.
    pub attempts: u32,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// When a job given back after a failure is due again (`None`: due since it was made).
    pub run_after: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[async_trait]
pub trait Repository:
    ExportRepository
    + JournalRepository
    + MailroomRepository
    + PreviewRepository
    + RetentionRepository
    + ReviewQueueRepository
    + StaffRepository
    + UploadRepository
    + WebhookRepository
    + Send
    + Sync
{
    fn name(&self) -> &'static str;

    async fn ping(&self) -> Result<(), RepoError>;

    async fn put_campaign(&self, campaign: &CampaignRecord) -> Result<(), RepoError>;
    async fn campaign(&self, id: &str) -> Result<Option<CampaignRecord>, RepoError>;
    async fn campaigns(&self) -> Result<Vec<CampaignRecord>, RepoError>;

    async fn insert_token(&self, hash: &str, token: &TokenRecord) -> Result<(), RepoError>;
    async fn token(&self, hash: &str) -> Result<Option<TokenRecord>, RepoError>;
    /// Records that the token was used at `now`, unless it was recorded after `since`
    /// (a write at most once per period, however many requests).
    async fn touch_token(
        &self,
        hash: &str,
        now: DateTime<Utc>,
        since: DateTime<Utc>,
    ) -> Result<(), RepoError>;
    /// Revokes the live tokens named `name` at `at`; returns how many.
    async fn revoke_tokens(&self, name: &str, at: DateTime<Utc>) -> Result<u64, RepoError>;

    /// Creates the dossier with its creation event, journaled under `actor`, or returns the
    /// one already there (`false`): creation is idempotent on the reference.
    async fn create_dossier(
        &self,
        dossier: &DossierRecord,
        event: NewEvent,
        actor: &str,
    ) -> Result<(DossierRecord, bool), RepoError>;
    async fn dossier(&self, reference: &str) -> Result<Option<DossierRecord>, RepoError>;
    /// The dossier's documents, withdrawn ones included, oldest first.
    async fn documents(&self, reference: &str) -> Result<Vec<DocumentRecord>, RepoError>;
    async fn document(&self, id: &str) -> Result<Option<DocumentRecord>, RepoError>;

    /// Applies a change if the dossier is still at `expected_version`; bumps the version.
    async fn apply(&self, reference: &str, change: DossierChange) -> Result<(), RepoError>;

    /// Events with an id above `after`, in id order, at most `limit`.
    async fn events_after(&self, after: i64, limit: u32) -> Result<Vec<EventRecord>, RepoError>;
    /// The same, only events of dossiers of `campaigns` (a token's scope).
    async fn events_after_in(
        &self,
        after: i64,
        limit: u32,
        campaigns: &[String],
    ) -> Result<Vec<EventRecord>, RepoError>;

    /// Every SHA-256 that a document row points at (for `guichet verify`).
    async fn referenced_content(&self) -> Result<Vec<String>, RepoError>;

    /// Enqueues a job, or finds the one already there for `(kind, key)`; returns its id.
    async fn enqueue_job(&self, job: &NewJob) -> Result<i64, RepoError>;
    /// Claims the job of one of `kinds` due first (then the oldest) that is queued and due,
    /// or running under a lapsed lease, for `owner` until `lease` from now. Concurrent
    /// claimers never get the same job.
    /// `owner` names one worker (process and task), never shared between two.
    async fn claim_job(
        &self,
        kinds: &[&str],
        owner: &str,
        lease: Duration,
    ) -> Result<Option<Job>, RepoError>;
    /// Extends `owner`'s lease to `lease` from now; `false` when the job is no longer
    /// `owner`'s (it finished, or another worker claimed it after the lease lapsed).
    async fn renew_lease(&self, id: i64, owner: &str, lease: Duration) -> Result<bool, RepoError>;
    /// Marks the job done; `false` (and nothing changed) when it is no longer `owner`'s.
    async fn complete_job(&self, id: i64, owner: &str) -> Result<bool, RepoError>;
    /// Records `error`; the job is queued again, due `retry_in` from now, when `Some`, failed
    /// for good otherwise. `false` (and nothing changed) when it is no longer `owner`'s.
    async fn fail_job(
        &self,
        id: i64,
        owner: &str,
        error: &str,
        retry_in: Option<Duration>,
    ) -> Result<bool, RepoError>;
    async fn job(&self, id: i64) -> Result<Option<Job>, RepoError>;

    /// The id of the last event the consumer `name` has taken (0 before the first).
    async fn outbox_cursor(&self, name: &str) -> Result<i64, RepoError>;
    /// Moves the consumer's cursor from `from` to `to` if it is still at `from`; `false` when
    /// another worker moved it first. The winner owns the events in `(from, to]`.
    async fn advance_outbox_cursor(
        &self,
        name: &str,
        from: i64,
        to: i64,
    ) -> Result<bool, RepoError>;
}

impl From<sqlx::Error> for RepoError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => RepoError::Unavailable(e.to_string()),
            sqlx::Error::Database(ref db) if db.code().as_deref().is_some_and(unavailable) => {
                RepoError::Unavailable(e.to_string())
            }
            sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
                RepoError::Corrupt(e.to_string())
            }
            other => RepoError::Database(other.to_string()),
        }
    }
}

/// Database error codes that mean "try again later" rather than "this request is wrong".
fn unavailable(code: &str) -> bool {
    // PostgreSQL SQLSTATEs: connection exceptions (08), insufficient resources (53: too many
    // connections, disk full), operator intervention (57P01-57P03: shutting down, starting
    // up), lock or statement timeouts (55P03, 57014).
    // SQLite result codes: SQLITE_BUSY (5) and SQLITE_LOCKED (6) once the busy timeout is spent.
    code.starts_with("08")
        || code.starts_with("53")
        || code.starts_with("57P0")
        || matches!(code, "55P03" | "57014" | "5" | "6")
}

/// Leases longer than this are cut to it: nobody means them, and they would overflow dates.
const MAX_LEASE: Duration = Duration::from_secs(366 * 24 * 3600);

/// A lease in whole milliseconds, the unit both backends compute with.
fn lease_millis(lease: Duration) -> i64 {
    i64::try_from(lease.min(MAX_LEASE).as_millis()).expect("MAX_LEASE fits in i64 milliseconds")
}
