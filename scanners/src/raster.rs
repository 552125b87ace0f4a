//! Page images decoded to a small grayscale picture for sheet and blank detection.
//!
//! Speed matters more than fidelity here: a cover sheet's QR code is 65 mm wide, so a working
//! resolution of 75–150 dpi gives it 4 to 10 pixels per module, enough for the QR decoder.
//! The reduction happens while decoding wherever the codec allows it: JPEG is decoded at 1/2,
//! 1/4 or 1/8 scale in the DCT domain (libjpeg-turbo), bilevel CCITT and JBIG2 rows are summed
//! into an averaging accumulator as they come, so a 300 dpi bilevel page never exists in
//! memory as bytes. Only Flate/LZW/raw samples are inflated whole (bounded) before reduction.

use std::io::{Read, Write};

use crate::batch::{Colour, Encoding, PageImage, Predictor};

/// An 8-bit grayscale picture (0 black, 255 white) and its resolution.
#[derive(Debug, Clone)]
pub(crate) struct Gray {
    pub w: usize,
    pub h: usize,
    pub px: Vec<u8>,
    /// Horizontal resolution of this picture in dots per inch of the page.
    pub dpi: f32,
}

impl Gray {
    /// Averages `f`×`f` blocks.
    fn reduce(self, f: usize) -> Gray {
        if f <= 1 {
            return self;
        }
        let (w, h) = (self.w.div_ceil(f), self.h.div_ceil(f));
        let mut sums = vec![0u32; w];
        let mut counts = vec![0u32; w];
        let mut px = Vec::with_capacity(w * h);
        for band in 0..h {
            sums.fill(0);
            counts.fill(0);
            for y in band * f..((band + 1) * f).min(self.h) {
                let row = &self.px[y * self.w..(y + 1) * self.w];
                for (x, &v) in row.iter().enumerate() {
                    sums[x / f] += v as u32;
                    counts[x / f] += 1;
                }
            }
            px.extend(sums.iter().zip(&counts).map(|(s, c)| (s / c.max(&1)) as u8));
        }
        Gray {
            w,
            h,
            px,
            dpi: self.dpi / f as f32,
        }
    }
}

/// Why a page image could not be decoded for detection.
pub(crate) type Failure = String;

/// Decodes `image` at about `target_dpi` (never below it, except where the image itself is
/// coarser). `page_width_pt` is the width of the page the image fills, for its resolution.
pub(crate) fn decode(
    image: &PageImage,
    data: &[u8],
    page_width_pt: f32,
    target_dpi: f32,
    max_bytes: usize,
) -> Result<Gray, Failure> {
    let dpi = (image.width as f32 / (page_width_pt / 72.0)).clamp(10.0, 10_000.0);
    let factor = ((dpi / target_dpi).floor() as usize).max(1);
    let gray = match &image.encoding {
        Encoding::Dct => return jpeg(image, data, dpi, target_dpi, max_bytes),
        Encoding::Ccitt(p) => {
            let mut acc = Accumulator::new(image.width as usize, image.height as usize, factor);
            let settings = hayro_ccitt::DecodeSettings {
                columns: image.width,
                rows: image.height,
                end_of_block: p.end_of_block,
                end_of_line: p.end_of_line,
                rows_are_byte_aligned: p.byte_align,
                encoding: match p.k {
                    k if k < 0 => hayro_ccitt::EncodingMode::Group4,
                    0 => hayro_ccitt::EncodingMode::Group3_1D,
                    _ => hayro_ccitt::EncodingMode::Group3_2D,
                },
                strict: false,
            };
            // A CCITT "black" run is rendered black unless BlackIs1 or the Decode array
            // says otherwise.
            acc.invert = p.black_is_1 ^ image.inverted();
            let mut ctx = hayro_ccitt::DecoderContext::new(settings);
            let result = hayro_ccitt::decode(data, &mut acc, &mut ctx);
            // Rows decoded before an error are kept: a scan with a damaged tail still shows
            // its top, where a sheet's code is.
            if result.is_err() && acc.rows == 0 {
                return Err("données CCITT illisibles".into());
            }
            acc.finish(dpi)
        }
        Encoding::Jbig2 { globals } => jbig2(image, data, globals.as_deref(), dpi, factor)?,
        Encoding::Flate(pred) => {
            let raw = inflate(data, expected_len(image, pred), max_bytes)?;
            samples_to_gray(image, pred, &raw, dpi)?.reduce(factor)
        }
        Encoding::Lzw {
            predictor,
            early_change,
        } => {
            let raw = lzw(
                data,
                *early_change,
                expected_len(image, predictor),
                max_bytes,
            )?;
            samples_to_gray(image, predictor, &raw, dpi)?.reduce(factor)
        }
        Encoding::Raw => samples_to_gray(image, &Predictor::NONE, data, dpi)?.reduce(factor),
    };
    Ok(gray)
}

