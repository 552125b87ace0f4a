//! Virus scanning end to end: a real `guichet serve` configured with a real clamd (started by
//! `scripts/test-all` through `scripts/services/clamd-up`, whose database detects the EICAR
//! test string as `Guichet.Test.EICAR.UNOFFICIAL`). The embedded variant talks to clamd over
//! TCP, the scaled one over its unix socket.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{
    Backend, Server, clamd_addresses, error_code, open_campaign, rejection, repo_root, sample,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const SIGNATURE: &str = "Guichet.Test.EICAR.UNOFFICIAL";
const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

on_every_backend!(
    clean_uploads_are_clean_and_infected_ones_are_refused,
    documents_wait_pending_while_clamd_is_down_and_are_scanned_once_it_is_back,
);

/// A PNG the validators accept, carrying the EICAR string in a `tEXt` chunk (a comment).
fn infected_png() -> Vec<u8> {
    let png = sample("carte-identite-recto.png");
    let mut data = b"Comment\0".to_vec();
    data.extend_from_slice(EICAR);
    let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
    let mut typed = b"tEXt".to_vec();
    typed.extend_from_slice(&data);
    chunk.extend_from_slice(&typed);
    chunk.extend_from_slice(&crc32(&typed).to_be_bytes());
    // After the signature (8 bytes) and IHDR (25 bytes).
    let mut out = png[..33].to_vec();
    out.extend_from_slice(&chunk);
    out.extend_from_slice(&png[33..]);
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn clamd_config(address: &str) -> String {
    format!("[clamav]\naddress = \"{address}\"\nconnect_timeout_secs = 2\n")
}

async fn content_status(server: &Server, id: &str) -> (u16, Option<String>) {
    let response = server
        .get(
            &format!("/api/v1/documents/{id}/content"),
            &server.tokens.staff,
        )
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    if status == 200 {
        return (status, None);
    }
    (status, Some(error_code(response).await))
}

async fn accept(server: &Server, id: &str) -> (u16, Option<String>) {
    let response = server
        .post(
            &format!("/api/v1/documents/{id}/review"),
            &server.tokens.staff,
        )
        .json(&json!({"decision": "accept"}))
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    if status == 200 {
        return (status, None);
    }
    (status, Some(error_code(response).await))
}

fn documents(dossier: &Value) -> Vec<Value> {
    dossier["pieces"]
        .as_array()
        .expect("pieces")
        .iter()
        .flat_map(|p| p["documents"].as_array().expect("documents").clone())
        .collect()
}

async fn clean_uploads_are_clean_and_infected_ones_are_refused(backend: Backend) {
    let Some((tcp, unix)) = clamd_addresses() else {
        return;
    };
    let address = if backend == Backend::Embedded {
        tcp
    } else {
        unix
    };
    let server = Server::start_with(backend, &clamd_config(&address)).await;
    server.load_campaign(&open_campaign("scan-clean")).await;
    server
        .create_dossier("scan-clean", "SCAN-1", json!({"birth_date": "1990-01-01"}))
        .await;

    // Clean: stored, `clean`, served; on an automatic piece, accepted.
    let response = server
        .upload(
            "SCAN-1",
            "identite",
            "cni.pdf",
            sample("carte-identite.pdf"),
        )
        .await;
    assert_eq!(response.status(), 201);
    let clean: Value = response.json().await.expect("json");
    assert_eq!(clean["scan"], "clean");
    assert!(clean.get("scan_signature").is_none());
    let id = clean["id"].as_str().expect("id");
    assert_eq!(content_status(&server, id).await, (200, None));
    let response = server
        .upload(
            "SCAN-1",
            "domicile",
            "edf.pdf",
            sample("justificatif-domicile.pdf"),
        )
        .await;
    assert_eq!(response.status(), 201);
    let auto: Value = response.json().await.expect("json");
    assert_eq!(
        (&auto["scan"], &auto["review"]),
        (&json!("clean"), &json!("accepted"))
    );

    // Infected: refused with `infected`, not attached, not stored, and an event says so.
    let infected = infected_png();
    let response = server
        .upload("SCAN-1", "identite", "cni-recto.png", infected.clone())
        .await;
    let (body, reasons) = rejection(response).await;
    assert_eq!(body["error"]["code"], "document_rejected");
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert_eq!(reasons[0]["code"], "infected");
    assert!(
        reasons[0]["message"]
            .as_str()
            .expect("message")
            .contains("virus"),
        "{reasons:?}"
    );
    assert!(
        reasons[0]["detail"]
            .as_str()
            .expect("detail")
            .contains(SIGNATURE)
    );
    // The same bytes again: refused again.
    let again = server
        .upload("SCAN-1", "identite", "cni-recto.png", infected.clone())
        .await;
    assert_eq!(again.status(), 422);

    let dossier = server.dossier("SCAN-1").await;
    let attached = documents(&dossier);
    assert_eq!(
        attached.len(),
        2,
        "only the clean documents are attached: {attached:#?}"
    );
    let digest = sha256(&infected);
    let events = server.events().await;
    let infected_events: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "document.infected")
        .collect();
    assert_eq!(infected_events.len(), 2, "{events:#?}");
    let event = infected_events[0];
    assert_eq!(event["dossier"], "SCAN-1");
    assert_eq!(event["data"]["signature"], SIGNATURE);
    assert_eq!(event["data"]["sha256"], digest.as_str());
    assert_eq!(event["data"]["piece"], "identite");
    assert_eq!(event["data"]["stored"], false);
    if backend == Backend::Embedded {
        let object = server
            .data
            .path()
            .join("objects/sha256")
            .join(&digest[..2])
            .join(&digest);
        assert!(!object.exists(), "infected content must not be stored");
    }
}

