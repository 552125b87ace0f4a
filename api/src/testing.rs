//! The API on a real service for the tests: SQLite and objects in a temporary folder, no
//! virus scanner, a token of each role, and requests sent through the router as a server
//! would.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use serde_json::Value;
use tower::ServiceExt;

use ingest::auth::Role;
use ingest::{App, IntakeSettings};
use storage::{FsBlobStore, SqliteRepository, Staging, TokenRecord};

pub struct TestApi {
    pub router: Router,
    tokens: Vec<(Role, String)>,
    _dir: tempfile::TempDir,
}

/// An answer: its status, headers and body.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON; panics with the body when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{}: not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn content_type(&self) -> Option<&str> {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
    }
}

impl TestApi {
    pub async fn start() -> TestApi {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let url = format!("sqlite://{}", dir.path().join("guichet.db").display());
        let repo = SqliteRepository::connect(&url)
            .await
            .expect("the database opens");
        let blobs = FsBlobStore::open(dir.path().join("objects"))
            .await
            .expect("the object store opens");
        let staging = Staging::open(dir.path().join("staging"))
            .await
            .expect("staging opens");
        let uploads = storage::uploads::FsUploadStore::open(dir.path().join("uploads"))
            .await
            .expect("the upload store opens");
        let stores = ingest::Stores {
            blobs: Arc::new(blobs),
            uploads: Arc::new(uploads),
        };
        let app = App::new(
            Arc::new(repo),
            stores,
            staging,
            IntakeSettings::default(),
            None,
            b"a secret for the tests".to_vec(),
            ingest::pipeline::render::Rendering::default(),
        )
        .await
        .expect("the service starts");
        let mut tokens = Vec::new();
        for role in Role::ALL {
            let token = ingest::new_token();
            let record = TokenRecord {
                role: role.as_str().to_string(),
                name: format!("test-{}", role.as_str()),
                ..TokenRecord::default()
            };
            app.repo
                .insert_token(&ingest::token_hash(&token), &record)
                .await
                .expect("the token is stored");
            tokens.push((role, token));
        }
        TestApi {
            router: crate::router(app),
            tokens,
            _dir: dir,
        }
    }

    /// Sends a request as `role` (none: without a token), with `body` as `content_type`.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        role: Option<Role>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(role) = role {
            let (_, token) = self
                .tokens
                .iter()
                .find(|(r, _)| *r == role)
                .expect("a token of every role");
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match body {
            Some((content_type, bytes)) => {
                request = request.header(header::CONTENT_TYPE, content_type);
                Body::from(bytes)
            }
            None => Body::empty(),
        };
        let request = request.body(body).expect("a well-formed request");
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router answers");
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX)
            .await
            .expect("the body reads");
        Answer {
            status: parts.status,
            headers: parts.headers,
            body: body.to_vec(),
        }
    }
}
