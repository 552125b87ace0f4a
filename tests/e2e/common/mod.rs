//! A real `guichet serve` on a free port, on its own data directory, with a token per role.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use reqwest::{Client, RequestBuilder, Response};
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_guichet");

pub struct Tokens {
    pub portal: String,
    pub station: String,
    pub staff: String,
    pub admin: String,
}

/// Where a server keeps things: the embedded default, or PostgreSQL and S3 (Garage) as
/// started by `scripts/test-all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    Scaled,
}

/// Runs each named test (an `async fn(Backend)`) once per backend, as `embedded::NAME` and
/// `scaled::NAME`: one suite, every backend.
#[macro_export]
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::common::Backend::Embedded).await
                }
            )*
        }
        mod scaled {
            $(
                #[tokio::test]
                async fn $name() {
                    if $crate::common::scaled_available() {
                        super::$name($crate::common::Backend::Scaled).await
                    }
                }
            )*
        }
    };
}

/// Whether PostgreSQL and S3 are configured for the tests. Missing is a failure when
/// `GUICHET_TEST_REQUIRE_ALL_BACKENDS=1` (as in `scripts/test-all`), a printed skip otherwise.
pub fn scaled_available() -> bool {
    let present = [
        "GUICHET_TEST_DATABASE_URL",
        "GUICHET_TEST_S3_ENDPOINT",
        "GUICHET_TEST_S3_BUCKET",
    ]
    .iter()
    .all(|name| std::env::var(name).is_ok());
    if !present {
        assert!(
            std::env::var("GUICHET_TEST_REQUIRE_ALL_BACKENDS").as_deref() != Ok("1"),
            "PostgreSQL and S3 are required but GUICHET_TEST_DATABASE_URL / GUICHET_TEST_S3_* are not set"
        );
        eprintln!("PostgreSQL and S3 not configured: the scaled variant is skipped");
    }
    present
}

/// The test clamd's addresses (`tcp://...`, `unix:...`), as started by
/// `scripts/services/clamd-up`; `None` (a printed skip) when absent, a failure when
/// `GUICHET_TEST_REQUIRE_ALL_BACKENDS=1`.
pub fn clamd_addresses() -> Option<(String, String)> {
    let tcp = std::env::var("GUICHET_TEST_CLAMD_TCP").ok();
    let unix = std::env::var("GUICHET_TEST_CLAMD_UNIX").ok();
    if let (Some(tcp), Some(unix)) = (tcp, unix) {
        return Some((tcp, unix));
    }
    assert!(
        std::env::var("GUICHET_TEST_REQUIRE_ALL_BACKENDS").as_deref() != Ok("1"),
        "clamd is required but GUICHET_TEST_CLAMD_TCP / GUICHET_TEST_CLAMD_UNIX are not set"
    );
    eprintln!("clamd not configured (scripts/services/clamd-up): the scan tests are skipped");
    None
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is set"))
}

/// A PostgreSQL database of one test on the test server. It is dropped when the last holder
/// lets it go (the servers using it hold it), so a whole run's databases never pile up on
/// the test cluster's disk.
pub struct Database {
    pub url: String,
    name: String,
    admin: String,
}

impl Drop for Database {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Its own runtime on its own thread: dropped from inside a test's runtime or not.
        let dropped = std::thread::spawn(move || {
            use sqlx::Connection;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                let mut connection = sqlx::PgConnection::connect(&admin).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut connection)
                .await
                .map(|_| ())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("the test database {} was not dropped", self.name);
        }
    }
}

/// A fresh PostgreSQL database on the test server.
pub async fn fresh_database() -> Arc<Database> {
    use sqlx::Connection;
    let admin = env("GUICHET_TEST_DATABASE_URL");
    let name = format!("guichet_e2e_{}", uuid::Uuid::new_v4().simple());
    let mut connection = sqlx::PgConnection::connect(&admin)
        .await
        .expect("PostgreSQL answers");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut connection)
        .await
        .expect("create database");
    let base = admin
        .rsplit_once('/')
        .map_or(admin.as_str(), |(base, _)| base);
    Arc::new(Database {
        url: format!("{base}/{name}"),
        name,
        admin,
    })
}

/// The configuration of a scaled deployment (one database, one bucket prefix, one secret),
/// and its database.
pub async fn scaled_config() -> (String, Arc<Database>) {
    let database = fresh_database().await;
    let config = s3_deployment_config(
        &database.url,
        &env("GUICHET_TEST_S3_ENDPOINT"),
        &env("GUICHET_TEST_S3_BUCKET"),
        &std::env::var("GUICHET_TEST_S3_REGION").unwrap_or_else(|_| "garage".into()),
        &format!("e2e-{}/", uuid::Uuid::new_v4().simple()),
    );
    (config, database)
}

