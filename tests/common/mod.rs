//! A real `guichet serve` on a free port, on its own data directory, with a token per role.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use reqwest::{Client, RequestBuilder, Response};
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_guichet");

pub struct Tokens {
    pub portal: String,
    pub station: String,
    pub staff: String,
    pub admin: String,
}

pub struct Server {
    child: Option<Child>,
    pub base: String,
    pub data: tempfile::TempDir,
    pub tokens: Tokens,
    pub http: Client,
}

/// Runs a guichet command to completion and returns its standard output.
pub fn guichet(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(BIN).args(args).output().expect("guichet runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn create_token(data: &Path, role: &str) -> String {
    let data = data.to_str().expect("utf-8 temp path");
    let (code, out, err) = guichet(&[
        "token", "create", "--data", data, "--role", role, "--name", role,
    ]);
    assert_eq!(code, 0, "token create failed: {err}");
    out.lines().last().expect("a token line").trim().to_string()
}

impl Server {
    pub fn start() -> Server {
        let data = tempfile::tempdir().expect("temp dir");
        let tokens = Tokens {
            portal: create_token(data.path(), "portal"),
            station: create_token(data.path(), "station"),
            staff: create_token(data.path(), "staff"),
            admin: create_token(data.path(), "admin"),
        };
        let mut server = Server {
            child: None,
            base: String::new(),
            data,
            tokens,
            http: Client::new(),
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(self.data.path())
            .env("GUICHET_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .expect("guichet serve starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("guichet listening on ") {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        self.base = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("guichet serve announces its address");
        self.child = Some(child);
    }

    /// Stops the process abruptly and starts it again on the same data.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn get(&self, path: &str, token: &str) -> RequestBuilder {
        self.http.get(self.url(path)).bearer_auth(token)
    }

    pub fn post(&self, path: &str, token: &str) -> RequestBuilder {
        self.http.post(self.url(path)).bearer_auth(token)
    }

    pub fn delete(&self, path: &str, token: &str) -> RequestBuilder {
        self.http.delete(self.url(path)).bearer_auth(token)
    }

    pub async fn load_campaign(&self, toml: &str) {
        let response = self
            .post("/api/v1/campaigns", &self.tokens.admin)
            .body(toml.to_string())
            .send()
            .await
            .expect("request");
        assert_eq!(
            response.status(),
            201,
            "{}",
            response.text().await.unwrap_or_default()
        );
    }

    pub async fn create_dossier(&self, campaign: &str, reference: &str, candidate: Value) -> Value {
        let response = self
            .post("/api/v1/dossiers", &self.tokens.portal)
            .json(&serde_json::json!({"campaign": campaign, "reference": reference, "candidate": candidate}))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 201);
        response.json().await.expect("json")
    }

    pub async fn upload(
        &self,
        reference: &str,
        piece: &str,
        filename: &str,
        body: Vec<u8>,
    ) -> Response {
        self.post(
            &format!("/api/v1/dossiers/{reference}/pieces/{piece}/documents"),
            &self.tokens.portal,
        )
        .header(
            "Content-Disposition",
            format!("attachment; filename=\"{filename}\""),
        )
        .body(body)
        .send()
        .await
        .expect("request")
    }

    pub async fn dossier(&self, reference: &str) -> Value {
        let response = self
            .get(&format!("/api/v1/dossiers/{reference}"), &self.tokens.staff)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200);
        response.json().await.expect("json")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A sample document of the repository.
pub fn sample(name: &str) -> Vec<u8> {
    std::fs::read(repo_root().join("samples/documents").join(name)).expect("sample document")
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shared corpus beside the repository, when this machine has it.
pub fn corpus_file(path: &str) -> Option<Vec<u8>> {
    let file = repo_root().join("../shared/corpus").join(path);
    match std::fs::read(&file) {
        Ok(bytes) => Some(bytes),
        Err(_) => {
            eprintln!(
                "corpus file {} absent: this check is skipped",
                file.display()
            );
            None
        }
    }
}

/// The error code of an error answer.
pub async fn error_code(response: Response) -> String {
    let body: Value = response.json().await.expect("json error");
    body["error"]["code"]
        .as_str()
        .expect("error.code")
        .to_string()
}

/// A campaign like real ones, open now, with a conditional piece and an automatic one.
pub fn open_campaign(id: &str) -> String {
    format!(
        r#"
id = "{id}"
title = "BTS session 2027 — candidats libres"
opens_at = "2024-01-01T09:00:00+01:00"
closes_at = "2099-06-30T18:00:00+02:00"
reference_date = "2027-05-15"

[[pieces]]
code = "identite"
label = "Pièce d'identité"
accept = ["pdf", "jpeg", "png"]
max_bytes = "2MiB"
max_pages = 2
max_documents = 2
review = "staff"
required = true

[[pieces]]
code = "jdc"
label = "Attestation JDC"
accept = ["pdf"]
max_bytes = "1MiB"
required_when = "candidate.age < 25 && candidate.nationality == 'FR'"

[[pieces]]
code = "domicile"
label = "Justificatif de domicile"
accept = ["pdf", "png"]
max_bytes = "1MiB"
max_documents = 1
review = "auto"
required = true

[[pieces]]
code = "amenagement"
label = "Avis médical"
accept = ["pdf"]
required_when = "candidate.amenagement == true"
"#
    )
}
