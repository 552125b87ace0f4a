//! What campaign exports read (`ExportRepository`), on every backend: pages of a campaign's
//! dossiers in reference order that join up without gap or overlap, the documents of a page
//! and of no other, the other dossiers holding the same content, and the candidate keys.
//!
//! Each test is a function of an `Arc<dyn Repository>`, run on SQLite (a fresh file) and on
//! PostgreSQL (a fresh database on the server `GUICHET_TEST_DATABASE_URL` names; skipped
//! without it, a failure when `GUICHET_TEST_REQUIRE_ALL_BACKENDS=1`).

use std::sync::Arc;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use serde_json::{Value, json};
use storage::repository::HeldContent;
use storage::{CampaignRecord, DocumentRecord, DossierChange, DossierRecord, NewEvent, Repository};

#[macro_use]
mod common;

type Repo = Arc<dyn Repository>;

backends!(
    pages_follow_the_reference_order_without_gap_or_overlap,
    a_page_reads_its_own_documents_only,
    content_held_elsewhere_names_the_other_dossiers,
    candidate_keys_are_those_of_the_campaign,
);

fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

async fn campaign(repo: &Repo, id: &str) {
    repo.put_campaign(&CampaignRecord {
        id: id.into(),
        source: format!("id = \"{id}\""),
        loaded_at: now(),
    })
    .await
    .expect("put_campaign");
}

async fn dossier(repo: &Repo, campaign: &str, reference: &str, candidate: Value) {
    let at = now();
    repo.create_dossier(
        &DossierRecord {
            reference: reference.into(),
            campaign: campaign.into(),
            candidate,
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
            data: json!({}),
        },
        "system",
    )
    .await
    .expect("create_dossier");
}

/// A document of `dossier` whose content is `content` (a digit repeated), received `minute`
/// minutes after a fixed origin.
fn document(id: &str, dossier: &str, content: char, minute: i64) -> DocumentRecord {
    let origin = DateTime::parse_from_rfc3339("2027-03-01T08:00:00Z")
        .expect("a date")
        .with_timezone(&Utc);
    DocumentRecord {
        id: id.into(),
        dossier: dossier.into(),
        piece: Some("identite".into()),
        filename: Some(format!("{id}.pdf")),
        declared_type: None,
        sha256: content.to_string().repeat(64),
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
        received_at: origin + TimeDelta::minutes(minute),
        scan: None,
        scan_signature: None,
        display_sha256: None,
        purged_at: None,
        purge_rule: None,
    }
}

async fn add(repo: &Repo, documents: Vec<DocumentRecord>) {
    for doc in documents {
        let version = repo
            .dossier(&doc.dossier)
            .await
            .expect("dossier")
            .expect("the dossier exists")
            .version;
        let reference = doc.dossier.clone();
        repo.apply(
            &reference,
            DossierChange {
                expected_version: version,
                new_documents: vec![doc],
                ..DossierChange::default()
            },
        )
        .await
        .expect("apply");
    }
}

async fn withdraw(repo: &Repo, reference: &str, document: &str) {
    let version = repo
        .dossier(reference)
        .await
        .expect("dossier")
        .expect("the dossier exists")
        .version;
    repo.apply(
        reference,
        DossierChange {
            expected_version: version,
            withdrawals: vec![document.into()],
            ..DossierChange::default()
        },
    )
    .await
    .expect("apply");
}

async fn pages_follow_the_reference_order_without_gap_or_overlap(repo: Repo) {
    campaign(&repo, "cap").await;
    campaign(&repo, "bts").await;
    for reference in ["C-05", "C-01", "C-04", "C-02", "C-03"] {
        dossier(&repo, "cap", reference, json!({})).await;
    }
    dossier(&repo, "bts", "C-025", json!({})).await;
    let mut seen = Vec::new();
    let mut after = String::new();
    let mut pages = 0;
    loop {
        let page = repo
            .campaign_dossiers("cap", &after, 2)
            .await
            .expect("a page");
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = last.reference.clone();
        seen.extend(page.into_iter().map(|d| d.reference));
        pages += 1;
    }
    assert_eq!(seen, ["C-01", "C-02", "C-03", "C-04", "C-05"]);
    assert_eq!(pages, 3);
    assert!(
        repo.campaign_dossiers("nope", "", 10)
            .await
            .expect("no page")
            .is_empty()
    );
}

