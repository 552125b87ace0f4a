//! The OpenAPI document of the API, served at `/api/v1/openapi.json`.
//!
//! It is built with the router, from the same list ([`crate::routes`]): each route is added
//! with `utoipa_axum::routes!` from its handler's `#[utoipa::path]` annotation, so a route
//! cannot be served undescribed, and the document served is the one of the router that
//! serves it. Paths in the annotations of `/api/v1` handlers are relative to `/api/v1`,
//! where the router nests them; `operation_id`s are unique.
//!
//! Every JSON answer is a typed view ([`crate::views`], [`crate::error::ErrorBody`]) that
//! derives both `Serialize` and `ToSchema`: its schema is what is sent, nullable fields
//! included. Request bodies are read by the handlers themselves from raw bytes, so that a
//! malformed body gets the API's own error rather than the framework's; the JSON ones are
//! parsed into the very structs their schemas come from.
//!
//! The tests check that every documented operation is served with its documented security
//! and that no other method is (in `lib.rs`), and that real answers of every route, and views
//! built to show every optional field, validate against their schemas (`conformance.rs`).

use axum::Extension;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::Value;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

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

/// What the document says besides its paths, which [`crate::routes`] adds route by route.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "guichet",
        description = "Intake and validation of the supporting documents of administrative dossiers."
    ),
    modifiers(&BearerToken)
)]
pub struct ApiDoc;

/// An OpenAPI 3.1 document: this one.
#[derive(ToSchema)]
#[allow(dead_code)] // Describes the document, which utoipa builds; never built here.
pub struct OpenApiDocument {
    /// The OpenAPI version, `3.1.0`.
    openapi: String,
    #[schema(value_type = Object)]
    info: Value,
    #[schema(value_type = Object)]
    paths: Value,
    #[schema(value_type = Object)]
    components: Value,
}

/// Bytes sent or answered as they are (a document, a batch, a PDF sheet).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)] // Describes raw bodies, which are streamed; never built.
pub struct Binary(Vec<u8>);

/// The document as served: serialised once, when the router is built.
#[derive(Clone)]
pub struct Served(Bytes);

impl Served {
    pub fn of(document: &utoipa::openapi::OpenApi) -> Served {
        let json = serde_json::to_vec(document).expect("an OpenAPI document always serialises");
        Served(Bytes::from(json))
    }
}

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI document", body = OpenApiDocument))
)]
pub async fn document(Extension(Served(json)): Extension<Served>) -> Response {
    let json_type = HeaderValue::from_static("application/json");
    ([(header::CONTENT_TYPE, json_type)], json).into_response()
}
