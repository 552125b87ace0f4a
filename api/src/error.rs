//! The one mapping from the pipeline's failures to HTTP: a status by class, the JSON error body
//! (`{"error": {"code", "message", "details"}}`), and the headers some answers carry.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

pub use ingest::Error;
use ingest::error::Class;

/// A failure as the API answers it.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl<E> From<E> for ApiError
where
    Error: From<E>,
{
    fn from(e: E) -> Self {
        ApiError(Error::from(e))
    }
}

/// Every error answer: a stable `code`, a human `message`, and `details` by code.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, `snake_case` (see docs/reasons.md and the specification's error table).
    pub code: &'static str,
    pub message: String,
    /// What the code needs said (a line, a limit, the missing pieces...); `{}` when nothing.
    #[schema(value_type = Object)]
    pub details: Value,
}

impl ErrorBody {
    pub fn of(error: &Error) -> ErrorBody {
        let mut details = error.details();
        let message = match error.class() {
            // A fault of the service or of a dependency is logged whole, under the request's
            // id, and answered in general words with that id (see `Error::public_message`).
            Class::Internal | Class::Unavailable => {
                let id = request_id();
                if let Value::Object(details) = &mut details {
                    details.insert("request_id".into(), Value::from(id.clone()));
                }
                let retry = if error.class() == Class::Unavailable {
                    "; retry after `Retry-After`"
                } else {
                    ""
                };
                format!(
                    "{} (request {id}: the detail was logged under this id){retry}",
                    error.public_message()
                )
            }
            _ => error.public_message(),
        };
        ErrorBody {
            error: ErrorDetail {
                code: error.code(),
                message,
                details,
            },
        }
    }
}

tokio::task_local! {
    /// The `x-request-id` of the request being answered, for error answers to quote.
    static REQUEST_ID: String;
}

/// The request's id, as the log and the `x-request-id` header give it; `-` outside a request.
fn request_id() -> String {
    REQUEST_ID
        .try_with(String::clone)
        .unwrap_or_else(|_| "-".into())
}

/// Middleware: makes the request's id (set by `SetRequestIdLayer`) known to error answers.
pub async fn with_request_id(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string();
    REQUEST_ID.scope(id, next.run(request)).await
}

/// The status of every class of failure.
pub fn status(class: Class) -> StatusCode {
    match class {
        Class::Unauthenticated => StatusCode::UNAUTHORIZED,
        Class::Forbidden => StatusCode::FORBIDDEN,
        Class::Invalid => StatusCode::BAD_REQUEST,
        Class::NotFound => StatusCode::NOT_FOUND,
        Class::Conflict => StatusCode::CONFLICT,
        Class::Gone => StatusCode::GONE,
        Class::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Class::Rejected => StatusCode::UNPROCESSABLE_ENTITY,
        Class::Locked => StatusCode::LOCKED,
        // The tus protocol's own status for a checksum that does not match.
        Class::ChecksumMismatch => StatusCode::from_u16(460).expect("460 is a valid status code"),
        Class::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Class::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let ApiError(error) = self;
        let status = status(error.class());
        if status.is_server_error() {
            tracing::error!(code = error.code(), error = %error, "request failed");
        }
        let mut response = (status, axum::Json(ErrorBody::of(&error))).into_response();
        match error.class() {
            // The rest of an oversized body is not read: the connection cannot be reused.
            Class::TooLarge => {
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Class::Unavailable => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            Class::Locked => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}

/// The error answers that many routes share, each described once for the OpenAPI document
/// and named in the routes' `responses(...)`. Never built: answers are built from [`ErrorBody`].
pub mod answers {
    use utoipa::IntoResponses;

    use super::ErrorBody;

    #[derive(IntoResponses)]
    #[response(status = 400, description = "Malformed request")]
    #[allow(dead_code)]
    pub struct Malformed(ErrorBody);

    #[derive(IntoResponses)]
    #[response(status = 401, description = "No token, or an unknown one")]
    #[allow(dead_code)]
    pub struct Unauthenticated(ErrorBody);

    #[derive(IntoResponses)]
    #[response(status = 403, description = "This role may not, or not now")]
    #[allow(dead_code)]
    pub struct Forbidden(ErrorBody);

    #[derive(IntoResponses)]
    #[response(
        status = 404,
        description = "Unknown campaign, dossier, piece, document or endpoint"
    )]
    #[allow(dead_code)]
    pub struct NotFound(ErrorBody);

    #[derive(IntoResponses)]
    #[response(status = 409, description = "Conflicts with the current state")]
    #[allow(dead_code)]
    pub struct Conflict(ErrorBody);

    #[derive(IntoResponses)]
    #[response(
        status = 410,
        description = "The content was deleted under the campaign's retention rules"
    )]
    #[allow(dead_code)]
    pub struct Gone(ErrorBody);

    #[derive(IntoResponses)]
    #[response(
        status = 503,
        description = "A dependency is down; retry after `Retry-After`"
    )]
    #[allow(dead_code)]
    pub struct Unavailable(ErrorBody);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_answered_without_their_internals() {
        for error in [
            Error::Internal("reading /var/lib/guichet/objects/ab/cd: denied".into()),
            Error::Unavailable("database unavailable: connection to 10.0.0.5:5432 refused".into()),
        ] {
            let body = ErrorBody::of(&error);
            assert_eq!(body.error.code, error.code());
            assert!(
                !body.error.message.contains("/var/lib"),
                "{}",
                body.error.message
            );
            assert!(
                !body.error.message.contains("10.0.0.5"),
                "{}",
                body.error.message
            );
        }
        let refusal = ErrorBody::of(&Error::UnknownDossier("D-1".into()));
        assert_eq!(refusal.error.message, "unknown dossier D-1");
    }
}
