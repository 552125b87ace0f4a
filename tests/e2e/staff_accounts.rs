//! Staff logins under attack and staff accounts over their life, against real `guichet serve`
//! processes on every backend: a flood of wrong logins (memory stays bounded, 429 with
//! `Retry-After`, the real user gets in once the wait ends), the login form's token bound to
//! its pre-session, a password changed by its owner, reset by an admin, an account disabled
//! (from the admin page and from `guichet user disable`).

use std::sync::Arc;
use std::time::Duration;

use reqwest::{StatusCode, header};

use crate::common::{Backend, Server};
use crate::staff_support::{PASSWORD, Session, create_user, csrf_of, location};

on_every_backend!(
    a_flood_of_wrong_logins_stays_bounded_then_the_user_gets_in,
    the_login_token_is_bound_to_its_presession,
    owners_change_their_password_and_admins_reset_and_disable,
);

/// The server's peak resident memory (`VmHWM`), in kB.
fn peak_memory_kb(server: &Server) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid()))
        .expect("the server's /proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmHWM line")
}

async fn a_flood_of_wrong_logins_stays_bounded_then_the_user_gets_in(backend: Backend) {
    let server = Server::start_on_with_env(
        backend,
        vec![
            ("GUICHET_STAFF_LOGIN_BACKOFF_SECONDS".into(), "1".into()),
            ("GUICHET_STAFF_LOGIN_BACKOFF_MAX_SECONDS".into(), "2".into()),
        ],
    )
    .await;
    assert_eq!(create_user(&server, "camille", "reviewer", PASSWORD).0, 0);
    let before = peak_memory_kb(&server);
    let attacker = Arc::new(Session::new(&server));
    let csrf = csrf_of(&attacker.page("/staff/login").await);
    let attempts: Vec<_> = (0..200)
        .map(|n| {
            let (attacker, csrf) = (attacker.clone(), csrf.clone());
            tokio::spawn(async move {
                let guess = format!("mauvais mot de passe {n}");
                let response = attacker
                    .post(
                        "/staff/login",
                        &[("csrf", &csrf), ("name", "camille"), ("password", &guess)],
                    )
                    .await;
                let retry = response
                    .headers()
                    .get(header::RETRY_AFTER)
                    .map(|v| v.to_str().expect("ascii").parse::<u64>().expect("seconds"));
                (response.status(), retry)
            })
        })
        .collect();
    let mut refused = 0;
    let mut longest_wait = 0;
    for attempt in attempts {
        let (status, retry) = attempt.await.expect("the attempt ran");
        match status {
            StatusCode::UNAUTHORIZED => refused += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                let seconds = retry.expect("a 429 carries Retry-After");
                assert!((1..=2).contains(&seconds), "Retry-After: {seconds}");
                longest_wait = longest_wait.max(seconds);
            }
            other => panic!("a wrong login answered {other}"),
        }
    }
    assert_eq!(refused, 5, "only the first five were checked");
    assert!(!attacker.has_cookie("guichet_staff"));
    let after = peak_memory_kb(&server);
    assert!(
        after < 600 * 1024,
        "peak memory {after} kB after the flood ({before} kB before)"
    );

    // While the wait runs, even the right password is answered 429, unchecked.
    let user = Session::new(&server);
    let early = user.login("camille", PASSWORD).await;
    assert_eq!(early.status(), StatusCode::TOO_MANY_REQUESTS);
    tokio::time::sleep(Duration::from_secs(longest_wait)).await;
    let response = user.login("camille", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "after the wait");
    assert!(user.page("/staff/").await.contains("camille"));
    // The success cleared the address's count: a typo now is a plain 401.
    let typo = Session::new(&server)
        .login("camille", "une faute de frappe")
        .await;
    assert_eq!(typo.status(), StatusCode::UNAUTHORIZED);
}

