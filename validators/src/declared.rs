//! The declared name and Content-Type, compared with the content.
//!
//! They are evidence only: the kind always comes from the content. Decision: when the
//! extension or the Content-Type names a *known* type other than the one found (a `.jpg` that
//! holds PNG, HEIC or a program; `application/pdf` on a PNG), the document is refused with
//! `kind_mismatch`. A mislabelled file is what an attacker uploads to get content past a
//! filter, and a candidate fixes it in seconds by saving it again. Aliases of one kind match
//! (`.jpg`/`.jpeg`/`.jfif`/`.mpo`, `.tif`/`.tiff`, `.heic`/`.heif`, `image/jpg`,
//! `application/x-pdf`...). A missing or unknown extension, and a generic Content-Type
//! (`application/octet-stream`), say nothing and are only noted.

use serde::{Deserialize, Serialize};

use crate::detect::Detected;
use crate::reason::{Reason, ReasonCode};

/// What the sender said about the document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Declared {
    /// The file name given by the client (upload) or the station.
    pub filename: Option<String>,
    /// The Content-Type given by the client, parameters included or not.
    pub content_type: Option<String>,
}

impl Declared {
    pub fn named(filename: &str) -> Declared {
        Declared {
            filename: Some(filename.to_string()),
            content_type: None,
        }
    }
}

/// The type an extension names, as a [`Detected::name`]; `None` when unknown.
fn type_of_extension(ext: &str) -> Option<&'static str> {
    Some(match ext.to_ascii_lowercase().as_str() {
        "pdf" => "pdf",
        "jpg" | "jpeg" | "jpe" | "jfif" | "jif" | "mpo" => "jpeg",
        "png" | "apng" => "png",
        "tif" | "tiff" => "tiff",
        "webp" => "webp",
        "gif" => "gif",
        "bmp" | "dib" => "bmp",
        "heic" | "heif" | "hif" => "heic",
        "avif" => "avif",
        "jp2" | "j2k" | "jpf" | "jpx" => "jp2",
        "svg" | "svgz" => "svg",
        "htm" | "html" | "xhtml" => "html",
        "xml" => "xml",
        "ps" | "eps" => "postscript",
        "doc" => "doc",
        "docx" => "docx",
        "odt" => "odt",
        "xls" => "xls",
        "xlsx" => "xlsx",
        "zip" => "zip",
        "txt" => "text",
        "exe" => "exe",
        "ico" => "ico",
        "php" => "php",
        _ => return None,
    })
}

/// The type a media type names, as a [`Detected::name`]; `None` when generic or unknown.
fn type_of_mime(mime: &str) -> Option<&'static str> {
    let essence = mime
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    Some(match essence.as_str() {
        "application/pdf" | "application/x-pdf" | "application/acrobat" => "pdf",
        "image/jpeg" | "image/jpg" | "image/pjpeg" => "jpeg",
        "image/png" | "image/x-png" | "image/apng" => "png",
        "image/tiff" | "image/tif" | "image/x-tiff" => "tiff",
        "image/webp" => "webp",
        "image/gif" => "gif",
        "image/bmp" | "image/x-bmp" | "image/x-ms-bmp" => "bmp",
        "image/heic" | "image/heif" | "image/heic-sequence" | "image/heif-sequence" => "heic",
        "image/avif" => "avif",
        "image/jp2" | "image/jpx" => "jp2",
        "image/svg+xml" => "svg",
        "text/html" | "application/xhtml+xml" => "html",
        "application/postscript" => "postscript",
        "application/zip" => "zip",
        "application/msword" => "doc",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "docx",
        _ => return None,
    })
}

/// Whether a declared type name agrees with what was found.
fn agrees(declared: &str, found: &Detected) -> bool {
    declared == found.name
        // A file found to be of an unnamed sort (text, unknown) contradicts no claim we can
        // check better than the kind checks do; only a known type contradicts.
        || matches!(found.name.as_str(), "unknown" | "empty")
}

/// The reasons (mismatch) and notes (uninformative name) for a declaration.
pub(crate) fn check(declared: &Declared, found: &Detected) -> (Vec<Reason>, Vec<Reason>) {
    let mut reasons = Vec::new();
    let mut notes = Vec::new();
    if let Some(name) = declared.filename.as_deref() {
        let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
        let ext = base
            .rsplit_once('.')
            .map(|(_, ext)| ext)
            .filter(|e| !e.is_empty());
        match ext.and_then(type_of_extension) {
            Some(claimed) if !agrees(claimed, found) => reasons.push(Reason::with_detail(
                ReasonCode::KindMismatch,
                format!(
                    "the name `{base}` says {claimed}, the content is {}",
                    found.name
                ),
            )),
            Some(_) => {}
            None => notes.push(Reason::with_detail(
                ReasonCode::NameUninformative,
                format!("the name `{base}` does not name a known type"),
            )),
        }
    }
    if let Some(mime) = declared.content_type.as_deref()
        && let Some(claimed) = type_of_mime(mime)
        && !agrees(claimed, found)
    {
        reasons.push(Reason::with_detail(
            ReasonCode::KindMismatch,
            format!(
                "the Content-Type `{mime}` says {claimed}, the content is {}",
                found.name
            ),
        ));
    }
    (reasons, notes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::detect;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    fn codes(declared: Declared, content: &[u8]) -> (Vec<ReasonCode>, Vec<ReasonCode>) {
        let (r, n) = check(&declared, &detect(content));
        (
            r.iter().map(|r| r.code).collect(),
            n.iter().map(|r| r.code).collect(),
        )
    }

    #[test]
    fn agreeing_names_and_aliases_pass() {
        assert_eq!(codes(Declared::named("scan.PNG"), PNG), (vec![], vec![]));
        assert_eq!(
            codes(Declared::named("C:\\a\\b.pdf"), b"%PDF-1.4\n"),
            (vec![], vec![])
        );
        let d = Declared {
            filename: Some("photo.jfif".into()),
            content_type: Some("image/jpg; q=1".into()),
        };
        assert_eq!(codes(d, &[0xFF, 0xD8, 0xFF, 0xE0]), (vec![], vec![]));
    }

    #[test]
    fn a_known_other_type_is_a_mismatch() {
        assert_eq!(
            codes(Declared::named("x.jpg"), PNG).0,
            vec![ReasonCode::KindMismatch]
        );
        let d = Declared {
            filename: None,
            content_type: Some("application/pdf".into()),
        };
        assert_eq!(codes(d, PNG).0, vec![ReasonCode::KindMismatch]);
    }

    #[test]
    fn generic_declarations_are_only_noted() {
        let d = Declared {
            filename: Some("scan".into()),
            content_type: Some("application/octet-stream".into()),
        };
        assert_eq!(codes(d, PNG), (vec![], vec![ReasonCode::NameUninformative]));
    }
}
