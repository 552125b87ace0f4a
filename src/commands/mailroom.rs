//! The scanning-station side: `guichet mailroom send` and `guichet mailroom watch`.
//!
//! A file is never moved or deleted before the server has acknowledged it (200 or 202 with
//! the batch id). The server takes the same bytes twice as the same batch, so sending again
//! after any failure (ours, the network's or the server's) is always safe: that is how both
//! commands resume after a crash, by sending whatever is still there.
//!
//! `watch` waits until a file is complete: its size and modification time unchanged for the
//! settle time. A file that changes while it is being sent is not moved; it is sent again once
//! it settles (the server fails the partial copy as unreadable, and keeps it as evidence).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use backon::{ExponentialBuilder, Retryable};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use tokio_util::io::ReaderStream;

/// Where to send and as whom.
pub struct Station {
    pub server: String,
    pub token: String,
}

/// How one send ended.
enum Sent {
    /// The server acknowledged the batch.
    Acknowledged { id: String, repeat: bool },
    /// The server refused it for good (a 4xx other than 408 and 429): do not send it again.
    Refused { status: u16, reason: String },
}

/// Failures worth trying again: the server is down, restarting or overloaded.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Transient(String);

pub async fn send(station: &Station, files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let client = client()?;
    let mut failed = false;
    for file in files {
        match send_retrying(&client, station, file, Some(retries())).await? {
            Sent::Acknowledged { id, repeat } => {
                let note = if repeat { " (already received)" } else { "" };
                println!("{}: batch {id}{note}", file.display());
            }
            Sent::Refused { status, reason } => {
                eprintln!("{}: refused ({status}): {reason}", file.display());
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Watches `dir` until interrupted (or, with `once`, until what is there is handled).
pub async fn watch(
    station: &Station,
    dir: &Path,
    settle: Duration,
    once: bool,
) -> anyhow::Result<ExitCode> {
    let sent_dir = dir.join("sent");
    let failed_dir = dir.join("failed");
    for d in [&sent_dir, &failed_dir] {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    let client = client()?;
    let mut seen: HashMap<PathBuf, (Fingerprint, SystemTime)> = HashMap::new();
    eprintln!("watching {} (settle {:?})", dir.display(), settle);
    loop {
        let candidates = waiting_files(dir)?;
        seen.retain(|path, _| candidates.contains(path));
        let mut pending = 0;
        for path in candidates {
            let Ok(now) = fingerprint(&path) else {
                continue;
            };
            let stable_since = match seen.get(&path) {
                Some((before, since)) if *before == now => *since,
                _ => {
                    seen.insert(path.clone(), (now, SystemTime::now()));
                    pending += 1;
                    continue;
                }
            };
            if stable_since.elapsed().unwrap_or_default() < settle {
                pending += 1;
                continue;
            }
            // No retry bound: the file waits here until the server takes it.
            match send_retrying(&client, station, &path, None).await? {
                Sent::Acknowledged { id, repeat } => {
                    if fingerprint(&path).ok() != Some(now) {
                        eprintln!(
                            "{}: changed while being sent; sending again once it settles",
                            path.display()
                        );
                        seen.remove(&path);
                        pending += 1;
                        continue;
                    }
                    let to = move_into(&path, &sent_dir)?;
                    let note = if repeat { " (already received)" } else { "" };
                    println!("{} -> {}: batch {id}{note}", path.display(), to.display());
                }
                Sent::Refused { status, reason } => {
                    let to = move_into(&path, &failed_dir)?;
                    let why = to.with_extension(format!(
                        "{}reason.txt",
                        to.extension()
                            .map(|e| format!("{}.", e.to_string_lossy()))
                            .unwrap_or_default()
                    ));
                    std::fs::write(&why, format!("HTTP {status}\n{reason}\n"))
                        .with_context(|| format!("writing {}", why.display()))?;
                    eprintln!(
                        "{} -> {}: refused ({status}): {reason}",
                        path.display(),
                        to.display()
                    );
                }
            }
            seen.remove(&path);
        }
        if once && pending == 0 {
            return Ok(ExitCode::SUCCESS);
        }
        tokio::time::sleep(POLL).await;
    }
}

const POLL: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    size: u64,
    modified: Option<SystemTime>,
}

fn fingerprint(path: &Path) -> std::io::Result<Fingerprint> {
    let meta = std::fs::metadata(path)?;
    Ok(Fingerprint {
        size: meta.len(),
        modified: meta.modified().ok(),
    })
}

/// Regular, non-hidden files directly in `dir`, oldest name first.
fn waiting_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if !hidden && entry.file_type()?.is_file() {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

/// Moves `path` into `dir` under its name, or its name with a number when that is taken.
fn move_into(path: &Path, dir: &Path) -> anyhow::Result<PathBuf> {
    let name = path
        .file_name()
        .context("a watched file has a name")?
        .to_string_lossy()
        .into_owned();
    let mut to = dir.join(&name);
    let mut n = 1;
    while to.exists() {
        to = dir.join(format!("{n}-{name}"));
        n += 1;
    }
    std::fs::rename(path, &to)
        .with_context(|| format!("moving {} to {}", path.display(), to.display()))?;
    Ok(to)
}

fn client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()
        .context("building the HTTP client")
}

fn retries() -> usize {
    12
}

/// Sends one file, trying again with exponential backoff while the failure is transient;
/// at most `attempts` times, or until it goes through when `None`.
async fn send_retrying(
    client: &reqwest::Client,
    station: &Station,
    file: &Path,
    attempts: Option<usize>,
) -> anyhow::Result<Sent> {
    let backoff = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(500))
        .with_max_delay(Duration::from_secs(30))
        .with_jitter();
    let backoff = match attempts {
        Some(n) => backoff.with_max_times(n),
        None => backoff.without_max_times(),
    };
    let sent = (|| send_once(client, station, file))
        .retry(backoff)
        .when(|e: &anyhow::Error| e.is::<Transient>())
        .notify(|e, pause| eprintln!("{}: {e}; trying again in {pause:?}", file.display()))
        .await?;
    Ok(sent)
}

async fn send_once(
    client: &reqwest::Client,
    station: &Station,
    file: &Path,
) -> anyhow::Result<Sent> {
    let opened = tokio::fs::File::open(file)
        .await
        .with_context(|| format!("opening {}", file.display()))?;
    let size = opened.metadata().await?.len();
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let progress = ProgressBar::new(size).with_message(name.clone());
    progress.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let counted = progress.clone();
    let body = ReaderStream::new(opened).inspect(move |chunk| {
        if let Ok(chunk) = chunk {
            counted.inc(chunk.len() as u64);
        }
    });
    let url = format!(
        "{}/api/v1/mailroom/batches",
        station.server.trim_end_matches('/')
    );
    let response = client
        .post(url)
        .bearer_auth(&station.token)
        .header(reqwest::header::CONTENT_LENGTH, size)
        .header(
            reqwest::header::CONTENT_DISPOSITION,
            content_disposition(&name),
        )
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await;
    progress.finish_and_clear();
    let response = response.map_err(|e| Transient(format!("server unreachable: {e}")))?;
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    if status.is_success() {
        let Some(id) = answer["id"].as_str() else {
            bail!("the server answered {status} without a batch id");
        };
        return Ok(Sent::Acknowledged {
            id: id.to_string(),
            repeat: status.as_u16() == 200,
        });
    }
    let reason = answer["error"]["message"]
        .as_str()
        .map_or_else(|| status.to_string(), str::to_string);
    if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
        return Err(Transient(format!("server answered {status}: {reason}")).into());
    }
    Ok(Sent::Refused {
        status: status.as_u16(),
        reason,
    })
}

/// `attachment; filename*=UTF-8''...`: any name, percent-encoded.
fn content_disposition(name: &str) -> String {
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_travel_percent_encoded() {
        assert_eq!(
            content_disposition("lot 3 é.pdf"),
            "attachment; filename*=UTF-8''lot%203%20%C3%A9.pdf"
        );
    }

    #[test]
    fn a_taken_name_gets_a_number() {
        let dir = tempfile::tempdir().unwrap();
        let into = dir.path().join("sent");
        std::fs::create_dir(&into).unwrap();
        std::fs::write(into.join("a.pdf"), b"first").unwrap();
        let file = dir.path().join("a.pdf");
        std::fs::write(&file, b"second").unwrap();
        let to = move_into(&file, &into).unwrap();
        assert_eq!(to, into.join("1-a.pdf"));
        assert_eq!(std::fs::read(into.join("a.pdf")).unwrap(), b"first");
        assert_eq!(std::fs::read(&to).unwrap(), b"second");
    }
}
