//! Reading a scanned batch: a PDF from scanner software or a multi-page TIFF, into pages that
//! keep their original encoded image, so that documents can be rebuilt without re-encoding.
//!
//! Nothing is decoded here beyond the structure, and no page image is copied: a page records
//! where its image's bytes lie in the batch, and they are read when the page is decoded
//! ([`crate::split`], downscaled) or rebuilt into a document. A batch read from a file
//! ([`open`]) is mapped rather than loaded, so memory stays within a few pages whatever the
//! size of the batch (see [`crate::source`]). A PDF's structure is parsed by lopdf with the
//! image data left out, then the data of each image stream is located in the file from the
//! object's offset and length (checked as lopdf checks them); a file whose images cannot be
//! located so is read whole, as a last resort.
//!
//! Limits are checked as the structure is walked: the page count before any page is read,
//! each image's pixel count from its header. Hostile input returns a [`BatchError`], never a
//! panic: the parsers are maintained crates, and as a last guard the whole read runs under
//! `catch_unwind`, so that a bug in one of them costs a batch, not the worker.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use lopdf::content::Content;
use lopdf::{Dictionary, Document, LoadOptions, Object, ObjectId};

use crate::sheet::PREFIX;
use crate::source::{self, Source};

use crate::tiff_reader;

/// Bounds on what a batch may make us read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchLimits {
    /// Pages in one batch.
    pub max_pages: usize,
    /// Pixels of one page image (width × height).
    pub max_page_pixels: u64,
    /// Encoded bytes of one page image, and decoded bytes when a page must be decoded whole
    /// (or a page's content stream read).
    pub max_image_bytes: usize,
}

impl Default for BatchLimits {
    /// 1,000 pages (a full scanner tray several times over), 100 megapixels a page (A3 at
    /// 600 dpi is 70), 256 MiB per image.
    fn default() -> Self {
        BatchLimits {
            max_pages: 1000,
            max_page_pixels: 100_000_000,
            max_image_bytes: 256 << 20,
        }
    }
}

/// Why a batch cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// Neither a PDF nor a TIFF.
    #[error("le lot n'est ni un PDF ni un TIFF")]
    UnknownFormat,
    /// The file's structure cannot be parsed.
    #[error("lot illisible : {0}")]
    Malformed(String),
    /// An encrypted PDF.
    #[error("le PDF du lot est chiffré")]
    Encrypted,
    /// No page at all.
    #[error("le lot ne contient aucune page")]
    Empty,
    /// More pages than [`BatchLimits::max_pages`].
    #[error("le lot contient {pages} pages, au-delà de la limite de {limit}")]
    TooManyPages {
        /// Pages found (or at least this many).
        pages: usize,
        /// The limit.
        limit: usize,
    },
    /// A page image above [`BatchLimits::max_page_pixels`] or [`BatchLimits::max_image_bytes`].
    #[error("la page {page} dépasse la taille autorisée")]
    PageTooLarge {
        /// 0-based page index.
        page: usize,
    },
    /// A page whose image uses an encoding guichet cannot carry over.
    #[error("la page {page} utilise un format d'image non pris en charge : {what}")]
    Unsupported {
        /// 0-based page index.
        page: usize,
        /// What is not supported.
        what: String,
    },
    /// A page index outside the batch (from [`crate::split::segment_pdf`]).
    #[error("la page {0} n'existe pas dans le lot")]
    NoSuchPage(usize),
    /// The batch file could not be opened.
    #[error("le fichier du lot ne peut pas être ouvert : {0}")]
    Io(String),
}

impl BatchError {
    /// A stable snake_case code for APIs and logs.
    pub fn code(&self) -> &'static str {
        match self {
            BatchError::UnknownFormat => "batch_unknown_format",
            BatchError::Malformed(_) => "batch_malformed",
            BatchError::Encrypted => "batch_encrypted",
            BatchError::Empty => "batch_empty",
            BatchError::TooManyPages { .. } => "batch_too_many_pages",
            BatchError::PageTooLarge { .. } => "batch_page_too_large",
            BatchError::Unsupported { .. } => "batch_unsupported_image",
            BatchError::NoSuchPage(_) => "batch_no_such_page",
            BatchError::Io(_) => "batch_io",
        }
    }
}

/// The container a batch came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchFormat {
    /// A PDF, pages usually one image each.
    Pdf,
    /// A multi-page TIFF.
    Tiff,
}

