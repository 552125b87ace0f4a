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

use std::collections::HashSet;

use lopdf::{Dictionary, Document, LoadOptions, Object, ObjectId};

use crate::guard::no_panic;
use crate::reason::ReasonCode;
use crate::{Findings, Limits};

/// The largest page side the PDF format allows, in default user space units (200 inches).
const MAX_PAGE_SIDE: f64 = 14_400.0;

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

/// Follows references (bounded) to the object itself.
fn resolve<'a>(doc: &'a Document, mut obj: &'a Object) -> Option<&'a Object> {
    for _ in 0..32 {
        match obj {
            Object::Reference(id) => obj = doc.objects.get(id)?,
            other => return Some(other),
        }
    }
    None
}

fn dict_of<'a>(doc: &'a Document, obj: &'a Object) -> Option<&'a Dictionary> {
    match resolve(doc, obj)? {
        Object::Dictionary(d) => Some(d),
        Object::Stream(s) => Some(&s.dict),
        _ => None,
    }
}

fn name_is(obj: Option<&Object>, name: &[u8]) -> bool {
    matches!(obj, Some(Object::Name(n)) if n == name)
}

/// Every object, every nested value: JavaScript, Launch, embedded files, additional actions.
/// Iterative, so hostile nesting cannot overflow the stack; nesting beyond the limit refuses.
fn scan_active_content(doc: &Document, limits: &Limits, f: &mut Findings) {
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

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn name(obj: &Object) -> String {
    match obj {
        Object::Name(n) => lossy(n),
        _ => String::new(),
    }
}

/// Open action and XFA, both decided at the catalog.
fn check_catalog(doc: &Document, catalog: &Dictionary, f: &mut Findings) {
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

/// The bookmarks: a tree linked by /First and /Next; a node reached twice is a loop.
fn check_outlines(doc: &Document, catalog: &Dictionary, limits: &Limits, f: &mut Findings) {
    let Ok(Object::Reference(root)) = catalog.get(b"Outlines") else {
        return;
    };
    let mut seen = HashSet::new();
    let mut stack = vec![*root];
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            return f.refuse(
                ReasonCode::PdfStructure,
                format!(
                    "the bookmarks loop: object {} {} is reached twice",
                    id.0, id.1
                ),
            );
        }
        if seen.len() > limits.max_pdf_objects {
            return f.refuse(ReasonCode::PdfTooComplex, "too many bookmarks");
        }
        let Some(d) = doc.objects.get(&id).and_then(|o| dict_of(doc, o)) else {
            continue;
        };
        for key in [&b"First"[..], b"Next"] {
            if let Ok(Object::Reference(next)) = d.get(key) {
                stack.push(*next);
            }
        }
    }
}

/// A node of the page tree with what it inherits.
struct Node<'a> {
    id: ObjectId,
    depth: usize,
    media_box: Option<&'a Object>,
    resources: Option<&'a Object>,
    user_unit: Option<&'a Object>,
}

