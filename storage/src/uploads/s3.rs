//! Resumable uploads on S3: each upload is a multipart upload of `uploads/<id>`, its parts
//! sent as the bytes arrive. Bytes too few to make a part (S3 wants 5 MiB, but for the last)
//! wait in a tail object, `uploads/<id>.tail.<end>`, that the next request reads back first.
//! Part numbers and tail names follow from the recorded parts, so a request that failed
//! half-way (a wrong checksum, a lost lease) is overwritten by the next one, and only the
//! recorded parts are assembled.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::{Bytes, BytesMut};
use futures::TryStreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use super::{Checkpoint, PartWriter, Parts, SentPart, Tail, UPLOADS_PREFIX, UploadStore, checked};
use crate::blob::s3::{MIN_PART_SIZE, Part, Upload, abort_multipart, is_no_such_upload, sdk_error};
use crate::blob::{Blob, Listed, ObjectStore, S3BlobStore, StoreError};

/// The bucket's resumable uploads: multipart uploads driven here, every other object (tails,
/// the assembled upload) read, written and removed through the store's own operations.
#[derive(Clone)]
pub struct S3UploadStore {
    store: S3BlobStore,
    part_size: u64,
}

impl S3UploadStore {
    pub(crate) fn new(store: S3BlobStore) -> Self {
        let part_size = store.settings.part_size.max(MIN_PART_SIZE);
        S3UploadStore { store, part_size }
    }

    /// The upload's path in the store (under its prefix).
    fn path(&self, id: &str) -> Result<String, StoreError> {
        Ok(format!("{UPLOADS_PREFIX}{}", checked(id)?))
    }

    /// The upload's key in the bucket, for the multipart operations.
    fn object(&self, id: &str) -> Result<String, StoreError> {
        Ok(self.store.object_key(&self.path(id)?))
    }

    fn tail_path(&self, id: &str, end: u64) -> Result<String, StoreError> {
        Ok(format!("{}.tail.{end}", self.path(id)?))
    }

    fn client(&self) -> &Client {
        &self.store.client
    }

    fn bucket(&self) -> &str {
        &self.store.settings.bucket
    }

