//! The shared state of the service: the repository, the object store, staging, the
//! campaigns in force, and the intake settings.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono::Utc;
use serde::Deserialize;
use tokio::sync::Semaphore;

use dossiers::Campaign;
use storage::{BlobStore, CampaignRecord, Repository, Staging};
use validators::Limits;
use validators::clamd::Clamd;

use crate::error::Error;
use crate::pipeline::render::Rendering;

/// How intake behaves; part of the service configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IntakeSettings {
    /// The most a single body may carry, whatever the piece says (bytes).
    pub max_body_bytes: u64,
    /// How many documents are verified at once; verification is CPU and memory bound.
    pub verify_concurrency: usize,
    /// Limits applied while verifying content.
    pub limits: Limits,
}

impl Default for IntakeSettings {
    fn default() -> Self {
        IntakeSettings {
            max_body_bytes: 1024 * 1024 * 1024,
            verify_concurrency: std::thread::available_parallelism().map_or(2, |n| n.get()),
            limits: Limits::default(),
        }
    }
}

#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

pub struct Inner {
    pub repo: Arc<dyn Repository>,
    pub blobs: Arc<dyn BlobStore>,
    pub staging: Staging,
    pub settings: IntakeSettings,
    pub verify_slots: Semaphore,
    /// The virus scanner (`clamav.address`); `None`: documents are stored unscanned.
    pub scanner: Option<Clamd>,
    /// The service secret (`secret`): signs cover sheets, staff sessions and webhooks. Shared
    /// by every process of one deployment.
    pub secret: Vec<u8>,
    /// Where page pictures are rendered, within what limits.
    pub rendering: Rendering,
    /// Woken when this process enqueues jobs, so that its idle workers need not wait for
    /// their next poll.
    pub jobs_enqueued: tokio::sync::Notify,
    campaigns: RwLock<HashMap<String, Arc<Campaign>>>,
}

impl std::ops::Deref for App {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.inner
    }
}

impl App {
    /// Builds the service state and loads the campaigns kept in the repository.
    pub async fn new(
        repo: Arc<dyn Repository>,
        blobs: Arc<dyn BlobStore>,
        staging: Staging,
        settings: IntakeSettings,
        scanner: Option<Clamd>,
        secret: Vec<u8>,
        rendering: Rendering,
    ) -> Result<App, Error> {
        let verify_slots = Semaphore::new(settings.verify_concurrency.max(1));
        let app = App {
            inner: Arc::new(Inner {
                repo,
                blobs,
                staging,
                settings,
                verify_slots,
                scanner,
                secret,
                rendering,
                jobs_enqueued: tokio::sync::Notify::new(),
                campaigns: RwLock::new(HashMap::new()),
            }),
        };
        for record in app.repo.campaigns().await? {
            match Campaign::parse(&record.source, &record.id) {
                Ok(campaign) => {
                    app.remember(campaign);
                }
                Err(e) => {
                    tracing::error!(campaign = %record.id, error = %e, "stored campaign no longer parses");
                }
            }
        }
        Ok(app)
    }

    fn remember(&self, campaign: Campaign) -> Arc<Campaign> {
        let campaign = Arc::new(campaign);
        self.campaigns
            .write()
            .expect("the campaign cache lock is never poisoned: no code panics while holding it")
            .insert(campaign.id().to_string(), campaign.clone());
        campaign
    }

    /// Parses, stores and puts in force a campaign definition.
    pub async fn load_campaign(&self, source: &str, origin: &str) -> Result<Arc<Campaign>, Error> {
        let campaign = Campaign::parse(source, origin).map_err(|e| Error::InvalidCampaign {
            message: e.to_string(),
            line: e.line,
            reason: e.reason.clone(),
        })?;
        self.repo
            .put_campaign(&CampaignRecord {
                id: campaign.id().to_string(),
                source: source.to_string(),
                loaded_at: Utc::now(),
            })
            .await?;
        tracing::info!(campaign = campaign.id(), "campaign loaded");
        Ok(self.remember(campaign))
    }

    /// The campaign in force; read from the repository when another process loaded it.
    pub async fn campaign(&self, id: &str) -> Result<Arc<Campaign>, Error> {
        let cached = self
            .campaigns
            .read()
            .expect("the campaign cache lock is never poisoned: no code panics while holding it")
            .get(id)
            .cloned();
        if let Some(campaign) = cached {
            return Ok(campaign);
        }
        let record = self
            .repo
            .campaign(id)
            .await?
            .ok_or_else(|| Error::UnknownCampaign(id.to_string()))?;
        let campaign = Campaign::parse(&record.source, &record.id)
            .map_err(|e| Error::Internal(format!("stored campaign no longer parses: {e}")))?;
        Ok(self.remember(campaign))
    }
}
