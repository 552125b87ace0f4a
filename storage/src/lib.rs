//! Where guichet keeps things.
//!
//! Three traits, each with backends that slot in without touching the pipeline:
//! - [`BlobStore`]: content-addressed objects (`sha256/<2 hex>/<hex>`), written once whatever
//!   the number of references. Bytes always arrive through local [`Staging`] first, where they
//!   are hashed and counted while streaming, so every backend receives a file whose digest is
//!   already known and checked against the key.
//! - [`uploads::UploadStore`]: the bytes of resumable uploads while they arrive, where the
//!   content will live (files, or a multipart upload in the bucket), so any process resumes.
//! - [`Repository`]: the metadata (campaigns, tokens, dossiers, documents, events), with its
//!   migrations. Changes to one dossier are applied atomically with optimistic concurrency
//!   (a version per dossier), so several processes may share one database.
//!
//! [`mounts`] tells whether a local directory is on a file system fit to keep them.

pub mod blob;
pub mod mounts;
pub mod repository;
pub mod staging;
pub mod uploads;

pub use blob::{
    Blob, BlobStore, ContentKey, FsBlobStore, Keyring, Listed, ObjectStore, Put, S3BlobStore,
    S3Settings, SealedStore, StoreError, StoredObject,
};
pub use repository::{
    Assignment, CampaignRecord, DocumentRecord, DossierChange, DossierRecord, EventRecord, Job,
    JobState, NewEvent, NewJob, PostgresRepository, RepoError, Repository, ReviewChange,
    ScanChange, SqliteRepository, TokenRecord, UploadProgress, UploadRecord, upload_state,
};
pub use staging::{IN_MEMORY_BYTES, StagedFile, Staging, StagingError, StagingWriter};