fn jpeg(
    image: &PageImage,
    data: &[u8],
    dpi: f32,
    target_dpi: f32,
    max_bytes: usize,
) -> Result<Gray, Failure> {
    use turbojpeg::{Colorspace, PixelFormat, ScalingFactor};
    let mut decoder = turbojpeg::Decompressor::new().map_err(|e| e.to_string())?;
    let header = decoder.read_header(data).map_err(|e| e.to_string())?;
    // libjpeg-turbo cannot scale lossless JPEG, which may also be deeper than 8 bits.
    if header.is_lossless {
        return jpeg_lossless(image, data, dpi, target_dpi, max_bytes);
    }
    let (w, h) = (header.width, header.height);
    // Unless it is known to be sequential, a JPEG may be progressive, which libjpeg-turbo
    // holds whole as coefficients (two bytes a sample) whatever the scale it is decoded at.
    if !sequential(data) {
        let components = match header.colorspace {
            Colorspace::Gray => 1,
            Colorspace::CMYK | Colorspace::YCCK => 4,
            _ => 3,
        };
        let coefficients = w.checked_mul(h).and_then(|n| n.checked_mul(2 * components));
        if coefficients.is_none_or(|n| n > max_bytes) {
            return Err(format!("JPEG progressif trop grand : {w} × {h} pixels"));
        }
    }
    let factor = (dpi / target_dpi).max(1.0);
    let (want_w, want_h) = (
        ((w as f32 / factor).ceil() as usize).max(1),
        ((h as f32 / factor).ceil() as usize).max(1),
    );
    // The smallest of 1/8, 1/4, 1/2 and 1 that gives at least the wanted size on one axis.
    let scale = [
        ScalingFactor::ONE_EIGHTH,
        ScalingFactor::ONE_QUARTER,
        ScalingFactor::ONE_HALF,
    ]
    .into_iter()
    .find(|s| s.scale(w) >= want_w || s.scale(h) >= want_h)
    .unwrap_or(ScalingFactor::ONE);
    let (sw, sh) = (scale.scale(w), scale.scale(h));
    // Luminance straight from YCbCr and gray (RGB is converted by the decoder); CMYK and
    // YCCK come out as CMYK.
    let format = match header.colorspace {
        Colorspace::CMYK | Colorspace::YCCK => PixelFormat::CMYK,
        _ => PixelFormat::GRAY,
    };
    let pitch = sw * format.size();
    let len = pitch
        .checked_mul(sh)
        .filter(|&n| n <= max_bytes)
        .ok_or_else(|| format!("JPEG trop grand : {sw} × {sh} pixels"))?;
    decoder
        .set_scaling_factor(scale)
        .map_err(|e| e.to_string())?;
    let mut pixels = vec![0u8; len];
    decoder
        .decompress(
            data,
            turbojpeg::Image {
                pixels: pixels.as_mut_slice(),
                width: sw,
                pitch,
                height: sh,
                format,
            },
        )
        .map_err(|e| e.to_string())?;
    let mut px: Vec<u8> = if format == PixelFormat::CMYK {
        // Adobe CMYK JPEGs store inverted ink (as libjpeg-turbo gives it back); the sum is
        // that of the ink, 255 - v, as jpeg-decoder gave it.
        pixels
            .chunks_exact(4)
            .map(|p| {
                let stored = p[0] as u32 + p[1] as u32 + p[2] as u32 + 3 * p[3] as u32;
                ((6 * 255 - stored) / 6) as u8
            })
            .collect()
    } else {
        pixels
    };
    if image.inverted() {
        px.iter_mut().for_each(|v| *v = 255 - *v);
    }
    finish_jpeg(px, sw, sh, w as f32, dpi, target_dpi)
}

/// Whether the JPEG's headers say it is coded sequentially (baseline or extended).
fn sequential(data: &[u8]) -> bool {
    let mut decoder = jpeg_decoder::Decoder::new(data);
    decoder.read_info().is_ok()
        && decoder
            .info()
            .is_some_and(|info| info.coding_process == jpeg_decoder::CodingProcess::DctSequential)
}

