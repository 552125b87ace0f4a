//! A piece's watermark, end to end on both backends: the same PDF and the same HEIC photo are
//! filed under the watermarked `identite` piece of one dossier and under a piece without one
//! in another. Their pictures are stored once (same bytes, one render, one display copy), yet
//! served differently: with the text over them for the identity piece, as stored for the
//! other. The originals are downloaded as sent.

use image::{DynamicImage, GrayImage, ImageFormat};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{Backend, Server, repo_root};
use crate::staff_support::{PASSWORD, Session, create_user};

on_every_backend!(identity_pieces_are_shown_watermarked_and_kept_as_sent);

const WATERMARK: &str = "Copie réservée au concours BTS 2027";

/// A campaign whose identity piece is watermarked and whose proof of address is not.
fn campaign() -> String {
    format!(
        r#"
id = "filigrane-2027"
title = "Concours BTS 2027"
opens_at = "2024-01-01T09:00:00+01:00"
closes_at = "2099-06-30T18:00:00+02:00"
reference_date = "2027-05-15"

[[pieces]]
code = "identite"
label = "Pièce d'identité"
accept = ["pdf", "jpeg", "heic"]
max_documents = 2
watermark = "{WATERMARK}"

[[pieces]]
code = "domicile"
label = "Justificatif de domicile"
accept = ["pdf", "jpeg", "heic"]
max_documents = 2
"#
    )
}

async fn identity_pieces_are_shown_watermarked_and_kept_as_sent(backend: Backend) {
    let server = Server::start_on(backend).await;
    server.load_campaign(&campaign()).await;
    let pdf = crate::previews::born_digital_pdf();
    let heic = std::fs::read(repo_root().join("validators/tests/fixtures/heif/large_exif6.heic"))
        .expect("the HEIC fixture");
    // The same two files, under the watermarked piece in FI-1 and under the other in FI-2.
    let mut filed = Vec::new();
    for (reference, piece) in [("FI-1", "identite"), ("FI-2", "domicile")] {
        server
            .create_dossier(
                "filigrane-2027",
                reference,
                json!({"first_name": "Camille", "last_name": "Martin"}),
            )
            .await;
        let pdf = upload(&server, reference, piece, "carte.pdf", pdf.clone()).await;
        let photo = upload(&server, reference, piece, "IMG_0001.HEIC", heic.clone()).await;
        assert_eq!(photo["display"], true, "{photo}");
        crate::previews::rendered(&server, reference, 2).await;
        filed.push((id(&pdf), id(&photo)));
    }
    let [(marked_pdf, marked_photo), (plain_pdf, plain_photo)] =
        <[_; 2]>::try_from(filed).unwrap_or_else(|_| unreachable!("two dossiers were filed"));

    // The pages' pictures, both sizes, for the portal and staff.
    for (width, token) in [(1600, &server.tokens.portal), (200, &server.tokens.staff)] {
        for (marked, plain) in [(&marked_pdf, &plain_pdf), (&marked_photo, &plain_photo)] {
            let path = |id: &str| format!("/api/v1/documents/{id}/pages/1?width={width}");
            let (marked_etag, marked_bytes) = fetch(&server, &path(marked), token).await;
            let (plain_etag, plain_bytes) = fetch(&server, &path(plain), token).await;
            let what = format!("page 1 of {marked} at {width}");
            assert_ne!(marked_etag, plain_etag, "{what}: caches must not mix them");
            assert_ne!(marked_bytes, plain_bytes, "{what}: served as stored");
            let picture = decode(&marked_bytes);
            assert_eq!(picture.width(), width, "{what}");
            assert_marked_along_the_diagonal(&what, &picture, &decode(&plain_bytes));
            // The marked picture's own ETag is current; the plain one's is not.
            for (etag, status) in [
                (&marked_etag, StatusCode::NOT_MODIFIED),
                (&plain_etag, StatusCode::OK),
            ] {
                let again = server
                    .get(&path(marked), token)
                    .header("If-None-Match", etag)
                    .send()
                    .await
                    .expect("page");
                assert_eq!(again.status(), status, "{what} with {etag}");
            }
        }
    }

    // The display copy of the HEIC photo, marked the same way.
    let display = |id: &str| format!("/api/v1/documents/{id}/display");
    let (marked_etag, marked_display) =
        fetch(&server, &display(&marked_photo), &server.tokens.portal).await;
    let (plain_etag, plain_display) =
        fetch(&server, &display(&plain_photo), &server.tokens.portal).await;
    assert_ne!(marked_etag, plain_etag);
    assert_ne!(marked_display, plain_display);
    let shown = decode(&marked_display);
    assert_eq!((shown.width(), shown.height()), (1536, 2048));
    assert_marked_along_the_diagonal("the display copy", &shown, &decode(&plain_display));

    // The originals are downloaded as they were sent, whatever their piece.
    for (id, sent) in [
        (&marked_pdf, &pdf),
        (&plain_pdf, &pdf),
        (&marked_photo, &heic),
        (&plain_photo, &heic),
    ] {
        let content = server
            .get(
                &format!("/api/v1/documents/{id}/content"),
                &server.tokens.staff,
            )
            .send()
            .await
            .expect("content");
        assert_eq!(content.status(), StatusCode::OK);
        assert_eq!(&content.bytes().await.expect("body").to_vec(), sent, "{id}");
    }

    // The staff pages serve the same marked pictures.
    assert_eq!(create_user(&server, "camille", "reviewer", PASSWORD).0, 0);
    let staff = Session::logged_in(&server, "camille").await;
    let (_, api_thumbnail) = fetch(
        &server,
        &format!("/api/v1/documents/{marked_pdf}/pages/1?width=200"),
        &server.tokens.staff,
    )
    .await;
    let thumbnail = staff
        .get(&format!("/staff/documents/{marked_pdf}/pages/1?width=200"))
        .await;
    assert_eq!(thumbnail.status(), StatusCode::OK);
    assert_eq!(
        thumbnail.bytes().await.expect("body").to_vec(),
        api_thumbnail
    );
    let shown = staff
        .get(&format!("/staff/documents/{marked_photo}/display.jpg"))
        .await;
    assert_eq!(shown.status(), StatusCode::OK);
    assert_eq!(shown.bytes().await.expect("body").to_vec(), marked_display);

    // Nothing marked is stored: the two contents, the display copy and the two sizes of each
    // content's page picture, shared by both dossiers.
    let (code, out, err) = server.verify();
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("7 objects checked, 7 referenced by documents, 0 finding(s)"),
        "{out}"
    );
}

