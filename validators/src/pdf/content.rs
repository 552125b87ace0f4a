//! Page contents: content streams decoded under bounds, the resources they use, images.

use std::collections::{HashMap, HashSet};

use image::ImageDecoder;
use lopdf::{Dictionary, Document, Object, ObjectId, Stream};

use super::object::{dict_of, name_is, number, resolve};
use super::syntax::check_content_syntax;
use crate::Limits;
use crate::reason::ReasonCode;

/// What decoding the pages has cost so far, and what was already checked.
pub(super) struct Budget {
    pub(super) decoded: u64,
    pub(super) seen_streams: HashSet<ObjectId>,
    pub(super) seen_resources: HashSet<ObjectId>,
    /// What each page, form XObject, tiling pattern and Type 3 font draws: the resources its
    /// content names, by object, with how many times it names each. A cycle here is a drawing
    /// that draws itself.
    pub(super) draws: HashMap<ObjectId, Vec<(ObjectId, u64)>>,
    /// Content streams that inflate whole but fail their Adler-32 checksum, as a description.
    pub(super) checksum_failures: Vec<String>,
    /// The file needed repair: its contents must read whole (see [`super::syntax`]).
    pub(super) repaired: bool,
}

impl Budget {
    pub(super) fn new(repaired: bool) -> Budget {
        Budget {
            decoded: 0,
            seen_streams: HashSet::new(),
            seen_resources: HashSet::new(),
            draws: HashMap::new(),
            checksum_failures: Vec::new(),
            repaired,
        }
    }
}

type Refusal = (ReasonCode, String);

/// Decodes the page's content streams, and those of the form XObjects, tiling patterns and
/// Type 3 glyphs it uses (each once), checks its images' declared size and JPEG headers, and
/// records what draws what (see [`check_drawings`]).
pub(super) fn check_page_content(
    doc: &Document,
    page_id: ObjectId,
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
        let mut names = HashMap::new();
        let mut joined = Vec::new();
        for s in streams {
            if let Some(data) = decode_stream(doc, s, limits, budget)? {
                names_in(&data, &mut names);
                if joined.is_empty() {
                    joined = data;
                } else {
                    joined.push(b'\n');
                    joined.extend_from_slice(&data);
                }
            }
        }
        check_content_syntax(&joined, "the page", budget.repaired)?;
        if let Some(resources) = resources {
            record_draws(doc, page_id, resources, &names, budget);
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
                    if let Object::Stream(stream) = obj {
                        check_jpeg_image(stream, limits)?;
                    }
                    continue;
                }
                // The content that draws with this entry's resources: its own stream, or a
                // Type 3 font's glyph procedures.
                let mut names = HashMap::new();
                if matches!(obj, Object::Stream(_)) && category != b"Font" {
                    if let Some(data) = decode_stream(doc, entry, limits, budget)? {
                        names_in(&data, &mut names);
                        check_content_syntax(&data, "a form or pattern it draws", budget.repaired)?;
                    }
                } else if category == b"Font" && name_is(dict.get(b"Subtype").ok(), b"Type3") {
                    let procs = dict.get(b"CharProcs").ok().and_then(|o| dict_of(doc, o));
                    for (_, glyph) in procs.into_iter().flat_map(Dictionary::iter) {
                        if let Some(data) = decode_stream(doc, glyph, limits, budget)? {
                            names_in(&data, &mut names);
                            check_content_syntax(
                                &data,
                                "a Type 3 glyph it draws",
                                budget.repaired,
                            )?;
                        }
                    }
                }
                if let Ok(inner) = dict.get(b"Resources") {
                    if let Object::Reference(id) = entry {
                        record_draws(doc, *id, inner, &names, budget);
                    }
                    work.push(inner);
                }
            }
        }
    }
    Ok(())
}

/// Records, for the page, form, pattern or Type 3 font `holder`, the resources of
/// `resources` that its content names (`names`, with how many times): what it draws.
fn record_draws(
    doc: &Document,
    holder: ObjectId,
    resources: &Object,
    names: &HashMap<Vec<u8>, u64>,
    budget: &mut Budget,
) {
    let Some(resources) = dict_of(doc, resources) else {
        return;
    };
    let mut drawn = Vec::new();
    for category in [&b"XObject"[..], b"Pattern", b"Font"] {
        let Some(entries) = resources.get(category).ok().and_then(|o| dict_of(doc, o)) else {
            continue;
        };
        for (name, entry) in entries.iter() {
            if let Object::Reference(id) = entry
                && let Some(&times) = names.get(name)
            {
                drawn.push((*id, times));
            }
        }
    }
    budget.draws.insert(holder, drawn);
}

