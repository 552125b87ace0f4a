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
//!
//! The sealed store (encryption at rest) runs the same suite over each backend
//! (`sealed_fs::<test>`, `sealed_s3::<test>`), and tests of its own.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_s3::primitives::ByteStream;
use futures::TryStreamExt;
use storage::{
    BlobStore, ContentKey, FsBlobStore, Keyring, ObjectStore, Put, S3BlobStore, S3Settings,
    SealedStore, StagedFile, Staging, StoreError,
};
use tokio::io::AsyncReadExt;

const MIB: u64 = 1024 * 1024;

/// A module of tests, each run on one backend.
macro_rules! suite {
    ($module:ident, $backend:expr, $($test:ident),+ $(,)?) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test($backend).await;
                }
            )+
        }
    };
}

/// Runs the common tests on every backend, plain and sealed (`fs::`, `s3::`, `sealed_fs::`,
/// `sealed_s3::`), and the others on the plain or the sealed ones.
macro_rules! on_every_backend {
    (
        every: [$($test:ident),+ $(,)?],
        plain: [$($plain:ident),+ $(,)?],
        sealed: [$($sealed:ident),+ $(,)?] $(,)?
    ) => {
        suite!(fs, super::Backend::Fs, $($test,)+ $($plain,)+);
        suite!(s3, super::Backend::S3, $($test,)+ $($plain,)+);
        suite!(sealed_fs, super::Backend::SealedFs, $($test,)+ $($sealed,)+);
        suite!(sealed_s3, super::Backend::SealedS3, $($test,)+ $($sealed,)+);
    };
}

on_every_backend!(
    every: [
        put_then_open_returns_the_bytes_and_lists_the_key,
        same_content_twice_is_stored_once,
        large_document_round_trips_in_parts,
        empty_document_round_trips,
        absent_key_opens_as_none,
        keys_lists_exactly_what_was_put,
        sweep_aborts_abandoned_uploads_and_keeps_objects,
        unreachable_store_is_unavailable,
        delete_removes_the_object_and_nothing_else,
        objects_are_listed_with_their_write_time,
        the_same_content_put_at_once_is_readable,
    ],
    plain: [objects_are_laid_out_by_content_key],
    sealed: [
        sealed_objects_hold_no_plaintext,
        rotation_wraps_keys_again_without_rewriting_content,
        a_missing_or_wrong_key_is_refused_by_its_id,
        altered_objects_fail_and_never_read_as_whole,
        plain_objects_from_before_the_keys_stay_readable,
        strays_are_data_keys_that_serve_no_content,
    ],
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
    let paths = h.raw.paths().await;
    let under = |prefix: &str| paths.iter().filter(|p| p.starts_with(prefix)).count();
    assert_eq!(under("sha256/"), 1, "{paths:?}");
    assert_eq!(
        under("keys/"),
        usize::from(h.sealed),
        "one data key: {paths:?}"
    );
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

async fn delete_removes_the_object_and_nothing_else(backend: Backend) {
    let Some(h) = Harness::new(backend, Tuning::default()).await else {
        return;
    };
    let (gone, kept) = (bytes_of(3000, 60), bytes_of(3000, 61));
    let (gone_key, kept_key) = (ContentKey::of(&gone), ContentKey::of(&kept));
    h.store.put(h.stage(&gone).await).await.expect("put");
    h.store.put(h.stage(&kept).await).await.expect("put");

    assert!(
        h.store.delete(&gone_key).await.expect("delete"),
        "it was there"
    );

    assert!(!h.store.exists(&gone_key).await.expect("exists"));
    assert!(h.store.open(&gone_key).await.expect("open").is_none());
    assert_eq!(h.store.keys().await.expect("keys"), vec![kept_key.clone()]);
    assert_eq!(h.read(&kept_key).await, Some(kept));
    let left: Vec<String> = h.raw.paths().await;
    assert!(
        !left.iter().any(|p| p.contains(gone_key.hex())),
        "nothing of it is left (its data key neither): {left:?}"
    );
    assert!(!h.store.delete(&gone_key).await.expect("delete again"));
    let never = ContentKey::of(b"never stored");
    assert!(!h.store.delete(&never).await.expect("delete absent"));
    // The same content again after its deletion.
    assert_eq!(
        h.store.put(h.stage(&gone).await).await.expect("put"),
        Put::Stored
    );
    assert_eq!(h.read(&gone_key).await, Some(gone));
}

async fn objects_are_listed_with_their_write_time(backend: Backend) {
    let Some(h) = Harness::new(backend, Tuning::default()).await else {
        return;
    };
    let before = SystemTime::now() - Duration::from_secs(120);
    let content = bytes_of(500, 62);
    h.store.put(h.stage(&content).await).await.expect("put");

    let listed: Vec<_> = h.store.objects().try_collect().await.expect("objects");

    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].key, ContentKey::of(&content));
    let modified = listed[0].modified.expect("a write time");
    assert!(modified >= before, "{modified:?}");
}

