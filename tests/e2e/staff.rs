//! The staff interface end to end, against real `guichet serve` processes on every backend:
//! accounts, login and sessions, CSRF, roles, the dossier page's actions through the
//! pipeline, escaping, document content headers, the list's search and filters, exports.

use std::io::Read as _;

use crate::common::{Backend, Server, open_campaign, sample};
use crate::staff_support::{
    PASSWORD, Session, create_user, csrf_of, location, submitted_dossier, unescape,
};
use reqwest::StatusCode;
use serde_json::json;

on_every_backend!(
    a_review_makes_the_dossier_complete_and_it_is_closed,
    a_refusal_records_its_reason_and_reopens_the_dossier,
    forms_without_the_session_token_are_refused,
    reviewers_are_refused_the_admin_pages,
    a_filename_carrying_markup_is_shown_as_text,
    logins_sessions_and_logout,
    content_is_served_sandboxed,
    the_list_searches_filters_and_pages,
    exports_csv_and_zip,
    admins_create_accounts_and_tokens,
);

async fn a_review_makes_the_dossier_complete_and_it_is_closed(backend: Backend) {
    let server = Server::start_on(backend).await;
    assert_eq!(create_user(&server, "camille", "reviewer", PASSWORD).0, 0);
    let id = submitted_dossier(&server, "bts", "BTS-1").await;
    let staff = Session::logged_in(&server, "camille").await;

    let page = staff.page("/staff/dossiers/BTS-1").await;
    assert!(page.contains("Accepter"), "{page}");
    assert!(!page.contains("Clôturer le dossier"), "not complete yet");
    let csrf = csrf_of(&page);
    let accepted = staff
        .post(
            &format!("/staff/dossiers/BTS-1/documents/{id}/review"),
            &[("csrf", &csrf), ("decision", "accept")],
        )
        .await;
    assert_eq!(accepted.status(), StatusCode::SEE_OTHER);
    assert!(location(&accepted).starts_with("/staff/dossiers/BTS-1?done=accepted"));

    let dossier = server.dossier("BTS-1").await;
    assert_eq!(dossier["state"], "complete");
    assert_eq!(dossier["pieces"][0]["documents"][0]["review"], "accepted");
    let accepted_event = server
        .events()
        .await
        .into_iter()
        .find(|e| e["type"] == "document.accepted" && e["document"] == id.as_str())
        .expect("a document.accepted event");
    assert_eq!(accepted_event["data"]["by"], "camille", "{accepted_event}");

    let page = staff.page("/staff/dossiers/BTS-1").await;
    assert!(
        page.contains("Clôturer le dossier"),
        "complete: it can be closed"
    );
    assert!(page.contains("par camille"), "the reviewer is named");
    let closed = staff
        .post("/staff/dossiers/BTS-1/close", &[("csrf", &csrf_of(&page))])
        .await;
    assert_eq!(closed.status(), StatusCode::SEE_OTHER);
    assert_eq!(server.dossier("BTS-1").await["state"], "closed");
    let page = staff.page("/staff/dossiers/BTS-1?done=closed").await;
    assert!(page.contains("Le dossier a été clôturé."));
    assert!(
        !page.contains(">Accepter<"),
        "a closed dossier has no review buttons"
    );
    assert!(
        page.contains("Dossier clôturé"),
        "the history shows the closing"
    );
}

async fn a_refusal_records_its_reason_and_reopens_the_dossier(backend: Backend) {
    let server = Server::start_on(backend).await;
    create_user(&server, "camille", "reviewer", PASSWORD);
    let id = submitted_dossier(&server, "bts", "BTS-2").await;
    let staff = Session::logged_in(&server, "camille").await;
    let csrf = csrf_of(&staff.page("/staff/dossiers/BTS-2").await);
    let path = format!("/staff/dossiers/BTS-2/documents/{id}/review");

    // A refusal needs a listed reason, and "other" needs a text.
    for fields in [
        vec![("csrf", csrf.as_str()), ("decision", "reject")],
        vec![
            ("csrf", csrf.as_str()),
            ("decision", "reject"),
            ("reason_code", "autre"),
        ],
    ] {
        let refused = staff.post(&path, &fields).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    }
    assert_eq!(
        server.dossier("BTS-2").await["pieces"][0]["documents"][0]["review"],
        serde_json::Value::Null
    );

    let rejected = staff
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("decision", "reject"),
                ("reason_code", "illisible"),
                ("reason_text", "photo floue"),
            ],
        )
        .await;
    assert_eq!(rejected.status(), StatusCode::SEE_OTHER);
    let dossier = server.dossier("BTS-2").await;
    let reason = "Document illisible ou de qualité insuffisante : photo floue";
    assert_eq!(dossier["state"], "open", "a refusal sends it back");
    assert_eq!(dossier["reason"], reason);
    assert_eq!(dossier["pieces"][0]["documents"][0]["review"], "rejected");
    assert_eq!(
        dossier["pieces"][0]["documents"][0]["review_reason"],
        reason
    );
    let page = staff.page("/staff/dossiers/BTS-2").await;
    assert!(page.contains(reason), "the reason is shown");
}

