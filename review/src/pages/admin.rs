//! Administration (admins only; reviewers get 403): staff accounts, API tokens, campaigns.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use ingest::Role as TokenRole;
use ingest::auth::NewToken;

use crate::Staff;
use crate::accounts::{AccountError, create_account, set_campaigns, set_password};
use crate::error::PageError;
use crate::pages::home::{CampaignLine, campaign_lines};
use crate::session::{Admin, Reviewer};
use crate::views::{page, when};

pub struct UserLine {
    pub name: String,
    pub role: &'static str,
    pub created: String,
    pub disabled: bool,
    /// The campaigns it reaches, or « toutes ».
    pub scope: String,
    /// The same, as the edit field holds them (empty for every campaign).
    pub campaigns: String,
}

pub struct TokenLine {
    pub id: String,
    pub role: String,
    pub name: String,
    /// The campaigns it reaches, or « toutes ».
    pub scope: String,
    pub created: String,
    pub expires: String,
    pub last_used: String,
    /// When it was revoked; `None` while live.
    pub revoked: Option<String>,
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    user: Reviewer,
    section: &'static str,
    done: Option<&'static str>,
    new_token: Option<String>,
    /// A password the admin had generated for an account: (account, password), shown once.
    new_password: Option<(String, String)>,
    users: Vec<UserLine>,
    tokens: Vec<TokenLine>,
    campaigns: Vec<CampaignLine>,
}

#[derive(Deserialize)]
pub struct Done {
    #[serde(default)]
    done: String,
}

/// What an answer shows once: a new token, or a generated password.
#[derive(Default)]
struct ShownOnce {
    token: Option<String>,
    password: Option<(String, String)>,
}

async fn admin_page(
    staff: &Staff,
    user: Reviewer,
    done: Option<&'static str>,
    once: ShownOnce,
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
            scope: u
                .campaigns
                .as_ref()
                .map_or_else(|| "toutes".to_string(), |c| c.join(", ")),
            campaigns: u.campaigns.map(|c| c.join(", ")).unwrap_or_default(),
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
            scope: t
                .campaigns
                .map_or_else(|| "toutes".to_string(), |c| c.join(", ")),
            created: when(t.created_at),
            expires: t.expires_at.map_or_else(|| "jamais".to_string(), when),
            last_used: t.last_used_at.map_or_else(|| "jamais".to_string(), when),
            revoked: t.revoked_at.map(when),
            id: t.id,
            role: t.role,
            name: t.name,
        })
        .collect();
    page(&AdminPage {
        user,
        section: "admin",
        done,
        new_token: once.token,
        new_password: once.password,
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
        "password" => Some("Le mot de passe a été remplacé ; les sessions du compte sont fermées."),
        "campaign" => Some("La campagne a été chargée."),
        "revoked" => Some("Le jeton a été révoqué."),
        "scope" => Some("Les campagnes du compte ont été modifiées."),
        _ => None,
    };
    admin_page(&staff, user, done, ShownOnce::default()).await
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
    /// Campaign ids separated by commas or spaces; empty: every campaign.
    #[serde(default)]
    campaigns: String,
}

/// Campaign ids typed in a form, separated by commas or spaces; `None` when there is none
/// (every campaign).
fn campaign_list(text: &str) -> Option<Vec<String>> {
    let list: Vec<String> = text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    (!list.is_empty()).then_some(list)
}

/// The page's answer to an account that could not be changed.
fn account_error(e: AccountError) -> PageError {
    match e {
        AccountError::Repository(e) => e.into(),
        AccountError::Internal(e) => PageError::Internal(e),
        AccountError::Unknown(name) => PageError::NotFound(format!("Le compte {name}")),
        e => PageError::BadRequest(e.to_string()),
    }
}

pub async fn create_user(
    State(staff): State<Staff>,
    Admin(user): Admin,
    Form(form): Form<UserForm>,
) -> Result<Response, PageError> {
    user.check_csrf(&form.csrf)?;
    let campaigns = campaign_list(&form.campaigns);
    create_account(
        &staff.app,
        form.name.trim(),
        &form.role,
        form.password,
        campaigns,
    )
    .await
    .map_err(account_error)?;
    tracing::info!(admin = %user.name, user = %form.name.trim(), "staff account created");
    Ok(Redirect::to("/staff/admin?done=user").into_response())
}