    async fn read_tail(&self, id: &str, tail: &Tail) -> Result<BytesMut, StoreError> {
        let path = self.tail_path(id, tail.end)?;
        let blob = self.read_recorded(&path, "tail", tail.size).await?;
        let mut bytes = Vec::with_capacity(usize::try_from(tail.size).unwrap_or_default());
        let mut reader = blob.reader;
        reader
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| StoreError::Unavailable(format!("reading {path}: {e}")))?;
        if bytes.len() as u64 != tail.size {
            return Err(StoreError::Corrupt {
                reason: format!("{} bytes where {} were recorded", bytes.len(), tail.size),
                path,
            });
        }
        Ok(BytesMut::from(&bytes[..]))
    }

    /// The object at `path` that the upload's record says holds `size` bytes (`what` names it
    /// in the error when it is missing or of another size).
    async fn read_recorded(&self, path: &str, what: &str, size: u64) -> Result<Blob, StoreError> {
        let corrupt = |reason: String| StoreError::Corrupt {
            path: path.to_string(),
            reason,
        };
        let blob = self
            .store
            .read(path)
            .await?
            .ok_or_else(|| corrupt(format!("the recorded {what} is missing")))?;
        if blob.size != size {
            return Err(corrupt(format!(
                "{} bytes in the {what}; {size} were recorded",
                blob.size
            )));
        }
        Ok(blob)
    }

    /// Aborts every multipart upload of the upload's object (the recorded one, and any a
    /// failed request began) and deletes its objects (the assembled one and the tails).
    async fn remove_all(&self, id: &str) -> Result<(), StoreError> {
        let object = self.object(id)?;
        let listed = self
            .client()
            .list_multipart_uploads()
            .bucket(self.bucket())
            .prefix(&object)
            .send()
            .await
            .map_err(|e| sdk_error("ListMultipartUploads", &object, e))?;
        for upload in listed.uploads() {
            if let (Some(key), Some(upload_id)) = (upload.key(), upload.upload_id()) {
                abort_multipart(self.client(), self.bucket(), key, upload_id).await?;
            }
        }
        let paths: Vec<Listed> = self.store.list(&self.path(id)?).try_collect().await?;
        for listed in paths {
            self.store.remove(&listed.path).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl UploadStore for S3UploadStore {
    async fn writer(
        &self,
        id: &str,
        offset: u64,
        parts: &Parts,
    ) -> Result<Box<dyn PartWriter>, StoreError> {
        let in_parts: u64 = parts.sent.iter().map(|p| p.size).sum();
        let tail = parts.tail.as_ref().map_or(0, |t| t.size);
        if in_parts + tail != offset || parts.tail.as_ref().is_some_and(|t| t.end != offset) {
            return Err(StoreError::Corrupt {
                path: self.object(id)?,
                reason: format!(
                    "{in_parts} bytes in parts and {tail} in the tail; {offset} were recorded"
                ),
            });
        }
        let buffer = match &parts.tail {
            Some(tail) => self.read_tail(id, tail).await?,
            None => BytesMut::new(),
        };
        Ok(Box::new(S3PartWriter {
            store: self.clone(),
            id: id.to_string(),
            parts: parts.clone(),
            buffer,
            offset,
        }))
    }

    async fn read(&self, id: &str, length: u64, parts: &Parts) -> Result<Blob, StoreError> {
        if parts.sent.is_empty() {
            return Ok(Blob {
                size: 0,
                reader: Box::pin(tokio::io::empty()),
            });
        }
        if let Some(upload_id) = &parts.multipart {
            let object = self.object(id)?;
            let completed: Vec<CompletedPart> = parts
                .sent
                .iter()
                .map(|p| {
                    CompletedPart::builder()
                        .part_number(p.number)
                        .e_tag(&p.etag)
                        .checksum_sha256(&p.checksum)
                        .build()
                })
                .collect();
            let done = self
                .client()
                .complete_multipart_upload()
                .bucket(self.bucket())
                .key(&object)
                .upload_id(upload_id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(completed))
                        .build(),
                )
                .send()
                .await;
            match done {
                Ok(_) => {}
                // Completed already, by an earlier attempt at filing it: read it.
                Err(e) if is_no_such_upload(&e) => {}
                Err(e) => return Err(sdk_error("CompleteMultipartUpload", &object, e)),
            }
        }
        self.read_recorded(&self.path(id)?, "assembled upload", length)
            .await
    }

    async fn discard(&self, id: &str, _parts: &Parts) -> Result<(), StoreError> {
        self.remove_all(id).await
    }
}

struct S3PartWriter {
    store: S3UploadStore,
    id: String,
    parts: Parts,
    /// Bytes not yet in a part (the tail read back first).
    buffer: BytesMut,
    /// Bytes received, from the start of the upload.
    offset: u64,
}

impl S3PartWriter {
    /// Sends `bytes` as the next part, beginning the multipart upload with the first one.
    async fn send(&mut self, bytes: Bytes) -> Result<(), StoreError> {
        let upload = match &self.parts.multipart {
            Some(upload_id) => Upload {
                client: self.store.client().clone(),
                bucket: self.store.bucket().to_string(),
                object: self.store.object(&self.id)?,
                upload_id: upload_id.clone(),
            },
            None => {
                let upload = Upload::create(
                    self.store.client().clone(),
                    self.store.bucket().to_string(),
                    self.store.object(&self.id)?,
                )
                .await?;
                self.parts.multipart = Some(upload.upload_id.clone());
                upload
            }
        };
        let number = i32::try_from(self.parts.sent.len() + 1).expect("part numbers fit in i32");
        let (bytes, checksum) = tokio::task::spawn_blocking(move || {
            let checksum = BASE64.encode(Sha256::digest(&bytes));
            (bytes, checksum)
        })
        .await
        .expect("hashing does not panic");
        let size = bytes.len() as u64;
        let part = Part {
            bytes,
            checksum: checksum.clone(),
        };
        let sent = Arc::new(upload).send_part(number, part).await?;
        self.parts.sent.push(SentPart {
            number,
            etag: sent.e_tag().unwrap_or_default().to_string(),
            size,
            checksum,
        });
        // The tail read back went into this part.
        self.parts.tail = None;
        Ok(())
    }

    fn in_parts(&self) -> u64 {
        self.parts.sent.iter().map(|p| p.size).sum()
    }
}

#[async_trait]
impl PartWriter for S3PartWriter {
    async fn write(&mut self, chunk: Bytes) -> Result<Option<Checkpoint>, StoreError> {
        self.offset += chunk.len() as u64;
        self.buffer.extend_from_slice(&chunk);
        let part_size = usize::try_from(self.store.part_size).expect("part sizes fit in memory");
        let mut sent = false;
        while self.buffer.len() >= part_size {
            let part = self.buffer.split_to(part_size).freeze();
            self.send(part).await?;
            sent = true;
        }
        Ok(sent.then(|| Checkpoint {
            offset: self.in_parts(),
            parts: self.parts.clone(),
        }))
    }

    async fn finish(mut self: Box<Self>, last: bool) -> Result<Checkpoint, StoreError> {
        if !self.buffer.is_empty() {
            let rest = std::mem::take(&mut self.buffer).freeze();
            if last || rest.len() as u64 >= MIN_PART_SIZE {
                self.send(rest).await?;
            } else {
                let size = rest.len() as u64;
                let path = self.store.tail_path(&self.id, self.offset)?;
                self.store.store.write_small(&path, Vec::from(rest)).await?;
                self.parts.tail = Some(Tail {
                    end: self.offset,
                    size,
                });
            }
        }
        Ok(Checkpoint {
            offset: self.offset,
            parts: self.parts,
        })
    }
}
