//! The review queue behind "Document suivant à examiner": each reviewer is handed the oldest
//! document awaiting review that no other reviewer is looking at, and holds it under a claim
//! for a while.
//!
//! **Awaiting review** is the domain's `Pending` standing, the one the staff index counts as
//! `awaiting`: the machine's verdict accepted the document, no decision is recorded, it is not
//! withdrawn, it is matched to a piece, it is not infected. The queue adds two conditions that
//! make a document one a reviewer can act on now: its dossier is not closed (no decision can
//! be made there), and its virus scan is not pending (its content cannot be shown yet; it
//! joins the queue once scanned). A scan that failed for good (`error`) stays in the queue:
//! the reviewer refuses it and asks for a lighter file. The names compared (`accepted`,
//! `clean`, `error`, `closed`) are those `ingest` and `dossiers` store.
//!
//! **Claims** (`review_claims`, at most one per document) are live while `claimed_until` is
//! after `now`; an expired claim is simply taken over by the next claimer, so nothing sweeps
//! the table. Asking for the next document releases the reviewer's other claims (moving on
//! releases) and never hands back a document they hold: they asked for another one. So a
//! reviewer who passes over the last document is told the queue is empty, and that document,
//! released, is handed out again on the next request. A decision or a withdrawal deletes the
//! document's claim in the transaction that records it ([`RELEASE_DOCUMENT`], in `apply`),
//! whoever makes it (the staff page, the API). Times are the caller's `now`: the page passes
//! its clock, the tests drive theirs; clocks of a few machines sharing PostgreSQL differ by
//! far less than a claim lasts.
//!
//! **Atomicity.** A claim is one `INSERT ... SELECT ... ON CONFLICT (document_id) DO UPDATE
//! ... WHERE review_claims.claimed_until <= now`: the primary key makes two live claims on one
//! document impossible, whatever the interleaving. A claimer that loses a race finds the
//! conflicting row live and writes nothing (PostgreSQL checks `ON CONFLICT` against the latest
//! committed row, not against the statement's snapshot). On SQLite writers are serialised
//! (`BEGIN IMMEDIATE`), so the first attempt always wins. On PostgreSQL the candidate is also
//! selected `FOR NO KEY UPDATE OF doc SKIP LOCKED`, so concurrent claimers take different
//! documents instead of all aiming at the oldest one, one winning and the others retrying
//! (with n claimers at once, n rounds). The row lock alone would not do: it is released when
//! its holder commits, and a claimer whose snapshot predates that commit would lock the row
//! afterwards without seeing the claim. The key is the guarantee, the lock spreads the load;
//! the statement reports a candidate without a claim in the short window between the two,
//! and is run again with a fresh snapshot (READ COMMITTED), up to [`ATTEMPTS`] times.
//!
//! **No deadlock.** A claimer never waits for a document row (`SKIP LOCKED`), and releases its
//! other claims with `SKIP LOCKED` too (a claim row someone else has locked is being taken
//! over or deleted: it is going away in any case). `apply` locks a document's row before its
//! claim, so a claimer holding a document row never meets `apply` holding that claim.
//!
//! The index `documents_awaiting_review` (migration 0009) holds only the documents without a
//! decision, in queue order, so the next one is found by walking a short index whatever the
//! number of documents already reviewed. Both backends run the suite `tests/queue.rs`.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use sqlx::{PgConnection, Row, SqliteConnection};

use super::{PostgresRepository, RepoError, SqliteRepository, lease_millis};

/// Which documents a reviewer asks for; `None` takes any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueFilter {
    pub campaign: Option<String>,
    /// A piece code.
    pub piece: Option<String>,
    /// The campaigns of the reviewer's scope; `None` for every campaign. Unlike `campaign`,
    /// a filter the reviewer chooses, this one they cannot lift.
    pub scope: Option<Vec<String>>,
}

/// A document under a reviewer's claim.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedDocument {
    pub document: String,
    /// The dossier's reference.
    pub dossier: String,
    pub piece: String,
    pub reviewer: String,
    pub claimed_at: DateTime<Utc>,
    pub claimed_until: DateTime<Utc>,
}

/// How many documents a reviewer has before them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueCount {
    /// Documents awaiting review that match the filter.
    pub awaiting: u64,
    /// Of those, the ones under another reviewer's live claim.
    pub claimed_by_others: u64,
}

