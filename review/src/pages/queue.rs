//! The review queue: "Document suivant à examiner" hands the reviewer the oldest document
//! awaiting review that no other reviewer is looking at, claims it for them for [`CLAIM`],
//! and opens it on its dossier's page. Asking for the next one releases the previous claim;
//! a decision on the document releases it too, in the transaction that records the decision
//! (`storage::repository::ReviewQueueRepository` says which documents wait and how claims
//! stay exclusive across processes).
//!
//! The page shows what is left (overall and for the chosen campaign and piece), who is
//! looking at what, and the button. Filters are chosen with a GET form, so that choosing them
//! carries no CSRF token in the address; the button's POST form repeats them.

use std::time::Duration;

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use storage::repository::QueueFilter;

use crate::Staff;
use crate::error::PageError;
use crate::pages::list::{Choice, campaign_choices};
use crate::session::Reviewer;
use crate::views::{page, percent_encode};

/// How long a document stays with the reviewer it was handed to: time to read it and decide.
/// After that it goes back to the queue (another reviewer may be handed it).
pub const CLAIM: Duration = Duration::from_secs(15 * 60);

/// A live claim as the pages show it.
pub struct ClaimView {
    pub document: String,
    pub dossier: String,
    pub piece: String,
    pub reviewer: String,
    /// "14:32", Paris time.
    pub until: String,
    /// Held by the reviewer looking at the page.
    pub mine: bool,
}

/// The live claims on documents awaiting review, of one dossier or of all, as `viewer` sees
/// them: those of the viewer's scope. The dossier page shows them beside each document
/// ("pris en charge par ... jusqu'à ...").
pub async fn claims_on(
    staff: &Staff,
    dossier: Option<&str>,
    viewer: &Reviewer,
) -> Result<Vec<ClaimView>, PageError> {
    let mut claims = staff.app.repo.live_claims(dossier, Utc::now()).await?;
    if viewer.campaigns.is_some() {
        let mut seen = Vec::with_capacity(claims.len());
        for claim in claims {
            if let Some(record) = staff.app.repo.dossier(&claim.dossier).await?
                && viewer.sees(&record.campaign)
            {
                seen.push(claim);
            }
        }
        claims = seen;
    }
    Ok(claims
        .into_iter()
        .map(|c| ClaimView {
            mine: c.reviewer == viewer.name,
            until: hour_minute(c.claimed_until),
            document: c.document,
            dossier: c.dossier,
            piece: c.piece,
            reviewer: c.reviewer,
        })
        .collect())
}

fn hour_minute(instant: DateTime<Utc>) -> String {
    instant
        .with_timezone(&chrono_tz::Europe::Paris)
        .format("%H:%M")
        .to_string()
}

/// The filters as they come from a form or a query string; empty means any.
#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    #[serde(default)]
    campaign: String,
    #[serde(default)]
    piece: String,
}

impl Filters {
    fn queue_filter(&self) -> QueueFilter {
        let chosen = |text: &str| Some(text.trim().to_string()).filter(|t| !t.is_empty());
        QueueFilter {
            campaign: chosen(&self.campaign),
            piece: chosen(&self.piece),
            scope: None,
        }
    }

    /// The chosen filters within the reviewer's scope.
    fn filter_for(&self, user: &Reviewer) -> QueueFilter {
        QueueFilter {
            scope: user.scope(),
            ..self.queue_filter()
        }
    }

