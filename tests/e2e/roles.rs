//! Every endpoint checks its role: no token is 401, a wrong role is 403.

use crate::common::{Backend, Server, open_campaign, sample};
use reqwest::Method;
use serde_json::json;

on_every_backend!(each_endpoint_admits_only_its_roles);

async fn each_endpoint_admits_only_its_roles(backend: Backend) {
    let server = Server::start_on(backend).await;
    server.load_campaign(&open_campaign("roles")).await;
    server
        .create_dossier(
            "roles",
            "R-1",
            json!({"birth_date": "1990-01-01", "nationality": "FR", "amenagement": false}),
        )
        .await;
    let doc: serde_json::Value = server
        .upload("R-1", "identite", "carte.pdf", sample("carte-identite.pdf"))
        .await
        .json()
        .await
        .expect("json");
    let id = doc["id"].as_str().expect("id").to_string();

    let t = &server.tokens;
    let all = [
        ("portal", &t.portal),
        ("station", &t.station),
        ("staff", &t.staff),
        ("admin", &t.admin),
    ];
    let endpoints: Vec<(Method, String, &[&str])> = vec![
        (
            Method::GET,
            "/api/v1/campaigns/roles".into(),
            &["portal", "station", "staff", "admin"],
        ),
        (Method::POST, "/api/v1/campaigns".into(), &["admin"]),
        (Method::POST, "/api/v1/dossiers".into(), &["portal"]),
        (
            Method::GET,
            "/api/v1/dossiers/R-1".into(),
            &["portal", "staff"],
        ),
        (
            Method::POST,
            "/api/v1/dossiers/R-1/pieces/identite/documents".into(),
            &["portal"],
        ),
        (
            Method::POST,
            "/api/v1/dossiers/R-1/submit".into(),
            &["portal"],
        ),
        (
            Method::GET,
            format!("/api/v1/documents/{id}/content"),
            &["portal", "staff"],
        ),
        (
            Method::GET,
            format!("/api/v1/documents/{id}/display"),
            &["portal", "staff"],
        ),
        (
            Method::POST,
            format!("/api/v1/documents/{id}/review"),
            &["staff"],
        ),
        (
            Method::POST,
            "/api/v1/dossiers/R-1/close".into(),
            &["staff"],
        ),
        (
            Method::DELETE,
            format!("/api/v1/dossiers/R-1/documents/{id}"),
            &["portal"],
        ),
        (Method::GET, "/api/v1/events".into(), &["portal", "staff"]),
    ];
    for (method, path, allowed) in &endpoints {
        let anonymous = server
            .http
            .request(method.clone(), server.url(path))
            .send()
            .await
            .expect("request");
        assert_eq!(anonymous.status(), 401, "{method} {path} without a token");
        let forged = server
            .http
            .request(method.clone(), server.url(path))
            .bearer_auth("gch_not-a-token")
            .send()
            .await
            .expect("request");
        assert_eq!(
            forged.status(),
            401,
            "{method} {path} with an unknown token"
        );
        for (role, token) in &all {
            if allowed.contains(role) {
                continue;
            }
            let response = server
                .http
                .request(method.clone(), server.url(path))
                .bearer_auth(token)
                .send()
                .await
                .expect("request");
            assert_eq!(response.status(), 403, "{method} {path} as {role}");
        }
    }

    // Health and readiness need no token.
    let ready = server
        .http
        .get(server.url("/readyz"))
        .send()
        .await
        .expect("request");
    assert_eq!(ready.status(), 200);
    let live = server
        .http
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("request");
    assert_eq!(live.status(), 200);
}
