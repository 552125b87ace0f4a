//! The paper path: cover and separator sheets for candidates, scanned batches from stations.

use axum::Json;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::request;
use crate::auth::{Caller, Role};
use crate::error::{ApiError, ErrorBody, answers};
use crate::openapi::Binary;
use crate::views::{self, Batch};
use ingest::App;
use ingest::pipeline::mailroom;

#[derive(Debug, Deserialize)]
pub struct SheetQuery {
    piece: Option<String>,
}

/// The printable cover sheet of a dossier; with `?piece=CODE`, the separator sheet of a piece.
#[utoipa::path(
    get,
    path = "/dossiers/{reference}/cover-sheet.pdf",
    operation_id = "cover_sheet",
    tag = "mailroom",
    security(("token" = [])),
    params(
        ("reference" = String, Path),
        ("piece" = Option<String>, Query, description = "A piece code: the separator sheet of that piece"),
    ),
    responses(
        (status = 200, description = "An A4 PDF with the sheet's QR code", body = Binary,
            content_type = "application/pdf"),
        answers::Unauthenticated,
        answers::Forbidden,
        answers::NotFound,
        answers::Unavailable,
    )
)]
pub async fn cover_sheet(
    State(app): State<App>,
    caller: Caller,
    Path(reference): Path<String>,
    Query(query): Query<SheetQuery>,
) -> Result<Response, ApiError> {
    caller.require(&[Role::Portal, Role::Staff])?;
    let pdf = mailroom::cover_sheet(&app, &reference, query.piece.as_deref()).await?;
    let name = match &query.piece {
        Some(piece) => format!("separateur-{reference}-{piece}.pdf"),
        None => format!("couverture-{reference}.pdf"),
    };
    let mut response = pdf.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    // References and piece codes are [A-Za-z0-9._-]: the name needs no escaping.
    if let Ok(value) = HeaderValue::from_str(&format!("inline; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

/// A scanned batch from a station: stored, then split in the background.
#[utoipa::path(
    post,
    path = "/mailroom/batches",
    operation_id = "submit_batch",
    tag = "mailroom",
    security(("token" = [])),
    request_body(
        content = Binary,
        content_type = "application/octet-stream",
        description = "The batch, a PDF or a multi-page TIFF, raw (name in `Content-Disposition`)"
    ),
    responses(
        (status = 202, description = "Stored; processing is queued", body = Batch,
            headers(("Location" = String, description = "The batch's URL"))),
        (status = 200, description = "The same bytes again: the same batch", body = Batch,
            headers(("Location" = String, description = "The batch's URL"))),
        answers::Unauthenticated,
        answers::Forbidden,
        (status = 413, description = "Beyond the size limit", body = ErrorBody),
        (status = 422, description = "Neither a PDF nor a TIFF", body = ErrorBody),
        answers::Unavailable,
    )
)]
pub async fn submit(
    State(app): State<App>,
    caller: Caller,
    request: Request,
) -> Result<(StatusCode, HeaderMap, Json<Batch>), ApiError> {
    caller.require(&[Role::Station])?;
    let headers = request.headers().clone();
    let text = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let filename = request::declared_filename(
        text(header::CONTENT_DISPOSITION).and_then(|v| request::content_disposition_filename(&v)),
    )?;
    let length = text(header::CONTENT_LENGTH).and_then(|v| v.parse().ok());
    let received = mailroom::receive_batch(
        &app,
        &caller.name,
        filename,
        length,
        request.into_body().into_data_stream(),
    )
    .await?;
    let mut answer = HeaderMap::new();
    if let Ok(location) =
        HeaderValue::from_str(&format!("/api/v1/mailroom/batches/{}", received.batch.id))
    {
        answer.insert(header::LOCATION, location);
    }
    let status = if received.created {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, answer, Json(views::batch(&received.batch))))
}

/// Where a batch stands: its state, progress, segments and where each went, unmatched pages.
#[utoipa::path(
    get,
    path = "/mailroom/batches/{id}",
    operation_id = "read_batch",
    tag = "mailroom",
    security(("token" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The batch", body = Batch),
        answers::Unauthenticated,
        answers::Forbidden,
        answers::NotFound,
        answers::Unavailable,
    )
)]
pub async fn read(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Batch>, ApiError> {
    caller.require(&[Role::Station, Role::Staff])?;
    Ok(Json(views::batch(&mailroom::batch(&app, &id).await?)))
}
