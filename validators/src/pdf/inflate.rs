//! One inflater for the PDF checks that need to know how Flate data ends: whole, with its
//! input cut short, or on corrupt data. (lopdf keeps what it could read and says nothing.)
//!
//! The deflate data after the two-byte zlib header is inflated raw (zlib-rs, through flate2),
//! so that the three endings are told apart; the Adler-32 checksum after it is the caller's to
//! judge ([`checksum_matches`]).

use flate2::{Decompress, FlushDecompress, Status};

/// How inflating stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ending {
    /// The deflate data reached its end; `consumed` bytes of the input after the zlib header.
    Whole { consumed: usize },
    /// The input ran out before the deflate data said it ends.
    InputShort,
    /// The data is corrupt (or not deflate data at all).
    Corrupt,
    /// More than the bound was inflated.
    OverBound,
}

/// What was inflated: how many bytes, and how it stopped.
#[derive(Debug, Clone, Copy)]
pub(super) struct Inflation {
    pub(super) ending: Ending,
    pub(super) bytes: u64,
}

/// Bytes inflated a step, and the first capacity of kept output.
const STEP_BYTES: usize = 64 * 1024;

/// Inflates the deflate data of the zlib stream `data` (header skipped, not checked), up to
/// `bound + 1` bytes. With `keep`, the output is appended to `out`; without, `out` is only a
/// buffer, and the bytes are counted.
pub(super) fn inflate(data: &[u8], bound: u64, out: &mut Vec<u8>, keep: bool) -> Inflation {
    let input = data.get(2..).unwrap_or_default();
    let mut inflater = Decompress::new(false);
    if !keep {
        out.clear();
    }
    let start = out.len();
    loop {
        if !keep {
            out.clear();
        }
        let written = inflater.total_out();
        if written > bound {
            return Inflation {
                ending: Ending::OverBound,
                bytes: written,
            };
        }
        // Room for the next step: doubling what is kept, never far past the bound.
        let room = (out.len() - start)
            .max(STEP_BYTES)
            .min(usize::try_from(bound + 1 - written).unwrap_or(usize::MAX));
        out.reserve(room);
        let consumed = usize::try_from(inflater.total_in()).unwrap_or(usize::MAX);
        let status = inflater.decompress_vec(
            input.get(consumed..).unwrap_or_default(),
            out,
            FlushDecompress::None,
        );
        let progressed =
            inflater.total_in() as usize != consumed || inflater.total_out() != written;
        let ending = match status {
            _ if inflater.total_out() > bound => Ending::OverBound,
            Ok(Status::StreamEnd) => Ending::Whole {
                consumed: inflater.total_in() as usize,
            },
            Err(_) => Ending::Corrupt,
            Ok(Status::BufError) | Ok(Status::Ok) if !progressed => Ending::InputShort,
            Ok(_) => continue,
        };
        return Inflation {
            ending,
            bytes: inflater.total_out(),
        };
    }
}

/// Whether the Adler-32 checksum after the deflate data of the zlib stream `data`, which
/// ended `consumed` bytes after the header, matches the inflated `output`.
pub(super) fn checksum_matches(data: &[u8], consumed: usize, output: &[u8]) -> bool {
    let Some(stored) = data
        .get(2 + consumed..2 + consumed + 4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
    else {
        return false;
    };
    let mut adler = simd_adler32::Adler32::new();
    adler.write(output);
    adler.finish() == u32::from_be_bytes(stored)
}

/// Whether `data` starts with a zlib header for deflate data without a preset dictionary.
pub(super) fn zlib_header_ok(data: &[u8]) -> bool {
    matches!(data, [cmf, flg, ..]
        if cmf & 0x0f == 8 && cmf >> 4 <= 7 && flg & 0x20 == 0
            && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zlib(data: &[u8]) -> Vec<u8> {
        miniz_oxide::deflate::compress_to_vec_zlib(data, 6)
    }

    #[test]
    fn tells_whole_short_corrupt_and_over_bound_apart() {
        let plain: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let z = zlib(&plain);
        let mut out = Vec::new();
        let whole = inflate(&z, 1 << 20, &mut out, true);
        assert_eq!(whole.bytes, plain.len() as u64);
        let Ending::Whole { consumed } = whole.ending else {
            panic!("{whole:?}");
        };
        assert_eq!(out, plain);
        assert!(checksum_matches(&z, consumed, &out));
        assert!(zlib_header_ok(&z));

        let mut buffer = Vec::new();
        let counted = inflate(&z, 1 << 20, &mut buffer, false);
        assert_eq!(counted.bytes, plain.len() as u64);
        assert!(
            buffer.capacity() < 2 * STEP_BYTES,
            "counting holds one step"
        );

        let cut = inflate(&z[..z.len() / 2], 1 << 20, &mut Vec::new(), false);
        assert_eq!(cut.ending, Ending::InputShort);

        let mut bad = z.clone();
        bad[2] = 0x07; // the first block's header: a reserved block type
        assert_eq!(
            inflate(&bad, 1 << 20, &mut Vec::new(), false).ending,
            Ending::Corrupt
        );

        let mut out = Vec::new();
        let over = inflate(&z, 1000, &mut out, true);
        assert_eq!(over.ending, Ending::OverBound);
        assert!(out.capacity() < 1 << 17, "kept output stays near the bound");
    }

    #[test]
    fn a_wrong_checksum_or_header_is_seen() {
        let mut z = zlib(b"BT /F1 12 Tf (Hello) Tj ET");
        let mut out = Vec::new();
        let Ending::Whole { consumed } = inflate(&z, 1 << 20, &mut out, true).ending else {
            panic!("inflates whole");
        };
        let last = z.len() - 1;
        z[last] ^= 1;
        assert!(!checksum_matches(&z, consumed, &out));
        assert!(
            !checksum_matches(&z[..last], consumed, &out),
            "checksum cut off"
        );
        assert!(!zlib_header_ok(b"\x78\x00"));
        assert!(!zlib_header_ok(b"x"));
    }
}
