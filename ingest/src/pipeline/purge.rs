//! Retention: documents lose their content when their campaign's rules say so.
//!
//! - a piece's `purge_after_decision` counts from staff's decision on each document;
//! - the campaign's `[retention] after_close` counts from the dossier's closing, for every
//!   document of the dossier.
//!
//! A pass first marks the due documents purged, one dossier change each (`document.purged`,
//! journaled under `system`), then deletes the objects they pointed at (content, display
//! copy, pictures of pages) that no live document needs, as `storage`'s retention module
//! describes: every step can be interrupted, SIGKILL included, and the next pass finishes it.
//! Each process runs passes; two passes at once do the same idempotent work.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use dossiers::Period;
use storage::ContentKey;
use storage::repository::RetentionCandidate;

use super::dossier::{self, Plan};
use crate::app::App;
use crate::auth::SYSTEM_ACTOR;
use crate::error::Error;
use crate::events::EventKind;

/// Candidates read per rule and query; a pass loops until nothing is due.
const BATCH: u32 = 500;
/// A dry run lists at most this many documents per rule.
pub const LISTED: u32 = 100_000;

/// How often purges run; part of the service configuration (`[retention]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PurgeSettings {
    /// The pause between two passes (milliseconds).
    pub check_every_ms: u64,
}

impl Default for PurgeSettings {
    fn default() -> Self {
        PurgeSettings {
            check_every_ms: 60_000,
        }
    }
}

/// A document a rule makes due, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct Due {
    pub document: String,
    pub dossier: String,
    pub piece: Option<String>,
    /// `after_close P12M`, `purge_after_decision P30D`.
    pub rule: String,
    pub due_at: DateTime<Utc>,
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PassReport {
    pub purged: Vec<Due>,
    /// Objects deleted from the store (contents, display copies, pictures).
    pub objects_deleted: usize,
}

/// The documents the rules make due at `now` (at most `limit` per rule); with `upcoming`,
/// also those decided or closed whose time has not come, for a dry run. Each document once,
/// under its earliest rule.
pub async fn due(
    app: &App,
    now: DateTime<Utc>,
    upcoming: bool,
    limit: u32,
) -> Result<Vec<Due>, Error> {
    let mut found: BTreeMap<String, Due> = BTreeMap::new();
    let mut keep = |candidate: RetentionCandidate, period: &Period, rule: &str| {
        let Some(due_at) = period.after(candidate.since) else {
            return;
        };
        let due = Due {
            document: candidate.document,
            dossier: candidate.dossier,
            piece: candidate.piece,
            rule: format!("{rule} {period}"),
            due_at,
        };
        match found.get(&due.document) {
            Some(known) if known.due_at <= due.due_at => {}
            _ => {
                found.insert(due.document.clone(), due);
            }
        }
    };
    for record in app.repo.campaigns().await? {
        let campaign = app.campaign(&record.id).await?;
        let until = |period: &Period| {
            if upcoming {
                // Far, but a four-digit year: SQLite compares times as text.
                DateTime::parse_from_rfc3339("9999-12-31T23:59:59Z")
                    .ok()
                    .map(|t| t.with_timezone(&Utc))
            } else {
                period.cutoff(now)
            }
        };
        for piece in campaign.pieces() {
            let Some(period) = piece.purge_after_decision() else {
                continue;
            };
            let Some(until) = until(period) else { continue };
            let candidates = app
                .repo
                .decided_documents(campaign.id(), piece.code(), until, limit)
                .await?;
            for candidate in candidates {
                keep(candidate, period, "purge_after_decision");
            }
        }
        if let Some(period) = campaign.retention_after_close() {
            let Some(until) = until(period) else { continue };
            let candidates = app
                .repo
                .closed_documents(campaign.id(), until, limit)
                .await?;
            for candidate in candidates {
                keep(candidate, period, "after_close");
            }
        }
    }
    let mut due: Vec<Due> = found.into_values().collect();
    due.sort_by(|a, b| a.due_at.cmp(&b.due_at).then(a.document.cmp(&b.document)));
    Ok(due)
}

