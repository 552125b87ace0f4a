//! One suite for every repository backend.
//!
//! Each test is written once, as a function of an `Arc<dyn Repository>`, and [`backends!`]
//! runs it on SQLite (a database file in a fresh temporary directory) and on PostgreSQL (a
//! fresh database per test, created on the server that `GUICHET_TEST_DATABASE_URL` names;
//! `scripts/services/postgres-up DIR` starts a throwaway one). Without that variable the
//! PostgreSQL variants say they are skipped, or fail when `GUICHET_TEST_REQUIRE_ALL_BACKENDS=1`.
//! No mocks: real databases, real concurrency (multi-threaded runtime, many tasks).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use serde_json::json;
use sqlx::{Connection, Executor, PgConnection};
use storage::repository::journal::{self, GENESIS};
use storage::repository::{EVENT_ORDER_LOCK, NewJournalEntry, PreviewImage, PreviewSet};
use storage::{
    CampaignRecord, DocumentRecord, DossierChange, DossierRecord, JobState, NewEvent, NewJob,
    PostgresRepository, RepoError, Repository, ReviewChange, ScanChange, SqliteRepository,
    TokenRecord,
};

mod common;

use common::TestDatabase;

type Repo = Arc<dyn Repository>;

/// Runs each named test on every backend: `sqlite::NAME` and `postgres::NAME`.
macro_rules! backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    let backend = super::Backend::sqlite().await;
                    super::$test(backend.repo.clone()).await;
                    backend.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    let Some(backend) = super::Backend::postgres(stringify!($test)).await else {
                        return;
                    };
                    super::$test(backend.repo.clone()).await;
                    backend.finish().await;
                }
            )*
        }
    };
}

backends!(
    campaigns_are_upserted,
    tokens_are_stored_and_unique,
    tokens_carry_scope_expiry_revocation_and_last_use,
    events_and_duplicates_are_filtered_by_campaigns,
    dossier_creation_is_idempotent,
    concurrent_creations_make_one_dossier,
    stale_change_conflicts_and_writes_nothing,
    change_is_written_atomically,
    failed_change_leaves_nothing_behind,
    reviews_and_withdrawals,
    scan_outcomes_are_recorded,
    events_page_in_id_order,
    concurrent_writers_apply_each_change_once_in_feed_order,
    changes_sent_together_succeed_or_fail_each_on_its_own,
    jobs_enqueue_is_idempotent,
    jobs_enqueued_with_a_change_follow_its_fate,
    concurrent_claimers_take_each_job_once,
    claims_follow_kind_and_id_order,
    the_oldest_queued_job_of_each_kind_is_counted,
    lapsed_lease_is_claimed_again,
    renewed_lease_is_kept,
    failed_jobs_retry_or_give_up,
    a_job_given_back_waits_and_holds_back_no_other,
    outbox_cursor_moves_once_per_range,
    preview_sets_are_whole_and_first_wins,
    creation_is_journaled_under_its_actor,
    changes_are_journaled_event_by_event_under_their_actor,
    a_change_longer_than_a_statement_keeps_every_event_in_order,
    concurrent_changes_and_views_grow_one_chain_in_order,
);

/// A repository under test and what to clean up after it.
struct Backend {
    repo: Repo,
    cleanup: Cleanup,
}

enum Cleanup {
    Directory(#[allow(dead_code)] tempfile::TempDir),
    Database(TestDatabase),
}

impl Backend {
    async fn sqlite() -> Backend {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("guichet.db").display());
        let repo = SqliteRepository::connect(&url).await.expect("SQLite opens");
        Backend {
            repo: Arc::new(repo),
            cleanup: Cleanup::Directory(dir),
        }
    }

    /// A fresh, migrated database on the test server, or `None` (skipped) when there is none.
    async fn postgres(test: &str) -> Option<Backend> {
        let database = TestDatabase::create(test).await?;
        let repo = PostgresRepository::connect(&database.url)
            .await
            .expect("PostgreSQL connects and migrates");
        Some(Backend {
            repo: Arc::new(repo),
            cleanup: Cleanup::Database(database),
        })
    }

    /// Drops the test's database after a passing test (a failing one leaves it to look at).
    async fn finish(self) {
        drop(self.repo);
        if let Cleanup::Database(database) = self.cleanup {
            database.drop_database().await;
        }
    }
}

/// Several processes starting at once on a new database: sqlx serialises their migrations
/// with an advisory lock, so one migrates, the others wait and find nothing left to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_processes_starting_together_migrate_once() {
    let Some(database) = TestDatabase::create("processes_starting_together_migrate_once").await
    else {
        return;
    };
    let starts: Vec<_> = (0..6)
        .map(|_| {
            let url = database.url.clone();
            tokio::spawn(async move { PostgresRepository::connect(&url).await })
        })
        .collect();
    for start in futures::future::join_all(starts).await {
        let repo = start.expect("task").expect("every process starts");
        repo.ping().await.expect("ping");
    }
    let mut conn = PgConnection::connect(&database.url).await.expect("connect");
    let applied: Vec<(i64, bool)> =
        sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut conn)
            .await
            .expect("the migrations table");
    // Every migration of the directory, each applied once, successfully.
    let mut expected: Vec<(i64, bool)> =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
            .expect("the migrations")
            .filter_map(|entry| {
                let name = entry.ok()?.file_name().to_string_lossy().to_string();
                let version = name.strip_suffix(".sql")?.split('_').next()?.parse().ok()?;
                Some((version, true))
            })
            .collect();
    expected.sort();
    assert_eq!(applied, expected);
    conn.close().await.expect("close");
    database.drop_database().await;
}

/// The feed never skips an event: while another process's transaction holds an event it has
/// not committed (so its id is taken and not yet visible), a change's events wait for it.
/// Were the change to commit first, a feed reader would see the later id, move its cursor past
/// the earlier one, and never deliver it. The other process is a raw connection doing what an
/// event insert does first: taking the event-order lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_an_event_waits_for_one_written_before_it() {
    let Some(database) = TestDatabase::create("an_event_waits_for_one_written_before_it").await
    else {
        return;
    };
    let repo: Repo = Arc::new(
        PostgresRepository::connect(&database.url)
            .await
            .expect("PostgreSQL connects and migrates"),
    );
    let created = with_dossier(&repo, "D-1").await;
    let start = all_events(&repo).await.last().expect("the creation").id;

    let mut other = PgConnection::connect(&database.url).await.expect("connect");
    other.execute("BEGIN").await.expect("begin");
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(EVENT_ORDER_LOCK)
        .execute(&mut other)
        .await
        .expect("the event-order lock");
    sqlx::query(
        "INSERT INTO events (type, dossier, document, at, data, actor)
         VALUES ('dossier.note', 'D-1', NULL, now(), '{}', 'other')",
    )
    .execute(&mut other)
    .await
    .expect("an event not yet committed");

    let change = {
        let repo = repo.clone();
        tokio::spawn(async move {
            let change = DossierChange {
                expected_version: created.version,
                events: vec![event("dossier.changed", "D-1", json!({}))],
                ..DossierChange::default()
            };
            repo.apply("D-1", change).await
        })
    };
    // The change either waits for the lock (as it must) or commits past the open event.
    let mut watcher = PgConnection::connect(&database.url).await.expect("connect");
    let waiting = "SELECT count(*) FROM pg_locks
        WHERE locktype = 'advisory' AND NOT granted
            AND ((classid::bigint << 32) | objid::bigint) = $1";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        assert!(
            !change.is_finished(),
            "a change committed its event while an earlier one was still being written: \
             a feed reader would skip the earlier one"
        );
        let waiters: i64 = sqlx::query_scalar(waiting)
            .bind(EVENT_ORDER_LOCK)
            .fetch_one(&mut watcher)
            .await
            .expect("pg_locks");
        if waiters > 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the change neither waited for the event-order lock nor finished"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        repo.events_after(start, 10)
            .await
            .expect("events_after")
            .is_empty(),
        "nothing new shows while the earlier event is open"
    );

    other.execute("COMMIT").await.expect("commit");
    change.await.expect("task").expect("the change applies");
    let kinds: Vec<String> = repo
        .events_after(start, 10)
        .await
        .expect("events_after")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, ["dossier.note", "dossier.changed"]);

    other.close().await.expect("close");
    watcher.close().await.expect("close");
    drop(repo);
    database.drop_database().await;
}

