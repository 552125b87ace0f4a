//! The pipeline of guichet, with no transport: every channel's documents go through one
//! [`pipeline::intake`]; its background workers (virus scans, mailroom batches) and the
//! events and webhook outbox live here too. The HTTP API (`api`) and the staff pages
//! (`review`) call it; its errors carry stable codes and a class, never an HTTP status.

pub mod app;
pub mod auth;
pub mod content;
pub mod error;
pub mod events;
pub mod exports;
pub mod journal;
pub mod metrics;
pub mod pipeline;
pub mod secrets;
pub mod watermark;
pub mod webhooks;

pub use app::{App, IntakeSettings, Stores};
pub use auth::{Role, new_token, token_hash};
pub use error::Error;
pub use secrets::Secrets;
