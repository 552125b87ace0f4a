//! Creating staff accounts and setting their passwords, shared by `guichet user` and the
//! staff pages (the admin page, "Mon compte").

use chrono::Utc;

use ingest::App;
use storage::repository::StaffUser;

use crate::password::{self, PasswordError};
use crate::session::Role;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("nom d'utilisateur invalide : 1 à 64 caractères parmi a-z A-Z 0-9 . _ - @")]
    InvalidName,
    #[error("rôle inconnu {0:?} (reviewer ou admin)")]
    InvalidRole(String),
    #[error("{0}")]
    Password(#[from] PasswordError),
    #[error("le compte {0} existe déjà")]
    Taken(String),
    #[error("le compte {0} n'existe pas")]
    Unknown(String),
    #[error("la campagne {0} n'existe pas")]
    UnknownCampaign(String),
    #[error("{0}")]
    Repository(#[from] storage::RepoError),
    #[error("{0}")]
    Internal(String),
}

/// Names appear in URLs, logs and review records: kept to a safe, readable alphabet.
pub fn valid_user_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'))
}

/// Creates an account with an argon2 hash of `password`, reaching `campaigns` (`None`, or
/// none given, for every campaign: see [`checked_scope`]).
pub async fn create_account(
    app: &App,
    name: &str,
    role: &str,
    password: String,
    campaigns: Option<Vec<String>>,
) -> Result<(), AccountError> {
    if !valid_user_name(name) {
        return Err(AccountError::InvalidName);
    }
    let role = Role::parse(role).ok_or_else(|| AccountError::InvalidRole(role.to_string()))?;
    let campaigns = checked_scope(app, campaigns).await?;
    let hash = password::hash(password).await?;
    let created = app
        .repo
        .create_staff_user(&StaffUser {
            name: name.to_string(),
            role: role.as_str().to_string(),
            password_hash: hash,
            disabled: false,
            created_at: Utc::now(),
            campaigns,
        })
        .await?;
    if created {
        Ok(())
    } else {
        Err(AccountError::Taken(name.to_string()))
    }
}

/// Sets the campaigns `name` reaches (see [`checked_scope`]). Its sessions go on: the scope
/// is read on every request.
pub async fn set_campaigns(
    app: &App,
    name: &str,
    campaigns: Option<Vec<String>>,
) -> Result<(), AccountError> {
    let campaigns = checked_scope(app, campaigns).await?;
    if app
        .repo
        .set_staff_campaigns(name, campaigns.as_deref())
        .await?
    {
        Ok(())
    } else {
        Err(AccountError::Unknown(name.to_string()))
    }
}

/// A scope as stored: sorted, without repeats, `None` when no campaign is given (every
/// campaign, as for tokens); refused when it names a campaign not loaded, since an account
/// scoped to a misspelt campaign would reach nothing.
pub async fn checked_scope(
    app: &App,
    campaigns: Option<Vec<String>>,
) -> Result<Option<Vec<String>>, AccountError> {
    let Some(mut list) = campaigns.filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    list.sort();
    list.dedup();
    for id in &list {
        match app.campaign(id).await {
            Ok(_) => {}
            Err(ingest::Error::UnknownCampaign(_)) => {
                return Err(AccountError::UnknownCampaign(id.clone()));
            }
            Err(e) => return Err(AccountError::Internal(e.to_string())),
        }
    }
    Ok(Some(list))
}

/// Gives `name` a new password and ends its sessions, but `keep` (the session hash of a user
/// changing their own password, who stays logged in).
pub async fn set_password(
    app: &App,
    name: &str,
    password: String,
    keep: Option<&str>,
) -> Result<(), AccountError> {
    let hash = password::hash(password).await?;
    if app.repo.set_staff_password(name, &hash, keep).await? {
        Ok(())
    } else {
        Err(AccountError::Unknown(name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_are_plain() {
        assert!(valid_user_name("camille.martin"));
        assert!(valid_user_name("a@b-c_d"));
        assert!(!valid_user_name(""));
        assert!(!valid_user_name("<script>"));
        assert!(!valid_user_name("with space"));
        assert!(!valid_user_name(&"x".repeat(65)));
    }
}
