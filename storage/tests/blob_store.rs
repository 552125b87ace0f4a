//! One suite, every object store: each test below is written once and run on the filesystem
//! store (always, in a temporary directory) and on the S3 store (against a real S3 service,
//! Garage in CI: `scripts/services/garage-up DIR && . DIR/env`), each S3 test under a fresh
//! key prefix of its own.
//!
//! The S3 variants need `GUICHET_TEST_S3_ENDPOINT`, `GUICHET_TEST_S3_BUCKET`,
//! `GUICHET_TEST_S3_REGION`, `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`. Without them
//! they say they are skipped, unless `GUICHET_TEST_REQUIRE_ALL_BACKENDS=1`, where they fail:
//! CI never passes by silently skipping a backend.
//!
//! What a test checks "behind the store's back" (the objects' layout, pending multipart
//! uploads) goes through [`Raw`]: the directory itself, or a separate S3 client.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use storage::{
    BlobStore, ContentKey, FsBlobStore, Put, S3BlobStore, S3Settings, StagedFile, Staging,
    StoreError,
};
use tokio::io::AsyncReadExt;

const MIB: u64 = 1024 * 1024;

/// Runs each named test once per backend: `fs::<test>` and `s3::<test>`.
macro_rules! on_every_backend {
    ($($test:ident),+ $(,)?) => {
        mod fs {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::Backend::Fs).await;
                }
            )+
        }
        mod s3 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::Backend::S3).await;
                }
            )+
        }
    };
}

on_every_backend!(
    put_then_open_returns_the_bytes_and_lists_the_key,
    same_content_twice_is_stored_once,
    objects_are_laid_out_by_content_key,
    large_document_round_trips_in_parts,
    empty_document_round_trips,
    absent_key_opens_as_none,
    keys_lists_exactly_what_was_put,
    sweep_aborts_abandoned_uploads_and_keeps_objects,
    unreachable_store_is_unavailable,
);

async fn put_then_open_returns_the_bytes_and_lists_the_key(backend: Backend) {
    let Some(h) = Harness::new(backend, Tuning::default()).await else {
        return;
    };
    let content = bytes_of(100_000, 1);
    let staged = h.stage(&content).await;
    let key = staged.key().clone();
    let staged_path = staged.path().to_path_buf();

    assert_eq!(h.store.put(staged).await.expect("put"), Put::Stored);

    assert!(!staged_path.exists(), "the staged file is gone once stored");
    assert!(h.store.exists(&key).await.expect("exists"));
    assert_eq!(h.read(&key).await, Some(content));
    assert_eq!(h.store.keys().await.expect("keys"), vec![key]);
    h.store.ping().await.expect("ping");
}

async fn same_content_twice_is_stored_once(backend: Backend) {
    let Some(h) = Harness::new(backend, Tuning::default()).await else {
        return;
    };
    let content = bytes_of(4096, 2);

    let first = h.store.put(h.stage(&content).await).await.expect("put");
    let second = h.store.put(h.stage(&content).await).await.expect("put");

    assert_eq!((first, second), (Put::Stored, Put::AlreadyPresent));
    assert_eq!(
        h.store.keys().await.expect("keys"),
        vec![ContentKey::of(&content)]
    );
    assert_eq!(h.raw.paths().await.len(), 1);
}

async fn objects_are_laid_out_by_content_key(backend: Backend) {
    let Some(h) = Harness::new(backend, Tuning::default()).await else {
        return;
    };
    let content = b"%PDF-1.7 guichet".to_vec();
    let hex = ContentKey::of(&content).hex().to_string();

    h.store.put(h.stage(&content).await).await.expect("put");

    assert_eq!(
        h.raw.paths().await,
        vec![format!("sha256/{}/{hex}", &hex[..2])]
    );
    if let Some(checksum) = h.raw.stored_checksum(&ContentKey::of(&content)).await {
        assert_eq!(
            checksum,
            base64_of_hex(&hex),
            "the server kept the SHA-256 it checked"
        );
    }
}

