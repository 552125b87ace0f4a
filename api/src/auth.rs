//! The caller of a request, from its `Authorization: Bearer` token, and the one check of its
//! scope.
//!
//! A token scoped to campaigns reaches nothing outside them, and what it cannot reach is
//! answered as absent (404 with the `unknown_*` code of what the path names), never 403: a
//! caller learns nothing of other campaigns. The check is made here, on the path every
//! route is matched with, so no handler can forget it: a `{reference}` after `dossiers/`
//! names a dossier, an `{id}` after `documents/` a document (through its dossier), one after
//! `campaigns/` a campaign. A station also sees only the batches it sent (`batches/{id}`).
//! What the path does not name (a new dossier's campaign, the event feed, the documents of
//! other dossiers) the handlers filter with [`ingest::auth::Caller::sees`].

use axum::extract::{FromRequestParts, MatchedPath, RawPathParams};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use ingest::App;
pub use ingest::auth::Role;

use crate::error::{ApiError, Error};

/// The authenticated caller of a request (see [`ingest::auth::Caller`]).
#[derive(Debug, Clone)]
pub struct Caller(pub ingest::auth::Caller);

impl std::ops::Deref for Caller {
    type Target = ingest::auth::Caller;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl FromRequestParts<App> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(Error::Unauthorized)?;
        let caller = ingest::auth::authenticate(app, token).await?;
        let matched = parts.extensions.get::<MatchedPath>().cloned();
        if let (Some(matched), Ok(params)) =
            (matched, RawPathParams::from_request_parts(parts, app).await)
        {
            let params: Vec<(&str, &str)> = params.iter().collect();
            for (kind, value) in named(matched.as_str(), &params) {
                check(app, &caller, kind, value).await?;
            }
        }
        Ok(Caller(caller))
    }
}

/// What a path parameter names, by the segment before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Named {
    Dossier,
    Document,
    Campaign,
    Batch,
}

/// The things the matched path `template` names, with their values in `params`.
fn named<'a>(template: &str, params: &[(&str, &'a str)]) -> Vec<(Named, &'a str)> {
    let segments: Vec<&str> = template.split('/').collect();
    let mut found = Vec::new();
    for pair in segments.windows(2) {
        let Some(param) = pair[1].strip_prefix('{').and_then(|p| p.strip_suffix('}')) else {
            continue;
        };
        let kind = match pair[0] {
            "dossiers" => Named::Dossier,
            "documents" => Named::Document,
            "campaigns" => Named::Campaign,
            "batches" => Named::Batch,
            _ => continue,
        };
        if let Some((_, value)) = params.iter().find(|(name, _)| *name == param) {
            found.push((kind, *value));
        }
    }
    found
}

/// Refuses, as absent, what the path names outside the caller's reach. What does not exist
/// is left to the handler, which says so in its own words.
async fn check(
    app: &App,
    caller: &ingest::auth::Caller,
    kind: Named,
    value: &str,
) -> Result<(), Error> {
    match kind {
        Named::Batch if caller.role == Role::Station => {
            if let Some(batch) = app.repo.batch(value).await?
                && batch.station != caller.name
            {
                return Err(Error::UnknownBatch(value.to_string()));
            }
        }
        Named::Batch => {}
        _ if caller.campaigns.is_none() => {}
        Named::Campaign => {
            if !caller.sees(value) {
                return Err(Error::UnknownCampaign(value.to_string()));
            }
        }
        Named::Dossier => {
            if let Some(dossier) = app.repo.dossier(value).await?
                && !caller.sees(&dossier.campaign)
            {
                return Err(Error::UnknownDossier(value.to_string()));
            }
        }
        Named::Document => {
            if let Some(document) = app.repo.document(value).await?
                && let Some(dossier) = app.repo.dossier(&document.dossier).await?
                && !caller.sees(&dossier.campaign)
            {
                return Err(Error::UnknownDocument(value.to_string()));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_what_they_reach() {
        assert_eq!(
            named(
                "/api/v1/dossiers/{reference}/documents/{id}",
                &[("reference", "R-1"), ("id", "doc-1")]
            ),
            [(Named::Dossier, "R-1"), (Named::Document, "doc-1")]
        );
        assert_eq!(
            named(
                "/api/v1/campaigns/{id}/webhooks/{webhook}",
                &[("id", "bep"), ("webhook", "w")]
            ),
            [(Named::Campaign, "bep")]
        );
        assert_eq!(
            named(
                "/api/v1/documents/{id}/pages/{n}",
                &[("id", "d"), ("n", "1")]
            ),
            [(Named::Document, "d")]
        );
        assert_eq!(
            named("/api/v1/mailroom/batches/{id}", &[("id", "b")]),
            [(Named::Batch, "b")]
        );
        assert!(named("/api/v1/events", &[]).is_empty());
    }
}
