//! The shared state of the service: the repository, the object store, staging, the
//! campaigns in force, and the intake settings.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde::Deserialize;
use tokio::sync::Semaphore;

use dossiers::Campaign;
use storage::uploads::UploadStore;
use storage::{BlobStore, CampaignRecord, Repository, Staging};
use validators::Limits;
use validators::clamd::Clamd;

use crate::error::Error;
use crate::pipeline::activity::{IntakeActivity, JobSignals};
use crate::pipeline::render::Rendering;
use crate::secrets::Secrets;

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
    /// How long a resumable upload waits for its next bytes before it is removed (seconds).
    pub upload_expire_after_secs: u64,
}

impl Default for IntakeSettings {
    fn default() -> Self {
        IntakeSettings {
            max_body_bytes: 1024 * 1024 * 1024,
            verify_concurrency: std::thread::available_parallelism().map_or(2, |n| n.get()),
            limits: Limits::default(),
            upload_expire_after_secs: 24 * 3600,
        }
    }
}

/// Where the service keeps bytes: content, and resumable uploads while they arrive.
pub struct Stores {
    pub blobs: Arc<dyn BlobStore>,
    pub uploads: Arc<dyn UploadStore>,
}

#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

pub struct Inner {
    pub repo: Arc<dyn Repository>,
    pub blobs: Arc<dyn BlobStore>,
    /// Resumable uploads' bytes while they arrive.
    pub uploads: Arc<dyn UploadStore>,
    /// The resumable uploads a request of this process is writing: its lease owner, and the
    /// signal that makes it stop (a client back on a new connection takes over).
    uploads_writing:
        std::sync::Mutex<HashMap<String, (String, tokio_util::sync::CancellationToken)>>,
    pub staging: Staging,
    pub settings: IntakeSettings,
    pub verify_slots: Semaphore,
    /// The virus scanner (`clamav.address`); `None`: documents are stored unscanned.
    pub scanner: Option<Clamd>,
    /// The service secret (`secret`): signs cover sheets, staff sessions and webhooks. Shared
    /// by every process of one deployment.
    pub secret: Vec<u8>,
    /// The secrets `secret` replaced (`previous_secrets`), newest first: what was signed
    /// under them before a rotation keeps verifying.
    pub previous_secrets: Vec<Vec<u8>>,
    /// Where page pictures are rendered, within what limits.
    pub rendering: Rendering,
    /// Wakes this process's idle workers of a kind when it enqueues jobs of that kind, so
    /// that they need not wait for their next poll.
    pub jobs_enqueued: JobSignals,
    /// The intakes in flight, which deferred background work gives way to.
    pub intake_activity: IntakeActivity,
    campaigns: RwLock<HashMap<String, Cached>>,
}

/// How long a process trusts its parsed copy of a campaign before comparing it with the
/// stored one: a campaign loaded through another process is in force here within this time.
const CAMPAIGN_FRESHNESS: Duration = Duration::from_secs(2);

/// A parsed campaign, with the source it was parsed from (its version: the same source is
/// the same campaign) and when that was last compared with the stored one.
struct Cached {
    campaign: Arc<Campaign>,
    source: String,
    checked: Instant,
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
        stores: Stores,
        staging: Staging,
        settings: IntakeSettings,
        scanner: Option<Clamd>,
        secrets: impl Into<Secrets>,
        rendering: Rendering,
    ) -> Result<App, Error> {
        let Secrets { current, previous } = secrets.into();
        let verify_slots = Semaphore::new(settings.verify_concurrency.max(1));
        let app = App {
            inner: Arc::new(Inner {
                repo,
                blobs: stores.blobs,
                uploads: stores.uploads,
                uploads_writing: std::sync::Mutex::new(HashMap::new()),
                staging,
                settings,
                verify_slots,
                intake_activity: IntakeActivity::default(),
                scanner,
                secret: current,
                previous_secrets: previous,
                rendering,
                jobs_enqueued: JobSignals::default(),
                campaigns: RwLock::new(HashMap::new()),
            }),
        };
        for record in app.repo.campaigns().await? {
            match Campaign::parse(&record.source, &record.id) {
                Ok(campaign) => {
                    app.remember(campaign, record.source);
                }
                Err(e) => {
                    tracing::error!(campaign = %record.id, error = %e, "stored campaign no longer parses");
                }
            }
        }
        Ok(app)
    }

    /// The resumable uploads a request of this process is writing (see
    /// `pipeline::resumable`).
    pub(crate) fn uploads_writing(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, (String, tokio_util::sync::CancellationToken)>>
    {
        self.uploads_writing
            .lock()
            .expect("the uploads lock is never poisoned: no code panics while holding it")
    }

    /// Every secret a signature may be checked under: `secret`, then `previous_secrets`.
    pub fn secrets(&self) -> Vec<&[u8]> {
        std::iter::once(self.secret.as_slice())
            .chain(self.previous_secrets.iter().map(Vec::as_slice))
            .collect()
    }

    fn remember(&self, campaign: Campaign, source: String) -> Arc<Campaign> {
        let campaign = Arc::new(campaign);
        let cached = Cached {
            campaign: campaign.clone(),
            source,
            checked: Instant::now(),
        };
        self.campaigns
            .write()
            .expect("the campaign cache lock is never poisoned: no code panics while holding it")
            .insert(campaign.id().to_string(), cached);
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
        Ok(self.remember(campaign, source.to_string()))
    }

    /// The campaign in force. The parsed copy is compared with the stored definition once
    /// [`CAMPAIGN_FRESHNESS`] has passed, so a campaign (re)loaded through another process
    /// is in force here within that time, without a restart.
    pub async fn campaign(&self, id: &str) -> Result<Arc<Campaign>, Error> {
        let cached = self
            .campaigns
            .read()
            .expect("the campaign cache lock is never poisoned: no code panics while holding it")
            .get(id)
            .map(|c| (c.campaign.clone(), c.checked.elapsed() < CAMPAIGN_FRESHNESS));
        if let Some((campaign, true)) = cached {
            return Ok(campaign);
        }
        let record = match self.repo.campaign(id).await {
            Ok(record) => record,
            // The copy in hand serves while the database does not answer.
            Err(e) => match cached {
                Some((campaign, _)) => {
                    tracing::warn!(campaign = id, error = %e, "campaign kept: database unavailable");
                    return Ok(campaign);
                }
                None => return Err(e.into()),
            },
        };
        let record = record.ok_or_else(|| Error::UnknownCampaign(id.to_string()))?;
        if let Some(same) = self.still_in_force(id, &record.source) {
            return Ok(same);
        }
        let campaign = Campaign::parse(&record.source, &record.id)
            .map_err(|e| Error::Internal(format!("stored campaign no longer parses: {e}")))?;
        tracing::info!(campaign = id, "campaign reloaded from the database");
        Ok(self.remember(campaign, record.source))
    }

    /// The cached campaign when it was parsed from `source`, marked as checked now.
    fn still_in_force(&self, id: &str, source: &str) -> Option<Arc<Campaign>> {
        let mut campaigns = self
            .campaigns
            .write()
            .expect("the campaign cache lock is never poisoned: no code panics while holding it");
        let cached = campaigns.get_mut(id).filter(|c| c.source == source)?;
        cached.checked = Instant::now();
        Some(cached.campaign.clone())
    }
}
