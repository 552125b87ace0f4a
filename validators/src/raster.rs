//! Images: dimensions from the header first (a pixel bomb is refused before any pixel is
//! decoded), then a full decode under `image::Limits` to catch corruption and truncation.
//!
//! Decisions:
//! - A valid coding that `image` cannot decode (12-bit or arithmetic JPEG, old-style JPEG or
//!   CCITT G3 TIFF) is `kind_not_supported`, never corrupt. The same holds for whatever the
//!   decoder reports as unsupported.
//! - A TIFF is walked directory by directory (loops refused), and every page is decoded with the
//!   `tiff` crate, since `image` reads only the first.
//!   Palette pages are decoded as grey (see [`tiff::GreyPalettes`]).
//! - Animated GIF/WebP/APNG: the header and first frame are checked (what `image` decodes).
//! - A WebP shorter than its RIFF header says was cut off: `image_truncated`, even when the
//!   cut falls in a metadata chunk the decoder ignores.
//! - A PNG's colour profile is read under its own small bound first (see [`png_profile`]).
//! - Another file hidden in a JPEG's segments or after its end, or after a PNG's end, is
//!   `polyglot` (see [`polyglot`]).

use std::io::Cursor;

use dossiers::Kind;
use image::{ImageError, ImageReader};

use crate::guard::no_panic;
use crate::reason::ReasonCode;
use crate::{Findings, Limits, ccitt, clock, gif, jpeg, png_profile, polyglot, tiff};

mod streamed;

pub(crate) fn check(kind: Kind, content: &[u8], limits: &Limits) -> Findings {
    let mut f = Findings::default();
    match kind {
        Kind::Jpeg => {
            let header = jpeg::walk(content);
            if let Some(why) = &header.malformed {
                f.refuse(ReasonCode::ImageStructure, why);
            }
            if let Some(why) = &header.truncated {
                f.refuse(ReasonCode::ImageTruncated, why);
            }
            if let Some(why) = &header.unsupported {
                f.refuse(
                    ReasonCode::KindNotSupported,
                    format!("jpeg: {why}, which guichet cannot decode"),
                );
            }
            let hidden = polyglot::jpeg_hidden_regions(content)
                .into_iter()
                .find_map(polyglot::hidden_format);
            if let Some(what) = hidden {
                f.refuse(
                    ReasonCode::Polyglot,
                    format!("{what}, in a JPEG segment or after its end of image"),
                );
            }
            // A large JPEG's header is read from the start of the file up to its first scan:
            // `image` copies all it is given into memory before it reads a header.
            let large = content.len() as u64 > limits.large_content_bytes;
            let head = if large {
                let end = header
                    .first_scan
                    .map_or(HEAD_WITHOUT_SCAN, |at| at + 64 * 1024);
                &content[..end.min(content.len())]
            } else {
                content
            };
            if f.refused() {
                // Still report the size when the header gives it.
                if let Ok(Ok((w, h))) = no_panic(|| header_dimensions(head)) {
                    (f.width, f.height, f.pages) = (Some(w), Some(h), Some(1));
                }
                return f;
            }
            if !dimensions_pass(head, limits, &mut f) {
                return f;
            }
            // A file that stops right after its scan header holds no entropy-coded data:
            // it is judged as when it is small, whatever the size of its metadata.
            let scan_empty = header.first_scan == Some(content.len());
            if large && !scan_empty {
                decode_jpeg_scaled(content, &header, limits, &mut f);
            } else {
                decode_jpeg(content, limits, &mut f);
            }
        }
        Kind::Tiff => check_tiff(content, limits, &mut f),
        Kind::Gif => {
            if let Some(o) = gif::frame_overflow(content, limits.max_frames as usize) {
                f.refuse(
                    ReasonCode::ImageStructure,
                    format!(
                        "frame {} ({}x{} at {},{}) reaches beyond the {}x{} screen",
                        o.frame, o.width, o.height, o.left, o.top, o.screen.0, o.screen.1
                    ),
                );
                return f;
            }
            decode_with_image(content, limits, &mut f);
        }
        Kind::Png => {
            if let Some(what) = polyglot::hidden_format(polyglot::png_tail(content)) {
                f.refuse(ReasonCode::Polyglot, format!("{what}, after the PNG's end"));
            }
            if let Some(why) = png_profile::problem(content) {
                f.refuse(ReasonCode::ImageStructure, why);
            } else if content.len() as u64 > limits.large_content_bytes {
                decode_png_rows(content, limits, &mut f);
            } else {
                decode_with_image(content, limits, &mut f);
            }
        }
        Kind::Webp => {
            if let Some(why) = riff_cut_off(content) {
                f.refuse(ReasonCode::ImageTruncated, why);
                return f;
            }
            decode_with_image(content, limits, &mut f);
        }
        Kind::Bmp if content.len() as u64 > limits.large_content_bytes => {
            check_large_bmp(content, limits, &mut f);
        }
        _ => decode_with_image(content, limits, &mut f),
    }
    f
}

