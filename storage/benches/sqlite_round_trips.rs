//! What a statement costs through the SQLite repository and through each way of running it.
//!
//! The repository's token lookup (`Repository::token`, one indexed row, the first statement of
//! every API request) runs on a rusqlite reader connection in the calling task. Against it,
//! the same SQL on the same database: through a sqlx pool (sqlx runs each SQLite connection on
//! a thread of its own and hands it every statement over a channel: a wake-up there and one
//! back, a statement), and through `rusqlite` on the runtime's blocking pool, one statement a
//! hand-off and sixteen a hand-off (about an upload's statements, as SQLite's group commit runs
//! them). Each from one task and from sixteen at once, on a two-worker runtime; CPU time is the
//! whole process's (`getrusage`), so every thread's share of a statement is counted.
//!
//!   cargo bench -p storage --bench sqlite_round_trips            # 20,000 statements a line
//!   ROUND_TRIPS=2000 cargo bench -p storage --bench sqlite_round_trips
//!   BENCH_DIR=/mnt/fast cargo bench -p storage --bench sqlite_round_trips

use std::sync::{Arc, Mutex};
use std::time::Instant;

use storage::{Repository, SqliteRepository, TokenRecord};

/// The statement `Repository::token` runs (storage's `SELECT_TOKEN`).
const SELECT_TOKEN: &str = "SELECT role, name, campaigns, expires_at, revoked_at,
        last_used_at FROM tokens WHERE hash = $1";
const TOKENS: usize = 1000;
const CONCURRENCY: [usize; 2] = [1, 16];

fn main() {
    let statements: usize = std::env::var("ROUND_TRIPS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(measure(statements));
}

async fn measure(statements: usize) {
    let dir = match std::env::var("BENCH_DIR") {
        Ok(parent) => tempfile::tempdir_in(parent),
        Err(_) => tempfile::tempdir(),
    }
    .expect("a temporary directory");
    let path = dir.path().join("guichet.db");
    let repo = Arc::new(
        SqliteRepository::connect(&format!("sqlite://{}", path.display()))
            .await
            .expect("SQLite opens"),
    );
    for n in 0..TOKENS {
        let token = TokenRecord {
            role: "portal".into(),
            name: format!("portal-{n}"),
            ..TokenRecord::default()
        };
        repo.insert_token(&hash(n), &token)
            .await
            .expect("insert_token");
    }
    println!("{statements} token lookups a line, by one task and by sixteen at once");

    for tasks in CONCURRENCY {
        let figures = timed_tasks(statements, tasks, |task| {
            let repo = repo.clone();
            async move {
                for n in 0..statements / tasks {
                    let found = repo.token(&hash(n * 7 + task)).await.expect("token");
                    assert!(found.is_some(), "every token looked up exists");
                }
            }
        })
        .await;
        report(&format!("repository, {tasks:2} tasks"), figures);
    }

    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(8)
        .connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("sqlx opens");
    for tasks in CONCURRENCY {
        let figures = timed_tasks(statements, tasks, |task| {
            let pool = pool.clone();
            async move {
                for n in 0..statements / tasks {
                    let role: String = sqlx::query_scalar(SELECT_TOKEN)
                        .bind(hash(n * 7 + task))
                        .fetch_one(&pool)
                        .await
                        .expect("every token looked up exists");
                    assert_eq!(role, "portal");
                }
            }
        })
        .await;
        report(
            &format!("sqlx, a hand-off a statement, {tasks:2} tasks"),
            figures,
        );
    }

    let connections: Vec<_> = (0..8)
        .map(|_| {
            let connection = rusqlite::Connection::open(&path).expect("rusqlite opens");
            Arc::new(Mutex::new(connection))
        })
        .collect();
    for per_hand_off in [1, 16] {
        for tasks in CONCURRENCY {
            let figures = timed_tasks(statements, tasks, |task| {
                let connection = connections[task % connections.len()].clone();
                async move {
                    for call in 0..statements / tasks / per_hand_off {
                        let connection = connection.clone();
                        tokio::task::spawn_blocking(move || {
                            let connection = connection.lock().expect("the connection");
                            let mut statement =
                                connection.prepare_cached(SELECT_TOKEN).expect("prepare");
                            for n in 0..per_hand_off {
                                let key = hash(call * per_hand_off * 7 + n * 7 + task);
                                let role: String = statement
                                    .query_row([key], |row| row.get(0))
                                    .expect("every token looked up exists");
                                assert_eq!(role, "portal");
                            }
                        })
                        .await
                        .expect("a blocking call");
                    }
                }
            })
            .await;
            report(
                &format!("rusqlite, {per_hand_off:2} a hand-off, {tasks:2} tasks"),
                figures,
            );
        }
    }
}

fn hash(n: usize) -> String {
    format!("{:064x}", n % TOKENS)
}

/// Runs `lookups(task)` for each of `tasks` tasks at once and returns their (CPU, wall-clock)
/// microseconds a statement, `statements` in all.
async fn timed_tasks<F, Fut>(statements: usize, tasks: usize, lookups: F) -> (f64, f64)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    timed(statements, || async {
        let running = (0..tasks).map(|task| tokio::spawn(lookups(task)));
        for lookup in futures::future::join_all(running).await {
            lookup.expect("a lookup task");
        }
    })
    .await
}

/// Runs `work` and returns its (CPU, wall-clock) microseconds a statement.
async fn timed<F, Fut>(statements: usize, work: F) -> (f64, f64)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (cpu, wall) = (cpu_seconds(), Instant::now());
    work().await;
    let per_statement = |seconds: f64| seconds * 1e6 / statements as f64;
    (
        per_statement(cpu_seconds() - cpu),
        per_statement(wall.elapsed().as_secs_f64()),
    )
}

fn report(label: &str, (cpu, wall): (f64, f64)) {
    println!("{label:<40} {cpu:6.1} µs of CPU a statement, {wall:6.1} µs of wall clock");
}

/// The process's user and system time so far, every thread's.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes the struct it is given, which lives for the call.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}
