//! Content-addressed object stores.
//!
//! Two layers:
//! - [`ObjectStore`]: a backend (the filesystem, S3) that writes, reads, lists and removes
//!   objects by path, and knows nothing of what they hold.
//! - [`BlobStore`]: content by [`ContentKey`], what the pipeline uses. Every backend is a plain
//!   `BlobStore` (the blanket impl below); [`SealedStore`] is the one that encrypts, over any
//!   backend.
//!
//! Invariant: an object stored under `sha256/<2 hex>/<hex>` holds exactly the bytes whose
//! SHA-256 is `<hex>` (a sealed store: those bytes encrypted, their data key beside them under
//! `keys/`). Stores refuse a staged file whose digest does not match its key, and never write
//! an object that is already present.

mod fs;
pub(crate) mod s3;
pub mod sealed;

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use tokio::io::AsyncRead;

pub use fs::FsBlobStore;
pub use s3::{S3BlobStore, S3Settings};
pub use sealed::{Keyring, SealedStore};

use crate::staging::StagedFile;

/// Where content objects live in every backend.
const CONTENT_PREFIX: &str = "sha256/";

/// The key of an object: the lowercase hex SHA-256 of its content.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentKey(String);

impl ContentKey {
    /// Accepts 64 lowercase hex digits, nothing else (keys come from URLs and listings).
    pub fn from_hex(hex: &str) -> Option<Self> {
        let valid = hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        valid.then(|| ContentKey(hex.to_string()))
    }

    /// The key of `content`, for small buffers (tests, cover sheets).
    pub fn of(content: &[u8]) -> Self {
        use sha2::Digest;
        ContentKey(hex::encode(sha2::Sha256::digest(content)))
    }

    pub fn hex(&self) -> &str {
        &self.0
    }

    /// The object's path in the store: `sha256/<first 2 hex>/<hex>`.
    pub fn path(&self) -> String {
        format!("sha256/{}/{}", &self.0[..2], self.0)
    }

    /// Parses a path written by [`ContentKey::path`].
    pub fn from_path(path: &str) -> Option<Self> {
        let mut parts = path.split('/');
        let (Some("sha256"), Some(prefix), Some(hex), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        ContentKey::from_hex(hex).filter(|key| key.0[..2] == *prefix)
    }
}

impl std::fmt::Display for ContentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.path())
    }
}

/// What [`BlobStore::put`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    Stored,
    AlreadyPresent,
}

/// An object opened for reading.
pub struct Blob {
    pub size: u64,
    pub reader: Pin<Box<dyn AsyncRead + Send>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("staged content does not match its key {key}")]
    DigestMismatch { key: ContentKey },
    /// No answer (connection refused, timeout) or a failure on the store's side.
    #[error("object store unavailable: {0}")]
    Unavailable(String),
    /// The store answered and refused: its error code and message, kept for the operator.
    #[error("object store refused {operation} on {target}: {code} (HTTP {status}): {message}")]
    Service {
        operation: &'static str,
        target: String,
        status: u16,
        code: String,
        message: String,
    },
    #[error("object store configuration: {0}")]
    Config(String),
    #[error("object store i/o on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// Sealed content whose master key is not configured, or does not open its data key.
    #[error("content key unavailable: master key {key_id:?} {reason}")]
    KeyUnavailable { key_id: String, reason: String },
    /// A stored object that cannot be what was stored: truncated, altered, or its data key lost.
    #[error("stored object {path} is corrupt: {reason}")]
    Corrupt { path: String, reason: String },
}

impl StoreError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        StoreError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// A content object as listed, with the time it was last written when the backend says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub key: ContentKey,
    pub modified: Option<SystemTime>,
}

/// An object of a backend as listed: its path (without the store's own prefix) and the time
/// it was last written, when the backend says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub path: String,
    pub modified: Option<SystemTime>,
}

#[async_trait]
pub trait BlobStore: Send + Sync {
    /// A short name for logs and readiness (`fs`, `s3`).
    fn name(&self) -> &'static str;

    /// Where the objects are, for logs (`fs at /var/lib/guichet/objects`, `s3://bucket/...`).
    fn describe(&self) -> String {
        self.name().to_string()
    }