/// A large BMP whose pixels are stored as they are (`BI_RGB`, or a core header) needs no
/// decoding: once `image` has read its header (and palette), a full decode could only fail
/// by running out of bytes, for `image` reads every row, padding included, from the data
/// offset on, and pads a short palette. So the file must hold every row, and nothing decoded
/// is kept. Any other BMP (RLE, bit fields) is decoded as a small one is.
fn check_large_bmp(content: &[u8], limits: &Limits, f: &mut Findings) {
    let Some(end) = uncompressed_bmp_end(content) else {
        return decode_with_image(content, limits, f);
    };
    if !dimensions_pass(content, limits, f) {
        return;
    }
    if end > content.len() as u64 {
        f.refuse(
            ReasonCode::ImageTruncated,
            format!(
                "bmp: the pixel rows end at byte {end}, the file at byte {}",
                content.len()
            ),
        );
    }
}

/// Where the last pixel row of an uncompressed BMP ends: the data offset of its file header
/// plus a row (of `bits × width` bits, padded to 4 bytes) for each line. `None` for a BMP
/// that is compressed or whose header this does not read.
fn uncompressed_bmp_end(content: &[u8]) -> Option<u64> {
    let u16_at = |at: usize| {
        let b = content.get(at..at + 2)?;
        Some(u64::from(u16::from_le_bytes([b[0], b[1]])))
    };
    let u32_at = |at: usize| {
        let b = content.get(at..at + 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    if content.get(..2)? != b"BM" {
        return None;
    }
    let offset = u64::from(u32_at(10)?);
    let (width, height, bits) = match u32_at(14)? {
        // BITMAPCOREHEADER: 16-bit sizes, never compressed.
        12 => (u16_at(18)?, u16_at(20)?, u16_at(24)?),
        size if size >= 40 && u32_at(30)? == 0 => {
            let width = u64::from(u32_at(18)?.cast_signed().unsigned_abs());
            let height = u64::from(u32_at(22)?.cast_signed().unsigned_abs());
            (width, height, u16_at(28)?)
        }
        _ => return None,
    };
    let row = (width.checked_mul(bits)?.checked_add(31)? / 32).checked_mul(4)?;
    offset.checked_add(row.checked_mul(height)?)
}

/// A WebP's RIFF header gives the length of everything after it: a file shorter than that
/// was cut off, whatever the decoder makes of what is left (it reads the image chunk and
/// ignores a metadata chunk cut short; Pillow and libwebp refuse the file).
fn riff_cut_off(content: &[u8]) -> Option<String> {
    let size = content.get(4..8)?;
    let declared = u64::from(u32::from_le_bytes([size[0], size[1], size[2], size[3]])) + 8;
    let actual = content.len() as u64;
    (actual < declared)
        .then(|| format!("the RIFF header says {declared} bytes, the file has {actual}"))
}

/// A large PNG is decoded row by row and nothing kept: the whole image is still inflated and
/// checked (CRCs, filters, truncation), in the memory of two rows instead of all of them.
fn decode_png_rows(content: &[u8], limits: &Limits, f: &mut Findings) {
    if !dimensions_pass(content, limits, f) {
        return;
    }
    let decoded = no_panic(|| -> Result<(), png::DecodingError> {
        let limits = png::Limits {
            bytes: usize::try_from(limits.max_image_alloc).unwrap_or(usize::MAX),
        };
        let mut reader = png::Decoder::new_with_limits(Cursor::new(content), limits).read_info()?;
        while let Some(row) = reader.next_row()? {
            crate::mapped::note_read(row.data().len());
            if clock::over() {
                return Ok(());
            }
        }
        reader.finish()
    });
    match decoded {
        Ok(Ok(())) => {}
        Ok(Err(png::DecodingError::LimitsExceeded)) => {
            f.refuse(
                ReasonCode::ImageTooLarge,
                "png: decoding exceeds the memory limit",
            );
        }
        Ok(Err(png::DecodingError::IoError(e)))
            if e.kind() == std::io::ErrorKind::UnexpectedEof =>
        {
            f.refuse(ReasonCode::ImageTruncated, format!("png: {e}"));
        }
        Ok(Err(e)) => {
            let detail = format!("png: {e}");
            let code = if looks_truncated(&detail) {
                ReasonCode::ImageTruncated
            } else {
                ReasonCode::ImageCorrupt
            };
            f.refuse(code, detail);
        }
        Err(panic) => f.refuse(ReasonCode::ImageCorrupt, panic),
    }
}

fn header_dimensions(content: &[u8]) -> Result<(u32, u32), ImageError> {
    ImageReader::new(Cursor::new(content))
        .with_guessed_format()
        .map_err(ImageError::IoError)?
        .into_dimensions()
}

/// Refuses dimensions above the limits or below the readable minimum; `true` if too large.
pub(crate) fn check_dimensions(
    width: u32,
    height: u32,
    limits: &Limits,
    f: &mut Findings,
    what: &str,
) -> bool {
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limits.max_pixels || width.max(height) > limits.max_image_side {
        f.refuse(
            ReasonCode::ImageTooLarge,
            format!(
                "{what}{width}x{height} ({pixels} pixels; the limit is {} pixels, {} a side)",
                limits.max_pixels, limits.max_image_side
            ),
        );
        return true;
    }
    if width == 0 || height == 0 {
        f.refuse(
            ReasonCode::ImageCorrupt,
            format!("{what}{width}x{height}: empty image"),
        );
        return true;
    }
    if width.min(height) < limits.min_image_side {
        f.refuse(
            ReasonCode::ImageTooSmall,
            format!(
                "{what}{width}x{height}; the shorter side must be at least {}",
                limits.min_image_side
            ),
        );
    }
    false
}

fn image_limits(limits: &Limits) -> image::Limits {
    let mut l = image::Limits::default();
    l.max_image_width = Some(limits.max_image_side);
    l.max_image_height = Some(limits.max_image_side);
    l.max_alloc = Some(limits.max_image_alloc);
    l
}

fn reader<'a>(
    content: &'a [u8],
    limits: &Limits,
) -> Result<ImageReader<Cursor<&'a [u8]>>, ImageError> {
    let mut r = ImageReader::new(Cursor::new(content))
        .with_guessed_format()
        .map_err(ImageError::IoError)?;
    r.limits(image_limits(limits));
    Ok(r)
}

