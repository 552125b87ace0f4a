//! A walk over the directories (IFDs) of a TIFF before any decoding: pages, their sizes and
//! compressions, and loops in the directory chain or SubIFD links, which hostile files use to
//! hang readers. Every offset is followed once; every count is bounded.

use std::collections::HashSet;

/// One page (main-chain directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TiffPage {
    pub width: u32,
    pub height: u32,
    pub compression: u16,
    /// How a fax page (CCITT modified Huffman or Group 3) is coded; `None` for others.
    pub fax: Option<FaxPage>,
    /// A palette page's PhotometricInterpretation value: where it is, and the bytes that say
    /// BlackIsZero instead (see [`GreyPalettes`]).
    pub palette: Option<(u64, [u8; 2])>,
    /// A page in old-style ("compat") LZW, which the `tiff` crate does not decode.
    pub lzw_compat: Option<LzwCompatPage>,
}

/// A page in the LZW coding of TIFF 5 and earlier, which libtiff still reads ("LZW compat"):
/// codes least significant bit first, and the code width grows one code later than in the
/// LZW of TIFF 6. libtiff tells it by its first bytes: a clear code (256) written LSB first
/// starts `00 01`, where TIFF 6 LZW starts `80`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LzwCompatPage {
    /// (offset, byte count) of each strip.
    pub strips: Vec<(u64, u64)>,
    pub rows_per_strip: u64,
    /// The bytes of a row of one sample a pixel: the least each row decodes to.
    pub min_row_bytes: u64,
}

/// What decoding a CCITT modified Huffman or Group 3 page needs, which the `tiff` crate does
/// not decode. (Group 4 pages stay with the `tiff` crate: `hayro-ccitt` 0.5 fails on a valid
/// Group 4 page of libtiff's test images that libtiff and the `tiff` crate decode.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FaxPage {
    /// (offset, byte count) of each strip.
    pub strips: Vec<(u64, u64)>,
    pub rows_per_strip: u32,
    /// T4Options: bit 0, two-dimensional coding; bit 2, fill bits byte-align each EOL.
    pub t4_options: u32,
    /// FillOrder 2: the bits of each byte come least significant first.
    pub lsb_first: bool,
}

/// TIFF compressions 2 (CCITT modified Huffman, byte-aligned rows) and 3 (CCITT Group 3).
pub(crate) const COMPRESSION_CCITT_RLE: u16 = 2;
pub(crate) const COMPRESSION_CCITT_G3: u16 = 3;

#[derive(Debug, Default)]
pub(crate) struct TiffLayout {
    pub pages: Vec<TiffPage>,
}

/// Why the walk stopped.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TiffWalkError {
    /// A directory offset points outside the file.
    Truncated(String),
    /// A loop or an impossible structure.
    Structure(String),
    /// More directories than allowed.
    TooMany(usize),
}

/// Compressions guichet decodes: the fax codings of [`FaxPage`], decoded by `crate::ccitt`,
/// and the `tiff` crate's (none, CCITT Group 4, LZW, JPEG, Deflate, PackBits).
pub(crate) fn compression_supported(c: u16) -> bool {
    matches!(
        c,
        1 | COMPRESSION_CCITT_RLE | COMPRESSION_CCITT_G3 | 4 | 5 | 7 | 8 | 32773 | 32946
    )
}

pub(crate) fn compression_name(c: u16) -> String {
    match c {
        6 => "old-style JPEG (OJPEG)".into(),
        34712 => "JPEG 2000".into(),
        other => format!("compression {other}"),
    }
}

struct Reader<'a> {
    data: &'a [u8],
    big_endian: bool,
    big_tiff: bool,
}

impl Reader<'_> {
    fn bytes<const N: usize>(&self, at: u64) -> Option<[u8; N]> {
        let at = usize::try_from(at).ok()?;
        let slice = self.data.get(at..at.checked_add(N)?)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        if self.big_endian {
            out.reverse(); // read everything as little endian below
        }
        Some(out)
    }
    fn u16(&self, at: u64) -> Option<u16> {
        self.bytes::<2>(at).map(u16::from_le_bytes)
    }
    fn u32(&self, at: u64) -> Option<u32> {
        self.bytes::<4>(at).map(u32::from_le_bytes)
    }
    fn u64(&self, at: u64) -> Option<u64> {
        self.bytes::<8>(at).map(u64::from_le_bytes)
    }
    fn offset(&self, at: u64) -> Option<u64> {
        if self.big_tiff {
            self.u64(at)
        } else {
            self.u32(at).map(u64::from)
        }
    }
}

