//! Login and logout.
//!
//! The login form has no session yet, so its CSRF token is a double-submit cookie: a random
//! value set with the form and compared with the field on POST (a forged login from another
//! site can neither read nor set that cookie under SameSite=Strict).

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::SET_COOKIE;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::Staff;
use crate::error::PageError;
use crate::password::{decoy_hash, verify_password};
use crate::session::{
    self, LOGIN_COOKIE, Reviewer, SESSION_COOKIE, cookie, random_secret, same_secret, set_cookie,
};
use crate::views::page;

/// How long the login form's token lasts.
const LOGIN_FORM_SECONDS: u64 = 3600;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    name: String,
    failed: bool,
}

fn login_page(staff: &Staff, name: String, failed: bool) -> Result<Response, PageError> {
    let csrf = random_secret();
    let mut response = page(&LoginPage {
        csrf: csrf.clone(),
        name,
        failed,
    })?;
    response.headers_mut().append(
        SET_COOKIE,
        set_cookie(&staff.settings, LOGIN_COOKIE, &csrf, LOGIN_FORM_SECONDS),
    );
    if failed {
        *response.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
    }
    Ok(response)
}

pub async fn form(State(staff): State<Staff>) -> Result<Response, PageError> {
    login_page(&staff, String::new(), false)
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
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, PageError> {
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !same_secret(&form.csrf, expected) {
        return Err(PageError::Csrf);
    }
    let name = form.name.trim().to_string();
    let user = staff.app.repo.staff_user(&name).await?;
    let stored = user
        .as_ref()
        .filter(|u| !u.disabled)
        .map_or_else(|| decoy_hash().to_string(), |u| u.password_hash.clone());
    let password = form.password;
    // argon2 takes tens of milliseconds of CPU: off the async workers.
    let matches = tokio::task::spawn_blocking(move || verify_password(&password, &stored))
        .await
        .map_err(|e| PageError::Internal(e.to_string()))?;
    let user = match user {
        Some(user) if matches && !user.disabled => user,
        _ => {
            tracing::info!(user = %name, "staff login refused");
            return login_page(&staff, name, true);
        }
    };
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