/// Reads the dimensions from the header and checks them; `false` when that refuses the
/// image (nothing more should be decoded).
fn dimensions_pass(content: &[u8], limits: &Limits, f: &mut Findings) -> bool {
    let dims = no_panic(|| reader(content, limits)?.into_dimensions());
    let (width, height) = match dims {
        Ok(Ok(d)) => d,
        Ok(Err(e)) => {
            refuse_image_error(&e, f);
            return false;
        }
        Err(panic) => {
            f.refuse(ReasonCode::ImageCorrupt, panic);
            return false;
        }
    };
    (f.width, f.height, f.pages) = (Some(width), Some(height), Some(1));
    !check_dimensions(width, height, limits, f, "")
}

fn decode_with_image(content: &[u8], limits: &Limits, f: &mut Findings) {
    if !dimensions_pass(content, limits, f) {
        return;
    }
    match no_panic(|| reader(content, limits)?.decode().map(|_| ())) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => refuse_image_error(&e, f),
        Err(panic) => f.refuse(ReasonCode::ImageCorrupt, panic),
    }
}

/// Decodes a JPEG with zune-jpeg (the decoder `image` uses, with the same lenient options),
/// to grey when its components are YCbCr or grey: every component's entropy-coded data is
/// still read, for the components are interleaved and damage shows there, but the chroma is
/// neither upsampled nor converted to RGB, which cannot fail and took a third of the time.
fn decode_jpeg(content: &[u8], limits: &Limits, f: &mut Findings) {
    use zune_core::bytestream::ZCursor;
    use zune_core::colorspace::ColorSpace;
    use zune_core::options::DecoderOptions;
    use zune_jpeg::errors::DecodeErrors;

    let side = limits.max_image_side as usize;
    let decoded = no_panic(|| {
        let options = DecoderOptions::default()
            .set_strict_mode(false)
            .set_max_width(side)
            .set_max_height(side);
        let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(content), options);
        decoder.decode_headers()?;
        if matches!(
            decoder.input_colorspace(),
            Some(ColorSpace::YCbCr | ColorSpace::Luma)
        ) {
            decoder.set_options(options.jpeg_set_out_colorspace(ColorSpace::Luma));
        }
        match decoder.output_buffer_size() {
            Some(size) if size as u64 <= limits.max_image_alloc => decoder.decode().map(drop),
            _ => Err(DecodeErrors::LargeDimensions(side)),
        }
    });
    let error = match decoded {
        Ok(Ok(())) => return,
        Ok(Err(e)) => e,
        Err(panic) => return f.refuse(ReasonCode::ImageCorrupt, panic),
    };
    let detail = format!("jpeg: {error:?}");
    let code = match error {
        DecodeErrors::Unsupported(_) => ReasonCode::KindNotSupported,
        DecodeErrors::LargeDimensions(_) => ReasonCode::ImageTooLarge,
        DecodeErrors::ExhaustedData => ReasonCode::ImageTruncated,
        _ if looks_truncated(&detail) => ReasonCode::ImageTruncated,
        _ => ReasonCode::ImageCorrupt,
    };
    f.refuse(code, detail);
}

