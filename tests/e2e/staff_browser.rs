//! The staff interface in a real headless Chromium, driven over WebDriver (chromedriver):
//! a reviewer logs in, finds a dossier, accepts its identity document, closes the complete
//! dossier, refuses another dossier's document with a reason, exports, and asks for a piece
//! again. Screenshots of each step are kept under `target/staff-screenshots/` to be looked
//! at.
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
pub(crate) fn browser_binaries() -> Option<(PathBuf, PathBuf)> {
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
pub(crate) struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    pub(crate) fn start(binary: &PathBuf) -> Driver {
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

pub(crate) async fn browser(
    driver: &Driver,
    chromium: &PathBuf,
    profile: &std::path::Path,
) -> Client {
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
pub(crate) async fn wait_url(client: &Client, part: &str) {
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

pub(crate) async fn text_of(client: &Client, css: &str) -> String {
    client
        .wait()
        .for_element(Locator::Css(css))
        .await
        .expect("element")
        .text()
        .await
        .expect("text")
}

/// Logs `name` in through the login page, from an address that sends there first.
async fn login(client: &Client, server: &Server, name: &str, from: &str) {
    client.goto(&server.url(from)).await.expect("goto");
    assert_eq!(
        text_of(client, "h1").await,
        "Connexion",
        "sent to the login page"
    );
    shoot(client, "01-connexion").await;
    client
        .find(Locator::Css("#name"))
        .await
        .expect("name field")
        .send_keys(name)
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
}

/// What a picture on the page shows: its size and mean grey levels (whole, top-left corner,
/// bottom-right corner), drawn on a canvas by the browser itself.
const PICTURE_STATS: &str = r#"
const img = arguments[0];
// Thumbnails load lazily: bring this one into view first.
if (!img.complete || img.naturalWidth === 0) { img.scrollIntoView(); return null; }
const c = document.createElement("canvas");
c.width = img.naturalWidth; c.height = img.naturalHeight;
const g = c.getContext("2d");
g.drawImage(img, 0, 0);
const d = g.getImageData(0, 0, c.width, c.height).data;
const mean = (x0, y0, x1, y1) => {
  let s = 0, n = 0;
  for (let y = Math.floor(y0 * c.height); y < Math.floor(y1 * c.height); y++)
    for (let x = Math.floor(x0 * c.width); x < Math.floor(x1 * c.width); x++) {
      const i = (y * c.width + x) * 4; s += (d[i] + d[i + 1] + d[i + 2]) / 3; n++;
    }
  return s / Math.max(n, 1);
};
return { alt: img.alt, width: c.width, height: c.height, whole: mean(0, 0, 1, 1),
  topLeft: mean(0, 0, 0.3, 0.2), bottomRight: mean(0.7, 0.8, 1, 1) };
"#;

/// The statistics of the picture `element`, once the browser has drawn it.
async fn picture_stats(client: &Client, element: &fantoccini::elements::Element) -> Value {
    for _ in 0..200 {
        let arg = serde_json::to_value(element).expect("an element serialises");
        let stats = client
            .execute(PICTURE_STATS, vec![arg])
            .await
            .expect("the script runs");
        if !stats.is_null() {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("a picture never loaded");
}

#[tokio::test]
async fn every_page_shows_as_a_picture_the_right_way_up() {
    let Some((chromium, driver_binary)) = browser_binaries() else {
        return;
    };
    let server = Server::start();
    assert_eq!(create_user(&server, "camille", "reviewer", PASSWORD).0, 0);
    let dossier = crate::previews::dossier_with_four_documents(&server).await;
    let reference = crate::previews::REFERENCE;
    let driver = Driver::start(&driver_binary);
    let profile = tempfile::tempdir().expect("a fresh profile");
    let client = browser(&driver, &chromium, profile.path()).await;
    login(
        &client,
        &server,
        "camille",
        &format!("/staff/dossiers/{reference}"),
    )
    .await;
    wait_text(&client, "h1", "Tableau de bord").await;
    client
        .goto(&server.url(&format!("/staff/dossiers/{reference}")))
        .await
        .expect("goto");
    wait_text(&client, "h1", &format!("Dossier {reference}")).await;
    shoot(&client, "10-dossier-et-apercus").await;

    // One thumbnail a page, four documents of one page each; none still being made.
    assert!(
        client
            .find_all(Locator::Css("[data-previews=pending]"))
            .await
            .expect("query")
            .is_empty()
    );
    let thumbnails = client
        .find_all(Locator::Css("img.thumb"))
        .await
        .expect("thumbnails");
    assert_eq!(thumbnails.len(), 4, "{dossier}");
    for thumbnail in &thumbnails {
        let stats = picture_stats(&client, thumbnail).await;
        let alt = stats["alt"].as_str().expect("alt").to_string();
        let number = |key: &str| stats[key].as_f64().expect("a number");
        assert!(
            (40.0..250.0).contains(&number("whole")),
            "{alt} is blank or black: {stats}"
        );
        assert!(
            number("topLeft") + 60.0 < number("bottomRight"),
            "{alt} is not the right way up: {stats}"
        );
        if alt.contains("photo.jpg") {
            assert!(
                number("height") > number("width"),
                "EXIF 6 shown portrait: {stats}"
            );
        }
    }
    shoot(&client, "11-apercus-des-pages").await;

    // A click opens the page large; R turns it; Escape closes.
    thumbnails[0].click().await.expect("clicked");
    let large = client
        .wait()
        .for_element(Locator::Css("dialog.viewer[open] .stage img"))
        .await
        .expect("the viewer opens");
    let stats = picture_stats(&client, &large).await;
    assert!(stats["width"].as_f64().expect("width") >= 1000.0, "{stats}");
    let viewer = client
        .find(Locator::Css("dialog.viewer"))
        .await
        .expect("viewer");
    viewer.send_keys("r").await.expect("typed");
    let turned = large
        .attr("style")
        .await
        .expect("style")
        .unwrap_or_default();
    assert!(turned.contains("rotate(90deg)"), "{turned}");
    tokio::time::sleep(Duration::from_millis(400)).await; // the turn's transition
    shoot(&client, "12-visionneuse").await;
    viewer
        .send_keys("\u{e00c}") // Escape
        .await
        .expect("typed");
    for _ in 0..100 {
        if client
            .find_all(Locator::Css("dialog.viewer[open]"))
            .await
            .expect("query")
            .is_empty()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        client
            .find_all(Locator::Css("dialog.viewer[open]"))
            .await
            .expect("query")
            .is_empty(),
        "Escape closes the viewer"
    );
    client.close().await.expect("the browser closes");
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
    login(&client, &server, "camille", "/staff/dossiers/BTS-0001").await;
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

    // Ask for the proof of address again: open the form, write the message, send it.
    client
        .goto(&server.url("/staff/dossiers/BTS-0002"))
        .await
        .expect("goto");
    client
        .find(Locator::Css("#piece-domicile details.office summary"))
        .await
        .expect("the Demander une correction summary")
        .click()
        .await
        .expect("clicked");
    let message = "Facture illisible : envoyez-en une de moins de trois mois.";
    client
        .find(Locator::Css("#correction-message-domicile"))
        .await
        .expect("the message field")
        .send_keys(message)
        .await
        .expect("typed");
    shoot(&client, "13-correction-en-cours").await;
    client
        .find(Locator::Css(
            "#piece-domicile form.correction-request button",
        ))
        .await
        .expect("the send button")
        .click()
        .await
        .expect("clicked");
    wait_text(
        &client,
        "#done",
        "La demande de correction a été enregistrée ; le candidat la voit.",
    )
    .await;
    assert_eq!(
        text_of(&client, "#piece-domicile .status").await,
        "À renvoyer"
    );
    assert_eq!(
        text_of(&client, "#correction-domicile .message").await,
        message
    );
    shoot(&client, "14-correction-demandee").await;
    let dossier = server.dossier("BTS-0002").await;
    let domicile = &dossier["pieces"][2];
    assert_eq!(domicile["code"], "domicile", "{dossier}");
    assert_eq!(domicile["status"], "correction_requested", "{dossier}");

    client.close().await.expect("session closed");
}
