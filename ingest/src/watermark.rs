//! A piece's watermark (`watermark = "…"` in the campaign) on the pictures people see of its
//! documents: the pictures of their pages and the display copies of HEIC and AVIF photos. The
//! document itself is kept, and downloaded, as it was sent.
//!
//! Pictures are stored once per content and shared by every document with the same bytes,
//! whatever its piece, so the text is drawn as a picture is served, never stored: the stored
//! JPEG is read, marked on the verify pool (whose slots bound the CPU and memory of image
//! work), and sent from memory. A picture that cannot be marked is not served at all: a piece
//! that asks for a watermark never shows its documents without it.
//!
//! The ETag of a marked picture names the drawing's version and the text's digest besides the
//! stored picture, so that no cache takes a plain picture for a marked one, nor a picture
//! marked with an earlier text (the campaign changed, or staff moved the document to another
//! piece) for the current one.

use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use storage::{Blob, DocumentRecord};

use crate::app::App;
use crate::error::Error;
use crate::pipeline::intake::on_verify_pool;

/// The largest stored picture read to be marked (a reading size is a few megabytes at most).
const MAX_PICTURE_BYTES: u64 = 32 * 1024 * 1024;

/// The text laid over `doc`'s pictures: its piece's watermark in its dossier's campaign.
/// `None` for an unclassified document, or a piece without one.
pub async fn text(app: &App, doc: &DocumentRecord) -> Result<Option<String>, Error> {
    let Some(code) = doc.piece.as_deref() else {
        return Ok(None);
    };
    let dossier = app
        .repo
        .dossier(&doc.dossier)
        .await?
        .ok_or_else(|| Error::UnknownDossier(doc.dossier.clone()))?;
    let campaign = app.campaign(&dossier.campaign).await?;
    Ok(campaign
        .piece(code)
        .and_then(|piece| piece.watermark())
        .map(str::to_string))
}

/// The ETag of the stored picture `sha256` served with `text` over it (quoted): the picture's
/// digest alone when plain.
pub fn etag(sha256: &str, text: Option<&str>) -> String {
    match text {
        None => format!("\"{sha256}\""),
        Some(text) => {
            let digest = hex::encode(Sha256::digest(text.as_bytes()));
            format!(
                "\"{sha256}-w{}-{}\"",
                previews::watermark::VERSION,
                &digest[..16]
            )
        }
    }
}

/// The stored picture `blob` (a JPEG) with `text` drawn over it, as a body to send.
pub async fn mark(app: &App, blob: Blob, text: &str) -> Result<Blob, Error> {
    if blob.size > MAX_PICTURE_BYTES {
        return Err(Error::Internal(format!(
            "a picture of {} bytes is too large to mark",
            blob.size
        )));
    }
    let mut jpeg = Vec::with_capacity(blob.size as usize);
    blob.reader
        .take(MAX_PICTURE_BYTES)
        .read_to_end(&mut jpeg)
        .await
        .map_err(|e| Error::Internal(format!("reading a picture to mark: {e}")))?;
    let text = text.to_string();
    let marked = on_verify_pool(app, "watermark", move || previews::watermark(&jpeg, &text))
        .await?
        .map_err(|e| Error::Internal(format!("marking a picture: {e}")))?;
    Ok(Blob {
        size: marked.jpeg.len() as u64,
        reader: Box::pin(std::io::Cursor::new(marked.jpeg)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marked_picture_has_its_own_etag_for_each_text() {
        let sha = "ab".repeat(32);
        assert_eq!(etag(&sha, None), format!("\"{sha}\""));
        let marked = etag(&sha, Some("Copie réservée au concours BTS 2027"));
        assert!(marked.starts_with(&format!("\"{sha}-w")), "{marked}");
        assert!(marked.is_ascii() && marked.ends_with('"'));
        assert_ne!(
            marked,
            etag(&sha, Some("Copie réservée au concours BTS 2028"))
        );
        assert_eq!(
            marked,
            etag(&sha, Some("Copie réservée au concours BTS 2027"))
        );
    }
}
