//! The filesystem object store of the embedded default, under `<data_dir>/objects`.
//!
//! A put renames the staged file (same filesystem, already fsynced) to its key, then fsyncs
//! the directory so the rename itself survives a power cut. An object is never rewritten.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;

use super::{Blob, BlobStore, ContentKey, Put, StoreError};
use crate::staging::StagedFile;

pub struct FsBlobStore {
    root: PathBuf,
}

impl FsBlobStore {
    pub async fn open(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = root.into();
        tokio::fs::create_dir_all(root.join("sha256"))
            .await
            .map_err(|e| StoreError::io(&root, e))?;
        Ok(FsBlobStore { root })
    }

    fn object_path(&self, key: &ContentKey) -> PathBuf {
        self.root.join(key.path())
    }
}

async fn fsync_dir(dir: &Path) -> Result<(), StoreError> {
    let handle = tokio::fs::File::open(dir)
        .await
        .map_err(|e| StoreError::io(dir, e))?;
    handle.sync_all().await.map_err(|e| StoreError::io(dir, e))
}

#[async_trait]
impl BlobStore for FsBlobStore {
    fn name(&self) -> &'static str {
        "fs"
    }

    fn describe(&self) -> String {
        format!("fs at {}", self.root.display())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        tokio::fs::metadata(self.root.join("sha256"))
            .await
            .map(|_| ())
            .map_err(|e| StoreError::Unavailable(format!("{}: {e}", self.root.display())))
    }

    async fn put(&self, staged: StagedFile) -> Result<Put, StoreError> {
        let key = staged.key().clone();
        let target = self.object_path(&key);
        if tokio::fs::try_exists(&target).await.unwrap_or(false) {
            return Ok(Put::AlreadyPresent);
        }
        let dir = target
            .parent()
            .expect("object paths have a parent")
            .to_path_buf();
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| StoreError::io(&dir, e))?;
        let source = staged.into_path();
        tokio::fs::rename(&source, &target)
            .await
            .map_err(|e| StoreError::io(&target, e))?;
        fsync_dir(&dir).await?;
        Ok(Put::Stored)
    }

    async fn open(&self, key: &ContentKey) -> Result<Option<Blob>, StoreError> {
        let path = self.object_path(key);
        match tokio::fs::File::open(&path).await {
            Ok(file) => {
                let size = file
                    .metadata()
                    .await
                    .map_err(|e| StoreError::io(&path, e))?
                    .len();
                Ok(Some(Blob {
                    size,
                    reader: Box::pin(file),
                }))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io(&path, e)),
        }
    }

    async fn exists(&self, key: &ContentKey) -> Result<bool, StoreError> {
        let path = self.object_path(key);
        tokio::fs::try_exists(&path)
            .await
            .map_err(|e| StoreError::io(&path, e))
    }

    async fn keys(&self) -> Result<Vec<ContentKey>, StoreError> {
        let base = self.root.join("sha256");
        let mut keys = Vec::new();
        let mut prefixes = tokio::fs::read_dir(&base)
            .await
            .map_err(|e| StoreError::io(&base, e))?;
        while let Some(prefix) = prefixes
            .next_entry()
            .await
            .map_err(|e| StoreError::io(&base, e))?
        {
            let dir = prefix.path();
            let mut objects = tokio::fs::read_dir(&dir)
                .await
                .map_err(|e| StoreError::io(&dir, e))?;
            while let Some(object) = objects
                .next_entry()
                .await
                .map_err(|e| StoreError::io(&dir, e))?
            {
                let path = format!(
                    "sha256/{}/{}",
                    prefix.file_name().to_string_lossy(),
                    object.file_name().to_string_lossy()
                );
                if let Some(key) = ContentKey::from_path(&path) {
                    keys.push(key);
                }
            }
        }
        keys.sort();
        Ok(keys)
    }

    /// A put is a single rename: it leaves no partial object to clean up.
    async fn sweep(&self, _older_than: Duration) -> Result<usize, StoreError> {
        Ok(0)
    }
}
