//! The repository of the embedded default: SQLite in WAL mode with `synchronous = FULL`,
//! so a committed transaction survives a crash or a power cut.
//!
//! Writes take the database lock at `BEGIN IMMEDIATE`, so a read-modify-write never fails
//! half-way on a lock upgrade; the dossier version check still guards against a change
//! computed from a stale read. Since writers are serialised, event ids are visible in
//! increasing order and a claimed job is nobody else's. Job leases use this machine's clock:
//! an SQLite database is only ever shared by the processes of one machine.
//!
//! Dossier changes are committed in groups: the changes waiting for the writer when it comes
//! free are applied in one transaction, each in its own savepoint (one that fails, a version
//! conflict say, is rolled back alone), and committed together, with one sync of the log.
//! Each caller is answered once the group's commit is durable. A group runs in one call on a
//! connection of its own (rusqlite's, on the blocking pool), during the writer's turn: sqlx
//! hands each statement to its connection's thread and back, which cost more than SQLite's
//! own work on them.
//!
//! The writer's turn is a fair lock of this process ([`WriteTurn`]), taken by the group commit
//! and by every write transaction on sqlx's writer connection, not that connection itself:
//! sqlx hands a connection back to its pool in a task of its own after a round trip to the
//! connection's thread, and a group commit waiting for that waited about a millisecond each
//! turn under load, with the writer's turns back to back.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, SqliteConnection, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard, mpsc, oneshot};

use super::change;
use super::columns::{Columns, RecordRow, dossier_params, event_params};
use super::journal::{self, JournalEntry, JournalRepository, NewJournalEntry, journal_impl};
use super::statement::{self, Check, NamedRow, Statement, params};
use super::{
    CampaignRecord, DocumentRecord, DossierChange, DossierRecord, EventRecord, Job, JobState,
    NewEvent, NewJob, RepoError, Repository, TokenRecord, lease_millis, sql,
};

pub struct SqliteRepository {
    // Visible to the sibling modules that add traits over the same database (staff.rs).
    pub(super) pool: SqlitePool,
    /// Writers queue for their turn here, in order, rather than in SQLite's busy handler,
    /// whose growing sleeps (up to 100 ms a try) made the slowest uploads wait for a lock long
    /// free.
    turn: WriteTurn,
    /// The one connection of the write transactions other than the group commit's.
    writer: SqlitePool,
    /// Dossier changes on their way to the writer (see the module's text).
    changes: mpsc::Sender<QueuedChange>,
    /// Connections for the reads on every request's path (tokens, dossiers, documents,
    /// duplicates, previews), used directly (see [`SqliteRepository::read_all`]), not handed
    /// to a connection's thread and back as sqlx does.
    readers: deadpool::unmanaged::Pool<rusqlite::Connection>,
}

/// The writer's turn: one writer at a time, in the order they came.
type WriteTurn = Arc<Mutex<()>>;

/// A write transaction on sqlx's writer connection, holding the writer's turn until it ends;
/// used as the connection it runs on.
pub(super) struct WriteTransaction {
    tx: Transaction<'static, Sqlite>,
    _turn: OwnedMutexGuard<()>,
}

