//! The streams no other check decodes — fonts, colour profiles, images, metadata — inflated
//! and counted, never kept, to find decompression bombs wherever they sit.
//!
//! Decisions:
//! - Viewers inflate a font, a colour profile or a metadata stream whole: such a stream may
//!   inflate to `limits.max_stream_bytes` at most, as a page's content may.
//! - An image is decoded only as far as its pixels need, but nothing else in it is useful: its
//!   stream may inflate to twice what its declared dimensions need, plus 1 MiB (row predictors
//!   add a byte a row, producers pad). 100×100 grey pixels whose stream inflates to 300 MB are
//!   a bomb, not an image.
//! - Damage is judged by what is lost: a font, a form, a colour profile or an image whose
//!   compressed data is corrupt before its end cannot be drawn whole (Poppler cannot create
//!   such a font; an image shows a grey band), so it is refused as `pdf_content_unreadable`.
//!   Data that inflates whole but fails its checksum, or whose input ends before the deflate
//!   data says it does, is drawn by every reader and passes.
//! - More than [`MAX_FLATE_LAYERS`] FlateDecode filters in a row is a bomb's shape (each layer
//!   multiplies by up to a thousand), not a producer's: refused without inflating.
//! - Page contents, forms and patterns were inflated by their own check; embedded files are
//!   refused whole; cross-reference and object streams were inflated by lopdf when it loaded
//!   the file. A large file's images and embedded files are not loaded (see [`super::load`]),
//!   so their streams are not counted.

use std::collections::HashSet;
use std::io::Read;

use flate2::read::ZlibDecoder;
use lopdf::{Dictionary, Document, Object, ObjectId};

use super::content::image_size;
use super::inflate::{Ending, inflate};
use super::object::{name, name_is, resolve};
use crate::reason::ReasonCode;
use crate::{Findings, Limits, clock};

/// What an image's stream may inflate to beyond twice what its pixels need.
const IMAGE_SLACK_BYTES: u64 = 1 << 20;

/// Streams whose compressed data is at most this long are not judged for damage: producers
/// write a few bytes of padding or an empty stream with a stray filter, which nothing draws.
const LOST_DATA_MIN_BYTES: u64 = 64;

/// Most FlateDecode filters in a row a stream may have.
const MAX_FLATE_LAYERS: usize = 2;

/// Refuses the first stream, among those not in `decoded`, that inflates beyond its bound.
pub(super) fn check_stream_sizes(
    doc: &Document,
    decoded: &HashSet<ObjectId>,
    limits: &Limits,
    f: &mut Findings,
) {
    for (id, object) in &doc.objects {
        if clock::over() {
            return;
        }
        let Object::Stream(stream) = object else {
            continue;
        };
        if decoded.contains(id) || inflated_elsewhere(&stream.dict) {
            continue;
        }
        let layers = leading_flate(doc, &stream.dict);
        if layers == 0 {
            continue;
        }
        let (bound, what) = bound_for(doc, &stream.dict, limits);
        if layers > MAX_FLATE_LAYERS {
            return f.refuse(
                ReasonCode::PdfDecompressionBomb,
                format!(
                    "object {} {} ({what}) is compressed {layers} times over (FlateDecode)",
                    id.0, id.1
                ),
            );
        }
        let inflated = inflate_counting(&stream.content, layers, bound);
        if inflated.bytes > bound {
            return f.refuse(
                ReasonCode::PdfDecompressionBomb,
                format!(
                    "object {} {} ({what}) inflates beyond {bound} bytes",
                    id.0, id.1
                ),
            );
        }
        if inflated.damaged && (stream.content.len() as u64) > LOST_DATA_MIN_BYTES {
            return f.refuse(
                ReasonCode::PdfContentUnreadable,
                format!(
                    "object {} {} ({what}) cannot be read whole: its compressed data is damaged \
                     after {} bytes",
                    id.0, id.1, inflated.bytes
                ),
            );
        }
    }
}

/// Embedded files (refused whole), cross-reference and object streams (inflated by lopdf).
fn inflated_elsewhere(dict: &Dictionary) -> bool {
    let kind = dict.get(b"Type").ok();
    name_is(kind, b"EmbeddedFile") || name_is(kind, b"XRef") || name_is(kind, b"ObjStm")
}

/// How many FlateDecode filters the stream's filters start with.
fn leading_flate(doc: &Document, dict: &Dictionary) -> usize {
    match dict.get(b"Filter").ok().and_then(|o| resolve(doc, o)) {
        Some(filter @ Object::Name(_)) => usize::from(name_is(Some(filter), b"FlateDecode")),
        Some(Object::Array(filters)) => filters
            .iter()
            .take_while(|filter| name_is(resolve(doc, filter), b"FlateDecode"))
            .count(),
        _ => 0,
    }
}

