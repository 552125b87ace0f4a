//! The OpenAPI document of the API, served at `/api/v1/openapi.json`.
//!
//! It is generated from the handlers' `#[utoipa::path]` annotations, so a route, its roles
//! and its answers are described next to the code that serves them. The request schemas
//! below describe bodies that the handlers parse themselves (raw bytes, so that a
//! malformed body gets the API's own error rather than the framework's).

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// Every error answer: a stable `code`, a human `message`, and `details` by code.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    error: ErrorDetail,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorDetail {
    /// Stable, `snake_case` (see docs/reasons.md and the specification's error table).
    code: String,
    message: String,
    #[schema(value_type = Object)]
    details: serde_json::Value,
}

/// `POST /api/v1/dossiers`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct NewDossier {
    campaign: String,
    /// 1 to 64 characters among `A-Z a-z 0-9 - _ .`, not starting with a dot.
    reference: String,
    /// Free attributes; `birth_date` (`YYYY-MM-DD`) gives `candidate.age`.
    #[schema(value_type = Object)]
    candidate: Option<serde_json::Value>,
}

/// `POST /api/v1/documents/{id}/review`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Review {
    /// `accept` or `reject`.
    decision: String,
    /// Required with `reject`: shown to the candidate.
    reason: Option<String>,
}

/// `POST /api/v1/campaigns/{id}/webhooks`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct NewWebhook {
    /// `http` or `https`, without credentials.
    url: String,
}

struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "`Authorization: Bearer gch_...`; the token's role (portal, station, \
                         staff, admin) decides what it may call.",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "guichet",
        description = "Intake and validation of the supporting documents of administrative dossiers."
    ),
    paths(
        super::health::live,
        super::health::ready,
        crate::metrics::render,
        document,
        super::campaigns::load,
        super::campaigns::read,
        super::dossiers::create,
        super::dossiers::read,
        super::dossiers::submit,
        super::dossiers::close,
        super::dossiers::withdraw,
        super::documents::upload,
        super::documents::content,
        super::documents::review,
        super::events::feed,
        super::webhooks::create,
        super::webhooks::list,
        super::webhooks::delete,
        super::webhooks::deliveries,
        super::mailroom::cover_sheet,
        super::mailroom::submit,
        super::mailroom::read,
    ),
    components(schemas(ErrorBody, ErrorDetail, NewDossier, Review, NewWebhook)),
    modifiers(&BearerToken)
)]
pub struct ApiDoc;

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI document", body = Object)))]
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_described() {
        let doc = ApiDoc::openapi();
        let paths: Vec<&String> = doc.paths.paths.keys().collect();
        for path in [
            "/api/v1/dossiers/{reference}/pieces/{code}/documents",
            "/api/v1/campaigns/{id}/webhooks/{webhook}",
            "/metrics",
        ] {
            assert!(
                paths.iter().any(|p| p.as_str() == path),
                "{path}: {paths:?}"
            );
        }
    }
}
