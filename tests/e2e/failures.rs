//! What the service tells of its failures, and how background work survives them: a poison
//! mailroom batch is retried with a growing pause, holds back no other batch, and ends
//! `failed` with its reason (in the batch API and on the staff triage page); a fault of the
//! service answers in general words with the request's id, never a path; a station's file
//! name that hides or reorders characters is refused.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{Backend, Server, error_code, mailroom_batch_finished, open_campaign, sample};
use crate::mailroom::{send_batch, sheet};
use crate::staff_support::{PASSWORD, Session, create_user, unescape};
use scanners::generate::{ImageCoding, encode_page, pdf_batch, rasterise_sheet, text_page};

on_every_backend!(
    a_poison_batch_holds_back_no_other_and_fails_after_its_last_attempt,
    a_fault_of_the_service_answers_with_the_request_id_and_no_detail,
    a_station_file_name_that_hides_characters_is_refused,
);

const CAMPAIGN: &str = "bts-2027";
const OTHER: &str = "cap-2027";
const DPI: u32 = 150;

/// Runs one statement on the server's database, behind guichet's back.
async fn tamper_database(server: &Server, statement: &str) {
    use sqlx::Connection;
    let url = server.config.as_ref().and_then(|config| {
        let text = std::fs::read_to_string(config).expect("config");
        text.lines()
            .find_map(|l| l.strip_prefix("url = "))
            .map(|v| v.trim_matches('"').to_string())
    });
    let statement = sqlx::AssertSqlSafe(statement.to_string());
    match url {
        Some(url) => {
            let mut db = sqlx::PgConnection::connect(&url).await.expect("PostgreSQL");
            sqlx::query(statement).execute(&mut db).await.expect("runs");
        }
        None => {
            let path = server.data.path().join("guichet.db");
            let mut db = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                .await
                .expect("the SQLite file opens");
            sqlx::query(statement).execute(&mut db).await.expect("runs");
        }
    }
}

fn batch_of(pages: Vec<scanners::generate::Canvas>) -> Vec<u8> {
    let pages: Vec<_> = pages
        .iter()
        .map(|p| encode_page(p, ImageCoding::Jpeg))
        .collect();
    pdf_batch(&pages)
}

async fn a_poison_batch_holds_back_no_other_and_fails_after_its_last_attempt(backend: Backend) {
    let retries = "[mailroom]\nmax_attempts = 3\nretry_min_ms = 500\nretry_max_ms = 1000\n";
    let server = Server::start_with(backend, retries).await;
    for (campaign, reference) in [(CAMPAIGN, "P-1"), (OTHER, "P-2")] {
        server.load_campaign(&open_campaign(campaign)).await;
        server
            .create_dossier(campaign, reference, json!({"birth_date": "1990-01-01"}))
            .await;
    }
    let poison = batch_of(vec![
        rasterise_sheet(&sheet(&server, "P-1", None).await, DPI).expect("the sheet renders"),
        text_page(DPI, 11, 1),
    ]);
    let good = batch_of(vec![
        rasterise_sheet(&sheet(&server, "P-2", None).await, DPI).expect("the sheet renders"),
        text_page(DPI, 12, 1),
    ]);
    // P-1's campaign, as stored, no longer parses (as after an upgrade with a stricter
    // parser): its dossier cannot be read, and filing into it fails at every attempt once
    // the process compares its parsed copy with the stored one.
    tamper_database(
        &server,
        &format!("UPDATE campaigns SET source = 'not a [campaign' WHERE id = '{CAMPAIGN}'"),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let (status, poisoned) = send_batch(&server, poison, "poison.pdf").await;
    assert_eq!(status, 202, "{poisoned}");
    let (status, next) = send_batch(&server, good, "next.pdf").await;
    assert_eq!(status, 202, "{next}");

    let next = mailroom_batch_finished(&server, next["id"].as_str().unwrap()).await;
    assert_eq!(next["state"], "done", "{next}");
    assert_eq!(next["segments"][0]["dossier"], "P-2", "{next}");

    let id = poisoned["id"].as_str().unwrap();
    let failed = mailroom_batch_finished(&server, id).await;
    assert_eq!(failed["state"], "failed", "{failed}");
    assert_eq!(failed["error"]["code"], "internal", "{failed}");
    assert_eq!(failed["error"]["attempts"], 3, "{failed}");
    // The reason names no internal detail (it is in the log).
    assert_eq!(failed["error"]["message"], "internal error", "{failed}");

    assert_eq!(
        create_user(&server, "instructeur", "reviewer", PASSWORD).0,
        0
    );
    let staff = Session::logged_in(&server, "instructeur").await;
    let page = unescape(&staff.page("/staff/triage").await);
    assert!(page.contains(&format!("failed-{id}")), "{page}");
    assert!(page.contains("après 3 tentatives"), "{page}");
}

async fn a_fault_of_the_service_answers_with_the_request_id_and_no_detail(backend: Backend) {
    let server = Server::start_on(backend).await;
    server.load_campaign(&open_campaign(CAMPAIGN)).await;
    server
        .create_dossier(CAMPAIGN, "E-1", json!({"birth_date": "1990-01-01"}))
        .await;
    let stored: Value = server
        .upload("E-1", "identite", "carte.pdf", sample("carte-identite.pdf"))
        .await
        .json()
        .await
        .expect("JSON");
    // The stored object vanishes behind guichet's back.
    server
        .tamper(stored["sha256"].as_str().expect("sha256"), None)
        .await;
    let response = server
        .get(
            &format!(
                "/api/v1/documents/{}/content",
                stored["id"].as_str().unwrap()
            ),
            &server.tokens.staff,
        )
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status(), 500);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .expect("ASCII")
        .to_string();
    let body: Value = response.json().await.expect("JSON");
    let text = body.to_string();
    assert_eq!(body["error"]["code"], "content_missing", "{body}");
    assert_eq!(body["error"]["details"]["request_id"], request_id.as_str());
    let message = body["error"]["message"].as_str().expect("a message");
    assert!(message.contains(&request_id), "{body}");
    let data = server.data.path().display().to_string();
    assert!(
        !text.contains(&data) && !text.contains("sha256/") && !text.contains("bucket"),
        "{body}"
    );

    let ready: Value = server
        .http
        .get(server.url("/readyz"))
        .send()
        .await
        .expect("an answer")
        .json()
        .await
        .expect("JSON");
    assert_eq!(ready["status"], "ready", "{ready}");
    assert!(!ready.to_string().contains(&data), "{ready}");
}

async fn a_station_file_name_that_hides_characters_is_refused(backend: Backend) {
    let server = Server::start_on(backend).await;
    // U+202E (right-to-left override) and U+200B (zero-width space), percent-encoded.
    for name in ["lot%E2%80%AEfdp.exe", "lot%E2%80%8B.pdf"] {
        let response = server
            .post("/api/v1/mailroom/batches", &server.tokens.station)
            .header(
                "Content-Disposition",
                format!("attachment; filename*=UTF-8''{name}"),
            )
            .body(sample("carte-identite.pdf"))
            .send()
            .await
            .expect("an answer");
        assert_eq!(response.status(), 400, "{name}");
        assert_eq!(error_code(response).await, "invalid_filename", "{name}");
    }
}
