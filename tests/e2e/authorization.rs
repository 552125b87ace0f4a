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
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }
    // Paths are never labels: the reference does not appear.
    assert!(!text.contains("C-1"), "{text}");
}
