//! The repository beyond one machine: PostgreSQL, shared by any number of `guichet serve`
//! processes.
//!
//! Transactions run at READ COMMITTED. A dossier change is guarded by its version
//! (`UPDATE ... WHERE version = $n`), so two processes changing one dossier never both win.
//! Event ids come from an identity column, and event-emitting transactions commit in id
//! order (see [`insert_events`]), so the feed never shows a later id before an earlier
//! one. Jobs are claimed with `FOR UPDATE SKIP LOCKED`, and leases are measured on the
//! server's clock, the one clock every process shares.

use std::str::FromStr;
use std::time::Duration;

use chrono::Utc;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{PgConnection, Postgres, Transaction};

use super::columns::{Columns, RecordRow, dossier_params, event_params};
use super::journal::{self, JournalEntry, JournalRepository, NewJournalEntry, journal_impl};
use super::statement::{self, Statement, params};
use super::{
    CampaignRecord, DocumentRecord, DossierChange, DossierRecord, EventRecord, Job, JobState,
    NewEvent, NewJob, RepoError, Repository, TokenRecord, lease_millis, sql,
};
use super::{change, retention};

/// Connections per process. Requests hold one only for a transaction's length, so a few go
/// a long way; with N processes the server needs N times this (its default allows 100).
const POOL_SIZE: u32 = 10;
/// How long a request waits for a free connection before the database counts as unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections are closed when idle this long, and renewed after `MAX_LIFETIME` in any case
/// (so a failover or a server-side setting change reaches every connection).
const IDLE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// Session settings: no statement or lock wait runs away, and a process stuck inside a
/// transaction (holding row locks, or the event-order lock) is cut off by the server.
const SESSION_SETTINGS: [(&str, &str); 3] = [
    ("statement_timeout", "30s"),
    ("lock_timeout", "10s"),
    ("idle_in_transaction_session_timeout", "60s"),
];

/// The key of the advisory lock that orders event-emitting transactions ("guichet" in ASCII),
/// as `pg_locks` shows it (`classid` the high 32 bits, `objid` the low). sqlx's migration lock
/// is derived from the database name, so the two do not meet.
pub const EVENT_ORDER_LOCK: i64 = 0x0067_7569_6368_6574;

pub struct PostgresRepository {
    // Visible to the sibling modules that add traits over the same database (staff.rs).
    pub(super) pool: PgPool,
}

impl PostgresRepository {
    /// Connects to `url` (`postgres://user:password@host:port/database?sslmode=...`) and
    /// migrates the database. Several processes may start at once: sqlx holds an advisory
    /// lock while it migrates, so one migrates and the others wait, then find nothing to do.
    pub async fn connect(url: &str) -> Result<Self, RepoError> {
        let options = PgConnectOptions::from_str(url)?
            .application_name("guichet")
            .options(SESSION_SETTINGS);
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .min_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .idle_timeout(IDLE_TIMEOUT)
            .max_lifetime(MAX_LIFETIME)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .map_err(|e| match e {
                sqlx::migrate::MigrateError::Execute(e) => RepoError::from(e),
                other => RepoError::Database(format!("migration failed: {other}")),
            })?;
        Ok(PostgresRepository { pool })
    }

