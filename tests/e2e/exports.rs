//! Campaign exports end to end, on both backends: a campaign of three dossiers (one with an
//! accepted, a rejected and a missing piece and a candidate named like a formula, one holding
//! the same identity card as the first and a withdrawn document, one empty) and a dossier of
//! another campaign, exported through the API as `dossiers.csv`, `documents.csv`,
//! `documents.zip` and `dossiers.xlsx`, read back with the `csv`, `zip` and `calamine`
//! crates and `sha256sum -c`; the roles and the unknown campaign; the same files from the
//! staff pages, linked from the dashboard and the filtered list.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};

use calamine::{Data, Reader, Xlsx};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::{Backend, Server, error_code, open_campaign, sample};
use crate::staff_support::{PASSWORD, Session, create_user};

on_every_backend!(
    campaign_exports_tell_each_dossier_and_document,
    exports_are_for_staff_and_admins_only,
    staff_pages_link_to_the_same_exports,
);

const CAMPAIGN: &str = "exports-2027";
const FORMULA_NAME: &str = "=HYPERLINK(\"http://evil.example\",\"x\")";
const EXPORTS: [&str; 4] = [
    "dossiers.csv",
    "dossiers.xlsx",
    "documents.csv",
    "documents.zip",
];

fn path(export: &str) -> String {
    format!("/api/v1/campaigns/{CAMPAIGN}/{export}")
}

/// The campaign and its dossiers; returns the first dossier's identity document's id.
async fn campaign_with_dossiers(server: &Server) -> String {
    server.load_campaign(&open_campaign(CAMPAIGN)).await;
    server.load_campaign(&open_campaign("other-2027")).await;
    // EXP-1: 40 years old (the JDC certificate is not required of them), asks for an
    // arrangement (the medical notice is required); identity accepted, address rejected.
    server
        .create_dossier(
            CAMPAIGN,
            "EXP-1",
            json!({"birth_date": "1987-04-02", "nationality": "FR", "amenagement": true,
                   "last_name": FORMULA_NAME, "first_name": "Camille"}),
        )
        .await;
    let identity = uploaded(
        server,
        "EXP-1",
        "identite",
        "carte.pdf",
        "carte-identite.pdf",
    )
    .await;
    review(server, &identity, json!({"decision": "accept"})).await;
    let address = uploaded(
        server,
        "EXP-1",
        "domicile",
        "facture.pdf",
        "justificatif-domicile.pdf",
    )
    .await;
    review(
        server,
        &address,
        json!({"decision": "reject", "reason": "Facture de plus de trois mois"}),
    )
    .await;
    // EXP-2: the same identity card, byte for byte; an address proof withdrawn.
    server
        .create_dossier(
            CAMPAIGN,
            "EXP-2",
            json!({"birth_date": "2005-01-01", "nationality": "FR", "amenagement": false,
                   "last_name": "Durand", "ine": "0123456789A"}),
        )
        .await;
    uploaded(
        server,
        "EXP-2",
        "identite",
        "ma-carte.pdf",
        "carte-identite.pdf",
    )
    .await;
    let withdrawn = uploaded(
        server,
        "EXP-2",
        "domicile",
        "facture.pdf",
        "justificatif-domicile.pdf",
    )
    .await;
    let deleted = server
        .delete(
            &format!("/api/v1/dossiers/EXP-2/documents/{withdrawn}"),
            &server.tokens.portal,
        )
        .send()
        .await
        .expect("request");
    assert_eq!(deleted.status(), StatusCode::OK);
    server
        .create_dossier(CAMPAIGN, "EXP-3", json!({"nationality": "BE"}))
        .await;
    // Another campaign's dossier, holding the same card too: named as a duplicate, not
    // exported.
    server
        .create_dossier(
            "other-2027",
            "OTH-1",
            json!({"birth_date": "1990-01-01", "nationality": "FR", "amenagement": false}),
        )
        .await;
    uploaded(
        server,
        "OTH-1",
        "identite",
        "carte.pdf",
        "carte-identite.pdf",
    )
    .await;
    identity
}

async fn uploaded(server: &Server, reference: &str, piece: &str, name: &str, file: &str) -> String {
    let response = server.upload(reference, piece, name, sample(file)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.expect("json");
    body["id"].as_str().expect("an id").to_string()
}

async fn review(server: &Server, document: &str, decision: Value) {
    let response = server
        .post(
            &format!("/api/v1/documents/{document}/review"),
            &server.tokens.staff,
        )
        .json(&decision)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
}

/// The export's bytes, after checking its type and attachment name.
async fn download(server: &Server, export: &str, token: &str, content_type: &str) -> Vec<u8> {
    let response = server
        .get(&path(export), token)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK, "{export}");
    assert_eq!(response.headers()["content-type"], content_type, "{export}");
    assert_eq!(
        response.headers()["content-disposition"],
        format!("attachment; filename=\"{CAMPAIGN}-{export}\"").as_str()
    );
    response.bytes().await.expect("body").to_vec()
}

