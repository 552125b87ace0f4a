//! Resumable uploads on the embedded default: one file per upload under
//! `<data_dir>/uploads`, written in place and synced before its offset is recorded.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use tokio::io::{AsyncSeekExt, AsyncWriteExt, BufWriter};

use super::{Checkpoint, PartWriter, Parts, UploadStore, checked};
use crate::blob::{Blob, StoreError};

/// A writer syncs and reports a checkpoint after this many bytes: what a crash may cost.
const CHECKPOINT_BYTES: u64 = 8 * 1024 * 1024;
const WRITE_BUFFER: usize = 256 * 1024;

pub struct FsUploadStore {
    dir: PathBuf,
}

impl FsUploadStore {
    pub async fn open(dir: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let dir = dir.into();
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| StoreError::io(&dir, e))?;
        Ok(FsUploadStore { dir })
    }

    fn file(&self, id: &str) -> Result<PathBuf, StoreError> {
        Ok(self.dir.join(checked(id)?))
    }
}

#[async_trait]
impl UploadStore for FsUploadStore {
    async fn writer(
        &self,
        id: &str,
        offset: u64,
        _parts: &Parts,
    ) -> Result<Box<dyn PartWriter>, StoreError> {
        let path = self.file(id)?;
        let io = |e| StoreError::io(&path, e);
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(&path)
            .await
            .map_err(io)?;
        let on_disk = file.metadata().await.map_err(io)?.len();
        if on_disk < offset {
            return Err(StoreError::Corrupt {
                path: path.display().to_string(),
                reason: format!("the upload's file holds {on_disk} bytes; {offset} were recorded"),
            });
        }
        // What a failed request wrote beyond the recorded offset goes.
        file.set_len(offset).await.map_err(io)?;
        file.seek(SeekFrom::Start(offset)).await.map_err(io)?;
        Ok(Box::new(FsPartWriter {
            file: BufWriter::with_capacity(WRITE_BUFFER, file),
            path,
            offset,
            durable: offset,
        }))
    }

    async fn read(&self, id: &str, length: u64, _parts: &Parts) -> Result<Blob, StoreError> {
        let path = self.file(id)?;
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| StoreError::io(&path, e))?;
        let size = file
            .metadata()
            .await
            .map_err(|e| StoreError::io(&path, e))?
            .len();
        if size != length {
            return Err(StoreError::Corrupt {
                path: path.display().to_string(),
                reason: format!("the upload's file holds {size} bytes; {length} were received"),
            });
        }
        Ok(Blob {
            size,
            reader: Box::pin(file),
        })
    }

    async fn discard(&self, id: &str, _parts: &Parts) -> Result<(), StoreError> {
        let path = self.file(id)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io(&path, e)),
        }
    }
}

struct FsPartWriter {
    file: BufWriter<tokio::fs::File>,
    path: PathBuf,
    /// Bytes written, from the start of the upload.
    offset: u64,
    /// Bytes synced.
    durable: u64,
}

impl FsPartWriter {
    async fn sync(&mut self) -> Result<Checkpoint, StoreError> {
        let io = |path: &Path, e| StoreError::io(path, e);
        self.file.flush().await.map_err(|e| io(&self.path, e))?;
        self.file
            .get_ref()
            .sync_data()
            .await
            .map_err(|e| io(&self.path, e))?;
        self.durable = self.offset;
        Ok(Checkpoint {
            offset: self.offset,
            parts: Parts::default(),
        })
    }
}

#[async_trait]
impl PartWriter for FsPartWriter {
    async fn write(&mut self, chunk: Bytes) -> Result<Option<Checkpoint>, StoreError> {
        self.file
            .write_all(&chunk)
            .await
            .map_err(|e| StoreError::io(&self.path, e))?;
        self.offset += chunk.len() as u64;
        if self.offset - self.durable >= CHECKPOINT_BYTES {
            return self.sync().await.map(Some);
        }
        Ok(None)
    }

    async fn finish(mut self: Box<Self>, _last: bool) -> Result<Checkpoint, StoreError> {
        self.sync().await
    }
}