impl QueueCount {
    /// What is left for this reviewer: the documents nobody else is looking at, the one they
    /// hold included.
    pub fn left(&self) -> u64 {
        self.awaiting.saturating_sub(self.claimed_by_others)
    }
}

#[async_trait]
pub trait ReviewQueueRepository: Send + Sync {
    /// Claims for `reviewer`, until `claim` after `now`, the oldest document awaiting review
    /// (by reception, then id) that matches `filter` and is under no live claim, not even the
    /// reviewer's own; releases the reviewer's other claims. `None` when there is none (their
    /// claims are released all the same). Concurrent calls never claim the same document.
    async fn claim_next(
        &self,
        reviewer: &str,
        filter: &QueueFilter,
        claim: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<ClaimedDocument>, RepoError>;
    /// Releases every claim of `reviewer`; returns how many there were.
    async fn release_claims(&self, reviewer: &str) -> Result<u64, RepoError>;
    /// The documents awaiting review that match `filter`, and how many of them other
    /// reviewers hold under a live claim.
    async fn queue_count(
        &self,
        reviewer: &str,
        filter: &QueueFilter,
        now: DateTime<Utc>,
    ) -> Result<QueueCount, RepoError>;
    /// The live claims on documents still awaiting review, of one dossier or of all, oldest
    /// claim first.
    async fn live_claims(
        &self,
        dossier: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Vec<ClaimedDocument>, RepoError>;
}

/// How many times a PostgreSQL claim is run again after losing a race, before the queue
/// counts as too busy. Each loss means another reviewer's claim committed meanwhile.
const ATTEMPTS: usize = 10;

/// Deletes a document's claim: `apply` runs it for every decision and withdrawal, after
/// updating the document.
pub(super) const RELEASE_DOCUMENT: &str = "DELETE FROM review_claims WHERE document_id = $1";

/// The documents a reviewer can be handed, over `documents doc JOIN dossiers d`.
macro_rules! awaiting_review {
    () => {
        "doc.review IS NULL AND doc.withdrawn_at IS NULL AND doc.verdict = 'accepted'
        AND doc.piece IS NOT NULL AND (doc.scan IS NULL OR doc.scan IN ('clean', 'error'))
        AND d.state <> 'closed'"
    };
}

/// The queue's filters, as `$1` (campaign) and `$2` (piece), and the reviewer's scope, as
/// `{scope}` ([`scoped`] writes it).
macro_rules! filtered {
    () => {
        " AND ($1 IS NULL OR d.campaign = $1) AND ($2 IS NULL OR doc.piece = $2) {scope}"
    };
}

/// `statement` with its `{scope}` written for `filter.scope`, whose campaigns are bound from
/// `$from` on ([`bind_scope`]): nothing for every campaign.
fn scoped(statement: &str, filter: &QueueFilter, from: usize) -> String {
    let condition = match &filter.scope {
        Some(scope) => format!(
            "AND d.campaign IN ({})",
            super::sql::placeholders(from, scope.len())
        ),
        None => String::new(),
    };
    statement.replace("{scope}", &condition)
}

/// Binds the campaigns [`scoped`] placed, after the statement's other parameters; an empty
/// scope binds one value no campaign has.
fn bind_scope<'q, DB: sqlx::Database>(
    mut query: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>,
    filter: &QueueFilter,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>
where
    String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    if let Some(scope) = &filter.scope {
        if scope.is_empty() {
            query = query.bind(String::new());
        }
        for campaign in scope {
            query = query.bind(campaign.clone());
        }
    }
    query
}

/// The next candidate: awaiting review, filtered (`$1`, `$2`), under no live claim at `$5`.
macro_rules! next_candidate {
    () => {
        concat!(
            "FROM documents doc JOIN dossiers d ON d.reference = doc.dossier WHERE ",
            awaiting_review!(),
            filtered!(),
            " AND NOT EXISTS (SELECT 1 FROM review_claims c
                WHERE c.document_id = doc.id AND c.claimed_until > $5)
            ORDER BY doc.received_at, doc.id LIMIT 1"
        )
    };
}

/// The claim's write: `$3` reviewer, `$4` until, `$5` now; an existing claim is taken over
/// only once expired.
macro_rules! take_claim {
    () => {
        "ON CONFLICT (document_id) DO UPDATE SET reviewer = excluded.reviewer,
            claimed_until = excluded.claimed_until, claimed_at = excluded.claimed_at
        WHERE review_claims.claimed_until <= excluded.claimed_at
        RETURNING document_id"
    };
}