/// A server that does not answer is "unavailable" (503 upstream), not a broken request.
#[tokio::test]
async fn postgres_unreachable_is_unavailable() {
    // Port 1 on the loopback: nothing listens there, the connection is refused at once.
    let result = PostgresRepository::connect("postgres://postgres@127.0.0.1:1/guichet").await;
    assert!(
        matches!(result, Err(RepoError::Unavailable(_))),
        "{:?}",
        result.err()
    );
}

// ---------------------------------------------------------------------------------------------
// Fixtures

/// Now, to the microsecond: what both backends store exactly.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn campaign(id: &str, source: &str) -> CampaignRecord {
    CampaignRecord {
        id: id.into(),
        source: source.into(),
        loaded_at: now(),
    }
}

fn dossier(reference: &str) -> DossierRecord {
    let at = now();
    DossierRecord {
        reference: reference.into(),
        campaign: "cap-2025-poitiers".into(),
        candidate: json!({"birth_date": "2001-02-03", "nationality": "FR"}),
        state: "open".into(),
        state_reason: None,
        corrections: json!({}),
        extension: None,
        version: 0,
        created_at: at,
        updated_at: at,
    }
}

fn event(kind: &str, dossier: &str, data: serde_json::Value) -> NewEvent {
    NewEvent {
        kind: kind.into(),
        dossier: Some(dossier.into()),
        document: None,
        data,
    }
}

fn document(id: &str, dossier: &str) -> DocumentRecord {
    DocumentRecord {
        id: id.into(),
        dossier: dossier.into(),
        piece: Some("identite".into()),
        filename: Some("cni.pdf".into()),
        declared_type: Some("application/pdf".into()),
        sha256: format!("{:0>64}", id.len()),
        size: 12_345,
        kind: "pdf".into(),
        mime: "application/pdf".into(),
        pages: Some(2),
        channel: "upload".into(),
        origin: json!({"channel": "upload"}),
        verdict: "accepted".into(),
        reasons: json!([{"code": "pdf_ok", "message": "lisible"}]),
        review: None,
        review_reason: None,
        reviewed_by: None,
        reviewed_at: None,
        withdrawn_at: None,
        late: false,
        received_at: now(),
        scan: Some("pending".into()),
        scan_signature: None,
        display_sha256: None,
        purged_at: None,
        purge_rule: None,
    }
}

fn job(kind: &str, key: &str) -> NewJob {
    NewJob {
        kind: kind.into(),
        key: key.into(),
        payload: json!({"key": key}),
    }
}

/// A repository holding the campaign and a created dossier `reference`.
async fn with_dossier(repo: &Repo, reference: &str) -> DossierRecord {
    repo.put_campaign(&campaign("cap-2025-poitiers", "id = \"cap-2025-poitiers\""))
        .await
        .expect("put_campaign");
    let (created, _) = repo
        .create_dossier(
            &dossier(reference),
            event("dossier.created", reference, json!({})),
            "system",
        )
        .await
        .expect("create_dossier");
    created
}

async fn all_events(repo: &Repo) -> Vec<storage::EventRecord> {
    repo.events_after(0, 100_000).await.expect("events_after")
}

/// Applies `make(version)` to the dossier, reading it again after each conflict.
async fn apply_with_retry(repo: &Repo, reference: &str, make: impl Fn(i64) -> DossierChange) {
    loop {
        let current = repo
            .dossier(reference)
            .await
            .expect("dossier")
            .expect("the dossier exists");
        match repo.apply(reference, make(current.version)).await {
            Ok(()) => return,
            Err(RepoError::Conflict) => continue,
            Err(e) => panic!("apply failed: {e}"),
        }
    }
}

const LONG_LEASE: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// Campaigns, tokens, dossiers

async fn campaigns_are_upserted(repo: Repo) {
    assert_eq!(repo.campaign("cap-2025-poitiers").await.unwrap(), None);
    let first = campaign("cap-2025-poitiers", "title = \"v1\"");
    repo.put_campaign(&first).await.unwrap();
    repo.put_campaign(&campaign("bep-2025", "title = \"b\""))
        .await
        .unwrap();
    assert_eq!(
        repo.campaign("cap-2025-poitiers").await.unwrap(),
        Some(first)
    );

    let second = campaign("cap-2025-poitiers", "title = \"v2\"");
    repo.put_campaign(&second).await.unwrap();
    let all = repo.campaigns().await.unwrap();
    let ids: Vec<_> = all.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["bep-2025", "cap-2025-poitiers"]);
    assert_eq!(all[1], second);
}

async fn tokens_are_stored_and_unique(repo: Repo) {
    let token = TokenRecord {
        role: "staff".into(),
        name: "Mme Durand".into(),
        ..TokenRecord::default()
    };
    repo.insert_token("hash-1", &token).await.unwrap();
    assert_eq!(repo.token("hash-1").await.unwrap(), Some(token.clone()));
    assert_eq!(repo.token("hash-2").await.unwrap(), None);
    let again = repo.insert_token("hash-1", &token).await;
    assert!(
        matches!(again, Err(RepoError::Database(_))),
        "a token hash is stored once: {again:?}"
    );
}

async fn tokens_carry_scope_expiry_revocation_and_last_use(repo: Repo) {
    let expires_at = now() + chrono::TimeDelta::days(90);
    let scoped = TokenRecord {
        role: "portal".into(),
        name: "portail".into(),
        campaigns: Some(vec!["bep-2025".into(), "cap-2025".into()]),
        expires_at: Some(expires_at),
        ..TokenRecord::default()
    };
    repo.insert_token("hash-1", &scoped).await.unwrap();
    repo.insert_token("hash-2", &scoped).await.unwrap();
    assert_eq!(repo.token("hash-1").await.unwrap(), Some(scoped.clone()));

    // Last use: written once, then not again within the period.
    let first = now();
    repo.touch_token("hash-1", first, first - chrono::TimeDelta::minutes(1))
        .await
        .unwrap();
    let later = first + chrono::TimeDelta::seconds(30);
    repo.touch_token("hash-1", later, later - chrono::TimeDelta::minutes(1))
        .await
        .unwrap();
    let read = repo.token("hash-1").await.unwrap().unwrap();
    assert_eq!(read.last_used_at, Some(first), "one write a minute");
    let next = first + chrono::TimeDelta::minutes(2);
    repo.touch_token("hash-1", next, next - chrono::TimeDelta::minutes(1))
        .await
        .unwrap();
    let read = repo.token("hash-1").await.unwrap().unwrap();
    assert_eq!(read.last_used_at, Some(next));

    // Revocation: every live token of the name, once.
    let at = now();
    assert_eq!(repo.revoke_tokens("portail", at).await.unwrap(), 2);
    assert_eq!(repo.revoke_tokens("portail", now()).await.unwrap(), 0);
    assert_eq!(repo.revoke_tokens("nobody", now()).await.unwrap(), 0);
    let read = repo.token("hash-2").await.unwrap().unwrap();
    assert_eq!(read.revoked_at, Some(at));

    let listed = repo.token_listing().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].campaigns, scoped.campaigns);
    assert_eq!(listed[0].expires_at, Some(expires_at));
    assert_eq!(listed[0].revoked_at, Some(at));
    let used = listed
        .iter()
        .find(|t| t.last_used_at.is_some())
        .expect("used");
    assert_eq!(used.last_used_at, Some(next));
}