/// A CSV parsed back: each record by column name.
fn records(bytes: &[u8]) -> (Vec<String>, Vec<BTreeMap<String, String>>) {
    let mut reader = csv::Reader::from_reader(bytes);
    let header: Vec<String> = reader
        .headers()
        .expect("a header")
        .iter()
        .map(str::to_string)
        .collect();
    let rows = reader
        .records()
        .map(|record| {
            let record = record.expect("a well-formed record");
            assert_eq!(record.len(), header.len());
            header
                .iter()
                .cloned()
                .zip(record.iter().map(str::to_string))
                .collect()
        })
        .collect();
    (header, rows)
}

async fn campaign_exports_tell_each_dossier_and_document(backend: Backend) {
    let server = Server::start_on(backend).await;
    let identity = campaign_with_dossiers(&server).await;
    let staff = server.tokens.staff.clone();

    // dossiers.csv: one line per dossier, in reference order.
    let csv_type = "text/csv; charset=utf-8";
    let bytes = download(&server, "dossiers.csv", &staff, csv_type).await;
    assert!(bytes.ends_with(b"\r\n"), "CRLF lines");
    let (header, dossiers) = records(&bytes);
    assert_eq!(
        header,
        [
            "reference",
            "candidate.amenagement",
            "candidate.birth_date",
            "candidate.first_name",
            "candidate.ine",
            "candidate.last_name",
            "candidate.nationality",
            "state",
            "complete",
            "missing",
            "created_at",
            "updated_at",
            "piece.identite",
            "piece.jdc",
            "piece.domicile",
            "piece.dossier_scanne",
            "piece.amenagement",
        ]
    );
    let references: Vec<&str> = dossiers.iter().map(|d| d["reference"].as_str()).collect();
    assert_eq!(references, ["EXP-1", "EXP-2", "EXP-3"]);
    let first = &dossiers[0];
    assert_eq!(first["piece.identite"], "accepted");
    assert_eq!(first["piece.domicile"], "rejected");
    assert_eq!(first["piece.amenagement"], "missing");
    assert_eq!(first["piece.jdc"], "not_required");
    assert_eq!(first["piece.dossier_scanne"], "not_required");
    assert_eq!(first["complete"], "false");
    assert_eq!(first["candidate.amenagement"], "true");
    assert_eq!(
        first["candidate.last_name"],
        format!("'{FORMULA_NAME}"),
        "a formula-looking name is defused"
    );
    assert_eq!(dossiers[2]["candidate.last_name"], "");
    // Every status is the one the dossier's JSON gives, but for pieces not required and
    // without document.
    for row in &dossiers {
        let json = server.dossier(&row["reference"]).await;
        assert_eq!(row["state"], json["state"].as_str().expect("a state"));
        assert_eq!(row["complete"], json["complete"].to_string());
        for piece in json["pieces"].as_array().expect("pieces") {
            let code = piece["code"].as_str().expect("a code");
            let status = piece["status"].as_str().expect("a status");
            let expected = if piece["required"] == false && status == "missing" {
                "not_required"
            } else {
                status
            };
            assert_eq!(row[&format!("piece.{code}")], expected, "{code}");
        }
    }

    // documents.csv: every document, the withdrawn one marked, duplicates named.
    let bytes = download(&server, "documents.csv", &staff, csv_type).await;
    let (header, documents) = records(&bytes);
    assert_eq!(header.first().map(String::as_str), Some("dossier"));
    assert_eq!(header.last().map(String::as_str), Some("duplicates"));
    assert_eq!(documents.len(), 4, "{documents:?}");
    let by_id = |id: &str| {
        documents
            .iter()
            .find(|d| d["document"] == id)
            .unwrap_or_else(|| panic!("document {id} exported"))
    };
    let card = by_id(&identity);
    assert_eq!(card["dossier"], "EXP-1");
    assert_eq!(card["piece"], "identite");
    assert_eq!(card["filename"], "carte.pdf");
    assert_eq!(card["review"], "accepted");
    assert_eq!(card["reviewed_by"], "staff");
    assert_eq!(card["channel"], "upload");
    assert_eq!(card["withdrawn_at"], "");
    assert_eq!(card["duplicates"], "EXP-2 OTH-1");
    let card_sha = hex_sha256(&sample("carte-identite.pdf"));
    assert_eq!(card["sha256"], card_sha);
    assert_eq!(card["size"], sample("carte-identite.pdf").len().to_string());
    let second_card = documents
        .iter()
        .find(|d| d["dossier"] == "EXP-2" && d["piece"] == "identite")
        .expect("EXP-2's card");
    assert_eq!(second_card["duplicates"], "EXP-1 OTH-1");
    let rejected = documents
        .iter()
        .find(|d| d["dossier"] == "EXP-1" && d["piece"] == "domicile")
        .expect("EXP-1's address proof");
    assert_eq!(rejected["review"], "rejected");
    assert_eq!(rejected["review_reason"], "Facture de plus de trois mois");
    let withdrawn = documents
        .iter()
        .find(|d| d["dossier"] == "EXP-2" && d["piece"] == "domicile")
        .expect("the withdrawn document is listed");
    assert_ne!(withdrawn["withdrawn_at"], "");
    // Its content is held by EXP-1, whose copy is not withdrawn.
    assert_eq!(withdrawn["duplicates"], "EXP-1");
    assert_eq!(
        rejected["duplicates"], "",
        "a withdrawn copy is nobody's duplicate"
    );

    // documents.zip: a folder per dossier and piece, the withdrawn document left out, and a
    // manifest whose sums are the files'.
    let bytes = download(&server, "documents.zip", &staff, "application/zip").await;
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes.clone())).expect("a ZIP");
    let mut names: Vec<String> = archive
        .file_names()
        .map(|n| n.expect("a readable name").into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "EXP-1/domicile/EXP-1_domicile_1.pdf",
            "EXP-1/identite/EXP-1_identite_1.pdf",
            "EXP-2/identite/EXP-2_identite_1.pdf",
            "SHA256SUMS",
        ]
    );
    let mut manifest = String::new();
    archive
        .by_name("SHA256SUMS")
        .expect("the manifest")
        .read_to_string(&mut manifest)
        .expect("text");
    assert_eq!(manifest.lines().count(), 3, "{manifest}");
    for line in manifest.lines() {
        let (sum, name) = line.split_once("  ").expect("sha256sum format");
        let mut content = Vec::new();
        archive
            .by_name(name)
            .expect("a listed file")
            .read_to_end(&mut content)
            .expect("bytes");
        assert_eq!(sum, hex_sha256(&content), "{name}");
    }
    sha256sum_checks(&bytes);
    // Each document handed out in the ZIP is a download in its dossier's journal.
    let history: Value = server
        .get("/api/v1/dossiers/EXP-2/history", &staff)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let exported = history["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["action"] == "document.downloaded" && e["data"]["export"] == "documents.zip")
        .count();
    assert_eq!(exported, 1, "{history}");

    // dossiers.xlsx: the same columns and rows, the name as text.
    let xlsx_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    let bytes = download(&server, "dossiers.xlsx", &staff, xlsx_type).await;
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes)).expect("XLSX");
    let sheet = book.worksheet_range("Dossiers").expect("the sheet");
    assert_eq!(sheet.height(), 1 + 3, "a header and a row per dossier");
    let rows: Vec<&[Data]> = sheet.rows().collect();
    let titles: Vec<String> = rows[0].iter().map(|c| c.to_string()).collect();
    assert_eq!(titles, header_of(&server).await);
    let column = |name: &str| titles.iter().position(|t| t == name).expect("a column");
    assert_eq!(rows[1][column("reference")], Data::String("EXP-1".into()));
    assert_eq!(
        rows[1][column("candidate.last_name")],
        Data::String(FORMULA_NAME.into())
    );
    assert_eq!(rows[1][column("complete")], Data::Bool(false));
    assert_eq!(
        rows[1][column("piece.domicile")],
        Data::String("rejected".into())
    );
    let formulas = book.worksheet_formula("Dossiers").expect("formulas");
    assert!(
        formulas.cells().all(|(_, _, f)| f.is_empty()),
        "no formula in the sheet"
    );
}