    /// Reachable and writable enough to take intake.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Stores a staged file under its content key, durably, once. Consumes the staged file.
    async fn put(&self, staged: StagedFile) -> Result<Put, StoreError>;

    /// Opens an object, or `None` when it is absent.
    async fn open(&self, key: &ContentKey) -> Result<Option<Blob>, StoreError>;

    /// The local file that holds an object's bytes as they are, for a reader that needs a
    /// path (the page renderer), when the store has one: the filesystem store's own file;
    /// `None` for a store elsewhere (S3) or one that seals its content. The file may be
    /// absent, and a purge may remove it while it is read.
    fn plain_file(&self, _key: &ContentKey) -> Option<PathBuf> {
        None
    }

    async fn exists(&self, key: &ContentKey) -> Result<bool, StoreError>;

    /// Removes an object (and what the store keeps beside it, such as its data key); `true`
    /// when there was one. Removing an absent object is not an error. Nothing checks that no
    /// document points at it: that is the caller's business.
    async fn delete(&self, key: &ContentKey) -> Result<bool, StoreError>;

    /// Every content object, as the backend lists it (page by page, in no particular order),
    /// with its last write time: memory stays flat whatever the size of the store.
    fn objects(&self) -> BoxStream<'_, Result<StoredObject, StoreError>>;

    /// Every key present in the store, sorted (collects [`BlobStore::objects`]).
    async fn keys(&self) -> Result<Vec<ContentKey>, StoreError> {
        let mut keys: Vec<ContentKey> = self
            .objects()
            .map_ok(|object| object.key)
            .try_collect()
            .await?;
        keys.sort();
        Ok(keys)
    }

    /// What the store keeps beside content objects (a sealed store's data keys) that serves no
    /// content object any more and was written more than `older_than` ago: leftovers of
    /// interrupted writes, or of objects removed behind the store's back. Their paths.
    async fn strays(&self, _older_than: Duration) -> Result<Vec<String>, StoreError> {
        Ok(Vec::new())
    }

    /// Removes one of [`BlobStore::strays`]; `true` when it was there.
    async fn remove_stray(&self, _path: &str) -> Result<bool, StoreError> {
        Ok(false)
    }

    /// Cleans up the store's own leftovers of interrupted writes begun more than `older_than`
    /// ago (S3: incomplete multipart uploads), at start. Returns how many went. Staging
    /// leftovers are [`crate::Staging::sweep`]'s.
    async fn sweep(&self, older_than: Duration) -> Result<usize, StoreError>;
}

/// A backend: objects by path (`sha256/ab/ab12...`, `keys/...`), with no idea of their content.
/// Paths are made by this crate, never taken from input.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// `fs` or `s3`.
    fn kind(&self) -> &'static str;

    /// Where the objects are, for logs.
    fn location(&self) -> String;

    /// Reachable and writable enough to take intake.
    async fn reach(&self) -> Result<(), StoreError>;

    /// Stores a staged file's bytes at `path`, durably, replacing any object there. The store
    /// checks the bytes against the staged digest where it can (S3 recomputes it):
    /// [`StoreError::DigestMismatch`] with the staged key when they differ.
    async fn write(&self, path: &str, staged: StagedFile) -> Result<(), StoreError>;

    /// [`ObjectStore::write`], unless an object is at `path` already (the same content, as
    /// paths name digests): [`Put::AlreadyPresent`] then, and the staged file goes. A backend
    /// that can look and write in one step does.
    async fn write_new(&self, path: &str, staged: StagedFile) -> Result<Put, StoreError> {
        if self.contains(path).await? {
            return Ok(Put::AlreadyPresent);
        }
        self.write(path, staged).await?;
        Ok(Put::Stored)
    }

    /// Stores a small object held in memory (a data key, a marker), replacing any.
    async fn write_small(&self, path: &str, bytes: Vec<u8>) -> Result<(), StoreError>;

    /// Opens the object at `path`, or `None` when it is absent.
    async fn read(&self, path: &str) -> Result<Option<Blob>, StoreError>;

    /// The local file behind the object at `path`, when the backend keeps objects as files.
    fn local_file(&self, _path: &str) -> Option<PathBuf> {
        None
    }

    async fn contains(&self, path: &str) -> Result<bool, StoreError>;

    /// Removes the object at `path`; `true` when there was one.
    async fn remove(&self, path: &str) -> Result<bool, StoreError>;

    /// The objects whose path starts with `prefix` (a folder: `sha256/`, `keys/ab/`), page by
    /// page, in no particular order.
    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<Listed, StoreError>>;

    /// Removes the backend's own leftovers of writes begun more than `older_than` ago.
    async fn sweep_leftovers(&self, older_than: Duration) -> Result<usize, StoreError>;
}

