//! The filesystem object store of the embedded default, under `<data_dir>/objects`.
//!
//! A write renames a file already on disk and fsynced (a staged file, on the same filesystem,
//! or a small object first written under `.tmp/`) to its path, then fsyncs the directory so
//! the rename itself survives a power cut; a removal fsyncs the directory too. Readers see an
//! object whole or not at all.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::io::AsyncWriteExt;

use super::{Blob, Listed, ObjectStore, Put, StoreError};
use crate::staging::StagedFile;

/// Small objects are written here first, then renamed into place.
const TMP_DIR: &str = ".tmp";

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

    fn file(&self, path: &str) -> PathBuf {
        self.root.join(path)
    }

    /// Renames `source` to the object `path`, creating its directory, and makes the rename
    /// durable, in one blocking call; with `keep_existing`, removes `source` instead when the
    /// object is there already. Either way, and when this fails too, `source` is gone.
    async fn place(
        &self,
        source: PathBuf,
        path: &str,
        keep_existing: bool,
    ) -> Result<Put, StoreError> {
        let target = self.file(path);
        let joined = |e| StoreError::io(&self.root, std::io::Error::other(e));
        let removed_on_failure = source.clone();
        let placed = match tokio::task::spawn_blocking(move || {
            if keep_existing
                && target
                    .try_exists()
                    .map_err(|e| StoreError::io(&target, e))?
            {
                std::fs::remove_file(&source).map_err(|e| StoreError::io(&source, e))?;
                return Ok(Put::AlreadyPresent);
            }
            let dir = target.parent().expect("object paths have a parent");
            std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
            std::fs::rename(&source, &target).map_err(|e| StoreError::io(&target, e))?;
            sync_dir(dir)?;
            Ok(Put::Stored)
        })
        .await
        {
            Ok(placed) => placed,
            Err(e) => Err(joined(e)),
        };
        if placed.is_err() {
            let _ = tokio::fs::remove_file(&removed_on_failure).await;
        }
        placed
    }
}

/// Makes the entries of `dir` durable (a rename or removal in it), on the blocking pool.
async fn fsync_dir(dir: &Path) -> Result<(), StoreError> {
    let owned = dir.to_path_buf();
    tokio::task::spawn_blocking(move || sync_dir(&owned))
        .await
        .map_err(|e| StoreError::io(dir, std::io::Error::other(e)))?
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(|e| StoreError::io(dir, e))
}

