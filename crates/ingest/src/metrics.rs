//! Observability: request ids in the logs, and Prometheus metrics served at `GET /metrics` (text exposition format, no token: the
//! endpoint carries counts, never names, references or tokens).
//!
//! Counters and histograms are recorded where things happen, through the `metrics` facade:
//!
//! | metric | labels | what |
//! |---|---|---|
//! | `guichet_http_requests_total` | `method`, `route`, `status` | answered requests |
//! | `guichet_http_request_duration_seconds` | `method`, `route` | latency histogram |
//! | `guichet_intakes_total` | `channel`, `outcome` | documents received (`stored`, `duplicate`, `rejected`, `refused`) |
//! | `guichet_verdict_reasons_total` | `code` | reasons of rejected verdicts, by stable code |
//! | `guichet_webhook_attempts_total` | `result` | webhook HTTP attempts (`ok`, `error`) |
//! | `guichet_webhook_deliveries_total` | `outcome` | events settled per endpoint (`delivered`, `failed`) |
//!
//! Gauges that describe stored state (job queues by kind and state, documents by scan
//! state, webhook endpoints' lag behind the outbox) are read from the repository when
//! scraped, so every process of a deployment reports the same shared values.
//!
//! `route` is the matched route template (`/api/v1/dossiers/{reference}`), never the path
//! itself, so label values stay few whatever the clients send.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::app::App;
use crate::error::Error;
use crate::pipeline::intake::Intake;

/// Latency buckets (seconds): from a cached read to a large document verified and stored.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// The process-wide recorder, installed on first use: the `metrics` facade has one global
/// recorder, and a second install would fail.
fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("guichet_http_request_duration_seconds".into()),
                LATENCY_BUCKETS,
            )
            .expect("the bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics shows only gauges");
        }
        handle
    })
}

/// Installs the recorder, so that counters recorded before the first scrape are kept.
pub fn install() {
    handle();
}

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
    metrics::histogram!("guichet_http_request_duration_seconds",
        "method" => method.clone(), "route" => route.clone())
    .record(seconds);
    metrics::counter!("guichet_http_requests_total", "method" => method, "route" => route,
        "status" => response.status().as_u16().to_string())
    .increment(1);
    response
}

/// `GET /metrics`.
#[utoipa::path(get, path = "/metrics", tag = "health", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn render(State(app): State<App>) -> Response {
    let mut text = handle().render();
    match app.repo.queue_depths().await {
        Ok(depths) => {
            text.push_str("# HELP guichet_jobs Background jobs by kind and state.\n");
            text.push_str("# TYPE guichet_jobs gauge\n");
            for (kind, state, n) in &depths.jobs {
                text.push_str(&format!(
                    "guichet_jobs{{kind=\"{}\",state=\"{}\"}} {n}\n",
                    escape(kind),
                    escape(state)
                ));
            }
            text.push_str("# HELP guichet_documents_by_scan Documents by virus-scan state.\n");
            text.push_str("# TYPE guichet_documents_by_scan gauge\n");
            for (scan, n) in &depths.scans {
                text.push_str(&format!(
                    "guichet_documents_by_scan{{scan=\"{}\"}} {n}\n",
                    escape(scan)
                ));
            }
            text.push_str(
                "# HELP guichet_webhook_lag_events Events written after an endpoint's cursor (all campaigns).\n",
            );
            text.push_str("# TYPE guichet_webhook_lag_events gauge\n");
            for (id, campaign, lag) in &depths.webhook_lag {
                text.push_str(&format!(
                    "guichet_webhook_lag_events{{webhook=\"{}\",campaign=\"{}\"}} {lag}\n",
                    escape(id),
                    escape(campaign)
                ));
            }
            text.push_str("# TYPE guichet_database_up gauge\nguichet_database_up 1\n");
        }
        Err(e) => {
            // The counters still tell something; the gauge says why the rest is missing.
            tracing::warn!(error = %e, "metrics: reading queue depths");
            text.push_str("# TYPE guichet_database_up gauge\nguichet_database_up 0\n");
        }
    }
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response()
}

/// A label value as the exposition format wants it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Counts one intake by channel and outcome (`stored`, `duplicate`, `rejected` by the
/// verdict, `refused` before or beside it), and a rejection's reasons by code.
pub fn intake(channel: &'static str, result: &Result<Intake, Error>) {
    let outcome = match result {
        Ok(intake) if intake.created => "stored",
        Ok(_) => "duplicate",
        Err(Error::Rejected { reasons }) => {
            for reason in reasons {
                metrics::counter!("guichet_verdict_reasons_total", "code" => reason.code.as_str())
                    .increment(1);
            }
            "rejected"
        }
        Err(_) => "refused",
    };
    metrics::counter!("guichet_intakes_total", "channel" => channel, "outcome" => outcome)
        .increment(1);
}