/// A directory: its tags of interest and the offset of the next one.
#[derive(Default)]
struct Ifd {
    width: u32,
    height: u32,
    compression: u16,
    rows_per_strip: Option<u64>,
    /// PlanarConfiguration 2: each sample in strips of its own.
    planar: bool,
    strip_offsets: Vec<u64>,
    strip_byte_counts: Vec<u64>,
    tile_width: u64,
    tile_length: u64,
    tile_offsets: Vec<u64>,
    tile_byte_counts: Vec<u64>,
    t4_options: u32,
    fill_order: u16,
    /// PhotometricInterpretation, and where its value is when it is a SHORT.
    photometric: Option<(u64, Option<u64>)>,
    bits_per_sample: u64,
    /// How many values the ColorMap holds.
    color_map_values: u64,
    sub_ifds: Vec<u64>,
    next: u64,
}

impl Ifd {
    /// (offset, byte count) of each strip.
    fn strips(&self) -> Vec<(u64, u64)> {
        self.strip_offsets
            .iter()
            .copied()
            .zip(self.strip_byte_counts.iter().copied())
            .collect()
    }

    /// Rows in each strip (the last may hold fewer), at least one and at most the page.
    fn rows_per_strip(&self) -> u32 {
        self.rows_per_strip
            .and_then(|r| u32::try_from(r).ok())
            .unwrap_or(self.height)
            .clamp(1, self.height.max(1))
    }

    /// The old-style LZW coding of a page in strips, told by its first strip's first bytes.
    fn lzw_compat(&self, data: &[u8]) -> Option<LzwCompatPage> {
        const COMPRESSION_LZW: u16 = 5;
        if self.compression != COMPRESSION_LZW || !self.tile_offsets.is_empty() {
            return None;
        }
        let first = usize::try_from(*self.strip_offsets.first()?).ok()?;
        let head = data.get(first..first + 2)?;
        if head[0] != 0 || head[1] & 1 == 0 {
            return None;
        }
        Some(LzwCompatPage {
            strips: self.strips(),
            rows_per_strip: u64::from(self.rows_per_strip()),
            min_row_bytes: (u64::from(self.width) * self.bits_per_sample.max(1)).div_ceil(8),
        })
    }

    /// The fax coding of a page in strips. (Tiled fax pages, which no fax software writes,
    /// go to the `tiff` crate, which does not decode them: `kind_not_supported`.)
    fn fax(&self) -> Option<FaxPage> {
        let fax = matches!(
            self.compression,
            COMPRESSION_CCITT_RLE | COMPRESSION_CCITT_G3
        );
        if !fax || !self.tile_offsets.is_empty() {
            return None;
        }
        Some(FaxPage {
            strips: self.strips(),
            rows_per_strip: self.rows_per_strip(),
            t4_options: self.t4_options,
            lsb_first: self.fill_order == 2,
        })
    }
}

/// Most strip or tile offsets read from one directory; the decoder's own limits hold beyond.
const MAX_SEGMENTS: u64 = 1 << 16;

/// TIFF compression 7: each strip or tile is a JPEG stream of its own.
const COMPRESSION_JPEG: u16 = 7;

