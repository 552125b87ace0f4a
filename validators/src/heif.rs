//! HEIC and AVIF: HEIF containers read and decoded with libheif (`libheif-rs`, built from the
//! sources `libheif-sys` embeds, its HEVC and AV1 decoders Debian's libde265 and dav1d).
//!
//! Verification: the container is parsed under libheif's security limits, set from [`Limits`]
//! (pixels, memory); the primary image's declared size (its `ispe`, what the decoder
//! allocates, and the size shown after its transforms) is held to the same limits as every
//! other image before anything is decoded; then the primary image is decoded whole, strictly
//! (a decoding warning is an error). Thumbnails and other images of the file are not decoded:
//! nothing shows them in place of the primary image.
//!
//! The display copy ([`display_copy`]): browsers do not draw HEIC, so staff see a JPEG made
//! from the primary image as libheif shows it (its `irot`, `imir` and `clap` applied), turned
//! by its EXIF orientation only when the container carries no `irot` or `imir` (writers that
//! set both, as phones do, mean the same turn once), its longest side brought down to
//! [`DISPLAY_MAX_SIDE`], and encoded with no metadata at all (no EXIF, GPS, XMP or profile).
//!
//! libheif is C++: what `no_panic` catches is the Rust side; libheif itself reports every
//! failure as an error value, and its parsers and decoders are fuzzed upstream.

use std::sync::OnceLock;

use dossiers::Kind;
use image::{DynamicImage, ImageBuffer, Rgb, RgbImage};
use libheif_rs::{
    ColorSpace, DecodingOptions, HeifContext, HeifError, HeifErrorCode, HeifErrorSubCode,
    ImageHandle, LibHeif, RgbChroma, SecurityLimits,
};
use libheif_sys as lh;

use crate::guard::no_panic;
use crate::raster::check_dimensions;
use crate::reason::ReasonCode;
use crate::{Findings, Limits};

/// The longest side of a display copy, in pixels.
pub const DISPLAY_MAX_SIDE: u32 = 2048;

/// The JPEG quality of a display copy.
const DISPLAY_QUALITY: u8 = 85;

/// libheif, initialised once for the process and never released (its decoders are registered
/// on the first initialisation and unregistered on the last release).
fn libheif() -> &'static LibHeif {
    static LIBHEIF: OnceLock<LibHeif> = OnceLock::new();
    LIBHEIF.get_or_init(LibHeif::new)
}

/// Why a HEIF content is refused: a reason code and its detail.
type Refusal = (ReasonCode, String);

pub(crate) fn check(kind: Kind, content: &[u8], limits: &Limits) -> Findings {
    let mut f = Findings::default();
    match no_panic(|| verify(kind, content, limits, &mut f)) {
        Ok(Ok(())) => {}
        Ok(Err((code, detail))) => f.refuse(code, detail),
        Err(panic) => f.refuse(ReasonCode::ImageCorrupt, panic),
    }
    f
}

fn verify(kind: Kind, content: &[u8], limits: &Limits, f: &mut Findings) -> Result<(), Refusal> {
    let context = open(kind, content, limits)?;
    let handle = primary(kind, &context)?;
    let (width, height) = (handle.width(), handle.height());
    (f.width, f.height, f.pages) = (Some(width), Some(height), Some(1));
    if !declared_size_passes(kind, &handle, limits, f) {
        return Ok(());
    }
    let mut options = DecodingOptions::new().ok_or_else(|| {
        (
            ReasonCode::ImageTooLarge,
            format!("{kind}: no memory for the decoder"),
        )
    })?;
    options.set_strict_decoding(true);
    let image = libheif()
        .decode(&handle, ColorSpace::Undefined, Some(options))
        .map_err(|e| refusal(kind, "decoding", &e, ReasonCode::ImageCorrupt))?;
    crate::mapped::note_read(content.len());
    if (image.width(), image.height()) != (width, height) {
        return Err((
            ReasonCode::ImageCorrupt,
            format!(
                "{kind}: decoded {}x{}, declared {width}x{height}",
                image.width(),
                image.height()
            ),
        ));
    }
    Ok(())
}

/// The container, parsed under libheif's security limits set from `limits`.
fn open<'a>(kind: Kind, content: &'a [u8], limits: &Limits) -> Result<HeifContext<'a>, Refusal> {
    let fault = |e: HeifError| refusal(kind, "reading", &e, ReasonCode::ImageStructure);
    libheif();
    let mut context = HeifContext::new().map_err(fault)?;
    context
        .set_security_limits(&security_limits(limits))
        .map_err(fault)?;
    // Tiles are decoded on the verifying thread: verification runs on a bounded pool sized to
    // the machine, one thread each.
    context.set_max_decoding_threads(0);
    context.read_bytes(content).map_err(fault)?;
    Ok(context)
}

fn primary(kind: Kind, context: &HeifContext<'_>) -> Result<ImageHandle, Refusal> {
    context
        .primary_image_handle()
        .map_err(|e| refusal(kind, "reading", &e, ReasonCode::ImageStructure))
}

