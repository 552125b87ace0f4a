//! The pipeline of guichet and its HTTP API.
//!
//! `pipeline` holds the steps every document goes through, whatever its channel; `api` holds
//! the axum handlers, thin, over the pipeline; `error` maps every failure to a stable code
//! and an HTTP status in one place.

pub mod api;
pub mod app;
pub mod auth;
pub mod error;
pub mod metrics;
pub mod pipeline;
pub mod views;
pub mod webhooks;

pub use api::router;
pub use app::{App, IntakeSettings};
pub use auth::{Role, new_token, token_hash};
pub use error::Error;
