//! Observability: Prometheus metrics, served by the API at `GET /metrics` (text exposition
//! format, no token: the endpoint carries counts, never names, references or tokens).
//!
//! Counters and histograms are recorded where things happen, through the `metrics` facade:
//!
//! | metric | labels | what |
//! |---|---|---|
//! | `guichet_http_requests_total` | `method`, `route`, `status` | answered requests |
//! | `guichet_http_request_duration_seconds` | `method`, `route` | latency histogram |
//! | `guichet_intakes_total` | `channel`, `outcome` | documents received (`stored`, `duplicate`, `rejected`, `refused`) |
//! | `guichet_intake_stage_seconds` | `stage` | where an intake's time goes, step by step ([`IntakeStage`]) |
//! | `guichet_verdict_reasons_total` | `code` | reasons of rejected verdicts, by stable code |
//! | `guichet_webhook_attempts_total` | `result` | webhook HTTP attempts (`ok`, `error`) |
//! | `guichet_webhook_deliveries_total` | `outcome` | events settled per endpoint (`delivered`, `failed`) |
//!
//! Gauges that describe stored state (job queues by kind and state, and the age of each
//! kind's oldest queued job: how far behind page pictures are under a steady load, since they
//! give way to intake; documents by scan state, webhook endpoints' lag behind the outbox) are
//! read from the repository when scraped, so every process of a deployment reports the same
//! shared values.
//!
//! `route` is the matched route template (`/api/v1/dossiers/{reference}`), never the path
//! itself, so label values stay few whatever the clients send.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::app::App;

/// Latency buckets (seconds): from a cached read to a large document verified and stored.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Buckets (seconds) of one intake step: from a cached read to a large document's checks.
const STAGE_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
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
            .set_buckets_for_metric(
                Matcher::Full("guichet_intake_stage_seconds".into()),
                STAGE_BUCKETS,
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

/// Counts one answered HTTP request and its latency, by method and route template.
pub fn request(method: String, route: String, status: u16, seconds: f64) {
    metrics::histogram!("guichet_http_request_duration_seconds",
        "method" => method.clone(), "route" => route.clone())
    .record(seconds);
    metrics::counter!("guichet_http_requests_total", "method" => method, "route" => route,
        "status" => status.to_string())
    .increment(1);
}

/// The exposition text: the counters and histograms recorded here, then the gauges read from
/// the repository.
pub async fn exposition(app: &App) -> String {
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
            text.push_str(
                "# HELP guichet_jobs_oldest_queued_seconds Age of the oldest queued job, by kind.\n",
            );
            text.push_str("# TYPE guichet_jobs_oldest_queued_seconds gauge\n");
            let now = chrono::Utc::now();
            for (kind, created_at) in &depths.oldest_queued {
                let age = (now - *created_at).num_milliseconds().max(0) as f64 / 1000.0;
                text.push_str(&format!(
                    "guichet_jobs_oldest_queued_seconds{{kind=\"{}\"}} {age}\n",
                    escape(kind)
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
    text
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
pub fn intake<'a>(
    channel: &'static str,
    outcome: &'static str,
    reasons: impl IntoIterator<Item = &'a str>,
) {
    for code in reasons {
        metrics::counter!("guichet_verdict_reasons_total", "code" => code.to_string()).increment(1);
    }
    metrics::counter!("guichet_intakes_total", "channel" => channel, "outcome" => outcome)
        .increment(1);
}

/// The steps of an intake, after its content is all in, timed in
/// `guichet_intake_stage_seconds`: their sum is the server's part of an upload's latency, the
/// rest being the time the body took to arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntakeStage {
    /// Reading the dossier and its documents, before the first byte.
    Admit,
    /// Writing the received bytes to staging, and syncing them.
    Stage,
    /// Detecting the kind and running the checks.
    Verify,
    /// The virus scan, when clamd is configured.
    Scan,
    /// Putting the content in the object store (durable when this ends).
    Store,
    /// Committing the dossier's change: the document, its events and jobs.
    Commit,
}

impl IntakeStage {
    pub fn as_str(self) -> &'static str {
        match self {
            IntakeStage::Admit => "admit",
            IntakeStage::Stage => "stage",
            IntakeStage::Verify => "verify",
            IntakeStage::Scan => "scan",
            IntakeStage::Store => "store",
            IntakeStage::Commit => "commit",
        }
    }

    /// Runs `step`, recording how long it took, whatever its outcome.
    pub async fn timed<T>(self, step: impl Future<Output = T>) -> T {
        let started = std::time::Instant::now();
        let outcome = step.await;
        metrics::histogram!("guichet_intake_stage_seconds", "stage" => self.as_str())
            .record(started.elapsed().as_secs_f64());
        outcome
    }
}