/// libheif's own limits, from guichet's: what its parser and decoders may allocate.
fn security_limits(limits: &Limits) -> SecurityLimits {
    let mut security = SecurityLimits::new();
    security.set_max_image_size_pixels(limits.max_pixels);
    security.set_max_memory_block_size(limits.max_image_alloc);
    security.set_max_total_memory(limits.max_image_alloc);
    security
}

/// The same limits for a context opened with `libheif-sys` directly.
fn raw_security_limits(limits: &Limits) -> Option<lh::heif_security_limits> {
    // SAFETY: libheif returns a pointer to its static global limits, or null.
    let global = unsafe { lh::heif_get_global_security_limits().as_ref() }?;
    let mut security = *global;
    security.max_image_size_pixels = limits.max_pixels;
    security.max_memory_block_size = limits.max_image_alloc;
    security.max_total_memory = limits.max_image_alloc;
    Some(security)
}

/// Holds the primary image's declared size to the limits before anything is decoded: the
/// coded size (`ispe`: what the decoder allocates, before any crop) and the size shown (after
/// the transforms), against the pixel and side limits, and the decoded bytes against the
/// memory limit. `false` when that refuses the image.
fn declared_size_passes(
    kind: Kind,
    handle: &ImageHandle,
    limits: &Limits,
    f: &mut Findings,
) -> bool {
    let coded = (
        u32::try_from(handle.ispe_width()).unwrap_or(0),
        u32::try_from(handle.ispe_height()).unwrap_or(0),
    );
    let what = format!("{kind}: coded ");
    let shown = (handle.width(), handle.height());
    if coded.0 > 0
        && coded.1 > 0
        && coded != shown
        && coded != (shown.1, shown.0)
        && check_dimensions(
            coded.0,
            coded.1,
            &Limits {
                min_image_side: 0,
                ..limits.clone()
            },
            f,
            &what,
        )
    {
        return false;
    }
    if check_dimensions(shown.0, shown.1, limits, f, &format!("{kind}: ")) {
        return false;
    }
    let channels: u64 = if handle.has_alpha_channel() { 4 } else { 3 };
    let sample_bytes: u64 = if handle.luma_bits_per_pixel() > 8 {
        2
    } else {
        1
    };
    let pixels =
        (u64::from(coded.0) * u64::from(coded.1)).max(u64::from(shown.0) * u64::from(shown.1));
    let decoded = pixels * channels * sample_bytes;
    if decoded > limits.max_image_alloc {
        f.refuse(
            ReasonCode::ImageTooLarge,
            format!(
                "{kind}: decoding needs {decoded} bytes; the limit is {} (limits.max_image_alloc)",
                limits.max_image_alloc
            ),
        );
        return false;
    }
    true
}

/// The reason for a libheif error: data that ends early is `image_truncated`, a coding no
/// decoder here reads `kind_not_supported`; its memory and security limits are
/// `image_too_large` while decoding pixels, and `image_structure` while reading the container
/// (counts of boxes, items, references or brands beyond any real file's: the pixel limits
/// are checked after reading); anything else is `otherwise` (`image_structure` for the
/// container, `image_corrupt` for the pixels).
fn refusal(kind: Kind, step: &str, e: &HeifError, otherwise: ReasonCode) -> Refusal {
    let code = match (e.code, e.sub_code) {
        (HeifErrorCode::MemoryAllocationError, HeifErrorSubCode::InvalidImageSize) => otherwise,
        (_, HeifErrorSubCode::SecurityLimitExceeded)
        | (HeifErrorCode::MemoryAllocationError, _)
            if otherwise == ReasonCode::ImageCorrupt =>
        {
            ReasonCode::ImageTooLarge
        }
        (_, HeifErrorSubCode::EndOfData) => ReasonCode::ImageTruncated,
        (HeifErrorCode::UnsupportedFeature, HeifErrorSubCode::UnsupportedCodec) => {
            ReasonCode::KindNotSupported
        }
        _ => otherwise,
    };
    let detail = format!(
        "{kind} ({step}): {:?}/{:?}: {}",
        e.code, e.sub_code, e.message
    );
    (code, detail)
}

/// A JPEG of the primary image of HEIC or AVIF `content`, for people to look at (browsers do
/// not draw these kinds): turned as the file says (libheif's transforms, or else the EXIF
/// orientation), its longest side at most [`DISPLAY_MAX_SIDE`], quality 85, and no metadata
/// (no EXIF, GPS, XMP or colour profile). `None` for other kinds, and for content that does not
/// decode within `limits`. Pure: the content is not changed, and the same content gives the
/// same bytes.
pub fn display_copy(content: &[u8], kind: Kind, limits: &Limits) -> Option<Vec<u8>> {
    if !matches!(kind, Kind::Heic | Kind::Avif) {
        return None;
    }
    no_panic(|| make_display_copy(kind, content, limits))
        .ok()
        .flatten()
}

