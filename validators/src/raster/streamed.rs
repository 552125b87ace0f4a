//! A TIFF strip or tile too large to decode into memory at once, verified by decompressing it
//! as a stream and counting what it gives.
//!
//! The `tiff` crate decodes a strip or tile whole, into a buffer of its size: for a page
//! written as one strip (some scanners and converters do), that is the page. Above
//! [`STREAMED_CHUNK_BYTES`], a strip or tile without compression, in LZW or in Deflate is
//! verified here instead, with the decompressors the `tiff` crate itself uses (weezl, flate2)
//! configured as it configures them: every byte of the compressed data is decompressed and
//! checked, and the data must give every byte its rows need, as when the crate reads it.
//! Nothing decoded is kept beyond a 64 KiB window. The pixel values, which no check reads, are
//! neither predicted nor converted. Other compressions (PackBits, JPEG, CCITT Group 4) are
//! left to the `tiff` crate, which decodes them whole.

use std::io::{self, Read};

use tiff::decoder::{ChunkType, Decoder};
use tiff::tags::{CompressionMethod, Tag};
use tiff::{TiffError, TiffResult};

use crate::mapped::ReleasingReader;

/// Strips and tiles that decode to more than this are verified as streams: 16 MiB, more than
/// the strips of any usual writer (libtiff writes strips of 8 KiB).
pub(crate) const STREAMED_CHUNK_BYTES: usize = 16 << 20;

/// Size of the window decoded data goes through.
const WINDOW: usize = 64 << 10;

/// Verifies chunk `chunk` of the decoder's current page, which decodes to `needed` bytes,
/// from `content` (the whole TIFF). `None` when its compression is left to the `tiff` crate.
pub(crate) fn verify_chunk<R: Read + io::Seek>(
    decoder: &mut Decoder<R>,
    content: &[u8],
    chunk: u32,
    needed: usize,
) -> Option<TiffResult<()>> {
    let compression = match decoder.find_tag_unsigned::<u16>(Tag::Compression) {
        Ok(found) => CompressionMethod::from_u16_exhaustive(found.unwrap_or(1)),
        Err(e) => return Some(Err(e)),
    };
    if !matches!(
        compression,
        CompressionMethod::None
            | CompressionMethod::LZW
            | CompressionMethod::Deflate
            | CompressionMethod::OldDeflate
    ) {
        return None;
    }
    Some(verify_streamed(
        decoder,
        content,
        chunk,
        needed,
        compression,
    ))
}

fn verify_streamed<R: Read + io::Seek>(
    decoder: &mut Decoder<R>,
    content: &[u8],
    chunk: u32,
    needed: usize,
    compression: CompressionMethod,
) -> TiffResult<()> {
    // The colour type is what the crate checks before it reads any data.
    decoder.colortype()?;
    let (offsets, counts) = match decoder.get_chunk_type() {
        ChunkType::Strip => (Tag::StripOffsets, Tag::StripByteCounts),
        ChunkType::Tile => (Tag::TileOffsets, Tag::TileByteCounts),
    };
    let at = |tag: Tag, decoder: &mut Decoder<R>| -> TiffResult<u64> {
        decoder
            .get_tag_u64_vec(tag)?
            .get(chunk as usize)
            .copied()
            .ok_or(TiffError::FormatError(
                tiff::TiffFormatError::InconsistentSizesEncountered,
            ))
    };
    let offset = at(offsets, decoder)?;
    let count = at(counts, decoder)?;
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(content.len());
    let data = &content[start..];
    let cut_short = || -> TiffError {
        io::Error::new(io::ErrorKind::UnexpectedEof, "failed to fill whole buffer").into()
    };
    match compression {
        // The crate reads uncompressed rows from the strip's offset on, whatever its byte
        // count says: the file must hold them.
        CompressionMethod::None => {
            if data.len() < needed {
                return Err(cut_short());
            }
            Ok(())
        }
        CompressionMethod::LZW => {
            let count = usize::try_from(count).unwrap_or(usize::MAX).min(data.len());
            lzw(&data[..count], needed)
        }
        _ => {
            let count = usize::try_from(count).unwrap_or(usize::MAX).min(data.len());
            let stream = ReleasingReader::new(&data[..count]);
            let mut inflated = flate2::read::ZlibDecoder::new(stream).take(needed as u64);
            let got = io::copy(&mut inflated, &mut io::sink())?;
            if got < needed as u64 {
                return Err(cut_short());
            }
            Ok(())
        }
    }
}

/// TIFF 6 LZW, decoded as the `tiff` crate decodes it (most significant bit first, the code
/// width growing one code early) until `needed` bytes came out.
fn lzw(mut data: &[u8], needed: usize) -> TiffResult<()> {
    let mut decoder = weezl::decode::Configuration::with_tiff_size_switch(weezl::BitOrder::Msb, 8)
        .with_yield_on_full_buffer(true)
        .build();
    let mut window = vec![0u8; WINDOW];
    let mut out = 0usize;
    let mut unreleased = 0usize;
    while out < needed {
        let want = (needed - out).min(WINDOW);
        let result = decoder.decode_bytes(data, &mut window[..want]);
        data = &data[result.consumed_in..];
        out += result.consumed_out;
        unreleased += result.consumed_in;
        if unreleased >= 1 << 20 {
            crate::mapped::note_read(unreleased);
            unreleased = 0;
        }
        match result.status {
            Ok(weezl::LzwStatus::Ok) => {}
            Ok(weezl::LzwStatus::NoProgress) => {
                return Err(
                    io::Error::new(io::ErrorKind::UnexpectedEof, "no lzw end code found").into(),
                );
            }
            Ok(weezl::LzwStatus::Done) if out < needed => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "failed to fill whole buffer",
                )
                .into());
            }
            Ok(weezl::LzwStatus::Done) => {}
            Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e).into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lzw_data_must_give_the_bytes_its_rows_need() {
        let pixels: Vec<u8> = (0..300_000u32).map(|i| (i % 7) as u8).collect();
        let coded = weezl::encode::Encoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8)
            .encode(&pixels)
            .expect("encoding to memory");
        assert!(lzw(&coded, pixels.len()).is_ok());
        let cut = lzw(&coded[..coded.len() / 2], pixels.len());
        assert!(
            matches!(&cut, Err(TiffError::IoError(e)) if e.kind() == io::ErrorKind::UnexpectedEof),
            "{cut:?}"
        );
        assert!(
            lzw(&coded, pixels.len() + 1).is_err(),
            "fewer bytes than needed"
        );
    }
}
