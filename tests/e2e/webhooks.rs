//! Webhooks end to end: a receiver inside the test (a small axum server) registered as an
//! endpoint of a campaign, events that must reach it signed, in id order, after retries,
//! given up after the bound, and never twice when two processes deliver.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{Backend, Server, open_campaign, sample};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

on_every_backend!(
    events_arrive_signed_in_order_after_failures,
    an_event_is_given_up_after_the_bound_and_recorded,
    admins_manage_endpoints,
);

/// Short waits, so that retries happen within the test's patience.
const FAST_RETRIES: &str = "[webhooks]\nretry_min_ms = 20\nretry_max_ms = 200\npoll_ms = 50\n";

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Hit {
    path: String,
    event_id: i64,
    signature: String,
    body: Vec<u8>,
    answered: u16,
}

/// A webhook receiver that answers 500 to its first `failures` requests, then 200.
#[derive(Clone)]
struct Receiver {
    hits: Arc<Mutex<Vec<Hit>>>,
    failures: usize,
    base: String,
}

impl Receiver {
    async fn start(failures: usize) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the receiver");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let receiver = Receiver {
            hits: Arc::default(),
            failures,
            base,
        };
        let app = axum::Router::new()
            .fallback(receive)
            .with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        receiver
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().expect("hits").clone()
    }

    /// The event ids answered 200 at `path`, in arrival order.
    fn delivered(&self, path: &str) -> Vec<i64> {
        self.hits()
            .iter()
            .filter(|h| h.path == path && h.answered == 200)
            .map(|h| h.event_id)
            .collect()
    }
}

async fn receive(
    State(receiver): State<Receiver>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let mut hits = receiver.hits.lock().expect("hits");
    let answered = if hits.len() < receiver.failures {
        500
    } else {
        200
    };
    hits.push(Hit {
        path: uri.path().to_string(),
        event_id: header("guichet-event-id").parse().unwrap_or(-1),
        signature: header("guichet-signature"),
        body: body.to_vec(),
        answered,
    });
    StatusCode::from_u16(answered).expect("a status")
}

/// HMAC-SHA256 written out from RFC 2104, so the check does not reuse the code it checks.
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut block = if key.len() > 64 {
        Sha256::digest(key).to_vec()
    } else {
        key.to_vec()
    };
    block.resize(64, 0);
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<_>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .to_vec()
}

/// Checks a `Guichet-Signature: t=...,v1=...` header as docs/webhooks.md tells receivers to.
fn signed_by(secret: &str, hit: &Hit) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in hit.signature.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = Some(value.to_string()),
            Some(("v1", value)) => v1 = Some(value.to_string()),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let mut message = format!("{t}.").into_bytes();
    message.extend_from_slice(&hit.body);
    hex::encode(hmac_sha256(secret.as_bytes(), &message)) == v1
}

/// Waits until `done` holds, polling; fails the test with `what` if it never does.
async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..1200 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never happened: {what}");
}

