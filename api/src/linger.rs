//! Refusals that come before a request's body is read keep their answer.
//!
//! A request refused early (an unknown token, a dependency down: guichet checks the caller
//! before it reads an upload) leaves its body unread. Closing a connection with unread data
//! makes the kernel reset it, and a client still sending, or not yet reading, loses the answer:
//! it sees a broken pipe instead of `401` or `503 Retry-After`. So, as nginx's lingering close
//! does, the body's remainder is read and dropped, up to [`LINGER_BYTES`] and [`LINGER_TIME`],
//! before the answer goes out. A `413` keeps closing without reading: what is beyond the
//! limit is never read. Beyond the bounds the connection is closed as before.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use futures::StreamExt;
use tokio::sync::Mutex;

/// Most bytes of a body left unread that are read and dropped before answering.
const LINGER_BYTES: usize = 4 << 20;
/// Longest time spent reading them.
const LINGER_TIME: Duration = Duration::from_secs(2);

pub async fn linger(request: Request, next: Next) -> Response {
    if !matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH
    ) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    // The handler reads the body through a handle; what it leaves is drained here after.
    let shared = Arc::new(Mutex::new(body.into_data_stream()));
    let handle = futures::stream::unfold(shared.clone(), |stream| async move {
        let chunk = stream.lock().await.next().await;
        chunk.map(|chunk| (chunk, stream))
    });
    let response = next
        .run(Request::from_parts(parts, Body::from_stream(handle)))
        .await;
    if response.status() != StatusCode::PAYLOAD_TOO_LARGE {
        let mut rest = shared.lock().await;
        let mut read = 0usize;
        let _ = tokio::time::timeout(LINGER_TIME, async {
            while read < LINGER_BYTES {
                match rest.next().await {
                    Some(Ok(chunk)) => read += chunk.len(),
                    _ => break,
                }
            }
        })
        .await;
    }
    response
}
