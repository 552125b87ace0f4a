//! Every way a request can fail, each with a stable code, mapped to HTTP in one place.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use dossiers::TransitionError;
use storage::{RepoError, StagingError, StoreError};
use validators::Reason;

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
    #[error("a rejection needs a reason")]
    ReasonRequired,
    #[error("content exceeds the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the document was rejected")]
    Rejected { reasons: Vec<Reason> },
    #[error("the document content is missing from the store")]
    ContentMissing,
    #[error("the document is infected and quarantined: it is never served nor accepted")]
    Quarantined,
    #[error("the document is waiting for its virus scan")]
    ScanPending,
    #[error("the virus scanner could not scan this document")]
    ScanFailed,
    #[error("{0}")]
    Unavailable(String),
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
            Error::InvalidWebhookUrl(_) => "invalid_webhook_url",
            Error::ReferenceTaken { .. } => "reference_taken",
            Error::CampaignClosed { .. } => "campaign_closed",
            Error::CampaignNotOpen { .. } => "campaign_not_open",
            Error::Transition(e) => e.code(),
            Error::TooManyDocuments { .. } => "too_many_documents",
            Error::DocumentWithdrawn => "document_withdrawn",
            Error::ReasonRequired => "reason_required",
            Error::TooLarge { .. } => "too_large",
            Error::Rejected { .. } => "document_rejected",
            Error::ContentMissing => "content_missing",
            Error::Quarantined => "document_quarantined",
            Error::ScanPending => "scan_pending",
            Error::ScanFailed => "scan_failed",
            Error::Unavailable(_) => "unavailable",
            Error::Internal(_) => "internal",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Error::Unauthorized => StatusCode::UNAUTHORIZED,
            Error::Forbidden
            | Error::CampaignClosed { .. }
            | Error::CampaignNotOpen { .. }
            | Error::Quarantined => StatusCode::FORBIDDEN,
            Error::Malformed(_)
            | Error::InvalidFilename(_)
            | Error::InvalidReference(_)
            | Error::InvalidCandidate { .. }
            | Error::InvalidCampaign { .. }
            | Error::InvalidWebhookUrl(_)
            | Error::ReasonRequired => StatusCode::BAD_REQUEST,
            Error::NoRoute
            | Error::UnknownCampaign(_)
            | Error::UnknownDossier(_)
            | Error::UnknownPiece { .. }
            | Error::UnknownDocument(_)
            | Error::UnknownWebhook(_)
            | Error::UnknownBatch(_) => StatusCode::NOT_FOUND,
            Error::ReferenceTaken { .. }
            | Error::Transition(_)
            | Error::TooManyDocuments { .. }
            | Error::DocumentWithdrawn
            | Error::ScanPending
            | Error::ScanFailed => StatusCode::CONFLICT,
            Error::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Rejected { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::ContentMissing | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn details(&self) -> Value {
        match self {
            Error::InvalidCampaign { line, reason, .. } => json!({"line": line, "reason": reason}),
            Error::UnknownPiece { campaign, piece } => {
                json!({"campaign": campaign, "piece": piece})
            }
            Error::ReferenceTaken { campaign, .. } => json!({"campaign": campaign}),
            Error::CampaignClosed { deadline } => json!({"closes_at": deadline}),
            Error::CampaignNotOpen { opening } => json!({"opens_at": opening}),
            Error::Transition(TransitionError::MissingPieces { pieces }) => {
                json!({"missing": pieces})
            }
            Error::TooManyDocuments { piece, max } => json!({"piece": piece, "max_documents": max}),
            Error::TooLarge { limit } => json!({"limit": limit}),
            Error::Rejected { reasons } => json!({"reasons": reasons}),
            _ => json!({}),
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(code = self.code(), error = %self, "request failed");
        }
        let body = json!({"error": {
            "code": self.code(),
            "message": self.to_string(),
            "details": self.details(),
        }});
        let mut response = (status, axum::Json(body)).into_response();
        match &self {
            // The rest of an oversized body is not read: the connection cannot be reused.
            Error::TooLarge { .. } => {
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Error::Unavailable(_) => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            _ => {}
        }
        response
    }
}

impl From<RepoError> for Error {
    fn from(e: RepoError) -> Self {
        match e {
            RepoError::Unavailable(m) => Error::Unavailable(format!("database unavailable: {m}")),
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
