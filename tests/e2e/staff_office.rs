//! The exam office's actions from the staff dossier page, end to end against a real
//! `guichet serve` on every backend: a correction request, an unclassified mailroom document
//! filed under a piece, the candidate's attributes corrected, a deadline extended, and a
//! closed dossier reopened by an admin (a reviewer is refused). Each is checked on the page
//! and through the API.

use crate::common::{Backend, Server, mailroom_batch_finished};
use crate::staff_support::{
    PASSWORD, Session, create_user, csrf_of, location, submitted_dossier, unescape,
};
use reqwest::StatusCode;
use scanners::generate::{ImageCoding, encode_page, pdf_batch, rasterise_sheet, text_page};
use serde_json::{Value, json};

on_every_backend!(
    a_correction_is_requested_from_the_dossier_page,
    an_unclassified_document_is_filed_from_the_dossier_page,
    the_candidate_is_corrected_from_the_dossier_page,
    a_dossier_is_given_more_time_from_the_dossier_page,
    only_an_admin_reopens_a_closed_dossier,
    office_forms_need_the_session_token,
);

/// The piece `code` of a dossier as the API shows it.
fn piece<'a>(dossier: &'a Value, code: &str) -> &'a Value {
    dossier["pieces"]
        .as_array()
        .expect("pieces")
        .iter()
        .find(|p| p["code"] == code)
        .unwrap_or_else(|| panic!("no piece {code} in {dossier}"))
}

/// A reviewer signed in on a server with one submitted dossier `reference` of campaign `bts`.
/// Returns the reviewer's session and the identity document's id.
async fn reviewer_with_dossier(server: &Server, reference: &str) -> (Session, String) {
    assert_eq!(create_user(server, "camille", "reviewer", PASSWORD).0, 0);
    let identity = submitted_dossier(server, "bts", reference).await;
    (Session::logged_in(server, "camille").await, identity)
}

async fn a_correction_is_requested_from_the_dossier_page(backend: Backend) {
    let server = Server::start_on(backend).await;
    let (staff, _) = reviewer_with_dossier(&server, "OF-1").await;
    let action = "/staff/dossiers/OF-1/pieces/domicile/corrections";
    let page = staff.page("/staff/dossiers/OF-1").await;
    assert!(page.contains(action), "{page}");
    assert!(
        page.contains("<label for=\"correction-message-domicile\">"),
        "{page}"
    );
    let csrf = csrf_of(&page);

    // A request needs a message for the candidate.
    let empty = staff
        .post(action, &[("csrf", &csrf), ("message", "  ")])
        .await;
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
    let body = unescape(&empty.text().await.expect("html"));
    assert!(body.contains("écrivez un message"), "{body}");
    // An unknown piece is refused.
    let unknown = staff
        .post(
            "/staff/dossiers/OF-1/pieces/nope/corrections",
            &[("csrf", &csrf), ("message", "x")],
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);

    let message = "La facture est illisible : envoyez une facture de moins de trois mois.";
    let asked = staff
        .post(action, &[("csrf", &csrf), ("message", message)])
        .await;
    assert_eq!(asked.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&asked),
        "/staff/dossiers/OF-1?done=correction#piece-domicile"
    );

    let dossier = server.dossier("OF-1").await;
    assert_eq!(dossier["state"], "open", "{dossier}");
    let domicile = piece(&dossier, "domicile");
    assert_eq!(domicile["status"], "correction_requested", "{dossier}");
    assert_eq!(domicile["correction"]["message"], message, "{dossier}");

    let page = unescape(&staff.page("/staff/dossiers/OF-1?done=correction").await);
    assert!(
        page.contains("La demande de correction a été enregistrée"),
        "{page}"
    );
    assert!(
        page.contains("<span class=\"status correction\">À renvoyer</span>"),
        "{page}"
    );
    assert!(page.contains(message), "{page}");
    assert!(page.contains("Correction demandée le "), "{page}");
    assert!(page.contains(" par camille : "), "{page}");
}

