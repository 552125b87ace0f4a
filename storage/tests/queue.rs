//! The review queue (`ReviewQueueRepository`), on every backend: which documents await review
//! and in what order, the filters, claims that expire, moving on, decisions that empty the
//! queue, and concurrent reviewers who never share a document.
//!
//! Each test is a function of an `Arc<dyn Repository>`, run on SQLite (a fresh file) and on
//! PostgreSQL (a fresh database on the server `GUICHET_TEST_DATABASE_URL` names; skipped
//! without it, a failure when `GUICHET_TEST_REQUIRE_ALL_BACKENDS=1`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use serde_json::json;
use storage::repository::{QueueCount, QueueFilter};
use storage::{
    CampaignRecord, DocumentRecord, DossierChange, DossierRecord, NewEvent, RepoError, Repository,
    ReviewChange,
};

#[macro_use]
mod common;

type Repo = Arc<dyn Repository>;

backends!(
    only_documents_awaiting_review_are_handed_out_oldest_first,
    filters_choose_the_campaign_and_the_piece,
    a_live_claim_is_kept_from_others_until_it_expires,
    moving_on_releases_the_previous_claim,
    a_decision_or_a_withdrawal_takes_the_document_out,
    counts_say_what_is_left_for_each_reviewer,
    concurrent_reviewers_never_share_a_document,
    reviewers_draining_the_queue_get_each_document_once,
);

/// Now, to the microsecond: what both backends store exactly.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

const CLAIM: Duration = Duration::from_secs(10 * 60);

fn any() -> QueueFilter {
    QueueFilter::default()
}

async fn with_campaigns(repo: &Repo) {
    for id in ["cap", "bts"] {
        repo.put_campaign(&CampaignRecord {
            id: id.into(),
            source: format!("id = \"{id}\""),
            loaded_at: now(),
        })
        .await
        .expect("put_campaign");
    }
}

async fn create_dossier(repo: &Repo, campaign: &str, reference: &str) {
    let at = now();
    let (_, created) = repo
        .create_dossier(
            &DossierRecord {
                reference: reference.into(),
                campaign: campaign.into(),
                candidate: json!({"last_name": "Martin"}),
                state: "submitted".into(),
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
                data: json!({"campaign": campaign}),
            },
            "system",
        )
        .await
        .expect("create_dossier");
    assert!(created);
}

