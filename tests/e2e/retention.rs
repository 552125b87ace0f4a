//! Retention against a real `guichet serve`, with periods of seconds: content goes from the
//! store (listed directly, on the disk or in the bucket) when its rule says, the documents'
//! metadata and history stay, content shared with a live document stays until that one goes
//! too, and SIGKILL in the middle of purges loses nothing still needed.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{Backend, Server, sample};

on_every_backend!(
    content_goes_when_its_rule_says_and_shared_content_waits,
    a_purge_killed_at_any_point_loses_nothing_still_needed,
);

/// Purges run every 300 ms in these tests.
const FAST_PURGES: &str = "[retention]\ncheck_every_ms = 300\n";

fn campaign(id: &str, after_close: &str, after_decision: &str) -> String {
    format!(
        r#"
id = "{id}"
title = "Conservation courte"
opens_at = "2024-01-01T09:00:00+01:00"
closes_at = "2099-06-30T18:00:00+02:00"
reference_date = "2027-05-15"

[retention]
after_close = "{after_close}"

[[pieces]]
code = "identite"
label = "Pièce d'identité"
accept = ["pdf", "jpeg", "png"]
max_documents = 2
required = true
purge_after_decision = "{after_decision}"

[[pieces]]
code = "domicile"
label = "Justificatif de domicile"
accept = ["pdf", "png"]
review = "auto"
"#
    )
}

async fn upload(server: &Server, reference: &str, piece: &str, bytes: Vec<u8>) -> Value {
    let response = server.upload(reference, piece, "piece.pdf", bytes).await;
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.expect("json")
}

fn document<'a>(dossier: &'a Value, id: &str) -> &'a Value {
    dossier["pieces"]
        .as_array()
        .expect("pieces")
        .iter()
        .flat_map(|p| p["documents"].as_array().expect("documents"))
        .find(|d| d["id"] == id)
        .expect("the document is still listed")
}