/// Lossless JPEG (rare in scans), which jpeg-decoder reads at full size, up to 16 bits.
fn jpeg_lossless(
    image: &PageImage,
    data: &[u8],
    dpi: f32,
    target_dpi: f32,
    max_bytes: usize,
) -> Result<Gray, Failure> {
    let mut decoder = jpeg_decoder::Decoder::new(data);
    decoder.set_max_decoding_buffer_size(max_bytes);
    decoder.read_info().map_err(|e| e.to_string())?;
    let info = decoder.info().ok_or("JPEG sans en-tête")?;
    let (w, h) = (info.width as f32, info.height as f32);
    let factor = (dpi / target_dpi).max(1.0);
    let (sw, sh) = decoder
        .scale(
            ((w / factor).ceil() as u16).max(1),
            ((h / factor).ceil() as u16).max(1),
        )
        .map_err(|e| e.to_string())?;
    let pixels = decoder.decode().map_err(|e| e.to_string())?;
    let (sw, sh) = (sw as usize, sh as usize);
    let n = sw * sh;
    use jpeg_decoder::PixelFormat as F;
    let mut px: Vec<u8> = match info.pixel_format {
        F::L8 => pixels,
        F::L16 => pixels.chunks_exact(2).map(|p| p[0]).collect(),
        F::RGB24 => pixels
            .chunks_exact(3)
            .map(|p| luma(p[0], p[1], p[2]))
            .collect(),
        // Adobe CMYK JPEGs store inverted ink; the lightness of the page is what counts.
        F::CMYK32 => pixels
            .chunks_exact(4)
            .map(|p| ((p[0] as u32 + p[1] as u32 + p[2] as u32 + 3 * p[3] as u32) / 6) as u8)
            .collect(),
    };
    if px.len() < n {
        return Err("JPEG tronqué".into());
    }
    px.truncate(n);
    if image.inverted() {
        px.iter_mut().for_each(|v| *v = 255 - *v);
    }
    finish_jpeg(px, sw, sh, w, dpi, target_dpi)
}

/// The decoded `sw`×`sh` picture of a `w` pixels wide image at `dpi`, reduced to about
/// `target_dpi`.
fn finish_jpeg(
    px: Vec<u8>,
    sw: usize,
    sh: usize,
    w: f32,
    dpi: f32,
    target_dpi: f32,
) -> Result<Gray, Failure> {
    let gray = Gray {
        w: sw,
        h: sh,
        px,
        dpi: dpi * sw as f32 / w.max(1.0),
    };
    let rest = ((gray.dpi / target_dpi).floor() as usize).max(1);
    Ok(gray.reduce(rest))
}

fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((r as u32 * 77 + g as u32 * 150 + b as u32 * 29) >> 8) as u8
}

/// Sums bilevel rows, given as runs of black, into `factor`×`factor` gray cells.
struct Accumulator {
    w: usize,
    h: usize,
    factor: usize,
    invert: bool,
    sums: Vec<u32>,
    rows: usize,
    px: Vec<u8>,
    /// For pixel-by-pixel sources: the current x and where the current black run began.
    x: usize,
    run_start: Option<usize>,
}

impl Accumulator {
    fn new(w: usize, h: usize, factor: usize) -> Self {
        let out_w = w.div_ceil(factor);
        Accumulator {
            w,
            h,
            factor,
            invert: false,
            sums: vec![0; out_w],
            rows: 0,
            px: Vec::with_capacity(out_w * h.div_ceil(factor)),
            x: 0,
            run_start: None,
        }
    }

    fn add_black(&mut self, a: usize, b: usize) {
        let (a, b) = (a.min(self.w), b.min(self.w));
        let f = self.factor;
        let mut x = a;
        while x < b {
            let cell_end = ((x / f) + 1) * f;
            let end = cell_end.min(b);
            self.sums[x / f] += (end - x) as u32;
            x = end;
        }
    }

    /// Ends a row whose black runs were added (before inversion).
    fn end_row(&mut self) {
        if self.rows >= self.h {
            return;
        }
        self.rows += 1;
        if self.rows.is_multiple_of(self.factor) {
            self.flush(self.factor);
        }
    }

