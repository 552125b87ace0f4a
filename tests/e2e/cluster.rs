//! More than one storage node: three `guichet serve` processes on one PostgreSQL database, over
//! a 3-node Garage cluster that keeps every object on every node (replication factor 3,
//! consistent mode: a write or a read answers once two nodes of three have it). Each process
//! talks to a different node. One node is killed (SIGKILL) while documents stream in through
//! the three processes, and later started again.
//!
//! Through the two processes whose node lives, uploads go on being acknowledged: the two
//! remaining nodes make the quorum. The process that talks only to the dead node answers its
//! uploads 503 until the node is back, which is acceptable (that process has no store; behind
//! a load balancer its `/readyz` fails and it gets no traffic) as long as nothing it answered
//! 503 is recorded and nothing acknowledged anywhere is lost: every acknowledged document is
//! read back with its bytes while the node is down and after it is back, through every
//! process, and `guichet verify` finds nothing missing, corrupt or orphaned.
//!
//! The test starts its own cluster (`scripts/services/garage-cluster-up`), so that killing a
//! node disturbs no other test.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::{Server, fresh_database, open_campaign, repo_root, s3_deployment_config};
use scanners::generate::{text_page, to_jpeg};

const CAMPAIGN: &str = "cluster-2027";
/// Dossiers each process may fill (one document each): more than it gets to send.
const DOSSIERS_PER_PROCESS: usize = 40;
/// Uploads in flight at once through each process.
const LANES: usize = 2;
/// The node killed, the one the third process talks to.
const KILLED: usize = 3;
/// Acknowledged uploads before the kill, and through each surviving process after it.
const BEFORE_KILL: usize = 12;
const WHILE_DOWN: usize = 8;

/// Whether PostgreSQL and the garage binary are here; missing fails under
/// `GUICHET_TEST_REQUIRE_ALL_BACKENDS=1` (as in `scripts/test-all`), a printed skip otherwise.
fn cluster_available() -> bool {
    let database = std::env::var_os("GUICHET_TEST_DATABASE_URL").is_some();
    let on_path = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join("garage").is_file()));
    let built = std::env::var_os("HOME")
        .is_some_and(|home| PathBuf::from(home).join(".cargo/bin/garage").is_file());
    let garage = std::env::var_os("GARAGE_BIN").is_some() || on_path || built;
    if !(database && garage) {
        assert!(
            std::env::var("GUICHET_TEST_REQUIRE_ALL_BACKENDS").as_deref() != Ok("1"),
            "the cluster test needs PostgreSQL (GUICHET_TEST_DATABASE_URL) and the garage binary"
        );
        eprintln!("PostgreSQL or garage missing: the cluster test is skipped");
    }
    database && garage
}

/// A Garage cluster of three nodes of the test's own, stopped and deleted when dropped.
struct Cluster {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Cluster {
    fn up() -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let status = Command::new(repo_root().join("scripts/services/garage-cluster-up"))
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .status()
            .expect("garage-cluster-up runs");
        assert!(status.success(), "garage-cluster-up failed");
        let env = std::fs::read_to_string(dir.path().join("env"))
            .expect("the cluster's env file")
            .lines()
            .filter_map(|line| line.strip_prefix("export "))
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Cluster { dir, env }
    }

    fn value(&self, key: &str) -> &str {
        self.env
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{key} in the cluster's env file"))
    }

    /// What a guichet process needs to reach the bucket: the cluster's key.
    fn credentials(&self) -> Vec<(String, String)> {
        ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
            .iter()
            .map(|k| (k.to_string(), self.value(k).to_string()))
            .collect()
    }

    /// `garage-cluster-node DIR N ACTION` (`kill`, `start`), off the test's runtime thread so
    /// that the uploads in flight go on meanwhile.
    async fn node(&self, n: usize, action: &str) {
        let script = repo_root().join("scripts/services/garage-cluster-node");
        let dir = self.dir.path().to_path_buf();
        let action = action.to_string();
        let status = tokio::task::spawn_blocking(move || {
            Command::new(script)
                .arg(dir)
                .arg(n.to_string())
                .arg(&action)
                .status()
                .expect("garage-cluster-node runs")
        })
        .await
        .expect("the node script's thread");
        assert!(status.success(), "garage-cluster-node {n} failed");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(repo_root().join("scripts/services/garage-cluster-down"))
            .arg(self.dir.path())
            .status();
    }
}

