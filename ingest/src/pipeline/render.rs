//! Pictures of every page of every stored document, for staff and the portal: made in the
//! background after intake by the `render` job, stored as derived objects, served by page and
//! width.
//!
//! - **What is rendered**: the document's own content, or its display copy when it has one
//!   (HEIC and AVIF photos, which browsers do not draw). PDFs, TIFFs and the image kinds
//!   render (see `previews`); a JPEG 2000 file or a HEIC without a display copy does not, and
//!   its document shows no picture ([`source`] is `None`, no job is enqueued).
//! - **When**: the job is enqueued with the document, in the transaction that records it, so
//!   a crash loses neither; any process's worker claims it under a lease, renewed while the
//!   renderer runs, and a job given back (the store or the database unavailable, the scan not
//!   done yet) is retried with a growing pause.
//! - **Keyed by content**: renders belong to the bytes rendered (their SHA-256), so documents
//!   with the same bytes share one set, and a set is written whole in one transaction
//!   ([`storage::repository::PreviewRepository`]). A piece's watermark is therefore drawn as a
//!   picture is served, never stored (`crate::watermark`).
//! - **Bounded**: the renderer runs in a child process with a memory limit and a time limit a
//!   page (`previews::Isolation::Process`); a page that fails gets a placeholder image and
//!   its reason, kept and logged; content that cannot be rendered at all keeps its reason.
//!   The document's verdict and review are never touched.
//! - **Infected content** is never rendered; content waiting for its scan waits.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use tokio::io::AsyncReadExt;

use dossiers::Kind;
use storage::repository::{PreviewImage, PreviewSet};
use storage::{ContentKey, DocumentRecord, Job, NewJob, StagedFile};

use crate::app::App;
use crate::content::Served;
use crate::error::Error;
use crate::pipeline::scan;

pub const JOB_KIND: &str = "render";
const LEASE: Duration = Duration::from_secs(120);
/// The longest a render waits for uploads in flight to end before it starts anyway: under a
/// steady stream of uploads, one document's pages every this often, the rest once it ebbs.
const GIVE_WAY_AT_MOST: Duration = Duration::from_secs(30);
const RENEW_EVERY: Duration = Duration::from_secs(30);

/// The width classes rendered, smallest first: a thumbnail and a reading size.
pub const WIDTHS: [u32; 2] = [previews::THUMBNAIL_WIDTH, previews::READING_WIDTH];

/// The width class served when none is asked for: the reading size.
pub const READING_WIDTH_CLASS: u32 = previews::READING_WIDTH;

/// How long a client is asked to wait before asking again for a page not rendered yet.
pub const RETRY_AFTER_SECONDS: u32 = 2;

/// Where the renderer runs and within what limits; part of the service's state.
#[derive(Debug, Clone)]
pub struct Rendering {
    pub isolation: previews::Isolation,
    pub limits: previews::Limits,
}

impl Default for Rendering {
    /// In the calling process: for tests and tools. The service runs the renderer in a child
    /// process (`guichet render-pages`).
    fn default() -> Self {
        Rendering {
            isolation: previews::Isolation::InProcess,
            limits: previews::Limits::default(),
        }
    }
}

/// The content rendered for `doc` and its kind: its display copy (a JPEG) when it has one,
/// else its own content when its kind renders. `None`: no picture can be made.
pub fn source(doc: &DocumentRecord) -> Option<(String, Kind)> {
    if let Some(display) = &doc.display_sha256 {
        return Some((display.clone(), Kind::Jpeg));
    }
    let kind: Kind = doc.kind.parse().ok()?;
    matches!(
        kind,
        Kind::Pdf | Kind::Tiff | Kind::Jpeg | Kind::Png | Kind::Webp | Kind::Gif | Kind::Bmp
    )
    .then(|| (doc.sha256.clone(), kind))
}

/// The job that renders `doc`'s pages, to enqueue with the document; `None` when nothing of it
/// renders.
pub fn job(doc: &DocumentRecord) -> Option<NewJob> {
    source(doc)?;
    Some(NewJob {
        kind: JOB_KIND.into(),
        key: doc.id.clone(),
        payload: json!({"document": doc.id, "dossier": doc.dossier}),
    })
}