pub(crate) fn walk(data: &[u8], max_ifds: usize) -> Result<TiffLayout, TiffWalkError> {
    let structure = |s: &str| TiffWalkError::Structure(s.to_string());
    let big_endian = match data.get(..2) {
        Some(b"II") => false,
        Some(b"MM") => true,
        _ => return Err(structure("no byte-order mark")),
    };
    let mut r = Reader {
        data,
        big_endian,
        big_tiff: false,
    };
    let first = match r.u16(2) {
        Some(42) => r.offset(4),
        Some(43) => {
            r.big_tiff = true;
            r.offset(8)
        }
        _ => return Err(structure("bad TIFF version")),
    }
    .ok_or_else(|| TiffWalkError::Truncated("header".into()))?;

    let mut seen = HashSet::new();
    let mut layout = TiffLayout::default();
    let mut next = first;
    let mut pending_sub: Vec<u64> = Vec::new();
    while next != 0 {
        if !seen.insert(next) {
            return Err(TiffWalkError::Structure(format!(
                "directory chain loops at offset {next}"
            )));
        }
        if seen.len() > max_ifds {
            return Err(TiffWalkError::TooMany(seen.len()));
        }
        let ifd = read_ifd(&r, next)?;
        if ifd.compression == COMPRESSION_JPEG {
            check_jpeg_segments(data, &ifd).map_err(|why| {
                TiffWalkError::Structure(format!("page {}: {why}", layout.pages.len() + 1))
            })?;
        }
        let page = layout.pages.len() + 1;
        layout.pages.push(TiffPage {
            width: ifd.width,
            height: ifd.height,
            compression: ifd.compression,
            fax: ifd.fax(),
            lzw_compat: ifd.lzw_compat(data),
            palette: palette_of(&ifd, big_endian)
                .map_err(|why| TiffWalkError::Structure(format!("page {page}: {why}")))?,
        });
        pending_sub.extend(ifd.sub_ifds);
        next = ifd.next;
    }
    // SubIFDs (thumbnails, reduced images) are not pages, but their links may loop too.
    while let Some(offset) = pending_sub.pop() {
        if offset == 0 {
            continue;
        }
        if !seen.insert(offset) {
            return Err(TiffWalkError::Structure(format!(
                "SubIFD link loops at offset {offset}"
            )));
        }
        if seen.len() > max_ifds {
            return Err(TiffWalkError::TooMany(seen.len()));
        }
        let ifd = read_ifd(&r, offset)?;
        pending_sub.extend(ifd.sub_ifds);
        if ifd.next != 0 {
            pending_sub.push(ifd.next);
        }
    }
    if layout.pages.is_empty() {
        return Err(structure("no image directory"));
    }
    Ok(layout)
}

/// Each JPEG strip or tile must not be larger than the part of the page it fills: its frame
/// header is what decoders allocate and decode, whatever the TIFF tags say. A lie here makes
/// a 22-row strip decode as 52 502 rows (a fuzz find of image-rs). As libtiff does, the last
/// strip of a page may keep the full strip height.
fn check_jpeg_segments(data: &[u8], ifd: &Ifd) -> Result<(), String> {
    let width = u64::from(ifd.width);
    let height = u64::from(ifd.height);
    let frame = |offset: u64, count: u64| -> Option<(u64, u64)> {
        let start = usize::try_from(offset).ok()?;
        let end = usize::try_from(offset.saturating_add(count))
            .ok()?
            .min(data.len());
        let stream = data.get(start..end)?;
        if !stream.starts_with(&[0xFF, 0xD8]) {
            return None; // not a JPEG stream: the decoder reports it
        }
        let (w, h) = crate::jpeg::walk(stream).frame?;
        Some((u64::from(w), u64::from(h)))
    };
    if !ifd.tile_offsets.is_empty() {
        for (n, (&offset, &count)) in ifd
            .tile_offsets
            .iter()
            .zip(&ifd.tile_byte_counts)
            .enumerate()
        {
            if let Some((w, h)) = frame(offset, count)
                && (w > ifd.tile_width || h > ifd.tile_length)
            {
                return Err(format!(
                    "JPEG tile {n} is {w}x{h}, larger than the {}x{} tiles",
                    ifd.tile_width, ifd.tile_length
                ));
            }
        }
        return Ok(());
    }
    let rows_per_strip = ifd.rows_per_strip.unwrap_or(height).clamp(1, height.max(1));
    let strips_per_plane = height.div_ceil(rows_per_strip).max(1);
    for (n, (&offset, &count)) in ifd
        .strip_offsets
        .iter()
        .zip(&ifd.strip_byte_counts)
        .enumerate()
    {
        let Some((w, h)) = frame(offset, count) else {
            continue;
        };
        let k = if ifd.planar {
            n as u64 % strips_per_plane
        } else {
            n as u64
        };
        let rows = rows_per_strip.min(height.saturating_sub(k * rows_per_strip));
        let last = k + 1 == strips_per_plane;
        let tolerated = last && w == width && h <= rows_per_strip;
        if w > width || (h > rows && !tolerated) {
            return Err(format!(
                "JPEG strip {n} is {w}x{h}, larger than the {width}x{rows} it fills"
            ));
        }
    }
    Ok(())
}

