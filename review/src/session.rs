//! Sessions: a random cookie value, kept in the database by its SHA-256 with the user, an
//! expiry and the session's CSRF token.
//!
//! The cookie is `HttpOnly` (no script reads it), `SameSite=Strict` (no other site's page
//! sends it), and `Secure` with the `__Host-` prefix (`Path=/`, no `Domain`: no sibling
//! subdomain can set or shadow it) unless guichet listens on loopback over plain HTTP, where
//! it keeps its plain name ([`cookie_name`]). Every form of a session carries its CSRF token,
//! compared in constant time on every POST, so a forged request fails even from a browser
//! that ignores SameSite.

use axum::extract::{FromRequestParts, MatchedPath, RawPathParams};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use chrono::{TimeDelta, Utc};
use sha2::{Digest, Sha256};

use storage::repository::{StaffSession, StaffUser};

use crate::Staff;
use crate::error::PageError;
use crate::settings::Settings;

pub const SESSION_COOKIE: &str = "guichet_staff";
/// The pre-session of the login form, to which its CSRF token is bound (`pages::login`).
pub const LOGIN_COOKIE: &str = "guichet_staff_login";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Reviewer,
    Admin,
}

impl Role {
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "reviewer" => Some(Role::Reviewer),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reviewer => "reviewer",
            Role::Admin => "admin",
        }
    }
}

/// A logged-in staff member: any page except the admin ones.
///
/// An account may be scoped to campaigns ([`Reviewer::campaigns`]): what lies outside is
/// answered as absent (404), like an API token's scope (`api::auth`). What a page's path
/// names (a dossier, a document, a campaign) is checked here, when the extractor runs, so no
/// page can forget it; lists, counts and the queue are filtered with [`Reviewer::scope`].
#[derive(Debug, Clone)]
pub struct Reviewer {
    pub name: String,
    pub role: Role,
    pub csrf: String,
    /// The campaigns the account reaches; `None` for every campaign.
    pub campaigns: Option<Vec<String>>,
    session_hash: String,
}

impl Reviewer {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Whether the campaign `id` is within the account's scope.
    pub fn sees(&self, campaign: &str) -> bool {
        self.campaigns
            .as_ref()
            .is_none_or(|scope| scope.iter().any(|c| c == campaign))
    }

    /// The scope to filter lists, counts and the queue with; `None` for every campaign.
    pub fn scope(&self) -> Option<Vec<String>> {
        self.campaigns.clone()
    }

    /// Refuses, as absent, the dossier `reference` when it lies outside the scope; what does
    /// not exist is left to the page, which says so in its own words.
    pub async fn check_dossier(&self, staff: &Staff, reference: &str) -> Result<(), PageError> {
        if self.campaigns.is_some()
            && let Some(dossier) = staff.app.repo.dossier(reference).await?
            && !self.sees(&dossier.campaign)
        {
            return Err(PageError::NotFound(format!("Le dossier {reference}")));
        }
        Ok(())
    }

    /// [`Reviewer::check_dossier`] for the document `id`, through its dossier.
    pub async fn check_document(&self, staff: &Staff, id: &str) -> Result<(), PageError> {
        if self.campaigns.is_some()
            && let Some(document) = staff.app.repo.document(id).await?
            && let Some(dossier) = staff.app.repo.dossier(&document.dossier).await?
            && !self.sees(&dossier.campaign)
        {
            return Err(PageError::NotFound(format!("Le document {id}")));
        }
        Ok(())
    }

    /// Refuses, as absent, the campaign `id` when it lies outside the scope.
    pub fn check_campaign(&self, id: &str) -> Result<(), PageError> {
        if self.sees(id) {
            Ok(())
        } else {
            Err(PageError::NotFound(format!("La campagne {id}")))
        }
    }

    /// Checks what the matched route `template` names with `params`: the `{...}` after
    /// `dossiers/` is a dossier, after `documents/` a document, after `campaigns/` a
    /// campaign. The mailroom's triage is for unscoped accounts only: its pages belong to
    /// no dossier yet, so no campaign can be told.
    async fn check_path(
        &self,
        staff: &Staff,
        template: &str,
        params: &[(&str, &str)],
    ) -> Result<(), PageError> {
        if self.campaigns.is_some()
            && (template == "/staff/triage" || template.starts_with("/staff/triage/"))
        {
            return Err(PageError::NotFound("Le tri du courrier".into()));
        }
        let segments: Vec<&str> = template.split('/').collect();
        for pair in segments.windows(2) {
            let Some(param) = pair[1].strip_prefix('{').and_then(|p| p.strip_suffix('}')) else {
                continue;
            };
            let Some((_, value)) = params.iter().find(|(name, _)| *name == param) else {
                continue;
            };
            match pair[0] {
                "dossiers" => self.check_dossier(staff, value).await?,
                "documents" => self.check_document(staff, value).await?,
                "campaigns" => self.check_campaign(value)?,
                _ => {}
            }
        }
        Ok(())
    }

    /// Refuses a POST whose form does not carry this session's token.
    pub fn check_csrf(&self, submitted: &str) -> Result<(), PageError> {
        if same_secret(submitted, &self.csrf) {
            Ok(())
        } else {
            Err(PageError::Csrf)
        }
    }

    pub fn session_hash(&self) -> &str {
        &self.session_hash
    }
}

/// An admin: the pages under `/staff/admin`. Reviewers get 403.
#[derive(Debug, Clone)]
pub struct Admin(pub Reviewer);