/// How much of a large JPEG whose walk found no scan is read for its header (when the walk
/// stopped at a malformation, the file is refused and its size only reported).
const HEAD_WITHOUT_SCAN: usize = 8 << 20;

/// Most memory the coefficients of a large progressive JPEG may take while it is verified:
/// 64 MiB, about 22 million pixels in colour with the usual chroma subsampling, 33 million in
/// grey. A progressive file that large (above `limits.large_content_bytes`) is rare: cameras,
/// phones and scanners write baseline JPEGs, and web exports are small.
pub(crate) const MAX_PROGRESSIVE_COEFFICIENT_BYTES: u64 = 64 << 20;

/// A large JPEG (above `limits.large_content_bytes`), verified in bounded memory: it is
/// decoded with jpeg-decoder at an eighth of its width and height, a scaling done in the
/// inverse DCT. Every byte of every scan is still entropy-decoded and checked, so damage and
/// truncation are found as by a full decode, but the picture kept is a sixty-fourth of the
/// pixels, a baseline frame is decoded one row of MCUs at a time, and the file is read through
/// a [`ReleasingReader`](crate::mapped::ReleasingReader), so its pages do not stay resident.
/// A baseline JPEG of any size is verified in a few megabytes.
///
/// A progressive JPEG cannot be verified that way: its scans refine the coefficients of the
/// whole picture in turn, and any decoder holds them all until the last scan (two bytes a
/// coefficient: three bytes a pixel in colour with 4:2:0 subsampling). Above
/// [`MAX_PROGRESSIVE_COEFFICIENT_BYTES`] of coefficients, a large progressive JPEG is refused
/// as `image_too_large` before any decoding, the detail asking for a baseline export; below,
/// it is decoded and costs its coefficients.
///
/// Smaller JPEGs keep the full decode of [`decode_jpeg`].
fn decode_jpeg_scaled(
    content: &[u8],
    header: &jpeg::JpegHeader,
    limits: &Limits,
    f: &mut Findings,
) {
    use jpeg_decoder::Error;

    if header.progressive {
        let needed = header.coefficient_bytes.unwrap_or(u64::MAX);
        if needed > MAX_PROGRESSIVE_COEFFICIENT_BYTES {
            let (width, height) = header.frame.unwrap_or_default();
            return f.refuse(
                ReasonCode::ImageTooLarge,
                format!(
                    "jpeg: a progressive JPEG of {width}x{height} holds {} MiB of coefficients \
                     while it is verified, more than the {} MiB allowed for a large progressive \
                     file; a baseline (non-progressive) JPEG of any size is accepted",
                    needed.div_ceil(1 << 20),
                    MAX_PROGRESSIVE_COEFFICIENT_BYTES >> 20
                ),
            );
        }
    }
    let alloc = usize::try_from(limits.max_image_alloc).unwrap_or(usize::MAX);
    let decoded = no_panic(|| {
        let mut decoder =
            jpeg_decoder::Decoder::new(Timed::new(crate::mapped::ReleasingReader::new(content)));
        decoder.set_max_decoding_buffer_size(alloc);
        decoder.scale(1, 1)?;
        decoder.decode().map(drop)
    });
    let error = match decoded {
        Ok(Ok(())) => return,
        Ok(Err(e)) => e,
        Err(panic) => return f.refuse(ReasonCode::ImageCorrupt, panic),
    };
    if clock::over() {
        return; // stopped by the time limit, which the verification reports
    }
    let detail = format!("jpeg: {error}");
    let code = match &error {
        Error::Unsupported(_) => ReasonCode::KindNotSupported,
        Error::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            ReasonCode::ImageTruncated
        }
        Error::Format(why) if why.contains("maximum") => ReasonCode::ImageTooLarge,
        _ if looks_truncated(&detail) => ReasonCode::ImageTruncated,
        _ => ReasonCode::ImageCorrupt,
    };
    f.refuse(code, detail);
}

/// A reader that fails once the verification's time is spent, so that a decoder that reads
/// from it stops there. The clock is read every 64 KiB (decoders read a byte at a time).
struct Timed<R> {
    inner: R,
    unchecked: usize,
}

impl<R> Timed<R> {
    fn new(inner: R) -> Self {
        Timed {
            inner,
            unchecked: 0,
        }
    }
}