    fn flush(&mut self, rows: usize) {
        let area = (rows * self.factor) as u32;
        let f = self.factor;
        for (cell, sum) in self.sums.iter_mut().enumerate() {
            // The last column of cells may be narrower than `factor`.
            let width = (self.w - cell * f).min(f) as u32;
            let cell_area = area / f as u32 * width;
            let black = (*sum).min(cell_area);
            let black = if self.invert {
                cell_area - black
            } else {
                black
            };
            self.px.push((255 - black * 255 / cell_area.max(1)) as u8);
            *sum = 0;
        }
    }

    fn finish(mut self, dpi: f32) -> Gray {
        let partial = self.rows % self.factor;
        if partial != 0 {
            self.flush(partial);
        }
        // Rows never decoded are blank paper.
        let out_w = self.sums.len();
        let out_h = self.h.div_ceil(self.factor);
        self.px.resize(out_w * out_h, 255);
        Gray {
            w: out_w,
            h: out_h,
            px: self.px,
            dpi: dpi / self.factor as f32,
        }
    }
}

impl hayro_ccitt::Decoder for Accumulator {
    fn push_row(&mut self, changes: &[u32]) {
        let mut i = 0;
        while i < changes.len() {
            let a = changes[i] as usize;
            let b = changes.get(i + 1).map_or(self.w, |&b| b as usize);
            self.add_black(a, b);
            i += 2;
        }
        self.end_row();
    }
}

impl Accumulator {
    fn push_pixels(&mut self, black: bool, n: usize) {
        match (black, self.run_start) {
            (true, None) => self.run_start = Some(self.x),
            (false, Some(start)) => {
                self.add_black(start, self.x);
                self.run_start = None;
            }
            _ => {}
        }
        self.x += n;
    }
}

impl hayro_jbig2::Decoder for Accumulator {
    fn push_pixel(&mut self, black: bool) {
        self.push_pixels(black, 1);
    }
    fn push_pixel_chunk(&mut self, black: bool, chunk_count: u32) {
        self.push_pixels(black, 8 * chunk_count as usize);
    }
    fn next_line(&mut self) {
        if let Some(start) = self.run_start.take() {
            self.add_black(start, self.x);
        }
        self.x = 0;
        self.end_row();
    }
}

fn jbig2(
    image: &PageImage,
    data: &[u8],
    globals: Option<&[u8]>,
    dpi: f32,
    factor: usize,
) -> Result<Gray, Failure> {
    let settings = hayro_jbig2::DecodeSettings::default();
    let globals = match globals {
        Some(g) => Some(hayro_jbig2::Globals::new(g, &settings).map_err(|e| format!("{e:?}"))?),
        None => None,
    };
    let page = hayro_jbig2::Page::new_embedded(data, globals.as_ref(), &settings)
        .map_err(|e| format!("{e:?}"))?;
    // The page's own size governs what the decoder allocates: it must match the image's.
    if page.width() != image.width || page.height() != image.height {
        return Err("taille JBIG2 incohérente".into());
    }
    let mut acc = Accumulator::new(image.width as usize, image.height as usize, factor);
    acc.invert = image.inverted();
    page.decode(&mut acc).map_err(|e| format!("{e:?}"))?;
    Ok(acc.finish(dpi))
}

fn row_bytes(image: &PageImage) -> usize {
    (image.width as usize * image.colour.components() as usize * image.bits_per_component as usize)
        .div_ceil(8)
}

fn expected_len(image: &PageImage, pred: &Predictor) -> usize {
    let png = pred.predictor >= 10;
    (row_bytes(image) + png as usize) * image.height as usize
}

/// Inflates at most `expected` bytes (bounded by `max`): extra output is never produced, and a
/// truncated or damaged stream yields what could be read.
fn inflate(data: &[u8], expected: usize, max: usize) -> Result<Vec<u8>, Failure> {
    if expected > max {
        return Err("image trop grande".into());
    }
    let mut out = Vec::with_capacity(expected);
    let mut reader = flate2::read::ZlibDecoder::new(data).take(expected as u64);
    if let Err(e) = reader.read_to_end(&mut out)
        && out.is_empty()
    {
        return Err(e.to_string());
    }
    Ok(out)
}

/// A writer that refuses bytes beyond a limit, to bound LZW output while it streams.
struct Bounded {
    out: Vec<u8>,
    limit: usize,
}

