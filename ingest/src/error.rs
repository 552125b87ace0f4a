//! Every way an action of the pipeline can fail, each with a stable code and a [`Class`].
//! Nothing here knows a transport: the API maps classes to HTTP statuses (`api::error`), the
//! staff pages to pages.

use serde_json::{Value, json};

use dossiers::TransitionError;
use storage::{RepoError, StagingError, StoreError};
use validators::Reason;

/// The kinds of failure, as a caller acts on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// No caller, or an unknown one.
    Unauthenticated,
    /// This caller may not, or not now.
    Forbidden,
    /// The request itself is wrong.
    Invalid,
    /// What it names does not exist.
    NotFound,
    /// It conflicts with the current state.
    Conflict,
    /// Gone for good: content a retention rule purged.
    Gone,
    /// Beyond a size limit.
    TooLarge,
    /// The content was judged and refused, with its reasons.
    Rejected,
    /// Someone else is at it right now: try again shortly.
    Locked,
    /// What was sent is not what its checksum says: send it again.
    ChecksumMismatch,
    /// A dependency is down: try again later.
    Unavailable,
    /// A fault of the service.
    Internal,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("missing or unknown token")]
    Unauthorized,
    #[error("this token's role may not do this")]
    Forbidden,
    #[error("malformed request: {0}")]
    Malformed(String),
    #[error("no such route")]
    NoRoute,
    #[error("invalid file name: {0}")]
    InvalidFilename(String),
    #[error("invalid reference: {0}")]
    InvalidReference(String),
    #[error("invalid candidate: {message}")]
    InvalidCandidate { code: &'static str, message: String },
    #[error("{message}")]
    InvalidCampaign {
        message: String,
        line: usize,
        reason: String,
    },
    #[error("unknown campaign {0}")]
    UnknownCampaign(String),
    #[error("unknown dossier {0}")]
    UnknownDossier(String),
    #[error("unknown piece {piece} in campaign {campaign}")]
    UnknownPiece { campaign: String, piece: String },
    #[error("unknown document {0}")]
    UnknownDocument(String),
    #[error("unknown webhook endpoint {0}")]
    UnknownWebhook(String),
    #[error("unknown mailroom batch {0}")]
    UnknownBatch(String),
    #[error("unknown upload {0}")]
    UnknownUpload(String),
    #[error("the upload expired; start it again")]
    UploadExpired,
    /// A whole upload that intake refused: `refusal` is its error (code, message, details).
    #[error("the uploaded document was refused: {}", .refusal["message"].as_str().unwrap_or("see details"))]
    UploadRefused { refusal: Value },
    #[error("the upload is at offset {expected}, not {given}")]
    OffsetMismatch { expected: u64, given: u64 },
    #[error("the upload announced {length} bytes; more were sent")]
    BeyondUploadLength { length: u64 },
    #[error("another request is writing this upload; retry shortly")]
    UploadLocked,
    #[error("the bytes received do not match their `Upload-Checksum`; they were discarded")]
    ChecksumMismatch,
    #[error("invalid webhook URL: {0}")]
    InvalidWebhookUrl(String),
    #[error("reference {reference} already belongs to campaign {campaign}")]
    ReferenceTaken { reference: String, campaign: String },
    #[error("the campaign is closed since {deadline}")]
    CampaignClosed { deadline: String },
    #[error("the campaign opens on {opening}")]
    CampaignNotOpen { opening: String },
    #[error("{0}")]
    Transition(#[from] TransitionError),
    #[error("piece {piece} already holds its {max} documents")]
    TooManyDocuments { piece: String, max: u32 },
    #[error("the document was withdrawn")]
    DocumentWithdrawn,
    #[error("this action needs a reason")]
    ReasonRequired,
    #[error("a correction request needs a message for the candidate")]
    MessageRequired,
    #[error("an extension must end in the future")]
    ExtensionInPast,
    #[error("dossier {reference} exists with other candidate attributes")]
    DossierExists { reference: String, candidate: Value },
    #[error("content exceeds the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the document was rejected")]
    Rejected { reasons: Vec<Reason> },
    #[error("the document content is missing from the store")]
    ContentMissing,
    /// Encrypted content whose key this process lacks (or holds wrong): the message names it.
    #[error("{0}")]
    ContentKeyUnavailable(String),
    /// Stored content that is not what was stored (altered, cut short, its data key lost).
    #[error("{0}")]
    ContentCorrupt(String),
    #[error("the document's content was deleted, as its campaign's retention rules require")]
    ContentPurged,
    #[error("document {0} has no display copy (only HEIC and AVIF photos have one)")]
    NoDisplayCopy(String),
    #[error("document {0} has no picture of its pages")]
    NoPreview(String),
    #[error("page {page} does not exist: the document has {pages}")]
    UnknownPage { page: u32, pages: u32 },
    #[error("the document is infected and quarantined: it is never served nor accepted")]
    Quarantined,
    #[error("the document is waiting for its virus scan")]
    ScanPending,
    #[error("the virus scanner could not scan this document")]
    ScanFailed,
    #[error("{0}")]
    Unavailable(String),
    /// Readiness: the dependencies that do not answer, by name (`database`, `object_store`,
    /// `clamd`), never by where they live.
    #[error("not ready: {} does not answer", .failing.join(", "))]
    NotReady { failing: Vec<&'static str> },
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The stable code clients match on.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Unauthorized => "unauthorized",
            Error::Forbidden => "forbidden",
            Error::Malformed(_) => "malformed_request",
            Error::NoRoute => "not_found",
            Error::InvalidFilename(_) => "invalid_filename",
            Error::InvalidReference(_) => "invalid_reference",
            Error::InvalidCandidate { code, .. } => code,
            Error::InvalidCampaign { .. } => "invalid_campaign",
            Error::UnknownCampaign(_) => "unknown_campaign",
            Error::UnknownDossier(_) => "unknown_dossier",
            Error::UnknownPiece { .. } => "unknown_piece",
            Error::UnknownDocument(_) => "unknown_document",
            Error::UnknownWebhook(_) => "unknown_webhook",
            Error::UnknownBatch(_) => "unknown_batch",
            Error::UnknownUpload(_) => "unknown_upload",
            Error::UploadExpired => "upload_expired",
            Error::UploadRefused { .. } => "upload_refused",
            Error::OffsetMismatch { .. } => "offset_mismatch",
            Error::BeyondUploadLength { .. } => "beyond_upload_length",
            Error::UploadLocked => "upload_locked",
            Error::ChecksumMismatch => "checksum_mismatch",
            Error::InvalidWebhookUrl(_) => "invalid_webhook_url",
            Error::ReferenceTaken { .. } => "reference_taken",
            Error::CampaignClosed { .. } => "campaign_closed",
            Error::CampaignNotOpen { .. } => "campaign_not_open",
            Error::Transition(e) => e.code(),
            Error::TooManyDocuments { .. } => "too_many_documents",
            Error::DocumentWithdrawn => "document_withdrawn",
            Error::ReasonRequired => "reason_required",
            Error::MessageRequired => "message_required",
            Error::ExtensionInPast => "extension_in_past",
            Error::DossierExists { .. } => "dossier_exists",
            Error::TooLarge { .. } => "too_large",
            Error::Rejected { .. } => "document_rejected",
            Error::ContentMissing => "content_missing",
            Error::ContentKeyUnavailable(_) => "content_key_unavailable",
            Error::ContentCorrupt(_) => "content_corrupt",
            Error::ContentPurged => "content_purged",
            Error::NoDisplayCopy(_) => "no_display_copy",
            Error::NoPreview(_) => "no_preview",
            Error::UnknownPage { .. } => "unknown_page",
            Error::Quarantined => "document_quarantined",
            Error::ScanPending => "scan_pending",
            Error::ScanFailed => "scan_failed",
            Error::Unavailable(_) => "unavailable",
            Error::NotReady { .. } => "not_ready",
            Error::Internal(_) => "internal",
        }
    }

    /// What kind of failure this is, for the transports to answer in their own terms (the
    /// API's statuses are mapped from it in one place, `api::error`).
    pub fn class(&self) -> Class {
        match self {
            Error::Unauthorized => Class::Unauthenticated,
            Error::Forbidden
            | Error::CampaignClosed { .. }
            | Error::CampaignNotOpen { .. }
            | Error::Quarantined => Class::Forbidden,
            Error::Malformed(_)
            | Error::InvalidFilename(_)
            | Error::InvalidReference(_)
            | Error::InvalidCandidate { .. }
            | Error::InvalidCampaign { .. }
            | Error::InvalidWebhookUrl(_)
            | Error::ReasonRequired
            | Error::MessageRequired
            | Error::BeyondUploadLength { .. } => Class::Invalid,
            Error::NoRoute
            | Error::UnknownCampaign(_)
            | Error::UnknownDossier(_)
            | Error::UnknownPiece { .. }
            | Error::UnknownDocument(_)
            | Error::UnknownWebhook(_)
            | Error::UnknownBatch(_)
            | Error::UnknownUpload(_)
            | Error::NoDisplayCopy(_)
            | Error::NoPreview(_)
            | Error::UnknownPage { .. } => Class::NotFound,
            Error::ReferenceTaken { .. }
            | Error::DossierExists { .. }
            | Error::ExtensionInPast
            | Error::Transition(_)
            | Error::TooManyDocuments { .. }
            | Error::DocumentWithdrawn
            | Error::ScanPending
            | Error::ScanFailed
            | Error::OffsetMismatch { .. }
            | Error::UploadRefused { .. } => Class::Conflict,
            Error::UploadLocked => Class::Locked,
            Error::ChecksumMismatch => Class::ChecksumMismatch,
            Error::TooLarge { .. } => Class::TooLarge,
            Error::ContentPurged | Error::UploadExpired => Class::Gone,
            Error::Rejected { .. } => Class::Rejected,
            // Another process of the deployment may hold the key: worth a retry.
            Error::Unavailable(_) | Error::ContentKeyUnavailable(_) | Error::NotReady { .. } => {
                Class::Unavailable
            }
            Error::ContentMissing | Error::ContentCorrupt(_) | Error::Internal(_) => {
                Class::Internal
            }
        }
    }

    /// The message a caller, a station or staff reads. A fault of the service or of a
    /// dependency is told in general words: its text can carry file paths, SQL, database
    /// errors or where the store lives, which belong in the log only.
    pub fn public_message(&self) -> String {
        match self.class() {
            // Names what fails, and nothing of where it is.
            _ if matches!(self, Error::NotReady { .. }) => self.to_string(),
            Class::Internal => "internal error".into(),
            Class::Unavailable => "a service guichet depends on is unavailable".into(),
            _ => self.to_string(),
        }
    }

    /// Facts that go with the code, by code (`{}` for most).
    pub fn details(&self) -> Value {
        match self {
            Error::InvalidCampaign { line, reason, .. } => json!({"line": line, "reason": reason}),
            Error::UnknownPiece { campaign, piece } => {
                json!({"campaign": campaign, "piece": piece})
            }
            Error::ReferenceTaken { campaign, .. } => json!({"campaign": campaign}),
            Error::DossierExists { candidate, .. } => json!({"candidate": candidate}),
            Error::CampaignClosed { deadline } => json!({"closes_at": deadline}),
            Error::CampaignNotOpen { opening } => json!({"opens_at": opening}),
            Error::Transition(TransitionError::MissingPieces { pieces }) => {
                json!({"missing": pieces})
            }
            Error::TooManyDocuments { piece, max } => json!({"piece": piece, "max_documents": max}),
            Error::TooLarge { limit } => json!({"limit": limit}),
            Error::OffsetMismatch { expected, .. } => json!({"offset": expected}),
            Error::BeyondUploadLength { length } => json!({"length": length}),
            Error::UploadRefused { refusal } => json!({"refusal": refusal}),
            Error::UnknownPage { pages, .. } => json!({"pages": pages}),
            Error::Rejected { reasons } => json!({"reasons": reasons}),
            Error::NotReady { failing } => json!({"failing": failing}),
            _ => json!({}),
        }
    }
}

impl From<RepoError> for Error {
    fn from(e: RepoError) -> Self {
        match e {
            RepoError::Unavailable(m) => Error::Unavailable(format!("database unavailable: {m}")),
            // Rare: the same bytes arrive while a purge deletes their old copy. The object
            // may be gone; the sender sends it again once the deletion is over.
            RepoError::ContentBeingDeleted => Error::Unavailable(
                "the same content is being deleted by a retention purge; send it again".into(),
            ),
            other => Error::Internal(other.to_string()),
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(m) => {
                Error::Unavailable(format!("object store unavailable: {m}"))
            }
            e @ StoreError::KeyUnavailable { .. } => Error::ContentKeyUnavailable(e.to_string()),
            e @ StoreError::Corrupt { .. } => Error::ContentCorrupt(e.to_string()),
            other => Error::Internal(other.to_string()),
        }
    }
}

impl From<StagingError> for Error {
    fn from(e: StagingError) -> Self {
        match e {
            StagingError::TooLarge { limit } => Error::TooLarge { limit },
            other => Error::Internal(other.to_string()),
        }
    }
}
