//! A staff member's browser without a browser: a cookie jar over reqwest, login, forms with
//! their CSRF token, and the staff account command. Used by the end-to-end tests of the staff
//! interface.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use reqwest::{Client, Response, StatusCode, header};
use serde_json::{Value, json};

use crate::common::{BIN, Server, open_campaign, sample};

pub const PASSWORD: &str = "un mot de passe assez long";

/// `guichet user create` on the server's data; returns the exit code and standard error.
pub fn create_user(server: &Server, name: &str, role: &str, password: &str) -> (i32, String) {
    create_user_with(server, name, role, password, &[])
}

/// [`create_user`] with more arguments (`--campaign ID`...).
pub fn create_user_with(
    server: &Server,
    name: &str,
    role: &str,
    password: &str,
    more: &[&str],
) -> (i32, String) {
    let mut args = vec![
        "user".to_string(),
        "create".into(),
        "--name".into(),
        name.into(),
        "--role".into(),
        role.into(),
        "--password-stdin".into(),
        "--data".into(),
        server.data.path().display().to_string(),
    ];
    if let Some(config) = &server.config {
        args.extend(["--config".into(), config.display().to_string()]);
    }
    args.extend(more.iter().map(|a| a.to_string()));
    let mut child = Command::new(BIN)
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("guichet user create starts");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(format!("{password}\n").as_bytes())
        .expect("password written");
    let output = child.wait_with_output().expect("guichet user create ends");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Percent-encodes a form value.
pub fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The value of the first `name="csrf"` hidden field of a page.
pub fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("the page has a CSRF field") + marker.len();
    let end = html[start..].find('"').expect("the field's value ends") + start;
    html[start..end].to_string()
}

/// A cookie-keeping client that does not follow redirects (the tests look at them).
pub struct Session {
    http: Client,
    base: String,
    cookies: Mutex<BTreeMap<String, String>>,
}

impl Session {
    pub fn new(server: &Server) -> Session {
        Session::at(&server.base)
    }

    /// A browser session on the server at `base` (`http://host:port`).
    pub fn at(base: &str) -> Session {
        Session {
            http: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            base: base.to_string(),
            cookies: Mutex::new(BTreeMap::new()),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .lock()
            .expect("cookie jar")
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep_cookies(&self, response: &Response) {
        let mut jar = self.cookies.lock().expect("cookie jar");
        for value in response.headers().get_all(header::SET_COOKIE) {
            let text = value.to_str().expect("ascii cookie");
            let pair = text.split(';').next().expect("a pair");
            let (name, value) = pair.split_once('=').expect("name=value");
            if value.is_empty() || text.contains("Max-Age=0") {
                jar.remove(name);
            } else {
                jar.insert(name.to_string(), value.to_string());
            }
        }
    }

    pub fn has_cookie(&self, name: &str) -> bool {
        self.cookies.lock().expect("cookie jar").contains_key(name)
    }

    pub async fn get(&self, path: &str) -> Response {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header(header::COOKIE, self.cookie_header())
            .send()
            .await
            .expect("request");
        self.keep_cookies(&response);
        response
    }

    /// The page's HTML, after checking it answered 200.
    pub async fn page(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.text().await.expect("html")
    }

    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header(header::COOKIE, self.cookie_header())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("request");
        self.keep_cookies(&response);
        response
    }

    /// Logs in through the form; returns the answer to the POST.
    pub async fn login(&self, name: &str, password: &str) -> Response {
        let form = self.page("/staff/login").await;
        let csrf = csrf_of(&form);
        self.post(
            "/staff/login",
            &[("csrf", &csrf), ("name", name), ("password", password)],
        )
        .await
    }

    /// Logs in and checks it worked.
    pub async fn logged_in(server: &Server, name: &str) -> Session {
        let session = Session::new(server);
        let response = session.login(name, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "login of {name}");
        assert!(session.has_cookie("guichet_staff"));
        session
    }
}

/// A document's location on its redirect, and its status.
pub fn location(response: &Response) -> String {
    response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// A campaign, one dossier `reference` (a candidate of 40, so no JDC certificate), its
/// identity document waiting for review and its proof of address accepted automatically,
/// submitted. Returns the identity document's id.
pub async fn submitted_dossier(server: &Server, campaign: &str, reference: &str) -> String {
    let loaded = server
        .get(
            &format!("/api/v1/campaigns/{campaign}"),
            &server.tokens.admin,
        )
        .send()
        .await
        .expect("request")
        .status();
    if loaded != StatusCode::OK {
        server.load_campaign(&open_campaign(campaign)).await;
    }
    server
        .create_dossier(
            campaign,
            reference,
            json!({"birth_date": "1987-04-02", "nationality": "FR", "amenagement": false,
                   "last_name": "Martin", "first_name": "Camille"}),
        )
        .await;
    let identity: Value = server
        .upload(
            reference,
            "identite",
            "carte.pdf",
            sample("carte-identite.pdf"),
        )
        .await
        .json()
        .await
        .expect("json");
    let address = server
        .upload(
            reference,
            "domicile",
            "facture.pdf",
            sample("justificatif-domicile.pdf"),
        )
        .await;
    assert_eq!(address.status(), 201);
    let submitted = server
        .post(
            &format!("/api/v1/dossiers/{reference}/submit"),
            &server.tokens.portal,
        )
        .send()
        .await
        .expect("request");
    assert_eq!(submitted.status(), 200);
    identity["id"].as_str().expect("document id").to_string()
}

impl Session {
    /// A GET with exactly this `Cookie` header; returns the status.
    pub async fn http_get_with_cookie(&self, path: &str, cookie: &str) -> StatusCode {
        self.http
            .get(format!("{}{path}", self.base))
            .header(header::COOKIE, cookie)
            .send()
            .await
            .expect("request")
            .status()
    }
}

/// HTML text as a reader sees it: character references decoded.
pub fn unescape(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let Some(semi) = rest.find(';') else { break };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}
