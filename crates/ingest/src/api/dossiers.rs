//! Dossiers: create (idempotent), read, submit, close, withdraw a document.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;

use super::request;
use crate::app::App;
use crate::auth::{Caller, Role};
use crate::error::Error;
use crate::pipeline::actions;
use crate::pipeline::dossier::Snapshot;
use crate::views;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewDossier {
    campaign: String,
    reference: String,
    #[serde(default = "empty_object")]
    candidate: Value,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

pub async fn create(
    State(app): State<App>,
    caller: Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), Error> {
    caller.require(&[Role::Portal])?;
    let new: NewDossier = request::json(&body)?;
    let (_, created) =
        actions::create_dossier(&app, &new.campaign, &new.reference, new.candidate).await?;
    let snapshot = Snapshot::read(&app, &new.reference).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(views::dossier(&snapshot))))
}

pub async fn read(
    State(app): State<App>,
    caller: Caller,
    Path(reference): Path<String>,
) -> Result<Json<Value>, Error> {
    caller.require(&[Role::Portal, Role::Staff])?;
    let snapshot = Snapshot::read(&app, &reference).await?;
    Ok(Json(views::dossier(&snapshot)))
}

pub async fn submit(
    State(app): State<App>,
    caller: Caller,
    Path(reference): Path<String>,
) -> Result<Json<Value>, Error> {
    caller.require(&[Role::Portal])?;
    actions::submit(&app, &reference).await?;
    let snapshot = Snapshot::read(&app, &reference).await?;
    Ok(Json(views::dossier(&snapshot)))
}

pub async fn close(
    State(app): State<App>,
    caller: Caller,
    Path(reference): Path<String>,
) -> Result<Json<Value>, Error> {
    caller.require(&[Role::Staff])?;
    actions::close(&app, &reference).await?;
    let snapshot = Snapshot::read(&app, &reference).await?;
    Ok(Json(views::dossier(&snapshot)))
}

pub async fn withdraw(
    State(app): State<App>,
    caller: Caller,
    Path((reference, id)): Path<(String, String)>,
) -> Result<Json<Value>, Error> {
    caller.require(&[Role::Portal])?;
    actions::withdraw(&app, &reference, &id).await?;
    let snapshot = Snapshot::read(&app, &reference).await?;
    Ok(Json(views::dossier(&snapshot)))
}
