//! The staff interface in a real headless Chromium, driven over WebDriver (chromedriver):
//! a reviewer logs in, finds a dossier, accepts its identity document, closes the complete
//! dossier, refuses another dossier's document with a reason, and exports. Screenshots of
//! each step are kept under `target/staff-screenshots/` to be looked at.
//!
//! Needs Debian's `chromium` and `chromium-driver` (or `CHROMIUM` / `CHROMEDRIVER` naming
//! the binaries). Without them the test is skipped, and fails when
//! `GUICHET_TEST_REQUIRE_ALL_BACKENDS=1` (as in `scripts/test-all`).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::common::Server;
use crate::staff_support::{PASSWORD, create_user, submitted_dossier};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// The binaries, or `None` (skip) when absent and not required.
fn browser_binaries() -> Option<(PathBuf, PathBuf)> {
    let find = |variable: &str, default: &str| {
        std::env::var(variable)
            .map(PathBuf::from)
            .unwrap_or_else(|_| PathBuf::from(default))
    };
    let chromium = find("CHROMIUM", "/usr/bin/chromium");
    let driver = find("CHROMEDRIVER", "/usr/bin/chromedriver");
    if chromium.is_file() && driver.is_file() {
        return Some((chromium, driver));
    }
    assert!(
        std::env::var("GUICHET_TEST_REQUIRE_ALL_BACKENDS").as_deref() != Ok("1"),
        "the browser tests need chromium and chromedriver ({} / {}): \
         apt-get install chromium chromium-driver",
        chromium.display(),
        driver.display()
    );
    eprintln!("chromium or chromedriver absent: the browser test is skipped");
    None
}

/// A chromedriver on a free port, stopped on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start(binary: &PathBuf) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut child = Command::new(binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("started successfully") {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(30))
            .expect("chromedriver announces it started");
        Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn browser(driver: &Driver, chromium: &PathBuf, profile: &std::path::Path) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("browserName".into(), json!("chrome"));
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--window-size=1280,1000",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| crate::common::repo_root().join("target"));
    let dir = target.join("staff-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot directory");
    dir
}

async fn shoot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("screenshot");
    std::fs::write(screenshot_dir().join(format!("{name}.png")), png).expect("screenshot saved");
}

