//! Password hashing with argon2id (the crate's defaults: 19 MiB, 2 passes), stored as PHC
//! strings so the parameters travel with each hash and can be raised later.
//!
//! Every hash and check made by the service goes through [`hash`] and [`verify`]: on tokio's
//! blocking pool, under one semaphore per process ([`crate::settings::password_concurrency`]
//! permits), so a flood of logins holds at most that many times 19 MiB and leaves the rest of
//! the blocking pool (file I/O) alone. A caller that waits longer than [`QUEUE_WAIT`] for a
//! permit gets [`Busy`] (the login page answers 503) instead of piling up.

use std::sync::LazyLock;
use std::time::Duration;

use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use tokio::sync::Semaphore;

/// The shortest password accepted: long enough that guessing online is hopeless.
pub const MIN_PASSWORD_CHARS: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("le mot de passe doit compter au moins {MIN_PASSWORD_CHARS} caractères")]
    TooShort,
    #[error("hachage impossible : {0}")]
    Hash(String),
}

/// The longest a hash or check waits for its turn.
pub const QUEUE_WAIT: Duration = Duration::from_secs(10);

/// Too many hashes and checks already wait: try again shortly.
#[derive(Debug, thiserror::Error)]
#[error("trop de vérifications de mot de passe en cours ; réessayez dans un instant")]
pub struct Busy;

static PERMITS: LazyLock<Semaphore> =
    LazyLock::new(|| Semaphore::new(crate::settings::password_concurrency()));

/// Runs `work` (argon2) on the blocking pool once a permit is free; the permit is held until
/// `work` ends, even if the caller has gone meanwhile.
async fn bounded<T: Send + 'static>(
    permits: &'static Semaphore,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Busy> {
    let permit = tokio::time::timeout(QUEUE_WAIT, permits.acquire())
        .await
        .map_err(|_| Busy)?
        .map_err(|_| Busy)?;
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        work()
    })
    .await
    .map_err(|_| Busy)
}

/// [`hash_password`] under the process's argon2 permits.
pub async fn hash(password: String) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    bounded(&PERMITS, move || hash_password(&password))
        .await
        .map_err(|e| PasswordError::Hash(e.to_string()))?
}

/// [`verify_password`] under the process's argon2 permits.
pub async fn verify(password: String, stored: String) -> Result<bool, Busy> {
    bounded(&PERMITS, move || verify_password(&password, &stored)).await
}

/// Hashes a new password with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    // 128 random bits from the OS (uuid v4 draws them from getrandom).
    let salt = SaltString::encode_b64(uuid::Uuid::new_v4().as_bytes())
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches the stored hash; an unreadable hash matches nothing.
pub fn verify_password(password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// A hash of no one's password, verified when the name is unknown so that a login for an
/// unknown name takes as long as one with a wrong password.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        hash_password(&uuid::Uuid::new_v4().to_string())
            .unwrap_or_else(|_| "$argon2id$v=19$m=19456,t=2,p=1$invalid".to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let hash = hash_password("correct horse battery").expect("hash");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse batterY", &hash));
        assert!(!verify_password("", &hash));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn no_more_than_the_permits_run_at_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static PERMITS: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(2));
        static RUNNING: AtomicUsize = AtomicUsize::new(0);
        static MOST: AtomicUsize = AtomicUsize::new(0);
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                tokio::spawn(bounded(&PERMITS, || {
                    let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
                    MOST.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                    RUNNING.fetch_sub(1, Ordering::SeqCst);
                }))
            })
            .collect();
        for task in tasks {
            task.await.expect("task").expect("a permit in time");
        }
        assert_eq!(MOST.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn salts_differ() {
        let a = hash_password("the same password").expect("hash");
        let b = hash_password("the same password").expect("hash");
        assert_ne!(a, b);
    }

    #[test]
    fn short_passwords_and_garbage_hashes_are_refused() {
        assert!(matches!(
            hash_password("short"),
            Err(PasswordError::TooShort)
        ));
        assert!(!verify_password("anything at all", "not a phc string"));
        assert!(!verify_password("anything at all", decoy_hash()));
    }
}
