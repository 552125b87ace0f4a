pub mod campaign;
pub mod cover_sheet;
pub mod mailroom;
pub mod serve;
pub mod token;
pub mod user;
pub mod validate;
pub mod verify;
