//! Webhook endpoints and their deliveries, on both backends.
//!
//! Each endpoint is a consumer of the event outbox with its own cursor (`last_event`): the
//! events of its campaign's dossiers after the cursor are its backlog. A delivery worker
//! claims an endpoint under a lease (one holder at a time, on any number of processes),
//! sends its backlog in id order, and moves the cursor past each event together with the
//! record of how that event went, by compare-and-set on the holder and the cursor's position.
//! A holder that died loses the endpoint when its lease lapses; the next holder starts again
//! from the cursor, so an event may be sent twice (at-least-once) but never by two processes
//! at once while leases are kept.
//!
//! The same trait carries the counts that `/metrics` publishes as gauges (job queues, scan
//! states, endpoint lag): they are read on the same pool and change no state.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use sqlx::{ColumnIndex, Row};

use super::columns::{Column, RecordRow};
use super::{EventRecord, PostgresRepository, RepoError, SqliteRepository, lease_millis};

/// A webhook endpoint of a campaign.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookRecord {
    pub id: String,
    pub campaign: String,
    pub url: String,
    pub created_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    /// The id of the last event the endpoint was given (delivered or given up).
    pub last_event: i64,
}

/// An endpoint to create; it starts after the last event already written.
#[derive(Debug, Clone, PartialEq)]
pub struct NewWebhook {
    pub id: String,
    pub campaign: String,
    pub url: String,
}

/// How one event went to one endpoint, once settled.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRecord {
    pub webhook: String,
    pub event: i64,
    /// `delivered`, or `failed` when every attempt failed.
    pub state: String,
    pub attempts: u32,
    /// The HTTP status of the last attempt, when the receiver answered.
    pub status: Option<u16>,
    /// Why the last attempt failed, when it did.
    pub error: Option<String>,
    pub at: DateTime<Utc>,
}

/// Counts published as gauges by `/metrics`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueDepths {
    /// `(kind, state, count)` of background jobs.
    pub jobs: Vec<(String, String, i64)>,
    /// `(kind, when the oldest job still queued was created)`, for kinds with queued jobs
    /// (due now or waiting to be retried).
    pub oldest_queued: Vec<(String, DateTime<Utc>)>,
    /// `(scan state, count)` of documents; `none` for documents stored unscanned.
    pub scans: Vec<(String, i64)>,
    /// `(webhook id, campaign, events written after its cursor, all campaigns counted)`.
    pub webhook_lag: Vec<(String, String, i64)>,
}

#[async_trait]
pub trait WebhookRepository: Send + Sync {
    /// Creates an endpoint whose cursor is the last event written so far: it is given the
    /// events that follow its creation.
    async fn create_webhook(&self, webhook: &NewWebhook) -> Result<WebhookRecord, RepoError>;
    /// The campaign's endpoints that are not deleted, oldest first.
    async fn webhooks(&self, campaign: &str) -> Result<Vec<WebhookRecord>, RepoError>;
    async fn webhook(&self, id: &str) -> Result<Option<WebhookRecord>, RepoError>;
    /// Marks the campaign's endpoint deleted; `false` when there was no such live endpoint.
    /// Its holder, if any, loses it at its next cursor move.
    async fn delete_webhook(&self, campaign: &str, id: &str) -> Result<bool, RepoError>;

