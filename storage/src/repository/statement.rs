//! A statement with its values, built once and run by either driver.
//!
//! What a write does (which rows, with which values, refused when) is worked out once, as a
//! list of [`Statement`]s; how it runs depends on the driver. PostgreSQL and SQLite's own
//! transactions run them through sqlx ([`run`]), a statement a round trip to the connection's
//! thread. SQLite's group commit runs a whole group's statements in one call on a connection
//! of its own ([`run_direct`], through rusqlite), since sqlx's hand-off of each statement to
//! the connection's thread and back cost several times what SQLite's own work did
//! (`scripts/bench-round-trips`).
//!
//! A value keeps its Rust type ([`Param`]), so each driver stores it as sqlx would: times as
//! RFC 3339 text and JSON as text on SQLite, `timestamptz` and `jsonb` on PostgreSQL.

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::types::{ToSqlOutput, ValueRef};
use serde_json::Value;
use sqlx::query::Query;
use sqlx::{Database, Decode, Encode, Executor, IntoArguments, Type};

use super::RepoError;

/// A Rust type that the database `DB` stores in a column and reads back.
pub(super) trait Column<DB: Database>:
    for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>
{
}

impl<DB: Database, T> Column<DB> for T where
    T: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>
{
}

/// One bound value.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Param {
    Text(Option<String>),
    Int(Option<i64>),
    /// For `integer` columns (PostgreSQL checks the width of what is bound).
    Int32(Option<i32>),
    Bool(bool),
    Time(Option<DateTime<Utc>>),
    Json(Option<Value>),
}

impl From<&str> for Param {
    fn from(value: &str) -> Self {
        Param::Text(Some(value.to_string()))
    }
}

impl From<&String> for Param {
    fn from(value: &String) -> Self {
        Param::Text(Some(value.clone()))
    }
}

impl From<Option<&str>> for Param {
    fn from(value: Option<&str>) -> Self {
        Param::Text(value.map(str::to_string))
    }
}

impl From<&Option<String>> for Param {
    fn from(value: &Option<String>) -> Self {
        Param::Text(value.clone())
    }
}

impl From<i64> for Param {
    fn from(value: i64) -> Self {
        Param::Int(Some(value))
    }
}

impl From<Option<i32>> for Param {
    fn from(value: Option<i32>) -> Self {
        Param::Int32(value)
    }
}

impl From<bool> for Param {
    fn from(value: bool) -> Self {
        Param::Bool(value)
    }
}

impl From<DateTime<Utc>> for Param {
    fn from(value: DateTime<Utc>) -> Self {
        Param::Time(Some(value))
    }
}

impl From<Option<DateTime<Utc>>> for Param {
    fn from(value: Option<DateTime<Utc>>) -> Self {
        Param::Time(value)
    }
}

impl From<&Value> for Param {
    fn from(value: &Value) -> Self {
        Param::Json(Some(value.clone()))
    }
}

impl From<&Option<Value>> for Param {
    fn from(value: &Option<Value>) -> Self {
        Param::Json(value.clone())
    }
}

/// `[Param::from(a), Param::from(b), ...]` as a `Vec`.
macro_rules! params {
    ($($value:expr),* $(,)?) => {
        vec![$($crate::repository::statement::Param::from($value)),*]
    };
}
pub(super) use params;

/// What a statement's outcome must be, or the change it belongs to is refused.
#[derive(Debug, Clone)]
pub(super) enum Check {
    /// Nothing to check.
    None,
    /// Exactly one row changed.
    OneRowChanged(RepoError),
    /// The statement's one value is false.
    False(RepoError),
}

/// A statement, its values (`$1` is the first) and what its outcome must be.
#[derive(Debug, Clone)]
pub(super) struct Statement {
    pub sql: Cow<'static, str>,
    pub params: Vec<Param>,
    pub check: Check,
}

impl Statement {
    pub fn new(sql: impl Into<Cow<'static, str>>, params: Vec<Param>) -> Self {
        Statement {
            sql: sql.into(),
            params,
            check: Check::None,
        }
    }

    /// The same statement, refused with `check`'s error when its outcome is not `check`'s.
    pub fn checked(self, check: Check) -> Self {
        Statement { check, ..self }
    }
}

