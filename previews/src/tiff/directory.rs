//! The few things drawing needs of a TIFF's directories, read straight from the file: the
//! walk and reading are the lines of `validators::tiff` this needs, not that module. Every
//! offset is checked; every count is bounded.

use crate::fax::FaxPage;

/// Most strip offsets read from one directory.
const MAX_STRIPS: u64 = 1 << 16;

const COMPRESSION_CCITT_RLE: u16 = 2;
const COMPRESSION_CCITT_G3: u16 = 3;
pub(super) const PHOTOMETRIC_BLACK_IS_ZERO: u16 = 1;
pub(super) const PHOTOMETRIC_PALETTE: u16 = 3;

/// What drawing a page needs of its directory.
#[derive(Default)]
pub(super) struct Ifd {
    width: u32,
    height: u32,
    compression: u16,
    pub(super) photometric: Option<u16>,
    /// Where the photometric value is, when it is a SHORT (the view replaces it).
    pub(super) photometric_at: Option<u64>,
    pub(super) bits_per_sample: u16,
    strip_offsets: Vec<u64>,
    strip_byte_counts: Vec<u64>,
    rows_per_strip: Option<u64>,
    tiled: bool,
    t4_options: u32,
    fill_order: u16,
    pub(super) color_map: Vec<u16>,
    pub(super) orientation: u8,
}

impl Ifd {
    /// How a fax page (CCITT modified Huffman or Group 3, in strips) is coded; `None` for
    /// others. (Tiled fax pages, which no fax software writes, go to the `tiff` crate, which
    /// refuses them.)
    pub(super) fn fax(&self) -> Option<FaxPage> {
        let coded = matches!(
            self.compression,
            COMPRESSION_CCITT_RLE | COMPRESSION_CCITT_G3
        );
        if !coded || self.tiled {
            return None;
        }
        Some(FaxPage {
            width: self.width,
            height: self.height,
            modified_huffman: self.compression == COMPRESSION_CCITT_RLE,
            strips: self
                .strip_offsets
                .iter()
                .copied()
                .zip(self.strip_byte_counts.iter().copied())
                .collect(),
            rows_per_strip: self
                .rows_per_strip
                .and_then(|r| u32::try_from(r).ok())
                .unwrap_or(self.height)
                .clamp(1, self.height.max(1)),
            two_dimensional: self.t4_options & 1 != 0,
            lsb_first: self.fill_order == 2,
            black_is_zero: self.photometric == Some(PHOTOMETRIC_BLACK_IS_ZERO),
        })
    }
}

pub(super) struct Reader<'a> {
    pub(super) data: &'a [u8],
    pub(super) big_endian: bool,
    pub(super) big_tiff: bool,
}

impl Reader<'_> {
    fn bytes<const N: usize>(&self, at: u64) -> Option<[u8; N]> {
        let at = usize::try_from(at).ok()?;
        let mut out: [u8; N] = self.data.get(at..at.checked_add(N)?)?.try_into().ok()?;
        if self.big_endian {
            out.reverse(); // everything is read as little endian below
        }
        Some(out)
    }
    pub(super) fn u16(&self, at: u64) -> Option<u16> {
        self.bytes::<2>(at).map(u16::from_le_bytes)
    }
    fn u32(&self, at: u64) -> Option<u32> {
        self.bytes::<4>(at).map(u32::from_le_bytes)
    }
    fn u64(&self, at: u64) -> Option<u64> {
        self.bytes::<8>(at).map(u64::from_le_bytes)
    }
    pub(super) fn offset(&self, at: u64) -> Option<u64> {
        if self.big_tiff {
            self.u64(at)
        } else {
            self.u32(at).map(u64::from)
        }
    }

    /// The number of entries of the directory at `at`, where they start, and their size.
    fn entries(&self, at: u64) -> Option<(u64, u64, u64)> {
        let (count, first, size) = if self.big_tiff {
            (self.u64(at)?, at.checked_add(8)?, 20)
        } else {
            (u64::from(self.u16(at)?), at.checked_add(2)?, 12)
        };
        (count <= 4096).then_some((count, first, size))
    }

    /// The offset of the directory after the one at `at` (0 for none), if that one reads.
    pub(super) fn next_directory(&self, at: u64) -> Option<u64> {
        let (count, first, size) = self.entries(at)?;
        self.offset(first.checked_add(count * size)?)
    }

    /// The directory at `at`, or `None` when it runs past the end of the file.
    pub(super) fn directory(&self, at: u64) -> Option<Ifd> {
        let (count, first, size) = self.entries(at)?;
        let mut ifd = Ifd {
            compression: 1,
            bits_per_sample: 1,
            fill_order: 1,
            orientation: 1,
            ..Ifd::default()
        };
        for n in 0..count {
            let e = first + n * size;
            let tag = self.u16(e)?;
            let typ = self.u16(e + 2)?;
            let first_value = || self.values(e, typ, 1).and_then(|v| v.first().copied());
            let short = || first_value().and_then(|v| u16::try_from(v).ok());
            match tag {
                256 => ifd.width = first_value().and_then(|v| u32::try_from(v).ok())?,
                257 => ifd.height = first_value().and_then(|v| u32::try_from(v).ok())?,
                258 => ifd.bits_per_sample = short().unwrap_or(1),
                259 => ifd.compression = short().unwrap_or(0),
                262 => {
                    ifd.photometric = short();
                    ifd.photometric_at = (typ == 3).then(|| self.value_field(e).0);
                }
                266 => ifd.fill_order = short().unwrap_or(1),
                273 => ifd.strip_offsets = self.values(e, typ, MAX_STRIPS)?,
                274 => ifd.orientation = short().and_then(|v| u8::try_from(v).ok()).unwrap_or(1),
                278 => ifd.rows_per_strip = first_value(),
                279 => ifd.strip_byte_counts = self.values(e, typ, MAX_STRIPS)?,
                292 => {
                    ifd.t4_options = first_value()
                        .and_then(|v| u32::try_from(v).ok())
                        .unwrap_or(0)
                }
                320 => {
                    ifd.color_map = self
                        .values(e, typ, 3 << 16)?
                        .into_iter()
                        .map(|v| u16::try_from(v).unwrap_or(u16::MAX))
                        .collect();
                }
                322..=325 => ifd.tiled = true,
                _ => {}
            }
        }
        Some(ifd)
    }

    /// Where the value field of the directory entry at `e` is, and how many bytes it holds
    /// inline (a value that fits is there, left-justified; a longer one is at the offset there).
    fn value_field(&self, e: u64) -> (u64, u64) {
        if self.big_tiff {
            (e + 12, 8)
        } else {
            (e + 8, 4)
        }
    }

    /// The first `limit` integer values (SHORT, LONG, IFD, LONG8, IFD8) of the entry at `e`;
    /// empty for other types.
    fn values(&self, e: u64, typ: u16, limit: u64) -> Option<Vec<u64>> {
        let size: u64 = match typ {
            3 => 2,
            4 | 13 => 4,
            16 | 18 => 8,
            _ => return Some(Vec::new()),
        };
        let count = if self.big_tiff {
            self.u64(e + 4)?
        } else {
            u64::from(self.u32(e + 4)?)
        };
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
