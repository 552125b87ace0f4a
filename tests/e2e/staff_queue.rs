//! The review queue end to end, against real `guichet serve` processes on every backend: two
//! reviewers asking for "Document suivant à examiner" over HTTP are handed different
//! documents, the count left goes down, a decision or moving on releases a document, and the
//! campaign and piece filters choose what is handed out.

use crate::common::{Backend, Server, sample};
use crate::staff_support::{PASSWORD, Session, create_user, csrf_of, location, submitted_dossier};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_every_backend!(
    two_reviewers_are_handed_different_documents,
    filters_choose_the_campaign_and_the_piece,
);

/// What "Document suivant à examiner" gave: `(dossier, document)` from the redirect to the
/// document on its dossier's page, or `None` when the queue page said there was none.
async fn next(staff: &Session, filters: &[(&str, &str)]) -> Option<(String, String)> {
    let csrf = csrf_of(&staff.page("/staff/queue").await);
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(filters);
    let answer = staff.post("/staff/queue/next", &form).await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let to = location(&answer);
    if to.starts_with("/staff/queue?") {
        assert!(to.ends_with("vide=1"), "{to}");
        let page = staff.page(&to).await;
        assert!(page.contains("Aucun document à examiner"), "{page}");
        return None;
    }
    let (reference, document) = to
        .strip_prefix("/staff/dossiers/")
        .and_then(|rest| rest.split_once("#doc-"))
        .unwrap_or_else(|| panic!("a document on its dossier's page: {to}"));
    let page = staff.page(&format!("/staff/dossiers/{reference}")).await;
    assert!(
        page.contains(&format!("id=\"doc-{document}\"")),
        "the anchor exists"
    );
    Some((reference.to_string(), document.to_string()))
}

/// The count "document(s) à examiner" of a page (the dashboard or the queue's).
fn left(page: &str, id: &str) -> u64 {
    let marker = format!("<p id=\"{id}\"><span class=\"count\">");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("{id} in {page}"))
        + marker.len();
    let end = page[start..].find('<').expect("the count ends") + start;
    page[start..end].parse().expect("a number")
}

async fn queue_left(staff: &Session) -> u64 {
    left(&staff.page("/staff/queue").await, "queue-left")
}

async fn decide(staff: &Session, reference: &str, document: &str, decision: &str) {
    let csrf = csrf_of(&staff.page(&format!("/staff/dossiers/{reference}")).await);
    let mut form = vec![("csrf", csrf.as_str()), ("decision", decision)];
    if decision == "reject" {
        form.push(("reason_code", "illisible"));
    }
    let answer = staff
        .post(
            &format!("/staff/dossiers/{reference}/documents/{document}/review"),
            &form,
        )
        .await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
}

async fn two_reviewers_are_handed_different_documents(backend: Backend) {
    let server = Server::start_on(backend).await;
    create_user(&server, "camille", "reviewer", PASSWORD);
    create_user(&server, "alix", "reviewer", PASSWORD);
    let mut ids = Vec::new();
    for reference in ["Q-1", "Q-2", "Q-3"] {
        ids.push(submitted_dossier(&server, "bts", reference).await);
    }
    let camille = Session::logged_in(&server, "camille").await;
    let alix = Session::logged_in(&server, "alix").await;
    let dashboard = camille.page("/staff/").await;
    assert_eq!(left(&dashboard, "queue-left"), 3);
    assert!(dashboard.contains("Document suivant à examiner"));
    assert!(
        dashboard.contains("href=\"/staff/queue\""),
        "the nav links the queue"
    );

    // Oldest first, and never the same document to both.
    let first = next(&camille, &[]).await.expect("a document for camille");
    assert_eq!(first, ("Q-1".to_string(), ids[0].clone()));
    let second = next(&alix, &[]).await.expect("a document for alix");
    assert_eq!(second, ("Q-2".to_string(), ids[1].clone()));
    assert_eq!(queue_left(&alix).await, 2, "camille's is not alix's to do");
    let queue = alix.page("/staff/queue").await;
    assert!(queue.contains("camille"), "who looks at what: {queue}");
    assert!(queue.contains("Rendre mon document à la file"));

    // A decision takes the document out; the next one is another reviewer's no more.
    decide(&camille, "Q-1", &ids[0], "accept").await;
    assert_eq!(queue_left(&camille).await, 1, "Q-2 is alix's, Q-3 is left");
    assert_eq!(
        next(&camille, &[]).await,
        Some(("Q-3".to_string(), ids[2].clone()))
    );
    decide(&alix, "Q-2", &ids[1], "reject").await;
    assert_eq!(next(&alix, &[]).await, None, "Q-3 is camille's");
    assert_eq!(queue_left(&alix).await, 0);

    // Moving on releases: camille passes over Q-3, which alix is then handed.
    assert_eq!(next(&camille, &[]).await, None);
    assert_eq!(
        next(&alix, &[]).await,
        Some(("Q-3".to_string(), ids[2].clone()))
    );
    decide(&alix, "Q-3", &ids[2], "accept").await;
    assert_eq!(queue_left(&camille).await, 0);
    assert_eq!(left(&camille.page("/staff/").await, "queue-left"), 0);

    // The form needs the session's token.
    let forged = camille.post("/staff/queue/next", &[("csrf", "x")]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
}

async fn filters_choose_the_campaign_and_the_piece(backend: Backend) {
    let server = Server::start_on(backend).await;
    create_user(&server, "camille", "reviewer", PASSWORD);
    let bts_identity = submitted_dossier(&server, "bts", "B-1").await;
    let cap_identity = submitted_dossier(&server, "cap", "C-1").await;
    // An open dossier's document awaits review too.
    server
        .create_dossier(
            "bts",
            "B-2",
            json!({"birth_date": "1987-04-02", "nationality": "FR", "amenagement": false}),
        )
        .await;
    let scanned: Value = server
        .upload(
            "B-2",
            "dossier_scanne",
            "dossier.pdf",
            sample("attestation-jdc.pdf"),
        )
        .await
        .json()
        .await
        .expect("json");
    let scanned = scanned["id"].as_str().expect("document id").to_string();
    let camille = Session::logged_in(&server, "camille").await;
    assert_eq!(queue_left(&camille).await, 3);
    let filtered = camille.page("/staff/queue?campaign=cap").await;
    assert_eq!(left(&filtered, "queue-left"), 3);
    assert_eq!(left(&filtered, "queue-left-filtered"), 1);
    assert!(filtered.contains("<option value=\"dossier_scanne\""));

    assert_eq!(
        next(&camille, &[("campaign", "cap")]).await,
        Some(("C-1".to_string(), cap_identity))
    );
    assert_eq!(
        next(&camille, &[("piece", "dossier_scanne")]).await,
        Some(("B-2".to_string(), scanned))
    );
    assert_eq!(
        next(
            &camille,
            &[("campaign", "cap"), ("piece", "dossier_scanne")]
        )
        .await,
        None
    );
    let empty = camille
        .page("/staff/queue?campaign=cap&piece=dossier_scanne&vide=1")
        .await;
    assert!(empty.contains("Aucun document à examiner pour ces critères."));
    assert_eq!(left(&empty, "queue-left-filtered"), 0);
    // Moving on released the others: the oldest of all comes first again.
    assert_eq!(
        next(&camille, &[("campaign", ""), ("piece", "")]).await,
        Some(("B-1".to_string(), bts_identity))
    );
}