impl Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let room = self.limit - self.out.len();
        if room == 0 {
            return Err(std::io::Error::other("limite atteinte"));
        }
        let n = buf.len().min(room);
        self.out.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn lzw(data: &[u8], early_change: bool, expected: usize, max: usize) -> Result<Vec<u8>, Failure> {
    if expected > max {
        return Err("image trop grande".into());
    }
    let mut decoder = if early_change {
        weezl::decode::Decoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8)
    } else {
        weezl::decode::Decoder::new(weezl::BitOrder::Msb, 8)
    };
    let mut sink = Bounded {
        out: Vec::with_capacity(expected),
        limit: expected,
    };
    let _ = decoder.into_stream(&mut sink).decode_all(data);
    if sink.out.is_empty() {
        return Err("données LZW illisibles".into());
    }
    Ok(sink.out)
}

/// Undoes a predictor, row by row; missing rows stay white.
fn unpredict(image: &PageImage, pred: &Predictor, raw: &[u8]) -> Result<Vec<u8>, Failure> {
    let stride = row_bytes(image);
    let h = image.height as usize;
    match pred.predictor {
        0 | 1 => Ok(raw.to_vec()),
        2 => {
            if image.bits_per_component != 8 {
                return Err("prédicteur TIFF non pris en charge".into());
            }
            let c = image.colour.components() as usize;
            let mut out = raw.to_vec();
            for row in out.chunks_mut(stride) {
                for i in c..row.len() {
                    row[i] = row[i].wrapping_add(row[i - c]);
                }
            }
            Ok(out)
        }
        10..=15 => {
            let bpp = (image.colour.components() as usize * image.bits_per_component as usize)
                .div_ceil(8)
                .max(1);
            let mut out = vec![0u8; stride * h];
            let mut prev = vec![0u8; stride];
            for (y, chunk) in raw.chunks(stride + 1).take(h).enumerate() {
                let (filter, src) = chunk.split_first().ok_or("ligne vide")?;
                let cur = &mut out[y * stride..(y + 1) * stride];
                cur[..src.len()].copy_from_slice(src);
                for i in 0..stride {
                    let a = if i >= bpp { cur[i - bpp] } else { 0 } as i16;
                    let b = prev[i] as i16;
                    let c = if i >= bpp { prev[i - bpp] } else { 0 } as i16;
                    let add = match filter {
                        1 => a,
                        2 => b,
                        3 => (a + b) / 2,
                        4 => {
                            let p = a + b - c;
                            let (pa, pb, pc) = ((p - a).abs(), (p - b).abs(), (p - c).abs());
                            if pa <= pb && pa <= pc {
                                a
                            } else if pb <= pc {
                                b
                            } else {
                                c
                            }
                        }
                        _ => 0,
                    };
                    cur[i] = cur[i].wrapping_add(add as u8);
                }
                prev.copy_from_slice(cur);
            }
            Ok(out)
        }
        _ => Err("prédicteur inconnu".into()),
    }
}

