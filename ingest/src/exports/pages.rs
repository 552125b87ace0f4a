//! A campaign read a page at a time: [`PAGE`] dossiers in reference order, each assembled
//! with its documents into a [`Snapshot`], and, when asked, the other dossiers that hold the
//! same content as the page's documents. Three statements a page at most
//! (`storage::repository::ExportRepository`); one page is in memory at a time.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;

use dossiers::Campaign;
use storage::DocumentRecord;

use crate::app::App;
use crate::error::Error;
use crate::pipeline::dossier::Snapshot;

/// Dossiers a page.
pub const PAGE: u32 = 500;

/// At most this many other dossiers are named in a `duplicates` cell; `+N` counts the rest.
pub const SHOWN_DUPLICATES: usize = 20;

pub struct Pages {
    app: App,
    campaign: Arc<Campaign>,
    /// The last reference read (`""` before the first page).
    after: String,
    done: bool,
    duplicates: bool,
    /// The campaigns whose dossiers a `duplicates` cell may name; `None`: every campaign.
    scope: Option<Vec<String>>,
}

/// One page of dossiers, in reference order.
pub struct Page {
    pub dossiers: Vec<Snapshot>,
    /// By SHA-256 of the page's documents: the dossiers holding that content (in a document
    /// not withdrawn) besides some dossier of the page. Empty unless asked for.
    holders: HashMap<String, Vec<String>>,
}

impl Pages {
    pub fn new(app: &App, campaign: Arc<Campaign>) -> Pages {
        Pages {
            app: app.clone(),
            campaign,
            after: String::new(),
            done: false,
            duplicates: false,
            scope: None,
        }
    }

    /// Reads, with each page, who else holds its documents' content.
    pub fn with_duplicates(mut self, scope: Option<Vec<String>>) -> Pages {
        self.duplicates = true;
        self.scope = scope;
        self
    }

    /// The next page; `None` after the last.
    pub async fn next(&mut self) -> Result<Option<Page>, Error> {
        if self.done {
            return Ok(None);
        }
        let repo = &self.app.repo;
        let id = self.campaign.id();
        let records = repo.campaign_dossiers(id, &self.after, PAGE).await?;
        self.done = records.len() < PAGE as usize;
        let Some(last) = records.last().map(|r| r.reference.clone()) else {
            return Ok(None);
        };
        let mut documents: HashMap<String, Vec<DocumentRecord>> = HashMap::new();
        for doc in repo.campaign_documents(id, &self.after, &last).await? {
            documents.entry(doc.dossier.clone()).or_default().push(doc);
        }
        let mut holders: HashMap<String, Vec<String>> = HashMap::new();
        if self.duplicates {
            let held = repo.content_held_elsewhere(id, &self.after, &last).await?;
            let seen = |campaign: &str| {
                self.scope
                    .as_ref()
                    .is_none_or(|scope| scope.iter().any(|c| c == campaign))
            };
            for held in held.into_iter().filter(|h| seen(&h.campaign)) {
                holders.entry(held.sha256).or_default().push(held.dossier);
            }
        }
        let dossiers = records
            .into_iter()
            .map(|record| {
                let docs = documents.remove(&record.reference).unwrap_or_default();
                Snapshot::assemble(record, docs, self.campaign.clone())
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.after = last;
        Ok(Some(Page { dossiers, holders }))
    }

    /// A CSV body: `header`, then `rows` of each page.
    pub fn csv(
        self,
        header: Vec<String>,
        rows: impl Fn(&Page) -> Vec<Vec<String>> + Send + Sync + 'static,
    ) -> BoxStream<'static, Result<Bytes, std::io::Error>> {
        let rows = Arc::new(rows);
        super::csv::stream(header, self, move |mut pages| {
            let rows = rows.clone();
            async move { Ok(pages.next().await?.map(|page| (rows(&page), pages))) }
        })
    }
}

impl Page {
    /// The other dossiers holding `doc`'s content in a document not withdrawn, space
    /// separated, by reference; after [`SHOWN_DUPLICATES`] of them, `+N` for the rest.
    /// Empty unless the pages were read [`Pages::with_duplicates`].
    pub fn duplicates(&self, doc: &DocumentRecord) -> String {
        let others: Vec<&str> = self
            .holders
            .get(&doc.sha256)
            .into_iter()
            .flatten()
            .map(String::as_str)
            .filter(|holder| *holder != doc.dossier)
            .collect();
        let mut cell = others
            .iter()
            .take(SHOWN_DUPLICATES)
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        if others.len() > SHOWN_DUPLICATES {
            cell.push_str(&format!(" +{}", others.len() - SHOWN_DUPLICATES));
        }
        cell
    }
}