/// A scanned batch, pages in scanning order.
#[derive(Debug, Clone)]
pub struct Batch {
    /// PDF or TIFF.
    pub format: BatchFormat,
    /// The pages, in order.
    pub pages: Vec<Page>,
    /// The parsed source PDF (without its image data), kept to copy pages that are not a
    /// single image.
    pub(crate) source: Option<Arc<Document>>,
    /// Where the data of the source PDF's image streams lie in [`Batch::bytes`].
    pub(crate) located: Arc<HashMap<ObjectId, Range<usize>>>,
    /// The batch's bytes.
    pub(crate) bytes: Arc<Source>,
    /// The limits the batch was read under, for the pages converted when read.
    pub(crate) limits: BatchLimits,
}

impl Batch {
    /// The encoded bytes of page `page`'s image, exactly as the batch stores them (for a TIFF
    /// page PDF cannot carry as it is, the page converted to Flate data); `None` for a page
    /// without an image. Read from the batch each time: nothing is kept.
    pub fn image_data(&self, page: usize) -> Result<Option<Cow<'_, [u8]>>, BatchError> {
        let page_ref = self.pages.get(page).ok_or(BatchError::NoSuchPage(page))?;
        match &page_ref.image {
            Some(image) => self.data_of(image).map(Some),
            None => Ok(None),
        }
    }

    /// The bytes of `image`, one of this batch's page images.
    pub(crate) fn data_of<'a>(&'a self, image: &'a PageImage) -> Result<Cow<'a, [u8]>, BatchError> {
        let slice = |r: &Range<usize>| {
            self.bytes
                .get(r.clone())
                .ok_or_else(|| BatchError::Malformed("image hors du fichier".into()))
        };
        let data = match &image.data {
            ImageData::InBatch(r) => Cow::Borrowed(slice(r)?),
            ImageData::Owned(bytes) => Cow::Borrowed(bytes.as_slice()),
            ImageData::Pieces(pieces) => {
                let mut out = Vec::new();
                for r in pieces {
                    out.extend_from_slice(slice(r)?);
                }
                Cow::Owned(out)
            }
            ImageData::JpegWithTables { tables, strip } => {
                Cow::Owned(tiff_reader::merge_jpeg_tables(tables, slice(strip)?))
            }
            ImageData::Converted { ifd, index } => Cow::Owned(tiff_reader::convert(
                &self.bytes,
                *ifd,
                *index,
                &self.limits,
            )?),
        };
        if !matches!(image.data, ImageData::Owned(_)) {
            // The kernel may map a large block of the page cache (up to 2 MB) around what was
            // read: a small image costs that much resident memory until the next release.
            source::note_read(data.len() + (2 << 20));
        }
        Ok(data)
    }
}

/// One scanned page.
#[derive(Debug, Clone)]
pub struct Page {
    /// The page's image: for a PDF page drawn from several images, the largest one (used to
    /// look for a sheet); `None` for a page without any image.
    pub image: Option<PageImage>,
    /// Whether [`Page::image`] is all the page shows, so that the page can be rebuilt from it
    /// alone. Pages where it is not are copied whole from the source PDF.
    pub single_image: bool,
    /// The page's `/Rotate`, normalised to 0, 90, 180 or 270.
    pub rotate: u16,
    /// The page's box in points (`/MediaBox`; for a TIFF, from the image's resolution).
    pub media_box: [f32; 4],
    /// A sheet code the page writes as text (guichet's sheets carry their code as invisible
    /// text beside the QR code), when the batch is a PDF.
    pub sheet_text: Option<String>,
    /// The parsed source PDF's page object, when the batch is a PDF.
    pub(crate) source_page: Option<ObjectId>,
}

/// A page's image exactly as stored in the batch.
#[derive(Debug, Clone, PartialEq)]
pub struct PageImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bits per colour component (1 for bilevel images).
    pub bits_per_component: u8,
    /// The colour space.
    pub colour: Colour,
    /// How [`PageImage::data`] is encoded.
    pub encoding: Encoding,
    /// A PDF `/Decode` array (or, for a TIFF, `[1 0]` where its photometric interpretation
    /// inverts the samples).
    pub decode: Option<Vec<f32>>,
    /// A PDF stencil mask (`/ImageMask true`): 1-bit, painted in the fill colour.
    pub image_mask: bool,
    /// Where the encoded bytes are (read with [`Batch::image_data`]).
    pub(crate) data: ImageData,
}

