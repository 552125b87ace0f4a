//! Administration (admins only; reviewers get 403): staff accounts, API tokens, campaigns.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use ingest::Role as TokenRole;
use storage::TokenRecord;

use crate::Staff;
use crate::accounts::{AccountError, create_account};
use crate::error::PageError;
use crate::pages::home::{CampaignLine, campaign_lines};
use crate::session::{Admin, Reviewer};
use crate::views::{page, when};

pub struct UserLine {
    pub name: String,
    pub role: &'static str,
    pub created: String,
    pub disabled: bool,
}

pub struct TokenLine {
    pub id: String,
    pub role: String,
    pub name: String,
    pub created: String,
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    user: Reviewer,
    section: &'static str,
    done: Option<&'static str>,
    new_token: Option<String>,
    users: Vec<UserLine>,
    tokens: Vec<TokenLine>,
    campaigns: Vec<CampaignLine>,
}

#[derive(Deserialize)]
pub struct Done {
    #[serde(default)]
    done: String,
}

async fn admin_page(
    staff: &Staff,
    user: Reviewer,
    done: Option<&'static str>,
    new_token: Option<String>,
) -> Result<Response, PageError> {
    let users = staff
        .app
        .repo
        .staff_users()
        .await?
        .into_iter()
        .map(|u| UserLine {
            role: if u.role == "admin" {
                "administrateur"
            } else {
                "instructeur"
            },
            created: when(u.created_at),
            disabled: u.disabled,
            name: u.name,
        })
        .collect();
    let tokens = staff
        .app
        .repo
        .token_listing()
        .await?
        .into_iter()
        .map(|t| TokenLine {
            created: when(t.created_at),
            id: t.id,
            role: t.role,
            name: t.name,
        })
        .collect();
    page(&AdminPage {
        user,
        section: "admin",
        done,
        new_token,
        users,
        tokens,
        campaigns: campaign_lines(staff).await?,
    })
}

pub async fn index(
    State(staff): State<Staff>,
    Admin(user): Admin,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let done = match done.done.as_str() {
        "user" => Some("Le compte a été créé."),
        "disabled" => Some("Le compte a été désactivé ; ses sessions sont fermées."),
        "enabled" => Some("Le compte a été réactivé."),
        "campaign" => Some("La campagne a été chargée."),
        _ => None,
    };
    admin_page(&staff, user, done, None).await
}

#[derive(Deserialize)]
pub struct UserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
}

pub async fn create_user(
    State(staff): State<Staff>,
    Admin(user): Admin,
    Form(form): Form<UserForm>,
) -> Result<Response, PageError> {
    user.check_csrf(&form.csrf)?;
    match create_account(&staff.app, form.name.trim(), &form.role, form.password).await {
        Ok(()) => {
            tracing::info!(admin = %user.name, user = %form.name.trim(), "staff account created");
            Ok(Redirect::to("/staff/admin?done=user").into_response())
        }
        Err(AccountError::Repository(e)) => Err(e.into()),
        Err(AccountError::Internal(e)) => Err(PageError::Internal(e)),
        Err(e) => Err(PageError::BadRequest(e.to_string())),
    }
}

#[derive(Deserialize)]
pub struct DisableForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    disabled: String,
}

pub async fn disable_user(
    State(staff): State<Staff>,
    Admin(user): Admin,
    Path(name): Path<String>,
    Form(form): Form<DisableForm>,
) -> Result<Response, PageError> {
    user.check_csrf(&form.csrf)?;
    let disable = form.disabled == "yes";
    if disable && name == user.name {
        return Err(PageError::BadRequest(
            "Vous ne pouvez pas désactiver votre propre compte.".into(),
        ));
    }
    if !staff
        .app
        .repo
        .set_staff_user_disabled(&name, disable)
        .await?
    {
        return Err(PageError::NotFound(format!("Le compte {name}")));
    }
    tracing::info!(admin = %user.name, user = %name, disable, "staff account changed");
    let done = if disable { "disabled" } else { "enabled" };
    Ok(Redirect::to(&format!("/staff/admin?done={done}")).into_response())
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
}

/// Creates an API token and shows it once, in this answer only (never in a URL).
pub async fn create_token(
    State(staff): State<Staff>,
    Admin(user): Admin,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    user.check_csrf(&form.csrf)?;
    let role: TokenRole = form
        .role
        .parse()
        .map_err(|_| PageError::BadRequest("Rôle de jeton inconnu.".into()))?;
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(PageError::BadRequest(
            "Le nom du jeton doit compter 1 à 64 caractères.".into(),
        ));
    }
    let token = ingest::new_token();
    staff
        .app
        .repo
        .insert_token(
            &ingest::token_hash(&token),
            &TokenRecord {
                role: role.as_str().to_string(),
                name: name.to_string(),
            },
        )
        .await?;
    tracing::info!(admin = %user.name, token = %name, %role, "API token created");
    admin_page(&staff, user, Some("Le jeton a été créé."), Some(token)).await
}

#[derive(Deserialize)]
pub struct CampaignForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    source: String,
}

pub async fn load_campaign(
    State(staff): State<Staff>,
    Admin(user): Admin,
    Form(form): Form<CampaignForm>,
) -> Result<Response, PageError> {
    user.check_csrf(&form.csrf)?;
    let campaign = staff
        .app
        .load_campaign(&form.source, "formulaire d'administration")
        .await?;
    tracing::info!(admin = %user.name, campaign = campaign.id(), "campaign loaded");
    Ok(Redirect::to("/staff/admin?done=campaign").into_response())
}
