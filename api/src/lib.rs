//! The HTTP API (v1): thin handlers that check the caller's role, parse the request, call the
//! pipeline (`ingest`) and render a view. Errors become statuses and JSON in one place
//! ([`error`]).

pub mod auth;
mod campaigns;
mod documents;
mod dossiers;
pub mod error;
mod events;
mod health;
mod linger;
mod mailroom;
pub mod metrics;
mod openapi;
mod request;
mod views;
mod webhooks;

use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use ingest::App;
use ingest::content::Served;

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
        .route(
            "/dossiers/{reference}/cover-sheet.pdf",
            get(mailroom::cover_sheet),
        )
        .route(
            "/mailroom/batches",
            post(mailroom::submit).layer(DefaultBodyLimit::disable()),
        )
        .route("/mailroom/batches/{id}", get(mailroom::read))
        .route("/openapi.json", get(openapi::document))
        .route(
            "/campaigns/{id}/webhooks",
            post(webhooks::create).get(webhooks::list),
        )
        .route(
            "/campaigns/{id}/webhooks/{webhook}",
            delete(webhooks::delete),
        )
        .route(
            "/campaigns/{id}/webhooks/{webhook}/deliveries",
            get(webhooks::deliveries),
        )
        .layer(DefaultBodyLimit::max(SMALL_BODY));
    Router::new()
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .route("/metrics", get(crate::metrics::render))
        .nest("/api/v1", api)
        .fallback(health::not_found)
        .route_layer(axum::middleware::from_fn(crate::metrics::track))
        .layer(axum::middleware::from_fn(linger::linger))
        .layer(TraceLayer::new_for_http().make_span_with(crate::metrics::request_span))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(app)
}

/// A document's bytes as [`ingest::content`] decided them: 200 with the bytes, or 304.
fn served(served: Served) -> Response {
    let mut headers = HeaderMap::new();
    for (name, value) in served.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    match served.body {
        Some(blob) => {
            let body = Body::from_stream(tokio_util::io::ReaderStream::new(blob.reader));
            (StatusCode::OK, headers, body).into_response()
        }
        None => (StatusCode::NOT_MODIFIED, headers).into_response(),
    }
}
