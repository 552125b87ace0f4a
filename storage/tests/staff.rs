//! The staff interface's repository (`StaffRepository`), on every backend: accounts,
//! sessions, the dossier index with its stale marks, filters and keyset pagination, and the
//! reads of the dossier page.
//!
//! Each test is a function of an `Arc<dyn Repository>`, run on SQLite (a fresh file) and on
//! PostgreSQL (a fresh database on the server `GUICHET_TEST_DATABASE_URL` names; skipped
//! without it, a failure when `GUICHET_TEST_REQUIRE_ALL_BACKENDS=1`).

use std::sync::Arc;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use serde_json::json;
use storage::repository::{
    DossierIndexRow, DossierQuery, NewJournalEntry, SameContent, StaffSession, StaffUser,
};
use storage::{
    CampaignRecord, DocumentRecord, DossierChange, DossierRecord, NewEvent, Repository, TokenRecord,
};

#[macro_use]
mod common;

type Repo = Arc<dyn Repository>;

backends!(
    accounts_are_created_once_and_disabled,
    sessions_join_their_user_and_expire,
    created_and_changed_dossiers_are_marked_stale,
    a_batch_of_rows_is_written_at_once,
    an_older_computation_never_overwrites_a_newer_row,
    every_filter_and_search_selects_its_rows,
    keyset_pages_cover_every_row_once_in_order,
    counts_follow_the_index,
    duplicates_and_tokens_are_read,
    the_duplicates_flag_follows_documents_of_other_dossiers,
);

fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn user(name: &str, role: &str) -> StaffUser {
    StaffUser {
        name: name.into(),
        role: role.into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        disabled: false,
        created_at: now(),
        campaigns: None,
    }
}

async fn with_campaign(repo: &Repo) {
    repo.put_campaign(&CampaignRecord {
        id: "cap".into(),
        source: "id = \"cap\"".into(),
        loaded_at: now(),
    })
    .await
    .expect("put_campaign");
}

async fn create_dossier(repo: &Repo, reference: &str) -> DossierRecord {
    let at = now();
    let (record, created) = repo
        .create_dossier(
            &DossierRecord {
                reference: reference.into(),
                campaign: "cap".into(),
                candidate: json!({"last_name": "Martin"}),
                state: "open".into(),
                state_reason: None,
                corrections: json!({}),
                extension: None,
                version: 0,
                created_at: at,
                updated_at: at,
            },
            NewEvent {
                kind: "dossier.created".into(),
                dossier: Some(reference.into()),
                document: None,
                data: json!({"campaign": "cap"}),
            },
            "system",
        )
        .await
        .expect("create_dossier");
    assert!(created);
    record
}

fn document(id: &str, dossier: &str, sha: char) -> DocumentRecord {
    DocumentRecord {
        id: id.into(),
        dossier: dossier.into(),
        piece: Some("identite".into()),
        filename: Some("cni.pdf".into()),
        declared_type: None,
        sha256: sha.to_string().repeat(64),
        size: 10,
        kind: "pdf".into(),
        mime: "application/pdf".into(),
        pages: Some(1),
        channel: "upload".into(),
        origin: json!({"channel": "upload"}),
        verdict: "accepted".into(),
        reasons: json!({"reasons": []}),
        review: None,
        review_reason: None,
        reviewed_by: None,
        reviewed_at: None,
        withdrawn_at: None,
        late: false,
        received_at: now(),
        scan: None,
        scan_signature: None,
        display_sha256: None,
        purged_at: None,
        purge_rule: None,
    }
}

fn row(reference: &str, version: i64) -> DossierIndexRow {
    DossierIndexRow {
        reference: reference.into(),
        campaign: "cap".into(),
        version,
        state: "open".into(),
        name: String::new(),
        name_key: String::new(),
        given_key: String::new(),
        complete: false,
        missing: Vec::new(),
        awaiting: false,
        late: false,
        duplicates: false,
        updated_at: now(),
    }
}

fn query(limit: u32) -> DossierQuery {
    DossierQuery {
        limit,
        ..DossierQuery::default()
    }
}

async fn references(repo: &Repo, query: &DossierQuery) -> Vec<String> {
    repo.list_dossier_index(query)
        .await
        .expect("list")
        .into_iter()
        .map(|r| r.reference)
        .collect()
}