    /// `campaign=...&piece=...`, without the empty ones.
    fn query_string(&self) -> String {
        let filter = self.queue_filter();
        [("campaign", filter.campaign), ("piece", filter.piece)]
            .into_iter()
            .filter_map(|(key, value)| value.map(|v| format!("{key}={}", percent_encode(&v))))
            .collect::<Vec<_>>()
            .join("&")
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    #[serde(flatten)]
    filters: Filters,
    /// Set by the redirect of a request that found nothing.
    #[serde(default)]
    vide: String,
    /// Set by the redirect after the reviewer gave their document back.
    #[serde(default)]
    rendu: String,
}

#[derive(Template)]
#[template(path = "queue.html")]
struct QueuePage {
    user: Reviewer,
    section: &'static str,
    notice: Option<&'static str>,
    /// Left for this reviewer, whatever the filters.
    left: u64,
    /// Under other reviewers' claims.
    others: u64,
    /// Left for the chosen filters, when some are chosen.
    left_filtered: Option<u64>,
    campaign: String,
    piece: String,
    campaigns: Vec<Choice>,
    pieces: Vec<Choice>,
    claims: Vec<ClaimView>,
    holds_one: bool,
    claim_minutes: u64,
}

pub async fn show(
    State(staff): State<Staff>,
    user: Reviewer,
    Query(query): Query<PageQuery>,
) -> Result<Response, PageError> {
    let now = Utc::now();
    let repo = &staff.app.repo;
    let overall = repo
        .queue_count(&user.name, &Filters::default().filter_for(&user), now)
        .await?;
    let filter = query.filters.filter_for(&user);
    let left_filtered = if filter.campaign.is_none() && filter.piece.is_none() {
        None
    } else {
        Some(repo.queue_count(&user.name, &filter, now).await?.left())
    };
    let notice = match (query.vide.is_empty(), query.rendu.is_empty()) {
        (false, _) if left_filtered.is_some() => {
            Some("Aucun document à examiner pour ces critères.")
        }
        (false, _) => Some("Aucun document à examiner."),
        (true, false) => Some("Votre document a été rendu à la file."),
        (true, true) => None,
    };
    let (campaigns, pieces) = campaign_choices(
        &staff,
        &user,
        filter.campaign.as_deref(),
        filter.piece.as_deref(),
    )
    .await?;
    let claims = claims_on(&staff, None, &user).await?;
    page(&QueuePage {
        section: "queue",
        notice,
        left: overall.left(),
        others: overall.claimed_by_others,
        left_filtered,
        campaign: filter.campaign.unwrap_or_default(),
        piece: filter.piece.unwrap_or_default(),
        campaigns,
        pieces,
        holds_one: claims.iter().any(|c| c.mine),
        claims,
        claim_minutes: CLAIM.as_secs() / 60,
        user,
    })
}

#[derive(Deserialize)]
pub struct NextForm {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    filters: Filters,
}

/// Claims the next document for the reviewer and opens it; back to the queue page with a
/// notice when there is none.
pub async fn next(
    State(staff): State<Staff>,
    user: Reviewer,
    Form(form): Form<NextForm>,
) -> Result<Response, PageError> {
    user.check_csrf(&form.csrf)?;
    let filter = form.filters.filter_for(&user);
    let claimed = staff
        .app
        .repo
        .claim_next(&user.name, &filter, CLAIM, Utc::now())
        .await?;
    let Some(claimed) = claimed else {
        let filters = form.filters.query_string();
        let separator = if filters.is_empty() { "" } else { "&" };
        return Ok(
            Redirect::to(&format!("/staff/queue?{filters}{separator}vide=1")).into_response(),
        );
    };
    tracing::info!(user = %user.name, document = %claimed.document, "review queue: handed out");
    Ok(Redirect::to(&format!(
        "/staff/dossiers/{}#doc-{}",
        percent_encode(&claimed.dossier),
        claimed.document
    ))
    .into_response())
}

#[derive(Deserialize)]
pub struct ReleaseForm {
    #[serde(default)]
    csrf: String,
}

/// Gives the reviewer's document back to the queue (they stop reviewing for now).
pub async fn release(
    State(staff): State<Staff>,
    user: Reviewer,
    Form(form): Form<ReleaseForm>,
) -> Result<Response, PageError> {
    user.check_csrf(&form.csrf)?;
    staff.app.repo.release_claims(&user.name).await?;
    Ok(Redirect::to("/staff/queue?rendu=1").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_trimmed_and_empty_means_any() {
        let filters = Filters {
            campaign: " bts ".into(),
            piece: String::new(),
        };
        assert_eq!(
            filters.queue_filter(),
            QueueFilter {
                campaign: Some("bts".into()),
                piece: None,
                scope: None,
            }
        );
        assert_eq!(filters.query_string(), "campaign=bts");
        let both = Filters {
            campaign: "cap".into(),
            piece: "j d".into(),
        };
        assert_eq!(both.query_string(), "campaign=cap&piece=j%20d");
        assert_eq!(Filters::default().query_string(), "");
    }

    #[test]
    fn claims_end_at_a_paris_time() {
        let winter = DateTime::parse_from_rfc3339("2027-01-15T13:05:00Z")
            .expect("a date")
            .with_timezone(&Utc);
        assert_eq!(hour_minute(winter), "14:05");
    }
}