/// A batch with `reference`'s cover sheet naming no piece, then one page: the mailroom files
/// that page in the dossier, unclassified. Returns the document's id.
async fn unclassified_paper(server: &Server, reference: &str) -> String {
    let dpi = 150;
    let sheet = server
        .get(
            &format!("/api/v1/dossiers/{reference}/cover-sheet.pdf"),
            &server.tokens.portal,
        )
        .send()
        .await
        .expect("request");
    assert_eq!(sheet.status(), 200);
    let sheet = rasterise_sheet(&sheet.bytes().await.expect("pdf"), dpi).expect("it renders");
    let pages: Vec<_> = [sheet, text_page(dpi, 5, 1)]
        .iter()
        .map(|p| encode_page(p, ImageCoding::Jpeg))
        .collect();
    let sent = server
        .post("/api/v1/mailroom/batches", &server.tokens.station)
        .header("Content-Disposition", "attachment; filename=\"lot.pdf\"")
        .body(pdf_batch(&pages))
        .send()
        .await
        .expect("request");
    assert_eq!(sent.status(), 202);
    let id = sent.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("batch id")
        .to_string();
    let batch = mailroom_batch_finished(server, &id).await;
    assert_eq!(batch["state"], "done", "{batch}");
    let dossier = server.dossier(reference).await;
    let unclassified = dossier["unclassified"].as_array().expect("unclassified");
    assert_eq!(unclassified.len(), 1, "{dossier}");
    unclassified[0]["id"]
        .as_str()
        .expect("document id")
        .to_string()
}

async fn an_unclassified_document_is_filed_from_the_dossier_page(backend: Backend) {
    let server = Server::start_on(backend).await;
    let (staff, identity) = reviewer_with_dossier(&server, "OF-2").await;
    let paper = unclassified_paper(&server, "OF-2").await;

    let page = staff.page("/staff/dossiers/OF-2").await;
    assert!(page.contains("Documents non classés"), "{page}");
    assert!(
        unescape(&page).contains("<a href=\"#non-classes\">1 document(s) non classé(s)</a>"),
        "the summary points to it: {page}"
    );
    let action = format!("/staff/documents/{paper}/assign");
    let form = format!("<form method=\"post\" action=\"{action}\" class=\"assign unclassified\">");
    assert!(page.contains(&form), "prominent: {page}");
    assert!(page.contains(&format!("<label for=\"classer-{paper}\">")));
    // A filed document can be moved too; its own piece is not offered.
    assert!(page.contains(&format!("/staff/documents/{identity}/assign")));
    assert!(page.contains("(pièce actuelle)"), "{page}");
    let csrf = csrf_of(&page);

    let no_piece = staff.post(&action, &[("csrf", &csrf), ("piece", "")]).await;
    assert_eq!(no_piece.status(), StatusCode::BAD_REQUEST);
    let unknown = staff
        .post(&action, &[("csrf", &csrf), ("piece", "nope")])
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let missing = staff
        .post(
            "/staff/documents/no-such-document/assign",
            &[("csrf", &csrf), ("piece", "dossier_scanne")],
        )
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    let filed = staff
        .post(&action, &[("csrf", &csrf), ("piece", "dossier_scanne")])
        .await;
    assert_eq!(filed.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&filed),
        format!("/staff/dossiers/OF-2?done=assigned#doc-{paper}")
    );
    let dossier = server.dossier("OF-2").await;
    assert_eq!(dossier["unclassified"], json!([]), "{dossier}");
    let documents = piece(&dossier, "dossier_scanne")["documents"]
        .as_array()
        .expect("documents");
    assert_eq!(documents.len(), 1, "{dossier}");
    assert_eq!(documents[0]["id"], paper.as_str(), "{dossier}");
    assert_eq!(documents[0]["channel"], "mailroom", "{dossier}");

    let page = unescape(&staff.page("/staff/dossiers/OF-2?done=assigned").await);
    assert!(page.contains("Le document a été classé"), "{page}");
    assert!(!page.contains("Documents non classés"), "{page}");
    assert!(
        server
            .events()
            .await
            .iter()
            .any(|e| e["type"] == "document.assigned" && e["document"] == paper.as_str()),
        "the assignment is an event"
    );
}

