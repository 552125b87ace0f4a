//! Rebuilding a document from batch pages without re-encoding any image.
//!
//! A page that is one image becomes a fresh page drawing that image's stream, written back
//! with its filter, parameters and bytes unchanged (the stream is marked as not to be
//! compressed again). A PDF page that is more than one image (an OCR text layer, strips) is
//! copied object by object from the source PDF, with the attributes it inherited from its page
//! tree made explicit.

use std::collections::HashMap;
use std::ops::Range;

use lopdf::{Dictionary, Document, Object, ObjectId, Stream, dictionary};

use crate::batch::{Batch, BatchError, Colour, Encoding, Page, PageImage, Predictor};

pub(crate) fn segment_pdf(batch: &Batch, pages: &[usize]) -> Result<Vec<u8>, BatchError> {
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let mut kids = Vec::with_capacity(pages.len());
    let mut copied = HashMap::new();
    for &index in pages {
        let page = batch
            .pages
            .get(index)
            .ok_or(BatchError::NoSuchPage(index))?;
        let id = match (
            &page.image,
            page.single_image,
            &batch.source,
            page.source_page,
        ) {
            (Some(image), true, _, _) => {
                let data = batch.data_of(image)?.into_owned();
                image_page(&mut doc, pages_id, page, image, data)
            }
            (_, _, Some(source), Some(source_page)) => {
                let from = From {
                    doc: source,
                    located: &batch.located,
                    bytes: &batch.bytes,
                };
                copy_page(&mut doc, pages_id, &from, source_page, &mut copied)
                    .ok_or(BatchError::Malformed(format!("page {index}")))?
            }
            _ => {
                return Err(BatchError::Unsupported {
                    page: index,
                    what: "page sans image".into(),
                });
            }
        };
        kids.push(Object::Reference(id));
    }
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Count" => kids.len() as i64,
            "Kids" => kids,
        }),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out)
        .map_err(|e| BatchError::Malformed(e.to_string()))?;
    Ok(out)
}

fn image_page(
    doc: &mut Document,
    parent: ObjectId,
    page: &Page,
    image: &PageImage,
    data: Vec<u8>,
) -> ObjectId {
    let mut dict = image_dict(image);
    if let Encoding::Jbig2 {
        globals: Some(globals),
    } = &image.encoding
    {
        let globals = doc.add_object(Stream::new(dictionary! {}, globals.clone()));
        dict.set("DecodeParms", dictionary! { "JBIG2Globals" => globals });
    }
    let mut stream = Stream::new(dict, data);
    // The bytes are the scanner's: never recompressed.
    stream.allows_compression = false;
    let image_id = doc.add_object(stream);
    let [x0, y0, x1, y1] = page.media_box;
    let content = format!("q {} 0 0 {} {} {} cm /Im0 Do Q", x1 - x0, y1 - y0, x0, y0);
    let content_id = doc.add_object(Stream::new(dictionary! {}, content.into_bytes()));
    let mut page_dict = dictionary! {
        "Type" => "Page",
        "Parent" => parent,
        "MediaBox" => page.media_box.iter().map(|&v| Object::Real(v)).collect::<Vec<_>>(),
        "Contents" => content_id,
        "Resources" => dictionary! { "XObject" => dictionary! { "Im0" => image_id } },
    };
    if page.rotate != 0 {
        page_dict.set("Rotate", page.rotate as i64);
    }
    doc.add_object(page_dict)
}

fn image_dict(image: &PageImage) -> Dictionary {
    let mut d = dictionary! {
        "Type" => "XObject",
        "Subtype" => "Image",
        "Width" => image.width as i64,
        "Height" => image.height as i64,
    };
    if image.image_mask {
        d.set("ImageMask", true);
    } else {
        d.set("ColorSpace", colour_space(&image.colour));
        d.set("BitsPerComponent", image.bits_per_component as i64);
    }
    if let Some(decode) = &image.decode {
        d.set(
            "Decode",
            decode.iter().map(|&v| Object::Real(v)).collect::<Vec<_>>(),
        );
    }
    let predictor_parms = |p: &Predictor| {
        (p.predictor > 1).then(|| {
            dictionary! {
                "Predictor" => p.predictor as i64,
                "Colors" => p.colors as i64,
                "BitsPerComponent" => p.bits_per_component as i64,
                "Columns" => p.columns as i64,
            }
        })
    };
    let (filter, parms): (Option<&str>, Option<Dictionary>) = match &image.encoding {
        Encoding::Dct => (Some("DCTDecode"), None),
        Encoding::Ccitt(p) => (
            Some("CCITTFaxDecode"),
            Some(dictionary! {
                "K" => p.k as i64,
                "Columns" => image.width as i64,
                "Rows" => image.height as i64,
                "EndOfLine" => p.end_of_line,
                "EncodedByteAlign" => p.byte_align,
                "EndOfBlock" => p.end_of_block,
                "BlackIs1" => p.black_is_1,
            }),
        ),
        Encoding::Jbig2 { .. } => (Some("JBIG2Decode"), None),
        Encoding::Flate(p) => (Some("FlateDecode"), predictor_parms(p)),
        Encoding::Lzw {
            predictor,
            early_change,
        } => {
            let mut parms = predictor_parms(predictor).unwrap_or_default();
            if !early_change {
                parms.set("EarlyChange", 0);
            }
            (Some("LZWDecode"), (!parms.is_empty()).then_some(parms))
        }
        Encoding::Raw => (None, None),
    };
    if let Some(filter) = filter {
        d.set("Filter", Object::Name(filter.as_bytes().to_vec()));
    }
    if let Some(parms) = parms {
        d.set("DecodeParms", parms);
    }
    d
}

