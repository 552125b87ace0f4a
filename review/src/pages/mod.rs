//! One module per page or group of actions; handlers are thin: check the session, read or
//! act through the pipeline, render a template.

pub mod account;
pub mod admin;
pub mod assets;
pub mod content;
pub mod dossier;
pub mod export;
pub mod home;
pub mod list;
pub mod login;
pub mod office;
pub mod queue;
pub mod sso;
pub mod triage;
