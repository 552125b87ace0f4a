//! The paper path end to end: guichet's own cover and separator sheets, fetched from a real
//! `guichet serve`, printed and scanned (rasterised, turned, skewed, noisy, with blank duplex
//! backs and a stray page), sent as a batch by a station, split in the background and filed
//! in the right dossiers and pieces; and the station side (`guichet mailroom send` and
//! `watch`) against the same server, through a restart.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{
    BIN, Backend, Server, mailroom_batch, mailroom_batch_finished, open_campaign, sample,
};
use scanners::generate::{
    Canvas, ImageCoding, encode_page, pdf_batch, rasterise_sheet, text_page, tiff_batch,
};
use serde_json::{Value, json};

on_every_backend!(
    a_jpeg_pdf_batch_lands_in_the_right_dossiers_and_pieces,
    a_g4_tiff_batch_at_300_dpi_lands_in_the_right_dossiers_and_pieces,
    the_cover_sheet_names_its_dossier_and_piece,
    paper_a_dossier_refuses_is_kept_in_triage_with_its_code,
);

const CAMPAIGN: &str = "bts-2027";

async fn server_with_dossiers(backend: Backend) -> Server {
    let server = Server::start_on(backend).await;
    server.load_campaign(&open_campaign(CAMPAIGN)).await;
    for reference in ["M-1", "M-2"] {
        server
            .create_dossier(
                CAMPAIGN,
                reference,
                json!({"birth_date": "1990-01-01", "nationality": "FR",
                       "first_name": "Camille", "last_name": "Lefèvre"}),
            )
            .await;
    }
    server
}

pub(crate) async fn sheet(server: &Server, reference: &str, piece: Option<&str>) -> Vec<u8> {
    let path = match piece {
        Some(piece) => format!("/api/v1/dossiers/{reference}/cover-sheet.pdf?piece={piece}"),
        None => format!("/api/v1/dossiers/{reference}/cover-sheet.pdf"),
    };
    let response = server
        .get(&path, &server.tokens.portal)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "cover sheet of {reference}");
    assert_eq!(response.headers()["content-type"], "application/pdf");
    response.bytes().await.unwrap().to_vec()
}

/// A batch as a mailroom makes one: a stray page, then M-1's cover sheet and a loose page,
/// M-1's `identite` separator upside down and two pages, M-2's `domicile` separator at 90°
/// and skewed, and one page; every sheet and page scanned with a blank back when `duplex`.
/// Returns the pages and the expected segments (dossier, piece, page count).
async fn scanned(server: &Server, dpi: u32, duplex: bool) -> Vec<Canvas> {
    let cover = |pdf: Vec<u8>| rasterise_sheet(&pdf, dpi).expect("the server's sheet renders");
    let m1 = cover(sheet(server, "M-1", None).await);
    let m1_identite = cover(sheet(server, "M-1", Some("identite")).await)
        .turned(2)
        .skewed(1.5);
    let m2_domicile = cover(sheet(server, "M-2", Some("domicile")).await)
        .skewed(-2.5)
        .turned(1);
    let mut pages = vec![text_page(dpi, 7, 1), m1, text_page(dpi, 7, 2), m1_identite];
    pages.extend([text_page(dpi, 7, 3), text_page(dpi, 7, 4), m2_domicile]);
    pages.push(text_page(dpi, 7, 5));
    let pages: Vec<Canvas> = pages
        .into_iter()
        .enumerate()
        .map(|(i, page)| page.noisy(i as u64, 12, 40))
        .collect();
    if !duplex {
        return pages;
    }
    pages
        .into_iter()
        .enumerate()
        .flat_map(|(i, page)| [page, Canvas::a4(dpi).show_through(100 + i as u64)])
        .collect()
}

