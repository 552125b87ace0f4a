//! The delivery worker: one per `guichet serve`, serving up to `concurrency` endpoints at
//! once, each under a lease renewed while its events are sent (retries included), so a
//! receiver that is down for a while holds back only its own endpoint.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use bytes::Bytes;
use chrono::Utc;
use serde_json::json;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use storage::EventRecord;
use storage::repository::{DeliveryRecord, WebhookRecord};

use super::{WebhookSettings, endpoint_secret, signatures};
use crate::app::App;

/// How long a claimed endpoint is the worker's; renewed while it sends.
const LEASE: Duration = Duration::from_secs(60);
const RENEW_EVERY: Duration = Duration::from_secs(20);
/// Events read from the outbox at once for one endpoint.
const BATCH: u32 = 100;

/// Claims endpoints with events to send and sends them, for as long as the process runs.
pub async fn worker(app: App, settings: WebhookSettings) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(settings.timeout_secs))
        // A redirect would send the signed event somewhere the admin did not register.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("guichet/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "webhooks: no HTTP client, no delivery");
            return;
        }
    };
    let process = format!(
        "webhooks-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    );
    let slots = Arc::new(Semaphore::new(settings.concurrency.max(1)));
    let mut claims: u64 = 0;
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        // A fresh owner per claim: if a lease lapsed under a stalled task and this process
        // claimed the endpoint again, the stalled task must not pass for the new holder.
        claims += 1;
        let owner = format!("{process}-{claims}");
        match app.repo.claim_webhook(&owner, LEASE).await {
            Ok(Some(hook)) => {
                let endpoint = Endpoint {
                    secrets: app
                        .secrets()
                        .into_iter()
                        .map(|secret| endpoint_secret(secret, &hook.id))
                        .collect(),
                    hook,
                    owner,
                    client: client.clone(),
                    settings: settings.clone(),
                };
                tokio::spawn(endpoint.serve(app.clone(), permit));
            }
            Ok(None) => {
                drop(permit);
                tokio::time::sleep(settings.poll()).await;
            }
            Err(e) => {
                drop(permit);
                tracing::warn!(error = %e, "webhooks: claiming an endpoint");
                tokio::time::sleep(settings.poll().max(Duration::from_secs(5))).await;
            }
        }
    }
}

/// One claimed endpoint and what is needed to send it its events.
struct Endpoint {
    hook: WebhookRecord,
    owner: String,
    /// The endpoint's secrets: under the current service secret, then under each previous one.
    secrets: Vec<String>,
    client: reqwest::Client,
    settings: WebhookSettings,
}

/// Why an attempt failed: no answer (with the transport's reason) or a status other than 2xx.
#[derive(Debug)]
struct Failure {
    status: Option<u16>,
    error: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.error)
    }
}

impl Endpoint {
    /// Sends the backlog, then gives the endpoint back.
    async fn serve(self, app: App, _slot: OwnedSemaphorePermit) {
        if let Err(why) = self.send_backlog(&app).await {
            tracing::warn!(webhook = %self.hook.id, error = %why, "webhooks: endpoint left");
        }
        if let Err(e) = app.repo.release_webhook(&self.hook.id, &self.owner).await {
            // The lease lapses by itself; another claim then picks the endpoint up.
            tracing::warn!(webhook = %self.hook.id, error = %e, "webhooks: releasing an endpoint");
        }
    }

    async fn send_backlog(&self, app: &App) -> Result<(), String> {
        let mut cursor = self.hook.last_event;
        loop {
            let events = app
                .repo
                .webhook_events(&self.hook.campaign, cursor, BATCH)
                .await
                .map_err(|e| e.to_string())?;
            if events.is_empty() {
                return Ok(());
            }
            for event in &events {
                let settled = self.deliver_under_lease(app, event).await?;
                let moved = app
                    .repo
                    .settle_delivery(&self.owner, cursor, &settled)
                    .await
                    .map_err(|e| e.to_string())?;
                if !moved {
                    return Err("the endpoint was deleted or claimed by another worker".into());
                }
                metrics::counter!("guichet_webhook_deliveries_total", "outcome" => settled.state.clone())
                    .increment(1);
                if settled.state == "failed" {
                    tracing::warn!(webhook = %self.hook.id, event = event.id,
                        attempts = settled.attempts, error = ?settled.error,
                        "webhooks: event given up");
                }
                cursor = event.id;
            }
        }
    }

