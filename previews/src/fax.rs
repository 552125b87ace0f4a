//! Fax pages of TIFF files — CCITT modified Huffman, Group 3 one- or two-dimensional — which
//! the `tiff` crate does not decode, decoded strip by strip with `hayro-ccitt` as
//! `validators::ccitt` does (same settings), but leniently: the file was verified at intake,
//! and a line that does not decode is left white, as libtiff draws it, rather than losing the
//! page.

use hayro_ccitt::{DecodeSettings, Decoder, DecoderContext, EncodingMode};
use image::GrayImage;

/// How a fax page is coded, from its TIFF directory.
pub(crate) struct FaxPage {
    pub width: u32,
    pub height: u32,
    /// TIFF compression 2: modified Huffman, each row byte-aligned, no end-of-line codes.
    pub modified_huffman: bool,
    /// (offset, byte count) of each strip.
    pub strips: Vec<(u64, u64)>,
    pub rows_per_strip: u32,
    /// T4Options bit 0: two-dimensional coding.
    pub two_dimensional: bool,
    /// FillOrder 2: the bits of each byte come least significant first.
    pub lsb_first: bool,
    /// PhotometricInterpretation 1: the runs the coding calls white are drawn black.
    pub black_is_zero: bool,
}

const WHITE: u8 = 255;
const BLACK: u8 = 0;

/// Fills the rows of a strip, one at a time, from the decoder's colour changes.
struct Rows<'a> {
    pixels: &'a mut [u8],
    width: usize,
    decoded: usize,
    paper: u8,
    ink: u8,
}

impl Decoder for Rows<'_> {
    fn push_row(&mut self, changes: &[u32]) {
        let start = self.decoded * self.width;
        let Some(row) = self.pixels.get_mut(start..start + self.width) else {
            return;
        };
        self.decoded += 1;
        row.fill(self.paper);
        // Each row starts white; from changes[0] to changes[1] is black, and so on.
        for pair in changes.chunks(2) {
            let from = (pair[0] as usize).min(self.width);
            let to = pair
                .get(1)
                .map_or(self.width, |&c| (c as usize).min(self.width));
            if from < to {
                row[from..to].fill(self.ink);
            }
        }
    }
}

/// The fax page `page` of the TIFF `data`, as grey levels.
pub(crate) fn decode(data: &[u8], page: &FaxPage, max_alloc: u64) -> Result<GrayImage, String> {
    let (width, height) = (page.width as usize, page.height as usize);
    let size = width
        .checked_mul(height)
        .filter(|&n| n as u64 <= max_alloc && n > 0)
        .ok_or_else(|| format!("a fax page of {width}×{height} is not drawn"))?;
    let (paper, ink) = if page.black_is_zero {
        (BLACK, WHITE)
    } else {
        (WHITE, BLACK)
    };
    let mut pixels = vec![paper; size];
    let encoding = if page.modified_huffman || !page.two_dimensional {
        EncodingMode::Group3_1D
    } else {
        EncodingMode::Group3_2D
    };
    let strip_rows = page.rows_per_strip as usize;
    let mut decoded = 0;
    let mut first_error = None;
    for (n, (&(offset, count), rows)) in page
        .strips
        .iter()
        .zip(pixels.chunks_mut(strip_rows * width))
        .enumerate()
    {
        let Some(strip) = usize::try_from(offset)
            .ok()
            .zip(usize::try_from(offset.saturating_add(count)).ok())
            .and_then(|(start, end)| data.get(start..end.min(data.len())))
        else {
            first_error.get_or_insert_with(|| format!("strip {n} lies outside the file"));
            continue;
        };
        let reversed: Vec<u8>;
        let strip = if page.lsb_first {
            reversed = strip.iter().map(|b| b.reverse_bits()).collect();
            &reversed
        } else {
            strip
        };
        let settings = DecodeSettings {
            columns: page.width,
            rows: (rows.len() / width) as u32,
            end_of_block: !page.modified_huffman,
            // Group 3 data says itself whether it has end-of-line codes.
            end_of_line: false,
            rows_are_byte_aligned: page.modified_huffman,
            encoding,
            strict: false,
        };
        let mut sink = Rows {
            pixels: rows,
            width,
            decoded: 0,
            paper,
            ink,
        };
        let result = hayro_ccitt::decode(strip, &mut sink, &mut DecoderContext::new(settings));
        decoded += sink.decoded;
        if let Err(e) = result {
            first_error.get_or_insert_with(|| format!("strip {n}: {e}"));
        }
    }
    if decoded == 0 {
        let why = first_error.unwrap_or_else(|| "no strip".into());
        return Err(format!("the fax coding does not decode ({why})"));
    }
    GrayImage::from_raw(page.width, page.height, pixels)
        .ok_or_else(|| "a fax page of the wrong size".into())
}
