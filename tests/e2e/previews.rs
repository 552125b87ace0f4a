//! Pictures of every page, end to end: a dossier holding a born-digital PDF, a phone photo
//! taken sideways (EXIF orientation 6), a Group 4 TIFF scan and a mailroom segment is rendered
//! in the background by a real `guichet serve` (the renderer in its child process), on both
//! backends, and served by page and width with its cache headers. Each document carries a
//! black block in its top-left corner as it should be seen, so "the right way up" is checked
//! by where the dark pixels fall. The staff page in a browser is `staff_browser.rs`.

use std::io::Cursor;
use std::time::{Duration, Instant};

use image::{GrayImage, ImageFormat, Luma};
use lopdf::content::{Content, Operation};
use lopdf::{Document, Object, dictionary};
use scanners::generate::{
    Canvas, ImageCoding, encode_page, pdf_batch, rasterise_sheet, tiff_batch,
};
use serde_json::{Value, json};

use crate::common::{Backend, Server, mailroom_batch_finished};

on_every_backend!(every_page_is_rendered_served_and_cached);

pub const CAMPAIGN: &str = "apercus-2027";
pub const REFERENCE: &str = "AP-1";

/// A campaign whose pieces take the four documents.
pub fn campaign() -> String {
    format!(
        r#"
id = "{CAMPAIGN}"
title = "Aperçus"
opens_at = "2024-01-01T09:00:00+01:00"
closes_at = "2099-06-30T18:00:00+02:00"
reference_date = "2027-05-15"

[[pieces]]
code = "attestation"
label = "Attestation"
accept = ["pdf"]
required = true

[[pieces]]
code = "photo"
label = "Photographie"
accept = ["jpeg"]
required = true

[[pieces]]
code = "scan"
label = "Relevé de notes scanné"
accept = ["tiff"]
required = true

[[pieces]]
code = "courrier"
label = "Courrier"
accept = ["pdf"]
required = true
"#
    )
}

/// A born-digital A4 PDF: a black block in the top-left corner and a line of text.
pub fn born_digital_pdf() -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
    });
    let content = Content {
        operations: vec![
            Operation::new("g", vec![0.into()]),
            Operation::new("re", vec![40.into(), 640.into(), 200.into(), 160.into()]),
            Operation::new("f", vec![]),
            Operation::new("BT", vec![]),
            Operation::new("Tf", vec!["F1".into(), 28.into()]),
            Operation::new("Td", vec![60.into(), 300.into()]),
            Operation::new(
                "Tj",
                vec![Object::string_literal("Attestation de reussite")],
            ),
            Operation::new("ET", vec![]),
        ],
    };
    crate::common::a4_pdf(
        doc,
        content.encode().expect("content encodes"),
        dictionary! { "Font" => dictionary! { "F1" => font_id } },
    )
}

