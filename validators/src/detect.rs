//! The kind of a content, from its bytes alone (never from a name).
//!
//! `infer` reads the magic bytes; a few checks it lacks are added here: text formats that can
//! carry script (SVG, HTML, XML, PostScript), executables, HEIC versus other HEIF brands, and
//! signatures found after leading junk (a PDF header within the first 1024 bytes, a JPEG start
//! of image within the first 1024 bytes), which [`Detected::offset`] reports.

use dossiers::Kind;
use serde::Serialize;

/// How far into a file a PDF or JPEG signature is looked for after junk. PDF readers
/// (Acrobat included) accept a header within the first 1024 bytes.
pub const HEADER_SEARCH_WINDOW: usize = 1024;

/// What the content is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Detected {
    /// The kind, when the content is one guichet knows; `None` otherwise.
    pub kind: Option<Kind>,
    /// Short name: a kind name (`pdf`, `jpeg`...) or another type (`zip`, `docx`, `elf`,
    /// `html`, `svg`, `xml`, `postscript`, `ico`, `unknown`, `empty`...).
    pub name: String,
    /// The media type of the content (`application/octet-stream` when unknown).
    pub mime: String,
    /// Bytes before the signature, when it was found after leading junk (0 normally).
    pub offset: usize,
    /// The content is a program.
    pub executable: bool,
}

impl Detected {
    fn other(name: &str, mime: &str) -> Detected {
        Detected {
            kind: None,
            name: name.to_string(),
            mime: mime.to_string(),
            offset: 0,
            executable: false,
        }
    }

    fn kind(kind: Kind, offset: usize) -> Detected {
        Detected {
            kind: Some(kind),
            name: kind.name().to_string(),
            mime: kind.mime().to_string(),
            offset,
            executable: false,
        }
    }
}

/// Detects the kind of `content` from its bytes.
pub fn detect(content: &[u8]) -> Detected {
    if content.is_empty() {
        return Detected::other("empty", "application/x-empty");
    }
    // BigTIFF (64-bit offsets), which infer does not know.
    if content.starts_with(b"II+\0") || content.starts_with(b"MM\0+") {
        return Detected::kind(Kind::Tiff, 0);
    }
    if let Some(found) = by_magic(content) {
        return found;
    }
    if let Some(found) = after_junk(content) {
        return found;
    }
    if let Some(found) = by_text(content) {
        return found;
    }
    if raw_fax(content) {
        return Detected::other("g3fax", "image/g3fax");
    }
    Detected::other("unknown", "application/octet-stream")
}

/// Lines decoded before raw fax data is recognised.
const FAX_LINES: usize = 16;

/// Raw CCITT Group 3 fax data (one-dimensional, T.4), as fax software writes it without a TIFF
/// wrapper. It has no signature: it starts with an end-of-line code (eleven zero bits and a
/// one, after fill bits), and its first [`FAX_LINES`] lines decode to one width. Any 16 bytes
/// rarely start that way, and random ones never decode to lines of one width. Two-dimensional
/// Group 3 data, which the `fax` crate does not decode, stays `unknown`.
fn raw_fax(content: &[u8]) -> bool {
    if content.len() < 64 || content[0] != 0 || content[1] >= 0x20 {
        return false;
    }
    let head = content[..content.len().min(64 << 10)]
        .iter()
        .map(|&b| Ok::<u8, ()>(b));
    let Ok(mut decoder) = fax::decoder::Group3Decoder::new(head) else {
        return false;
    };
    let mut width = None;
    for _ in 0..FAX_LINES {
        if decoder.advance().is_err() {
            return false;
        }
        let line_width = decoder.transitions().last().copied().unwrap_or(0);
        if line_width == 0 || width.is_some_and(|w| w != line_width) {
            return false;
        }
        width = Some(line_width);
    }
    true
}

