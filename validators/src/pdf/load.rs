//! Loading: a strict lopdf load, then, for a file it refuses, a lenient one (lopdf repairs
//! what it can, `hayro-syntax` reads what lopdf cannot: [`second_reader`]), and the judgement
//! of what the repair lost.
//!
//! Decisions:
//! - The strict load comes first: an undamaged file is parsed once, and its document is the
//!   one verified. Before it, bytes after the version on the header line (`%PDF-1.1 `, a
//!   binary marker on the same line) are blanked in a copy of the same length: every reader
//!   ignores them, so they are not damage.
//! - A file that needed repair is judged by what the repair lost ([`lost_in_repair`]): its
//!   entry point, an object it uses, or a loop among its cross-reference sections refuse it
//!   (`pdf_malformed`, `pdf_truncated` without `%%EOF`, `pdf_structure`); otherwise it is
//!   verified in full and noted `pdf_repaired`.
//! - A stream without a usable `/Length` is read up to its `endstream` keyword, as every
//!   viewer does; the file is then verified in full and noted `pdf_repaired`.
//! - Large content (above `Limits::large_content_bytes`) is loaded lean: the data of images
//!   and embedded files, which no check reads (images are judged on their dictionary), is
//!   dropped as each object is parsed, and the pages of mapped content are released as
//!   parsing goes ([`crate::mapped`]). A 200 MB scan then costs about its largest stream, not
//!   several copies of itself.

use lopdf::xref::XrefRecovery;
use lopdf::{Dictionary, Document, LoadOptions, Object, ObjectId};

use super::second_reader;
use crate::guard::no_panic;
use crate::reason::ReasonCode;
use crate::{Findings, Limits};

