//! A HEIC photo through the API: accepted, kept byte for byte, and shown to people through
//! its JPEG display copy (`GET /api/v1/documents/{id}/display`, and the staff dossier page),
//! turned as the photo says, scaled down, without its EXIF (GPS position, camera).

use image::GenericImageView;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{Backend, Server, error_code, repo_root, sample};
use crate::staff_support::{PASSWORD, Session, create_user};

on_every_backend!(a_heic_photo_is_kept_whole_and_shown_as_a_jpeg);

/// A campaign whose identity piece takes phone photos as well as PDFs.
const PHOTOS: &str = r#"
id = "photos"
title = "Photos de téléphone"
opens_at = "2024-01-01T09:00:00+01:00"
closes_at = "2099-06-30T18:00:00+02:00"
reference_date = "2027-05-15"

[[pieces]]
code = "identite"
label = "Pièce d'identité"
accept = ["pdf", "jpeg", "png", "heic", "avif"]
max_bytes = "10MiB"
max_documents = 2
review = "staff"
required = true
"#;

async fn a_heic_photo_is_kept_whole_and_shown_as_a_jpeg(backend: Backend) {
    let server = Server::start_on(backend).await;
    server.load_campaign(PHOTOS).await;
    server
        .create_dossier(
            "photos",
            "PH-1",
            json!({"birth_date": "1990-01-01", "nationality": "FR"}),
        )
        .await;
    // 4032x3024 as an iPhone takes it, held sideways: EXIF orientation 6, with a GPS position
    // and the camera's name in its EXIF.
    let photo = std::fs::read(repo_root().join("validators/tests/fixtures/heif/large_exif6.heic"))
        .expect("the HEIC fixture");
    let filed = server
        .upload("PH-1", "identite", "IMG_0001.HEIC", photo.clone())
        .await;
    assert_eq!(filed.status(), StatusCode::CREATED);
    let filed: Value = filed.json().await.expect("json");
    assert_eq!(filed["kind"], "heic");
    assert_eq!(filed["verdict"], "accepted", "{filed}");
    assert_eq!(filed["display"], true);
    let id = filed["id"].as_str().expect("id").to_string();

    // The original, byte for byte.
    let content = server
        .get(
            &format!("/api/v1/documents/{id}/content"),
            &server.tokens.staff,
        )
        .send()
        .await
        .expect("request");
    assert_eq!(content.status(), StatusCode::OK);
    assert_eq!(content.headers()["content-type"], "image/heic");
    assert_eq!(content.bytes().await.expect("body").to_vec(), photo);

    // The display copy, for the portal and staff alike.
    let display = format!("/api/v1/documents/{id}/display");
    for token in [&server.tokens.portal, &server.tokens.staff] {
        let answer = server.get(&display, token).send().await.expect("request");
        assert_eq!(answer.status(), StatusCode::OK);
        let headers = answer.headers().clone();
        assert_eq!(headers["content-type"], "image/jpeg");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["content-security-policy"], "sandbox");
        let disposition = headers["content-disposition"].to_str().expect("ascii");
        assert!(
            disposition.starts_with("inline; filename=\"IMG_0001.jpg\""),
            "{disposition}"
        );
        let jpeg = answer.bytes().await.expect("body").to_vec();
        for secret in [&b"Exif"[..], b"GPS", b"TestPhone"] {
            assert!(
                !jpeg.windows(secret.len()).any(|w| w == secret),
                "the display copy carries {}",
                String::from_utf8_lossy(secret)
            );
        }
        let shown =
            image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg).expect("a JPEG");
        // Turned upright (portrait) and scaled to 2048 pixels at most.
        assert_eq!(shown.dimensions(), (1536, 2048));
        let top_right = shown.get_pixel(1530, 5);
        assert!(top_right[0] > 180 && top_right[1] < 80, "{top_right:?}");

        // Cached by its own digest.
        let etag = headers["etag"].clone();
        let again = server
            .get(&display, token)
            .header("If-None-Match", etag)
            .send()
            .await
            .expect("request");
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    }

    // A PDF has none: 404 with its own code.
    let pdf: Value = server
        .upload(
            "PH-1",
            "identite",
            "carte.pdf",
            sample("carte-identite.pdf"),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(pdf["display"], false);
    let none = server
        .get(
            &format!(
                "/api/v1/documents/{}/display",
                pdf["id"].as_str().expect("id")
            ),
            &server.tokens.staff,
        )
        .send()
        .await
        .expect("request");
    assert_eq!(none.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(none).await, "no_display_copy");

    // Staff see the photo's page, drawn from the display copy, on the dossier page, and may
    // still download the original.
    let dossier =
        crate::previews::rendered(&server, "PH-1", documents_in(&server, "PH-1").await).await;
    let photo = crate::previews::documents(&dossier)
        .into_iter()
        .find(|d| d["id"] == id.as_str())
        .expect("the photo");
    assert_eq!(photo["previews"], "ready", "{photo}");
    assert_eq!(create_user(&server, "camille", "reviewer", PASSWORD).0, 0);
    let staff = Session::logged_in(&server, "camille").await;
    let page = staff.page("/staff/dossiers/PH-1").await;
    let shown = format!("<img src=\"/staff/documents/{id}/pages/1?width=200\"");
    assert!(page.contains(&shown), "{page}");
    let thumbnail = staff
        .get(&format!("/staff/documents/{id}/pages/1?width=200"))
        .await;
    assert_eq!(thumbnail.status(), StatusCode::OK);
    assert_eq!(thumbnail.headers()["content-type"], "image/jpeg");
    assert!(page.contains(&format!("/staff/documents/{id}/content?download=1")));
    let answer = staff
        .get(&format!("/staff/documents/{id}/display.jpg"))
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.headers()["content-type"], "image/jpeg");

    // The display copy and the pictures of both documents' page (two sizes each) are objects
    // the documents point at: nothing orphaned.
    let (code, out, err) = server.verify();
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("7 objects checked, 7 referenced by documents, 0 finding(s)"),
        "{out}"
    );
}

/// How many documents the dossier holds, by piece.
async fn documents_in(server: &Server, reference: &str) -> usize {
    crate::previews::documents(&server.dossier(reference).await).len()
}
