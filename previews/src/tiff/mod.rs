//! The pages of a TIFF, each decoded on its own: the `tiff` crate reads a page through a view
//! of the file whose header points at that page's directory, so that no page depends on the
//! ones before it (a directory the crate refuses spoils only its own page). Fax pages go to
//! `crate::fax`; palette pages, which the crate refuses, are read as grey indices (their
//! photometric value replaced in the view) and looked up in their colour map.

use std::collections::HashSet;
use std::io::{Cursor, Read, Seek, SeekFrom};
use std::sync::Arc;

use image::metadata::Orientation;
use image::{DynamicImage, GrayImage, ImageBuffer, Luma, LumaA, Rgb, RgbImage, Rgba};
use tiff::ColorType;
use tiff::decoder::{Decoder, DecodingResult};

use crate::{Limits, RenderError, fax};

mod directory;

use directory::{Ifd, PHOTOMETRIC_BLACK_IS_ZERO, PHOTOMETRIC_PALETTE, Reader};

/// Directories followed to count pages; beyond, the pages are not counted (nor drawn).
const MAX_DIRECTORIES: usize = 100_000;

pub(crate) struct TiffPages {
    data: Arc<[u8]>,
    big_endian: bool,
    big_tiff: bool,
    /// The offset of each page's directory, in order.
    pages: Vec<u64>,
    /// The most a page's decoded samples may take.
    max_alloc: u64,
}

impl TiffPages {
    pub(crate) fn open(data: Vec<u8>, limits: &Limits) -> Result<TiffPages, RenderError> {
        let not_tiff = |why: &str| RenderError::NotRenderable(format!("not a TIFF: {why}"));
        let big_endian = match data.get(..2) {
            Some(b"II") => false,
            Some(b"MM") => true,
            _ => return Err(not_tiff("no byte-order mark")),
        };
        let mut r = Reader {
            data: &data,
            big_endian,
            big_tiff: false,
        };
        let first = match r.u16(2) {
            Some(42) => r.offset(4),
            Some(43) => {
                r.big_tiff = true;
                r.offset(8)
            }
            _ => return Err(not_tiff("an unknown version")),
        }
        .ok_or_else(|| not_tiff("cut short"))?;
        // The main chain of directories: its pages. A loop or a directory cut short ends the
        // document there, as readers end it.
        let mut pages = Vec::new();
        let mut seen = HashSet::new();
        let mut next = first;
        while next != 0 && pages.len() < MAX_DIRECTORIES && seen.insert(next) {
            let Some(after) = r.next_directory(next) else {
                break;
            };
            pages.push(next);
            next = after;
        }
        if pages.is_empty() {
            return Err(not_tiff("no readable image directory"));
        }
        Ok(TiffPages {
            big_tiff: r.big_tiff,
            data: data.into(),
            big_endian,
            pages,
            max_alloc: limits.memory_bytes / 2,
        })
    }

    pub(crate) fn page_count(&self) -> u32 {
        u32::try_from(self.pages.len()).unwrap_or(u32::MAX)
    }

    /// Page `index` (0-based) at its own resolution, turned as its Orientation tag says.
    pub(crate) fn draw(&self, index: u32) -> Result<DynamicImage, String> {
        let at = usize::try_from(index)
            .ok()
            .and_then(|i| self.pages.get(i))
            .copied()
            .ok_or_else(|| format!("no page {}", u64::from(index) + 1))?;
        let r = Reader {
            data: &self.data,
            big_endian: self.big_endian,
            big_tiff: self.big_tiff,
        };
        let ifd = r
            .directory(at)
            .ok_or("its directory runs past the end of the file")?;
        let mut page = match ifd.fax() {
            Some(fax) => DynamicImage::ImageLuma8(fax::decode(&self.data, &fax, self.max_alloc)?),
            None => self.decode(at, &ifd)?,
        };
        if let Some(orientation) = Orientation::from_exif(ifd.orientation) {
            page.apply_orientation(orientation);
        }
        Ok(page)
    }

    /// A page the `tiff` crate decodes, its directory at `at`.
    fn decode(&self, at: u64, ifd: &Ifd) -> Result<DynamicImage, String> {
        let view = PageView::new(self, at, ifd);
        let unreadable = |e: tiff::TiffError| format!("the page does not decode: {e}");
        let mut limits = tiff::decoder::Limits::default();
        limits.decoding_buffer_size = usize::try_from(self.max_alloc).unwrap_or(usize::MAX);
        let mut decoder = Decoder::new(view).map_err(unreadable)?.with_limits(limits);
        let (width, height) = decoder.dimensions().map_err(unreadable)?;
        // A palette page reads as grey: its indices.
        let colour = decoder.colortype().map_err(unreadable)?;
        let samples = decoder.read_image().map_err(unreadable)?;
        let palette = if ifd.photometric == Some(PHOTOMETRIC_PALETTE) {
            Some(ColourMap::new(&ifd.color_map, ifd.bits_per_sample)?)
        } else {
            None
        };
        to_image(width, height, colour, samples, palette.as_ref())
    }
}

