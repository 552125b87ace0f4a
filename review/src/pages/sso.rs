//! Single sign-on for staff with OpenID Connect: the authorization code flow with PKCE, through
//! `openidconnect`, against ProConnect or any standard provider ([`OidcSettings`]).
//!
//! `GET /staff/login/oidc` makes the flow's secrets (CSRF `state`, `nonce`, PKCE verifier) and
//! keeps them in a short-lived cookie signed with the service secret, then sends the browser
//! to the provider. `GET /staff/login/oidc/callback` checks the cookie and the `state`,
//! exchanges the code with the verifier, verifies the ID token (signature, issuer, audience,
//! expiry, nonce), reads `email` from it or from the userinfo endpoint (where ProConnect puts
//! it), and opens the same session as a password login ([`session::open`]) for the account
//! bound to the subject or holding the e-mail. Nobody is created here: an identity without an
//! enabled account is refused. An e-mail the provider marks unverified matches nothing.
//!
//! The flow cookie is `SameSite=Lax`, since the callback is a navigation from the provider's
//! site; the session cookie is `Strict`, so the callback answers with a page that moves on to
//! the dashboard from our own site, where the browser sends it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use askama::Template;
use axum::extract::{Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use hmac::{Hmac, KeyInit, Mac};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AuthenticationContextClass, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl,
    Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    TokenResponse, reqwest,
};
use serde::Deserialize;
use sha2::Sha256;
use tokio::sync::Mutex;

use crate::Staff;
use crate::error::PageError;
use crate::session::{self, cookie_name, our_cookie, same_secret};
use crate::settings::{OidcSettings, Settings};
use crate::views::page;

/// The cookie that carries a flow from its start to its callback.
const FLOW_COOKIE: &str = "guichet_staff_sso";
/// How long a sign-on at the provider may take.
const FLOW_SECONDS: i64 = 600;
/// How long the provider's discovered metadata and keys are reused.
const METADATA_LIFETIME: Duration = Duration::from_secs(600);
/// How long a request to the provider may take.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(15);

/// The configured provider: settings, an HTTP client, the discovered metadata.
pub struct Provider {
    settings: OidcSettings,
    http: reqwest::Client,
    metadata: Mutex<Option<(Instant, CoreProviderMetadata)>>,
}

impl Provider {
    pub fn new(settings: OidcSettings) -> Result<Arc<Provider>, String> {
        let http = reqwest::ClientBuilder::new()
            // The library's advice: following redirects would let the provider point us
            // anywhere (SSRF).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(PROVIDER_TIMEOUT)
            .build()
            .map_err(|e| format!("OIDC HTTP client: {e}"))?;
        Ok(Arc::new(Provider {
            settings,
            http,
            metadata: Mutex::new(None),
        }))
    }

    /// The provider's metadata, discovered at most every [`METADATA_LIFETIME`].
    async fn metadata(&self, fresh: bool) -> Result<CoreProviderMetadata, PageError> {
        let mut cached = self.metadata.lock().await;
        if let Some((at, metadata)) = cached.as_ref()
            && !fresh
            && at.elapsed() < METADATA_LIFETIME
        {
            return Ok(metadata.clone());
        }
        let issuer = IssuerUrl::new(self.settings.issuer.clone())
            .map_err(|e| PageError::SignOn(format!("issuer URL: {e}")))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| PageError::SignOn(format!("discovery: {e}")))?;
        *cached = Some((Instant::now(), metadata.clone()));
        Ok(metadata)
    }

    async fn client(
        &self,
        fresh: bool,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        PageError,
    > {
        let redirect = RedirectUrl::new(self.settings.redirect_url.clone())
            .map_err(|e| PageError::SignOn(format!("redirect URL: {e}")))?;
        Ok(CoreClient::from_provider_metadata(
            self.metadata(fresh).await?,
            ClientId::new(self.settings.client_id.clone()),
            Some(ClientSecret::new(self.settings.client_secret.clone())),
        )
        .set_redirect_uri(redirect))
    }
}

