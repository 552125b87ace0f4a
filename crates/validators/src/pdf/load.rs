//! Loading: a lenient lopdf load (it repairs what it can), then the judgement of what was
//! repaired.
//!
//! Decisions:
//! - A strict load says whether the file needed repair. Before it, bytes after the version on
//!   the header line (`%PDF-1.1 `, a binary marker on the same line) are blanked in a copy
//!   of the same length: every reader ignores them, so they are not damage.
//! - Cross-reference data that lopdf had to rebuild by scanning the file (missing or broken
//!   `xref`, trailer, `/Prev` chain) is damage: `pdf_malformed` (`pdf_truncated` without
//!   `%%EOF`). An offset that was only a few bytes off is noted `pdf_repaired`.
//! - A stream without a usable `/Length` is read up to its `endstream` keyword, as every
//!   viewer does; the file is then verified in full and noted `pdf_repaired`.

use lopdf::xref::XrefRecovery;
use lopdf::{Document, LoadOptions, Object, ObjectId};

use crate::guard::no_panic;
use crate::reason::ReasonCode;
use crate::{Findings, Limits};

/// Loads the document leniently and judges the repairs; `None` when it cannot be read.
pub(super) fn load(
    content: &[u8],
    has_eof: bool,
    limits: &Limits,
    f: &mut Findings,
) -> Option<Document> {
    let mut doc =
        match no_panic(|| Document::load_mem_with_options(content, options(limits, false))) {
            Ok(Ok(doc)) => doc,
            Ok(Err(e)) => {
                refuse_load_error(&e, has_eof, content, f);
                return None;
            }
            Err(panic) => {
                f.refuse(ReasonCode::PdfMalformed, panic);
                return None;
            }
        };
    judge_repairs(&doc, content, has_eof, limits, f);
    for id in recover_unlengthed_streams(&mut doc, content) {
        f.note(
            ReasonCode::PdfRepaired,
            format!(
                "stream {} {} has no /Length; read up to its endstream",
                id.0, id.1
            ),
        );
    }
    Some(doc)
}

fn options(limits: &Limits, strict: bool) -> LoadOptions {
    LoadOptions {
        strict,
        max_decompressed_size: Some(limits.max_stream_bytes),
        ..LoadOptions::default()
    }
}

fn damage_code(has_eof: bool) -> ReasonCode {
    if has_eof {
        ReasonCode::PdfMalformed
    } else {
        ReasonCode::PdfTruncated
    }
}

/// Compares the lenient load with a strict one and with what lopdf says it recovered.
fn judge_repairs(doc: &Document, content: &[u8], has_eof: bool, limits: &Limits, f: &mut Findings) {
    let header_blanked = blank_header_line(content);
    let bytes = header_blanked.as_deref().unwrap_or(content);
    let strict = no_panic(|| Document::load_mem_with_options(bytes, options(limits, true)));
    if let Ok(Err(e)) = strict {
        if limits.accept_repaired_pdf {
            f.note(ReasonCode::PdfRepaired, format!("read after repair: {e}"));
        } else {
            f.refuse(
                damage_code(has_eof),
                format!("damaged, readable only after repair: {e}"),
            );
        }
        return;
    }
    match doc.xref_recovery {
        Some(XrefRecovery::Reconstructed) if !limits.accept_repaired_pdf => f.refuse(
            damage_code(has_eof),
            "the cross-reference data is unusable; the file reads only after a rebuild by scanning",
        ),
        Some(recovery) => f.note(
            ReasonCode::PdfRepaired,
            format!("cross-reference data repaired ({recovery:?})"),
        ),
        None => {}
    }
}

/// A copy whose header line keeps only `%PDF-x.y`, the rest blanked with line feeds (same
/// length, so every offset holds); `None` when the header line has nothing after the version.
fn blank_header_line(content: &[u8]) -> Option<Vec<u8>> {
    let rest = content.strip_prefix(b"%PDF-")?;
    let version = rest
        .iter()
        .take_while(|c| c.is_ascii_digit() || **c == b'.')
        .count();
    let start = 5 + version;
    let end = start
        + content[start..]
            .iter()
            .take_while(|c| !matches!(c, b'\r' | b'\n'))
            .count();
    if end == start {
        return None;
    }
    let mut copy = content.to_vec();
    copy[start..end].fill(b'\n');
    Some(copy)
}

/// Fills the streams lopdf left empty for want of a `/Length` with their data up to
/// `endstream`; returns their ids.
fn recover_unlengthed_streams(doc: &mut Document, content: &[u8]) -> Vec<ObjectId> {
    let mut recovered = Vec::new();
    for (id, object) in doc.objects.iter_mut() {
        let Object::Stream(stream) = object else {
            continue;
        };
        let has_length = stream
            .dict
            .get(b"Length")
            .is_ok_and(|l| matches!(l, Object::Integer(_) | Object::Reference(_)));
        if has_length || !stream.content.is_empty() {
            continue;
        }
        let Some(start) = stream.start_position.filter(|s| *s <= content.len()) else {
            continue;
        };
        let Some(len) = crate::detect::find(&content[start..], b"endstream") else {
            continue;
        };
        let mut data = &content[start..start + len];
        for eol in [&b"\n"[..], b"\r"] {
            data = data.strip_suffix(eol).unwrap_or(data);
        }
        stream.set_content(data.to_vec());
        recovered.push(*id);
    }
    recovered
}

fn refuse_load_error(e: &lopdf::Error, has_eof: bool, content: &[u8], f: &mut Findings) {
    use lopdf::Error as E;
    let detail = format!("lopdf: {e}");
    let code = match e {
        E::Decompress(lopdf::DecompressError::MemoryLimitExceeded { .. }) => {
            ReasonCode::PdfDecompressionBomb
        }
        E::InvalidPassword
        | E::Decryption(_)
        | E::UnsupportedSecurityHandler(_)
        | E::AlreadyEncrypted => ReasonCode::PdfEncrypted,
        E::RecursionLimit | E::ReferenceLimit => ReasonCode::PdfTooComplex,
        _ if !has_eof => ReasonCode::PdfTruncated,
        _ if crate::detect::find(content, b"/Encrypt").is_some() => ReasonCode::PdfEncrypted,
        _ => ReasonCode::PdfMalformed,
    };
    f.refuse(code, detail);
}
