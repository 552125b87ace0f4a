//! What a cover or separator sheet's QR code says, and the check that it was printed by guichet.
//!
//! The text is `GCH1:<campaign>:<dossier>:<piece>:<tag>`. `GCH1` names the format and its
//! version, so a later format can be told apart and any other QR code is recognised as not ours.
//! Fields are percent-escaped outside `[A-Za-z0-9._-]`, so no field can contain the `:`
//! separator whatever the caller passes; references and piece codes never need escaping, which
//! keeps the code short (a smaller QR version has larger modules and reads better). An absent
//! piece is an empty field.
//!
//! The tag is HMAC-SHA256 under the server secret over everything before it, truncated to
//! 96 bits and written in unpadded base64url (16 characters). The QR code's own error correction
//! already catches most misreads; the tag catches the rest and any sheet made by hand with
//! another dossier's reference. 96 bits make a forgery by guessing hopeless while keeping the
//! code at QR version 4–5 for usual references.
//!
//! The code names no key: a sheet printed before a rotation of the secret is checked under the
//! current secret, then under each previous one ([`decode_any`]). A key id would lengthen
//! every code (and so shrink its modules) to save a few HMACs per page, and a code without it
//! stays readable by every version of guichet.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The prefix of every sheet code of this format: guichet, format version 1.
pub const PREFIX: &str = "GCH1:";

/// Bytes of the HMAC-SHA256 output kept in the code (96 bits).
const TAG_BYTES: usize = 12;

/// What a sheet names: the campaign, the dossier (its reference) and, on a separator sheet, the
/// piece that the following pages are.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SheetCode {
    /// The campaign's identifier.
    pub campaign: String,
    /// The dossier's reference.
    pub dossier: String,
    /// The piece's code on a separator sheet; `None` on a cover sheet, whose documents land
    /// unclassified in the dossier.
    pub piece: Option<String>,
}

/// Why a QR text is not a valid sheet code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SheetError {
    /// Not a guichet sheet code at all (another QR code on a scanned document).
    #[error("ce code n'est pas une feuille guichet")]
    NotOurs,
    /// Has guichet's prefix but not the expected structure (or an unknown format version).
    #[error("code de feuille guichet mal formé")]
    Malformed,
    /// Well formed but the tag does not match: misread, altered or forged.
    #[error(
        "la signature du code de feuille ne correspond pas (lecture erronée ou feuille contrefaite)"
    )]
    BadTag,
}

impl SheetError {
    /// A stable snake_case code for APIs and logs.
    pub fn code(&self) -> &'static str {
        match self {
            SheetError::NotOurs => "not_ours",
            SheetError::Malformed => "malformed",
            SheetError::BadTag => "bad_tag",
        }
    }
}

/// The QR text for `code`, tagged under `secret`.
pub fn encode(code: &SheetCode, secret: &[u8]) -> String {
    let mut text = String::with_capacity(64);
    text.push_str(PREFIX);
    escape_into(&code.campaign, &mut text);
    text.push(':');
    escape_into(&code.dossier, &mut text);
    text.push(':');
    if let Some(piece) = &code.piece {
        escape_into(piece, &mut text);
    }
    let tag = mac(secret, text.as_bytes()).finalize().into_bytes();
    text.push(':');
    text.push_str(&URL_SAFE_NO_PAD.encode(&tag[..TAG_BYTES]));
    text
}

/// Reads a QR text back, checking its tag under `secret` in constant time.
pub fn decode(text: &str, secret: &[u8]) -> Result<SheetCode, SheetError> {
    decode_any(text, &[secret])
}

/// Reads a QR text back, checking its tag under each of `secrets` in turn (the current one
/// first, then those it replaced), each in constant time.
pub fn decode_any(text: &str, secrets: &[&[u8]]) -> Result<SheetCode, SheetError> {
    if !text.starts_with("GCH") {
        return Err(SheetError::NotOurs);
    }
    if !text.starts_with(PREFIX) {
        return Err(SheetError::Malformed);
    }
    let (signed, tag) = text.rsplit_once(':').ok_or(SheetError::Malformed)?;
    let fields: Vec<&str> = signed[PREFIX.len()..].split(':').collect();
    let [campaign, dossier, piece] = fields[..] else {
        return Err(SheetError::Malformed);
    };
    let tag = URL_SAFE_NO_PAD
        .decode(tag)
        .map_err(|_| SheetError::Malformed)?;
    if tag.len() != TAG_BYTES {
        return Err(SheetError::Malformed);
    }
    // Checked before the fields are interpreted: nothing of a forged code is trusted.
    let signed_by_one = secrets.iter().any(|secret| {
        mac(secret, signed.as_bytes())
            .verify_truncated_left(&tag)
            .is_ok()
    });
    if !signed_by_one {
        return Err(SheetError::BadTag);
    }
    let campaign = unescape(campaign)?;
    let dossier = unescape(dossier)?;
    if campaign.is_empty() || dossier.is_empty() {
        return Err(SheetError::Malformed);
    }
    let piece = if piece.is_empty() {
        None
    } else {
        Some(unescape(piece)?)
    };
    Ok(SheetCode {
        campaign,
        dossier,
        piece,
    })
}

