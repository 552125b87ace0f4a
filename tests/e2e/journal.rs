//! The dossier journal end to end: a dossier's life through the API and the staff pages
//! shows in `GET /dossiers/{reference}/history` under each actor, and `guichet audit verify`
//! finds an entry changed or removed behind guichet's back, in the database itself. Then the
//! same bytes in two dossiers: each names the other in `duplicates`, and the staff list finds
//! them.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection;

use crate::common::{Backend, Server, error_code, open_campaign, sample};
use crate::staff_support::{PASSWORD, Session, create_user, csrf_of};

on_every_backend!(
    the_history_names_every_actor_and_audit_finds_tampering,
    the_same_bytes_in_two_dossiers_are_flagged_as_duplicates,
);

fn candidate() -> Value {
    json!({"birth_date": "1987-04-02", "nationality": "FR", "amenagement": false,
           "last_name": "Martin", "first_name": "Camille"})
}

async fn history(server: &Server, reference: &str) -> Vec<Value> {
    let response = server
        .get(
            &format!("/api/v1/dossiers/{reference}/history"),
            &server.tokens.staff,
        )
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["reference"], reference);
    body["entries"].as_array().expect("entries").clone()
}

/// Runs one statement on the server's database, behind guichet's back.
async fn tamper(server: &Server, statement: &str) {
    match &server.config {
        None => {
            let path = server.data.path().join("guichet.db");
            let mut db = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                .await
                .expect("the SQLite file opens");
            sqlx::query(sqlx::AssertSqlSafe(statement.to_string()))
                .execute(&mut db)
                .await
                .expect("the statement runs");
        }
        Some(config) => {
            let text = std::fs::read_to_string(config).expect("config");
            let url = text
                .lines()
                .find_map(|l| l.strip_prefix("url = "))
                .map(|v| v.trim_matches('"').to_string())
                .expect("a database url");
            let mut db = sqlx::PgConnection::connect(&url)
                .await
                .expect("PostgreSQL answers");
            sqlx::query(sqlx::AssertSqlSafe(statement.to_string()))
                .execute(&mut db)
                .await
                .expect("the statement runs");
        }
    }
}

