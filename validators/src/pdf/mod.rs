//! PDF: parsed with `lopdf` under a decompression bound, then verified in depth.
//!
//! Order: framing (what follows the last `%%EOF`), load ([`load`]: lenient, then what was
//! repaired is judged), encryption, dynamic XFA, active content over every object
//! ([`active`]), bookmarks and the page tree ([`pages`]), and every page's contents, resources
//! and images' declared size ([`content`]), then the size of every other stream ([`streams`]).
//!
//! Decisions:
//! - Encrypted with a user password (needs one to open): `pdf_encrypted`. Encrypted with an
//!   empty user password (owner password only, opens without prompt): `pdf_restricted`, also
//!   refused: staff must be able to print and archive the piece, and the rest of the checks
//!   then run on the decrypted objects and are reported too.
//! - Damage viewers repair silently (a stream without `/Length`, an offset a few bytes off) is
//!   accepted with the note `pdf_repaired` once the file is verified in full; cross-reference
//!   data rebuilt by scanning refuses (see [`load`]).
//! - `/OpenAction` that only shows a page (a destination, or a `GoTo` action) is harmless and
//!   passes; any other open action is refused.
//! - A static or hybrid XFA form (XFA next to AcroForm fields and real pages) passes with the
//!   note `pdf_xfa_form`. A dynamic one (`/NeedsRendering true`, or XFA without fields) is a
//!   valid document of a kind guichet does not support: `kind_not_supported`, alone, what the
//!   active-content scan found named in its detail. `/NeedsRendering` without any XFA is
//!   `pdf_xfa`.
//! - Every object is visited, reachable or not: active content hidden in an orphan object is
//!   still refused.

mod active;
mod content;
mod inflate;
mod load;
mod object;
mod pages;
mod second_reader;
mod streams;
mod syntax;
#[cfg(test)]
pub(crate) mod tests;

use lopdf::Document;

use active::{check_catalog, dynamic_xfa, scan_active_content, scripted_form};
use content::Budget;
use pages::{check_outlines, check_pages};
use streams::check_stream_sizes;

use crate::guard::no_panic;
use crate::reason::ReasonCode;
use crate::{Findings, Limits, clock};

pub(crate) fn check(content: &[u8], limits: &Limits) -> Findings {
    let mut f = Findings::default();
    let has_eof = check_framing(content, &mut f);
    let Some(doc) = load::load(content, has_eof, limits, &mut f) else {
        return f;
    };
    if clock::over() {
        return f;
    }
    match no_panic(|| verify(&doc, has_eof, limits, &mut f)) {
        Ok(()) => {}
        Err(panic) => f.refuse(ReasonCode::PdfMalformed, panic),
    }
    f
}

/// Looks at what follows the last `%%EOF`; returns whether there is one.
///
/// Decision: readers ignore what follows the end. Another file's stream there is a
/// `polyglot`; text is `data_after_end` (a message or script no reader shows, and the end
/// marker line of a hand-edited file); binary bytes (a scanner's buffer written past the end,
/// as some Canon devices do) are noted as repaired, since nothing of the document is lost.
fn check_framing(content: &[u8], f: &mut Findings) -> bool {
    let Some(pos) = rfind(content, b"%%EOF") else {
        return false;
    };
    let tail = &content[pos + 5..];
    let junk = || tail.iter().filter(|b| !b.is_ascii_whitespace() && **b != 0);
    if junk().next().is_none() {
        return true;
    }
    if let Some(what) = crate::polyglot::hidden_format(tail) {
        f.refuse(
            ReasonCode::Polyglot,
            format!("{what}, after the last %%EOF"),
        );
    } else if junk().all(u8::is_ascii_graphic) {
        f.refuse(
            ReasonCode::DataAfterEnd,
            format!(
                "{} bytes after the last %%EOF, {} of them text",
                tail.len(),
                junk().count()
            ),
        );
    } else {
        f.note(
            ReasonCode::PdfRepaired,
            format!(
                "{} bytes of binary data after the last %%EOF, which readers ignore",
                tail.len()
            ),
        );
    }
    true
}

/// The last position of `needle` in `hay`.
fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::rfind(hay, needle)
}

fn verify(doc: &Document, has_eof: bool, limits: &Limits, f: &mut Findings) {
    if doc.trailer.has(b"Encrypt") && doc.encryption_state.is_none() {
        let handler = doc
            .trailer
            .get(b"Encrypt")
            .ok()
            .and_then(|e| object::dict_of(doc, e))
            .and_then(|e| e.get(b"Filter").ok())
            .map(object::name)
            .filter(|handler| !handler.is_empty());
        let detail = match handler.as_deref() {
            Some("Standard") | None => "a password is needed to open the document".to_string(),
            Some(other) => format!(
                "encrypted with the {other} security handler: a certificate or key the \
                 recipient holds is needed to open the document"
            ),
        };
        return f.refuse(ReasonCode::PdfEncrypted, detail);
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
    let catalog = match doc.catalog() {
        Ok(catalog) => catalog,
        Err(e) => {
            scan_active_content(doc, limits, f);
            let code = if has_eof {
                ReasonCode::PdfStructure
            } else {
                ReasonCode::PdfTruncated
            };
            return f.refuse(code, format!("no document catalog: {e}"));
        }
    };
    if let Some(what) = dynamic_xfa(doc, catalog) {
        let mut scan = Findings::default();
        scan_active_content(doc, limits, &mut scan);
        let what = format!("{what}, drawn by Adobe Reader from its XFA template and scripts");
        return refuse_unsupported_form(&what, &scan, f);
    }
    let mut scan = Findings::default();
    scan_active_content(doc, limits, &mut scan);
    check_catalog(doc, catalog, &mut scan);
    if scripted_form(doc, catalog, &scan) {
        let what =
            "an interactive form driven by JavaScript, whose fields show what its scripts compute";
        return refuse_unsupported_form(what, &scan, f);
    }
    f.reasons.extend(scan.reasons);
    f.notes.extend(scan.notes);
    check_outlines(doc, catalog, limits, f);
    let repaired = f.notes.iter().any(|n| n.code == ReasonCode::PdfRepaired);
    let mut budget = Budget::new(repaired);
    check_pages(doc, catalog, has_eof, limits, &mut budget, f);
    if !f
        .reasons
        .iter()
        .any(|r| r.code == ReasonCode::PdfDecompressionBomb)
    {
        check_stream_sizes(doc, &budget.seen_streams, limits, f);
    }
}

/// A form guichet does not support (dynamic XFA, driven by JavaScript) is refused as such,
/// alone, like any other unsupported type; what the active-content scan found (`scan`) goes
/// into the detail for staff.
fn refuse_unsupported_form(what: &str, scan: &Findings, f: &mut Findings) {
    let mut codes: Vec<&str> = scan.reasons.iter().map(|r| r.code.as_str()).collect();
    codes.extend(scan.notes.iter().map(|r| r.code.as_str()));
    let carries = if codes.is_empty() {
        String::new()
    } else {
        format!("; it also carries: {}", codes.join(", "))
    };
    f.refuse(
        ReasonCode::KindNotSupported,
        format!("pdf: {what}; guichet cannot verify it{carries}"),
    );
}
