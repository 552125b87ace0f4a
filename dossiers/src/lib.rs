//! The domain of guichet: campaigns and their piece catalog, the conditions that make a
//! piece required, candidates, completeness and dossier states.
//!
//! Pure: no I/O, no clock, no HTTP, no SQL. Callers (ingest, storage, the binary) gather the
//! facts, call these functions, and act on the answers. Every refusal is an error type with a
//! stable `code()` for the API.

pub mod assessment;
pub mod campaign;
pub mod candidate;
pub mod condition;
pub mod kind;
pub mod piece;
pub mod requirement;
pub mod retention;
pub mod state;
pub mod window;

pub use assessment::{
    Assessment, DocumentFacts, DocumentStanding, PieceAssessment, PieceStatus, ReviewDecision,
};
pub use campaign::{Campaign, CampaignError};
pub use candidate::{Candidate, CandidateError};
pub use condition::{Condition, ConditionError, Outcome};
pub use kind::Kind;
pub use piece::{Necessity, Piece, ReviewPolicy};
pub use requirement::Requirement;
pub use retention::Period;
pub use state::{Change, DossierState, TransitionError, UnknownState};
pub use window::Window;