fn make_display_copy(kind: Kind, content: &[u8], limits: &Limits) -> Option<Vec<u8>> {
    let context = open(kind, content, limits).ok()?;
    let handle = primary(kind, &context).ok()?;
    // Only the limits on size matter here: a small picture is still shown.
    let mut checked = Findings::default();
    let size_limits = Limits {
        min_image_side: 0,
        ..limits.clone()
    };
    if !declared_size_passes(kind, &handle, &size_limits, &mut checked) || checked.refused() {
        return None;
    }
    let alpha = handle.has_alpha_channel();
    let chroma = if alpha {
        RgbChroma::Rgba
    } else {
        RgbChroma::Rgb
    };
    let mut options = DecodingOptions::new()?;
    options.set_convert_hdr_to_8bit(true);
    let decoded = libheif()
        .decode(&handle, ColorSpace::Rgb(chroma), Some(options))
        .ok()?;
    let plane = decoded.planes().interleaved?;
    let channels = if alpha { 4 } else { 3 };
    let (width, height) = (plane.width, plane.height);
    let row = width as usize * channels;
    if plane.stride < row || plane.data.len() < plane.stride * height as usize {
        return None;
    }
    // Transparent parts are shown on white, as viewers show them.
    let mut pixels = Vec::with_capacity(width as usize * height as usize * 3);
    for line in plane.data.chunks(plane.stride).take(height as usize) {
        if !alpha {
            pixels.extend_from_slice(&line[..row]);
            continue;
        }
        for px in line[..row].chunks_exact(channels) {
            let a = u32::from(px[3]);
            for &c in &px[..3] {
                pixels.push(((u32::from(c) * a + 255 * (255 - a) + 127) / 255) as u8);
            }
        }
    }
    drop(decoded);
    let rgb: RgbImage = ImageBuffer::<Rgb<u8>, _>::from_raw(width, height, pixels)?;
    let mut picture = DynamicImage::ImageRgb8(rgb);
    if picture.width().max(picture.height()) > DISPLAY_MAX_SIDE {
        picture = picture.thumbnail(DISPLAY_MAX_SIDE, DISPLAY_MAX_SIDE);
    }
    if !turned_by_container(content, handle.item_id(), limits)
        && let Some(orientation) = exif_orientation(&handle)
    {
        picture.apply_orientation(orientation);
    }
    let jpeg = turbojpeg::compress_image(
        &picture.to_rgb8(),
        i32::from(DISPLAY_QUALITY),
        turbojpeg::Subsamp::Sub2x2,
    )
    .ok()?;
    Some(jpeg.to_vec())
}

/// The EXIF orientation of the image, when it carries one.
fn exif_orientation(handle: &ImageHandle) -> Option<image::metadata::Orientation> {
    let mut ids = [0; 4];
    let count = handle.metadata_block_ids(&mut ids, b"Exif");
    ids[..count.min(ids.len())].iter().find_map(|&id| {
        let block = handle.metadata(id).ok()?;
        // A HEIF Exif block starts with the offset of the TIFF header after its first 4 bytes.
        let offset = u32::from_be_bytes(block.get(..4)?.try_into().ok()?) as usize;
        let tiff = block.get(4usize.checked_add(offset)?..)?;
        image::metadata::Orientation::from_exif_chunk(tiff)
    })
}

/// Whether the container turns or mirrors item `id` itself (an `irot` or `imir` property),
/// which libheif applies when decoding. `libheif-rs` does not expose an item's properties, so
/// the content is opened a second time through `libheif-sys`, under the same limits. When that
/// fails, the answer is `true`: the EXIF orientation is then left alone.
fn turned_by_container(content: &[u8], id: lh::heif_item_id, limits: &Limits) -> bool {
    struct Context(*mut lh::heif_context);
    impl Drop for Context {
        fn drop(&mut self) {
            // SAFETY: allocated by `heif_context_alloc`, freed once.
            unsafe { lh::heif_context_free(self.0) }
        }
    }
    libheif();
    let Some(security) = raw_security_limits(limits) else {
        return true;
    };
    // SAFETY: the context is checked for null and freed by its guard; `content` outlives it
    // (read without a copy, used only within this function); the property list is sized by the
    // count libheif gives, and passed with that count.
    unsafe {
        let context = Context(lh::heif_context_alloc());
        if context.0.is_null()
            || lh::heif_context_set_security_limits(context.0, &security).code != 0
            || lh::heif_context_read_from_memory_without_copy(
                context.0,
                content.as_ptr().cast(),
                content.len(),
                std::ptr::null(),
            )
            .code
                != 0
        {
            return true;
        }
        let count =
            lh::heif_item_get_transformation_properties(context.0, id, std::ptr::null_mut(), 0);
        let Ok(len) = usize::try_from(count) else {
            return true;
        };
        let mut properties: Vec<lh::heif_property_id> = vec![0; len];
        let filled = lh::heif_item_get_transformation_properties(
            context.0,
            id,
            properties.as_mut_ptr(),
            count,
        );
        properties.truncate(usize::try_from(filled).unwrap_or(0));
        properties.iter().any(|&property| {
            let kind = lh::heif_item_get_property_type(context.0, id, property);
            kind == lh::heif_item_property_type_heif_item_property_type_transform_rotation
                || kind == lh::heif_item_property_type_heif_item_property_type_transform_mirror
        })
    }
}
