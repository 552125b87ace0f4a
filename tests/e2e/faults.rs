//! Dependency outages: PostgreSQL, clamd and the S3 service (Garage) stopped under a running
//! `guichet serve`, then started again. Requests answer 503 with `Retry-After` instead of
//! hanging, nothing half-written is left behind, and the service recovers by itself.
//!
//! The test runs services of its own (the scripts of `scripts/services/`, on free ports), so
//! that stopping them disturbs no other test. Each comes back on the port it had, as under a
//! service manager.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{Server, open_campaign, repo_root, sample};
use serde_json::{Value, json};

/// Starts (or starts again) a service of `kind` (`postgres`, `garage`, `clamd`) in `dir`.
/// A stopped service comes back on the port it had, as it would under a service manager.
fn up(kind: &str, dir: &Path) {
    let script = repo_root().join(format!("scripts/services/{kind}-up"));
    let mut command = Command::new(script);
    if kind == "clamd" && dir.join("env").exists() {
        let address = value(&exports(dir), "GUICHET_TEST_CLAMD_TCP");
        let port = address.rsplit(':').next().unwrap_or_default().to_string();
        command.env("CLAMD_PORT", port);
    }
    if kind == "postgres" && dir.join("env").exists() {
        command.env("POSTGRES_PORT", value(&exports(dir), "PG_PORT"));
    }
    let status = command
        .arg(dir)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("the service script runs");
    assert!(status.success(), "{kind}-up failed");
}

fn down(kind: &str, dir: &Path) {
    let script = repo_root().join(format!("scripts/services/{kind}-down"));
    let status = Command::new(script)
        .arg(dir)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("the service script runs");
    assert!(status.success(), "{kind}-down failed");
}

/// The `export NAME=value` lines of a service's env file.
fn exports(dir: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(dir.join("env"))
        .expect("the service wrote its env file")
        .lines()
        .filter_map(|line| line.strip_prefix("export "))
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
        .collect()
}

fn value(env: &[(String, String)], key: &str) -> String {
    env.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("{key} in the service env"))
}

/// Whether the service binaries are here; missing fails under `scripts/test-all`.
fn services_available() -> bool {
    let postgres = std::fs::read_dir("/usr/lib/postgresql").is_ok();
    let clamd = Path::new("/usr/sbin/clamd").exists();
    let garage = std::env::var_os("GARAGE_BIN").is_some()
        || Command::new("garage").arg("--version").output().is_ok()
        || std::env::var_os("HOME")
            .map(|home| PathBuf::from(home).join(".cargo/bin/garage"))
            .is_some_and(|p| p.exists());
    let present = postgres && clamd && garage;
    if !present {
        assert!(
            std::env::var("GUICHET_TEST_REQUIRE_ALL_BACKENDS").as_deref() != Ok("1"),
            "PostgreSQL, Garage and clamd are required (GUICHET_TEST_REQUIRE_ALL_BACKENDS=1)"
        );
        println!("SKIPPED: PostgreSQL, Garage or clamd missing");
    }
    present
}

struct Services {
    dir: tempfile::TempDir,
}

impl Services {
    fn path(&self, kind: &str) -> PathBuf {
        self.dir.path().join(kind)
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        for kind in ["postgres", "garage", "clamd"] {
            let _ = Command::new(repo_root().join(format!("scripts/services/{kind}-down")))
                .arg(self.path(kind))
                .status();
        }
    }
}

async fn upload(server: &Server, reference: &str, bytes: &[u8]) -> reqwest::Response {
    server
        .post(
            &format!("/api/v1/dossiers/{reference}/pieces/identite/documents"),
            &server.tokens.portal,
        )
        .header("Content-Disposition", "attachment; filename=\"carte.png\"")
        .body(bytes.to_vec())
        // Far above any retry inside guichet: a hang shows as a failure, not a wait.
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .expect("guichet answers instead of hanging")
}