/// Decodes every strip of an old-style LZW page, each to at least the rows it holds; the
/// pixels are not kept. `Err` says why the data is damaged or cut short.
pub(crate) fn decode_lzw_compat(
    data: &[u8],
    height: u32,
    page: &LzwCompatPage,
    max_bytes: u64,
) -> Result<(), (bool, String)> {
    let mut rows_left = u64::from(height);
    for (n, &(offset, count)) in page.strips.iter().enumerate() {
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let end = usize::try_from(offset.saturating_add(count)).unwrap_or(usize::MAX);
        let Some(strip) = data.get(start..end) else {
            return Err((true, format!("LZW strip {n} runs past the end")));
        };
        let rows = page.rows_per_strip.min(rows_left);
        rows_left -= rows;
        let need = rows.saturating_mul(page.min_row_bytes);
        if need > max_bytes {
            return Err((false, format!("LZW strip {n} decodes to {need} bytes")));
        }
        // GIF's LZW is TIFF 5's: codes LSB first, the width growing when the table fills.
        let mut decoder = weezl::decode::Decoder::new(weezl::BitOrder::Lsb, 8);
        let result = decoder.into_stream(std::io::sink()).decode(strip);
        let (status, decoded) = (result.status, result.bytes_written as u64);
        match status {
            Err(e) if decoded < need => {
                return Err((false, format!("LZW strip {n} does not decode: {e}")));
            }
            _ if decoded < need => {
                return Err((
                    true,
                    format!("LZW strip {n} decodes to {decoded} bytes of the {need} its rows need"),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// TIFF PhotometricInterpretation 3: each sample indexes the ColorMap.
const PHOTOMETRIC_PALETTE: u64 = 3;

/// A palette page's photometric value to read as BlackIsZero, once its ColorMap is checked:
/// 3 × 2^BitsPerSample values, as libtiff requires. `None` for other pages, and for a palette
/// tag that is not a SHORT (the `tiff` crate then refuses the page as not supported).
fn palette_of(ifd: &Ifd, big_endian: bool) -> Result<Option<(u64, [u8; 2])>, String> {
    let Some((PHOTOMETRIC_PALETTE, at)) = ifd.photometric else {
        return Ok(None);
    };
    let bits = ifd.bits_per_sample;
    if !(1..=16).contains(&bits) {
        return Err(format!("palette indices of {bits} bits"));
    }
    if ifd.color_map_values != 3 << bits {
        return Err(format!(
            "a colour map of {} values for {bits}-bit indices ({} expected)",
            ifd.color_map_values,
            3 << bits
        ));
    }
    let black_is_zero = if big_endian { [0, 1] } else { [1, 0] };
    Ok(at.map(|at| (at, black_is_zero)))
}

/// The TIFF as the `tiff` crate reads it, with palette pages read as grey: a palette page's
/// samples are colour-map indices, coded exactly like grey levels, and the crate, which
/// refuses palette pages, then decodes and checks them. The file itself is not copied: the
/// two bytes of each such page's photometric value are replaced as they are read. It reads
/// through a [`ReleasingReader`](crate::mapped::ReleasingReader), so that the strips of a
/// large file do not stay resident once decoded.
pub(crate) struct GreyPalettes<'a> {
    data: crate::mapped::ReleasingReader<'a>,
    patches: Vec<(u64, [u8; 2])>,
}

impl<'a> GreyPalettes<'a> {
    pub(crate) fn new(data: &'a [u8], layout: &TiffLayout) -> Self {
        GreyPalettes {
            data: crate::mapped::ReleasingReader::new(data),
            patches: layout.pages.iter().filter_map(|p| p.palette).collect(),
        }
    }
}

impl std::io::Read for GreyPalettes<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let start = self.data.position();
        let n = self.data.read(buf)?;
        for &(at, bytes) in &self.patches {
            for (k, byte) in (at..).zip(bytes) {
                if let Some(i) = k.checked_sub(start).filter(|&i| i < n as u64) {
                    buf[i as usize] = byte;
                }
            }
        }
        Ok(n)
    }
}

impl std::io::Seek for GreyPalettes<'_> {
    fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
        self.data.seek(to)
    }
}

fn read_ifd(r: &Reader<'_>, at: u64) -> Result<Ifd, TiffWalkError> {
    let truncated =
        || TiffWalkError::Truncated(format!("directory at offset {at} runs past the end"));
    let (count, entries_at, entry_size) = if r.big_tiff {
        (r.u64(at).ok_or_else(truncated)?, at + 8, 20u64)
    } else {
        (u64::from(r.u16(at).ok_or_else(truncated)?), at + 2, 12u64)
    };
    if count > 4096 {
        return Err(TiffWalkError::Structure(format!(
            "directory at offset {at} claims {count} entries"
        )));
    }
    let mut ifd = Ifd {
        compression: 1,
        bits_per_sample: 1,
        ..Ifd::default()
    };
    for n in 0..count {
        let e = entries_at + n * entry_size;
        let tag = r.u16(e).ok_or_else(truncated)?;
        let typ = r.u16(e + 2).ok_or_else(truncated)?;
        let values = |limit: u64| r.values(e, typ, limit).ok_or_else(truncated);
        let first = || r.values(e, typ, 1).and_then(|v| v.first().copied());
        match tag {
            256 => ifd.width = first().and_then(|v| u32::try_from(v).ok()).unwrap_or(0),
            257 => ifd.height = first().and_then(|v| u32::try_from(v).ok()).unwrap_or(0),
            259 => ifd.compression = first().and_then(|v| u16::try_from(v).ok()).unwrap_or(0),
            258 => ifd.bits_per_sample = first().unwrap_or(1),
            262 => {
                let (value_at, _) = r.value_field(e);
                ifd.photometric = first().map(|v| (v, (typ == 3).then_some(value_at)));
            }
            320 => ifd.color_map_values = r.count(e).ok_or_else(truncated)?,
            266 => ifd.fill_order = first().and_then(|v| u16::try_from(v).ok()).unwrap_or(1),
            292 => ifd.t4_options = first().and_then(|v| u32::try_from(v).ok()).unwrap_or(0),
            273 => ifd.strip_offsets = values(MAX_SEGMENTS)?,
            278 => ifd.rows_per_strip = first(),
            279 => ifd.strip_byte_counts = values(MAX_SEGMENTS)?,
            284 => ifd.planar = first() == Some(2),
            322 => ifd.tile_width = first().unwrap_or(0),
            323 => ifd.tile_length = first().unwrap_or(0),
            324 => ifd.tile_offsets = values(MAX_SEGMENTS)?,
            325 => ifd.tile_byte_counts = values(MAX_SEGMENTS)?,
            330 => ifd.sub_ifds = values(64)?,
            _ => {}
        }
    }
    ifd.next = r
        .offset(entries_at + count * entry_size)
        .ok_or_else(truncated)?;
    Ok(ifd)
}

impl Reader<'_> {
    /// Where the value field of the directory entry at `e` is, and how many bytes it holds
    /// inline (a value that fits is there, left-justified; a longer one is at the offset there).
    fn value_field(&self, e: u64) -> (u64, u64) {
        if self.big_tiff {
            (e + 12, 8)
        } else {
            (e + 8, 4)
        }
    }

    /// How many values the directory entry at `e` holds.
    fn count(&self, e: u64) -> Option<u64> {
        if self.big_tiff {
            self.u64(e + 4)
        } else {
            self.u32(e + 4).map(u64::from)
        }
    }

    /// The first `limit` integer values of the directory entry at `e` (SHORT, LONG, IFD,
    /// LONG8, IFD8), inline or at the offset the entry holds; empty for other types.
    fn values(&self, e: u64, typ: u16, limit: u64) -> Option<Vec<u64>> {
        let size: u64 = match typ {
            3 => 2,
            4 | 13 => 4,
            16 | 18 => 8,
            _ => return Some(Vec::new()),
        };
        let count = self.count(e)?;
        let (value_at, inline_bytes) = self.value_field(e);
        let base = if count.saturating_mul(size) <= inline_bytes {
            value_at
        } else {
            self.offset(value_at)?
        };
        (0..count.min(limit))
            .map(|k| {
                let at = base.checked_add(k * size)?;
                match size {
                    2 => self.u16(at).map(u64::from),
                    4 => self.u32(at).map(u64::from),
                    _ => self.u64(at),
                }
            })
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A little-endian TIFF with one IFD at offset 8 whose next pointer is `next`.
    fn one_ifd(next: u32) -> Vec<u8> {
        let mut d = b"II*\0\x08\0\0\0".to_vec();
        d.extend_from_slice(&3u16.to_le_bytes());
        for (tag, v) in [(256u16, 10u32), (257, 20), (259, 1)] {
            d.extend_from_slice(&tag.to_le_bytes());
            d.extend_from_slice(&3u16.to_le_bytes());
            d.extend_from_slice(&1u32.to_le_bytes());
            d.extend_from_slice(&v.to_le_bytes());
        }
        d.extend_from_slice(&next.to_le_bytes());
        d
    }

    #[test]
    fn reads_pages() {
        let layout = walk(&one_ifd(0), 16).expect("walk");
        assert_eq!(
            layout.pages,
            vec![TiffPage {
                width: 10,
                height: 20,
                compression: 1,
                fax: None,
                lzw_compat: None,
                palette: None,
            }]
        );
    }

    /// A JPEG stream whose frame header says `width` x `height`.
    fn jpeg_strip(width: u16, height: u16) -> Vec<u8> {
        let mut j = vec![0xFF, 0xD8, 0xFF, 0xC0, 0, 11, 8];
        j.extend_from_slice(&height.to_be_bytes());
        j.extend_from_slice(&width.to_be_bytes());
        j.extend_from_slice(&[1, 1, 0x11, 0]);
        j.extend_from_slice(&[0xFF, 0xDA, 0, 8, 1, 1, 0, 0, 63, 0, 0x12, 0xFF, 0xD9]);
        j
    }

    /// A little-endian, JPEG-compressed TIFF of `width` x `height` in strips of
    /// `rows_per_strip` rows, whose strips are `strips` (JPEG streams).
    fn jpeg_tiff(width: u32, height: u32, rows_per_strip: u32, strips: &[Vec<u8>]) -> Vec<u8> {
        strip_tiff(7, &[], width, height, rows_per_strip, strips)
    }

    /// A little-endian TIFF of `width` x `height` with `compression`, the `extra` entries
    /// (tag, type, count, value; sorted by tag among the others), in strips of
    /// `rows_per_strip` rows whose data is `strips`.
    pub(crate) fn strip_tiff(
        compression: u32,
        extra: &[(u16, u16, u32, u32)],
        width: u32,
        height: u32,
        rows_per_strip: u32,
        strips: &[Vec<u8>],
    ) -> Vec<u8> {
        let n = strips.len() as u32;
        let entries = 6u32 + extra.len() as u32;
        let ifd_len = 2 + entries * 12 + 4;
        let offsets_at = 8 + ifd_len;
        let counts_at = offsets_at + 4 * n;
        // One strip's offset and count sit in the entries themselves.
        let mut data_at = if n == 1 {
            offsets_at
        } else {
            counts_at + 4 * n
        };
        let mut offsets = Vec::new();
        for s in strips {
            offsets.push(data_at);
            data_at += s.len() as u32;
        }
        let mut d = b"II*\0\x08\0\0\0".to_vec();
        d.extend_from_slice(&(entries as u16).to_le_bytes());
        let inline_or = |at: u32, first: u32| if n == 1 { first } else { at };
        let mut all = vec![
            (256u16, 4u16, 1u32, width),
            (257, 4, 1, height),
            (259, 3, 1, compression),
            (273, 4, n, inline_or(offsets_at, offsets[0])),
            (278, 4, 1, rows_per_strip),
            (279, 4, n, inline_or(counts_at, strips[0].len() as u32)),
        ];
        all.extend_from_slice(extra);
        all.sort_by_key(|entry| entry.0);
        for (tag, typ, count, v) in all {
            d.extend_from_slice(&tag.to_le_bytes());
            d.extend_from_slice(&typ.to_le_bytes());
            d.extend_from_slice(&count.to_le_bytes());
            d.extend_from_slice(&v.to_le_bytes());
        }
        d.extend_from_slice(&0u32.to_le_bytes());
        if n > 1 {
            offsets
                .iter()
                .for_each(|o| d.extend_from_slice(&o.to_le_bytes()));
            strips
                .iter()
                .for_each(|s| d.extend_from_slice(&(s.len() as u32).to_le_bytes()));
        }
        strips.iter().for_each(|s| d.extend_from_slice(s));
        d
    }

    /// An 8-bit grey TIFF of `width` x `height` in one strip of old-style LZW.
    pub(crate) fn lzw_compat_tiff(width: u32, height: u32) -> Vec<u8> {
        let pixels: Vec<u8> = (0..width * height).map(|i| (i % 251) as u8).collect();
        let strip = weezl::encode::Encoder::new(weezl::BitOrder::Lsb, 8)
            .encode(&pixels)
            .expect("encoding to memory");
        let grey = [(258, 3, 1, 8), (262, 3, 1, 1)];
        strip_tiff(5, &grey, width, height, height, &[strip])
    }

    #[test]
    fn old_style_lzw_pages_are_told_and_decoded() {
        let data = lzw_compat_tiff(200, 150);
        let layout = walk(&data, 16).expect("walk");
        let page = layout.pages[0].lzw_compat.clone().expect("old-style LZW");
        assert_eq!(page.min_row_bytes, 200);
        assert_eq!(decode_lzw_compat(&data, 150, &page, 1 << 30), Ok(()));
        // Cut short: fewer rows than the page needs.
        let mut short = page.clone();
        short.strips[0].1 /= 2;
        assert!(matches!(
            decode_lzw_compat(&data, 150, &short, 1 << 30),
            Err((true, _))
        ));
        // TIFF 6 LZW (MSB first) is the `tiff` crate's, as before.
        let pixels = vec![7u8; 200 * 150];
        let new_style = weezl::encode::Encoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8)
            .encode(&pixels)
            .expect("encoding to memory");
        let grey = [(258, 3, 1, 8), (262, 3, 1, 1)];
        let tiff6 = strip_tiff(5, &grey, 200, 150, 150, &[new_style]);
        assert_eq!(walk(&tiff6, 16).expect("walk").pages[0].lzw_compat, None);
    }

    #[test]
    fn jpeg_strips_must_fit_the_rows_they_fill() {
        let fits = jpeg_tiff(10, 20, 20, &[jpeg_strip(10, 20)]);
        assert!(walk(&fits, 16).is_ok());
        let lies = jpeg_tiff(10, 20, 20, &[jpeg_strip(10, 5000)]);
        assert!(
            matches!(walk(&lies, 16), Err(TiffWalkError::Structure(why)) if why.contains("10x5000"))
        );
        let too_wide = jpeg_tiff(10, 20, 20, &[jpeg_strip(11, 20)]);
        assert!(walk(&too_wide, 16).is_err());
        // The last strip may keep the full strip height (libtiff tolerates it), not more.
        let full_last = jpeg_tiff(10, 30, 20, &[jpeg_strip(10, 20), jpeg_strip(10, 20)]);
        assert!(walk(&full_last, 16).is_ok());
        let taller_last = jpeg_tiff(10, 30, 20, &[jpeg_strip(10, 20), jpeg_strip(10, 21)]);
        assert!(walk(&taller_last, 16).is_err());
        let taller_first = jpeg_tiff(10, 30, 20, &[jpeg_strip(10, 21), jpeg_strip(10, 10)]);
        assert!(walk(&taller_first, 16).is_err());
    }

    #[test]
    fn loops_and_truncations_are_errors() {
        assert!(matches!(
            walk(&one_ifd(8), 16),
            Err(TiffWalkError::Structure(_))
        ));
        assert!(matches!(
            walk(&one_ifd(9999), 16),
            Err(TiffWalkError::Truncated(_))
        ));
        assert!(walk(b"II*\0", 16).is_err());
    }
}
