//! Each dossier's journal: every action on it, with who did it and when, in one hash chain.
//!
//! Entry `seq` (from 1) carries `prev_hash`, the `hash` of entry `seq - 1` ([`GENESIS`] for
//! the first), and its own `hash`: the SHA-256 of `prev_hash`, a newline, and the JSON array
//! `[seq, dossier, at, actor, action, document, data]`, where `at` and `data` are the exact
//! texts stored. Changing, inserting or removing an entry anywhere but at the end breaks the
//! chain at that entry, which [`verify_chain`] names.
//!
//! Entries are appended in the transaction of what they record (a dossier change writes one
//! entry per event), under the dossier row's lock, so each chain grows in one order whatever
//! the number of processes. Actions that change nothing (a download) append on their own.

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::{Database, Executor, IntoArguments, Row};

use super::columns::Column;
use super::statement::{self, Statement, params};
use super::{RepoError, sql};

/// The `prev_hash` of a chain's first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who caused an entry when no person or token did: workers, scans, automatic reviews.
pub const SYSTEM: &str = "system";

/// An entry to append.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJournalEntry {
    /// `portal:NAME`, `staff:LOGIN`, `station:NAME`, `admin:NAME` or [`SYSTEM`].
    pub actor: String,
    /// What was done: an event kind (`document.received`) or an access (`document.viewed`).
    pub action: String,
    pub document: Option<String>,
    pub data: Value,
}

/// An entry as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalEntry {
    pub dossier: String,
    pub seq: i64,
    /// RFC 3339 with microseconds, as hashed.
    pub at: String,
    pub actor: String,
    pub action: String,
    pub document: Option<String>,
    /// The entry's data as the JSON text hashed.
    pub data: String,
    pub prev_hash: String,
    pub hash: String,
}

impl JournalEntry {
    /// The hash this entry's fields give, whatever its `hash` column says.
    pub fn computed_hash(&self) -> String {
        let fields = json!([
            self.seq,
            self.dossier,
            self.at,
            self.actor,
            self.action,
            self.document,
            self.data
        ]);
        let mut hasher = Sha256::new();
        hasher.update(self.prev_hash.as_bytes());
        hasher.update(b"\n");
        hasher.update(fields.to_string().as_bytes());
        hex::encode(hasher.finalize())
    }

    /// The entry's time, as a time.
    pub fn time(&self) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(&self.at)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The entry's data, as JSON.
    pub fn data_value(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or(Value::Null)
    }

    fn sealed(
        dossier: &str,
        previous: Option<(i64, String)>,
        at: DateTime<Utc>,
        new: &NewJournalEntry,
    ) -> JournalEntry {
        let (seq, prev_hash) = previous.map_or((1, GENESIS.to_string()), |(s, h)| (s + 1, h));
        let mut entry = JournalEntry {
            dossier: dossier.to_string(),
            seq,
            at: at.to_rfc3339_opts(SecondsFormat::Micros, true),
            actor: new.actor.clone(),
            action: new.action.clone(),
            document: new.document.clone(),
            data: new.data.to_string(),
            prev_hash,
            hash: String::new(),
        };
        entry.hash = entry.computed_hash();
        entry
    }
}

/// Where a chain breaks: the first entry that does not follow from the one before it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("dossier {dossier}: journal entry {seq} {problem}")]
pub struct ChainBreak {
    pub dossier: String,
    pub seq: i64,
    pub problem: String,
}

/// Checks one dossier's chain, read in `seq` order.
pub fn verify_chain(dossier: &str, entries: &[JournalEntry]) -> Result<(), ChainBreak> {
    let broken = |seq: i64, problem: String| ChainBreak {
        dossier: dossier.to_string(),
        seq,
        problem,
    };
    let mut previous_hash = GENESIS;
    for (expected_seq, entry) in (1..).zip(entries) {
        if entry.seq != expected_seq {
            return Err(broken(
                expected_seq,
                format!("is missing (the next entry is {})", entry.seq),
            ));
        }
        if entry.dossier != dossier {
            return Err(broken(entry.seq, "belongs to another dossier".into()));
        }
        if entry.prev_hash != previous_hash {
            return Err(broken(
                entry.seq,
                "does not carry the hash of the entry before it".into(),
            ));
        }
        if entry.computed_hash() != entry.hash {
            return Err(broken(
                entry.seq,
                "was changed: its fields do not give its hash".into(),
            ));
        }
        previous_hash = &entry.hash;
    }
    Ok(())
}

#[async_trait]
pub trait JournalRepository: Send + Sync {
    /// Appends entries that go with no dossier change (views and downloads of content).
    async fn append_journal(
        &self,
        dossier: &str,
        entries: &[NewJournalEntry],
    ) -> Result<(), RepoError>;