/// Asserts a 503 with `Retry-After` and the code `unavailable`.
async fn assert_unavailable(response: reqwest::Response, what: &str) {
    assert_eq!(response.status(), 503, "{what}");
    assert!(
        response.headers().contains_key("retry-after"),
        "{what}: Retry-After"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable", "{what}: {body}");
}

/// Sends until an upload goes through (the service recovers without a restart).
async fn until_stored(server: &Server, reference: &str, bytes: &[u8]) -> Value {
    let start = Instant::now();
    loop {
        let response = upload(server, reference, bytes).await;
        let status = response.status().as_u16();
        if status == 201 || status == 200 {
            return response.json().await.unwrap();
        }
        let answer = response.text().await.unwrap_or_default();
        assert_eq!(status, 503, "only 503 while recovering: {answer}");
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "guichet did not recover: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A PNG the validators accept, distinct for each `n`.
fn png(n: u32) -> Vec<u8> {
    let mut image = image::load_from_memory(&sample("carte-identite-recto.png"))
        .expect("the sample decodes")
        .to_rgb8();
    let [a, b, c, _] = n.to_le_bytes();
    image.put_pixel(0, 0, image::Rgb([a, b, c]));
    let mut out = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("encoding to memory");
    out.into_inner()
}

/// A document the service acknowledged: where it went and its SHA-256.
struct Acknowledged {
    reference: String,
    id: String,
    sha256: String,
}

/// Clients sending uploads without pause while the services go down and come back, each into
/// dossiers of its own that it creates as it goes. Every answer must be a success or a 503
/// (a hang or any other answer is recorded as a failure); what was acknowledged is returned.
struct Load {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    clients: Vec<tokio::task::JoinHandle<(Vec<Acknowledged>, Vec<String>)>>,
}

impl Load {
    fn start(server: &Server, clients: u32) -> Load {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let clients = (0..clients)
            .map(|client| {
                let stop = stop.clone();
                let http = server.http.clone();
                let base = server.base.clone();
                let token = server.tokens.portal.clone();
                tokio::spawn(async move {
                    let mut acknowledged = Vec::new();
                    let mut failures = Vec::new();
                    let mut n = 0u32;
                    let mut created = false;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let reference = format!("L{client}-{n}");
                        let request = if created {
                            http.post(format!(
                                "{base}/api/v1/dossiers/{reference}/pieces/identite/documents"
                            ))
                            .header("Content-Disposition", "attachment; filename=\"carte.png\"")
                            .body(png(1_000 + client * 100_000 + n))
                        } else {
                            http.post(format!("{base}/api/v1/dossiers")).json(&json!({
                                "campaign": "faults",
                                "reference": reference,
                                "candidate": {"birth_date": "1990-01-01"},
                            }))
                        };
                        let sent = request
                            .bearer_auth(&token)
                            .timeout(Duration::from_secs(60))
                            .send()
                            .await;
                        let response = match sent {
                            Ok(response) => response,
                            Err(e) => {
                                failures.push(format!("{reference}: no answer: {e}"));
                                break;
                            }
                        };
                        let status = response.status().as_u16();
                        let body: Value = response.json().await.unwrap_or(Value::Null);
                        match (created, status) {
                            // A creation that committed but whose answer was lost (the
                            // database went down before the dossier was read back) finds its
                            // dossier when it is sent again: 200, the same dossier.
                            (false, 200 | 201) => created = true,
                            (true, 200 | 201) => {
                                acknowledged.push(Acknowledged {
                                    reference,
                                    id: body["id"].as_str().unwrap_or_default().to_string(),
                                    sha256: body["sha256"].as_str().unwrap_or_default().to_string(),
                                });
                                created = false;
                                n += 1;
                            }
                            (_, 503) => tokio::time::sleep(Duration::from_millis(100)).await,
                            _ => failures.push(format!("{reference}: {status} {body}")),
                        }
                    }
                    (acknowledged, failures)
                })
            })
            .collect();
        Load { stop, clients }
    }

    /// Stops the clients; what they had acknowledged, after asserting that no answer was
    /// anything but a success or a 503.
    async fn finish(self) -> Vec<Acknowledged> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut all = Vec::new();
        for client in self.clients {
            let (acknowledged, failures) = client.await.expect("a load client");
            assert!(failures.is_empty(), "{failures:#?}");
            all.extend(acknowledged);
        }
        all
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outages_answer_503_and_the_service_recovers_by_itself() {
    if !services_available() {
        return;
    }
    let services = Services {
        dir: tempfile::tempdir().unwrap(),
    };
    std::fs::set_permissions(
        services.dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    for kind in ["postgres", "garage", "clamd"] {
        up(kind, &services.path(kind));
    }
    let pg = exports(&services.path("postgres"));
    let s3 = exports(&services.path("garage"));
    let clamd = exports(&services.path("clamd"));
    let config = format!(
        r#"secret = "faults-secret-0123456789abcdef0123456789"

[database]
url = "{database}"

[storage]
kind = "s3"

[storage.s3]
endpoint = "{endpoint}"
bucket = "{bucket}"
region = "{region}"
path_style = true

[clamav]
address = "{clamd}"
"#,
        database = value(&pg, "GUICHET_TEST_DATABASE_URL"),
        endpoint = value(&s3, "GUICHET_TEST_S3_ENDPOINT"),
        bucket = value(&s3, "GUICHET_TEST_S3_BUCKET"),
        region = value(&s3, "GUICHET_TEST_S3_REGION"),
        clamd = value(&clamd, "GUICHET_TEST_CLAMD_TCP"),
    );
    let credentials = vec![
        (
            "AWS_ACCESS_KEY_ID".to_string(),
            value(&s3, "AWS_ACCESS_KEY_ID"),
        ),
        (
            "AWS_SECRET_ACCESS_KEY".to_string(),
            value(&s3, "AWS_SECRET_ACCESS_KEY"),
        ),
    ];
    let server = Server::with_config_and_env(config, credentials, None);
    server.load_campaign(&open_campaign("faults")).await;
    for reference in ["F-1", "F-2", "F-3", "F-4"] {
        server
            .create_dossier("faults", reference, json!({"birth_date": "1990-01-01"}))
            .await;
    }
    let first = until_stored(&server, "F-1", &png(1)).await;
    assert_eq!(first["scan"], "clean", "{first}");
    let load = Load::start(&server, 3);

    // PostgreSQL down: reads and uploads answer 503, readiness says so.
    down("postgres", &services.path("postgres"));
    let read = server
        .get("/api/v1/dossiers/F-1", &server.tokens.portal)
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .expect("an answer, not a hang");
    assert_unavailable(read, "dossier read without PostgreSQL").await;
    assert_unavailable(
        upload(&server, "F-2", &png(2)).await,
        "upload without PostgreSQL",
    )
    .await;
    let ready = server.http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503, "not ready without PostgreSQL");
    up("postgres", &services.path("postgres"));
    let second = until_stored(&server, "F-2", &png(2)).await;
    assert_eq!(second["sha256"].as_str().map(str::len), Some(64));

    // clamd down: documents are taken but stay `pending`, never passed unscanned, and are
    // scanned once clamd is back.
    down("clamd", &services.path("clamd"));
    let pending = until_stored(&server, "F-4", &png(4)).await;
    assert_eq!(pending["scan"], "pending", "{pending}");
    up("clamd", &services.path("clamd"));
    let id = pending["id"].as_str().unwrap().to_string();
    let start = Instant::now();
    loop {
        let dossier = server.dossier("F-4").await;
        let scan = dossier["pieces"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["documents"].as_array().unwrap())
            .find(|d| d["id"] == id.as_str())
            .map(|d| d["scan"].clone());
        if scan == Some(json!("clean")) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the pending document was not rescanned: {dossier}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The S3 service down: uploads answer 503 and leave no document row behind.
    down("garage", &services.path("garage"));
    assert_unavailable(
        upload(&server, "F-3", &png(3)).await,
        "upload without the object store",
    )
    .await;
    let f3 = server.dossier("F-3").await;
    assert!(
        f3["pieces"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["documents"].as_array().unwrap().is_empty()),
        "no document row without its object: {f3}"
    );
    // Garage comes back: the same process stores again without a restart.
    up("garage", &services.path("garage"));
    let third = until_stored(&server, "F-3", &png(3)).await;
    assert_eq!(third["scan"], "clean", "{third}");

    // Everything acknowledged under load is there with its SHA-256, through every outage.
    let acknowledged = load.finish().await;
    assert!(
        !acknowledged.is_empty(),
        "the load was acknowledged nothing"
    );
    for document in &acknowledged {
        let dossier = server.dossier(&document.reference).await;
        let found = dossier["pieces"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["documents"].as_array().unwrap())
            .find(|d| d["id"] == document.id.as_str());
        assert_eq!(
            found.map(|d| d["sha256"].clone()),
            Some(json!(document.sha256)),
            "acknowledged {} in {}: {dossier}",
            document.id,
            document.reference
        );
    }

    // Nothing stored is missing or corrupt.
    let (_, out, err) = server.verify();
    assert!(
        !out.lines()
            .any(|l| l.starts_with("missing") || l.starts_with("corrupt")),
        "{out}\n{err}"
    );
}
