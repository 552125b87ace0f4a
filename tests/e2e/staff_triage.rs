//! Mailroom triage through the staff interface, end to end against a real `guichet serve`:
//! a scanned batch with a stray page before its first sheet, the stray page listed on
//! `/staff/triage` with its preview, assigned to a dossier and piece through the form, then
//! found in the dossier (channel mailroom) and gone from the list.

use crate::common::{Backend, Server, mailroom_batch_finished, open_campaign};
use crate::staff_support::{PASSWORD, Session, create_user, csrf_of, location, unescape};
use reqwest::StatusCode;
use scanners::generate::{ImageCoding, encode_page, pdf_batch, rasterise_sheet, text_page};
use serde_json::{Value, json};

on_every_backend!(a_stray_page_is_assigned_to_a_dossier_from_the_triage_page);

const CAMPAIGN: &str = "bts-2027";
const DPI: u32 = 150;

async fn a_stray_page_is_assigned_to_a_dossier_from_the_triage_page(backend: Backend) {
    let server = Server::start_on(backend).await;
    server.load_campaign(&open_campaign(CAMPAIGN)).await;
    for reference in ["T-1", "T-2"] {
        server
            .create_dossier(
                CAMPAIGN,
                reference,
                json!({"birth_date": "1990-01-01", "nationality": "FR"}),
            )
            .await;
    }
    let cover = server
        .get(
            "/api/v1/dossiers/T-1/cover-sheet.pdf",
            &server.tokens.portal,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(cover.status(), 200);
    let cover = rasterise_sheet(&cover.bytes().await.unwrap(), DPI).expect("the sheet renders");
    // A stray page, then T-1's cover sheet and one page.
    let pages: Vec<_> = [text_page(DPI, 3, 1), cover, text_page(DPI, 3, 2)]
        .iter()
        .map(|p| encode_page(p, ImageCoding::Jpeg))
        .collect();
    let response = server
        .post("/api/v1/mailroom/batches", &server.tokens.station)
        .header("Content-Disposition", "attachment; filename=\"lot.pdf\"")
        .body(pdf_batch(&pages))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let answer: Value = response.json().await.unwrap();
    let id = answer["id"].as_str().unwrap().to_string();
    let batch = mailroom_batch_finished(&server, &id).await;
    assert_eq!(batch["state"], "done", "{batch}");
    let unmatched = batch["unmatched"].as_array().expect("unmatched");
    assert_eq!(unmatched.len(), 1, "{batch}");
    assert_eq!(unmatched[0]["reason"], "before_first_sheet", "{batch}");
    assert_eq!(unmatched[0]["pages"], json!([1]), "{batch}");
    let sha256 = unmatched[0]["sha256"]
        .as_str()
        .expect("stored PDF")
        .to_string();
    let message = unmatched[0]["message"].as_str().unwrap().to_string();

    assert_eq!(
        create_user(&server, "instructeur", "reviewer", PASSWORD).0,
        0
    );
    let staff = Session::logged_in(&server, "instructeur").await;
    let page = staff.page("/staff/triage").await;
    assert!(page.contains("Courrier à classer"), "{page}");
    assert!(unescape(&page).contains(&message), "{page}");
    assert!(page.contains("page 1"), "{page}");
    let preview = format!("/staff/triage/{id}/{sha256}/content");
    assert!(page.contains(&preview), "{page}");
    let action = format!("/staff/triage/{id}/{sha256}/assign");
    assert!(page.contains(&action), "{page}");
    assert!(page.contains("<label for=\"reference-"), "{page}");

    let content = staff.get(&preview).await;
    assert_eq!(content.status(), StatusCode::OK);
    assert_eq!(content.headers()["content-security-policy"], "sandbox");
    assert_eq!(content.headers()["x-content-type-options"], "nosniff");
    assert_eq!(content.headers()["content-type"], "application/pdf");
    assert!(content.bytes().await.unwrap().starts_with(b"%PDF"));
    // Only triage PDFs of the batch are served, not any stored content by its hash.
    let other = staff
        .get(&format!(
            "/staff/triage/{id}/{}/content",
            batch["sha256"].as_str().unwrap()
        ))
        .await;
    assert_eq!(other.status(), StatusCode::NOT_FOUND);

    // Without the session's token, nothing is assigned.
    let forged = staff
        .post(
            &action,
            &[("csrf", "x"), ("reference", "T-2"), ("piece", "domicile")],
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    // An unknown dossier is refused with its reason.
    let csrf = csrf_of(&page);
    let unknown = staff
        .post(
            &action,
            &[("csrf", &csrf), ("reference", "NOPE-1"), ("piece", "")],
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);

    let assigned = staff
        .post(
            &action,
            &[
                ("csrf", &csrf),
                ("reference", "T-2"),
                ("piece", "domicile"),
                ("piece_code", ""),
            ],
        )
        .await;
    assert_eq!(assigned.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&assigned), "/staff/triage?dossier=T-2");

    let dossier = server.dossier("T-2").await;
    let domicile = dossier["pieces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["code"] == "domicile")
        .unwrap();
    let documents = domicile["documents"].as_array().unwrap();
    assert_eq!(documents.len(), 1, "{dossier}");
    assert_eq!(documents[0]["channel"], "mailroom", "{dossier}");
    assert_eq!(documents[0]["sha256"], sha256.as_str(), "{dossier}");

    let page = staff.page("/staff/triage?dossier=T-2").await;
    assert!(!page.contains(&sha256), "{page}");
    assert!(page.contains("Aucune page à classer"), "{page}");
    assert!(page.contains("/staff/dossiers/T-2"), "{page}");

    // Assigning again files nothing twice.
    let again = staff
        .post(
            &action,
            &[("csrf", &csrf), ("reference", "T-2"), ("piece", "domicile")],
        )
        .await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    let dossier = server.dossier("T-2").await;
    let count = dossier["pieces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["code"] == "domicile")
        .unwrap()["documents"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(count, 1, "{dossier}");
    let batch = mailroom_batch_finished(&server, &id).await;
    let mark = &batch["unmatched"][0]["assigned"];
    assert_eq!(mark["dossier"], "T-2", "{batch}");
    assert_eq!(mark["piece"], "domicile", "{batch}");
    assert_eq!(mark["by"], "instructeur", "{batch}");
    assert_eq!(mark["document"], documents[0]["id"], "{batch}");
}
