//! The HTTP API (v1): thin handlers that check the caller's role, parse the request, call the
//! pipeline (`ingest`) and render a view. Errors become statuses and JSON in one place
//! ([`error`]).

pub mod auth;
mod campaigns;
#[cfg(test)]
mod conformance;
mod documents;
mod dossiers;
pub mod error;
mod events;
mod exports;
mod health;
mod history;
mod linger;
mod mailroom;
pub mod metrics;
mod office;
mod openapi;
mod request;
#[cfg(test)]
mod testing;
mod tus;
mod views;
mod webhooks;

use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use ingest::App;
use ingest::content::Served;

/// JSON and TOML bodies are small; documents stream through their own limit.
const SMALL_BODY: usize = 1024 * 1024;

pub fn router(app: App) -> Router {
    let (routes, document) = routes().split_for_parts();
    routes
        .fallback(health::not_found)
        .route_layer(axum::middleware::from_fn(crate::metrics::track))
        .layer(Extension(openapi::Served::of(&document)))
        .layer(axum::middleware::from_fn(linger::linger))
        .layer(axum::middleware::from_fn(error::with_request_id))
        .layer(TraceLayer::new_for_http().make_span_with(crate::metrics::request_span))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(app)
}

/// Every route, each added with its OpenAPI description by `routes!` (one call a path): the
/// router and the document are built together, so no route is served undescribed. Routes are
/// added here and only so (a test holds the crate to it).
fn routes() -> OpenApiRouter<App> {
    let api = OpenApiRouter::default()
        .routes(routes!(campaigns::load))
        .routes(routes!(campaigns::read))
        .routes(routes!(exports::dossiers_csv))
        .routes(routes!(exports::dossiers_xlsx))
        .routes(routes!(exports::documents_csv))
        .routes(routes!(exports::documents_zip))
        .routes(routes!(dossiers::create))
        .routes(routes!(dossiers::read, office::update))
        .routes(routes!(office::request_correction))
        .routes(routes!(office::extend))
        .routes(routes!(office::reopen))
        .routes(routes!(office::assign))
        .routes(routes!(history::read))
        .routes(routes!(dossiers::submit))
        .routes(routes!(dossiers::close))
        .routes(routes!(dossiers::withdraw))
        .routes(routes!(documents::upload).layer(DefaultBodyLimit::disable()))
        .routes(
            routes!(tus::describe, tus::create)
                .layer(DefaultBodyLimit::disable())
                .layer(axum::middleware::map_response(tus::version_header)),
        )
        .routes(
            routes!(tus::offset, tus::append, tus::terminate, tus::read)
                .layer(DefaultBodyLimit::disable())
                .layer(axum::middleware::map_response(tus::version_header)),
        )
        .routes(routes!(documents::content))
        .routes(routes!(documents::display))
        .routes(routes!(documents::page))
        .routes(routes!(documents::review))
        .routes(routes!(events::feed))
        .routes(routes!(mailroom::cover_sheet))
        .routes(routes!(mailroom::submit).layer(DefaultBodyLimit::disable()))
        .routes(routes!(mailroom::read))
        .routes(routes!(openapi::document))
        .routes(routes!(webhooks::create, webhooks::list))
        .routes(routes!(webhooks::delete))
        .routes(routes!(webhooks::deliveries))
        .layer(DefaultBodyLimit::max(SMALL_BODY));
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(health::live))
        .routes(routes!(health::ready))
        .routes(routes!(metrics::render))
        .nest("/api/v1", api)
}

