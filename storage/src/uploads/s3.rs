//! Resumable uploads on S3: each upload is a multipart upload of `uploads/<id>`, its parts
//! sent as the bytes arrive. Bytes too few to make a part (S3 wants 5 MiB, but for the last)
//! wait in a tail object, `uploads/<id>.tail.<end>`, that the next request reads back first.
//! Part numbers and tail names follow from the recorded parts, so a request that failed
//! half-way (a wrong checksum, a lost lease) is overwritten by the next one, and only the
//! recorded parts are assembled.

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::{Bytes, BytesMut};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use super::{Checkpoint, PartWriter, Parts, SentPart, Tail, UPLOADS_PREFIX, UploadStore, checked};
use crate::blob::s3::{MIN_PART_SIZE, is_not_found, sdk_error};
use crate::blob::{Blob, StoreError};

#[derive(Clone)]
pub struct S3UploadStore {
    client: Client,
    bucket: String,
    prefix: String,
    part_size: u64,
}

impl S3UploadStore {
    pub(crate) fn new(client: Client, bucket: String, prefix: String, part_size: u64) -> Self {
        S3UploadStore {
            client,
            bucket,
            prefix,
            part_size: part_size.max(MIN_PART_SIZE),
        }
    }

    fn object(&self, id: &str) -> Result<String, StoreError> {
        Ok(format!("{}{UPLOADS_PREFIX}{}", self.prefix, checked(id)?))
    }

    fn tail_object(&self, id: &str, end: u64) -> Result<String, StoreError> {
        Ok(format!("{}.tail.{end}", self.object(id)?))
    }

    async fn read_tail(&self, id: &str, tail: &Tail) -> Result<BytesMut, StoreError> {
        let object = self.tail_object(id, tail.end)?;
        let got = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&object)
            .send()
            .await
            .map_err(|e| sdk_error("GetObject", &object, e))?;
        let mut bytes = Vec::with_capacity(usize::try_from(tail.size).unwrap_or_default());
        got.body
            .into_async_read()
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| StoreError::Unavailable(format!("reading {object}: {e}")))?;
        if bytes.len() as u64 != tail.size {
            return Err(StoreError::Corrupt {
                path: object,
                reason: format!("{} bytes where {} were recorded", bytes.len(), tail.size),
            });
        }
        Ok(BytesMut::from(&bytes[..]))
    }

    /// Aborts every multipart upload of the upload's object (the recorded one, and any a
    /// failed request began) and deletes its objects (the assembled one and the tails).
    async fn remove_all(&self, id: &str) -> Result<(), StoreError> {
        let object = self.object(id)?;
        let listed = self
            .client
            .list_multipart_uploads()
            .bucket(&self.bucket)
            .prefix(&object)
            .send()
            .await
            .map_err(|e| sdk_error("ListMultipartUploads", &object, e))?;
        for upload in listed.uploads() {
            if let (Some(key), Some(upload_id)) = (upload.key(), upload.upload_id()) {
                abort(&self.client, &self.bucket, key, upload_id).await?;
            }
        }
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&object)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_error("ListObjectsV2", &object, e))?;
            for key in page.contents().iter().filter_map(|o| o.key()) {
                self.client
                    .delete_object()
                    .bucket(&self.bucket)
                    .key(key)
                    .send()
                    .await
                    .map_err(|e| sdk_error("DeleteObject", key, e))?;
            }
        }
        Ok(())
    }
}

async fn abort(
    client: &Client,
    bucket: &str,
    key: &str,
    upload_id: &str,
) -> Result<(), StoreError> {
    match client
        .abort_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error().is_some_and(|s| {
                aws_sdk_s3::error::ProvideErrorMetadata::code(s) == Some("NoSuchUpload")
            }) =>
        {
            Ok(())
        }
        Err(e) => Err(sdk_error("AbortMultipartUpload", key, e)),
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
        let object = self.object(id)?;
        if parts.sent.is_empty() {
            return Ok(Blob {
                size: 0,
                reader: Box::pin(tokio::io::empty()),
            });
        }
        if let Some(upload_id) = &parts.multipart {
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
                .client
                .complete_multipart_upload()
                .bucket(&self.bucket)
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
                Err(e)
                    if e.as_service_error().is_some_and(|s| {
                        aws_sdk_s3::error::ProvideErrorMetadata::code(s) == Some("NoSuchUpload")
                    }) => {}
                Err(e) => return Err(sdk_error("CompleteMultipartUpload", &object, e)),
            }
        }
        let got = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&object)
            .send()
            .await;
        let output = match got {
            Ok(output) => output,
            Err(e) if is_not_found(&e) => {
                return Err(StoreError::Corrupt {
                    path: object,
                    reason: "the assembled upload is missing".into(),
                });
            }
            Err(e) => return Err(sdk_error("GetObject", &object, e)),
        };
        let size = output
            .content_length()
            .and_then(|len| u64::try_from(len).ok())
            .unwrap_or_default();
        if size != length {
            return Err(StoreError::Corrupt {
                path: object,
                reason: format!("{size} bytes assembled; {length} were received"),
            });
        }
        Ok(Blob {
            size,
            reader: Box::pin(output.body.into_async_read()),
        })
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
        let object = self.store.object(&self.id)?;
        let client = &self.store.client;
        let upload_id = match &self.parts.multipart {
            Some(id) => id.clone(),
            None => {
                let created = client
                    .create_multipart_upload()
                    .bucket(&self.store.bucket)
                    .key(&object)
                    .checksum_algorithm(ChecksumAlgorithm::Sha256)
                    .send()
                    .await
                    .map_err(|e| sdk_error("CreateMultipartUpload", &object, e))?;
                let id = created.upload_id().map(str::to_string).ok_or_else(|| {
                    StoreError::Unavailable(format!("{object}: no multipart upload id"))
                })?;
                self.parts.multipart = Some(id.clone());
                id
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
        let sent = client
            .upload_part()
            .bucket(&self.store.bucket)
            .key(&object)
            .upload_id(&upload_id)
            .part_number(number)
            .content_length(i64::try_from(size).expect("parts fit in i64"))
            .checksum_sha256(&checksum)
            .body(ByteStream::from(bytes))
            .customize()
            .disable_payload_signing()
            .send()
            .await
            .map_err(|e| sdk_error("UploadPart", &format!("{object} part {number}"), e))?;
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
                let object = self.store.tail_object(&self.id, self.offset)?;
                let checksum = BASE64.encode(Sha256::digest(&rest));
                let size = rest.len() as u64;
                self.store
                    .client
                    .put_object()
                    .bucket(&self.store.bucket)
                    .key(&object)
                    .content_length(i64::try_from(size).expect("tails fit in i64"))
                    .checksum_sha256(checksum)
                    .body(ByteStream::from(rest))
                    .customize()
                    .disable_payload_signing()
                    .send()
                    .await
                    .map_err(|e| sdk_error("PutObject", &object, e))?;
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
