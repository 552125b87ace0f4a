//! A dossier driven from creation to closed over HTTP, against a real `guichet serve`.

use crate::common::{Backend, Server, error_code, open_campaign, sample};
use serde_json::{Value, json};

fn piece<'a>(dossier: &'a Value, code: &str) -> &'a Value {
    dossier["pieces"]
        .as_array()
        .expect("pieces")
        .iter()
        .find(|p| p["code"] == code)
        .expect("piece present")
}

on_every_backend!(
    a_dossier_goes_from_open_to_closed_and_survives_a_restart,
    withdrawn_documents_leave_the_piece_and_multipart_uploads_work,
    a_missing_attribute_makes_a_conditional_piece_required_and_says_so,
);

async fn a_dossier_goes_from_open_to_closed_and_survives_a_restart(backend: Backend) {
    let mut server = Server::start_on(backend).await;
    server.load_campaign(&open_campaign("bts-2027")).await;

    // Creation is idempotent on the reference.
    let candidate = json!({"birth_date": "2006-02-01", "nationality": "FR", "amenagement": false});
    let created = server
        .create_dossier("bts-2027", "BTS-0042", candidate.clone())
        .await;
    assert_eq!(created["state"], "open");
    let again = server
        .post("/api/v1/dossiers", &server.tokens.portal)
        .json(&json!({"campaign": "bts-2027", "reference": "BTS-0042", "candidate": candidate}))
        .send()
        .await
        .expect("request");
    assert_eq!(again.status(), 200);

    // Conditions: 21 years old and French at the reference date → JDC required, with why.
    assert_eq!(piece(&created, "jdc")["required"], true);
    assert!(
        piece(&created, "jdc")["why"]
            .as_str()
            .is_some_and(|w| w.contains("candidate.age"))
    );
    assert_eq!(piece(&created, "amenagement")["required"], false);

    // Submitting with pieces missing names them.
    let early = server
        .post("/api/v1/dossiers/BTS-0042/submit", &server.tokens.portal)
        .send()
        .await
        .expect("request");
    assert_eq!(early.status(), 409);
    let body: Value = early.json().await.expect("json");
    assert_eq!(body["error"]["code"], "missing_pieces");
    assert_eq!(
        body["error"]["details"]["missing"],
        json!(["identite", "jdc", "domicile"])
    );

    // Uploads: the same bytes twice are one document.
    let first = server
        .upload(
            "BTS-0042",
            "identite",
            "carte.pdf",
            sample("carte-identite.pdf"),
        )
        .await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.expect("json");
    assert_eq!(first["kind"], "pdf");
    assert_eq!(first["pages"], 1);
    assert_eq!(first["verdict"], "accepted");
    let repeat = server
        .upload(
            "BTS-0042",
            "identite",
            "carte.pdf",
            sample("carte-identite.pdf"),
        )
        .await;
    assert_eq!(repeat.status(), 200);
    let repeat: Value = repeat.json().await.expect("json");
    assert_eq!(repeat["id"], first["id"]);

    let jdc = server
        .upload("BTS-0042", "jdc", "jdc.pdf", sample("attestation-jdc.pdf"))
        .await;
    assert_eq!(jdc.status(), 201);
    let jdc: Value = jdc.json().await.expect("json");

    // The automatic piece is accepted by its verdict alone.
    let home = server
        .upload(
            "BTS-0042",
            "domicile",
            "facture.pdf",
            sample("justificatif-domicile.pdf"),
        )
        .await;
    assert_eq!(home.status(), 201);
    let home: Value = home.json().await.expect("json");
    assert_eq!(home["review"], "accepted");

    let submitted = server
        .post("/api/v1/dossiers/BTS-0042/submit", &server.tokens.portal)
        .send()
        .await
        .expect("request");
    assert_eq!(submitted.status(), 200);
    let submitted: Value = submitted.json().await.expect("json");
    assert_eq!(submitted["state"], "submitted");
    assert_eq!(submitted["complete"], false);

    // Closing before completeness is refused.
    let too_soon = server
        .post("/api/v1/dossiers/BTS-0042/close", &server.tokens.staff)
        .send()
        .await
        .expect("request");
    assert_eq!(too_soon.status(), 409);
    assert_eq!(error_code(too_soon).await, "not_complete");

    // A staff rejection sends the dossier back to open, with the reason.
    let rejected = server
        .post(
            &format!(
                "/api/v1/documents/{}/review",
                jdc["id"].as_str().expect("id")
            ),
            &server.tokens.staff,
        )
        .json(&json!({"decision": "reject", "reason": "Attestation illisible"}))
        .send()
        .await
        .expect("request");
    assert_eq!(rejected.status(), 200);
    let dossier = server.dossier("BTS-0042").await;
    assert_eq!(dossier["state"], "open");
    assert_eq!(dossier["reason"], "Attestation illisible");
    assert_eq!(piece(&dossier, "jdc")["status"], "rejected");

    // The candidate replaces it and declares again; staff accept; the dossier completes.
    let replaced = server
        .upload("BTS-0042", "jdc", "jdc-2.pdf", sample("carte-identite.pdf"))
        .await;
    assert_eq!(replaced.status(), 201);
    let replaced: Value = replaced.json().await.expect("json");
    let resubmitted = server
        .post("/api/v1/dossiers/BTS-0042/submit", &server.tokens.portal)
        .send()
        .await
        .expect("request");
    assert_eq!(resubmitted.status(), 200);
    for doc in [&first, &replaced] {
        let accepted = server
            .post(
                &format!(
                    "/api/v1/documents/{}/review",
                    doc["id"].as_str().expect("id")
                ),
                &server.tokens.staff,
            )
            .json(&json!({"decision": "accept"}))
            .send()
            .await
            .expect("request");
        assert_eq!(accepted.status(), 200);
    }
    let dossier = server.dossier("BTS-0042").await;
    assert_eq!(dossier["state"], "complete");
    assert_eq!(dossier["complete"], true);

    let closed = server
        .post("/api/v1/dossiers/BTS-0042/close", &server.tokens.staff)
        .send()
        .await
        .expect("request");
    assert_eq!(closed.status(), 200);
    let closed: Value = closed.json().await.expect("json");
    assert_eq!(closed["state"], "closed");

    // The event feed tells the story in increasing ids.
    let feed: Value = server
        .get("/api/v1/events?after=0", &server.tokens.portal)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let events = feed["events"].as_array().expect("events");
    let ids: Vec<i64> = events
        .iter()
        .map(|e| e["id"].as_i64().expect("id"))
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "increasing ids: {ids:?}"
    );
    let types: Vec<&str> = events
        .iter()
        .map(|e| e["type"].as_str().expect("type"))
        .collect();
    for expected in [
        "dossier.created",
        "document.received",
        "document.accepted",
        "document.rejected",
        "dossier.submitted",
        "dossier.reopened",
        "dossier.complete",
        "dossier.closed",
    ] {
        assert!(types.contains(&expected), "{expected} in {types:?}");
    }
    let after_last: Value = server
        .get(
            &format!("/api/v1/events?after={}", ids[ids.len() - 1]),
            &server.tokens.portal,
        )
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(after_last["events"], json!([]));

    // Everything is still there after an abrupt restart, and the content is intact.
    server.restart();
    let dossier = server.dossier("BTS-0042").await;
    assert_eq!(dossier["state"], "closed");
    let content = server
        .get(
            &format!(
                "/api/v1/documents/{}/content",
                first["id"].as_str().expect("id")
            ),
            &server.tokens.staff,
        )
        .send()
        .await
        .expect("request");
    assert_eq!(content.status(), 200);
    let headers = content.headers().clone();
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(
        headers["content-disposition"]
            .to_str()
            .expect("ascii")
            .starts_with("attachment")
    );
    assert_eq!(
        headers["etag"].to_str().expect("ascii"),
        format!("\"{}\"", first["sha256"].as_str().expect("sha"))
    );
    assert_eq!(
        content.bytes().await.expect("bytes").as_ref(),
        sample("carte-identite.pdf").as_slice()
    );
}