/// The configuration of one process of a scaled deployment: PostgreSQL at `database`, objects
/// in `bucket` under `prefix` through the S3 service at `endpoint`, and the deployment's
/// secret. Processes given the same database, bucket and prefix serve the same dossiers.
pub fn s3_deployment_config(
    database: &str,
    endpoint: &str,
    bucket: &str,
    region: &str,
    prefix: &str,
) -> String {
    format!(
        r#"secret = "{secret}"

[database]
url = "{database}"

[storage]
kind = "s3"

[storage.s3]
endpoint = "{endpoint}"
bucket = "{bucket}"
region = "{region}"
path_style = true
prefix = "{prefix}"
"#,
        secret = "e2e-shared-secret-0123456789abcdef0123456789",
    )
}

pub struct Server {
    child: Option<Child>,
    pub base: String,
    pub data: tempfile::TempDir,
    /// The configuration file, for the scaled backend.
    pub config: Option<PathBuf>,
    pub tokens: Tokens,
    pub http: Client,
    /// Extra environment of the process and its commands.
    env: Vec<(String, String)>,
    /// The test database of the scaled backend, shared with siblings.
    database: Option<Arc<Database>>,
}

/// Runs a guichet command to completion and returns its standard output.
pub fn guichet(args: &[&str]) -> (i32, String, String) {
    guichet_with_env(args, &[])
}

