//! The pipeline, one path for every channel: receive → detect → verify → scan → store →
//! match → decide → recompute → events. Actions never touch SQL or HTTP directly: they compute a
//! change from a dossier snapshot with the rules of `dossiers` and hand it to the repository.

pub mod actions;
pub mod activity;
pub mod dossier;
pub mod intake;
pub mod jobs;
pub mod mailroom;
pub mod office;
pub mod purge;
pub mod receive;
pub mod render;
pub mod resumable;
pub mod scan;

pub use intake::{Arrival, Channel, Intake, Origin, intake};
