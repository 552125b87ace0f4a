//! Multi-page TIFF batches, read with the `tiff` crate.
//!
//! A page stored as one strip in an encoding PDF also has (CCITT G3/G4, JPEG, LZW, Deflate,
//! none) keeps its bytes as they are, so that the rebuilt PDF carries the scanner's own
//! compression. Other pages (several strips, PackBits, alpha channels, 16-bit samples) are
//! decoded by the `tiff` crate and kept as 8-bit (or 1-bit) Flate data: a TIFF page has to be
//! converted to become a PDF page anyway, and this keeps every pixel.
//!
//! Directories are walked with a set of visited offsets, so a loop in the IFD chain ends the
//! walk instead of spinning, and every strip is bounds-checked against the input.
//!
//! Nothing of a page's image is kept when the batch is read: a page carried over records where
//! its strip lies in the file; a page to be converted is converted once to check it, and again
//! each time its bytes are wanted ([`convert`]), so that memory does not grow with the batch.

use std::collections::{HashMap, HashSet};
use std::io::{Cursor, Write};
use std::ops::Range;
use std::sync::Arc;

use tiff::decoder::{Decoder, DecodingResult, Limits};
use tiff::tags::{IfdPointer, Tag};

use crate::batch::{
    Batch, BatchError, BatchFormat, BatchLimits, CcittParams, Colour, Encoding, ImageData, Page,
    PageImage, Predictor,
};
use crate::source::Source;

fn malformed(e: impl std::fmt::Display) -> BatchError {
    BatchError::Malformed(e.to_string())
}

fn decoder<'a>(
    bytes: &'a [u8],
    limits: &BatchLimits,
) -> Result<Decoder<Cursor<&'a [u8]>>, BatchError> {
    let mut tiff_limits = Limits::default();
    tiff_limits.decoding_buffer_size = limits.max_image_bytes;
    tiff_limits.intermediate_buffer_size = limits.max_image_bytes;
    Ok(Decoder::new(Cursor::new(bytes))
        .map_err(malformed)?
        .with_limits(tiff_limits))
}

/// The converted bytes of the page at directory `ifd` (page `index`), as [`read`] checked
/// they could be made.
pub(crate) fn convert(
    source: &Source,
    ifd: u64,
    index: usize,
    limits: &BatchLimits,
) -> Result<Vec<u8>, BatchError> {
    let bytes: &[u8] = source;
    let mut decoder = decoder(bytes, limits)?;
    let dir = decoder.read_directory(IfdPointer(ifd)).map_err(malformed)?;
    let fields = Fields::read(&mut decoder, &dir).map_err(malformed)?;
    let page = fields.decoded(bytes, &mut decoder, index, limits)?;
    match page.image.map(|i| i.data) {
        Some(ImageData::Owned(data)) => Ok(data),
        _ => Err(malformed("page convertie")),
    }
}

pub(crate) fn read(source: &Arc<Source>, limits: &BatchLimits) -> Result<Batch, BatchError> {
    let bytes: &[u8] = source;
    let mut decoder = decoder(bytes, limits)?;
    let mut next = decoder.ifd_pointer();
    let mut seen = HashSet::new();
    let mut pages = Vec::new();
    while let Some(ptr) = next {
        if ptr.0 == 0 || !seen.insert(ptr.0) {
            break;
        }
        if pages.len() == limits.max_pages {
            return Err(BatchError::TooManyPages {
                pages: pages.len() + 1,
                limit: limits.max_pages,
            });
        }
        let dir = decoder.read_directory(ptr).map_err(malformed)?;
        next = dir.next();
        let index = pages.len();
        let fields = Fields::read(&mut decoder, &dir).map_err(malformed)?;
        let page = match fields.carry_over(bytes, index, limits)? {
            Some(page) => page,
            None => {
                // Converted once to check that it can be; its bytes are not kept.
                let mut page = fields.decoded(bytes, &mut decoder, index, limits)?;
                if let Some(image) = page.image.as_mut() {
                    image.data = ImageData::Converted { ifd: ptr.0, index };
                }
                page
            }
        };
        // The directory was read (the kernel may map up to 2 MB of the page cache around it),
        // and, for a page converted, its strips.
        let strips: u64 = fields.counts.iter().sum();
        crate::source::note_read(
            (2 << 20) + usize::try_from(strips).unwrap_or(usize::MAX).min(1 << 30),
        );
        pages.push(page);
    }
    if pages.is_empty() {
        return Err(BatchError::Empty);
    }
    Ok(Batch {
        format: BatchFormat::Tiff,
        pages,
        source: None,
        located: Arc::new(HashMap::new()),
        bytes: source.clone(),
        limits: limits.clone(),
    })
}