/// The names (`/Name` tokens) a content stream uses, and how many times. A `/` is a
/// delimiter, so each one starts a name.
fn names_in(data: &[u8], names: &mut HashMap<Vec<u8>, u64>) {
    let delimiter = |b: &u8| b.is_ascii_whitespace() || b"/()<>[]{}%".contains(b);
    for slash in memchr::memchr_iter(b'/', data) {
        let rest = &data[slash + 1..];
        let name = &rest[..rest.iter().position(delimiter).unwrap_or(rest.len())];
        match names.get_mut(name) {
            Some(times) => *times = times.saturating_add(1),
            None => {
                names.insert(name.to_vec(), 1);
            }
        }
    }
}

/// Most drawings one page or drawing may expand to, counting each form, pattern or glyph as
/// many times as it is drawn through the others: a form that draws another ten times, which
/// draws another ten times, and so on nine levels deep, is a billion drawings, which readers
/// carry out one by one. Real documents stay in the thousands.
const MAX_DRAWINGS: u64 = 10_000_000;

/// Refuses a form XObject, tiling pattern or Type 3 font that draws itself, directly or
/// through others (readers recurse until they give up or run out of stack), and a page or
/// drawing that expands beyond [`MAX_DRAWINGS`].
pub(super) fn check_drawings(budget: &Budget) -> Result<(), Refusal> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        /// Explored, with how many drawings it expands to, itself included.
        Done(u64),
    }
    let mut marks: HashMap<ObjectId, Mark> = HashMap::new();
    let drawn_by = |node: &ObjectId| budget.draws.get(node).map_or(&[][..], Vec::as_slice);
    for &start in budget.draws.keys() {
        if marks.contains_key(&start) {
            continue;
        }
        marks.insert(start, Mark::Open);
        let mut path = vec![(start, 0usize)];
        while let Some((node, next)) = path.last_mut() {
            let Some(&(child, _)) = drawn_by(node).get(*next) else {
                let expanded = drawn_by(node).iter().fold(1u64, |sum, &(child, times)| {
                    let child = match marks.get(&child) {
                        Some(Mark::Done(n)) => *n,
                        _ => 1,
                    };
                    sum.saturating_add(times.saturating_mul(child))
                });
                if expanded > MAX_DRAWINGS {
                    return Err((
                        ReasonCode::PdfTooComplex,
                        format!(
                            "object {} {} expands to more than {MAX_DRAWINGS} drawings (forms, patterns or glyphs drawn within each other)",
                            node.0, node.1
                        ),
                    ));
                }
                marks.insert(*node, Mark::Done(expanded));
                path.pop();
                continue;
            };
            *next += 1;
            match marks.get(&child) {
                Some(Mark::Open) => {
                    return Err((
                        ReasonCode::PdfStructure,
                        format!(
                            "object {} {} R draws itself (a form, pattern or Type 3 font in a cycle)",
                            child.0, child.1
                        ),
                    ));
                }
                Some(Mark::Done(_)) => {}
                None => {
                    marks.insert(child, Mark::Open);
                    path.push((child, 0));
                }
            }
        }
    }
    Ok(())
}

/// Refuses an image above the pixel limits.
/// An image of a PDF is judged by what it decodes to, in bytes (its bits per component and
/// components counted), and by its longest side: never decoded whole by the checks (its
/// stream is inflated and counted, see [`super::streams`]), a 1-bit page of 113 Mpx (14 MB)
/// or a 300 dpi colour scan of 81 Mpx (243 MB) is an ordinary large-format document.
///
/// Its pixels are bounded too, far above any sheet a scanner takes: `max_pdf_image_pixels`
/// (1 Gpx by default; an A0 sheet at 600 dpi is 0.56 Gpx). A 35000×35000 1-bit image in
/// 12 KB is a bomb for every renderer, whatever its bytes.
fn check_decoded_size(w: f64, h: f64, bytes: f64, limits: &Limits) -> Result<(), Refusal> {
    if w.max(h) > f64::from(limits.max_image_side)
        || bytes > limits.max_image_bytes as f64
        || w * h > limits.max_pdf_image_pixels as f64
    {
        return Err((
            ReasonCode::ImageTooLarge,
            format!(
                "an image of {w:.0}x{h:.0} pixels decodes to {:.0} MB (limits: {} MB, {} Mpx, {} pixels a side)",
                bytes / 1e6,
                limits.max_image_bytes / 1_000_000,
                limits.max_pdf_image_pixels / 1_000_000,
                limits.max_image_side
            ),
        ));
    }
    Ok(())
}

