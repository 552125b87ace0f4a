//! A walk over the marker segments of a JPEG, up to the first scan, before any decoding.
//!
//! It tells what the decoder cannot: whether the coding is one `image` does not decode
//! (12-bit precision, arithmetic or lossless coding, which are valid JPEG and must not be called
//! corrupt), and whether the header is malformed in ways decoders silently skip (a stray
//! `FF 00` where a marker belongs, EXIF or MPF blocks without a valid TIFF header, several
//! EXIF blocks) — the usual hiding places of payloads.

/// What the header walk found.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct JpegHeader {
    /// Why `image` cannot decode this (valid) coding, if so.
    pub unsupported: Option<String>,
    /// A malformation of the header, if any.
    pub malformed: Option<String>,
    /// The file ends inside the header.
    pub truncated: Option<String>,
    /// Width and height from the frame header (SOF), when one comes before the first scan.
    pub frame: Option<(u16, u16)>,
    /// The frame is progressive (SOF2): its scans refine the coefficients of the whole
    /// picture in turn, so a decoder holds them all until the last scan.
    pub progressive: bool,
    /// The memory of the frame's DCT coefficients, all components, in bytes (two bytes a
    /// coefficient, blocks padded to whole MCUs): what a decoder holds for a progressive frame.
    pub coefficient_bytes: Option<u64>,
    /// Where the entropy-coded data of the first scan starts (just after its header).
    pub first_scan: Option<usize>,
}

/// The bytes of the DCT coefficients of a frame whose SOF body is `body`, padded to MCUs.
fn coefficient_bytes(body: &[u8]) -> Option<u64> {
    let height = u64::from(u16::from_be_bytes([*body.get(1)?, *body.get(2)?]));
    let width = u64::from(u16::from_be_bytes([*body.get(3)?, *body.get(4)?]));
    let count = usize::from(*body.get(5)?);
    let sampling: Vec<(u64, u64)> = body
        .get(6..6 + 3 * count)?
        .chunks_exact(3)
        .map(|c| (u64::from(c[1] >> 4).max(1), u64::from(c[1] & 15).max(1)))
        .collect();
    let h_max = sampling.iter().map(|s| s.0).max()?;
    let v_max = sampling.iter().map(|s| s.1).max()?;
    let (mcus_x, mcus_y) = (width.div_ceil(8 * h_max), height.div_ceil(8 * v_max));
    let blocks: u64 = sampling.iter().map(|(h, v)| mcus_x * h * mcus_y * v).sum();
    Some(blocks * 64 * 2)
}

/// A TIFF header (as EXIF and MPF blocks start with) is `II*\0` or `MM\0*`.
pub(crate) fn valid_tiff_header(bytes: &[u8]) -> bool {
    bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*")
}

