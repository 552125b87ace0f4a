pub mod campaign;
pub mod serve;
pub mod token;
pub mod validate;
pub mod verify;