/// A phone photo taken sideways: stored landscape, EXIF orientation 6 (turn a quarter
/// clockwise to show), so that shown as it should be it is portrait with the black block in
/// its top-left corner.
pub fn sideways_photo() -> Vec<u8> {
    let mut shown = GrayImage::from_pixel(600, 800, Luma([235]));
    for y in 0..240 {
        for x in 0..220 {
            shown.put_pixel(x, y, Luma([10]));
        }
    }
    for y in (300..780).step_by(40) {
        for x in 60..540 {
            shown.put_pixel(x, y, Luma([90]));
        }
    }
    // Stored a quarter turn anticlockwise; orientation 6 turns it back.
    let stored = image::imageops::rotate270(&shown);
    let mut jpeg = Vec::new();
    image::DynamicImage::ImageLuma8(stored)
        .write_to(&mut Cursor::new(&mut jpeg), ImageFormat::Jpeg)
        .expect("the JPEG encodes");
    // An APP1 EXIF segment after SOI: a little-endian TIFF header and one entry, Orientation.
    let mut tiff = b"II*\0\x08\0\0\0".to_vec();
    tiff.extend_from_slice(&1u16.to_le_bytes());
    tiff.extend_from_slice(&0x0112u16.to_le_bytes());
    tiff.extend_from_slice(&3u16.to_le_bytes());
    tiff.extend_from_slice(&1u32.to_le_bytes());
    tiff.extend_from_slice(&6u32.to_le_bytes());
    tiff.extend_from_slice(&0u32.to_le_bytes());
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&u16::try_from(app1.len() + 2).expect("small").to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// A page of text as scanned at `dpi`, with the black block in its top-left corner.
fn marked_page(dpi: u32, seed: u64) -> Canvas {
    let mut page = scanners::generate::text_page(dpi, seed, 1);
    let (w, h) = (page.w as f32, page.h as f32);
    page.fill(0.04 * w, 0.03 * h, 0.3 * w, 0.16 * h, 0);
    page
}

/// A Group 4 TIFF, one page scanned at 200 dpi.
pub fn g4_scan() -> Vec<u8> {
    tiff_batch(&[encode_page(&marked_page(200, 11), ImageCoding::G4)])
}

/// The campaign loaded and its dossier created, with nothing filed yet.
async fn open_dossier(server: &Server) {
    server.load_campaign(&campaign()).await;
    server
        .create_dossier(
            CAMPAIGN,
            REFERENCE,
            json!({"first_name": "Camille", "last_name": "Martin", "birth_date": "2004-05-17"}),
        )
        .await;
}

/// Files the four documents in a new dossier and waits until every one is rendered (the
/// mailroom segment first goes through the batch split). Returns the dossier's JSON.
pub async fn dossier_with_four_documents(server: &Server) -> Value {
    open_dossier(server).await;
    for (piece, name, body) in [
        ("attestation", "attestation.pdf", born_digital_pdf()),
        ("photo", "photo.jpg", sideways_photo()),
        ("scan", "releve.tif", g4_scan()),
    ] {
        let response = server.upload(REFERENCE, piece, name, body).await;
        let status = response.status();
        assert_eq!(
            status,
            201,
            "{name}: {}",
            response.text().await.unwrap_or_default()
        );
    }
    // The mailroom: the piece's cover sheet, printed and scanned, then the page.
    let sheet = server
        .get(
            &format!("/api/v1/dossiers/{REFERENCE}/cover-sheet.pdf?piece=courrier"),
            &server.tokens.portal,
        )
        .send()
        .await
        .expect("cover sheet");
    assert_eq!(sheet.status(), 200);
    let sheet = rasterise_sheet(&sheet.bytes().await.expect("bytes"), 150).expect("renders");
    let pages = [sheet, marked_page(150, 12)]
        .iter()
        .map(|page| encode_page(page, ImageCoding::Jpeg))
        .collect::<Vec<_>>();
    let batch = server
        .post("/api/v1/mailroom/batches", &server.tokens.station)
        .header("Content-Disposition", "attachment; filename=\"lot.pdf\"")
        .body(pdf_batch(&pages))
        .send()
        .await
        .expect("batch sent");
    assert_eq!(batch.status(), 202);
    let batch: Value = batch.json().await.expect("json");
    let batch = mailroom_batch_finished(server, batch["id"].as_str().expect("id")).await;
    assert_eq!(batch["state"], "done", "{batch}");
    rendered(server, REFERENCE, 4).await
}

/// Pictures give way to uploads being filed, not to uploads still coming in: while a phone's
/// upload stalls halfway, a document filed meanwhile is drawn at once, not after the 30 s that
/// rendering waits at most for intake to be quiet.
#[tokio::test]
async fn a_stalled_upload_does_not_hold_back_pictures() {
    use tokio::io::AsyncWriteExt;
    let server = Server::start();
    open_dossier(&server).await;
    // A body announced at 1 MB, of which the first kilobyte comes, then nothing.
    let address = server.base.trim_start_matches("http://");
    let mut stalled = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let headers = format!(
        "POST /api/v1/dossiers/{REFERENCE}/pieces/courrier/documents HTTP/1.1\r\n\
         Host: {address}\r\nAuthorization: Bearer {}\r\n\
         Content-Disposition: attachment; filename=\"lent.pdf\"\r\n\
         Content-Length: 1000000\r\n\r\n",
        server.tokens.portal
    );
    stalled
        .write_all(headers.as_bytes())
        .await
        .expect("send headers");
    let mut start = b"%PDF-1.7\n%".to_vec();
    start.resize(1024, b'x');
    stalled.write_all(&start).await.expect("send a kilobyte");
    // The server is reading that body before the other document comes.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let response = server
        .upload(
            REFERENCE,
            "attestation",
            "attestation.pdf",
            born_digital_pdf(),
        )
        .await;
    assert_eq!(response.status(), 201);
    // The stalled upload is not filed; the other document is drawn well within those 30 s.
    let dossier = rendered_within(&server, REFERENCE, 1, Duration::from_secs(15)).await;
    let drawn = documents(&dossier);
    assert_eq!(drawn[0]["previews"], "ready", "{drawn:?}");
    drop(stalled);
}

/// The dossier once `count` documents are filed and none is still being rendered.
pub async fn rendered(server: &Server, reference: &str, count: usize) -> Value {
    rendered_within(server, reference, count, Duration::from_secs(120)).await
}

/// [`rendered`], failing when it takes longer than `within`.
async fn rendered_within(
    server: &Server,
    reference: &str,
    count: usize,
    within: Duration,
) -> Value {
    let start = Instant::now();
    loop {
        let dossier = server.dossier(reference).await;
        let documents = documents(&dossier);
        if documents.len() == count && documents.iter().all(|d| d["previews"] != "pending") {
            return dossier;
        }
        assert!(
            start.elapsed() < within,
            "pictures still pending after {within:?}: {dossier}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every document of the dossier, by piece.
pub fn documents(dossier: &Value) -> Vec<Value> {
    dossier["pieces"]
        .as_array()
        .expect("pieces")
        .iter()
        .flat_map(|p| p["documents"].as_array().expect("documents").clone())
        .collect()
}

/// Mean grey level of a region of a picture (0 black, 255 white), its fractions of the side.
fn mean(picture: &image::DynamicImage, x0: f32, y0: f32, x1: f32, y1: f32) -> f32 {
    let grey = picture.to_luma8();
    let (w, h) = grey.dimensions();
    let (xa, xb) = ((x0 * w as f32) as u32, (x1 * w as f32) as u32);
    let (ya, yb) = ((y0 * h as f32) as u32, (y1 * h as f32) as u32);
    let mut sum = 0u64;
    let mut n = 0u64;
    for y in ya..yb {
        for x in xa..xb {
            sum += u64::from(grey.get_pixel(x, y)[0]);
            n += 1;
        }
    }
    sum as f32 / n.max(1) as f32
}

/// Not blank, and the right way up: dark in the top-left corner, light in the bottom-right.
pub fn check_upright(what: &str, picture: &image::DynamicImage) {
    let whole = mean(picture, 0.0, 0.0, 1.0, 1.0);
    assert!(
        (40.0..250.0).contains(&whole),
        "{what}: blank or black ({whole})"
    );
    let top_left = mean(picture, 0.0, 0.0, 0.3, 0.2);
    let bottom_right = mean(picture, 0.7, 0.8, 1.0, 1.0);
    assert!(
        top_left + 60.0 < bottom_right,
        "{what}: not the right way up (top-left {top_left}, bottom-right {bottom_right})"
    );
}

async fn every_page_is_rendered_served_and_cached(backend: Backend) {
    let server = Server::start_on(backend).await;
    let dossier = dossier_with_four_documents(&server).await;
    for doc in documents(&dossier) {
        let id = doc["id"].as_str().expect("id");
        let name = doc["filename"].as_str().unwrap_or(id).to_string();
        assert_eq!(doc["previews"], "ready", "{name}: {doc}");
        assert_eq!(doc["pages"], 1, "{name}");
        for (width, token) in [(200, &server.tokens.staff), (1600, &server.tokens.portal)] {
            let path = format!("/api/v1/documents/{id}/pages/1?width={width}");
            let response = server.get(&path, token).send().await.expect("page");
            assert_eq!(response.status(), 200, "{name} at {width}");
            let headers = response.headers().clone();
            assert_eq!(headers["content-type"], "image/jpeg");
            assert!(headers.contains_key("etag"), "{name}");
            assert!(
                headers["cache-control"]
                    .to_str()
                    .unwrap()
                    .starts_with("private"),
                "{name}"
            );
            assert!(!headers.contains_key("x-preview-failure"), "{name}");
            let bytes = response.bytes().await.expect("bytes");
            let picture = image::load_from_memory(&bytes).expect("a JPEG");
            // A small photo is not blown up beyond twice its size (600 pixels wide here).
            let expected = if name == "photo.jpg" {
                width.min(1200)
            } else {
                width
            };
            assert_eq!(picture.width(), expected, "{name}: the width class");
            check_upright(&format!("{name} at {width}"), &picture);
            if name == "photo.jpg" {
                assert!(picture.height() > picture.width(), "EXIF 6: shown portrait");
            }
            // The browser's copy is current: not sent again.
            let again = server
                .get(&path, token)
                .header("If-None-Match", headers["etag"].to_str().unwrap())
                .send()
                .await
                .expect("page");
            assert_eq!(again.status(), 304, "{name}");
        }
        let beyond = server
            .get(
                &format!("/api/v1/documents/{id}/pages/2"),
                &server.tokens.staff,
            )
            .send()
            .await
            .expect("page");
        assert_eq!(beyond.status(), 404);
        let error: Value = beyond.json().await.expect("json");
        assert_eq!(error["error"]["code"], "unknown_page", "{error}");
    }
    // Stations have no business with pictures.
    let first = documents(&dossier)[0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let station = server
        .get(
            &format!("/api/v1/documents/{first}/pages/1"),
            &server.tokens.station,
        )
        .send()
        .await
        .expect("page");
    assert_eq!(station.status(), 403);
}
