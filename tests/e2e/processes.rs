//! Several processes of one deployment (PostgreSQL + S3): they share the service secret, so
//! each accepts the cover sheets the other printed, before and through a rotation of the
//! secret; a campaign loaded through one is in force in the other without a restart; and
//! `serve` refuses to start on shared data without a configured secret.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{Backend, Server, mailroom_batch_finished, open_campaign, scaled_available};
use crate::mailroom::{send_batch, sheet};
use scanners::generate::{ImageCoding, encode_page, pdf_batch, rasterise_sheet, text_page};

const CAMPAIGN: &str = "bts-2027";
const S1: &str = "the first shared secret 0123456789abcdef";
const S2: &str = "the second shared secret fedcba9876543210";

fn secrets(current: &str, previous: Option<&str>) -> Vec<(String, String)> {
    let mut env = vec![("GUICHET_SECRET".to_string(), current.to_string())];
    if let Some(previous) = previous {
        env.push(("GUICHET_PREVIOUS_SECRETS".into(), previous.into()));
    }
    env
}

/// Sends `cover` and one page as a batch to `server`; the batch once split.
async fn send_cover(server: &Server, cover: &[u8], seed: u64) -> Value {
    let dpi = 150;
    let pages: Vec<_> = [
        rasterise_sheet(cover, dpi).expect("the sheet renders"),
        text_page(dpi, seed, 1),
    ]
    .iter()
    .map(|p| encode_page(p, ImageCoding::Jpeg))
    .collect();
    let (status, answer) = send_batch(server, pdf_batch(&pages), "lot.pdf").await;
    assert_eq!(status, 202, "{answer}");
    mailroom_batch_finished(server, answer["id"].as_str().expect("an id")).await
}

/// The batch filed its one segment into `reference`, and nothing went to triage.
fn filed_into(batch: &Value, reference: &str) {
    assert_eq!(batch["state"], "done", "{batch}");
    assert_eq!(batch["segments"][0]["dossier"], reference, "{batch}");
    assert_eq!(batch["unmatched"], json!([]), "{batch}");
}

#[tokio::test]
async fn cover_sheets_cross_processes_before_and_after_a_rotation() {
    if !scaled_available() {
        return;
    }
    let mut a = Server::start_on_with_env(Backend::Scaled, secrets(S1, None)).await;
    a.load_campaign(&open_campaign(CAMPAIGN)).await;
    for reference in ["R-1", "R-2", "R-3"] {
        a.create_dossier(CAMPAIGN, reference, json!({"birth_date": "1990-01-01"}))
            .await;
    }
    let mut b = a.sibling();

    // One secret: a sheet printed by one process is read by the other, alone at work.
    let printed_by_a = sheet(&a, "R-1", None).await;
    a.kill();
    filed_into(&send_cover(&b, &printed_by_a, 1).await, "R-1");
    a.start_again();
    let printed_by_b = sheet(&b, "R-2", None).await;
    b.kill();
    filed_into(&send_cover(&a, &printed_by_b, 2).await, "R-2");

    // Rotation: both restart with S2, S1 kept as previous.
    a.kill();
    for server in [&mut a, &mut b] {
        server.set_env(secrets(S2, Some(S1)));
    }
    b.start_again();
    let printed_after = sheet(&b, "R-3", None).await;
    filed_into(&send_cover(&b, &printed_by_a, 3).await, "R-1");
    a.start_again();
    b.kill();
    filed_into(&send_cover(&a, &printed_after, 4).await, "R-3");
    filed_into(&send_cover(&a, &printed_by_b, 5).await, "R-2");

    // Once S1 is dropped, sheets printed under it are refused as forged; new ones still read.
    a.kill();
    a.set_env(secrets(S2, None));
    a.start_again();
    let refused = send_cover(&a, &printed_by_a, 6).await;
    assert_eq!(refused["segments"], json!([]), "{refused}");
    assert_eq!(
        refused["unmatched"][0]["reason"], "forged_sheet",
        "{refused}"
    );
    filed_into(&send_cover(&a, &printed_after, 7).await, "R-3");
}

#[tokio::test]
async fn a_campaign_loaded_through_one_process_is_in_force_in_the_other() {
    if !scaled_available() {
        return;
    }
    let a = Server::start_on(Backend::Scaled).await;
    let v1 = open_campaign(CAMPAIGN);
    a.load_campaign(&v1).await;
    let b = a.sibling();
    let label = |campaign: &Value| {
        campaign["pieces"]
            .as_array()
            .expect("pieces")
            .iter()
            .find(|p| p["code"] == "identite")
            .map(|p| p["label"].clone())
            .expect("identite")
    };
    let read = |server: &Server| {
        let request = server.get(
            &format!("/api/v1/campaigns/{CAMPAIGN}"),
            &server.tokens.admin,
        );
        async move {
            let response = request.send().await.expect("an answer");
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.expect("JSON")
        }
    };
    assert_eq!(label(&read(&b).await), "Pièce d'identité");

    let v2 = v1.replace("Pièce d'identité", "Pièce d'identité en cours de validité");
    a.load_campaign(&v2).await;
    let loaded = Instant::now();
    loop {
        if label(&read(&b).await) == "Pièce d'identité en cours de validité" {
            break;
        }
        assert!(
            loaded.elapsed() < Duration::from_secs(5),
            "the other process still has v1"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn serve_refuses_shared_data_without_a_configured_secret() {
    if !scaled_available() {
        return;
    }
    let server = Server::start_on(Backend::Scaled).await;
    let config = server.config.as_ref().expect("a configuration file");
    let text = std::fs::read_to_string(config).expect("config");
    let without: String = text
        .lines()
        .filter(|line| !line.starts_with("secret ="))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(config, without).expect("config");
    let (code, stderr) = server.refused_start();
    assert_ne!(code, 0);
    assert!(
        stderr.contains("no secret configured") && stderr.contains("GUICHET_SECRET"),
        "{stderr}"
    );
}
