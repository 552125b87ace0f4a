//! A second reader for damaged files: `hayro-syntax`, the parser of the hayro renderer, built
//! like pdf.js and Poppler to read broken files (it rebuilds cross-reference data, reads
//! streams whose `/Length` is wrong, skips junk between objects).
//!
//! Where lopdf's lenient load misses objects the document uses, or gives up on the file, the
//! objects are read with it, from the document catalog outwards, and converted into lopdf's
//! objects; every check then runs on them as on any other document. What neither parser can
//! read is lost, and judged so (see [`super::load`]).
//!
//! Decision: the second parser holds the file in memory of its own (it takes owned bytes),
//! so content above `Limits::large_content_bytes`, verified through a memory map, is not
//! given to it: a large damaged file is judged on what lopdf reads, and bounded memory
//! holds.

use std::collections::HashSet;

use hayro_syntax::Pdf;
use hayro_syntax::object::{MaybeRef, Object as HObject, ObjectIdentifier};
use lopdf::{Dictionary, Document, Object, ObjectId, Stream, StringFormat};

use crate::guard::no_panic;

/// Reads, with the second parser, the objects among `wanted` (and those they refer to) that
/// `doc` lacks, up to `max_objects` in all; returns how many were added.
pub(super) fn fill(
    doc: &mut Document,
    content: &[u8],
    wanted: Vec<ObjectId>,
    max_objects: usize,
) -> usize {
    let Ok(Ok(pdf)) = no_panic(|| Pdf::new(content.to_vec())) else {
        return 0;
    };
    no_panic(|| read_into(&pdf, doc, wanted, max_objects)).unwrap_or(0)
}

/// A document read by the second parser alone, from its catalog; `None` when it cannot find
/// one.
pub(super) fn read(content: &[u8], max_objects: usize) -> Option<Document> {
    let pdf = no_panic(|| Pdf::new(content.to_vec())).ok()?.ok()?;
    no_panic(|| {
        let root = pdf.xref().root_id();
        let root = (root.obj_number, u16::try_from(root.gen_number).unwrap_or(0));
        let mut doc = Document::new();
        doc.trailer.set("Root", Object::Reference(root));
        let read = read_into(&pdf, &mut doc, vec![root], max_objects);
        doc.max_id = doc.objects.keys().map(|id| id.0).max().unwrap_or(0);
        (read > 0).then_some(doc)
    })
    .ok()
    .flatten()
}

fn read_into(pdf: &Pdf, doc: &mut Document, wanted: Vec<ObjectId>, max_objects: usize) -> usize {
    let mut seen: HashSet<ObjectId> = HashSet::new();
    let mut work = wanted;
    let mut added = 0;
    while let Some(id) = work.pop() {
        if doc.objects.contains_key(&id) || !seen.insert(id) || doc.objects.len() >= max_objects {
            continue;
        }
        let Some(object) = pdf
            .xref()
            .get::<HObject<'_>>(ObjectIdentifier::new(id.0, i32::from(id.1)))
        else {
            continue;
        };
        let mut refs = Vec::new();
        let converted = convert(object, &mut refs, 0);
        doc.objects.insert(id, converted);
        added += 1;
        work.extend(refs.into_iter().filter(|r| !doc.objects.contains_key(r)));
    }
    added
}

/// Deepest nesting of arrays and dictionaries converted; deeper values become null (lopdf's
/// own parser refuses such files long before).
const MAX_DEPTH: usize = 64;

/// Converts a hayro object into lopdf's, collecting the references it holds.
fn convert(object: HObject<'_>, refs: &mut Vec<ObjectId>, depth: usize) -> Object {
    if depth > MAX_DEPTH {
        return Object::Null;
    }
    match object {
        HObject::Null(_) => Object::Null,
        HObject::Boolean(b) => Object::Boolean(b),
        HObject::Number(n) => {
            let value = n.as_f64();
            if value.fract() == 0.0 && value.abs() < 9.0e15 {
                Object::Integer(value as i64)
            } else {
                Object::Real(value as f32)
            }
        }
        HObject::String(s) => Object::String(s.as_bytes().to_vec(), StringFormat::Literal),
        HObject::Name(n) => Object::Name(n.as_ref().to_vec()),
        HObject::Dict(d) => Object::Dictionary(dictionary(&d, refs, depth)),
        HObject::Array(a) => Object::Array(
            a.raw_iter()
                .map(|item| value(item, refs, depth + 1))
                .collect(),
        ),
        HObject::Stream(s) => {
            let dict = dictionary(s.dict(), refs, depth);
            let mut stream = Stream::new(dict, s.raw_data().into_owned());
            // `/Length` as the data read, not as the damaged file said.
            stream
                .dict
                .set("Length", Object::Integer(stream.content.len() as i64));
            Object::Stream(stream)
        }
    }
}

fn dictionary(
    d: &hayro_syntax::object::Dict<'_>,
    refs: &mut Vec<ObjectId>,
    depth: usize,
) -> Dictionary {
    let mut out = Dictionary::new();
    for (key, item) in d.entries() {
        out.set(key.as_ref().to_vec(), value(item, refs, depth + 1));
    }
    out
}

fn value(item: MaybeRef<HObject<'_>>, refs: &mut Vec<ObjectId>, depth: usize) -> Object {
    match item {
        MaybeRef::Ref(r) => {
            let id = (r.obj_number, u16::try_from(r.gen_number).unwrap_or(0));
            refs.push(id);
            Object::Reference(id)
        }
        MaybeRef::NotRef(object) => convert(object, refs, depth),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_read_by_the_second_parser_keeps_its_objects_and_references() {
        let bytes = crate::pdf::tests::pdf_with(|_, _, _| {});
        let doc = read(&bytes, 1000).expect("read");
        assert_eq!(doc.get_pages().len(), 1);
        let page = doc.get_pages().into_values().next().expect("a page");
        let page = doc.get_dictionary(page).expect("the page");
        assert!(page.get(b"MediaBox").and_then(Object::as_array).is_ok());
        assert!(page.get(b"Parent").and_then(Object::as_reference).is_ok());
    }

    #[test]
    fn objects_a_load_missed_are_filled_in_and_counted() {
        let bytes = crate::pdf::tests::pdf_with(|_, _, _| {});
        let mut doc = Document::load_mem(&bytes).expect("load");
        let pages = doc
            .catalog()
            .and_then(|c| c.get(b"Pages"))
            .and_then(Object::as_reference);
        let pages = pages.expect("the page tree");
        doc.objects.remove(&pages);
        assert_eq!(fill(&mut doc, &bytes, vec![pages], 1000), 1);
        assert_eq!(doc.get_pages().len(), 1);
        // Nothing to read: a wanted object the file does not hold.
        assert_eq!(fill(&mut doc, &bytes, vec![(999, 0)], 1000), 0);
    }

    #[test]
    fn what_is_not_a_pdf_is_not_read() {
        assert!(read(b"%PDF-1.7\nnothing here", 1000).is_none());
        assert!(read(b"", 1000).is_none());
    }
}
