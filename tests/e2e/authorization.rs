//! The authorisation matrix: every endpoint called with no token, an unknown token and each
//! role's token, each answer checked against one table. The rows run in order on one
//! dossier, so the allowed calls also walk it through its life (upload, review, withdraw,
//! submit, close) and their statuses are exact.
//!
//! Also: the endpoints anyone may call (health, readiness, metrics), and the request id
//! every answer carries.

use crate::common::{Backend, Server, open_campaign, sample};
use reqwest::Method;
use serde_json::{Value, json};

on_every_backend!(
    every_endpoint_answers_each_caller_as_the_table_says,
    scoped_tokens_reach_only_their_campaigns_and_stations_their_batches,
    revoked_and_expired_tokens_are_refused,
    metrics_count_what_happens
);

/// Who calls: no token, an unknown token, then each role.
const CALLERS: [&str; 6] = ["none", "unknown", "portal", "station", "staff", "admin"];

/// What a row sends.
enum Body {
    None,
    Json(Value),
    Toml(String),
    Document(Vec<u8>),
}

struct Row {
    method: Method,
    path: String,
    body: Body,
    /// The expected status for each of [`CALLERS`], in order.
    expect: [u16; 6],
}

fn row(method: Method, path: impl Into<String>, body: Body, expect: [u16; 6]) -> Row {
    Row {
        method,
        path: path.into(),
        body,
        expect,
    }
}