fn mac(secret: &[u8], data: &[u8]) -> Hmac<Sha256> {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac
}

fn is_plain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
}

fn escape_into(field: &str, out: &mut String) {
    for &b in field.as_bytes() {
        if is_plain(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

fn unescape(field: &str) -> Result<String, SheetError> {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or(SheetError::Malformed)?;
                let hex = std::str::from_utf8(hex).map_err(|_| SheetError::Malformed)?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| SheetError::Malformed)?);
                i += 3;
            }
            b if is_plain(b) => {
                out.push(b);
                i += 1;
            }
            _ => return Err(SheetError::Malformed),
        }
    }
    String::from_utf8(out).map_err(|_| SheetError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a server secret of some length";

    fn code(piece: Option<&str>) -> SheetCode {
        SheetCode {
            campaign: "cap-2026".into(),
            dossier: "CAP-2026.000123_b".into(),
            piece: piece.map(Into::into),
        }
    }

    #[test]
    fn round_trip_with_and_without_piece() {
        for piece in [None, Some("identite"), Some("jdc")] {
            let text = encode(&code(piece), SECRET);
            assert!(text.starts_with(PREFIX));
            assert_eq!(decode(&text, SECRET), Ok(code(piece)));
        }
        let text = encode(&code(Some("jdc")), SECRET);
        assert_eq!(
            text.len(),
            "GCH1:cap-2026:CAP-2026.000123_b:jdc:".len() + 16
        );
    }

    #[test]
    fn any_field_content_round_trips() {
        let odd = SheetCode {
            campaign: "a:b%c".into(),
            dossier: "é ü/\n".into(),
            piece: Some(":".into()),
        };
        let text = encode(&odd, SECRET);
        assert_eq!(text.matches(':').count(), 4);
        assert_eq!(decode(&text, SECRET), Ok(odd));
    }

    #[test]
    fn a_previous_secret_still_reads_after_a_rotation() {
        let old = encode(&code(Some("jdc")), b"the secret before the rotation");
        let keys: [&[u8]; 2] = [SECRET, b"the secret before the rotation"];
        assert_eq!(decode_any(&old, &keys), Ok(code(Some("jdc"))));
        assert_eq!(decode_any(&old, &keys[..1]), Err(SheetError::BadTag));
        assert_eq!(decode_any(&old, &[]), Err(SheetError::BadTag));
    }

    #[test]
    fn another_secret_is_a_bad_tag() {
        let text = encode(&code(None), SECRET);
        assert_eq!(decode(&text, b"another secret"), Err(SheetError::BadTag));
    }

    #[test]
    fn every_altered_character_is_refused() {
        let text = encode(&code(Some("identite")), SECRET);
        for i in 0..text.len() {
            let mut bytes = text.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let altered = String::from_utf8(bytes).expect("ASCII");
            assert!(decode(&altered, SECRET).is_err(), "accepted {altered}");
        }
    }

    #[test]
    fn forged_dossier_is_a_bad_tag() {
        let text = encode(&code(None), SECRET);
        let forged = text.replace("000123", "000124");
        assert_eq!(decode(&forged, SECRET), Err(SheetError::BadTag));
    }

    #[test]
    fn other_codes_are_not_ours_or_malformed() {
        assert_eq!(
            decode("https://example.org", SECRET),
            Err(SheetError::NotOurs)
        );
        assert_eq!(decode("", SECRET), Err(SheetError::NotOurs));
        assert_eq!(decode("GCH9:a:b::x", SECRET), Err(SheetError::Malformed));
        assert_eq!(decode("GCH1:a:b", SECRET), Err(SheetError::Malformed));
        assert_eq!(decode("GCH1:a:b::!!", SECRET), Err(SheetError::Malformed));
        assert_eq!(
            decode("GCH1:a:b:c:d:AAAAAAAAAAAAAAAA", SECRET),
            Err(SheetError::Malformed)
        );
        assert_eq!(SheetError::BadTag.code(), "bad_tag");
    }
}