/// A JPEG image (`/DCTDecode` alone) must be a JPEG, and readers decode it at the size its own
/// header gives whatever `/Width` and `/Height` say: that size is held to the pixel limits too.
/// Only the header is read. (The lean load of large content leaves image data out: nothing
/// to read then.)
fn check_jpeg_image(stream: &Stream, limits: &Limits) -> Result<(), Refusal> {
    let jpeg = match stream.dict.get(b"Filter") {
        Ok(Object::Name(n)) => n == b"DCTDecode",
        Ok(Object::Array(a)) => matches!(a.as_slice(), [Object::Name(n)] if n == b"DCTDecode"),
        _ => false,
    };
    if !jpeg || stream.content.is_empty() {
        return Ok(());
    }
    // Valid codings the decoder does not read (12-bit, arithmetic, lossless) are left to
    // readers that do.
    if stream.content.starts_with(&[0xFF, 0xD8])
        && crate::jpeg::walk(&stream.content).unsupported.is_some()
    {
        return Ok(());
    }
    let decoder = image::codecs::jpeg::JpegDecoder::new(std::io::Cursor::new(&stream.content))
        .map_err(|e| {
            (
                ReasonCode::PdfContentUnreadable,
                format!("a JPEG image does not decode: {e}"),
            )
        })?;
    let (w, h) = decoder.dimensions();
    check_decoded_size(
        f64::from(w),
        f64::from(h),
        decoder.total_bytes() as f64,
        limits,
    )
}

/// An image's size as its dictionary declares it.
pub(super) struct ImageSize {
    pub(super) width: f64,
    pub(super) height: f64,
    /// What its pixels decode to: width × height × components × bits per component / 8.
    pub(super) bytes: f64,
}

/// The declared size of the image whose dictionary is `dict`, if it gives its dimensions.
pub(super) fn image_size(doc: &Document, dict: &Dictionary) -> Option<ImageSize> {
    let get = |k: &[u8]| {
        dict.get(k)
            .ok()
            .and_then(|o| resolve(doc, o))
            .and_then(number)
    };
    let (width, height) = (get(b"Width")?.max(0.0), get(b"Height")?.max(0.0));
    let mask = matches!(dict.get(b"ImageMask"), Ok(Object::Boolean(true)));
    let bits = if mask {
        1.0
    } else {
        get(b"BitsPerComponent").unwrap_or(8.0).clamp(1.0, 16.0)
    };
    let components = if mask {
        1.0
    } else {
        dict.get(b"ColorSpace")
            .ok()
            .map_or(1.0, |cs| f64::from(components(doc, cs)))
    };
    Some(ImageSize {
        width,
        height,
        bytes: width * height * components * bits / 8.0,
    })
}

fn check_image_size(doc: &Document, dict: &Dictionary, limits: &Limits) -> Result<(), Refusal> {
    let Some(ImageSize {
        width: w,
        height: h,
        bytes,
        ..
    }) = image_size(doc, dict)
    else {
        return Ok(());
    };
    check_decoded_size(w, h, bytes, limits)
}

/// Inline images (`BI` … `ID` … `EI` in a content stream) are meant for small images: the
/// PDF specification advises 4 KB of data at most. One that decodes beyond
/// `Limits::max_inline_image_bytes` is refused as `pdf_too_complex` (readers hold it whole, in
/// the middle of the page's drawing).
///
/// lopdf's content parser drops the dictionary of an inline image whose filters it does not
/// apply (the common case: `/F [/A85 /Fl]`), so the dictionary is read here from the tokens
/// between `BI` and `ID`: only the size entries matter, and they are plain numbers and names.
fn check_inline_images(data: &[u8], limits: &Limits) -> Result<(), Refusal> {
    let mut rest = data;
    while let Some(at) = next_operator(rest, b"BI") {
        rest = &rest[at + 2..];
        let Some(end) = next_operator(rest, b"ID") else {
            return Ok(());
        };
        let image = InlineImage::read(&rest[..end]);
        let bytes = image.bytes();
        if bytes > limits.max_inline_image_bytes as f64 {
            return Err((
                ReasonCode::PdfTooComplex,
                format!(
                    "an inline image of {:.0}x{:.0} pixels decodes to {bytes:.0} bytes (limit {} for inline images)",
                    image.width, image.height, limits.max_inline_image_bytes
                ),
            ));
        }
        rest = &rest[end + 2..];
    }
    Ok(())
}

