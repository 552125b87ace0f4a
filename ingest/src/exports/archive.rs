//! Documents as a ZIP, for one dossier (its files side by side) or a whole campaign (a
//! folder per dossier and piece), with a manifest `SHA256SUMS` in `sha256sum -c` format.
//!
//! The archive is written to an anonymous temporary file, then streamed: a ZIP's directory
//! comes at its end, and writing it whole first lets a failure (a missing object, the store
//! down) be answered as an error rather than as a truncated file. Files are stored
//! uncompressed: PDFs and images are compressed already. Memory holds one page of records,
//! one copy buffer, and the ZIP's directory (a name and a few numbers per file); the
//! manifest and the list of what was left out are spooled to temporary files as well.
//! Withdrawn documents are left out; content that may not be served (infected, or waiting
//! for or failing its virus scan) is left out and listed in `NON_INCLUS.txt`.
//!
//! Writers run on a blocking thread and read objects by blocking on the runtime's handle.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};

use tokio::runtime::Handle;
use tokio_util::io::SyncIoBridge;
use zip::CompressionMethod;
use zip::write::{SimpleFileOptions, ZipWriter};

use storage::repository::NewJournalEntry;
use storage::{ContentKey, DocumentRecord};

use super::Export;
use super::pages::Pages;
use crate::app::App;
use crate::error::Error;
use crate::journal;
use crate::pipeline::actions::check_reference;
use crate::pipeline::scan;

pub const CONTENT_TYPE: &str = "application/zip";

/// The folder (or name part) of documents matched to no piece.
const UNCLASSIFIED: &str = "non-classe";

/// Where a dossier's files go in the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// At the root: `<reference>_<piece>_<n>.<ext>` (one dossier's archive).
    Flat,
    /// `<reference>/<piece>/<reference>_<piece>_<n>.<ext>` (a campaign's archive): a file
    /// taken out of its folder still says whose and what it is.
    Folders,
}

/// The file name of a document: `<reference>_<piece>_<n>.<ext>`, `n` counting from 1 in
/// order of receipt within the piece (`non-classe` for documents matched to no piece).
pub fn zip_name(reference: &str, piece: Option<&str>, n: usize, kind: &str) -> String {
    let ext = match kind {
        "jpeg" => "jpg",
        "tiff" => "tif",
        other => other,
    };
    format!("{reference}_{}_{n}.{ext}", piece.unwrap_or(UNCLASSIFIED))
}

/// The ZIP of one dossier's documents (withdrawn ones left out), named
/// `<reference>_documents.zip`; [`Error::UnknownDossier`] when there is no such dossier.
pub async fn dossier_zip(app: &App, reference: &str, actor: &str) -> Result<Export, Error> {
    let unknown = || Error::UnknownDossier(reference.to_string());
    check_reference(reference).map_err(|_| unknown())?;
    app.repo.dossier(reference).await?.ok_or_else(unknown)?;
    let documents = app.repo.documents(reference).await?;
    let (app, name, actor) = (app.clone(), reference.to_string(), actor.to_string());
    let file = super::blocking(move || {
        let mut archive = Archive::new(&app, &actor, "dossier.zip")?;
        archive.add_dossier(&name, &documents, Layout::Flat)?;
        archive.journal_downloads()?;
        archive.finish()
    })
    .await?;
    Ok(Export::from_file(
        &format!("{reference}_documents.zip"),
        CONTENT_TYPE,
        file,
    ))
}

/// The ZIP of a campaign's documents, read a page of dossiers at a time; each page's
/// downloads are journaled once written.
pub(super) fn campaign(app: &App, mut pages: Pages, actor: &str) -> Result<File, Error> {
    let handle = Handle::current();
    let mut archive = Archive::new(app, actor, "documents.zip")?;
    while let Some(page) = handle.block_on(pages.next())? {
        for snapshot in &page.dossiers {
            archive.add_dossier(snapshot.reference(), &snapshot.documents, Layout::Folders)?;
        }
        archive.journal_downloads()?;
    }
    archive.finish()
}

/// An archive being written.
struct Archive<'a> {
    app: &'a App,
    handle: Handle,
    zip: ZipWriter<File>,
    options: SimpleFileOptions,
    /// `SHA256SUMS`, spooled.
    manifest: BufWriter<File>,
    /// `NON_INCLUS.txt`, spooled; `left_out` says whether it has a line.
    not_included: BufWriter<File>,
    left_out: bool,
    /// Who downloads, and the export's name, for the journal.
    actor: String,
    export: &'static str,
    /// The downloads written and not journaled yet, by dossier.
    downloads: Vec<(String, Vec<NewJournalEntry>)>,
}

