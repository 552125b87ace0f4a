//! Intake in flight, and background work that gives way to it.
//!
//! Candidates sending documents wait for their answer; the page pictures staff look at later
//! can wait instead. Each intake (an upload, a completed resumable upload, a mailroom page) is
//! counted from the moment its content is all in until it is answered, and deferred work
//! ([`super::jobs::Priority::Deferred`]) waits before each job until none is in flight, within
//! a bound so that a steady stream of uploads delays it without starving it. Receiving is not
//! counted: a phone's upload may take minutes to come in and costs the server little while it
//! does, so it holds back no picture.
//!
//! Idle workers of a kind of job are woken when this process enqueues jobs of that kind
//! ([`JobSignals`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;

/// The intakes in flight in this process.
#[derive(Debug, Default, Clone)]
pub struct IntakeActivity(Arc<State>);

#[derive(Debug, Default)]
struct State {
    in_flight: AtomicUsize,
    /// Woken when the last intake in flight ends.
    quiet: Notify,
}

/// One intake in flight, until dropped.
#[derive(Debug)]
pub struct InFlight(IntakeActivity);

impl IntakeActivity {
    /// Counts one intake until the returned guard is dropped.
    pub fn enter(&self) -> InFlight {
        self.0.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(self.clone())
    }

    pub fn in_flight(&self) -> usize {
        self.0.in_flight.load(Ordering::SeqCst)
    }

    /// Returns once no intake is in flight, or after `at_most`, whichever comes first.
    pub async fn quiet(&self, at_most: Duration) {
        let deadline = tokio::time::Instant::now() + at_most;
        loop {
            let notified = self.0.quiet.notified();
            tokio::pin!(notified);
            // Registered before the count is read: an intake ending in between still wakes us.
            notified.as_mut().enable();
            if self.in_flight() == 0 {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return;
            }
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.0.quiet.notify_waiters();
        }
    }
}

/// Wakes this process's idle workers of a kind when it enqueues jobs of that kind (other
/// processes' workers poll). Only that kind's: every claim takes a turn at the database's
/// writer, and workers of the other kinds woken by every upload's picture job took turns
/// from the uploads' commits for nothing.
#[derive(Debug, Default)]
pub struct JobSignals(Mutex<HashMap<String, Arc<Notify>>>);

impl JobSignals {
    fn of(&self, kind: &str) -> Arc<Notify> {
        let mut kinds = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match kinds.get(kind) {
            Some(signal) => signal.clone(),
            None => kinds.entry(kind.to_string()).or_default().clone(),
        }
    }

    /// Wakes the idle workers of `kind`: jobs of that kind were enqueued.
    pub fn enqueued(&self, kind: &str) {
        self.of(kind).notify_waiters();
    }

    /// Returns once jobs of `kind` are enqueued in this process.
    pub(super) async fn wait(&self, kind: &str) {
        self.of(kind).notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_workers_of_the_kind_enqueued_are_woken() {
        let signals = Arc::new(JobSignals::default());
        let waiting = |kind: &'static str| {
            let signals = signals.clone();
            tokio::spawn(async move { signals.wait(kind).await })
        };
        let (render, scan) = (waiting("render"), waiting("scan"));
        // Both waiters are registered before the signal.
        tokio::time::sleep(Duration::from_millis(20)).await;
        signals.enqueued("render");
        tokio::time::timeout(Duration::from_secs(5), render)
            .await
            .expect("the render worker is woken")
            .expect("the waiter ends");
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!scan.is_finished(), "the scan worker sleeps on");
        signals.enqueued("scan");
        tokio::time::timeout(Duration::from_secs(5), scan)
            .await
            .expect("the scan worker is woken by its own kind")
            .expect("the waiter ends");
    }

    #[tokio::test]
    async fn quiet_returns_when_the_last_intake_ends() {
        let activity = IntakeActivity::default();
        let first = activity.enter();
        let second = activity.enter();
        assert_eq!(activity.in_flight(), 2);
        let waiting = tokio::spawn({
            let activity = activity.clone();
            async move { activity.quiet(Duration::from_secs(3600)).await }
        });
        drop(first);
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "one intake is still in flight");
        drop(second);
        tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .expect("woken when the last intake ended")
            .expect("the waiting task");
        assert_eq!(activity.in_flight(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn quiet_gives_up_waiting_after_its_bound() {
        let activity = IntakeActivity::default();
        let _busy = activity.enter();
        let started = tokio::time::Instant::now();
        activity.quiet(Duration::from_secs(30)).await;
        assert_eq!(started.elapsed(), Duration::from_secs(30));
        assert_eq!(activity.in_flight(), 1);
    }

    #[tokio::test]
    async fn quiet_returns_at_once_when_nothing_is_in_flight() {
        let activity = IntakeActivity::default();
        drop(activity.enter());
        tokio::time::timeout(
            Duration::from_secs(10),
            activity.quiet(Duration::from_secs(3600)),
        )
        .await
        .expect("nothing in flight");
    }
}
