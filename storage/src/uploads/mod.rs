//! The bytes of resumable uploads while they arrive, kept where the content will live: files
//! under the data directory on the embedded default, a multipart upload in the bucket on S3.
//! No process holds an upload: any process can take it up from the offset the database
//! records (see `repository::uploads`), with the store's record of it ([`Parts`]).
//!
//! A request appends through a [`PartWriter`], which says when a prefix of what it was given
//! is durable ([`Checkpoint`]): the caller records it, and a crash then loses only what came
//! after. What a writer wrote beyond the recorded offset is garbage that the next writer
//! overwrites: on the filesystem the file is cut back to the offset; on S3 part numbers and
//! tail objects follow from the recorded parts, so a retry writes the same names again.

mod fs;
mod s3;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

pub use fs::FsUploadStore;
pub use s3::S3UploadStore;

use crate::blob::{Blob, StoreError};

/// Where the uploads' objects live in the store, beside `sha256/`.
pub const UPLOADS_PREFIX: &str = "uploads/";

/// What the store keeps of an upload besides its offset: nothing on the filesystem; on S3 the
/// multipart upload, the parts sent, and the last bytes too few to make a part.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parts {
    /// The S3 multipart upload, once its first part was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multipart: Option<String>,
    /// The parts sent, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sent: Vec<SentPart>,
    /// Bytes received after the last part, kept as an object of their own until the next
    /// part takes them (S3 parts but the last are at least 5 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tail: Option<Tail>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentPart {
    pub number: i32,
    pub etag: String,
    pub size: u64,
    /// Base64 SHA-256 of the part, as S3 checked it.
    pub checksum: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tail {
    /// Where the tail ends in the upload (its object's name says it too).
    pub end: u64,
    pub size: u64,
}

impl Parts {
    /// The record as the database keeps it.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("parts serialise")
    }

    pub fn from_json(value: &serde_json::Value) -> Result<Parts, StoreError> {
        serde_json::from_value(value.clone()).map_err(|e| StoreError::Corrupt {
            path: UPLOADS_PREFIX.into(),
            reason: format!("an upload's record of its parts does not read: {e}"),
        })
    }
}

/// A durable prefix of an upload: record it, and a crash loses only what follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub offset: u64,
    pub parts: Parts,
}

#[async_trait]
pub trait UploadStore: Send + Sync {
    /// A writer that appends after the first `offset` bytes, as recorded with `parts`.
    async fn writer(
        &self,
        id: &str,
        offset: u64,
        parts: &Parts,
    ) -> Result<Box<dyn PartWriter>, StoreError>;
    /// The whole upload, once every byte is in (`length` bytes, as recorded with `parts`).
    async fn read(&self, id: &str, length: u64, parts: &Parts) -> Result<Blob, StoreError>;
    /// Removes everything the store holds of the upload, recorded or not.
    async fn discard(&self, id: &str, parts: &Parts) -> Result<(), StoreError>;
}

#[async_trait]
pub trait PartWriter: Send {
    /// Appends `chunk`; a checkpoint when this made more of the upload durable.
    async fn write(&mut self, chunk: Bytes) -> Result<Option<Checkpoint>, StoreError>;
    /// Makes everything written durable; `last`: the upload is whole, nothing follows.
    async fn finish(self: Box<Self>, last: bool) -> Result<Checkpoint, StoreError>;
}

/// The id of an upload as object names use it: the service makes them (UUIDs), but a name
/// read back from the database must still not leave the uploads' folder.
fn checked(id: &str) -> Result<&str, StoreError> {
    if !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Ok(id)
    } else {
        Err(StoreError::Config(format!("invalid upload id {id:?}")))
    }
}
