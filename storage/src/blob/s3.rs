//! The S3 object store (AWS, or any S3-compatible service: Garage, MinIO, Ceph), for
//! deployments beyond one machine.
//!
//! Invariants:
//! - The server verifies what it stores: a whole-object put carries the staged SHA-256 as its
//!   S3 checksum; a multipart put carries a SHA-256 per part, and the concatenation of the parts
//!   is hashed here while reading and compared with the key before the upload is completed.
//! - Bodies are not signed (`UNSIGNED-PAYLOAD`): the SHA-256 checksum every put carries already
//!   makes the store refuse bytes that are not the ones hashed, and signing would hash each body
//!   twice more (once here, once in the store) for no further guarantee. Headers are signed.
//! - A document is never held in memory: a small object streams from the staged file; a large
//!   one goes up in parts, with at most `concurrency` parts in flight plus the one being read.
//! - An upload that fails or whose future is dropped (a cancelled request) is aborted; what a
//!   crash leaves behind is aborted by [`BlobStore::sweep`] at the next start.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_config::meta::region::RegionProviderChain;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::Region;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tokio::task::JoinSet;

use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};

use super::{Blob, ContentKey, Listed, ObjectStore, StoreError};
use crate::staging::StagedFile;

const MIB: u64 = 1024 * 1024;
/// S3 refuses parts below 5 MiB, except the last one.
pub(crate) const MIN_PART_SIZE: u64 = 5 * MIB;
/// S3 allows at most 10 000 parts per upload.
const MAX_PARTS: u64 = 10_000;
const DEFAULT_REGION: &str = "us-east-1";

// Timeouts and retries, chosen rather than inherited.
//
// A dead or unroutable endpoint must fail fast, so that readiness and intake answer 503 within
// seconds instead of hanging: an object store on the same network connects in milliseconds.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
// One attempt moves at most one part or one below-threshold object (16 MiB by default): 60 s
// allows for a slow link (about 2 Mbit/s) while still unsticking a hung connection.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);
// Every request this store sends can be replayed safely: objects are content-addressed (a
// repeated put writes the same bytes), and bodies are re-read from the staged file or from the
// part buffer. Three attempts with the standard mode's jittered backoff and retry budget ride
// out a restarting node or a SlowDown without hammering a store that is really down.
const MAX_ATTEMPTS: u32 = 3;

