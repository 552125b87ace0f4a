//! Another file hidden where a format's readers never look: after a JPEG's end of image, in
//! its application segments, after a PNG's `IEND`, after a PDF's last `%%EOF`. Such bytes
//! are found by the structure of what they form, not by a list of file signatures found
//! anywhere: a chain of MPEG audio frames, each header giving the length that leads to the
//! next; a Windows program whose header points at its `PE` signature; an ELF header with a
//! valid class, byte order and version; a ZIP entry header with a plausible name; a PDF
//! header; HTML or a script.
//!
//! Decisions:
//! - What phones put after a JPEG's end is not hidden: further JPEGs (MPO, Ultra HDR gain
//!   maps) are walked as JPEGs in turn, and a motion photo's MP4 video is not among the
//!   formats looked for. Padding (NUL bytes, white space) is nothing.
//! - An MPEG audio stream needs four frames in a row, each where the one before ends: one
//!   frame header is two bytes that compressed data writes by chance.

/// The regions of a JPEG its decoders skip: the payload of each application and comment
/// segment, and what follows the end of the image, through any JPEGs that follow it.
pub(crate) fn jpeg_hidden_regions(data: &[u8]) -> Vec<&[u8]> {
    let mut regions = Vec::new();
    let mut start = 0;
    // MPO files hold a handful of images; a bound keeps a crafted chain cheap.
    for _ in 0..16 {
        let Some(end) = jpeg_segments(&data[start..], &mut regions) else {
            return regions;
        };
        let tail = &data[start + end..];
        let content = tail
            .iter()
            .position(|b| *b != 0 && !b.is_ascii_whitespace())
            .map_or(&tail[tail.len()..], |i| &tail[i..]);
        if content.starts_with(&[0xFF, 0xD8]) {
            start = data.len() - content.len();
            continue;
        }
        if !content.is_empty() {
            regions.push(content);
        }
        return regions;
    }
    regions
}

/// Walks one JPEG from its SOI: pushes the payload of each APPn and COM segment, and returns
/// the offset just after its EOI (`None` when it has none).
fn jpeg_segments<'a>(data: &'a [u8], regions: &mut Vec<&'a [u8]>) -> Option<usize> {
    let mut i = 2;
    loop {
        while data.get(i) == Some(&0xFF) && data.get(i + 1) == Some(&0xFF) {
            i += 1;
        }
        if data.get(i) != Some(&0xFF) {
            return None;
        }
        let marker = *data.get(i + 1)?;
        match marker {
            0xD9 => return Some(i + 2),
            0x01 | 0xD0..=0xD7 => {
                i += 2;
                continue;
            }
            _ => {}
        }
        let len = usize::from(u16::from_be_bytes([*data.get(i + 2)?, *data.get(i + 3)?]));
        let body = data.get(i + 4..i + 2 + len.max(2))?;
        if matches!(marker, 0xE0..=0xEF | 0xFE) {
            regions.push(body);
        }
        i += 2 + len.max(2);
        if marker == 0xDA {
            // Entropy-coded data: a marker is FF followed by anything but 00 (stuffing),
            // a restart marker, or another FF (fill).
            while i + 1 < data.len() {
                if data[i] == 0xFF && !matches!(data[i + 1], 0x00 | 0xD0..=0xD7 | 0xFF) {
                    break;
                }
                i += 1;
            }
        }
    }
}

/// What follows a PNG's `IEND` chunk (empty when nothing does or the chunks do not lead there).
///
/// Each chunk header it reads faults in the pages around it, so walking the chunks of a large
/// mapped PNG (a chunk every 8 KiB, as libpng writes) would make the whole file resident in a
/// few milliseconds, faster than the periodic release: what it walks past counts as read.
pub(crate) fn png_tail(data: &[u8]) -> &[u8] {
    let mut i = 8;
    while let Some(header) = data.get(i..i + 8) {
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let end = i.saturating_add(12).saturating_add(len);
        if &header[4..8] == b"IEND" {
            return data.get(end..).unwrap_or(&[]);
        }
        crate::mapped::note_read(end.min(data.len()) - i);
        i = end;
    }
    &[]
}