async fn the_candidate_is_corrected_from_the_dossier_page(backend: Backend) {
    let server = Server::start_on(backend).await;
    let (staff, _) = reviewer_with_dossier(&server, "OF-3").await;
    let action = "/staff/dossiers/OF-3/candidate";
    let page = staff.page("/staff/dossiers/OF-3").await;
    assert!(page.contains(action), "{page}");
    // One labelled input per attribute, dates as the date input holds them.
    assert!(page.contains("Date de naissance <code class=\"key\">birth_date</code>"));
    assert!(page.contains("name=\"attr:birth_date\" type=\"date\" value=\"1987-04-02\""));
    assert!(
        page.contains("name=\"attr:last_name\" type=\"text\""),
        "{page}"
    );
    let csrf = csrf_of(&page);
    // What the page shows, sent back as it is, except for `changes`.
    let form = |changes: &[(&str, &str)]| {
        let mut fields = vec![("csrf".to_string(), csrf.clone())];
        for (key, shown) in [
            ("birth_date", "1987-04-02"),
            ("nationality", "FR"),
            ("amenagement", "non"),
            ("last_name", "Martin"),
            ("first_name", "Camille"),
        ] {
            let value = changes
                .iter()
                .find(|(k, _)| *k == key)
                .map_or(shown, |(_, v)| *v);
            fields.push((format!("attr:{key}"), value.to_string()));
            fields.push((format!("was:{key}"), shown.to_string()));
        }
        for (name, value) in changes.iter().filter(|(k, _)| k.starts_with("new_")) {
            fields.push((name.to_string(), value.to_string()));
        }
        fields
    };
    let post = |fields: Vec<(String, String)>| {
        let staff = &staff;
        async move {
            let pairs: Vec<(&str, &str)> = fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            staff.post(action, &pairs).await
        }
    };

    // Nothing changed: nothing is written.
    let same = post(form(&[])).await;
    assert_eq!(
        location(&same),
        "/staff/dossiers/OF-3?done=unchanged#resume"
    );
    // A malformed date is refused, and nothing is written.
    let bad = post(form(&[("birth_date", "02/04/1987")])).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let body = unescape(&bad.text().await.expect("html"));
    assert!(
        body.contains("« Date de naissance » : une date AAAA-MM-JJ"),
        "{body}"
    );
    let born_later = post(form(&[("birth_date", "2030-01-01")])).await;
    assert_eq!(born_later.status(), StatusCode::BAD_REQUEST);

    let changed = post(form(&[
        ("last_name", "Martin-Durand"),
        ("nationality", ""),
        ("amenagement", "oui"),
        ("new_key", "ville"),
        ("new_value", "Lyon"),
    ]))
    .await;
    assert_eq!(changed.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&changed),
        "/staff/dossiers/OF-3?done=candidate#resume"
    );
    let dossier = server.dossier("OF-3").await;
    assert_eq!(
        dossier["candidate"],
        json!({"birth_date": "1987-04-02", "amenagement": true, "last_name": "Martin-Durand",
               "first_name": "Camille", "ville": "Lyon"}),
        "{dossier}"
    );
    // The medical opinion is now required: the dossier is missing it.
    assert_eq!(
        piece(&dossier, "amenagement")["required"],
        true,
        "{dossier}"
    );
    assert_eq!(dossier["state"], "open", "{dossier}");

    let page = unescape(&staff.page("/staff/dossiers/OF-3?done=candidate").await);
    assert!(
        page.contains("Les informations du candidat ont été modifiées."),
        "{page}"
    );
    assert!(page.contains("Martin-Durand"), "{page}");
    assert!(page.contains("name=\"attr:ville\""), "{page}");
    assert!(!page.contains("name=\"attr:nationality\""), "{page}");
    let updated = server
        .events()
        .await
        .into_iter()
        .find(|e| e["type"] == "dossier.updated")
        .expect("a dossier.updated event");
    assert_eq!(
        updated["data"]["candidate"]["new"]["last_name"],
        "Martin-Durand"
    );
}