/// Binds `params` to `query`, `$1` first.
pub(super) fn bind<'q, DB>(
    mut query: Query<'q, DB, DB::Arguments>,
    params: &[Param],
) -> Query<'q, DB, DB::Arguments>
where
    DB: Database,
    Option<String>: Column<DB>,
    Option<i64>: Column<DB>,
    Option<i32>: Column<DB>,
    bool: Column<DB>,
    Option<DateTime<Utc>>: Column<DB>,
    Option<Value>: Column<DB>,
{
    for param in params {
        query = match param.clone() {
            Param::Text(value) => query.bind(value),
            Param::Int(value) => query.bind(value),
            Param::Int32(value) => query.bind(value),
            Param::Bool(value) => query.bind(value),
            Param::Time(value) => query.bind(value),
            Param::Json(value) => query.bind(value),
        };
    }
    query
}

/// How many rows a statement changed, as each sqlx driver says.
pub(super) trait RowsChanged {
    fn rows_changed(&self) -> u64;
}

impl RowsChanged for sqlx::sqlite::SqliteQueryResult {
    fn rows_changed(&self) -> u64 {
        self.rows_affected()
    }
}

impl RowsChanged for sqlx::postgres::PgQueryResult {
    fn rows_changed(&self) -> u64 {
        self.rows_affected()
    }
}

/// Runs `statements` in turn on `conn` through sqlx, stopping at the first refused.
pub(super) async fn run<DB>(
    conn: &mut DB::Connection,
    statements: &[Statement],
) -> Result<(), RepoError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    Option<String>: Column<DB>,
    Option<i64>: Column<DB>,
    Option<i32>: Column<DB>,
    bool: Column<DB>,
    Option<DateTime<Utc>>: Column<DB>,
    Option<Value>: Column<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
    DB::QueryResult: RowsChanged,
{
    for statement in statements {
        let query = bind(
            sqlx::query::<DB>(sqlx::AssertSqlSafe(statement.sql.to_string())),
            &statement.params,
        );
        match &statement.check {
            Check::None => {
                query.execute(&mut *conn).await?;
            }
            Check::OneRowChanged(refused) => {
                if query.execute(&mut *conn).await?.rows_changed() != 1 {
                    return Err(refused.clone());
                }
            }
            Check::False(refused) => {
                let row = query.fetch_one(&mut *conn).await?;
                if sqlx::Row::try_get::<bool, _>(&row, 0usize)? {
                    return Err(refused.clone());
                }
            }
        }
    }
    Ok(())
}

impl rusqlite::ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        let text = |value: String| ToSqlOutput::Owned(rusqlite::types::Value::Text(value));
        Ok(match self {
            Param::Text(Some(value)) => ToSqlOutput::Borrowed(ValueRef::Text(value.as_bytes())),
            Param::Int(Some(value)) => ToSqlOutput::from(*value),
            Param::Int32(Some(value)) => ToSqlOutput::from(*value),
            Param::Bool(value) => ToSqlOutput::from(*value),
            // As sqlx stores them on SQLite, so either driver reads what the other wrote.
            Param::Time(Some(value)) => text(value.to_rfc3339_opts(SecondsFormat::AutoSi, false)),
            Param::Json(Some(value)) => text(value.to_string()),
            Param::Text(None)
            | Param::Int(None)
            | Param::Int32(None)
            | Param::Time(None)
            | Param::Json(None) => ToSqlOutput::Owned(rusqlite::types::Value::Null),
        })
    }
}

/// Prepares `statement` on `conn` (from its cache) with its values bound. SQLite numbers a
/// `$n` parameter by its first appearance, not by `n`, so each is bound by its name.
fn prepared<'c>(
    conn: &'c rusqlite::Connection,
    statement: &Statement,
) -> Result<rusqlite::CachedStatement<'c>, RepoError> {
    let mut prepared = conn.prepare_cached(&statement.sql)?;
    for index in 1..=prepared.parameter_count() {
        let param = prepared
            .parameter_name(index)
            .and_then(|name| name.strip_prefix('$'))
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| statement.params.get(n.checked_sub(1)?))
            .ok_or_else(|| {
                RepoError::Database(format!(
                    "parameter {index} of a statement has no value: {}",
                    statement.sql
                ))
            })?;
        prepared.raw_bind_parameter(index, param)?;
    }
    Ok(prepared)
}

/// Runs `statements` in turn on `conn`, stopping at the first refused: [`run`]'s twin for
/// a connection used directly.
pub(super) fn run_direct(
    conn: &rusqlite::Connection,
    statements: &[Statement],
) -> Result<(), RepoError> {
    for statement in statements {
        let mut prepared = prepared(conn, statement)?;
        match &statement.check {
            // Stepped to its end, whether it returns rows (`RETURNING`) or not.
            Check::None => {
                let mut rows = prepared.raw_query();
                while rows.next()?.is_some() {}
            }
            Check::OneRowChanged(refused) => {
                if prepared.raw_execute()? != 1 {
                    return Err(refused.clone());
                }
            }
            Check::False(refused) => {
                let mut rows = prepared.raw_query();
                let value: bool = match rows.next()? {
                    Some(row) => row.get(0)?,
                    None => return Err(RepoError::Database("no value".into())),
                };
                if value {
                    return Err(refused.clone());
                }
            }
        }
    }
    Ok(())
}