/// A shared backend is a backend (a plain store over it, a sealed one beside it).
#[async_trait]
impl<T: ObjectStore + ?Sized> ObjectStore for std::sync::Arc<T> {
    fn kind(&self) -> &'static str {
        (**self).kind()
    }

    fn location(&self) -> String {
        (**self).location()
    }

    async fn reach(&self) -> Result<(), StoreError> {
        (**self).reach().await
    }

    async fn write(&self, path: &str, staged: StagedFile) -> Result<(), StoreError> {
        (**self).write(path, staged).await
    }

    async fn write_new(&self, path: &str, staged: StagedFile) -> Result<Put, StoreError> {
        (**self).write_new(path, staged).await
    }

    async fn write_small(&self, path: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        (**self).write_small(path, bytes).await
    }

    async fn read(&self, path: &str) -> Result<Option<Blob>, StoreError> {
        (**self).read(path).await
    }

    fn local_file(&self, path: &str) -> Option<PathBuf> {
        (**self).local_file(path)
    }

    async fn contains(&self, path: &str) -> Result<bool, StoreError> {
        (**self).contains(path).await
    }

    async fn remove(&self, path: &str) -> Result<bool, StoreError> {
        (**self).remove(path).await
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<Listed, StoreError>> {
        (**self).list(prefix)
    }

    async fn sweep_leftovers(&self, older_than: Duration) -> Result<usize, StoreError> {
        (**self).sweep_leftovers(older_than).await
    }
}

/// The content objects among a backend's objects (anything else under `sha256/` is skipped).
fn content_objects(store: &dyn ObjectStore) -> BoxStream<'_, Result<StoredObject, StoreError>> {
    store
        .list(CONTENT_PREFIX)
        .try_filter_map(|listed| async move {
            Ok(ContentKey::from_path(&listed.path).map(|key| StoredObject {
                key,
                modified: listed.modified,
            }))
        })
        .boxed()
}

/// Every backend stores content as it is: the plain store.
#[async_trait]
impl<T: ObjectStore> BlobStore for T {
    fn name(&self) -> &'static str {
        self.kind()
    }

    fn describe(&self) -> String {
        self.location()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.reach().await
    }

    async fn put(&self, staged: StagedFile) -> Result<Put, StoreError> {
        let path = staged.key().path();
        self.write_new(&path, staged).await
    }

    async fn open(&self, key: &ContentKey) -> Result<Option<Blob>, StoreError> {
        self.read(&key.path()).await
    }

    fn plain_file(&self, key: &ContentKey) -> Option<PathBuf> {
        self.local_file(&key.path())
    }

    async fn exists(&self, key: &ContentKey) -> Result<bool, StoreError> {
        self.contains(&key.path()).await
    }

    async fn delete(&self, key: &ContentKey) -> Result<bool, StoreError> {
        self.remove(&key.path()).await
    }

    fn objects(&self) -> BoxStream<'_, Result<StoredObject, StoreError>> {
        content_objects(self)
    }

    async fn sweep(&self, older_than: Duration) -> Result<usize, StoreError> {
        self.sweep_leftovers(older_than).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_only_their_own_paths() {
        let key = ContentKey::of(b"guichet");
        assert_eq!(ContentKey::from_path(&key.path()), Some(key.clone()));
        assert!(
            key.path()
                .starts_with(&format!("sha256/{}/", &key.hex()[..2]))
        );
        assert_eq!(ContentKey::from_hex(&key.hex().to_uppercase()), None);
        assert_eq!(ContentKey::from_hex("../etc/passwd"), None);
        let wrong_prefix = format!("sha256/zz/{}", key.hex());
        assert_eq!(ContentKey::from_path(&wrong_prefix), None);
    }
}
