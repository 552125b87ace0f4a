//! Campaign definitions: loaded by admins as TOML, read by every role.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use bytes::Bytes;

use crate::auth::{Caller, Role};
use crate::error::{ApiError, Error, answers};
use crate::views::{self, Campaign};
use ingest::App;

#[utoipa::path(
    post,
    path = "/campaigns",
    operation_id = "load_campaign",
    tag = "campaigns",
    security(("token" = [])),
    request_body(
        content = String,
        content_type = "text/plain",
        description = "A campaign definition (TOML, UTF-8)"
    ),
    responses(
        (status = 201, description = "Loaded", body = Campaign),
        answers::Malformed,
        answers::Unauthenticated,
        answers::Forbidden,
        answers::Unavailable,
    )
)]
pub async fn load(
    State(app): State<App>,
    caller: Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<Campaign>), ApiError> {
    caller.require(&[Role::Admin])?;
    let source = std::str::from_utf8(&body)
        .map_err(|_| Error::Malformed("the campaign must be UTF-8 TOML".into()))?;
    let campaign = app.load_campaign(source, "request body").await?;
    Ok((StatusCode::CREATED, Json(views::campaign(&campaign))))
}

#[utoipa::path(
    get,
    path = "/campaigns/{id}",
    operation_id = "read_campaign",
    tag = "campaigns",
    security(("token" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The campaign and its pieces", body = Campaign),
        answers::Unauthenticated,
        answers::NotFound,
        answers::Unavailable,
    )
)]
pub async fn read(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Campaign>, ApiError> {
    caller.require(&Role::ALL)?;
    let campaign = app.campaign(&id).await?;
    Ok(Json(views::campaign(&campaign)))
}
