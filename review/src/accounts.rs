//! Creating staff accounts, shared by `guichet user create` and the admin page.

use chrono::Utc;

use ingest::App;
use storage::repository::StaffUser;

use crate::password::{PasswordError, hash_password};
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

/// Creates an account with an argon2 hash of `password`.
pub async fn create_account(
    app: &App,
    name: &str,
    role: &str,
    password: String,
) -> Result<(), AccountError> {
    if !valid_user_name(name) {
        return Err(AccountError::InvalidName);
    }
    let role = Role::parse(role).ok_or_else(|| AccountError::InvalidRole(role.to_string()))?;
    // argon2 takes tens of milliseconds of CPU: off the async workers.
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| AccountError::Internal(e.to_string()))??;
    let created = app
        .repo
        .create_staff_user(&StaffUser {
            name: name.to_string(),
            role: role.as_str().to_string(),
            password_hash: hash,
            disabled: false,
            created_at: Utc::now(),
        })
        .await?;
    if created {
        Ok(())
    } else {
        Err(AccountError::Taken(name.to_string()))
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