#[async_trait]
impl ObjectStore for FsBlobStore {
    fn kind(&self) -> &'static str {
        "fs"
    }

    fn location(&self) -> String {
        format!("fs at {}", self.root.display())
    }

    async fn reach(&self) -> Result<(), StoreError> {
        tokio::fs::metadata(self.root.join("sha256"))
            .await
            .map(|_| ())
            .map_err(|e| StoreError::Unavailable(format!("{}: {e}", self.root.display())))
    }

    async fn write(&self, path: &str, staged: StagedFile) -> Result<(), StoreError> {
        self.place(staged.into_path(), path, false)
            .await
            .map(|_| ())
    }

    /// Looks, renames and syncs in one blocking call, not one for the look and one for the
    /// rest: a hand-off to the blocking pool less on every upload.
    async fn write_new(&self, path: &str, staged: StagedFile) -> Result<Put, StoreError> {
        self.place(staged.into_path(), path, true).await
    }

    async fn write_small(&self, path: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        let tmp_dir = self.root.join(TMP_DIR);
        tokio::fs::create_dir_all(&tmp_dir)
            .await
            .map_err(|e| StoreError::io(&tmp_dir, e))?;
        let tmp = tmp_dir.join(uuid::Uuid::new_v4().simple().to_string());
        let written = async {
            let mut file = tokio::fs::File::create(&tmp).await?;
            file.write_all(&bytes).await?;
            file.sync_all().await
        }
        .await;
        if let Err(e) = written {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(StoreError::io(&tmp, e));
        }
        self.place(tmp, path, false).await.map(|_| ())
    }

    fn local_file(&self, path: &str) -> Option<PathBuf> {
        Some(self.file(path))
    }

    async fn read(&self, path: &str) -> Result<Option<Blob>, StoreError> {
        let file_path = self.file(path);
        match tokio::fs::File::open(&file_path).await {
            Ok(file) => {
                let size = file
                    .metadata()
                    .await
                    .map_err(|e| StoreError::io(&file_path, e))?
                    .len();
                Ok(Some(Blob {
                    size,
                    reader: Box::pin(file),
                }))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io(&file_path, e)),
        }
    }

    async fn contains(&self, path: &str) -> Result<bool, StoreError> {
        let file_path = self.file(path);
        tokio::fs::try_exists(&file_path)
            .await
            .map_err(|e| StoreError::io(&file_path, e))
    }

    async fn remove(&self, path: &str) -> Result<bool, StoreError> {
        let file_path = self.file(path);
        match tokio::fs::remove_file(&file_path).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(StoreError::io(&file_path, e)),
        }
        let dir = file_path.parent().expect("object paths have a parent");
        fsync_dir(dir).await?;
        // A folder of its own (a sealed object's data keys, `keys/ab/<hex>/`) goes with its
        // last file; the fan-out folders (`sha256/ab/`) stay, as writers expect them.
        if path.split('/').count() > 3 && tokio::fs::remove_dir(dir).await.is_ok() {
            let parent = dir.parent().expect("object folders have a parent");
            fsync_dir(parent).await?;
        }
        Ok(true)
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<Listed, StoreError>> {
        let walk = Walk {
            root: self.root.clone(),
            pending: vec![self.file(prefix)],
            current: None,
        };
        futures::stream::try_unfold(walk, |mut walk| async move {
            Ok(walk.next().await?.map(|listed| (listed, walk)))
        })
        .boxed()
    }

    /// A write is a single rename: what can be left is a small object's temporary file.
    async fn sweep_leftovers(&self, older_than: Duration) -> Result<usize, StoreError> {
        let tmp_dir = self.root.join(TMP_DIR);
        let mut entries = match tokio::fs::read_dir(&tmp_dir).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(StoreError::io(&tmp_dir, e)),
        };
        let mut removed = 0;
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(|e| StoreError::io(&tmp_dir, e))?
        {
            let old = entry
                .metadata()
                .await
                .and_then(|m| m.modified())
                .ok()
                .and_then(|m| SystemTime::now().duration_since(m).ok())
                .is_some_and(|age| age >= older_than);
            if old && tokio::fs::remove_file(entry.path()).await.is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// A depth-first walk of a folder, one directory read at a time.
struct Walk {
    root: PathBuf,
    pending: Vec<PathBuf>,
    current: Option<(PathBuf, tokio::fs::ReadDir)>,
}

impl Walk {
    async fn next(&mut self) -> Result<Option<Listed>, StoreError> {
        loop {
            let Some((dir, entries)) = &mut self.current else {
                let Some(dir) = self.pending.pop() else {
                    return Ok(None);
                };
                match tokio::fs::read_dir(&dir).await {
                    Ok(entries) => self.current = Some((dir, entries)),
                    // A folder removed since it was seen, or a prefix nothing was written to.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(StoreError::io(&dir, e)),
                }
                continue;
            };
            let Some(entry) = entries
                .next_entry()
                .await
                .map_err(|e| StoreError::io(dir, e))?
            else {
                self.current = None;
                continue;
            };
            let path = entry.path();
            let file_type = entry
                .file_type()
                .await
                .map_err(|e| StoreError::io(&path, e))?;
            if file_type.is_dir() {
                self.pending.push(path);
                continue;
            }
            if !file_type.is_file() {
                continue;
            }
            let modified = match entry.metadata().await {
                Ok(metadata) => metadata.modified().ok(),
                // Removed between the listing and now.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(StoreError::io(&path, e)),
            };
            let relative = path
                .strip_prefix(&self.root)
                .expect("walked under the root")
                .to_string_lossy()
                .into_owned();
            return Ok(Some(Listed {
                path: relative,
                modified,
            }));
        }
    }
}
