//! How the staff interface behaves: cookie and session settings.

use std::time::Duration;

/// Settings of the staff interface.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Mark the session cookie `Secure`: set when guichet is reached over HTTPS (directly or
    /// behind a TLS-terminating proxy). Plain-HTTP deployments on a loopback address leave it
    /// off, or browsers would drop the cookie. Environment: `GUICHET_STAFF_SECURE_COOKIE`.
    pub secure_cookie: bool,
    /// How long a session lasts from login, whatever the activity: a working day.
    /// Environment: `GUICHET_STAFF_SESSION_HOURS`.
    pub session_lifetime: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            secure_cookie: false,
            session_lifetime: Duration::from_secs(10 * 3600),
        }
    }
}

impl Settings {
    /// The defaults, overridden by the environment where set and readable.
    pub fn from_env() -> Settings {
        let mut settings = Settings::default();
        if let Ok(value) = std::env::var("GUICHET_STAFF_SECURE_COOKIE") {
            match value.as_str() {
                "1" | "true" | "yes" => settings.secure_cookie = true,
                "0" | "false" | "no" => settings.secure_cookie = false,
                other => tracing::warn!(
                    value = other,
                    "GUICHET_STAFF_SECURE_COOKIE is not a boolean; ignored"
                ),
            }
        }
        if let Ok(value) = std::env::var("GUICHET_STAFF_SESSION_HOURS") {
            match value.parse::<u64>() {
                Ok(hours) if (1..=24 * 30).contains(&hours) => {
                    settings.session_lifetime = Duration::from_secs(hours * 3600);
                }
                _ => tracing::warn!(
                    value,
                    "GUICHET_STAFF_SESSION_HOURS is not 1 to 720; ignored"
                ),
            }
        }
        settings
    }
}