    /// Appends entries to several dossiers' journals in one transaction (the dossiers of a
    /// page of an export), taking their locks in reference order.
    async fn append_journals(
        &self,
        batches: &[(String, Vec<NewJournalEntry>)],
    ) -> Result<(), RepoError>;

    /// A dossier's journal in order; empty for an unknown dossier.
    async fn journal(&self, dossier: &str) -> Result<Vec<JournalEntry>, RepoError>;

    /// The dossiers that have a journal, in reference order, `limit` after `after`.
    async fn journaled_dossiers(&self, after: &str, limit: u32) -> Result<Vec<String>, RepoError>;
}

const LAST_ENTRY: &str =
    "SELECT seq, hash FROM journal WHERE dossier = $1 ORDER BY seq DESC LIMIT 1";
const ENTRY_COLUMNS: &str = "dossier, seq, at, actor, action, document, data, prev_hash, hash";
/// How many parameters an entry binds, in [`ENTRY_COLUMNS`]' order.
const ENTRY_BINDS: usize = 9;
/// Locks the dossier's row for the rest of the transaction (a no-op update), so that appends
/// to one chain follow each other; a dossier change already holds that lock. The column set
/// is one no trigger watches: a view or a download must not mark the dossier's index row
/// stale (`0004_staff.sql` watches `version` and `state`).
const LOCK_DOSSIER: &str =
    "UPDATE dossiers SET updated_at = updated_at WHERE reference = $1 RETURNING version";
const SELECT_JOURNAL: &str = "SELECT * FROM journal WHERE dossier = $1 ORDER BY seq";
const JOURNALED_DOSSIERS: &str = "SELECT DISTINCT dossier FROM journal WHERE dossier > $1
    ORDER BY dossier LIMIT $2";

/// The statement that reads the last entry of `dossier`'s chain: its `seq` and `hash`.
pub(super) fn last_entry(dossier: &str) -> Statement {
    Statement::new(LAST_ENTRY, params![dossier])
}

/// The statements that append `entries` to `dossier`'s chain after `previous` (the last
/// entry's `seq` and `hash`, read with [`last_entry`] in the same transaction), which holds
/// the dossier row's lock: one statement, several for a long list, not one an entry.
pub(super) fn append_statements(
    dossier: &str,
    mut previous: Option<(i64, String)>,
    at: DateTime<Utc>,
    entries: &[NewJournalEntry],
) -> Vec<Statement> {
    let sealed: Vec<JournalEntry> = entries
        .iter()
        .map(|new| {
            let entry = JournalEntry::sealed(dossier, previous.take(), at, new);
            previous = Some((entry.seq, entry.hash.clone()));
            entry
        })
        .collect();
    sealed
        .chunks(sql::MAX_ROWS)
        .map(|sealed| {
            let statement = sql::insert_rows("journal", ENTRY_COLUMNS, ENTRY_BINDS, sealed.len());
            let values = sealed.iter().flat_map(|entry| {
                params![
                    &entry.dossier,
                    entry.seq,
                    &entry.at,
                    &entry.actor,
                    &entry.action,
                    &entry.document,
                    &entry.data,
                    &entry.prev_hash,
                    &entry.hash,
                ]
            });
            Statement::new(statement, values.collect())
        })
        .collect()
}

/// Appends `entries` to `dossier`'s chain on `conn`, inside a transaction that holds the
/// dossier row's lock.
pub(super) async fn append<DB>(
    conn: &mut DB::Connection,
    dossier: &str,
    at: DateTime<Utc>,
    entries: &[NewJournalEntry],
) -> Result<(), RepoError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    String: Column<DB>,
    Option<String>: Column<DB>,
    i64: Column<DB>,
    Option<i64>: Column<DB>,
    Option<i32>: Column<DB>,
    bool: Column<DB>,
    Option<DateTime<Utc>>: Column<DB>,
    Option<Value>: Column<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
    for<'a> &'a str: sqlx::ColumnIndex<DB::Row>,
    DB::QueryResult: statement::RowsChanged,
{
    if entries.is_empty() {
        return Ok(());
    }
    let last = sqlx::query::<DB>(LAST_ENTRY)
        .bind(dossier.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    let previous = match last {
        Some(row) => Some((row.try_get::<i64, _>("seq")?, row.try_get("hash")?)),
        None => None,
    };
    statement::run::<DB>(conn, &append_statements(dossier, previous, at, entries)).await
}

/// Takes the dossier row's lock; `false` when there is no such dossier.
pub(super) async fn lock_dossier<DB>(
    conn: &mut DB::Connection,
    dossier: &str,
) -> Result<bool, RepoError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    String: Column<DB>,
{
    let locked = sqlx::query::<DB>(LOCK_DOSSIER)
        .bind(dossier.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(locked.is_some())
}

/// Reads a chain on `pool`.
pub(super) async fn read<DB>(
    pool: &sqlx::Pool<DB>,
    dossier: &str,
) -> Result<Vec<JournalEntry>, RepoError>
where
    DB: Database,
    for<'c> &'c sqlx::Pool<DB>: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    String: Column<DB>,
    Option<String>: Column<DB>,
    i64: Column<DB>,
    for<'a> &'a str: sqlx::ColumnIndex<DB::Row>,
{
    let rows = sqlx::query::<DB>(SELECT_JOURNAL)
        .bind(dossier.to_string())
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|row| {
            Ok(JournalEntry {
                dossier: row.try_get("dossier")?,
                seq: row.try_get("seq")?,
                at: row.try_get("at")?,
                actor: row.try_get("actor")?,
                action: row.try_get("action")?,
                document: row.try_get("document")?,
                data: row.try_get("data")?,
                prev_hash: row.try_get("prev_hash")?,
                hash: row.try_get("hash")?,
            })
        })
        .collect()
}

/// Lists journaled dossiers on `pool`.
pub(super) async fn dossiers<DB>(
    pool: &sqlx::Pool<DB>,
    after: &str,
    limit: u32,
) -> Result<Vec<String>, RepoError>
where
    DB: Database,
    for<'c> &'c sqlx::Pool<DB>: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    String: Column<DB>,
    i64: Column<DB>,
    for<'a> &'a str: sqlx::ColumnIndex<DB::Row>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    let rows = sqlx::query::<DB>(JOURNALED_DOSSIERS)
        .bind(after.to_string())
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|row| Ok(row.try_get::<String, _>(0)?))
        .collect()
}

