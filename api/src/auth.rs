//! The caller of a request, from its `Authorization: Bearer` token.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use ingest::App;
pub use ingest::auth::Role;

use crate::error::{ApiError, Error};

/// The authenticated caller of a request (see [`ingest::auth::Caller`]).
#[derive(Debug, Clone)]
pub struct Caller(pub ingest::auth::Caller);

impl std::ops::Deref for Caller {
    type Target = ingest::auth::Caller;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl FromRequestParts<App> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(Error::Unauthorized)?;
        Ok(Caller(ingest::auth::authenticate(app, token).await?))
    }
}