    /// Claims a live endpoint with events after its cursor whose lease is free or lapsed,
    /// for `owner` until `lease` from now; the least recently served first. Concurrent
    /// claimers never get the same endpoint.
    async fn claim_webhook(
        &self,
        owner: &str,
        lease: Duration,
    ) -> Result<Option<WebhookRecord>, RepoError>;
    /// Extends `owner`'s lease; `false` when the endpoint is no longer theirs (or deleted).
    async fn renew_webhook_lease(
        &self,
        id: &str,
        owner: &str,
        lease: Duration,
    ) -> Result<bool, RepoError>;
    /// Gives the endpoint back; `false` when it was no longer `owner`'s.
    async fn release_webhook(&self, id: &str, owner: &str) -> Result<bool, RepoError>;
    /// The events of `campaign`'s dossiers with an id above `after`, in id order, at most
    /// `limit`.
    async fn webhook_events(
        &self,
        campaign: &str,
        after: i64,
        limit: u32,
    ) -> Result<Vec<EventRecord>, RepoError>;
    /// Records how `delivery.event` went and moves the endpoint's cursor from `from` to it, in
    /// one transaction, if `owner` still holds the live endpoint and the cursor is still at
    /// `from`; `false` (and nothing recorded) otherwise.
    async fn settle_delivery(
        &self,
        owner: &str,
        from: i64,
        delivery: &DeliveryRecord,
    ) -> Result<bool, RepoError>;
    /// The endpoint's settled deliveries, latest first, at most `limit`; only the failed
    /// ones with `failed_only`.
    async fn deliveries(
        &self,
        webhook: &str,
        failed_only: bool,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>, RepoError>;

    /// The gauges of `/metrics`.
    async fn queue_depths(&self) -> Result<QueueDepths, RepoError>;
}

const LIVE_WEBHOOKS: &str = "SELECT id, campaign, url, created_at, deleted_at, last_event
    FROM webhooks WHERE campaign = $1 AND deleted_at IS NULL ORDER BY created_at, id";
const SELECT_WEBHOOK: &str = "SELECT id, campaign, url, created_at, deleted_at, last_event
    FROM webhooks WHERE id = $1";
const DELETE_WEBHOOK: &str = "UPDATE webhooks SET deleted_at = $1, lease_owner = NULL,
        lease_until = NULL, updated_at = $1
    WHERE id = $2 AND campaign = $3 AND deleted_at IS NULL";
const RELEASE_WEBHOOK: &str = "UPDATE webhooks SET lease_owner = NULL, lease_until = NULL,
        updated_at = $1
    WHERE id = $2 AND lease_owner = $3";
const WEBHOOK_EVENTS: &str = "SELECT e.id, e.type, e.actor, e.dossier, e.document, e.at, e.data
    FROM events e JOIN dossiers d ON d.reference = e.dossier
    WHERE d.campaign = $1 AND e.id > $2 ORDER BY e.id LIMIT $3";
/// The compare-and-set of a settled delivery: one row when `$4` still holds the live
/// endpoint with its cursor at `$5`.
const MOVE_CURSOR: &str = "UPDATE webhooks SET last_event = $1, updated_at = $2
    WHERE id = $3 AND lease_owner = $4 AND last_event = $5 AND deleted_at IS NULL";
/// A redelivery after a lost lease settles the same event again: the latest outcome wins.
const UPSERT_DELIVERY: &str = "INSERT INTO webhook_deliveries
        (webhook, event, state, attempts, status, error, at)
    VALUES ($1, $2, $3, $4, $5, $6, $7)
    ON CONFLICT (webhook, event) DO UPDATE SET state = excluded.state,
        attempts = excluded.attempts, status = excluded.status, error = excluded.error,
        at = excluded.at";
const DELIVERIES: &str = "SELECT webhook, event, state, attempts, status, error, at
    FROM webhook_deliveries WHERE webhook = $1 AND ($2 = 0 OR state = 'failed')
    ORDER BY event DESC LIMIT $3";
/// Jobs by kind and state: how many, and when the oldest was created.
const JOB_COUNTS: &str = "SELECT kind, state, count(*) AS n, min(created_at) AS oldest
    FROM jobs GROUP BY kind, state ORDER BY kind, state";
const SCAN_COUNTS: &str = "SELECT coalesce(scan, 'none') AS scan, count(*) AS n FROM documents
    GROUP BY coalesce(scan, 'none') ORDER BY 1";
const WEBHOOK_LAG: &str = "SELECT w.id, w.campaign,
        (SELECT coalesce(max(e.id), 0) FROM events e) - w.last_event AS lag
    FROM webhooks w WHERE w.deleted_at IS NULL ORDER BY w.id";

fn webhook<R>(row: &R) -> Result<WebhookRecord, RepoError>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    String: Column<R::Database>,
    i64: Column<R::Database>,
    DateTime<Utc>: Column<R::Database>,
    Option<DateTime<Utc>>: Column<R::Database>,
{
    Ok(WebhookRecord {
        id: row.try_get("id")?,
        campaign: row.try_get("campaign")?,
        url: row.try_get("url")?,
        created_at: row.try_get("created_at")?,
        deleted_at: row.try_get("deleted_at")?,
        last_event: row.try_get("last_event")?,
    })
}

fn delivery<R>(row: &R) -> Result<DeliveryRecord, RepoError>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    String: Column<R::Database>,
    Option<String>: Column<R::Database>,
    i64: Column<R::Database>,
    i32: Column<R::Database>,
    Option<i32>: Column<R::Database>,
    DateTime<Utc>: Column<R::Database>,
{
    let attempts: i32 = row.try_get("attempts")?;
    let status: Option<i32> = row.try_get("status")?;
    Ok(DeliveryRecord {
        webhook: row.try_get("webhook")?,
        event: row.try_get("event")?,
        state: row.try_get("state")?,
        attempts: u32::try_from(attempts)
            .map_err(|_| RepoError::Corrupt("negative delivery attempts".into()))?,
        status: status.and_then(|s| u16::try_from(s).ok()),
        error: row.try_get("error")?,
        at: row.try_get("at")?,
    })
}

fn counts<R>(rows: &[R]) -> Result<Vec<(String, String, i64)>, RepoError>
where
    R: Row,
    usize: ColumnIndex<R>,
    String: Column<R::Database>,
    i64: Column<R::Database>,
{
    rows.iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))
        .collect()
}