/// Where a document's pictures stand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Previews {
    /// Rendered: so many pages (some may be placeholders).
    Ready { pages: u32 },
    /// Not rendered yet.
    Pending,
    /// Nothing could be rendered, and why.
    Failed(String),
}

impl Previews {
    /// `ready`, `pending` or `failed`, as the API says it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Previews::Ready { .. } => "ready",
            Previews::Pending => "pending",
            Previews::Failed(_) => "failed",
        }
    }
}

/// Where `doc`'s pictures stand.
pub async fn previews(app: &App, doc: &DocumentRecord) -> Result<Previews, Error> {
    let Some((source, _)) = source(doc) else {
        return Ok(Previews::Failed(format!(
            "les documents de type {} n'ont pas d'aperçu",
            doc.kind
        )));
    };
    if doc.scan.as_deref() == Some(scan::state::INFECTED) {
        return Ok(Previews::Failed("document en quarantaine".into()));
    }
    if doc.purged_at.is_some() {
        return Ok(Previews::Failed(
            "contenu supprimé (durée de conservation écoulée)".into(),
        ));
    }
    Ok(match app.repo.previews(&source).await? {
        None => Previews::Pending,
        Some(set) => match set.failure {
            Some(why) => Previews::Failed(why),
            None => Previews::Ready { pages: set.pages },
        },
    })
}

/// Where the pictures of each of `docs` stand, by document id.
pub async fn states(
    app: &App,
    docs: &[DocumentRecord],
) -> Result<std::collections::HashMap<String, Previews>, Error> {
    let mut states = std::collections::HashMap::with_capacity(docs.len());
    for doc in docs {
        states.insert(doc.id.clone(), previews(app, doc).await?);
    }
    Ok(states)
}

/// The pages of `doc` shown as placeholders, with why (once rendered; empty otherwise).
pub async fn page_failures(app: &App, doc: &DocumentRecord) -> Result<Vec<(u32, String)>, Error> {
    let Some((source, _)) = source(doc) else {
        return Ok(Vec::new());
    };
    Ok(app
        .repo
        .preview_images(&source)
        .await?
        .into_iter()
        .filter(|image| image.width == WIDTHS[0])
        .filter_map(|image| Some((image.page, image.failure?)))
        .collect())
}

/// The width class that serves a request for `width` pixels: the smallest at least as wide,
/// else the widest.
pub fn width_class(width: u32) -> u32 {
    WIDTHS
        .into_iter()
        .find(|&w| w >= width)
        .unwrap_or(WIDTHS[WIDTHS.len() - 1])
}

/// The answer for page `page` (1-based) of `doc` at about `width` pixels.
pub enum PageAnswer {
    /// The JPEG (or "not modified" when `body` is `None`).
    Ready(Served),
    /// Not rendered yet: ask again after [`RETRY_AFTER_SECONDS`].
    Pending,
}

/// Serves one page's picture under the document's rules (never for infected or unscanned
/// content). A page that could not be rendered is served as its placeholder, with its reason
/// in `x-preview-failure`.
pub async fn serve_page(
    app: &App,
    doc: &DocumentRecord,
    page: u32,
    width: u32,
    if_none_match: Option<&str>,
) -> Result<PageAnswer, Error> {
    scan::check_servable(doc)?;
    let (source, _) = source(doc).ok_or_else(|| Error::NoPreview(doc.id.clone()))?;
    let Some(set) = app.repo.previews(&source).await? else {
        return Ok(PageAnswer::Pending);
    };
    if set.failure.is_some() {
        return Err(Error::NoPreview(doc.id.clone()));
    }
    if page == 0 || page > set.pages {
        return Err(Error::UnknownPage {
            page,
            pages: set.pages,
        });
    }
    let image = app
        .repo
        .preview_image(&source, page, width_class(width))
        .await?
        .ok_or_else(|| Error::Internal(format!("page {page} of {source} has no picture")))?;
    // The piece's watermark is drawn as the shared picture is served (`crate::watermark`).
    let watermark = crate::watermark::text(app, doc).await?;
    let etag = crate::watermark::etag(&image.image_sha256, watermark.as_deref());
    let current = if_none_match.is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let mut headers = vec![
        ("etag", etag),
        ("x-content-type-options", "nosniff".to_string()),
        // The picture of a page never changes: the client keeps it and asks again only to
        // check that the document is still there and its own.
        ("cache-control", "private, max-age=3600".to_string()),
        ("x-preview-width", image.pixel_width.to_string()),
        ("x-preview-height", image.pixel_height.to_string()),
    ];
    if let Some(why) = &image.failure {
        headers.push(("x-preview-failure", ascii_header(why)));
    }
    if current {
        return Ok(PageAnswer::Ready(Served {
            headers,
            body: None,
        }));
    }
    let key = ContentKey::from_hex(&image.image_sha256).ok_or_else(|| {
        Error::Internal(format!("preview key {} is not a key", image.image_sha256))
    })?;
    let blob = app.blobs.open(&key).await?.ok_or(Error::ContentMissing)?;
    let blob = match &watermark {
        Some(text) => crate::watermark::mark(app, blob, text).await?,
        None => blob,
    };
    headers.push(("content-type", "image/jpeg".to_string()));
    headers.push(("content-length", blob.size.to_string()));
    Ok(PageAnswer::Ready(Served {
        headers,
        body: Some(blob),
    }))
}