// ---------------------------------------------------------------------------------------------

async fn accounts_are_created_once_and_disabled(repo: Repo) {
    assert!(
        repo.create_staff_user(&user("camille", "reviewer"))
            .await
            .expect("create")
    );
    assert!(
        !repo
            .create_staff_user(&user("camille", "admin"))
            .await
            .expect("create again")
    );
    assert!(
        repo.create_staff_user(&user("alix", "admin"))
            .await
            .expect("create")
    );
    let stored = repo
        .staff_user("camille")
        .await
        .expect("read")
        .expect("present");
    assert_eq!(stored, user_like(&stored, "camille", "reviewer"));
    assert_eq!(repo.staff_user("nobody").await.expect("read"), None);
    let names: Vec<String> = repo
        .staff_users()
        .await
        .expect("list")
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["alix", "camille"]);
    assert!(
        repo.set_staff_user_disabled("camille", true)
            .await
            .expect("disable")
    );
    assert!(
        repo.staff_user("camille")
            .await
            .expect("read")
            .expect("present")
            .disabled
    );
    assert!(
        !repo
            .set_staff_user_disabled("nobody", true)
            .await
            .expect("disable")
    );
}

/// The stored user with the fixture's fields, so a comparison shows what differs.
fn user_like(stored: &StaffUser, name: &str, role: &str) -> StaffUser {
    StaffUser {
        name: name.into(),
        role: role.into(),
        password_hash: user(name, role).password_hash,
        disabled: false,
        created_at: stored.created_at,
        campaigns: None,
    }
}

async fn sessions_join_their_user_and_expire(repo: Repo) {
    repo.create_staff_user(&user("camille", "reviewer"))
        .await
        .expect("user");
    let at = now();
    let live = StaffSession {
        hash: "a".repeat(64),
        user: "camille".into(),
        csrf: "token-1".into(),
        created_at: at,
        expires_at: at + TimeDelta::hours(8),
    };
    let old = StaffSession {
        hash: "b".repeat(64),
        expires_at: at - TimeDelta::seconds(1),
        ..live.clone()
    };
    repo.create_staff_session(&live).await.expect("session");
    repo.create_staff_session(&old).await.expect("session");
    let (session, owner) = repo
        .staff_session(&live.hash)
        .await
        .expect("read")
        .expect("present");
    assert_eq!(session, live);
    assert_eq!(owner.name, "camille");
    assert_eq!(owner.role, "reviewer");
    assert_eq!(owner.campaigns, None, "every campaign unless set");
    let scope = vec!["bts".to_string(), "cap".to_string()];
    assert!(
        repo.set_staff_campaigns("camille", Some(&scope))
            .await
            .expect("scope")
    );
    let (_, owner) = repo
        .staff_session(&live.hash)
        .await
        .expect("read")
        .expect("present");
    assert_eq!(owner.campaigns, Some(scope));
    assert!(
        !repo
            .set_staff_campaigns("nobody", None)
            .await
            .expect("scope")
    );
    assert_eq!(
        repo.delete_expired_staff_sessions(now())
            .await
            .expect("sweep"),
        1
    );
    assert!(repo.staff_session(&old.hash).await.expect("read").is_none());
    // Disabling an account ends its sessions.
    repo.set_staff_user_disabled("camille", true)
        .await
        .expect("disable");
    assert!(
        repo.staff_session(&live.hash)
            .await
            .expect("read")
            .is_none()
    );
    // Logout.
    repo.set_staff_user_disabled("camille", false)
        .await
        .expect("enable");
    repo.create_staff_session(&live).await.expect("session");
    repo.delete_staff_session(&live.hash).await.expect("logout");
    assert!(
        repo.staff_session(&live.hash)
            .await
            .expect("read")
            .is_none()
    );
}

