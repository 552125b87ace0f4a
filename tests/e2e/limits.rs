//! HTTP limits, configured under `[http]`: request heads too large are refused, clients that
//! do not finish their request head in time are disconnected, and one address sending too
//! fast gets 429 with `Retry-After`.

use std::io::{Read, Write};
use std::time::Duration;

use crate::common::{Backend, Server};
use serde_json::Value;

async fn server() -> Server {
    Server::start_with(
        Backend::Embedded,
        "[http]\nmax_header_bytes = 16384\nheader_read_timeout_seconds = 1\n\
         rate_per_second = 5\nrate_burst = 10\n",
    )
    .await
}

#[tokio::test]
async fn a_request_head_beyond_the_limit_is_refused() {
    let server = server().await;
    let answer = server
        .http
        .get(server.url("/healthz"))
        .header("X-Padding", "x".repeat(40_000))
        .send()
        .await;
    match answer {
        Ok(response) => assert_eq!(response.status(), 431),
        // hyper may close the connection as soon as its buffer is full.
        Err(e) => assert!(e.is_request() || e.is_connect() || e.is_body(), "{e}"),
    }
    let fine = server
        .http
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(fine.status(), 200);
}

#[tokio::test]
async fn a_client_that_trickles_its_request_head_is_disconnected() {
    let server = server().await;
    let address = server.base.trim_start_matches("http://").to_string();
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    // Never finishes the head: the server gives up on it (408, or a plain close).
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut answer = Vec::new();
    let read = stream.read_to_end(&mut answer);
    assert!(read.is_ok(), "the server closed the connection: {read:?}");
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
}

#[tokio::test]
async fn one_address_sending_too_fast_gets_429() {
    let server = server().await;
    let mut limited = None;
    for _ in 0..60 {
        let response = server
            .http
            .get(server.url("/healthz"))
            .send()
            .await
            .unwrap();
        if response.status() == 429 {
            limited = Some(response);
            break;
        }
    }
    let response = limited.expect("60 requests at once exceed 5 a second with a burst of 10");
    assert_eq!(response.headers()["retry-after"], "1");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let again = server
        .http
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200, "the bucket refills");
}

/// An upload refused before its body is read (here an unknown token) still gets its answer,
/// however the body's sending and the answer interleave: guichet reads and drops a bounded
/// remainder of the body before answering, instead of closing on unread data, which resets
/// the connection and loses the answer.
#[tokio::test]
async fn an_upload_refused_before_its_body_is_read_keeps_its_answer() {
    let server = Server::start();
    let body = vec![0x5Au8; 600 * 1024];
    for attempt in 0..20 {
        let answer = server
            .post(
                "/api/v1/dossiers/X-1/pieces/identite/documents",
                "not-a-token",
            )
            .header("Content-Disposition", "attachment; filename=\"scan.png\"")
            .body(body.clone())
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .unwrap_or_else(|e| panic!("attempt {attempt}: no answer: {e:?}"));
        assert_eq!(answer.status(), 401, "attempt {attempt}");
        let body: Value = answer.json().await.expect("a JSON error");
        assert_eq!(body["error"]["code"], "unauthorized", "{body}");
    }
}