pub(crate) fn walk(data: &[u8]) -> JpegHeader {
    let mut out = JpegHeader::default();
    let mut exif_blocks = 0;
    let mut i = 2; // after SOI
    loop {
        if i + 1 >= data.len() {
            out.truncated = Some(format!("the header stops at byte {i}"));
            return out;
        }
        if data[i] != 0xFF {
            out.malformed = Some(format!(
                "byte {i}: {:#04x} where a marker was expected",
                data[i]
            ));
            return out;
        }
        let marker = data[i + 1];
        match marker {
            0xFF => {
                i += 1; // fill byte
                continue;
            }
            0x00 => {
                out.malformed = Some(format!("byte {i}: FF 00 where a marker was expected"));
                return out;
            }
            0x01 | 0xD0..=0xD7 => {
                i += 2;
                continue;
            }
            0xD8 | 0xD9 => {
                out.malformed = Some(format!(
                    "byte {i}: marker {marker:#04x} before the first scan"
                ));
                return out;
            }
            _ => {}
        }
        if i + 4 > data.len() {
            out.truncated = Some(format!("the header stops at byte {i}"));
            return out;
        }
        let len = u16::from_be_bytes([data[i + 2], data[i + 3]]) as usize;
        if len < 2 {
            out.malformed = Some(format!("byte {i}: segment length {len}"));
            return out;
        }
        let body_start = i + 4;
        let body_end = i + 2 + len;
        if body_end > data.len() {
            out.truncated = Some(format!(
                "segment {marker:#04x} at byte {i} runs past the end"
            ));
            return out;
        }
        let body = &data[body_start..body_end];
        if matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) && body.len() >= 5
        {
            let height = u16::from_be_bytes([body[1], body[2]]);
            let width = u16::from_be_bytes([body[3], body[4]]);
            out.frame = Some((width, height));
            out.progressive = matches!(marker, 0xC2 | 0xC6 | 0xCA | 0xCE);
            out.coefficient_bytes = coefficient_bytes(body);
        }
        match marker {
            0xE1 if body.starts_with(b"Exif\0") => {
                exif_blocks += 1;
                let tiff = body.get(6..).unwrap_or(&[]);
                if !valid_tiff_header(tiff) {
                    out.malformed =
                        Some(format!("byte {i}: EXIF block without a valid TIFF header"));
                    return out;
                }
                if exif_blocks > 1 {
                    out.malformed = Some(format!("byte {i}: a second EXIF block"));
                    return out;
                }
            }
            0xE2 if body.starts_with(b"MPF\0") && !valid_tiff_header(&body[4..]) => {
                out.malformed = Some(format!("byte {i}: MPF block without a valid TIFF header"));
                return out;
            }
            0xC1 | 0xC0 if body.first().is_some_and(|&p| p != 8) => {
                out.unsupported = Some(format!("{}-bit precision JPEG", body[0]));
            }
            0xC3 | 0xC7 | 0xCB | 0xCF => {
                out.unsupported = Some("lossless JPEG".to_string());
            }
            0xC9..=0xCB | 0xCD..=0xCF => {
                out.unsupported = Some("arithmetic-coded JPEG".to_string());
            }
            0xC2 | 0xC6 if body.first().is_some_and(|&p| p != 8) => {
                out.unsupported = Some(format!("{}-bit precision progressive JPEG", body[0]));
            }
            0xDA => {
                // The scan ends at an end-of-image marker: entropy-coded data escapes every
                // 0xFF (FF 00, or a restart marker), so FF D9 after the scan header cannot be
                // image data. Multi-picture files (MPO, Ultra HDR) end their first picture
                // with it too, before the next one.
                // A file that stops right after the scan header (Pillow's Ultra HDR fixture,
                // cut to its metadata) is left to the decoder.
                // Searched in windows, so that a large mapped file's pages are released.
                out.first_scan = Some(body_end);
                let scan = &data[body_end..];
                let end = crate::mapped::scan_windows(scan, 1, |window, offset| {
                    crate::detect::find(window, &[0xFF, 0xD9]).map(|at| offset + at)
                });
                if !scan.is_empty() && end.is_none() {
                    out.truncated = Some("no end-of-image marker after the first scan".into());
                }
                break;
            }
            _ => {}
        }
        i = body_end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(marker: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![0xFF, marker];
        out.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    fn jpeg(segments: &[Vec<u8>]) -> Vec<u8> {
        let mut out = vec![0xFF, 0xD8];
        for s in segments {
            out.extend_from_slice(s);
        }
        out.extend_from_slice(&segment(0xDA, &[1, 1, 0, 0, 63, 0]));
        out.extend_from_slice(&[0x12, 0x34, 0xFF, 0xD9]);
        out
    }

    #[test]
    fn a_plain_header_passes() {
        let data = jpeg(&[
            segment(0xE0, b"JFIF\0\x01\x01"),
            segment(0xC0, &[8, 0, 10, 0, 10, 1]),
        ]);
        assert_eq!(
            walk(&data),
            JpegHeader {
                frame: Some((10, 10)),
                first_scan: Some(data.len() - 4),
                ..JpegHeader::default()
            }
        );
        let wide = jpeg(&[segment(0xC2, &[8, 0, 7, 1, 2, 3])]);
        assert_eq!(walk(&wide).frame, Some((258, 7)));
        assert!(walk(&wide).progressive);
    }

    #[test]
    fn coefficients_are_counted_in_whole_mcus() {
        // 100x50, Y sampled 2x2, Cb and Cr 1x1: MCUs of 16x16, 7 across and 4 down.
        let colour = [8, 0, 50, 0, 100, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1];
        let blocks = 7 * 4 * (4 + 1 + 1);
        assert_eq!(coefficient_bytes(&colour), Some(blocks * 64 * 2));
        let header = walk(&jpeg(&[segment(0xC0, &colour)]));
        assert_eq!(header.coefficient_bytes, Some(blocks * 64 * 2));
        assert!(!header.progressive);
    }

    #[test]
    fn valid_but_undecodable_codings_are_named() {
        let twelve = jpeg(&[segment(0xC1, &[12, 0, 10, 0, 10, 1])]);
        assert!(
            walk(&twelve)
                .unsupported
                .is_some_and(|u| u.contains("12-bit"))
        );
        let arith = jpeg(&[segment(0xC9, &[8, 0, 10, 0, 10, 1])]);
        assert!(
            walk(&arith)
                .unsupported
                .is_some_and(|u| u.contains("arithmetic"))
        );
    }

    #[test]
    fn malformed_headers_are_caught() {
        let bad_exif = jpeg(&[segment(0xE1, b"Exif\0\0\xff\xff\xff\xff")]);
        assert!(walk(&bad_exif).malformed.is_some());
        let two = jpeg(&[
            segment(0xE1, b"Exif\0\0MM\0*"),
            segment(0xE1, b"Exif\0\0MM\0*"),
        ]);
        assert!(walk(&two).malformed.is_some());
        let mut stuffed = jpeg(&[]);
        stuffed.splice(2..2, [0xFF, 0x00, 0x00, 0x02]);
        assert!(walk(&stuffed).malformed.is_some());
        let whole = jpeg(&[]);
        assert!(walk(&whole[..whole.len() - 2]).truncated.is_some());
        let cut = jpeg(&[segment(0xE0, b"JFIF\0\x01\x01")]);
        assert!(walk(&cut[..8]).truncated.is_some());
    }
}