pub(crate) async fn send_batch(server: &Server, bytes: Vec<u8>, name: &str) -> (u16, Value) {
    let response = server
        .post("/api/v1/mailroom/batches", &server.tokens.station)
        .header(
            "Content-Disposition",
            format!("attachment; filename=\"{name}\""),
        )
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Checks where the batch of [`scanned`] went, in the report and in the dossiers.
async fn check_filed(server: &Server, batch: &Value, duplex: bool) {
    assert_eq!(batch["state"], "done", "{batch}");
    let per_sheet = if duplex { 2 } else { 1 };
    let segments = batch["segments"].as_array().expect("segments");
    let found: Vec<(String, Option<String>, u64)> = segments
        .iter()
        .map(|s| {
            (
                s["dossier"].as_str().unwrap().to_string(),
                s["piece"].as_str().map(str::to_string),
                s["page_count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![
            ("M-1".to_string(), None, 1),
            ("M-1".to_string(), Some("identite".to_string()), 2),
            ("M-2".to_string(), Some("domicile".to_string()), 1),
        ],
        "{batch}"
    );
    let unmatched = batch["unmatched"].as_array().expect("unmatched");
    assert_eq!(unmatched.len(), 1, "{batch}");
    assert_eq!(unmatched[0]["reason"], "before_first_sheet");
    assert_eq!(unmatched[0]["pages"], json!([1]));
    let blanks = batch["blank_pages"].as_array().unwrap().len();
    assert_eq!(blanks, if duplex { 8 } else { 0 }, "{batch}");
    assert_eq!(
        batch["progress"]["pages"].as_u64(),
        Some(8 * per_sheet),
        "{batch}"
    );

    let m1 = server.dossier("M-1").await;
    let identite = m1["pieces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["code"] == "identite")
        .unwrap();
    let documents = identite["documents"].as_array().unwrap();
    assert_eq!(documents.len(), 1, "{m1}");
    assert_eq!(documents[0]["channel"], "mailroom");
    assert_eq!(documents[0]["kind"], "pdf");
    assert_eq!(documents[0]["pages"], 2);
    // Where it came from: this batch, this station, the pages after the separator.
    let origin = &documents[0]["origin"];
    assert_eq!(origin["channel"], "mailroom", "{origin}");
    assert_eq!(origin["batch"], batch["id"], "{origin}");
    assert_eq!(origin["station"], batch["station"], "{origin}");
    let first = origin["first_page"].as_u64().expect("first_page");
    let last = origin["last_page"].as_u64().expect("last_page");
    assert_eq!(first, 4 * per_sheet + 1, "{origin}");
    assert!(last > first && last <= 6 * per_sheet, "{origin}");
    assert_eq!(m1["unclassified"].as_array().unwrap().len(), 1, "{m1}");
    assert_eq!(m1["unclassified"][0]["pages"], 1);

    let m2 = server.dossier("M-2").await;
    let domicile = m2["pieces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["code"] == "domicile")
        .unwrap();
    assert_eq!(domicile["documents"][0]["pages"], 1, "{m2}");
    assert_eq!(domicile["documents"][0]["channel"], "mailroom");
}

async fn a_jpeg_pdf_batch_lands_in_the_right_dossiers_and_pieces(backend: Backend) {
    let server = server_with_dossiers(backend).await;
    let pages: Vec<_> = scanned(&server, 200, true)
        .await
        .iter()
        .map(|p| encode_page(p, ImageCoding::Jpeg))
        .collect();
    let bytes = pdf_batch(&pages);
    let (status, answer) = send_batch(&server, bytes.clone(), "lot-1.pdf").await;
    assert_eq!(status, 202, "{answer}");
    let id = answer["id"].as_str().unwrap().to_string();
    let batch = mailroom_batch_finished(&server, &id).await;
    check_filed(&server, &batch, true).await;

    // The same file again (a station that lost the answer) is the same batch, filed once.
    let (status, again) = send_batch(&server, bytes, "lot-1.pdf").await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["id"], id.as_str());
    let m1 = server.dossier("M-1").await;
    assert_eq!(m1["unclassified"].as_array().unwrap().len(), 1);
}

async fn a_g4_tiff_batch_at_300_dpi_lands_in_the_right_dossiers_and_pieces(backend: Backend) {
    let server = server_with_dossiers(backend).await;
    let pages: Vec<_> = scanned(&server, 300, false)
        .await
        .iter()
        .map(|p| encode_page(p, ImageCoding::G4))
        .collect();
    let (status, answer) = send_batch(&server, tiff_batch(&pages), "lot-2.tif").await;
    assert_eq!(status, 202, "{answer}");
    let batch = mailroom_batch_finished(&server, answer["id"].as_str().unwrap()).await;
    assert_eq!(batch["format"], "tiff");
    check_filed(&server, &batch, false).await;
}

async fn the_cover_sheet_names_its_dossier_and_piece(backend: Backend) {
    let server = server_with_dossiers(backend).await;
    let pdf = sheet(&server, "M-2", Some("identite")).await;
    let doc = lopdf::Document::load_mem(&pdf).expect("a PDF");
    assert_eq!(doc.get_pages().len(), 1);
    let text = doc.extract_text(&[1]).unwrap_or_default();
    assert!(text.contains("M-2"), "the reference is printed: {text}");

    let unknown = server
        .get(
            "/api/v1/dossiers/M-2/cover-sheet.pdf?piece=nope",
            &server.tokens.portal,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let station = server
        .get(
            "/api/v1/dossiers/M-2/cover-sheet.pdf",
            &server.tokens.station,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(station.status(), 403);
}

/// A campaign whose one required piece is accepted automatically, so that a dossier can be
/// completed and closed through the API alone.
fn closable_campaign(id: &str) -> String {
    format!(
        r#"
id = "{id}"
title = "Concours — dossiers papier"
opens_at = "2024-01-01T09:00:00+01:00"
closes_at = "2099-06-30T18:00:00+02:00"
reference_date = "2027-05-15"

[[pieces]]
code = "domicile"
label = "Justificatif de domicile"
accept = ["pdf"]
max_documents = 1
review = "auto"
required = true

[[pieces]]
code = "identite"
label = "Pièce d'identité"
accept = ["pdf"]
max_pages = 1
max_documents = 1
"#
    )
}

/// Paper for a closed dossier, or for a piece that already holds its `max_documents`, is
/// stored and kept in triage with the refusal's code, not attached; paper a dossier takes is
/// filed with its origin, and paper the checks rejected holds no room against its
/// replacement; every segment is counted in the intake metrics of its channel.
async fn paper_a_dossier_refuses_is_kept_in_triage_with_its_code(backend: Backend) {
    let server = Server::start_on(backend).await;
    server
        .load_campaign(&closable_campaign("papier-2027"))
        .await;
    let candidate = json!({"birth_date": "1990-01-01"});
    server
        .create_dossier("papier-2027", "C-1", candidate.clone())
        .await;
    server
        .create_dossier("papier-2027", "C-2", candidate.clone())
        .await;
    server.create_dossier("papier-2027", "C-3", candidate).await;
    let domicile = sample("justificatif-domicile.pdf");
    let upload = server
        .upload("C-1", "domicile", "facture.pdf", domicile)
        .await;
    assert_eq!(upload.status(), 201);
    let closed = server
        .post("/api/v1/dossiers/C-1/close", &server.tokens.staff)
        .send()
        .await
        .unwrap();
    assert_eq!(closed.status(), 200, "{}", closed.text().await.unwrap());
    let identite = sample("carte-identite.pdf");
    let upload = server.upload("C-2", "identite", "cni.pdf", identite).await;
    assert_eq!(upload.status(), 201);
    let before = server.dossier("C-1").await;

    let dpi = 150;
    let cover = |pdf: Vec<u8>| rasterise_sheet(&pdf, dpi).expect("the sheet renders");
    let pages: Vec<_> = [
        cover(sheet(&server, "C-1", Some("domicile")).await),
        text_page(dpi, 11, 1),
        cover(sheet(&server, "C-2", Some("identite")).await),
        text_page(dpi, 11, 2),
        cover(sheet(&server, "C-2", None).await),
        text_page(dpi, 11, 3),
        // Two pages where one is allowed: rejected; then the page that replaces them.
        cover(sheet(&server, "C-3", Some("identite")).await),
        text_page(dpi, 11, 4),
        text_page(dpi, 11, 5),
        cover(sheet(&server, "C-3", Some("identite")).await),
        text_page(dpi, 11, 6),
    ]
    .iter()
    .map(|p| encode_page(p, ImageCoding::Jpeg))
    .collect();
    let (status, answer) = send_batch(&server, pdf_batch(&pages), "refus.pdf").await;
    assert_eq!(status, 202, "{answer}");
    let id = answer["id"].as_str().unwrap().to_string();
    let batch = mailroom_batch_finished(&server, &id).await;
    assert_eq!(batch["state"], "done", "{batch}");
    let segments = batch["segments"].as_array().unwrap();
    assert_eq!(segments.len(), 5, "{batch}");
    for (segment, code, page) in [
        (&segments[0], "dossier_closed", 2),
        (&segments[1], "too_many_documents", 4),
    ] {
        assert_eq!(segment["refused"]["code"], code, "{batch}");
        assert_eq!(segment["triage"]["reason"], code, "{batch}");
        assert_eq!(segment["triage"]["pages"], json!([page]), "{batch}");
        assert!(segment["triage"]["sha256"].is_string(), "kept: {batch}");
        assert!(segment.get("document").is_none(), "not attached: {batch}");
    }
    // Neither dossier took the refused pages (its documents' pictures may have been made since).
    let without_previews = |mut pieces: Value| {
        for piece in pieces.as_array_mut().expect("pieces") {
            for doc in piece["documents"].as_array_mut().expect("documents") {
                doc.as_object_mut().expect("a document").remove("previews");
            }
        }
        pieces
    };
    assert_eq!(
        without_previews(server.dossier("C-1").await["pieces"].clone()),
        without_previews(before["pieces"].clone())
    );
    let c2 = server.dossier("C-2").await;
    let identite = c2["pieces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["code"] == "identite")
        .unwrap();
    assert_eq!(identite["documents"].as_array().unwrap().len(), 1, "{c2}");
    assert_eq!(
        identite["documents"][0]["origin"],
        json!({"channel": "upload"})
    );

    // The cover sheet without a piece: filed unclassified, with its origin.
    let filed = &segments[2];
    let unclassified = c2["unclassified"].as_array().unwrap();
    assert_eq!(unclassified.len(), 1, "{c2}");
    assert_eq!(unclassified[0]["id"], filed["document"], "{batch}");
    assert_eq!(
        unclassified[0]["origin"],
        json!({"channel": "mailroom", "batch": id, "station": batch["station"],
               "first_page": 6, "last_page": 6}),
        "{c2}"
    );

    // The rejected paper is attached and holds no room: its replacement is attached too.
    assert_eq!(segments[3]["verdict"], "rejected", "{batch}");
    assert_eq!(segments[4]["verdict"], "accepted", "{batch}");
    let c3 = server.dossier("C-3").await;
    let identite = c3["pieces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["code"] == "identite")
        .unwrap();
    assert_eq!(identite["documents"].as_array().unwrap().len(), 2, "{c3}");

    // Every segment went through the one intake, and is counted by channel.
    let metrics = server
        .get("/metrics", "")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let count = |outcome: &str| -> f64 {
        let prefix =
            format!("guichet_intakes_total{{channel=\"mailroom\",outcome=\"{outcome}\"}} ");
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(prefix.as_str()))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0.0)
    };
    assert_eq!(count("refused"), 2.0, "{metrics}");
    assert_eq!(count("stored"), 2.0, "{metrics}");
    assert_eq!(count("rejected"), 1.0, "{metrics}");
}

/// After `closes_at` paper is still taken, flagged late; a segment the piece's rules refuse
/// is attached anyway, rejected with its reasons; a sheet naming an unknown dossier sends its
/// pages to triage.
#[tokio::test]
async fn late_paper_is_taken_flagged_and_attached_even_when_rejected() {
    let server = Server::start();
    let closed = open_campaign("closed-2020")
        .replace(
            r#"opens_at = "2024-01-01T09:00:00+01:00""#,
            r#"opens_at = "2020-01-01T09:00:00+01:00""#,
        )
        .replace(
            r#"closes_at = "2099-06-30T18:00:00+02:00""#,
            r#"closes_at = "2020-06-30T18:00:00+02:00""#,
        );
    server.load_campaign(&closed).await;
    server
        .create_dossier("closed-2020", "L-1", json!({"birth_date": "1990-01-01"}))
        .await;
    let dpi = 200;
    let cover = |pdf: Vec<u8>| rasterise_sheet(&pdf, dpi).expect("the sheet renders");
    // `jdc` accepts PDFs of at most 1 MiB and `identite` 2 pages: three pages are refused.
    let identite = cover(sheet(&server, "L-1", Some("identite")).await);
    let secret = std::fs::read(server.data.path().join("secret")).expect("the embedded secret");
    let unknown = cover(scanners::generate::sheet_pdf("NOPE-9", None, &secret));
    let pages: Vec<_> = [
        identite,
        text_page(dpi, 3, 1),
        text_page(dpi, 3, 2),
        text_page(dpi, 3, 3),
        unknown,
        text_page(dpi, 3, 4),
    ]
    .iter()
    .map(|p| encode_page(p, ImageCoding::Jpeg))
    .collect();
    let (status, answer) = send_batch(&server, pdf_batch(&pages), "late.pdf").await;
    assert_eq!(status, 202, "{answer}");
    let batch = mailroom_batch_finished(&server, answer["id"].as_str().unwrap()).await;
    assert_eq!(batch["state"], "done", "{batch}");
    assert_eq!(batch["segments"][0]["verdict"], "rejected", "{batch}");
    assert_eq!(batch["segments"][0]["late"], true, "{batch}");
    assert_eq!(
        batch["segments"][1]["triage"]["reason"], "unknown_dossier",
        "{batch}"
    );
    assert_eq!(
        batch["segments"][1]["triage"]["pages"],
        json!([6]),
        "{batch}"
    );

    let dossier = server.dossier("L-1").await;
    let identite = dossier["pieces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["code"] == "identite")
        .unwrap();
    let document = &identite["documents"][0];
    assert_eq!(document["verdict"], "rejected", "{dossier}");
    assert_eq!(document["pages"], 3);
    let codes: Vec<&str> = document["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["code"].as_str())
        .collect();
    assert!(codes.contains(&"too_many_pages"), "{codes:?}");
}

/// A process killed while it splits a batch: once restarted, the batch is finished (after
/// the dead worker's lease lapses) and nothing is filed twice.
#[tokio::test]
async fn a_batch_interrupted_by_a_crash_is_finished_without_duplicates() {
    let mut server = server_with_dossiers(Backend::Embedded).await;
    let pages: Vec<_> = scanned(&server, 300, true)
        .await
        .iter()
        .map(|p| encode_page(p, ImageCoding::Jpeg))
        .collect();
    let (status, answer) = send_batch(&server, pdf_batch(&pages), "crash.pdf").await;
    assert_eq!(status, 202, "{answer}");
    let id = answer["id"].as_str().unwrap().to_string();
    // Wait until the worker has started on it, then kill the process.
    let start = Instant::now();
    loop {
        let batch = mailroom_batch(&server, &id).await;
        if batch["state"] != "queued" || start.elapsed() > Duration::from_secs(20) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.restart();
    let batch = mailroom_batch_finished(&server, &id).await;
    check_filed(&server, &batch, true).await;
}

/// Not a batch: refused, nothing queued.
#[tokio::test]
async fn a_batch_that_is_neither_pdf_nor_tiff_is_refused() {
    let server = Server::start();
    let (status, answer) = send_batch(&server, b"hello, not a scan".to_vec(), "x.txt").await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["code"], "document_rejected");
    let portal = server
        .post("/api/v1/mailroom/batches", &server.tokens.portal)
        .body(b"%PDF-1.4".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(portal.status(), 403);
}

fn station_command(server: &Server, args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command.arg("mailroom").args(args).args([
        "--server",
        &server.base,
        "--token",
        &server.tokens.station,
    ]);
    command
}

/// `guichet mailroom watch` sends what settles in its folder, and loses nothing when the
/// server goes down (and comes back) while a file is still being written.
#[tokio::test]
async fn the_watch_folder_loses_nothing_across_a_server_restart() {
    let mut server = server_with_dossiers(Backend::Embedded).await;
    let pages: Vec<_> = scanned(&server, 200, false)
        .await
        .iter()
        .map(|p| encode_page(p, ImageCoding::Jpeg))
        .collect();
    let bytes = pdf_batch(&pages);
    let folder = tempfile::tempdir().unwrap();
    let mut watcher = station_command(
        &server,
        &["watch", folder.path().to_str().unwrap(), "--settle", "1.5"],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();

    // The scanner writes the file in pieces; the server dies meanwhile.
    let target = folder.path().join("lot-3.pdf");
    let half = bytes.len() / 2;
    std::fs::write(&target, &bytes[..half]).unwrap();
    server.kill();
    tokio::time::sleep(Duration::from_millis(700)).await;
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&target)
        .unwrap();
    file.write_all(&bytes[half..]).unwrap();
    drop(file);
    // Settled while the server is down: the watcher retries until it is back.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        target.exists(),
        "nothing moves before the server acknowledges"
    );
    server.start_again_on_same_address();

    let sent = folder.path().join("sent").join("lot-3.pdf");
    let start = Instant::now();
    while !sent.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "the watcher did not send the file"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = watcher.kill();
    let _ = watcher.wait();
    assert_eq!(std::fs::read(&sent).unwrap(), bytes, "the file is intact");
    assert!(!target.exists());

    // The server has the whole file, processed.
    let (status, answer) = send_batch(&server, bytes, "lot-3.pdf").await;
    assert_eq!(status, 200, "already received: {answer}");
    let batch = mailroom_batch_finished(&server, answer["id"].as_str().unwrap()).await;
    check_filed(&server, &batch, false).await;
}

/// `guichet mailroom send` reports refused files and exits 1; sent ones are left in place.
#[tokio::test]
async fn send_reports_refusals_and_leaves_files_in_place() {
    let server = Server::start();
    let folder = tempfile::tempdir().unwrap();
    let bad = folder.path().join("notes.txt");
    std::fs::write(&bad, b"not a scan").unwrap();
    let output = station_command(&server, &["send", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("refused (422)"));
    assert!(Path::new(&bad).exists());
}