async fn a_page_reads_its_own_documents_only(repo: Repo) {
    campaign(&repo, "cap").await;
    campaign(&repo, "bts").await;
    for reference in ["A", "B", "C"] {
        dossier(&repo, "cap", reference, json!({})).await;
    }
    dossier(&repo, "bts", "BB", json!({})).await;
    add(
        &repo,
        vec![
            document("a1", "A", '1', 1),
            document("b2", "B", '2', 5),
            document("b1", "B", '3', 2),
            document("bb", "BB", '4', 1),
            document("c1", "C", '5', 1),
        ],
    )
    .await;
    withdraw(&repo, "B", "b2").await;
    let documents = repo
        .campaign_documents("cap", "A", "B")
        .await
        .expect("the documents of the page (A, B]");
    let ids: Vec<(&str, &str)> = documents
        .iter()
        .map(|d| (d.dossier.as_str(), d.id.as_str()))
        .collect();
    // B's documents oldest first, the withdrawn one included; BB (after B, another
    // campaign) and C (after the page) left out.
    assert_eq!(ids, [("B", "b1"), ("B", "b2")]);
    assert!(documents[1].withdrawn_at.is_some());
    let all = repo
        .campaign_documents("cap", "", "C")
        .await
        .expect("every document");
    assert_eq!(all.len(), 4);
}

async fn content_held_elsewhere_names_the_other_dossiers(repo: Repo) {
    campaign(&repo, "cap").await;
    campaign(&repo, "bts").await;
    for reference in ["A", "B", "C", "D"] {
        dossier(&repo, "cap", reference, json!({})).await;
    }
    dossier(&repo, "bts", "Z", json!({})).await;
    add(
        &repo,
        vec![
            // Content 1: A, B and Z (another campaign) hold it.
            document("a1", "A", '1', 1),
            document("b1", "B", '1', 1),
            document("z1", "Z", '1', 1),
            // Content 2: A twice, nobody else.
            document("a2", "A", '2', 2),
            document("a3", "A", '2', 3),
            // Content 3: C, and D withdrew its copy.
            document("c3", "C", '3', 1),
            document("d3", "D", '3', 1),
        ],
    )
    .await;
    withdraw(&repo, "D", "d3").await;
    let held = |sha: char, dossier: &str| HeldContent {
        sha256: sha.to_string().repeat(64),
        dossier: dossier.into(),
        campaign: if dossier == "Z" { "bts" } else { "cap" }.into(),
    };
    let first = repo
        .content_held_elsewhere("cap", "", "A")
        .await
        .expect("held elsewhere, page (, A]");
    assert_eq!(first, [held('1', "B"), held('1', "Z")]);
    let all = repo
        .content_held_elsewhere("cap", "", "D")
        .await
        .expect("held elsewhere, every dossier");
    // D's withdrawn copy is nobody's duplicate, but D still sees C's.
    assert_eq!(
        all,
        [
            held('1', "A"),
            held('1', "B"),
            held('1', "Z"),
            held('3', "C"),
        ]
    );
}

async fn candidate_keys_are_those_of_the_campaign(repo: Repo) {
    campaign(&repo, "cap").await;
    campaign(&repo, "bts").await;
    dossier(
        &repo,
        "cap",
        "A",
        json!({"last_name": "Martin", "birth_date": "2004-01-01"}),
    )
    .await;
    dossier(
        &repo,
        "cap",
        "B",
        json!({"last_name": "Durand", "ine": "123"}),
    )
    .await;
    dossier(&repo, "cap", "C", json!({})).await;
    dossier(&repo, "bts", "Z", json!({"other": true})).await;
    assert_eq!(
        repo.candidate_keys("cap").await.expect("keys"),
        ["birth_date", "ine", "last_name"]
    );
    assert!(repo.candidate_keys("nope").await.expect("keys").is_empty());
}