fn lease_end(now: DateTime<Utc>, lease: Duration) -> DateTime<Utc> {
    now + TimeDelta::milliseconds(lease_millis(lease))
}

/// `impl WebhookRepository for TYPE` with the methods whose SQL reads the same on both
/// backends (`$n` parameters; times bound from this process where the backend's clock does
/// not matter), followed by the backend's own. The whole impl is generated so that
/// `async_trait` sees every method.
macro_rules! webhook_impl {
    ($backend:ty; $($own:tt)*) => {
        #[async_trait]
        impl WebhookRepository for $backend {
        $($own)*

        async fn webhooks(&self, campaign: &str) -> Result<Vec<WebhookRecord>, RepoError> {
            let rows = sqlx::query(LIVE_WEBHOOKS)
                .bind(campaign)
                .fetch_all(&self.pool)
                .await?;
            rows.iter().map(webhook).collect()
        }

        async fn webhook(&self, id: &str) -> Result<Option<WebhookRecord>, RepoError> {
            let row = sqlx::query(SELECT_WEBHOOK)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
            row.as_ref().map(webhook).transpose()
        }

        async fn delete_webhook(&self, campaign: &str, id: &str) -> Result<bool, RepoError> {
            let done = sqlx::query(DELETE_WEBHOOK)
                .bind(Utc::now())
                .bind(id)
                .bind(campaign)
                .execute(&self.pool)
                .await?;
            Ok(done.rows_affected() == 1)
        }

        async fn release_webhook(&self, id: &str, owner: &str) -> Result<bool, RepoError> {
            let done = sqlx::query(RELEASE_WEBHOOK)
                .bind(Utc::now())
                .bind(id)
                .bind(owner)
                .execute(&self.pool)
                .await?;
            Ok(done.rows_affected() == 1)
        }

        async fn webhook_events(
            &self,
            campaign: &str,
            after: i64,
            limit: u32,
        ) -> Result<Vec<EventRecord>, RepoError> {
            let rows = sqlx::query(WEBHOOK_EVENTS)
                .bind(campaign)
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
            rows.iter().map(RecordRow::event).collect()
        }

        async fn deliveries(
            &self,
            webhook: &str,
            failed_only: bool,
            limit: u32,
        ) -> Result<Vec<DeliveryRecord>, RepoError> {
            let rows = sqlx::query(DELIVERIES)
                .bind(webhook)
                .bind(i64::from(failed_only))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
            rows.iter().map(delivery).collect()
        }

        async fn queue_depths(&self) -> Result<QueueDepths, RepoError> {
            let jobs = sqlx::query(JOB_COUNTS).fetch_all(&self.pool).await?;
            let scans = sqlx::query(SCAN_COUNTS).fetch_all(&self.pool).await?;
            let lag = sqlx::query(WEBHOOK_LAG).fetch_all(&self.pool).await?;
            Ok(QueueDepths {
                jobs: counts(&jobs)?,
                oldest_queued: jobs
                    .iter()
                    .filter(|row| row.try_get::<String, _>("state").is_ok_and(|s| s == "queued"))
                    .map(|row| Ok((row.try_get("kind")?, row.try_get("oldest")?)))
                    .collect::<Result<_, RepoError>>()?,
                scans: scans
                    .iter()
                    .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
                    .collect::<Result<_, RepoError>>()?,
                webhook_lag: counts(&lag)?,
            })
        }
        }
    };
}

