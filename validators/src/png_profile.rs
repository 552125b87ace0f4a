//! A PNG's metadata before its image data, read with the `png` crate under a small bound.
//!
//! Decision: a colour profile (`iCCP` chunk) must inflate within [`MAX_PROFILE_BYTES`]. Real
//! ICC profiles are kilobytes, the largest (printer and device-link profiles) a few megabytes;
//! but 500 KB of deflate data inflate to 500 MB, and a decoder inflates the profile before the
//! first row, under the memory limit meant for the pixels. A profile that does not inflate at
//! all is refused the same way: it is invalid metadata, which the candidate's re-export drops.

use std::io::Cursor;

use png::chunk;

/// The most a PNG's colour profile may inflate to.
pub(crate) const MAX_PROFILE_BYTES: usize = 16 << 20;

/// Why the PNG's colour profile cannot be kept, if it has one that does not inflate within
/// [`MAX_PROFILE_BYTES`]. Structure errors are left to the decoder that follows.
pub(crate) fn problem(content: &[u8]) -> Option<String> {
    if !has_profile(content) {
        return None;
    }
    let mut decoder = png::Decoder::new_with_limits(
        Cursor::new(content),
        png::Limits {
            bytes: MAX_PROFILE_BYTES,
        },
    );
    decoder.set_ignore_text_chunk(true);
    match decoder.read_info() {
        // The png crate drops a profile that exceeds the bound or does not inflate, silently.
        Ok(reader) if reader.info().icc_profile.is_none() => Some(format!(
            "png: the colour profile (iCCP) is unreadable or inflates beyond {} MiB",
            MAX_PROFILE_BYTES >> 20
        )),
        Ok(_) | Err(_) => None,
    }
}

/// Whether an `iCCP` chunk comes before the image data; the chunks are walked with the png
/// crate's own reader, skipping the profile and text chunks instead of inflating them.
fn has_profile(content: &[u8]) -> bool {
    let mut reader = png::StreamingDecoder::new();
    reader.set_ignore_iccp_chunk(true);
    reader.set_ignore_text_chunk(true);
    let mut at = 0;
    while at < content.len() {
        match reader.update(&content[at..], None) {
            Ok((_, png::Decoded::ChunkBegin(_, chunk::iCCP))) => return true,
            Ok((_, png::Decoded::ChunkBegin(_, chunk::IDAT | chunk::IEND))) => {
                return false;
            }
            Ok((0, _)) | Err(_) => return false,
            Ok((read, _)) => at += read,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut out = u32::try_from(data.len())
            .expect("small chunk")
            .to_be_bytes()
            .to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(&crc.sum().to_be_bytes());
        out
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        miniz_oxide::deflate::compress_to_vec_zlib(data, 9)
    }

    /// A 2×2 grey PNG, with `extra` chunks between its header and its image data.
    fn png_with(extra: &[u8]) -> Vec<u8> {
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        out.extend(chunk(b"IHDR", &[0, 0, 0, 2, 0, 0, 0, 2, 8, 0, 0, 0, 0]));
        out.extend_from_slice(extra);
        out.extend(chunk(b"IDAT", &zlib(&[0, 7, 7, 0, 7, 7])));
        out.extend(chunk(b"IEND", b""));
        out
    }

    fn profile(inflated: &[u8]) -> Vec<u8> {
        let mut data = b"icc\0\0".to_vec();
        data.extend(zlib(inflated));
        chunk(b"iCCP", &data)
    }

    #[test]
    fn a_profile_that_inflates_beyond_the_bound_is_refused() {
        let bomb = png_with(&profile(&vec![0; MAX_PROFILE_BYTES + 1]));
        let why = problem(&bomb).expect("refused");
        assert!(why.contains("iCCP"), "{why}");
    }

    #[test]
    fn a_real_sized_profile_and_no_profile_pass() {
        assert_eq!(problem(&png_with(&profile(&[1; 3_000]))), None);
        assert_eq!(problem(&png_with(b"")), None);
        // Text chunks are not the profile, whatever they say.
        let text = chunk(b"tEXt", b"Comment\0iCCP");
        assert_eq!(problem(&png_with(&text)), None);
    }

    #[test]
    fn a_profile_that_does_not_inflate_is_refused() {
        let broken = chunk(b"iCCP", b"icc\0\0\x78\x9c\xff\xff\xff\xff");
        assert!(problem(&png_with(&broken)).is_some());
    }
}
