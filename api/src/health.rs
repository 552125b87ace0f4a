//! Liveness and readiness.

use axum::Json;
use axum::extract::State;

use crate::error::{ApiError, Error, answers};
use crate::views::{Alive, Ready};
use ingest::App;

#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "live",
    tag = "health",
    responses((status = 200, description = "Alive", body = Alive))
)]
pub async fn live() -> Json<Alive> {
    Json(Alive {
        status: Alive::STATUS,
    })
}

/// Ready when the database and the object store answer.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "ready",
    tag = "health",
    responses(
        (status = 200, description = "The database and the object store answer", body = Ready),
        answers::Unavailable,
    )
)]
pub async fn ready(State(app): State<App>) -> Result<Json<Ready>, ApiError> {
    app.repo.ping().await?;
    app.blobs.ping().await?;
    Ok(Json(Ready {
        status: Ready::STATUS,
        database: app.repo.name(),
        storage: app.blobs.name(),
    }))
}

pub async fn not_found() -> ApiError {
    ApiError(Error::NoRoute)
}