/// The background refresher writes its batch in one call: every row lands and clears its
/// mark, and a row computed from an older read leaves its newer mark in place.
async fn a_batch_of_rows_is_written_at_once(repo: Repo) {
    with_campaign(&repo).await;
    for reference in ["R-1", "R-2", "R-3"] {
        create_dossier(&repo, reference).await;
    }
    let change = DossierChange {
        expected_version: 0,
        new_documents: vec![document("d1", "R-3", 'a')],
        ..DossierChange::default()
    };
    repo.apply("R-3", change).await.expect("apply");
    let batch = [row("R-1", 0), row("R-2", 0), row("R-3", 0)];
    repo.put_dossier_indexes(&batch).await.expect("index");
    assert_eq!(
        repo.stale_dossiers(10).await.expect("stale"),
        [("R-3".to_string(), 1)]
    );
    let listed: Vec<_> = repo
        .list_dossier_index(&query(10))
        .await
        .expect("listed")
        .into_iter()
        .map(|r| (r.reference, r.version))
        .collect();
    assert_eq!(
        listed,
        [
            ("R-1".to_string(), 0),
            ("R-2".to_string(), 0),
            ("R-3".to_string(), 0)
        ]
    );
    repo.put_dossier_indexes(&[])
        .await
        .expect("nothing to write");
}

async fn created_and_changed_dossiers_are_marked_stale(repo: Repo) {
    with_campaign(&repo).await;
    assert!(repo.stale_dossiers(10).await.expect("stale").is_empty());
    create_dossier(&repo, "R-2").await;
    create_dossier(&repo, "R-1").await;
    assert_eq!(
        repo.stale_dossiers(10).await.expect("stale"),
        [("R-1".to_string(), 0), ("R-2".to_string(), 0)]
    );
    repo.put_dossier_index(&row("R-1", 0)).await.expect("index");
    assert_eq!(
        repo.stale_dossiers(10).await.expect("stale"),
        [("R-2".to_string(), 0)]
    );
    // A change moves the version: stale again, marked with the new version.
    let change = DossierChange {
        expected_version: 0,
        new_documents: vec![document("d1", "R-1", 'a')],
        ..DossierChange::default()
    };
    repo.apply("R-1", change).await.expect("apply");
    assert_eq!(
        repo.stale_dossiers(1).await.expect("stale"),
        [("R-1".to_string(), 1)]
    );
    // A row computed from the older read does not clear the newer mark.
    repo.put_dossier_index(&row("R-1", 0)).await.expect("index");
    assert_eq!(repo.stale_dossiers(1).await.expect("stale")[0].0, "R-1");
    repo.put_dossier_index(&row("R-1", 1)).await.expect("index");
    assert_eq!(
        repo.stale_dossiers(10).await.expect("stale"),
        [("R-2".to_string(), 0)]
    );
    // A view journaled changes nothing the index shows.
    let view = NewJournalEntry {
        actor: "staff:camille".into(),
        action: "dossier.viewed".into(),
        document: None,
        data: json!({}),
    };
    repo.append_journal("R-1", &[view]).await.expect("journal");
    assert_eq!(
        repo.stale_dossiers(10).await.expect("stale"),
        [("R-2".to_string(), 0)]
    );
}

async fn an_older_computation_never_overwrites_a_newer_row(repo: Repo) {
    let newer = DossierIndexRow {
        state: "complete".into(),
        complete: true,
        ..row("R-1", 3)
    };
    repo.put_dossier_index(&newer).await.expect("index");
    repo.put_dossier_index(&row("R-1", 2)).await.expect("index");
    let rows = repo.list_dossier_index(&query(10)).await.expect("list");
    assert_eq!(rows, [newer]);
}