/// The offset of `operator` standing alone (white space or the start before it, white space or
/// the end after it).
fn next_operator(data: &[u8], operator: &[u8]) -> Option<usize> {
    let n = operator.len();
    memchr::memmem::find_iter(data, operator).find(|&i| {
        (i == 0 || data[i - 1].is_ascii_whitespace())
            && data.get(i + n).is_none_or(u8::is_ascii_whitespace)
    })
}

/// The size entries of an inline image's dictionary.
struct InlineImage {
    width: f64,
    height: f64,
    bits: f64,
    components: f64,
}

impl InlineImage {
    fn read(dictionary: &[u8]) -> InlineImage {
        let text = String::from_utf8_lossy(dictionary);
        let spaced = text.replace('/', " /").replace(['[', ']'], " ");
        let tokens: Vec<&str> = spaced.split_ascii_whitespace().collect();
        let value = |keys: [&str; 2]| {
            tokens
                .windows(2)
                .find(|pair| keys.contains(&pair[0]))
                .map(|pair| pair[1])
        };
        let number = |keys| value(keys).and_then(|v| v.parse::<f64>().ok());
        let mask = value(["/IM", "/ImageMask"]) == Some("true");
        let components = match value(["/CS", "/ColorSpace"]) {
            Some("/RGB" | "/DeviceRGB" | "/CalRGB" | "/Lab") => 3.0,
            Some("/CMYK" | "/DeviceCMYK") => 4.0,
            _ => 1.0,
        };
        InlineImage {
            width: number(["/W", "/Width"]).unwrap_or(0.0).max(0.0),
            height: number(["/H", "/Height"]).unwrap_or(0.0).max(0.0),
            bits: if mask {
                1.0
            } else {
                number(["/BPC", "/BitsPerComponent"])
                    .unwrap_or(8.0)
                    .clamp(1.0, 16.0)
            },
            components: if mask { 1.0 } else { components },
        }
    }

    fn bytes(&self) -> f64 {
        self.width * self.height * self.components * self.bits / 8.0
    }
}

/// Colour components of a colour space; 1 when unknown (the lowest estimate never refuses a
/// valid image).
fn components(doc: &Document, cs: &Object) -> u8 {
    let family = |n: &[u8]| match n {
        b"DeviceRGB" | b"CalRGB" | b"Lab" | b"RGB" => 3,
        b"DeviceCMYK" | b"CMYK" => 4,
        _ => 1,
    };
    match resolve(doc, cs) {
        Some(Object::Name(n)) => family(n),
        Some(Object::Array(items)) => match items.first() {
            Some(Object::Name(n)) if n == b"ICCBased" => items
                .get(1)
                .and_then(|s| dict_of(doc, s))
                .and_then(|d| d.get(b"N").ok())
                .and_then(|n| n.as_i64().ok())
                .and_then(|n| u8::try_from(n.clamp(1, 4)).ok())
                .unwrap_or(1),
            Some(Object::Name(n)) if n == b"Indexed" || n == b"Separation" => 1,
            Some(Object::Name(n)) => family(n),
            _ => 1,
        },
        _ => 1,
    }
}

