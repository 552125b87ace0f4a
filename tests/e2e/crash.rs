//! Nothing acknowledged is lost: rounds of concurrent uploads and a mailroom batch, with the
//! server killed (SIGKILL) at a random moment in each, then restarted. After every round,
//! `guichet verify` and the API agree: every acknowledged document is there with its SHA-256
//! and its bytes, no record lacks its object, nothing is recorded twice, and nothing is stuck
//! (an upload the crash cut off goes through when sent again; the batch finishes).

use std::collections::HashMap;
use std::time::Duration;

use crate::common::{Backend, Server, mailroom_batch_finished, open_campaign};
use scanners::generate::{ImageCoding, encode_page, pdf_batch, rasterise_sheet, text_page};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

on_every_backend!(sigkill_rounds_lose_nothing_acknowledged);

const CAMPAIGN: &str = "crash-2027";
const ROUNDS: usize = 3;
const UPLOADS_PER_ROUND: usize = 16;

/// A distinct PNG the validators accept (160×160 pixels of noise seeded by `seed`).
fn png(seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let image = image::RgbImage::from_fn(160, 160, |_, _| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let b = (state >> 33).to_le_bytes();
        image::Rgb([b[0], b[1], b[2]])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("encoding to memory");
    out.into_inner()
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

async fn upload(server: &Server, reference: &str, bytes: Vec<u8>) -> Option<Value> {
    let response = server
        .post(
            &format!("/api/v1/dossiers/{reference}/pieces/identite/documents"),
            &server.tokens.portal,
        )
        .header("Content-Disposition", "attachment; filename=\"piece.png\"")
        .body(bytes)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .ok()?;
    let status = response.status().as_u16();
    let body: Value = response.json().await.ok()?;
    matches!(status, 200 | 201).then_some(body)
}

/// A small batch: the sheet of `reference`'s `domicile` piece and one page.
async fn batch(server: &Server, reference: &str, seed: u64) -> Vec<u8> {
    let sheet = server
        .get(
            &format!("/api/v1/dossiers/{reference}/cover-sheet.pdf?piece=domicile"),
            &server.tokens.portal,
        )
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let pages = [
        rasterise_sheet(&sheet, 150).expect("the sheet renders"),
        text_page(150, seed, 1),
    ];
    let encoded: Vec<_> = pages
        .iter()
        .map(|p| encode_page(p, ImageCoding::Jpeg))
        .collect();
    pdf_batch(&encoded)
}

async fn sigkill_rounds_lose_nothing_acknowledged(backend: Backend) {
    let mut server = Server::start_on(backend).await;
    server.load_campaign(&open_campaign(CAMPAIGN)).await;
    let dossiers = ROUNDS * UPLOADS_PER_ROUND;
    for n in 0..dossiers {
        server
            .create_dossier(
                CAMPAIGN,
                &format!("K-{n}"),
                json!({"birth_date": "1990-01-01"}),
            )
            .await;
    }
    // What the server acknowledged: dossier → SHA-256 of its document.
    let mut acknowledged: HashMap<String, String> = HashMap::new();
    let mut batches: Vec<(String, String)> = Vec::new();

    for round in 0..ROUNDS {
        let batch_dossier = format!("K-{}", round * UPLOADS_PER_ROUND);
        let batch_bytes = batch(&server, &batch_dossier, round as u64).await;
        let mut tasks = Vec::new();
        for i in 0..UPLOADS_PER_ROUND {
            let reference = format!("K-{}", round * UPLOADS_PER_ROUND + i);
            let bytes = png((round * 1000 + i) as u64);
            let base = server.base.clone();
            let portal = server.tokens.portal.clone();
            tasks.push(tokio::spawn(async move {
                let client = reqwest::Client::new();
                let sent = client
                    .post(format!(
                        "{base}/api/v1/dossiers/{reference}/pieces/identite/documents"
                    ))
                    .bearer_auth(portal)
                    .header("Content-Disposition", "attachment; filename=\"piece.png\"")
                    .body(bytes.clone())
                    .timeout(Duration::from_secs(30))
                    .send()
                    .await;
                let acked = match sent {
                    Ok(r) if matches!(r.status().as_u16(), 200 | 201) => {
                        r.json::<Value>().await.ok()
                    }
                    _ => None,
                };
                (reference, bytes, acked)
            }));
        }
        let batch_task = {
            let url = server.url("/api/v1/mailroom/batches");
            let station = server.tokens.station.clone();
            let bytes = batch_bytes.clone();
            tokio::spawn(async move {
                let response = reqwest::Client::new()
                    .post(url)
                    .bearer_auth(station)
                    .body(bytes)
                    .send()
                    .await
                    .ok()?;
                let body: Value = response.json().await.ok()?;
                body["id"].as_str().map(str::to_string)
            })
        };
        // Kill at a moment that moves from round to round, while requests are in flight.
        let pause = 40 + (round as u64 * 137 + 61) % 300;
        tokio::time::sleep(Duration::from_millis(pause)).await;
        server.kill();

        let mut cut_off = Vec::new();
        for task in tasks {
            let (reference, bytes, acked) = task.await.unwrap();
            match acked {
                Some(body) => {
                    assert_eq!(body["sha256"], sha256(&bytes), "acknowledged hash");
                    acknowledged.insert(reference, sha256(&bytes));
                }
                None => cut_off.push((reference, bytes)),
            }
        }
        let batch_id = batch_task.await.unwrap();
        server.restart();

        // Nothing stuck: what the crash cut off goes through when sent again (200 when it
        // had been recorded before the answer was lost), and the batch (sent again if its
        // answer was lost) finishes.
        for (reference, bytes) in cut_off {
            let body = upload(&server, &reference, bytes.clone())
                .await
                .unwrap_or_else(|| panic!("{reference}: the upload fails after the restart"));
            assert_eq!(body["sha256"], sha256(&bytes));
            acknowledged.insert(reference, sha256(&bytes));
        }
        let batch_id = match batch_id {
            Some(id) => id,
            None => {
                let response = server
                    .post("/api/v1/mailroom/batches", &server.tokens.station)
                    .body(batch_bytes)
                    .send()
                    .await
                    .unwrap();
                assert!(matches!(response.status().as_u16(), 200 | 202));
                let body: Value = response.json().await.unwrap();
                body["id"].as_str().unwrap().to_string()
            }
        };
        batches.push((batch_id, batch_dossier));

        check(&server, &acknowledged, &batches).await;
        println!(
            "round {round}: killed after {pause} ms; {} documents acknowledged so far",
            acknowledged.len()
        );
    }
}

/// Every acknowledged document is there once, with its bytes; every batch is done and filed
/// once; `guichet verify` finds nothing missing or corrupt.
async fn check(
    server: &Server,
    acknowledged: &HashMap<String, String>,
    batches: &[(String, String)],
) {
    for (reference, hash) in acknowledged {
        let dossier = server.dossier(reference).await;
        let documents: Vec<&Value> = dossier["pieces"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["documents"].as_array().unwrap())
            .filter(|d| d["channel"] == "upload")
            .collect();
        let same: Vec<&&Value> = documents.iter().filter(|d| d["sha256"] == *hash).collect();
        assert_eq!(same.len(), 1, "{reference}: recorded once: {dossier}");
        let id = same[0]["id"].as_str().unwrap();
        let content = server
            .get(
                &format!("/api/v1/documents/{id}/content"),
                &server.tokens.staff,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(content.status(), 200, "{reference}: content served");
        let bytes = content.bytes().await.unwrap();
        assert_eq!(&sha256(&bytes), hash, "{reference}: the bytes acknowledged");
    }
    for (id, reference) in batches {
        let batch = mailroom_batch_finished(server, id).await;
        assert_eq!(batch["state"], "done", "{batch}");
        let dossier = server.dossier(reference).await;
        let mailed: Vec<&Value> = dossier["pieces"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["documents"].as_array().unwrap())
            .filter(|d| d["channel"] == "mailroom")
            .collect();
        assert_eq!(
            mailed.len(),
            1,
            "{reference}: the batch filed once: {dossier}"
        );
    }
    let (_, out, err) = server.verify();
    for line in out.lines() {
        assert!(
            !line.starts_with("missing") && !line.starts_with("corrupt"),
            "guichet verify: {line}\n{out}\n{err}"
        );
    }
}