fn check_pages(
    doc: &Document,
    catalog: &Dictionary,
    has_eof: bool,
    limits: &Limits,
    f: &mut Findings,
) {
    let root = match catalog.get(b"Pages") {
        Ok(Object::Reference(id)) => *id,
        _ => {
            let code = if has_eof {
                ReasonCode::PdfStructure
            } else {
                ReasonCode::PdfTruncated
            };
            return f.refuse(code, "the catalog has no page tree");
        }
    };
    let declared_count = doc
        .objects
        .get(&root)
        .and_then(|o| dict_of(doc, o))
        .and_then(|d| d.get(b"Count").ok())
        .and_then(|c| c.as_i64().ok());

    let mut budget = Budget {
        decoded: 0,
        seen_streams: HashSet::new(),
        seen_resources: HashSet::new(),
    };
    let mut visited = HashSet::new();
    let mut pages: u32 = 0;
    let mut stack = vec![Node {
        id: root,
        depth: 0,
        media_box: None,
        resources: None,
        user_unit: None,
    }];
    while let Some(node) = stack.pop() {
        if !visited.insert(node.id) {
            return f.refuse(
                ReasonCode::PdfStructure,
                format!(
                    "the page tree loops: object {} {} is reached twice",
                    node.id.0, node.id.1
                ),
            );
        }
        if node.depth > limits.max_nesting {
            return f.refuse(
                ReasonCode::PdfTooComplex,
                format!("the page tree is deeper than {}", limits.max_nesting),
            );
        }
        let Some(dict) = doc.objects.get(&node.id).and_then(|o| dict_of(doc, o)) else {
            let code = if has_eof {
                ReasonCode::PdfStructure
            } else {
                ReasonCode::PdfTruncated
            };
            return f.refuse(
                code,
                format!("page tree node {} {} is missing", node.id.0, node.id.1),
            );
        };
        let media_box = dict.get(b"MediaBox").ok().or(node.media_box);
        let resources = dict.get(b"Resources").ok().or(node.resources);
        let user_unit = dict.get(b"UserUnit").ok().or(node.user_unit);
        let is_pages = name_is(dict.get(b"Type").ok(), b"Pages") || dict.has(b"Kids");
        if is_pages {
            let kids = match dict.get(b"Kids").ok().and_then(|k| resolve(doc, k)) {
                Some(Object::Array(kids)) => kids,
                _ => {
                    return f.refuse(
                        ReasonCode::PdfStructure,
                        "a page tree node has no /Kids array",
                    );
                }
            };
            // Pushed in reverse so pages come off the stack in document order.
            for kid in kids.iter().rev() {
                let Object::Reference(kid) = kid else {
                    return f.refuse(ReasonCode::PdfStructure, "a /Kids entry is not a reference");
                };
                stack.push(Node {
                    id: *kid,
                    depth: node.depth + 1,
                    media_box,
                    resources,
                    user_unit,
                });
            }
            continue;
        }
        if !name_is(dict.get(b"Type").ok(), b"Page")
            && !dict.has(b"Contents")
            && !dict.has(b"MediaBox")
        {
            return f.refuse(
                ReasonCode::PdfStructure,
                format!(
                    "page tree node {} {} is neither a page nor a page list",
                    node.id.0, node.id.1
                ),
            );
        }
        pages += 1;
        if pages > limits.max_pdf_pages {
            return f.refuse(
                ReasonCode::TooManyPages,
                format!(
                    "more than {} pages, the most guichet verifies",
                    limits.max_pdf_pages
                ),
            );
        }
        check_page_size(doc, pages, media_box, user_unit, f);
        if let Err((code, detail)) = check_page_content(doc, dict, resources, limits, &mut budget) {
            f.refuse(code, format!("page {pages}: {detail}"));
            if code == ReasonCode::PdfDecompressionBomb {
                break;
            }
        }
    }
    f.pages = Some(pages);
    if pages == 0 {
        f.refuse(ReasonCode::PdfNoPages, "the page tree holds no page");
    }
    if let Some(count) = declared_count
        && (count < 0 || count > i64::from(limits.max_pdf_pages))
    {
        f.refuse(
            ReasonCode::PdfStructure,
            format!("/Count says {count} pages, {pages} found"),
        );
    } else if let Some(count) = declared_count
        && count != i64::from(pages)
    {
        f.note(
            ReasonCode::PdfPageCountMismatch,
            format!("/Count says {count}, {pages} pages found"),
        );
    }
}

fn number(obj: &Object) -> Option<f64> {
    match obj {
        Object::Integer(i) => Some(*i as f64),
        Object::Real(r) => Some(f64::from(*r)),
        _ => None,
    }
}

fn check_page_size(
    doc: &Document,
    page: u32,
    media_box: Option<&Object>,
    unit: Option<&Object>,
    f: &mut Findings,
) {
    let Some(Object::Array(corners)) = media_box.and_then(|m| resolve(doc, m)) else {
        return;
    };
    let v: Vec<f64> = corners
        .iter()
        .filter_map(|c| resolve(doc, c).and_then(number))
        .collect();
    if v.len() != 4 {
        return;
    }
    let unit = unit
        .and_then(|u| resolve(doc, u))
        .and_then(number)
        .unwrap_or(1.0)
        .max(1.0);
    let (w, h) = ((v[2] - v[0]).abs() * unit, (v[3] - v[1]).abs() * unit);
    if w > MAX_PAGE_SIDE || h > MAX_PAGE_SIDE {
        f.refuse(
            ReasonCode::PdfPageTooLarge,
            format!("page {page} measures {w:.0} x {h:.0} units (at most {MAX_PAGE_SIDE} a side)"),
        );
    }
}