/// The tags of one page that matter here.
struct Fields {
    width: u32,
    height: u32,
    bits: u16,
    samples: u16,
    compression: u16,
    photometric: Option<u16>,
    planar: u16,
    fill_order: u16,
    predictor: u16,
    t4_options: u32,
    tiled: bool,
    offsets: Vec<u64>,
    counts: Vec<u64>,
    jpeg_tables: Option<Vec<u8>>,
    colour_map: Option<Vec<u16>>,
    dpi: (f32, f32),
}

impl Fields {
    fn read(
        decoder: &mut Decoder<Cursor<&[u8]>>,
        dir: &tiff::Directory,
    ) -> tiff::TiffResult<Fields> {
        let mut tags = decoder.read_directory_tags(dir);
        let width = tags.get_tag_unsigned(Tag::ImageWidth)?;
        let height = tags.get_tag_unsigned(Tag::ImageLength)?;
        let bits = tags
            .find_tag_unsigned_vec::<u16>(Tag::BitsPerSample)?
            .and_then(|v| v.first().copied())
            .unwrap_or(1);
        let rational = |v: Option<tiff::decoder::ifd::Value>| -> Option<f32> {
            match v? {
                tiff::decoder::ifd::Value::Rational(n, d) if d != 0 => Some(n as f32 / d as f32),
                other => other.into_f32().ok(),
            }
        };
        let unit = tags
            .find_tag_unsigned::<u16>(Tag::ResolutionUnit)?
            .unwrap_or(2);
        let scale = if unit == 3 { 2.54 } else { 1.0 };
        let x_res = rational(tags.find_tag(Tag::XResolution)?).map(|r| r * scale);
        let y_res = rational(tags.find_tag(Tag::YResolution)?).map(|r| r * scale);
        // Without a usable resolution (or unit 1, "no absolute unit"), assume the page is A4
        // wide: batches are office paper.
        let guess = (width as f32 / 8.27).clamp(72.0, 1200.0);
        let sane = |r: Option<f32>| r.filter(|r| unit != 1 && (50.0..=2400.0).contains(r));
        let dpi_x = sane(x_res).unwrap_or(guess);
        let dpi_y = sane(y_res).unwrap_or(dpi_x);
        Ok(Fields {
            width,
            height,
            bits,
            samples: tags.find_tag_unsigned(Tag::SamplesPerPixel)?.unwrap_or(1),
            compression: tags.find_tag_unsigned(Tag::Compression)?.unwrap_or(1),
            photometric: tags.find_tag_unsigned(Tag::PhotometricInterpretation)?,
            planar: tags
                .find_tag_unsigned(Tag::PlanarConfiguration)?
                .unwrap_or(1),
            fill_order: tags.find_tag_unsigned(Tag::FillOrder)?.unwrap_or(1),
            predictor: tags.find_tag_unsigned(Tag::Predictor)?.unwrap_or(1),
            t4_options: tags.find_tag_unsigned(Tag::Unknown(292))?.unwrap_or(0),
            tiled: dir.contains(Tag::TileWidth),
            offsets: tags
                .find_tag_unsigned_vec(Tag::StripOffsets)?
                .unwrap_or_default(),
            counts: tags
                .find_tag_unsigned_vec(Tag::StripByteCounts)?
                .unwrap_or_default(),
            jpeg_tables: tags
                .find_tag(Tag::JPEGTables)?
                .and_then(|v| v.into_u8_vec().ok()),
            colour_map: tags.find_tag_unsigned_vec(Tag::ColorMap)?,
            dpi: (dpi_x, dpi_y),
        })
    }