/// The kind behind an `infer` match, if one guichet knows.
fn kind_from_infer(t: &infer::Type) -> Option<Kind> {
    Some(match t.mime_type() {
        "application/pdf" => Kind::Pdf,
        "image/jpeg" => Kind::Jpeg,
        "image/png" => Kind::Png,
        "image/tiff" => Kind::Tiff,
        "image/webp" => Kind::Webp,
        "image/gif" => Kind::Gif,
        "image/bmp" => Kind::Bmp,
        "image/heif" => Kind::Heic,
        "image/avif" => Kind::Avif,
        "image/jp2" => Kind::Jp2,
        _ => return None,
    })
}

/// Program signatures, checked before `infer` (which wants longer inputs for some).
fn executable(content: &[u8]) -> Option<Detected> {
    let (name, mime) = if content.starts_with(b"\x7fELF") {
        ("elf", "application/x-executable")
    } else if content.starts_with(b"MZ") && content.len() >= 64 {
        ("exe", "application/vnd.microsoft.portable-executable")
    } else if [
        &[0xFEu8, 0xED, 0xFA, 0xCE][..],
        &[0xFE, 0xED, 0xFA, 0xCF],
        &[0xCE, 0xFA, 0xED, 0xFE],
        &[0xCF, 0xFA, 0xED, 0xFE],
    ]
    .iter()
    .any(|m| content.starts_with(m))
    {
        ("macho", "application/x-mach-binary")
    } else {
        return None;
    };
    let mut found = Detected::other(name, mime);
    found.executable = true;
    Some(found)
}

fn by_magic(content: &[u8]) -> Option<Detected> {
    if let Some(found) = executable(content) {
        return Some(found);
    }
    let t = infer::get(content)?;
    if t.matcher_type() == infer::MatcherType::Text {
        return None; // markup and scripts: told apart by `by_text`
    }
    if let Some(kind) = kind_from_infer(&t) {
        // infer takes `%PDF` anywhere in the first 1024 bytes for a PDF; a header is `%PDF-`
        // within the same window as `after_junk`, and the offset is that one, never a later,
        // embedded document's (a fuzz find: tests/fuzz-regressions/).
        if kind == Kind::Pdf {
            return after_junk(content).filter(|d| d.kind == Some(Kind::Pdf));
        }
        return Some(Detected::kind(kind, 0));
    }
    let name = match t.extension() {
        "tif" => "tiff",
        "jpg" => "jpeg",
        "ps" => "postscript",
        "sh" => "shell_script",
        "mach" => "macho",
        other => other,
    };
    let mut found = Detected::other(name, t.mime_type());
    found.executable = matches!(
        t.extension(),
        "elf" | "exe" | "dll" | "mach" | "class" | "dex" | "dey" | "wasm" | "obj" | "sh" | "bc"
    );
    if t.extension() == "cr2" {
        // A Canon raw file is a TIFF container, but not a document image: refuse it by name.
        found.name = "cr2".to_string();
    }
    Some(found)
}

/// Text formats: markup that can carry script, PostScript, plain text.
fn by_text(content: &[u8]) -> Option<Detected> {
    let head = &content[..content.len().min(4096)];
    let text = String::from_utf8_lossy(head);
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    let lower = trimmed.to_ascii_lowercase();
    if lower.starts_with("%!ps") || lower.starts_with("%!") && lower.contains("adobe") {
        return Some(Detected::other("postscript", "application/postscript"));
    }
    if lower.starts_with("#!") {
        let mut found = Detected::other("shell_script", "text/x-shellscript");
        found.executable = true;
        return Some(found);
    }
    if lower.contains("<svg") {
        return Some(Detected::other("svg", "image/svg+xml"));
    }
    if lower.starts_with("<!doctype html")
        || lower.starts_with("<html")
        || lower.contains("<script")
        || lower.contains("<body")
    {
        return Some(Detected::other("html", "text/html"));
    }
    if lower.starts_with("<?php") {
        return Some(Detected::other("php", "application/x-php"));
    }
    if lower.starts_with("<?xml") {
        return Some(Detected::other("xml", "application/xml"));
    }
    let printable = head
        .iter()
        .filter(|&&b| {
            b == b'\n' || b == b'\r' || b == b'\t' || (0x20..0x7f).contains(&b) || b >= 0x80
        })
        .count();
    if std::str::from_utf8(head).is_ok() && printable == head.len() {
        return Some(Detected::other("text", "text/plain"));
    }
    None
}