fn internal(e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("zip: {e}"))
}

impl<'a> Archive<'a> {
    fn new(app: &'a App, actor: &str, export: &'static str) -> Result<Archive<'a>, Error> {
        let spool = || tempfile::tempfile().map(BufWriter::new).map_err(internal);
        Ok(Archive {
            app,
            handle: Handle::current(),
            zip: ZipWriter::new(tempfile::tempfile().map_err(internal)?),
            options: SimpleFileOptions::default()
                .compression_method(CompressionMethod::Stored)
                .large_file(true),
            manifest: spool()?,
            not_included: spool()?,
            left_out: false,
            actor: actor.to_string(),
            export,
            downloads: Vec::new(),
        })
    }

    /// Adds the documents of the dossier `reference` (given oldest first; withdrawn ones are
    /// skipped).
    fn add_dossier(
        &mut self,
        reference: &str,
        documents: &[DocumentRecord],
        layout: Layout,
    ) -> Result<(), Error> {
        // Numbered by folder, so that a piece coded `non-classe` and the unclassified
        // documents never get the same name.
        let mut counts: HashMap<&str, usize> = HashMap::new();
        let mut downloads = Vec::new();
        for doc in documents.iter().filter(|d| d.withdrawn_at.is_none()) {
            if scan::check_servable(doc).is_err() {
                writeln!(
                    self.not_included,
                    "{reference} {} ({}) : non inclus, contenu non servi (antivirus : {})",
                    doc.id,
                    doc.filename.as_deref().unwrap_or("sans nom"),
                    doc.scan.as_deref().unwrap_or("?")
                )
                .map_err(internal)?;
                self.left_out = true;
                continue;
            }
            let folder = doc.piece.as_deref().unwrap_or(UNCLASSIFIED);
            let n = counts.entry(folder).or_insert(0);
            *n += 1;
            let file = zip_name(reference, Some(folder), *n, &doc.kind);
            let name = match layout {
                Layout::Flat => file,
                Layout::Folders => format!("{reference}/{folder}/{file}"),
            };
            self.add_document(doc, &name)?;
            downloads.push(journal::exported(&self.actor, &doc.id, self.export));
        }
        if !downloads.is_empty() {
            self.downloads.push((reference.to_string(), downloads));
        }
        Ok(())
    }

    /// Journals the downloads written since the last call, in one transaction. A failure
    /// fails the export: nothing is handed out unrecorded.
    fn journal_downloads(&mut self) -> Result<(), Error> {
        let downloads = std::mem::take(&mut self.downloads);
        if downloads.is_empty() {
            return Ok(());
        }
        self.handle
            .block_on(journal::record_pages(self.app, &downloads))
    }

    fn add_document(&mut self, doc: &DocumentRecord, name: &str) -> Result<(), Error> {
        let key = ContentKey::from_hex(&doc.sha256)
            .ok_or_else(|| internal(format!("stored digest of {} is not a key", doc.id)))?;
        let blob = self
            .handle
            .block_on(self.app.blobs.open(&key))?
            .ok_or(Error::ContentMissing)?;
        self.zip.start_file(name, self.options).map_err(internal)?;
        let mut reader = SyncIoBridge::new_with_handle(blob.reader, self.handle.clone());
        std::io::copy(&mut reader, &mut self.zip).map_err(internal)?;
        writeln!(self.manifest, "{}  {name}", doc.sha256).map_err(internal)?;
        Ok(())
    }

    /// Writes the manifest (and the list of what was left out) and the directory; the file,
    /// rewound for reading.
    fn finish(mut self) -> Result<File, Error> {
        let spools = [
            ("SHA256SUMS", self.manifest, true),
            ("NON_INCLUS.txt", self.not_included, self.left_out),
        ];
        for (name, spool, written) in spools {
            if !written {
                continue;
            }
            let mut spool = spool.into_inner().map_err(internal)?;
            spool.seek(SeekFrom::Start(0)).map_err(internal)?;
            self.zip.start_file(name, self.options).map_err(internal)?;
            std::io::copy(&mut spool, &mut self.zip).map_err(internal)?;
        }
        let mut file = self.zip.finish().map_err(internal)?;
        file.seek(SeekFrom::Start(0)).map_err(internal)?;
        Ok(file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zip_names_follow_reference_piece_number() {
        assert_eq!(
            zip_name("R-1", Some("identite"), 2, "jpeg"),
            "R-1_identite_2.jpg"
        );
        assert_eq!(zip_name("R-1", None, 1, "pdf"), "R-1_non-classe_1.pdf");
    }
}
