//! Fax pages of TIFF files — CCITT modified Huffman, Group 3 one- or two-dimensional — which
//! the `tiff` crate does not decode (it decodes Group 4), decoded strip by strip with
//! `hayro-ccitt`.
//!
//! The decoding is strict: a line that does not decode, or a run past the end of its line,
//! refuses the page, where libtiff would paint the line white and go on to the next end-of-line
//! code. A lenient decode would accept data read with the wrong options (two-dimensional
//! coding read as one-dimensional comes out as white lines); a damaged fax is asked again.

use hayro_ccitt::{DecodeError, DecodeSettings, Decoder, DecoderContext, EncodingMode};

use crate::tiff::{COMPRESSION_CCITT_RLE, FaxPage, TiffPage};

/// Why a fax page does not decode.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FaxError {
    /// The data stops before the page's last row.
    Truncated(String),
    /// The data is not valid CCITT coding for the page's width.
    Corrupt(String),
}

/// Counts the rows the decoder gives.
struct Rows(u32);

impl Decoder for Rows {
    fn push_row(&mut self, _changes: &[u32]) {
        self.0 += 1;
    }
}

/// Decodes every strip of the fax page `page` of the TIFF `data`.
pub(crate) fn decode_page(data: &[u8], page: &TiffPage, fax: &FaxPage) -> Result<(), FaxError> {
    let rows_per_strip = fax.rows_per_strip;
    let needed = page.height.div_ceil(rows_per_strip) as usize;
    if fax.strips.len() < needed {
        return Err(FaxError::Truncated(format!(
            "{} strip(s) for the {} rows of {needed} strip(s)",
            fax.strips.len(),
            page.height
        )));
    }
    let encoding = if page.compression == COMPRESSION_CCITT_RLE || fax.t4_options & 1 == 0 {
        EncodingMode::Group3_1D
    } else {
        EncodingMode::Group3_2D
    };
    for (n, &(offset, count)) in fax.strips.iter().take(needed).enumerate() {
        let rows = rows_per_strip.min(page.height - n as u32 * rows_per_strip);
        let strip = usize::try_from(offset)
            .ok()
            .zip(usize::try_from(offset.saturating_add(count)).ok())
            .and_then(|(start, end)| data.get(start..end))
            .ok_or_else(|| FaxError::Truncated(format!("strip {n} runs past the end")))?;
        let reversed: Vec<u8>;
        let strip = if fax.lsb_first {
            reversed = strip.iter().map(|b| b.reverse_bits()).collect();
            &reversed
        } else {
            strip
        };
        let settings = DecodeSettings {
            columns: page.width,
            rows,
            end_of_block: page.compression != COMPRESSION_CCITT_RLE,
            // Group 3 data says itself whether it has EOL codes: the decoder looks for one
            // first (libtiff's test files include one-dimensional data without any).
            end_of_line: false,
            rows_are_byte_aligned: page.compression == COMPRESSION_CCITT_RLE,
            encoding,
            strict: true,
        };
        decode_strip(strip, settings, rows).map_err(|e| e.at(n))?;
    }
    Ok(())
}

/// How a strip failed: the rows it gave, and the decoder's error if any.
struct StripError {
    rows: u32,
    expected: u32,
    error: Option<DecodeError>,
}

impl StripError {
    /// The page's error, for strip `n`: truncated when the data ran out, corrupt otherwise.
    fn at(self, n: usize) -> FaxError {
        match self.error {
            Some(DecodeError::UnexpectedEof) | None => FaxError::Truncated(format!(
                "strip {n}, {} of its {} rows",
                self.rows, self.expected
            )),
            Some(e) => FaxError::Corrupt(format!("strip {n}, row {}: {e}", self.rows + 1)),
        }
    }
}

fn decode_strip(strip: &[u8], settings: DecodeSettings, expected: u32) -> Result<(), StripError> {
    let mut decoded = Rows(0);
    let result = hayro_ccitt::decode(strip, &mut decoded, &mut DecoderContext::new(settings));
    match result {
        Ok(_) if decoded.0 >= expected => Ok(()),
        other => Err(StripError {
            rows: decoded.0,
            expected,
            error: other.err(),
        }),
    }
}