/// The file as the `tiff` crate reads it for one page: the header points at that page's
/// directory, and a palette page's photometric value says BlackIsZero. Nothing is copied: the
/// few bytes are replaced as they are read.
struct PageView {
    file: Cursor<Arc<[u8]>>,
    patches: Vec<(u64, Vec<u8>)>,
}

impl PageView {
    fn new(pages: &TiffPages, at: u64, ifd: &Ifd) -> PageView {
        let ordered = |mut bytes: Vec<u8>| {
            if pages.big_endian {
                bytes.reverse();
            }
            bytes
        };
        let first_directory = if pages.big_tiff {
            (8, ordered(at.to_le_bytes().to_vec()))
        } else {
            // The walk read this offset from a 32-bit field.
            (4, ordered((at as u32).to_le_bytes().to_vec()))
        };
        let mut patches = vec![first_directory];
        if let (Some(PHOTOMETRIC_PALETTE), Some(value_at)) = (ifd.photometric, ifd.photometric_at) {
            patches.push((
                value_at,
                ordered(PHOTOMETRIC_BLACK_IS_ZERO.to_le_bytes().to_vec()),
            ));
        }
        PageView {
            file: Cursor::new(pages.data.clone()),
            patches,
        }
    }
}

impl Read for PageView {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let start = self.file.position();
        let n = self.file.read(buf)?;
        for (at, bytes) in &self.patches {
            for (k, &byte) in (*at..).zip(bytes) {
                if let Some(i) = k.checked_sub(start).filter(|&i| i < n as u64) {
                    buf[i as usize] = byte;
                }
            }
        }
        Ok(n)
    }
}

impl Seek for PageView {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        self.file.seek(to)
    }
}

/// A palette: 2^bits red values, then green, then blue, 16 bits each.
struct ColourMap<'a> {
    values: &'a [u16],
    entries: usize,
    /// Some writers put 8-bit values there; libtiff takes a map without any value above 255
    /// for one.
    shift: u32,
}