/// Another format's stream in `region`, described, if one is there.
pub(crate) fn hidden_format(region: &[u8]) -> Option<String> {
    if let Some(at) = mpeg_audio(region) {
        return Some(format!("MPEG audio (MP3) frames at byte {at}"));
    }
    let program =
        memchr::memmem::find_iter(region, b"MZ").find(|&at| windows_program(&region[at..]));
    if let Some(at) = program {
        return Some(format!("a Windows program at byte {at}"));
    }
    if let Some(at) = find(region, b"\x7fELF").filter(|at| elf(&region[*at..])) {
        return Some(format!("a Linux program (ELF) at byte {at}"));
    }
    if let Some(at) = find(region, b"PK\x03\x04").filter(|at| zip_entry(&region[*at..])) {
        return Some(format!("a ZIP archive entry at byte {at}"));
    }
    if let Some(at) =
        find(region, b"%PDF-").filter(|at| region.get(at + 5).is_some_and(u8::is_ascii_digit))
    {
        return Some(format!("a PDF document at byte {at}"));
    }
    if region.starts_with(b"#!/") {
        return Some("a script (#!) at its start".to_string());
    }
    const MARKUP: [&[u8]; 7] = [
        b"<html",
        b"<!doctype html",
        b"<script",
        b"<?php",
        b"<body",
        b"<iframe",
        b"<svg",
    ];
    memchr::memchr_iter(b'<', region).find_map(|at| {
        MARKUP
            .iter()
            .find(|marker| {
                region
                    .get(at..at + marker.len())
                    .is_some_and(|w| w.eq_ignore_ascii_case(marker))
            })
            .map(|marker| format!("markup `{}` at byte {at}", String::from_utf8_lossy(marker)))
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

/// Frames in a row needed to call bytes an MPEG audio stream.
const MPEG_FRAMES: usize = 4;

/// The offset of an ID3v2 tag or of [`MPEG_FRAMES`] MPEG audio frames in a row.
fn mpeg_audio(region: &[u8]) -> Option<usize> {
    let end = region.len().saturating_sub(3);
    for at in memchr::memchr2_iter(0xFF, b'I', &region[..end]) {
        let rest = &region[at..];
        if rest.starts_with(b"ID3")
            && rest.len() >= 10
            && (2..=4).contains(&rest[3])
            && rest[6..10].iter().all(|b| *b < 0x80)
        {
            return Some(at);
        }
        if rest[0] != 0xFF || rest[1] & 0xE0 != 0xE0 {
            continue;
        }
        let Some(first) = FrameHeader::read(rest) else {
            continue;
        };
        let mut offset = 0;
        let mut frames = 0;
        while let Some(header) = region.get(at + offset..).and_then(FrameHeader::read) {
            if !header.same_stream(&first) {
                break;
            }
            frames += 1;
            if frames == MPEG_FRAMES {
                return Some(at);
            }
            offset += header.length;
        }
    }
    None
}

/// An MPEG audio frame header (ISO 11172-3, 13818-3 and MPEG 2.5).
struct FrameHeader {
    version: u8,
    layer: u8,
    sample_rate: u32,
    length: usize,
}

impl FrameHeader {
    fn read(bytes: &[u8]) -> Option<FrameHeader> {
        let h = bytes.get(..4)?;
        if h[0] != 0xFF || h[1] & 0xE0 != 0xE0 {
            return None;
        }
        let version = (h[1] >> 3) & 0b11; // 0: 2.5, 2: 2, 3: 1
        let layer = (h[1] >> 1) & 0b11; // 1: III, 2: II, 3: I
        let bitrate_index = usize::from(h[2] >> 4);
        let rate_index = usize::from((h[2] >> 2) & 0b11);
        let padding = usize::from((h[2] >> 1) & 1);
        if version == 1
            || layer == 0
            || bitrate_index == 0
            || bitrate_index == 15
            || rate_index == 3
        {
            return None;
        }
        const RATES: [u32; 3] = [44_100, 48_000, 32_000];
        let sample_rate = match version {
            3 => RATES[rate_index],
            2 => RATES[rate_index] / 2,
            _ => RATES[rate_index] / 4,
        };
        // Kbit/s by bitrate index: MPEG-1 layers III, II and I; MPEG-2 and 2.5 layers II and
        // III, then layer I.
        const V1: [[u32; 15]; 3] = [
            [
                0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
            ],
            [
                0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384,
            ],
            [
                0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448,
            ],
        ];
        const V2: [[u32; 15]; 2] = [
            [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
            [
                0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256,
            ],
        ];
        let kbps = match (version, layer) {
            (3, l) => V1[usize::from(l - 1)][bitrate_index],
            (_, 3) => V2[1][bitrate_index],
            _ => V2[0][bitrate_index],
        };
        let bits_per_second = u64::from(kbps) * 1000;
        let length = if layer == 3 {
            (12 * bits_per_second / u64::from(sample_rate)) as usize * 4 + padding * 4
        } else {
            let per_frame = if layer == 1 && version != 3 { 72 } else { 144 };
            (per_frame * bits_per_second / u64::from(sample_rate)) as usize + padding
        };
        (length >= 4).then_some(FrameHeader {
            version,
            layer,
            sample_rate,
            length,
        })
    }

    fn same_stream(&self, other: &FrameHeader) -> bool {
        (self.version, self.layer, self.sample_rate)
            == (other.version, other.layer, other.sample_rate)
    }
}

/// A DOS header whose `e_lfanew` leads to the `PE\0\0` signature.
fn windows_program(bytes: &[u8]) -> bool {
    let Some(offset) = bytes.get(0x3C..0x40) else {
        return false;
    };
    let pe = u32::from_le_bytes([offset[0], offset[1], offset[2], offset[3]]) as usize;
    pe >= 0x40 && bytes.get(pe..pe + 4) == Some(b"PE\0\0")
}

/// An ELF identification: class 32 or 64 bits, little or big endian, version 1.
fn elf(bytes: &[u8]) -> bool {
    matches!(bytes.get(4..7), Some([1 | 2, 1 | 2, 1]))
}

/// A ZIP local file header with a known version, a method ZIP readers use and a printable
/// file name of its stated length.
fn zip_entry(bytes: &[u8]) -> bool {
    let Some(h) = bytes.get(..30) else {
        return false;
    };
    let version = u16::from_le_bytes([h[4], h[5]]);
    let method = u16::from_le_bytes([h[8], h[9]]);
    let name_len = usize::from(u16::from_le_bytes([h[26], h[27]]));
    let name = bytes.get(30..30 + name_len);
    version <= 63
        && matches!(method, 0 | 8 | 9 | 12 | 14 | 93 | 95 | 98)
        && name_len > 0
        && name.is_some_and(|n| n.iter().all(|b| b.is_ascii_graphic() || *b >= 0x80))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `count` MPEG-1 layer III frames at 128 kbit/s, 44.1 kHz (417 bytes each).
    fn mp3_frames(count: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for _ in 0..count {
            let mut frame = vec![0x55; 417];
            frame[..4].copy_from_slice(&[0xFF, 0xFB, 0x90, 0x00]);
            out.extend(frame);
        }
        out
    }

    fn jpeg(extra_segment: &[u8], tail: &[u8]) -> Vec<u8> {
        let mut out = vec![0xFF, 0xD8];
        out.extend([0xFF, 0xE0]);
        out.extend(
            u16::try_from(extra_segment.len() + 2)
                .unwrap()
                .to_be_bytes(),
        );
        out.extend(extra_segment);
        out.extend([
            0xFF, 0xDA, 0x00, 0x02, 0x12, 0x34, 0xFF, 0x00, 0x56, 0xFF, 0xD9,
        ]);
        out.extend(tail);
        out
    }

    fn hidden_in_jpeg(data: &[u8]) -> Option<String> {
        jpeg_hidden_regions(data)
            .into_iter()
            .find_map(hidden_format)
    }

    #[test]
    fn mp3_frames_after_the_end_or_in_a_segment_are_found() {
        let after = jpeg(b"JFIF\0", &mp3_frames(6));
        assert!(hidden_in_jpeg(&after).is_some_and(|d| d.contains("MPEG audio")));
        let inside = jpeg(&mp3_frames(5), b"");
        assert!(hidden_in_jpeg(&inside).is_some_and(|d| d.contains("MPEG audio")));
        let mut tagged = b"ID3\x04\x00\x00\x00\x00\x01\x00".to_vec();
        tagged.extend(mp3_frames(1));
        assert!(hidden_in_jpeg(&jpeg(b"JFIF\0", &tagged)).is_some());
    }

    #[test]
    fn a_few_frame_like_bytes_are_not_audio() {
        assert_eq!(hidden_in_jpeg(&jpeg(b"JFIF\0", &mp3_frames(2))), None);
        assert_eq!(
            hidden_in_jpeg(&jpeg(b"JFIF\0", &[0xFF, 0xFB, 0x90, 0x00])),
            None
        );
    }

    #[test]
    fn further_jpegs_and_padding_after_the_end_are_not_hidden_files() {
        let second = jpeg(b"JFIF\0", b"");
        let mpo = jpeg(b"JFIF\0", &[&[0u8; 16][..], &second].concat());
        assert_eq!(hidden_in_jpeg(&mpo), None);
        assert!(jpeg_hidden_regions(&mpo).len() == 2);
        // A program after the second image is still found.
        let mut exe = vec![0u8; 0x80];
        exe[..2].copy_from_slice(b"MZ");
        exe[0x3C] = 0x40;
        exe[0x40..0x44].copy_from_slice(b"PE\0\0");
        let hiding = jpeg(b"JFIF\0", &[&second[..], &exe].concat());
        assert!(hidden_in_jpeg(&hiding).is_some_and(|d| d.contains("Windows program")));
    }

    #[test]
    fn programs_archives_documents_and_markup_are_found_by_their_structure() {
        let mut elf_header = b"\x7fELF\x02\x01\x01".to_vec();
        elf_header.resize(64, 0);
        assert!(hidden_format(&elf_header).is_some());
        assert_eq!(hidden_format(b"\x7fELF\x09\x09\x09"), None);
        let mut entry = b"PK\x03\x04\x14\x00\x00\x00\x08\x00".to_vec();
        entry.resize(26, 0);
        entry.extend([5, 0, 0, 0]);
        entry.extend(b"a.php");
        assert!(hidden_format(&entry).is_some());
        assert_eq!(hidden_format(b"PK\x03\x04 random"), None);
        assert!(hidden_format(b"..%PDF-1.7\n").is_some());
        assert!(hidden_format(b"<HTML><body>").is_some());
        assert_eq!(hidden_format(b"\0\0 plain bytes \x01\x02"), None);
    }

    #[test]
    fn what_follows_a_png_end_is_its_tail() {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend([0, 0, 0, 0]);
        png.extend(b"IEND");
        png.extend([0xAE, 0x42, 0x60, 0x82]);
        assert_eq!(png_tail(&png), b"");
        png.extend(b"<?php");
        assert_eq!(png_tail(&png), b"<?php");
    }
}
