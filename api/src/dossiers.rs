//! Dossiers: create (idempotent), read, submit, close, withdraw a document.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::request;
use crate::auth::{Caller, Role};
use crate::error::{ApiError, Error, answers};
use crate::views::{self, Dossier};
use ingest::App;
use ingest::pipeline::actions;
use ingest::pipeline::dossier::Snapshot;

/// `POST /api/v1/dossiers`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDossier {
    /// The campaign's id.
    campaign: String,
    /// 1 to 64 characters among `A-Z a-z 0-9 - _ .`, not starting with a dot.
    #[schema(pattern = r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$")]
    reference: String,
    /// Free attributes; `birth_date` (`YYYY-MM-DD`) gives `candidate.age`. None: `{}`.
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    candidate: Value,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

#[utoipa::path(
    post,
    path = "/dossiers",
    operation_id = "create_dossier",
    tag = "dossiers",
    security(("token" = [])),
    request_body = NewDossier,
    responses(
        (status = 201, description = "Created", body = Dossier),
        (status = 200, description = "Already there, the same dossier", body = Dossier),
        answers::Malformed,
        answers::Unauthenticated,
        answers::Forbidden,
        answers::NotFound,
        answers::Conflict,
        answers::Unavailable,
    )
)]
pub async fn create(
    State(app): State<App>,
    caller: Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<Dossier>), ApiError> {
    caller.require(&[Role::Portal])?;
    let new: NewDossier = request::json(&body)?;
    if !caller.sees(&new.campaign) {
        return Err(Error::UnknownCampaign(new.campaign).into());
    }
    let (_, created) = actions::create_dossier(
        &app,
        &new.campaign,
        &new.reference,
        new.candidate,
        &caller.actor(),
    )
    .await?;
    let snapshot = Snapshot::read(&app, &new.reference).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(views::dossier(
            &snapshot,
            &views::facts(
                &app,
                &new.reference,
                &snapshot.documents,
                caller.campaigns.as_deref(),
            )
            .await?,
        )),
    ))
}

/// The dossier as it is now, as answers give it to `caller`.
pub async fn answer(
    app: &App,
    caller: &Caller,
    reference: &str,
) -> Result<Json<Dossier>, ApiError> {
    let snapshot = Snapshot::read(app, reference).await?;
    let scope = caller.campaigns.as_deref();
    Ok(Json(views::dossier(
        &snapshot,
        &views::facts(app, reference, &snapshot.documents, scope).await?,
    )))
}

#[utoipa::path(
    get,
    path = "/dossiers/{reference}",
    operation_id = "read_dossier",
    tag = "dossiers",
    security(("token" = [])),
    params(("reference" = String, Path)),
    responses(
        (status = 200, description = "The dossier, its pieces and documents", body = Dossier),
        answers::Unauthenticated,
        answers::Forbidden,
        answers::NotFound,
        answers::Unavailable,
    )
)]
pub async fn read(
    State(app): State<App>,
    caller: Caller,
    Path(reference): Path<String>,
) -> Result<Json<Dossier>, ApiError> {
    caller.require(&[Role::Portal, Role::Staff])?;
    answer(&app, &caller, &reference).await
}

#[utoipa::path(
    post,
    path = "/dossiers/{reference}/submit",
    operation_id = "submit_dossier",
    tag = "dossiers",
    security(("token" = [])),
    params(("reference" = String, Path)),
    responses(
        (status = 200, description = "Submitted", body = Dossier),
        answers::Unauthenticated,
        answers::Forbidden,
        answers::NotFound,
        answers::Conflict,
        answers::Unavailable,
    )
)]
pub async fn submit(
    State(app): State<App>,
    caller: Caller,
    Path(reference): Path<String>,
) -> Result<Json<Dossier>, ApiError> {
    caller.require(&[Role::Portal])?;
    actions::submit(&app, &reference, &caller.actor()).await?;
    answer(&app, &caller, &reference).await
}

#[utoipa::path(
    post,
    path = "/dossiers/{reference}/close",
    operation_id = "close_dossier",
    tag = "dossiers",
    security(("token" = [])),
    params(("reference" = String, Path)),
    responses(
        (status = 200, description = "Closed", body = Dossier),
        answers::Unauthenticated,
        answers::Forbidden,
        answers::NotFound,
        answers::Conflict,
        answers::Unavailable,
    )
)]
pub async fn close(
    State(app): State<App>,
    caller: Caller,
    Path(reference): Path<String>,
) -> Result<Json<Dossier>, ApiError> {
    caller.require(&[Role::Staff])?;
    actions::close(&app, &reference, &caller.actor()).await?;
    answer(&app, &caller, &reference).await
}

#[utoipa::path(
    delete,
    path = "/dossiers/{reference}/documents/{id}",
    operation_id = "withdraw_document",
    tag = "dossiers",
    security(("token" = [])),
    params(("reference" = String, Path), ("id" = String, Path)),
    responses(
        (status = 200, description = "Withdrawn; the dossier as it is now", body = Dossier),
        answers::Unauthenticated,
        answers::Forbidden,
        answers::NotFound,
        answers::Conflict,
        answers::Unavailable,
    )
)]
pub async fn withdraw(
    State(app): State<App>,
    caller: Caller,
    Path((reference, id)): Path<(String, String)>,
) -> Result<Json<Dossier>, ApiError> {
    caller.require(&[Role::Portal])?;
    actions::withdraw(&app, &reference, &id, &caller.actor()).await?;
    answer(&app, &caller, &reference).await
}
