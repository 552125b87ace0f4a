//! API tokens and the roles they carry.
//!
//! A token is shown once, when created; only its SHA-256 is stored. Tokens are 256 random
//! bits, so a plain digest is enough (no password stretching needed for random secrets).
//!
//! A token may be scoped to campaigns ([`Caller::campaigns`]): what lies outside its scope is
//! answered as absent. An expired or revoked token is refused like an unknown one
//! (`unauthorized`), so a caller learns nothing of tokens it does not hold. The time a token
//! was last used is written at most once a minute, so authenticating stays a read.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, TimeDelta, Utc};
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

/// A token to create: the command line and the admin page both create them so.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub role: Role,
    /// 1 to 64 characters, no control character; not unique (`token revoke NAME` revokes
    /// every live token of the name).
    pub name: String,
    /// The campaigns it may reach, each loaded; `None` (or none given) for every campaign.
    pub campaigns: Option<Vec<String>>,
    /// How long it lives; `None` for ever.
    pub expires_in: Option<std::time::Duration>,
}

/// Creates and stores a token; returns it in clear, the only time it exists so. Refuses a
/// malformed name (`malformed_request`), an unknown campaign (`unknown_campaign`: a token
/// scoped to a misspelt campaign would reach nothing) and an expiry too far to be a date.
pub async fn issue(app: &App, new: NewToken) -> Result<String, Error> {
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(Error::Malformed(
            "a token's name has 1 to 64 characters, none a control character".into(),
        ));
    }
    let mut campaigns = new.campaigns.filter(|c| !c.is_empty());
    if let Some(list) = &mut campaigns {
        list.sort();
        list.dedup();
        for id in list.iter() {
            app.campaign(id).await?;
        }
    }
    let expires_at = new
        .expires_in
        .map(|d| {
            TimeDelta::from_std(d)
                .ok()
                .and_then(|d| Utc::now().checked_add_signed(d))
                .ok_or_else(|| Error::Malformed("the expiry is too far".into()))
        })
        .transpose()?;
    let token = new_token();
    app.repo
        .insert_token(
            &token_hash(&token),
            &storage::TokenRecord {
                role: new.role.as_str().to_string(),
                name: name.to_string(),
                campaigns,
                expires_at,
                ..Default::default()
            },
        )
        .await?;
    Ok(token)
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub role: Role,
    pub name: String,
    /// The campaigns the token may reach; `None` for every campaign.
    pub campaigns: Option<Vec<String>>,
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

    /// Whether the campaign `id` is within the caller's scope.
    pub fn sees(&self, campaign: &str) -> bool {
        self.campaigns
            .as_ref()
            .is_none_or(|scope| scope.iter().any(|c| c == campaign))
    }
}

/// How often a token's `last_used_at` is written, at most.
const LAST_USED_PERIOD: TimeDelta = TimeDelta::minutes(1);

/// The caller holding `token`, as the repository knows it: refused when unknown, expired or
/// revoked.
pub async fn authenticate(app: &App, token: &str) -> Result<Caller, Error> {
    let hash = token_hash(token);
    let record = app.repo.token(&hash).await?.ok_or(Error::Unauthorized)?;
    let now = Utc::now();
    if !live(record.expires_at, record.revoked_at, now) {
        return Err(Error::Unauthorized);
    }
    let role = record
        .role
        .parse()
        .map_err(|e: String| Error::Internal(format!("stored token: {e}")))?;
    let since = now - LAST_USED_PERIOD;
    if record.last_used_at.is_none_or(|at| at < since) {
        // A lost write only makes `last_used_at` a minute older: the request goes on.
        if let Err(e) = app.repo.touch_token(&hash, now, since).await {
            tracing::warn!(error = %e, token = %record.name, "last use of the token not recorded");
        }
    }
    Ok(Caller {
        role,
        name: record.name,
        campaigns: record.campaigns,
    })
}

/// Whether a token with this expiry and revocation is accepted at `now`.
pub fn live(
    expires_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    revoked_at.is_none() && expires_at.is_none_or(|at| now < at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_and_revoked_tokens_are_not_live() {
        let now = Utc::now();
        assert!(live(None, None, now));
        assert!(live(Some(now + TimeDelta::seconds(1)), None, now));
        assert!(!live(Some(now), None, now), "expired at its expiry");
        assert!(!live(None, Some(now - TimeDelta::days(1)), now));
    }

    #[test]
    fn a_scope_names_the_campaigns_seen() {
        let caller = |campaigns: Option<Vec<String>>| Caller {
            role: Role::Portal,
            name: "portail".into(),
            campaigns,
        };
        assert!(caller(None).sees("bep-2025"));
        let scoped = caller(Some(vec!["bep-2025".into()]));
        assert!(scoped.sees("bep-2025"));
        assert!(!scoped.sees("cap-2025"));
        assert!(!caller(Some(vec![])).sees("bep-2025"));
    }
}
