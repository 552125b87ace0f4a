//! `guichet verify`: re-reads every stored object and checks it against its key.
//!
//! Reports, by key: objects that documents point at but the store lacks (missing), objects
//! whose bytes no longer hash to their key or cannot be opened (corrupt, unreadable: an
//! encrypted object is decrypted and its plaintext hashed), and objects no document points at
//! (orphaned: left by an intake that crashed between storing and recording). Exit status 0
//! when all is well, 1 on any finding.
//!
//! With `--remove-orphans`, orphans last written more than `--older-than` ago (1 hour by
//! default) are removed, with the data keys of an encrypted store that serve no content. A
//! younger orphan may belong to an intake that has stored its content and not yet recorded its
//! document: it is kept (docs/decisions.md, "Removing orphans"). Without the flag nothing
//! changes: verify says what it would remove.

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use futures::TryStreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use storage::{BlobStore, ContentKey, StoreError};

use crate::config::{Config, ConfigArgs};
use crate::wiring;

/// What `guichet verify` may change.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub remove_orphans: bool,
    /// Orphans written less than this long ago are kept.
    pub older_than: Duration,
}

/// What reading an object back found.
enum Reread {
    Hashed(String),
    Gone,
    /// Refused by the store (altered, cut short, its key unavailable): why.
    Refused(String),
}

pub async fn run(args: &ConfigArgs, options: Options) -> anyhow::Result<ExitCode> {
    let app = wiring::open(&Config::load(args)?).await?;
    let referenced = referenced(&app).await?;
    let grace = humantime::format_duration(options.older_than);
    let cutoff = SystemTime::now()
        .checked_sub(options.older_than)
        .unwrap_or(SystemTime::UNIX_EPOCH);

    let progress = ProgressBar::no_length();
    progress.set_style(
        ProgressStyle::with_template("{pos} objects {per_sec} {msg}")
            .expect("a valid progress template"),
    );
    let mut findings = 0usize;
    let mut checked = 0usize;
    let mut stored_hex = BTreeSet::new();
    let mut removable = Vec::new();
    let mut objects = app.blobs.objects();
    while let Some(object) = objects.try_next().await? {
        let key = object.key;
        checked += 1;
        stored_hex.insert(key.hex().to_string());
        match reread(app.blobs.as_ref(), &key).await? {
            Reread::Hashed(actual) if actual == key.hex() => {}
            Reread::Hashed(actual) => {
                findings += 1;
                progress.suspend(|| println!("corrupt  {key} (content hashes to {actual})"));
            }
            Reread::Refused(why) => {
                findings += 1;
                progress.suspend(|| println!("corrupt  {key} ({why})"));
            }
            Reread::Gone => {
                findings += 1;
                progress.suspend(|| println!("missing  {key} (listed, then gone)"));
            }
        }
        if !referenced.contains(key.hex()) {
            if object.modified.is_some_and(|m| m <= cutoff) {
                removable.push(key);
            } else {
                findings += 1;
                progress.suspend(|| {
                    println!("orphaned {key} (written less than {grace} ago: kept)");
                });
            }
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    for hex in referenced.difference(&stored_hex) {
        findings += 1;
        match ContentKey::from_hex(hex) {
            Some(key) => println!("missing  {key}"),
            None => println!("missing  {hex} (not a valid key)"),
        }
    }
    let strays = app.blobs.strays(options.older_than).await?;
    if options.remove_orphans {
        findings += remove(&app, &removable, &strays).await?;
    } else {
        for key in &removable {
            println!("orphaned {key}");
        }
        for path in &strays {
            println!("stray    {path} (a data key of no content)");
        }
        findings += removable.len() + strays.len();
        if !removable.is_empty() || !strays.is_empty() {
            println!(
                "{} orphaned object(s) and {} stray data key(s) written more than {grace} ago: \
                 --remove-orphans would remove them",
                removable.len(),
                strays.len()
            );
        }
    }
    println!(
        "{checked} objects checked, {} referenced by documents, {findings} finding(s)",
        referenced.len()
    );
    Ok(if findings == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn referenced(app: &ingest::App) -> anyhow::Result<BTreeSet<String>> {
    Ok(app.repo.referenced_content().await?.into_iter().collect())
}

/// Removes the orphans that are still orphans now (a document recorded since the first look,
/// for content already stored, points at it again) and the stray data keys. Returns how many
/// orphans were kept for that reason.
async fn remove(
    app: &ingest::App,
    orphans: &[ContentKey],
    strays: &[String],
) -> anyhow::Result<usize> {
    let referenced = referenced(app).await?;
    let mut kept = 0;
    for key in orphans {
        if referenced.contains(key.hex()) {
            kept += 1;
            println!("orphaned {key} (recorded meanwhile: kept)");
            continue;
        }
        if app.blobs.delete(key).await? {
            println!("removed  {key}");
        }
    }
    for path in strays {
        if app.blobs.remove_stray(path).await? {
            println!("removed  {path} (a data key of no content)");
        }
    }
    println!(
        "{} orphaned object(s) and {} stray data key(s) removed",
        orphans.len() - kept,
        strays.len()
    );
    Ok(kept)
}

/// The SHA-256 of an object's content, read as a stream (decrypted, for an encrypted store).
async fn reread(blobs: &dyn BlobStore, key: &ContentKey) -> anyhow::Result<Reread> {
    let mut blob = match blobs.open(key).await {
        Ok(Some(blob)) => blob,
        Ok(None) => return Ok(Reread::Gone),
        Err(e @ (StoreError::Corrupt { .. } | StoreError::KeyUnavailable { .. })) => {
            return Ok(Reread::Refused(e.to_string()));
        }
        Err(e) => return Err(e.into()),
    };
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        let read = match blob.reader.read(&mut buffer).await {
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Ok(Reread::Refused(e.to_string()));
            }
            Err(e) => return Err(e.into()),
        };
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(Reread::Hashed(hex::encode(hasher.finalize())))
}
