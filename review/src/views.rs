//! What pages share: rendering, security headers, and the French words for the domain's
//! values.

use askama::Template;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};

use crate::error::PageError;

/// Renders a template as an HTML page.
pub fn page(template: &impl Template) -> Result<Response, PageError> {
    Ok(Html(template.render()?).into_response())
}

/// Headers on every staff answer. Pages load only this origin's CSS, images and script (the
/// dossier page's viewer, a static file: no inline script runs), embed nothing, and are never
/// framed elsewhere nor cached. Answers that set their own policy (document content) keep it.
pub async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'self'; base-uri 'none'",
        ));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

pub fn state_label(state: &str) -> &'static str {
    match state {
        "open" => "Ouvert",
        "submitted" => "Déposé",
        "complete" => "Complet",
        "closed" => "Clôturé",
        _ => "Inconnu",
    }
}

/// The states a list can be filtered on, in life order.
pub const STATES: [&str; 4] = ["open", "submitted", "complete", "closed"];

pub fn piece_status_label(status: dossiers::PieceStatus) -> &'static str {
    match status {
        dossiers::PieceStatus::Missing => "Manquante",
        dossiers::PieceStatus::Pending => "En attente",
        dossiers::PieceStatus::Accepted => "Acceptée",
        dossiers::PieceStatus::Rejected => "Refusée",
        dossiers::PieceStatus::CorrectionRequested => "À renvoyer",
    }
}

/// A CSS class name per status, for colour and a text marker alike.
pub fn piece_status_class(status: dossiers::PieceStatus) -> &'static str {
    match status {
        dossiers::PieceStatus::Missing => "missing",
        dossiers::PieceStatus::Pending => "pending",
        dossiers::PieceStatus::Accepted => "accepted",
        dossiers::PieceStatus::Rejected => "rejected",
        dossiers::PieceStatus::CorrectionRequested => "correction",
    }
}

pub fn size_label(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["o", "Kio", "Mio", "Gio"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} o")
    } else {
        format!("{value:.1} {}", UNITS[unit]).replace('.', ",")
    }
}

/// An instant as staff in France read it.
pub fn when(instant: DateTime<Utc>) -> String {
    dossiers::window::format_fr(instant, chrono_tz::Europe::Paris)
}

pub fn yes_no(value: bool) -> &'static str {
    if value { "oui" } else { "non" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_french_units() {
        assert_eq!(size_label(0), "0 o");
        assert_eq!(size_label(1023), "1023 o");
        assert_eq!(size_label(1536), "1,5 Kio");
        assert_eq!(size_label(3 * 1024 * 1024), "3,0 Mio");
    }

    #[test]
    fn every_state_has_a_label() {
        for state in STATES {
            assert_ne!(state_label(state), "Inconnu");
        }
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986), for query strings and
/// RFC 5987 file names.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod encode_tests {
    #[test]
    fn percent_encoding_keeps_unreserved_only() {
        assert_eq!(super::percent_encode("a b/é\"<"), "a%20b%2F%C3%A9%22%3C");
    }
}