/// Loads the document, strictly first (an undamaged file is then parsed once), leniently when
/// that fails, and judges the repairs; `None` when it cannot be read.
pub(super) fn load(
    content: &[u8],
    has_eof: bool,
    limits: &Limits,
    f: &mut Findings,
) -> Option<Document> {
    let lean = is_large(content, limits);
    let header_blanked = blank_header_line(content);
    let bytes = header_blanked.as_deref().unwrap_or(content);
    let strict = no_panic(|| Document::load_mem_with_options(bytes, options(limits, lean, true)));
    drop(header_blanked);
    let mut doc = match strict {
        // A strict load can still miss objects the document uses (cross-reference data that
        // parses but points wrong); the lenient load then says whether it had to rebuild it.
        Ok(Ok(doc)) if missing_objects(&doc).is_empty() => {
            note_size_below_objects(&doc, f);
            doc
        }
        Ok(Ok(strict_doc)) => match lenient_load(content, limits) {
            Ok(Ok(mut doc)) if doc.xref_recovery.is_some() => {
                let repair = format!(
                    "cross-reference data repaired ({:?})",
                    doc.xref_recovery.unwrap_or(XrefRecovery::Reconstructed)
                );
                judge_repairs(&mut doc, repair, content, has_eof, limits, f);
                doc
            }
            _ => {
                note_size_below_objects(&strict_doc, f);
                strict_doc
            }
        },
        Ok(Err(strict_error)) => {
            let mut doc = match lenient_load(content, limits) {
                Ok(Ok(doc)) => doc,
                Ok(Err(e)) => return read_by_second_parser(&e, content, has_eof, limits, f),
                Err(panic) => {
                    f.refuse(ReasonCode::PdfMalformed, panic);
                    return None;
                }
            };
            let repair = match doc.xref_recovery {
                Some(recovery) => {
                    format!("read after repair: {strict_error}; cross-reference data {recovery:?}")
                }
                None => format!("read after repair: {strict_error}"),
            };
            judge_repairs(&mut doc, repair, content, has_eof, limits, f);
            doc
        }
        Err(panic) => {
            f.refuse(ReasonCode::PdfMalformed, panic);
            return None;
        }
    };
    let expanded = expand_abbreviated_filters(&mut doc);
    if !expanded.is_empty() {
        f.note(
            ReasonCode::PdfRepaired,
            format!(
                "stream(s) {} name their filters by the abbreviations meant for inline images",
                ids_shown(&expanded)
            ),
        );
    }
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

/// lopdf's lenient load, which repairs what it can (lean for large content, then rebuilt as
/// [`rebuild_lean`] says); `Err` holds a panic's message.
fn lenient_load(content: &[u8], limits: &Limits) -> Result<lopdf::Result<Document>, String> {
    let lean = is_large(content, limits);
    let doc = no_panic(|| Document::load_mem_with_options(content, options(limits, lean, false)))?;
    Ok(doc.map(|doc| {
        if lean {
            rebuild_lean(doc, content, limits)
        } else {
            doc
        }
    }))
}

/// lopdf rebuilds the cross-reference data by scanning when a lenient load finds no page
/// tree, but only for loads without a filter; a lean load does the same here, so that large
/// and small content get the same judgement.
fn rebuild_lean(doc: Document, content: &[u8], limits: &Limits) -> Document {
    let needs_password = doc.trailer.has(b"Encrypt") && doc.encryption_state.is_none();
    if needs_password
        || doc.xref_recovery == Some(XrefRecovery::Reconstructed)
        || page_tree_loaded(&doc)
    {
        return doc;
    }
    let options = LoadOptions {
        force_reconstruct: true,
        ..options(limits, true, false)
    };
    match no_panic(|| Document::load_mem_with_options(content, options)) {
        Ok(Ok(rebuilt))
            if rebuilt.xref_recovery == Some(XrefRecovery::Reconstructed)
                && page_tree_loaded(&rebuilt) =>
        {
            rebuilt
        }
        _ => doc,
    }
}

/// Whether the catalog leads to a page tree root with `/Kids` (lopdf's own test).
fn page_tree_loaded(doc: &Document) -> bool {
    doc.catalog()
        .and_then(|catalog| catalog.get(b"Pages"))
        .and_then(Object::as_reference)
        .and_then(|root| doc.get_dictionary(root))
        .and_then(|root| root.get_deref(b"Kids", doc))
        .and_then(Object::as_array)
        .is_ok()
}

fn is_large(content: &[u8], limits: &Limits) -> bool {
    content.len() as u64 > limits.large_content_bytes
}

fn options(limits: &Limits, lean: bool, strict: bool) -> LoadOptions {
    LoadOptions {
        strict,
        max_decompressed_size: Some(limits.max_stream_bytes),
        filter: lean.then_some(lean_filter as lopdf::FilterFunc),
        ..LoadOptions::default()
    }
}

/// Stream data kept by a lean load whatever the stream is: small data costs nothing to keep.
const LEAN_KEEP_BYTES: usize = 64 * 1024;

/// lopdf's object filter for lean loads: drops the data of large image and embedded-file
/// streams, and counts what was parsed so mapped pages are released as the load goes.
///
/// lopdf keeps the object as the filter left it for objects read from the file, and the
/// returned one for members of object streams, which are never streams themselves; so a
/// stream is emptied in place and anything else is returned as it is.
fn lean_filter(id: ObjectId, object: &mut Object) -> Option<(ObjectId, Object)> {
    const OBJECT_OVERHEAD: usize = 64;
    let Object::Stream(stream) = object else {
        crate::mapped::note_read(OBJECT_OVERHEAD);
        return Some((id, object.clone()));
    };
    crate::mapped::note_read(OBJECT_OVERHEAD + stream.content.len());
    if is_bulk_data(&stream.dict) {
        if stream.content.len() > LEAN_KEEP_BYTES {
            // Not `set_content`: the dictionary, `/Length` included, stays as the file says.
            stream.content = Vec::new();
        }
        // A stream whose `/Length` is an indirect object is read after every object is
        // parsed, from its start position, past this filter; without the position it stays
        // empty (lopdf ignores that failure), so its data is never copied either.
        if stream.content.is_empty() {
            stream.start_position = None;
        }
    }
    Some((id, Object::Null))
}

/// Image and embedded-file data: judged by their dictionaries, never decoded by the checks.
fn is_bulk_data(dict: &Dictionary) -> bool {
    let is = |key: &[u8], value: &[u8]| dict.get(key).and_then(Object::as_name).ok() == Some(value);
    is(b"Subtype", b"Image") || is(b"Type", b"EmbeddedFile")
}

/// A trailer whose `/Size` does not reach past the highest object number: readers count the
/// objects themselves.
fn note_size_below_objects(doc: &Document, f: &mut Findings) {
    if let Some(size) = doc.trailer.get(b"Size").ok().and_then(|s| s.as_i64().ok())
        && size <= i64::from(doc.max_id)
    {
        f.note(
            ReasonCode::PdfRepaired,
            format!(
                "the trailer's /Size says {size}, but objects are numbered up to {}",
                doc.max_id
            ),
        );
    }
}

/// The first five of `ids`, as `n g` pairs, for a detail.
fn ids_shown(ids: &[ObjectId]) -> String {
    let shown: Vec<String> = ids
        .iter()
        .take(5)
        .map(|(n, g)| format!("{n} {g}"))
        .collect();
    shown.join(", ")
}

fn damage_code(has_eof: bool) -> ReasonCode {
    if has_eof {
        ReasonCode::PdfMalformed
    } else {
        ReasonCode::PdfTruncated
    }
}

/// Judges a file that needed repair (`repair` says what lopdf found): it is accepted with the
/// note `pdf_repaired` unless the repair lost something ([`lost_in_repair`]).
fn judge_repairs(
    doc: &mut Document,
    mut repair: String,
    content: &[u8],
    has_eof: bool,
    limits: &Limits,
    f: &mut Findings,
) {
    let missing = missing_objects(doc);
    if !missing.is_empty() && limits.accept_repaired_pdf && !is_large(content, limits) {
        let read = second_reader::fill(doc, content, missing, limits.max_pdf_objects);
        if read > 0 {
            repair.push_str(&format!("; {read} object(s) read by the second parser"));
        }
    }
    if !limits.accept_repaired_pdf {
        return f.refuse(
            damage_code(has_eof),
            format!("damaged, readable only after repair: {repair}"),
        );
    }
    match lost_in_repair(doc, content) {
        Some((code, lost)) => f.refuse(code.unwrap_or(damage_code(has_eof)), lost),
        None => f.note(ReasonCode::PdfRepaired, repair),
    }
}

/// What a repair could not bring back, with its code when it is not plain damage: the
/// file's entry point (`startxref` and a closed trailer dictionary naming the catalog), a
/// chain of cross-reference sections that loops, objects the document uses.
///
/// Decision: damage is judged by what is lost, not by whether a strict parser stumbles.
/// Wrong offsets, lengths and object counts, a missing or broken cross-reference table, junk
/// between objects: readers rebuild all of it from the objects themselves, and so does lopdf.
/// But a file whose trailer is gone no longer says which object is its document, and readers
/// disagree on which one they pick (qpdf and Poppler give up); a loop among cross-reference
/// sections is a shape no producer writes.
fn lost_in_repair(doc: &Document, content: &[u8]) -> Option<(Option<ReasonCode>, String)> {
    if let Some(offset) = xref_chain_loop(content) {
        return Some((
            Some(ReasonCode::PdfStructure),
            format!("the cross-reference sections loop: /Prev leads back to offset {offset}"),
        ));
    }
    if let Some(lost) = lost_entry_point(content) {
        return Some((None, format!("damaged beyond repair: {lost}")));
    }
    let missing = missing_objects(doc);
    if !missing.is_empty() {
        return Some((
            None,
            format!(
                "damaged beyond repair: {} object(s) the document uses are lost ({})",
                missing.len(),
                ids_shown(&missing)
            ),
        ));
    }
    None
}

/// Why the file's entry point is lost, if it is: no `startxref` with an offset, or no
/// trailer dictionary that closes and names the catalog (nor a cross-reference stream, which
/// carries the trailer in its dictionary).
fn lost_entry_point(content: &[u8]) -> Option<&'static str> {
    let Some(at) = super::rfind(content, b"startxref") else {
        return Some("the file has no startxref");
    };
    let after = &content[at + b"startxref".len()..];
    let digits = after
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits == 0 {
        return Some("startxref gives no offset");
    }
    let xref_stream = crate::detect::find(content, b"/XRef").is_some();
    let mut rest = content;
    while let Some(at) = crate::detect::find(rest, b"trailer") {
        rest = &rest[at + b"trailer".len()..];
        let dict = rest.trim_ascii_start();
        if dict.starts_with(b"<<")
            && let Some(len) = dictionary_length(dict)
            && crate::detect::find(&dict[..len], b"/Root").is_some()
        {
            return None;
        }
    }
    (!xref_stream).then_some("no trailer dictionary closes and names the document catalog")
}