async fn large_document_round_trips_in_parts(backend: Backend) {
    // 5 MiB parts (the S3 minimum), two in flight: a 12 MiB document goes up in 3 parts.
    let tuning = Tuning {
        multipart_threshold: 5 * MIB,
        part_size: 5 * MIB,
        concurrency: 2,
    };
    let Some(h) = Harness::new(backend, tuning).await else {
        return;
    };
    let content = bytes_of(12 * MIB as usize + 12_345, 3);
    let key = ContentKey::of(&content);

    assert_eq!(
        h.store.put(h.stage(&content).await).await.expect("put"),
        Put::Stored
    );

    assert_eq!(h.read(&key).await.map(|b| b.len()), Some(content.len()));
    assert!(h.read(&key).await == Some(content), "same bytes back");
    assert_eq!(h.store.keys().await.expect("keys"), vec![key.clone()]);
    if let Some(parts) = h.raw.multipart_parts(&key).await {
        assert_eq!(parts, 3, "stored as a multipart object");
        let checksum = h.raw.stored_checksum(&key).await;
        assert!(
            checksum.as_deref().is_some_and(|c| c.ends_with("-3")),
            "each part went with its SHA-256, checked by the server: {checksum:?}"
        );
    }
    assert_eq!(h.raw.pending_uploads().await, 0);
}

async fn empty_document_round_trips(backend: Backend) {
    let Some(h) = Harness::new(backend, Tuning::default()).await else {
        return;
    };
    let key = ContentKey::of(b"");

    assert_eq!(
        h.store.put(h.stage(b"").await).await.expect("put"),
        Put::Stored
    );

    assert_eq!(h.read(&key).await, Some(Vec::new()));
}

async fn absent_key_opens_as_none(backend: Backend) {
    let Some(h) = Harness::new(backend, Tuning::default()).await else {
        return;
    };
    let absent = ContentKey::of(b"never stored");

    assert!(h.store.open(&absent).await.expect("open").is_none());
    assert!(!h.store.exists(&absent).await.expect("exists"));
    assert!(h.store.keys().await.expect("keys").is_empty());
}

async fn keys_lists_exactly_what_was_put(backend: Backend) {
    let Some(h) = Harness::new(backend, Tuning::default()).await else {
        return;
    };
    let mut expected = Vec::new();
    for seed in 10..13 {
        let content = bytes_of(1000 + seed, seed as u64);
        expected.push(ContentKey::of(&content));
        h.store.put(h.stage(&content).await).await.expect("put");
    }
    expected.sort();
    // Something that is not an object of the store, where a careless listing would find it.
    h.raw.put("sha256/zz/not-a-content-key", b"stray").await;

    assert_eq!(h.store.keys().await.expect("keys"), expected);
}

async fn sweep_aborts_abandoned_uploads_and_keeps_objects(backend: Backend) {
    let Some(h) = Harness::new(backend, Tuning::default()).await else {
        return;
    };
    let kept = bytes_of(2048, 20);
    h.store.put(h.stage(&kept).await).await.expect("put");
    let abandoned = h.raw.abandon_upload(&ContentKey::of(b"abandoned")).await;

    let young = h
        .store
        .sweep(Duration::from_secs(3600))
        .await
        .expect("sweep");
    assert_eq!(
        young, 0,
        "an upload younger than the bound may be in flight"
    );
    assert_eq!(h.raw.pending_uploads().await, abandoned);

    let swept = h.store.sweep(Duration::ZERO).await.expect("sweep");
    assert_eq!(swept, abandoned);
    assert_eq!(h.raw.pending_uploads().await, 0);
    assert_eq!(
        h.store.keys().await.expect("keys"),
        vec![ContentKey::of(&kept)]
    );
}

async fn unreachable_store_is_unavailable(backend: Backend) {
    let Some(h) = Harness::new(backend, Tuning::default()).await else {
        return;
    };
    let store = h.unreachable_store().await;

    let err = store.ping().await.expect_err("nothing to reach");

    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}

/// S3 only: what the server's checks and the multipart drop guard guarantee.
mod s3_only {
    use super::*;

