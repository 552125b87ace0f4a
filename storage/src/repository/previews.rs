//! Pictures of documents' pages, on both backends: which content has been rendered, into how
//! many pages, and the JPEG object of each page at each width class.
//!
//! A set is written once, whole, in one transaction, when its rendering is over: a reader sees
//! every page of it or none ("pending"). Writing a set for content already rendered keeps the
//! first one (two workers may render the same bytes for two documents; both sets are alike).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::columns::Columns;
use super::statement::{Statement, params};
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

fn set(row: &impl Columns) -> Result<PreviewSet, RepoError> {
    Ok(PreviewSet {
        source: row.field("source_sha256")?,
        pages: from_i32(row.field("pages")?)?,
        failure: row.field("failure")?,
        created_at: row.field("created_at")?,
        images: Vec::new(),
    })
}

fn image(row: &impl Columns) -> Result<PreviewImage, RepoError> {
    Ok(PreviewImage {
        page: from_i32(row.field("page")?)?,
        width: from_i32(row.field("width")?)?,
        image_sha256: row.field("image_sha256")?,
        pixel_width: from_i32(row.field("pixel_width")?)?,
        pixel_height: from_i32(row.field("pixel_height")?)?,
        failure: row.field("failure")?,
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
                let select = Statement::new(SELECT_SET, params![source]);
                self.read_one(select, |row| set(row)).await
            }

            async fn preview_images(&self, source: &str) -> Result<Vec<PreviewImage>, RepoError> {
                let select = Statement::new(SELECT_IMAGES, params![source]);
                self.read_all(select, |row| image(row)).await
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
                let select = Statement::new(
                    SELECT_IMAGE,
                    params![source, Some(to_i32(page)?), Some(to_i32(width)?)],
                );
                self.read_one(select, |row| image(row)).await
            }
        }
    };
}

previews_impl!(SqliteRepository);
previews_impl!(PostgresRepository);