/// The length of the dictionary `data` starts with (`<<` … its matching `>>`), skipping
/// strings; `None` when it does not close within 64 KiB.
fn dictionary_length(data: &[u8]) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = 0;
    let end = data.len().min(64 * 1024);
    while i + 1 < end {
        match data[i] {
            b'(' => {
                let mut nesting = 0usize;
                while i < end {
                    match data[i] {
                        b'\\' => i += 1,
                        b'(' => nesting += 1,
                        b')' => {
                            nesting -= 1;
                            if nesting == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
            }
            b'<' if data[i + 1] == b'<' => {
                depth += 1;
                i += 1;
            }
            b'>' if data[i + 1] == b'>' => {
                depth = depth.checked_sub(1)?;
                i += 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The offset a chain of cross-reference sections loops back to, if it loops: from the
/// offset `startxref` gives, each section's trailer (or cross-reference stream dictionary)
/// names the previous one with `/Prev`.
fn xref_chain_loop(content: &[u8]) -> Option<usize> {
    let at = super::rfind(content, b"startxref")?;
    let mut offset = number_after(&content[at + b"startxref".len()..])?;
    let mut seen = std::collections::HashSet::new();
    while offset < content.len() {
        if !seen.insert(offset) {
            return Some(offset);
        }
        let section = &content[offset..];
        // The section's dictionary: the trailer after a table, or the stream's own.
        let search = if section.starts_with(b"xref") {
            crate::detect::find(section, b"trailer")?
        } else {
            0
        };
        let open = search
            + crate::detect::find(&section[search..(search + 1024).min(section.len())], b"<<")?;
        let dict = &section[open..];
        let dict = &dict[..dictionary_length(dict).unwrap_or(dict.len().min(4096))];
        let prev = crate::detect::find(dict, b"/Prev")?;
        offset = number_after(&dict[prev + b"/Prev".len()..])?;
    }
    None
}

/// The unsigned integer at the start of `data`, after white space.
fn number_after(data: &[u8]) -> Option<usize> {
    let digits: Vec<u8> = data
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take_while(|b| b.is_ascii_digit())
        .take(19)
        .copied()
        .collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

/// References, among the objects reachable from the trailer, to objects the repaired file
/// does not hold.
fn missing_objects(doc: &Document) -> Vec<ObjectId> {
    let mut missing = std::collections::BTreeSet::new();
    let mut seen = std::collections::HashSet::new();
    let mut work: Vec<&Object> = doc.trailer.iter().map(|(_, value)| value).collect();
    while let Some(object) = work.pop() {
        match object {
            Object::Reference(id) => {
                if !seen.insert(*id) {
                    continue;
                }
                match doc.objects.get(id) {
                    Some(target) => work.push(target),
                    None => {
                        missing.insert(*id);
                    }
                }
            }
            Object::Array(items) => work.extend(items),
            Object::Dictionary(dict) => work.extend(dict.iter().map(|(_, value)| value)),
            Object::Stream(stream) => work.extend(stream.dict.iter().map(|(_, value)| value)),
            _ => {}
        }
    }
    missing.into_iter().collect()
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

/// The abbreviated filter names of inline images (ISO 32000-2, table 92), and the names they
/// stand for.
const ABBREVIATED_FILTERS: [(&[u8], &[u8]); 7] = [
    (b"AHx", b"ASCIIHexDecode"),
    (b"A85", b"ASCII85Decode"),
    (b"LZW", b"LZWDecode"),
    (b"Fl", b"FlateDecode"),
    (b"RL", b"RunLengthDecode"),
    (b"CCF", b"CCITTFaxDecode"),
    (b"DCT", b"DCTDecode"),
];

/// Writes out the abbreviated filter names some producers put on streams (`/Fl` for
/// `/FlateDecode`), which the specification allows in inline images only and readers accept
/// anywhere; returns the streams so named.
fn expand_abbreviated_filters(doc: &mut Document) -> Vec<ObjectId> {
    let expand = |name: &mut Vec<u8>| {
        let full = ABBREVIATED_FILTERS
            .iter()
            .find(|(short, _)| name.as_slice() == *short)
            .map(|(_, full)| full.to_vec());
        full.map(|full| *name = full).is_some()
    };
    let mut expanded = Vec::new();
    for (id, object) in doc.objects.iter_mut() {
        let Object::Stream(stream) = object else {
            continue;
        };
        let changed = match stream.dict.get_mut(b"Filter") {
            Ok(Object::Name(name)) => expand(name),
            Ok(Object::Array(names)) => names
                .iter_mut()
                .filter_map(|n| match n {
                    Object::Name(name) => Some(expand(name)),
                    _ => None,
                })
                .fold(false, |any, changed| any | changed),
            _ => false,
        };
        if changed {
            expanded.push(*id);
        }
    }
    expanded
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

/// When lopdf gives up on a file for its syntax, the second parser reads it; the document it
/// finds is judged as a repaired one. Anything else lopdf refuses for (a bomb, encryption,
/// nesting) is refused as such.
fn read_by_second_parser(
    e: &lopdf::Error,
    content: &[u8],
    has_eof: bool,
    limits: &Limits,
    f: &mut Findings,
) -> Option<Document> {
    use lopdf::Error as E;
    let syntax_only = !matches!(
        e,
        E::Decompress(_)
            | E::InvalidPassword
            | E::Decryption(_)
            | E::UnsupportedSecurityHandler(_)
            | E::AlreadyEncrypted
            | E::RecursionLimit
            | E::ReferenceLimit
    ) && crate::detect::find(content, b"/Encrypt").is_none();
    let doc = if syntax_only && limits.accept_repaired_pdf && !is_large(content, limits) {
        second_reader::read(content, limits.max_pdf_objects)
    } else {
        None
    };
    let Some(doc) = doc else {
        refuse_load_error(e, has_eof, content, f);
        return None;
    };
    let repair = format!("lopdf cannot read it ({e}); read by the second parser");
    match lost_in_repair(&doc, content) {
        Some((code, lost)) => f.refuse(code.unwrap_or(damage_code(has_eof)), lost),
        None => f.note(ReasonCode::PdfRepaired, repair),
    }
    Some(doc)
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