async fn the_history_names_every_actor_and_audit_finds_tampering(backend: Backend) {
    let server = Server::start_on(backend).await;
    server.load_campaign(&open_campaign("journal")).await;
    server.create_dossier("journal", "J-1", candidate()).await;
    let identity: Value = server
        .upload("J-1", "identite", "carte.pdf", sample("carte-identite.pdf"))
        .await
        .json()
        .await
        .expect("json");
    let identity = identity["id"].as_str().expect("an id").to_string();
    let reviewed = server
        .post(
            &format!("/api/v1/documents/{identity}/review"),
            &server.tokens.staff,
        )
        .json(&json!({"decision": "accept"}))
        .send()
        .await
        .expect("request");
    assert_eq!(reviewed.status(), 200);
    let content = format!("/api/v1/documents/{identity}/content");
    let download = server
        .get(&content, &server.tokens.staff)
        .send()
        .await
        .expect("request");
    assert_eq!(download.status(), 200);
    // Revalidating a copy already held gives no bytes, and is not journaled again.
    let etag = download.headers()["etag"]
        .to_str()
        .expect("etag")
        .to_string();
    download.bytes().await.expect("the bytes");
    let revalidated = server
        .get(&content, &server.tokens.staff)
        .header("If-None-Match", etag)
        .send()
        .await
        .expect("request");
    assert_eq!(revalidated.status(), 304);
    // A staff member opens the dossier's page and downloads the document there; the page's
    // pictures are not journaled.
    assert_eq!(create_user(&server, "camille", "reviewer", PASSWORD).0, 0);
    let staff = Session::logged_in(&server, "camille").await;
    let page = staff.page("/staff/dossiers/J-1").await;
    csrf_of(&page);
    let pictured = staff
        .get(&format!("/staff/documents/{identity}/pages/1?width=200"))
        .await;
    assert!(pictured.status().is_success(), "{}", pictured.status());
    let saved = staff
        .get(&format!("/staff/documents/{identity}/content?download=1"))
        .await;
    assert_eq!(saved.status(), 200);

    let entries = history(&server, "J-1").await;
    let seqs: Vec<i64> = entries
        .iter()
        .map(|e| e["seq"].as_i64().expect("seq"))
        .collect();
    assert_eq!(seqs, (1..=entries.len() as i64).collect::<Vec<_>>());
    for pair in entries.windows(2) {
        assert_eq!(pair[1]["prev_hash"], pair[0]["hash"], "{pair:?}");
    }
    let doc = |e: &Value| e["document"].as_str().map(str::to_string);
    let shown: Vec<(String, String, Option<String>)> = entries
        .iter()
        .map(|e| {
            (
                e["action"].as_str().expect("action").to_string(),
                e["actor"].as_str().expect("actor").to_string(),
                doc(e),
            )
        })
        .collect();
    let expected = [
        ("dossier.created", "portal:portal", None),
        ("document.received", "portal:portal", Some(&identity)),
        ("document.accepted", "staff:staff", Some(&identity)),
        ("document.downloaded", "staff:staff", Some(&identity)),
        ("dossier.viewed", "staff:camille", None),
        ("document.downloaded", "staff:camille", Some(&identity)),
    ];
    let mut from = 0;
    for (action, actor, document) in expected {
        let wanted = (action.to_string(), actor.to_string(), document.cloned());
        let at = shown[from..]
            .iter()
            .position(|s| *s == wanted)
            .unwrap_or_else(|| panic!("{wanted:?} after entry {from} in {shown:#?}"));
        from += at + 1;
    }
    let downloads = shown
        .iter()
        .filter(|(action, _, _)| action == "document.downloaded")
        .count();
    assert_eq!(downloads, 2, "one a download, none for a 304: {shown:#?}");
    let download = entries
        .iter()
        .find(|e| e["action"] == "document.downloaded")
        .expect("a download");
    assert_eq!(download["data"]["copy"], "content");
    assert_eq!(download["data"]["piece"], "identite");

    // Other roles, other dossiers.
    let portal = server
        .get("/api/v1/dossiers/J-1/history", &server.tokens.portal)
        .send()
        .await
        .expect("request");
    assert_eq!(portal.status(), StatusCode::FORBIDDEN);
    let admin = server
        .get("/api/v1/dossiers/J-1/history", &server.tokens.admin)
        .send()
        .await
        .expect("request");
    assert_eq!(admin.status(), StatusCode::OK);
    let unknown = server
        .get("/api/v1/dossiers/NOPE/history", &server.tokens.staff)
        .send()
        .await
        .expect("request");
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(unknown).await, "unknown_dossier");

    // The page shows the same history, in French.
    let page = staff.page("/staff/dossiers/J-1").await;
    assert!(page.contains("Document téléchargé"), "{page}");
    assert!(page.contains("agent camille"), "{page}");
    assert!(page.contains("portail portal"), "{page}");

    let (code, out, err) = server.command(&["audit", "verify"]);
    assert_eq!(code, 0, "an untouched journal: {out}{err}");
    let count = history(&server, "J-1").await.len();
    assert!(
        out.contains(&format!("ok: 1 dossiers, {count} entries")),
        "{out}"
    );

    // One entry's actor changed in the database: the chain breaks at that entry.
    tamper(
        &server,
        "UPDATE journal SET actor = 'staff:mallory' WHERE dossier = 'J-1' AND seq = 3",
    )
    .await;
    let (code, out, _) = server.command(&["audit", "verify"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("dossier J-1: journal entry 3 was changed"),
        "{out}"
    );
    tamper(
        &server,
        "UPDATE journal SET actor = 'staff:staff' WHERE dossier = 'J-1' AND seq = 3",
    )
    .await;
    assert_eq!(
        server.command(&["audit", "verify"]).0,
        0,
        "set back as it was"
    );
    // Its data changed, then: the same.
    tamper(
        &server,
        "UPDATE journal SET data = '{\"by\":\"mallory\"}' WHERE dossier = 'J-1' AND seq = 2",
    )
    .await;
    let (code, out, _) = server.command(&["audit", "verify"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("dossier J-1: journal entry 2 was changed"),
        "{out}"
    );

    // A middle entry removed, on another dossier: named as missing.
    server.create_dossier("journal", "J-2", candidate()).await;
    server
        .upload("J-2", "identite", "carte.pdf", sample("carte-identite.pdf"))
        .await;
    staff.page("/staff/dossiers/J-2").await;
    assert!(history(&server, "J-2").await.len() >= 3);
    tamper(
        &server,
        "DELETE FROM journal WHERE dossier = 'J-2' AND seq = 2",
    )
    .await;
    let (code, out, _) = server.command(&["audit", "verify"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("dossier J-1: journal entry 2 was changed"),
        "{out}"
    );
    assert!(
        out.contains("dossier J-2: journal entry 2 is missing"),
        "{out}"
    );
}

async fn the_same_bytes_in_two_dossiers_are_flagged_as_duplicates(backend: Backend) {
    let server = Server::start_on(backend).await;
    server.load_campaign(&open_campaign("doubles")).await;
    let mut ids = Vec::new();
    let mut answers = Vec::new();
    for reference in ["DUP-A", "DUP-B", "DUP-C"] {
        server
            .create_dossier("doubles", reference, candidate())
            .await;
        let name = if reference == "DUP-C" {
            "justificatif-domicile.pdf"
        } else {
            "carte-identite.pdf"
        };
        let filed: Value = server
            .upload(reference, "identite", name, sample(name))
            .await
            .json()
            .await
            .expect("json");
        ids.push(filed["id"].as_str().expect("an id").to_string());
        answers.push(filed);
    }
    // Each upload's answer names the other dossiers holding its content, as they were then.
    assert_eq!(answers[0]["duplicates"], json!([]));
    assert_eq!(
        answers[1]["duplicates"],
        json!([{"dossier": "DUP-A", "document": ids[0], "piece": "identite"}])
    );
    assert_eq!(answers[2]["duplicates"], json!([]));
    let duplicates = |dossier: &Value| dossier["pieces"][0]["documents"][0]["duplicates"].clone();
    assert_eq!(
        duplicates(&server.dossier("DUP-A").await),
        json!([{"dossier": "DUP-B", "document": ids[1], "piece": "identite"}])
    );
    assert_eq!(
        duplicates(&server.dossier("DUP-B").await),
        json!([{"dossier": "DUP-A", "document": ids[0], "piece": "identite"}])
    );
    assert_eq!(duplicates(&server.dossier("DUP-C").await), json!([]));

    assert_eq!(create_user(&server, "camille", "reviewer", PASSWORD).0, 0);
    let staff = Session::logged_in(&server, "camille").await;
    let listed = staff.page("/staff/dossiers?duplicates=yes").await;
    assert!(listed.contains(">DUP-A</a>"), "{listed}");
    assert!(listed.contains(">DUP-B</a>"), "{listed}");
    assert!(!listed.contains(">DUP-C</a>"), "{listed}");
    assert!(listed.contains("doublon"), "the list marks them");
    let all = staff.page("/staff/dossiers").await;
    assert!(all.contains(">DUP-C</a>"), "{all}");
    assert_eq!(all.matches("class=\"duplicate-flag\"").count(), 2, "{all}");

    // B withdraws its copy: A is alone with it again, though A did not change.
    let withdrawn = server
        .delete(
            &format!("/api/v1/dossiers/DUP-B/documents/{}", ids[1]),
            &server.tokens.portal,
        )
        .send()
        .await
        .expect("request");
    assert_eq!(withdrawn.status(), 200);
    assert_eq!(duplicates(&server.dossier("DUP-A").await), json!([]));
    let listed = staff.page("/staff/dossiers?duplicates=yes").await;
    assert!(!listed.contains(">DUP-A</a>"), "{listed}");
    assert!(listed.contains("id=\"no-result\""), "{listed}");
}
