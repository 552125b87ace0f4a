//! An exam office's week, as API calls against a real `guichet serve`: a correction asked of
//! a candidate and answered, paper without a piece filed by hand, a document moved to a piece
//! that refuses it, a birth date corrected, a submitted dossier changed before the deadline,
//! a late candidate given two more days, a dossier reopened after closing by mistake; then
//! every dossier's history, with who did what.

use chrono::{Duration, SecondsFormat, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Backend, Server, mailroom_batch_finished, open_campaign, sample};
use scanners::generate::{ImageCoding, encode_page, pdf_batch, rasterise_sheet, text_page};

on_every_backend!(an_office_week_is_kept_in_each_dossiers_history);

const CAMPAIGN: &str = "bts-2027";

/// A campaign whose deadline has passed (it still takes paper, flagged late).
fn closed_campaign(id: &str) -> String {
    open_campaign(id).replace("2099-06-30T18:00:00+02:00", "2024-06-30T18:00:00+02:00")
}

/// Sends `body` as JSON with `method` and answers the status and the JSON body.
async fn call(
    server: &Server,
    method: Method,
    path: &str,
    token: &str,
    body: Value,
) -> (u16, Value) {
    let response = server
        .http
        .request(method, server.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn post(server: &Server, path: &str, token: &str, body: Value) -> (u16, Value) {
    call(server, Method::POST, path, token, body).await
}

fn piece<'a>(dossier: &'a Value, code: &str) -> &'a Value {
    dossier["pieces"]
        .as_array()
        .expect("pieces")
        .iter()
        .find(|p| p["code"] == code)
        .expect("piece present")
}

/// The id of the only document of `code` in `dossier`.
fn document_of(dossier: &Value, code: &str) -> String {
    let documents = piece(dossier, code)["documents"]
        .as_array()
        .expect("documents");
    assert_eq!(documents.len(), 1, "{dossier}");
    documents[0]["id"].as_str().expect("an id").to_string()
}

async fn upload(server: &Server, reference: &str, code: &str, name: &str, bytes: Vec<u8>) -> Value {
    let response = server.upload(reference, code, name, bytes).await;
    assert_eq!(response.status(), 201, "upload {reference}/{code}");
    response.json().await.expect("json")
}

