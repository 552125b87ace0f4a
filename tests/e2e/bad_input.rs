//! Bad input over HTTP: each gets a clear error with a stable code, and loses nothing.

use crate::common::{Backend, Server, corpus_file, error_code, open_campaign, rejection, sample};
use serde_json::{Value, json};

on_every_backend!(
    a_mislabeled_file_is_rejected_with_its_reasons_and_not_attached,
    a_kind_the_piece_does_not_accept_is_rejected,
    a_password_protected_pdf_is_rejected,
    an_oversized_body_is_refused_at_the_limit_without_reading_on,
    uploads_after_the_deadline_are_refused_with_campaign_closed,
    unknown_things_answer_404_with_their_code,
    malformed_requests_get_400_with_a_code,
    a_large_body_of_the_wrong_kind_is_judged_on_its_first_bytes,
);

async fn server_with_dossier(backend: Backend, reference: &str) -> Server {
    with_dossier(Server::start_on(backend).await, reference).await
}

/// `server` with the campaign loaded and the dossier `reference` created.
async fn with_dossier(server: Server, reference: &str) -> Server {
    server.load_campaign(&open_campaign("bad-input")).await;
    server
        .create_dossier(
            "bad-input",
            reference,
            json!({"birth_date": "1990-01-01", "nationality": "FR", "amenagement": false}),
        )
        .await;
    server
}

async fn a_mislabeled_file_is_rejected_with_its_reasons_and_not_attached(backend: Backend) {
    let server = server_with_dossier(backend, "BAD-1").await;
    let response = server
        .upload("BAD-1", "identite", "carte.pdf", sample("faux-pdf.pdf"))
        .await;
    let (body, reasons) = rejection(response).await;
    assert_eq!(body["error"]["code"], "document_rejected");
    assert!(
        reasons.iter().any(|r| r["code"] == "kind_mismatch"),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .all(|r| r["message"].as_str().is_some_and(|m| !m.is_empty()))
    );
    let dossier = server.dossier("BAD-1").await;
    assert_eq!(dossier["pieces"][0]["documents"], json!([]));
}

async fn a_kind_the_piece_does_not_accept_is_rejected(backend: Backend) {
    let server = server_with_dossier(backend, "BAD-2").await;
    let response = server
        .upload(
            "BAD-2",
            "jdc",
            "jdc.jpg",
            sample("carte-identite-recto.jpg"),
        )
        .await;
    let (_, reasons) = rejection(response).await;
    assert!(
        reasons.iter().any(|r| r["code"] == "kind_not_accepted"),
        "{reasons:?}"
    );
}

async fn a_password_protected_pdf_is_rejected(backend: Backend) {
    let Some(encrypted) = corpus_file("pdf-hostile/paperless_password-is-test.pdf") else {
        return;
    };
    let server = server_with_dossier(backend, "BAD-3").await;
    let response = server
        .upload("BAD-3", "identite", "carte.pdf", encrypted)
        .await;
    let (_, reasons) = rejection(response).await;
    assert!(
        reasons.iter().any(|r| r["code"] == "pdf_encrypted"),
        "{reasons:?}"
    );
}

/// Sends only the headers of an upload declaring `length` bytes, and reads the answer.
async fn headers_only_upload(server: &Server, reference: &str, piece: &str, length: u64) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = server.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let request = format!(
        "POST /api/v1/dossiers/{reference}/pieces/{piece}/documents HTTP/1.1\r\n\
         Host: {address}\r\nAuthorization: Bearer {}\r\nContent-Length: {length}\r\n\r\n",
        server.tokens.portal
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send headers");
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        stream.read_to_end(&mut answer),
    )
    .await
    .expect("the server answers without waiting for the body")
    .expect("read answer");
    String::from_utf8_lossy(&answer).into_owned()
}

async fn an_oversized_body_is_refused_at_the_limit_without_reading_on(backend: Backend) {
    let server = server_with_dossier(backend, "BAD-4").await;
    // 2 MiB limit on identite. A declared length of 200 MB is refused before a byte of the
    // body is sent: the answer comes back while the client has sent only the headers.
    let answer = headers_only_upload(&server, "BAD-4", "identite", 200_000_000).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"too_large\""), "{answer}");

    // Without a length, reading stops at the limit.
    let big = vec![0u8; 64 * 1024 * 1024];

    let chunks = futures::stream::iter(
        big.chunks(1024 * 1024)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    let streamed = server
        .post(
            "/api/v1/dossiers/BAD-4/pieces/identite/documents",
            &server.tokens.portal,
        )
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await;
    // The server answers 413 and closes; a client may see the answer or a reset.
    if let Ok(response) = streamed {
        assert_eq!(response.status(), 413);
    }
    let staging = server.data.path().join("staging");
    assert_eq!(
        std::fs::read_dir(staging).expect("staging").count(),
        0,
        "nothing left in staging"
    );
    // Nothing already stored is lost; the service still answers.
    let ok = server
        .upload(
            "BAD-4",
            "identite",
            "carte.pdf",
            sample("carte-identite.pdf"),
        )
        .await;
    assert_eq!(ok.status(), 201);
}

async fn uploads_after_the_deadline_are_refused_with_campaign_closed(backend: Backend) {
    let server = Server::start_on(backend).await;
    server
        .load_campaign(
            &open_campaign("closed")
                .replace("2099-06-30T18:00:00+02:00", "2024-11-13T19:00:00+01:00"),
        )
        .await;
    server
        .create_dossier("closed", "LATE-1", json!({"birth_date": "1990-01-01"}))
        .await;
    let response = server
        .upload(
            "LATE-1",
            "identite",
            "carte.pdf",
            sample("carte-identite.pdf"),
        )
        .await;
    assert_eq!(response.status(), 403);
    assert_eq!(error_code(response).await, "campaign_closed");
    let submit = server
        .post("/api/v1/dossiers/LATE-1/submit", &server.tokens.portal)
        .send()
        .await
        .expect("request");
    assert_eq!(submit.status(), 403);
}