/// Returns the claimed document's id, or nothing.
const CLAIM_SQLITE: &str = concat!(
    "INSERT INTO review_claims (document_id, reviewer, claimed_until, claimed_at)
    SELECT doc.id, $3, $4, $5 ",
    next_candidate!(),
    " ",
    take_claim!()
);

/// Returns the candidate found and the document claimed: a candidate without a claim is a
/// lost race.
const CLAIM_POSTGRES: &str = concat!(
    "WITH candidate AS (SELECT doc.id ",
    next_candidate!(),
    " FOR NO KEY UPDATE OF doc SKIP LOCKED),
    claimed AS (INSERT INTO review_claims (document_id, reviewer, claimed_until, claimed_at)
        SELECT id, $3, $4, $5 FROM candidate ",
    take_claim!(),
    ") SELECT (SELECT id FROM candidate) AS candidate,
        (SELECT document_id FROM claimed) AS claimed"
);

/// The reviewer's (`$1`) claims other than the one just taken (`$2`, maybe NULL).
const RELEASE_OTHERS_SQLITE: &str =
    "DELETE FROM review_claims WHERE reviewer = $1 AND ($2 IS NULL OR document_id <> $2)";
const RELEASE_OTHERS_POSTGRES: &str = "DELETE FROM review_claims WHERE document_id IN (
        SELECT document_id FROM review_claims
        WHERE reviewer = $1 AND ($2 IS NULL OR document_id <> $2)
        FOR UPDATE SKIP LOCKED)";

const RELEASE_REVIEWER: &str = "DELETE FROM review_claims WHERE reviewer = $1";

const SELECT_CLAIM: &str = "SELECT c.document_id, doc.dossier, doc.piece, c.reviewer,
        c.claimed_at, c.claimed_until
    FROM review_claims c JOIN documents doc ON doc.id = c.document_id
    WHERE c.document_id = $1";

/// `$1`, `$2` the filters, `$3` now, `$4` the reviewer asking.
const COUNT: &str = concat!(
    "SELECT count(*) AS awaiting, count(c.document_id) AS taken
    FROM documents doc JOIN dossiers d ON d.reference = doc.dossier
    LEFT JOIN review_claims c ON c.document_id = doc.id AND c.claimed_until > $3
        AND c.reviewer <> $4
    WHERE ",
    awaiting_review!(),
    filtered!()
);

/// `$1` now, `$2` a dossier or NULL.
const LIVE_CLAIMS: &str = concat!(
    "SELECT c.document_id, doc.dossier, doc.piece, c.reviewer, c.claimed_at, c.claimed_until
    FROM review_claims c JOIN documents doc ON doc.id = c.document_id
    JOIN dossiers d ON d.reference = doc.dossier
    WHERE c.claimed_until > $1 AND ($2 IS NULL OR doc.dossier = $2) AND ",
    awaiting_review!(),
    " ORDER BY c.claimed_at, c.document_id"
);

/// What one claim statement did.
enum Attempt {
    Claimed(String),
    /// Nothing to claim.
    Empty,
    /// A candidate that another reviewer claimed first.
    Lost,
}

impl SqliteRepository {
    async fn claim_once(
        conn: &mut SqliteConnection,
        reviewer: &str,
        filter: &QueueFilter,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Attempt, RepoError> {
        let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(scoped(CLAIM_SQLITE, filter, 6)))
            .bind(&filter.campaign)
            .bind(&filter.piece)
            .bind(reviewer)
            .bind(until)
            .bind(now);
        if let Some(scope) = &filter.scope {
            if scope.is_empty() {
                query = query.bind(String::new());
            }
            for campaign in scope {
                query = query.bind(campaign.clone());
            }
        }
        let claimed: Option<String> = query.fetch_optional(&mut *conn).await?;
        Ok(claimed.map_or(Attempt::Empty, Attempt::Claimed))
    }
}

