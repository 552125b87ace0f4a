//! Several `guichet serve` processes on one PostgreSQL and one S3 store: concurrent uploads
//! and dossier changes through both, each document stored once, each event once, event ids
//! increasing, nothing lost.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;

use crate::common::{Backend, Server, open_campaign, scaled_available};
use serde_json::{Value, json};

/// A distinct, valid PNG for each `n`.
fn png(n: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(240, 160, |x, y| {
        image::Rgb([
            (x * 7 + n) as u8,
            (y * 3 + n * 11) as u8,
            (n * 37 % 251) as u8,
        ])
    });
    let mut bytes = Cursor::new(Vec::new());
    image
        .write_to(&mut bytes, image::ImageFormat::Png)
        .expect("encode png");
    bytes.into_inner()
}

async fn upload(server: &Server, reference: &str, piece: &str, body: Vec<u8>) -> Value {
    let response = server
        .post(
            &format!("/api/v1/dossiers/{reference}/pieces/{piece}/documents"),
            &server.tokens.portal,
        )
        .header("Content-Disposition", "attachment; filename=\"scan.png\"")
        .body(body)
        .send()
        .await
        .expect("request");
    let status = response.status();
    let body: Value = response.json().await.expect("json");
    assert!(status == 200 || status == 201, "{status}: {body}");
    body
}

#[tokio::test]
async fn two_processes_share_one_database_and_one_store() {
    if !scaled_available() {
        return;
    }
    let first = Server::start_on(Backend::Scaled).await;
    let second = first.sibling();
    first.load_campaign(&open_campaign("scale")).await;
    let servers = [&first, &second];

    // The same dossiers created through both processes at once: one each.
    let creations = (0..20).map(|i| {
        let server = servers[i % 2];
        async move {
            server
                .post("/api/v1/dossiers", &server.tokens.portal)
                .json(&json!({"campaign": "scale", "reference": format!("S-{}", i / 2),
                              "candidate": {"birth_date": "1990-01-01", "nationality": "BE", "amenagement": false}}))
                .send()
                .await
                .expect("request")
                .status()
                .as_u16()
        }
    });
    let statuses = futures::future::join_all(creations).await;
    assert_eq!(
        statuses.iter().filter(|&&s| s == 201).count(),
        10,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        10,
        "{statuses:?}"
    );

    // Concurrent uploads through both: every document twice, once through each process.
    let uploads = (0..40u32).map(|i| {
        let server = servers[(i % 2) as usize];
        let document = i / 2;
        async move {
            let reference = format!("S-{}", document % 10);
            let piece = if document < 10 {
                "identite"
            } else {
                "domicile"
            };
            upload(server, &reference, piece, png(document)).await
        }
    });
    let answers = futures::future::join_all(uploads).await;
    let mut ids_by_content: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for answer in &answers {
        ids_by_content
            .entry(answer["sha256"].as_str().expect("sha").to_string())
            .or_default()
            .insert(answer["id"].as_str().expect("id").to_string());
    }
    assert_eq!(ids_by_content.len(), 20);
    assert!(
        ids_by_content.values().all(|ids| ids.len() == 1),
        "the same bytes through two processes are one document: {ids_by_content:?}"
    );

    // Both processes tell the same story: each event once, ids increasing.
    let seen_first = first.events().await;
    let seen_second = second.events().await;
    assert_eq!(seen_first, seen_second);
    let ids: Vec<i64> = seen_first
        .iter()
        .map(|e| e["id"].as_i64().expect("id"))
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let count = |kind: &str| seen_first.iter().filter(|e| e["type"] == kind).count();
    assert_eq!(count("dossier.created"), 10);
    assert_eq!(count("document.received"), 20);
    // `domicile` is reviewed automatically: one acceptance per document, no more.
    assert_eq!(count("document.accepted"), 10);

    // Each document stored once, with the pictures of its page (a thumbnail and a reading
    // size), every object accounted for once every picture is made.
    for i in 0..10 {
        crate::previews::rendered(&first, &format!("S-{i}"), 2).await;
    }
    let (code, out, err) = first.verify();
    assert_eq!(code, 0, "verify: {out}{err}");
    assert!(out.contains("60 objects checked, 60 referenced"), "{out}");
}