async fn create_endpoint(server: &Server, campaign: &str, url: &str) -> Value {
    let response = server
        .post(
            &format!("/api/v1/campaigns/{campaign}/webhooks"),
            &server.tokens.admin,
        )
        .json(&json!({"url": url}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 201);
    response.json().await.expect("json")
}

/// The ids of the feed's events about `dossiers`, in id order.
async fn event_ids(server: &Server, dossiers: &[&str]) -> Vec<i64> {
    server
        .events()
        .await
        .iter()
        .filter(|e| dossiers.contains(&e["dossier"].as_str().unwrap_or_default()))
        .map(|e| e["id"].as_i64().expect("id"))
        .collect()
}

fn candidate() -> Value {
    json!({"birth_date": "1990-01-01", "nationality": "FR", "amenagement": false})
}

async fn events_arrive_signed_in_order_after_failures(backend: Backend) {
    let receiver = Receiver::start(3).await;
    let server = Server::start_with(backend, FAST_RETRIES).await;
    server.load_campaign(&open_campaign("hooks")).await;
    server.load_campaign(&open_campaign("elsewhere")).await;
    let endpoint = create_endpoint(&server, "hooks", &receiver.url("/guichet")).await;
    let secret = endpoint["secret"].as_str().expect("secret shown once");
    assert!(secret.starts_with("whsec_"), "{secret}");

    server.create_dossier("hooks", "H-1", candidate()).await;
    server.create_dossier("elsewhere", "E-1", candidate()).await;
    let upload = server
        .upload(
            "H-1",
            "domicile",
            "facture.pdf",
            sample("justificatif-domicile.pdf"),
        )
        .await;
    assert_eq!(upload.status(), 201);
    let upload = server
        .upload("H-1", "identite", "carte.pdf", sample("carte-identite.pdf"))
        .await;
    assert_eq!(upload.status(), 201);

    let expected = event_ids(&server, &["H-1"]).await;
    assert!(expected.len() >= 4, "{expected:?}");
    wait_until("every event of H-1 is delivered", || {
        receiver.delivered("/guichet").len() >= expected.len()
    })
    .await;

    // In id order, each once, nothing from the other campaign.
    assert_eq!(receiver.delivered("/guichet"), expected);
    let hits = receiver.hits();
    // The three failures were all retries of the first event, before any other was sent.
    let first_four: Vec<i64> = hits.iter().take(4).map(|h| h.event_id).collect();
    assert_eq!(first_four, vec![expected[0]; 4]);
    assert_eq!(
        hits.iter().map(|h| h.answered).take(4).collect::<Vec<_>>(),
        [500, 500, 500, 200]
    );
    for hit in &hits {
        assert!(signed_by(secret, hit), "bad signature on {hit:?}");
        assert!(!signed_by("whsec_another", hit));
        let body: Value = serde_json::from_slice(&hit.body).expect("JSON body");
        assert_eq!(body["id"].as_i64(), Some(hit.event_id));
        assert_eq!(body["campaign"], "hooks");
        assert_eq!(body["dossier"], "H-1");
        assert!(body["type"].is_string());
    }

    // What was delivered is on record, the retries counted. The record follows the receiver's
    // answer: the last one may take a moment to be written.
    let id = endpoint["id"].as_str().expect("id");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let record = loop {
        let record = delivery_record(&server, "hooks", id, "").await;
        let deliveries = record["deliveries"].as_array().expect("deliveries");
        let all = deliveries.len() == expected.len()
            && deliveries.iter().all(|d| d["state"] == "delivered");
        if all || std::time::Instant::now() > deadline {
            break record;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let deliveries = record["deliveries"].as_array().expect("deliveries");
    assert_eq!(deliveries.len(), expected.len());
    assert!(deliveries.iter().all(|d| d["state"] == "delivered"));
    let first = deliveries
        .iter()
        .find(|d| d["event"].as_i64() == Some(expected[0]))
        .expect("the first event's delivery");
    assert_eq!(first["attempts"], 4);
    assert_eq!(
        record["webhook"]["last_event"].as_i64(),
        expected.last().copied()
    );
}

async fn an_event_is_given_up_after_the_bound_and_recorded(backend: Backend) {
    let receiver = Receiver::start(usize::MAX).await;
    let server = Server::start_with(backend, &format!("{FAST_RETRIES}max_attempts = 3\n")).await;
    server.load_campaign(&open_campaign("down")).await;
    let endpoint = create_endpoint(&server, "down", &receiver.url("/down")).await;
    let id = endpoint["id"].as_str().expect("id");
    server.create_dossier("down", "D-1", candidate()).await;
    server.create_dossier("down", "D-2", candidate()).await;
    let expected = event_ids(&server, &["D-1", "D-2"]).await;
    assert_eq!(expected.len(), 2);

    let failed = || async {
        let record = delivery_record(&server, "down", id, "?failed=true").await;
        record["deliveries"].as_array().expect("deliveries").clone()
    };
    let mut given_up = Vec::new();
    for _ in 0..600 {
        given_up = failed().await;
        if given_up.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(given_up.len(), 2, "both events given up: {given_up:?}");
    for delivery in &given_up {
        assert_eq!(delivery["state"], "failed");
        assert_eq!(delivery["attempts"], 3);
        assert_eq!(delivery["status"], 500);
        assert!(
            delivery["error"]
                .as_str()
                .is_some_and(|e| e.contains("500"))
        );
    }
    // Three attempts of the first event, then three of the second: order is kept even
    // when an event is given up.
    let attempts: Vec<i64> = receiver.hits().iter().map(|h| h.event_id).collect();
    assert_eq!(
        attempts,
        [vec![expected[0]; 3], vec![expected[1]; 3]].concat()
    );
}

async fn admins_manage_endpoints(backend: Backend) {
    let receiver = Receiver::start(0).await;
    let server = Server::start_with(backend, FAST_RETRIES).await;
    server.load_campaign(&open_campaign("managed")).await;
    let admin = &server.tokens.admin;

    for url in [
        "ftp://example.org/",
        "not a url",
        "https://u:p@example.org/",
    ] {
        let response = server
            .post("/api/v1/campaigns/managed/webhooks", admin)
            .json(&json!({"url": url}))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 400, "{url}");
        assert_eq!(
            crate::common::error_code(response).await,
            "invalid_webhook_url"
        );
    }
    let response = server
        .post("/api/v1/campaigns/managed/webhooks", admin)
        .json(&json!({"address": "https://example.org/"}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 400);
    let response = server
        .post("/api/v1/campaigns/nowhere/webhooks", admin)
        .json(&json!({"url": "https://example.org/"}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 404);
    assert_eq!(
        crate::common::error_code(response).await,
        "unknown_campaign"
    );

    let kept = create_endpoint(&server, "managed", &receiver.url("/kept")).await;
    let dropped = create_endpoint(&server, "managed", &receiver.url("/dropped")).await;
    assert_ne!(kept["secret"], dropped["secret"]);
    let dropped_id = dropped["id"].as_str().expect("id");
    let path = format!("/api/v1/campaigns/managed/webhooks/{dropped_id}");
    let deleted = server.delete(&path, admin).send().await.expect("request");
    assert_eq!(deleted.status(), 204);
    let again = server.delete(&path, admin).send().await.expect("request");
    assert_eq!(again.status(), 404);
    assert_eq!(crate::common::error_code(again).await, "unknown_webhook");

    // The list shows the live endpoint, and never a secret.
    let list: Value = server
        .get("/api/v1/campaigns/managed/webhooks", admin)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let hooks = list["webhooks"].as_array().expect("webhooks");
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0]["id"], kept["id"]);
    assert!(hooks[0].get("secret").is_none());

    server.create_dossier("managed", "M-1", candidate()).await;
    wait_until("the live endpoint gets the event", || {
        !receiver.delivered("/kept").is_empty()
    })
    .await;
    assert!(receiver.delivered("/dropped").is_empty());
}

/// Two processes on one PostgreSQL database, three endpoints, many events: every endpoint
/// gets every event once, in id order.
#[tokio::test]
async fn two_processes_deliver_each_event_once() {
    if !crate::common::scaled_available() {
        return;
    }
    let receiver = Receiver::start(0).await;
    let first = Server::start_with(Backend::Scaled, FAST_RETRIES).await;
    let second = first.sibling();
    first.load_campaign(&open_campaign("shared")).await;
    let paths = ["/one", "/two", "/three"];
    for path in paths {
        create_endpoint(&first, "shared", &receiver.url(path)).await;
    }
    let references: Vec<String> = (0..30).map(|i| format!("S-{i:02}")).collect();
    for (i, reference) in references.iter().enumerate() {
        let server = if i % 2 == 0 { &first } else { &second };
        server
            .create_dossier("shared", reference, candidate())
            .await;
    }
    let refs: Vec<&str> = references.iter().map(String::as_str).collect();
    let expected = event_ids(&first, &refs).await;
    assert_eq!(expected.len(), 30);
    wait_until("every endpoint has every event", || {
        paths
            .iter()
            .all(|p| receiver.delivered(p).len() >= expected.len())
    })
    .await;
    let mut per_path: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for hit in receiver.hits() {
        per_path.entry(hit.path).or_default().push(hit.event_id);
    }
    for path in paths {
        let got = &per_path[path];
        assert_eq!(got, &expected, "{path}: each event once, in id order");
        assert_eq!(got.iter().collect::<HashSet<_>>().len(), got.len());
    }
}

/// The delivery record of endpoint `id` of `campaign`, as admins read it (`query`: its filter).
async fn delivery_record(server: &Server, campaign: &str, id: &str, query: &str) -> Value {
    server
        .get(
            &format!("/api/v1/campaigns/{campaign}/webhooks/{id}/deliveries{query}"),
            &server.tokens.admin,
        )
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json")
}