async fn events_and_duplicates_are_filtered_by_campaigns(repo: Repo) {
    with_dossier(&repo, "D-1").await;
    repo.put_campaign(&campaign("bep-2025", "id = \"bep-2025\""))
        .await
        .unwrap();
    let mut other = dossier("E-1");
    other.campaign = "bep-2025".into();
    repo.create_dossier(&other, event("dossier.created", "E-1", json!({})), "system")
        .await
        .unwrap();
    for (reference, id) in [("D-1", "doc-d"), ("E-1", "doc-e")] {
        let current = repo.dossier(reference).await.unwrap().unwrap();
        let mut document = document(id, reference);
        document.sha256 = "a".repeat(64);
        let change = DossierChange {
            expected_version: current.version,
            actor: "system".into(),
            new_documents: vec![document],
            events: vec![event("document.received", reference, json!({}))],
            ..DossierChange::default()
        };
        repo.apply(reference, change).await.unwrap();
    }

    let of = |events: Vec<storage::EventRecord>| -> Vec<String> {
        events.into_iter().filter_map(|e| e.dossier).collect()
    };
    let all = of(repo.events_after(0, 100).await.unwrap());
    assert_eq!(all, ["D-1", "E-1", "D-1", "E-1"]);
    let bep = of(repo
        .events_after_in(0, 100, &["bep-2025".to_string()])
        .await
        .unwrap());
    assert_eq!(bep, ["E-1", "E-1"]);
    let both = ["bep-2025".to_string(), "cap-2025-poitiers".to_string()];
    assert_eq!(of(repo.events_after_in(0, 100, &both).await.unwrap()), all);
    assert!(repo.events_after_in(0, 100, &[]).await.unwrap().is_empty());
    let page = repo.events_after_in(0, 1, &both).await.unwrap();
    let after = repo.events_after_in(page[0].id, 100, &both).await.unwrap();
    assert_eq!(after.len(), 3, "pages by id");

    // The same content in both campaigns: seen only within the scope.
    let seen = |same: Vec<storage::repository::SameContent>| -> Vec<String> {
        same.into_iter().map(|s| s.dossier).collect()
    };
    assert_eq!(
        seen(repo.same_content_as_dossier("D-1", None, 10).await.unwrap()),
        ["E-1"]
    );
    assert_eq!(
        seen(
            repo.same_content_in_campaigns("D-1", None, 10, &both)
                .await
                .unwrap()
        ),
        ["E-1"]
    );
    assert!(
        repo.same_content_in_campaigns("D-1", None, 10, &["cap-2025-poitiers".to_string()])
            .await
            .unwrap()
            .is_empty()
    );
}

async fn dossier_creation_is_idempotent(repo: Repo) {
    let created = with_dossier(&repo, "D-1").await;
    assert_eq!(created, dossier_like(&created, "D-1"));

    let mut other = dossier("D-1");
    other.candidate = json!({"birth_date": "1999-01-01"});
    let (existing, fresh) = repo
        .create_dossier(&other, event("dossier.created", "D-1", json!({})), "system")
        .await
        .unwrap();
    assert!(!fresh);
    assert_eq!(existing, created, "the first creation stands");
    assert_eq!(repo.dossier("D-1").await.unwrap(), Some(created));
    assert_eq!(repo.dossier("D-2").await.unwrap(), None);
    assert_eq!(all_events(&repo).await.len(), 1, "one creation event");
}

/// The fixture's dossier with `created`'s times (set by the fixture, not by the database).
fn dossier_like(created: &DossierRecord, reference: &str) -> DossierRecord {
    DossierRecord {
        created_at: created.created_at,
        updated_at: created.updated_at,
        ..dossier(reference)
    }
}

async fn concurrent_creations_make_one_dossier(repo: Repo) {
    repo.put_campaign(&campaign("cap-2025-poitiers", ""))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let repo = repo.clone();
            tokio::spawn(async move {
                let mut mine = dossier("D-RACE");
                mine.candidate = json!({"task": i});
                repo.create_dossier(
                    &mine,
                    event("dossier.created", "D-RACE", json!({"task": i})),
                    "system",
                )
                .await
                .expect("create_dossier")
            })
        })
        .collect();
    let results: Vec<_> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("task"))
        .collect();
    let winners: Vec<_> = results.iter().filter(|(_, fresh)| *fresh).collect();
    assert_eq!(winners.len(), 1, "exactly one creation");
    let winner = &winners[0].0;
    for (seen, _) in &results {
        assert_eq!(seen, winner, "every caller gets the same dossier");
    }
    let events = all_events(&repo).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].data, winner.candidate, "the winner's event");
}

// ---------------------------------------------------------------------------------------------
// Changes