/// The rows `statement` selects on `conn`, each mapped by `map`.
pub(super) fn query_direct<T>(
    conn: &rusqlite::Connection,
    statement: &Statement,
    mut map: impl FnMut(&NamedRow<'_>) -> Result<T, RepoError>,
) -> Result<Vec<T>, RepoError> {
    let mut prepared = prepared(conn, statement)?;
    // The first column of a name, as rusqlite finds it (a join may select two `id`s).
    let mut columns = HashMap::new();
    for (index, name) in prepared.column_names().into_iter().enumerate() {
        columns.entry(name.to_ascii_lowercase()).or_insert(index);
    }
    let mut rows = prepared.raw_query();
    let mut mapped = Vec::new();
    while let Some(row) = rows.next()? {
        mapped.push(map(&NamedRow {
            row,
            columns: &columns,
        })?);
    }
    Ok(mapped)
}

/// A row rusqlite read, with its statement's columns by name: rusqlite finds a column by name
/// by comparing it with each column's name in turn, which for the 27 columns of a document
/// cost more than reading them (5 % of the server's CPU at 100 KB uploads, most of it for the
/// snapshot's documents); these names are looked up once a query.
pub(super) struct NamedRow<'a> {
    row: &'a rusqlite::Row<'a>,
    columns: &'a HashMap<String, usize>,
}

impl NamedRow<'_> {
    /// The value of the column `name` (as rusqlite reads it, whatever its case).
    pub(super) fn named<T: rusqlite::types::FromSql>(&self, name: &str) -> rusqlite::Result<T> {
        match self.columns.get(name) {
            Some(&index) => self.row.get(index),
            None => self.row.get(name),
        }
    }
}

impl<'a> std::ops::Deref for NamedRow<'a> {
    type Target = rusqlite::Row<'a>;

    fn deref(&self) -> &rusqlite::Row<'a> {
        self.row
    }
}

/// The rows `statement` selects from `pool`, each mapped by `map`: [`query_direct`]'s twin
/// through sqlx.
pub(super) async fn query<DB, T>(
    pool: &sqlx::Pool<DB>,
    statement: &Statement,
    map: impl FnMut(&DB::Row) -> Result<T, RepoError>,
) -> Result<Vec<T>, RepoError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'p> &'p sqlx::Pool<DB>: Executor<'p, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    Option<String>: Column<DB>,
    Option<i64>: Column<DB>,
    Option<i32>: Column<DB>,
    bool: Column<DB>,
    Option<DateTime<Utc>>: Column<DB>,
    Option<Value>: Column<DB>,
{
    let rows = bind(
        sqlx::query::<DB>(sqlx::AssertSqlSafe(statement.sql.to_string())),
        &statement.params,
    )
    .fetch_all(pool)
    .await?;
    rows.iter().map(map).collect()
}

