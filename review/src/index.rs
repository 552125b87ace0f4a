//! Keeps the dossier index fresh: each dossier marked stale by the database triggers is
//! read, assessed by the domain rules (the same [`Snapshot`] the pipeline uses) and written
//! back as one index row.
//!
//! Pages refresh a bounded batch before reading, so a reviewer sees their own changes at
//! once; [`refresher`] works through the rest in the background (after a bulk import, or
//! changes made by another process).

use std::time::Duration;

use chrono::Utc;

use ingest::App;
use ingest::pipeline::dossier::Snapshot;
use storage::repository::DossierIndexRow;

use crate::names::candidate_name;

/// Dossiers recomputed per batch of the background refresher.
const BATCH: u32 = 200;
/// Dossiers recomputed before a page reads the index.
const PAGE_BATCH: u32 = 100;
/// The pause of the background refresher when nothing is stale, or after an error.
const IDLE: Duration = Duration::from_secs(2);

/// The index row of a dossier, as the domain rules assess it now.
pub fn index_row(snapshot: &Snapshot) -> DossierIndexRow {
    let assessment = snapshot.assessment();
    let name = candidate_name(&snapshot.record.candidate);
    // What the candidate must still send (pending documents count as sent): a piece
    // awaiting review is the reviewer's work, found with the `awaiting` filter.
    let missing = assessment.missing_for_submission();
    let active: Vec<_> = snapshot.active_documents().collect();
    DossierIndexRow {
        reference: snapshot.record.reference.clone(),
        campaign: snapshot.record.campaign.clone(),
        version: snapshot.record.version,
        state: snapshot.record.state.clone(),
        name: name.shown,
        name_key: name.name_key,
        given_key: name.given_key,
        complete: assessment.complete,
        missing,
        awaiting: assessment.pieces.iter().any(|p| p.pending > 0),
        late: active.iter().any(|d| d.late),
        // Other dossiers' documents decide it: the repository computes it on writing.
        duplicates: false,
        updated_at: snapshot.record.updated_at,
    }
}

/// Recomputes up to `limit` stale dossiers, after marking stale those whose `duplicates`
/// flag a document of another dossier changed; returns how many were stale.
pub async fn refresh_index(app: &App, limit: u32) -> Result<usize, ingest::Error> {
    app.repo.spread_stale_content(limit).await?;
    let stale = app.repo.stale_dossiers(limit).await?;
    let mut rows = Vec::with_capacity(stale.len());
    for (reference, _) in &stale {
        match Snapshot::read(app, reference).await {
            Ok(snapshot) => rows.push(index_row(&snapshot)),
            // A dossier whose campaign no longer parses stays stale and out of the list;
            // the error is logged where the campaign is loaded.
            Err(e) => tracing::warn!(dossier = %reference, error = %e, "dossier not indexed"),
        }
    }
    // Written together: on SQLite, one turn of the writer for the whole batch.
    app.repo.put_dossier_indexes(&rows).await?;
    Ok(stale.len())
}

/// Refreshes what a page is about to read: one bounded batch, so a page stays quick even
/// behind a bulk import (the background refresher finishes it; pages say how many wait).
pub async fn refresh_before_reading(app: &App) -> Result<(), ingest::Error> {
    refresh_index(app, PAGE_BATCH).await?;
    Ok(())
}

/// Recomputes one dossier's row at once: after a reviewer's action, the list they go back to
/// shows it, whatever the backlog. A failure only delays the row (it stays marked stale).
pub async fn refresh_dossier(app: &App, reference: &str) {
    let result = match Snapshot::read(app, reference).await {
        Ok(snapshot) => app
            .repo
            .put_dossier_index(&index_row(&snapshot))
            .await
            .map_err(ingest::Error::from),
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        tracing::warn!(dossier = %reference, error = %e, "dossier index not refreshed");
    }
}

/// Runs for the life of the process: refreshes stale index rows, and drops expired
/// sessions now and then.
pub async fn refresher(app: App) {
    let mut rounds: u64 = 0;
    loop {
        rounds += 1;
        let busy = match refresh_index(&app, BATCH).await {
            Ok(n) => n >= BATCH as usize,
            Err(e) => {
                tracing::warn!(error = %e, "dossier index refresh failed");
                false
            }
        };
        // About every ten minutes when idle: expired sessions are useless, not dangerous
        // (they are refused on use), so the sweep need not be prompt.
        if rounds % 300 == 1
            && let Err(e) = app.repo.delete_expired_staff_sessions(Utc::now()).await
        {
            tracing::warn!(error = %e, "expired staff sessions not deleted");
        }
        if !busy {
            tokio::time::sleep(IDLE).await;
        }
    }
}
