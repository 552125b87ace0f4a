//! API tokens and the roles they carry.
//!
//! A token is shown once, when created; only its SHA-256 is stored. Tokens are 256 random
//! bits, so a plain digest is enough (no password stretching needed for random secrets).

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::app::App;
use crate::error::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The registration portal, acting for candidates.
    Portal,
    /// A mailroom scanning station.
    Station,
    /// Reviewers.
    Staff,
    /// Administrators: campaigns and tokens.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Portal, Role::Station, Role::Staff, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Portal => "portal",
            Role::Station => "station",
            Role::Staff => "staff",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role `{s}` (portal, station, staff, admin)"))
    }
}

/// How the dossier journal names a staff member signed in to the staff pages.
pub fn staff_actor(login: &str) -> String {
    format!("{}:{login}", Role::Staff)
}

/// How the dossier journal names work no person or token did: workers, scans.
pub use storage::repository::journal::SYSTEM as SYSTEM_ACTOR;

/// A new random token, `gch_` and 64 hex digits.
pub fn new_token() -> String {
    let a = uuid::Uuid::new_v4();
    let b = uuid::Uuid::new_v4();
    format!("gch_{}{}", a.simple(), b.simple())
}

/// What the repository keeps of a token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub role: Role,
    pub name: String,
}

impl Caller {
    /// How the dossier journal names the caller: `ROLE:NAME` (`portal:inscriptions`).
    pub fn actor(&self) -> String {
        format!("{}:{}", self.role, self.name)
    }

    /// Refuses the request unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), Error> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(Error::Forbidden)
        }
    }
}

/// The caller holding `token`, as the repository knows it.
pub async fn authenticate(app: &App, token: &str) -> Result<Caller, Error> {
    let record = app
        .repo
        .token(&token_hash(token))
        .await?
        .ok_or(Error::Unauthorized)?;
    let role = record
        .role
        .parse()
        .map_err(|e: String| Error::Internal(format!("stored token: {e}")))?;
    Ok(Caller {
        role,
        name: record.name,
    })
}
