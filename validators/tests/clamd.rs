//! The clamd client against a real clamd, as started by `scripts/services/clamd-up` (whose
//! database holds one signature, `Guichet.Test.EICAR`, and whose StreamMaxLength is 25M).
//! Without `GUICHET_TEST_CLAMD_TCP` and `GUICHET_TEST_CLAMD_UNIX` the tests are skipped, or
//! fail when `GUICHET_TEST_REQUIRE_ALL_BACKENDS=1` (as in `scripts/test-all`).

#![cfg(feature = "clamd")]

use std::time::Duration;

use tokio::io::AsyncReadExt;
use validators::clamd::{Address, Clamd, ClamdError, ScanResult};

/// The EICAR test string: harmless, and detected as a virus by every antivirus.
const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
const SIGNATURE: &str = "Guichet.Test.EICAR.UNOFFICIAL";

/// The test clamd on both sockets, or `None` (skip) when it is not configured.
fn clamds() -> Option<Vec<Clamd>> {
    let names = ["GUICHET_TEST_CLAMD_TCP", "GUICHET_TEST_CLAMD_UNIX"];
    let addresses: Option<Vec<String>> = names.iter().map(|n| std::env::var(n).ok()).collect();
    let Some(addresses) = addresses else {
        assert!(
            std::env::var("GUICHET_TEST_REQUIRE_ALL_BACKENDS").as_deref() != Ok("1"),
            "clamd is required but GUICHET_TEST_CLAMD_TCP / GUICHET_TEST_CLAMD_UNIX are not set"
        );
        eprintln!("clamd not configured (scripts/services/clamd-up): skipped");
        return None;
    };
    Some(
        addresses
            .iter()
            .map(|a| Clamd::new(a.parse().expect("a clamd address")))
            .collect(),
    )
}

#[tokio::test]
async fn clean_content_is_ok_on_both_sockets() {
    let Some(clamds) = clamds() else { return };
    for clamd in clamds {
        clamd.ping().await.expect("clamd answers PING");
        let result = clamd.scan(&b"%PDF-1.4 nothing to see"[..]).await;
        assert_eq!(result, Ok(ScanResult::Clean), "{}", clamd.address());
        // Many chunks, streamed from a reader: 5 MiB never held in memory at once.
        let large = tokio::io::repeat(b'a').take(5 * 1024 * 1024);
        assert_eq!(clamd.scan(large).await, Ok(ScanResult::Clean));
        // Nothing at all is clean too.
        assert_eq!(clamd.scan(&b""[..]).await, Ok(ScanResult::Clean));
    }
}

#[tokio::test]
async fn eicar_is_found_with_its_signature_on_both_sockets() {
    let Some(clamds) = clamds() else { return };
    for clamd in clamds {
        let mut content = b"%PDF-1.4\n% a document carrying the test string: ".to_vec();
        content.extend_from_slice(EICAR);
        content.extend_from_slice(b"\n%%EOF\n");
        let result = clamd.scan(&content[..]).await;
        assert_eq!(
            result,
            Ok(ScanResult::Infected {
                signature: SIGNATURE.into()
            }),
            "{}",
            clamd.address()
        );
        // Past the first chunk, split across two chunks.
        let mut spread = vec![b' '; validators::clamd::CHUNK - 20];
        spread.extend_from_slice(EICAR);
        let result = clamd.scan(&spread[..]).await;
        assert!(
            matches!(result, Ok(ScanResult::Infected { .. })),
            "{result:?}"
        );
    }
}

#[tokio::test]
async fn the_size_limit_answer_is_read_after_a_broken_pipe() {
    let Some(clamds) = clamds() else { return };
    for clamd in clamds {
        // 40 MiB, beyond the test clamd's StreamMaxLength of 25M: clamd answers and closes
        // while the client is still writing.
        let beyond = tokio::io::repeat(b'a').take(40 * 1024 * 1024);
        let result = clamd.scan(beyond).await;
        assert_eq!(result, Err(ClamdError::SizeLimit), "{}", clamd.address());
        assert!(!ClamdError::SizeLimit.is_transient());
    }
}

#[tokio::test]
async fn an_absent_clamd_is_unreachable_quickly() {
    let dead_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let dir = tempfile_dir();
    for address in [
        Address::Tcp(format!("127.0.0.1:{dead_port}")),
        Address::Unix(dir.join("no-clamd.sock")),
    ] {
        let clamd =
            Clamd::new(address).with_timeouts(Duration::from_secs(2), Duration::from_secs(5));
        let started = std::time::Instant::now();
        let result = clamd.scan(&b"anything"[..]).await;
        assert!(
            matches!(result, Err(ClamdError::Unreachable { .. })),
            "{result:?}"
        );
        assert!(result.expect_err("unreachable").is_transient());
        assert!(started.elapsed() < Duration::from_secs(3));
    }
}

#[tokio::test]
async fn a_silent_server_times_out() {
    // Accepts the connection, reads everything, never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut sink = Vec::new();
                let _ = socket.read_to_end(&mut sink).await;
                tokio::time::sleep(Duration::from_secs(60)).await;
            });
        }
    });
    let clamd = Clamd::new(Address::Tcp(format!("127.0.0.1:{port}")))
        .with_timeouts(Duration::from_secs(1), Duration::from_millis(500));
    let result = clamd.scan(&b"anything"[..]).await;
    assert_eq!(result, Err(ClamdError::Timeout(Duration::from_millis(500))));
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("guichet-clamd-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
