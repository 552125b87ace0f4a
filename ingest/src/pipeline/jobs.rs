//! The background job loop shared by every worker: claim a job of one kind under a lease, run
//! it, give it back to be retried when it fails, poll when idle (or look at once when this
//! process enqueues jobs of its kind).
//!
//! A failed job is given back due again after a pause that doubles with each attempt
//! ([`Retry`]); claims skip jobs not yet due, so the worker goes on with the others meanwhile
//! and a job that keeps failing never holds back the queue. After its last attempt (when the
//! kind has a limit) the job is `failed` for good, with its reason.

use std::future::Future;
use std::time::Duration;

use storage::Job;

use crate::app::App;

const IDLE_POLL: Duration = Duration::from_secs(1);
/// The pause after the claim itself failed (the database did not answer).
const CLAIM_BACKOFF_FIRST: Duration = Duration::from_secs(1);
const CLAIM_BACKOFF_MAX: Duration = Duration::from_secs(30);

/// How a kind of job shares the machine with intake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// Claimed as soon as it is due: intake or staff wait for it (a virus scan, a batch).
    Prompt,
    /// Claimed only once no intake is in flight in this process, or after waiting this long
    /// (see [`super::activity`]): work that can wait for the uploads to be answered.
    Deferred(Duration),
}

/// How a kind of job is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts, the first included, before the job is failed for good; `None`: until it
    /// succeeds (a scan waits for clamd however long it is down).
    pub max_attempts: Option<u32>,
    /// The pause after the first failed attempt; it doubles at each one, up to `max`.
    pub first: Duration,
    pub max: Duration,
}

impl Retry {
    /// Retried until it succeeds, after 1 s, 2 s, 4 s... then every 30 s.
    pub const UNTIL_DONE: Retry = Retry {
        max_attempts: None,
        first: Duration::from_secs(1),
        max: Duration::from_secs(30),
    };

    /// Whether the claim `job` is its last attempt: failing now fails it for good.
    pub fn is_last(&self, job: &Job) -> bool {
        self.max_attempts.is_some_and(|max| job.attempts >= max)
    }

    /// The pause before the next attempt of a job that failed its `attempts`-th.
    pub fn delay(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(30);
        self.first.saturating_mul(1 << doublings).min(self.max)
    }
}

/// Runs jobs of `kind` with `run` for as long as the process runs. `name` names the worker
/// in lease owners and logs; `run` gets the job and its owner, and an `Err` gives the job back
/// to be retried as `retry` says (or fails it, after its last attempt). Each claim waits as
/// `priority` says.
pub async fn work<F, Fut>(
    app: App,
    (kind, priority): (&'static str, Priority),
    name: &'static str,
    (lease, retry): (Duration, Retry),
    run: F,
) where
    F: Fn(App, Job, String) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let owner = format!(
        "{name}-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    );
    let mut claim_backoff = CLAIM_BACKOFF_FIRST;
    loop {
        if let Priority::Deferred(at_most) = priority {
            app.intake_activity.quiet(at_most).await;
        }
        let pause = match app.repo.claim_job(&[kind], &owner, lease).await {
            Ok(Some(job)) => {
                claim_backoff = CLAIM_BACKOFF_FIRST;
                let (id, attempts, last) = (job.id, job.attempts, retry.is_last(&job));
                let key = job.key.clone();
                if let Err(why) = run(app.clone(), job, owner.clone()).await {
                    let retry_in = (!last).then(|| retry.delay(attempts));
                    if last {
                        tracing::error!(worker = name, job = id, key = %key, attempts,
                            error = %why, "job failed its last attempt");
                    } else {
                        tracing::warn!(worker = name, job = id, key = %key, attempts,
                            error = %why, retry_in = ?retry_in, "job failed; will retry");
                    }
                    if let Err(e) = app.repo.fail_job(id, &owner, &why, retry_in).await {
                        tracing::error!(worker = name, job = id, error = %e, "giving a job back");
                    }
                }
                Duration::ZERO
            }
            Ok(None) => {
                tokio::select! {
                    _ = app.jobs_enqueued.wait(kind) => {}
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                }
                Duration::ZERO
            }
            Err(e) => {
                tracing::warn!(worker = name, error = %e, "claiming jobs");
                let pause = claim_backoff;
                claim_backoff = (claim_backoff * 2).min(CLAIM_BACKOFF_MAX);
                pause
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pause_doubles_up_to_its_ceiling() {
        let retry = Retry {
            max_attempts: Some(5),
            first: Duration::from_millis(100),
            max: Duration::from_millis(500),
        };
        let pauses: Vec<u128> = (1..=6).map(|a| retry.delay(a).as_millis()).collect();
        assert_eq!(pauses, [100, 200, 400, 500, 500, 500]);
        assert_eq!(Retry::UNTIL_DONE.delay(u32::MAX), Duration::from_secs(30));
    }
}
