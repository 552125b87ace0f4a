//! The HTTP side of observability: request ids in the logs, each request counted and timed by
//! route template, and `GET /metrics` (see [`ingest::metrics`] for what it holds).
//!
//! `route` is the matched route template (`/api/v1/dossiers/{reference}`), never the path
//! itself, so label values stay few whatever the clients send.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use ingest::App;

/// The span of one request in the logs, carrying its `x-request-id` (the client's, or one
/// made here and echoed in the answer), so that every line logged while serving it can be
/// found from the id a client reports.
pub fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!("request", request_id = %id, method = %request.method(),
        path = %request.uri().path())
}

/// Records every request's count and latency by route template.
pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = request.method().as_str().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let seconds = started.elapsed().as_secs_f64();
    ingest::metrics::request(method, route, response.status().as_u16(), seconds);
    response
}

/// `GET /metrics`.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "health",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain"))
)]
pub async fn render(State(app): State<App>) -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        ingest::metrics::exposition(&app).await,
    )
        .into_response()
}