async fn withdrawn_documents_leave_the_piece_and_multipart_uploads_work(backend: Backend) {
    let server = Server::start_on(backend).await;
    server.load_campaign(&open_campaign("bts-mp")).await;
    server
        .create_dossier(
            "bts-mp",
            "MP-1",
            json!({"birth_date": "1990-01-01", "nationality": "BE", "amenagement": false}),
        )
        .await;

    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(sample("carte-identite-recto.jpg"))
            .file_name("recto.jpg")
            .mime_str("image/jpeg")
            .expect("mime"),
    );
    let uploaded = server
        .post(
            "/api/v1/dossiers/MP-1/pieces/identite/documents",
            &server.tokens.portal,
        )
        .multipart(form)
        .send()
        .await
        .expect("request");
    assert_eq!(uploaded.status(), 201);
    let uploaded: Value = uploaded.json().await.expect("json");
    assert_eq!(uploaded["kind"], "jpeg");
    assert_eq!(uploaded["filename"], "recto.jpg");

    let dossier = server.dossier("MP-1").await;
    assert_eq!(
        piece(&dossier, "jdc")["required"],
        false,
        "not French: no JDC"
    );
    assert_eq!(piece(&dossier, "identite")["status"], "pending");

    let withdrawn = server
        .delete(
            &format!(
                "/api/v1/dossiers/MP-1/documents/{}",
                uploaded["id"].as_str().expect("id")
            ),
            &server.tokens.portal,
        )
        .send()
        .await
        .expect("request");
    assert_eq!(withdrawn.status(), 200);
    let dossier = server.dossier("MP-1").await;
    assert_eq!(piece(&dossier, "identite")["status"], "missing");
    assert_eq!(piece(&dossier, "identite")["documents"], json!([]));
}

async fn a_missing_attribute_makes_a_conditional_piece_required_and_says_so(backend: Backend) {
    let server = Server::start_on(backend).await;
    server.load_campaign(&open_campaign("bts-missing")).await;
    let dossier = server
        .create_dossier(
            "bts-missing",
            "MISS-1",
            json!({"birth_date": "2000-01-01", "nationality": "FR"}),
        )
        .await;
    let medical = piece(&dossier, "amenagement");
    assert_eq!(medical["required"], true);
    assert!(
        medical["why"]
            .as_str()
            .is_some_and(|w| w.contains("amenagement")),
        "{medical}"
    );
}