    fn page(&self, image: PageImage) -> Page {
        let w = self.width as f32 * 72.0 / self.dpi.0;
        let h = self.height as f32 * 72.0 / self.dpi.1;
        Page {
            image: Some(image),
            single_image: true,
            rotate: 0,
            media_box: [0.0, 0.0, w, h],
            sheet_text: None,
            source_page: None,
        }
    }

    fn check_size(&self, index: usize, limits: &BatchLimits) -> Result<(), BatchError> {
        if self.width == 0 || self.height == 0 {
            return Err(malformed("page vide"));
        }
        if self.width as u64 * self.height as u64 > limits.max_page_pixels {
            return Err(BatchError::PageTooLarge { page: index });
        }
        Ok(())
    }

    /// Where the page's strips are, bounds-checked against the file.
    fn strips(
        &self,
        bytes: &[u8],
        index: usize,
        limits: &BatchLimits,
    ) -> Result<Vec<Range<usize>>, BatchError> {
        if self.offsets.len() != self.counts.len() {
            return Err(malformed("bandes incohérentes"));
        }
        let total: u64 = self.counts.iter().sum();
        if total > limits.max_image_bytes as u64 {
            return Err(BatchError::PageTooLarge { page: index });
        }
        let mut strips = Vec::with_capacity(self.offsets.len());
        for (&offset, &count) in self.offsets.iter().zip(&self.counts) {
            let end = offset
                .checked_add(count)
                .ok_or_else(|| malformed("bande"))?;
            let strip = usize::try_from(offset)
                .ok()
                .zip(usize::try_from(end).ok())
                .filter(|&(_, e)| e <= bytes.len())
                .map(|(s, e)| s..e)
                .ok_or_else(|| malformed("bande hors du fichier"))?;
            strips.push(strip);
        }
        Ok(strips)
    }

    /// A fax page in several strips, or in reversed bit order, that PDF cannot carry as it
    /// is: decoded strip by strip (the `tiff` crate reads neither Group 3 nor several fax
    /// strips) and kept as 1-bit Flate data.
    fn fax_strips(
        &self,
        bytes: &[u8],
        index: usize,
        limits: &BatchLimits,
    ) -> Result<Page, BatchError> {
        let strips = self.strips(bytes, index, limits)?;
        let rows_per_strip = self.height.div_ceil(strips.len().max(1) as u32).max(1);
        let stride = (self.width as usize).div_ceil(8);
        if stride * self.height as usize > limits.max_image_bytes {
            return Err(BatchError::PageTooLarge { page: index });
        }
        let mut sink = FaxRows {
            width: self.width as usize,
            max_rows: self.height as usize,
            data: Vec::with_capacity(stride * self.height as usize),
        };
        for (i, strip) in strips.iter().enumerate() {
            let strip = &bytes[strip.clone()];
            let rows =
                rows_per_strip.min(self.height - (i as u32 * rows_per_strip).min(self.height));
            let reversed: Vec<u8>;
            let strip = if self.fill_order == 2 {
                reversed = strip.iter().map(|b| b.reverse_bits()).collect();
                &reversed[..]
            } else {
                strip
            };
            let settings = hayro_ccitt::DecodeSettings {
                columns: self.width,
                rows,
                end_of_block: self.compression == 4,
                end_of_line: self.compression == 3,
                rows_are_byte_aligned: self.compression == 2 || self.t4_options & 4 != 0,
                encoding: match self.compression {
                    4 => hayro_ccitt::EncodingMode::Group4,
                    3 if self.t4_options & 1 != 0 => hayro_ccitt::EncodingMode::Group3_2D,
                    _ => hayro_ccitt::EncodingMode::Group3_1D,
                },
                strict: false,
            };
            let before = sink.data.len();
            let mut ctx = hayro_ccitt::DecoderContext::new(settings);
            // A damaged strip keeps the rows decoded before the damage; the rest is white.
            let _ = hayro_ccitt::decode(strip, &mut sink, &mut ctx);
            let want = before + rows as usize * stride;
            sink.data
                .resize(want.min(stride * self.height as usize), 0xFF);
        }
        sink.data.resize(stride * self.height as usize, 0xFF);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(&sink.data)
            .expect("writing to memory cannot fail");
        let data = z.finish().expect("writing to memory cannot fail");
        Ok(self.page(PageImage {
            width: self.width,
            height: self.height,
            bits_per_component: 1,
            colour: Colour::Gray,
            encoding: Encoding::Flate(Predictor::NONE),
            decode: (self.photometric == Some(1)).then(|| vec![1.0, 0.0]),
            image_mask: false,
            data: ImageData::Owned(data),
        }))
    }

