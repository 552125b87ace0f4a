//! Staff accounts scoped to campaigns, end to end over HTTP on every backend: a reviewer
//! scoped to one campaign does not see the other's dossiers in the list, its counts or its
//! CSV, gets 404 (as if absent) on its dossier pages, document content, pictures, actions and
//! exports, sees no duplicate in it, and is handed only its campaign's documents by the
//! queue; an unscoped reviewer sees both. Scopes are set by `guichet user create --campaign`
//! and on the admin page.

use crate::common::{Backend, Server};
use crate::staff_support::{
    PASSWORD, Session, create_user, create_user_with, csrf_of, location, submitted_dossier,
};
use reqwest::StatusCode;

on_every_backend!(
    a_scoped_reviewer_sees_and_acts_only_within_its_campaigns,
    admins_set_the_campaigns_of_an_account,
);

/// What "Document suivant à examiner" hands `staff`: the redirect's path, or `None`.
async fn next(staff: &Session) -> Option<String> {
    let csrf = csrf_of(&staff.page("/staff/queue").await);
    let answer = staff.post("/staff/queue/next", &[("csrf", &csrf)]).await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let to = location(&answer);
    (!to.starts_with("/staff/queue?")).then_some(to)
}

/// The count of the queue page's "document(s) à examiner".
async fn queue_left(staff: &Session) -> u64 {
    let page = staff.page("/staff/queue").await;
    let marker = "<p id=\"queue-left\"><span class=\"count\">";
    let start = page.find(marker).expect("the count") + marker.len();
    let end = page[start..].find('<').expect("the count ends") + start;
    page[start..end].parse().expect("a number")
}

async fn status(staff: &Session, path: &str) -> StatusCode {
    staff.get(path).await.status()
}

async fn a_scoped_reviewer_sees_and_acts_only_within_its_campaigns(backend: Backend) {
    let server = Server::start_on(backend).await;
    // Both dossiers hold the same sample files: each is the other's duplicate.
    let bts_doc = submitted_dossier(&server, "bts", "BTS-1").await;
    let cap_doc = submitted_dossier(&server, "cap", "CAP-1").await;
    let scoped = ["--campaign", "bts"];
    assert_eq!(
        create_user_with(&server, "alix", "reviewer", PASSWORD, &scoped).0,
        0
    );
    let unknown = ["--campaign", "nowhere"];
    let (code, stderr) = create_user_with(&server, "eve", "reviewer", PASSWORD, &unknown);
    assert_ne!(code, 0, "a scope naming no campaign is refused");
    assert!(stderr.contains("nowhere"), "{stderr}");
    assert_eq!(create_user(&server, "camille", "reviewer", PASSWORD).0, 0);
    let alix = Session::logged_in(&server, "alix").await;
    let camille = Session::logged_in(&server, "camille").await;

    // The list, its campaign filter and its CSV.
    let list = alix.page("/staff/dossiers").await;
    assert!(list.contains("BTS-1") && !list.contains("CAP-1"), "{list}");
    let filtered = alix.page("/staff/dossiers?campaign=cap").await;
    assert!(
        !filtered.contains("CAP-1"),
        "a filter does not lift the scope"
    );
    let csv = alix.get("/staff/dossiers.csv").await;
    assert_eq!(csv.status(), StatusCode::OK);
    let csv = csv.text().await.expect("csv");
    assert!(csv.contains("BTS-1") && !csv.contains("CAP-1"), "{csv}");
    let list = camille.page("/staff/dossiers").await;
    assert!(list.contains("BTS-1") && list.contains("CAP-1"), "{list}");

    // Pages, content, pictures and exports of the other campaign are absent.
    for path in [
        "/staff/dossiers/CAP-1".to_string(),
        "/staff/dossiers/CAP-1/documents.zip".to_string(),
        format!("/staff/documents/{cap_doc}/content"),
        format!("/staff/documents/{cap_doc}/pages/1"),
        "/staff/campaigns/cap/exports/dossiers.csv".to_string(),
        "/staff/campaigns/cap/exports/documents.zip".to_string(),
        "/staff/triage".to_string(),
    ] {
        assert_eq!(status(&alix, &path).await, StatusCode::NOT_FOUND, "{path}");
    }
    for path in [
        "/staff/dossiers/BTS-1".to_string(),
        "/staff/dossiers/BTS-1/documents.zip".to_string(),
        format!("/staff/documents/{bts_doc}/content"),
        "/staff/campaigns/bts/exports/dossiers.csv".to_string(),
    ] {
        assert_eq!(status(&alix, &path).await, StatusCode::OK, "{path}");
    }
    for path in [
        "/staff/dossiers/CAP-1".to_string(),
        format!("/staff/documents/{cap_doc}/content"),
        "/staff/campaigns/cap/exports/dossiers.csv".to_string(),
        "/staff/triage".to_string(),
    ] {
        assert_eq!(status(&camille, &path).await, StatusCode::OK, "{path}");
    }

    // Actions on the other campaign's dossier are refused as absent, and change nothing.
    let csrf = csrf_of(&alix.page("/staff/dossiers/BTS-1").await);
    let review = alix
        .post(
            &format!("/staff/dossiers/CAP-1/documents/{cap_doc}/review"),
            &[("csrf", &csrf), ("decision", "accept")],
        )
        .await;
    assert_eq!(review.status(), StatusCode::NOT_FOUND);
    let close = alix
        .post("/staff/dossiers/CAP-1/close", &[("csrf", &csrf)])
        .await;
    assert_eq!(close.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        server.dossier("CAP-1").await["pieces"][0]["documents"][0]["review"],
        serde_json::Value::Null
    );

    // Duplicates are named only within the scope.
    let page = alix.page("/staff/dossiers/BTS-1").await;
    assert!(!page.contains("CAP-1"), "{page}");
    let page = camille.page("/staff/dossiers/BTS-1").await;
    assert!(page.contains("/staff/dossiers/CAP-1"), "{page}");

    // The queue counts and hands out only the scope's documents.
    assert_eq!(queue_left(&alix).await, 1);
    assert_eq!(queue_left(&camille).await, 2);
    let handed = next(&alix).await.expect("a document");
    assert_eq!(handed, format!("/staff/dossiers/BTS-1#doc-{bts_doc}"));
    assert_eq!(
        next(&alix).await,
        None,
        "CAP-1's document is not handed out"
    );
    let first = next(&camille).await.expect("a document");
    let second = next(&camille).await.expect("another document");
    let mut handed = [first, second];
    handed.sort();
    assert_eq!(
        handed,
        [
            format!("/staff/dossiers/BTS-1#doc-{bts_doc}"),
            format!("/staff/dossiers/CAP-1#doc-{cap_doc}"),
        ]
    );
}

