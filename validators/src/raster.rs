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

pub(crate) fn check(kind: Kind, content: &[u8], limits: &Limits) -> Findings {
    let mut f = Findings::default();
    match kind {
        Kind::Jpeg => {
            let header = jpeg::walk(content);
            if let Some(why) = header.malformed {
                f.refuse(ReasonCode::ImageStructure, why);
            }
            if let Some(why) = header.truncated {
                f.refuse(ReasonCode::ImageTruncated, why);
            }
            if let Some(why) = header.unsupported {
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
            if f.refused() {
                // Still report the size when the header gives it.
                if let Ok(Ok((w, h))) = no_panic(|| header_dimensions(content)) {
                    (f.width, f.height, f.pages) = (Some(w), Some(h), Some(1));
                }
                return f;
            }
            if dimensions_pass(content, limits, &mut f) {
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
        _ => decode_with_image(content, limits, &mut f),
    }
    f
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
            None => read_chunks(&mut decoder, &mut buffer, alloc).map_err(tiff_refusal)?,
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
/// in the processor's cache when the predictor runs over them.
fn read_chunks<R: std::io::Read + std::io::Seek>(
    decoder: &mut ::tiff::decoder::Decoder<R>,
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
}
