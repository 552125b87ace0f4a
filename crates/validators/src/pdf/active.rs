//! Active content: JavaScript, Launch, embedded files, additional actions, open actions, XFA.

use lopdf::{Dictionary, Document, Object};

use super::object::{dict_of, lossy, name, name_is, resolve};
use crate::reason::ReasonCode;
use crate::{Findings, Limits};

/// Every object, every nested value: JavaScript, Launch, embedded files, additional actions.
/// Iterative, so hostile nesting cannot overflow the stack; nesting beyond the limit refuses.
pub(super) fn scan_active_content(doc: &Document, limits: &Limits, f: &mut Findings) {
    let mut found: Vec<(ReasonCode, String)> = Vec::new();
    let mut flag = |code: ReasonCode, detail: String| {
        if !found.iter().any(|(c, _)| *c == code) {
            found.push((code, detail));
        }
    };
    let mut too_deep = None;
    for (id, object) in &doc.objects {
        let mut stack: Vec<(&Object, usize)> = vec![(object, 0)];
        while let Some((obj, depth)) = stack.pop() {
            if depth > limits.max_nesting {
                too_deep.get_or_insert(*id);
                continue;
            }
            let dict = match obj {
                Object::Array(items) => {
                    stack.extend(items.iter().map(|o| (o, depth + 1)));
                    continue;
                }
                Object::Dictionary(d) => d,
                Object::Stream(s) => {
                    if let Some(why) = stream_problem(&s.dict) {
                        flag(
                            ReasonCode::PdfMalformed,
                            format!("stream object {} {}: {why}", id.0, id.1),
                        );
                    }
                    &s.dict
                }
                _ => continue,
            };
            let at = format!("object {} {}", id.0, id.1);
            for (key, value) in dict.iter() {
                match key.as_slice() {
                    b"JS" | b"JavaScript" => flag(
                        ReasonCode::PdfJavascript,
                        format!("/{} in {at}", lossy(key)),
                    ),
                    b"S" if name_is(Some(value), b"JavaScript") => flag(
                        ReasonCode::PdfJavascript,
                        format!("JavaScript action in {at}"),
                    ),
                    b"S" if name_is(Some(value), b"Launch") => {
                        flag(ReasonCode::PdfLaunch, format!("Launch action in {at}"))
                    }
                    b"EmbeddedFiles" | b"EF" | b"RichMediaContent" => flag(
                        ReasonCode::PdfEmbeddedFile,
                        format!("/{} in {at}", lossy(key)),
                    ),
                    b"Type" if name_is(Some(value), b"EmbeddedFile") => flag(
                        ReasonCode::PdfEmbeddedFile,
                        format!("embedded file stream {at}"),
                    ),
                    b"Subtype"
                        if matches!(value, Object::Name(n)
                            if matches!(n.as_slice(), b"FileAttachment" | b"RichMedia" | b"Movie" | b"Sound" | b"3D")) =>
                    {
                        flag(
                            ReasonCode::PdfEmbeddedFile,
                            format!("/{} annotation in {at}", name(value)),
                        )
                    }
                    b"AA" if dict_of(doc, value).is_some_and(|d| !d.is_empty()) => {
                        flag(ReasonCode::PdfAdditionalActions, format!("/AA in {at}"))
                    }
                    _ => {}
                }
                stack.push((value, depth + 1));
            }
        }
    }
    if let Some(id) = too_deep {
        f.refuse(
            ReasonCode::PdfTooComplex,
            format!(
                "object {} {} nests deeper than {}",
                id.0, id.1, limits.max_nesting
            ),
        );
    }
    for (code, detail) in found {
        f.refuse(code, detail);
    }
}

/// The filters of ISO 32000-1 (PDF 1.7), the ones every reader decodes.
const STANDARD_FILTERS: [&[u8]; 10] = [
    b"ASCIIHexDecode",
    b"ASCII85Decode",
    b"LZWDecode",
    b"FlateDecode",
    b"RunLengthDecode",
    b"CCITTFaxDecode",
    b"JBIG2Decode",
    b"DCTDecode",
    b"JPXDecode",
    b"Crypt",
];

/// A stream dictionary with a non-standard filter, or with
/// predictor parameters out of range (integer overflows in readers).
fn stream_problem(dict: &Dictionary) -> Option<String> {
    let filters: Vec<&Object> = match dict.get(b"Filter") {
        Ok(Object::Array(a)) => a.iter().collect(),
        Ok(other) => vec![other],
        Err(_) => vec![],
    };
    for filter in filters {
        match filter {
            Object::Name(n) if STANDARD_FILTERS.contains(&n.as_slice()) => {}
            Object::Name(n) => return Some(format!("non-standard filter /{}", lossy(n))),
            _ => {}
        }
    }
    let params: Vec<&Dictionary> = match dict.get(b"DecodeParms") {
        Ok(Object::Dictionary(d)) => vec![d],
        Ok(Object::Array(a)) => a.iter().filter_map(|o| o.as_dict().ok()).collect(),
        _ => vec![],
    };
    for p in params {
        let get = |k: &[u8]| p.get(k).ok().and_then(|o| o.as_i64().ok());
        if get(b"Predictor").is_some_and(|v| v >= 2) {
            let columns = get(b"Columns").unwrap_or(1);
            let colors = get(b"Colors").unwrap_or(1);
            let bpc = get(b"BitsPerComponent").unwrap_or(8);
            if !(1..=1 << 20).contains(&columns)
                || !(1..=32).contains(&colors)
                || ![1, 2, 4, 8, 16].contains(&bpc)
            {
                return Some(format!(
                    "predictor parameters out of range (Columns {columns}, Colors {colors}, BitsPerComponent {bpc})"
                ));
            }
        }
    }
    None
}

/// Open action and XFA, both decided at the catalog.
pub(super) fn check_catalog(doc: &Document, catalog: &Dictionary, f: &mut Findings) {
    if let Ok(action) = catalog.get(b"OpenAction") {
        match resolve(doc, action) {
            // A destination: open at a page.
            Some(Object::Array(_)) | Some(Object::Name(_)) | Some(Object::String(..)) | None => {}
            Some(Object::Dictionary(d)) if name_is(d.get(b"S").ok(), b"GoTo") || !d.has(b"S") => {}
            Some(other) => {
                let kind = dict_of(doc, other)
                    .and_then(|d| d.get(b"S").ok())
                    .map(name)
                    .unwrap_or_else(|| other.enum_variant().to_string());
                f.refuse(
                    ReasonCode::PdfOpenAction,
                    format!("OpenAction of type {kind}"),
                );
            }
        }
    }
    let needs_rendering = matches!(catalog.get(b"NeedsRendering"), Ok(Object::Boolean(true)));
    let acroform = catalog.get(b"AcroForm").ok().and_then(|o| dict_of(doc, o));
    let xfa = acroform.is_some_and(|a| a.has(b"XFA"));
    let has_fields = acroform
        .and_then(|a| a.get(b"Fields").ok())
        .and_then(|o| resolve(doc, o))
        .is_some_and(|o| matches!(o, Object::Array(items) if !items.is_empty()));
    if needs_rendering || (xfa && !has_fields) {
        f.refuse(
            ReasonCode::PdfXfa,
            if needs_rendering {
                "/NeedsRendering true (dynamic XFA)"
            } else {
                "XFA form without AcroForm fields"
            },
        );
    } else if xfa {
        f.note(
            ReasonCode::PdfXfaForm,
            "XFA next to AcroForm fields (static or hybrid form)",
        );
    }
}