async fn the_same_content_put_at_once_is_readable(backend: Backend) {
    let Some(h) = Harness::new(backend, Tuning::default()).await else {
        return;
    };
    let content = bytes_of(300_000, 63);
    let key = ContentKey::of(&content);
    let mut puts = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let staged = h.stage(&content).await;
        let store = Arc::clone(&h.store);
        puts.spawn(async move { store.put(staged).await });
    }
    while let Some(done) = puts.join_next().await {
        done.expect("joined").expect("put");
    }

    assert!(
        h.read(&key).await == Some(content),
        "whichever write landed last reads back"
    );
}

async fn objects_are_sealed_under_their_content_key(h: &Harness, content: &[u8]) -> Vec<String> {
    h.store.put(h.stage(content).await).await.expect("put");
    h.raw.paths().await
}

async fn sealed_objects_hold_no_plaintext(backend: Backend) {
    let Some(h) = Harness::new(backend, Tuning::default()).await else {
        return;
    };
    let marker = b"GUICHET-PLAINTEXT-MARKER-7f3a";
    let mut content = bytes_of(200_000, 64);
    for at in [0, 70_000, 199_000] {
        content[at..at + marker.len()].copy_from_slice(marker);
    }
    let key = ContentKey::of(&content);

    let paths = objects_are_sealed_under_their_content_key(&h, &content).await;

    assert_eq!(
        paths.len(),
        3,
        "content, its data key, the marker: {paths:?}"
    );
    assert!(paths.contains(&key.path()), "{paths:?}");
    assert!(paths.contains(&"guichet/encryption.json".to_string()));
    let data_key = paths
        .iter()
        .find(|p| p.starts_with("keys/"))
        .expect("a data key");
    assert!(
        data_key.starts_with(&format!("keys/{}/{}/", &key.hex()[..2], key.hex())),
        "{data_key}"
    );
    for path in &paths {
        let bytes = h.raw.get(path).await.expect("stored");
        assert!(
            !bytes.windows(marker.len()).any(|w| w == marker),
            "{path} holds plaintext"
        );
    }
    let sealed = h.raw.get(&key.path()).await.expect("stored");
    assert!(sealed.starts_with(b"GCHSEAL\x01"), "the sealed header");
    assert_eq!(
        sealed.len(),
        55 + content.len() + 4 * 16,
        "header, chunks, one tag each"
    );
    assert!(h.read(&key).await == Some(content));
}

async fn rotation_wraps_keys_again_without_rewriting_content(backend: Backend) {
    let Some(h) = Harness::new(backend, Tuning::default()).await else {
        return;
    };
    let old = bytes_of(100_000, 65);
    h.store
        .put(h.stage(&old).await)
        .await
        .expect("put under k1");
    let sealed_before = h.raw.get(&ContentKey::of(&old).path()).await;

    let both = h
        .sealed_with(keys(&[("k2", 2), ("k1", 1)]))
        .await
        .expect("k2 first, k1 still there");
    let new = bytes_of(100_000, 66);
    both.put(h.stage(&new).await).await.expect("put under k2");
    let rotation = both.rotate().await.expect("rotate");
    assert_eq!(
        (rotation.rewrapped, rotation.current),
        (1, 1),
        "{rotation:?}"
    );
    assert!(rotation.failed.is_empty());
    assert_eq!(
        h.raw.get(&ContentKey::of(&old).path()).await,
        sealed_before,
        "content untouched"
    );

    let after = h
        .sealed_with(keys(&[("k2", 2)]))
        .await
        .expect("k1 no longer needed");
    for content in [&old, &new] {
        assert!(read_from(&after, &ContentKey::of(content)).await == *content);
    }
    let err = h
        .sealed_with(keys(&[("k1", 1)]))
        .await
        .err()
        .expect("k2 is needed now");
    assert!(
        matches!(&err, StoreError::KeyUnavailable { key_id, .. } if key_id == "k2"),
        "{err}"
    );
}