/// What decoding the pages has cost so far, and what was already checked.
struct Budget {
    decoded: u64,
    seen_streams: HashSet<ObjectId>,
    seen_resources: HashSet<ObjectId>,
}

type Refusal = (ReasonCode, String);

/// Decodes the page's content streams, and those of the form XObjects it uses (each once),
/// and checks the declared size of its images.
fn check_page_content(
    doc: &Document,
    page: &Dictionary,
    resources: Option<&Object>,
    limits: &Limits,
    budget: &mut Budget,
) -> Result<(), Refusal> {
    if let Ok(contents) = page.get(b"Contents") {
        let streams: Vec<&Object> = match contents {
            Object::Array(items) => items.iter().collect(),
            Object::Reference(_) => match resolve(doc, contents) {
                Some(Object::Array(items)) => items.iter().collect(),
                _ => vec![contents],
            },
            other => vec![other],
        };
        for s in streams {
            decode_stream(doc, s, limits, budget)?;
        }
    }
    // Resources, then the resources of form XObjects, patterns and Type 3 fonts, as a worklist.
    let mut work: Vec<&Object> = resources.into_iter().collect();
    let mut steps = 0usize;
    while let Some(res) = work.pop() {
        steps += 1;
        if steps > limits.max_pdf_objects {
            return Err((
                ReasonCode::PdfTooComplex,
                "too many nested resources".into(),
            ));
        }
        if let Object::Reference(id) = res
            && !budget.seen_resources.insert(*id)
        {
            continue;
        }
        let Some(res) = dict_of(doc, res) else {
            continue;
        };
        for category in [&b"XObject"[..], b"Pattern", b"Font"] {
            let Some(entries) = res.get(category).ok().and_then(|o| dict_of(doc, o)) else {
                continue;
            };
            for (_, entry) in entries.iter() {
                if let Object::Reference(id) = entry
                    && !budget.seen_resources.insert(*id)
                {
                    continue;
                }
                let Some(obj) = resolve(doc, entry) else {
                    continue;
                };
                let dict = match obj {
                    Object::Stream(s) => &s.dict,
                    Object::Dictionary(d) => d,
                    _ => continue,
                };
                if name_is(dict.get(b"Subtype").ok(), b"Image") {
                    check_image_size(doc, dict, limits)?;
                    continue;
                }
                if matches!(obj, Object::Stream(_)) && category != b"Font" {
                    decode_stream(doc, entry, limits, budget)?;
                }
                if let Ok(inner) = dict.get(b"Resources") {
                    work.push(inner);
                }
            }
        }
    }
    Ok(())
}

fn check_image_size(doc: &Document, dict: &Dictionary, limits: &Limits) -> Result<(), Refusal> {
    let get = |k: &[u8]| {
        dict.get(k)
            .ok()
            .and_then(|o| resolve(doc, o))
            .and_then(number)
    };
    let (Some(w), Some(h)) = (get(b"Width"), get(b"Height")) else {
        return Ok(());
    };
    let pixels = w.max(0.0) * h.max(0.0);
    if pixels > limits.max_pixels as f64 || w.max(h) > f64::from(limits.max_image_side) {
        return Err((
            ReasonCode::ImageTooLarge,
            format!(
                "an image of {w:.0}x{h:.0} pixels (limit {} pixels)",
                limits.max_pixels
            ),
        ));
    }
    Ok(())
}

