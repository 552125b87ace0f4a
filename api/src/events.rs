//! The event feed: `GET /api/v1/events?after=N`, at most a page per call.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::Deserialize;

use crate::auth::{Caller, Role};
use crate::error::{ApiError, Error, answers};
use crate::views::{self, Events};
use ingest::App;

const PAGE: u32 = 100;

#[derive(Deserialize)]
pub struct FeedQuery {
    #[serde(default)]
    after: i64,
    limit: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/events",
    operation_id = "events",
    tag = "events",
    security(("token" = [])),
    params(
        ("after" = Option<i64>, Query, description = "Events with a larger id"),
        ("limit" = Option<i64>, Query, description = "At most this many (1 to 100; more is taken as 100)"),
    ),
    responses(
        (status = 200, description = "A page of events and `last`", body = Events),
        answers::Malformed,
        answers::Unauthenticated,
        answers::Forbidden,
        answers::Unavailable,
    )
)]
pub async fn feed(
    State(app): State<App>,
    caller: Caller,
    query: Result<Query<FeedQuery>, QueryRejection>,
) -> Result<Json<Events>, ApiError> {
    let Query(query) = query.map_err(|e| Error::Malformed(e.body_text()))?;
    caller.require(&[Role::Portal, Role::Staff])?;
    let limit = query.limit.unwrap_or(PAGE).clamp(1, PAGE);
    // A token scoped to campaigns reads only the events of their dossiers.
    let events = match &caller.campaigns {
        None => app.repo.events_after(query.after, limit).await?,
        Some(scope) => app.repo.events_after_in(query.after, limit, scope).await?,
    };
    let last = events.last().map_or(query.after, |e| e.id);
    Ok(Json(Events {
        events: events.into_iter().map(views::event).collect(),
        last,
    }))
}
