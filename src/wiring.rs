//! From configuration to running parts: the repository, the object store, staging, the app.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use ingest::App;
use storage::{FsBlobStore, SqliteRepository, Staging};

use crate::config::Config;

/// Staged files older than this at start were left by a crash.
const STAGING_LEFTOVER_AGE: Duration = Duration::from_secs(600);

pub async fn open(config: &Config) -> anyhow::Result<App> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating {}", config.data_dir.display()))?;
    let repo = SqliteRepository::connect(&config.database_url())
        .await
        .with_context(|| format!("opening the database {}", config.database_url()))?;
    let blobs = FsBlobStore::open(config.objects_dir())
        .await
        .context("opening the object store")?;
    let staging = Staging::open(config.staging_dir())
        .await
        .context("opening staging")?;
    let swept = staging
        .sweep(STAGING_LEFTOVER_AGE)
        .await
        .context("sweeping staging")?;
    if swept > 0 {
        tracing::info!(files = swept, "removed staging leftovers");
    }
    let app = App::new(
        Arc::new(repo),
        Arc::new(blobs),
        staging,
        config.intake.clone(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("starting: {e}"))?;
    Ok(app)
}