/// Where and how to reach an S3 bucket (`storage.s3` in the configuration).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Settings {
    /// Endpoint URL of an S3-compatible service (`http://127.0.0.1:3900`); AWS when absent.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// The bucket holding the objects; it must exist.
    pub bucket: String,
    /// Signing region; when absent, the SDK's usual chain (`AWS_REGION`, profile), then
    /// `us-east-1`. Garage's default is `garage`.
    #[serde(default)]
    pub region: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`), which Garage, MinIO and Ceph need
    /// unless their DNS serves virtual-host buckets.
    #[serde(default)]
    pub path_style: bool,
    /// Prepended to every key (`tenant-a/`), so that tenants or tests can share a bucket.
    #[serde(default)]
    pub prefix: String,
    /// Objects of at least this many bytes go up as multipart uploads.
    #[serde(default = "default_multipart_threshold")]
    pub multipart_threshold: u64,
    /// Size of one part of a multipart upload (at least 5 MiB, the S3 minimum); raised for
    /// objects that would otherwise need more than 10 000 parts.
    #[serde(default = "default_part_size")]
    pub part_size: u64,
    /// Parts in flight at once for one upload. Memory per upload is bounded by
    /// `(concurrency + 1) * part_size`.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
}

fn default_multipart_threshold() -> u64 {
    16 * MIB
}

fn default_part_size() -> u64 {
    8 * MIB
}

fn default_concurrency() -> usize {
    4
}

impl S3Settings {
    /// Settings for `bucket` with every other field at its default.
    pub fn new(bucket: impl Into<String>) -> Self {
        S3Settings {
            endpoint: None,
            bucket: bucket.into(),
            region: None,
            path_style: false,
            prefix: String::new(),
            multipart_threshold: default_multipart_threshold(),
            part_size: default_part_size(),
            concurrency: default_concurrency(),
        }
    }

    /// Refuses settings that S3 would refuse later, mid-upload.
    pub fn validate(&self) -> Result<(), StoreError> {
        let problem = if self.bucket.is_empty() {
            Some("the bucket name is empty".to_string())
        } else if self.part_size < MIN_PART_SIZE {
            Some(format!(
                "part_size is {} bytes; S3 needs at least {MIN_PART_SIZE} (5 MiB)",
                self.part_size
            ))
        } else if self.concurrency == 0 {
            Some("concurrency must be at least 1".to_string())
        } else if self.prefix.starts_with('/') {
            Some(format!("prefix {:?} must not start with '/'", self.prefix))
        } else {
            None
        };
        match problem {
            Some(problem) => Err(StoreError::Config(format!("storage.s3: {problem}"))),
            None => Ok(()),
        }
    }
}

#[derive(Clone)]
pub struct S3BlobStore {
    pub(crate) client: Client,
    pub(crate) settings: S3Settings,
}

impl S3BlobStore {
    /// Builds the client (credentials through the SDK's usual chain: environment, profile,
    /// web identity, instance metadata). Sends nothing: [`BlobStore::ping`] checks the bucket.
    pub async fn connect(settings: S3Settings) -> Result<Self, StoreError> {
        settings.validate()?;
        let region = RegionProviderChain::first_try(settings.region.clone().map(Region::new))
            .or_default_provider()
            .or_else(Region::new(DEFAULT_REGION));
        let shared = aws_config::defaults(BehaviorVersion::latest())
            .region(region)
            .load()
            .await;
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .operation_attempt_timeout(ATTEMPT_TIMEOUT)
            .build();
        let mut config = aws_sdk_s3::config::Builder::from(&shared)
            .timeout_config(timeouts)
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
            .force_path_style(settings.path_style);
        if let Some(endpoint) = &settings.endpoint {
            config = config.endpoint_url(endpoint);
        }
        Ok(S3BlobStore {
            client: Client::from_conf(config.build()),
            settings,
        })
    }

    /// Where this bucket keeps resumable uploads while they arrive (under the same prefix).
    pub fn uploads(&self) -> crate::uploads::S3UploadStore {
        crate::uploads::S3UploadStore::new(self.clone())
    }

    pub(crate) fn object_key(&self, path: &str) -> String {
        format!("{}{path}", self.settings.prefix)
    }

    /// Part size for an object of `size` bytes, within S3's limit on the number of parts.
    fn part_size_for(&self, size: u64) -> u64 {
        self.settings.part_size.max(size.div_ceil(MAX_PARTS))
    }

    async fn put_whole(&self, object: &str, staged: &StagedFile) -> Result<(), StoreError> {
        let body = match staged.bytes() {
            Some(bytes) => ByteStream::from(bytes.clone()),
            None => ByteStream::from_path(staged.path())
                .await
                .map_err(|e| StoreError::io(staged.path(), std::io::Error::other(e)))?,
        };
        self.client
            .put_object()
            .bucket(&self.settings.bucket)
            .key(object)
            .content_length(i64::try_from(staged.size()).expect("staged sizes fit in i64"))
            .checksum_sha256(checksum_of_key(staged.key()))
            .body(body)
            .customize()
            .disable_payload_signing()
            .send()
            .await
            .map_err(|e| refused_digest(sdk_error("PutObject", object, e), staged.key()))?;
        Ok(())
    }

    async fn put_multipart(&self, object: &str, staged: &StagedFile) -> Result<(), StoreError> {
        // Begun in its own task: a request cancelled while the store is answering the
        // creation drops only the join handle, and the guard the task returns is dropped
        // with its output, which aborts the upload the store has already opened.
        let begun = tokio::spawn(Upload::begin(
            self.client.clone(),
            self.settings.bucket.clone(),
            object.to_string(),
        ));
        let upload = joined(begun.await)?;
        match self.upload_parts(upload.upload(), staged).await {
            Ok(parts) => upload.complete(parts).await,
            Err(e) => {
                upload.abort().await;
                Err(e)
            }
        }
    }

    /// Reads the staged file in order, hashing it whole as it goes, and sends its parts with
    /// at most `concurrency` in flight. Each part travels in its own task, so uploads go on
    /// while the next part is read; dropping this future drops the tasks.
    async fn upload_parts(
        &self,
        upload: &Arc<Upload>,
        staged: &StagedFile,
    ) -> Result<Vec<CompletedPart>, StoreError> {
        let size = staged.size();
        let part_size = self.part_size_for(size);
        let mut reader = PartReader::open(staged).await?;
        let mut in_flight = JoinSet::new();
        let mut parts = Vec::new();
        let mut offset = 0;
        let mut number = 1;
        while offset < size {
            while in_flight.len() >= self.settings.concurrency {
                parts.push(joined(
                    in_flight
                        .join_next()
                        .await
                        .expect("joined only while parts are in flight"),
                )?);
            }
            let len = part_size.min(size - offset);
            let part = reader.next_part(len).await?;
            in_flight.spawn(Arc::clone(upload).send_part(number, part));
            offset += len;
            number += 1;
        }
        if reader.finish() != *staged.key() {
            return Err(StoreError::DigestMismatch {
                key: staged.key().clone(),
            });
        }
        while let Some(done) = in_flight.join_next().await {
            parts.push(joined(done)?);
        }
        parts.sort_by_key(|part| part.part_number());
        Ok(parts)
    }
}

/// The base64 of the digest a content key names: the value of `x-amz-checksum-sha256`.
fn checksum_of_key(key: &ContentKey) -> String {
    BASE64.encode(hex::decode(key.hex()).expect("content keys are hex"))
}

/// One multipart upload in progress.
pub(crate) struct Upload {
    pub(crate) client: Client,
    pub(crate) bucket: String,
    pub(crate) object: String,
    pub(crate) upload_id: String,
}

impl Upload {
    /// Opens a multipart upload of `object`, armed to be aborted unless completed.
    async fn begin(
        client: Client,
        bucket: String,
        object: String,
    ) -> Result<PendingUpload, StoreError> {
        let upload = Upload::create(client, bucket, object).await?;
        Ok(PendingUpload::new(Arc::new(upload)))
    }

    /// Opens a multipart upload of `object` (with SHA-256 checksums per part).
    pub(crate) async fn create(
        client: Client,
        bucket: String,
        object: String,
    ) -> Result<Upload, StoreError> {
        let created = client
            .create_multipart_upload()
            .bucket(&bucket)
            .key(&object)
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .send()
            .await
            .map_err(|e| sdk_error("CreateMultipartUpload", &object, e))?;
        let Some(upload_id) = created.upload_id() else {
            return Err(StoreError::Service {
                operation: "CreateMultipartUpload",
                target: object,
                status: 200,
                code: "MissingUploadId".into(),
                message: "the store answered without an upload id".into(),
            });
        };
        Ok(Upload {
            client,
            bucket,
            object,
            upload_id: upload_id.to_string(),
        })
    }

    pub(crate) async fn send_part(
        self: Arc<Self>,
        number: i32,
        part: Part,
    ) -> Result<CompletedPart, StoreError> {
        let sent = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(&self.object)
            .upload_id(&self.upload_id)
            .part_number(number)
            .content_length(i64::try_from(part.bytes.len()).expect("parts fit in i64"))
            .checksum_sha256(&part.checksum)
            .body(ByteStream::from(part.bytes))
            .customize()
            .disable_payload_signing()
            .send()
            .await
            .map_err(|e| sdk_error("UploadPart", &format!("{} part {number}", self.object), e))?;
        Ok(CompletedPart::builder()
            .part_number(number)
            .set_e_tag(sent.e_tag().map(str::to_string))
            .checksum_sha256(part.checksum)
            .build())
    }

    async fn abort(&self) -> Result<(), StoreError> {
        abort_multipart(&self.client, &self.bucket, &self.object, &self.upload_id).await
    }
}

/// Aborts the multipart upload `upload_id` of `object`. One already completed or aborted (by
/// another process's sweep, say) leaves nothing to undo.
pub(crate) async fn abort_multipart(
    client: &Client,
    bucket: &str,
    object: &str,
    upload_id: &str,
) -> Result<(), StoreError> {
    let aborted = client
        .abort_multipart_upload()
        .bucket(bucket)
        .key(object)
        .upload_id(upload_id)
        .send()
        .await;
    match aborted {
        Ok(_) => Ok(()),
        Err(e) if is_no_such_upload(&e) => Ok(()),
        Err(e) => Err(sdk_error("AbortMultipartUpload", object, e)),
    }
}

/// The store knows no such multipart upload: it was completed or aborted.
pub(crate) fn is_no_such_upload<E: ProvideErrorMetadata>(err: &SdkError<E>) -> bool {
    err.as_service_error()
        .is_some_and(|s| s.code() == Some("NoSuchUpload"))
}

/// Aborts its upload when dropped unless completed or aborted: the drop guard that undoes a
/// half-done upload when the request that drove it is cancelled.
struct PendingUpload(Option<Arc<Upload>>);

impl PendingUpload {
    fn new(upload: Arc<Upload>) -> Self {
        PendingUpload(Some(upload))
    }

    fn upload(&self) -> &Arc<Upload> {
        self.0.as_ref().expect("armed until completed or aborted")
    }

    /// Completes the upload, or aborts it when the store refuses to.
    async fn complete(mut self, parts: Vec<CompletedPart>) -> Result<(), StoreError> {
        let upload = Arc::clone(self.upload());
        let completed = upload
            .client
            .complete_multipart_upload()
            .bucket(&upload.bucket)
            .key(&upload.object)
            .upload_id(&upload.upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await;
        match completed {
            Ok(_) => {
                self.0 = None;
                Ok(())
            }
            Err(e) => {
                let err = sdk_error("CompleteMultipartUpload", &upload.object, e);
                self.abort().await;
                Err(err)
            }
        }
    }

    async fn abort(mut self) {
        if let Some(upload) = self.0.take()
            && let Err(e) = upload.abort().await
        {
            tracing::warn!(object = %upload.object, error = %e, "multipart upload left for the sweep");
        }
    }
}

impl Drop for PendingUpload {
    fn drop(&mut self) {
        let Some(upload) = self.0.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if let Err(e) = upload.abort().await {
                        tracing::warn!(object = %upload.object, error = %e, "multipart upload left for the sweep");
                    }
                });
            }
            Err(_) => {
                tracing::warn!(object = %upload.object, "no runtime to abort a cancelled multipart upload; left for the sweep");
            }
        }
    }
}

/// A part read from the staged file, with the base64 SHA-256 S3 checks it against.
pub(crate) struct Part {
    pub(crate) bytes: Bytes,
    /// Base64 SHA-256 of `bytes`.
    pub(crate) checksum: String,
}

/// Reads a staged file part after part, in order, hashing the whole file on the way.
struct PartReader {
    file: tokio::fs::File,
    path: std::path::PathBuf,
    whole: Option<Sha256>,
}

impl PartReader {
    async fn open(staged: &StagedFile) -> Result<Self, StoreError> {
        let path = staged.path().to_path_buf();
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| StoreError::io(&path, e))?;
        Ok(PartReader {
            file,
            path,
            whole: Some(Sha256::new()),
        })
    }

    async fn next_part(&mut self, len: u64) -> Result<Part, StoreError> {
        let mut buffer = vec![0; usize::try_from(len).expect("parts fit in memory")];
        self.file
            .read_exact(&mut buffer)
            .await
            .map_err(|e| StoreError::io(&self.path, e))?;
        let mut whole = self
            .whole
            .take()
            .expect("the whole-file hasher is put back");
        // Hashing megabytes is CPU work: off the async workers.
        let (whole, buffer, checksum) = tokio::task::spawn_blocking(move || {
            whole.update(&buffer);
            let checksum = BASE64.encode(Sha256::digest(&buffer));
            (whole, buffer, checksum)
        })
        .await
        .expect("hashing does not panic");
        self.whole = Some(whole);
        Ok(Part {
            bytes: Bytes::from(buffer),
            checksum,
        })
    }

    /// The key of everything read.
    fn finish(mut self) -> ContentKey {
        let digest = self
            .whole
            .take()
            .expect("the whole-file hasher is put back")
            .finalize();
        ContentKey::from_hex(&hex::encode(digest)).expect("a SHA-256 digest is 64 hex digits")
    }
}

/// The outcome of one of this store's tasks (a part, the creation of an upload); a panic in
/// it is re-raised here.
fn joined<T>(done: Result<Result<T, StoreError>, tokio::task::JoinError>) -> Result<T, StoreError> {
    match done {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(StoreError::Unavailable(format!(
            "upload task cancelled: {e}"
        ))),
    }
}

/// Maps an SDK error: no answer (connection refused, timeout) or a server-side failure is
/// [`StoreError::Unavailable`]; a refusal keeps the service's code and message.
pub(crate) fn sdk_error<E>(operation: &'static str, target: &str, err: SdkError<E>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let unavailable = |err: &SdkError<E>| {
        StoreError::Unavailable(format!(
            "{operation} {target}: {}",
            DisplayErrorContext(err)
        ))
    };
    match &err {
        SdkError::ServiceError(service) if !service.raw().status().is_server_error() => {
            StoreError::Service {
                operation,
                target: target.to_string(),
                status: service.raw().status().as_u16(),
                code: err.code().unwrap_or("Unknown").to_string(),
                message: err.message().unwrap_or_default().to_string(),
            }
        }
        SdkError::ConstructionFailure(_) => StoreError::Service {
            operation,
            target: target.to_string(),
            status: 0,
            code: "RequestNotSent".to_string(),
            message: DisplayErrorContext(&err).to_string(),
        },
        _ => unavailable(&err),
    }
}

/// A server that recomputed the SHA-256 and found another: the bytes sent are not the content
/// the key names. AWS says `BadDigest`; Garage says `InvalidDigest`.
fn refused_digest(err: StoreError, key: &ContentKey) -> StoreError {
    match err {
        StoreError::Service { code, .. } if code == "BadDigest" || code == "InvalidDigest" => {
            StoreError::DigestMismatch { key: key.clone() }
        }
        other => other,
    }
}

pub(crate) fn is_not_found<E: ProvideErrorMetadata>(err: &SdkError<E>) -> bool {
    match err {
        SdkError::ServiceError(service) => {
            service.raw().status().as_u16() == 404
                || matches!(err.code(), Some("NoSuchKey" | "NotFound"))
        }
        _ => false,
    }
}

#[async_trait]
impl ObjectStore for S3BlobStore {
    fn kind(&self) -> &'static str {
        "s3"
    }

    fn location(&self) -> String {
        format!(
            "s3://{}/{} at {}",
            self.settings.bucket,
            self.settings.prefix,
            self.settings.endpoint.as_deref().unwrap_or("AWS")
        )
    }

    async fn reach(&self) -> Result<(), StoreError> {
        // Readiness: any failure to reach the bucket, refusals included, means "not ready".
        self.client
            .head_bucket()
            .bucket(&self.settings.bucket)
            .send()
            .await
            .map(|_| ())
            .map_err(
                |e| match sdk_error("HeadBucket", &self.settings.bucket, e) {
                    StoreError::Unavailable(m) => StoreError::Unavailable(m),
                    other => StoreError::Unavailable(other.to_string()),
                },
            )
    }

    async fn write(&self, path: &str, staged: StagedFile) -> Result<(), StoreError> {
        let object = self.object_key(path);
        let size = staged.size();
        if size > 0 && size >= self.settings.multipart_threshold {
            self.put_multipart(&object, &staged).await?;
        } else {
            self.put_whole(&object, &staged).await?;
        }
        // Dropping the staged file removes the local copy: the store holds it now.
        Ok(())
    }

    async fn write_small(&self, path: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        let object = self.object_key(path);
        let checksum = BASE64.encode(Sha256::digest(&bytes));
        self.client
            .put_object()
            .bucket(&self.settings.bucket)
            .key(&object)
            .content_length(i64::try_from(bytes.len()).expect("small objects fit in i64"))
            .checksum_sha256(checksum)
            .body(ByteStream::from(bytes))
            .customize()
            .disable_payload_signing()
            .send()
            .await
            .map_err(|e| sdk_error("PutObject", &object, e))?;
        Ok(())
    }

    async fn read(&self, path: &str) -> Result<Option<Blob>, StoreError> {
        let object = self.object_key(path);
        let got = self
            .client
            .get_object()
            .bucket(&self.settings.bucket)
            .key(&object)
            .send()
            .await;
        match got {
            Ok(output) => Ok(Some(Blob {
                size: output
                    .content_length()
                    .and_then(|len| u64::try_from(len).ok())
                    .unwrap_or_default(),
                reader: Box::pin(output.body.into_async_read()),
            })),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(sdk_error("GetObject", &object, e)),
        }
    }

    async fn contains(&self, path: &str) -> Result<bool, StoreError> {
        let object = self.object_key(path);
        let head = self
            .client
            .head_object()
            .bucket(&self.settings.bucket)
            .key(&object)
            .send()
            .await;
        match head {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(sdk_error("HeadObject", &object, e)),
        }
    }

    /// S3 answers a deletion alike whether the object was there or not: a HEAD first tells.
    async fn remove(&self, path: &str) -> Result<bool, StoreError> {
        if !self.contains(path).await? {
            return Ok(false);
        }
        let object = self.object_key(path);
        self.client
            .delete_object()
            .bucket(&self.settings.bucket)
            .key(&object)
            .send()
            .await
            .map_err(|e| sdk_error("DeleteObject", &object, e))?;
        Ok(true)
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<Listed, StoreError>> {
        let listed = self.object_key(prefix);
        let pages = self
            .client
            .list_objects_v2()
            .bucket(&self.settings.bucket)
            .prefix(&listed)
            .into_paginator()
            .send();
        futures::stream::try_unfold(pages, move |mut pages| {
            let listed = listed.clone();
            async move {
                let Some(page) = pages.next().await else {
                    return Ok(None);
                };
                let page = page.map_err(|e| sdk_error("ListObjectsV2", &listed, e))?;
                let objects: Vec<Result<Listed, StoreError>> = page
                    .contents()
                    .iter()
                    .filter_map(|object| {
                        let path = object.key()?.strip_prefix(&self.settings.prefix)?;
                        Some(Ok(Listed {
                            path: path.to_string(),
                            modified: object
                                .last_modified()
                                .and_then(|at| SystemTime::try_from(*at).ok()),
                        }))
                    })
                    .collect();
                Ok(Some((futures::stream::iter(objects), pages)))
            }
        })
        .try_flatten()
        .boxed()
    }

    /// Aborts the multipart uploads under this store's prefix begun more than `older_than`
    /// ago: what a crash left behind. The bound must exceed the longest upload, since other
    /// processes sharing the bucket may be uploading right now.
    async fn sweep_leftovers(&self, older_than: Duration) -> Result<usize, StoreError> {
        let cutoff = SystemTime::now()
            .checked_sub(older_than)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let listed = self.object_key(super::CONTENT_PREFIX);
        let mut stale = Vec::new();
        let (mut key_marker, mut upload_id_marker) = (None, None);
        loop {
            let page = self
                .client
                .list_multipart_uploads()
                .bucket(&self.settings.bucket)
                .prefix(&listed)
                .set_key_marker(key_marker.take())
                .set_upload_id_marker(upload_id_marker.take())
                .send()
                .await
                .map_err(|e| sdk_error("ListMultipartUploads", &listed, e))?;
            for upload in page.uploads() {
                let initiated = upload
                    .initiated()
                    .and_then(|at| SystemTime::try_from(*at).ok());
                // An upload of unknown age might be in flight: leave it.
                if let (Some(object), Some(upload_id), Some(initiated)) =
                    (upload.key(), upload.upload_id(), initiated)
                    && initiated <= cutoff
                {
                    stale.push(Upload {
                        client: self.client.clone(),
                        bucket: self.settings.bucket.clone(),
                        object: object.to_string(),
                        upload_id: upload_id.to_string(),
                    });
                }
            }
            key_marker = page.next_key_marker().map(str::to_string);
            upload_id_marker = page.next_upload_id_marker().map(str::to_string);
            if page.is_truncated() != Some(true) || key_marker.is_none() {
                break;
            }
        }
        for upload in &stale {
            upload.abort().await?;
            tracing::info!(object = %upload.object, "aborted a stale multipart upload");
        }
        Ok(stale.len())
    }
}