async fn every_filter_and_search_selects_its_rows(repo: Repo) {
    let rows = [
        DossierIndexRow {
            name: "MARTIN Éloïse".into(),
            name_key: "martin eloise".into(),
            given_key: "eloise martin".into(),
            missing: vec!["identite".into(), "jdc".into()],
            awaiting: true,
            ..row("CAP-001", 1)
        },
        DossierIndexRow {
            name: "DURAND Paul".into(),
            name_key: "durand paul".into(),
            given_key: "paul durand".into(),
            state: "complete".into(),
            complete: true,
            ..row("CAP-002", 4)
        },
        DossierIndexRow {
            name: "MARTINEZ Ana".into(),
            name_key: "martinez ana".into(),
            given_key: "ana martinez".into(),
            state: "submitted".into(),
            missing: vec!["id_ent".into()],
            late: true,
            campaign: "bts".into(),
            ..row("BTS-001", 2)
        },
    ];
    for r in &rows {
        repo.put_dossier_index(r).await.expect("index");
    }
    let pick = |f: fn(&mut DossierQuery)| {
        let mut q = query(10);
        f(&mut q);
        q
    };
    let cases: Vec<(DossierQuery, &[&str])> = vec![
        (query(10), &["BTS-001", "CAP-001", "CAP-002"]),
        (
            pick(|q| q.search = Some("martin".into())),
            &["BTS-001", "CAP-001"],
        ),
        (pick(|q| q.search = Some("martin ".into())), &["CAP-001"]),
        (pick(|q| q.search = Some("eloise".into())), &["CAP-001"]),
        (
            pick(|q| q.search = Some("cap-00".into())),
            &["CAP-001", "CAP-002"],
        ),
        (pick(|q| q.search = Some("zz".into())), &[]),
        (pick(|q| q.state = Some("complete".into())), &["CAP-002"]),
        (pick(|q| q.complete = Some(false)), &["BTS-001", "CAP-001"]),
        (pick(|q| q.complete = Some(true)), &["CAP-002"]),
        (pick(|q| q.missing = Some("jdc".into())), &["CAP-001"]),
        // `_` is a literal in codes, not LIKE's wildcard; `id` is not `identite`.
        (pick(|q| q.missing = Some("id_ent".into())), &["BTS-001"]),
        (pick(|q| q.missing = Some("idXent".into())), &[]),
        (pick(|q| q.missing = Some("id".into())), &[]),
        (pick(|q| q.awaiting = Some(true)), &["CAP-001"]),
        (pick(|q| q.late = Some(true)), &["BTS-001"]),
        (pick(|q| q.campaign = Some("bts".into())), &["BTS-001"]),
        (
            pick(|q| q.scope = Some(vec!["cap".into()])),
            &["CAP-001", "CAP-002"],
        ),
        (
            pick(|q| q.scope = Some(vec!["bts".into(), "cap".into()])),
            &["BTS-001", "CAP-001", "CAP-002"],
        ),
        (pick(|q| q.scope = Some(vec![])), &[]),
        (
            pick(|q| {
                q.scope = Some(vec!["cap".into()]);
                q.campaign = Some("bts".into());
            }),
            &[],
        ),
        (
            pick(|q| {
                q.search = Some("martin".into());
                q.late = Some(true);
            }),
            &["BTS-001"],
        ),
    ];
    for (q, expected) in cases {
        assert_eq!(references(&repo, &q).await, expected, "{q:?}");
    }
    let read = repo.list_dossier_index(&query(10)).await.expect("list");
    assert_eq!(read[1], rows[0], "rows read back as written");
}

async fn keyset_pages_cover_every_row_once_in_order(repo: Repo) {
    let mut all: Vec<String> = (0..137).map(|i| format!("R-{i:04}")).collect();
    for (i, reference) in all.iter().enumerate().rev() {
        let r = DossierIndexRow {
            awaiting: i % 3 == 0,
            ..row(reference, 0)
        };
        repo.put_dossier_index(&r).await.expect("index");
    }
    all.sort();
    for (filter, expected) in [
        (None, all.clone()),
        (
            Some(true),
            all.iter()
                .enumerate()
                .filter(|(i, _)| i % 3 == 0)
                .map(|(_, r)| r.clone())
                .collect(),
        ),
    ] {
        let mut seen = Vec::new();
        let mut q = DossierQuery {
            awaiting: filter,
            ..query(20)
        };
        loop {
            let page = references(&repo, &q).await;
            assert!(page.len() <= 20);
            let Some(last) = page.last().cloned() else {
                break;
            };
            seen.extend(page);
            q.after = Some(last);
        }
        assert_eq!(seen, expected);
    }
}