async fn the_login_token_is_bound_to_its_presession(backend: Backend) {
    let server = Server::start_on(backend).await;
    create_user(&server, "camille", "reviewer", PASSWORD);
    let (mine, theirs) = (Session::new(&server), Session::new(&server));
    let my_token = csrf_of(&mine.page("/staff/login").await);
    let their_token = csrf_of(&theirs.page("/staff/login").await);
    assert_ne!(my_token, their_token);
    assert!(mine.has_cookie("guichet_staff_login"));
    let crossed = mine
        .post(
            "/staff/login",
            &[
                ("csrf", &their_token),
                ("name", "camille"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(crossed.status(), StatusCode::FORBIDDEN);
    assert!(!mine.has_cookie("guichet_staff"));
    // A token without any pre-session is refused too.
    let bare = Session::new(&server)
        .post(
            "/staff/login",
            &[
                ("csrf", &my_token),
                ("name", "camille"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(bare.status(), StatusCode::FORBIDDEN);
    // Its own pre-session's token works, and a second tab shares the pre-session.
    assert_eq!(csrf_of(&mine.page("/staff/login").await), my_token);
    let own = mine
        .post(
            "/staff/login",
            &[
                ("csrf", &my_token),
                ("name", "camille"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(own.status(), StatusCode::SEE_OTHER);
    assert!(mine.has_cookie("guichet_staff"));
    assert!(!mine.has_cookie("guichet_staff_login"), "used up");
}

async fn owners_change_their_password_and_admins_reset_and_disable(backend: Backend) {
    let server = Server::start_on(backend).await;
    create_user(&server, "camille", "reviewer", PASSWORD);
    create_user(&server, "alix", "admin", PASSWORD);
    let desk = Session::logged_in(&server, "camille").await;
    let laptop = Session::logged_in(&server, "camille").await;

    // Mon compte: the current password, then the new one twice.
    let page = desk.page("/staff/account").await;
    assert!(page.contains("Changer de mot de passe"), "{page}");
    let csrf = csrf_of(&page);
    let new = "un tout nouveau mot de passe";
    for (current, password, confirm) in [
        ("pas le bon mot de passe", new, new),
        (PASSWORD, new, "une autre saisie encore"),
        (PASSWORD, "court", "court"),
    ] {
        let refused = desk
            .post(
                "/staff/account",
                &[
                    ("csrf", &csrf),
                    ("current", current),
                    ("password", password),
                    ("confirm", confirm),
                ],
            )
            .await;
        assert_eq!(
            refused.status(),
            StatusCode::BAD_REQUEST,
            "{current} {confirm}"
        );
    }
    let changed = desk
        .post(
            "/staff/account",
            &[
                ("csrf", &csrf),
                ("current", PASSWORD),
                ("password", new),
                ("confirm", new),
            ],
        )
        .await;
    assert_eq!(changed.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&changed), "/staff/account?done=password");
    assert!(
        desk.page("/staff/").await.contains("camille"),
        "this session stays"
    );
    assert_eq!(
        laptop.get("/staff/").await.status(),
        StatusCode::SEE_OTHER,
        "the other sessions end"
    );
    let old = Session::new(&server).login("camille", PASSWORD).await;
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    let fresh = Session::new(&server);
    assert_eq!(
        fresh.login("camille", new).await.status(),
        StatusCode::SEE_OTHER
    );

    // An admin resets it: typed, then generated and shown once.
    let admin = Session::logged_in(&server, "alix").await;
    let csrf = csrf_of(&admin.page("/staff/admin").await);
    let typed = "choisi par l'administratrice";
    let reset = admin
        .post(
            "/staff/admin/users/camille/password",
            &[("csrf", &csrf), ("password", typed)],
        )
        .await;
    assert_eq!(reset.status(), StatusCode::SEE_OTHER);
    for session in [&desk, &fresh] {
        assert_eq!(session.get("/staff/").await.status(), StatusCode::SEE_OTHER);
    }
    let after_reset = Session::new(&server);
    assert_eq!(
        after_reset.login("camille", typed).await.status(),
        StatusCode::SEE_OTHER
    );
    let short = admin
        .post(
            "/staff/admin/users/camille/password",
            &[("csrf", &csrf), ("password", "court")],
        )
        .await;
    assert_eq!(short.status(), StatusCode::BAD_REQUEST);
    let unknown = admin
        .post(
            "/staff/admin/users/personne/password",
            &[("csrf", &csrf), ("password", typed)],
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let page = admin
        .post(
            "/staff/admin/users/camille/password",
            &[("csrf", &csrf), ("password", "")],
        )
        .await
        .text()
        .await
        .expect("html");
    let marker = "<code id=\"new-password\">";
    let start = page.find(marker).expect("the password is shown once") + marker.len();
    let end = start + page[start..].find("</code>").expect("the code ends");
    let generated = page[start..end].to_string();
    assert!(generated.len() >= 12, "{generated}");
    assert!(!admin.page("/staff/admin").await.contains(&generated));
    let with_generated = Session::new(&server);
    assert_eq!(
        with_generated.login("camille", &generated).await.status(),
        StatusCode::SEE_OTHER
    );

    // Disabled: the open session stops at once and no login opens another.
    let disabled = admin
        .post(
            "/staff/admin/users/camille/disable",
            &[("csrf", &csrf), ("disabled", "yes")],
        )
        .await;
    assert_eq!(disabled.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        with_generated.get("/staff/").await.status(),
        StatusCode::SEE_OTHER
    );
    let refused = Session::new(&server).login("camille", &generated).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let enabled = admin
        .post(
            "/staff/admin/users/camille/disable",
            &[("csrf", &csrf), ("disabled", "no")],
        )
        .await;
    assert_eq!(enabled.status(), StatusCode::SEE_OTHER);
    let back = Session::new(&server);
    assert_eq!(
        back.login("camille", &generated).await.status(),
        StatusCode::SEE_OTHER
    );

    // The same from the command line.
    let (code, out, err) = server.command(&["user", "disable", "camille"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(back.get("/staff/").await.status(), StatusCode::SEE_OTHER);
    let (code, _, _) = server.command(&["user", "disable", "personne"]);
    assert_eq!(code, 1, "an unknown account");
    let (code, out, err) = server.command(&["user", "enable", "camille"]);
    assert_eq!(code, 0, "{out}{err}");
    let again = Session::new(&server).login("camille", &generated).await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
}