/// One pass: marks what is due purged, then deletes what no live document needs, and
/// finishes what an interrupted pass left.
pub async fn pass(app: &App) -> Result<PassReport, Error> {
    let mut report = PassReport::default();
    loop {
        let due = due(app, Utc::now(), false, BATCH).await?;
        let marked = mark_purged(app, &due).await?;
        let done = marked.is_empty();
        report.purged.extend(marked);
        if done {
            break;
        }
    }
    // Deletions a crash interrupted, then the objects of purged documents.
    for sha256 in app.repo.content_deletions().await? {
        report.objects_deleted += delete_objects(app, &sha256).await?;
    }
    loop {
        let pending = app.repo.pending_purges(BATCH).await?;
        if pending.is_empty() {
            break;
        }
        for purge in pending {
            let objects = std::iter::once(&purge.sha256).chain(&purge.display_sha256);
            for sha256 in objects {
                if app.repo.begin_content_deletion(sha256).await? {
                    report.objects_deleted += delete_objects(app, sha256).await?;
                }
            }
            app.repo.purge_done(&purge.document).await?;
        }
    }
    Ok(report)
}

/// Marks `due` documents purged, one change per dossier; answers those marked now.
async fn mark_purged(app: &App, due: &[Due]) -> Result<Vec<Due>, Error> {
    let mut marked = Vec::new();
    let mut by_dossier: BTreeMap<&str, Vec<&Due>> = BTreeMap::new();
    for item in due {
        by_dossier.entry(&item.dossier).or_default().push(item);
    }
    for (reference, items) in by_dossier {
        let purged = dossier::change(app, reference, SYSTEM_ACTOR, |snapshot| {
            let mut plan = Plan::nothing(Vec::new());
            for item in &items {
                let Some(doc) = snapshot
                    .documents
                    .iter()
                    .find(|d| d.id == item.document && d.purged_at.is_none())
                else {
                    continue;
                };
                plan.change.purges.push((doc.id.clone(), item.rule.clone()));
                plan.change.events.push(snapshot.event(
                    EventKind::DocumentPurged,
                    Some(&doc.id),
                    json!({"piece": doc.piece, "sha256": doc.sha256, "rule": item.rule}),
                ));
                plan.outcome.push((*item).clone());
            }
            Ok(plan)
        })
        .await?;
        marked.extend(purged);
    }
    Ok(marked)
}

/// Deletes an object whose deletion was started, with its pictures that no other content
/// shares, then records the deletion finished. Idempotent.
async fn delete_objects(app: &App, sha256: &str) -> Result<usize, Error> {
    let mut deleted = 0;
    for image in app.repo.preview_images(sha256).await? {
        if app.repo.picture_shared(&image.image_sha256, sha256).await? {
            continue;
        }
        deleted += usize::from(delete(app, &image.image_sha256).await?);
    }
    deleted += usize::from(delete(app, sha256).await?);
    app.repo.finish_content_deletion(sha256).await?;
    Ok(deleted)
}

async fn delete(app: &App, sha256: &str) -> Result<bool, Error> {
    let key = ContentKey::from_hex(sha256)
        .ok_or_else(|| Error::Internal(format!("stored digest {sha256} is not a key")))?;
    Ok(app.blobs.delete(&key).await?)
}

/// Runs a pass every `check_every_ms`, for as long as the process lives.
pub async fn worker(app: App, settings: PurgeSettings) {
    let every = Duration::from_millis(settings.check_every_ms.max(100));
    loop {
        tokio::time::sleep(every).await;
        match pass(&app).await {
            Ok(report) if !report.purged.is_empty() || report.objects_deleted > 0 => {
                tracing::info!(
                    documents = report.purged.len(),
                    objects = report.objects_deleted,
                    "retention purge"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "retention purge failed; next pass retries"),
        }
    }
}
