//! A walk over the blocks of a GIF, before any decoding: the frames' extents.
//!
//! Decision: a frame that reaches beyond the logical screen is refused. Decoders clip it (so
//! it shows nothing more), but they may allocate for the frame's own size first: Pillow's
//! `decompression_bomb_extents.gif` declares a 100×100 screen and frames tens of thousands of
//! pixels wide. Structure the walk does not understand is left to the decoder.

/// A frame that does not fit the screen: its index (from 1) and its rectangle.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Overflow {
    pub frame: usize,
    pub left: u32,
    pub top: u32,
    pub width: u32,
    pub height: u32,
    pub screen: (u32, u32),
}

fn u16_at(data: &[u8], at: usize) -> Option<u32> {
    let b = data.get(at..at + 2)?;
    Some(u32::from(u16::from_le_bytes([b[0], b[1]])))
}

/// Skips data sub-blocks from `at`; returns the position after the terminator.
fn skip_sub_blocks(data: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = usize::from(*data.get(at)?);
        at += 1;
        if len == 0 {
            return Some(at);
        }
        at += len;
    }
}

fn color_table_len(flags: u8) -> usize {
    if flags & 0x80 == 0 {
        0
    } else {
        3 << ((flags & 7) + 1)
    }
}

/// The first frame (of at most `max_frames`) that reaches beyond the screen, if any.
pub(crate) fn frame_overflow(data: &[u8], max_frames: usize) -> Option<Overflow> {
    let screen = (u16_at(data, 6)?, u16_at(data, 8)?);
    let mut at = 13 + color_table_len(*data.get(10)?);
    let mut frame = 0;
    while frame < max_frames {
        match *data.get(at)? {
            0x21 => at = skip_sub_blocks(data, at + 2)?,
            0x2C => {
                frame += 1;
                let (left, top) = (u16_at(data, at + 1)?, u16_at(data, at + 3)?);
                let (width, height) = (u16_at(data, at + 5)?, u16_at(data, at + 7)?);
                if left + width > screen.0 || top + height > screen.1 {
                    return Some(Overflow {
                        frame,
                        left,
                        top,
                        width,
                        height,
                        screen,
                    });
                }
                let flags = *data.get(at + 9)?;
                // Descriptor, local colour table, LZW code size, then the image data.
                at = skip_sub_blocks(data, at + 10 + color_table_len(flags) + 1)?;
            }
            _ => return None, // trailer, or structure left to the decoder
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gif(frame: (u16, u16, u16, u16)) -> Vec<u8> {
        let mut d = b"GIF89a".to_vec();
        d.extend_from_slice(&[100, 0, 100, 0, 0, 0, 0]);
        d.push(0x2C);
        for v in [frame.0, frame.1, frame.2, frame.3] {
            d.extend_from_slice(&v.to_le_bytes());
        }
        d.extend_from_slice(&[0, 2, 2, 0x4C, 0x01, 0, 0x3B]);
        d
    }

    #[test]
    fn frames_beyond_the_screen_are_found() {
        assert_eq!(frame_overflow(&gif((0, 0, 100, 100)), 8), None);
        let over = frame_overflow(&gif((10, 0, 30000, 100)), 8).expect("overflow");
        assert_eq!(
            (over.frame, over.width, over.screen),
            (1, 30000, (100, 100))
        );
    }
}