    /// Moves a job of `owner`'s out of `running`, due again `due_in` from now (when it is
    /// queued again); `false` when it is no longer theirs.
    async fn finish_job(
        &self,
        id: i64,
        owner: &str,
        state: JobState,
        error: Option<&str>,
        due_in: Duration,
    ) -> Result<bool, RepoError> {
        let done = sqlx::query(
            "UPDATE jobs SET state = $1, last_error = coalesce($2, last_error),
                lease_until = NULL, updated_at = now(),
                run_after = now() + $5 * interval '1 millisecond'
             WHERE id = $3 AND lease_owner = $4 AND state = 'running'",
        )
        .bind(state.as_str())
        .bind(error)
        .bind(id)
        .bind(owner)
        .bind(lease_millis(due_in))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

impl PostgresRepository {
    pub(super) async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, RepoError> {
        Ok(self.pool.begin().await?)
    }
}

journal_impl!(PostgresRepository, Postgres);

/// Inserts the transaction's events so that events become visible in id order: call it as the
/// transaction's last work before commit.
///
/// An identity column hands out ids when rows are inserted, not when they commit: without
/// ordering, a transaction could take id 7, another take id 8 and commit first, and a reader
/// of `events_after(6)` would see 8, move its cursor past 7, and never see 7 when it commits.
/// Holding one transaction-scoped advisory lock from the event insert to the commit
/// serialises those sections: a transaction takes its ids only after the previous holder has
/// committed (PostgreSQL makes a commit visible before it releases the transaction's locks),
/// so every id taken later is larger than every id already visible. Only event-emitting
/// transactions wait, and only for each other's insert and commit; the lock is released by
/// commit or rollback, and a stuck holder is cut off by `idle_in_transaction_session_timeout`.
///
/// The lock and every event are one statement ([`insert_events_statement`]), so the lock is
/// held for that statement and the commit only, not for a round trip per event.
async fn insert_events(
    conn: &mut PgConnection,
    events: &[NewEvent],
    at: chrono::DateTime<Utc>,
    actor: &str,
) -> Result<(), RepoError> {
    // A long list takes several statements; the lock, once held, is held to the commit.
    for events in events.chunks(sql::MAX_ROWS) {
        let statement = insert_events_statement(events.len());
        let values: Vec<_> = events
            .iter()
            .flat_map(|e| event_params(e, at, actor))
            .collect();
        let query = sqlx::query(sqlx::AssertSqlSafe(statement)).bind(EVENT_ORDER_LOCK);
        statement::bind(query, &values).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Takes the event-order lock (`$1`), then inserts `count` events (bound from `$2` on, as
/// [`event_params`] lists them) with ids in their order. Every row inserted is
/// joined to the lock's one-row result, so none takes its id before the lock is held.
fn insert_events_statement(count: usize) -> String {
    let rows: Vec<String> = sql::value_rows(2, sql::EVENT_BINDS, count)
        .into_iter()
        .enumerate()
        .map(|(n, row)| format!("({row}, {n})"))
        .collect();
    format!(
        "WITH ordered AS MATERIALIZED (SELECT pg_advisory_xact_lock($1))
        INSERT INTO events ({columns})
        SELECT v.type, v.dossier, v.document, v.at, v.data, v.actor
        FROM ordered, (VALUES {}) AS v ({columns}, n)
        ORDER BY v.n",
        rows.join(", "),
        columns = sql::EVENT_COLUMNS,
    )
}

async fn enqueue(conn: &mut PgConnection, job: &NewJob) -> Result<i64, RepoError> {
    // ON CONFLICT waits for a concurrent insert of the same (kind, key) to commit, so the
    // SELECT that follows (a new snapshot at READ COMMITTED) finds the row.
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO jobs (kind, key, payload, state, attempts, created_at, updated_at)
         VALUES ($1, $2, $3, 'queued', 0, now(), now())
         ON CONFLICT (kind, key) DO NOTHING RETURNING id",
    )
    .bind(&job.kind)
    .bind(&job.key)
    .bind(&job.payload)
    .fetch_optional(&mut *conn)
    .await?;
    match inserted {
        Some(id) => Ok(id),
        None => Ok(sqlx::query_scalar(sql::JOB_ID)
            .bind(&job.kind)
            .bind(&job.key)
            .fetch_one(&mut *conn)
            .await?),
    }
}

impl PostgresRepository {
    /// The rows `statement` selects, each mapped by `map` (SQLite's twin reads on its own
    /// connections).
    pub(super) async fn read_all<T>(
        &self,
        statement: Statement,
        map: impl FnMut(&PgRow) -> Result<T, RepoError>,
    ) -> Result<Vec<T>, RepoError> {
        statement::query(&self.pool, &statement, map).await
    }

    /// The first row `statement` selects, mapped by `map`.
    pub(super) async fn read_one<T>(
        &self,
        statement: Statement,
        map: impl FnMut(&PgRow) -> Result<T, RepoError>,
    ) -> Result<Option<T>, RepoError> {
        Ok(self.read_all(statement, map).await?.into_iter().next())
    }
}

repository_impl! {
    PostgresRepository;

    fn name(&self) -> &'static str {
        "postgres"
    }

    async fn create_dossier(
        &self,
        dossier: &DossierRecord,
        event: NewEvent,
        actor: &str,
    ) -> Result<(DossierRecord, bool), RepoError> {
        let mut tx = self.pool.begin().await?;
        // A concurrent creation of the same reference makes this wait for its commit, then
        // insert nothing; the SELECT then sees the winner's row.
        let inserted = statement::bind(sqlx::query(sql::INSERT_DOSSIER), &dossier_params(dossier))
            .fetch_optional(&mut *tx)
            .await?;
        let Some(created) = inserted else {
            let existing = sqlx::query(sql::SELECT_DOSSIER)
                .bind(&dossier.reference)
                .fetch_one(&mut *tx)
                .await?;
            return Ok((existing.dossier()?, false));
        };
        // As stored: PostgreSQL keeps times to the microsecond.
        let created = created.dossier()?;
        let created_event = std::slice::from_ref(&event);
        let entries = DossierChange {
            actor: actor.to_string(),
            events: created_event.to_vec(),
            ..DossierChange::default()
        }
        .journal_entries(&dossier.reference);
        journal::append::<Postgres>(&mut tx, &dossier.reference, dossier.created_at, &entries)
            .await?;
        insert_events(&mut tx, created_event, dossier.created_at, actor).await?;
        tx.commit().await?;
        Ok((created, true))
    }

    async fn documents(&self, reference: &str) -> Result<Vec<DocumentRecord>, RepoError> {
        let select = Statement::new(
            "SELECT * FROM documents WHERE dossier = $1 ORDER BY received_at, seq",
            params![reference],
        );
        self.read_all(select, |row| row.document()).await
    }

    async fn apply(&self, reference: &str, change: DossierChange) -> Result<(), RepoError> {
        let now = Utc::now();
        let mut tx = self.pool.begin().await?;
        // The row lock taken here holds off any other change to this dossier until commit;
        // one computed from the same version then finds the version moved.
        let bumped = sqlx::query(sql::BUMP_VERSION)
            .bind(now)
            .bind(reference)
            .bind(change.expected_version)
            .execute(&mut *tx)
            .await?;
        if bumped.rows_affected() != 1 {
            return Err(RepoError::Conflict);
        }
        for sha256 in change::new_objects(&change) {
            retention::lock_content(&mut tx, sha256).await?;
        }
        statement::run::<Postgres>(&mut tx, &change::statements(reference, &change, now)).await?;
        for job in &change.jobs {
            enqueue(&mut tx, job).await?;
        }
        journal::append::<Postgres>(&mut tx, reference, now, &change.journal_entries(reference))
            .await?;
        // Last, so the event-order lock is held for as short a time as possible.
        insert_events(&mut tx, &change.events, now, &change.actor).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn enqueue_job(&self, job: &NewJob) -> Result<i64, RepoError> {
        let mut conn = self.pool.acquire().await?;
        enqueue(&mut conn, job).await
    }

    async fn claim_job(
        &self,
        kinds: &[&str],
        owner: &str,
        lease: Duration,
    ) -> Result<Option<Job>, RepoError> {
        // SKIP LOCKED passes over a job another claimer is taking right now instead of
        // waiting for it; a row that changed under the scan is checked again, so a job
        // claimed a moment ago (its lease now fresh) is passed over too.
        let row = sqlx::query(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = $1,
                lease_until = now() + $2 * interval '1 millisecond', updated_at = now()
             WHERE id = (
                SELECT id FROM jobs
                WHERE kind = ANY($3)
                  AND ((state = 'queued' AND (run_after IS NULL OR run_after <= now()))
                    OR (state = 'running' AND lease_until < now()))
                ORDER BY coalesce(run_after, created_at), id LIMIT 1
                FOR UPDATE SKIP LOCKED)
             RETURNING *",
        )
        .bind(owner)
        .bind(lease_millis(lease))
        .bind(kinds)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(RecordRow::job).transpose()
    }

    async fn renew_lease(&self, id: i64, owner: &str, lease: Duration) -> Result<bool, RepoError> {
        let renewed = sqlx::query(
            "UPDATE jobs SET lease_until = now() + $1 * interval '1 millisecond',
                updated_at = now()
             WHERE id = $2 AND lease_owner = $3 AND state = 'running'",
        )
        .bind(lease_millis(lease))
        .bind(id)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(renewed.rows_affected() == 1)
    }

    async fn advance_outbox_cursor(
        &self,
        name: &str,
        from: i64,
        to: i64,
    ) -> Result<bool, RepoError> {
        // Two movers from the same position: the second waits on the row lock, then finds
        // the position changed and moves nothing. Two creators: the second's insert waits,
        // then does nothing.
        let now = Utc::now();
        let mut moved = sqlx::query(sql::MOVE_OUTBOX_CURSOR)
            .bind(to)
            .bind(now)
            .bind(name)
            .bind(from)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if moved == 0 && from == 0 {
            moved = sqlx::query(sql::CREATE_OUTBOX_CURSOR)
                .bind(name)
                .bind(to)
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected();
        }
        Ok(moved == 1)
    }
}
