//! Active content: JavaScript, Launch, embedded files, additional actions, open actions, XFA.

use std::collections::HashSet;

use lopdf::{Dictionary, Document, Object, ObjectId};

use super::object::{dict_of, lossy, name, name_is, resolve};
use crate::reason::ReasonCode;
use crate::{Findings, Limits, clock};

/// Triggers of a form field's additional actions that run while the user fills the form:
/// keystroke, format, validate, calculate (ISO 32000-1, table 196). Official forms use them to
/// format amounts and dates; viewers do not run them on opening the document.
const FORM_TRIGGERS: [&[u8]; 4] = [b"K", b"F", b"V", b"C"];

/// What the scan found, each code once with its first detail.
#[derive(Default)]
struct Found {
    refusals: Vec<(ReasonCode, String)>,
    form_scripts: usize,
    /// [`Limits::accept_form_scripts`].
    form_ok: bool,
}

impl Found {
    fn flag(&mut self, code: ReasonCode, detail: String) {
        if !self.refusals.iter().any(|(c, _)| *c == code) {
            self.refusals.push((code, detail));
        }
    }
}

/// Objects whose role is known before the scan: the actions of form-field triggers and the
/// XFA packets (LiveCycle types them `/EmbeddedFile`, yet they are the form, not attachments).
#[derive(Default)]
struct Roles {
    form_actions: HashSet<ObjectId>,
    xfa_packets: HashSet<ObjectId>,
}