async fn a_dossier_is_given_more_time_from_the_dossier_page(backend: Backend) {
    let server = Server::start_on(backend).await;
    let (staff, _) = reviewer_with_dossier(&server, "OF-4").await;
    let action = "/staff/dossiers/OF-4/extension";
    let page = unescape(&staff.page("/staff/dossiers/OF-4").await);
    assert!(page.contains(action), "{page}");
    assert!(
        page.contains("30 juin 2099 à 18:00 (heure de Paris)"),
        "{page}"
    );
    assert!(page.contains("value=\"2099-06-30T18:00\""), "{page}");
    let csrf = csrf_of(&page);
    let extend = |until: &'static str, reason: &'static str| {
        let (staff, csrf) = (&staff, csrf.clone());
        async move {
            staff
                .post(
                    action,
                    &[("csrf", &csrf), ("until", until), ("reason", reason)],
                )
                .await
        }
    };

    let no_reason = extend("2099-12-31T18:00", " ").await;
    assert_eq!(no_reason.status(), StatusCode::BAD_REQUEST);
    let past = extend("2020-01-01T10:00", "Hospitalisation").await;
    assert_eq!(past.status(), StatusCode::CONFLICT);
    let body = unescape(&past.text().await.expect("html"));
    assert!(body.contains("doit être dans le futur"), "{body}");
    let no_date = extend("", "Hospitalisation").await;
    assert_eq!(no_date.status(), StatusCode::BAD_REQUEST);

    let extended = extend("2099-12-31T18:00", "Hospitalisation du candidat").await;
    assert_eq!(extended.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&extended),
        "/staff/dossiers/OF-4?done=extended#resume"
    );
    // 18:00 in Paris in winter is 17:00 UTC.
    let dossier = server.dossier("OF-4").await;
    assert_eq!(dossier["deadline"], "2099-12-31T17:00:00Z", "{dossier}");
    assert_eq!(
        dossier["extension"]["reason"], "Hospitalisation du candidat",
        "{dossier}"
    );
    let page = unescape(&staff.page("/staff/dossiers/OF-4?done=extended").await);
    assert!(
        page.contains("Le délai du dossier a été prolongé."),
        "{page}"
    );
    assert!(
        page.contains(
            "Délai prolongé jusqu'au 31 décembre 2099 à 18:00 (heure de Paris)</strong> : \
             <span class=\"reason\">Hospitalisation du candidat</span>"
        ),
        "{page}"
    );
}

