//! PNG: `IHDR` (checked by its CRC), the chunks before the image data
//! (EXIF orientation, colour, animation), and an `IEND` chunk after it.

use std::io::{Read, Seek};

use super::{At, Header, MAX_METADATA, check_pixels, crc32, malformed};
use crate::imaging::{ImageKind, ImagingError, exif};

/// Bytes allowed after `IEND` before the chunks are walked to find it.
const TAIL_WINDOW: u64 = 4096;
/// A complete `IEND` chunk: zero length, type, and its (constant) CRC.
const IEND_CHUNK: [u8; 12] = [0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82];
/// Where the first chunk after `IHDR` starts: signature, then 25 bytes of `IHDR`.
const PNG_AFTER_IHDR: u64 = 8 + 25;
/// PNG sizes and chunk lengths are at most 2^31 - 1.
const PNG_MAX_DIMENSION: u32 = 0x7FFF_FFFF;

/// The colour chunks of a PNG, which must come before its image data. An
/// `iCCP` profile wins over `sRGB`, which wins over `gAMA`/`cHRM` (the PNG
/// specification's order, and what browsers do).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct PngColour {
    pub iccp: bool,
    pub srgb: bool,
    /// `gAMA`: the file gamma times 100,000 (45455 is 1/2.2).
    pub gamma: Option<u32>,
    /// `cHRM`: white point, red, green, blue as x, y pairs times 100,000.
    pub chromaticities: Option<[u32; 8]>,
}

pub(super) fn inspect<R: Read + Seek>(
    r: &mut At<R>,
    max_pixels: u64,
) -> Result<Header, ImagingError> {
    r.seek_to(8)?;
    let head: [u8; 8] = r.array()?;
    // 13 bytes of data, then the CRC.
    let ihdr: [u8; 17] = r.array()?;
    if head != [0, 0, 0, 13, b'I', b'H', b'D', b'R'] {
        return Err(malformed("the first PNG chunk is not a valid IHDR"));
    }
    let [
        w0,
        w1,
        w2,
        w3,
        h0,
        h1,
        h2,
        h3,
        depth,
        color,
        compression,
        filter,
        interlace,
        c0,
        c1,
        c2,
        c3,
    ] = ihdr;
    if crc32(&[b"IHDR", &ihdr[..13]]) != u32::from_be_bytes([c0, c1, c2, c3]) {
        return Err(malformed("a corrupt PNG IHDR chunk (CRC mismatch)"));
    }
    let width = u32::from_be_bytes([w0, w1, w2, w3]);
    let height = u32::from_be_bytes([h0, h1, h2, h3]);
    if width == 0 || height == 0 || width > PNG_MAX_DIMENSION || height > PNG_MAX_DIMENSION {
        return Err(malformed("a PNG size out of range"));
    }
    let valid_depth = match color {
        0 => matches!(depth, 1 | 2 | 4 | 8 | 16),
        3 => matches!(depth, 1 | 2 | 4 | 8),
        2 | 4 | 6 => matches!(depth, 8 | 16),
        _ => false,
    };
    if !valid_depth || compression != 0 || filter != 0 || interlace > 1 {
        return Err(malformed("an invalid PNG color type, bit depth or method"));
    }
    check_pixels(width, height, max_pixels)?;

    // Walk the chunks before the image data.
    let mut orientation = None;
    let mut colour = PngColour::default();
    let mut frame_count = 1;
    let first_idat = loop {
        let at = r.position()?;
        let [l0, l1, l2, l3, t0, t1, t2, t3] = r.array()?;
        let length = u32::from_be_bytes([l0, l1, l2, l3]);
        if length > PNG_MAX_DIMENSION {
            return Err(malformed("a PNG chunk length out of range"));
        }
        let small = u64::from(length) <= MAX_METADATA;
        match &[t0, t1, t2, t3] {
            b"IDAT" => break at,
            b"IEND" => return Err(malformed("no PNG image data")),
            b"eXIf" if orientation.is_none() && small => {
                orientation = exif::orientation(&r.vec(u64::from(length))?);
                r.skip(4)?;
            }
            b"acTL" if length == 8 => {
                let [f0, f1, f2, f3, ..] = r.array::<8>()?;
                // An animation of one frame is a still.
                frame_count = u32::from_be_bytes([f0, f1, f2, f3]).max(1);
                r.skip(4)?;
            }
            b"gAMA" if length == 4 => {
                colour.gamma = Some(u32::from_be_bytes(r.array()?)).filter(|&g| g > 0);
                r.skip(4)?;
            }
            b"cHRM" if length == 32 => {
                let data: [u8; 32] = r.array()?;
                let (values, _) = data.as_chunks::<4>();
                let mut chromaticities = [0; 8];
                for (out, v) in chromaticities.iter_mut().zip(values) {
                    *out = u32::from_be_bytes(*v);
                }
                colour.chromaticities = Some(chromaticities);
                r.skip(4)?;
            }
            kind => {
                colour.srgb |= kind == b"sRGB";
                colour.iccp |= kind == b"iCCP";
                r.skip(u64::from(length) + 4)?;
            }
        }
    };
    let tail = r.tail(TAIL_WINDOW + 12, PNG_AFTER_IHDR)?;
    if !tail.windows(IEND_CHUNK.len()).any(|w| w == IEND_CHUNK) {
        find_iend(r, first_idat)?;
    }
    // The decoded buffer (palettes expand to RGBA, 16-bit samples take two
    // bytes), and an 8-bit copy of a 16-bit image.
    let channels: u64 = match color {
        0 => 1,
        2 => 3,
        4 => 2,
        _ => 4,
    };
    let pixels = u64::from(width) * u64::from(height);
    let decode_bytes = if depth == 16 {
        pixels * channels * 3
    } else {
        pixels * channels
    };
    Ok(Header {
        orientation: orientation.unwrap_or(1),
        frame_count,
        png_colour: Some(colour),
        ..Header::still(ImageKind::Png, width, height, decode_bytes)
    })
}

/// Walks the chunks from `from` to `IEND`, for files with data after the
/// image; the end of the file before `IEND` is truncation.
fn find_iend<R: Read + Seek>(r: &mut At<R>, from: u64) -> Result<(), ImagingError> {
    r.seek_to(from)?;
    loop {
        let [l0, l1, l2, l3, t0, t1, t2, t3] = r.array()?;
        let length = u32::from_be_bytes([l0, l1, l2, l3]);
        if length > PNG_MAX_DIMENSION {
            return Err(malformed("a PNG chunk length out of range"));
        }
        if &[t0, t1, t2, t3] == b"IEND" {
            // The chunk is whole only with its CRC.
            let _crc: [u8; 4] = r.array()?;
            return Ok(());
        }
        r.skip(u64::from(length) + 4)?;
    }
}