/// Where a page image's encoded bytes are.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ImageData {
    /// A range of the batch's bytes, untouched.
    InBatch(Range<usize>),
    /// Ranges of the batch's bytes, one after the other (an uncompressed TIFF page in
    /// several strips).
    Pieces(Vec<Range<usize>>),
    /// A TIFF JPEG strip, with the file's shared tables spliced in when read.
    JpegWithTables {
        /// The `JPEGTables` bytes.
        tables: Vec<u8>,
        /// The strip.
        strip: Range<usize>,
    },
    /// A TIFF page converted to Flate data when read: its directory's offset and its index.
    Converted {
        /// The offset of the page's directory.
        ifd: u64,
        /// The page's index.
        index: usize,
    },
    /// Bytes held apart.
    Owned(Vec<u8>),
}

impl PageImage {
    /// Whether the samples are to be inverted (`/Decode [1 0]`).
    pub fn inverted(&self) -> bool {
        self.decode
            .as_ref()
            .is_some_and(|d| d.len() >= 2 && d[0] > d[1])
    }
}

/// The colour space of a page image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Colour {
    /// One component (DeviceGray, CalGray, ICC with 1 component, stencil masks).
    Gray,
    /// Three components (DeviceRGB, CalRGB, Lab, ICC with 3).
    Rgb,
    /// Four components (DeviceCMYK, ICC with 4).
    Cmyk,
    /// A palette of `base` colours: `lookup` holds `hival + 1` entries.
    Indexed {
        /// The palette's colour space (Gray, Rgb or Cmyk).
        base: Box<Colour>,
        /// The highest index.
        hival: u8,
        /// The palette entries, `base.components()` bytes each.
        lookup: Vec<u8>,
    },
}

impl Colour {
    /// Components per pixel in the image data.
    pub fn components(&self) -> u8 {
        match self {
            Colour::Gray | Colour::Indexed { .. } => 1,
            Colour::Rgb => 3,
            Colour::Cmyk => 4,
        }
    }
}

/// How a page image is encoded (the PDF filter, or its TIFF equivalent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encoding {
    /// JPEG (`DCTDecode`).
    Dct,
    /// CCITT Group 3 or 4 (`CCITTFaxDecode`).
    Ccitt(CcittParams),
    /// JBIG2 (`JBIG2Decode`), with its global segments if any.
    Jbig2 {
        /// The `/JBIG2Globals` stream's bytes.
        globals: Option<Vec<u8>>,
    },
    /// Deflate (`FlateDecode`).
    Flate(Predictor),
    /// LZW (`LZWDecode`).
    Lzw {
        /// The predictor applied before compression.
        predictor: Predictor,
        /// The `/EarlyChange` parameter (1 unless stated).
        early_change: bool,
    },
    /// Uncompressed samples.
    Raw,
}

/// `CCITTFaxDecode` parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CcittParams {
    /// `/K`: negative for Group 4, 0 for Group 3 one-dimensional, positive for mixed.
    pub k: i32,
    /// `/EndOfLine`: rows start with EOL codes.
    pub end_of_line: bool,
    /// `/EncodedByteAlign`: rows start on a byte boundary.
    pub byte_align: bool,
    /// `/EndOfBlock`: the data may end with an end-of-block code.
    pub end_of_block: bool,
    /// `/BlackIs1`: 1 bits are black.
    pub black_is_1: bool,
}

/// A PNG or TIFF predictor applied before Flate or LZW compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Predictor {
    /// 1: none; 2: TIFF horizontal differencing; 10–15: PNG filters.
    pub predictor: u8,
    /// Components per sample as the predictor sees them.
    pub colors: u8,
    /// Bits per component as the predictor sees them.
    pub bits_per_component: u8,
    /// Samples per row.
    pub columns: u32,
}

impl Predictor {
    /// No predictor.
    pub const NONE: Predictor = Predictor {
        predictor: 1,
        colors: 1,
        bits_per_component: 8,
        columns: 1,
    };
}

/// Reads a batch held in memory, PDF or TIFF as its first bytes say. The bytes are copied
/// once; for a batch on disk, [`open`] maps the file instead.
pub fn read(bytes: &[u8], limits: &BatchLimits) -> Result<Batch, BatchError> {
    read_source(Arc::new(Source::Memory(bytes.to_vec())), limits)
}

/// Reads the batch in the file at `path`, PDF or TIFF as its first bytes say, page by page:
/// the file is mapped, its structure parsed, and each page image is read from the file only
/// when the page is decoded or rebuilt. The file must not change while the batch is in use.
pub fn open(path: &Path, limits: &BatchLimits) -> Result<Batch, BatchError> {
    let source = Source::map(path).map_err(|e| BatchError::Io(e.to_string()))?;
    read_source(Arc::new(source), limits)
}