/// `impl JournalRepository` for a backend with a `pool` and a `begin_write` giving a
/// transaction that may write.
macro_rules! journal_impl {
    ($backend:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl JournalRepository for $backend {
            async fn append_journal(
                &self,
                dossier: &str,
                entries: &[NewJournalEntry],
            ) -> Result<(), RepoError> {
                self.append_journals(&[(dossier.to_string(), entries.to_vec())])
                    .await
            }

            async fn append_journals(
                &self,
                batches: &[(String, Vec<NewJournalEntry>)],
            ) -> Result<(), RepoError> {
                let mut ordered: Vec<&(String, Vec<NewJournalEntry>)> = batches.iter().collect();
                ordered.sort_by(|a, b| a.0.cmp(&b.0));
                let mut tx = self.begin_write().await?;
                let now = chrono::Utc::now();
                for (dossier, entries) in ordered {
                    if entries.is_empty() {
                        continue;
                    }
                    if !journal::lock_dossier::<$db>(&mut *tx, dossier).await? {
                        return Err(RepoError::Database(format!("no dossier {dossier}")));
                    }
                    journal::append::<$db>(&mut *tx, dossier, now, entries).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn journal(&self, dossier: &str) -> Result<Vec<JournalEntry>, RepoError> {
                journal::read(&self.pool, dossier).await
            }

            async fn journaled_dossiers(
                &self,
                after: &str,
                limit: u32,
            ) -> Result<Vec<String>, RepoError> {
                journal::dossiers(&self.pool, after, limit).await
            }
        }
    };
}
pub(super) use journal_impl;

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: usize) -> Vec<JournalEntry> {
        let mut previous = None;
        let mut entries = Vec::new();
        for i in 0..n {
            let entry = JournalEntry::sealed(
                "D-1",
                previous.take(),
                Utc::now(),
                &NewJournalEntry {
                    actor: "staff:alice".into(),
                    action: "document.accepted".into(),
                    document: Some(format!("doc-{i}")),
                    data: json!({"i": i}),
                },
            );
            previous = Some((entry.seq, entry.hash.clone()));
            entries.push(entry);
        }
        entries
    }

    #[test]
    fn an_untouched_chain_verifies() {
        assert_eq!(verify_chain("D-1", &chain(5)), Ok(()));
        assert_eq!(verify_chain("D-1", &[]), Ok(()));
    }

    #[test]
    fn a_changed_entry_is_named() {
        let mut entries = chain(5);
        entries[2].actor = "staff:mallory".into();
        let broken = verify_chain("D-1", &entries).unwrap_err();
        assert_eq!(broken.seq, 3);
        assert!(broken.problem.contains("changed"), "{broken}");
    }

    #[test]
    fn a_rehashed_entry_breaks_the_next_link() {
        let mut entries = chain(5);
        entries[1].data = json!({"i": 99}).to_string();
        entries[1].hash = entries[1].computed_hash();
        assert_eq!(verify_chain("D-1", &entries).unwrap_err().seq, 3);
    }

    #[test]
    fn a_removed_entry_is_named() {
        let mut entries = chain(5);
        entries.remove(1);
        let broken = verify_chain("D-1", &entries).unwrap_err();
        assert_eq!(broken.seq, 2);
        assert!(broken.problem.contains("missing"), "{broken}");
    }
}