/// Converts decoded samples (any depth, any supported colour space) to gray.
fn samples_to_gray(
    image: &PageImage,
    pred: &Predictor,
    raw: &[u8],
    dpi: f32,
) -> Result<Gray, Failure> {
    let data = unpredict(image, pred, raw)?;
    let (w, h) = (image.width as usize, image.height as usize);
    let stride = row_bytes(image);
    let bpc = image.bits_per_component as usize;
    if !matches!(bpc, 1 | 2 | 4 | 8 | 16) {
        return Err("profondeur non prise en charge".into());
    }
    let comps = image.colour.components() as usize;
    let max = (1u32 << bpc.min(8)) - 1;
    let invert = image.inverted();
    let mut px = vec![255u8; w * h];
    let sample = |row: &[u8], i: usize| -> u32 {
        match bpc {
            8 => row[i] as u32,
            16 => row[2 * i] as u32,
            _ => {
                let bit = i * bpc;
                ((row[bit / 8] >> (8 - bpc - bit % 8)) as u32) & max
            }
        }
    };
    let to8 = |v: u32| if bpc >= 8 { v } else { v * 255 / max };
    let level = |comps: &[u32]| -> u8 {
        match comps.len() {
            1 => comps[0] as u8,
            3 => luma(comps[0] as u8, comps[1] as u8, comps[2] as u8),
            _ => {
                let ink = (comps[0] * 3 + comps[1] * 6 + comps[2]) / 10 + comps[3];
                255 - ink.min(255) as u8
            }
        }
    };
    let mut buf = [0u32; 4];
    for y in 0..h {
        let Some(row) = data.get(y * stride..(y + 1) * stride) else {
            break;
        };
        for x in 0..w {
            let v = match &image.colour {
                Colour::Indexed {
                    base,
                    hival,
                    lookup,
                } => {
                    let i = sample(row, x).min(*hival as u32) as usize;
                    let n = base.components() as usize;
                    for (c, slot) in buf[..n].iter_mut().enumerate() {
                        *slot = lookup[i * n + c] as u32;
                    }
                    level(&buf[..n])
                }
                _ => {
                    for (c, slot) in buf[..comps].iter_mut().enumerate() {
                        *slot = to8(sample(row, x * comps + c));
                    }
                    level(&buf[..comps])
                }
            };
            px[y * w + x] = if invert { 255 - v } else { v };
        }
    }
    Ok(Gray { w, h, px, dpi })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduce_averages_blocks() {
        let g = Gray {
            w: 4,
            h: 2,
            px: vec![0, 255, 255, 255, 0, 255, 255, 255],
            dpi: 200.0,
        }
        .reduce(2);
        assert_eq!((g.w, g.h), (2, 1));
        assert_eq!(g.px, vec![127, 255]);
        assert_eq!(g.dpi, 100.0);
    }

    #[test]
    fn accumulator_counts_black_runs() {
        let mut acc = Accumulator::new(5, 2, 2);
        hayro_ccitt::Decoder::push_row(&mut acc, &[0, 2]);
        hayro_ccitt::Decoder::push_row(&mut acc, &[4]);
        let g = acc.finish(200.0);
        assert_eq!((g.w, g.h), (3, 1));
        // First cell fully black on one row of two: half gray; last cell one column wide.
        assert_eq!(g.px, vec![128, 255, 128]);
    }

    fn dct_image(width: u32, height: u32) -> PageImage {
        PageImage {
            width,
            height,
            bits_per_component: 8,
            colour: Colour::Gray,
            encoding: Encoding::Dct,
            decode: None,
            image_mask: false,
            data: crate::batch::ImageData::InBatch(0..0),
        }
    }

    /// A `w`×`h` picture with `n` samples a pixel: gradients and dark bars.
    fn pattern(w: usize, h: usize, n: usize) -> Vec<u8> {
        let mut px = Vec::with_capacity(w * h * n);
        for y in 0..h {
            for x in 0..w {
                let dark = (x / 13 + y / 7) % 5 == 0;
                for c in 0..n {
                    let v = (x * (c + 1) + y * 3) % 256;
                    px.push(if dark { (v / 4) as u8 } else { v as u8 });
                }
            }
        }
        px
    }

    fn compress(
        w: usize,
        h: usize,
        format: turbojpeg::PixelFormat,
        subsamp: turbojpeg::Subsamp,
    ) -> Vec<u8> {
        let px = pattern(w, h, format.size());
        let image = turbojpeg::Image {
            pixels: px.as_slice(),
            width: w,
            pitch: w * format.size(),
            height: h,
            format,
        };
        turbojpeg::compress(image, 90, subsamp).unwrap().to_vec()
    }

    /// Same size and resolution as jpeg-decoder gave, and nearly the same gray values.
    #[test]
    fn jpeg_matches_jpeg_decoder() {
        use turbojpeg::{PixelFormat as P, Subsamp as S};
        let cases = [
            (P::GRAY, S::Gray),
            (P::RGB, S::Sub2x2),
            (P::RGB, S::None),
            (P::CMYK, S::None),
        ];
        for (format, subsamp) in cases {
            for (w, h) in [(2481, 3508), (1001, 777), (9, 5)] {
                let data = compress(w, h, format, subsamp);
                let image = dct_image(w as u32, h as u32);
                let page_width_pt = 595.0 * w as f32 / 2481.0;
                for target in [75.0, 100.0, 150.0, 300.0, 600.0] {
                    let dpi = (w as f32 / (page_width_pt / 72.0)).clamp(10.0, 10_000.0);
                    let ours = jpeg(&image, &data, dpi, target, 256 << 20).unwrap();
                    let theirs = jpeg_lossless(&image, &data, dpi, target, 256 << 20).unwrap();
                    let case = format!("{format:?} {subsamp:?} {w}×{h} at {target} dpi");
                    assert_eq!((ours.w, ours.h, ours.dpi), (theirs.w, theirs.h, theirs.dpi));
                    let worst = ours
                        .px
                        .iter()
                        .zip(&theirs.px)
                        .map(|(a, b)| a.abs_diff(*b))
                        .max()
                        .unwrap();
                    let sum: u64 = (ours.px.iter().zip(&theirs.px))
                        .map(|(a, b)| a.abs_diff(*b) as u64)
                        .sum();
                    let mean = sum as f64 / ours.px.len() as f64;
                    // Unscaled, the two differ by rounding (and RGB by luminance taken from
                    // Y rather than from clamped RGB); scaled, by their reduced inverse DCTs
                    // (libjpeg-turbo's also uses higher coefficients), at edges.
                    let full = ours.w == w;
                    let ok = match format {
                        _ if !full => mean < 4.0,
                        P::RGB => mean < 1.0,
                        _ => worst <= 2,
                    };
                    assert!(
                        ok,
                        "{case}: differs by {worst} at most, {mean:.3} on average"
                    );
                }
            }
        }
    }

    /// `data` with the size in its SOF2 (progressive) header set to `w`×`h`.
    fn with_progressive_size(mut data: Vec<u8>, w: u16, h: u16) -> Vec<u8> {
        let sof = data
            .windows(2)
            .position(|m| m == [0xFF, 0xC2])
            .expect("a progressive frame header");
        data[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
        data[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
        data
    }

    #[test]
    fn progressive_jpeg_is_decoded_within_its_coefficients_limit() {
        let (w, h) = (640, 480);
        let px = pattern(w, h, 1);
        let mut compressor = turbojpeg::Compressor::new().unwrap();
        compressor.set_progressive(true).unwrap();
        compressor.set_subsamp(turbojpeg::Subsamp::Gray).unwrap();
        let image = turbojpeg::Image {
            pixels: px.as_slice(),
            width: w,
            pitch: w,
            height: h,
            format: turbojpeg::PixelFormat::GRAY,
        };
        let data = compressor.compress_to_vec(image).unwrap();
        assert!(!sequential(&data));
        let page = dct_image(w as u32, h as u32);
        // Decoded at 1/4 scale, it still needs its 640 × 480 × 2 bytes of coefficients.
        let gray = jpeg(&page, &data, 200.0, 50.0, w * h * 2).unwrap();
        assert_eq!((gray.w, gray.h), (160, 120));
        let err = jpeg(&page, &data, 200.0, 50.0, w * h * 2 - 1).unwrap_err();
        assert!(err.contains("progressif"), "{err}");
        // One declaring 65,000 × 65,000 pixels is refused before anything is allocated: at 1/8
        // scale its picture would fit, its 8 GB of coefficients would not.
        let huge = with_progressive_size(data, 65_000, 65_000);
        let err = jpeg(&dct_image(65_000, 65_000), &huge, 8000.0, 1000.0, 256 << 20).unwrap_err();
        assert!(err.contains("progressif"), "{err}");
    }

    #[test]
    fn jpeg_inverted_and_damaged() {
        let data = compress(
            640,
            480,
            turbojpeg::PixelFormat::GRAY,
            turbojpeg::Subsamp::Gray,
        );
        let mut image = dct_image(640, 480);
        let plain = jpeg(&image, &data, 200.0, 100.0, 1 << 20).unwrap();
        image.decode = Some(vec![1.0, 0.0]);
        let inverted = jpeg(&image, &data, 200.0, 100.0, 1 << 20).unwrap();
        assert!(
            plain
                .px
                .iter()
                .zip(&inverted.px)
                .all(|(a, b)| *a == 255 - b)
        );
        // Refused before decoding when the scaled picture exceeds the limit.
        assert!(jpeg(&image, &data, 200.0, 100.0, 320 * 240 - 1).is_err());
        assert!(jpeg(&image, &data, 200.0, 100.0, 320 * 240).is_ok());
        // Truncated, garbled, or not JPEG at all: errors, not panics.
        assert!(jpeg(&image, &data[..data.len() / 2], 200.0, 100.0, 1 << 20).is_err());
        let mut garbled = data.clone();
        let mid = garbled.len() / 2;
        garbled[mid..mid + 64].fill(0xFF);
        assert!(jpeg(&image, &garbled, 200.0, 100.0, 1 << 20).is_err());
        assert!(jpeg(&image, &data[..40], 200.0, 100.0, 1 << 20).is_err());
        assert!(jpeg(&image, b"not a jpeg", 200.0, 100.0, 1 << 20).is_err());
    }
}