fn read_source(source: Arc<Source>, limits: &BatchLimits) -> Result<Batch, BatchError> {
    let read = || {
        let bytes: &[u8] = &source;
        if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
            tiff_reader::read(&source, limits)
        } else if bytes.len() >= 5
            && bytes[..bytes.len().min(1024)]
                .windows(5)
                .any(|w| w == b"%PDF-")
        {
            read_pdf(&source, limits)
        } else {
            Err(BatchError::UnknownFormat)
        }
    };
    let result = std::panic::catch_unwind(read)
        .unwrap_or_else(|_| Err(BatchError::Malformed("structure incohérente".into())));
    source::release_pages();
    result
}

/// lopdf's object filter: leaves out the data of image streams (located afterwards, read when
/// needed), and counts what was parsed so that mapped pages are released as the parse goes.
///
/// lopdf keeps the object as the filter left it for objects read from the file, and the
/// returned one for members of object streams, which are never streams themselves; so a
/// stream is emptied in place and anything else is returned as it is.
fn without_image_data(id: ObjectId, object: &mut Object) -> Option<(ObjectId, Object)> {
    const OBJECT_OVERHEAD: usize = 64;
    let Object::Stream(stream) = object else {
        source::note_read(OBJECT_OVERHEAD);
        return Some((id, object.clone()));
    };
    source::note_read(OBJECT_OVERHEAD + stream.content.len());
    if stream.dict.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"Image") {
        // Not `set_content`: the dictionary, `/Length` included, stays as the file says.
        stream.content = Vec::new();
        // A stream whose `/Length` is an indirect object is read after every object is
        // parsed, from its start position, past this filter: without it, it stays empty.
        stream.start_position = None;
    }
    Some((id, Object::Null))
}

/// Where the data of each image stream left out of `doc` lies in `bytes`; `None` when one of
/// them cannot be located.
///
/// lopdf's cross-reference table says where each object begins and the stream's `/Length`
/// how long its data is; the data begins after the first `stream` keyword and its end of line
/// that follows the object's start, and is accepted only if `endstream` follows it exactly
/// as lopdf requires when it parses the stream. Only the object's first bytes and the end of
/// its data are read.
fn locate_images(doc: &Document, bytes: &[u8]) -> Option<HashMap<ObjectId, Range<usize>>> {
    // lopdf's offsets count from the `%PDF-` header, which may follow some junk.
    let header = bytes[..bytes.len().min(1024)]
        .windows(5)
        .position(|w| w == b"%PDF-")?;
    let mut located = HashMap::new();
    for (id, object) in &doc.objects {
        let Object::Stream(stream) = object else {
            continue;
        };
        if !stream.content.is_empty()
            || stream.dict.get(b"Subtype").and_then(Object::as_name).ok() != Some(b"Image")
        {
            continue;
        }
        let Some(lopdf::xref::XrefEntry::Normal { offset, .. }) = doc.reference_table.get(id.0)
        else {
            return None;
        };
        let length = stream
            .dict
            .get(b"Length")
            .ok()
            .and_then(|l| doc.dereference(l).ok())
            .and_then(|(_, l)| l.as_i64().ok())
            .and_then(|l| usize::try_from(l).ok())?;
        let object_start = header.checked_add(*offset as usize)?;
        let start = stream_data_start(bytes, object_start, length)?;
        // Two places of the file were read; the kernel may have mapped a large block of the
        // page cache (up to 2 MB) around each.
        source::note_read(4 << 20);
        located.insert(*id, start..start + length);
    }
    Some(located)
}

/// The start of the data of the stream object at `object`, `length` bytes long.
fn stream_data_start(bytes: &[u8], object: usize, length: usize) -> Option<usize> {
    // An image's dictionary is a few hundred bytes; a palette written inline may be more.
    let window = bytes.get(object..)?;
    let window = &window[..window.len().min(64 << 10)];
    let mut from = 0;
    while let Some(found) = window[from..].windows(6).position(|w| w == b"stream") {
        let keyword = object + from + found;
        from += found + 6;
        let mut start = keyword + 6;
        match bytes.get(start) {
            Some(b'\r') if bytes.get(start + 1) == Some(&b'\n') => start += 2,
            Some(b'\n' | b'\r') => start += 1,
            _ => continue,
        }
        let Some(end) = start.checked_add(length) else {
            continue;
        };
        let Some(after) = bytes.get(end..) else {
            continue;
        };
        let after = after
            .strip_prefix(b"\r\n")
            .or_else(|| after.strip_prefix(b"\n"))
            .or_else(|| after.strip_prefix(b"\r"))
            .unwrap_or(after);
        if after.starts_with(b"endstream") {
            return Some(start);
        }
    }
    None
}