async fn a_missing_or_wrong_key_is_refused_by_its_id(backend: Backend) {
    let Some(h) = Harness::new(backend, Tuning::default()).await else {
        return;
    };
    let content = bytes_of(10_000, 67);
    let key = ContentKey::of(&content);
    h.store.put(h.stage(&content).await).await.expect("put");
    let sealed_before = h.raw.get(&key.path()).await;

    let err = h
        .sealed_with(keys(&[("k9", 9)]))
        .await
        .err()
        .expect("k1 missing");
    assert!(
        err.to_string().contains("\"k1\" is not configured"),
        "{err}"
    );
    let err = h
        .sealed_with(keys(&[("k1", 7)]))
        .await
        .err()
        .expect("wrong k1");
    assert!(
        matches!(&err, StoreError::KeyUnavailable { key_id, .. } if key_id == "k1"),
        "{err}"
    );
    let err = storage::blob::sealed::require_no_keys(h.backend.as_ref())
        .await
        .expect_err("sealed content and no key");
    assert!(err.to_string().contains("\"k1\""), "{err}");

    // Past the marker (removed behind the store's back): reads still refuse, by key id.
    h.raw.delete("guichet/encryption.json").await;
    let wrong = h
        .sealed_with(keys(&[("k1", 7)]))
        .await
        .expect("no marker to check");
    let err = wrong.open(&key).await.err().expect("wrong key");
    assert!(
        matches!(&err, StoreError::KeyUnavailable { key_id, .. } if key_id == "k1"),
        "{err}"
    );
    h.raw.delete("guichet/encryption.json").await;
    let missing = h.sealed_with(keys(&[("k9", 9)])).await.expect("no marker");
    let err = missing.open(&key).await.err().expect("missing key");
    assert!(
        err.to_string().contains("\"k1\" is not configured"),
        "{err}"
    );
    assert_eq!(
        h.raw.get(&key.path()).await,
        sealed_before,
        "nothing rewritten"
    );
}

async fn altered_objects_fail_and_never_read_as_whole(backend: Backend) {
    let Some(h) = Harness::new(backend, Tuning::default()).await else {
        return;
    };
    let content = bytes_of(300_000, 68);
    let key = ContentKey::of(&content);
    h.store.put(h.stage(&content).await).await.expect("put");
    let sealed = h.raw.get(&key.path()).await.expect("stored");
    let is_corrupt = |err: &StoreError| matches!(err, StoreError::Corrupt { .. });

    // A byte of the first chunk: refused when opened, before anything is read.
    let mut flipped = sealed.clone();
    flipped[100] ^= 0x20;
    h.raw.put(&key.path(), &flipped).await;
    let err = h.store.open(&key).await.err().expect("altered");
    assert!(is_corrupt(&err), "{err}");

    // A byte further on: the read fails at that chunk, and never ends as if whole.
    let mut flipped = sealed.clone();
    flipped[200_000] ^= 0x01;
    h.raw.put(&key.path(), &flipped).await;
    let mut blob = h.store.open(&key).await.expect("open").expect("present");
    let mut read = Vec::new();
    let err = blob
        .reader
        .read_to_end(&mut read)
        .await
        .expect_err("altered");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{err}");
    assert!(read.len() < content.len());

    // Cut short, or its header's magic changed (it still has its data key).
    h.raw.put(&key.path(), &sealed[..sealed.len() - 16]).await;
    assert!(is_corrupt(&h.store.open(&key).await.err().expect("cut")));
    let mut unsealed = sealed.clone();
    unsealed[0] = b'X';
    h.raw.put(&key.path(), &unsealed).await;
    assert!(is_corrupt(
        &h.store.open(&key).await.err().expect("no header")
    ));

    // Its data key gone.
    h.raw.put(&key.path(), &sealed).await;
    assert!(h.read(&key).await == Some(content), "sound again");
    let data_key = h
        .raw
        .paths()
        .await
        .into_iter()
        .find(|p| p.starts_with("keys/"))
        .expect("a data key");
    h.raw.delete(&data_key).await;
    let err = h.store.open(&key).await.err().expect("no data key");
    assert!(err.to_string().contains("data key"), "{err}");
}

async fn plain_objects_from_before_the_keys_stay_readable(backend: Backend) {
    let Some(h) = Harness::new(backend, Tuning::default()).await else {
        return;
    };
    let content = bytes_of(70_000, 69);
    let key = ContentKey::of(&content);
    let plain: Arc<dyn BlobStore> = Arc::new(Arc::clone(&h.backend));
    plain.put(h.stage(&content).await).await.expect("plain put");

    assert!(h.read(&key).await == Some(content), "served as it is");
    assert_eq!(
        h.store
            .put(h.stage(&bytes_of(70_000, 69)).await)
            .await
            .expect("put"),
        Put::AlreadyPresent
    );
}