/// The header of `dossiers.csv`.
async fn header_of(server: &Server) -> Vec<String> {
    let bytes = download(
        server,
        "dossiers.csv",
        &server.tokens.admin,
        "text/csv; charset=utf-8",
    )
    .await;
    records(&bytes).0
}

fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Extracts the archive and runs `sha256sum -c SHA256SUMS` in it, when the tool is there.
fn sha256sum_checks(bytes: &[u8]) {
    let dir = tempfile::tempdir().expect("a directory");
    zip::ZipArchive::new(Cursor::new(bytes))
        .expect("a ZIP")
        .extract(dir.path())
        .expect("extracted");
    match std::process::Command::new("sha256sum")
        .args(["-c", "--strict", "SHA256SUMS"])
        .current_dir(dir.path())
        .output()
    {
        Ok(output) => assert!(
            output.status.success(),
            "sha256sum -c: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(e) => eprintln!("sha256sum not run ({e}): the sums were checked in process"),
    }
}

async fn exports_are_for_staff_and_admins_only(backend: Backend) {
    let server = Server::start_on(backend).await;
    server.load_campaign(&open_campaign(CAMPAIGN)).await;
    for export in EXPORTS {
        for (token, expected) in [
            (&server.tokens.portal, StatusCode::FORBIDDEN),
            (&server.tokens.station, StatusCode::FORBIDDEN),
            (&server.tokens.staff, StatusCode::OK),
            (&server.tokens.admin, StatusCode::OK),
        ] {
            let response = server
                .get(&path(export), token)
                .send()
                .await
                .expect("request");
            assert_eq!(response.status(), expected, "{export}");
            if expected == StatusCode::FORBIDDEN {
                assert_eq!(error_code(response).await, "forbidden");
            }
        }
        let unknown = server
            .get(
                &format!("/api/v1/campaigns/nope/{export}"),
                &server.tokens.staff,
            )
            .send()
            .await
            .expect("request");
        assert_eq!(unknown.status(), StatusCode::NOT_FOUND, "{export}");
        assert_eq!(error_code(unknown).await, "unknown_campaign");
        let anonymous = server
            .http
            .get(server.url(&path(export)))
            .send()
            .await
            .expect("request");
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    }
    // An empty campaign: a header alone, an archive with an empty manifest.
    let empty = server
        .get(&path("dossiers.csv"), &server.tokens.staff)
        .send()
        .await
        .expect("request")
        .bytes()
        .await
        .expect("body");
    let (_, rows) = records(&empty);
    assert!(rows.is_empty());
    let archive = server
        .get(&path("documents.zip"), &server.tokens.staff)
        .send()
        .await
        .expect("request")
        .bytes()
        .await
        .expect("body");
    let mut archive = zip::ZipArchive::new(Cursor::new(archive.to_vec())).expect("a ZIP");
    assert_eq!(archive.len(), 1);
    assert_eq!(
        archive.by_name("SHA256SUMS").expect("the manifest").size(),
        0
    );
}

async fn staff_pages_link_to_the_same_exports(backend: Backend) {
    let server = Server::start_on(backend).await;
    campaign_with_dossiers(&server).await;
    create_user(&server, "camille", "reviewer", PASSWORD);
    let staff = Session::logged_in(&server, "camille").await;
    let dashboard = staff.page("/staff/").await;
    let list = staff
        .page(&format!("/staff/dossiers?campaign={CAMPAIGN}"))
        .await;
    for export in EXPORTS {
        let link = format!("/staff/campaigns/{CAMPAIGN}/exports/{export}");
        assert!(dashboard.contains(&link), "the dashboard links to {link}");
        assert!(list.contains(&link), "the filtered list links to {link}");
        let response = staff.get(&link).await;
        assert_eq!(response.status(), StatusCode::OK, "{link}");
        assert_eq!(
            response.headers()["content-disposition"],
            format!("attachment; filename=\"{CAMPAIGN}-{export}\"").as_str()
        );
        let from_pages = response.bytes().await.expect("body");
        if export.ends_with(".csv") {
            let from_api = server
                .get(&path(export), &server.tokens.staff)
                .send()
                .await
                .expect("request")
                .bytes()
                .await
                .expect("body");
            assert_eq!(from_pages, from_api, "{export}: the API's file");
        }
    }
    let unfiltered = staff.page("/staff/dossiers").await;
    assert!(!unfiltered.contains("/exports/"), "no campaign chosen");
    for wrong in [
        format!("/staff/campaigns/{CAMPAIGN}/exports/dossiers.pdf"),
        "/staff/campaigns/nope/exports/dossiers.csv".to_string(),
    ] {
        assert_eq!(staff.get(&wrong).await.status(), StatusCode::NOT_FOUND);
    }
    // Without a session: the login page.
    let anonymous = Session::new(&server)
        .get(&format!("/staff/campaigns/{CAMPAIGN}/exports/dossiers.csv"))
        .await;
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
}