/// The flow's secrets as the cookie keeps them: `state.nonce.verifier.issued.mac`, each
/// part base64url or digits.
struct Flow {
    state: String,
    nonce: String,
    verifier: String,
}

fn flow_mac(secret: &[u8], payload: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(b"guichet staff sso\0");
    mac.update(payload.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn seal_flow(secret: &[u8], flow: &Flow) -> String {
    let payload = format!(
        "{}.{}.{}.{}",
        flow.state,
        flow.nonce,
        flow.verifier,
        Utc::now().timestamp()
    );
    let mac = flow_mac(secret, &payload);
    format!("{payload}.{mac}")
}

/// The flow in cookie `value`, if the service signed it less than [`FLOW_SECONDS`] ago.
fn open_flow(secret: &[u8], value: &str) -> Option<Flow> {
    let (payload, mac) = value.rsplit_once('.')?;
    if !same_secret(mac, &flow_mac(secret, payload)) {
        return None;
    }
    let mut parts = payload.split('.');
    let (state, nonce, verifier, issued) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let age = Utc::now().timestamp() - issued.parse::<i64>().ok()?;
    (0..FLOW_SECONDS).contains(&age).then(|| Flow {
        state: state.to_string(),
        nonce: nonce.to_string(),
        verifier: verifier.to_string(),
    })
}

/// The flow cookie: `Lax`, unlike the others, so that the provider's redirect brings it back.
fn flow_cookie(settings: &Settings, value: &str, max_age: i64) -> HeaderValue {
    let name = cookie_name(settings, FLOW_COOKIE);
    let secure = if settings.secure_cookie {
        "; Secure"
    } else {
        ""
    };
    let text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

fn provider(staff: &Staff) -> Result<&Provider, PageError> {
    staff
        .sso
        .as_deref()
        .ok_or_else(|| PageError::NotFound("La connexion par authentification unique".into()))
}

/// `GET /staff/login/oidc`: to the provider.
pub async fn start(State(staff): State<Staff>) -> Result<Response, PageError> {
    let provider = provider(&staff)?;
    let client = provider.client(false).await?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for scope in &provider.settings.scopes {
        if scope != "openid" {
            request = request.add_scope(Scope::new(scope.clone()));
        }
    }
    if let Some(acr) = &provider.settings.acr_values {
        for value in acr.split_whitespace() {
            request = request.add_auth_context_value(AuthenticationContextClass::new(value.into()));
        }
    }
    let (url, state, nonce) = request.url();
    let flow = Flow {
        state: state.secret().clone(),
        nonce: nonce.secret().clone(),
        verifier: verifier.secret().clone(),
    };
    let mut response = Redirect::to(url.as_str()).into_response();
    response.headers_mut().append(
        SET_COOKIE,
        flow_cookie(
            &staff.settings,
            &seal_flow(&staff.app.secret, &flow),
            FLOW_SECONDS,
        ),
    );
    Ok(response)
}

#[derive(Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// Who the provider says the user is.
struct Identity {
    subject: String,
    /// Absent, or marked unverified by the provider.
    email: Option<String>,
}

/// `GET /staff/login/oidc/callback`: back from the provider.
pub async fn callback(
    State(staff): State<Staff>,
    headers: HeaderMap,
    Query(query): Query<Callback>,
) -> Result<Response, PageError> {
    let provider = provider(&staff)?;
    let flow = our_cookie(&headers, &staff.settings, FLOW_COOKIE)
        .and_then(|value| open_flow(&staff.app.secret, value))
        .ok_or(PageError::Csrf)?;
    if let Some(error) = query.error {
        return Err(PageError::SignOn(format!("the provider answered {error}")));
    }
    let (Some(code), Some(state)) = (query.code, query.state) else {
        return Err(PageError::BadRequest(
            "Réponse du fournisseur incomplète.".into(),
        ));
    };
    if !same_secret(&state, &flow.state) {
        return Err(PageError::Csrf);
    }
    let identity = identify(provider, code, &flow).await?;
    let user = staff
        .app
        .repo
        .staff_user_for_identity(&identity.subject, identity.email.as_deref())
        .await?;
    let Some(user) = user.filter(|u| !u.disabled) else {
        tracing::info!(
            subject = %identity.subject,
            email = identity.email.as_deref().unwrap_or(""),
            "staff single sign-on refused: no enabled account"
        );
        return Err(PageError::UnknownIdentity);
    };
    let (header, value) = session::open(&staff, &user).await?;
    tracing::info!(user = %user.name, "staff login (single sign-on)");
    let mut response = page(&Onward)?;
    response.headers_mut().append(header, value);
    response
        .headers_mut()
        .append(SET_COOKIE, flow_cookie(&staff.settings, "", 0));
    Ok(response)
}

/// Exchanges the code and verifies the ID token; the e-mail comes from the ID token or else
/// the userinfo endpoint.
async fn identify(provider: &Provider, code: String, flow: &Flow) -> Result<Identity, PageError> {
    let failed = |what: &str, e: &dyn std::fmt::Display| PageError::SignOn(format!("{what}: {e}"));
    let client = provider.client(false).await?;
    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| failed("token endpoint", &e))?
        .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier.clone()))
        .request_async(&provider.http)
        .await
        .map_err(|e| failed("code exchange", &e))?;
    let id_token = token
        .id_token()
        .ok_or_else(|| PageError::SignOn("no ID token in the answer".into()))?;
    let nonce = Nonce::new(flow.nonce.clone());
    let claims = match id_token.claims(&client.id_token_verifier(), &nonce) {
        Ok(claims) => claims.clone(),
        // Keys may have rotated since discovery: once more with fresh ones.
        Err(first) => {
            let client = provider.client(true).await?;
            id_token
                .claims(&client.id_token_verifier(), &nonce)
                .map_err(|_| failed("ID token", &first))?
                .clone()
        }
    };
    let subject = claims.subject().to_string();
    let vouched = |email: Option<&openidconnect::EndUserEmail>, verified: Option<bool>| {
        email
            .filter(|_| verified != Some(false))
            .map(|e| e.as_str().to_lowercase())
    };
    let mut email = vouched(claims.email(), claims.email_verified());
    if email.is_none() {
        let request = client
            .user_info(token.access_token().clone(), Some(claims.subject().clone()))
            .map_err(|e| failed("userinfo endpoint", &e))?;
        let info: CoreUserInfoClaims = request
            .request_async(&provider.http)
            .await
            .map_err(|e| failed("userinfo", &e))?;
        email = vouched(info.email(), info.email_verified());
    }
    Ok(Identity { subject, email })
}