    /// Delivers one event (retries included) while keeping the lease; `Err` when the lease
    /// was lost, so that the new holder alone goes on.
    async fn deliver_under_lease(
        &self,
        app: &App,
        event: &EventRecord,
    ) -> Result<DeliveryRecord, String> {
        let delivery = self.deliver(event);
        tokio::pin!(delivery);
        let mut renew = tokio::time::interval(RENEW_EVERY);
        renew.tick().await;
        loop {
            tokio::select! {
                settled = &mut delivery => return Ok(settled),
                _ = renew.tick() => {
                    match app.repo.renew_webhook_lease(&self.hook.id, &self.owner, LEASE).await {
                        Ok(true) => {}
                        Ok(false) => return Err("the lease was lost".into()),
                        // The database is away: keep sending; the cursor's compare-and-set
                        // will tell whether the endpoint is still ours.
                        Err(e) => tracing::warn!(webhook = %self.hook.id, error = %e,
                            "webhooks: renewing a lease"),
                    }
                }
            }
        }
    }

    /// Sends one event, retrying with exponential backoff and jitter up to `max_attempts`.
    async fn deliver(&self, event: &EventRecord) -> DeliveryRecord {
        let body = Bytes::from(
            serde_json::to_vec(&json!({
                "id": event.id,
                "type": event.kind,
                "actor": event.actor,
                "campaign": self.hook.campaign,
                "dossier": event.dossier,
                "document": event.document,
                "at": event.at,
                "data": event.data,
            }))
            .expect("a JSON value always serialises"),
        );
        let attempts = AtomicU32::new(0);
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(self.settings.retry_min_ms))
            .with_max_delay(Duration::from_millis(self.settings.retry_max_ms))
            .with_max_times(self.settings.max_attempts.saturating_sub(1) as usize)
            .with_jitter();
        let result = (|| async {
            attempts.fetch_add(1, Ordering::Relaxed);
            self.send(event, body.clone()).await
        })
        .retry(backoff)
        .sleep(tokio::time::sleep)
        .notify(|failure: &Failure, wait: Duration| {
            tracing::info!(webhook = %self.hook.id, event = event.id, error = %failure,
                retry_in = ?wait, "webhooks: attempt failed");
        })
        .await;
        let (state, status, error) = match result {
            Ok(status) => ("delivered", Some(status), None),
            Err(failure) => ("failed", failure.status, Some(failure.error)),
        };
        DeliveryRecord {
            webhook: self.hook.id.clone(),
            event: event.id,
            state: state.to_string(),
            attempts: attempts.load(Ordering::Relaxed),
            status,
            error,
            at: Utc::now(),
        }
    }

    /// One attempt: a signed POST of `body`.
    async fn send(&self, event: &EventRecord, body: Bytes) -> Result<u16, Failure> {
        let timestamp = Utc::now().timestamp();
        let answer = self
            .client
            .post(&self.hook.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Guichet-Event-Id", event.id.to_string())
            .header("Guichet-Event-Type", &event.kind)
            .header("Guichet-Webhook-Id", &self.hook.id)
            .header(
                "Guichet-Signature",
                signatures(
                    &self.secrets.iter().map(String::as_str).collect::<Vec<_>>(),
                    timestamp,
                    &body,
                ),
            )
            .body(body)
            .send()
            .await;
        let result = match answer {
            Ok(response) if response.status().is_success() => Ok(response.status().as_u16()),
            Ok(response) => Err(Failure {
                status: Some(response.status().as_u16()),
                error: format!("the receiver answered {}", response.status()),
            }),
            Err(e) => Err(Failure {
                status: None,
                error: format!("no answer: {e}"),
            }),
        };
        let outcome = if result.is_ok() { "ok" } else { "error" };
        metrics::counter!("guichet_webhook_attempts_total", "result" => outcome).increment(1);
        result
    }
}