impl PostgresRepository {
    async fn claim_once(
        conn: &mut PgConnection,
        reviewer: &str,
        filter: &QueueFilter,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Attempt, RepoError> {
        let query = sqlx::query(sqlx::AssertSqlSafe(scoped(CLAIM_POSTGRES, filter, 6)))
            .bind(&filter.campaign)
            .bind(&filter.piece)
            .bind(reviewer)
            .bind(until)
            .bind(now);
        let row = bind_scope(query, filter).fetch_one(&mut *conn).await?;
        let candidate: Option<String> = row.try_get("candidate")?;
        let claimed: Option<String> = row.try_get("claimed")?;
        Ok(match (candidate, claimed) {
            (_, Some(id)) => Attempt::Claimed(id),
            (None, None) => Attempt::Empty,
            (Some(_), None) => Attempt::Lost,
        })
    }
}

/// `impl ReviewQueueRepository for TYPE` (a type with a `pool` field and a `claim_once`):
/// the transaction that claims, begun with `$begin`, and releases with `$release_others`.
macro_rules! queue_impl {
    ($backend:ty, $begin:literal, $release_others:expr) => {
        #[async_trait]
        impl ReviewQueueRepository for $backend {
            async fn claim_next(
                &self,
                reviewer: &str,
                filter: &QueueFilter,
                claim: Duration,
                now: DateTime<Utc>,
            ) -> Result<Option<ClaimedDocument>, RepoError> {
                let until = now + TimeDelta::milliseconds(lease_millis(claim));
                let mut tx = self.pool.begin_with($begin).await?;
                let mut attempt = Attempt::Lost;
                for _ in 0..ATTEMPTS {
                    attempt = <$backend>::claim_once(&mut tx, reviewer, filter, until, now).await?;
                    if !matches!(attempt, Attempt::Lost) {
                        break;
                    }
                }
                let claimed = match attempt {
                    Attempt::Claimed(id) => Some(id),
                    Attempt::Empty => None,
                    Attempt::Lost => {
                        return Err(RepoError::Unavailable(
                            "the review queue is too busy; try again".into(),
                        ));
                    }
                };
                sqlx::query($release_others)
                    .bind(reviewer)
                    .bind(&claimed)
                    .execute(&mut *tx)
                    .await?;
                let document = match &claimed {
                    Some(id) => {
                        let row = sqlx::query(SELECT_CLAIM)
                            .bind(id)
                            .fetch_one(&mut *tx)
                            .await?;
                        Some(claimed_document(&row)?)
                    }
                    None => None,
                };
                tx.commit().await?;
                Ok(document)
            }

            async fn release_claims(&self, reviewer: &str) -> Result<u64, RepoError> {
                let done = sqlx::query(RELEASE_REVIEWER)
                    .bind(reviewer)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            }

            async fn queue_count(
                &self,
                reviewer: &str,
                filter: &QueueFilter,
                now: DateTime<Utc>,
            ) -> Result<QueueCount, RepoError> {
                let query = sqlx::query(sqlx::AssertSqlSafe(scoped(COUNT, filter, 5)))
                    .bind(&filter.campaign)
                    .bind(&filter.piece)
                    .bind(now)
                    .bind(reviewer);
                let row = bind_scope(query, filter).fetch_one(&self.pool).await?;
                Ok(QueueCount {
                    awaiting: count(row.try_get("awaiting")?)?,
                    claimed_by_others: count(row.try_get("taken")?)?,
                })
            }

            async fn live_claims(
                &self,
                dossier: Option<&str>,
                now: DateTime<Utc>,
            ) -> Result<Vec<ClaimedDocument>, RepoError> {
                let rows = sqlx::query(LIVE_CLAIMS)
                    .bind(now)
                    .bind(dossier)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(|r| claimed_document(r)).collect()
            }
        }
    };
}

queue_impl!(SqliteRepository, "BEGIN IMMEDIATE", RELEASE_OTHERS_SQLITE);
queue_impl!(PostgresRepository, "BEGIN", RELEASE_OTHERS_POSTGRES);

/// A claim from a row of [`SELECT_CLAIM`] or [`LIVE_CLAIMS`], on either backend.
fn claimed_document<R>(row: &R) -> Result<ClaimedDocument, RepoError>
where
    R: Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    String: super::columns::Column<R::Database>,
    DateTime<Utc>: super::columns::Column<R::Database>,
{
    Ok(ClaimedDocument {
        document: row.try_get("document_id")?,
        dossier: row.try_get("dossier")?,
        piece: row.try_get("piece")?,
        reviewer: row.try_get("reviewer")?,
        claimed_at: row.try_get("claimed_at")?,
        claimed_until: row.try_get("claimed_until")?,
    })
}

fn count(n: i64) -> Result<u64, RepoError> {
    u64::try_from(n).map_err(|_| RepoError::Corrupt(format!("negative count {n}")))
}
