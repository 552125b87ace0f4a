//! "Mon compte": the logged-in user changes their own password, giving the current one and the
//! new one twice. Their other sessions end; this one stays. A wrong current password counts
//! as a failed login ([`crate::throttle`]), so a borrowed session cannot guess it at leisure.

use std::net::SocketAddr;

use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::Staff;
use crate::accounts::{AccountError, set_password};
use crate::error::PageError;
use crate::password::{self, MIN_PASSWORD_CHARS};
use crate::session::Reviewer;
use crate::views::page;

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    user: Reviewer,
    section: &'static str,
    done: bool,
    error: Option<String>,
    min_chars: usize,
}

fn account_page(
    user: Reviewer,
    done: bool,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let mut response = page(&AccountPage {
        user,
        section: "account",
        done,
        error,
        min_chars: MIN_PASSWORD_CHARS,
    })?;
    *response.status_mut() = status;
    Ok(response)
}

#[derive(Deserialize)]
pub struct Done {
    #[serde(default)]
    done: String,
}

pub async fn show(user: Reviewer, Query(done): Query<Done>) -> Result<Response, PageError> {
    account_page(user, done.done == "password", None, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

pub async fn change_password(
    State(staff): State<Staff>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    user: Reviewer,
    Form(form): Form<PasswordForm>,
) -> Result<Response, PageError> {
    user.check_csrf(&form.csrf)?;
    let refuse =
        |user, why: &str| account_page(user, false, Some(why.to_string()), StatusCode::BAD_REQUEST);
    if form.password != form.confirm {
        return refuse(user, "Les deux saisies du nouveau mot de passe diffèrent.");
    }
    if form.password.chars().count() < MIN_PASSWORD_CHARS {
        return refuse(
            user,
            &format!(
                "Le nouveau mot de passe doit compter au moins {MIN_PASSWORD_CHARS} caractères."
            ),
        );
    }
    staff
        .throttle
        .begin(&user.name, peer.ip())
        .map_err(PageError::Throttled)?;
    let account = staff
        .app
        .repo
        .staff_user(&user.name)
        .await?
        .ok_or(PageError::LoginRequired)?;
    let matches = password::verify(form.current, account.password_hash)
        .await
        .map_err(|_| PageError::Busy)?;
    if !matches {
        tracing::info!(user = %user.name, "password change refused: wrong current password");
        return refuse(user, "Le mot de passe actuel est incorrect.");
    }
    staff.throttle.succeeded(&user.name, peer.ip());
    match set_password(
        &staff.app,
        &user.name,
        form.password,
        Some(user.session_hash()),
    )
    .await
    {
        Ok(()) => {}
        Err(AccountError::Repository(e)) => return Err(e.into()),
        Err(AccountError::Unknown(_)) => return Err(PageError::LoginRequired),
        Err(e) => return refuse(user, &e.to_string()),
    }
    tracing::info!(user = %user.name, "staff password changed by its owner");
    Ok(Redirect::to("/staff/account?done=password").into_response())
}
