//! Resumable uploads (tus 1.0) as candidates' phones and the portals' clients make them: the
//! real tus-js-client under node, killed servers, dropped and hanging connections, and the
//! protocol's refusals, on both backends.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use lopdf::{Document, Stream, dictionary};
use reqwest::{RequestBuilder, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::{Backend, Server, error_code, open_campaign, repo_root};
use crate::encryption::Raw;

const CAMPAIGN: &str = "bts-2027";
/// A piece that takes large scans (90 MiB).
const LARGE: &str = "dossier_scanne";

on_every_backend!(
    tus_js_client_resumes_across_a_killed_server,
    a_dropped_connection_resumes_from_what_the_server_kept,
    a_hanging_request_is_taken_over_by_the_clients_next_one,
    the_protocol_refuses_what_it_must,
    a_refused_document_keeps_its_refusal,
    unfinished_uploads_expire_and_their_bytes_go,
    termination_removes_the_upload_and_its_bytes,
);

async fn server_with_dossier(backend: Backend, extra: &str) -> Server {
    let server = Server::start_with(backend, extra).await;
    server.load_campaign(&open_campaign(CAMPAIGN)).await;
    server
        .create_dossier(
            CAMPAIGN,
            "TUS-1",
            json!({"birth_date": "1990-01-01", "nationality": "FR"}),
        )
        .await;
    server
}

fn uploads_path(piece: &str) -> String {
    format!("/api/v1/dossiers/TUS-1/pieces/{piece}/uploads")
}

fn tus(builder: RequestBuilder) -> RequestBuilder {
    builder.header("Tus-Resumable", "1.0.0")
}

fn patch(server: &Server, location: &str, offset: u64) -> RequestBuilder {
    tus(server
        .http
        .patch(server.url(location))
        .bearer_auth(&server.tokens.portal))
    .header("Upload-Offset", offset.to_string())
    .header("Content-Type", "application/offset+octet-stream")
}

async fn head(server: &Server, location: &str) -> Response {
    tus(server
        .http
        .head(server.url(location))
        .bearer_auth(&server.tokens.portal))
    .send()
    .await
    .expect("HEAD")
}

async fn offset_of(server: &Server, location: &str) -> u64 {
    let response = head(server, location).await;
    assert_eq!(response.status(), 200);
    header_number(&response, "upload-offset")
}

fn header_number(response: &Response, name: &str) -> u64 {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("{name} is answered"))
        .to_str()
        .expect("text")
        .parse()
        .expect("a number")
}

/// Creates an upload of `length` bytes for `piece`; its path.
async fn create(server: &Server, piece: &str, length: u64) -> String {
    let response = tus(server.post(&uploads_path(piece), &server.tokens.portal))
        .header("Upload-Length", length.to_string())
        .header(
            "Upload-Metadata",
            format!("filename {}", BASE64.encode("scan.pdf")),
        )
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), 201, "{:?}", response.text().await);
    assert_eq!(response.headers()["tus-resumable"], "1.0.0");
    response.headers()["location"]
        .to_str()
        .expect("text")
        .to_string()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The documents of the dossier's `piece`.
async fn documents(server: &Server, piece: &str) -> Vec<Value> {
    let dossier = server.dossier("TUS-1").await;
    dossier["pieces"]
        .as_array()
        .expect("pieces")
        .iter()
        .find(|p| p["code"] == piece)
        .expect("the piece")["documents"]
        .as_array()
        .expect("documents")
        .clone()
}

/// A one-page PDF of about `size` bytes: a page-sized scan of noise, stored raw.
fn scan_pdf(size: usize, seed: u64) -> Vec<u8> {
    let side = ((size as f64).sqrt() as i64).max(16);
    let mut state = seed | 1;
    let pixels: Vec<u8> = (0..side * side)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let mut doc = Document::with_version("1.5");
    let image_id = doc.add_object(Stream::new(
        dictionary! {
            "Type" => "XObject", "Subtype" => "Image", "Width" => side, "Height" => side,
            "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8,
        },
        pixels,
    ));
    crate::common::a4_pdf(
        doc,
        b"q 595 0 0 842 0 0 cm /Im0 Do Q".to_vec(),
        dictionary! { "XObject" => dictionary! { "Im0" => image_id } },
    )
}

