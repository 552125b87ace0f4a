//! Webhook endpoints of a campaign, managed by admins.
//!
//! The endpoint's signing secret is shown once, in the answer that creates it: it is derived
//! from the service secret (see [`ingest::webhooks::endpoint_secret`]), never stored, and no
//! later answer carries it.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use bytes::Bytes;
use serde::Deserialize;
use utoipa::ToSchema;

use storage::repository::NewWebhook;

use super::request;
use crate::auth::{Caller, Role};
use crate::error::{ApiError, Error, answers};
use crate::views::{self, Deliveries, NewWebhookEndpoint, Webhooks};
use ingest::App;
use ingest::webhooks::endpoint_secret;

/// The longest URL taken: longer ones are mistakes, and they go into logs.
const MAX_URL: usize = 2048;
const DELIVERIES_PAGE: u32 = 100;

/// `POST /api/v1/campaigns/{id}/webhooks`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewWebhook)]
pub struct NewEndpoint {
    /// An absolute `http` or `https` URL with a host, without credentials.
    #[schema(max_length = 2048)]
    url: String,
}

/// An absolute `http` or `https` URL with a host, without credentials (they would be
/// shown to every admin who lists the endpoints).
fn checked_url(url: &str) -> Result<String, Error> {
    let invalid = |why: &str| Error::InvalidWebhookUrl(why.to_string());
    if url.len() > MAX_URL {
        return Err(invalid("the URL is longer than 2048 bytes"));
    }
    let parsed = url::Url::parse(url).map_err(|e| invalid(&format!("not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("the URL must be http or https"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid("the URL has no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid("the URL may not carry credentials"));
    }
    Ok(parsed.to_string())
}

#[utoipa::path(
    post,
    path = "/campaigns/{id}/webhooks",
    operation_id = "create_webhook",
    tag = "webhooks",
    security(("token" = [])),
    params(("id" = String, Path)),
    request_body = NewEndpoint,
    responses(
        (status = 201, description = "Created; `secret` is shown this once", body = NewWebhookEndpoint),
        answers::Malformed,
        answers::Unauthenticated,
        answers::Forbidden,
        answers::NotFound,
        answers::Unavailable,
    )
)]
pub async fn create(
    State(app): State<App>,
    caller: Caller,
    Path(campaign): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<NewWebhookEndpoint>), ApiError> {
    caller.require(&[Role::Admin])?;
    let campaign = app.campaign(&campaign).await?;
    let new: NewEndpoint = request::json(&body)?;
    let url = checked_url(&new.url)?;
    let hook = app
        .repo
        .create_webhook(&NewWebhook {
            id: uuid::Uuid::now_v7().to_string(),
            campaign: campaign.id().to_string(),
            url,
        })
        .await?;
    tracing::info!(webhook = %hook.id, campaign = %hook.campaign, url = %hook.url,
        "webhook endpoint created");
    let answer = NewWebhookEndpoint {
        secret: endpoint_secret(&app.secret, &hook.id),
        webhook: views::webhook(&hook),
    };
    Ok((StatusCode::CREATED, Json(answer)))
}

#[utoipa::path(
    get,
    path = "/campaigns/{id}/webhooks",
    operation_id = "list_webhooks",
    tag = "webhooks",
    security(("token" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The live endpoints of the campaign", body = Webhooks),
        answers::Unauthenticated,
        answers::Forbidden,
        answers::NotFound,
        answers::Unavailable,
    )
)]
pub async fn list(
    State(app): State<App>,
    caller: Caller,
    Path(campaign): Path<String>,
) -> Result<Json<Webhooks>, ApiError> {
    caller.require(&[Role::Admin])?;
    let campaign = app.campaign(&campaign).await?;
    let hooks = app.repo.webhooks(campaign.id()).await?;
    Ok(Json(Webhooks {
        webhooks: hooks.iter().map(views::webhook).collect(),
    }))
}

#[utoipa::path(
    delete,
    path = "/campaigns/{id}/webhooks/{webhook}",
    operation_id = "delete_webhook",
    tag = "webhooks",
    security(("token" = [])),
    params(("id" = String, Path), ("webhook" = String, Path)),
    responses(
        (status = 204, description = "Deleted"),
        answers::Unauthenticated,
        answers::Forbidden,
        answers::NotFound,
        answers::Unavailable,
    )
)]
pub async fn delete(
    State(app): State<App>,
    caller: Caller,
    Path((campaign, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    caller.require(&[Role::Admin])?;
    if !app.repo.delete_webhook(&campaign, &id).await? {
        return Err(Error::UnknownWebhook(id).into());
    }
    tracing::info!(webhook = %id, campaign = %campaign, "webhook endpoint deleted");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct DeliveriesQuery {
    #[serde(default)]
    failed: bool,
}

/// The endpoint's settled deliveries, latest first (`?failed=true`: the given-up ones).
#[utoipa::path(
    get,
    path = "/campaigns/{id}/webhooks/{webhook}/deliveries",
    operation_id = "webhook_deliveries",
    tag = "webhooks",
    security(("token" = [])),
    params(
        ("id" = String, Path),
        ("webhook" = String, Path),
        ("failed" = Option<bool>, Query, description = "Only the given-up ones"),
    ),
    responses(
        (status = 200, description = "Settled deliveries, latest first", body = Deliveries),
        answers::Malformed,
        answers::Unauthenticated,
        answers::Forbidden,
        answers::NotFound,
        answers::Unavailable,
    )
)]
pub async fn deliveries(
    State(app): State<App>,
    caller: Caller,
    Path((campaign, id)): Path<(String, String)>,
    query: Result<Query<DeliveriesQuery>, QueryRejection>,
) -> Result<Json<Deliveries>, ApiError> {
    let Query(query) = query.map_err(|e| Error::Malformed(e.body_text()))?;
    caller.require(&[Role::Admin])?;
    let hook = app
        .repo
        .webhook(&id)
        .await?
        .filter(|h| h.campaign == campaign)
        .ok_or_else(|| Error::UnknownWebhook(id.clone()))?;
    let deliveries = app
        .repo
        .deliveries(&hook.id, query.failed, DELIVERIES_PAGE)
        .await?;
    Ok(Json(Deliveries {
        webhook: views::webhook(&hook),
        deliveries: deliveries.iter().map(views::delivery).collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_urls_with_a_host_are_taken() {
        assert!(checked_url("https://portal.example/hooks/guichet").is_ok());
        assert!(checked_url("http://127.0.0.1:9000/x").is_ok());
        for bad in [
            "ftp://example.org/",
            "file:///etc/passwd",
            "not a url",
            "https://user:pw@example.org/",
            "/relative",
        ] {
            assert!(checked_url(bad).is_err(), "{bad}");
        }
        assert!(checked_url(&format!("https://e.org/{}", "a".repeat(3000))).is_err());
    }
}
