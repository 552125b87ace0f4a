//! Local staging: where every incoming byte stream lands first.
//!
//! The writer hashes (SHA-256) and counts in the same pass that writes, and stops at the
//! limit, so a body is never held in memory and an oversized one is never read on. A staged
//! file removes itself when dropped unless a store took it: a request cancelled half-way
//! leaves nothing behind, and [`Staging::sweep`] removes what a crash left at start.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncWriteExt, BufWriter};

use crate::blob::ContentKey;

const WRITE_BUFFER: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StagingError {
    #[error("content exceeds the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("staging i/o on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Debug, Clone)]
pub struct Staging {
    dir: PathBuf,
}

impl Staging {
    pub async fn open(dir: impl Into<PathBuf>) -> Result<Self, StagingError> {
        let dir = dir.into();
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|source| StagingError::Io {
                path: dir.clone(),
                source,
            })?;
        Ok(Staging { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Starts a staged file that refuses to grow beyond `limit` bytes.
    pub async fn create(&self, limit: u64) -> Result<StagingWriter, StagingError> {
        let path = self
            .dir
            .join(format!("{}.part", uuid::Uuid::new_v4().simple()));
        let file = tokio::fs::File::create(&path)
            .await
            .map_err(|source| StagingError::Io {
                path: path.clone(),
                source,
            })?;
        Ok(StagingWriter {
            file: BufWriter::with_capacity(WRITE_BUFFER, file),
            guard: RemoveOnDrop(Some(path)),
            hasher: Sha256::new(),
            size: 0,
            limit,
        })
    }

    /// Removes staged files older than `age`, left by a crash. Returns how many went.
    pub async fn sweep(&self, age: Duration) -> Result<usize, StagingError> {
        let io = |source| StagingError::Io {
            path: self.dir.clone(),
            source,
        };
        let mut removed = 0;
        let mut entries = tokio::fs::read_dir(&self.dir).await.map_err(io)?;
        while let Some(entry) = entries.next_entry().await.map_err(io)? {
            let modified = entry.metadata().await.and_then(|m| m.modified());
            let old = modified
                .ok()
                .and_then(|m| SystemTime::now().duration_since(m).ok())
                .is_some_and(|elapsed| elapsed >= age);
            if old && tokio::fs::remove_file(entry.path()).await.is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// Removes its file when dropped, unless disarmed.
#[derive(Debug)]
struct RemoveOnDrop(Option<PathBuf>);

impl RemoveOnDrop {
    fn path(&self) -> &Path {
        self.0
            .as_deref()
            .expect("the guard is armed until consumed")
    }

    fn disarm(mut self) -> PathBuf {
        self.0.take().expect("the guard is armed until consumed")
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

pub struct StagingWriter {
    file: BufWriter<tokio::fs::File>,
    guard: RemoveOnDrop,
    hasher: Sha256,
    size: u64,
    limit: u64,
}

impl StagingWriter {
    /// Appends a chunk; refuses it, writing nothing, when it would cross the limit.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), StagingError> {
        let size = self.size + chunk.len() as u64;
        if size > self.limit {
            return Err(StagingError::TooLarge { limit: self.limit });
        }
        self.hasher.update(chunk);
        self.file
            .write_all(chunk)
            .await
            .map_err(|source| StagingError::Io {
                path: self.guard.path().to_path_buf(),
                source,
            })?;
        self.size = size;
        Ok(())
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Flushes and fsyncs: the staged bytes are durable before anyone acts on them.
    pub async fn finish(mut self) -> Result<StagedFile, StagingError> {
        let path = self.guard.path().to_path_buf();
        let io = |source| StagingError::Io {
            path: path.clone(),
            source,
        };
        self.file.flush().await.map_err(io)?;
        self.file.get_ref().sync_all().await.map_err(io)?;
        let hex = hex::encode(self.hasher.finalize());
        Ok(StagedFile {
            key: ContentKey::from_hex(&hex).expect("a SHA-256 digest is 64 hex digits"),
            size: self.size,
            guard: self.guard,
        })
    }
}

/// Bytes durably staged, with their digest and size. Removed on drop unless stored.
#[derive(Debug)]
pub struct StagedFile {
    key: ContentKey,
    size: u64,
    guard: RemoveOnDrop,
}

impl StagedFile {
    pub fn key(&self) -> &ContentKey {
        &self.key
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn path(&self) -> &Path {
        self.guard.path()
    }

    /// Hands the file over to a store, which becomes responsible for it.
    pub fn into_path(self) -> PathBuf {
        self.guard.disarm()
    }

    /// Starts another staged file beside this one (`<name>.<extension>`), written by blocking
    /// code (a store that transforms content on its way out: a sealed store's encryption).
    pub fn beside(&self, extension: &str) -> std::io::Result<BlockingStagingWriter> {
        let path = self.path().with_extension(extension);
        let file = std::fs::File::create(&path)?;
        Ok(BlockingStagingWriter {
            file: std::io::BufWriter::with_capacity(WRITE_BUFFER, file),
            guard: RemoveOnDrop(Some(path)),
            hasher: Sha256::new(),
            size: 0,
        })
    }
}

/// A staged file written by blocking code, hashed and counted as it is written; removed when
/// dropped unless finished and stored.
pub struct BlockingStagingWriter {
    file: std::io::BufWriter<std::fs::File>,
    guard: RemoveOnDrop,
    hasher: Sha256,
    size: u64,
}

impl std::io::Write for BlockingStagingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.file.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.size += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl BlockingStagingWriter {
    /// Flushes and fsyncs; the staged file, keyed by the digest of what was written.
    pub fn finish(mut self) -> std::io::Result<StagedFile> {
        use std::io::Write;
        self.file.flush()?;
        self.file.get_ref().sync_all()?;
        let hex = hex::encode(self.hasher.finalize());
        Ok(StagedFile {
            key: ContentKey::from_hex(&hex).expect("a SHA-256 digest is 64 hex digits"),
            size: self.size,
            guard: self.guard,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_counts_and_cleans_up() {
        let dir = tempfile::tempdir().expect("temp dir");
        let staging = Staging::open(dir.path()).await.expect("staging");
        let mut writer = staging.create(10).await.expect("writer");
        writer.write(b"guichet").await.expect("fits");
        let staged = writer.finish().await.expect("finish");
        assert_eq!(staged.size(), 7);
        assert_eq!(staged.key(), &ContentKey::of(b"guichet"));
        let path = staged.path().to_path_buf();
        assert!(path.exists());
        drop(staged);
        assert!(!path.exists(), "a dropped staged file is removed");
    }

    #[tokio::test]
    async fn stops_at_the_limit() {
        let dir = tempfile::tempdir().expect("temp dir");
        let staging = Staging::open(dir.path()).await.expect("staging");
        let mut writer = staging.create(8).await.expect("writer");
        writer.write(b"12345").await.expect("fits");
        let err = writer.write(b"6789").await.expect_err("crosses the limit");
        assert!(matches!(err, StagingError::TooLarge { limit: 8 }));
        assert_eq!(writer.size(), 5);
        drop(writer);
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 0);
    }

    #[tokio::test]
    async fn sweep_removes_only_old_leftovers() {
        let dir = tempfile::tempdir().expect("temp dir");
        let staging = Staging::open(dir.path()).await.expect("staging");
        std::fs::write(dir.path().join("left.part"), b"x").expect("write");
        assert_eq!(
            staging
                .sweep(Duration::from_secs(3600))
                .await
                .expect("sweep"),
            0
        );
        assert_eq!(staging.sweep(Duration::ZERO).await.expect("sweep"), 1);
    }
}