/// Waits (up to 30 s) until `check` holds for the dossier.
async fn until(
    server: &Server,
    reference: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let start = Instant::now();
    loop {
        let dossier = server.dossier(reference).await;
        if check(&dossier) {
            return dossier;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{what}: {dossier}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn every_preview_settled(dossier: &Value) -> bool {
    dossier["pieces"]
        .as_array()
        .expect("pieces")
        .iter()
        .flat_map(|p| p["documents"].as_array().expect("documents"))
        .all(|d| d["previews"] != "pending")
}

async fn content(server: &Server, id: &str) -> (u16, Vec<u8>) {
    let response = server
        .get(
            &format!("/api/v1/documents/{id}/content"),
            &server.tokens.staff,
        )
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.bytes().await.expect("body").to_vec())
}

/// The sample identity card, rewritten with one more (unreferenced) object numbered `n`: a
/// valid PDF whose bytes differ for each `n`.
fn distinct_pdf(n: u32) -> Vec<u8> {
    let mut pdf = lopdf::Document::load_mem(&sample("carte-identite.pdf")).expect("the sample");
    pdf.add_object(lopdf::Object::Integer(i64::from(n)));
    let mut bytes = Vec::new();
    pdf.save_to(&mut bytes).expect("saved");
    bytes
}

fn sha256_hex(bytes: &[u8]) -> String {
    storage::ContentKey::of(bytes).hex().to_string()
}

fn key(sha256: &str) -> String {
    format!("sha256/{}/{sha256}", &sha256[..2])
}

async fn decide(server: &Server, id: &str) {
    let response = server
        .post(
            &format!("/api/v1/documents/{id}/review"),
            &server.tokens.staff,
        )
        .json(&json!({"decision": "accept"}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
}

async fn content_goes_when_its_rule_says_and_shared_content_waits(backend: Backend) {
    let server = Server::start_with(backend, FAST_PURGES).await;
    server
        .load_campaign(&campaign("court", "PT3S", "PT2S"))
        .await;
    let candidate = json!({"last_name": "Martin"});
    server
        .create_dossier("court", "R-1", candidate.clone())
        .await;
    server.create_dossier("court", "R-2", candidate).await;
    let shared_bytes = sample("carte-identite.pdf");
    let identite_1 = upload(&server, "R-1", "identite", shared_bytes.clone()).await;
    let domicile_1 = upload(
        &server,
        "R-1",
        "domicile",
        sample("justificatif-domicile.pdf"),
    )
    .await;
    let identite_2 = upload(&server, "R-2", "identite", shared_bytes.clone()).await;
    let shared = identite_1["sha256"].as_str().unwrap().to_string();
    let own = domicile_1["sha256"].as_str().unwrap().to_string();
    assert_eq!(identite_2["sha256"], shared.as_str());
    for reference in ["R-1", "R-2"] {
        until(&server, reference, "pictures made", every_preview_settled).await;
    }
    let before = server.stored_keys().await;
    assert!(
        before.contains(&key(&shared)) && before.contains(&key(&own)),
        "{before:?}"
    );
    assert!(
        before.len() > 2,
        "pictures are stored objects too: {before:?}"
    );

    // R-1's identity document is decided: two seconds later its content goes, but the bytes
    // stay in the store while R-2's document (undecided) needs them.
    let id_1 = identite_1["id"].as_str().unwrap();
    decide(&server, id_1).await;
    let purged = until(&server, "R-1", "identite purged", |d| {
        document(d, id_1)["purged_at"].is_string()
    })
    .await;
    let doc = document(&purged, id_1);
    assert_eq!(doc["purge_rule"], "purge_after_decision PT2S");
    assert_eq!(doc["sha256"], shared.as_str(), "the hash stays");
    assert_eq!(doc["size"], shared_bytes.len());
    let response = server
        .get(
            &format!("/api/v1/documents/{id_1}/content"),
            &server.tokens.staff,
        )
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 410);
    assert_eq!(crate::common::error_code(response).await, "content_purged");
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(
        server.stored_keys().await.contains(&key(&shared)),
        "R-2 needs it"
    );
    let id_2 = identite_2["id"].as_str().unwrap();
    assert_eq!(content(&server, id_2).await, (200, shared_bytes.clone()));

    // R-1 closes: three seconds later everything of it goes, pictures included.
    let response = server
        .post("/api/v1/dossiers/R-1/close", &server.tokens.staff)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let id_own = domicile_1["id"].as_str().unwrap();
    let closed = until(&server, "R-1", "domicile purged after close", |d| {
        document(d, id_own)["purged_at"].is_string()
    })
    .await;
    assert_eq!(document(&closed, id_own)["purge_rule"], "after_close PT3S");
    let start = Instant::now();
    while server.stored_keys().await.contains(&key(&own)) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "R-1's own content stays"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // R-2's document is decided too: now nothing needs the shared bytes.
    decide(&server, id_2).await;
    until(&server, "R-2", "R-2 purged", |d| {
        document(d, id_2)["purged_at"].is_string()
    })
    .await;
    let start = Instant::now();
    loop {
        let left = server.stored_keys().await;
        if left.is_empty() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "every object should be gone, pictures included: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The history keeps what happened, and who did it.
    let history: Value = server
        .get("/api/v1/dossiers/R-1/history", &server.tokens.staff)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let purges: Vec<&Value> = history["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["action"] == "document.purged")
        .collect();
    assert_eq!(purges.len(), 2, "{history}");
    assert!(purges.iter().all(|e| e["actor"] == "system"));
    let (code, out, err) = server.verify();
    assert_eq!(code, 0, "purged objects are not missing ones: {out}{err}");
    let (code, out, err) = server.command(&["audit", "verify"]);
    assert_eq!(code, 0, "{out}{err}");

    // A dry run says what will go, and when, and changes nothing.
    server.load_campaign(&campaign("long", "P1Y", "P30D")).await;
    server.create_dossier("long", "L-1", json!({})).await;
    let kept = upload(&server, "L-1", "identite", sample("carte-identite.pdf")).await;
    let kept = kept["id"].as_str().unwrap();
    decide(&server, kept).await;
    let (code, out, err) = server.command(&["purge", "--dry-run"]);
    assert_eq!(code, 0, "{out}{err}");
    let line = out
        .lines()
        .find(|l| l.contains(kept))
        .unwrap_or_else(|| panic!("{kept} listed: {out}"));
    assert!(
        line.contains("later") && line.contains("purge_after_decision P30D"),
        "{line}"
    );
    assert!(line.contains("L-1"), "{line}");
    let listed = server.dossier("L-1").await;
    assert!(document(&listed, kept)["purged_at"].is_null());
}

async fn a_purge_killed_at_any_point_loses_nothing_still_needed(backend: Backend) {
    let mut server = Server::start_with(backend, FAST_PURGES).await;
    // One hour after closing: only decisions purge here.
    server
        .load_campaign(&campaign("kill", "PT1H", "PT1S"))
        .await;
    // Twelve dossiers, each with a decided identity document of its own bytes S(n) and an
    // undecided (live) one holding S(n-1), the bytes the previous dossier's decided one has:
    // S(0)..S(10) must stay, S(11) and the pictures nobody else shares must go.
    let bytes = distinct_pdf;
    let mut live: Vec<(String, String, Vec<u8>)> = Vec::new();
    let mut decided: Vec<(String, String)> = Vec::new();
    for n in 0..12u32 {
        let reference = format!("K-{n}");
        server.create_dossier("kill", &reference, json!({})).await;
        let identite = upload(&server, &reference, "identite", bytes(n)).await;
        decided.push((
            reference.clone(),
            identite["id"].as_str().unwrap().to_string(),
        ));
        let kept = if n == 0 {
            sample("justificatif-domicile.pdf")
        } else {
            bytes(n - 1)
        };
        let shared = upload(&server, &reference, "identite", kept.clone()).await;
        live.push((reference, shared["id"].as_str().unwrap().to_string(), kept));
    }
    // The second identity document stays undecided (live); the first are decided one by one,
    // and the server is killed at moments spread over the purges.
    for (i, (_, id)) in decided.iter().enumerate() {
        decide(&server, id).await;
        if i % 3 == 2 {
            tokio::time::sleep(Duration::from_millis(350 + 170 * i as u64)).await;
            server.restart();
        }
    }
    // After the last restart, passes finish what was left.
    let start = Instant::now();
    loop {
        let mut all_purged = true;
        for (reference, id) in &decided {
            let dossier = server.dossier(reference).await;
            all_purged &= document(&dossier, id)["purged_at"].is_string();
        }
        if all_purged {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "purges did not finish"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for (_, id, kept) in &live {
        assert_eq!(&content(&server, id).await, &(200, kept.clone()), "{id}");
    }
    let last = distinct_pdf(11);
    let start = Instant::now();
    while server
        .stored_keys()
        .await
        .contains(&key(&sha256_hex(&last)))
    {
        assert!(start.elapsed() < Duration::from_secs(10), "S(11) should go");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (code, out, err) = server.verify();
    assert_eq!(code, 0, "nothing missing, nothing orphaned: {out}{err}");
}