impl<R: std::io::Read> std::io::Read for Timed<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.unchecked >= 1 << 16 {
            self.unchecked = 0;
            if clock::over() {
                return Err(std::io::Error::other("the verification's time is spent"));
            }
        }
        let n = self.inner.read(buf)?;
        self.unchecked += n;
        Ok(n)
    }
}

fn looks_truncated(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "eof",
        "end of",
        "truncat",
        "unexpected end",
        "no more data",
        "not enough data",
        "too short",
    ]
    .iter()
    .any(|k| m.contains(k))
}

fn refuse_image_error(e: &ImageError, f: &mut Findings) {
    let detail = e.to_string();
    let code = match e {
        ImageError::Limits(_) => ReasonCode::ImageTooLarge,
        ImageError::Unsupported(_) => ReasonCode::KindNotSupported,
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            ReasonCode::ImageTruncated
        }
        _ if looks_truncated(&detail) => ReasonCode::ImageTruncated,
        _ => ReasonCode::ImageCorrupt,
    };
    f.refuse(code, detail);
}

fn check_tiff(content: &[u8], limits: &Limits, f: &mut Findings) {
    let max_ifds = limits.max_frames as usize * 4;
    let layout = match tiff::walk(content, max_ifds) {
        Ok(layout) => layout,
        Err(tiff::TiffWalkError::Truncated(why)) => {
            return f.refuse(ReasonCode::ImageTruncated, why);
        }
        Err(tiff::TiffWalkError::Structure(why)) => {
            return f.refuse(ReasonCode::ImageStructure, why);
        }
        Err(tiff::TiffWalkError::TooMany(n)) => {
            return f.refuse(
                ReasonCode::ImageStructure,
                format!("more than {n} directories"),
            );
        }
    };
    let pages = u32::try_from(layout.pages.len()).unwrap_or(u32::MAX);
    f.pages = Some(pages);
    let first = &layout.pages[0];
    (f.width, f.height) = (Some(first.width), Some(first.height));
    if pages > limits.max_pdf_pages.min(limits.max_frames) {
        return f.refuse(
            ReasonCode::TooManyPages,
            format!(
                "{pages} pages, more than the {} verified",
                limits.max_frames
            ),
        );
    }
    for (n, page) in layout.pages.iter().enumerate() {
        let what = format!("page {}: ", n + 1);
        if check_dimensions(page.width, page.height, limits, f, &what) {
            return;
        }
        if !tiff::compression_supported(page.compression) {
            return f.refuse(
                ReasonCode::KindNotSupported,
                format!(
                    "tiff {what}{}, which guichet cannot decode",
                    tiff::compression_name(page.compression)
                ),
            );
        }
    }
    match no_panic(|| decode_tiff_pages(content, &layout, limits)) {
        Ok(Ok(())) => {}
        Ok(Err((code, detail))) => f.refuse(code, detail),
        Err(panic) => f.refuse(ReasonCode::ImageCorrupt, panic),
    }
}

/// Decodes every page: fax pages with `crate::ccitt`, the others with the `tiff` crate.
fn decode_tiff_pages(
    content: &[u8],
    layout: &tiff::TiffLayout,
    limits: &Limits,
) -> Result<(), (ReasonCode, String)> {
    let mut l = ::tiff::decoder::Limits::default();
    let alloc = usize::try_from(limits.max_image_alloc).unwrap_or(usize::MAX);
    l.decoding_buffer_size = alloc;
    l.intermediate_buffer_size = alloc;
    let mut decoder = ::tiff::decoder::Decoder::new(tiff::GreyPalettes::new(content, layout))
        .map_err(tiff_refusal)?
        .with_limits(l);
    let mut buffer = Vec::new();
    let pages = layout.pages.iter().take(limits.max_frames as usize);
    for (n, page) in (1..).zip(pages) {
        if clock::over() {
            break;
        }
        if let Some(compat) = &page.lzw_compat {
            tiff::decode_lzw_compat(content, page.height, compat, limits.max_image_alloc).map_err(
                |(truncated, why)| {
                    let code = if truncated {
                        ReasonCode::ImageTruncated
                    } else {
                        ReasonCode::ImageCorrupt
                    };
                    (code, format!("tiff page {n}: {why}"))
                },
            )?;
            if !decoder.more_images() {
                break;
            }
            decoder.next_image().map_err(tiff_refusal)?;
            continue;
        }
        match &page.fax {
            Some(fax) => {
                ccitt::decode_page(content, page, fax).map_err(|e| match e {
                    ccitt::FaxError::Truncated(why) => {
                        (ReasonCode::ImageTruncated, format!("tiff page {n}: {why}"))
                    }
                    ccitt::FaxError::Corrupt(why) => {
                        (ReasonCode::ImageCorrupt, format!("tiff page {n}: {why}"))
                    }
                })?;
            }
            None => read_chunks(&mut decoder, content, &mut buffer, alloc).map_err(tiff_refusal)?,
        }
        if !decoder.more_images() {
            break;
        }
        decoder.next_image().map_err(tiff_refusal)?;
    }
    Ok(())
}

