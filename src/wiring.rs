//! From configuration to running parts: the repository, the object store, staging, the app.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use ingest::App;
use storage::{
    BlobStore, FsBlobStore, ObjectStore, PostgresRepository, Repository, S3BlobStore, SealedStore,
    SqliteRepository, Staging,
};

use storage::uploads::{FsUploadStore, UploadStore};

use crate::config::{Config, StorageKind};

/// Staged files older than this at start were left by a crash.
const STAGING_LEFTOVER_AGE: Duration = Duration::from_secs(600);

/// Multipart uploads (and small objects' temporary files) older than this at start were
/// abandoned by a crashed process.
const MULTIPART_LEFTOVER_AGE: Duration = Duration::from_secs(24 * 3600);

pub async fn open(config: &Config) -> anyhow::Result<App> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating {}", config.data_dir.display()))?;
    warn_of_a_file_system_without_journal(config);
    let repo = repository(config).await?;
    let stores = stores(config).await?;
    let staging = Staging::open(config.staging_dir())
        .await
        .context("opening staging")?;
    // Staged files become objects only in the filesystem store (by a rename); elsewhere they
    // are working copies, which need no sync.
    let staging = match config.storage.kind {
        StorageKind::Fs => staging,
        StorageKind::S3 => staging.unsynced(),
    };
    let swept = staging
        .sweep(STAGING_LEFTOVER_AGE)
        .await
        .context("sweeping staging")?;
    if swept > 0 {
        tracing::info!(files = swept, "removed staging leftovers");
    }
    let scanner = config.scanner()?;
    if let Some(scanner) = &scanner {
        tracing::info!(clamd = %scanner.address(), "virus scanning with clamd");
    }
    let secrets = config.secrets()?;
    let app = App::new(
        repo,
        stores,
        staging,
        config.intake.clone(),
        scanner,
        secrets,
        rendering()?,
    )
    .await
    .map_err(|e| anyhow::anyhow!("starting: {e}"))?;
    Ok(app)
}

/// Pages are rendered by this same program in a child process (`guichet render-pages`), within
/// its memory and time limits (see `previews`).
fn rendering() -> anyhow::Result<ingest::pipeline::render::Rendering> {
    let exe = std::env::current_exe().context("finding this program, to render pages")?;
    Ok(ingest::pipeline::render::Rendering {
        isolation: previews::Isolation::Process {
            exe,
            args: vec!["render-pages".into()],
        },
        limits: previews::Limits::default(),
    })
}

/// The configured repository, migrated, and nothing else (`guichet audit` needs no store).
pub async fn repository(config: &Config) -> anyhow::Result<Arc<dyn Repository>> {
    let url = config.database_url();
    let shown = redact(&url);
    let repo: Arc<dyn Repository> = if config.database_is_postgres() {
        Arc::new(
            PostgresRepository::connect(&url)
                .await
                .with_context(|| format!("opening the database {shown}"))?,
        )
    } else {
        Arc::new(
            SqliteRepository::connect(&url)
                .await
                .with_context(|| format!("opening the database {shown}"))?,
        )
    };
    Ok(repo)
}

/// The object store, and where resumable uploads wait (see [`backend`]).
async fn stores(config: &Config) -> anyhow::Result<ingest::Stores> {
    let Backend { objects, uploads } = backend(config).await?;
    Ok(ingest::Stores {
        blobs: blob_store(config, objects).await?,
        uploads,
    })
}

/// The object store over `backend`: sealed (encryption at rest) when keys are configured.
/// Refuses a store whose content needs keys that are not configured, naming them.
async fn blob_store(
    config: &Config,
    backend: Arc<dyn ObjectStore>,
) -> anyhow::Result<Arc<dyn BlobStore>> {
    match config.keyring()? {
        Some(keyring) => Ok(Arc::new(
            SealedStore::open(backend, keyring)
                .await
                .context("opening the encrypted object store")?,
        )),
        None => {
            storage::blob::sealed::require_no_keys(backend.as_ref())
                .await
                .context("opening the object store")?;
            Ok(Arc::new(backend))
        }
    }
}

/// The sealed store alone, for `guichet keys`: keys are required.
pub async fn sealed_store(config: &Config) -> anyhow::Result<SealedStore> {
    let Some(keyring) = config.keyring()? else {
        anyhow::bail!("no encryption keys configured (GUICHET_ENCRYPTION_KEYS or encryption.keys)");
    };
    SealedStore::open(backend(config).await?.objects, keyring)
        .await
        .context("opening the encrypted object store")
}

/// The configured backend: where objects live, and where resumable uploads wait meanwhile
/// (files under the data directory on the embedded default, the same bucket on S3).
struct Backend {
    objects: Arc<dyn ObjectStore>,
    uploads: Arc<dyn UploadStore>,
}

/// The configured backend, its leftovers of interrupted writes cleaned.
async fn backend(config: &Config) -> anyhow::Result<Backend> {
    let backend = match config.storage.kind {
        StorageKind::Fs => Backend {
            objects: Arc::new(
                FsBlobStore::open(config.objects_dir())
                    .await
                    .context("opening the object store")?,
            ),
            uploads: Arc::new(
                FsUploadStore::open(config.data_dir.join("uploads"))
                    .await
                    .context("opening the uploads folder")?,
            ),
        },
        StorageKind::S3 => {
            let settings = config.s3_settings()?;
            let bucket = settings.bucket.clone();
            let store = S3BlobStore::connect(settings)
                .await
                .with_context(|| format!("opening the S3 bucket {bucket}"))?;
            Backend {
                uploads: Arc::new(store.uploads()),
                objects: Arc::new(store),
            }
        }
    };
    let swept = backend
        .objects
        .sweep_leftovers(MULTIPART_LEFTOVER_AGE)
        .await
        .context("cleaning leftovers of interrupted writes")?;
    if swept > 0 {
        tracing::info!(leftovers = swept, "removed leftovers of interrupted writes");
    }
    Ok(backend)
}

/// Warns when what the data directory keeps for good (documents, SQLite) is on an ext4
/// without a journal, which docs/deployment.md advises against. Staging alone (S3 and
/// PostgreSQL) keeps nothing acknowledged.
fn warn_of_a_file_system_without_journal(config: &Config) {
    if config.storage.kind != StorageKind::Fs && config.database_is_postgres() {
        return;
    }
    if let Some(device) = storage::mounts::ext4_without_journal(&config.data_dir) {
        tracing::warn!(
            data = %config.data_dir.display(), %device,
            "the data directory is on an ext4 without a journal: after a power cut it needs \
             a check before it mounts, and files are created more slowly after many deletions; \
             docs/deployment.md asks for a journalled file system"
        );
    }
}

/// A database URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}