/// A document awaiting review (verdict accepted, scanned clean, no decision), received
/// `minutes` minutes after a fixed origin, so tests choose the queue's order.
fn document(id: &str, dossier: &str, piece: &str, minutes: i64) -> DocumentRecord {
    let origin = DateTime::parse_from_rfc3339("2027-03-01T08:00:00Z")
        .expect("a date")
        .with_timezone(&Utc);
    DocumentRecord {
        id: id.into(),
        dossier: dossier.into(),
        piece: Some(piece.into()),
        filename: Some(format!("{id}.pdf")),
        declared_type: None,
        sha256: format!("{:0>64}", id.len()),
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
        received_at: origin + TimeDelta::minutes(minutes),
        scan: Some("clean".into()),
        scan_signature: None,
        display_sha256: None,
        purged_at: None,
        purge_rule: None,
    }
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

async fn add(repo: &Repo, documents: Vec<DocumentRecord>) {
    for doc in documents {
        let reference = doc.dossier.clone();
        apply_with_retry(repo, &reference, |version| DossierChange {
            expected_version: version,
            new_documents: vec![doc.clone()],
            ..DossierChange::default()
        })
        .await;
    }
}

async fn decide(repo: &Repo, reference: &str, document: &str, by: &str) {
    apply_with_retry(repo, reference, |version| DossierChange {
        expected_version: version,
        reviews: vec![ReviewChange {
            document: document.into(),
            decision: "accepted".into(),
            reason: None,
            by: by.into(),
        }],
        ..DossierChange::default()
    })
    .await;
}

/// The id of the document `reviewer` is handed next, if any.
async fn next(
    repo: &Repo,
    reviewer: &str,
    filter: &QueueFilter,
    at: DateTime<Utc>,
) -> Option<String> {
    repo.claim_next(reviewer, filter, CLAIM, at)
        .await
        .expect("claim_next")
        .map(|claimed| claimed.document)
}

/// Who holds a live claim on which document, at `at`.
async fn holders(repo: &Repo, at: DateTime<Utc>) -> BTreeMap<String, String> {
    repo.live_claims(None, at)
        .await
        .expect("live_claims")
        .into_iter()
        .map(|c| (c.document, c.reviewer))
        .collect()
}

// ---------------------------------------------------------------------------------------------

async fn only_documents_awaiting_review_are_handed_out_oldest_first(repo: Repo) {
    with_campaigns(&repo).await;
    create_dossier(&repo, "cap", "R-1").await;
    create_dossier(&repo, "cap", "R-CLOSED").await;
    let reviewed = DocumentRecord {
        review: Some("accepted".into()),
        reviewed_by: Some("auto".into()),
        reviewed_at: Some(now()),
        ..document("reviewed", "R-1", "identite", 0)
    };
    let refused_by_checks = DocumentRecord {
        verdict: "rejected".into(),
        ..document("refused", "R-1", "identite", 1)
    };
    let unclassified = DocumentRecord {
        piece: None,
        ..document("unclassified", "R-1", "identite", 2)
    };
    let infected = DocumentRecord {
        scan: Some("infected".into()),
        scan_signature: Some("Eicar-Test-Signature".into()),
        ..document("infected", "R-1", "identite", 3)
    };
    let scanning = DocumentRecord {
        scan: Some("pending".into()),
        ..document("scanning", "R-1", "identite", 4)
    };
    let unscannable = DocumentRecord {
        scan: Some("error".into()),
        ..document("d-unscannable", "R-1", "identite", 30)
    };
    let never_scanned = DocumentRecord {
        scan: None,
        ..document("d-unscanned", "R-1", "identite", 20)
    };
    add(
        &repo,
        vec![
            reviewed,
            refused_by_checks,
            unclassified,
            infected,
            scanning,
            unscannable,
            never_scanned,
            // Received at the same instant: the id breaks the tie.
            document("d-b", "R-1", "jdc", 10),
            document("d-a", "R-1", "identite", 10),
            document("d-withdrawn", "R-1", "identite", 5),
            document("d-closed", "R-CLOSED", "identite", 6),
        ],
    )
    .await;
    apply_with_retry(&repo, "R-1", |version| DossierChange {
        expected_version: version,
        withdrawals: vec!["d-withdrawn".into()],
        ..DossierChange::default()
    })
    .await;
    apply_with_retry(&repo, "R-CLOSED", |version| DossierChange {
        expected_version: version,
        state: Some(("closed".into(), None)),
        ..DossierChange::default()
    })
    .await;

    let at = now();
    let count = repo
        .queue_count("camille", &any(), at)
        .await
        .expect("count");
    assert_eq!(
        count,
        QueueCount {
            awaiting: 4,
            claimed_by_others: 0
        }
    );
    // Each claims the oldest nobody holds.
    let mut handed = Vec::new();
    for reviewer in ["camille", "alix", "dominique", "eden"] {
        let claimed = repo
            .claim_next(reviewer, &any(), CLAIM, at)
            .await
            .expect("claim_next")
            .expect("a document awaits");
        assert_eq!(claimed.reviewer, reviewer);
        assert_eq!(claimed.dossier, "R-1");
        assert_eq!(claimed.claimed_at, at);
        assert_eq!(claimed.claimed_until, at + TimeDelta::minutes(10));
        handed.push(claimed.document);
    }
    assert_eq!(handed, ["d-a", "d-b", "d-unscanned", "d-unscannable"]);
    assert_eq!(next(&repo, "fanny", &any(), at).await, None);
    let pieces: Vec<String> = repo
        .live_claims(Some("R-1"), at)
        .await
        .expect("live_claims")
        .into_iter()
        .map(|c| c.piece)
        .collect();
    assert_eq!(pieces.len(), 4);
    assert!(pieces.contains(&"jdc".to_string()), "{pieces:?}");
    assert!(
        repo.live_claims(Some("R-CLOSED"), at)
            .await
            .expect("live_claims")
            .is_empty()
    );
}

async fn filters_choose_the_campaign_and_the_piece(repo: Repo) {
    with_campaigns(&repo).await;
    create_dossier(&repo, "cap", "CAP-1").await;
    create_dossier(&repo, "bts", "BTS-1").await;
    add(
        &repo,
        vec![
            document("cap-identite", "CAP-1", "identite", 0),
            document("cap-jdc", "CAP-1", "jdc", 1),
            document("bts-identite", "BTS-1", "identite", 2),
            document("bts-jdc", "BTS-1", "jdc", 3),
        ],
    )
    .await;
    let at = now();
    let bts = QueueFilter {
        campaign: Some("bts".into()),
        piece: None,
        scope: None,
    };
    let jdc = QueueFilter {
        campaign: None,
        piece: Some("jdc".into()),
        scope: None,
    };
    let bts_jdc = QueueFilter {
        campaign: Some("bts".into()),
        piece: Some("jdc".into()),
        scope: None,
    };
    let unknown = QueueFilter {
        campaign: Some("nowhere".into()),
        piece: None,
        scope: None,
    };
    let counted = |filter: QueueFilter| {
        let repo = repo.clone();
        async move {
            repo.queue_count("camille", &filter, at)
                .await
                .expect("count")
                .awaiting
        }
    };
    assert_eq!(counted(any()).await, 4);
    assert_eq!(counted(bts.clone()).await, 2);
    assert_eq!(counted(jdc.clone()).await, 2);
    assert_eq!(counted(bts_jdc.clone()).await, 1);
    assert_eq!(counted(unknown.clone()).await, 0);
    let scope = |campaigns: &[&str], campaign: Option<&str>| QueueFilter {
        campaign: campaign.map(str::to_string),
        piece: None,
        scope: Some(campaigns.iter().map(|c| c.to_string()).collect()),
    };
    assert_eq!(counted(scope(&["bts"], None)).await, 2, "a scope");
    assert_eq!(counted(scope(&["bts", "cap"], None)).await, 4);
    assert_eq!(counted(scope(&[], None)).await, 0, "an empty scope");
    assert_eq!(
        counted(scope(&["bts"], Some("cap"))).await,
        0,
        "a filter does not lift the scope"
    );

    assert_eq!(
        next(&repo, "r1", &bts, at).await.as_deref(),
        Some("bts-identite")
    );
    assert_eq!(
        next(&repo, "r2", &jdc, at).await.as_deref(),
        Some("cap-jdc")
    );
    assert_eq!(
        next(&repo, "r3", &bts_jdc, at).await.as_deref(),
        Some("bts-jdc")
    );
    assert_eq!(next(&repo, "r4", &bts_jdc, at).await, None);
    assert_eq!(next(&repo, "r5", &unknown, at).await, None);
    assert_eq!(
        next(&repo, "r7", &scope(&["cap"], None), at)
            .await
            .as_deref(),
        Some("cap-identite"),
        "the scope's oldest"
    );
    assert_eq!(next(&repo, "r8", &scope(&["bts"], None), at).await, None);
    assert_eq!(next(&repo, "r6", &any(), at).await, None);
}

async fn a_live_claim_is_kept_from_others_until_it_expires(repo: Repo) {
    with_campaigns(&repo).await;
    create_dossier(&repo, "cap", "R-1").await;
    add(&repo, vec![document("d1", "R-1", "identite", 0)]).await;
    let at = now();
    assert_eq!(
        next(&repo, "camille", &any(), at).await.as_deref(),
        Some("d1")
    );
    let almost = at + TimeDelta::minutes(10) - TimeDelta::seconds(1);
    assert_eq!(next(&repo, "alix", &any(), almost).await, None);
    assert_eq!(
        repo.queue_count("alix", &any(), almost)
            .await
            .expect("count"),
        QueueCount {
            awaiting: 1,
            claimed_by_others: 1
        }
    );
    // Expired: taken over, with a claim of its own.
    let later = at + TimeDelta::minutes(10);
    assert!(
        holders(&repo, later).await.is_empty(),
        "expired at claimed_until"
    );
    let taken = repo
        .claim_next("alix", &any(), CLAIM, later)
        .await
        .expect("claim_next")
        .expect("the expired claim is taken over");
    assert_eq!(taken.document, "d1");
    assert_eq!(taken.reviewer, "alix");
    assert_eq!(taken.claimed_until, later + TimeDelta::minutes(10));
    assert_eq!(
        holders(&repo, later).await,
        BTreeMap::from([("d1".to_string(), "alix".to_string())])
    );
    assert_eq!(next(&repo, "camille", &any(), later).await, None);
}

async fn moving_on_releases_the_previous_claim(repo: Repo) {
    with_campaigns(&repo).await;
    create_dossier(&repo, "cap", "R-1").await;
    add(
        &repo,
        vec![
            document("d1", "R-1", "identite", 0),
            document("d2", "R-1", "identite", 1),
        ],
    )
    .await;
    let at = now();
    assert_eq!(
        next(&repo, "camille", &any(), at).await.as_deref(),
        Some("d1")
    );
    // Asking for the next one hands another document and gives d1 back to the queue.
    assert_eq!(
        next(&repo, "camille", &any(), at).await.as_deref(),
        Some("d2")
    );
    assert_eq!(
        holders(&repo, at).await,
        BTreeMap::from([("d2".to_string(), "camille".to_string())])
    );
    assert_eq!(next(&repo, "alix", &any(), at).await.as_deref(), Some("d1"));
    // Passing over the last document: nothing else, and d2 is released all the same.
    assert_eq!(next(&repo, "camille", &any(), at).await, None);
    assert_eq!(
        holders(&repo, at).await,
        BTreeMap::from([("d1".to_string(), "alix".to_string())])
    );
    assert_eq!(
        next(&repo, "camille", &any(), at).await.as_deref(),
        Some("d2")
    );
    // Released by hand.
    assert_eq!(repo.release_claims("camille").await.expect("release"), 1);
    assert_eq!(repo.release_claims("camille").await.expect("release"), 0);
    assert_eq!(
        next(&repo, "dominique", &any(), at).await.as_deref(),
        Some("d2")
    );
}

async fn a_decision_or_a_withdrawal_takes_the_document_out(repo: Repo) {
    with_campaigns(&repo).await;
    create_dossier(&repo, "cap", "R-1").await;
    add(
        &repo,
        vec![
            document("d1", "R-1", "identite", 0),
            document("d2", "R-1", "identite", 1),
            document("d3", "R-1", "identite", 2),
        ],
    )
    .await;
    let at = now();
    assert_eq!(
        next(&repo, "camille", &any(), at).await.as_deref(),
        Some("d1")
    );
    assert_eq!(next(&repo, "alix", &any(), at).await.as_deref(), Some("d2"));
    decide(&repo, "R-1", "d1", "camille").await;
    apply_with_retry(&repo, "R-1", |version| DossierChange {
        expected_version: version,
        withdrawals: vec!["d2".into()],
        ..DossierChange::default()
    })
    .await;
    // Both claims went with their documents.
    assert!(holders(&repo, at).await.is_empty());
    assert_eq!(repo.release_claims("camille").await.expect("release"), 0);
    assert_eq!(repo.release_claims("alix").await.expect("release"), 0);
    assert_eq!(
        repo.queue_count("eden", &any(), at).await.expect("count"),
        QueueCount {
            awaiting: 1,
            claimed_by_others: 0
        }
    );
    assert_eq!(
        next(&repo, "camille", &any(), at).await.as_deref(),
        Some("d3")
    );
    decide(&repo, "R-1", "d3", "camille").await;
    assert_eq!(next(&repo, "camille", &any(), at).await, None);
    assert_eq!(
        repo.queue_count("camille", &any(), at)
            .await
            .expect("count"),
        QueueCount::default()
    );
}

async fn counts_say_what_is_left_for_each_reviewer(repo: Repo) {
    with_campaigns(&repo).await;
    create_dossier(&repo, "cap", "R-1").await;
    create_dossier(&repo, "bts", "B-1").await;
    add(
        &repo,
        vec![
            document("d1", "R-1", "identite", 0),
            document("d2", "R-1", "jdc", 1),
            document("d3", "B-1", "identite", 2),
        ],
    )
    .await;
    let at = now();
    next(&repo, "camille", &any(), at).await;
    next(&repo, "alix", &any(), at).await;
    let camille = repo
        .queue_count("camille", &any(), at)
        .await
        .expect("count");
    assert_eq!(camille.awaiting, 3);
    assert_eq!(camille.claimed_by_others, 1, "alix's");
    assert_eq!(camille.left(), 2, "camille's own document and d3");
    let eden = repo.queue_count("eden", &any(), at).await.expect("count");
    assert_eq!(eden.left(), 1);
    let cap = QueueFilter {
        campaign: Some("cap".into()),
        piece: None,
        scope: None,
    };
    assert_eq!(
        repo.queue_count("eden", &cap, at).await.expect("count"),
        QueueCount {
            awaiting: 2,
            claimed_by_others: 2
        }
    );
    // Expired claims count for nobody.
    let later = at + TimeDelta::hours(1);
    assert_eq!(
        repo.queue_count("eden", &any(), later)
            .await
            .expect("count")
            .left(),
        3
    );
}

/// 2 teams of 20 reviewers ask at the same moment: 40 different documents.
async fn concurrent_reviewers_never_share_a_document(repo: Repo) {
    with_campaigns(&repo).await;
    let mut documents = Vec::new();
    for d in 0..12 {
        let reference = format!("R-{d:02}");
        create_dossier(&repo, "cap", &reference).await;
        for i in 0..5 {
            documents.push(document(
                &format!("d-{d:02}-{i}"),
                &reference,
                "identite",
                i64::from(d * 5 + i),
            ));
        }
    }
    add(&repo, documents).await;
    let at = now();
    let mut tasks = Vec::new();
    for team in ["alpha", "beta"] {
        for member in 0..20 {
            let repo = repo.clone();
            let reviewer = format!("{team}-{member}");
            tasks.push(tokio::spawn(async move {
                let claimed = repo
                    .claim_next(&reviewer, &QueueFilter::default(), CLAIM, at)
                    .await
                    .expect("claim_next")
                    .expect("60 documents for 40 reviewers");
                (claimed.document, reviewer)
            }));
        }
    }
    let mut handed: BTreeMap<String, String> = BTreeMap::new();
    for task in tasks {
        let (document, reviewer) = task.await.expect("task");
        if let Some(other) = handed.insert(document.clone(), reviewer.clone()) {
            panic!("{document} handed to {other} and {reviewer}");
        }
    }
    assert_eq!(handed.len(), 40);
    assert_eq!(holders(&repo, at).await, handed, "one live claim each");
    assert_eq!(
        repo.queue_count("outsider", &any(), at)
            .await
            .expect("count"),
        QueueCount {
            awaiting: 60,
            claimed_by_others: 40
        }
    );
}

/// 2 teams of 20 reviewers work the queue at once, each deciding what it is handed before
/// asking for the next: every document is handed out exactly once, then the queue is empty.
async fn reviewers_draining_the_queue_get_each_document_once(repo: Repo) {
    with_campaigns(&repo).await;
    let mut documents = Vec::new();
    let mut expected = BTreeSet::new();
    for d in 0..10 {
        let reference = format!("R-{d:02}");
        create_dossier(&repo, if d % 2 == 0 { "cap" } else { "bts" }, &reference).await;
        for i in 0..10 {
            let id = format!("d-{d:02}-{i}");
            expected.insert(id.clone());
            documents.push(document(&id, &reference, "identite", i64::from(i * 10 + d)));
        }
    }
    add(&repo, documents).await;
    let mut tasks = Vec::new();
    for team in ["alpha", "beta"] {
        for member in 0..20 {
            let repo = repo.clone();
            let reviewer = format!("{team}-{member}");
            tasks.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                while let Some(claimed) = repo
                    .claim_next(&reviewer, &QueueFilter::default(), CLAIM, now())
                    .await
                    .expect("claim_next")
                {
                    decide(&repo, &claimed.dossier, &claimed.document, &reviewer).await;
                    mine.push(claimed.document);
                }
                mine
            }));
        }
    }
    let mut handed = Vec::new();
    for task in tasks {
        handed.extend(task.await.expect("task"));
    }
    let distinct: BTreeSet<String> = handed.iter().cloned().collect();
    assert_eq!(distinct.len(), handed.len(), "a document handed out twice");
    assert_eq!(distinct, expected, "every document handed out");
    assert_eq!(
        repo.queue_count("anyone", &any(), now())
            .await
            .expect("count"),
        QueueCount::default()
    );
    assert!(holders(&repo, now()).await.is_empty());
}