#[derive(Deserialize)]
pub struct ScopeForm {
    #[serde(default)]
    csrf: String,
    /// Campaign ids separated by commas or spaces; empty: every campaign.
    #[serde(default)]
    campaigns: String,
}

/// Sets the campaigns an account reaches; its open sessions follow at their next request.
pub async fn set_user_campaigns(
    State(staff): State<Staff>,
    Admin(user): Admin,
    Path(name): Path<String>,
    Form(form): Form<ScopeForm>,
) -> Result<Response, PageError> {
    user.check_csrf(&form.csrf)?;
    let campaigns = campaign_list(&form.campaigns);
    let scope = campaigns.as_ref().map(|c| c.join(","));
    set_campaigns(&staff.app, &name, campaigns)
        .await
        .map_err(account_error)?;
    tracing::info!(admin = %user.name, user = %name, scope = ?scope, "staff account scope set");
    Ok(Redirect::to("/staff/admin?done=scope").into_response())
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
pub struct ResetForm {
    #[serde(default)]
    csrf: String,
    /// The new password; empty: one is generated and shown once, in this answer only.
    #[serde(default)]
    password: String,
}

/// Replaces another account's password (typed by the admin or generated) and ends that
/// account's sessions.
pub async fn reset_password(
    State(staff): State<Staff>,
    Admin(user): Admin,
    Path(name): Path<String>,
    Form(form): Form<ResetForm>,
) -> Result<Response, PageError> {
    user.check_csrf(&form.csrf)?;
    let generated = form.password.is_empty();
    let password = if generated {
        // 20 characters of a random token: about 100 bits.
        ingest::new_token()[4..24].to_string()
    } else {
        form.password
    };
    match set_password(&staff.app, &name, password.clone(), None).await {
        Ok(()) => {}
        Err(AccountError::Repository(e)) => return Err(e.into()),
        Err(AccountError::Unknown(_)) => {
            return Err(PageError::NotFound(format!("Le compte {name}")));
        }
        Err(e) => return Err(PageError::BadRequest(e.to_string())),
    }
    tracing::info!(admin = %user.name, user = %name, generated, "staff password reset");
    if !generated {
        return Ok(Redirect::to("/staff/admin?done=password").into_response());
    }
    let once = ShownOnce {
        token: None,
        password: Some((name, password)),
    };
    let done = Some("Le mot de passe a été remplacé ; les sessions du compte sont fermées.");
    admin_page(&staff, user, done, once).await
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    /// Campaign ids separated by commas or spaces; empty: every campaign.
    #[serde(default)]
    campaigns: String,
    /// How long it lives, in humantime units (`90d`, `12h`); empty: until revoked.
    #[serde(default)]
    expires_in: String,
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
    let expires_in = match form.expires_in.trim() {
        "" => None,
        text => Some(humantime::parse_duration(text).map_err(|_| {
            PageError::BadRequest("Durée de validité illisible (exemples : 90d, 12h).".into())
        })?),
    };
    let new = NewToken {
        role,
        name: name.to_string(),
        campaigns: campaign_list(&form.campaigns),
        expires_in,
    };
    let token = ingest::auth::issue(&staff.app, new).await?;
    tracing::info!(admin = %user.name, token = %name, %role, "API token created");
    let once = ShownOnce {
        token: Some(token),
        password: None,
    };
    admin_page(&staff, user, Some("Le jeton a été créé."), once).await
}

#[derive(Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    csrf: String,
}

/// Revokes every live token of the name.
pub async fn revoke_token(
    State(staff): State<Staff>,
    Admin(user): Admin,
    Path(name): Path<String>,
    Form(form): Form<RevokeForm>,
) -> Result<Response, PageError> {
    user.check_csrf(&form.csrf)?;
    let revoked = staff
        .app
        .repo
        .revoke_tokens(&name, chrono::Utc::now())
        .await?;
    if revoked == 0 {
        return Err(PageError::NotFound(format!("Le jeton actif {name}")));
    }
    tracing::info!(admin = %user.name, token = %name, revoked, "API token revoked");
    Ok(Redirect::to("/staff/admin?done=revoked").into_response())
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