async fn stale_change_conflicts_and_writes_nothing(repo: Repo) {
    with_dossier(&repo, "D-1").await;
    repo.apply(
        "D-1",
        DossierChange {
            expected_version: 0,
            state: Some(("submitted".into(), None)),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let events_before = all_events(&repo).await;

    let stale = DossierChange {
        expected_version: 0,
        state: Some(("closed".into(), Some("stale".into()))),
        new_documents: vec![document("doc-stale", "D-1")],
        events: vec![event("document.accepted", "D-1", json!({}))],
        jobs: vec![job("webhook", "stale")],
        ..Default::default()
    };
    let result = repo.apply("D-1", stale).await;
    assert!(matches!(result, Err(RepoError::Conflict)), "{result:?}");

    let after = repo.dossier("D-1").await.unwrap().unwrap();
    assert_eq!(after.version, 1);
    assert_eq!(after.state, "submitted");
    assert_eq!(repo.documents("D-1").await.unwrap(), []);
    assert_eq!(repo.document("doc-stale").await.unwrap(), None);
    assert_eq!(all_events(&repo).await, events_before);
    assert_eq!(
        repo.claim_job(&["webhook"], "w", LONG_LEASE).await.unwrap(),
        None
    );

    let missing = repo.apply("D-404", DossierChange::default()).await;
    assert!(matches!(missing, Err(RepoError::Conflict)), "{missing:?}");
}

async fn change_is_written_atomically(repo: Repo) {
    with_dossier(&repo, "D-1").await;
    let first = document("doc-1", "D-1");
    let mut second = document("doc-2", "D-1");
    second.piece = None;
    second.pages = None;
    second.channel = "mailroom".into();
    second.late = true;
    second.filename = None;
    repo.apply(
        "D-1",
        DossierChange {
            expected_version: 0,
            state: Some(("open".into(), Some("pièce illisible".into()))),
            new_documents: vec![first.clone(), second.clone()],
            events: vec![
                event("document.accepted", "D-1", json!({"document": "doc-1"})),
                event("document.received", "D-1", json!({"document": "doc-2"})),
            ],
            ..Default::default()
        },
    )
    .await
    .unwrap();

    let after = repo.dossier("D-1").await.unwrap().unwrap();
    assert_eq!(after.version, 1);
    assert_eq!(after.state_reason.as_deref(), Some("pièce illisible"));
    assert_eq!(
        repo.documents("D-1").await.unwrap(),
        [first.clone(), second.clone()]
    );
    assert_eq!(repo.document("doc-2").await.unwrap(), Some(second));
    let kinds: Vec<_> = all_events(&repo)
        .await
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        ["dossier.created", "document.accepted", "document.received"]
    );
    assert_eq!(
        repo.referenced_content().await.unwrap(),
        [first.sha256.as_str()],
        "two documents of the same content, one object"
    );
}

async fn failed_change_leaves_nothing_behind(repo: Repo) {
    with_dossier(&repo, "D-1").await;
    repo.apply(
        "D-1",
        DossierChange {
            expected_version: 0,
            new_documents: vec![document("doc-1", "D-1")],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let events_before = all_events(&repo).await;

    // The second document repeats an id: the database refuses it after the first has been
    // inserted, the state changed and the version bumped. None of it may remain.
    let result = repo
        .apply(
            "D-1",
            DossierChange {
                expected_version: 1,
                state: Some(("submitted".into(), None)),
                new_documents: vec![document("doc-2", "D-1"), document("doc-1", "D-1")],
                events: vec![event("dossier.submitted", "D-1", json!({}))],
                jobs: vec![job("webhook", "failed-change")],
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(result, Err(RepoError::Database(_))), "{result:?}");
    let after = repo.dossier("D-1").await.unwrap().unwrap();
    assert_eq!((after.version, after.state.as_str()), (1, "open"));
    assert_eq!(repo.document("doc-2").await.unwrap(), None);
    assert_eq!(all_events(&repo).await, events_before);
    assert_eq!(
        repo.claim_job(&["webhook"], "w", LONG_LEASE).await.unwrap(),
        None
    );
}

async fn reviews_and_withdrawals(repo: Repo) {
    with_dossier(&repo, "D-1").await;
    repo.apply(
        "D-1",
        DossierChange {
            expected_version: 0,
            new_documents: vec![document("doc-1", "D-1"), document("doc-2", "D-1")],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let before = now();
    repo.apply(
        "D-1",
        DossierChange {
            expected_version: 1,
            reviews: vec![ReviewChange {
                document: "doc-1".into(),
                decision: "rejected".into(),
                reason: Some("flou".into()),
                by: "durand".into(),
            }],
            withdrawals: vec!["doc-2".into()],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let reviewed = repo.document("doc-1").await.unwrap().unwrap();
    assert_eq!(reviewed.review.as_deref(), Some("rejected"));
    assert_eq!(reviewed.review_reason.as_deref(), Some("flou"));
    assert_eq!(reviewed.reviewed_by.as_deref(), Some("durand"));
    assert!(reviewed.reviewed_at.expect("reviewed_at") >= before);
    assert_eq!(reviewed.withdrawn_at, None);
    let withdrawn = repo.document("doc-2").await.unwrap().unwrap();
    let at = withdrawn.withdrawn_at.expect("withdrawn_at");

    // Withdrawing again keeps the first time.
    repo.apply(
        "D-1",
        DossierChange {
            expected_version: 2,
            withdrawals: vec!["doc-2".into()],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let again = repo.document("doc-2").await.unwrap().unwrap();
    assert_eq!(again.withdrawn_at, Some(at));
}

async fn scan_outcomes_are_recorded(repo: Repo) {
    with_dossier(&repo, "D-1").await;
    let mut unscanned = document("doc-0", "D-1");
    unscanned.scan = None;
    repo.apply(
        "D-1",
        DossierChange {
            expected_version: 0,
            new_documents: vec![
                unscanned,
                document("doc-1", "D-1"),
                document("doc-2", "D-1"),
            ],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(repo.document("doc-0").await.unwrap().unwrap().scan, None);
    let pending = repo.document("doc-1").await.unwrap().unwrap();
    assert_eq!(pending.scan.as_deref(), Some("pending"));
    let infected_reasons = json!({"reasons": [{"code": "infected"}], "notes": []});
    repo.apply(
        "D-1",
        DossierChange {
            expected_version: 1,
            scans: vec![
                ScanChange {
                    document: "doc-1".into(),
                    scan: "clean".into(),
                    signature: None,
                    verdict: None,
                    reasons: None,
                },
                ScanChange {
                    document: "doc-2".into(),
                    scan: "infected".into(),
                    signature: Some("Eicar.UNOFFICIAL".into()),
                    verdict: Some("rejected".into()),
                    reasons: Some(infected_reasons.clone()),
                },
            ],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let clean = repo.document("doc-1").await.unwrap().unwrap();
    assert_eq!(clean.scan.as_deref(), Some("clean"));
    assert_eq!(
        (clean.verdict, clean.reasons),
        (pending.verdict, pending.reasons)
    );
    let infected = repo.document("doc-2").await.unwrap().unwrap();
    assert_eq!(infected.scan.as_deref(), Some("infected"));
    assert_eq!(infected.scan_signature.as_deref(), Some("Eicar.UNOFFICIAL"));
    assert_eq!(infected.verdict, "rejected");
    assert_eq!(infected.reasons, infected_reasons);
}

async fn events_page_in_id_order(repo: Repo) {
    with_dossier(&repo, "D-1").await;
    for n in 0..24 {
        repo.apply(
            "D-1",
            DossierChange {
                expected_version: n,
                events: vec![event("dossier.changed", "D-1", json!({"n": n}))],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    let mut pages = Vec::new();
    let mut after = 0;
    loop {
        let page = repo.events_after(after, 10).await.unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().unwrap().id;
        pages.push(page);
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [10, 10, 5]);
    let events: Vec<_> = pages.into_iter().flatten().collect();
    assert!(events.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(events[0].kind, "dossier.created");
    for (n, event) in events[1..].iter().enumerate() {
        assert_eq!(event.data, json!({"n": n}));
        assert_eq!(event.dossier.as_deref(), Some("D-1"));
    }
    assert_eq!(events, all_events(&repo).await);
    let last = events.last().unwrap().id;
    assert_eq!(repo.events_after(last, 10).await.unwrap(), []);
    assert_eq!(repo.events_after(last - 2, 1).await.unwrap().len(), 1);
}

/// 8 writers apply 20 changes each to 4 dossiers (two writers per dossier, so they conflict),
/// retrying on conflict, while a poller follows the feed. Every change lands once, and the
/// poller sees every event once, in id order: no event commits behind its back with a
/// smaller id than one it has already seen.
async fn concurrent_writers_apply_each_change_once_in_feed_order(repo: Repo) {
    const WRITERS: usize = 8;
    const CHANGES: usize = 20;
    const DOSSIERS: usize = 4;
    for d in 0..DOSSIERS {
        with_dossier(&repo, &format!("D-{d}")).await;
    }
    let start = all_events(&repo).await.last().unwrap().id;

    let done = Arc::new(AtomicBool::new(false));
    let poller = {
        let repo = repo.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut polls_while_writing = 0;
            let mut after = start;
            loop {
                // Read the flag before the page: once the writers are done, a page read
                // after it holds everything that is left.
                let finished = done.load(Ordering::SeqCst);
                let page = repo.events_after(after, 7).await.expect("events_after");
                if page.is_empty() {
                    if finished {
                        return (seen, polls_while_writing);
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    continue;
                }
                if !finished {
                    polls_while_writing += 1;
                }
                for event in page {
                    assert!(event.id > after, "ids increase along the feed");
                    after = event.id;
                    seen.push(event);
                }
            }
        })
    };

    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let repo = repo.clone();
            tokio::spawn(async move {
                let reference = format!("D-{}", w % DOSSIERS);
                for n in 0..CHANGES {
                    apply_with_retry(&repo, &reference, |version| DossierChange {
                        expected_version: version,
                        new_documents: vec![document(&format!("doc-{w}-{n}"), &reference)],
                        // Two events a change: they keep their order in the feed.
                        events: vec![
                            event(
                                "document.received",
                                &reference,
                                json!({"writer": w, "n": n, "part": 1}),
                            ),
                            event(
                                "document.accepted",
                                &reference,
                                json!({"writer": w, "n": n, "part": 2}),
                            ),
                        ],
                        ..Default::default()
                    })
                    .await;
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer");
    }
    done.store(true, Ordering::SeqCst);
    let (seen, polls_while_writing) = poller.await.expect("poller");

    let everything: Vec<_> = all_events(&repo)
        .await
        .into_iter()
        .filter(|e| e.id > start)
        .collect();
    assert_eq!(
        everything.len(),
        WRITERS * CHANGES * 2,
        "two events per change"
    );
    let seen_ids: Vec<_> = seen.iter().map(|e| e.id).collect();
    let missed: Vec<_> = everything
        .iter()
        .map(|e| e.id)
        .filter(|id| !seen_ids.contains(id))
        .collect();
    assert!(
        missed.is_empty(),
        "events the poller never saw (committed behind its back): {missed:?}"
    );
    assert_eq!(
        seen, everything,
        "the poller saw every event once, in id order"
    );
    assert!(
        polls_while_writing > 1,
        "the poller read the feed while the writers ran ({polls_while_writing} pages)"
    );
    let changes: BTreeSet<_> = seen
        .iter()
        .map(|e| (e.data["writer"].as_u64(), e.data["n"].as_u64()))
        .collect();
    assert_eq!(changes.len(), WRITERS * CHANGES, "each change once");
    let mut parts: BTreeMap<_, Vec<u64>> = BTreeMap::new();
    for e in &seen {
        parts
            .entry((e.data["writer"].as_u64(), e.data["n"].as_u64()))
            .or_default()
            .push(e.data["part"].as_u64().expect("part"));
    }
    assert!(
        parts.values().all(|p| p == &[1, 2]),
        "a change's events in the order it gave them"
    );
    for d in 0..DOSSIERS {
        let reference = format!("D-{d}");
        let dossier = repo.dossier(&reference).await.unwrap().unwrap();
        let per_dossier = WRITERS / DOSSIERS * CHANGES;
        assert_eq!(dossier.version, per_dossier as i64);
        assert_eq!(repo.documents(&reference).await.unwrap().len(), per_dossier);
    }
}

/// Changes sent at once (which SQLite commits as one group) each succeed or fail alone: a stale
/// one conflicts and one the database refuses fails, leaving nothing, while the others are
/// written whole.
async fn changes_sent_together_succeed_or_fail_each_on_its_own(repo: Repo) {
    const DOSSIERS: usize = 24;
    let stale = |d: usize| d.is_multiple_of(3);
    let refused = |d: usize| d % 4 == 1;
    for d in 0..DOSSIERS {
        with_dossier(&repo, &format!("G-{d}")).await;
    }
    let events_before = all_events(&repo).await.len();
    let sent: Vec<_> = (0..DOSSIERS)
        .map(|d| {
            let repo = repo.clone();
            tokio::spawn(async move {
                let reference = format!("G-{d}");
                let mut new_documents = vec![document(&format!("doc-g-{d}"), &reference)];
                if refused(d) {
                    // The same id twice: refused by the database after the first insert.
                    new_documents.push(document(&format!("doc-g-{d}"), &reference));
                }
                let change = DossierChange {
                    expected_version: if stale(d) { 7 } else { 0 },
                    state: Some(("submitted".into(), None)),
                    new_documents,
                    events: vec![event("document.received", &reference, json!({"d": d}))],
                    jobs: vec![job("webhook", &format!("g-{d}"))],
                    ..Default::default()
                };
                repo.apply(&reference, change).await
            })
        })
        .collect();
    let mut written = 0;
    for (d, outcome) in sent.into_iter().enumerate() {
        let outcome = outcome.await.expect("applied");
        let reference = format!("G-{d}");
        let dossier = repo.dossier(&reference).await.unwrap().unwrap();
        let documents = repo.documents(&reference).await.unwrap();
        if stale(d) {
            assert!(
                matches!(outcome, Err(RepoError::Conflict)),
                "{d}: {outcome:?}"
            );
        } else if refused(d) {
            assert!(
                matches!(outcome, Err(RepoError::Database(_))),
                "{d}: {outcome:?}"
            );
        } else {
            outcome.unwrap_or_else(|e| panic!("{d}: {e}"));
            assert_eq!((dossier.version, dossier.state.as_str()), (1, "submitted"));
            assert_eq!(documents.len(), 1, "{d}");
            written += 1;
            continue;
        }
        assert_eq!(
            (dossier.version, dossier.state.as_str()),
            (0, "open"),
            "{d}"
        );
        assert!(documents.is_empty(), "{d}: {documents:?}");
    }
    let events: Vec<_> = all_events(&repo).await.split_off(events_before);
    let mut from: Vec<_> = events.iter().filter_map(|e| e.data["d"].as_u64()).collect();
    from.sort_unstable();
    let expected: Vec<_> = (0..DOSSIERS)
        .filter(|&d| !stale(d) && !refused(d))
        .map(|d| d as u64)
        .collect();
    assert_eq!(
        from, expected,
        "one event for each change written, none for the others"
    );
    assert_eq!(written, expected.len());
    let mut jobs = 0;
    while repo
        .claim_job(&["webhook"], "w", LONG_LEASE)
        .await
        .unwrap()
        .is_some()
    {
        jobs += 1;
    }
    assert_eq!(jobs, expected.len(), "the jobs of the changes written only");
}

// ---------------------------------------------------------------------------------------------
// Jobs

async fn jobs_enqueue_is_idempotent(repo: Repo) {
    let first = repo.enqueue_job(&job("webhook", "k1")).await.unwrap();
    let mut changed = job("webhook", "k1");
    changed.payload = json!({"other": true});
    assert_eq!(repo.enqueue_job(&changed).await.unwrap(), first);
    let other_key = repo.enqueue_job(&job("webhook", "k2")).await.unwrap();
    let other_kind = repo.enqueue_job(&job("batch", "k1")).await.unwrap();
    assert_eq!(
        [first, other_key, other_kind]
            .into_iter()
            .collect::<HashSet<_>>()
            .len(),
        3
    );

    let stored = repo.job(first).await.unwrap().unwrap();
    assert_eq!(
        (stored.kind.as_str(), stored.key.as_str()),
        ("webhook", "k1")
    );
    assert_eq!(
        stored.payload,
        json!({"key": "k1"}),
        "the first payload stands"
    );
    assert_eq!(stored.state, JobState::Queued);
    assert_eq!(stored.attempts, 0);
    assert_eq!((stored.lease_owner, stored.lease_until), (None, None));
    assert_eq!(repo.job(first + 1000).await.unwrap(), None);

    let racers: Vec<_> = (0..16)
        .map(|_| {
            let repo = repo.clone();
            tokio::spawn(async move { repo.enqueue_job(&job("webhook", "race")).await })
        })
        .collect();
    let ids: HashSet<_> = futures::future::join_all(racers)
        .await
        .into_iter()
        .map(|r| r.expect("task").expect("enqueue_job"))
        .collect();
    assert_eq!(ids.len(), 1, "one job for one (kind, key)");
}

async fn jobs_enqueued_with_a_change_follow_its_fate(repo: Repo) {
    with_dossier(&repo, "D-1").await;
    let existing = repo.enqueue_job(&job("webhook", "a")).await.unwrap();
    repo.apply(
        "D-1",
        DossierChange {
            expected_version: 0,
            jobs: vec![job("webhook", "a"), job("webhook", "b")],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let first = repo
        .claim_job(&["webhook"], "w", LONG_LEASE)
        .await
        .unwrap()
        .unwrap();
    let second = repo
        .claim_job(&["webhook"], "w", LONG_LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        first.id, existing,
        "an existing (kind, key) is not enqueued twice"
    );
    assert_eq!(second.key, "b");
    assert_eq!(
        repo.claim_job(&["webhook"], "w", LONG_LEASE).await.unwrap(),
        None
    );
}

async fn concurrent_claimers_take_each_job_once(repo: Repo) {
    const JOBS: usize = 40;
    const CLAIMERS: usize = 8;
    let mut enqueued = BTreeSet::new();
    for n in 0..JOBS {
        enqueued.insert(
            repo.enqueue_job(&job("work", &n.to_string()))
                .await
                .unwrap(),
        );
    }
    let claimers: Vec<_> = (0..CLAIMERS)
        .map(|c| {
            let repo = repo.clone();
            tokio::spawn(async move {
                let owner = format!("worker-{c}");
                let mut done = Vec::new();
                while let Some(job) = repo
                    .claim_job(&["work"], &owner, LONG_LEASE)
                    .await
                    .expect("claim_job")
                {
                    assert_eq!(job.state, JobState::Running);
                    assert_eq!(job.lease_owner.as_deref(), Some(owner.as_str()));
                    assert_eq!(job.attempts, 1, "nobody had it before");
                    tokio::task::yield_now().await;
                    assert!(repo.complete_job(job.id, &owner).await.expect("complete"));
                    done.push(job.id);
                }
                done
            })
        })
        .collect();
    let mut claims: BTreeMap<i64, usize> = BTreeMap::new();
    for claimer in claimers {
        for id in claimer.await.expect("claimer") {
            *claims.entry(id).or_default() += 1;
        }
    }
    assert_eq!(
        claims.keys().copied().collect::<BTreeSet<_>>(),
        enqueued,
        "every job processed"
    );
    assert!(claims.values().all(|&n| n == 1), "no job twice: {claims:?}");
    for id in enqueued {
        assert_eq!(repo.job(id).await.unwrap().unwrap().state, JobState::Done);
    }
}

async fn claims_follow_kind_and_id_order(repo: Repo) {
    let a = repo.enqueue_job(&job("batch", "1")).await.unwrap();
    let b = repo.enqueue_job(&job("webhook", "1")).await.unwrap();
    let c = repo.enqueue_job(&job("batch", "2")).await.unwrap();
    assert_eq!(
        repo.claim_job(&["other"], "w", LONG_LEASE).await.unwrap(),
        None
    );
    let claim = |kinds: &'static [&'static str]| {
        let repo = repo.clone();
        async move {
            repo.claim_job(kinds, "w", LONG_LEASE)
                .await
                .unwrap()
                .map(|j| j.id)
        }
    };
    assert_eq!(claim(&["webhook"]).await, Some(b));
    assert_eq!(claim(&["webhook", "batch"]).await, Some(a));
    assert_eq!(claim(&["batch"]).await, Some(c));
    assert_eq!(claim(&["webhook", "batch"]).await, None);
    assert_eq!(claim(&[]).await, None);
}

async fn the_oldest_queued_job_of_each_kind_is_counted(repo: Repo) {
    let before = Utc::now();
    let first = repo.enqueue_job(&job("render", "1")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let middle = Utc::now();
    repo.enqueue_job(&job("render", "2")).await.unwrap();
    repo.enqueue_job(&job("scan", "1")).await.unwrap();
    let seen = repo.queue_depths().await.unwrap().oldest_queued;
    let kinds: Vec<&str> = seen.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(kinds, ["render", "scan"]);
    assert!(seen[0].1 >= before - TimeDelta::milliseconds(1) && seen[0].1 < middle);
    assert!(seen[1].1 >= middle - TimeDelta::milliseconds(1));

    // A claimed job is no longer waiting: the next one is the oldest.
    let claimed = repo.claim_job(&["render"], "w", LONG_LEASE).await.unwrap();
    assert_eq!(claimed.map(|j| j.id), Some(first));
    let seen = repo.queue_depths().await.unwrap().oldest_queued;
    assert_eq!(seen[0].0, "render");
    assert!(seen[0].1 >= middle - TimeDelta::milliseconds(1), "{seen:?}");
}

async fn lapsed_lease_is_claimed_again(repo: Repo) {
    let id = repo.enqueue_job(&job("work", "1")).await.unwrap();
    let lease = Duration::from_millis(1000);
    let first = repo
        .claim_job(&["work"], "dead", lease)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.id, id);
    let until = first.lease_until.expect("a lease");
    assert!(until > Utc::now() && until <= Utc::now() + lease);
    assert_eq!(
        repo.claim_job(&["work"], "alive", lease).await.unwrap(),
        None,
        "held while the lease runs"
    );

    tokio::time::sleep(lease + Duration::from_millis(200)).await;
    let second = repo
        .claim_job(&["work"], "alive", LONG_LEASE)
        .await
        .unwrap()
        .expect("claimable once the lease lapsed");
    assert_eq!((second.id, second.attempts), (id, 2));
    assert_eq!(second.lease_owner.as_deref(), Some("alive"));

    // The first worker comes back: the job is no longer its own.
    assert!(!repo.renew_lease(id, "dead", lease).await.unwrap());
    assert!(!repo.complete_job(id, "dead").await.unwrap());
    assert!(!repo.fail_job(id, "dead", "late", None).await.unwrap());
    assert_eq!(
        repo.job(id).await.unwrap().unwrap().state,
        JobState::Running
    );
    assert!(repo.complete_job(id, "alive").await.unwrap());
    let finished = repo.job(id).await.unwrap().unwrap();
    assert_eq!(finished.state, JobState::Done);
    assert_eq!(finished.lease_until, None);
    assert!(!repo.complete_job(id, "alive").await.unwrap(), "done once");
}

async fn renewed_lease_is_kept(repo: Repo) {
    let id = repo.enqueue_job(&job("work", "1")).await.unwrap();
    let lease = Duration::from_millis(1000);
    repo.claim_job(&["work"], "owner", lease)
        .await
        .unwrap()
        .unwrap();
    // Renewed every 250 ms for 2.5 s, over twice the lease: nobody else gets the job.
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(repo.renew_lease(id, "owner", lease).await.unwrap());
        assert_eq!(
            repo.claim_job(&["work"], "thief", lease).await.unwrap(),
            None
        );
    }
    let held = repo.job(id).await.unwrap().unwrap();
    assert_eq!(
        (held.attempts, held.lease_owner.as_deref()),
        (1, Some("owner"))
    );
    assert!(repo.complete_job(id, "owner").await.unwrap());
    assert!(!repo.renew_lease(id, "owner", lease).await.unwrap(), "done");
}

async fn failed_jobs_retry_or_give_up(repo: Repo) {
    let id = repo.enqueue_job(&job("work", "1")).await.unwrap();
    repo.claim_job(&["work"], "w1", LONG_LEASE)
        .await
        .unwrap()
        .unwrap();
    assert!(
        repo.fail_job(id, "w1", "timeout", Some(Duration::ZERO))
            .await
            .unwrap()
    );
    let queued = repo.job(id).await.unwrap().unwrap();
    assert_eq!(queued.state, JobState::Queued);
    assert_eq!(queued.last_error.as_deref(), Some("timeout"));
    assert_eq!(queued.lease_until, None);

    let again = repo
        .claim_job(&["work"], "w2", LONG_LEASE)
        .await
        .unwrap()
        .expect("a retried job is claimable");
    assert_eq!((again.id, again.attempts), (id, 2));
    assert!(!repo.fail_job(id, "w1", "stale worker", None).await.unwrap());
    assert!(repo.fail_job(id, "w2", "refused", None).await.unwrap());
    let failed = repo.job(id).await.unwrap().unwrap();
    assert_eq!(failed.state, JobState::Failed);
    assert_eq!(failed.last_error.as_deref(), Some("refused"));
    assert_eq!(
        repo.claim_job(&["work"], "w3", LONG_LEASE).await.unwrap(),
        None,
        "a failed job stays failed"
    );
}

async fn a_job_given_back_waits_and_holds_back_no_other(repo: Repo) {
    let poison = repo.enqueue_job(&job("work", "poison")).await.unwrap();
    let next = repo.enqueue_job(&job("work", "next")).await.unwrap();
    let claimed = repo.claim_job(&["work"], "w1", LONG_LEASE).await.unwrap();
    assert_eq!(claimed.map(|j| j.id), Some(poison), "the oldest first");
    let wait = Duration::from_millis(1500);
    assert!(
        repo.fail_job(poison, "w1", "broken", Some(wait))
            .await
            .unwrap()
    );
    let queued = repo.job(poison).await.unwrap().unwrap();
    assert!(queued.run_after.is_some_and(|due| due > queued.updated_at));
    // Not due yet: the next job goes first, and nothing else is claimable meanwhile.
    let claimed = repo.claim_job(&["work"], "w1", LONG_LEASE).await.unwrap();
    assert_eq!(claimed.map(|j| j.id), Some(next));
    assert_eq!(
        repo.claim_job(&["work"], "w1", LONG_LEASE).await.unwrap(),
        None
    );
    tokio::time::sleep(wait + Duration::from_millis(200)).await;
    let again = repo.claim_job(&["work"], "w2", LONG_LEASE).await.unwrap();
    assert_eq!(
        again.map(|j| (j.id, j.attempts)),
        Some((poison, 2)),
        "due again"
    );
}

async fn outbox_cursor_moves_once_per_range(repo: Repo) {
    assert_eq!(repo.outbox_cursor("webhooks").await.unwrap(), 0);
    assert!(!repo.advance_outbox_cursor("webhooks", 3, 5).await.unwrap());
    assert!(repo.advance_outbox_cursor("webhooks", 0, 5).await.unwrap());
    assert!(!repo.advance_outbox_cursor("webhooks", 0, 7).await.unwrap());
    assert_eq!(repo.outbox_cursor("webhooks").await.unwrap(), 5);
    assert_eq!(repo.outbox_cursor("other").await.unwrap(), 0);

    // Many workers race for the same ranges: each range goes to exactly one.
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let repo = repo.clone();
            tokio::spawn(async move {
                let mut won = Vec::new();
                loop {
                    let from = repo.outbox_cursor("webhooks").await.expect("cursor");
                    if from >= 45 {
                        return won;
                    }
                    if repo
                        .advance_outbox_cursor("webhooks", from, from + 5)
                        .await
                        .expect("advance")
                    {
                        won.push(from);
                    }
                }
            })
        })
        .collect();
    let mut ranges: Vec<_> = futures::future::join_all(racers)
        .await
        .into_iter()
        .flat_map(|r| r.expect("racer"))
        .collect();
    ranges.sort_unstable();
    assert_eq!(ranges, (5..45).step_by(5).collect::<Vec<_>>());

    // A fresh cursor created concurrently: one creator wins.
    let creators: Vec<_> = (0..8)
        .map(|_| {
            let repo = repo.clone();
            tokio::spawn(async move { repo.advance_outbox_cursor("fresh", 0, 3).await })
        })
        .collect();
    let wins = futures::future::join_all(creators)
        .await
        .into_iter()
        .filter(|r| *r.as_ref().expect("task").as_ref().expect("advance"))
        .count();
    assert_eq!(wins, 1);
}

fn preview_image(page: u32, width: u32, failure: Option<&str>) -> PreviewImage {
    PreviewImage {
        page,
        width,
        image_sha256: format!("{page:02}{width:062}"),
        pixel_width: width,
        pixel_height: width * 3 / 2,
        failure: failure.map(str::to_string),
    }
}

async fn preview_sets_are_whole_and_first_wins(repo: Repo) {
    let source = "ab".repeat(32);
    assert_eq!(
        repo.previews(&source).await.unwrap(),
        None,
        "not rendered yet"
    );
    let images = vec![
        preview_image(1, 200, None),
        preview_image(1, 1600, None),
        preview_image(2, 200, Some("rendering took more than 20 s")),
        preview_image(2, 1600, Some("rendering took more than 20 s")),
    ];
    let set = PreviewSet {
        source: source.clone(),
        pages: 2,
        failure: None,
        created_at: now(),
        images: images.clone(),
    };
    repo.put_previews(&set).await.unwrap();
    let stored = repo.previews(&source).await.unwrap().expect("rendered");
    assert_eq!((stored.pages, stored.failure), (2, None));
    assert!(
        stored.images.is_empty(),
        "the set alone, without its images"
    );
    assert_eq!(repo.preview_images(&source).await.unwrap(), images);
    assert_eq!(
        repo.preview_image(&source, 2, 1600).await.unwrap(),
        Some(images[3].clone())
    );
    assert_eq!(repo.preview_image(&source, 3, 200).await.unwrap(), None);

    // A second rendering of the same bytes (another worker) keeps the first set.
    let again = PreviewSet {
        pages: 1,
        images: vec![preview_image(1, 200, None)],
        ..set.clone()
    };
    repo.put_previews(&again).await.unwrap();
    assert_eq!(repo.previews(&source).await.unwrap().unwrap().pages, 2);
    assert_eq!(repo.preview_images(&source).await.unwrap().len(), 4);

    // Only documents whose content has no pictures and no job are left to catch up on.
    let with_dossier_ref = with_dossier(&repo, "P-1").await;
    let mut rendered_doc = document("P-1-a", "P-1");
    rendered_doc.sha256 = source.clone();
    let pending_doc = document("P-1-b", "P-1");
    repo.apply(
        "P-1",
        DossierChange {
            expected_version: with_dossier_ref.version,
            new_documents: vec![rendered_doc, pending_doc],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        repo.documents_without_previews(10).await.unwrap(),
        vec!["P-1-b".to_string()]
    );
    repo.enqueue_job(&job("render", "P-1-b")).await.unwrap();
    assert!(
        repo.documents_without_previews(10)
            .await
            .unwrap()
            .is_empty()
    );

    // The images are content the store must keep.
    let referenced = repo.referenced_content().await.unwrap();
    assert!(images.iter().all(|i| referenced.contains(&i.image_sha256)));

    // Content that cannot be rendered at all: no pages, and why.
    let broken = "cd".repeat(32);
    repo.put_previews(&PreviewSet {
        source: broken.clone(),
        pages: 0,
        failure: Some("not a document of pages".into()),
        created_at: now(),
        images: Vec::new(),
    })
    .await
    .unwrap();
    let stored = repo.previews(&broken).await.unwrap().unwrap();
    assert_eq!(stored.failure.as_deref(), Some("not a document of pages"));
}

// ---------------------------------------------------------------------------------------------
// The journal

async fn creation_is_journaled_under_its_actor(repo: Repo) {
    repo.put_campaign(&campaign("cap-2025-poitiers", "id = \"cap-2025-poitiers\""))
        .await
        .unwrap();
    let created = dossier("D-1");
    repo.create_dossier(
        &created,
        event(
            "dossier.created",
            "D-1",
            json!({"campaign": "cap-2025-poitiers"}),
        ),
        "portal:inscriptions",
    )
    .await
    .unwrap();
    // Created again: the first creation stands, journaled once.
    repo.create_dossier(
        &dossier("D-1"),
        event("dossier.created", "D-1", json!({})),
        "portal:other",
    )
    .await
    .unwrap();
    let entries = repo.journal("D-1").await.unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry = &entries[0];
    assert_eq!(
        (entry.seq, entry.actor.as_str(), entry.action.as_str()),
        (1, "portal:inscriptions", "dossier.created")
    );
    assert_eq!(entry.prev_hash, GENESIS);
    assert_eq!(entry.data_value(), json!({"campaign": "cap-2025-poitiers"}));
    assert_eq!(entry.time(), Some(created.created_at));
    assert_eq!(journal::verify_chain("D-1", &entries), Ok(()));
    assert_eq!(repo.journaled_dossiers("", 10).await.unwrap(), ["D-1"]);
    assert!(repo.journal("D-2").await.unwrap().is_empty());
    // The event carries the actor too.
    assert_eq!(
        all_events(&repo).await[0].actor.as_deref(),
        Some("portal:inscriptions")
    );
}

/// A change's events and journal entries go in multi-row inserts of at most a thousand rows:
/// one with more takes several statements, and keeps every event and entry, in order, and
/// the chain whole.
async fn a_change_longer_than_a_statement_keeps_every_event_in_order(repo: Repo) {
    // Beyond what one statement could bind on SQLite (32,766 parameters; nine a journal entry).
    const EVENTS: usize = 4_000;
    with_dossier(&repo, "D-1").await;
    let start = all_events(&repo).await.last().expect("the creation").id;
    let change = DossierChange {
        expected_version: 0,
        actor: "system".into(),
        events: (0..EVENTS)
            .map(|n| event("dossier.noted", "D-1", json!({"n": n})))
            .collect(),
        ..Default::default()
    };
    repo.apply("D-1", change).await.expect("apply");

    let mut seen = Vec::new();
    let mut after = start;
    loop {
        let page = repo.events_after(after, 500).await.expect("events_after");
        let Some(last) = page.last() else { break };
        after = last.id;
        seen.extend(page.into_iter().map(|e| e.data["n"].as_u64()));
    }
    let expected: Vec<Option<u64>> = (0..EVENTS as u64).map(Some).collect();
    assert_eq!(seen, expected, "every event, in the change's order");

    let entries = repo.journal("D-1").await.expect("journal");
    assert_eq!(
        entries.len(),
        EVENTS + 1,
        "the creation, then an entry an event"
    );
    assert_eq!(
        entries.last().map(|e| e.data_value()),
        Some(json!({"n": EVENTS - 1}))
    );
    assert_eq!(journal::verify_chain("D-1", &entries), Ok(()));
}

async fn changes_are_journaled_event_by_event_under_their_actor(repo: Repo) {
    with_dossier(&repo, "D-1").await;
    with_dossier(&repo, "D-2").await;
    let received = NewEvent {
        document: Some("doc-1".into()),
        ..event("document.received", "D-1", json!({"piece": "identite"}))
    };
    repo.apply(
        "D-1",
        DossierChange {
            expected_version: 0,
            actor: "portal:inscriptions".into(),
            new_documents: vec![document("doc-1", "D-1")],
            events: vec![
                received,
                event("dossier.complete", "D-1", json!({})),
                // An event of no dossier, or of another, is not this dossier's journal.
                NewEvent {
                    dossier: None,
                    ..event("campaign.noted", "D-1", json!({}))
                },
            ],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    // A change without events journals nothing.
    repo.apply(
        "D-1",
        DossierChange {
            expected_version: 1,
            actor: "system".into(),
            scans: vec![ScanChange {
                document: "doc-1".into(),
                scan: "clean".into(),
                signature: None,
                verdict: None,
                reasons: None,
            }],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    repo.apply(
        "D-1",
        DossierChange {
            expected_version: 2,
            actor: "staff:camille".into(),
            reviews: vec![ReviewChange {
                document: "doc-1".into(),
                decision: "accepted".into(),
                reason: None,
                by: "camille".into(),
            }],
            events: vec![event("document.accepted", "D-1", json!({"by": "camille"}))],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    // A change that conflicts journals nothing either.
    let stale = repo
        .apply(
            "D-1",
            DossierChange {
                expected_version: 0,
                actor: "staff:mallory".into(),
                events: vec![event("dossier.closed", "D-1", json!({}))],
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(stale, Err(RepoError::Conflict)), "{stale:?}");

    let entries = repo.journal("D-1").await.unwrap();
    let shown: Vec<(i64, &str, &str, Option<&str>)> = entries
        .iter()
        .map(|e| {
            (
                e.seq,
                e.actor.as_str(),
                e.action.as_str(),
                e.document.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            (1, "system", "dossier.created", None),
            (2, "portal:inscriptions", "document.received", Some("doc-1")),
            (3, "portal:inscriptions", "dossier.complete", None),
            (4, "staff:camille", "document.accepted", None),
        ]
    );
    assert_eq!(entries[1].data_value(), json!({"piece": "identite"}));
    assert_eq!(entries[1].prev_hash, entries[0].hash);
    assert_eq!(journal::verify_chain("D-1", &entries), Ok(()));
    assert_eq!(
        repo.journal("D-2").await.unwrap().len(),
        1,
        "D-2's own chain"
    );
    assert_eq!(
        repo.journaled_dossiers("", 10).await.unwrap(),
        ["D-1", "D-2"]
    );
    assert_eq!(repo.journaled_dossiers("D-1", 10).await.unwrap(), ["D-2"]);
    assert_eq!(repo.journaled_dossiers("", 1).await.unwrap(), ["D-1"]);
    // Appending to a dossier that does not exist is refused, and journals nothing.
    let view = NewJournalEntry {
        actor: "staff:camille".into(),
        action: "dossier.viewed".into(),
        document: None,
        data: json!({}),
    };
    assert!(repo.append_journal("D-9", &[view]).await.is_err());
    assert!(repo.journal("D-9").await.unwrap().is_empty());
}

/// Writers change one dossier (retrying on conflict) while readers append views to it, all
/// at once: the chain has every entry once, in one order, and verifies.
async fn concurrent_changes_and_views_grow_one_chain_in_order(repo: Repo) {
    const WRITERS: usize = 4;
    const VIEWERS: usize = 4;
    const EACH: usize = 15;
    with_dossier(&repo, "D-1").await;
    let writers = (0..WRITERS).map(|w| {
        let repo = repo.clone();
        tokio::spawn(async move {
            for n in 0..EACH {
                apply_with_retry(&repo, "D-1", |version| DossierChange {
                    expected_version: version,
                    actor: format!("portal:writer-{w}"),
                    new_documents: vec![document(&format!("doc-{w}-{n}"), "D-1")],
                    events: vec![event(
                        "document.received",
                        "D-1",
                        json!({"writer": w, "n": n}),
                    )],
                    ..Default::default()
                })
                .await;
            }
        })
    });
    let viewers = (0..VIEWERS).map(|v| {
        let repo = repo.clone();
        tokio::spawn(async move {
            for n in 0..EACH {
                let view = NewJournalEntry {
                    actor: format!("staff:viewer-{v}"),
                    action: "document.downloaded".into(),
                    document: Some(format!("doc-{n}")),
                    data: json!({"viewer": v, "n": n}),
                };
                repo.append_journal("D-1", &[view]).await.expect("append");
            }
        })
    });
    for task in futures::future::join_all(writers.chain(viewers)).await {
        task.expect("task");
    }
    let entries = repo.journal("D-1").await.unwrap();
    assert_eq!(entries.len(), 1 + (WRITERS + VIEWERS) * EACH);
    assert_eq!(journal::verify_chain("D-1", &entries), Ok(()));
    let seqs: Vec<i64> = entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=entries.len() as i64).collect::<Vec<_>>());
    // Each task's entries are there once, in the order it made them.
    for actor in (0..WRITERS)
        .map(|w| format!("portal:writer-{w}"))
        .chain((0..VIEWERS).map(|v| format!("staff:viewer-{v}")))
    {
        let ns: Vec<u64> = entries
            .iter()
            .filter(|e| e.actor == actor)
            .filter_map(|e| e.data_value()["n"].as_u64())
            .collect();
        assert_eq!(ns, (0..EACH as u64).collect::<Vec<_>>(), "{actor}");
    }
}
