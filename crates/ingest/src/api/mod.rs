//! The HTTP API (v1): thin handlers that check the caller's role, parse the request, call the
//! pipeline and render a view. Errors become JSON in one place ([`crate::error::Error`]).

mod campaigns;
mod documents;
mod dossiers;
mod events;
mod health;
mod request;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};
use tower_http::trace::TraceLayer;

use crate::app::App;

/// JSON and TOML bodies are small; documents stream through their own limit.
const SMALL_BODY: usize = 1024 * 1024;

pub fn router(app: App) -> Router {
    let api = Router::new()
        .route("/campaigns", post(campaigns::load))
        .route("/campaigns/{id}", get(campaigns::read))
        .route("/dossiers", post(dossiers::create))
        .route("/dossiers/{reference}", get(dossiers::read))
        .route("/dossiers/{reference}/submit", post(dossiers::submit))
        .route("/dossiers/{reference}/close", post(dossiers::close))
        .route(
            "/dossiers/{reference}/documents/{id}",
            delete(dossiers::withdraw),
        )
        .route(
            "/dossiers/{reference}/pieces/{code}/documents",
            post(documents::upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/documents/{id}/content", get(documents::content))
        .route("/documents/{id}/review", post(documents::review))
        .route("/events", get(events::feed))
        .layer(DefaultBodyLimit::max(SMALL_BODY));
    Router::new()
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .nest("/api/v1", api)
        .fallback(health::not_found)
        .layer(TraceLayer::new_for_http())
        .with_state(app)
}
