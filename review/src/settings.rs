//! How the staff interface behaves: cookies, sessions, the brakes on logins. Read from the
//! environment at start (`GUICHET_STAFF_*`), like the rest of the interface's settings.

use std::net::SocketAddr;
use std::time::Duration;

/// Settings of the staff interface.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Mark the cookies `Secure` and name them with the `__Host-` prefix. On by default; off
    /// only when guichet listens on a loopback address (plain HTTP on this machine, where
    /// browsers would drop a `Secure` cookie from `http://127.0.0.1`). A loopback listener
    /// behind a TLS-terminating proxy on the same machine turns it back on with
    /// `GUICHET_STAFF_SECURE_COOKIE=1`.
    pub secure_cookie: bool,
    /// How long a session lasts from login, whatever the activity: a working day.
    /// Environment: `GUICHET_STAFF_SESSION_HOURS`.
    pub session_lifetime: Duration,
    /// The brakes on failed logins (see [`crate::throttle`]).
    pub login: LoginLimits,
    /// Single sign-on through an OpenID Connect provider; none: passwords only. Set from the
    /// configuration (`[oidc]`, `GUICHET_OIDC_*`), not read here.
    pub oidc: Option<OidcSettings>,
}

/// The OpenID Connect provider staff sign on with (see `pages::sso`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSettings {
    /// The issuer; its `/.well-known/openid-configuration` is discovered.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// This service's callback, `https://HOST/staff/login/oidc/callback`, as registered.
    pub redirect_url: String,
    /// The scopes asked for; `openid` is always asked.
    pub scopes: Vec<String>,
    /// `acr_values` asked for, if any (ProConnect: `eidas1`).
    pub acr_values: Option<String>,
    /// The words of the login page's button.
    pub label: String,
}

/// When failed logins start to wait, and how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    /// Failures allowed from one address, or on one account from one address, before each
    /// further attempt waits. Environment: `GUICHET_STAFF_LOGIN_FAILURES` (default 5).
    pub failures: u32,
    /// Failures allowed on one account from every address together; ten times `failures`.
    pub account_failures: u32,
    /// The first wait; it doubles with each further failure.
    /// Environment: `GUICHET_STAFF_LOGIN_BACKOFF_SECONDS` (default 1).
    pub first_delay: Duration,
    /// The longest wait, after which failures are also forgotten.
    /// Environment: `GUICHET_STAFF_LOGIN_BACKOFF_MAX_SECONDS` (default 900, 15 minutes).
    pub max_delay: Duration,
    /// The longest wait on an account counted over every address: short, so that an
    /// attacker spread over many addresses slows an account down but cannot shut it.
    pub max_account_delay: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits {
            failures: 5,
            account_failures: 50,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(15 * 60),
            max_account_delay: Duration::from_secs(60),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            secure_cookie: true,
            session_lifetime: Duration::from_secs(10 * 3600),
            login: LoginLimits::default(),
            oidc: None,
        }
    }
}

impl Settings {
    /// The defaults for a server listening on `listen`, overridden by the environment where
    /// set and readable.
    pub fn from_env(listen: SocketAddr) -> Settings {
        let mut settings = Settings {
            secure_cookie: !listen.ip().is_loopback(),
            ..Settings::default()
        };
        if let Some(value) = var("GUICHET_STAFF_SECURE_COOKIE") {
            match value.as_str() {
                "1" | "true" | "yes" => settings.secure_cookie = true,
                "0" | "false" | "no" if listen.ip().is_loopback() => settings.secure_cookie = false,
                "0" | "false" | "no" => tracing::warn!(
                    %listen,
                    "GUICHET_STAFF_SECURE_COOKIE=0 is ignored off loopback: cookies stay Secure"
                ),
                other => tracing::warn!(
                    value = other,
                    "GUICHET_STAFF_SECURE_COOKIE is not a boolean; ignored"
                ),
            }
        }
        if let Some(hours) = number("GUICHET_STAFF_SESSION_HOURS", 1..=24 * 30) {
            settings.session_lifetime = Duration::from_secs(hours * 3600);
        }
        let login = &mut settings.login;
        if let Some(failures) = number("GUICHET_STAFF_LOGIN_FAILURES", 1..=1000) {
            login.failures = failures as u32;
            login.account_failures = login.failures * 10;
        }
        if let Some(seconds) = number("GUICHET_STAFF_LOGIN_BACKOFF_SECONDS", 1..=3600) {
            login.first_delay = Duration::from_secs(seconds);
        }
        if let Some(seconds) = number("GUICHET_STAFF_LOGIN_BACKOFF_MAX_SECONDS", 1..=86_400) {
            login.max_delay = Duration::from_secs(seconds);
        }
        login.max_delay = login.max_delay.max(login.first_delay);
        login.max_account_delay = login.max_account_delay.min(login.max_delay);
        settings
    }
}

/// How many argon2 computations run at once in this process (see [`crate::password`]):
/// `GUICHET_STAFF_PASSWORD_CONCURRENCY`, by default the number of cores up to 4, so at most
/// 4 × 19 MiB.
pub fn password_concurrency() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    number("GUICHET_STAFF_PASSWORD_CONCURRENCY", 1..=64).map_or(cores, |n| n as usize)
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// A whole number in `range` from the environment; warns about anything else.
fn number(name: &str, range: std::ops::RangeInclusive<u64>) -> Option<u64> {
    let value = var(name)?;
    match value.parse::<u64>() {
        Ok(n) if range.contains(&n) => Some(n),
        _ => {
            tracing::warn!(
                value,
                "{name} is not a number from {} to {}; ignored",
                range.start(),
                range.end()
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_secure_unless_on_loopback() {
        let on = |address: &str| Settings::from_env(address.parse().expect("an address"));
        assert!(!on("127.0.0.1:8080").secure_cookie);
        assert!(!on("[::1]:8080").secure_cookie);
        assert!(on("0.0.0.0:8080").secure_cookie);
        assert!(on("[::]:8080").secure_cookie);
        assert!(on("192.0.2.7:443").secure_cookie);
    }
}