/// A document's bytes as [`ingest::content`] decided them: 200 with the bytes, or 304.
fn served(served: Served) -> Response {
    let mut headers = HeaderMap::new();
    for (name, value) in served.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    match served.body {
        Some(blob) => {
            let body = Body::from_stream(tokio_util::io::ReaderStream::new(blob.reader));
            (StatusCode::OK, headers, body).into_response()
        }
        None => (StatusCode::NOT_MODIFIED, headers).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{Method, StatusCode};
    use serde_json::Value;

    use crate::testing::TestApi;

    /// The methods an operation can be documented for; HEAD is left out, as axum answers it
    /// for every GET (the one HEAD documented on its own, a tus upload's offset, is listed in
    /// `ROUTES` and checked like the others by `every_route_is_described`).
    const METHODS: [Method; 7] = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
        Method::TRACE,
    ];

    /// The routes of the API, as its clients know them: one lost from `routes()` fails here.
    const ROUTES: [(&str, &str); 40] = [
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
        ("GET", "/api/v1/openapi.json"),
        ("POST", "/api/v1/campaigns"),
        ("GET", "/api/v1/campaigns/{id}"),
        ("GET", "/api/v1/campaigns/{id}/dossiers.csv"),
        ("GET", "/api/v1/campaigns/{id}/dossiers.xlsx"),
        ("GET", "/api/v1/campaigns/{id}/documents.csv"),
        ("GET", "/api/v1/campaigns/{id}/documents.zip"),
        ("POST", "/api/v1/campaigns/{id}/webhooks"),
        ("GET", "/api/v1/campaigns/{id}/webhooks"),
        ("DELETE", "/api/v1/campaigns/{id}/webhooks/{webhook}"),
        (
            "GET",
            "/api/v1/campaigns/{id}/webhooks/{webhook}/deliveries",
        ),
        ("POST", "/api/v1/dossiers"),
        ("GET", "/api/v1/dossiers/{reference}"),
        ("GET", "/api/v1/dossiers/{reference}/history"),
        ("PATCH", "/api/v1/dossiers/{reference}"),
        (
            "POST",
            "/api/v1/dossiers/{reference}/pieces/{code}/corrections",
        ),
        ("POST", "/api/v1/dossiers/{reference}/extension"),
        ("POST", "/api/v1/dossiers/{reference}/reopen"),
        ("POST", "/api/v1/documents/{id}/assign"),
        ("POST", "/api/v1/dossiers/{reference}/submit"),
        ("POST", "/api/v1/dossiers/{reference}/close"),
        ("DELETE", "/api/v1/dossiers/{reference}/documents/{id}"),
        (
            "POST",
            "/api/v1/dossiers/{reference}/pieces/{code}/documents",
        ),
        (
            "OPTIONS",
            "/api/v1/dossiers/{reference}/pieces/{code}/uploads",
        ),
        ("POST", "/api/v1/dossiers/{reference}/pieces/{code}/uploads"),
        (
            "HEAD",
            "/api/v1/dossiers/{reference}/pieces/{code}/uploads/{id}",
        ),
        (
            "PATCH",
            "/api/v1/dossiers/{reference}/pieces/{code}/uploads/{id}",
        ),
        (
            "DELETE",
            "/api/v1/dossiers/{reference}/pieces/{code}/uploads/{id}",
        ),
        (
            "GET",
            "/api/v1/dossiers/{reference}/pieces/{code}/uploads/{id}",
        ),
        ("GET", "/api/v1/dossiers/{reference}/cover-sheet.pdf"),
        ("GET", "/api/v1/documents/{id}/content"),
        ("GET", "/api/v1/documents/{id}/display"),
        ("GET", "/api/v1/documents/{id}/pages/{n}"),
        ("POST", "/api/v1/documents/{id}/review"),
        ("GET", "/api/v1/events"),
        ("POST", "/api/v1/mailroom/batches"),
        ("GET", "/api/v1/mailroom/batches/{id}"),
    ];

    /// The documented paths, each with its operations by method.
    fn described() -> Vec<(String, Value)> {
        let doc = serde_json::to_value(crate::routes().into_openapi()).expect("serialises");
        doc["paths"]
            .as_object()
            .expect("the document has paths")
            .iter()
            .map(|(path, item)| (path.clone(), item.clone()))
            .collect()
    }

    /// A path of the template, each parameter given a value.
    fn concrete(template: &str) -> String {
        template
            .split('/')
            .map(|part| if part.starts_with('{') { "x" } else { part })
            .collect::<Vec<_>>()
            .join("/")
    }

    /// The document lists exactly the API's routes, and every documented operation is served
    /// with the security it is documented with: the secured ones refuse a request without a
    /// token (so they are routed, not left to the fallback), the others answer it. Every other
    /// method of a documented path is refused with 405.
    #[tokio::test]
    async fn every_route_is_described() {
        let api = TestApi::start().await;
        let described = described();
        let mut listed: Vec<(String, &str)> = Vec::new();
        for (path, item) in &described {
            for method in METHODS.iter().chain([&Method::HEAD]) {
                if item.get(method.as_str().to_lowercase()).is_some() {
                    listed.push((method.to_string(), path.as_str()));
                }
            }
        }
        listed.sort();
        let mut expected: Vec<(String, &str)> = ROUTES
            .iter()
            .map(|(method, path)| (method.to_string(), *path))
            .collect();
        expected.sort();
        assert_eq!(
            listed, expected,
            "the document's operations are not the API's routes"
        );
        let mut wrong = Vec::new();
        for (template, item) in &described {
            let path = concrete(template);
            let head = item.get("head").is_some().then_some(Method::HEAD);
            for method in METHODS.into_iter().chain(head) {
                let answer = api.call(method.clone(), &path, None, None).await;
                let status = answer.status;
                match item.get(method.as_str().to_lowercase()) {
                    None if status != StatusCode::METHOD_NOT_ALLOWED => {
                        wrong.push(format!("{method} {template}: {status}, undocumented"));
                    }
                    None => {}
                    Some(operation) => {
                        let secured = operation.get("security").is_some();
                        let fits = if secured {
                            // A HEAD answer has no body to read the code from.
                            status == StatusCode::UNAUTHORIZED
                                && (method == Method::HEAD
                                    || answer.json()["error"]["code"] == "unauthorized")
                        } else {
                            status.is_success()
                        };
                        if !fits {
                            wrong.push(format!(
                                "{method} {template}: {status} without a token, secured: {secured}"
                            ));
                        }
                    }
                }
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    /// Routes are added only with `routes!`, which adds their description: no file of the
    /// crate routes a handler by hand (outside its tests).
    #[test]
    fn routes_are_added_only_with_their_description() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let files = std::fs::read_dir(&dir).expect("the sources are there");
        let mut checked = 0;
        for file in files {
            let path = file.expect("a directory entry").path();
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("a source file");
            let code = text
                .split("#[cfg(test)]\nmod tests")
                .next()
                .unwrap_or_default();
            for by_hand in [
                ".route(",
                ".route_service(",
                ".nest_service(",
                "axum::routing::",
            ] {
                assert!(
                    !code.contains(by_hand),
                    "{}: `{by_hand}` adds a route without its description",
                    path.display()
                );
            }
            checked += 1;
        }
        assert!(checked > 10, "{checked} files checked");
    }

    /// Operation ids name one operation each (OpenAPI requires it; clients are generated
    /// from them).
    #[test]
    fn operation_ids_are_unique() {
        let mut ids = Vec::new();
        for (_, item) in described() {
            for operation in item.as_object().into_iter().flat_map(|o| o.values()) {
                ids.push(
                    operation["operationId"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                );
            }
        }
        let count = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), count, "{ids:?}");
    }
}