impl From<rusqlite::Error> for RepoError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ffi::ErrorCode;
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                RepoError::Unavailable(e.to_string())
            }
            _ => match e {
                rusqlite::Error::FromSqlConversionFailure(..)
                | rusqlite::Error::InvalidColumnType(..)
                | rusqlite::Error::IntegralValueOutOfRange(..) => RepoError::Corrupt(e.to_string()),
                other => RepoError::Database(other.to_string()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;
    use sqlx::sqlite::SqlitePoolOptions;
    use sqlx::{Row, Sqlite};

    use super::*;

    const TABLE: &str = "CREATE TABLE t (k INTEGER, text TEXT, none TEXT, int INTEGER,
        int32 INTEGER, yes INTEGER, time TEXT, json TEXT, no_json TEXT)";
    const INSERT: &str = "INSERT INTO t (k, text, none, int, int32, yes, time, json, no_json)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

    fn values(k: i64) -> Vec<Param> {
        let time = Utc.timestamp_opt(1_764_900_000, 123_456_789).unwrap();
        vec![
            Param::Int(Some(k)),
            Param::Text(Some("pièce".into())),
            Param::Text(None),
            Param::Int(Some(-7)),
            Param::Int32(Some(12)),
            Param::Bool(true),
            Param::Time(Some(time)),
            Param::Json(Some(json!({"a": [1, "é"], "b": null}))),
            Param::Json(None),
        ]
    }

    /// A row as SQLite stores it: each column's type and text.
    async fn stored(pool: &sqlx::SqlitePool, k: i64) -> Vec<(String, Option<String>)> {
        let columns = [
            "text", "none", "int", "int32", "yes", "time", "json", "no_json",
        ];
        let mut row = Vec::new();
        for column in columns {
            let sql =
                format!("SELECT typeof({column}), CAST({column} AS TEXT) FROM t WHERE k = $1");
            let found = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(k)
                .fetch_one(pool)
                .await
                .unwrap();
            row.push((found.get(0), found.get(1)));
        }
        row
    }

    #[tokio::test]
    async fn either_driver_stores_a_value_as_the_other_does() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let pool = SqlitePoolOptions::new()
            .connect(&format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .unwrap();
        sqlx::query(TABLE).execute(&pool).await.unwrap();
        bind(sqlx::query::<Sqlite>(INSERT), &values(1))
            .execute(&pool)
            .await
            .unwrap();
        let direct = rusqlite::Connection::open(&path).unwrap();
        run_direct(&direct, &[Statement::new(INSERT, values(2))]).unwrap();

        let through_sqlx = stored(&pool, 1).await;
        assert_eq!(through_sqlx, stored(&pool, 2).await);
        assert_eq!(through_sqlx[5].0, "text", "a time is stored as text");
        assert_eq!(through_sqlx[1], ("null".to_string(), None));
        // And sqlx reads back the values rusqlite wrote.
        let row = sqlx::query("SELECT time, json FROM t WHERE k = 2")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(Param::Time(Some(row.get("time"))), values(2)[6]);
        assert_eq!(Param::Json(Some(row.get("json"))), values(2)[7]);
    }

    #[test]
    fn parameters_are_bound_by_their_number_not_their_place() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (k INTEGER, a TEXT, b TEXT)")
            .unwrap();
        // SQLite numbers `$3` before `$1` here: its first appearance comes first.
        let insert = Statement::new(
            "INSERT INTO t (k, a, b) VALUES ($3, $1, $2 || $1)",
            params!["one", "two", 3],
        );
        run_direct(&conn, &[insert]).unwrap();
        let row: (i64, String, String) = conn
            .query_row("SELECT k, a, b FROM t", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!(row, (3, "one".into(), "twoone".into()));
    }

    #[test]
    fn columns_are_found_by_name_as_rusqlite_finds_them() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE a (id TEXT, name TEXT); CREATE TABLE b (id TEXT, Size INTEGER);
             INSERT INTO a VALUES ('a1', 'first'); INSERT INTO b VALUES ('b1', 7);",
        )
        .unwrap();
        let select = Statement::new("SELECT * FROM a, b", vec![]);
        let read = query_direct(&conn, &select, |row| {
            Ok((
                row.named::<String>("id")?,
                row.named::<String>("name")?,
                // Declared `Size`: found whatever the case, as rusqlite does.
                row.named::<i64>("size")?,
                row.named::<i64>("SIZE")?,
                row.get::<_, String>(2)?,
            ))
        })
        .unwrap();
        // Of two columns named `id`, the first, as rusqlite's own lookup gives.
        assert_eq!(read, [("a1".into(), "first".into(), 7, 7, "b1".into())]);
        let missing = query_direct(&conn, &select, |row| Ok(row.named::<String>("nope")?));
        assert!(missing.is_err(), "an unknown column is an error");
    }

    #[test]
    fn a_statement_whose_outcome_is_not_its_check_is_refused() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (k INTEGER); INSERT INTO t VALUES (1)")
            .unwrap();
        let update = |k: i64| {
            Statement::new("UPDATE t SET k = k WHERE k = $1", params![k])
                .checked(Check::OneRowChanged(RepoError::Conflict))
        };
        run_direct(&conn, &[update(1)]).unwrap();
        assert!(matches!(
            run_direct(&conn, &[update(2)]),
            Err(RepoError::Conflict)
        ));
        let exists = |k: i64| {
            Statement::new("SELECT EXISTS (SELECT 1 FROM t WHERE k = $1)", params![k])
                .checked(Check::False(RepoError::ContentBeingDeleted))
        };
        run_direct(&conn, &[exists(2)]).unwrap();
        assert!(matches!(
            run_direct(&conn, &[exists(1)]),
            Err(RepoError::ContentBeingDeleted)
        ));
        // A refused statement stops the list: what follows it does not run.
        let insert = Statement::new("INSERT INTO t VALUES ($1)", params![5]);
        let _ = run_direct(&conn, &[update(2), insert]);
        let count: i64 = conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 1);
    }
}
