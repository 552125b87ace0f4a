//! End-to-end tests: real `guichet serve` processes (and the command line) driven over HTTP,
//! on the embedded default and on PostgreSQL + S3. One test binary for all of them, so the
//! workspace links the whole service once for its tests rather than once per file.

#[macro_use]
mod common;
mod staff_support;

mod authorization;
mod bad_input;
mod cluster;
mod crash;
mod demo;
mod encryption;
mod exports;
mod failures;
mod faults;
mod heic;
mod journal;
mod lifecycle;
mod limits;
mod mailroom;
mod office_week;
mod previews;
mod processes;
mod render;
mod resumable;
mod retention;
mod roles;
mod scale;
mod scan;
mod staff;
mod staff_accounts;
mod staff_browser;
mod staff_office;
mod staff_queue;
mod staff_scopes;
mod staff_sso;
mod staff_triage;
mod validate_cli;
mod verify;
mod watermark;
mod webhooks;