fn read_pdf(bytes: &Arc<Source>, limits: &BatchLimits) -> Result<Batch, BatchError> {
    let malformed = |e: lopdf::Error| BatchError::Malformed(e.to_string());
    let options = LoadOptions {
        filter: Some(without_image_data as lopdf::FilterFunc),
        ..LoadOptions::default()
    };
    let doc = Document::load_mem_with_options(bytes, options).map_err(malformed)?;
    if doc.is_encrypted() {
        return Err(BatchError::Encrypted);
    }
    // A file whose image streams cannot be located (a `/Length` lopdf had to correct, say) is
    // read whole: its pages then hold their images' bytes.
    let (doc, located) = match locate_images(&doc, bytes) {
        Some(located) => (doc, located),
        None => (
            Document::load_mem(bytes).map_err(malformed)?,
            HashMap::new(),
        ),
    };
    let page_ids = doc.get_pages();
    if page_ids.len() > limits.max_pages {
        return Err(BatchError::TooManyPages {
            pages: page_ids.len(),
            limit: limits.max_pages,
        });
    }
    if page_ids.is_empty() {
        return Err(BatchError::Empty);
    }
    let mut pages = Vec::with_capacity(page_ids.len());
    let mut images = Vec::with_capacity(page_ids.len());
    for (index, (_, id)) in page_ids.into_iter().enumerate() {
        let (page, image_id) = read_pdf_page(&doc, id, index, limits)?;
        pages.push(page);
        images.push(image_id);
    }
    for (index, image_id) in images.iter().enumerate() {
        let (Some(image_id), Some(image)) = (image_id, pages[index].image.as_mut()) else {
            continue;
        };
        image.data = match located.get(image_id) {
            Some(range) => ImageData::InBatch(range.clone()),
            None => ImageData::Owned(
                doc.get_object(*image_id)
                    .and_then(Object::as_stream)
                    .map(|s| s.content.clone())
                    .unwrap_or_default(),
            ),
        };
        let len = match &image.data {
            ImageData::InBatch(range) => range.len(),
            ImageData::Owned(bytes) => bytes.len(),
            _ => 0,
        };
        if len > limits.max_image_bytes {
            return Err(BatchError::PageTooLarge { page: index });
        }
    }
    let source = if pages.iter().all(|p| p.single_image) {
        None
    } else {
        Some(Arc::new(doc))
    };
    Ok(Batch {
        format: BatchFormat::Pdf,
        pages,
        source,
        located: Arc::new(located),
        bytes: bytes.clone(),
        limits: limits.clone(),
    })
}

/// Looks up an inheritable page attribute, walking up the page tree (bounded, against loops).
fn inherited<'a>(doc: &'a Document, page: &'a Dictionary, key: &[u8]) -> Option<&'a Object> {
    let mut node = page;
    for _ in 0..64 {
        if let Ok(value) = node.get(key) {
            return doc.dereference(value).ok().map(|(_, o)| o);
        }
        let parent = node.get(b"Parent").ok()?.as_reference().ok()?;
        node = doc.get_dictionary(parent).ok()?;
    }
    None
}

fn number(o: &Object) -> Option<f32> {
    match o {
        Object::Integer(i) => Some(*i as f32),
        Object::Real(r) => Some(*r),
        _ => None,
    }
}