/// Decodes a content stream under the limits and checks its inline images; its data, unless
/// it was decoded before or is missing.
fn decode_stream(
    doc: &Document,
    obj: &Object,
    limits: &Limits,
    budget: &mut Budget,
) -> Result<Option<Vec<u8>>, Refusal> {
    if let Object::Reference(id) = obj
        && !budget.seen_streams.insert(*id)
    {
        return Ok(None);
    }
    let Some(Object::Stream(stream)) = resolve(doc, obj) else {
        return Ok(None); // A missing content stream draws nothing; lopdf already parsed the rest.
    };
    let decoded = if only_flate(&stream.dict) {
        strict_inflate(&stream.content, limits.max_stream_bytes).map(|inflated| {
            if !inflated.checksum_ok {
                budget.checksum_failures.push(match obj {
                    Object::Reference(id) => format!("object {} {}", id.0, id.1),
                    _ => "a direct stream".to_string(),
                });
            }
            inflated.data
        })
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
            check_inline_images(&data, limits)?;
            Ok(Some(data))
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

/// A content stream's inflated bytes.
struct Inflated {
    data: Vec<u8>,
    /// The Adler-32 checksum after the deflate data matches what was inflated.
    checksum_ok: bool,
}

/// Inflates a content stream, stopping at `limit`, and failing on Flate data that does not
/// inflate to its end (lopdf keeps what it could read, and says nothing).
///
/// Decision: a stream whose deflate data inflates whole, but whose checksum then disagrees, is
/// kept, as every viewer keeps it (pdf.js, Poppler and MuPDF draw it; a Distiller 6 file of the
/// corpus has one), and reported by the caller. The damage is in what the stream says, not in
/// how it reads; the candidate's page may show garbled text there, which staff see.
fn strict_inflate(data: &[u8], limit: usize) -> lopdf::Result<Inflated> {
    use super::inflate::{Ending, checksum_matches, inflate, zlib_header_ok};
    if data.iter().all(u8::is_ascii_whitespace) {
        // An empty content stream (producers write them for blank pages) draws nothing.
        return Ok(Inflated {
            data: Vec::new(),
            checksum_ok: true,
        });
    }
    let corrupt = |what: &str| lopdf::Error::InvalidStream(format!("corrupt Flate data: {what}"));
    if !zlib_header_ok(data) {
        return Err(corrupt("no zlib header"));
    }
    // Content inflates to a few times its compressed size; the vector doubles past that.
    let mut out = Vec::with_capacity(data.len().saturating_mul(4).min(limit));
    match inflate(data, limit as u64, &mut out, true).ending {
        Ending::Whole { consumed } => Ok(Inflated {
            checksum_ok: checksum_matches(data, consumed, &out),
            data: out,
        }),
        Ending::OverBound => Err(lopdf::DecompressError::MemoryLimitExceeded { limit }.into()),
        Ending::InputShort => Err(corrupt("the data ends before its end")),
        Ending::Corrupt => Err(corrupt("invalid deflate data")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deflated(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(data).expect("deflate");
        z.finish().expect("deflate")
    }

    #[test]
    fn a_wrong_checksum_keeps_the_content_and_broken_deflate_data_refuses() {
        let content = b"BT /F1 12 Tf 72 712 Td (Hello) Tj ET\n".repeat(50);
        let whole = strict_inflate(&deflated(&content), 1 << 20).expect("inflates");
        assert!(whole.checksum_ok);
        assert_eq!(whole.data, content);

        let mut bad_sum = deflated(&content);
        let n = bad_sum.len();
        bad_sum[n - 1] ^= 0xFF;
        let kept = strict_inflate(&bad_sum, 1 << 20).expect("inflates whole");
        assert!(!kept.checksum_ok);
        assert_eq!(kept.data, content);

        assert!(strict_inflate(b"\n", 100).is_ok_and(|i| i.data.is_empty()));
        let stream = deflated(&content);
        let cut = &stream[..stream.len() / 2];
        assert!(strict_inflate(cut, 1 << 20).is_err());
        let mut garbage = stream.clone();
        garbage[2..].iter_mut().for_each(|b| *b = 0xFF);
        assert!(strict_inflate(&garbage, 1 << 20).is_err());
        assert!(matches!(
            strict_inflate(&stream, 100),
            Err(lopdf::Error::Decompress(
                lopdf::DecompressError::MemoryLimitExceeded { .. }
            ))
        ));
    }

    #[test]
    fn inline_images_are_measured_from_their_dictionary() {
        let image = InlineImage::read(b"\n/W 1200 /H 675 /BPC 8 /CS /RGB /F [/A85 /Fl]\n");
        assert_eq!(image.bytes(), 1200.0 * 675.0 * 3.0);
        let mask = InlineImage::read(b"/Width 64/Height 64/ImageMask true");
        assert_eq!(mask.bytes(), 64.0 * 64.0 / 8.0);
    }

    #[test]
    fn a_large_inline_image_is_refused_and_a_small_one_passes() {
        let limits = Limits::default();
        let small = b"q 10 0 0 10 0 0 cm BI /W 8 /H 8 /CS /G /BPC 8 ID \x01\x02 EI Q";
        assert!(check_inline_images(small, &limits).is_ok());
        let large = b"q BI /W 2000 /H 2000 /CS /RGB /BPC 8 /F /Fl ID xx EI Q";
        let (code, _) = check_inline_images(large, &limits).unwrap_err();
        assert_eq!(code, ReasonCode::PdfTooComplex);
        // `BI` inside another token is not the operator.
        assert!(check_inline_images(b"/OBI 1 /W 9999 ID", &limits).is_ok());
    }
}