/// A distinct document for `seed`: a page of text-like lines as a JPEG, at a low resolution
/// (small, and quick to verify).
fn document(seed: u64) -> Vec<u8> {
    to_jpeg(&text_page(50, seed, 1), 85)
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Where the killed node stands when an upload starts or ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    AllUp = 0,
    Killing = 1,
    Down = 2,
}

/// What the lanes of uploads and the test's control share.
struct Shared {
    /// The [`Phase`], as a number.
    phase: AtomicUsize,
    /// Set when the lanes are to send no more.
    stop: AtomicBool,
    /// Uploads acknowledged, through every process.
    acknowledged: AtomicUsize,
    /// Uploads started once the node was dead and acknowledged, per process.
    acknowledged_while_down: [AtomicUsize; 3],
    /// Uploads started once the node was dead, per process.
    sent_while_down: [AtomicUsize; 3],
}

impl Shared {
    fn phase(&self) -> Phase {
        match self.phase.load(Ordering::SeqCst) {
            0 => Phase::AllUp,
            1 => Phase::Killing,
            _ => Phase::Down,
        }
    }
}

/// One upload as the client saw it.
#[derive(Debug)]
struct Sent {
    process: usize,
    reference: String,
    bytes: Vec<u8>,
    started: Phase,
    status: u16,
    body: Value,
}

impl Sent {
    fn acknowledged(&self) -> bool {
        matches!(self.status, 200 | 201)
    }
}

fn reference(process: usize, n: usize) -> String {
    format!("C-{process}-{n}")
}

