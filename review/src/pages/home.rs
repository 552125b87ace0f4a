//! The dashboard: the documents left to review (with the queue's button), dossiers by state,
//! what awaits review, and the campaigns' deadlines.

use askama::Template;
use axum::extract::State;
use axum::response::{Redirect, Response};
use chrono::{DateTime, Utc};

use dossiers::Window;
use storage::repository::QueueFilter;

use crate::Staff;
use crate::error::PageError;
use crate::index::refresh_before_reading;
use crate::session::Reviewer;
use crate::views::{STATES, page, state_label, when};

pub struct Tile {
    pub label: String,
    pub count: i64,
    pub link: String,
}

pub struct CampaignLine {
    pub id: String,
    pub title: String,
    pub opens: String,
    pub closes: String,
    pub window: &'static str,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    user: Reviewer,
    section: &'static str,
    tiles: Vec<Tile>,
    campaigns: Vec<CampaignLine>,
    stale: i64,
    /// Documents left for this reviewer in the review queue, and under others' claims.
    queue_left: u64,
    queue_others: u64,
}

pub async fn redirect() -> Redirect {
    Redirect::permanent("/staff/")
}

pub async fn dashboard(State(staff): State<Staff>, user: Reviewer) -> Result<Response, PageError> {
    refresh_before_reading(&staff.app).await?;
    let counts = staff
        .app
        .repo
        .dossier_index_counts(user.campaigns.as_deref())
        .await?;
    let mut tiles: Vec<Tile> = STATES
        .iter()
        .map(|state| Tile {
            label: state_label(state).to_string(),
            count: counts
                .by_state
                .iter()
                .find(|(s, _)| s == state)
                .map_or(0, |(_, n)| *n),
            link: format!("/staff/dossiers?state={state}"),
        })
        .collect();
    tiles.push(Tile {
        label: "à examiner".into(),
        count: counts.awaiting,
        link: "/staff/dossiers?awaiting=yes".into(),
    });
    tiles.push(Tile {
        label: "avec pièces hors délai".into(),
        count: counts.late,
        link: "/staff/dossiers?late=yes".into(),
    });
    tiles.push(Tile {
        label: "avec documents en double".into(),
        count: counts.duplicates,
        link: "/staff/dossiers?duplicates=yes".into(),
    });
    let mut campaigns = campaign_lines(&staff).await?;
    campaigns.retain(|line| user.sees(&line.id));
    let scoped = QueueFilter {
        scope: user.scope(),
        ..QueueFilter::default()
    };
    let queue = staff
        .app
        .repo
        .queue_count(&user.name, &scoped, Utc::now())
        .await?;
    page(&Dashboard {
        user,
        section: "home",
        tiles,
        campaigns,
        stale: counts.stale,
        queue_left: queue.left(),
        queue_others: queue.claimed_by_others,
    })
}

/// The campaigns in force, soonest deadline first.
pub async fn campaign_lines(staff: &Staff) -> Result<Vec<CampaignLine>, PageError> {
    let now = Utc::now();
    let mut lines: Vec<(DateTime<Utc>, CampaignLine)> = Vec::new();
    for record in staff.app.repo.campaigns().await? {
        let Ok(campaign) = staff.app.campaign(&record.id).await else {
            continue;
        };
        let closes = campaign.closes_at().with_timezone(&Utc);
        lines.push((
            closes,
            CampaignLine {
                id: campaign.id().to_string(),
                title: campaign.title().to_string(),
                opens: when(campaign.opens_at().with_timezone(&Utc)),
                closes: when(closes),
                window: match campaign.window_at(now) {
                    Window::Open => "ouverte",
                    Window::Closed => "close (pièces papier acceptées, marquées hors délai)",
                    Window::NotYetOpen => "pas encore ouverte",
                },
            },
        ));
    }
    lines.sort_by_key(|(closes, _)| *closes);
    Ok(lines.into_iter().map(|(_, line)| line).collect())
}