/// What the store holds of resumable uploads, listed behind guichet's back: the files of the
/// embedded default, or the objects and multipart uploads under `uploads/` in the bucket.
async fn held_uploads(server: &Server) -> Vec<String> {
    let on_s3 = server
        .config
        .as_ref()
        .is_some_and(|c| std::fs::read_to_string(c).is_ok_and(|t| t.contains("[storage.s3]")));
    if !on_s3 {
        let dir = server.data.path().join("uploads");
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        return names;
    }
    let raw = Raw::of(server).await;
    let mut held: Vec<String> = raw
        .paths()
        .await
        .into_iter()
        .filter(|p| p.starts_with("uploads/"))
        .collect();
    if let Raw::S3 {
        client,
        bucket,
        prefix,
    } = &raw
    {
        let listed = client
            .list_multipart_uploads()
            .bucket(bucket)
            .prefix(format!("{prefix}uploads/"))
            .send()
            .await
            .expect("multipart uploads listed");
        held.extend(
            listed
                .uploads()
                .iter()
                .filter_map(|u| u.key())
                .map(|k| format!("multipart {k}")),
        );
    }
    held
}

/// The tus client, once installed (`npm ci` in tests/e2e/tus, by scripts/install-test-deps).
fn tus_client() -> Option<std::path::PathBuf> {
    let dir = repo_root().join("tests/e2e/tus");
    if dir.join("node_modules/tus-js-client").is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("GUICHET_TEST_REQUIRE_ALL_BACKENDS").as_deref() != Ok("1"),
        "tus-js-client is required: run scripts/install-test-deps (npm ci in tests/e2e/tus)"
    );
    eprintln!("tus-js-client not installed (npm ci in tests/e2e/tus): skipped");
    None
}

/// tus-js-client uploads a 12 MB scan in 512 KiB requests; the server is killed (SIGKILL) once
/// 2 MiB are acknowledged and started again on its address. The client goes on from the
/// offset the server kept, never from zero, and the document filed is the file, byte for byte.
async fn tus_js_client_resumes_across_a_killed_server(backend: Backend) {
    let Some(client_dir) = tus_client() else {
        return;
    };
    let mut server = server_with_dossier(backend, "").await;
    let file = tempfile::NamedTempFile::new().expect("a temporary file");
    let pdf = scan_pdf(12_000_000, 7);
    std::fs::write(file.path(), &pdf).expect("write the scan");
    let mut node = Command::new("node")
        .current_dir(&client_dir)
        .arg("upload.mjs")
        .arg(server.url(&uploads_path(LARGE)))
        .arg(&server.tokens.portal)
        .arg(file.path())
        .arg((512 * 1024).to_string())
        .arg("application/pdf")
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs");
    let lines = BufReader::new(node.stdout.take().expect("piped"));
    let mut acknowledged_before_kill = 0;
    let mut after_kill: Vec<u64> = Vec::new();
    let mut killed = false;
    let mut outcome = None;
    for line in lines.lines().map_while(Result::ok) {
        let event: Value = serde_json::from_str(&line).expect("a JSON line");
        match event["event"].as_str() {
            Some("chunk") => {
                let accepted = event["accepted"].as_u64().expect("accepted");
                if killed {
                    after_kill.push(accepted);
                } else if accepted >= 2 * 1024 * 1024 {
                    acknowledged_before_kill = accepted;
                    server.kill();
                    killed = true;
                    server.start_again_on_same_address();
                    // Connections to the killed process are dead: a fresh pool.
                    server.http = reqwest::Client::new();
                }
            }
            Some("success" | "error") => {
                outcome = Some(event);
                break;
            }
            _ => {}
        }
    }
    let status = node.wait().expect("node ends");
    let outcome = outcome.expect("the client reports an outcome");
    assert_eq!(outcome["event"], "success", "{outcome}");
    assert!(status.success());
    assert!(killed, "the server was killed mid-upload");
    let first = *after_kill.first().expect("chunks after the restart");
    assert!(
        first > acknowledged_before_kill,
        "the client resumed at {first}, after {acknowledged_before_kill} were acknowledged"
    );
    assert_eq!(*after_kill.last().expect("chunks"), pdf.len() as u64);
    let documents = documents(&server, LARGE).await;
    assert_eq!(documents.len(), 1, "{documents:?}");
    assert_eq!(documents[0]["sha256"], sha256_hex(&pdf));
    assert_eq!(
        documents[0]["filename"],
        file.path().file_name().unwrap().to_string_lossy().as_ref()
    );
    assert!(
        held_uploads(&server).await.is_empty(),
        "the upload's bytes are let go once filed"
    );
}

