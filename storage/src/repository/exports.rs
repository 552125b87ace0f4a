//! What campaign exports read: a campaign's dossiers a page at a time, the documents of a
//! page, the other dossiers holding the same content, and the candidate attributes in use.
//!
//! A page is a keyset range in reference order: up to `limit` dossiers whose reference is
//! after the previous page's last (`reference > $after`, `''` before the first page, since
//! no reference is empty), one range scan of the index `(campaign, reference)` (migration
//! 0012) whatever the page's position. The documents and the duplicates of a page are read
//! by the same range, bounded by its first and last reference, so each page costs three
//! statements and memory holds one page at a time however large the campaign. A dossier
//! created between those statements inside the range may have documents read without its
//! row; callers keep the documents of the dossiers they read.
//!
//! Both backends run the same statements, but for what each orders documents by (SQLite's
//! `rowid`, PostgreSQL's `seq`, as `documents()` does) and for listing the keys of a JSON
//! object (`json_each` against `jsonb_object_keys`). The suite is `tests/exports.rs`.

use async_trait::async_trait;

use super::columns::RecordRow;
use super::{DocumentRecord, DossierRecord, PostgresRepository, RepoError, SqliteRepository};

/// A content held by another dossier: `dossier` holds a document (not withdrawn) whose
/// SHA-256 is `sha256`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct HeldContent {
    pub sha256: String,
    pub dossier: String,
    /// The campaign of `dossier` (a caller scoped to campaigns sees only theirs).
    pub campaign: String,
}

#[async_trait]
pub trait ExportRepository: Send + Sync {
    /// Up to `limit` dossiers of `campaign` whose reference is after `after` (`""`: from the
    /// first), in reference order.
    async fn campaign_dossiers(
        &self,
        campaign: &str,
        after: &str,
        limit: u32,
    ) -> Result<Vec<DossierRecord>, RepoError>;
    /// The documents, withdrawn ones included, of the dossiers of `campaign` whose reference
    /// is after `after` and at most `last`: by dossier, then oldest first.
    async fn campaign_documents(
        &self,
        campaign: &str,
        after: &str,
        last: &str,
    ) -> Result<Vec<DocumentRecord>, RepoError>;
    /// For the documents of the same dossiers (withdrawn or not): the other dossiers, of any
    /// campaign, that hold a document not withdrawn with the same content. Each pair once,
    /// by content then dossier.
    async fn content_held_elsewhere(
        &self,
        campaign: &str,
        after: &str,
        last: &str,
    ) -> Result<Vec<HeldContent>, RepoError>;
    /// The keys of the candidate attributes of the campaign's dossiers, sorted.
    async fn candidate_keys(&self, campaign: &str) -> Result<Vec<String>, RepoError>;
}

const CAMPAIGN_DOSSIERS: &str = "SELECT reference, campaign, candidate, state, state_reason,
        corrections, extension, version, created_at, updated_at
    FROM dossiers WHERE campaign = $1 AND reference > $2 ORDER BY reference LIMIT $3";

/// The documents of a page, ordered by dossier, then receipt, then insertion (the column
/// that records it is the backend's: `{insertion}`).
macro_rules! campaign_documents {
    ($insertion:literal) => {
        concat!(
            "SELECT d.* FROM documents d JOIN dossiers s ON s.reference = d.dossier
    WHERE s.campaign = $1 AND s.reference > $2 AND s.reference <= $3
    ORDER BY d.dossier, d.received_at, d.",
            $insertion
        )
    };
}

const CONTENT_HELD_ELSEWHERE: &str = "SELECT DISTINCT other.sha256, other.dossier,
        holder.campaign
    FROM dossiers s
    JOIN documents mine ON mine.dossier = s.reference
    JOIN documents other ON other.sha256 = mine.sha256 AND other.dossier <> mine.dossier
    JOIN dossiers holder ON holder.reference = other.dossier
    WHERE s.campaign = $1 AND s.reference > $2 AND s.reference <= $3
        AND other.withdrawn_at IS NULL
    ORDER BY other.sha256, other.dossier";

/// `impl ExportRepository for TYPE` (a type with a `pool` field), given the statements that
/// differ: the documents of a page, and the candidate keys of a campaign.
macro_rules! exports_impl {
    ($backend:ty, $documents:expr, $candidate_keys:expr) => {
        #[async_trait]
        impl ExportRepository for $backend {
            async fn campaign_dossiers(
                &self,
                campaign: &str,
                after: &str,
                limit: u32,
            ) -> Result<Vec<DossierRecord>, RepoError> {
                let rows = sqlx::query(CAMPAIGN_DOSSIERS)
                    .bind(campaign)
                    .bind(after)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(RecordRow::dossier).collect()
            }

            async fn campaign_documents(
                &self,
                campaign: &str,
                after: &str,
                last: &str,
            ) -> Result<Vec<DocumentRecord>, RepoError> {
                let rows = sqlx::query($documents)
                    .bind(campaign)
                    .bind(after)
                    .bind(last)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(RecordRow::document).collect()
            }

            async fn content_held_elsewhere(
                &self,
                campaign: &str,
                after: &str,
                last: &str,
            ) -> Result<Vec<HeldContent>, RepoError> {
                let rows: Vec<(String, String, String)> = sqlx::query_as(CONTENT_HELD_ELSEWHERE)
                    .bind(campaign)
                    .bind(after)
                    .bind(last)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows
                    .into_iter()
                    .map(|(sha256, dossier, campaign)| HeldContent {
                        sha256,
                        dossier,
                        campaign,
                    })
                    .collect())
            }

            async fn candidate_keys(&self, campaign: &str) -> Result<Vec<String>, RepoError> {
                Ok(sqlx::query_scalar($candidate_keys)
                    .bind(campaign)
                    .fetch_all(&self.pool)
                    .await?)
            }
        }
    };
}

exports_impl!(
    SqliteRepository,
    campaign_documents!("rowid"),
    "SELECT DISTINCT k.key FROM dossiers d, json_each(d.candidate) k
    WHERE d.campaign = $1 AND k.key IS NOT NULL ORDER BY 1"
);
exports_impl!(
    PostgresRepository,
    campaign_documents!("seq"),
    "SELECT DISTINCT k FROM dossiers d, jsonb_object_keys(d.candidate) k
    WHERE d.campaign = $1 ORDER BY 1"
);