async fn strays_are_data_keys_that_serve_no_content(backend: Backend) {
    let Some(h) = Harness::new(backend, Tuning::default()).await else {
        return;
    };
    let content = bytes_of(5000, 70);
    let key = ContentKey::of(&content);
    h.store.put(h.stage(&content).await).await.expect("put");
    let referenced = h
        .raw
        .paths()
        .await
        .into_iter()
        .find(|p| p.starts_with("keys/"));
    // A write interrupted after its data key, and one that lost a race.
    let absent = ContentKey::of(b"never stored");
    let leftover = format!(
        "keys/{}/{}/{}",
        &absent.hex()[..2],
        absent.hex(),
        "a".repeat(32)
    );
    let lost = format!("keys/{}/{}/{}", &key.hex()[..2], key.hex(), "b".repeat(32));
    for path in [&leftover, &lost] {
        h.raw.put(path, b"{}").await;
    }

    assert!(
        h.store
            .strays(Duration::from_secs(3600))
            .await
            .expect("strays")
            .is_empty(),
        "young"
    );
    let mut strays = h.store.strays(Duration::ZERO).await.expect("strays");
    strays.sort();
    let mut expected = vec![leftover.clone(), lost.clone()];
    expected.sort();
    assert_eq!(strays, expected);
    for stray in &strays {
        assert!(h.store.remove_stray(stray).await.expect("remove"));
    }
    assert!(
        h.store
            .strays(Duration::ZERO)
            .await
            .expect("strays")
            .is_empty()
    );
    assert!(
        h.raw
            .paths()
            .await
            .into_iter()
            .find(|p| p.starts_with("keys/"))
            == referenced
    );
    assert!(h.read(&key).await == Some(content));
    assert!(
        h.store.remove_stray(&key.path()).await.is_err(),
        "only data keys"
    );
}

async fn read_from(store: &dyn BlobStore, key: &ContentKey) -> Vec<u8> {
    let mut blob = store.open(key).await.expect("open").expect("present");
    let mut content = Vec::new();
    blob.reader.read_to_end(&mut content).await.expect("read");
    content
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
        // Small (one checked PUT) and large (parts hashed on the way, then compared); both
        // beyond what staging keeps in memory, so the staged file is what is sent, and what
        // is tampered with.
        for size in [storage::IN_MEMORY_BYTES + 10_000, 11 * MIB as usize] {
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
    SealedFs,
    SealedS3,
}

/// The master keys of the sealed backends' tests.
fn keys(entries: &[(&str, u8)]) -> Keyring {
    use base64::Engine;
    let text: Vec<String> = entries
        .iter()
        .map(|(id, byte)| {
            let key = base64::engine::general_purpose::STANDARD.encode([*byte; 32]);
            format!("{id}:{key}")
        })
        .collect();
    Keyring::parse(&text.join(",")).expect("valid keys")
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
    /// The backend under the store, to open it again with other keys.
    backend: Arc<dyn ObjectStore>,
    sealed: bool,
}

impl Harness {
    /// The store under test, or `None` (said on stderr) when its backend is not configured.
    async fn new(backend: Backend, tuning: Tuning) -> Option<Harness> {
        let dir = tempfile::tempdir().expect("temp dir");
        let staging = Staging::open(dir.path().join("staging"))
            .await
            .expect("staging");
        let sealed = matches!(backend, Backend::SealedFs | Backend::SealedS3);
        let (objects, raw): (Arc<dyn ObjectStore>, Raw) = match backend {
            Backend::Fs | Backend::SealedFs => {
                let root = dir.path().join("objects");
                let store = FsBlobStore::open(&root).await.expect("fs store");
                (Arc::new(store), Raw::Fs { root })
            }
            Backend::S3 | Backend::SealedS3 => {
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
                (Arc::new(store), raw)
            }
        };
        let store: Arc<dyn BlobStore> = if sealed {
            Arc::new(
                SealedStore::open(Arc::clone(&objects), keys(&[("k1", 1)]))
                    .await
                    .expect("sealed store"),
            )
        } else {
            Arc::new(Arc::clone(&objects))
        };
        Some(Harness {
            _dir: dir,
            staging,
            store,
            raw,
            backend: objects,
            sealed,
        })
    }

    /// The same objects through a sealed store with other keys.
    async fn sealed_with(&self, keyring: Keyring) -> Result<SealedStore, StoreError> {
        SealedStore::open(Arc::clone(&self.backend), keyring).await
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

    async fn get(&self, path: &str) -> Option<Vec<u8>> {
        match self {
            Raw::Fs { root } => std::fs::read(root.join(path)).ok(),
            Raw::S3 {
                client,
                bucket,
                prefix,
            } => {
                let got = client
                    .get_object()
                    .bucket(bucket)
                    .key(format!("{prefix}{path}"))
                    .send()
                    .await
                    .ok()?;
                Some(got.body.collect().await.expect("body").to_vec())
            }
        }
    }

    async fn delete(&self, path: &str) {
        match self {
            Raw::Fs { root } => std::fs::remove_file(root.join(path)).expect("remove"),
            Raw::S3 {
                client,
                bucket,
                prefix,
            } => {
                client
                    .delete_object()
                    .bucket(bucket)
                    .key(format!("{prefix}{path}"))
                    .send()
                    .await
                    .expect("raw delete");
            }
        }
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
