//! Every way a page or action fails, as an HTML page with a fitting status, in one place.

use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use ingest::error::Class;
use storage::RepoError;

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// No valid session: the browser is sent to the login page.
    #[error("login required")]
    LoginRequired,
    #[error("forbidden")]
    Forbidden,
    #[error("CSRF token missing or wrong")]
    Csrf,
    #[error("not found: {0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    /// Too many failed logins: retry after this long (429 with `Retry-After`).
    #[error("login throttled for {0:?}")]
    Throttled(std::time::Duration),
    /// No argon2 permit came in time (503 with `Retry-After`).
    #[error("password checks busy")]
    Busy,
    /// The pipeline refused the action (a state that does not allow it, a pending scan...).
    #[error("{0}")]
    Action(#[from] ingest::Error),
    #[error("internal error: {0}")]
    Internal(String),
    /// A single sign-on identity that matches no enabled account.
    #[error("no staff account for this identity")]
    UnknownIdentity,
    /// The single sign-on exchange failed (provider unreachable, answer refused).
    #[error("single sign-on failed: {0}")]
    SignOn(String),
}

impl From<RepoError> for PageError {
    fn from(e: RepoError) -> Self {
        PageError::Action(e.into())
    }
}

impl From<askama::Error> for PageError {
    fn from(e: askama::Error) -> Self {
        PageError::Internal(format!("template: {e}"))
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: String,
}

impl PageError {
    fn status(&self) -> StatusCode {
        match self {
            PageError::LoginRequired => StatusCode::SEE_OTHER,
            PageError::Forbidden | PageError::Csrf => StatusCode::FORBIDDEN,
            PageError::NotFound(_) => StatusCode::NOT_FOUND,
            PageError::BadRequest(_) => StatusCode::BAD_REQUEST,
            PageError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            PageError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            PageError::Action(e) => action_status(e.class()),
            PageError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            PageError::UnknownIdentity => StatusCode::FORBIDDEN,
            PageError::SignOn(_) => StatusCode::BAD_GATEWAY,
        }
    }

    /// The title and the message shown, in French.
    fn shown(&self) -> (&'static str, String) {
        match self {
            PageError::LoginRequired => ("Connexion requise", String::new()),
            PageError::Forbidden => (
                "Accès refusé",
                "Cette page ou cette action est réservée aux administrateurs.".into(),
            ),
            PageError::Csrf => (
                "Formulaire expiré",
                "Le formulaire n'a pas pu être vérifié (jeton de sécurité absent ou périmé). \
                 Rechargez la page puis recommencez."
                    .into(),
            ),
            PageError::NotFound(what) => ("Introuvable", format!("{what} n'existe pas.")),
            PageError::BadRequest(why) => ("Demande incorrecte", why.clone()),
            PageError::Throttled(wait) => (
                "Trop de tentatives",
                format!(
                    "Trop de tentatives de connexion ont échoué. Réessayez dans {} seconde(s).",
                    retry_after(*wait)
                ),
            ),
            PageError::Busy => (
                "Service occupé",
                "Trop de connexions sont en cours ; réessayez dans un instant.".into(),
            ),
            PageError::Action(e) => ("Action refusée", action_message(e)),
            PageError::Internal(_) => (
                "Erreur interne",
                "Une erreur interne est survenue ; elle a été journalisée.".into(),
            ),
            PageError::UnknownIdentity => (
                "Compte inconnu",
                "Votre identité a bien été vérifiée, mais aucun compte actif de guichet ne lui \
                 correspond. Aucun compte n'est créé automatiquement : demandez à un \
                 administrateur d'enregistrer votre adresse électronique sur votre compte."
                    .into(),
            ),
            PageError::SignOn(_) => (
                "Connexion impossible",
                "La connexion par le fournisseur d'identité a échoué ; elle a été journalisée. \
                 Recommencez, ou connectez-vous avec votre mot de passe."
                    .into(),
            ),
        }
    }
}

/// The status of a page whose action the pipeline refused. The API has its own mapping
/// (`api::error`); a page answers a refused action as a page: the reviewer reads the message.
fn action_status(class: Class) -> StatusCode {
    match class {
        Class::Unauthenticated | Class::Forbidden => StatusCode::FORBIDDEN,
        Class::NotFound => StatusCode::NOT_FOUND,
        Class::Gone => StatusCode::GONE,
        Class::Invalid => StatusCode::BAD_REQUEST,
        Class::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Class::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        Class::Conflict
        | Class::TooLarge
        | Class::Rejected
        | Class::Locked
        | Class::ChecksumMismatch => StatusCode::CONFLICT,
    }
}

/// The pipeline's refusals, in the reviewer's words.
fn action_message(e: &ingest::Error) -> String {
    match e.code() {
        "scan_pending" => "Ce document attend son analyse antivirus : il ne peut pas encore être accepté.".into(),
        "scan_failed" => "L'antivirus n'a pas pu analyser ce document : refusez-le et demandez un fichier plus léger.".into(),
        "document_quarantined" => "Ce document est infecté et mis en quarantaine : il ne peut être ni affiché ni accepté.".into(),
        "document_withdrawn" => "Ce document a été retiré par le candidat.".into(),
        "reason_required" => "Cette action doit être motivée : indiquez un motif.".into(),
        "message_required" => "Une demande de correction doit dire au candidat quoi renvoyer : écrivez un message.".into(),
        "extension_in_past" => "La nouvelle date limite doit être dans le futur.".into(),
        "dossier_not_closed" => "Le dossier n'est pas clôturé : il n'y a rien à rouvrir.".into(),
        "unknown_piece" => "Cette pièce n'existe pas dans la campagne du dossier.".into(),
        "invalid_birth_date" => "La date de naissance ne convient pas : une date AAAA-MM-JJ, antérieure à la date de référence de la campagne.".into(),
        "dossier_closed" => "Le dossier est clôturé : il ne peut plus changer.".into(),
        "not_complete" | "missing_pieces" => "Le dossier n'est pas complet : il ne peut pas être clôturé.".into(),
        "unknown_dossier" => "Ce dossier n'existe pas.".into(),
        "unknown_document" => "Ce document n'existe pas.".into(),
        "no_display_copy" => "Ce document n'a pas de copie d'affichage : seules les photos HEIC et AVIF en ont une.".into(),
        "unavailable" => "Le service est momentanément indisponible ; réessayez dans un instant.".into(),
        "internal" => "Une erreur interne est survenue ; elle a été journalisée.".into(),
        // A fault of the service or of a dependency names no path nor address here: the
        // detail is in the log.
        code => format!("L'action a été refusée ({code}) : {}", e.public_message()),
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        if let PageError::LoginRequired = self {
            return Redirect::to("/staff/login").into_response();
        }
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "staff page failed");
        }
        let (title, message) = self.shown();
        let body = ErrorPage { title, message }
            .render()
            .unwrap_or_else(|_| title.to_string());
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response();
        let retry = match self {
            PageError::Throttled(wait) => Some(retry_after(wait)),
            PageError::Busy => Some(5),
            _ => None,
        };
        if let Some(seconds) = retry {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

/// Whole seconds to announce in `Retry-After`: rounded up, at least 1.
fn retry_after(wait: std::time::Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}
