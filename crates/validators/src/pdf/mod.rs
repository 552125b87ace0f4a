//! PDF: parsed with `lopdf` under a decompression bound, then verified in depth.
//!
//! Order: framing (what follows the last `%%EOF`), load (lenient: lopdf repairs damaged
//! cross-reference data and says so), encryption, object count, active content over every
//! object, the page tree (walked iteratively, each node once, depth bounded), and every page:
//! size, content streams decoded under the stream and total bounds, images' declared pixels.
//!
//! Decisions:
//! - Encrypted with a user password (needs one to open): `pdf_encrypted`. Encrypted with an
//!   empty user password (owner password only, opens without prompt): `pdf_restricted`, also
//!   refused: staff must be able to print and archive the piece, and the rest of the checks
//!   then run on the decrypted objects and are reported too.
//! - A file whose cross-reference data lopdf had to rebuild is accepted, with the note
//!   `pdf_repaired`, when every other check then passes (README of the corpus: a damaged file
//!   that can be read and verified in full may be accepted).
//! - `/OpenAction` that only shows a page (a destination, or a `GoTo` action) is harmless and
//!   passes; any other open action is refused.
//! - A static or hybrid XFA form (XFA next to AcroForm fields and real pages) passes with the
//!   note `pdf_xfa_form`; a dynamic one (`/NeedsRendering true`, or XFA without fields) is
//!   refused with `pdf_xfa`.
//! - Every object is visited, reachable or not: active content hidden in an orphan object is
//!   still refused.

mod active;
mod content;
mod object;
mod pages;
#[cfg(test)]
mod tests;

use lopdf::{Document, LoadOptions};

use active::{check_catalog, scan_active_content};
use pages::{check_outlines, check_pages};

use crate::guard::no_panic;
use crate::reason::ReasonCode;
use crate::{Findings, Limits};

pub(crate) fn check(content: &[u8], limits: &Limits) -> Findings {
    let mut f = Findings::default();
    let has_eof = check_framing(content, &mut f);

    let options = LoadOptions {
        max_decompressed_size: Some(limits.max_stream_bytes),
        ..LoadOptions::default()
    };
    let doc = match no_panic(|| Document::load_mem_with_options(content, options)) {
        Ok(Ok(doc)) => doc,
        Ok(Err(e)) => {
            refuse_load_error(&e, has_eof, content, &mut f);
            return f;
        }
        Err(panic) => {
            f.refuse(ReasonCode::PdfMalformed, panic);
            return f;
        }
    };
    // Lenient loading repairs what it can; a strict load says whether there was anything to
    // repair. Every valid file of the corpus loads strictly.
    let strict = LoadOptions {
        strict: true,
        max_decompressed_size: Some(limits.max_stream_bytes),
        ..LoadOptions::default()
    };
    if let Ok(Err(e)) = no_panic(|| Document::load_mem_with_options(content, strict)) {
        if limits.accept_repaired_pdf {
            f.note(ReasonCode::PdfRepaired, format!("read after repair: {e}"));
        } else {
            let code = if has_eof {
                ReasonCode::PdfMalformed
            } else {
                ReasonCode::PdfTruncated
            };
            f.refuse(code, format!("damaged, readable only after repair: {e}"));
        }
    }
    match no_panic(|| verify(&doc, has_eof, limits, &mut f)) {
        Ok(()) => {}
        Err(panic) => f.refuse(ReasonCode::PdfMalformed, panic),
    }
    f
}

/// Looks at what follows the last `%%EOF`; returns whether there is one.
fn check_framing(content: &[u8], f: &mut Findings) -> bool {
    let Some(pos) = rfind(content, b"%%EOF") else {
        return false;
    };
    let tail = &content[pos + 5..];
    let junk = tail
        .iter()
        .filter(|b| !b.is_ascii_whitespace() && **b != 0)
        .count();
    if junk > 0 {
        f.refuse(
            ReasonCode::DataAfterEnd,
            format!(
                "{} bytes after the last %%EOF, {junk} of them not blank",
                tail.len()
            ),
        );
    }
    true
}

fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
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

fn verify(doc: &Document, has_eof: bool, limits: &Limits, f: &mut Findings) {
    if doc.trailer.has(b"Encrypt") && doc.encryption_state.is_none() {
        return f.refuse(
            ReasonCode::PdfEncrypted,
            "a password is needed to open the document",
        );
    }
    if doc.encryption_state.is_some() {
        f.refuse(
            ReasonCode::PdfRestricted,
            "encrypted with an empty user password (owner password only)",
        );
    }
    if doc.objects.len() > limits.max_pdf_objects {
        return f.refuse(
            ReasonCode::PdfTooComplex,
            format!(
                "{} objects, the limit is {}",
                doc.objects.len(),
                limits.max_pdf_objects
            ),
        );
    }
    if let Some(recovery) = doc.xref_recovery
        && !f
            .reasons
            .iter()
            .any(|r| matches!(r.code, ReasonCode::PdfMalformed | ReasonCode::PdfTruncated))
    {
        f.note(
            ReasonCode::PdfRepaired,
            format!("cross-reference data repaired ({recovery:?})"),
        );
    }
    scan_active_content(doc, limits, f);
    let catalog = match doc.catalog() {
        Ok(catalog) => catalog,
        Err(e) => {
            let code = if has_eof {
                ReasonCode::PdfStructure
            } else {
                ReasonCode::PdfTruncated
            };
            return f.refuse(code, format!("no document catalog: {e}"));
        }
    };
    check_catalog(doc, catalog, f);
    check_outlines(doc, catalog, limits, f);
    check_pages(doc, catalog, has_eof, limits, f);
}
