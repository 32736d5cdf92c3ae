//! WebP: the RIFF chunks (never the bitstreams): the canvas size from
//! `VP8X`, `VP8 ` or `VP8L`, the frames of an animation, the EXIF
//! orientation; the RIFF must be as long as it says.

use std::io::{Read, Seek};

use super::{At, Header, MAX_METADATA, check_pixels, malformed};
use crate::imaging::{ImageKind, ImagingError, exif};

const ANIMATION_FLAG: u8 = 0x02;

pub(super) fn inspect<R: Read + Seek>(
    r: &mut At<R>,
    max_pixels: u64,
) -> Result<Header, ImagingError> {
    r.seek_to(4)?;
    let riff_size = u32::from_le_bytes(r.array()?);
    // The size counts from the form type ("WEBP") on.
    let riff_end = 8 + u64::from(riff_size);
    if r.len()? < riff_end {
        return Err(ImagingError::Truncated);
    }
    r.seek_to(12)?;
    let mut canvas = None;
    let mut bitstream = None;
    let mut animated = false;
    let mut frames: u32 = 0;
    let mut orientation = None;
    while r.position()? + 8 <= riff_end {
        let fourcc: [u8; 4] = r.array()?;
        let size = u64::from(u32::from_le_bytes(r.array()?));
        let payload_end = r.position()? + size;
        if payload_end > riff_end {
            return Err(ImagingError::Truncated);
        }
        match &fourcc {
            b"VP8X" if size >= 10 => {
                let [flags, _, _, _, w0, w1, w2, h0, h1, h2] = r.array()?;
                animated = flags & ANIMATION_FLAG != 0;
                let width = u32::from_le_bytes([w0, w1, w2, 0]) + 1;
                let height = u32::from_le_bytes([h0, h1, h2, 0]) + 1;
                canvas = Some((width, height));
            }
            b"VP8 " if size >= 10 => {
                // Frame tag (3 bytes), start code, then 14-bit sizes.
                let [_, _, _, s0, s1, s2, w0, w1, h0, h1] = r.array()?;
                if [s0, s1, s2] != [0x9D, 0x01, 0x2A] {
                    return Err(malformed("a WebP VP8 frame without its start code"));
                }
                let width = u32::from(u16::from_le_bytes([w0, w1]) & 0x3FFF);
                let height = u32::from(u16::from_le_bytes([h0, h1]) & 0x3FFF);
                bitstream.get_or_insert((width, height));
            }
            b"VP8L" if size >= 5 => {
                let [signature, b0, b1, b2, b3] = r.array()?;
                if signature != 0x2F {
                    return Err(malformed("a WebP lossless stream without its signature"));
                }
                let bits = u32::from_le_bytes([b0, b1, b2, b3]);
                let width = (bits & 0x3FFF) + 1;
                let height = ((bits >> 14) & 0x3FFF) + 1;
                bitstream.get_or_insert((width, height));
            }
            b"ANMF" if size >= 16 => {
                let [_, _, _, _, _, _, w0, w1, w2, h0, h1, h2] = r.array()?;
                let width = u32::from_le_bytes([w0, w1, w2, 0]) + 1;
                let height = u32::from_le_bytes([h0, h1, h2, 0]) + 1;
                check_pixels(width, height, max_pixels)?;
                frames = frames.saturating_add(1);
            }
            b"EXIF" if orientation.is_none() && size <= MAX_METADATA => {
                orientation = exif::orientation(&r.vec(size)?);
            }
            _ => {}
        }
        // Chunks are padded to an even size.
        r.seek_to(payload_end + (size & 1))?;
    }
    let (width, height) = canvas
        .or(bitstream)
        .ok_or_else(|| malformed("a WebP without an image"))?;
    if width == 0 || height == 0 {
        return Err(malformed("a WebP of zero size"));
    }
    check_pixels(width, height, max_pixels)?;
    let frame_count = if animated {
        if frames == 0 {
            return Err(malformed("an animated WebP without frames"));
        }
        frames
    } else {
        if bitstream.is_none() {
            return Err(malformed("a WebP without an image"));
        }
        1
    };
    // The decoded RGBA canvas and the frame drawn on it.
    let decode_bytes = u64::from(width) * u64::from(height) * 4 * 2;
    Ok(Header {
        orientation: orientation.unwrap_or(1),
        frame_count,
        ..Header::still(ImageKind::Webp, width, height, decode_bytes)
    })
}