/// A page, and the object id of its image, whose bytes are left in `doc` (the caller moves
/// them into the page).
fn read_pdf_page(
    doc: &Document,
    id: ObjectId,
    index: usize,
    limits: &BatchLimits,
) -> Result<(Page, Option<ObjectId>), BatchError> {
    let dict = doc
        .get_dictionary(id)
        .map_err(|e| BatchError::Malformed(e.to_string()))?;
    let media_box = inherited(doc, dict, b"MediaBox")
        .and_then(|o| o.as_array().ok())
        .and_then(|a| {
            let v: Vec<f32> = a
                .iter()
                .filter_map(|o| doc.dereference(o).ok().and_then(|(_, o)| number(o)))
                .collect();
            (v.len() == 4).then(|| {
                [
                    v[0].min(v[2]),
                    v[1].min(v[3]),
                    v[0].max(v[2]),
                    v[1].max(v[3]),
                ]
            })
        })
        .filter(|b| b[2] - b[0] >= 1.0 && b[3] - b[1] >= 1.0)
        // A4, the usual page, when the box is missing or degenerate.
        .unwrap_or([0.0, 0.0, 595.28, 841.89]);
    let rotate = inherited(doc, dict, b"Rotate")
        .and_then(|o| o.as_i64().ok())
        .map(|r| r.rem_euclid(360) / 90 * 90)
        .unwrap_or(0) as u16;

    let mut images = Vec::new();
    if let Ok((resources, resource_ids)) = doc.get_page_resources(id) {
        let mut dicts: Vec<&Dictionary> = resources.into_iter().collect();
        dicts.extend(
            resource_ids
                .into_iter()
                .filter_map(|id| doc.get_dictionary(id).ok()),
        );
        for res in dicts {
            collect_images(doc, res, 0, &mut images);
        }
    }
    images.sort();
    images.dedup();
    let count = images.len();
    let mut best: Option<(u64, &lopdf::Stream, ObjectId)> = None;
    for image_id in images {
        let Ok(stream) = doc.get_object(image_id).and_then(Object::as_stream) else {
            continue;
        };
        let w = int(doc, &stream.dict, b"Width").unwrap_or(0).max(0) as u64;
        let h = int(doc, &stream.dict, b"Height").unwrap_or(0).max(0) as u64;
        if best.is_none_or(|(px, _, _)| w * h > px) {
            best = Some((w * h, stream, image_id));
        }
    }
    let (image, image_id) = match best {
        Some((px, _, _)) if px > limits.max_page_pixels => {
            return Err(BatchError::PageTooLarge { page: index });
        }
        Some((_, stream, image_id)) => (pdf_image(doc, stream)?, Some(image_id)),
        None => (None, None),
    };
    let content = page_content(doc, dict, limits);
    let page = Page {
        single_image: count == 1 && image.is_some() && !content.draws_more_than_images,
        image,
        rotate,
        media_box,
        sheet_text: content.sheet_text,
        source_page: Some(id),
    };
    Ok((page, image_id))
}

/// What a PDF page's own content stream shows besides images.
struct PageContent {
    /// Text, painted paths, shadings or inline images: the page is more than its image, and
    /// is copied whole rather than rebuilt from the image.
    draws_more_than_images: bool,
    /// A string shown on the page that is a sheet code (`GCH1:…`).
    sheet_text: Option<String>,
}

/// Reads the page's content stream(s), each decoded within `limits.max_image_bytes`; a stream
/// that cannot be read counts as drawing more than images.
fn page_content(doc: &Document, page: &Dictionary, limits: &BatchLimits) -> PageContent {
    let mut out = PageContent {
        draws_more_than_images: false,
        sheet_text: None,
    };
    let streams: Vec<&Object> = match page.get(b"Contents").map(|c| doc.dereference(c)) {
        Ok(Ok((_, Object::Array(items)))) => items.iter().collect(),
        Ok(Ok((_, stream))) => vec![stream],
        _ => Vec::new(),
    };
    for stream in streams {
        let data = doc
            .dereference(stream)
            .ok()
            .and_then(|(_, o)| o.as_stream().ok())
            .and_then(|s| {
                s.decompressed_content_with_limit(limits.max_image_bytes)
                    .ok()
            });
        let Some(content) = data.and_then(|d| Content::decode(&d).ok()) else {
            out.draws_more_than_images = true;
            continue;
        };
        for op in &content.operations {
            match op.operator.as_str() {
                // Graphics state, colours, marked content, text state, and paths that only
                // clip: nothing shows by itself.
                "q" | "Q" | "cm" | "Do" | "gs" | "w" | "J" | "j" | "M" | "d" | "ri" | "i"
                | "BX" | "EX" | "MP" | "DP" | "BMC" | "BDC" | "EMC" | "m" | "l" | "c" | "v"
                | "y" | "h" | "re" | "W" | "W*" | "n" | "cs" | "CS" | "sc" | "scn" | "SC"
                | "SCN" | "g" | "G" | "rg" | "RG" | "k" | "K" | "BT" | "ET" | "Tc" | "Tw"
                | "Tz" | "TL" | "Tf" | "Tr" | "Ts" | "Td" | "TD" | "Tm" | "T*" => {}
                "Tj" | "'" | "\"" | "TJ" => {
                    out.draws_more_than_images = true;
                    let shown: Vec<u8> = op
                        .operands
                        .iter()
                        .flat_map(|o| match o {
                            Object::Array(items) => items.iter().collect::<Vec<_>>(),
                            other => vec![other],
                        })
                        .filter_map(|o| o.as_str().ok())
                        .flatten()
                        .copied()
                        .collect();
                    if out.sheet_text.is_none() && shown.starts_with(PREFIX.as_bytes()) {
                        out.sheet_text = String::from_utf8(shown).ok();
                    }
                }
                _ => out.draws_more_than_images = true,
            }
        }
    }
    out
}