    /// The page with its strip kept as it is, when PDF can carry it; `None` to decode it.
    fn carry_over(
        &self,
        bytes: &[u8],
        index: usize,
        limits: &BatchLimits,
    ) -> Result<Option<Page>, BatchError> {
        self.check_size(index, limits)?;
        if self.tiled || self.planar != 1 || self.offsets.is_empty() {
            return Ok(None);
        }
        let strips = self.strips(bytes, index, limits)?;
        let one_strip = strips.len() == 1;
        let bilevel = self.bits == 1 && self.samples == 1;
        // Fax encodings code black runs as 1 samples: WhiteIsZero is the usual case.
        let invert_fax = self.photometric == Some(1);
        let ccitt = |k: i32, byte_align: bool, end_of_line: bool| {
            Encoding::Ccitt(CcittParams {
                k,
                end_of_line,
                byte_align,
                end_of_block: false,
                black_is_1: false,
            })
        };
        let (encoding, colour, decode) = match self.compression {
            2..=4 if bilevel && one_strip && self.fill_order == 1 => {
                let encoding = match self.compression {
                    2 => ccitt(0, true, false),
                    3 => ccitt(
                        if self.t4_options & 1 != 0 { 1 } else { 0 },
                        self.t4_options & 4 != 0,
                        true,
                    ),
                    _ => ccitt(-1, false, false),
                };
                (encoding, Colour::Gray, invert_fax.then(|| vec![1.0, 0.0]))
            }
            1 | 5 | 8 | 32946 => {
                if !(one_strip || self.compression == 1) || !matches!(self.bits, 1 | 2 | 4 | 8) {
                    return Ok(None);
                }
                let Some((colour, decode)) = self.colour() else {
                    return Ok(None);
                };
                let predictor = match self.predictor {
                    1 => Predictor::NONE,
                    2 => Predictor {
                        predictor: 2,
                        colors: self.samples as u8,
                        bits_per_component: self.bits as u8,
                        columns: self.width,
                    },
                    _ => return Ok(None),
                };
                let encoding = match self.compression {
                    1 => Encoding::Raw,
                    5 => Encoding::Lzw {
                        predictor,
                        early_change: true,
                    },
                    _ => Encoding::Flate(predictor),
                };
                (encoding, colour, decode)
            }
            7 if one_strip && self.bits == 8 => {
                let colour = match (self.photometric, self.samples) {
                    (Some(1) | None, 1) => Colour::Gray,
                    (Some(2 | 6), 3) => Colour::Rgb,
                    (Some(5), 4) => Colour::Cmyk,
                    _ => return Ok(None),
                };
                (Encoding::Dct, colour, None)
            }
            _ => return Ok(None),
        };
        let data = match (&encoding, &self.jpeg_tables) {
            (Encoding::Dct, Some(tables)) => ImageData::JpegWithTables {
                tables: tables.clone(),
                strip: strips[0].clone(),
            },
            _ if one_strip => ImageData::InBatch(strips[0].clone()),
            _ => ImageData::Pieces(strips),
        };
        Ok(Some(self.page(PageImage {
            width: self.width,
            height: self.height,
            bits_per_component: self.bits as u8,
            colour,
            encoding,
            decode,
            image_mask: false,
            data,
        })))
    }

    /// The colour space of uncompressed-style samples, with an inverting `/Decode` for
    /// WhiteIsZero.
    fn colour(&self) -> Option<(Colour, Option<Vec<f32>>)> {
        let invert = Some(vec![1.0, 0.0]);
        match (self.photometric, self.samples) {
            (Some(0), 1) => Some((Colour::Gray, invert)),
            (Some(1) | None, 1) => Some((Colour::Gray, None)),
            (Some(2), 3) => Some((Colour::Rgb, None)),
            (Some(5), 4) => Some((Colour::Cmyk, None)),
            (Some(3), 1) if self.bits <= 8 => Some((self.palette()?, None)),
            _ => None,
        }
    }