async fn only_an_admin_reopens_a_closed_dossier(backend: Backend) {
    let server = Server::start_on(backend).await;
    let (staff, identity) = reviewer_with_dossier(&server, "OF-5").await;
    assert_eq!(create_user(&server, "alix", "admin", PASSWORD).0, 0);
    let csrf = csrf_of(&staff.page("/staff/dossiers/OF-5").await);
    let accepted = staff
        .post(
            &format!("/staff/dossiers/OF-5/documents/{identity}/review"),
            &[("csrf", &csrf), ("decision", "accept")],
        )
        .await;
    assert_eq!(accepted.status(), StatusCode::SEE_OTHER);
    let closed = staff
        .post("/staff/dossiers/OF-5/close", &[("csrf", &csrf)])
        .await;
    assert_eq!(closed.status(), StatusCode::SEE_OTHER);

    // A closed dossier takes no correction request nor extension, and offers neither.
    let page = staff.page("/staff/dossiers/OF-5").await;
    assert!(!page.contains("Demander une correction"), "{page}");
    assert!(!page.contains("Prolonger le délai"), "{page}");
    let correction = staff
        .post(
            "/staff/dossiers/OF-5/pieces/domicile/corrections",
            &[("csrf", &csrf), ("message", "encore")],
        )
        .await;
    assert_eq!(correction.status(), StatusCode::CONFLICT);
    let body = unescape(&correction.text().await.expect("html"));
    assert!(body.contains("Le dossier est clôturé"), "{body}");

    // A reviewer neither sees nor may reopen it.
    assert!(!page.contains("Rouvrir le dossier"), "{page}");
    let refused = staff
        .post(
            "/staff/dossiers/OF-5/reopen",
            &[("csrf", &csrf), ("reason", "erreur")],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(server.dossier("OF-5").await["state"], "closed");

    let admin = Session::logged_in(&server, "alix").await;
    let page = admin.page("/staff/dossiers/OF-5").await;
    assert!(page.contains("Rouvrir le dossier"), "{page}");
    assert!(page.contains("<label for=\"reouverture-motif\">"), "{page}");
    let csrf = csrf_of(&page);
    let no_reason = admin
        .post(
            "/staff/dossiers/OF-5/reopen",
            &[("csrf", &csrf), ("reason", "")],
        )
        .await;
    assert_eq!(no_reason.status(), StatusCode::BAD_REQUEST);
    let reopened = admin
        .post(
            "/staff/dossiers/OF-5/reopen",
            &[("csrf", &csrf), ("reason", "Clôturé par erreur")],
        )
        .await;
    assert_eq!(reopened.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&reopened),
        "/staff/dossiers/OF-5?done=reopened#resume"
    );
    let dossier = server.dossier("OF-5").await;
    assert_eq!(dossier["state"], "complete", "{dossier}");
    assert_eq!(dossier["reason"], "Clôturé par erreur", "{dossier}");
    let page = unescape(&admin.page("/staff/dossiers/OF-5?done=reopened").await);
    assert!(page.contains("Le dossier a été rouvert."), "{page}");
    assert!(!page.contains("Rouvrir le dossier"), "{page}");
    // Reopening an open dossier again is refused with its reason.
    let again = admin
        .post(
            "/staff/dossiers/OF-5/reopen",
            &[("csrf", &csrf), ("reason", "encore")],
        )
        .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
}

async fn office_forms_need_the_session_token(backend: Backend) {
    let server = Server::start_on(backend).await;
    let (staff, identity) = reviewer_with_dossier(&server, "OF-6").await;
    let before = without_previews(server.dossier("OF-6").await);
    for (path, fields) in [
        (
            "/staff/dossiers/OF-6/pieces/domicile/corrections".to_string(),
            vec![("message", "x")],
        ),
        (
            format!("/staff/documents/{identity}/assign"),
            vec![("piece", "dossier_scanne")],
        ),
        (
            "/staff/dossiers/OF-6/candidate".to_string(),
            vec![("attr:last_name", "Autre")],
        ),
        (
            "/staff/dossiers/OF-6/extension".to_string(),
            vec![("until", "2099-12-31T18:00"), ("reason", "x")],
        ),
    ] {
        let mut fields = fields;
        fields.push(("csrf", "0123456789abcdef"));
        let forged = staff.post(&path, &fields).await;
        assert_eq!(forged.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let after = server.dossier("OF-6").await;
    assert_eq!(without_previews(after), before, "nothing changed");
}

/// A dossier without its documents' previews, which workers make meanwhile.
fn without_previews(mut dossier: Value) -> Value {
    for piece in dossier["pieces"].as_array_mut().expect("pieces") {
        for doc in piece["documents"].as_array_mut().expect("documents") {
            doc.as_object_mut().expect("a document").remove("previews");
        }
    }
    dossier
}