fn bind_delivery<'q, DB>(
    query: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>,
    d: &'q DeliveryRecord,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>
where
    DB: sqlx::Database,
    String: Column<DB>,
    Option<String>: Column<DB>,
    i64: Column<DB>,
    i32: Column<DB>,
    Option<i32>: Column<DB>,
    DateTime<Utc>: Column<DB>,
{
    query
        .bind(&d.webhook)
        .bind(d.event)
        .bind(&d.state)
        .bind(i32::try_from(d.attempts).unwrap_or(i32::MAX))
        .bind(d.status.map(i32::from))
        .bind(&d.error)
        .bind(d.at)
}

webhook_impl! {
    SqliteRepository;

    async fn create_webhook(&self, new: &NewWebhook) -> Result<WebhookRecord, RepoError> {
        let now = Utc::now();
        let row = sqlx::query(
            "INSERT INTO webhooks (id, campaign, url, created_at, last_event, updated_at)
             VALUES ($1, $2, $3, $4, (SELECT coalesce(max(id), 0) FROM events), $4)
             RETURNING id, campaign, url, created_at, deleted_at, last_event",
        )
        .bind(&new.id)
        .bind(&new.campaign)
        .bind(&new.url)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        webhook(&row)
    }

    async fn claim_webhook(
        &self,
        owner: &str,
        lease: Duration,
    ) -> Result<Option<WebhookRecord>, RepoError> {
        let now = Utc::now();
        // One write statement: SQLite serialises writers, so two claimers cannot both see
        // the same endpoint free.
        let row = sqlx::query(
            "UPDATE webhooks SET lease_owner = $1, lease_until = $2, updated_at = $3
             WHERE id = (
                SELECT w.id FROM webhooks w
                WHERE w.deleted_at IS NULL
                  AND (w.lease_until IS NULL OR w.lease_until < $3)
                  AND EXISTS (SELECT 1 FROM events e JOIN dossiers d ON d.reference = e.dossier
                              WHERE d.campaign = w.campaign AND e.id > w.last_event)
                ORDER BY w.updated_at, w.id LIMIT 1)
             RETURNING id, campaign, url, created_at, deleted_at, last_event",
        )
        .bind(owner)
        .bind(lease_end(now, lease))
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(webhook).transpose()
    }

    async fn renew_webhook_lease(
        &self,
        id: &str,
        owner: &str,
        lease: Duration,
    ) -> Result<bool, RepoError> {
        let now = Utc::now();
        let done = sqlx::query(
            "UPDATE webhooks SET lease_until = $1, updated_at = $2
             WHERE id = $3 AND lease_owner = $4 AND deleted_at IS NULL",
        )
        .bind(lease_end(now, lease))
        .bind(now)
        .bind(id)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn settle_delivery(
        &self,
        owner: &str,
        from: i64,
        delivery: &DeliveryRecord,
    ) -> Result<bool, RepoError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let moved = sqlx::query(MOVE_CURSOR)
            .bind(delivery.event)
            .bind(Utc::now())
            .bind(&delivery.webhook)
            .bind(owner)
            .bind(from)
            .execute(&mut *tx)
            .await?;
        if moved.rows_affected() != 1 {
            return Ok(false);
        }
        bind_delivery(sqlx::query(UPSERT_DELIVERY), delivery)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }
}