/// The most the stream may inflate to, and what it is, for the detail.
fn bound_for(doc: &Document, dict: &Dictionary, limits: &Limits) -> (u64, String) {
    let stream_bound = limits.max_stream_bytes as u64;
    if name_is(dict.get(b"Subtype").ok(), b"Image")
        && let Some(size) = image_size(doc, dict)
    {
        // A predictor byte a row, then twice that and the slack.
        let need = size.bytes + size.height;
        let bound = ((need * 2.0) as u64).saturating_add(IMAGE_SLACK_BYTES);
        let what = format!("an image of {:.0}x{:.0}", size.width, size.height);
        return (bound.min(stream_bound), what);
    }
    let what = ["Subtype", "Type"]
        .iter()
        .find_map(|key| {
            dict.get(key.as_bytes())
                .ok()
                .filter(|o| o.as_name().is_ok())
        })
        .map_or_else(|| "a stream".to_string(), |kind| format!("/{}", name(kind)));
    (stream_bound, what)
}

/// What a stream inflated to, counted.
struct Counted {
    /// Bytes inflated, up to `bound + 1`.
    bytes: u64,
    /// The data stopped inflating on damage, before its end or the bound.
    damaged: bool,
}

/// What `data`, behind `layers` FlateDecode filters, inflates to, counted up to `bound + 1`
/// bytes or to the first damage, whichever comes first.
///
/// One layer (the rule) is inflated raw ([`super::inflate`]), so that the three endings are
/// told apart: the deflate data ends (whole, whatever its checksum says), the input runs out
/// first (Acrobat and others write such streams; every reader draws what they hold), or the
/// data is corrupt (`damaged`).
fn inflate_counting(data: &[u8], layers: usize, bound: u64) -> Counted {
    let mut buffer = Vec::new();
    if layers != 1 {
        buffer.resize(64 * 1024, 0);
        let mut reader: Box<dyn Read + '_> = Box::new(data);
        for _ in 0..layers {
            reader = Box::new(ZlibDecoder::new(reader));
        }
        let mut bytes = 0;
        while bytes <= bound {
            match reader.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => bytes += n as u64,
            }
        }
        return Counted {
            bytes,
            damaged: false,
        };
    }
    let inflated = inflate(data, bound, &mut buffer, false);
    Counted {
        bytes: inflated.bytes,
        damaged: inflated.ending == Ending::Corrupt,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lopdf::{Stream, dictionary};

    fn deflated(data: &[u8]) -> Vec<u8> {
        miniz_oxide::deflate::compress_to_vec_zlib(data, 9)
    }

    fn refusal(doc: &Document, limits: &Limits) -> Option<String> {
        let mut f = Findings::default();
        check_stream_sizes(doc, &HashSet::new(), limits, &mut f);
        assert!(
            f.reasons
                .iter()
                .all(|r| r.code == ReasonCode::PdfDecompressionBomb)
        );
        f.reasons
            .first()
            .map(|r| r.detail.clone().unwrap_or_default())
    }

    fn image(width: i64, height: i64, data: Vec<u8>) -> Stream {
        Stream::new(
            dictionary! {
                "Type" => "XObject", "Subtype" => "Image", "Width" => width, "Height" => height,
                "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8, "Filter" => "FlateDecode",
            },
            data,
        )
    }

    #[test]
    fn an_image_inflating_far_beyond_its_pixels_is_a_bomb() {
        let mut doc = Document::with_version("1.5");
        doc.add_object(image(100, 100, deflated(&vec![0; 4 << 20])));
        let why = refusal(&doc, &Limits::default()).expect("refused");
        assert!(why.contains("an image of 100x100"), "{why}");
    }

    #[test]
    fn an_image_with_what_its_pixels_need_passes() {
        let mut doc = Document::with_version("1.5");
        doc.add_object(image(1000, 1000, deflated(&vec![7; 1000 * 1001])));
        assert_eq!(refusal(&doc, &Limits::default()), None);
    }

    #[test]
    fn a_font_is_bounded_by_the_stream_limit() {
        let font = |size| {
            Stream::new(
                dictionary! { "Length1" => 1, "Filter" => "FlateDecode" },
                deflated(&vec![0; size]),
            )
        };
        let limits = Limits {
            max_stream_bytes: 1 << 20,
            ..Limits::default()
        };
        let mut doc = Document::with_version("1.5");
        doc.add_object(font(1 << 20));
        assert_eq!(refusal(&doc, &limits), None);
        doc.add_object(font((1 << 20) + 1));
        assert!(refusal(&doc, &limits).is_some());
    }

    #[test]
    fn compression_layered_beyond_reason_is_refused_and_damage_is_not_judged() {
        let mut doc = Document::with_version("1.5");
        let filters = vec![Object::from("FlateDecode"); 3];
        doc.add_object(Stream::new(
            dictionary! { "Filter" => filters },
            deflated(&deflated(&deflated(b"data"))),
        ));
        let why = refusal(&doc, &Limits::default()).expect("refused");
        assert!(why.contains("3 times"), "{why}");

        let mut doc = Document::with_version("1.5");
        let mut damaged = deflated(&vec![1; 10_000]);
        damaged.truncate(damaged.len() / 2);
        doc.add_object(Stream::new(
            dictionary! { "Filter" => "FlateDecode" },
            damaged,
        ));
        assert_eq!(refusal(&doc, &Limits::default()), None);
    }
}