/// A random secret: 256 bits from the OS, as hex.
pub fn random_secret() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

pub fn secret_hash(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// Compares two secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// The value of cookie `name` in the request, if any.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
}

/// The name cookie `base` goes by: `__Host-base` when cookies are `Secure` (browsers accept
/// the prefix only on a `Secure`, `Path=/`, domain-less cookie), `base` on loopback.
pub fn cookie_name(settings: &Settings, base: &str) -> String {
    if settings.secure_cookie {
        format!("__Host-{base}")
    } else {
        base.to_string()
    }
}

/// The value of our cookie `base` in the request, under its name for these settings.
pub fn our_cookie<'a>(headers: &'a HeaderMap, settings: &Settings, base: &str) -> Option<&'a str> {
    cookie(headers, &cookie_name(settings, base))
}

/// A `Set-Cookie` value for our cookie `base`; `max_age` 0 deletes the cookie. `Path=/` in
/// every case, as `__Host-` requires: one shape of cookie, secure or not.
pub fn set_cookie(settings: &Settings, base: &str, value: &str, max_age: u64) -> HeaderValue {
    let name = cookie_name(settings, base);
    let secure = if settings.secure_cookie {
        "; Secure"
    } else {
        ""
    };
    let text =
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// Opens a session for `user`; returns the `Set-Cookie` header to send.
pub async fn open(
    staff: &Staff,
    user: &StaffUser,
) -> Result<(axum::http::HeaderName, HeaderValue), PageError> {
    let value = random_secret();
    let now = Utc::now();
    let lifetime = staff.settings.session_lifetime;
    let expires_at =
        now + TimeDelta::from_std(lifetime).map_err(|e| PageError::Internal(e.to_string()))?;
    staff
        .app
        .repo
        .create_staff_session(&StaffSession {
            hash: secret_hash(&value),
            user: user.name.clone(),
            csrf: random_secret(),
            created_at: now,
            expires_at,
        })
        .await?;
    Ok((
        SET_COOKIE,
        set_cookie(&staff.settings, SESSION_COOKIE, &value, lifetime.as_secs()),
    ))
}

impl FromRequestParts<Staff> for Reviewer {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, staff: &Staff) -> Result<Self, PageError> {
        let value = our_cookie(&parts.headers, &staff.settings, SESSION_COOKIE)
            .ok_or(PageError::LoginRequired)?;
        let hash = secret_hash(value);
        let (session, user) = staff
            .app
            .repo
            .staff_session(&hash)
            .await?
            .ok_or(PageError::LoginRequired)?;
        if session.expires_at <= Utc::now() || user.disabled {
            staff.app.repo.delete_staff_session(&hash).await?;
            return Err(PageError::LoginRequired);
        }
        let role = Role::parse(&user.role)
            .ok_or_else(|| PageError::Internal(format!("unknown staff role {:?}", user.role)))?;
        let reviewer = Reviewer {
            name: user.name,
            role,
            csrf: session.csrf,
            campaigns: user.campaigns,
            session_hash: hash,
        };
        if reviewer.campaigns.is_some()
            && let Some(matched) = parts.extensions.get::<MatchedPath>().cloned()
            && let Ok(params) = RawPathParams::from_request_parts(parts, staff).await
        {
            let params: Vec<(&str, &str)> = params.iter().collect();
            reviewer
                .check_path(staff, matched.as_str(), &params)
                .await?;
        }
        Ok(reviewer)
    }
}

impl FromRequestParts<Staff> for Admin {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, staff: &Staff) -> Result<Self, PageError> {
        let reviewer = Reviewer::from_request_parts(parts, staff).await?;
        if reviewer.is_admin() {
            Ok(Admin(reviewer))
        } else {
            Err(PageError::Forbidden)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_static("a=1; guichet_staff=abc ; b=2"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&headers, "guichet"), None);
        assert_eq!(cookie(&HeaderMap::new(), SESSION_COOKIE), None);
    }

    #[test]
    fn the_session_cookie_is_strict_http_only_and_host_prefixed_off_loopback() {
        let exposed = Settings::from_env("0.0.0.0:8080".parse().expect("address"));
        let secure = set_cookie(&exposed, SESSION_COOKIE, "v", 60);
        assert_eq!(
            secure.to_str().expect("ascii"),
            "__Host-guichet_staff=v; Path=/; HttpOnly; SameSite=Strict; Max-Age=60; Secure"
        );
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_static("guichet_staff=forged; __Host-guichet_staff=real"),
        );
        assert_eq!(
            our_cookie(&headers, &exposed, SESSION_COOKIE),
            Some("real"),
            "the plain name is not read when cookies are secure"
        );

        let local = Settings::from_env("127.0.0.1:8080".parse().expect("address"));
        let plain = set_cookie(&local, SESSION_COOKIE, "v", 60);
        assert_eq!(
            plain.to_str().expect("ascii"),
            "guichet_staff=v; Path=/; HttpOnly; SameSite=Strict; Max-Age=60"
        );
    }

    #[test]
    fn secrets_compare_exactly() {
        let secret = random_secret();
        assert_eq!(secret.len(), 64);
        assert!(same_secret(&secret, &secret.clone()));
        assert!(!same_secret(&secret, &secret[..63]));
        assert!(!same_secret(&secret, ""));
        assert_ne!(random_secret(), secret);
    }
}