/// [`guichet`] with more environment variables (credentials of a service of the test's own).
pub fn guichet_with_env(args: &[&str], env: &[(String, String)]) -> (i32, String, String) {
    let output = Command::new(BIN)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("guichet runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The `--data` and `--config` arguments of a server.
fn location(data: &Path, config: Option<&Path>) -> Vec<String> {
    let mut args = vec!["--data".to_string(), data.display().to_string()];
    if let Some(config) = config {
        args.extend(["--config".to_string(), config.display().to_string()]);
    }
    args
}

fn create_token(location: &[String], role: &str, env: &[(String, String)]) -> String {
    let mut args = vec!["token", "create", "--role", role, "--name", role];
    args.extend(location.iter().map(String::as_str));
    let (code, out, err) = guichet_with_env(&args, env);
    assert_eq!(code, 0, "token create failed: {err}");
    out.lines().last().expect("a token line").trim().to_string()
}

impl Server {
    /// A server on the embedded default.
    pub fn start() -> Server {
        Server::build(None, Vec::new(), None)
    }

    pub async fn start_on(backend: Backend) -> Server {
        Server::start_on_with_env(backend, Vec::new()).await
    }

    /// A server on `backend` with more configuration: TOML tables appended to the backend's.
    pub async fn start_with(backend: Backend, extra: &str) -> Server {
        let (base, database) = match backend {
            Backend::Embedded => (String::new(), None),
            Backend::Scaled => {
                let (config, database) = scaled_config().await;
                (config, Some(database))
            }
        };
        Server::build(Some(format!("{base}\n{extra}\n")), Vec::new(), database)
    }

    /// A server on `backend` whose processes and commands get these environment variables.
    pub async fn start_on_with_env(backend: Backend, env: Vec<(String, String)>) -> Server {
        match backend {
            Backend::Embedded => Server::build(None, env, None),
            Backend::Scaled => {
                let (config, database) = scaled_config().await;
                Server::build(Some(config), env, Some(database))
            }
        }
    }

    /// Replaces the extra environment of the next start and commands (stop the server first).
    pub fn set_env(&mut self, env: Vec<(String, String)>) {
        self.env = env;
    }

    /// Starts the server again after [`Server::kill`], on a free port.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "kill the server first");
        self.spawn();
    }

    /// `guichet serve` on this server's data, expected to refuse to start: its exit code and
    /// standard error (a panic if it is still running after 30 seconds).
    pub fn refused_start(&self) -> (i32, String) {
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(location(self.data.path(), self.config.as_deref()))
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("GUICHET_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("guichet serve starts");
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().expect("wait").is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("guichet serve started where it should have refused");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let output = child.wait_with_output().expect("output");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// A second process sharing this one's database, object store and secret.
    pub fn sibling(&self) -> Server {
        let config = self
            .config
            .as_ref()
            .map(|path| std::fs::read_to_string(path).expect("config"));
        let mut sibling = Server::build(config, self.env.clone(), self.database.clone());
        sibling.tokens = Tokens {
            portal: self.tokens.portal.clone(),
            station: self.tokens.station.clone(),
            staff: self.tokens.staff.clone(),
            admin: self.tokens.admin.clone(),
        };
        sibling
    }

    /// A server on this configuration (a whole TOML file) and these extra environment
    /// variables, for tests that run services of their own; it holds `database` (when the
    /// configuration names a test database) until it is dropped.
    pub fn with_config_and_env(
        config: String,
        env: Vec<(String, String)>,
        database: Option<Arc<Database>>,
    ) -> Server {
        Server::build(Some(config), env, database)
    }

    fn build(
        config: Option<String>,
        env: Vec<(String, String)>,
        database: Option<Arc<Database>>,
    ) -> Server {
        let data = tempfile::tempdir().expect("temp dir");
        let config = config.map(|text| {
            let path = data.path().join("guichet.toml");
            std::fs::write(&path, text).expect("write config");
            path
        });
        let location = location(data.path(), config.as_deref());
        let tokens = Tokens {
            portal: create_token(&location, "portal", &env),
            station: create_token(&location, "station", &env),
            staff: create_token(&location, "staff", &env),
            admin: create_token(&location, "admin", &env),
        };
        let mut server = Server {
            child: None,
            base: String::new(),
            data,
            config,
            tokens,
            // Idle connections are dropped before the server's own limit on a silent
            // connection (`[http] header_read_timeout_seconds`, 10 s) closes them: otherwise a
            // request sent on a connection the server is closing at that moment is lost.
            http: Client::builder()
                .pool_idle_timeout(Duration::from_secs(5))
                .build()
                .expect("an HTTP client"),
            env,
            database,
        };
        server.spawn();
        server
    }

    /// `guichet verify` on this server's data.
    pub fn verify(&self) -> (i32, String, String) {
        self.command(&["verify"])
    }

    /// A guichet command (`["audit", "verify"]`...) on this server's data.
    pub fn command(&self, command: &[&str]) -> (i32, String, String) {
        let mut args: Vec<String> = command.iter().map(|a| a.to_string()).collect();
        args.extend(location(self.data.path(), self.config.as_deref()));
        guichet_with_env(
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
            &self.env,
        )
    }

    fn spawn(&mut self) {
        for _ in 0..10 {
            if self.spawn_on(&format!("127.0.0.1:{}", free_port())) {
                return;
            }
        }
        panic!("guichet serve did not start on any of ten free ports");
    }

    /// Starts `guichet serve` on `listen`; `false` when it exits at once (its port was taken).
    fn spawn_on(&mut self, listen: &str) -> bool {
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", listen])
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .args(location(self.data.path(), self.config.as_deref()))
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
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(url) => {
                self.base = url;
                self.child = Some(child);
                true
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let _ = child.wait();
                false
            }
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("guichet serve announces its address"),
        }
    }

    /// Stops the process abruptly and starts it again on the same data.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Starts the process again on the address it had, as a service manager would: clients
    /// holding the URL find it back. The process must have been killed first.
    pub fn start_again_on_same_address(&mut self) {
        assert!(self.child.is_none(), "kill the server first");
        let address = self
            .base
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        for _ in 0..20 {
            if self.spawn_on(&address) {
                return;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        panic!("guichet serve did not start again on {address}");
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

    /// Every event of the feed, in id order (all its pages).
    pub async fn events(&self) -> Vec<Value> {
        let mut all: Vec<Value> = Vec::new();
        loop {
            let after = all.last().and_then(|e| e["id"].as_i64()).unwrap_or(0);
            let response = self
                .get(&format!("/api/v1/events?after={after}"), &self.tokens.staff)
                .send()
                .await
                .expect("request");
            assert_eq!(response.status(), 200);
            let page: Value = response.json().await.expect("json");
            let events = page["events"].as_array().expect("events").clone();
            if events.is_empty() {
                return all;
            }
            all.extend(events);
        }
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
/// A free loopback port below the kernel's ephemeral range, from `scripts/services/free-port`
/// (a server started again on its address finds it free).
pub fn free_port() -> u16 {
    let out = Command::new(repo_root().join("scripts/services/free-port"))
        .output()
        .expect("scripts/services/free-port runs");
    assert!(out.status.success(), "free-port failed");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a port number")
}

/// The mailroom batch `id` as the API reports it.
pub async fn mailroom_batch(server: &Server, id: &str) -> Value {
    server
        .get(
            &format!("/api/v1/mailroom/batches/{id}"),
            &server.tokens.station,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Waits for the mailroom batch `id` to be `done` or `failed` (3 minutes at most); its report.
pub async fn mailroom_batch_finished(server: &Server, id: &str) -> Value {
    let start = Instant::now();
    loop {
        let batch = mailroom_batch(server, id).await;
        if batch["state"] == "done" || batch["state"] == "failed" {
            return batch;
        }
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "batch still {} after 3 minutes: {batch}",
            batch["state"]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

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
/// A refused upload: asserts the 422, and returns the answer's body and its reasons.
pub async fn rejection(response: Response) -> (Value, Vec<Value>) {
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.expect("json");
    let reasons = body["error"]["details"]["reasons"]
        .as_array()
        .expect("reasons")
        .clone();
    (body, reasons)
}

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
code = "dossier_scanne"
label = "Dossier scanné complet"
accept = ["pdf"]
max_bytes = "90MiB"
max_documents = 1

[[pieces]]
code = "amenagement"
label = "Avis médical"
accept = ["pdf"]
required_when = "candidate.amenagement == true"
"#
    )
}

impl Server {
    /// Replaces (or, with `None`, deletes) the stored object of `sha256` behind guichet's
    /// back, as a failing disk or a careless operator would.
    pub async fn tamper(&self, sha256: &str, replacement: Option<&[u8]>) {
        let key = format!("sha256/{}/{sha256}", &sha256[..2]);
        let Some((s3, bucket, prefix)) = self.bucket().await else {
            let path = self.data.path().join("objects").join(&key);
            match replacement {
                Some(bytes) => {
                    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
                    std::fs::write(&path, bytes).expect("overwrite object")
                }
                None => std::fs::remove_file(&path).expect("delete object"),
            }
            return;
        };
        let object = format!("{prefix}{key}");
        match replacement {
            Some(bytes) => {
                s3.put_object()
                    .bucket(bucket)
                    .key(object)
                    .body(bytes.to_vec().into())
                    .send()
                    .await
                    .expect("overwrite object");
            }
            None => {
                s3.delete_object()
                    .bucket(bucket)
                    .key(object)
                    .send()
                    .await
                    .expect("delete object");
            }
        }
    }
}

impl Server {
    /// The content keys (`sha256/..`) in the object store, listed directly on the disk or in
    /// the bucket, behind guichet's back.
    pub async fn stored_keys(&self) -> Vec<String> {
        let Some((s3, bucket, prefix)) = self.bucket().await else {
            let root = self.data.path().join("objects").join("sha256");
            let mut keys = Vec::new();
            for prefix in std::fs::read_dir(&root).into_iter().flatten().flatten() {
                for object in std::fs::read_dir(prefix.path())
                    .into_iter()
                    .flatten()
                    .flatten()
                {
                    let name = object.file_name().to_string_lossy().to_string();
                    if name.len() == 64 {
                        keys.push(format!("sha256/{}/{name}", &name[..2]));
                    }
                }
            }
            keys.sort();
            return keys;
        };
        let mut keys = Vec::new();
        let mut pages = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(format!("{prefix}sha256/"))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for object in page.expect("listing").contents() {
                if let Some(key) = object.key().and_then(|k| k.strip_prefix(&prefix)) {
                    keys.push(key.to_string());
                }
            }
        }
        keys.sort();
        keys
    }

    /// The S3 client, bucket and key prefix of a server on S3; `None` on the filesystem.
    async fn bucket(&self) -> Option<(aws_sdk_s3::Client, String, String)> {
        let text = std::fs::read_to_string(self.config.as_ref()?).expect("config");
        if !text.contains("[storage.s3]") {
            return None;
        }
        let prefix = text
            .lines()
            .find_map(|l| l.strip_prefix("prefix = "))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_default();
        let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(
                std::env::var("GUICHET_TEST_S3_REGION").unwrap_or_else(|_| "garage".into()),
            ))
            .endpoint_url(env("GUICHET_TEST_S3_ENDPOINT"))
            .load()
            .await;
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&shared)
                .force_path_style(true)
                .build(),
        );
        Some((s3, env("GUICHET_TEST_S3_BUCKET"), prefix))
    }
}

/// A one-page A4 PDF: `content` drawn with `resources` (objects `doc` already holds: fonts,
/// images), saved.
pub fn a4_pdf(mut doc: lopdf::Document, content: Vec<u8>, resources: lopdf::Dictionary) -> Vec<u8> {
    use lopdf::{Object, Stream, dictionary};
    let pages_id = doc.new_object_id();
    let content_id = doc.add_object(Stream::new(dictionary! {}, content));
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
        "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        "Resources" => resources,
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1,
        }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("the PDF saves");
    out
}
