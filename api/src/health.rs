//! Liveness and readiness.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::error::{ApiError, Error};
use ingest::App;

#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "Alive", body = Object)))]
pub async fn live() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Ready when the database and the object store answer.
#[utoipa::path(get, path = "/readyz", tag = "health", responses((status = 200, description = "The database and the object store answer", body = Object), (status = 503, description = "A dependency is down; retry after `Retry-After`", body = crate::openapi::ErrorBody)))]
pub async fn ready(State(app): State<App>) -> Result<Json<Value>, ApiError> {
    app.repo.ping().await?;
    app.blobs.ping().await?;
    Ok(Json(json!({
        "status": "ready",
        "database": app.repo.name(),
        "storage": app.blobs.name(),
    })))
}

pub async fn not_found() -> ApiError {
    ApiError(Error::NoRoute)
}