async fn forms_without_the_session_token_are_refused(backend: Backend) {
    let server = Server::start_on(backend).await;
    create_user(&server, "camille", "reviewer", PASSWORD);
    let id = submitted_dossier(&server, "bts", "BTS-3").await;
    let staff = Session::logged_in(&server, "camille").await;
    let path = format!("/staff/dossiers/BTS-3/documents/{id}/review");
    for fields in [
        vec![("decision", "accept")],
        vec![("csrf", ""), ("decision", "accept")],
        vec![("csrf", "0123456789abcdef"), ("decision", "accept")],
    ] {
        let forged = staff.post(&path, &fields).await;
        assert_eq!(forged.status(), StatusCode::FORBIDDEN, "{fields:?}");
        let body = forged.text().await.expect("html");
        assert!(body.contains("Formulaire expiré"), "{body}");
    }
    let forged_close = staff.post("/staff/dossiers/BTS-3/close", &[]).await;
    assert_eq!(forged_close.status(), StatusCode::FORBIDDEN);
    let forged_logout = staff.post("/staff/logout", &[("csrf", "x")]).await;
    assert_eq!(forged_logout.status(), StatusCode::FORBIDDEN);
    let dossier = server.dossier("BTS-3").await;
    assert_eq!(dossier["state"], "submitted", "nothing changed");
    assert_eq!(
        dossier["pieces"][0]["documents"][0]["review"],
        serde_json::Value::Null
    );

    // Another session's token does not do either: tokens are tied to their session.
    create_user(&server, "alix", "reviewer", PASSWORD);
    let other = Session::logged_in(&server, "alix").await;
    let other_csrf = csrf_of(&other.page("/staff/").await);
    let crossed = staff
        .post(&path, &[("csrf", &other_csrf), ("decision", "accept")])
        .await;
    assert_eq!(crossed.status(), StatusCode::FORBIDDEN);

    // The login form has its own token: a login posted without it is refused.
    let anonymous = Session::new(&server);
    let forged_login = anonymous
        .post(
            "/staff/login",
            &[("csrf", "x"), ("name", "camille"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(forged_login.status(), StatusCode::FORBIDDEN);
    assert!(!anonymous.has_cookie("guichet_staff"));
}

async fn reviewers_are_refused_the_admin_pages(backend: Backend) {
    let server = Server::start_on(backend).await;
    create_user(&server, "camille", "reviewer", PASSWORD);
    create_user(&server, "alix", "admin", PASSWORD);
    let reviewer = Session::logged_in(&server, "camille").await;
    let csrf = csrf_of(&reviewer.page("/staff/").await);
    assert!(
        !reviewer.page("/staff/").await.contains("/staff/admin"),
        "no admin link"
    );
    assert_eq!(
        reviewer.get("/staff/admin").await.status(),
        StatusCode::FORBIDDEN
    );
    for (path, fields) in [
        (
            "/staff/admin/users",
            vec![
                ("csrf", csrf.as_str()),
                ("name", "eve"),
                ("role", "admin"),
                ("password", PASSWORD),
            ],
        ),
        (
            "/staff/admin/tokens",
            vec![("csrf", csrf.as_str()), ("name", "x"), ("role", "admin")],
        ),
        (
            "/staff/admin/campaigns",
            vec![("csrf", csrf.as_str()), ("source", "id = \"x\"")],
        ),
        (
            "/staff/admin/users/alix/disable",
            vec![("csrf", csrf.as_str()), ("disabled", "yes")],
        ),
    ] {
        let refused = reviewer.post(path, &fields).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let (code, _) = create_user(&server, "eve", "reviewer", PASSWORD);
    assert_eq!(code, 0, "eve was not created by the refused form");
    let admin = Session::logged_in(&server, "alix").await;
    let page = admin.page("/staff/admin").await;
    assert!(page.contains("Comptes des agents") && page.contains("camille"));
    // Without a session, the admin pages send to the login page.
    let anonymous = Session::new(&server);
    let response = anonymous.get("/staff/admin").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/staff/login");
}

async fn a_filename_carrying_markup_is_shown_as_text(backend: Backend) {
    let server = Server::start_on(backend).await;
    create_user(&server, "camille", "reviewer", PASSWORD);
    server.load_campaign(&open_campaign("bts")).await;
    let candidate = json!({"birth_date": "1987-04-02", "nationality": "FR",
        "last_name": "<b>Martin</b>", "first_name": "\"'&"});
    server.create_dossier("bts", "BTS-4", candidate).await;
    let markup = "<img src=x onerror=alert(1)><script>alert(2)</script>.pdf";
    let uploaded = server
        .upload("BTS-4", "identite", markup, sample("carte-identite.pdf"))
        .await;
    assert_eq!(uploaded.status(), 201);
    let staff = Session::logged_in(&server, "camille").await;
    let page = staff.page("/staff/dossiers/BTS-4").await;
    assert!(
        !page.contains("<script>alert(2)"),
        "markup must not reach the page"
    );
    assert!(
        !page.contains("<img src=x"),
        "markup must not reach the page"
    );
    assert!(
        !page.contains("<b>Martin"),
        "markup must not reach the page"
    );
    let start = page
        .find("class=\"filename\">")
        .expect("the file name heading")
        + 17;
    let end = start + page[start..].find("</h3>").expect("the heading ends");
    assert_eq!(
        unescape(&page[start..end]),
        markup,
        "the name is shown as text"
    );
    let list = staff.page("/staff/dossiers?q=BTS-4").await;
    assert!(
        unescape(&list).contains("<B>MARTIN</B>"),
        "the name is shown as text"
    );
    assert!(!list.contains("<B>MARTIN"));
}

async fn logins_sessions_and_logout(backend: Backend) {
    let server = Server::start_on(backend).await;
    assert_eq!(create_user(&server, "camille", "reviewer", PASSWORD).0, 0);
    let (code, err) = create_user(&server, "camille", "admin", PASSWORD);
    assert_eq!(code, 1, "a taken name is refused");
    assert!(err.contains("existe déjà"), "{err}");
    let (code, _) = create_user(&server, "court", "reviewer", "court");
    assert_eq!(code, 1, "a short password is refused");
    let (code, _) = create_user(&server, "<x>", "reviewer", PASSWORD);
    assert_eq!(code, 1, "a name with markup is refused");

    let anonymous = Session::new(&server);
    for path in ["/staff/", "/staff/dossiers", "/staff/dossiers/X"] {
        let response = anonymous.get(path).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&response), "/staff/login");
    }
    for (name, password) in [("camille", "mauvais mot de passe"), ("inconnu", PASSWORD)] {
        let refused = anonymous.login(name, password).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        assert!(
            refused
                .text()
                .await
                .expect("html")
                .contains("Nom ou mot de passe incorrect")
        );
        assert!(!anonymous.has_cookie("guichet_staff"));
    }

    let staff = Session::new(&server);
    let response = staff.login("camille", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("ascii").to_string())
        .find(|c| c.starts_with("guichet_staff="))
        .expect("a session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(cookie.contains("Max-Age="), "sessions expire: {cookie}");
    let home = staff.page("/staff/").await;
    assert!(home.contains("Tableau de bord") && home.contains("camille"));
    let out = staff
        .post("/staff/logout", &[("csrf", &csrf_of(&home))])
        .await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(!staff.has_cookie("guichet_staff"));
    // The old cookie no longer opens anything.
    let replay = Session::new(&server);
    let value = cookie
        .split(';')
        .next()
        .and_then(|p| p.split_once('='))
        .map(|(_, v)| v.to_string())
        .expect("value");
    let response = replay
        .http_get_with_cookie("/staff/", &format!("guichet_staff={value}"))
        .await;
    assert_eq!(response, StatusCode::SEE_OTHER);
}

async fn content_is_served_sandboxed(backend: Backend) {
    let server = Server::start_on(backend).await;
    create_user(&server, "camille", "reviewer", PASSWORD);
    let id = submitted_dossier(&server, "bts", "BTS-5").await;
    let staff = Session::logged_in(&server, "camille").await;
    let response = staff.get(&format!("/staff/documents/{id}/content")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers["content-security-policy"], "sandbox");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["content-type"], "application/pdf");
    assert!(
        headers["content-disposition"]
            .to_str()
            .expect("ascii")
            .starts_with("inline;")
    );
    assert_eq!(
        response.bytes().await.expect("bytes").as_ref(),
        sample("carte-identite.pdf").as_slice()
    );
    let anonymous = Session::new(&server);
    let response = anonymous
        .get(&format!("/staff/documents/{id}/content"))
        .await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "no session, no content"
    );
    // Pages themselves forbid scripts and foreign resources.
    let page = staff.get("/staff/dossiers/BTS-5").await;
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(policy.contains("default-src 'none'"), "{policy}");
    assert!(policy.contains("script-src 'self';"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
}

async fn the_list_searches_filters_and_pages(backend: Backend) {
    let server = Server::start_on(backend).await;
    create_user(&server, "camille", "reviewer", PASSWORD);
    submitted_dossier(&server, "bts", "BTS-6").await;
    for (reference, last, first) in [("BTS-7", "Lefèvre", "Zoé"), ("BTS-8", "Durand", "Éloïse")]
    {
        server
            .create_dossier(
                "bts",
                reference,
                json!({"birth_date": "1990-01-01", "nationality": "FR",
                       "amenagement": false, "last_name": last, "first_name": first}),
            )
            .await;
    }
    let staff = Session::logged_in(&server, "camille").await;
    let references = |html: &str| -> Vec<String> {
        ["BTS-6", "BTS-7", "BTS-8"]
            .iter()
            .filter(|r| html.contains(&format!(">{r}</a>")))
            .map(|r| r.to_string())
            .collect()
    };
    for (query, expected) in [
        ("", vec!["BTS-6", "BTS-7", "BTS-8"]),
        ("?q=lefevre", vec!["BTS-7"]),
        ("?q=ELOISE", vec!["BTS-8"]),
        ("?q=bts-6", vec!["BTS-6"]),
        ("?q=martin", vec!["BTS-6"]),
        ("?awaiting=yes", vec!["BTS-6"]),
        ("?state=submitted", vec!["BTS-6"]),
        ("?state=open", vec!["BTS-7", "BTS-8"]),
        ("?missing=identite", vec!["BTS-7", "BTS-8"]),
        ("?complete=yes", vec![]),
        ("?late=yes", vec![]),
        ("?after=BTS-6", vec!["BTS-7", "BTS-8"]),
    ] {
        let html = staff.page(&format!("/staff/dossiers{query}")).await;
        assert_eq!(references(&html), expected, "{query}");
    }
    let dashboard = staff.page("/staff/").await;
    assert!(
        dashboard.contains("BTS session 2027"),
        "campaign deadlines shown"
    );
    assert!(dashboard.contains("30 juin 2099"), "{dashboard}");
}

async fn exports_csv_and_zip(backend: Backend) {
    let server = Server::start_on(backend).await;
    create_user(&server, "camille", "reviewer", PASSWORD);
    submitted_dossier(&server, "bts", "BTS-9").await;
    let staff = Session::logged_in(&server, "camille").await;

    let csv = staff.get("/staff/dossiers.csv?q=bts-9").await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().await.expect("csv");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("reference,campagne,candidat,etat,complet,pieces_manquantes"));
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[1].starts_with("BTS-9,bts,MARTIN Camille,submitted,non,,oui,non,"),
        "{text}"
    );

    let zip = staff.get("/staff/dossiers/BTS-9/documents.zip").await;
    assert_eq!(zip.status(), StatusCode::OK);
    assert_eq!(zip.headers()["content-type"], "application/zip");
    let bytes = zip.bytes().await.expect("zip");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("a zip");
    let mut names: Vec<String> = archive
        .file_names()
        .map(|n| n.expect("a readable name").into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["BTS-9_domicile_1.pdf", "BTS-9_identite_1.pdf", "SHA256SUMS"]
    );
    let mut manifest = String::new();
    archive
        .by_name("SHA256SUMS")
        .expect("manifest")
        .read_to_string(&mut manifest)
        .expect("text");
    let dossier = server.dossier("BTS-9").await;
    for (piece, name) in [(0, "BTS-9_identite_1.pdf"), (2, "BTS-9_domicile_1.pdf")] {
        let sha = dossier["pieces"][piece]["documents"][0]["sha256"]
            .as_str()
            .expect("sha256");
        assert!(manifest.contains(&format!("{sha}  {name}\n")), "{manifest}");
    }
    let mut content = Vec::new();
    archive
        .by_name("BTS-9_identite_1.pdf")
        .expect("document")
        .read_to_end(&mut content)
        .expect("bytes");
    assert_eq!(content, sample("carte-identite.pdf"));
    assert_eq!(
        staff
            .get("/staff/dossiers/NOPE/documents.zip")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

async fn admins_create_accounts_and_tokens(backend: Backend) {
    let server = Server::start_on(backend).await;
    create_user(&server, "alix", "admin", PASSWORD);
    let admin = Session::logged_in(&server, "alix").await;
    let csrf = csrf_of(&admin.page("/staff/admin").await);
    let created = admin
        .post(
            "/staff/admin/users",
            &[
                ("csrf", &csrf),
                ("name", "dominique"),
                ("role", "reviewer"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    let reviewer = Session::logged_in(&server, "dominique").await;
    assert_eq!(
        reviewer.get("/staff/admin").await.status(),
        StatusCode::FORBIDDEN
    );

    let page = admin
        .post(
            "/staff/admin/tokens",
            &[("csrf", &csrf), ("name", "portail-2"), ("role", "portal")],
        )
        .await
        .text()
        .await
        .expect("html");
    let marker = "<code id=\"new-token\">";
    let start = page.find(marker).expect("the token is shown once") + marker.len();
    let token = &page[start..start + 68];
    assert!(token.starts_with("gch_"), "{token}");
    let works = server
        .get("/api/v1/campaigns/none", token)
        .send()
        .await
        .expect("request");
    assert_eq!(
        works.status(),
        StatusCode::NOT_FOUND,
        "the new token authenticates"
    );

    let disabled = admin
        .post(
            "/staff/admin/users/dominique/disable",
            &[("csrf", &csrf), ("disabled", "yes")],
        )
        .await;
    assert_eq!(disabled.status(), StatusCode::SEE_OTHER);
    let response = reviewer.get("/staff/").await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "a disabled account is logged out"
    );

    let loaded = admin
        .post(
            "/staff/admin/campaigns",
            &[("csrf", &csrf), ("source", &open_campaign("bts-admin"))],
        )
        .await;
    assert_eq!(loaded.status(), StatusCode::SEE_OTHER);
    let campaign = server
        .get("/api/v1/campaigns/bts-admin", &server.tokens.admin)
        .send()
        .await
        .expect("request");
    assert_eq!(campaign.status(), StatusCode::OK);
    let broken = admin
        .post(
            "/staff/admin/campaigns",
            &[("csrf", &csrf), ("source", "id = ")],
        )
        .await;
    assert_eq!(broken.status(), StatusCode::BAD_REQUEST);

    // A token scoped to a campaign, with a lifetime: listed so, then revoked from the page.
    let page = admin
        .post(
            "/staff/admin/tokens",
            &[
                ("csrf", csrf.as_str()),
                ("name", "portail-bts"),
                ("role", "portal"),
                ("campaigns", "bts-admin"),
                ("expires_in", "90d"),
            ],
        )
        .await
        .text()
        .await
        .expect("html");
    let start = page.find(marker).expect("the token is shown once") + marker.len();
    let scoped = page[start..start + 68].to_string();
    assert!(page.contains("<td>bts-admin</td>"), "{page}");
    assert!(
        page.contains("/staff/admin/tokens/portail-bts/revoke"),
        "{page}"
    );
    let read = |path: &'static str| server.get(path, &scoped).send();
    assert_eq!(
        read("/api/v1/campaigns/bts-admin")
            .await
            .expect("request")
            .status(),
        200
    );
    let revoked = admin
        .post(
            "/staff/admin/tokens/portail-bts/revoke",
            &[("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        read("/api/v1/campaigns/bts-admin")
            .await
            .expect("request")
            .status(),
        401
    );
}