/// Sends `bytes` as the `identite` piece of `reference` through `server`; the status and body.
async fn send(server: &Server, reference: &str, bytes: &[u8]) -> (u16, Value) {
    let response = server
        .upload(reference, "identite", "carte.jpg", bytes.to_vec())
        .await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// One lane of uploads through process `process`, each into a dossier of its own, until told
/// to stop or out of dossiers.
async fn lane(server: &Server, process: usize, next: &AtomicUsize, shared: &Shared) -> Vec<Sent> {
    let mut sent = Vec::new();
    while !shared.stop.load(Ordering::SeqCst) {
        let n = next.fetch_add(1, Ordering::SeqCst);
        if n >= DOSSIERS_PER_PROCESS {
            break;
        }
        let reference = reference(process, n);
        let bytes = document((process * 1000 + n) as u64);
        let started = shared.phase();
        if started == Phase::Down {
            shared.sent_while_down[process].fetch_add(1, Ordering::SeqCst);
        }
        let (status, body) = send(server, &reference, &bytes).await;
        let upload = Sent {
            process,
            reference,
            bytes,
            started,
            status,
            body,
        };
        if upload.acknowledged() {
            shared.acknowledged.fetch_add(1, Ordering::SeqCst);
            if started == Phase::Down {
                shared.acknowledged_while_down[process].fetch_add(1, Ordering::SeqCst);
            }
        } else {
            // The process's store is unreachable: do not spin through its dossiers.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        sent.push(upload);
    }
    sent
}

/// Waits until `done` holds, polling; `false` if it still does not after 30 seconds.
async fn wait_for(done: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > Duration::from_secs(30) {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}

/// The document `id`'s bytes, read through `server`, hash to `sha256`.
async fn read_back(server: &Server, id: &str, sha256_expected: &str, what: &str) {
    let response = server
        .get(
            &format!("/api/v1/documents/{id}/content"),
            &server.tokens.staff,
        )
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .expect("guichet answers");
    assert_eq!(response.status(), 200, "{what}: document {id} served");
    let bytes = response.bytes().await.expect("the content");
    assert_eq!(sha256(&bytes), sha256_expected, "{what}: document {id}");
}

/// Waits until no background job is queued or running (the `guichet_jobs` gauges of
/// `/metrics`, read from the shared database); a failure after 60 seconds.
async fn wait_for_background_work(server: &Server) {
    let start = Instant::now();
    loop {
        let metrics = server
            .get("/metrics", &server.tokens.admin)
            .send()
            .await
            .expect("guichet answers")
            .text()
            .await
            .expect("the metrics");
        let busy: Vec<&str> = metrics
            .lines()
            .filter(|l| l.starts_with("guichet_jobs{"))
            .filter(|l| l.contains("state=\"queued\"") || l.contains("state=\"running\""))
            .filter(|l| l.rsplit(' ').next() != Some("0"))
            .collect();
        if busy.is_empty() {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "background work still pending after 60 s: {busy:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// How many documents the dossier `reference` holds, in all its pieces.
async fn documents(server: &Server, reference: &str) -> usize {
    server.dossier(reference).await["pieces"]
        .as_array()
        .expect("pieces")
        .iter()
        .map(|p| p["documents"].as_array().map_or(0, Vec::len))
        .sum()
}

#[tokio::test]
async fn a_storage_node_killed_during_intake_loses_nothing_acknowledged() {
    if !cluster_available() {
        return;
    }
    let cluster = Cluster::up();
    // The three processes share the database, the bucket and its prefix; process p talks to
    // node p + 1 only.
    let database = fresh_database().await;
    let prefix = format!("e2e-{}/", uuid::Uuid::new_v4().simple());
    let servers: Vec<Server> = (1..=3)
        .map(|node| {
            let config = s3_deployment_config(
                &database.url,
                cluster.value(&format!("GUICHET_TEST_S3_ENDPOINT_{node}")),
                cluster.value("GUICHET_TEST_S3_BUCKET"),
                cluster.value("GUICHET_TEST_S3_REGION"),
                &prefix,
            );
            Server::with_config_and_env(config, cluster.credentials(), Some(database.clone()))
        })
        .collect();
    servers[0].load_campaign(&open_campaign(CAMPAIGN)).await;
    for (process, server) in servers.iter().enumerate() {
        for n in 0..DOSSIERS_PER_PROCESS {
            server
                .create_dossier(
                    CAMPAIGN,
                    &reference(process, n),
                    json!({"birth_date": "1990-01-01"}),
                )
                .await;
        }
    }

    // Uploads through the three processes at once; the node is killed once some are in.
    let shared = Shared {
        phase: AtomicUsize::new(Phase::AllUp as usize),
        stop: AtomicBool::new(false),
        acknowledged: AtomicUsize::new(0),
        acknowledged_while_down: Default::default(),
        sent_while_down: Default::default(),
    };
    let next: [AtomicUsize; 3] = Default::default();
    let lanes = futures::future::join_all((0..3).flat_map(|process| {
        let (server, next, shared) = (&servers[process], &next[process], &shared);
        (0..LANES).map(move |_| lane(server, process, next, shared))
    }));
    // The control stops the lanes in any case, so that what was sent is checked below.
    let control = async {
        let started = wait_for(|| shared.acknowledged.load(Ordering::SeqCst) >= BEFORE_KILL).await;
        if started {
            shared
                .phase
                .store(Phase::Killing as usize, Ordering::SeqCst);
            cluster.node(KILLED, "kill").await;
            shared.phase.store(Phase::Down as usize, Ordering::SeqCst);
        }
        let went_on = started
            && wait_for(|| {
                (0..2)
                    .all(|p| shared.acknowledged_while_down[p].load(Ordering::SeqCst) >= WHILE_DOWN)
                    && shared.sent_while_down[KILLED - 1].load(Ordering::SeqCst) >= 1
            })
            .await;
        shared.stop.store(true, Ordering::SeqCst);
        (started, went_on)
    };
    let (sent, (started, went_on)) = tokio::join!(lanes, control);
    let sent: Vec<Sent> = sent.into_iter().flatten().collect();

    // Every answer is an acknowledgement or a 503 (a store out of reach), never an error
    // that would leave the client unsure; an acknowledgement carries the bytes' hash.
    for upload in &sent {
        match upload.status {
            200 | 201 => assert_eq!(
                upload.body["sha256"],
                sha256(&upload.bytes),
                "{}: acknowledged hash",
                upload.reference
            ),
            503 => assert_eq!(
                upload.body["error"]["code"], "unavailable",
                "{}: {}",
                upload.reference, upload.body
            ),
            other => panic!("{}: answered {other}: {}", upload.reference, upload.body),
        }
    }
    // Through the processes whose node lives, every upload sent once the node was dead was
    // acknowledged: the two remaining nodes are a quorum. Through the third, only 503s.
    for upload in sent.iter().filter(|u| u.started == Phase::Down) {
        if upload.process == KILLED - 1 {
            assert_eq!(upload.status, 503, "{}: its node is dead", upload.reference);
        } else {
            assert!(
                upload.acknowledged(),
                "{}: refused with a quorum of nodes alive: {}",
                upload.reference,
                upload.body
            );
        }
    }
    let counts = |phase: Phase| -> Vec<(usize, usize)> {
        (0..3)
            .map(|p| {
                let of = |u: &&Sent| u.process == p && u.started == phase;
                let all = sent.iter().filter(of).count();
                let acknowledged = sent.iter().filter(of).filter(|u| u.acknowledged()).count();
                (acknowledged, all)
            })
            .collect()
    };
    println!(
        "acknowledged/sent per process: all nodes up {:?}, during the kill {:?}, node down {:?}",
        counts(Phase::AllUp),
        counts(Phase::Killing),
        counts(Phase::Down)
    );
    assert!(
        started,
        "{BEFORE_KILL} uploads not acknowledged within 30 s"
    );
    assert!(
        went_on,
        "with the node down, not {WHILE_DOWN} uploads acknowledged through each other process \
         within 30 s"
    );
    let acknowledged: Vec<&Sent> = sent.iter().filter(|u| u.acknowledged()).collect();
    let refused: Vec<&Sent> = sent.iter().filter(|u| !u.acknowledged()).collect();
    println!(
        "{} uploads: {} acknowledged, {} answered 503 (through the dead node's process)",
        sent.len(),
        acknowledged.len(),
        refused.len()
    );

    // While the node is down, every acknowledged document is read back with its bytes through
    // the two processes whose node lives.
    for (i, upload) in acknowledged.iter().enumerate() {
        let id = upload.body["id"].as_str().expect("a document id");
        let sha = sha256(&upload.bytes);
        read_back(&servers[i % 2], id, &sha, "node down").await;
    }

    // The node comes back; the process that talks to it accepts uploads again: what it
    // answered 503 goes through when sent again, recorded once.
    cluster.node(KILLED, "start").await;
    let mut all: Vec<(String, String)> = acknowledged
        .iter()
        .map(|u| {
            (
                u.body["id"].as_str().expect("a document id").to_string(),
                sha256(&u.bytes),
            )
        })
        .collect();
    for upload in &refused {
        let server = &servers[upload.process];
        assert_eq!(
            documents(server, &upload.reference).await,
            0,
            "{}: answered 503 yet recorded",
            upload.reference
        );
        let (status, body) = send(server, &upload.reference, &upload.bytes).await;
        assert!(
            matches!(status, 200 | 201),
            "{}: sent again after the node is back: {status} {body}",
            upload.reference
        );
        assert_eq!(body["sha256"], sha256(&upload.bytes));
        let id = body["id"].as_str().expect("a document id");
        all.push((id.to_string(), sha256(&upload.bytes)));
        assert_eq!(
            documents(server, &upload.reference).await,
            1,
            "{}: recorded once",
            upload.reference
        );
    }

    // Every document is read back through every process, the revived node's included, and
    // `guichet verify`, through the revived node and through another, finds every object with
    // its bytes and nothing else.
    for server in &servers {
        for (id, sha) in &all {
            read_back(server, id, sha, "node back").await;
        }
    }
    // Background work the outage delayed (display copies) finishes first: its objects would
    // otherwise show as orphans, stored and not yet recorded.
    wait_for_background_work(&servers[0]).await;
    for node in [KILLED, 1] {
        let (code, out, err) = servers[node - 1].verify();
        assert_eq!(code, 0, "guichet verify through node {node}:\n{out}\n{err}");
    }
}