    fn palette(&self) -> Option<Colour> {
        let map = self.colour_map.as_ref()?;
        let n = 1usize << self.bits;
        if map.len() < 3 * n {
            return None;
        }
        let mut lookup = Vec::with_capacity(3 * n);
        for i in 0..n {
            for c in 0..3 {
                lookup.push((map[c * n + i] >> 8) as u8);
            }
        }
        Some(Colour::Indexed {
            base: Box::new(Colour::Rgb),
            hival: (n - 1) as u8,
            lookup,
        })
    }

    /// The page decoded by the `tiff` crate and kept as Flate data.
    fn decoded(
        &self,
        bytes: &[u8],
        decoder: &mut Decoder<Cursor<&[u8]>>,
        index: usize,
        limits: &BatchLimits,
    ) -> Result<Page, BatchError> {
        let unsupported = |what: String| BatchError::Unsupported { page: index, what };
        if matches!(self.compression, 2..=4) && self.bits == 1 && self.samples == 1 {
            return self.fax_strips(bytes, index, limits);
        }
        decoder
            .seek_to_image(index)
            .map_err(|e| unsupported(e.to_string()))?;
        let colour_type = decoder
            .colortype()
            .map_err(|e| unsupported(e.to_string()))?;
        let pixels = decoder
            .read_image()
            .map_err(|e| unsupported(e.to_string()))?;
        let samples: Vec<u8> = match pixels {
            DecodingResult::U8(v) => v,
            DecodingResult::U16(v) => v.into_iter().map(|s| (s >> 8) as u8).collect(),
            _ => return Err(unsupported("échantillons non entiers".into())),
        };
        use tiff::ColorType as C;
        let (w, h) = (self.width as usize, self.height as usize);
        let (bits, colour, keep, of) = match colour_type {
            C::Gray(1) => (1, Colour::Gray, 1, 1),
            C::Gray(8 | 16) => (8, Colour::Gray, 1, 1),
            C::GrayA(8 | 16) => (8, Colour::Gray, 1, 2),
            C::RGB(8 | 16) | C::YCbCr(8) => (8, Colour::Rgb, 3, 3),
            C::RGBA(8 | 16) => (8, Colour::Rgb, 3, 4),
            C::CMYK(8 | 16) => (8, Colour::Cmyk, 4, 4),
            // Extra samples of unspecified meaning (an alpha channel not declared as such).
            C::Multiband {
                bit_depth: 8,
                num_samples: n,
            } if matches!(self.photometric, Some(0 | 1)) => (8, Colour::Gray, 1, n as usize),
            C::Multiband {
                bit_depth: 8,
                num_samples: n,
            } if self.photometric == Some(2) && n >= 3 => (8, Colour::Rgb, 3, n as usize),
            C::Palette(8) => (
                8,
                self.palette()
                    .ok_or_else(|| unsupported("palette".into()))?,
                1,
                1,
            ),
            other => return Err(unsupported(format!("{other:?}"))),
        };
        let data = if keep == of {
            samples
        } else {
            samples
                .chunks_exact(of)
                .flat_map(|px| px[..keep].iter().copied())
                .collect()
        };
        let expected = if bits == 1 {
            w.div_ceil(8) * h
        } else {
            w * h * keep
        };
        if data.len() < expected {
            return Err(malformed("image tronquée"));
        }
        if expected > limits.max_image_bytes {
            return Err(BatchError::PageTooLarge { page: index });
        }
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(&data[..expected])
            .expect("writing to memory cannot fail");
        let data = z.finish().expect("writing to memory cannot fail");
        let decode = (self.photometric == Some(0)).then(|| vec![1.0, 0.0]);
        Ok(self.page(PageImage {
            width: self.width,
            height: self.height,
            bits_per_component: bits,
            colour,
            encoding: Encoding::Flate(Predictor::NONE),
            decode,
            image_mask: false,
            data: ImageData::Owned(data),
        }))
    }
}

/// Packs decoded fax rows as 1-bit samples, 0 for black (PDF's DeviceGray).
struct FaxRows {
    width: usize,
    max_rows: usize,
    data: Vec<u8>,
}

