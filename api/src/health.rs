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

/// Ready when the database and the object store answer. A failure names the dependency
/// (`not_ready`, `details.failing`), never where it lives: the detail goes to the log. clamd
/// (when configured) not answering leaves the service ready, as documents then wait `pending`
/// for their scan: it is named in `degraded`.
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
    let (database, object_store) = tokio::join!(app.repo.ping(), app.blobs.ping());
    let mut failing = Vec::new();
    let checks = [
        ("database", database.map_err(|e| e.to_string())),
        ("object_store", object_store.map_err(|e| e.to_string())),
    ];
    for (name, check) in checks {
        if let Err(e) = check {
            tracing::warn!(dependency = name, error = %e, "not ready");
            failing.push(name);
        }
    }
    if !failing.is_empty() {
        return Err(ApiError(Error::NotReady { failing }));
    }
    let mut degraded = Vec::new();
    if let Some(scanner) = &app.scanner
        && let Err(e) = scanner.ping().await
    {
        tracing::warn!(dependency = "clamd", error = %e, "documents wait for their scan");
        degraded.push("clamd");
    }
    Ok(Json(Ready {
        status: Ready::STATUS,
        database: app.repo.name(),
        storage: app.blobs.name(),
        degraded,
    }))
}

pub async fn not_found() -> ApiError {
    ApiError(Error::NoRoute)
}