/// A body that sends `first` and then fails, as a connection dropped mid-request.
fn dropped_after(first: Vec<u8>) -> reqwest::Body {
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from(first)),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "the network went away",
        )),
    ];
    reqwest::Body::wrap_stream(futures::stream::iter(chunks))
}

/// Half a document sent, then the connection drops: the server keeps what reached it, says so
/// on `HEAD`, and the rest sent from there files the whole document.
async fn a_dropped_connection_resumes_from_what_the_server_kept(backend: Backend) {
    let server = server_with_dossier(backend, "").await;
    let pdf = scan_pdf(3_000_000, 11);
    let location = create(&server, LARGE, pdf.len() as u64).await;
    let half = pdf.len() / 2;
    let dropped = patch(&server, &location, 0)
        .body(dropped_after(pdf[..half].to_vec()))
        .send()
        .await;
    assert!(dropped.is_err(), "the request was cut: {dropped:?}");
    // The server records what it received once it sees the connection gone.
    let deadline = Instant::now() + Duration::from_secs(15);
    let kept = loop {
        let kept = offset_of(&server, &location).await;
        if kept > 0 || Instant::now() > deadline {
            break kept;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(kept > 0 && kept <= half as u64, "kept {kept} of {half}");
    let rest = patch(&server, &location, kept)
        .body(pdf[kept as usize..].to_vec())
        .send()
        .await
        .expect("PATCH");
    assert_eq!(rest.status(), 204, "{:?}", rest.text().await);
    let document = rest.headers()["guichet-document"]
        .to_str()
        .expect("text")
        .to_string();
    let documents = documents(&server, LARGE).await;
    assert_eq!(documents.len(), 1);
    assert_eq!(documents[0]["id"], document.as_str());
    assert_eq!(documents[0]["sha256"], sha256_hex(&pdf));
    assert_eq!(documents[0]["filename"], "scan.pdf");
}

/// A phone loses its network without the connection closing: its request hangs in the
/// server. Its next request takes over: the hanging one stops and records what it received,
/// the client learns the offset (409, then `HEAD`) and finishes from there.
async fn a_hanging_request_is_taken_over_by_the_clients_next_one(backend: Backend) {
    let server = server_with_dossier(backend, "").await;
    let pdf = scan_pdf(2_000_000, 13);
    let location = create(&server, LARGE, pdf.len() as u64).await;
    let first = 700_000;
    let (sender, receiver) = futures::channel::mpsc::unbounded::<Result<Bytes, std::io::Error>>();
    sender
        .unbounded_send(Ok(Bytes::copy_from_slice(&pdf[..first])))
        .expect("queued");
    let hanging = tokio::spawn(
        patch(&server, &location, 0)
            .body(reqwest::Body::wrap_stream(receiver))
            .send(),
    );
    // Until the first bytes are in the server, nothing is recorded: wait for them to travel.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let again = patch(&server, &location, 0)
        .body(pdf.clone())
        .send()
        .await
        .expect("PATCH");
    assert_eq!(again.status(), 409, "{:?}", again.text().await);
    let body: Value = again.json().await.expect("json");
    assert_eq!(body["error"]["code"], "offset_mismatch");
    assert_eq!(body["error"]["details"]["offset"], first as u64);
    let kept = offset_of(&server, &location).await;
    assert_eq!(kept, first as u64);
    let rest = patch(&server, &location, kept)
        .body(pdf[first..].to_vec())
        .send()
        .await
        .expect("PATCH");
    assert_eq!(rest.status(), 204, "{:?}", rest.text().await);
    assert_eq!(
        documents(&server, LARGE).await[0]["sha256"],
        sha256_hex(&pdf)
    );
    drop(sender);
    let _ = hanging.await;
}

/// Each refusal with its status and code; nothing refused moves the offset or is stored.
async fn the_protocol_refuses_what_it_must(backend: Backend) {
    let server = server_with_dossier(backend, "").await;
    let portal = &server.tokens.portal;

    // Beyond the piece's size (2 MiB for `identite`): refused at creation, nothing stored.
    let too_large = tus(server.post(&uploads_path("identite"), portal))
        .header("Upload-Length", (3 * 1024 * 1024).to_string())
        .send()
        .await
        .expect("POST");
    assert_eq!(too_large.status(), 413);
    assert_eq!(error_code(too_large).await, "too_large");
    assert!(held_uploads(&server).await.is_empty());

    // Without the protocol's version: 412, naming the version spoken.
    let unversioned = server
        .post(&uploads_path(LARGE), portal)
        .header("Upload-Length", "10")
        .send()
        .await
        .expect("POST");
    assert_eq!(unversioned.status(), 412);
    assert_eq!(unversioned.headers()["tus-version"], "1.0.0");
    assert_eq!(error_code(unversioned).await, "unsupported_tus_version");

    // Without a length, or for an unknown piece.
    let no_length = tus(server.post(&uploads_path(LARGE), portal))
        .send()
        .await
        .expect("POST");
    assert_eq!(no_length.status(), 400);
    let unknown_piece = tus(server.post(&uploads_path("nope"), portal))
        .header("Upload-Length", "10")
        .send()
        .await
        .expect("POST");
    assert_eq!(unknown_piece.status(), 404);
    assert_eq!(error_code(unknown_piece).await, "unknown_piece");

    let pdf = scan_pdf(200_000, 17);
    let location = create(&server, LARGE, pdf.len() as u64).await;
    let first = patch(&server, &location, 0)
        .body(pdf[..1000].to_vec())
        .send()
        .await
        .expect("PATCH");
    assert_eq!(first.status(), 204);
    assert_eq!(header_number(&first, "upload-offset"), 1000);

    // An offset that is not the upload's: 409, with the right one.
    let wrong_offset = patch(&server, &location, 0)
        .body(pdf[..1000].to_vec())
        .send()
        .await
        .expect("PATCH");
    assert_eq!(wrong_offset.status(), 409);
    let body: Value = wrong_offset.json().await.expect("json");
    assert_eq!(body["error"]["code"], "offset_mismatch");
    assert_eq!(body["error"]["details"]["offset"], 1000);

    // A checksum that does not match: 460, and the bytes are discarded.
    let chunk = &pdf[1000..50_000];
    let wrong = BASE64.encode(Sha256::digest(b"other bytes"));
    let mismatch = patch(&server, &location, 1000)
        .header("Upload-Checksum", format!("sha256 {wrong}"))
        .body(chunk.to_vec())
        .send()
        .await
        .expect("PATCH");
    assert_eq!(mismatch.status(), 460);
    assert_eq!(error_code(mismatch).await, "checksum_mismatch");
    assert_eq!(offset_of(&server, &location).await, 1000);

    // SHA-1 too, which every tus server supports (tuspy sends only it): a wrong one is 460.
    let wrong_sha1 = patch(&server, &location, 1000)
        .header(
            "Upload-Checksum",
            format!("sha1 {}", BASE64.encode(sha1::Sha1::digest(b"other bytes"))),
        )
        .body(chunk.to_vec())
        .send()
        .await
        .expect("PATCH");
    assert_eq!(wrong_sha1.status(), 460);
    assert_eq!(offset_of(&server, &location).await, 1000);

    // An algorithm other than sha1 and sha256: 400.
    let md5 = patch(&server, &location, 1000)
        .header("Upload-Checksum", "md5 1B2M2Y8AsgTpgAmY7PhCfg==")
        .body(chunk.to_vec())
        .send()
        .await
        .expect("PATCH");
    assert_eq!(md5.status(), 400);

    // The right checksums: taken.
    let right = BASE64.encode(Sha256::digest(&chunk[..20_000]));
    let matched = patch(&server, &location, 1000)
        .header("Upload-Checksum", format!("sha256 {right}"))
        .body(chunk[..20_000].to_vec())
        .send()
        .await
        .expect("PATCH");
    assert_eq!(matched.status(), 204);
    assert_eq!(header_number(&matched, "upload-offset"), 21_000);
    let right = BASE64.encode(sha1::Sha1::digest(&chunk[20_000..]));
    let matched = patch(&server, &location, 21_000)
        .header("Upload-Checksum", format!("sha1 {right}"))
        .body(chunk[20_000..].to_vec())
        .send()
        .await
        .expect("PATCH");
    assert_eq!(matched.status(), 204);
    assert_eq!(header_number(&matched, "upload-offset"), 50_000);

    // Bytes not sent as the protocol says: 415.
    let wrong_type = tus(server.http.patch(server.url(&location)).bearer_auth(portal))
        .header("Upload-Offset", "50000")
        .header("Content-Type", "application/pdf")
        .body(pdf[50_000..].to_vec())
        .send()
        .await
        .expect("PATCH");
    assert_eq!(wrong_type.status(), 415);

    // More than the announced length: 400, the offset unchanged.
    let mut beyond = pdf[50_000..].to_vec();
    beyond.extend_from_slice(b"trailing bytes");
    let too_long = patch(&server, &location, 50_000)
        .body(beyond)
        .send()
        .await
        .expect("PATCH");
    assert_eq!(too_long.status(), 400);
    assert_eq!(error_code(too_long).await, "beyond_upload_length");
    assert_eq!(offset_of(&server, &location).await, 50_000);

    // Another dossier's address, or an unknown upload: 404.
    server
        .create_dossier(
            CAMPAIGN,
            "TUS-2",
            json!({"birth_date": "1990-01-01", "nationality": "FR"}),
        )
        .await;
    let elsewhere = location.replace("TUS-1", "TUS-2");
    let response = head(&server, &elsewhere).await;
    assert_eq!(response.status(), 404);
    let unknown = format!(
        "{}/00000000-0000-0000-0000-000000000000",
        uploads_path(LARGE)
    );
    assert_eq!(head(&server, &unknown).await.status(), 404);

    // Only the portal uploads.
    let staff = tus(server.post(&uploads_path(LARGE), &server.tokens.staff))
        .header("Upload-Length", "10")
        .send()
        .await
        .expect("POST");
    assert_eq!(staff.status(), 403);

    // The rest, and the document is the whole file.
    let rest = patch(&server, &location, 50_000)
        .body(pdf[50_000..].to_vec())
        .send()
        .await
        .expect("PATCH");
    assert_eq!(rest.status(), 204);
    assert_eq!(
        documents(&server, LARGE).await[0]["sha256"],
        sha256_hex(&pdf)
    );
}

/// A document intake refuses (a PNG named .pdf for a PDF-only piece) answers its refusal at
/// the last byte, and keeps it: `HEAD` answers 409 `upload_refused`, `GET` the reasons.
async fn a_refused_document_keeps_its_refusal(backend: Backend) {
    let server = server_with_dossier(backend, "").await;
    let png = crate::common::sample("carte-identite-recto.png");
    let created = tus(server.post(&uploads_path(LARGE), &server.tokens.portal))
        .header("Upload-Length", png.len().to_string())
        .header(
            "Upload-Metadata",
            format!("filename {}", BASE64.encode("scan.pdf")),
        )
        .header("Content-Type", "application/offset+octet-stream")
        .body(png.clone())
        .send()
        .await
        .expect("POST");
    assert_eq!(created.status(), 422, "creation-with-upload files at once");
    let body: Value = created.json().await.expect("json");
    assert_eq!(body["error"]["code"], "document_rejected");
    assert!(documents(&server, LARGE).await.is_empty());
    assert!(held_uploads(&server).await.is_empty());

    // In two requests, the refusal is kept for a client that lost the answer.
    let location = create(&server, LARGE, png.len() as u64).await;
    let half = png.len() / 2;
    let first = patch(&server, &location, 0)
        .body(png[..half].to_vec())
        .send()
        .await
        .expect("PATCH");
    assert_eq!(first.status(), 204);
    let last = patch(&server, &location, half as u64)
        .body(png[half..].to_vec())
        .send()
        .await
        .expect("PATCH");
    assert_eq!(last.status(), 422);
    let refused = head(&server, &location).await;
    assert_eq!(refused.status(), 409);
    let read = server
        .get(&location, &server.tokens.portal)
        .send()
        .await
        .expect("GET");
    assert_eq!(read.status(), 200);
    let view: Value = read.json().await.expect("json");
    assert_eq!(view["state"], "refused");
    assert_eq!(view["refusal"]["code"], "document_rejected");
    assert!(held_uploads(&server).await.is_empty());
}

/// An upload untouched for `upload_expire_after_secs` answers 410, then goes with its bytes.
async fn unfinished_uploads_expire_and_their_bytes_go(backend: Backend) {
    let server = server_with_dossier(backend, "[intake]\nupload_expire_after_secs = 1\n").await;
    let pdf = scan_pdf(100_000, 19);
    let location = create(&server, LARGE, pdf.len() as u64).await;
    let sent = patch(&server, &location, 0)
        .body(pdf[..40_000].to_vec())
        .send()
        .await
        .expect("PATCH");
    assert_eq!(sent.status(), 204);
    assert!(
        !held_uploads(&server).await.is_empty(),
        "the bytes are kept"
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let status = head(&server, &location).await.status();
        assert!(status == 410 || status == 404, "{status}");
        if status == 404 && held_uploads(&server).await.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "the expired upload is removed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `DELETE` ends an upload: its bytes go, and its address answers 404.
async fn termination_removes_the_upload_and_its_bytes(backend: Backend) {
    let server = server_with_dossier(backend, "").await;
    let pdf = scan_pdf(100_000, 23);
    let location = create(&server, LARGE, pdf.len() as u64).await;
    let sent = patch(&server, &location, 0)
        .body(pdf[..60_000].to_vec())
        .send()
        .await
        .expect("PATCH");
    assert_eq!(sent.status(), 204);
    let deleted = tus(server.delete(&location, &server.tokens.portal))
        .send()
        .await
        .expect("DELETE");
    assert_eq!(deleted.status(), 204);
    assert_eq!(head(&server, &location).await.status(), 404);
    assert!(held_uploads(&server).await.is_empty());
}

/// On PostgreSQL and S3, no process holds an upload: one process takes the first bytes (a
/// whole 8 MiB part and a tail), another the rest, and the document is the file.
#[tokio::test]
async fn another_process_resumes_an_upload() {
    if !crate::common::scaled_available() {
        return;
    }
    let first = server_with_dossier(Backend::Scaled, "").await;
    let second = first.sibling();
    let pdf = scan_pdf(11_000_000, 29);
    let location = create(&first, LARGE, pdf.len() as u64).await;
    let split = 9 * 1024 * 1024;
    let sent = patch(&first, &location, 0)
        .body(pdf[..split].to_vec())
        .send()
        .await
        .expect("PATCH");
    assert_eq!(sent.status(), 204);
    assert_eq!(offset_of(&second, &location).await, split as u64);
    let rest = patch(&second, &location, split as u64)
        .body(pdf[split..].to_vec())
        .send()
        .await
        .expect("PATCH");
    assert_eq!(rest.status(), 204, "{:?}", rest.text().await);
    assert_eq!(
        documents(&first, LARGE).await[0]["sha256"],
        sha256_hex(&pdf)
    );
    assert!(held_uploads(&first).await.is_empty());
}
