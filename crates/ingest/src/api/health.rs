//! Liveness and readiness.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::app::App;
use crate::error::Error;

pub async fn live() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Ready when the database and the object store answer.
pub async fn ready(State(app): State<App>) -> Result<Json<Value>, Error> {
    app.repo.ping().await?;
    app.blobs.ping().await?;
    Ok(Json(json!({
        "status": "ready",
        "database": app.repo.name(),
        "storage": app.blobs.name(),
    })))
}

pub async fn not_found() -> Error {
    Error::NoRoute
}
