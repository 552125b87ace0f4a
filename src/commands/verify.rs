//! `guichet verify`: re-reads every stored object and checks it against its key.
//!
//! Reports, by key: objects that documents point at but the store lacks (missing), objects
//! whose bytes no longer hash to their key (corrupt), and objects no document points at
//! (orphaned: left by an intake that crashed between storing and recording, harmless but
//! worth knowing). Exit status 0 when all is well, 1 on any finding.

use std::collections::BTreeSet;
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use storage::{BlobStore, ContentKey};

use crate::config::{Config, ConfigArgs};
use crate::wiring;

pub async fn run(args: &ConfigArgs) -> anyhow::Result<ExitCode> {
    let app = wiring::open(&Config::load(args)?).await?;
    let referenced: BTreeSet<String> = app.repo.referenced_content().await?.into_iter().collect();
    let stored = app.blobs.keys().await?;
    let stored_hex: BTreeSet<String> = stored.iter().map(|k| k.hex().to_string()).collect();

    let progress = ProgressBar::new(stored.len() as u64);
    progress.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} objects {bytes_per_sec} {msg}")
            .expect("a valid progress template"),
    );
    let mut findings = 0usize;
    for key in &stored {
        match rehash(app.blobs.as_ref(), key).await? {
            Some(actual) if actual == key.hex() => {}
            Some(actual) => {
                findings += 1;
                progress.suspend(|| println!("corrupt  {key} (content hashes to {actual})"));
            }
            None => {
                findings += 1;
                progress.suspend(|| println!("missing  {key} (listed, then gone)"));
            }
        }
        if !referenced.contains(key.hex()) {
            findings += 1;
            progress.suspend(|| println!("orphaned {key}"));
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
    println!(
        "{} objects checked, {} referenced by documents, {findings} finding(s)",
        stored.len(),
        referenced.len()
    );
    Ok(if findings == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The SHA-256 of an object's bytes, read as a stream; `None` when the object is gone.
async fn rehash(blobs: &dyn BlobStore, key: &ContentKey) -> anyhow::Result<Option<String>> {
    let Some(mut blob) = blobs.open(key).await? else {
        return Ok(None);
    };
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        let read = blob.reader.read(&mut buffer).await?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(Some(hex::encode(hasher.finalize())))
}