/// Waits until the element `css` reads `expected` (a click's navigation may still be under
/// way: the previous page can hold the same element). Gives up after about twenty seconds.
async fn wait_text(client: &Client, css: &str, expected: &str) {
    let mut last = String::new();
    for _ in 0..400 {
        if let Ok(element) = client.find(Locator::Css(css)).await {
            last = element.text().await.unwrap_or_default();
            if last == expected {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{css} reads {last:?}, not {expected:?}");
}

/// Waits until the address contains `part`.
async fn wait_url(client: &Client, part: &str) {
    let mut last = String::new();
    for _ in 0..400 {
        last = client.current_url().await.expect("url").to_string();
        if last.contains(part) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the address {last} never contained {part}");
}

async fn text_of(client: &Client, css: &str) -> String {
    client
        .wait()
        .for_element(Locator::Css(css))
        .await
        .expect("element")
        .text()
        .await
        .expect("text")
}

#[tokio::test]
async fn a_reviewer_works_through_dossiers_in_a_real_browser() {
    let Some((chromium, driver_binary)) = browser_binaries() else {
        return;
    };
    let server = Server::start();
    assert_eq!(create_user(&server, "camille", "reviewer", PASSWORD).0, 0);
    let identity = submitted_dossier(&server, "bts", "BTS-0001").await;
    let refused = submitted_dossier(&server, "bts", "BTS-0002").await;
    let driver = Driver::start(&driver_binary);
    let profile = tempfile::tempdir().expect("a fresh profile");
    let client = browser(&driver, &chromium, profile.path()).await;

    // Login.
    client
        .goto(&server.url("/staff/dossiers/BTS-0001"))
        .await
        .expect("goto");
    assert_eq!(
        text_of(&client, "h1").await,
        "Connexion",
        "sent to the login page"
    );
    shoot(&client, "01-connexion").await;
    client
        .find(Locator::Css("#name"))
        .await
        .expect("name field")
        .send_keys("camille")
        .await
        .expect("typed");
    client
        .find(Locator::Css("#password"))
        .await
        .expect("password field")
        .send_keys(PASSWORD)
        .await
        .expect("typed");
    client
        .find(Locator::Css("form button[type=submit].primary"))
        .await
        .expect("login button")
        .click()
        .await
        .expect("clicked");
    wait_text(&client, "h1", "Tableau de bord").await;
    shoot(&client, "02-tableau-de-bord").await;

    // The list, searched by the candidate's name.
    client
        .goto(&server.url("/staff/dossiers"))
        .await
        .expect("goto");
    client
        .find(Locator::Css("#q"))
        .await
        .expect("search field")
        .send_keys("martin")
        .await
        .expect("typed");
    client
        .find(Locator::Css(".filters button[type=submit]"))
        .await
        .expect("filter button")
        .click()
        .await
        .expect("clicked");
    wait_url(&client, "q=martin").await;
    shoot(&client, "03-liste-des-dossiers").await;
    client
        .find(Locator::LinkText("BTS-0001"))
        .await
        .expect("the dossier's link")
        .click()
        .await
        .expect("clicked");
    wait_text(&client, "h1", "Dossier BTS-0001").await;
    shoot(&client, "04-dossier").await;

    // Accept the identity document: the dossier becomes complete, then close it.
    client
        .find(Locator::Css(&format!("#doc-{identity} button.accept")))
        .await
        .expect("the Accepter button")
        .click()
        .await
        .expect("clicked");
    wait_text(&client, "#done", "Le document a été accepté.").await;
    assert_eq!(text_of(&client, "#state").await, "Complet");
    shoot(&client, "05-document-accepte").await;
    client
        .find(Locator::XPath(
            "//button[normalize-space()='Clôturer le dossier']",
        ))
        .await
        .expect("the Clôturer button")
        .click()
        .await
        .expect("clicked");
    wait_text(&client, "#done", "Le dossier a été clôturé.").await;
    assert_eq!(text_of(&client, "#state").await, "Clôturé");
    shoot(&client, "06-dossier-cloture").await;
    assert_eq!(server.dossier("BTS-0001").await["state"], "closed");

    // Refuse the other dossier's identity document with a reason.
    client
        .goto(&server.url("/staff/dossiers/BTS-0002"))
        .await
        .expect("goto");
    let form = format!("#doc-{refused} form.refuse");
    client
        .find(Locator::Css(&format!("{form} select")))
        .await
        .expect("the reason list")
        .select_by_value("perime")
        .await
        .expect("selected");
    client
        .find(Locator::Css(&format!("{form} textarea")))
        .await
        .expect("the text field")
        .send_keys("expirée depuis mars")
        .await
        .expect("typed");
    shoot(&client, "07-refus-en-cours").await;
    client
        .find(Locator::Css(&format!("{form} button.reject")))
        .await
        .expect("the Refuser button")
        .click()
        .await
        .expect("clicked");
    wait_text(
        &client,
        "#done",
        "Le document a été refusé ; le motif est visible du candidat.",
    )
    .await;
    let reason = "Document périmé ou plus en cours de validité : expirée depuis mars";
    assert_eq!(
        text_of(&client, &format!("#doc-{refused} .reason")).await,
        reason
    );
    shoot(&client, "08-document-refuse").await;
    let dossier = server.dossier("BTS-0002").await;
    assert_eq!(dossier["state"], "open");
    assert_eq!(
        dossier["pieces"][0]["documents"][0]["review_reason"],
        reason
    );

    // Export: the browser's own session fetches the CSV and the ZIP.
    let csv = client
        .execute(
            "return fetch('/staff/dossiers.csv').then(r => r.text());",
            Vec::new(),
        )
        .await
        .expect("the CSV export");
    let csv = csv.as_str().expect("text");
    assert!(
        csv.contains("\r\nBTS-0001,bts,MARTIN Camille,closed,oui,,non,non,"),
        "{csv}"
    );
    assert!(
        csv.contains("\r\nBTS-0002,bts,MARTIN Camille,open,non,identite,non,non,"),
        "{csv}"
    );
    let zip: Value = client
        .execute(
            "return fetch('/staff/dossiers/BTS-0001/documents.zip')
                .then(r => r.arrayBuffer().then(b => [r.status, r.headers.get('content-type'), b.byteLength]));",
            Vec::new(),
        )
        .await
        .expect("the ZIP export");
    assert_eq!(zip[0], 200);
    assert_eq!(zip[1], "application/zip");
    assert!(zip[2].as_u64().expect("length") > 1000, "{zip}");

    // Keyboard: the first Tab reaches the skip link, shown with a visible focus outline.
    client.goto(&server.url("/staff/")).await.expect("goto");
    client
        .find(Locator::Css("body"))
        .await
        .expect("body")
        .send_keys("\u{e004}")
        .await
        .expect("tab");
    let focused: Value = client
        .execute(
            "const e = document.activeElement; const s = getComputedStyle(e);
             return [e.className, s.outlineStyle, s.outlineWidth];",
            Vec::new(),
        )
        .await
        .expect("focus");
    assert_eq!(focused[0], "skip", "{focused}");
    assert_eq!(focused[1], "solid", "{focused}");
    shoot(&client, "09-focus-clavier").await;

    client.close().await.expect("session closed");
}
