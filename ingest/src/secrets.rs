//! The service secret and the ones it replaced.
//!
//! New cover sheets, webhook signatures and staff sessions use the current secret. During a
//! rotation the previous secrets are still accepted where something signed earlier must keep
//! working: cover sheets already printed are checked under each of them, and webhook
//! receivers get a signature under each endpoint secret (the current one first), as they may
//! not have learnt the new one yet.

/// The smallest secret accepted, in bytes: a shorter one could be guessed.
pub const MIN_SECRET_BYTES: usize = 32;

/// The current secret, then the previous ones (newest first).
#[derive(Clone)]
pub struct Secrets {
    pub current: Vec<u8>,
    pub previous: Vec<Vec<u8>>,
}

impl From<Vec<u8>> for Secrets {
    fn from(current: Vec<u8>) -> Self {
        Secrets {
            current,
            previous: Vec::new(),
        }
    }
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("previous", &self.previous.len())
            .finish_non_exhaustive()
    }
}