async fn admins_set_the_campaigns_of_an_account(backend: Backend) {
    let server = Server::start_on(backend).await;
    submitted_dossier(&server, "bts", "BTS-1").await;
    submitted_dossier(&server, "cap", "CAP-1").await;
    assert_eq!(create_user(&server, "ada", "admin", PASSWORD).0, 0);
    let ada = Session::logged_in(&server, "ada").await;
    let csrf = csrf_of(&ada.page("/staff/admin").await);
    let created = ada
        .post(
            "/staff/admin/users",
            &[
                ("csrf", &csrf),
                ("name", "bea"),
                ("role", "reviewer"),
                ("password", PASSWORD),
                ("campaigns", "cap"),
            ],
        )
        .await;
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    let bea = Session::logged_in(&server, "bea").await;
    assert_eq!(status(&bea, "/staff/dossiers/CAP-1").await, StatusCode::OK);
    assert_eq!(
        status(&bea, "/staff/dossiers/BTS-1").await,
        StatusCode::NOT_FOUND
    );

    // A misspelt campaign is refused; the scope changes for the open session.
    let refused = ada
        .post(
            "/staff/admin/users/bea/campaigns",
            &[("csrf", &csrf), ("campaigns", "btss")],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let changed = ada
        .post(
            "/staff/admin/users/bea/campaigns",
            &[("csrf", &csrf), ("campaigns", "bts")],
        )
        .await;
    assert_eq!(changed.status(), StatusCode::SEE_OTHER);
    assert_eq!(status(&bea, "/staff/dossiers/BTS-1").await, StatusCode::OK);
    assert_eq!(
        status(&bea, "/staff/dossiers/CAP-1").await,
        StatusCode::NOT_FOUND
    );
    let admin = ada.page("/staff/admin?done=scope").await;
    assert!(admin.contains("value=\"bts\""), "the scope is shown");

    // Emptied: every campaign again.
    let cleared = ada
        .post(
            "/staff/admin/users/bea/campaigns",
            &[("csrf", &csrf), ("campaigns", "")],
        )
        .await;
    assert_eq!(cleared.status(), StatusCode::SEE_OTHER);
    assert_eq!(status(&bea, "/staff/dossiers/CAP-1").await, StatusCode::OK);
    let unknown = ada
        .post(
            "/staff/admin/users/nobody/campaigns",
            &[("csrf", &csrf), ("campaigns", "")],
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}