/// A header value keeps ASCII only (a failure reason may be French).
fn ascii_header(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// Claims `render` jobs and renders their documents, for as long as the process runs. One per
/// process: a render uses a core and up to the renderer's memory limit.
pub async fn worker(app: App) {
    if let Err(e) = catch_up(&app).await {
        tracing::warn!(error = %e, "looking for documents stored before pages were rendered");
    }
    super::jobs::work(
        app,
        (JOB_KIND, super::jobs::Priority::Deferred(GIVE_WAY_AT_MOST)),
        "render",
        (LEASE, super::jobs::Retry::UNTIL_DONE),
        |app, job, owner| async move { run(&app, &job, &owner).await },
    )
    .await;
}

/// Enqueues the `render` job of documents stored before pages were rendered (or whose job was
/// lost with a database restored from a backup); documents of kinds that do not render are
/// skipped.
async fn catch_up(app: &App) -> Result<(), Error> {
    const BATCH: u32 = 500;
    let mut enqueued = 0usize;
    loop {
        let ids = app.repo.documents_without_previews(BATCH).await?;
        let mut progressed = false;
        for id in &ids {
            let Some(doc) = app.repo.document(id).await? else {
                continue;
            };
            if let Some(job) = job(&doc) {
                app.repo.enqueue_job(&job).await?;
                enqueued += 1;
                progressed = true;
            }
        }
        if ids.len() < BATCH as usize || !progressed {
            break;
        }
    }
    if enqueued > 0 {
        tracing::info!(
            documents = enqueued,
            "pages to render for documents stored earlier"
        );
    }
    Ok(())
}

/// One job: render the document's content unless it was already, and record the set. `Err`
/// gives the job back to be retried.
async fn run(app: &App, job: &Job, owner: &str) -> Result<(), String> {
    let document = app
        .repo
        .document(&job.key)
        .await
        .map_err(|e| e.to_string())?;
    let done = || async {
        app.repo
            .complete_job(job.id, owner)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    };
    // Purged content has nothing left to draw.
    let Some(document) = document.filter(|d| d.purged_at.is_none()) else {
        return done().await;
    };
    let Some((source, kind)) = source(&document) else {
        return done().await;
    };
    if app
        .repo
        .previews(&source)
        .await
        .map_err(|e| e.to_string())?
        .is_some()
    {
        return done().await; // the same bytes were rendered for another document
    }
    match scan::check_servable(&document) {
        Ok(()) => {}
        Err(Error::Quarantined) => return done().await,
        Err(e) => return Err(format!("not rendered yet: {e}")),
    }
    let started = std::time::Instant::now();
    let set = super::jobs::with_lease(
        app,
        job,
        owner,
        (LEASE, RENEW_EVERY),
        render(app, &source, kind),
    )
    .await?;
    let failed = set.images.iter().filter(|i| i.failure.is_some()).count();
    tracing::info!(document = %document.id, source = %source, pages = set.pages,
        failed_images = failed, failure = ?set.failure, elapsed = ?started.elapsed(),
        "document rendered");
    app.repo
        .put_previews(&set)
        .await
        .map_err(|e| e.to_string())?;
    done().await
}

/// Renders the content `source` (of `kind`) and stores its pictures as each page is drawn (one
/// page held at a time); the set to record.
async fn render(app: &App, source: &str, kind: Kind) -> Result<PreviewSet, String> {
    let readable = fetch(app, source).await?;
    let path = readable.path().to_path_buf();
    let rendering = app.rendering.clone();
    let (pages, mut drawn) = tokio::sync::mpsc::channel::<previews::RenderedPage>(1);
    let renderer = tokio::task::spawn_blocking(move || {
        previews::render_each(
            &path,
            kind,
            &rendering.isolation,
            &rendering.limits,
            |page| {
                // Nobody is left to store it only when storing failed: the job is given back.
                let _ = pages.blocking_send(page);
            },
        )
    });
    let mut images = Vec::new();
    let mut count = 0u32;
    while let Some(page) = drawn.recv().await {
        count += 1;
        if let Some(why) = &page.failure {
            tracing::warn!(source = %source, page = page.page, reason = %why,
                "page rendered as a placeholder");
        }
        for (width, image) in WIDTHS.into_iter().zip([&page.thumbnail, &page.reading]) {
            images.push(PreviewImage {
                page: page.page,
                width,
                image_sha256: store(app, &image.jpeg).await?,
                pixel_width: image.width,
                pixel_height: image.height,
                failure: page.failure.clone(),
            });
        }
    }
    let rendered = renderer
        .await
        .map_err(|e| format!("render task failed: {e}"))?;
    drop(readable);
    match rendered {
        Ok(_) => Ok(PreviewSet {
            source: source.to_string(),
            pages: count,
            failure: None,
            created_at: Utc::now(),
            images,
        }),
        Err(previews::RenderError::NotRenderable(why)) => {
            tracing::warn!(source = %source, reason = %why, "content cannot be rendered");
            Ok(PreviewSet {
                source: source.to_string(),
                pages: 0,
                failure: Some(why),
                created_at: Utc::now(),
                images: Vec::new(),
            })
        }
        Err(e) => Err(format!("rendering {source}: {e}")),
    }
}

/// The file the renderer reads the content from.
enum Readable {
    /// The store's own file (the filesystem store, content not sealed): nothing copied.
    Stored(PathBuf),
    /// A working copy in staging, never synced, removed on drop.
    Copy(StagedFile),
}

impl Readable {
    fn path(&self) -> &Path {
        match self {
            Readable::Stored(path) => path,
            Readable::Copy(staged) => staged.path(),
        }
    }
}

/// The stored content `source` as a file for the renderer: the store's own file when it keeps
/// the bytes as they are, else a working copy.
async fn fetch(app: &App, source: &str) -> Result<Readable, String> {
    let key = ContentKey::from_hex(source).ok_or_else(|| format!("{source} is not a key"))?;
    let missing = || format!("content {source} is missing from the store");
    if let Some(path) = app.blobs.plain_file(&key) {
        return match tokio::fs::try_exists(&path).await {
            Ok(true) => Ok(Readable::Stored(path)),
            Ok(false) => Err(missing()),
            Err(e) => Err(format!("reading {source}: {e}")),
        };
    }
    let blob = app
        .blobs
        .open(&key)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(missing)?;
    // A copy for the renderer only: a crash loses nothing by leaving it unsynced.
    let mut writer = app
        .staging
        .clone()
        .unsynced()
        .create(blob.size)
        .await
        .map_err(|e| e.to_string())?;
    let mut reader = blob.reader;
    let mut buffer = vec![0; 256 * 1024];
    loop {
        let n = reader
            .read(&mut buffer)
            .await
            .map_err(|e| format!("reading {source}: {e}"))?;
        if n == 0 {
            break;
        }
        writer
            .write(&buffer[..n])
            .await
            .map_err(|e| e.to_string())?;
    }
    let staged = writer.finish().await.map_err(|e| e.to_string())?;
    Ok(Readable::Copy(staged))
}

/// Stores one picture as its own object; its SHA-256.
async fn store(app: &App, jpeg: &[u8]) -> Result<String, String> {
    let mut writer = app
        .staging
        .create(jpeg.len() as u64)
        .await
        .map_err(|e| e.to_string())?;
    writer.write(jpeg).await.map_err(|e| e.to_string())?;
    let staged = writer.finish().await.map_err(|e| e.to_string())?;
    let sha256 = staged.key().hex().to_string();
    app.blobs.put(staged).await.map_err(|e| e.to_string())?;
    Ok(sha256)
}