async fn upload(server: &Server, reference: &str, piece: &str, name: &str, body: Vec<u8>) -> Value {
    let response = server.upload(reference, piece, name, body).await;
    let status = response.status();
    let filed: Value = response.json().await.expect("json");
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{name} in {reference}: {filed}"
    );
    assert_eq!(filed["verdict"], "accepted", "{filed}");
    filed
}

fn id(document: &Value) -> String {
    document["id"].as_str().expect("id").to_string()
}

/// A JPEG answered 200, with its ETag.
async fn fetch(server: &Server, path: &str, token: &str) -> (String, Vec<u8>) {
    let response = server.get(path, token).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "image/jpeg", "{path}");
    let cache = headers["cache-control"].to_str().expect("ascii");
    assert!(cache.starts_with("private"), "{path}: {cache}");
    let body = response.bytes().await.expect("body").to_vec();
    assert_eq!(
        headers["content-length"].to_str().expect("ascii"),
        body.len().to_string(),
        "{path}"
    );
    let etag = headers["etag"].to_str().expect("ascii").to_string();
    (etag, body)
}

fn decode(jpeg: &[u8]) -> DynamicImage {
    image::load_from_memory_with_format(jpeg, ImageFormat::Jpeg).expect("a JPEG")
}

/// `marked` is `plain` with text over it: the same size, changed along the rising diagonal
/// (from the bottom-left corner to the top-right one), the rest of the picture mostly as it
/// was.
fn assert_marked_along_the_diagonal(what: &str, marked: &DynamicImage, plain: &DynamicImage) {
    let (marked, plain): (GrayImage, GrayImage) = (marked.to_luma8(), plain.to_luma8());
    assert_eq!(marked.dimensions(), plain.dimensions(), "{what}");
    let (w, h) = marked.dimensions();
    let differs =
        |x: u32, y: u32| marked.get_pixel(x, y)[0].abs_diff(plain.get_pixel(x, y)[0]) > 20;
    // The band along the diagonal, a hundredth of the width high: the text crosses it row
    // after row (a few percent of a page is ink).
    let half = (w / 100).max(2);
    let band: Vec<(u32, u32)> = (0..w)
        .flat_map(|x| {
            let y = (h - 1) - (h - 1) * x / w.max(1);
            (y.saturating_sub(half)..(y + half).min(h)).map(move |y| (x, y))
        })
        .collect();
    let marked_band = band.iter().filter(|&&(x, y)| differs(x, y)).count();
    assert!(
        marked_band > band.len() / 50,
        "{what}: {marked_band} of {} pixels along the diagonal changed",
        band.len()
    );
    let changed = (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .filter(|&(x, y)| differs(x, y))
        .count();
    let total = (w * h) as usize;
    assert!(
        changed > total / 100 && changed < total / 3,
        "{what}: {changed} of {total} pixels changed"
    );
}
