//! What the dossier journal records beyond events: who read what. Events are journaled by the
//! repository with the change that emits them (`storage::repository::journal`); accesses,
//! which change nothing, are appended here on their own.
//!
//! Two accesses are recorded: staff opening a dossier's page ([`Access::DossierViewed`]) and
//! anyone being given a document's bytes, its content or its display copy, through the API
//! or the staff pages ([`Access::DocumentDownloaded`], appended by [`crate::content`] when it
//! hands out the bytes). Pictures of pages are not: opening the dossier is the one record of
//! looking at it. An access that cannot be journaled is refused ([`record`]): a journal that
//! may miss a download says nothing about the downloads it lacks.

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use storage::repository::NewJournalEntry;

use crate::app::App;
use crate::error::Error;

/// An access the journal records, with its one name (the entry's `action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    DossierViewed,
    DocumentDownloaded,
}

impl Access {
    pub const ALL: [Access; 2] = [Access::DossierViewed, Access::DocumentDownloaded];

    pub fn as_str(self) -> &'static str {
        match self {
            Access::DossierViewed => "dossier.viewed",
            Access::DocumentDownloaded => "document.downloaded",
        }
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Access {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Access::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("unknown access `{s}`"))
    }
}

/// Appends one access to `dossier`'s journal under `actor`. A failure refuses the access:
/// [`Error::Unavailable`] (503 in the API), whatever the database said, since the caller
/// can only try again later.
pub async fn record(
    app: &App,
    dossier: &str,
    actor: &str,
    access: Access,
    document: Option<&str>,
    data: Value,
) -> Result<(), Error> {
    let entry = NewJournalEntry {
        actor: actor.to_string(),
        action: access.as_str().to_string(),
        document: document.map(str::to_string),
        data,
    };
    record_all(app, dossier, &[entry]).await
}

/// Appends several accesses to one dossier's journal at once (the documents of an export).
pub async fn record_all(
    app: &App,
    dossier: &str,
    entries: &[NewJournalEntry],
) -> Result<(), Error> {
    record_pages(app, &[(dossier.to_string(), entries.to_vec())]).await
}

/// Appends accesses to several dossiers' journals in one transaction (a page of an export).
pub async fn record_pages(
    app: &App,
    batches: &[(String, Vec<NewJournalEntry>)],
) -> Result<(), Error> {
    app.repo.append_journals(batches).await.map_err(|e| {
        Error::Unavailable(format!(
            "the dossier journal could not record an access: {e}"
        ))
    })
}

/// What a ZIP export journals for one document it includes: a download of its content by
/// `actor`, naming the export.
pub fn exported(actor: &str, document: &str, export: &str) -> NewJournalEntry {
    NewJournalEntry {
        actor: actor.to_string(),
        action: Access::DocumentDownloaded.as_str().to_string(),
        document: Some(document.to_string()),
        data: serde_json::json!({"copy": "content", "export": export}),
    }
}

/// Staff member `actor` opened `dossier`'s page.
pub async fn dossier_viewed(app: &App, dossier: &str, actor: &str) -> Result<(), Error> {
    record(
        app,
        dossier,
        actor,
        Access::DossierViewed,
        None,
        Value::Object(Default::default()),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_access_reads_back_from_its_name() {
        for access in Access::ALL {
            assert_eq!(access.as_str().parse::<Access>(), Ok(access));
            assert!(
                access.as_str().parse::<crate::events::EventKind>().is_err(),
                "{access} is not also an event kind"
            );
        }
    }
}
