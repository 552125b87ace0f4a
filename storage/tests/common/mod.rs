//! What the storage test suites share: a fresh PostgreSQL database a test, and
//! [`backends!`], which runs each test of a suite on SQLite and on PostgreSQL.
//!
//! PostgreSQL tests need `GUICHET_TEST_DATABASE_URL` (a server where the user may create
//! databases: `scripts/services/postgres-up DIR` starts one). Without it they are skipped, and
//! say so, unless `GUICHET_TEST_REQUIRE_ALL_BACKENDS=1`, which makes the skip a failure.

// Each suite compiles this module for itself and uses what it needs of it.
#![allow(dead_code)]

use std::io::Write as _;

use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};

/// A database of its own for one test, on the test server; [`TestDatabase::drop_database`]
/// removes it.
pub struct TestDatabase {
    server: String,
    name: String,
    /// Where to connect to it.
    pub url: String,
}

impl TestDatabase {
    /// `None` (the test is skipped) when there is no server, unless every backend is required.
    pub async fn create(test: &str) -> Option<TestDatabase> {
        let Ok(server) = std::env::var("GUICHET_TEST_DATABASE_URL") else {
            if std::env::var("GUICHET_TEST_REQUIRE_ALL_BACKENDS").as_deref() == Ok("1") {
                panic!(
                    "GUICHET_TEST_REQUIRE_ALL_BACKENDS=1 but GUICHET_TEST_DATABASE_URL is not set \
                     (start a server with scripts/services/postgres-up DIR and source DIR/env)"
                );
            }
            // Straight to stderr, past the harness's capture, so the skip shows.
            let _ = writeln!(
                std::io::stderr(),
                "skipped postgres::{test}: GUICHET_TEST_DATABASE_URL is not set \
                 (scripts/services/postgres-up DIR starts a server)"
            );
            return None;
        };
        let name = format!("guichet_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&server)
            .await
            .expect("the test server accepts connections");
        admin
            .execute(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .expect("CREATE DATABASE");
        admin.close().await.expect("closing the admin connection");
        let url = with_database(&server, &name);
        Some(TestDatabase { server, name, url })
    }

    pub async fn drop_database(self) {
        let mut admin = PgConnection::connect(&self.server)
            .await
            .expect("the test server accepts connections");
        admin
            .execute(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            )))
            .await
            .expect("DROP DATABASE");
    }
}

/// `url` with its database name replaced by `name` (the query string kept).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    format!("{}/{name}{query}", &base[..path_start])
}

/// `backends!(test_a, test_b)`: each `async fn test_a(repo: Arc<R>)` of the suite, where `R`
/// is what both repositories coerce to, runs as `sqlite::test_a` and `postgres::test_a`, each
/// on a fresh database.
#[macro_export]
macro_rules! backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    let dir = tempfile::tempdir().expect("a temporary directory");
                    let url = format!("sqlite://{}", dir.path().join("guichet.db").display());
                    let repo = storage::SqliteRepository::connect(&url).await.expect("SQLite opens");
                    super::$test(std::sync::Arc::new(repo)).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    let Some(database) =
                        super::common::TestDatabase::create(stringify!($test)).await
                    else {
                        return;
                    };
                    let repo = storage::PostgresRepository::connect(&database.url)
                        .await
                        .expect("PostgreSQL connects and migrates");
                    super::$test(std::sync::Arc::new(repo)).await;
                    database.drop_database().await;
                }
            )*
        }
    };
}