    /// An S3 harness that sends objects above 5 MiB in parts of 5 MiB, `concurrency` at a
    /// time; `None` when no S3 server is configured.
    async fn multipart_harness(concurrency: usize) -> Option<Harness> {
        let tuning = Tuning {
            multipart_threshold: 5 * MIB,
            part_size: 5 * MIB,
            concurrency,
        };
        Harness::new(Backend::S3, tuning).await
    }

    /// Waits until the store holds no multipart upload in progress, 20 s at most.
    async fn assert_nothing_left_pending(h: &Harness) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let pending = h.raw.pending_uploads().await;
            if pending == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{pending} cancelled uploads are still pending"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn server_refuses_bytes_that_do_not_match_their_key() {
        let Some(h) = multipart_harness(2).await else {
            return;
        };
        // Small (one checked PUT) and large (parts hashed on the way, then compared).
        for size in [10_000, 11 * MIB as usize] {
            let staged = h.stage(&bytes_of(size, 30)).await;
            std::fs::write(staged.path(), bytes_of(size, 31)).expect("tamper");
            let key = staged.key().clone();

            let err = h.store.put(staged).await.expect_err("tampered bytes");

            assert!(
                matches!(&err, StoreError::DigestMismatch { key: k } if *k == key),
                "{err:?}"
            );
            assert!(!h.store.exists(&key).await.expect("exists"));
        }
        assert!(h.store.keys().await.expect("keys").is_empty());
        assert_eq!(h.raw.pending_uploads().await, 0, "failed uploads aborted");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cancelled_multipart_upload_is_aborted() {
        // One part at a time, so the upload lasts long enough to be caught half-way.
        let Some(h) = multipart_harness(1).await else {
            return;
        };
        let staged = h.stage(&bytes_of(60 * MIB as usize, 40)).await;
        let key = staged.key().clone();
        let store = std::sync::Arc::clone(&h.store);
        let upload = tokio::spawn(async move { store.put(staged).await });

        let deadline = Instant::now() + Duration::from_secs(20);
        while h.raw.pending_uploads().await == 0 {
            assert!(!upload.is_finished(), "the upload ended before it was seen");
            assert!(Instant::now() < deadline, "no multipart upload began");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        upload.abort();
        let _ = upload.await;

        assert_nothing_left_pending(&h).await;
        assert!(!h.store.exists(&key).await.expect("exists"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn upload_cancelled_at_any_moment_leaves_nothing_pending() {
        // Cancelled a little later each time: while the upload is being created (the store
        // has opened it, the answer is on its way), while parts are sent, near the end.
        let Some(h) = multipart_harness(1).await else {
            return;
        };
        for (seed, delay_ms) in (50..).zip([0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64]) {
            let staged = h.stage(&bytes_of(12 * MIB as usize, seed)).await;
            let store = std::sync::Arc::clone(&h.store);
            let upload = tokio::spawn(async move { store.put(staged).await });
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            upload.abort();
            let _ = upload.await;
        }

        assert_nothing_left_pending(&h).await;
    }
}

// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Backend {
    Fs,
    S3,
}

/// The S3 store's multipart tunables (the filesystem store has none).
#[derive(Debug, Clone, Copy)]
struct Tuning {
    multipart_threshold: u64,
    part_size: u64,
    concurrency: usize,
}

impl Default for Tuning {
    fn default() -> Self {
        let defaults = S3Settings::new("unused");
        Tuning {
            multipart_threshold: defaults.multipart_threshold,
            part_size: defaults.part_size,
            concurrency: defaults.concurrency,
        }
    }
}

struct Harness {
    _dir: tempfile::TempDir,
    staging: Staging,
    store: std::sync::Arc<dyn BlobStore>,
    raw: Raw,
}

impl Harness {
    /// The store under test, or `None` (said on stderr) when its backend is not configured.
    async fn new(backend: Backend, tuning: Tuning) -> Option<Harness> {
        let dir = tempfile::tempdir().expect("temp dir");
        let staging = Staging::open(dir.path().join("staging"))
            .await
            .expect("staging");
        let (store, raw): (std::sync::Arc<dyn BlobStore>, Raw) = match backend {
            Backend::Fs => {
                let root = dir.path().join("objects");
                let store = FsBlobStore::open(&root).await.expect("fs store");
                (std::sync::Arc::new(store), Raw::Fs { root })
            }
            Backend::S3 => {
                let env = S3Env::from_env()?;
                let prefix = format!("test-{}/", uuid::Uuid::new_v4().simple());
                let store = S3BlobStore::connect(env.settings(&prefix, tuning))
                    .await
                    .expect("s3 store");
                let client = env.raw_client().await;
                let raw = Raw::S3 {
                    client,
                    bucket: env.bucket,
                    prefix,
                };
                (std::sync::Arc::new(store), raw)
            }
        };
        Some(Harness {
            _dir: dir,
            staging,
            store,
            raw,
        })
    }

    async fn stage(&self, content: &[u8]) -> StagedFile {
        let mut writer = self.staging.create(u64::MAX).await.expect("stage");
        for chunk in content.chunks(MIB as usize) {
            writer.write(chunk).await.expect("stage");
        }
        writer.finish().await.expect("stage")
    }

    async fn read(&self, key: &ContentKey) -> Option<Vec<u8>> {
        let mut blob = self.store.open(key).await.expect("open")?;
        let mut content = Vec::new();
        blob.reader
            .read_to_end(&mut content)
            .await
            .expect("read object");
        assert_eq!(blob.size, content.len() as u64, "announced size");
        Some(content)
    }

    /// The same backend, pointed at nothing.
    async fn unreachable_store(&self) -> Box<dyn BlobStore> {
        match &self.raw {
            Raw::Fs { root } => {
                let gone = root.with_file_name("gone");
                let store = FsBlobStore::open(&gone).await.expect("fs store");
                std::fs::remove_dir_all(&gone).expect("remove");
                Box::new(store)
            }
            Raw::S3 { bucket, .. } => {
                let closed = std::net::TcpListener::bind("127.0.0.1:0")
                    .and_then(|l| l.local_addr())
                    .expect("a free port");
                let mut settings = S3Settings::new(bucket);
                settings.endpoint = Some(format!("http://{closed}"));
                settings.region = Some("garage".into());
                settings.path_style = true;
                Box::new(S3BlobStore::connect(settings).await.expect("s3 store"))
            }
        }
    }
}

/// The backend seen directly, behind the store's back.
enum Raw {
    Fs {
        root: PathBuf,
    },
    S3 {
        client: aws_sdk_s3::Client,
        bucket: String,
        prefix: String,
    },
}

impl Raw {
    /// Every object's path relative to the store's root (or prefix), sorted.
    async fn paths(&self) -> Vec<String> {
        let mut paths = match self {
            Raw::Fs { root } => walk(root, root),
            Raw::S3 {
                client,
                bucket,
                prefix,
            } => {
                let listed = client
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix(prefix)
                    .send()
                    .await
                    .expect("list objects");
                listed
                    .contents()
                    .iter()
                    .filter_map(|o| o.key()?.strip_prefix(prefix.as_str()).map(str::to_string))
                    .collect()
            }
        };
        paths.sort();
        paths
    }

    async fn put(&self, path: &str, content: &[u8]) {
        match self {
            Raw::Fs { root } => {
                let target = root.join(path);
                std::fs::create_dir_all(target.parent().expect("a parent")).expect("mkdir");
                std::fs::write(target, content).expect("write");
            }
            Raw::S3 {
                client,
                bucket,
                prefix,
            } => {
                client
                    .put_object()
                    .bucket(bucket)
                    .key(format!("{prefix}{path}"))
                    .body(ByteStream::from(content.to_vec()))
                    .send()
                    .await
                    .expect("raw put");
            }
        }
    }

    /// Starts an upload and walks away from it, as a crash would. Returns how many uploads
    /// the backend now holds pending (the filesystem store has no such thing).
    async fn abandon_upload(&self, key: &ContentKey) -> usize {
        match self {
            Raw::Fs { .. } => 0,
            Raw::S3 {
                client,
                bucket,
                prefix,
            } => {
                client
                    .create_multipart_upload()
                    .bucket(bucket)
                    .key(format!("{prefix}{}", key.path()))
                    .send()
                    .await
                    .expect("create multipart upload");
                1
            }
        }
    }

    async fn pending_uploads(&self) -> usize {
        match self {
            Raw::Fs { .. } => 0,
            Raw::S3 {
                client,
                bucket,
                prefix,
            } => client
                .list_multipart_uploads()
                .bucket(bucket)
                .prefix(prefix)
                .send()
                .await
                .expect("list multipart uploads")
                .uploads()
                .len(),
        }
    }

    /// The SHA-256 checksum the server recorded for an object (base64, `-N` suffixed for a
    /// multipart object); `None` on the filesystem.
    async fn stored_checksum(&self, key: &ContentKey) -> Option<String> {
        let Raw::S3 {
            client,
            bucket,
            prefix,
        } = self
        else {
            return None;
        };
        let head = client
            .head_object()
            .bucket(bucket)
            .key(format!("{prefix}{}", key.path()))
            .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
            .send()
            .await
            .expect("head object");
        Some(
            head.checksum_sha256()
                .expect("a SHA-256 checksum")
                .to_string(),
        )
    }

    /// How many parts an object was uploaded in (from its `-N` ETag); `None` on the
    /// filesystem.
    async fn multipart_parts(&self, key: &ContentKey) -> Option<usize> {
        let Raw::S3 {
            client,
            bucket,
            prefix,
        } = self
        else {
            return None;
        };
        let head = client
            .head_object()
            .bucket(bucket)
            .key(format!("{prefix}{}", key.path()))
            .send()
            .await
            .expect("head object");
        let etag = head.e_tag().expect("an etag").trim_matches('"');
        Some(
            etag.rsplit_once('-')
                .map_or(1, |(_, n)| n.parse().expect("a part count")),
        )
    }
}

/// The `x-amz-checksum-sha256` value of a digest written in hex.
fn base64_of_hex(hex: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(hex::decode(hex).expect("hex"))
}

fn walk(root: &std::path::Path, dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            found.extend(walk(root, &path));
        } else {
            let relative = path.strip_prefix(root).expect("under the root");
            found.push(relative.to_string_lossy().into_owned());
        }
    }
    found
}

/// The S3 service the tests run against, from the environment.
struct S3Env {
    endpoint: String,
    bucket: String,
    region: String,
}

impl S3Env {
    fn from_env() -> Option<S3Env> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let names = [
            "GUICHET_TEST_S3_ENDPOINT",
            "GUICHET_TEST_S3_BUCKET",
            "GUICHET_TEST_S3_REGION",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
        ];
        let missing: Vec<_> = names.iter().filter(|n| var(n).is_none()).collect();
        if !missing.is_empty() {
            let required = var("GUICHET_TEST_REQUIRE_ALL_BACKENDS").as_deref() == Some("1");
            assert!(
                !required,
                "GUICHET_TEST_REQUIRE_ALL_BACKENDS=1 but {missing:?} unset: start Garage with \
                 scripts/services/garage-up DIR and source DIR/env"
            );
            eprintln!("skipped: the s3 backend is not configured ({missing:?} unset)");
            return None;
        }
        Some(S3Env {
            endpoint: var("GUICHET_TEST_S3_ENDPOINT")?,
            bucket: var("GUICHET_TEST_S3_BUCKET")?,
            region: var("GUICHET_TEST_S3_REGION")?,
        })
    }

    fn settings(&self, prefix: &str, tuning: Tuning) -> S3Settings {
        S3Settings {
            endpoint: Some(self.endpoint.clone()),
            region: Some(self.region.clone()),
            path_style: true,
            prefix: prefix.to_string(),
            multipart_threshold: tuning.multipart_threshold,
            part_size: tuning.part_size,
            concurrency: tuning.concurrency,
            ..S3Settings::new(&self.bucket)
        }
    }

    /// A client of its own, independent of the store under test.
    async fn raw_client(&self) -> aws_sdk_s3::Client {
        let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new(self.region.clone()))
            .load()
            .await;
        let config = aws_sdk_s3::config::Builder::from(&shared)
            .endpoint_url(&self.endpoint)
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }
}

/// `len` deterministic pseudo-random bytes: distinct seeds give distinct contents.
fn bytes_of(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}