/// Image XObjects of a resource dictionary, looking into form XObjects (scanner software
/// sometimes wraps the page image in one) down to a small depth.
fn collect_images(doc: &Document, resources: &Dictionary, depth: u8, out: &mut Vec<ObjectId>) {
    let Some(xobjects) = resources
        .get(b"XObject")
        .ok()
        .and_then(|o| doc.dereference(o).ok())
        .and_then(|(_, o)| o.as_dict().ok())
    else {
        return;
    };
    for (_, value) in xobjects.iter() {
        let Ok(id) = value.as_reference() else {
            continue;
        };
        let Ok(stream) = doc.get_object(id).and_then(Object::as_stream) else {
            continue;
        };
        match stream.dict.get(b"Subtype").and_then(Object::as_name) {
            Ok(b"Image") => out.push(id),
            Ok(b"Form") if depth < 3 => {
                if let Some(res) = stream
                    .dict
                    .get(b"Resources")
                    .ok()
                    .and_then(|o| doc.dereference(o).ok())
                    .and_then(|(_, o)| o.as_dict().ok())
                {
                    collect_images(doc, res, depth + 1, out);
                }
            }
            _ => {}
        }
    }
}

fn resolved<'a>(doc: &'a Document, dict: &'a Dictionary, key: &[u8]) -> Option<&'a Object> {
    dict.get(key)
        .ok()
        .and_then(|o| doc.dereference(o).ok())
        .map(|(_, o)| o)
}

fn int(doc: &Document, dict: &Dictionary, key: &[u8]) -> Option<i64> {
    resolved(doc, dict, key).and_then(|o| o.as_i64().ok())
}

fn boolean(doc: &Document, dict: &Dictionary, key: &[u8]) -> Option<bool> {
    resolved(doc, dict, key).and_then(|o| o.as_bool().ok())
}