impl hayro_ccitt::Decoder for FaxRows {
    fn push_row(&mut self, changes: &[u32]) {
        let stride = self.width.div_ceil(8);
        if self.data.len() / stride >= self.max_rows {
            return;
        }
        let start = self.data.len();
        self.data.resize(start + stride, 0xFF);
        let row = &mut self.data[start..];
        let mut i = 0;
        while i < changes.len() {
            let a = (changes[i] as usize).min(self.width);
            let b = changes
                .get(i + 1)
                .map_or(self.width, |&b| (b as usize).min(self.width));
            for x in a..b {
                row[x / 8] &= !(0x80 >> (x % 8));
            }
            i += 2;
        }
    }
}

/// A TIFF JPEG strip with its tables (`JPEGTables`, an abbreviated JPEG stream of DQT/DHT
/// segments) spliced in after SOI: a self-contained JPEG for `DCTDecode`.
pub(crate) fn merge_jpeg_tables(tables: &[u8], strip: &[u8]) -> Vec<u8> {
    let tables = tables
        .strip_prefix(&[0xFF, 0xD8])
        .unwrap_or(tables)
        .strip_suffix(&[0xFF, 0xD9])
        .unwrap_or(tables);
    let body = strip.strip_prefix(&[0xFF, 0xD8]).unwrap_or(strip);
    let mut out = Vec::with_capacity(tables.len() + strip.len() + 2);
    out.extend_from_slice(&[0xFF, 0xD8]);
    out.extend_from_slice(tables);
    out.extend_from_slice(body);
    out
}

/// Writes a multi-page TIFF whose pages are already-encoded single strips (the `tiff` crate
/// encodes pixels but cannot take CCITT data as it is). Used by the batch generator.
#[cfg(feature = "generate")]
pub(crate) fn write_strips(pages: &[StripPage]) -> Vec<u8> {
    // Little-endian classic TIFF: header, then per page its strip and its IFD.
    let mut out = b"II*\0\0\0\0\0".to_vec();
    let mut link = 4usize; // where the offset of the next IFD is to be written
    for page in pages {
        let strip_at = out.len();
        out.extend_from_slice(&page.data);
        if out.len() % 2 == 1 {
            out.push(0);
        }
        let res_at = out.len();
        out.extend_from_slice(&page.dpi.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        let ifd_at = out.len();
        out[link..link + 4].copy_from_slice(&(ifd_at as u32).to_le_bytes());
        let mut entries: Vec<(u16, u16, u32, u32)> = vec![
            (256, 4, 1, page.width),
            (257, 4, 1, page.height),
            (258, 3, 1, page.bits as u32),
            (259, 3, 1, page.compression as u32),
            (262, 3, 1, page.photometric as u32),
            (273, 4, 1, strip_at as u32),
            (277, 3, 1, page.samples as u32),
            (278, 4, 1, page.height),
            (279, 4, 1, page.data.len() as u32),
            (282, 5, 1, res_at as u32),
            (283, 5, 1, res_at as u32),
            (296, 3, 1, 2),
        ];
        if page.compression == 4 {
            entries.push((293, 4, 1, 0)); // T6Options
        }
        entries.sort_by_key(|e| e.0);
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        for (tag, kind, count, value) in entries {
            out.extend_from_slice(&tag.to_le_bytes());
            out.extend_from_slice(&kind.to_le_bytes());
            out.extend_from_slice(&count.to_le_bytes());
            if kind == 3 {
                out.extend_from_slice(&(value as u16).to_le_bytes());
                out.extend_from_slice(&[0, 0]);
            } else {
                out.extend_from_slice(&value.to_le_bytes());
            }
        }
        link = out.len();
        out.extend_from_slice(&0u32.to_le_bytes());
    }
    out
}

/// One page for [`write_strips`].
#[cfg(feature = "generate")]
pub(crate) struct StripPage {
    pub width: u32,
    pub height: u32,
    pub bits: u16,
    pub samples: u16,
    /// TIFF compression code: 1 none, 4 CCITT G4, 7 JPEG.
    pub compression: u16,
    /// 0 WhiteIsZero, 1 BlackIsZero.
    pub photometric: u16,
    pub dpi: u32,
    pub data: Vec<u8>,
}