/// A PDF header or JPEG start of image after junk, within [`HEADER_SEARCH_WINDOW`].
fn after_junk(content: &[u8]) -> Option<Detected> {
    let window = header_window(content);
    if let Some(pos) = find(window, b"%PDF-") {
        return Some(Detected::kind(Kind::Pdf, pos));
    }
    if let Some(pos) = find(window, &[0xFF, 0xD8, 0xFF]) {
        return Some(Detected::kind(Kind::Jpeg, pos));
    }
    None
}

/// Where a signature is looked for after junk: [`HEADER_SEARCH_WINDOW`] bytes, and room for
/// a signature starting at its last byte.
pub(crate) fn header_window(content: &[u8]) -> &[u8] {
    &content[..content.len().min(HEADER_SEARCH_WINDOW + 8)]
}

/// The first position of `needle` in `hay`.
pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    memchr::memmem::find(hay, needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_magic() {
        assert_eq!(detect(b"%PDF-1.4\n%%EOF").kind, Some(Kind::Pdf));
        assert_eq!(
            detect(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10]).kind,
            Some(Kind::Jpeg)
        );
        assert_eq!(
            detect(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").kind,
            Some(Kind::Png)
        );
        assert_eq!(detect(b"GIF89a\x01\0\x01\0").kind, Some(Kind::Gif));
        assert_eq!(detect(b"II*\0\x08\0\0\0\0\0\0\0").kind, Some(Kind::Tiff));
    }

    #[test]
    fn other_types_are_named() {
        assert_eq!(detect(b"").name, "empty");
        assert_eq!(detect(b"<!DOCTYPE html><html></html>").name, "html");
        assert_eq!(
            detect(b"<?xml version=\"1.0\"?><svg xmlns=\"x\"/>").name,
            "svg"
        );
        assert_eq!(detect(b"%!PS-Adobe-3.0\n").name, "postscript");
        let elf = detect(b"\x7fELF\x01\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x03\0");
        assert_eq!(elf.name, "elf");
        assert!(elf.executable);
        assert_eq!(detect(b"PK\x03\x04\x14\0\0\0").name, "zip");
        assert_eq!(detect(&[0u8, 1, 2, 3, 200, 201]).name, "unknown");
    }

    /// Raw Group 3 fax data: an end-of-line code, then `lines` times `pattern` (one coded
    /// line ending with its end-of-line code), the bits written from T.4's code tables.
    fn fax_lines(lines: usize, pattern: &[u8]) -> Vec<u8> {
        let mut out = vec![0x00, 0x01]; // fill bits, then EOL (0000 0000 0001)
        for _ in 0..lines {
            out.extend_from_slice(pattern);
        }
        out
    }

    #[test]
    fn raw_fax_is_told_from_its_lines() {
        // One all-white line of 1728 pixels: white makeup 1728 (010011011) and terminating
        // white 0 (00110101), then fill to the byte boundary and the EOL.
        // 0100 1101 1 | 0011 0101 | 000 (fill) | 0000 0000 0001 (EOL) -> 4D 9A 80 01
        let line = [0x4D, 0x9A, 0x80, 0x01];
        let fax = fax_lines(40, &line);
        assert_eq!(detect(&fax).name, "g3fax");
        assert_eq!(detect(&fax).kind, None);
        // The same start with lines that do not decode is not fax.
        let mut noise = fax_lines(0, &[]);
        noise.extend((0u32..200).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
        assert_eq!(detect(&noise).name, "unknown");
    }

    #[test]
    fn header_after_junk_is_found_with_its_offset() {
        let d = detect(b"leading junk\n%PDF-1.4\n");
        assert_eq!(d.kind, Some(Kind::Pdf));
        assert_eq!(d.offset, 13);
        let mut far = vec![0u8; 2000];
        far.extend_from_slice(b"%PDF-1.4\n");
        assert_eq!(detect(&far).kind, None);
    }
}