/// Moves on to the dashboard from our own site, so that the browser sends the `Strict`
/// session cookie it just received in a navigation that came from the provider.
#[derive(Template)]
#[template(
    ext = "html",
    source = r#"<!doctype html>
<html lang="fr"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="0;url=/staff/">
<title>Connexion</title></head>
<body><p>Connexion réussie. <a href="/staff/">Continuer vers le tableau de bord</a></p></body></html>"#
)]
struct Onward;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flow_opens_only_with_its_signature_and_while_fresh() {
        let flow = Flow {
            state: "s-1_x".into(),
            nonce: "n".into(),
            verifier: "v".into(),
        };
        let sealed = seal_flow(b"secret", &flow);
        let opened = open_flow(b"secret", &sealed).expect("fresh and signed");
        assert_eq!(
            (opened.state, opened.nonce, opened.verifier),
            ("s-1_x".into(), "n".into(), "v".into())
        );
        assert!(open_flow(b"other", &sealed).is_none());
        let forged = sealed.replacen("s-1_x", "s-2_x", 1);
        assert!(open_flow(b"secret", &forged).is_none());
        let old = format!("s.n.v.{}", Utc::now().timestamp() - 2 * FLOW_SECONDS);
        let old = format!("{old}.{}", flow_mac(b"secret", &old));
        assert!(open_flow(b"secret", &old).is_none());
    }
}
