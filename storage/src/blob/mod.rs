//! Content-addressed object stores.
//!
//! Invariant: an object stored under `sha256/<2 hex>/<hex>` holds exactly the bytes whose
//! SHA-256 is `<hex>`. Stores refuse a staged file whose digest does not match its key, and
//! never write an object that is already present.

mod fs;
mod s3;

use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::AsyncRead;

pub use fs::FsBlobStore;
pub use s3::{S3BlobStore, S3Settings};

use crate::staging::StagedFile;

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
}

impl StoreError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        StoreError::Io {
            path: path.display().to_string(),
            source,
        }
    }
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

    async fn exists(&self, key: &ContentKey) -> Result<bool, StoreError>;

    /// Every key present in the store (for `guichet verify`).
    async fn keys(&self) -> Result<Vec<ContentKey>, StoreError>;

    /// Cleans up the store's own leftovers of interrupted writes begun more than `older_than`
    /// ago (S3: incomplete multipart uploads), at start. Returns how many went. Staging
    /// leftovers are [`crate::Staging::sweep`]'s.
    async fn sweep(&self, older_than: Duration) -> Result<usize, StoreError>;
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
