//! Request parsing shared by the handlers: JSON bodies and declared file names.

use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::error::Error;

/// Parses a JSON body into `T`, answering `malformed_request` with serde's reason.
pub fn json<T: DeserializeOwned>(body: &Bytes) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| Error::Malformed(format!("invalid JSON body: {e}")))
}

/// The file name declared by an uploader, checked. It is evidence shown to staff, never a
/// path: objects are stored under their SHA-256, so `../x` or `<b>x</b>` are harmless text,
/// kept verbatim and escaped wherever shown. Control characters (which forge log lines and
/// headers), invisible or direction-changing ones (which disguise a name) and names too long
/// to be names are refused.
pub fn declared_filename(name: Option<String>) -> Result<Option<String>, Error> {
    let Some(name) = name.map(|n| n.trim().to_string()).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if name.chars().any(char::is_control) {
        return Err(Error::InvalidFilename(
            "file names may not contain control characters".into(),
        ));
    }
    if name.chars().any(hides_or_reorders) {
        return Err(Error::InvalidFilename(
            "file names may not contain invisible or direction-changing characters".into(),
        ));
    }
    if name.chars().count() > 255 {
        return Err(Error::InvalidFilename(
            "file names are at most 255 characters".into(),
        ));
    }
    Ok(Some(name))
}

/// Characters that change how a name reads without showing themselves: bidirectional
/// embeddings, overrides, isolates and marks (`facture\u{202E}fdp.exe` reads as `facture
/// exe.pdf`) and zero-width ones (two names that look the same). A name carrying them could
/// pass for another in the staff pages.
fn hides_or_reorders(c: char) -> bool {
    matches!(c,
        '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// The `filename` of a `Content-Disposition` header, preferring the RFC 5987 `filename*`
/// form (UTF-8, percent-encoded) that browsers and curl send for non-ASCII names.
pub fn content_disposition_filename(header: &str) -> Option<String> {
    let params = header.split(';').skip(1).filter_map(|part| {
        let (key, value) = part.split_once('=')?;
        Some((key.trim().to_ascii_lowercase(), value.trim()))
    });
    let mut plain = None;
    for (key, value) in params {
        match key.as_str() {
            "filename*" => {
                let (charset, rest) = value.split_once('\'')?;
                let (_language, encoded) = rest.split_once('\'')?;
                if charset.eq_ignore_ascii_case("utf-8") {
                    return percent_encoding::percent_decode_str(encoded)
                        .decode_utf8()
                        .ok()
                        .map(|name| name.into_owned());
                }
            }
            "filename" => plain = Some(value.trim_matches('"').replace("\\\"", "\"")),
            _ => {}
        }
    }
    plain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_filename_forms() {
        assert_eq!(
            content_disposition_filename("attachment; filename=\"carte.pdf\""),
            Some("carte.pdf".into())
        );
        assert_eq!(
            content_disposition_filename(
                "attachment; filename=\"x.pdf\"; filename*=UTF-8''pi%C3%A8ce.pdf"
            ),
            Some("pièce.pdf".into())
        );
        assert_eq!(content_disposition_filename("inline"), None);
    }

    #[test]
    fn refuses_control_characters_but_keeps_paths_and_markup_as_text() {
        assert!(declared_filename(Some("a\u{7}.pdf".into())).is_err());
        assert!(declared_filename(Some("a\r\nX-Injected: 1".into())).is_err());
        assert!(declared_filename(Some("x".repeat(256))).is_err());
        assert_eq!(
            declared_filename(Some("../../etc/passwd".into())).expect("text"),
            Some("../../etc/passwd".into())
        );
        assert_eq!(
            declared_filename(Some("<b>x</b>.pdf".into())).expect("markup is text"),
            Some("<b>x</b>.pdf".into())
        );
        assert_eq!(declared_filename(Some("  ".into())).expect("blank"), None);
    }

    #[test]
    fn refuses_names_that_disguise_themselves() {
        for name in [
            "facture\u{202E}fdp.exe",
            "carte\u{2066}.pdf",
            "carte\u{200B}.pdf",
            "\u{FEFF}carte.pdf",
            "carte\u{200F}.pdf",
        ] {
            assert!(declared_filename(Some(name.into())).is_err(), "{name:?}");
        }
        for name in ["pièce d'identité.pdf", "شهادة.pdf", "证书.pdf", "😀.png"] {
            assert_eq!(
                declared_filename(Some(name.into())).expect("a plain name"),
                Some(name.to_string())
            );
        }
    }
}
