//! Exports for staff: a campaign's dossiers (CSV, XLSX), its documents (CSV) and their
//! files (ZIP), and one dossier's files (ZIP). The API and the staff pages answer with the
//! same [`Export`]: headers and a streamed body, no transport.
//!
//! Memory stays flat whatever the campaign's size: dossiers are read a page at a time
//! ([`pages`], 500 in reference order, with their documents), each page is written out and
//! dropped before the next is read. CSV goes out as each page is written; a ZIP or a
//! spreadsheet cannot be read before its end, so it is written to an anonymous temporary
//! file (gone once the answer is sent or dropped), then streamed with its length. What a
//! dossier's pieces say is the assessment of [`Snapshot`](crate::pipeline::dossier::Snapshot),
//! the one the dossier's JSON shows.
//!
//! The columns are described in `docs/staff.md` (section "Campaign exports").

mod archive;
pub mod csv;
mod documents;
mod dossiers;
mod pages;
mod xlsx;

use std::fmt;
use std::str::FromStr;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;

use crate::app::App;
use crate::error::Error;

pub use archive::{Layout, dossier_zip, zip_name};

/// An export ready to send: headers (lower-case names) and the body.
pub struct Export {
    pub headers: Vec<(&'static str, String)>,
    /// The bytes, as they are produced. A failure after the first bytes ends the stream with
    /// an error (the transport cuts the answer short, so no truncated file passes for whole).
    pub body: BoxStream<'static, Result<Bytes, std::io::Error>>,
}

impl Export {
    /// An attachment named `file_name` of `content_type`, never cached (exports carry
    /// personal data), with its length when known.
    fn attachment(
        file_name: &str,
        content_type: &str,
        length: Option<u64>,
        body: BoxStream<'static, Result<Bytes, std::io::Error>>,
    ) -> Export {
        // Names are made of campaign ids and references: [A-Za-z0-9._-], nothing to escape.
        let mut headers = vec![
            ("content-type", content_type.to_string()),
            (
                "content-disposition",
                format!("attachment; filename=\"{file_name}\""),
            ),
            ("x-content-type-options", "nosniff".to_string()),
            ("cache-control", "private, no-store".to_string()),
        ];
        if let Some(length) = length {
            headers.push(("content-length", length.to_string()));
        }
        Export { headers, body }
    }

    /// A finished temporary file, streamed from its start.
    fn from_file(file_name: &str, content_type: &str, file: std::fs::File) -> Export {
        let length = file.metadata().ok().map(|m| m.len());
        let reader = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file));
        Export::attachment(file_name, content_type, length, reader.boxed())
    }
}

/// The exports of a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CampaignExport {
    /// One line per dossier: reference, candidate attributes, state, completeness, the
    /// status of each piece.
    DossiersCsv,
    /// The same as a spreadsheet.
    DossiersXlsx,
    /// One line per document, withdrawn ones included, with the dossiers holding the same
    /// content.
    DocumentsCsv,
    /// The files, a folder per dossier and piece, with `SHA256SUMS`.
    DocumentsZip,
}

impl CampaignExport {
    pub const ALL: [CampaignExport; 4] = [
        CampaignExport::DossiersCsv,
        CampaignExport::DossiersXlsx,
        CampaignExport::DocumentsCsv,
        CampaignExport::DocumentsZip,
    ];

    /// The name in URLs: `dossiers.csv`, `dossiers.xlsx`, `documents.csv`, `documents.zip`.
    pub fn name(self) -> &'static str {
        match self {
            CampaignExport::DossiersCsv => "dossiers.csv",
            CampaignExport::DossiersXlsx => "dossiers.xlsx",
            CampaignExport::DocumentsCsv => "documents.csv",
            CampaignExport::DocumentsZip => "documents.zip",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            CampaignExport::DossiersCsv | CampaignExport::DocumentsCsv => csv::CONTENT_TYPE,
            CampaignExport::DossiersXlsx => xlsx::CONTENT_TYPE,
            CampaignExport::DocumentsZip => archive::CONTENT_TYPE,
        }
    }

    /// The attachment's name: `CAMPAIGN-dossiers.csv`...
    pub fn file_name(self, campaign: &str) -> String {
        format!("{campaign}-{}", self.name())
    }
}

impl fmt::Display for CampaignExport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for CampaignExport {
    type Err = ();

    fn from_str(name: &str) -> Result<Self, ()> {
        CampaignExport::ALL
            .into_iter()
            .find(|export| export.name() == name)
            .ok_or(())
    }
}

/// The export `what` of the campaign `campaign`, by `actor`, whose `scope` limits the other
/// dossiers a `duplicates` cell names; [`Error::UnknownCampaign`] when there is none. CSV starts streaming at once; a ZIP or a spreadsheet is answered once written.
pub async fn campaign_export(
    app: &App,
    campaign: &str,
    what: CampaignExport,
    actor: &str,
    scope: Option<Vec<String>>,
) -> Result<Export, Error> {
    let campaign = app.campaign(campaign).await?;
    let file_name = what.file_name(campaign.id());
    let content_type = what.content_type();
    Ok(match what {
        CampaignExport::DossiersCsv => {
            let columns = dossiers::Columns::of(app, &campaign).await?;
            let body = pages::Pages::new(app, campaign)
                .csv(columns.header(), move |page| columns.csv_rows(page));
            Export::attachment(&file_name, content_type, None, body)
        }
        CampaignExport::DocumentsCsv => {
            let body = pages::Pages::new(app, campaign)
                .with_duplicates(scope)
                .csv(documents::header(), documents::rows);
            Export::attachment(&file_name, content_type, None, body)
        }
        CampaignExport::DossiersXlsx => {
            let columns = dossiers::Columns::of(app, &campaign).await?;
            let pages = pages::Pages::new(app, campaign);
            let file = blocking(move || xlsx::write(pages, &columns)).await?;
            Export::from_file(&file_name, content_type, file)
        }
        CampaignExport::DocumentsZip => {
            let pages = pages::Pages::new(app, campaign);
            let (app, actor) = (app.clone(), actor.to_string());
            let file = blocking(move || archive::campaign(&app, pages, &actor)).await?;
            Export::from_file(&file_name, content_type, file)
        }
    })
}

/// Runs a writer on a blocking thread (it reads pages and objects by blocking on the
/// runtime's handle, from there).
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Internal(format!("export task: {e}")))?
}
