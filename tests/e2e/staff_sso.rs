//! Staff single sign-on in Chromium against a real OpenID Connect provider: panva's certified
//! `oidc-provider` under node (`tests/e2e/oidc/`, installed with `npm ci`), on loopback. An
//! agent whose e-mail is on a staff account clicks the login page's SSO button, signs in at
//! the provider, and lands on the dashboard as that account; an identity without an account
//! is refused, and nothing is created.
//!
//! Needs node and npm, Chromium and chromedriver. Without node the test is skipped, and fails
//! when `GUICHET_TEST_REQUIRE_ALL_BACKENDS=1` (as in `scripts/test-all`).

use std::io::{BufRead, BufReader, Write as _};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use fantoccini::{Client, Locator};

use crate::common::{BIN, Backend, Server, free_port, repo_root};
use crate::staff_browser::{Driver, browser, browser_binaries, text_of, wait_url};
use crate::staff_support::PASSWORD;

const CLIENT_ID: &str = "guichet-test";
const CLIENT_SECRET: &str = "a client secret for the test provider only";

/// Whether node and npm are here; `false` (skip) when absent and not required.
fn node_present() -> bool {
    let found = |cmd: &str| {
        Command::new(cmd)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if found("node") && found("npm") {
        return true;
    }
    assert!(
        std::env::var("GUICHET_TEST_REQUIRE_ALL_BACKENDS").as_deref() != Ok("1"),
        "the single sign-on test needs node and npm: apt-get install nodejs npm"
    );
    eprintln!("node or npm absent: the single sign-on test is skipped");
    false
}

/// The provider, stopped on drop.
struct OidcProvider {
    child: Child,
    issuer: String,
}

impl OidcProvider {
    fn start(port: u16, redirect_url: &str) -> OidcProvider {
        let dir = repo_root().join("tests/e2e/oidc");
        if !dir.join("node_modules/oidc-provider").is_dir() {
            let status = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&dir)
                .status()
                .expect("npm runs");
            assert!(status.success(), "npm ci in {}", dir.display());
        }
        let mut child = Command::new("node")
            .arg("provider.mjs")
            .current_dir(&dir)
            .env("OIDC_PORT", port.to_string())
            .env("OIDC_CLIENT_ID", CLIENT_ID)
            .env("OIDC_CLIENT_SECRET", CLIENT_SECRET)
            .env("OIDC_REDIRECT_URL", redirect_url)
            .env("NODE_ENV", "development")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(issuer) = line.strip_prefix("listening ") {
                    let _ = tx.send(issuer.to_string());
                }
            }
        });
        let issuer = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the provider announces it listens");
        OidcProvider { child, issuer }
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `guichet user create ... --email`.
fn create_user_with_email(server: &Server, name: &str, role: &str, email: &str) {
    let mut child = Command::new(BIN)
        .args(["user", "create", "--name", name, "--role", role])
        .args(["--password-stdin", "--email", email, "--data"])
        .arg(server.data.path())
        .args(
            server
                .config
                .iter()
                .flat_map(|c| [std::ffi::OsStr::new("--config"), c.as_os_str()]),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("guichet user create starts");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .expect("password written");
    let output = child.wait_with_output().expect("guichet user create ends");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// From the login page, through the provider's login and consent, as `login`.
async fn sign_on(client: &Client, server: &Server, provider: &OidcProvider, login: &str) {
    client
        .goto(&server.url("/staff/login"))
        .await
        .expect("goto");
    client
        .wait()
        .for_element(Locator::Css("#sso"))
        .await
        .expect("the SSO button")
        .click()
        .await
        .expect("clicked");
    wait_url(client, &provider.issuer).await;
    client
        .wait()
        .for_element(Locator::Css("input[name=login]"))
        .await
        .expect("the provider's login form")
        .send_keys(login)
        .await
        .expect("typed");
    client
        .find(Locator::Css("input[name=password]"))
        .await
        .expect("password field")
        .send_keys("anything")
        .await
        .expect("typed");
    client
        .find(Locator::Css("button[type=submit]"))
        .await
        .expect("sign-in button")
        .click()
        .await
        .expect("clicked");
    // The consent page, on first sign-on; then back to guichet.
    for _ in 0..400 {
        let url = client.current_url().await.expect("url").to_string();
        if !url.starts_with(&provider.issuer) {
            return;
        }
        if url.contains("/interaction/")
            && let Ok(button) = client.find(Locator::Css("button[type=submit]")).await
            && client
                .find(Locator::Css("input[name=login]"))
                .await
                .is_err()
        {
            let _ = button.click().await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never sent back to guichet");
}

on_every_backend!(staff_sign_on_through_a_real_oidc_provider);

async fn staff_sign_on_through_a_real_oidc_provider(backend: Backend) {
    if !node_present() {
        return;
    }
    let Some((chromium, driver_binary)) = browser_binaries() else {
        return;
    };
    let provider_port = free_port();
    let issuer = format!("http://127.0.0.1:{provider_port}");
    let oidc_env = |redirect: &str| {
        vec![
            ("GUICHET_OIDC_ISSUER".to_string(), issuer.clone()),
            ("GUICHET_OIDC_CLIENT_ID".into(), CLIENT_ID.into()),
            ("GUICHET_OIDC_CLIENT_SECRET".into(), CLIENT_SECRET.into()),
            ("GUICHET_OIDC_REDIRECT_URL".into(), redirect.to_string()),
        ]
    };
    // The callback names the server's address, known once it runs: start, then again there.
    let mut server = Server::start_on_with_env(backend, oidc_env("http://127.0.0.1/unknown")).await;
    let redirect = server.url("/staff/login/oidc/callback");
    server.kill();
    server.set_env(oidc_env(&redirect));
    server.start_again_on_same_address();
    let provider = OidcProvider::start(provider_port, &redirect);
    assert_eq!(provider.issuer, issuer);
    create_user_with_email(&server, "agnes", "reviewer", "Agnes.Martin@example.gouv.fr");

    let driver = Driver::start(&driver_binary);
    let profile = tempfile::tempdir().expect("profile");
    let client = browser(&driver, &chromium, profile.path()).await;

    sign_on(&client, &server, &provider, "agnes.martin@example.gouv.fr").await;
    wait_url(&client, "/staff/").await;
    assert_eq!(text_of(&client, "h1").await, "Tableau de bord");
    assert_eq!(text_of(&client, ".who").await, "agnes (instructeur)");

    // Another browser, another identity: refused, and no account appears.
    client.close().await.expect("closed");
    let profile = tempfile::tempdir().expect("profile");
    let client = browser(&driver, &chromium, profile.path()).await;
    sign_on(&client, &server, &provider, "inconnu@example.gouv.fr").await;
    assert_eq!(text_of(&client, "h1").await, "Compte inconnu");
    client.goto(&server.url("/staff/")).await.expect("goto");
    assert_eq!(text_of(&client, "h1").await, "Connexion");
    client.close().await.expect("closed");

    // A disabled account is refused like an unknown one.
    let (code, _, err) = server.command(&["user", "disable", "agnes"]);
    assert_eq!(code, 0, "{err}");
    let profile = tempfile::tempdir().expect("profile");
    let client = browser(&driver, &chromium, profile.path()).await;
    sign_on(&client, &server, &provider, "agnes.martin@example.gouv.fr").await;
    assert_eq!(text_of(&client, "h1").await, "Compte inconnu");
    client.close().await.expect("closed");
}
