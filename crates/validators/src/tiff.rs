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
}

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

/// Compressions the `tiff` crate decodes (none, CCITT G4, LZW, JPEG, Deflate, PackBits).
pub(crate) fn compression_supported(c: u16) -> bool {
    matches!(c, 1 | 4 | 5 | 7 | 8 | 32773 | 32946)
}

pub(crate) fn compression_name(c: u16) -> String {
    match c {
        2 => "CCITT modified Huffman (fax)".into(),
        3 => "CCITT Group 3 (fax)".into(),
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
struct Ifd {
    width: u32,
    height: u32,
    compression: u16,
    sub_ifds: Vec<u64>,
    next: u64,
}

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
        layout.pages.push(TiffPage {
            width: ifd.width,
            height: ifd.height,
            compression: ifd.compression,
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
        width: 0,
        height: 0,
        compression: 1,
        sub_ifds: Vec::new(),
        next: 0,
    };
    for n in 0..count {
        let e = entries_at + n * entry_size;
        let tag = r.u16(e).ok_or_else(truncated)?;
        let typ = r.u16(e + 2).ok_or_else(truncated)?;
        let value_at = e + if r.big_tiff { 12 } else { 8 };
        let value = |typ: u16| -> Option<u64> {
            match typ {
                3 => r.u16(value_at).map(u64::from),
                4 | 13 => r.u32(value_at).map(u64::from),
                16 | 18 => r.u64(value_at),
                _ => None,
            }
        };
        match tag {
            256 => ifd.width = value(typ).and_then(|v| u32::try_from(v).ok()).unwrap_or(0),
            257 => ifd.height = value(typ).and_then(|v| u32::try_from(v).ok()).unwrap_or(0),
            259 => ifd.compression = value(typ).and_then(|v| u16::try_from(v).ok()).unwrap_or(0),
            330 => {
                let n = if r.big_tiff {
                    r.u64(e + 4)
                } else {
                    r.u32(e + 4).map(u64::from)
                };
                let n = n.ok_or_else(truncated)?.min(64);
                let inline = if r.big_tiff { n * 8 <= 8 } else { n * 4 <= 4 };
                let base = if inline {
                    value_at
                } else {
                    r.offset(value_at).ok_or_else(truncated)?
                };
                let width = if typ == 16 || typ == 18 { 8 } else { 4 };
                for k in 0..n {
                    let v = if width == 8 {
                        r.u64(base + k * 8)
                    } else {
                        r.u32(base + k * 4).map(u64::from)
                    };
                    ifd.sub_ifds.push(v.ok_or_else(truncated)?);
                }
            }
            _ => {}
        }
    }
    ifd.next = r
        .offset(entries_at + count * entry_size)
        .ok_or_else(truncated)?;
    Ok(ifd)
}

#[cfg(test)]
mod tests {
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
                compression: 1
            }]
        );
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