impl WriteTransaction {
    pub(super) async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

impl std::ops::Deref for WriteTransaction {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTransaction {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.tx
    }
}

/// A dossier change waiting for its group's commit, and who to tell.
struct QueuedChange {
    reference: String,
    change: DossierChange,
    done: oneshot::Sender<Result<(), RepoError>>,
}

/// How long a connection waits for a lock another holds (a writer of another process, or a
/// read-write statement on a reader connection) before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How many reader connections [`SqliteRepository::read_all`] uses; more reads wait.
const READERS: usize = 4;

/// The most dossier changes committed together.
const MAX_GROUP: usize = 64;

/// Changes waiting beyond this many make their senders wait too.
const QUEUE_DEPTH: usize = 1024;

impl SqliteRepository {
    /// Opens (creating if needed) the database at `url` (`sqlite://path`) and migrates it.
    pub async fn connect(url: &str) -> Result<Self, RepoError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            // Statement journals of savepoints and sorts stay in memory, not in files created
            // and removed under /var/tmp for each group commit.
            .pragma("temp_store", "memory")
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|e| RepoError::Database(format!("migration failed: {e}")))?;
        // Not pinged before each turn (a round trip to its thread): a connection to a local
        // file does not go stale.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await?;
        let direct = open_direct(options.get_filename())?;
        let readers = (0..READERS)
            .map(|_| open_reader(options.get_filename()))
            .collect::<Result<Vec<_>, _>>()?;
        let (changes, queue) = mpsc::channel(QUEUE_DEPTH);
        let turn = WriteTurn::default();
        tokio::spawn(commit_changes(turn.clone(), direct, queue));
        Ok(SqliteRepository {
            pool,
            turn,
            writer,
            changes,
            readers: readers.into(),
        })
    }

    /// The rows `statement` selects, each mapped by `map`, read on a reader connection in
    /// the calling task: these reads are short lookups by key of pages the page cache holds,
    /// which take less time than handing them to another thread and back would.
    pub(super) async fn read_all<T>(
        &self,
        statement: Statement,
        map: impl FnMut(&NamedRow<'_>) -> Result<T, RepoError>,
    ) -> Result<Vec<T>, RepoError> {
        let conn = self
            .readers
            .get()
            .await
            .map_err(|e| RepoError::Unavailable(format!("no reader connection: {e}")))?;
        statement::query_direct(&conn, &statement, map)
    }

    /// The first row `statement` selects, mapped by `map`, read on a reader connection.
    pub(super) async fn read_one<T>(
        &self,
        statement: Statement,
        map: impl FnMut(&NamedRow<'_>) -> Result<T, RepoError>,
    ) -> Result<Option<T>, RepoError> {
        Ok(self.read_all(statement, map).await?.into_iter().next())
    }

    pub(super) async fn begin_write(&self) -> Result<WriteTransaction, RepoError> {
        let turn = self.turn.clone().lock_owned().await;
        Ok(WriteTransaction {
            tx: self.writer.begin_with("BEGIN IMMEDIATE").await?,
            _turn: turn,
        })
    }

    /// Moves a job of `owner`'s out of `running`, due again `due_in` from now (when it is
    /// queued again); `false` when it is no longer theirs.
    ///
    /// On the writer, in turn with the other writes, as the lease's renewal: run on another
    /// connection, it would take SQLite's lock between two group commits, and the next would
    /// wait for it in SQLite's busy handler, whose sleeps grow to 100 ms a try.
    async fn finish_job(
        &self,
        id: i64,
        owner: &str,
        state: JobState,
        error: Option<&str>,
        due_in: Duration,
    ) -> Result<bool, RepoError> {
        let now = Utc::now();
        let _turn = self.turn.lock().await;
        let done = sqlx::query(
            "UPDATE jobs SET state = $1, last_error = coalesce($2, last_error),
                lease_until = NULL, updated_at = $3, run_after = $6
             WHERE id = $4 AND lease_owner = $5 AND state = 'running'",
        )
        .bind(state.as_str())
        .bind(error)
        .bind(now)
        .bind(id)
        .bind(owner)
        .bind(lease_end(now, due_in))
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

journal_impl!(SqliteRepository, Sqlite);

/// A reader connection to the database at `path`: the group commit's settings, and no write.
fn open_reader(path: &std::path::Path) -> Result<rusqlite::Connection, RepoError> {
    let conn = open_direct(path)?;
    conn.execute_batch("PRAGMA query_only = ON;")?;
    Ok(conn)
}

/// The group commit's connection to the database at `path`, set as sqlx sets the others (see
/// [`SqliteRepository::connect`]).
fn open_direct(path: &std::path::Path) -> Result<rusqlite::Connection, RepoError> {
    let conn = rusqlite::Connection::open(path)?;
    conn.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA temp_store = memory;",
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Each group's statements are a few of a dozen kinds, plus the multi-row inserts of
    // long lists: prepared once, kept.
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

fn lease_end(now: DateTime<Utc>, lease: Duration) -> DateTime<Utc> {
    now + TimeDelta::milliseconds(lease_millis(lease))
}

/// The statements that insert `events` in their order: one (several for a long list), since
/// SQLite inserts the rows of a `VALUES` list in turn, and the writer is alone, so their ids
/// follow the list.
fn insert_events(events: &[NewEvent], at: DateTime<Utc>, actor: &str) -> Vec<Statement> {
    events
        .chunks(sql::MAX_ROWS)
        .map(|events| {
            let statement =
                sql::insert_rows("events", sql::EVENT_COLUMNS, sql::EVENT_BINDS, events.len());
            let values = events.iter().flat_map(|e| event_params(e, at, actor));
            Statement::new(statement, values.collect())
        })
        .collect()
}

/// Queues a job, unless one of the same kind and key is there already (`RETURNING` its id
/// when new).
const ENQUEUE: &str = "INSERT INTO jobs (kind, key, payload, state, attempts, created_at,
        updated_at)
    VALUES ($1, $2, $3, 'queued', 0, $4, $4)
    ON CONFLICT (kind, key) DO NOTHING RETURNING id";

fn enqueue_statement(job: &NewJob, now: DateTime<Utc>) -> Statement {
    Statement::new(ENQUEUE, params![&job.kind, &job.key, &job.payload, now])
}

async fn enqueue(
    conn: &mut SqliteConnection,
    job: &NewJob,
    now: DateTime<Utc>,
) -> Result<i64, RepoError> {
    let enqueue = enqueue_statement(job, now);
    let inserted: Option<i64> = statement::bind(sqlx::query(ENQUEUE), &enqueue.params)
        .fetch_optional(&mut *conn)
        .await?
        .map(|row| row.try_get(0))
        .transpose()?;
    match inserted {
        Some(id) => Ok(id),
        None => Ok(sqlx::query_scalar(sql::JOB_ID)
            .bind(&job.kind)
            .bind(&job.key)
            .fetch_one(&mut *conn)
            .await?),
    }
}

/// Commits the queued dossier changes, those waiting together in one transaction, on `direct`
/// until the repository is dropped.
async fn commit_changes(
    turn: WriteTurn,
    direct: rusqlite::Connection,
    mut queue: mpsc::Receiver<QueuedChange>,
) {
    let mut direct = Some(direct);
    while let Some(first) = queue.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        // A change whose caller went away (a request cancelled) is not applied.
        group.retain(|queued| !queued.done.is_closed());
        if group.is_empty() {
            continue;
        }
        let writes = group.iter().map(ChangeWrites::of).collect();
        let outcomes = match commit_group(&turn, &mut direct, writes).await {
            Ok(outcomes) => outcomes,
            Err(e) => group.iter().map(|_| Err(e.clone())).collect(),
        };
        for (queued, outcome) in group.into_iter().zip(outcomes) {
            let _ = queued.done.send(outcome);
        }
    }
}

/// What one dossier change writes, in order: its statements, then its journal entries
/// (chained to the last entry, read in the transaction).
struct ChangeWrites {
    reference: String,
    at: DateTime<Utc>,
    statements: Vec<Statement>,
    journal: Vec<NewJournalEntry>,
}

impl ChangeWrites {
    /// The version check, the change's rows, its jobs and its events. (No lock is taken on
    /// new objects, as PostgreSQL's change does: the writer is alone already.)
    fn of(queued: &QueuedChange) -> Self {
        let (reference, change) = (&queued.reference, &queued.change);
        let now = Utc::now();
        let bump = Statement::new(
            sql::BUMP_VERSION,
            params![now, reference, change.expected_version],
        )
        .checked(Check::OneRowChanged(RepoError::Conflict));
        let mut statements = vec![bump];
        statements.extend(change::statements(reference, change, now));
        statements.extend(change.jobs.iter().map(|job| enqueue_statement(job, now)));
        statements.extend(insert_events(&change.events, now, &change.actor));
        ChangeWrites {
            reference: reference.clone(),
            at: now,
            statements,
            journal: change.journal_entries(reference),
        }
    }

    fn apply(&self, conn: &rusqlite::Connection) -> Result<(), RepoError> {
        statement::run_direct(conn, &self.statements)?;
        if self.journal.is_empty() {
            return Ok(());
        }
        let last = journal::last_entry(&self.reference);
        let previous = statement::query_direct(conn, &last, |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
        })?
        .pop();
        let entries = journal::append_statements(&self.reference, previous, self.at, &self.journal);
        statement::run_direct(conn, &entries)
    }
}

/// Applies each change in its own savepoint of one transaction, then commits: each change's
/// outcome, or an error for all of them when the transaction itself fails.
///
/// The whole group runs in one call on the blocking pool, on the group commit's own
/// connection (`direct`), during the writer's turn, so writers still take turns in order, but
/// the statements are not handed to sqlx's connection thread and back one by one.
async fn commit_group(
    turn: &WriteTurn,
    direct: &mut Option<rusqlite::Connection>,
    writes: Vec<ChangeWrites>,
) -> Result<Vec<Result<(), RepoError>>, RepoError> {
    let stopped = || RepoError::Unavailable("the group commit's connection was lost".into());
    let _turn = turn.lock().await;
    let mut conn = direct.take().ok_or_else(stopped)?;
    let (conn, outcomes) = tokio::task::spawn_blocking(move || {
        let outcomes = commit_group_direct(&mut conn, &writes);
        (conn, outcomes)
    })
    .await
    .map_err(|_| stopped())?;
    *direct = Some(conn);
    outcomes
}

fn commit_group_direct(
    conn: &mut rusqlite::Connection,
    writes: &[ChangeWrites],
) -> Result<Vec<Result<(), RepoError>>, RepoError> {
    let mut tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut outcomes = Vec::with_capacity(writes.len());
    for change in writes {
        // A savepoint dropped without its commit rolls back alone.
        let savepoint = tx.savepoint()?;
        let outcome = change.apply(&savepoint);
        if outcome.is_ok() {
            savepoint.commit()?;
        }
        outcomes.push(outcome);
    }
    tx.commit()?;
    Ok(outcomes)
}

repository_impl! {
    SqliteRepository;

    fn name(&self) -> &'static str {
        "sqlite"
    }

    async fn create_dossier(
        &self,
        dossier: &DossierRecord,
        event: NewEvent,
        actor: &str,
    ) -> Result<(DossierRecord, bool), RepoError> {
        let mut tx = self.begin_write().await?;
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
        // The row as stored, the same as a later read returns.
        let created = created.dossier()?;
        let events = insert_events(std::slice::from_ref(&event), dossier.created_at, actor);
        statement::run::<Sqlite>(&mut tx, &events).await?;
        let entries = DossierChange {
            actor: actor.to_string(),
            events: vec![event],
            ..DossierChange::default()
        }
        .journal_entries(&dossier.reference);
        journal::append::<Sqlite>(&mut tx, &dossier.reference, dossier.created_at, &entries)
            .await?;
        tx.commit().await?;
        Ok((created, true))
    }

    async fn documents(&self, reference: &str) -> Result<Vec<DocumentRecord>, RepoError> {
        let select = Statement::new(
            "SELECT * FROM documents WHERE dossier = $1 ORDER BY received_at, rowid",
            params![reference],
        );
        self.read_all(select, |row| row.document()).await
    }

    async fn apply(&self, reference: &str, change: DossierChange) -> Result<(), RepoError> {
        let stopped = || RepoError::Unavailable("the writer of dossier changes stopped".into());
        let (done, outcome) = oneshot::channel();
        let queued = QueuedChange {
            reference: reference.to_string(),
            change,
            done,
        };
        self.changes.send(queued).await.map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }

    async fn enqueue_job(&self, job: &NewJob) -> Result<i64, RepoError> {
        let mut tx = self.begin_write().await?;
        let id = enqueue(&mut tx, job, Utc::now()).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn claim_job(
        &self,
        kinds: &[&str],
        owner: &str,
        lease: Duration,
    ) -> Result<Option<Job>, RepoError> {
        let now = Utc::now();
        let mut tx = self.begin_write().await?;
        // `json_each` turns the list of kinds into rows, so the statement stays fixed.
        let row = sqlx::query(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = $1,
                lease_until = $2, updated_at = $3
             WHERE id = (
                SELECT id FROM jobs
                WHERE kind IN (SELECT value FROM json_each($4))
                  AND ((state = 'queued' AND (run_after IS NULL OR run_after <= $3))
                    OR (state = 'running' AND lease_until < $3))
                ORDER BY coalesce(run_after, created_at), id LIMIT 1)
             RETURNING *",
        )
        .bind(owner)
        .bind(lease_end(now, lease))
        .bind(now)
        .bind(Value::from(kinds))
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        row.as_ref().map(RecordRow::job).transpose()
    }

    async fn renew_lease(&self, id: i64, owner: &str, lease: Duration) -> Result<bool, RepoError> {
        let now = Utc::now();
        let _turn = self.turn.lock().await;
        let renewed = sqlx::query(
            "UPDATE jobs SET lease_until = $1, updated_at = $2
             WHERE id = $3 AND lease_owner = $4 AND state = 'running'",
        )
        .bind(lease_end(now, lease))
        .bind(now)
        .bind(id)
        .bind(owner)
        .execute(&self.writer)
        .await?;
        Ok(renewed.rows_affected() == 1)
    }

    async fn advance_outbox_cursor(
        &self,
        name: &str,
        from: i64,
        to: i64,
    ) -> Result<bool, RepoError> {
        let now = Utc::now();
        let mut tx = self.begin_write().await?;
        let mut moved = sqlx::query(sql::MOVE_OUTBOX_CURSOR)
            .bind(to)
            .bind(now)
            .bind(name)
            .bind(from)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if moved == 0 && from == 0 {
            moved = sqlx::query(sql::CREATE_OUTBOX_CURSOR)
                .bind(name)
                .bind(to)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(moved == 1)
    }
}