async fn counts_follow_the_index(repo: Repo) {
    with_campaign(&repo).await;
    create_dossier(&repo, "R-9").await;
    for (reference, state, complete, awaiting, late) in [
        ("R-1", "open", false, true, false),
        ("R-2", "open", false, true, true),
        ("R-3", "complete", true, false, false),
        ("R-4", "closed", true, false, true),
    ] {
        let r = DossierIndexRow {
            state: state.into(),
            complete,
            awaiting,
            late,
            ..row(reference, 0)
        };
        repo.put_dossier_index(&r).await.expect("index");
    }
    let counts = repo.dossier_index_counts(None).await.expect("counts");
    assert_eq!(
        counts.by_state,
        [
            ("closed".to_string(), 1),
            ("complete".to_string(), 1),
            ("open".to_string(), 2)
        ]
    );
    assert_eq!(
        (counts.complete, counts.awaiting, counts.late, counts.stale),
        (2, 2, 2, 1)
    );
    let cap = ["cap".to_string()];
    let scoped = repo.dossier_index_counts(Some(&cap)).await.expect("counts");
    assert_eq!(scoped, counts, "the scope holds every dossier");
    let elsewhere = repo
        .dossier_index_counts(Some(&["bts".to_string()]))
        .await
        .expect("counts");
    assert!(elsewhere.by_state.is_empty());
    assert_eq!(
        (elsewhere.complete, elsewhere.awaiting, elsewhere.late),
        (0, 0, 0)
    );
    assert_eq!(
        elsewhere.stale, 1,
        "stale rows are counted whatever the scope"
    );
    assert!(
        repo.dossier_index_counts(Some(&[]))
            .await
            .expect("counts")
            .by_state
            .is_empty()
    );
}

async fn duplicates_and_tokens_are_read(repo: Repo) {
    with_campaign(&repo).await;
    for reference in ["R-1", "R-2", "R-3"] {
        create_dossier(&repo, reference).await;
    }
    let mut withdrawn = document("d3", "R-3", 'a');
    withdrawn.withdrawn_at = Some(now());
    for (reference, doc) in [
        ("R-1", document("d1", "R-1", 'a')),
        ("R-2", document("d2", "R-2", 'a')),
        ("R-3", withdrawn),
    ] {
        let change = DossierChange {
            expected_version: 0,
            new_documents: vec![doc],
            events: vec![NewEvent {
                kind: "document.received".into(),
                dossier: Some(reference.into()),
                document: None,
                data: json!({"piece": "identite"}),
            }],
            ..DossierChange::default()
        };
        repo.apply(reference, change).await.expect("apply");
    }
    let same = repo
        .same_content_as_dossier("R-1", None, 10)
        .await
        .expect("same content");
    let found: Vec<(&str, &str)> = same
        .iter()
        .map(|s| (s.dossier.as_str(), s.document.as_str()))
        .collect();
    assert_eq!(
        found,
        [("R-2", "d2")],
        "withdrawn documents are not duplicates"
    );
    assert!(
        repo.same_content_as_dossier("R-3", None, 10)
            .await
            .expect("same content")
            .iter()
            .all(|s| s.dossier != "R-3"),
        "nor the dossier's own"
    );

    // Every content of a dossier at once, a few a content.
    let change = DossierChange {
        expected_version: 1,
        new_documents: vec![document("d4", "R-2", 'a'), document("d5", "R-1", 'c')],
        ..DossierChange::default()
    };
    repo.apply("R-2", change).await.expect("apply");
    let all = repo
        .same_content_as_dossier("R-1", None, 10)
        .await
        .expect("same content");
    let found: Vec<(&str, &str, &str)> = all
        .iter()
        .map(|s| (s.sha256.as_str(), s.dossier.as_str(), s.document.as_str()))
        .collect();
    let a = "a".repeat(64);
    assert_eq!(
        found,
        [(a.as_str(), "R-2", "d2"), (a.as_str(), "R-2", "d4")]
    );
    let capped = repo
        .same_content_as_dossier("R-1", None, 1)
        .await
        .expect("same content");
    assert_eq!(capped.len(), 1, "at most `limit` a content");

    // One content of the dossier only: a document's view, whatever else the dossier holds.
    for (reference, version, doc) in [
        ("R-1", 1, document("d6", "R-1", 'b')),
        ("R-2", 2, document("d7", "R-2", 'b')),
    ] {
        let change = DossierChange {
            expected_version: version,
            new_documents: vec![doc],
            ..DossierChange::default()
        };
        repo.apply(reference, change).await.expect("apply");
    }
    let b = "b".repeat(64);
    let contents = |same: Vec<SameContent>| -> Vec<(String, String)> {
        same.into_iter().map(|s| (s.sha256, s.document)).collect()
    };
    assert_eq!(
        contents(
            repo.same_content_as_dossier("R-1", None, 10)
                .await
                .expect("same content")
        ),
        [
            (a.clone(), "d2".to_string()),
            (a.clone(), "d4".to_string()),
            (b.clone(), "d7".to_string())
        ]
    );
    assert_eq!(
        contents(
            repo.same_content_as_dossier("R-1", Some(&b), 10)
                .await
                .expect("same content")
        ),
        [(b.clone(), "d7".to_string())]
    );
    assert_eq!(
        contents(
            repo.same_content_in_campaigns("R-1", Some(&b), 10, &["cap".to_string()])
                .await
                .expect("same content")
        ),
        [(b.clone(), "d7".to_string())]
    );
    assert!(
        repo.same_content_as_dossier("R-1", Some(&"e".repeat(64)), 10)
            .await
            .expect("same content")
            .is_empty(),
        "a content the dossier does not hold has no duplicates to show"
    );
    assert!(
        repo.same_content_as_dossier("R-9", None, 10)
            .await
            .expect("same content")
            .is_empty()
    );

    repo.insert_token(
        &"f".repeat(64),
        &TokenRecord {
            role: "portal".into(),
            name: "portail".into(),
            ..TokenRecord::default()
        },
    )
    .await
    .expect("token");
    let tokens = repo.token_listing().await.expect("tokens");
    assert_eq!(tokens.len(), 1);
    assert_eq!(
        tokens[0].id,
        "f".repeat(12),
        "only a prefix of the hash is listed"
    );
    assert_eq!(
        (tokens[0].role.as_str(), tokens[0].name.as_str()),
        ("portal", "portail")
    );
}