fn decode_stream(
    doc: &Document,
    obj: &Object,
    limits: &Limits,
    budget: &mut Budget,
) -> Result<(), Refusal> {
    if let Object::Reference(id) = obj
        && !budget.seen_streams.insert(*id)
    {
        return Ok(());
    }
    let Some(Object::Stream(stream)) = resolve(doc, obj) else {
        return Ok(()); // A missing content stream draws nothing; lopdf already parsed the rest.
    };
    let decoded = if only_flate(&stream.dict) {
        strict_inflate(&stream.content, limits.max_stream_bytes)
    } else {
        stream.decompressed_content_with_limit(limits.max_stream_bytes)
    };
    match decoded {
        Ok(data) => {
            budget.decoded += data.len() as u64;
            if budget.decoded > limits.max_decoded_bytes {
                return Err((
                    ReasonCode::PdfDecompressionBomb,
                    format!(
                        "page contents decode to more than {} bytes",
                        limits.max_decoded_bytes
                    ),
                ));
            }
            Ok(())
        }
        Err(lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded { limit })) => {
            Err((
                ReasonCode::PdfDecompressionBomb,
                format!("a content stream inflates beyond {limit} bytes"),
            ))
        }
        Err(e) => Err((
            ReasonCode::PdfContentUnreadable,
            format!("a content stream does not decode: {e}"),
        )),
    }
}

/// Whether the stream's only filter is FlateDecode (without predictor, as content streams are).
fn only_flate(dict: &Dictionary) -> bool {
    let flate = match dict.get(b"Filter") {
        Ok(Object::Name(n)) => n == b"FlateDecode",
        Ok(Object::Array(a)) => matches!(a.as_slice(), [Object::Name(n)] if n == b"FlateDecode"),
        _ => false,
    };
    flate && !dict.has(b"DecodeParms")
}