async fn call(server: &Server, row: &Row, caller: &str) -> reqwest::Response {
    let t = &server.tokens;
    let token = match caller {
        "none" => None,
        "unknown" => Some("gch_0000000000000000000000000000000000000000000000000000000000000000"),
        "portal" => Some(t.portal.as_str()),
        "station" => Some(t.station.as_str()),
        "staff" => Some(t.staff.as_str()),
        "admin" => Some(t.admin.as_str()),
        other => panic!("unknown caller {other}"),
    };
    let mut request = server
        .http
        .request(row.method.clone(), server.url(&row.path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request = match &row.body {
        Body::None => request,
        Body::Json(value) => request.json(value),
        Body::Toml(text) => request.body(text.clone()),
        Body::Document(bytes) => request
            .header("Content-Disposition", "attachment; filename=\"piece.pdf\"")
            .body(bytes.clone()),
    };
    request.send().await.expect("request")
}

async fn upload_id(server: &Server, piece: &str, name: &str, bytes: Vec<u8>) -> String {
    let response = server.upload("A-1", piece, name, bytes).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.expect("json");
    body["id"].as_str().expect("id").to_string()
}

async fn every_endpoint_answers_each_caller_as_the_table_says(backend: Backend) {
    use Method as M;
    let server = Server::start_on(backend).await;
    server.load_campaign(&open_campaign("authz")).await;
    let candidate = json!({"birth_date": "1990-01-01", "nationality": "FR", "amenagement": false});
    server
        .create_dossier("authz", "A-1", candidate.clone())
        .await;
    let identity = upload_id(
        &server,
        "identite",
        "carte.pdf",
        sample("carte-identite.pdf"),
    )
    .await;
    let recto = upload_id(
        &server,
        "identite",
        "recto.png",
        sample("carte-identite-recto.png"),
    )
    .await;
    upload_id(
        &server,
        "domicile",
        "facture.pdf",
        sample("justificatif-domicile.pdf"),
    )
    .await;
    let hook: Value = server
        .post("/api/v1/campaigns/authz/webhooks", &server.tokens.admin)
        .json(&json!({"url": "http://127.0.0.1:9/never"}))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let hook = hook["id"].as_str().expect("webhook id").to_string();

    //                                                          none unknown portal station staff admin
    let table = vec![
        row(
            M::GET,
            "/healthz",
            Body::None,
            [200, 200, 200, 200, 200, 200],
        ),
        row(
            M::GET,
            "/readyz",
            Body::None,
            [200, 200, 200, 200, 200, 200],
        ),
        row(
            M::GET,
            "/metrics",
            Body::None,
            [200, 200, 200, 200, 200, 200],
        ),
        row(
            M::GET,
            "/api/v1/openapi.json",
            Body::None,
            [200, 200, 200, 200, 200, 200],
        ),
        row(
            M::GET,
            "/api/v1/no-such-thing",
            Body::None,
            [404, 404, 404, 404, 404, 404],
        ),
        row(
            M::POST,
            "/api/v1/campaigns",
            Body::Toml(open_campaign("authz-2")),
            [401, 401, 403, 403, 403, 201],
        ),
        row(
            M::GET,
            "/api/v1/campaigns/authz",
            Body::None,
            [401, 401, 200, 200, 200, 200],
        ),
        row(
            M::POST,
            "/api/v1/dossiers",
            Body::Json(json!({"campaign": "authz", "reference": "A-2", "candidate": candidate})),
            [401, 401, 201, 403, 403, 403],
        ),
        row(
            M::GET,
            "/api/v1/dossiers/A-1",
            Body::None,
            [401, 401, 200, 403, 200, 403],
        ),
        row(
            M::GET,
            "/api/v1/dossiers/A-1/cover-sheet.pdf",
            Body::None,
            [401, 401, 200, 403, 200, 403],
        ),
        row(
            M::POST,
            "/api/v1/mailroom/batches",
            Body::Document(sample("carte-identite.pdf")),
            [401, 401, 403, 202, 403, 403],
        ),
        row(
            M::GET,
            "/api/v1/mailroom/batches/no-such-batch",
            Body::None,
            [401, 401, 403, 404, 404, 403],
        ),
        // The same bytes again: the same document.
        row(
            M::POST,
            "/api/v1/dossiers/A-1/pieces/identite/documents",
            Body::Document(sample("carte-identite.pdf")),
            [401, 401, 200, 403, 403, 403],
        ),
        row(
            M::GET,
            format!("/api/v1/documents/{identity}/content"),
            Body::None,
            [401, 401, 200, 403, 200, 403],
        ),
        row(
            M::POST,
            format!("/api/v1/documents/{identity}/review"),
            Body::Json(json!({"decision": "accept"})),
            [401, 401, 403, 403, 200, 403],
        ),
        row(
            M::DELETE,
            format!("/api/v1/dossiers/A-1/documents/{recto}"),
            Body::None,
            [401, 401, 200, 403, 403, 403],
        ),
        row(
            M::POST,
            "/api/v1/dossiers/A-1/submit",
            Body::None,
            [401, 401, 200, 403, 403, 403],
        ),
        row(
            M::POST,
            "/api/v1/dossiers/A-1/close",
            Body::None,
            [401, 401, 403, 403, 200, 403],
        ),
        // Closed by mistake: an admin reopens it (complete); the second call finds it open.
        row(
            M::POST,
            "/api/v1/dossiers/A-1/reopen",
            Body::Json(json!({"reason": "Clôturé par erreur"})),
            [401, 401, 403, 403, 403, 200],
        ),
        row(
            M::POST,
            "/api/v1/dossiers/A-1/pieces/domicile/corrections",
            Body::Json(json!({"message": "Le justificatif a plus de trois mois."})),
            [401, 401, 403, 403, 200, 403],
        ),
        row(
            M::POST,
            "/api/v1/dossiers/A-1/extension",
            Body::Json(json!({"until": "2099-12-31T18:00:00Z", "reason": "Hospitalisation"})),
            [401, 401, 403, 403, 200, 403],
        ),
        // The same patch twice: the second changes nothing and answers the dossier too.
        row(
            M::PATCH,
            "/api/v1/dossiers/A-1",
            Body::Json(json!({"candidate": {"first_name": "Camille"}})),
            [401, 401, 200, 403, 200, 403],
        ),
        // Filed under its own piece again: nothing to do.
        row(
            M::POST,
            format!("/api/v1/documents/{identity}/assign"),
            Body::Json(json!({"piece": "identite"})),
            [401, 401, 403, 403, 200, 403],
        ),
        row(
            M::GET,
            "/api/v1/events?after=0",
            Body::None,
            [401, 401, 200, 403, 200, 403],
        ),
        row(
            M::GET,
            "/api/v1/campaigns/authz/webhooks",
            Body::None,
            [401, 401, 403, 403, 403, 200],
        ),
        row(
            M::POST,
            "/api/v1/campaigns/authz/webhooks",
            Body::Json(json!({"url": "http://127.0.0.1:9/also-never"})),
            [401, 401, 403, 403, 403, 201],
        ),
        row(
            M::GET,
            format!("/api/v1/campaigns/authz/webhooks/{hook}/deliveries"),
            Body::None,
            [401, 401, 403, 403, 403, 200],
        ),
        row(
            M::DELETE,
            format!("/api/v1/campaigns/authz/webhooks/{hook}"),
            Body::None,
            [401, 401, 403, 403, 403, 204],
        ),
    ];

    let mut mismatches = Vec::new();
    for row in &table {
        for (caller, expected) in CALLERS.iter().zip(row.expect) {
            let response = call(&server, row, caller).await;
            let status = response.status().as_u16();
            if status != expected {
                let body = response.text().await.unwrap_or_default();
                mismatches.push(format!(
                    "{} {} as {caller}: {status}, expected {expected} ({body})",
                    row.method, row.path
                ));
                continue;
            }
            // Refusals carry their stable code.
            let code = match status {
                401 => Some("unauthorized"),
                403 => Some("forbidden"),
                _ => None,
            };
            if let Some(code) = code {
                let got = crate::common::error_code(response).await;
                if got != code {
                    mismatches.push(format!(
                        "{} {} as {caller}: code {got}, expected {code}",
                        row.method, row.path
                    ));
                }
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// A token made by `guichet token create` with `args` (`--role`, `--name`, `--campaign`...).
fn token(server: &Server, args: &[&str]) -> String {
    let mut command = vec!["token", "create"];
    command.extend(args);
    let (code, out, err) = server.command(&command);
    assert_eq!(code, 0, "token create {args:?}: {err}");
    out.lines().last().expect("a token line").trim().to_string()
}

/// The status and error code (if any) of `method path` with `token`.
async fn answer(
    server: &Server,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, String) {
    let mut request = server
        .http
        .request(method, server.url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    (status, code)
}

/// A call and its expected answer: method, path, token, body, status, error code (`""`: any).
type Case<'a> = (Method, String, &'a str, Option<Value>, u16, &'a str);

/// Tokens scoped to campaign A meet campaign B's dossiers, documents, campaign, exports,
/// webhooks and events as if they did not exist; a station sees only its own batches.
async fn scoped_tokens_reach_only_their_campaigns_and_stations_their_batches(backend: Backend) {
    use Method as M;
    let server = Server::start_on(backend).await;
    server.load_campaign(&open_campaign("scope-a")).await;
    server.load_campaign(&open_campaign("scope-b")).await;
    let candidate = json!({"birth_date": "1990-01-01", "nationality": "FR"});
    server
        .create_dossier("scope-a", "A-1", candidate.clone())
        .await;
    server
        .create_dossier("scope-b", "B-1", candidate.clone())
        .await;
    let mut ids = Vec::new();
    for reference in ["A-1", "B-1"] {
        let response = server
            .upload(
                reference,
                "identite",
                "carte.pdf",
                sample("carte-identite.pdf"),
            )
            .await;
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.expect("json");
        ids.push(body["id"].as_str().expect("id").to_string());
    }
    let (doc_a, doc_b) = (&ids[0], &ids[1]);

    let portal = token(
        &server,
        &[
            "--role",
            "portal",
            "--name",
            "portal-a",
            "--campaign",
            "scope-a",
        ],
    );
    let staff = token(
        &server,
        &[
            "--role",
            "staff",
            "--name",
            "staff-a",
            "--campaign",
            "scope-a",
        ],
    );
    let admin = token(
        &server,
        &[
            "--role",
            "admin",
            "--name",
            "admin-a",
            "--campaign",
            "scope-a",
        ],
    );
    // Both campaigns named: the token reaches both.
    let both = token(
        &server,
        &[
            "--role",
            "portal",
            "--name",
            "portal-ab",
            "--campaign",
            "scope-a",
            "--campaign",
            "scope-b",
        ],
    );
    let (code, _, err) = server.command(&[
        "token",
        "create",
        "--role",
        "portal",
        "--name",
        "typo",
        "--campaign",
        "scope-c",
    ]);
    assert_ne!(code, 0, "a token for an unknown campaign is refused");
    assert!(err.contains("scope-c"), "{err}");

    let cases: Vec<Case> = vec![
        (
            M::GET,
            "/api/v1/dossiers/A-1".into(),
            &portal,
            None,
            200,
            "",
        ),
        (
            M::GET,
            "/api/v1/dossiers/B-1".into(),
            &portal,
            None,
            404,
            "unknown_dossier",
        ),
        (M::GET, "/api/v1/dossiers/B-1".into(), &both, None, 200, ""),
        (
            M::GET,
            "/api/v1/dossiers/B-1".into(),
            &staff,
            None,
            404,
            "unknown_dossier",
        ),
        (
            M::GET,
            "/api/v1/dossiers/B-1/history".into(),
            &staff,
            None,
            404,
            "unknown_dossier",
        ),
        (
            M::GET,
            "/api/v1/dossiers/B-1/cover-sheet.pdf".into(),
            &portal,
            None,
            404,
            "unknown_dossier",
        ),
        (
            M::POST,
            "/api/v1/dossiers/B-1/submit".into(),
            &portal,
            None,
            404,
            "unknown_dossier",
        ),
        (
            M::POST,
            "/api/v1/dossiers/B-1/close".into(),
            &staff,
            None,
            404,
            "unknown_dossier",
        ),
        (
            M::PATCH,
            "/api/v1/dossiers/B-1".into(),
            &portal,
            Some(json!({"candidate": {"first_name": "Camille"}})),
            404,
            "unknown_dossier",
        ),
        (
            M::DELETE,
            format!("/api/v1/dossiers/B-1/documents/{doc_b}"),
            &portal,
            None,
            404,
            "unknown_dossier",
        ),
        (
            M::GET,
            format!("/api/v1/documents/{doc_b}/content"),
            &portal,
            None,
            404,
            "unknown_document",
        ),
        (
            M::GET,
            format!("/api/v1/documents/{doc_b}/content"),
            &staff,
            None,
            404,
            "unknown_document",
        ),
        (
            M::GET,
            format!("/api/v1/documents/{doc_a}/content"),
            &staff,
            None,
            200,
            "",
        ),
        (
            M::POST,
            format!("/api/v1/documents/{doc_b}/review"),
            &staff,
            Some(json!({"decision": "accept"})),
            404,
            "unknown_document",
        ),
        (
            M::POST,
            format!("/api/v1/documents/{doc_b}/assign"),
            &staff,
            Some(json!({"piece": "identite"})),
            404,
            "unknown_document",
        ),
        (
            M::GET,
            "/api/v1/campaigns/scope-a".into(),
            &portal,
            None,
            200,
            "",
        ),
        (
            M::GET,
            "/api/v1/campaigns/scope-b".into(),
            &portal,
            None,
            404,
            "unknown_campaign",
        ),
        (
            M::POST,
            "/api/v1/dossiers".into(),
            &portal,
            Some(json!({"campaign": "scope-b", "reference": "B-2", "candidate": candidate})),
            404,
            "unknown_campaign",
        ),
        (
            M::POST,
            "/api/v1/dossiers".into(),
            &portal,
            Some(json!({"campaign": "scope-a", "reference": "A-2", "candidate": candidate})),
            201,
            "",
        ),
        (
            M::GET,
            "/api/v1/campaigns/scope-a/dossiers.csv".into(),
            &staff,
            None,
            200,
            "",
        ),
        (
            M::GET,
            "/api/v1/campaigns/scope-b/dossiers.csv".into(),
            &staff,
            None,
            404,
            "unknown_campaign",
        ),
        (
            M::GET,
            "/api/v1/campaigns/scope-b/dossiers.xlsx".into(),
            &staff,
            None,
            404,
            "unknown_campaign",
        ),
        (
            M::GET,
            "/api/v1/campaigns/scope-b/documents.csv".into(),
            &staff,
            None,
            404,
            "unknown_campaign",
        ),
        (
            M::GET,
            "/api/v1/campaigns/scope-b/documents.zip".into(),
            &admin,
            None,
            404,
            "unknown_campaign",
        ),
        (
            M::GET,
            "/api/v1/campaigns/scope-a/webhooks".into(),
            &admin,
            None,
            200,
            "",
        ),
        (
            M::GET,
            "/api/v1/campaigns/scope-b/webhooks".into(),
            &admin,
            None,
            404,
            "unknown_campaign",
        ),
        (
            M::POST,
            "/api/v1/campaigns/scope-b/webhooks".into(),
            &admin,
            Some(json!({"url": "http://127.0.0.1:9/never"})),
            404,
            "unknown_campaign",
        ),
    ];
    let mut wrong = Vec::new();
    for (method, path, token, body, status, code) in cases {
        let got = answer(&server, method.clone(), &path, token, body).await;
        if got.0 != status || (!code.is_empty() && got.1 != code) {
            wrong.push(format!(
                "{method} {path}: {got:?}, expected ({status}, {code:?})"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // The same content in both dossiers: an unscoped caller sees the duplicate, a scoped one
    // only what its scope holds.
    let duplicates = |dossier: &Value| dossier["pieces"][0]["documents"][0]["duplicates"].clone();
    let unscoped: Value = server
        .get("/api/v1/dossiers/A-1", &server.tokens.portal)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(duplicates(&unscoped)[0]["dossier"], "B-1", "{unscoped}");
    let scoped: Value = server
        .get("/api/v1/dossiers/A-1", &portal)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(duplicates(&scoped), json!([]), "{scoped}");

    // Events: only campaign A's dossiers.
    let feed: Value = server
        .get("/api/v1/events?after=0", &staff)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let dossiers: Vec<&str> = feed["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["dossier"].as_str())
        .collect();
    assert!(dossiers.contains(&"A-1"), "{feed}");
    assert!(
        feed["events"]
            .as_array()
            .expect("events")
            .iter()
            .all(|e| e["dossier"].as_str().is_some_and(|d| d.starts_with("A-"))),
        "{feed}"
    );

    // Two stations: each sees its own batches only (staff sees them all).
    let station_1 = token(&server, &["--role", "station", "--name", "station-1"]);
    let station_2 = token(&server, &["--role", "station", "--name", "station-2"]);
    let sent = server
        .post("/api/v1/mailroom/batches", &station_1)
        .header("Content-Disposition", "attachment; filename=\"lot.pdf\"")
        .body(sample("carte-identite.pdf"))
        .send()
        .await
        .expect("request");
    assert_eq!(sent.status(), 202);
    let batch: Value = sent.json().await.expect("json");
    let path = format!(
        "/api/v1/mailroom/batches/{}",
        batch["id"].as_str().expect("id")
    );
    assert_eq!(
        answer(&server, M::GET, &path, &station_1, None).await.0,
        200
    );
    assert_eq!(
        answer(&server, M::GET, &path, &station_2, None).await,
        (404, "unknown_batch".to_string())
    );
    assert_eq!(
        answer(&server, M::GET, &path, &server.tokens.staff, None)
            .await
            .0,
        200
    );

    // The list shows scope and last use, never a token.
    let (code, out, err) = server.command(&["token", "list"]);
    assert_eq!(code, 0, "{err}");
    let line = out
        .lines()
        .find(|l| l.split('\t').nth(1) == Some("portal-ab"))
        .unwrap_or_else(|| panic!("portal-ab listed: {out}"));
    let fields: Vec<&str> = line.split('\t').collect();
    assert_eq!(fields[2..4], ["portal", "scope-a,scope-b"], "{line}");
    assert_ne!(fields[6], "-", "last use recorded: {line}");
    assert_eq!((fields[5], fields[7]), ("-", "-"), "{line}");
    assert!(!out.contains(&portal), "{out}");

    // A-1 and B-1 hold the same bytes: the documents export names B-1 as a duplicate only to
    // a caller who may see campaign B.
    let documents_csv = |token: String| {
        let server = &server;
        async move {
            let response = server
                .get("/api/v1/campaigns/scope-a/documents.csv", &token)
                .send()
                .await
                .expect("request");
            assert_eq!(response.status(), 200);
            response.text().await.expect("text")
        }
    };
    assert!(!documents_csv(staff.clone()).await.contains("B-1"));
    assert!(
        documents_csv(server.tokens.staff.clone())
            .await
            .contains("B-1")
    );
}

/// A revoked token and an expired one are refused as unknown (401 `unauthorized`).
async fn revoked_and_expired_tokens_are_refused(backend: Backend) {
    let server = Server::start_on(backend).await;
    server.load_campaign(&open_campaign("lived")).await;
    let path = "/api/v1/campaigns/lived";
    let revoked = token(&server, &["--role", "portal", "--name", "leaving"]);
    let expiring = token(
        &server,
        &["--role", "portal", "--name", "brief", "--expires-in", "1s"],
    );
    assert_eq!(
        answer(&server, Method::GET, path, &revoked, None).await.0,
        200
    );

    let (code, out, err) = server.command(&["token", "revoke", "leaving"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 token"), "{out}");
    assert_eq!(
        answer(&server, Method::GET, path, &revoked, None).await,
        (401, "unauthorized".to_string())
    );
    let (code, _, _) = server.command(&["token", "revoke", "leaving"]);
    assert_eq!(code, 1, "nothing left to revoke");

    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(
        answer(&server, Method::GET, path, &expiring, None).await,
        (401, "unauthorized".to_string())
    );
    // The other tokens go on.
    assert_eq!(
        answer(&server, Method::GET, path, &server.tokens.portal, None)
            .await
            .0,
        200
    );

    let (_, out, _) = server.command(&["token", "list"]);
    let line = out
        .lines()
        .find(|l| l.split('\t').nth(1) == Some("leaving"))
        .unwrap_or_else(|| panic!("leaving listed: {out}"));
    assert_ne!(
        line.split('\t').nth(7),
        Some("-"),
        "revocation listed: {line}"
    );
}

async fn metrics_count_what_happens(backend: Backend) {
    let server = Server::start_on(backend).await;
    server.load_campaign(&open_campaign("counted")).await;
    server
        .create_dossier(
            "counted",
            "C-1",
            json!({"birth_date": "1990-01-01", "nationality": "FR"}),
        )
        .await;
    let stored = server
        .upload("C-1", "identite", "carte.pdf", sample("carte-identite.pdf"))
        .await;
    assert_eq!(stored.status(), 201);
    let refused = server
        .upload("C-1", "identite", "carte.pdf", sample("faux-pdf.pdf"))
        .await;
    assert_eq!(refused.status(), 422);

    // A request id is made for every answer, and a client's own is echoed.
    let made = server
        .http
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("request");
    let made_id = made
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("x-request-id");
    assert_eq!(made_id.len(), 36, "{made_id}");
    let echoed = server
        .http
        .get(server.url("/healthz"))
        .header("x-request-id", "portal-7f3a")
        .send()
        .await
        .expect("request");
    assert_eq!(
        echoed.headers().get("x-request-id").map(|v| v.as_bytes()),
        Some(&b"portal-7f3a"[..])
    );

    let metrics = server
        .http
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("request");
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.expect("text");
    for expected in [
        r#"guichet_intakes_total{channel="upload",outcome="stored"} 1"#,
        r#"guichet_intakes_total{channel="upload",outcome="rejected"} 1"#,
        r#"guichet_verdict_reasons_total{code="kind_mismatch"} 1"#,
        r#"guichet_documents_by_scan{scan="none"} 1"#,
        "guichet_database_up 1",
        r#"route="/api/v1/dossiers/{reference}/pieces/{code}/documents""#,
        "guichet_http_request_duration_seconds_bucket",
        // Both intakes were read and verified; only the stored one went on to the store and
        // the commit.
        r#"guichet_intake_stage_seconds_count{stage="verify"} 2"#,
        r#"guichet_intake_stage_seconds_count{stage="store"} 1"#,
        r#"guichet_intake_stage_seconds_count{stage="commit"} 1"#,
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }
    // Paths are never labels: the reference does not appear.
    assert!(!text.contains("C-1"), "{text}");
}
