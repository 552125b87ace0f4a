//! Campaign definitions: loaded by admins as TOML, read by every role.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use bytes::Bytes;
use serde_json::{Value, json};

use crate::app::App;
use crate::auth::{Caller, Role};
use crate::error::Error;

pub async fn load(
    State(app): State<App>,
    caller: Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), Error> {
    caller.require(&[Role::Admin])?;
    let source = std::str::from_utf8(&body)
        .map_err(|_| Error::Malformed("the campaign must be UTF-8 TOML".into()))?;
    let campaign = app.load_campaign(source, "request body").await?;
    Ok((StatusCode::CREATED, Json(json!(campaign.as_ref()))))
}

pub async fn read(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, Error> {
    caller.require(&Role::ALL)?;
    let campaign = app.campaign(&id).await?;
    Ok(Json(json!(campaign.as_ref())))
}