/// Decodes the current page a strip or tile at a time, every plane, into `buffer`: the checks
/// of decoding it whole, in the memory of its largest strip, and with the decoded rows still
/// in the processor's cache when the predictor runs over them. A strip or tile larger than
/// [`streamed::STREAMED_CHUNK_BYTES`] (a page written as one strip) is verified as a stream
/// when its compression allows, never whole (see [`streamed`]).
fn read_chunks<R: std::io::Read + std::io::Seek>(
    decoder: &mut ::tiff::decoder::Decoder<R>,
    content: &[u8],
    buffer: &mut Vec<u8>,
    max_alloc: usize,
) -> ::tiff::TiffResult<()> {
    let chunks = match decoder.get_chunk_type() {
        ::tiff::decoder::ChunkType::Strip => decoder.strip_count()?,
        ::tiff::decoder::ChunkType::Tile => decoder.tile_count()?,
    };
    if chunks == 0 {
        // No strip to read (a RowsPerStrip of 0): as the decoder reads the page whole.
        return decoder.read_image().map(drop);
    }
    for chunk in 0..chunks {
        let len = decoder.image_chunk_buffer_layout(chunk)?.len;
        if len > max_alloc {
            return Err(::tiff::TiffError::LimitsExceeded);
        }
        if len > streamed::STREAMED_CHUNK_BYTES
            && let Some(verified) = streamed::verify_chunk(decoder, content, chunk, len)
        {
            verified?;
            continue;
        }
        if buffer.len() < len {
            buffer.resize(len, 0);
        }
        decoder.read_chunk_bytes(chunk, &mut buffer[..len])?;
    }
    Ok(())
}