fn colour_space(colour: &Colour) -> Object {
    match colour {
        Colour::Gray => Object::Name(b"DeviceGray".to_vec()),
        Colour::Rgb => Object::Name(b"DeviceRGB".to_vec()),
        Colour::Cmyk => Object::Name(b"DeviceCMYK".to_vec()),
        Colour::Indexed {
            base,
            hival,
            lookup,
        } => Object::Array(vec![
            Object::Name(b"Indexed".to_vec()),
            colour_space(base),
            Object::Integer(*hival as i64),
            Object::String(lookup.clone(), lopdf::StringFormat::Hexadecimal),
        ]),
    }
}

/// The source PDF pages are copied from: its structure, parsed without image data, and where
/// that data lies in the batch.
struct From<'a> {
    doc: &'a Document,
    located: &'a HashMap<ObjectId, Range<usize>>,
    bytes: &'a [u8],
}

/// Copies a source page and everything it references.
fn copy_page(
    doc: &mut Document,
    parent: ObjectId,
    source: &From<'_>,
    page_id: ObjectId,
    copied: &mut HashMap<ObjectId, ObjectId>,
) -> Option<ObjectId> {
    let page = source.doc.get_dictionary(page_id).ok()?;
    let mut dict = Dictionary::new();
    for (key, value) in page.iter() {
        // Links to the rest of the source document (its tree, annotations pointing at other
        // pages, structure) do not belong in the segment.
        if matches!(
            key.as_slice(),
            b"Parent" | b"Annots" | b"B" | b"StructParents" | b"Thumb"
        ) {
            continue;
        }
        dict.set(key.clone(), copy_object(doc, source, value, copied, 0)?);
    }
    for key in [&b"Resources"[..], b"MediaBox", b"CropBox", b"Rotate"] {
        if dict.has(key) {
            continue;
        }
        if let Some(value) = inherited(source.doc, page, key) {
            dict.set(key.to_vec(), copy_object(doc, source, &value, copied, 0)?);
        }
    }
    dict.set("Parent", parent);
    Some(doc.add_object(dict))
}

fn inherited(source: &Document, page: &Dictionary, key: &[u8]) -> Option<Object> {
    let mut node = page;
    for _ in 0..64 {
        if let Ok(value) = node.get(key) {
            return Some(value.clone());
        }
        let parent = node.get(b"Parent").ok()?.as_reference().ok()?;
        node = source.get_dictionary(parent).ok()?;
    }
    None
}

fn copy_object(
    doc: &mut Document,
    source: &From<'_>,
    object: &Object,
    copied: &mut HashMap<ObjectId, ObjectId>,
    depth: u32,
) -> Option<Object> {
    // Deeply nested direct objects are not something a scanner writes.
    if depth > 256 {
        return None;
    }
    Some(match object {
        Object::Reference(id) => {
            if let Some(new) = copied.get(id) {
                return Some(Object::Reference(*new));
            }
            let target = source.doc.get_object(*id).ok()?;
            // Page objects reached indirectly (from a link, say) are not copied.
            if target
                .as_dict()
                .ok()
                .and_then(|d| d.get(b"Type").ok())
                .and_then(|t| t.as_name().ok())
                == Some(b"Page")
            {
                return Some(Object::Null);
            }
            let new = doc.new_object_id();
            copied.insert(*id, new);
            let mut value = copy_object(doc, source, target, copied, depth + 1)?;
            // Image data was left out of the parsed structure: it comes from the batch.
            if let (Object::Stream(stream), Some(range)) = (&mut value, source.located.get(id)) {
                stream.content = source.bytes.get(range.clone())?.to_vec();
            }
            doc.objects.insert(new, value);
            Object::Reference(new)
        }
        Object::Array(items) => Object::Array(
            items
                .iter()
                .map(|o| copy_object(doc, source, o, copied, depth + 1))
                .collect::<Option<_>>()?,
        ),
        Object::Dictionary(d) => Object::Dictionary(copy_dict(doc, source, d, copied, depth)?),
        Object::Stream(s) => {
            let mut stream = Stream::new(
                copy_dict(doc, source, &s.dict, copied, depth)?,
                s.content.clone(),
            );
            stream.allows_compression = false;
            Object::Stream(stream)
        }
        other => other.clone(),
    })
}

fn copy_dict(
    doc: &mut Document,
    source: &From<'_>,
    d: &Dictionary,
    copied: &mut HashMap<ObjectId, ObjectId>,
    depth: u32,
) -> Option<Dictionary> {
    let mut out = Dictionary::new();
    for (key, value) in d.iter() {
        out.set(
            key.clone(),
            copy_object(doc, source, value, copied, depth + 1)?,
        );
    }
    Some(out)
}
