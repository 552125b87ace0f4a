//! A dossier's history: its journal, every action on it with who did it, as a hash chain
//! a client can check (`storage::repository::journal`).

use axum::Json;
use axum::extract::{Path, State};

use ingest::App;

use crate::auth::{Caller, Role};
use crate::error::{ApiError, Error, answers};
use crate::views::{self, History};

#[utoipa::path(
    get,
    path = "/dossiers/{reference}/history",
    operation_id = "dossier_history",
    tag = "dossiers",
    security(("token" = [])),
    params(("reference" = String, Path)),
    responses(
        (status = 200, description = "The dossier's journal, in order", body = History),
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
) -> Result<Json<History>, ApiError> {
    caller.require(&[Role::Staff, Role::Admin])?;
    if app.repo.dossier(&reference).await?.is_none() {
        return Err(Error::UnknownDossier(reference).into());
    }
    let entries = app.repo.journal(&reference).await?;
    Ok(Json(views::history(&reference, &entries)))
}
