//! The event feed: `GET /api/v1/events?after=N`, at most a page per call.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::App;
use crate::auth::{Caller, Role};
use crate::error::Error;

const PAGE: u32 = 100;

#[derive(Deserialize)]
pub struct FeedQuery {
    #[serde(default)]
    after: i64,
    limit: Option<u32>,
}

pub async fn feed(
    State(app): State<App>,
    caller: Caller,
    query: Result<Query<FeedQuery>, QueryRejection>,
) -> Result<Json<Value>, Error> {
    let Query(query) = query.map_err(|e| Error::Malformed(e.body_text()))?;
    caller.require(&[Role::Portal, Role::Staff])?;
    let limit = query.limit.unwrap_or(PAGE).clamp(1, PAGE);
    let events = app.repo.events_after(query.after, limit).await?;
    let last = events.last().map_or(query.after, |e| e.id);
    let events: Vec<Value> = events
        .into_iter()
        .map(|e| {
            json!({
                "id": e.id,
                "type": e.kind,
                "dossier": e.dossier,
                "document": e.document,
                "at": e.at,
                "data": e.data,
            })
        })
        .collect();
    Ok(Json(json!({"events": events, "last": last})))
}