/// Starts a clamd of this test's own on `port`, in `dir`.
fn clamd_up(dir: &Path, port: u16) {
    let status = Command::new(repo_root().join("scripts/services/clamd-up"))
        .arg(dir)
        .env("CLAMD_PORT", port.to_string())
        .stdout(std::process::Stdio::null())
        .status()
        .expect("clamd-up runs");
    assert!(status.success(), "clamd-up failed");
}

fn clamd_down(dir: &Path) {
    let _ = Command::new(repo_root().join("scripts/services/clamd-down"))
        .arg(dir)
        .status();
}

/// Stops this test's clamd however the test ends.
struct OwnClamd(tempfile::TempDir);

impl Drop for OwnClamd {
    fn drop(&mut self) {
        clamd_down(self.0.path());
    }
}

async fn documents_wait_pending_while_clamd_is_down_and_are_scanned_once_it_is_back(
    backend: Backend,
) {
    if clamd_addresses().is_none() {
        return;
    }
    // A port where nothing listens yet; this test's clamd will come up on it.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let mut server =
        Server::start_with(backend, &clamd_config(&format!("tcp://127.0.0.1:{port}"))).await;
    server.load_campaign(&open_campaign("scan-down")).await;
    server
        .create_dossier("scan-down", "SCAN-2", json!({"birth_date": "1990-01-01"}))
        .await;

    let mut uploaded = Vec::new();
    for (piece, name, bytes) in [
        ("identite", "cni.pdf", sample("carte-identite.pdf")),
        ("identite", "cni-recto.png", infected_png()),
        ("domicile", "edf.pdf", sample("justificatif-domicile.pdf")),
    ] {
        let response = server.upload("SCAN-2", piece, name, bytes).await;
        assert_eq!(response.status(), 201, "{name}");
        let document: Value = response.json().await.expect("json");
        assert_eq!(document["scan"], "pending", "{name}");
        assert_eq!(document["verdict"], "accepted", "{name}");
        // Not accepted yet, even on the automatic piece.
        assert_eq!(document["review"], Value::Null, "{name}");
        uploaded.push(document["id"].as_str().expect("id").to_string());
    }
    let (clean_id, infected_id, auto_id) = (&uploaded[0], &uploaded[1], &uploaded[2]);
    // Unscanned content is neither served nor accepted.
    assert_eq!(
        content_status(&server, clean_id).await,
        (409, Some("scan_pending".into()))
    );
    assert_eq!(
        accept(&server, clean_id).await,
        (409, Some("scan_pending".into()))
    );
    let dossier = server.dossier("SCAN-2").await;
    for document in documents(&dossier) {
        assert_eq!(document["scan"], "pending");
    }

    // The process dies with the scans pending; the next one finds them.
    server.restart();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let dossier = server.dossier("SCAN-2").await;
    assert!(documents(&dossier).iter().all(|d| d["scan"] == "pending"));

    // clamd comes (back) up where the server expects it: every document gets scanned.
    let clamd = OwnClamd(tempfile::tempdir().expect("temp dir"));
    clamd_up(clamd.0.path(), port);
    let deadline = Instant::now() + Duration::from_secs(90);
    let scanned = loop {
        let dossier = server.dossier("SCAN-2").await;
        let documents = documents(&dossier);
        if documents.iter().all(|d| d["scan"] != "pending") {
            break documents;
        }
        assert!(
            Instant::now() < deadline,
            "still pending after 90 s: {documents:#?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let find = |id: &str| {
        scanned
            .iter()
            .find(|d| d["id"] == id)
            .unwrap_or_else(|| panic!("document {id}"))
            .clone()
    };

    let clean = find(clean_id);
    assert_eq!(clean["scan"], "clean");
    assert_eq!(content_status(&server, clean_id).await, (200, None));
    assert_eq!(accept(&server, clean_id).await, (200, None));
    let auto = find(auto_id);
    assert_eq!(
        (&auto["scan"], &auto["review"]),
        (&json!("clean"), &json!("accepted"))
    );

    let infected = find(infected_id);
    assert_eq!(infected["scan"], "infected");
    assert_eq!(infected["scan_signature"], SIGNATURE);
    assert_eq!(infected["verdict"], "rejected");
    assert_eq!(infected["reasons"][0]["code"], "infected");
    assert_eq!(
        content_status(&server, infected_id).await,
        (403, Some("document_quarantined".into()))
    );
    assert_eq!(
        accept(&server, infected_id).await,
        (403, Some("document_quarantined".into()))
    );
    let events = server.events().await;
    let event = events
        .iter()
        .find(|e| e["type"] == "document.infected")
        .expect("a document.infected event");
    assert_eq!(event["document"], infected_id.as_str());
    assert_eq!(event["data"]["signature"], SIGNATURE);
    assert_eq!(event["data"]["stored"], true);
    // The identite piece counts the clean document only.
    let dossier = server.dossier("SCAN-2").await;
    let identite = dossier["pieces"]
        .as_array()
        .expect("pieces")
        .iter()
        .find(|p| p["code"] == "identite")
        .expect("identite");
    assert_eq!(identite["status"], "accepted");
}
