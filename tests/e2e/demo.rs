//! `guichet serve --demo` as a newcomer runs it: the sample campaigns, a token per role, and a
//! staff login for each staff role that opens the staff pages at once.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use reqwest::StatusCode;

use crate::common::{BIN, free_port};
use crate::staff_support::Session;

/// A `guichet serve --demo` on `data`, its lines up to "listening", and the process.
fn start_demo(data: &std::path::Path) -> (Child, Vec<String>, String) {
    let listen = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(BIN)
        .args(["serve", "--demo", "--listen", &listen, "--data"])
        .arg(data)
        .env("GUICHET_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("guichet serve --demo starts");
    let stdout = child.stdout.take().expect("stdout");
    let (send, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    loop {
        let Ok(line) = lines.recv_timeout(Duration::from_secs(30)) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no 'listening' line; saw {seen:?}");
        };
        if let Some(base) = line.strip_prefix("guichet listening on ") {
            let base = base.trim().to_string();
            return (child, seen, base);
        }
        seen.push(line);
    }
}

/// The login and password of the demo's staff `role`, from its line.
fn login_of(lines: &[String], role: &str) -> Option<(String, String)> {
    lines.iter().find_map(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["demo:", "staff", r, "login", name, "password", password, ..] if *r == role => {
                Some((name.to_string(), password.to_string()))
            }
            _ => None,
        }
    })
}

#[tokio::test]
async fn the_demo_prints_staff_logins_that_open_the_staff_pages() {
    let data = tempfile::tempdir().unwrap();
    let (mut child, lines, base) = start_demo(data.path());
    for role in ["reviewer", "admin"] {
        let (name, password) =
            login_of(&lines, role).unwrap_or_else(|| panic!("no {role} login in {lines:?}"));
        let session = Session::at(&base);
        let answer = session.login(&name, &password).await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{role} logs in");
        assert!(session.has_cookie("guichet_staff"));
        let home = session.get("/staff/").await;
        assert_eq!(home.status(), StatusCode::OK, "{role} sees the staff pages");
        let wrong = Session::at(&base).login(&name, "not-the-password").await;
        assert_ne!(
            wrong.status(),
            StatusCode::SEE_OTHER,
            "a wrong password is refused"
        );
    }
    let _ = child.kill();
    let _ = child.wait();

    // A second start on the same data keeps the accounts and says so.
    let (mut again, lines, _) = start_demo(data.path());
    assert!(login_of(&lines, "reviewer").is_none(), "{lines:?}");
    assert!(
        lines.iter().any(|l| l.contains("demo-instructeur exists")),
        "{lines:?}"
    );
    let _ = again.kill();
    let _ = again.wait();
}