webhook_impl! {
    PostgresRepository;

    async fn create_webhook(&self, new: &NewWebhook) -> Result<WebhookRecord, RepoError> {
        // Events commit in id order (see `insert_events` on PostgreSQL), so every event committed after
        // this statement's snapshot has a larger id than the cursor it starts from.
        let row = sqlx::query(
            "INSERT INTO webhooks (id, campaign, url, created_at, last_event, updated_at)
             VALUES ($1, $2, $3, now(), (SELECT coalesce(max(id), 0) FROM events), now())
             RETURNING id, campaign, url, created_at, deleted_at, last_event",
        )
        .bind(&new.id)
        .bind(&new.campaign)
        .bind(&new.url)
        .fetch_one(&self.pool)
        .await?;
        webhook(&row)
    }

    async fn claim_webhook(
        &self,
        owner: &str,
        lease: Duration,
    ) -> Result<Option<WebhookRecord>, RepoError> {
        // SKIP LOCKED passes over an endpoint another process is claiming right now; the
        // lease condition is checked again on the locked row, so one just claimed is skipped.
        let row = sqlx::query(
            "UPDATE webhooks SET lease_owner = $1,
                lease_until = now() + $2 * interval '1 millisecond', updated_at = now()
             WHERE id = (
                SELECT w.id FROM webhooks w
                WHERE w.deleted_at IS NULL
                  AND (w.lease_until IS NULL OR w.lease_until < now())
                  AND EXISTS (SELECT 1 FROM events e JOIN dossiers d ON d.reference = e.dossier
                              WHERE d.campaign = w.campaign AND e.id > w.last_event)
                ORDER BY w.updated_at, w.id LIMIT 1
                FOR UPDATE SKIP LOCKED)
               AND deleted_at IS NULL
               AND (lease_until IS NULL OR lease_until < now())
             RETURNING id, campaign, url, created_at, deleted_at, last_event",
        )
        .bind(owner)
        .bind(lease_millis(lease))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(webhook).transpose()
    }

    async fn renew_webhook_lease(
        &self,
        id: &str,
        owner: &str,
        lease: Duration,
    ) -> Result<bool, RepoError> {
        let done = sqlx::query(
            "UPDATE webhooks SET lease_until = now() + $1 * interval '1 millisecond',
                updated_at = now()
             WHERE id = $2 AND lease_owner = $3 AND deleted_at IS NULL",
        )
        .bind(lease_millis(lease))
        .bind(id)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn settle_delivery(
        &self,
        owner: &str,
        from: i64,
        delivery: &DeliveryRecord,
    ) -> Result<bool, RepoError> {
        let mut tx = self.pool.begin().await?;
        let moved = sqlx::query(MOVE_CURSOR)
            .bind(delivery.event)
            .bind(Utc::now())
            .bind(&delivery.webhook)
            .bind(owner)
            .bind(from)
            .execute(&mut *tx)
            .await?;
        if moved.rows_affected() != 1 {
            return Ok(false);
        }
        bind_delivery(sqlx::query(UPSERT_DELIVERY), delivery)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }
}