/// Inflates a content stream, failing on corrupt data (lopdf keeps what it could read, and
/// says nothing), and stopping at `limit`.
fn strict_inflate(data: &[u8], limit: usize) -> lopdf::Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let result = flate2::read::ZlibDecoder::new(data)
        .take(cap)
        .read_to_end(&mut out);
    if out.len() > limit {
        return Err(lopdf::DecompressError::MemoryLimitExceeded { limit }.into());
    }
    match result {
        Ok(_) => Ok(out),
        Err(e) => Err(lopdf::Error::InvalidStream(format!(
            "corrupt Flate data: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lopdf::{Stream, dictionary};

    /// A one-page PDF; `tweak` may edit the document before it is written.
    fn pdf_with(tweak: impl FnOnce(&mut Document, ObjectId, ObjectId)) -> Vec<u8> {
        let mut doc = Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        let content = Stream::new(
            dictionary! {},
            b"BT /F1 12 Tf 72 712 Td (Bonjour) Tj ET".to_vec(),
        );
        let content_id = doc.add_object(content);
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
            "Contents" => content_id,
        });
        doc.objects.insert(
            pages_id,
            Object::Dictionary(dictionary! {
                "Type" => "Pages",
                "Kids" => vec![page_id.into()],
                "Count" => 1,
            }),
        );
        let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        doc.trailer.set("Root", catalog_id);
        tweak(&mut doc, catalog_id, page_id);
        let mut out = Vec::new();
        doc.save_to(&mut out).expect("write pdf");
        out
    }

    fn codes(bytes: &[u8]) -> Vec<ReasonCode> {
        check(bytes, &Limits::default())
            .reasons
            .iter()
            .map(|r| r.code)
            .collect()
    }

    fn set_in(doc: &mut Document, id: ObjectId, key: &str, value: Object) {
        if let Ok(Object::Dictionary(d)) = doc.get_object_mut(id) {
            d.set(key, value);
        }
    }

    #[test]
    fn a_plain_pdf_passes_with_its_pages() {
        let f = check(&pdf_with(|_, _, _| {}), &Limits::default());
        assert!(f.reasons.is_empty(), "{:?}", f.reasons);
        assert_eq!(f.pages, Some(1));
    }

    #[test]
    fn open_action_javascript_and_launch_are_refused() {
        let js = pdf_with(|doc, catalog, _| {
            let action = doc.add_object(
                dictionary! { "S" => "JavaScript", "JS" => Object::string_literal("app.alert(1)") },
            );
            set_in(doc, catalog, "OpenAction", action.into());
        });
        let c = codes(&js);
        assert!(
            c.contains(&ReasonCode::PdfOpenAction) && c.contains(&ReasonCode::PdfJavascript),
            "{c:?}"
        );

        let launch = pdf_with(|doc, _, page| {
            let action = dictionary! { "S" => "Launch", "F" => Object::string_literal("calc.exe") };
            set_in(
                doc,
                page,
                "AA",
                Object::Dictionary(dictionary! { "O" => action }),
            );
        });
        let c = codes(&launch);
        assert!(
            c.contains(&ReasonCode::PdfLaunch) && c.contains(&ReasonCode::PdfAdditionalActions),
            "{c:?}"
        );
    }

    #[test]
    fn a_goto_open_action_is_harmless() {
        let goto = pdf_with(|doc, catalog, page| {
            set_in(
                doc,
                catalog,
                "OpenAction",
                Object::Array(vec![page.into(), "Fit".into()]),
            );
        });
        assert_eq!(codes(&goto), vec![]);
    }

    #[test]
    fn embedded_files_and_xfa_are_refused() {
        let embedded = pdf_with(|doc, catalog, _| {
            let names =
                dictionary! { "EmbeddedFiles" => dictionary! { "Names" => Object::Array(vec![]) } };
            set_in(doc, catalog, "Names", Object::Dictionary(names));
        });
        assert_eq!(codes(&embedded), vec![ReasonCode::PdfEmbeddedFile]);
        let xfa = pdf_with(|doc, catalog, _| {
            set_in(
                doc,
                catalog,
                "AcroForm",
                Object::Dictionary(dictionary! { "XFA" => Object::Array(vec![]) }),
            );
        });
        assert_eq!(codes(&xfa), vec![ReasonCode::PdfXfa]);
    }

    #[test]
    fn a_password_is_told_from_an_owner_only_protection() {
        // An /Encrypt entry whose dictionary lopdf cannot authenticate with an empty password.
        let locked = pdf_with(|doc, _, _| {
            let enc = doc.add_object(dictionary! {
                "Filter" => "Standard", "V" => 2, "R" => 3, "Length" => 128, "P" => -4,
                "O" => Object::string_literal(vec![1u8; 32]), "U" => Object::string_literal(vec![2u8; 32]),
            });
            doc.trailer.set("Encrypt", enc);
            doc.trailer.set(
                "ID",
                Object::Array(vec![
                    Object::string_literal(vec![3u8; 16]),
                    Object::string_literal(vec![3u8; 16]),
                ]),
            );
        });
        assert_eq!(codes(&locked), vec![ReasonCode::PdfEncrypted]);
    }

    #[test]
    fn loops_depth_and_damage_are_refused() {
        let looping = pdf_with(|doc, _, page| {
            if let Ok(Object::Dictionary(d)) = doc.get_object_mut(page) {
                d.set("Type", "Pages");
                d.set("Kids", Object::Array(vec![page.into()]));
            }
        });
        assert!(
            codes(&looping).contains(&ReasonCode::PdfStructure),
            "{:?}",
            codes(&looping)
        );

        let deep = pdf_with(|doc, catalog, _| {
            let mut o = Object::Null;
            for _ in 0..90 {
                o = Object::Array(vec![o]);
            }
            set_in(doc, catalog, "Deep", o);
        });
        assert_eq!(codes(&deep), vec![ReasonCode::PdfTooComplex]);

        let good = pdf_with(|_, _, _| {});
        assert_eq!(
            codes(&good[..good.len() / 3]),
            vec![ReasonCode::PdfTruncated]
        );
        let mut junk = good.clone();
        junk.extend_from_slice(b"PK\x03\x04 payload");
        assert_eq!(codes(&junk), vec![ReasonCode::DataAfterEnd]);
    }

    #[test]
    fn a_decompression_bomb_is_refused() {
        let bomb = pdf_with(|doc, _, page| {
            let mut s = Stream::new(dictionary! {}, vec![b' '; 4 << 20]);
            s.compress().expect("compress");
            let id = doc.add_object(s);
            set_in(doc, page, "Contents", id.into());
        });
        let limits = Limits {
            max_stream_bytes: 1 << 20,
            ..Limits::default()
        };
        let c: Vec<_> = check(&bomb, &limits)
            .reasons
            .iter()
            .map(|r| r.code)
            .collect();
        assert_eq!(c, vec![ReasonCode::PdfDecompressionBomb]);
    }
}