async fn unknown_things_answer_404_with_their_code(backend: Backend) {
    let server = server_with_dossier(backend, "BAD-5").await;
    let piece = server
        .upload("BAD-5", "passeport", "x.pdf", sample("carte-identite.pdf"))
        .await;
    assert_eq!(piece.status(), 404);
    assert_eq!(error_code(piece).await, "unknown_piece");
    let dossier = server
        .upload("NOPE", "identite", "x.pdf", sample("carte-identite.pdf"))
        .await;
    assert_eq!(dossier.status(), 404);
    assert_eq!(error_code(dossier).await, "unknown_dossier");
    let campaign = server
        .post("/api/v1/dossiers", &server.tokens.portal)
        .json(&json!({"campaign": "nope", "reference": "X-1", "candidate": {}}))
        .send()
        .await
        .expect("request");
    assert_eq!(campaign.status(), 404);
    assert_eq!(error_code(campaign).await, "unknown_campaign");
}

async fn malformed_requests_get_400_with_a_code(backend: Backend) {
    let server = server_with_dossier(backend, "BAD-6").await;
    let bad_json = server
        .post("/api/v1/dossiers", &server.tokens.portal)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("request");
    assert_eq!(bad_json.status(), 400);
    assert_eq!(error_code(bad_json).await, "malformed_request");

    let control = server
        .post(
            "/api/v1/dossiers/BAD-6/pieces/identite/documents",
            &server.tokens.portal,
        )
        .header(
            "Content-Disposition",
            "attachment; filename*=UTF-8''carte%0D%0A.pdf",
        )
        .body(sample("carte-identite.pdf"))
        .send()
        .await
        .expect("request");
    assert_eq!(control.status(), 400);
    assert_eq!(error_code(control).await, "invalid_filename");

    let markup = server
        .upload(
            "BAD-6",
            "identite",
            "<img src=x onerror=alert(1)>.pdf",
            sample("carte-identite.pdf"),
        )
        .await;
    assert_eq!(markup.status(), 201);
    let markup: Value = markup.json().await.expect("json");
    assert_eq!(markup["filename"], "<img src=x onerror=alert(1)>.pdf");

    let bad_birth = server
        .post("/api/v1/dossiers", &server.tokens.portal)
        .json(&json!({"campaign": "bad-input", "reference": "X-2", "candidate": {"birth_date": "31/12/2000"}}))
        .send()
        .await
        .expect("request");
    assert_eq!(bad_birth.status(), 400);
    assert_eq!(error_code(bad_birth).await, "invalid_birth_date");

    let bad_campaign = server
        .post("/api/v1/campaigns", &server.tokens.admin)
        .body("id = \"x\"\ntitle = \"t\"\nopens_at = \"2024-01-01T00:00:00Z\"\ncloses_at = \"2025-01-01T00:00:00Z\"\nreference_date = \"2025-01-01\"\n\n[[pieces]]\ncode = \"a\"\nlabel = \"A\"\naccept = [\"docx\"]\n")
        .send()
        .await
        .expect("request");
    assert_eq!(bad_campaign.status(), 400);
    let body: Value = bad_campaign.json().await.expect("json");
    assert_eq!(body["error"]["code"], "invalid_campaign");
    assert_eq!(body["error"]["details"]["line"], 10);
}

async fn a_large_body_of_the_wrong_kind_is_judged_on_its_first_bytes(backend: Backend) {
    let server = server_with_dossier(backend, "BAD-7").await;
    // 40 MiB that are not a PDF, under the piece's 90 MiB limit: received whole, then
    // refused on the first bytes without loading the rest.
    let mut body = b"PK\x03\x04".to_vec();
    body.resize(40 * 1024 * 1024, 0x5a);
    let response = server
        .upload("BAD-7", "dossier_scanne", "dossier.pdf", body)
        .await;
    let (_, reasons) = rejection(response).await;
    let codes: Vec<&str> = reasons.iter().filter_map(|r| r["code"].as_str()).collect();
    assert!(codes.contains(&"kind_mismatch"), "{codes:?}");
    let dossier = server.dossier("BAD-7").await;
    assert!(
        dossier["pieces"]
            .as_array()
            .expect("pieces")
            .iter()
            .all(|p| p["documents"] == json!([]))
    );
}

/// The verification time limit is configuration: with one millisecond, a large image is
/// refused saying which limit it met, and nothing is attached.
#[tokio::test]
async fn a_verification_beyond_its_time_limit_is_refused_naming_the_limit() {
    let configured = Server::start_with(Backend::Embedded, "[intake.limits]\nmax_verify_ms = 1\n");
    let server = with_dossier(configured.await, "BAD-TIME").await;
    let photo = image::RgbImage::from_fn(1_500, 1_500, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    });
    let mut png = std::io::Cursor::new(Vec::new());
    photo
        .write_to(&mut png, image::ImageFormat::Png)
        .expect("encode png");

    let response = server
        .upload("BAD-TIME", "identite", "carte.png", png.into_inner())
        .await;
    let (body, reasons) = rejection(response).await;
    assert_eq!(body["error"]["code"], "document_rejected");
    let codes: Vec<&str> = reasons.iter().filter_map(|r| r["code"].as_str()).collect();
    assert_eq!(codes, ["image_too_large"], "{reasons:?}");
    assert!(
        reasons[0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("max_verify_ms")),
        "{reasons:?}"
    );
    let dossier = server.dossier("BAD-TIME").await;
    assert_eq!(dossier["pieces"][0]["documents"], json!([]));
}
