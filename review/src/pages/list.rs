//! The dossier list: search by reference or candidate name, filters, keyset pagination over
//! the dossier index (50 a page, each page one indexed range scan).

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use storage::repository::{DossierIndexRow, DossierQuery};

use crate::Staff;
use crate::error::PageError;
use crate::index::refresh_before_reading;
use crate::names::search_key;
use crate::session::Reviewer;
use crate::views::{STATES, page, percent_encode, state_label, yes_no};

pub const PAGE: u32 = 50;

/// The list's filters as they come in the query string; unknown values are ignored.
#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub campaign: String,
    #[serde(default)]
    pub complete: String,
    #[serde(default)]
    pub missing: String,
    #[serde(default)]
    pub awaiting: String,
    #[serde(default)]
    pub late: String,
    /// `yes`: only dossiers holding a document whose content another dossier also holds.
    #[serde(default)]
    pub duplicates: String,
    #[serde(default)]
    pub after: String,
}

fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

fn yes_no_filter(text: &str) -> Option<bool> {
    match text {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

impl Filters {
    /// The repository query for a page of `limit` rows, within `scope` (a reviewer's).
    pub fn query(&self, limit: u32, scope: Option<Vec<String>>) -> DossierQuery {
        DossierQuery {
            search: Some(search_key(&self.q)).filter(|s| !s.is_empty()),
            state: non_empty(&self.state).filter(|s| STATES.contains(&s.as_str())),
            campaign: non_empty(&self.campaign),
            complete: yes_no_filter(&self.complete),
            missing: non_empty(&self.missing),
            awaiting: (self.awaiting == "yes").then_some(true),
            late: (self.late == "yes").then_some(true),
            duplicates: (self.duplicates == "yes").then_some(true),
            scope,
            after: non_empty(&self.after),
            limit,
        }
    }

    /// The filters as a query string, without the page position.
    pub fn query_string(&self) -> String {
        let pairs = [
            ("q", self.q.trim()),
            ("state", self.state.as_str()),
            ("campaign", self.campaign.as_str()),
            ("complete", self.complete.as_str()),
            ("missing", self.missing.as_str()),
            ("awaiting", self.awaiting.as_str()),
            ("late", self.late.as_str()),
            ("duplicates", self.duplicates.as_str()),
        ];
        pairs
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", percent_encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

pub struct Row {
    pub reference: String,
    pub name: String,
    pub campaign: String,
    pub state: &'static str,
    pub complete: &'static str,
    pub missing: String,
    pub awaiting: &'static str,
    pub late: &'static str,
    /// Some document's content is also in another dossier.
    pub duplicates: bool,
}

impl From<DossierIndexRow> for Row {
    fn from(r: DossierIndexRow) -> Row {
        Row {
            state: state_label(&r.state),
            complete: yes_no(r.complete),
            missing: r.missing.join(", "),
            awaiting: yes_no(r.awaiting),
            late: yes_no(r.late),
            duplicates: r.duplicates,
            reference: r.reference,
            name: r.name,
            campaign: r.campaign,
        }
    }
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// The campaign the list is filtered on, whose exports it links to.
pub struct Exported {
    pub id: String,
}

#[derive(Template)]
#[template(path = "list.html")]
struct ListPage {
    user: Reviewer,
    section: &'static str,
    q: String,
    complete: String,
    awaiting: bool,
    late: bool,
    duplicates: bool,
    states: Vec<Choice>,
    campaigns: Vec<Choice>,
    pieces: Vec<Choice>,
    rows: Vec<Row>,
    first_page: bool,
    next: Option<String>,
    filter_query: String,
    stale: i64,
    exported: Option<Exported>,
}

pub async fn list(
    State(staff): State<Staff>,
    user: Reviewer,
    Query(filters): Query<Filters>,
) -> Result<Response, PageError> {
    refresh_before_reading(&staff.app).await?;
    let mut rows = staff
        .app
        .repo
        .list_dossier_index(&filters.query(PAGE + 1, user.scope()))
        .await?;
    let next = if rows.len() > PAGE as usize {
        rows.truncate(PAGE as usize);
        rows.last().map(|r| r.reference.clone())
    } else {
        None
    };
    let stale = staff
        .app
        .repo
        .dossier_index_counts(user.campaigns.as_deref())
        .await?
        .stale;
    let (campaigns, pieces) = campaign_choices(
        &staff,
        &user,
        Some(&filters.campaign),
        Some(&filters.missing),
    )
    .await?;
    let exported = campaigns.iter().find(|c| c.selected).map(|c| Exported {
        id: c.value.clone(),
    });
    page(&ListPage {
        section: "dossiers",
        q: filters.q.clone(),
        complete: filters.complete.clone(),
        awaiting: filters.awaiting == "yes",
        late: filters.late == "yes",
        duplicates: filters.duplicates == "yes",
        states: STATES
            .iter()
            .map(|s| Choice {
                value: s.to_string(),
                label: state_label(s).to_string(),
                selected: filters.state == *s,
            })
            .collect(),
        campaigns,
        pieces,
        rows: rows.into_iter().map(Row::from).collect(),
        first_page: filters.after.is_empty(),
        next,
        filter_query: filters.query_string(),
        stale,
        exported,
        user,
    })
}

/// The campaigns of `user`'s scope, and the piece codes of each, for the filter menus, with
/// the chosen ones selected.
pub(crate) async fn campaign_choices(
    staff: &Staff,
    user: &Reviewer,
    chosen_campaign: Option<&str>,
    chosen_piece: Option<&str>,
) -> Result<(Vec<Choice>, Vec<Choice>), PageError> {
    let mut campaigns = Vec::new();
    let mut pieces: BTreeMap<String, String> = BTreeMap::new();
    for record in staff.app.repo.campaigns().await? {
        if !user.sees(&record.id) {
            continue;
        }
        let Ok(campaign) = staff.app.campaign(&record.id).await else {
            continue;
        };
        for piece in campaign.pieces() {
            pieces
                .entry(piece.code().to_string())
                .or_insert_with(|| piece.label().to_string());
        }
        campaigns.push(Choice {
            value: campaign.id().to_string(),
            label: campaign.title().to_string(),
            selected: chosen_campaign == Some(campaign.id()),
        });
    }
    let pieces = pieces
        .into_iter()
        .map(|(code, label)| Choice {
            selected: chosen_piece == Some(code.as_str()),
            label: format!("{label} ({code})"),
            value: code,
        })
        .collect();
    Ok((campaigns, pieces))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_become_a_query_and_a_query_string() {
        let filters = Filters {
            q: " Éloïse ".into(),
            state: "bogus".into(),
            complete: "no".into(),
            awaiting: "yes".into(),
            missing: "jdc".into(),
            after: "R-50".into(),
            ..Filters::default()
        };
        let query = filters.query(51, None);
        assert_eq!(query.search.as_deref(), Some("eloise"));
        assert_eq!(query.state, None, "unknown states are ignored");
        assert_eq!(query.complete, Some(false));
        assert_eq!(query.awaiting, Some(true));
        assert_eq!(query.late, None);
        assert_eq!(query.missing.as_deref(), Some("jdc"));
        assert_eq!(query.after.as_deref(), Some("R-50"));
        assert_eq!(
            filters.query_string(),
            "q=%C3%89lo%C3%AFse&state=bogus&complete=no&missing=jdc&awaiting=yes"
        );
    }
}
