//! Login and logout.
//!
//! The login form has no session yet, so it gets a pre-session: a random id with its time of
//! issue, in its own cookie (`guichet_staff_login`, `__Host-` prefixed off loopback). The
//! form's CSRF token is the HMAC-SHA256 of that cookie under the service secret, so a token
//! works only beside the pre-session it was made for, and nobody without the secret can
//! make one; the POST checks both and the pre-session's age. A forged login from another
//! site can neither read nor set that cookie (SameSite=Strict, `__Host-`).
//!
//! Then the brakes: a login that must wait ([`crate::throttle`]) answers 429 with
//! `Retry-After` and checks no password; the check itself runs under the argon2 permits
//! ([`crate::password`]), and a login that cannot get one in time answers 503.

use std::net::SocketAddr;

use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::Staff;
use crate::error::PageError;
use crate::password::{self, decoy_hash};
use crate::session::{
    self, LOGIN_COOKIE, Reviewer, SESSION_COOKIE, our_cookie, random_secret, same_secret,
    set_cookie,
};
use crate::views::page;

/// How long a pre-session, and so the login form, lasts.
const LOGIN_FORM_SECONDS: i64 = 3600;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    name: String,
    failed: bool,
    /// The single sign-on button's words, when a provider is configured.
    sso: Option<String>,
}

/// A pre-session cookie value: `<random id>.<Unix time of issue>`.
fn new_presession() -> String {
    format!("{}.{}", random_secret(), Utc::now().timestamp())
}

/// How old the pre-session `value` is, in seconds, if it is one.
fn presession_age(value: &str) -> Option<i64> {
    let (id, issued) = value.split_once('.')?;
    if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let age = Utc::now().timestamp() - issued.parse::<i64>().ok()?;
    (0..LOGIN_FORM_SECONDS).contains(&age).then_some(age)
}

/// The login form's CSRF token for the pre-session `value`.
fn login_token(secret: &[u8], value: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(b"guichet staff login\0");
    mac.update(value.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The login page, on the request's pre-session when it has half its life left (several
/// tabs share it), else on a new one.
fn login_page(
    staff: &Staff,
    headers: &HeaderMap,
    name: String,
    status: StatusCode,
) -> Result<Response, PageError> {
    let current = our_cookie(headers, &staff.settings, LOGIN_COOKIE)
        .filter(|v| presession_age(v).is_some_and(|age| age < LOGIN_FORM_SECONDS / 2));
    let presession = current.map_or_else(new_presession, str::to_string);
    let mut response = page(&LoginPage {
        csrf: login_token(&staff.app.secret, &presession),
        name,
        failed: status == StatusCode::UNAUTHORIZED,
        sso: staff.settings.oidc.as_ref().map(|o| o.label.clone()),
    })?;
    if current.is_none() {
        response.headers_mut().append(
            SET_COOKIE,
            set_cookie(
                &staff.settings,
                LOGIN_COOKIE,
                &presession,
                LOGIN_FORM_SECONDS as u64,
            ),
        );
    }
    *response.status_mut() = status;
    Ok(response)
}

pub async fn form(State(staff): State<Staff>, headers: HeaderMap) -> Result<Response, PageError> {
    login_page(&staff, &headers, String::new(), StatusCode::OK)
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
}

pub async fn submit(
    State(staff): State<Staff>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, PageError> {
    let presession = our_cookie(&headers, &staff.settings, LOGIN_COOKIE)
        .filter(|v| presession_age(v).is_some())
        .ok_or(PageError::Csrf)?;
    if !same_secret(&form.csrf, &login_token(&staff.app.secret, presession)) {
        return Err(PageError::Csrf);
    }
    let name = form.name.trim().to_string();
    if let Err(wait) = staff.throttle.begin(&name, peer.ip()) {
        tracing::info!(user = %name, client = %peer.ip(), "staff login throttled");
        return Err(PageError::Throttled(wait));
    }
    let user = staff.app.repo.staff_user(&name).await?;
    let stored = user
        .as_ref()
        .filter(|u| !u.disabled)
        .map_or_else(|| decoy_hash().to_string(), |u| u.password_hash.clone());
    let matches = password::verify(form.password, stored)
        .await
        .map_err(|_| PageError::Busy)?;
    let user = match user {
        Some(user) if matches && !user.disabled => user,
        _ => {
            tracing::info!(user = %name, client = %peer.ip(), "staff login refused");
            return login_page(&staff, &headers, name, StatusCode::UNAUTHORIZED);
        }
    };
    staff.throttle.succeeded(&name, peer.ip());
    let (header, value) = session::open(&staff, &user).await?;
    let mut response = Redirect::to("/staff/").into_response();
    response.headers_mut().append(header, value);
    response
        .headers_mut()
        .append(SET_COOKIE, set_cookie(&staff.settings, LOGIN_COOKIE, "", 0));
    tracing::info!(user = %user.name, "staff login");
    Ok(response)
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

pub async fn logout(
    State(staff): State<Staff>,
    user: Reviewer,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    user.check_csrf(&form.csrf)?;
    staff
        .app
        .repo
        .delete_staff_session(user.session_hash())
        .await?;
    // The document the reviewer held goes back to the queue at once.
    staff.app.repo.release_claims(&user.name).await?;
    let mut response = Redirect::to("/staff/login").into_response();
    response.headers_mut().append(
        SET_COOKIE,
        set_cookie(&staff.settings, SESSION_COOKIE, "", 0),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_token_is_bound_to_its_presession_and_the_secret() {
        let (a, b) = (new_presession(), new_presession());
        assert_eq!(presession_age(&a), Some(0));
        assert_ne!(login_token(b"secret", &a), login_token(b"secret", &b));
        assert_ne!(login_token(b"secret", &a), login_token(b"other", &a));
        assert_eq!(login_token(b"secret", &a), login_token(b"secret", &a));
    }

    #[test]
    fn old_or_malformed_presessions_are_refused() {
        let old = format!("{}.{}", random_secret(), Utc::now().timestamp() - 7200);
        let future = format!("{}.{}", random_secret(), Utc::now().timestamp() + 60);
        for value in [
            old.as_str(),
            future.as_str(),
            "x",
            "abc.1",
            &format!("{}.", random_secret()),
        ] {
            assert_eq!(presession_age(value), None, "{value}");
        }
    }
}