/// Whether `reference`'s index row, once every stale row is written again (as the refresher
/// does), says it has duplicates.
async fn flagged(repo: &Repo, reference: &str) -> bool {
    repo.spread_stale_content(100).await.expect("spread");
    for (stale, version) in repo.stale_dossiers(100).await.expect("stale") {
        repo.put_dossier_index(&row(&stale, version))
            .await
            .expect("index");
    }
    let rows = repo
        .list_dossier_index(&DossierQuery {
            search: Some(reference.to_lowercase()),
            ..query(10)
        })
        .await
        .expect("list");
    rows.iter()
        .find(|r| r.reference == reference)
        .expect("indexed")
        .duplicates
}

/// A document arriving in or withdrawn from another dossier changes a dossier's flag, though
/// its own version does not move; the list filters on it.
async fn the_duplicates_flag_follows_documents_of_other_dossiers(repo: Repo) {
    with_campaign(&repo).await;
    for reference in ["R-1", "R-2", "R-3"] {
        create_dossier(&repo, reference).await;
    }
    let add = |reference: &'static str, version: i64, doc: DocumentRecord| {
        let repo = repo.clone();
        async move {
            let change = DossierChange {
                expected_version: version,
                new_documents: vec![doc],
                ..DossierChange::default()
            };
            repo.apply(reference, change).await.expect("apply");
        }
    };
    add("R-1", 0, document("d1", "R-1", 'a')).await;
    add("R-3", 0, document("d3", "R-3", 'b')).await;
    assert!(!flagged(&repo, "R-1").await);
    // The same content in R-2: R-1, untouched, is flagged too.
    add("R-2", 0, document("d2", "R-2", 'a')).await;
    assert!(flagged(&repo, "R-1").await);
    assert!(flagged(&repo, "R-2").await);
    assert!(!flagged(&repo, "R-3").await);
    let listed = references(
        &repo,
        &DossierQuery {
            duplicates: Some(true),
            ..query(10)
        },
    )
    .await;
    assert_eq!(listed, ["R-1", "R-2"]);
    let counts = repo.dossier_index_counts(None).await.expect("counts");
    assert_eq!(counts.duplicates, 2);
    // R-2 withdraws it: R-1 is alone with it again.
    let withdrawal = DossierChange {
        expected_version: 1,
        withdrawals: vec!["d2".into()],
        ..DossierChange::default()
    };
    repo.apply("R-2", withdrawal).await.expect("withdraw");
    assert!(!flagged(&repo, "R-1").await);
    assert!(!flagged(&repo, "R-2").await);
    // A row written with a flag is written with the flag the documents give.
    repo.put_dossier_index(&DossierIndexRow {
        duplicates: true,
        ..row("R-3", 1)
    })
    .await
    .expect("index");
    assert!(!flagged(&repo, "R-3").await);
    assert_eq!(repo.spread_stale_content(100).await.expect("spread"), 0);
}
