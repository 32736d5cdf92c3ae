//! GIF: the logical screen, then every block up to the trailer, counting
//! the frames. Sub-blocks are skipped, never decompressed.

use std::io::{Read, Seek};

use super::{At, Header, check_pixels, malformed};
use crate::imaging::{ImageKind, ImagingError};

pub(super) fn inspect<R: Read + Seek>(
    r: &mut At<R>,
    max_pixels: u64,
) -> Result<Header, ImagingError> {
    r.seek_to(6)?;
    let [w0, w1, h0, h1, flags, _background, _aspect] = r.array()?;
    let width = u32::from(u16::from_le_bytes([w0, w1]));
    let height = u32::from(u16::from_le_bytes([h0, h1]));
    if width == 0 || height == 0 {
        return Err(malformed("a GIF screen of zero size"));
    }
    check_pixels(width, height, max_pixels)?;
    skip_colour_table(r, flags)?;
    let mut frames: u32 = 0;
    loop {
        match r.byte()? {
            // Image descriptor: position, size, flags; a local colour
            // table; the LZW code size; the data sub-blocks.
            0x2C => {
                let [_, _, _, _, fw0, fw1, fh0, fh1, flags] = r.array()?;
                let frame_width = u32::from(u16::from_le_bytes([fw0, fw1]));
                let frame_height = u32::from(u16::from_le_bytes([fh0, fh1]));
                check_pixels(frame_width, frame_height, max_pixels)?;
                skip_colour_table(r, flags)?;
                let _lzw_code_size = r.byte()?;
                skip_sub_blocks(r)?;
                frames = frames.saturating_add(1);
            }
            // Extension: label, then sub-blocks.
            0x21 => {
                let _label = r.byte()?;
                skip_sub_blocks(r)?;
            }
            0x3B => break,
            _ => return Err(malformed("an unknown GIF block")),
        }
    }
    if frames == 0 {
        return Err(malformed("a GIF without an image"));
    }
    // The canvas the frames are drawn on, the frame being decoded, and the
    // RGBA image handed on.
    let decode_bytes = u64::from(width) * u64::from(height) * 4 * 3;
    Ok(Header {
        frame_count: frames,
        ..Header::still(ImageKind::Gif, width, height, decode_bytes)
    })
}

fn skip_colour_table<R: Read + Seek>(r: &mut At<R>, flags: u8) -> Result<(), ImagingError> {
    if flags & 0x80 != 0 {
        r.skip(3 << ((flags & 0x07) + 1))?;
    }
    Ok(())
}

fn skip_sub_blocks<R: Read + Seek>(r: &mut At<R>) -> Result<(), ImagingError> {
    loop {
        let len = r.byte()?;
        if len == 0 {
            return Ok(());
        }
        r.skip(len.into())?;
    }
}