/// Every object, every nested value: JavaScript, Launch, embedded files, additional actions.
/// Iterative, so hostile nesting cannot overflow the stack; nesting beyond the limit refuses.
///
/// Decision: JavaScript refuses wherever it is, by default. With
/// [`Limits::accept_form_scripts`], JavaScript reached only from the keystroke, format,
/// validate and calculate triggers of form fields is accepted with the note
/// `pdf_form_scripts`; JavaScript anywhere else (document-level scripts, open actions, page or
/// document `/AA`, links and other annotations, bookmarks) still refuses. Not the default:
/// Acrobat runs format and calculate scripts when it draws the fields, that is on opening,
/// and the corpus counts a lone date-format script (pdfium `annot_javascript.pdf`) as hostile.
pub(super) fn scan_active_content(doc: &Document, limits: &Limits, f: &mut Findings) {
    let form_ok = limits.accept_form_scripts;
    let roles = roles(doc, form_ok);
    let mut found = Found {
        form_ok,
        ..Found::default()
    };
    let mut too_deep = None;
    for (id, object) in &doc.objects {
        if clock::over() {
            break;
        }
        let in_form_action = roles.form_actions.contains(id);
        // (value, depth, reached from a form-field trigger)
        let mut stack: Vec<(&Object, usize, bool)> = vec![(object, 0, in_form_action)];
        let mut values = 0usize;
        while let Some((obj, depth, form)) = stack.pop() {
            if depth > limits.max_nesting {
                too_deep.get_or_insert(*id);
                continue;
            }
            values += 1;
            if values > limits.max_pdf_object_values {
                found.flag(
                    ReasonCode::PdfTooComplex,
                    format!(
                        "object {} {} holds more than {} values",
                        id.0, id.1, limits.max_pdf_object_values
                    ),
                );
                break;
            }
            let dict = match obj {
                Object::Array(items) => {
                    stack.extend(items.iter().map(|o| (o, depth + 1, form)));
                    continue;
                }
                Object::Dictionary(d) => d,
                Object::Stream(s) => {
                    if let Some(why) = stream_problem(&s.dict) {
                        found.flag(
                            ReasonCode::PdfMalformed,
                            format!("stream object {} {}: {why}", id.0, id.1),
                        );
                    }
                    if !roles.xfa_packets.contains(id)
                        && name_is(s.dict.get(b"Type").ok(), b"EmbeddedFile")
                    {
                        found.flag(
                            ReasonCode::PdfEmbeddedFile,
                            format!("embedded file stream object {} {}", id.0, id.1),
                        );
                    }
                    &s.dict
                }
                _ => continue,
            };
            let at = format!("object {} {}", id.0, id.1);
            check_dict(doc, dict, form, &at, &mut found);
            let field = is_field(dict);
            for (key, value) in dict.iter() {
                if key == b"AA" && field {
                    // Form triggers carry their actions as form scripts; others do not.
                    if let Some(aa) = dict_of(doc, value) {
                        for (trigger, action) in aa.iter() {
                            let form = form_ok && FORM_TRIGGERS.contains(&trigger.as_slice());
                            stack.push((action, depth + 2, form));
                        }
                    }
                    continue;
                }
                stack.push((value, depth + 1, form));
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
    for (code, detail) in found.refusals {
        f.refuse(code, detail);
    }
    if found.form_scripts > 0 {
        f.note(
            ReasonCode::PdfFormScripts,
            format!(
                "{} form-field script(s) (keystroke, format, validate, calculate)",
                found.form_scripts
            ),
        );
    }
}

/// A form field or its widget annotation.
fn is_field(dict: &Dictionary) -> bool {
    dict.has(b"FT") || name_is(dict.get(b"Subtype").ok(), b"Widget")
}

/// The keys of one dictionary that make active content.
fn check_dict(doc: &Document, dict: &Dictionary, form: bool, at: &str, found: &mut Found) {
    let is_js = name_is(dict.get(b"S").ok(), b"JavaScript") || dict.has(b"JS");
    if is_js && form {
        found.form_scripts += 1;
    } else if is_js {
        found.flag(
            ReasonCode::PdfJavascript,
            format!("JavaScript action in {at}"),
        );
    }
    if name_is(dict.get(b"S").ok(), b"Launch") {
        found.flag(ReasonCode::PdfLaunch, format!("Launch action in {at}"));
    }
    for (key, value) in dict.iter() {
        match key.as_slice() {
            b"JavaScript" => found.flag(
                ReasonCode::PdfJavascript,
                format!("document-level JavaScript (/Names /JavaScript) in {at}"),
            ),
            // `/EF` holds the embedded file of a file specification; an array there is the
            // usage-rights list of a UR3 signature (`/EF [/Create /Delete ...]`), not a file.
            b"EF" if dict_of(doc, value).is_none() => {}
            b"EmbeddedFiles" | b"EF" | b"RichMediaContent" => found.flag(
                ReasonCode::PdfEmbeddedFile,
                format!("/{} in {at}", lossy(key)),
            ),
            b"Subtype"
                if matches!(value, Object::Name(n)
                    if matches!(n.as_slice(), b"FileAttachment" | b"RichMedia" | b"Movie" | b"Sound" | b"3D")) =>
            {
                found.flag(
                    ReasonCode::PdfEmbeddedFile,
                    format!("/{} annotation in {at}", name(value)),
                )
            }
            b"AA" => check_additional_actions(doc, dict, value, at, found),
            _ => {}
        }
    }
}

/// `/AA` refuses, except on a form field whose triggers are all form triggers.
fn check_additional_actions(
    doc: &Document,
    owner: &Dictionary,
    value: &Object,
    at: &str,
    found: &mut Found,
) {
    let Some(aa) = dict_of(doc, value) else {
        return;
    };
    let other: Vec<String> = aa
        .iter()
        .filter(|(trigger, _)| {
            !(found.form_ok && is_field(owner) && FORM_TRIGGERS.contains(&trigger.as_slice()))
        })
        .map(|(trigger, _)| lossy(trigger))
        .collect();
    if !other.is_empty() {
        found.flag(
            ReasonCode::PdfAdditionalActions,
            format!("/AA ({}) in {at}", other.join(", ")),
        );
    }
}

/// The form-trigger actions and XFA packets held by reference.
fn roles(doc: &Document, form_ok: bool) -> Roles {
    let mut roles = Roles::default();
    for object in doc.objects.values().filter(|_| form_ok) {
        let Some(dict) = object.as_dict().ok().filter(|d| is_field(d)) else {
            continue;
        };
        let Some(aa) = dict.get(b"AA").ok().and_then(|v| dict_of(doc, v)) else {
            continue;
        };
        for (trigger, action) in aa.iter() {
            if let Object::Reference(id) = action
                && FORM_TRIGGERS.contains(&trigger.as_slice())
            {
                roles.form_actions.insert(*id);
            }
        }
    }
    let xfa = doc
        .catalog()
        .ok()
        .and_then(|c| c.get(b"AcroForm").ok())
        .and_then(|a| dict_of(doc, a))
        .and_then(|a| a.get(b"XFA").ok());
    let packets: Vec<&Object> = match xfa {
        Some(Object::Array(items)) => items.iter().collect(),
        Some(other) => vec![other],
        None => vec![],
    };
    for packet in packets {
        if let Object::Reference(id) = packet {
            roles.xfa_packets.insert(*id);
        }
    }
    roles
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
    let (xfa, needs_rendering) = xfa_state(doc, catalog);
    if needs_rendering && !xfa {
        f.refuse(
            ReasonCode::PdfXfa,
            "/NeedsRendering true, but no XFA form to render",
        );
    } else if xfa {
        f.note(
            ReasonCode::PdfXfaForm,
            "XFA next to AcroForm fields (static or hybrid form)",
        );
    }
}

/// Whether the catalog holds an XFA form, and whether it asks the viewer to render it.
fn xfa_state(doc: &Document, catalog: &Dictionary) -> (bool, bool) {
    let needs_rendering = matches!(catalog.get(b"NeedsRendering"), Ok(Object::Boolean(true)));
    let acroform = catalog.get(b"AcroForm").ok().and_then(|o| dict_of(doc, o));
    let xfa = acroform.is_some_and(|a| a.has(b"XFA"));
    (xfa, needs_rendering)
}

/// Why the document is a dynamic XFA form, if it is one: its pages are drawn by the viewer
/// from the XFA template and scripts (Adobe LiveCycle), so its PDF pages say nothing of it.
///
/// Decision: a dynamic XFA form is a valid document of a kind guichet does not support
/// (`kind_not_supported`), not a damaged PDF; the candidate prints it to PDF.
pub(super) fn dynamic_xfa(doc: &Document, catalog: &Dictionary) -> Option<&'static str> {
    let (xfa, needs_rendering) = xfa_state(doc, catalog);
    match (xfa, needs_rendering, has_form_fields(doc, catalog)) {
        (true, true, _) => Some("a dynamic XFA form (/NeedsRendering true)"),
        (true, false, false) => Some("an XFA form without AcroForm fields (dynamic)"),
        _ => None,
    }
}

/// Whether the catalog's AcroForm holds fields.
fn has_form_fields(doc: &Document, catalog: &Dictionary) -> bool {
    catalog
        .get(b"AcroForm")
        .ok()
        .and_then(|o| dict_of(doc, o))
        .and_then(|a| a.get(b"Fields").ok())
        .and_then(|o| resolve(doc, o))
        .is_some_and(|o| matches!(o, Object::Array(items) if !items.is_empty()))
}

/// Whether the document is an interactive form driven by JavaScript: form fields, and active
/// content that is JavaScript and the actions that run it (document, page and field `/AA`, an
/// open action), nothing else — no launch, no embedded file, no rich media.
///
/// Decision: such a form is a valid document of a kind guichet does not support
/// (`kind_not_supported`), as a dynamic XFA form is: what it shows depends on scripts guichet
/// does not run. Official forms are made this way (the corpus's tax form 160F runs a script on
/// opening and on printing), and so are the hostile files that test viewers' script actions;
/// nothing in the file tells them apart, and both are refused. The candidate prints the form
/// to PDF, which keeps the filled fields and drops the scripts.
pub(super) fn scripted_form(doc: &Document, catalog: &Dictionary, scan: &Findings) -> bool {
    let script_codes = [
        ReasonCode::PdfJavascript,
        ReasonCode::PdfAdditionalActions,
        ReasonCode::PdfOpenAction,
    ];
    has_form_fields(doc, catalog)
        && scan
            .reasons
            .iter()
            .any(|r| r.code == ReasonCode::PdfJavascript)
        && scan.reasons.iter().all(|r| script_codes.contains(&r.code))
}
