//! The background job loop shared by every worker: claim a job of one kind under a lease, run
//! it, give it back to be retried (with a growing pause) when it fails, poll when idle (or
//! look at once when this process enqueues jobs).

use std::future::Future;
use std::time::Duration;

use storage::Job;

use crate::app::App;

const IDLE_POLL: Duration = Duration::from_secs(1);
const BACKOFF_FIRST: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Runs jobs of `kind` with `run` for as long as the process runs. `name` names the worker
/// in lease owners and logs; `run` gets the job and its owner, and an `Err` gives the job back.
pub async fn work<F, Fut>(app: App, kind: &'static str, name: &'static str, lease: Duration, run: F)
where
    F: Fn(App, Job, String) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let owner = format!(
        "{name}-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    );
    let mut backoff = BACKOFF_FIRST;
    loop {
        let pause = match app.repo.claim_job(&[kind], &owner, lease).await {
            Ok(Some(job)) => {
                let (id, key) = (job.id, job.key.clone());
                match run(app.clone(), job, owner.clone()).await {
                    Ok(()) => {
                        backoff = BACKOFF_FIRST;
                        Duration::ZERO
                    }
                    Err(why) => {
                        tracing::warn!(worker = name, job = id, key = %key, error = %why,
                            retry_in = ?backoff, "job failed; will retry");
                        if let Err(e) = app.repo.fail_job(id, &owner, &why, true).await {
                            tracing::error!(worker = name, job = id, error = %e, "giving a job back");
                        }
                        let pause = backoff;
                        backoff = (backoff * 2).min(BACKOFF_MAX);
                        pause
                    }
                }
            }
            Ok(None) => {
                tokio::select! {
                    _ = app.jobs_enqueued.notified() => {}
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                }
                Duration::ZERO
            }
            Err(e) => {
                tracing::warn!(worker = name, error = %e, "claiming jobs");
                BACKOFF_MAX.min(backoff * 4)
            }
        };
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
    }
}

/// Runs `work` for `job` while renewing its lease every `renew_every`; `Err` when the lease is
/// lost (another worker may have taken the job) or cannot be renewed.
pub async fn with_lease<T>(
    app: &App,
    job: &Job,
    owner: &str,
    (lease, renew_every): (Duration, Duration),
    work: impl Future<Output = Result<T, String>>,
) -> Result<T, String> {
    tokio::pin!(work);
    let mut renew = tokio::time::interval(renew_every);
    renew.tick().await;
    loop {
        tokio::select! {
            done = &mut work => return done,
            _ = renew.tick() => {
                match app.repo.renew_lease(job.id, owner, lease).await {
                    Ok(true) => {}
                    Ok(false) => return Err("the lease was lost".into()),
                    Err(e) => return Err(e.to_string()),
                }
            }
        }
    }
}
