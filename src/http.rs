//! The HTTP server: hyper's connection builder with limits on what a client may hold, since
//! `axum::serve` offers none of them.
//!
//! - **Header size** (`max_header_bytes`): the read buffer of a connection; a request whose
//!   head does not fit is refused (431) before any handler runs.
//! - **Slow clients** (`header_read_timeout_seconds`): a connection that has not sent a whole
//!   request head within this time is closed, so idle or trickling connections cannot pile
//!   up. Bodies are bounded by size where they are read (`intake.max_body_bytes`).
//! - **Request rate** (`rate_per_second`, `rate_burst`): per client address, a token bucket
//!   (the `governor` crate); beyond it, 429 with `Retry-After`. The default (1000 a second,
//!   bursts of 2000) stops floods without troubling a portal's batch imports; behind a
//!   reverse proxy every request comes from the proxy's address, so limit there and set
//!   `rate_per_second = 0` (off) here.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use governor::{Quota, RateLimiter};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use serde::Deserialize;
use tower::ServiceExt;

/// `[http]` in the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// Most bytes of a request head (request line and headers). At least 8192.
    pub max_header_bytes: usize,
    /// Seconds a client has to send a whole request head.
    pub header_read_timeout_seconds: u64,
    /// Requests per second allowed to one client address; 0 for no limit.
    pub rate_per_second: u32,
    /// Requests one client address may send at once above the rate.
    pub rate_burst: u32,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            max_header_bytes: 64 * 1024,
            header_read_timeout_seconds: 10,
            rate_per_second: 1000,
            rate_burst: 2000,
        }
    }
}

impl HttpSettings {
    /// Refuses settings hyper would refuse later.
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.max_header_bytes >= 8192,
            "http.max_header_bytes: at least 8192"
        );
        anyhow::ensure!(
            self.header_read_timeout_seconds > 0,
            "http.header_read_timeout_seconds: at least 1"
        );
        Ok(())
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets requests in flight
/// finish (at most 30 seconds).
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    settings: &HttpSettings,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let limiter = NonZeroU32::new(settings.rate_per_second).map(|rate| {
        let burst = NonZeroU32::new(settings.rate_burst).unwrap_or(rate);
        Arc::new(RateLimiter::keyed(
            Quota::per_second(rate).allow_burst(burst),
        ))
    });
    if let Some(limiter) = &limiter {
        // The limiter keeps a bucket per address seen; forget the idle ones now and then.
        let limiter = Arc::downgrade(limiter);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                let Some(limiter) = limiter.upgrade() else {
                    break;
                };
                limiter.retain_recent();
            }
        });
    }
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(settings.header_read_timeout_seconds))
        .max_buf_size(settings.max_header_bytes);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %e, "accepting a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let router = router.clone();
        let limiter = limiter.clone();
        let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
            let router = router.clone();
            let limiter = limiter.clone();
            async move {
                if let Some(limiter) = &limiter
                    && limiter.check_key(&peer.ip()).is_err()
                {
                    return Ok::<_, std::convert::Infallible>(too_many(peer.ip()));
                }
                let mut request = request.map(Body::new);
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                router.oneshot(request).await
            }
        });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(30)) => {
            tracing::warn!("requests still running after 30 s; stopping anyway");
        }
    }
    Ok(())
}

fn too_many(client: IpAddr) -> Response {
    tracing::info!(%client, "request rate exceeded");
    let body = serde_json::json!({"error": {
        "code": "rate_limited",
        "message": "too many requests from this address; retry in a second",
    }});
    let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}