async fn review(server: &Server, document: &str, decision: &str, reason: Option<&str>) {
    let (status, body) = post(
        server,
        &format!("/api/v1/documents/{document}/review"),
        &server.tokens.staff,
        json!({"decision": decision, "reason": reason}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

async fn history(server: &Server, reference: &str) -> Vec<Value> {
    let response = server
        .get(
            &format!("/api/v1/dossiers/{reference}/history"),
            &server.tokens.staff,
        )
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    body["entries"].as_array().expect("entries").clone()
}

/// The (action, actor) pairs of a history, in order.
fn actions(entries: &[Value]) -> Vec<(String, String)> {
    entries
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default().to_string(),
                e["actor"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Whether `entries` holds `action` by `actor`, in that order relative to the earlier ones
/// looked for (each call starts after the previous match).
struct Cursor<'a> {
    entries: &'a [(String, String)],
    at: usize,
}

impl Cursor<'_> {
    fn then(&mut self, action: &str, actor: &str) {
        let found = self.entries[self.at..]
            .iter()
            .position(|(a, who)| a == action && who == actor);
        match found {
            Some(offset) => self.at += offset + 1,
            None => panic!(
                "no {action} by {actor} after entry {}: {:?}",
                self.at, self.entries
            ),
        }
    }
}

async fn an_office_week_is_kept_in_each_dossiers_history(backend: Backend) {
    let server = Server::start_on(backend).await;
    server.load_campaign(&open_campaign(CAMPAIGN)).await;
    server.load_campaign(&closed_campaign("bts-late")).await;
    let portal = server.tokens.portal.clone();
    let staff = server.tokens.staff.clone();
    let admin = server.tokens.admin.clone();
    // Actors as the journal names them: the demo tokens' names (read from the first event).
    let young = json!({"birth_date": "2006-02-01", "nationality": "FR", "amenagement": false,
        "last_name": "Martin"});

    // Monday: W-1 sends everything and declares it.
    server.create_dossier(CAMPAIGN, "W-1", young.clone()).await;
    let (status, body) = post(
        &server,
        "/api/v1/dossiers",
        &portal,
        json!({"campaign": CAMPAIGN, "reference": "W-1",
               "candidate": {"birth_date": "2006-02-02", "nationality": "FR"}}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "dossier_exists");
    assert_eq!(body["error"]["details"]["candidate"], young);
    upload(
        &server,
        "W-1",
        "identite",
        "carte.pdf",
        sample("carte-identite.pdf"),
    )
    .await;
    upload(
        &server,
        "W-1",
        "jdc",
        "jdc.pdf",
        sample("attestation-jdc.pdf"),
    )
    .await;
    upload(
        &server,
        "W-1",
        "domicile",
        "dom.pdf",
        sample("justificatif-domicile.pdf"),
    )
    .await;
    let (status, submitted) =
        post(&server, "/api/v1/dossiers/W-1/submit", &portal, json!({})).await;
    assert_eq!(status, 200, "{submitted}");
    assert_eq!(submitted["state"], "submitted");
    let identite = document_of(&submitted, "identite");
    let first_jdc = document_of(&submitted, "jdc");
    review(&server, &identite, "accept", None).await;

    // The JDC certificate is cut off: staff ask for it again.
    let corrections = "/api/v1/dossiers/W-1/pieces/jdc/corrections";
    let (status, body) = post(&server, corrections, &staff, json!({"message": "  "})).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (400, json!("message_required"))
    );
    let (status, body) = post(
        &server,
        "/api/v1/dossiers/W-1/pieces/permis/corrections",
        &staff,
        json!({"message": "x"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (404, json!("unknown_piece"))
    );
    let (status, body) = post(&server, corrections, &portal, json!({"message": "x"})).await;
    assert_eq!(status, 403, "{body}");
    let message = "Le bas de l'attestation est coupé : renvoyez-la en entier.";
    let (status, asked) = post(&server, corrections, &staff, json!({"message": message})).await;
    assert_eq!(status, 200, "{asked}");
    assert_eq!(
        asked["state"], "open",
        "a submitted dossier goes back to open"
    );
    assert_eq!(piece(&asked, "jdc")["status"], "correction_requested");
    assert_eq!(piece(&asked, "jdc")["correction"]["message"], message);
    assert!(piece(&asked, "jdc")["correction"]["requested_at"].is_string());
    assert_eq!(asked["missing"], json!(["jdc"]), "{asked}");
    let events = server.events().await;
    let requested = events
        .iter()
        .find(|e| e["type"] == "piece.correction_requested")
        .expect("the event");
    assert_eq!(requested["dossier"], "W-1");
    assert_eq!(requested["data"]["message"], message);
    assert!(
        requested["actor"]
            .as_str()
            .is_some_and(|a| a.starts_with("staff:")),
        "{requested}"
    );
    let staff_actor = requested["actor"].as_str().unwrap().to_string();
    let created = events
        .iter()
        .find(|e| e["type"] == "dossier.created" && e["dossier"] == "W-1")
        .expect("created");
    let portal_actor = created["actor"].as_str().expect("an actor").to_string();
    assert!(portal_actor.starts_with("portal:"), "{created}");

    // The candidate answers: the request clears; the old document stays on file.
    let new_jdc = upload(
        &server,
        "W-1",
        "jdc",
        "jdc-entier.pdf",
        sample("carte-identite.pdf"),
    )
    .await;
    let answered = server.dossier("W-1").await;
    assert_eq!(
        piece(&answered, "jdc")["correction"],
        Value::Null,
        "{answered}"
    );
    assert_eq!(piece(&answered, "jdc")["status"], "pending");
    assert_eq!(
        piece(&answered, "jdc")["documents"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    review(&server, &first_jdc, "reject", Some("Attestation coupée")).await;
    let (status, body) = post(&server, "/api/v1/dossiers/W-1/submit", &portal, json!({})).await;
    assert_eq!(
        (status, body["state"].clone()),
        (200, json!("submitted")),
        "{body}"
    );
    review(&server, new_jdc["id"].as_str().unwrap(), "accept", None).await;
    assert_eq!(server.dossier("W-1").await["state"], "complete");

    // Tuesday: paper for W-2 arrives with a cover sheet naming no piece.
    server.create_dossier(CAMPAIGN, "W-2", young.clone()).await;
    let cover = server
        .get("/api/v1/dossiers/W-2/cover-sheet.pdf", &portal)
        .send()
        .await
        .expect("request")
        .bytes()
        .await
        .expect("the sheet");
    let dpi = 150;
    let pages: Vec<_> = [
        rasterise_sheet(&cover, dpi).expect("the sheet renders"),
        text_page(dpi, 3, 1),
    ]
    .iter()
    .map(|p| encode_page(p, ImageCoding::Jpeg))
    .collect();
    let response = server
        .post("/api/v1/mailroom/batches", &server.tokens.station)
        .header("Content-Disposition", "attachment; filename=\"lot.pdf\"")
        .body(pdf_batch(&pages))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 202);
    let batch: Value = response.json().await.expect("json");
    let batch = mailroom_batch_finished(&server, batch["id"].as_str().unwrap()).await;
    assert_eq!(batch["state"], "done", "{batch}");
    let w2 = server.dossier("W-2").await;
    let paper = w2["unclassified"][0]["id"]
        .as_str()
        .expect("unclassified paper")
        .to_string();
    let station_actor = format!("station:{}", batch["station"].as_str().unwrap());

    let assign = |id: &str| format!("/api/v1/documents/{id}/assign");
    let (status, body) = post(&server, &assign(&paper), &staff, json!({"piece": "permis"})).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (404, json!("unknown_piece"))
    );
    let (status, body) = post(
        &server,
        &assign("no-such-doc"),
        &staff,
        json!({"piece": "identite"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (404, json!("unknown_document"))
    );
    let (status, filed) = post(
        &server,
        &assign(&paper),
        &staff,
        json!({"piece": "identite"}),
    )
    .await;
    assert_eq!(status, 200, "{filed}");
    assert_eq!(filed["piece"], "identite");
    assert_eq!(filed["verdict"], "accepted", "{filed}");
    let w2 = server.dossier("W-2").await;
    assert_eq!(w2["unclassified"], json!([]));
    assert_eq!(document_of(&w2, "identite"), paper);

    // A photo filed under identite is moved to jdc, which takes PDFs only: judged again.
    let photo = upload(
        &server,
        "W-2",
        "identite",
        "recto.png",
        sample("carte-identite-recto.png"),
    )
    .await;
    let photo = photo["id"].as_str().unwrap().to_string();
    let (status, moved) = post(&server, &assign(&photo), &staff, json!({"piece": "jdc"})).await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["piece"], "jdc");
    assert_eq!(moved["verdict"], "rejected", "{moved}");
    let codes: Vec<&str> = moved["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .filter_map(|r| r["code"].as_str())
        .collect();
    assert!(codes.contains(&"kind_not_accepted"), "{codes:?}");
    assert_eq!(
        piece(&moved_dossier(&server, "W-2").await, "jdc")["status"],
        "rejected"
    );

    // Wednesday: W-1's birth date was wrong: at 26 the JDC is no longer required.
    let patch = |patch: Value| json!({"candidate": patch});
    let (status, body) = call(
        &server,
        Method::PATCH,
        "/api/v1/dossiers/W-1",
        &portal,
        patch(json!({"birth_date": "1er mai"})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, updated) = call(
        &server,
        Method::PATCH,
        "/api/v1/dossiers/W-1",
        &staff,
        patch(json!({"birth_date": "2001-05-01"})),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["candidate"]["birth_date"], "2001-05-01");
    assert_eq!(
        updated["candidate"]["last_name"], "Martin",
        "a patch keeps the rest"
    );
    assert_eq!(piece(&updated, "jdc")["required"], false);
    assert_eq!(
        piece(&updated, "jdc")["documents"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "kept"
    );
    let changed = server
        .events()
        .await
        .into_iter()
        .find(|e| e["type"] == "dossier.updated")
        .expect("dossier.updated");
    assert_eq!(
        changed["data"]["candidate"],
        json!({"old": {"birth_date": "2006-02-01"}, "new": {"birth_date": "2001-05-01"}})
    );

    // Thursday: W-2 declared; until the deadline the candidate may still change pieces.
    upload(
        &server,
        "W-2",
        "domicile",
        "dom.pdf",
        sample("justificatif-domicile.pdf"),
    )
    .await;
    let jdc_pdf = upload(
        &server,
        "W-2",
        "jdc",
        "jdc.pdf",
        sample("attestation-jdc.pdf"),
    )
    .await;
    let (status, body) = post(&server, "/api/v1/dossiers/W-2/submit", &portal, json!({})).await;
    assert_eq!(
        (status, body["state"].clone()),
        (200, json!("submitted")),
        "{body}"
    );
    let extra = upload(
        &server,
        "W-2",
        "dossier_scanne",
        "tout.pdf",
        sample("carte-identite.pdf"),
    )
    .await;
    assert_eq!(server.dossier("W-2").await["state"], "submitted");
    let withdraw = |id: &str| format!("/api/v1/dossiers/W-2/documents/{id}");
    let response = server
        .delete(&withdraw(extra["id"].as_str().unwrap()), &portal)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        server.dossier("W-2").await["state"],
        "submitted",
        "nothing declared is missing"
    );
    let response = server
        .delete(&withdraw(jdc_pdf["id"].as_str().unwrap()), &portal)
        .send()
        .await
        .unwrap();
    let after: Value = response.json().await.unwrap();
    assert_eq!(after["state"], "open", "a required piece went: {after}");

    // Friday: L-1 is late; staff give two more days.
    server
        .create_dossier("bts-late", "L-1", young.clone())
        .await;
    let late = server
        .upload("L-1", "identite", "carte.pdf", sample("carte-identite.pdf"))
        .await;
    assert_eq!(late.status(), 403);
    let until = (Utc::now() + Duration::days(2)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let extension = "/api/v1/dossiers/L-1/extension";
    let (status, body) = post(
        &server,
        extension,
        &staff,
        json!({"until": until, "reason": ""}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (400, json!("reason_required"))
    );
    let past = (Utc::now() - Duration::days(1)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let (status, body) = post(
        &server,
        extension,
        &staff,
        json!({"until": past, "reason": "x"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (409, json!("extension_in_past"))
    );
    let (status, extended) = post(
        &server,
        extension,
        &staff,
        json!({"until": until, "reason": "Hospitalisation"}),
    )
    .await;
    assert_eq!(status, 200, "{extended}");
    assert_eq!(
        extended["deadline"]
            .as_str()
            .map(|d| d.parse::<chrono::DateTime<Utc>>().unwrap()),
        Some(until.parse().unwrap())
    );
    assert_eq!(extended["extension"]["reason"], "Hospitalisation");
    upload(
        &server,
        "L-1",
        "identite",
        "carte.pdf",
        sample("carte-identite.pdf"),
    )
    .await;
    let other_late = server
        .create_dossier("bts-late", "L-2", young.clone())
        .await;
    assert_ne!(
        other_late["deadline"], extended["deadline"],
        "one dossier's extension only"
    );

    // W-1 is closed, by mistake: only an admin reopens it, with a reason.
    let (status, _) = post(&server, "/api/v1/dossiers/W-1/close", &staff, json!({})).await;
    assert_eq!(status, 200);
    let (status, body) = post(&server, corrections, &staff, json!({"message": "x"})).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (409, json!("dossier_closed"))
    );
    let reopen = "/api/v1/dossiers/W-1/reopen";
    let (status, _) = post(&server, reopen, &staff, json!({"reason": "Erreur"})).await;
    assert_eq!(status, 403);
    let (status, body) = post(&server, reopen, &admin, json!({"reason": " "})).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (400, json!("reason_required"))
    );
    let (status, body) = post(
        &server,
        "/api/v1/dossiers/W-2/reopen",
        &admin,
        json!({"reason": "x"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (409, json!("dossier_not_closed"))
    );
    let (status, reopened) = post(
        &server,
        reopen,
        &admin,
        json!({"reason": "Clôturé par erreur"}),
    )
    .await;
    assert_eq!(status, 200, "{reopened}");
    assert_eq!(reopened["state"], "complete");

    // Every dossier's history says who did what, in order, and nothing was lost.
    let w1 = actions(&history(&server, "W-1").await);
    let mut cursor = Cursor {
        entries: &w1,
        at: 0,
    };
    cursor.then("dossier.created", &portal_actor);
    cursor.then("document.received", &portal_actor);
    cursor.then("dossier.submitted", &portal_actor);
    cursor.then("document.accepted", &staff_actor);
    cursor.then("piece.correction_requested", &staff_actor);
    cursor.then("dossier.reopened", &staff_actor);
    cursor.then("document.received", &portal_actor);
    cursor.then("document.rejected", &staff_actor);
    cursor.then("dossier.complete", &staff_actor);
    cursor.then("dossier.updated", &staff_actor);
    cursor.then("dossier.closed", &staff_actor);
    let admin_actor = portal_actor.replacen("portal:", "admin:", 1);
    let reopened_by = w1.last().expect("entries");
    assert_eq!(reopened_by.0, "dossier.reopened");
    assert!(
        reopened_by.1.starts_with("admin:"),
        "{reopened_by:?} ({admin_actor})"
    );

    let w2 = actions(&history(&server, "W-2").await);
    let mut cursor = Cursor {
        entries: &w2,
        at: 0,
    };
    cursor.then("dossier.created", &portal_actor);
    cursor.then("document.received", &station_actor);
    cursor.then("document.assigned", &staff_actor);
    cursor.then("document.assigned", &staff_actor);
    cursor.then("dossier.submitted", &portal_actor);
    cursor.then("document.withdrawn", &portal_actor);
    cursor.then("document.withdrawn", &portal_actor);
    cursor.then("dossier.reopened", &portal_actor);
    let l1 = actions(&history(&server, "L-1").await);
    let mut cursor = Cursor {
        entries: &l1,
        at: 0,
    };
    cursor.then("dossier.created", &portal_actor);
    cursor.then("dossier.extended", &staff_actor);
    cursor.then("document.received", &portal_actor);
}

async fn moved_dossier(server: &Server, reference: &str) -> Value {
    server.dossier(reference).await
}