/// The page image of a PDF image XObject, or `None` when its filter chain is not one we can
/// carry over (the page is then copied whole and looked at as content).
fn pdf_image(doc: &Document, stream: &lopdf::Stream) -> Result<Option<PageImage>, BatchError> {
    let d = &stream.dict;
    let (Some(width), Some(height)) = (int(doc, d, b"Width"), int(doc, d, b"Height")) else {
        return Ok(None);
    };
    let (Ok(width), Ok(height)) = (u32::try_from(width), u32::try_from(height)) else {
        return Ok(None);
    };
    if width == 0 || height == 0 {
        return Ok(None);
    }
    let image_mask = boolean(doc, d, b"ImageMask").unwrap_or(false);
    let bits = if image_mask {
        1
    } else {
        int(doc, d, b"BitsPerComponent").unwrap_or(8) as u8
    };
    let filters: Vec<&[u8]> = match resolved(doc, d, b"Filter") {
        None => vec![],
        Some(Object::Name(n)) => vec![n.as_slice()],
        Some(Object::Array(a)) => a.iter().filter_map(|o| o.as_name().ok()).collect(),
        Some(_) => return Ok(None),
    };
    let parms = match resolved(doc, d, b"DecodeParms") {
        Some(Object::Dictionary(p)) => Some(p),
        Some(Object::Array(a)) => a
            .first()
            .and_then(|o| doc.dereference(o).ok())
            .and_then(|(_, o)| o.as_dict().ok()),
        _ => None,
    };
    let colour = if image_mask {
        Some(Colour::Gray)
    } else {
        match resolved(doc, d, b"ColorSpace") {
            Some(cs) => colour_space(doc, cs, 0),
            // JPX carries its own; anything else without one is not an image we can use.
            None if filters == [b"DCTDecode".as_slice()] => Some(Colour::Gray),
            None => None,
        }
    };
    let Some(colour) = colour else {
        return Ok(None);
    };
    let pi = |key: &[u8], default: i64| parms.and_then(|p| int(doc, p, key)).unwrap_or(default);
    let pb =
        |key: &[u8], default: bool| parms.and_then(|p| boolean(doc, p, key)).unwrap_or(default);
    let predictor = || Predictor {
        predictor: pi(b"Predictor", 1).clamp(0, 255) as u8,
        colors: pi(b"Colors", 1).clamp(1, 4) as u8,
        bits_per_component: pi(b"BitsPerComponent", 8).clamp(1, 16) as u8,
        columns: pi(b"Columns", 1).clamp(1, u32::MAX as i64) as u32,
    };
    let encoding = match filters.as_slice() {
        [] => Encoding::Raw,
        [b"DCTDecode"] => Encoding::Dct,
        [b"CCITTFaxDecode"] => Encoding::Ccitt(CcittParams {
            k: pi(b"K", 0).clamp(i32::MIN as i64, i32::MAX as i64) as i32,
            end_of_line: pb(b"EndOfLine", false),
            byte_align: pb(b"EncodedByteAlign", false),
            end_of_block: pb(b"EndOfBlock", true),
            black_is_1: pb(b"BlackIs1", false),
        }),
        [b"JBIG2Decode"] => {
            let globals = parms
                .and_then(|p| resolved(doc, p, b"JBIG2Globals"))
                .and_then(|o| o.as_stream().ok())
                .and_then(|s| {
                    s.decompressed_content()
                        .ok()
                        .or_else(|| s.dict.get(b"Filter").is_err().then(|| s.content.clone()))
                });
            Encoding::Jbig2 { globals }
        }
        [b"FlateDecode"] => Encoding::Flate(predictor()),
        [b"LZWDecode"] => Encoding::Lzw {
            predictor: predictor(),
            early_change: pi(b"EarlyChange", 1) != 0,
        },
        _ => return Ok(None),
    };
    let decode = resolved(doc, d, b"Decode")
        .and_then(|o| o.as_array().ok())
        .map(|a| a.iter().filter_map(number).collect::<Vec<f32>>());
    Ok(Some(PageImage {
        width,
        height,
        bits_per_component: bits,
        colour,
        encoding,
        decode,
        image_mask,
        // Located by `read_pdf`.
        data: ImageData::Owned(Vec::new()),
    }))
}

fn colour_space(doc: &Document, cs: &Object, depth: u8) -> Option<Colour> {
    if depth > 4 {
        return None;
    }
    let by_name = |n: &[u8]| match n {
        b"DeviceGray" | b"G" | b"CalGray" => Some(Colour::Gray),
        b"DeviceRGB" | b"RGB" | b"CalRGB" | b"Lab" => Some(Colour::Rgb),
        b"DeviceCMYK" | b"CMYK" => Some(Colour::Cmyk),
        _ => None,
    };
    match cs {
        Object::Name(n) => by_name(n),
        Object::Array(a) => {
            let family = a.first()?.as_name().ok()?;
            match family {
                b"ICCBased" => {
                    let stream = doc.dereference(a.get(1)?).ok()?.1.as_stream().ok()?;
                    match int(doc, &stream.dict, b"N")? {
                        1 => Some(Colour::Gray),
                        3 => Some(Colour::Rgb),
                        4 => Some(Colour::Cmyk),
                        _ => None,
                    }
                }
                b"Indexed" | b"I" => {
                    let base = doc.dereference(a.get(1)?).ok()?.1;
                    let base = colour_space(doc, base, depth + 1)?;
                    if matches!(base, Colour::Indexed { .. }) {
                        return None;
                    }
                    let hival = doc.dereference(a.get(2)?).ok()?.1.as_i64().ok()?;
                    let hival = u8::try_from(hival).ok()?;
                    let lookup = match doc.dereference(a.get(3)?).ok()?.1 {
                        Object::String(s, _) => s.clone(),
                        Object::Stream(s) => {
                            if s.dict.get(b"Filter").is_ok() {
                                s.decompressed_content().ok()?
                            } else {
                                s.content.clone()
                            }
                        }
                        _ => return None,
                    };
                    let need = (hival as usize + 1) * base.components() as usize;
                    if lookup.len() < need {
                        return None;
                    }
                    Some(Colour::Indexed {
                        base: Box::new(base),
                        hival,
                        lookup: lookup[..need].to_vec(),
                    })
                }
                _ => by_name(family),
            }
        }
        _ => None,
    }
}
