//! Pictures of documents' pages, on both backends: which content has been rendered, into how
//! many pages, and the JPEG object of each page at each width class.
//!
//! A set is written once, whole, in one transaction, when its rendering is over: a reader sees
//! every page of it or none ("pending"). Writing a set for content already rendered keeps the
//! first one (two workers may render the same bytes for two documents; both sets are alike).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Row};

use super::columns::Column;
use super::{PostgresRepository, RepoError, SqliteRepository};

/// The rendering of one content: its pages, or why it could not be rendered.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviewSet {
    /// The SHA-256 of the content rendered (a document's, or its display copy's).
    pub source: String,
    /// Pages rendered (each has an image per width class, maybe a placeholder); 0 when
    /// `failure` says why nothing was.
    pub pages: u32,
    pub failure: Option<String>,
    pub created_at: DateTime<Utc>,
    pub images: Vec<PreviewImage>,
}

/// One page's picture at one width class.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviewImage {
    /// 1-based.
    pub page: u32,
    /// The width class (the thumbnail's or the reading size's).
    pub width: u32,
    /// The JPEG's object key.
    pub image_sha256: String,
    pub pixel_width: u32,
    pub pixel_height: u32,
    /// Why the image is a placeholder, when it is.
    pub failure: Option<String>,
}

#[async_trait]
pub trait PreviewRepository: Send + Sync {
    /// Records a whole set; one already there for the same content is kept.
    async fn put_previews(&self, set: &PreviewSet) -> Result<(), RepoError>;
    /// The set of `source` without its images (`images` empty), if rendered.
    async fn previews(&self, source: &str) -> Result<Option<PreviewSet>, RepoError>;
    /// The images of `source`, by page then width.
    async fn preview_images(&self, source: &str) -> Result<Vec<PreviewImage>, RepoError>;
    /// Documents (ids, at most `limit`) whose content has no pictures yet and no `render`
    /// job: stored before pages were rendered, for the render worker to catch up on.
    async fn documents_without_previews(&self, limit: u32) -> Result<Vec<String>, RepoError>;
    /// One page's image at one width class.
    async fn preview_image(
        &self,
        source: &str,
        page: u32,
        width: u32,
    ) -> Result<Option<PreviewImage>, RepoError>;
}

/// Nothing is recorded for content being deleted by a purge (see `retention.rs`).
const INSERT_SET: &str = "INSERT INTO previews (source_sha256, pages, failure, created_at)
    SELECT $1, $2, $3, $4
    WHERE NOT EXISTS (SELECT 1 FROM content_deletions WHERE sha256 = $1)
    ON CONFLICT (source_sha256) DO NOTHING";
const INSERT_IMAGE: &str = "INSERT INTO preview_pages (source_sha256, page, width, image_sha256,
        pixel_width, pixel_height, failure)
    VALUES ($1, $2, $3, $4, $5, $6, $7)";
const SELECT_SET: &str = "SELECT * FROM previews WHERE source_sha256 = $1";
const SELECT_IMAGES: &str =
    "SELECT * FROM preview_pages WHERE source_sha256 = $1 ORDER BY page, width";
const SELECT_UNRENDERED: &str = "SELECT d.id FROM documents d
    WHERE d.purged_at IS NULL
        AND NOT EXISTS (SELECT 1 FROM previews p
            WHERE p.source_sha256 = COALESCE(d.display_sha256, d.sha256))
        AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.kind = 'render' AND j.key = d.id)
    ORDER BY d.received_at, d.id LIMIT $1";
const SELECT_IMAGE: &str =
    "SELECT * FROM preview_pages WHERE source_sha256 = $1 AND page = $2 AND width = $3";

fn set<R>(row: &R) -> Result<PreviewSet, RepoError>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    String: Column<R::Database>,
    Option<String>: Column<R::Database>,
    i32: Column<R::Database>,
    DateTime<Utc>: Column<R::Database>,
{
    Ok(PreviewSet {
        source: row.try_get("source_sha256")?,
        pages: from_i32(row.try_get("pages")?)?,
        failure: row.try_get("failure")?,
        created_at: row.try_get("created_at")?,
        images: Vec::new(),
    })
}

fn image<R>(row: &R) -> Result<PreviewImage, RepoError>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    String: Column<R::Database>,
    Option<String>: Column<R::Database>,
    i32: Column<R::Database>,
{
    Ok(PreviewImage {
        page: from_i32(row.try_get("page")?)?,
        width: from_i32(row.try_get("width")?)?,
        image_sha256: row.try_get("image_sha256")?,
        pixel_width: from_i32(row.try_get("pixel_width")?)?,
        pixel_height: from_i32(row.try_get("pixel_height")?)?,
        failure: row.try_get("failure")?,
    })
}

fn from_i32(n: i32) -> Result<u32, RepoError> {
    u32::try_from(n).map_err(|_| RepoError::Corrupt(format!("negative count {n}")))
}

fn to_i32(n: u32) -> Result<i32, RepoError> {
    i32::try_from(n).map_err(|_| RepoError::Database(format!("{n} out of range")))
}

/// `impl PreviewRepository for TYPE` (a type with a `pool` field and `begin_write`): the
/// statements and their bindings are the same on both databases.
macro_rules! previews_impl {
    ($repository:ty) => {
        #[async_trait]
        impl PreviewRepository for $repository {
            async fn put_previews(&self, record: &PreviewSet) -> Result<(), RepoError> {
                let mut tx = self.begin_write().await?;
                let inserted = sqlx::query(INSERT_SET)
                    .bind(&record.source)
                    .bind(to_i32(record.pages)?)
                    .bind(&record.failure)
                    .bind(record.created_at)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    == 1;
                if !inserted {
                    return Ok(()); // rendered already: the first set stays
                }
                for image in &record.images {
                    sqlx::query(INSERT_IMAGE)
                        .bind(&record.source)
                        .bind(to_i32(image.page)?)
                        .bind(to_i32(image.width)?)
                        .bind(&image.image_sha256)
                        .bind(to_i32(image.pixel_width)?)
                        .bind(to_i32(image.pixel_height)?)
                        .bind(&image.failure)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn previews(&self, source: &str) -> Result<Option<PreviewSet>, RepoError> {
                let row = sqlx::query(SELECT_SET)
                    .bind(source)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(set).transpose()
            }

            async fn preview_images(&self, source: &str) -> Result<Vec<PreviewImage>, RepoError> {
                let rows = sqlx::query(SELECT_IMAGES)
                    .bind(source)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(image).collect()
            }

            async fn documents_without_previews(
                &self,
                limit: u32,
            ) -> Result<Vec<String>, RepoError> {
                Ok(sqlx::query_scalar(SELECT_UNRENDERED)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn preview_image(
                &self,
                source: &str,
                page: u32,
                width: u32,
            ) -> Result<Option<PreviewImage>, RepoError> {
                let row = sqlx::query(SELECT_IMAGE)
                    .bind(source)
                    .bind(to_i32(page)?)
                    .bind(to_i32(width)?)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(image).transpose()
            }
        }
    };
}

previews_impl!(SqliteRepository);
previews_impl!(PostgresRepository);