impl<'a> ColourMap<'a> {
    fn new(values: &'a [u16], bits: u16) -> Result<ColourMap<'a>, String> {
        let entries = 1usize << bits.min(16);
        if values.len() != 3 * entries {
            return Err(format!(
                "a colour map of {} values for {bits}-bit indices",
                values.len()
            ));
        }
        let shift = if values.iter().all(|&v| v < 256) {
            0
        } else {
            8
        };
        Ok(ColourMap {
            values,
            entries,
            shift,
        })
    }

    fn colour(&self, index: usize) -> Rgb<u8> {
        let i = index.min(self.entries - 1);
        let at = |channel: usize| (self.values[channel * self.entries + i] >> self.shift) as u8;
        Rgb([at(0), at(1), at(2)])
    }
}

/// The decoded samples as an image; grey levels through `palette` when there is one.
fn to_image(
    width: u32,
    height: u32,
    colour: ColorType,
    samples: DecodingResult,
    palette: Option<&ColourMap<'_>>,
) -> Result<DynamicImage, String> {
    let short = || format!("fewer samples than a {width}×{height} page holds");
    let image = match (colour, samples) {
        (ColorType::Gray(bits @ (1 | 2 | 4 | 8)), DecodingResult::U8(packed)) => {
            let levels = unpack(&packed, width, height, bits).ok_or_else(short)?;
            match palette {
                Some(map) => indexed(width, height, levels.into_iter().map(usize::from), map),
                None => {
                    let max = (1u32 << bits) - 1;
                    let grey = levels
                        .into_iter()
                        .map(|v| (u32::from(v) * 255 / max) as u8)
                        .collect();
                    DynamicImage::ImageLuma8(
                        GrayImage::from_raw(width, height, grey).ok_or_else(short)?,
                    )
                }
            }
        }
        (ColorType::Gray(16), DecodingResult::U16(levels)) => match palette {
            Some(map) => {
                let needed = width as usize * height as usize;
                if levels.len() < needed {
                    return Err(short());
                }
                indexed(width, height, levels.into_iter().map(usize::from), map)
            }
            None => DynamicImage::ImageLuma16(
                ImageBuffer::<Luma<u16>, _>::from_raw(width, height, levels).ok_or_else(short)?,
            ),
        },
        (
            ColorType::Multiband {
                bit_depth: 8,
                num_samples: 2,
            },
            DecodingResult::U8(v),
        ) => DynamicImage::ImageLumaA8(
            ImageBuffer::<LumaA<u8>, _>::from_raw(width, height, v).ok_or_else(short)?,
        ),
        (
            ColorType::Multiband {
                bit_depth: 16,
                num_samples: 2,
            },
            DecodingResult::U16(v),
        ) => DynamicImage::ImageLumaA16(
            ImageBuffer::<LumaA<u16>, _>::from_raw(width, height, v).ok_or_else(short)?,
        ),
        (ColorType::RGB(8), DecodingResult::U8(v)) => {
            DynamicImage::ImageRgb8(RgbImage::from_raw(width, height, v).ok_or_else(short)?)
        }
        (ColorType::RGB(16), DecodingResult::U16(v)) => DynamicImage::ImageRgb16(
            ImageBuffer::<Rgb<u16>, _>::from_raw(width, height, v).ok_or_else(short)?,
        ),
        (ColorType::RGBA(8), DecodingResult::U8(v)) => DynamicImage::ImageRgba8(
            ImageBuffer::<Rgba<u8>, _>::from_raw(width, height, v).ok_or_else(short)?,
        ),
        (ColorType::RGBA(16), DecodingResult::U16(v)) => DynamicImage::ImageRgba16(
            ImageBuffer::<Rgba<u16>, _>::from_raw(width, height, v).ok_or_else(short)?,
        ),
        (ColorType::CMYK(8), DecodingResult::U8(v)) => {
            let rgb = v.chunks_exact(4).flat_map(cmyk_to_rgb).collect();
            DynamicImage::ImageRgb8(RgbImage::from_raw(width, height, rgb).ok_or_else(short)?)
        }
        // JPEG-coded pages come out of the crate as the JPEG holds them.
        (ColorType::YCbCr(8), DecodingResult::U8(v)) => {
            let rgb = v.chunks_exact(3).flat_map(ycbcr_to_rgb).collect();
            DynamicImage::ImageRgb8(RgbImage::from_raw(width, height, rgb).ok_or_else(short)?)
        }
        (colour, _) => return Err(format!("pages of {colour:?} samples are not drawn")),
    };
    Ok(image)
}

/// Samples of `bits` bits packed in rows that start on a byte, one a byte.
fn unpack(packed: &[u8], width: u32, height: u32, bits: u8) -> Option<Vec<u8>> {
    let (width, height, bits) = (width as usize, height as usize, usize::from(bits));
    if bits == 8 {
        return (packed.len() >= width * height).then(|| packed[..width * height].to_vec());
    }
    let row_bytes = (width * bits).div_ceil(8);
    if packed.len() < row_bytes * height {
        return None;
    }
    let mask = (1u8 << bits) - 1;
    let mut out = Vec::with_capacity(width * height);
    for row in packed.chunks_exact(row_bytes).take(height) {
        out.extend((0..width).map(|x| {
            let bit = x * bits;
            (row[bit / 8] >> (8 - bits - bit % 8)) & mask
        }));
    }
    Some(out)
}

fn indexed(
    width: u32,
    height: u32,
    indices: impl Iterator<Item = usize>,
    map: &ColourMap<'_>,
) -> DynamicImage {
    let mut rgb = RgbImage::new(width, height);
    for (pixel, index) in rgb.pixels_mut().zip(indices) {
        *pixel = map.colour(index);
    }
    DynamicImage::ImageRgb8(rgb)
}

fn cmyk_to_rgb(p: &[u8]) -> [u8; 3] {
    let k = 255 - u32::from(p[3]);
    let c = |v: u8| ((255 - u32::from(v)) * k / 255) as u8;
    [c(p[0]), c(p[1]), c(p[2])]
}

/// JFIF's full-range YCbCr (ITU-R BT.601), what JPEG-coded TIFF pages hold.
fn ycbcr_to_rgb(p: &[u8]) -> [u8; 3] {
    let (y, cb, cr) = (
        f32::from(p[0]),
        f32::from(p[1]) - 128.0,
        f32::from(p[2]) - 128.0,
    );
    let c = |v: f32| v.round().clamp(0.0, 255.0) as u8;
    [
        c(y + 1.402 * cr),
        c(y - 0.344_136 * cb - 0.714_136 * cr),
        c(y + 1.772 * cb),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_samples_are_read_most_significant_first() {
        // Two rows of 3 one-bit samples, each padded to a byte.
        assert_eq!(
            unpack(&[0b1010_0000, 0b0110_0000], 3, 2, 1),
            Some(vec![1, 0, 1, 0, 1, 1])
        );
        assert_eq!(unpack(&[0x1E], 2, 1, 4), Some(vec![1, 14]));
        assert_eq!(unpack(&[0xFF], 3, 2, 1), None, "a row short");
    }

    #[test]
    fn colour_maps_of_8_bit_values_are_taken_as_such() {
        let mut values = vec![0u16; 6];
        values[1] = 200; // red of entry 1
        let map = ColourMap::new(&values, 1).expect("3 × 2 values");
        assert_eq!(map.colour(1), Rgb([200, 0, 0]));
        values[1] = 0xFF00;
        let map = ColourMap::new(&values, 1).expect("3 × 2 values");
        assert_eq!(map.colour(1), Rgb([255, 0, 0]));
        assert!(ColourMap::new(&values[..5], 1).is_err());
    }

    #[test]
    fn colour_models_convert_to_rgb() {
        assert_eq!(cmyk_to_rgb(&[0, 0, 0, 0]), [255, 255, 255]);
        assert_eq!(cmyk_to_rgb(&[0, 255, 255, 0]), [255, 0, 0]);
        assert_eq!(ycbcr_to_rgb(&[128, 128, 128]), [128, 128, 128]);
        assert_eq!(ycbcr_to_rgb(&[76, 85, 255]), [254, 0, 0]);
    }
}