fn tiff_refusal(e: ::tiff::TiffError) -> (ReasonCode, String) {
    use ::tiff::TiffError;
    let detail = e.to_string();
    let code = match &e {
        TiffError::UnsupportedError(_) => ReasonCode::KindNotSupported,
        TiffError::LimitsExceeded => ReasonCode::ImageTooLarge,
        TiffError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            ReasonCode::ImageTruncated
        }
        _ if looks_truncated(&detail) => ReasonCode::ImageTruncated,
        _ => ReasonCode::ImageCorrupt,
    };
    (code, format!("tiff: {detail}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::png;

    fn codes(f: &Findings) -> Vec<ReasonCode> {
        f.reasons.iter().map(|r| r.code).collect()
    }

    #[test]
    fn a_good_png_passes() {
        let f = check(Kind::Png, &png(200, 150), &Limits::default());
        assert!(f.reasons.is_empty(), "{:?}", f.reasons);
        assert_eq!((f.width, f.height), (Some(200), Some(150)));
    }

    #[test]
    fn pixel_bombs_are_refused_from_the_header() {
        let limits = Limits {
            max_pixels: 10_000,
            ..Limits::default()
        };
        assert_eq!(
            codes(&check(Kind::Png, &png(200, 150), &limits)),
            vec![ReasonCode::ImageTooLarge]
        );
    }

    #[test]
    fn small_images_are_unreadable() {
        assert_eq!(
            codes(&check(Kind::Png, &png(40, 300), &Limits::default())),
            vec![ReasonCode::ImageTooSmall]
        );
    }

    #[test]
    fn truncated_and_corrupt_images_are_told_apart() {
        let good = png(200, 150);
        let cut = &good[..good.len() / 2];
        assert_eq!(
            codes(&check(Kind::Png, cut, &Limits::default())),
            vec![ReasonCode::ImageTruncated]
        );
        let mut bad = good.clone();
        let mid = bad.len() / 2;
        for b in &mut bad[mid..mid + 40] {
            *b ^= 0x5A;
        }
        let c = codes(&check(Kind::Png, &bad, &Limits::default()));
        assert!(
            c == vec![ReasonCode::ImageCorrupt] || c == vec![ReasonCode::ImageTruncated],
            "{c:?}"
        );
    }

    #[test]
    fn a_webp_shorter_than_its_riff_header_says_is_truncated() {
        let mut webp = std::io::Cursor::new(Vec::new());
        image::RgbImage::from_pixel(200, 150, image::Rgb([9, 90, 200]))
            .write_to(&mut webp, image::ImageFormat::WebP)
            .expect("encoding to memory");
        let webp = webp.into_inner();
        assert!(
            check(Kind::Webp, &webp, &Limits::default())
                .reasons
                .is_empty()
        );
        let cut = &webp[..webp.len() - 1];
        assert_eq!(
            codes(&check(Kind::Webp, cut, &Limits::default())),
            vec![ReasonCode::ImageTruncated]
        );
    }

    #[test]
    fn an_old_style_lzw_tiff_is_accepted_and_its_damage_refused() {
        let good = crate::tiff::tests::lzw_compat_tiff(200, 150);
        let f = check(Kind::Tiff, &good, &Limits::default());
        assert!(f.reasons.is_empty(), "{:?}", f.reasons);
        let mut damaged = good.clone();
        let strip_end = damaged.len();
        damaged.truncate(strip_end - strip_end / 4);
        let f = check(Kind::Tiff, &damaged, &Limits::default());
        assert!(!f.reasons.is_empty());
    }

    #[test]
    fn a_tiff_is_decoded_page_by_page() {
        let img = image::GrayImage::from_fn(120, 130, |x, _| image::Luma([(x % 256) as u8]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Tiff)
            .expect("encode tiff");
        let f = check(Kind::Tiff, out.get_ref(), &Limits::default());
        assert!(f.reasons.is_empty(), "{:?}", f.reasons);
        assert_eq!(
            (f.pages, f.width, f.height),
            (Some(1), Some(120), Some(130))
        );
    }

    /// Limits under which every JPEG and TIFF takes the bounded path of large content.
    fn bounded() -> Limits {
        Limits {
            large_content_bytes: 0,
            ..Limits::default()
        }
    }

    fn noisy_jpeg(width: u32, height: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(width, height, |x, y| {
            let n = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)) % 251;
            image::Rgb([n as u8, (n * 3 % 251) as u8, (x % 256) as u8])
        });
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Jpeg)
            .expect("encode jpeg");
        out.into_inner()
    }

    #[test]
    fn a_large_jpeg_is_decoded_scaled_and_its_damage_found() {
        let good = noisy_jpeg(640, 480);
        let f = check(Kind::Jpeg, &good, &bounded());
        assert!(f.reasons.is_empty(), "{:?}", f.reasons);
        assert_eq!((f.width, f.height), (Some(640), Some(480)));
        // Cut short: the walk finds no end of image.
        let cut = &good[..good.len() * 2 / 3];
        assert_eq!(
            codes(&check(Kind::Jpeg, cut, &bounded())),
            vec![ReasonCode::ImageTruncated]
        );
        // A marker inside the entropy-coded data, where the decoder must stop.
        let mut marker = good.clone();
        let at = good.len() / 2;
        marker[at..at + 2].copy_from_slice(&[0xFF, 0xC4]);
        assert_eq!(
            codes(&check(Kind::Jpeg, &marker, &bounded())),
            vec![ReasonCode::ImageCorrupt]
        );
        assert_eq!(
            codes(&check(Kind::Jpeg, &marker, &Limits::default())),
            vec![ReasonCode::ImageCorrupt],
            "as when the JPEG is decoded whole"
        );
    }

    /// A JPEG of `width` x `height` in one grey component, whose frame is progressive
    /// (SOF2), with a few bytes of scan data.
    fn progressive_grey_header(width: u16, height: u16) -> Vec<u8> {
        let mut j = vec![0xFF, 0xD8, 0xFF, 0xC2, 0, 11, 8];
        j.extend_from_slice(&height.to_be_bytes());
        j.extend_from_slice(&width.to_be_bytes());
        j.extend_from_slice(&[1, 1, 0x11, 0]);
        j.extend_from_slice(&[0xFF, 0xDA, 0, 8, 1, 1, 0, 0, 0, 0, 0x12, 0xFF, 0xD9]);
        j
    }

    #[test]
    fn a_large_progressive_jpeg_over_its_coefficient_bound_is_refused_before_decoding() {
        // 9000x9000 grey: 81 million coefficients of two bytes, over the bound.
        let f = check(Kind::Jpeg, &progressive_grey_header(9000, 9000), &bounded());
        assert_eq!(codes(&f), vec![ReasonCode::ImageTooLarge]);
        let detail = f.reasons[0].detail.as_deref().unwrap_or_default();
        assert!(detail.contains("progressive"), "{detail}");
        assert_eq!((f.width, f.height), (Some(9000), Some(9000)));
        // Under the bound, the same header goes on to the decoder (whose scan data is junk).
        let small = check(Kind::Jpeg, &progressive_grey_header(2000, 2000), &bounded());
        assert!(
            !codes(&small).contains(&ReasonCode::ImageTooLarge),
            "{small:?}"
        );
    }

    /// A grey TIFF of `width` x `height` in a single strip coded with `compression`.
    fn single_strip_tiff(compression: u32, width: u32, height: u32, strip: Vec<u8>) -> Vec<u8> {
        let grey = [(258, 3, 1, 8), (262, 3, 1, 1)];
        crate::tiff::tests::strip_tiff(compression, &grey, width, height, height, &[strip])
    }

    /// Grey pixels filling more than the strip size verified as a stream.
    fn large_page() -> (u32, u32, Vec<u8>) {
        let (width, height) = (4200u32, 4100u32);
        assert!((width * height) as usize > streamed::STREAMED_CHUNK_BYTES);
        let pixels = (0..width * height).map(|i| (i % 253) as u8).collect();
        (width, height, pixels)
    }

    #[test]
    fn a_page_in_one_large_strip_is_verified_as_a_stream() {
        let (width, height, pixels) = large_page();
        let limits = Limits::default();
        let raw = single_strip_tiff(1, width, height, pixels.clone());
        assert!(check(Kind::Tiff, &raw, &limits).reasons.is_empty());
        let cut = &raw[..raw.len() - 1000];
        assert_eq!(
            codes(&check(Kind::Tiff, cut, &limits)),
            vec![ReasonCode::ImageTruncated]
        );

        let lzw = weezl::encode::Encoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8)
            .encode(&pixels)
            .expect("encoding to memory");
        let lzw = single_strip_tiff(5, width, height, lzw);
        assert!(check(Kind::Tiff, &lzw, &limits).reasons.is_empty());
        let cut = &lzw[..lzw.len() / 2];
        assert_eq!(
            codes(&check(Kind::Tiff, cut, &limits)),
            vec![ReasonCode::ImageTruncated]
        );

        let deflate = miniz_oxide::deflate::compress_to_vec_zlib(&pixels, 1);
        let deflate = single_strip_tiff(8, width, height, deflate);
        assert!(check(Kind::Tiff, &deflate, &limits).reasons.is_empty());
        let mut damaged = deflate.clone();
        let at = damaged.len() / 2;
        for b in &mut damaged[at..at + 64] {
            *b ^= 0xA5;
        }
        let c = codes(&check(Kind::Tiff, &damaged, &limits));
        assert!(
            c == vec![ReasonCode::ImageCorrupt] || c == vec![ReasonCode::ImageTruncated],
            "{c:?}"
        );
    }

    fn bmp(image: image::DynamicImage) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image
            .write_to(&mut out, image::ImageFormat::Bmp)
            .expect("encode bmp");
        out.into_inner()
    }

    /// The large path reads no pixel of an uncompressed BMP, yet judges it as a full decode
    /// does: for the layouts `image` writes (24-bit rows padded to 4 bytes and 8-bit grey
    /// through a palette, uncompressed; 32-bit with alpha, in bit fields, decoded), whole, cut
    /// by one byte, and cut to half its rows.
    #[test]
    fn a_large_uncompressed_bmp_is_judged_as_a_decoded_one() {
        let rgb = image::RgbImage::from_fn(101, 137, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let grey = image::GrayImage::from_fn(145, 119, |x, y| image::Luma([(x * y) as u8]));
        let rgba =
            image::RgbaImage::from_fn(133, 120, |x, y| image::Rgba([x as u8, y as u8, 1, 200]));
        for (whole, uncompressed) in [
            (bmp(rgb.into()), true),
            (bmp(grey.into()), true),
            (bmp(rgba.into()), false),
        ] {
            assert_eq!(uncompressed_bmp_end(&whole).is_some(), uncompressed);
            for content in [
                &whole[..],
                &whole[..whole.len() - 1],
                &whole[..whole.len() / 2],
            ] {
                let decoded = check(Kind::Bmp, content, &Limits::default());
                let bounded = check(Kind::Bmp, content, &bounded());
                assert_eq!(codes(&bounded), codes(&decoded), "{} bytes", content.len());
                assert_eq!(
                    (bounded.width, bounded.height),
                    (decoded.width, decoded.height)
                );
            }
            assert!(check(Kind::Bmp, &whole, &bounded()).reasons.is_empty());
            assert_eq!(
                codes(&check(Kind::Bmp, &whole[..whole.len() - 1], &bounded())),
                vec![ReasonCode::ImageTruncated]
            );
        }
    }

    #[test]
    fn a_compressed_bmp_is_left_to_the_decoder() {
        let mut rle = bmp(image::GrayImage::new(8, 8).into());
        rle[30..34].copy_from_slice(&1u32.to_le_bytes());
        assert_eq!(uncompressed_bmp_end(&rle), None);
        assert_eq!(
            codes(&check(Kind::Bmp, &rle, &bounded())),
            codes(&check(Kind::Bmp, &rle, &Limits::default())),
        );
    }
}
