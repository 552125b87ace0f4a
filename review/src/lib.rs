//! The staff web interface: server-rendered pages in French under `/staff/`.
//!
//! Reviewers log in with a name and password (argon2), then list dossiers, open one, accept
//! or refuse its documents, close it when complete, export dossiers and campaigns, and
//! assign the mailroom's unmatched pages to dossiers (`/staff/triage`). Admins also manage
//! accounts, API tokens and campaigns under `/staff/admin/`.
//!
//! Invariants:
//! - Every page and action checks the session and the role ([`session::Staff`],
//!   [`session::Admin`]); every POST checks the session's CSRF token first (the login form:
//!   a token bound to its pre-session).
//! - Every argon2 hash or check runs under the process's permits ([`password`]); failed
//!   logins back off ([`throttle`]).
//! - Reviews, closing and the office's actions (corrections, filing, candidate changes,
//!   extensions, reopening) go through the pipeline (`ingest::pipeline::actions`,
//!   `ingest::pipeline::office`), the same code the API runs, recording the reviewer's name.
//! - Every value reaches HTML through askama's autoescaping; document content is only served
//!   with `Content-Security-Policy: sandbox` and `X-Content-Type-Options: nosniff`.
//! - The dossier list reads the dossier index (`storage::repository::StaffRepository`),
//!   kept fresh by [`index`].

mod accounts;
mod error;
mod index;
mod names;
mod pages;
mod password;
mod session;
mod settings;
mod throttle;
mod views;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use ingest::App;

pub use accounts::{AccountError, create_account, set_campaigns, set_password, valid_user_name};
pub use index::{refresh_index, refresher};
pub use names::search_key;
pub use password::{hash_password, verify_password};
pub use settings::{OidcSettings, Settings};

/// What every handler gets: the service, the interface's settings, the login brakes.
#[derive(Clone)]
pub struct Staff {
    pub app: App,
    pub settings: Arc<Settings>,
    pub throttle: Arc<throttle::Throttle>,
    /// The single sign-on provider, when configured (`settings.oidc`).
    pub sso: Option<Arc<pages::sso::Provider>>,
}

/// Forms are small; a campaign's TOML is the largest thing posted.
const FORM_LIMIT: usize = 1024 * 1024;

/// The staff routes of a server listening on `listen`, with settings from the environment
/// ([`Settings::from_env`]), and the background task that keeps the dossier index fresh.
/// Call inside the tokio runtime.
pub fn router(app: App, listen: SocketAddr) -> Router {
    let settings = Settings::from_env(listen);
    tokio::spawn(refresher(app.clone()));
    router_with(app, settings)
}

/// The staff routes with explicit settings; the caller runs [`refresher`].
pub fn router_with(app: App, settings: Settings) -> Router {
    let sso = settings.oidc.clone().map(|oidc| {
        pages::sso::Provider::new(oidc).expect("an HTTP client with rustls's built-in roots")
    });
    let state = Staff {
        app,
        sso,
        throttle: Arc::new(throttle::Throttle::new(settings.login)),
        settings: Arc::new(settings),
    };
    Router::new()
        .route("/staff", get(pages::home::redirect))
        .route("/staff/", get(pages::home::dashboard))
        .route("/staff/staff.css", get(pages::assets::css))
        .route("/staff/staff.js", get(pages::assets::js))
        .route(
            "/staff/login",
            get(pages::login::form).post(pages::login::submit),
        )
        .route("/staff/login/oidc", get(pages::sso::start))
        .route("/staff/login/oidc/callback", get(pages::sso::callback))
        .route("/staff/logout", post(pages::login::logout))
        .route(
            "/staff/account",
            get(pages::account::show).post(pages::account::change_password),
        )
        .route("/staff/dossiers", get(pages::list::list))
        .route("/staff/dossiers.csv", get(pages::export::csv))
        .route(
            "/staff/campaigns/{id}/exports/{file}",
            get(pages::export::campaign),
        )
        .route("/staff/dossiers/{reference}", get(pages::dossier::show))
        .route(
            "/staff/dossiers/{reference}/documents.zip",
            get(pages::export::zip),
        )
        .route(
            "/staff/dossiers/{reference}/documents/{id}/review",
            post(pages::dossier::review),
        )
        .route(
            "/staff/dossiers/{reference}/close",
            post(pages::dossier::close),
        )
        .route(
            "/staff/dossiers/{reference}/pieces/{code}/corrections",
            post(pages::office::request_correction),
        )
        .route(
            "/staff/dossiers/{reference}/candidate",
            post(pages::office::update_candidate),
        )
        .route(
            "/staff/dossiers/{reference}/extension",
            post(pages::office::extend),
        )
        .route(
            "/staff/dossiers/{reference}/reopen",
            post(pages::office::reopen),
        )
        .route("/staff/documents/{id}/assign", post(pages::office::assign))
        .route(
            "/staff/documents/{id}/content",
            get(pages::content::content),
        )
        .route("/staff/documents/{id}/pages/{n}", get(pages::content::page))
        .route(
            "/staff/documents/{id}/display.jpg",
            get(pages::content::display),
        )
        .route("/staff/admin", get(pages::admin::index))
        .route("/staff/admin/users", post(pages::admin::create_user))
        .route(
            "/staff/admin/users/{name}/disable",
            post(pages::admin::disable_user),
        )
        .route(
            "/staff/admin/users/{name}/password",
            post(pages::admin::reset_password),
        )
        .route(
            "/staff/admin/users/{name}/campaigns",
            post(pages::admin::set_user_campaigns),
        )
        .route("/staff/admin/tokens", post(pages::admin::create_token))
        .route(
            "/staff/admin/tokens/{name}/revoke",
            post(pages::admin::revoke_token),
        )
        .route("/staff/admin/campaigns", post(pages::admin::load_campaign))
        .route("/staff/queue", get(pages::queue::show))
        .route("/staff/queue/next", post(pages::queue::next))
        .route("/staff/queue/release", post(pages::queue::release))
        .route("/staff/triage", get(pages::triage::list))
        .route(
            "/staff/triage/{batch}/{sha256}/content",
            get(pages::triage::content),
        )
        .route(
            "/staff/triage/{batch}/{sha256}/assign",
            post(pages::triage::assign),
        )
        .layer(DefaultBodyLimit::max(FORM_LIMIT))
        .layer(axum::middleware::map_response(views::security_headers))
        .with_state(state)
}
