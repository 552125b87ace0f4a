//! Webhooks: the events of a campaign's dossiers, pushed to the endpoints its admins
//! registered, from the durable event outbox (pipeline step 7).
//!
//! - Each endpoint has its own cursor in the outbox; the [`worker`] of every `guichet serve`
//!   claims endpoints under a lease, so one process at a time sends an endpoint its events,
//!   in id order. Delivery is at least once: a process that dies after a receiver answered
//!   but before the cursor moved leaves that event to be sent again, so receivers
//!   deduplicate on `Guichet-Event-Id`.
//! - Every request is signed ([`signature`]) with the endpoint's secret, derived from the
//!   service secret and the endpoint id ([`endpoint_secret`]): nothing secret is stored in
//!   the database, and every process of a deployment (sharing `secret`) signs alike. While
//!   `previous_secrets` are configured, the header carries one `v1=` under each endpoint
//!   secret, the current one first ([`signatures`]), so receivers keep verifying through a
//!   rotation of the service secret.
//! - A failed attempt (no answer, a timeout, any status but 2xx) is retried with exponential
//!   backoff and jitter; after [`WebhookSettings::max_attempts`] the event is recorded as
//!   `failed` for that endpoint and the next one is sent.

mod worker;

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;

pub use worker::worker;

/// How webhooks are delivered; part of the service configuration (`[webhooks]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    /// Attempts per event and endpoint, the first included, before it is recorded `failed`.
    pub max_attempts: u32,
    /// The wait after the first failed attempt (milliseconds); it doubles at each failure,
    /// with jitter, up to `retry_max_ms`.
    pub retry_min_ms: u64,
    /// The longest wait between two attempts (milliseconds).
    pub retry_max_ms: u64,
    /// How long one attempt may take, connection and answer included (seconds).
    pub timeout_secs: u64,
    /// Endpoints served at once by one process.
    pub concurrency: usize,
    /// How often an idle worker looks for endpoints with events to send (milliseconds).
    pub poll_ms: u64,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            max_attempts: 12,
            retry_min_ms: 1_000,
            retry_max_ms: 10 * 60 * 1_000,
            timeout_secs: 10,
            concurrency: 4,
            poll_ms: 1_000,
        }
    }
}

impl WebhookSettings {
    pub fn validate(&self) -> Result<(), String> {
        if self.max_attempts == 0 {
            return Err("webhooks.max_attempts must be at least 1".into());
        }
        if self.retry_min_ms == 0 || self.retry_max_ms < self.retry_min_ms {
            return Err("webhooks.retry_min_ms must be positive and at most retry_max_ms".into());
        }
        if self.timeout_secs == 0 || self.concurrency == 0 || self.poll_ms == 0 {
            return Err("webhooks.timeout_secs, concurrency and poll_ms must be positive".into());
        }
        Ok(())
    }

    pub(crate) fn poll(&self) -> Duration {
        Duration::from_millis(self.poll_ms)
    }
}

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac
}

/// The endpoint's signing secret: `whsec_` and the hex HMAC-SHA256 of the endpoint id under
/// the service secret. Shown once when the endpoint is created; a new service secret gives
/// every endpoint a new one.
pub fn endpoint_secret(service_secret: &[u8], webhook_id: &str) -> String {
    let mac = hmac(
        service_secret,
        &[b"guichet webhook secret\0", webhook_id.as_bytes()],
    );
    format!("whsec_{}", hex::encode(mac.finalize().into_bytes()))
}

/// The `Guichet-Signature` header of `body` sent at `timestamp` (Unix seconds):
/// `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>" under the endpoint secret>`.
/// The timestamp is signed so that a captured request cannot be replayed later than the
/// receiver's tolerance.
pub fn signature(endpoint_secret: &str, timestamp: i64, body: &[u8]) -> String {
    signatures(&[endpoint_secret], timestamp, body)
}

/// The `Guichet-Signature` header with one `v1=` under each of `endpoint_secrets`, in order
/// (the current secret first, then those of a rotation in progress), as Stripe does.
pub fn signatures(endpoint_secrets: &[&str], timestamp: i64, body: &[u8]) -> String {
    let t = timestamp.to_string();
    let mut header = format!("t={t}");
    for secret in endpoint_secrets {
        let mac = hmac(secret.as_bytes(), &[t.as_bytes(), b".", body]);
        header.push_str(",v1=");
        header.push_str(&hex::encode(mac.finalize().into_bytes()));
    }
    header
}

/// Checks a `Guichet-Signature` header, as a receiver would (in constant time).
pub fn verify(endpoint_secret: &str, header: &str, body: &[u8]) -> bool {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = Some(t),
            Some(("v1", v)) => signatures.extend(hex::decode(v).ok()),
            _ => {}
        }
    }
    let Some(t) = timestamp else {
        return false;
    };
    signatures.iter().any(|candidate| {
        hmac(endpoint_secret.as_bytes(), &[t.as_bytes(), b".", body])
            .verify_slice(candidate)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_over_timestamp_dot_body() {
        // Computed independently: printf '1700000000.{"id":1}' | openssl dgst -sha256 -hmac whsec_test
        let header = signature("whsec_test", 1_700_000_000, br#"{"id":1}"#);
        assert_eq!(
            header,
            "t=1700000000,v1=2f441ba4b3b2d50d28a9ab9d9fd8880376ecd1eb5d0435401553f5d8d0a5dcf8"
        );
        assert!(verify("whsec_test", &header, br#"{"id":1}"#));
        assert!(!verify("whsec_test", &header, br#"{"id":2}"#));
        assert!(!verify("whsec_other", &header, br#"{"id":1}"#));
        let replayed = header.replace("t=1700000000", "t=1700000999");
        assert!(!verify("whsec_test", &replayed, br#"{"id":1}"#));
        assert!(!verify("whsec_test", "v1=00", b""));
    }

    #[test]
    fn during_a_rotation_both_secrets_sign() {
        let body = br#"{"id":2}"#;
        let header = signatures(&["whsec_new", "whsec_old"], 1_700_000_000, body);
        assert_eq!(header.matches(",v1=").count(), 2);
        assert!(header.starts_with(&signature("whsec_new", 1_700_000_000, body)));
        assert!(verify("whsec_new", &header, body));
        assert!(verify("whsec_old", &header, body));
        assert!(!verify("whsec_other", &header, body));
    }

    #[test]
    fn endpoint_secrets_differ_by_endpoint_and_service_secret() {
        let a = endpoint_secret(b"service secret one", "w1");
        assert_eq!(a, endpoint_secret(b"service secret one", "w1"));
        assert_ne!(a, endpoint_secret(b"service secret one", "w2"));
        assert_ne!(a, endpoint_secret(b"service secret two", "w1"));
        assert!(a.starts_with("whsec_") && a.len() == 6 + 64);
    }
}
