//! JPEG: the segments up to the first scan (frame header, EXIF), and the
//! end-of-image marker somewhere after it.

use std::io::{Read, Seek};

use super::{At, Header, MAX_METADATA, check_pixels, malformed};
use crate::imaging::{ImageKind, ImagingError, exif};

/// Where the end marker usually is: within the last bytes of the file
/// (some tools append padding). Only when it is not there is the file
/// searched from the first scan on (a motion photo's video follows it).
const TAIL_WINDOW: u64 = 4096;

pub(super) fn inspect<R: Read + Seek>(
    r: &mut At<R>,
    max_pixels: u64,
) -> Result<Header, ImagingError> {
    r.seek_to(2)?;
    let mut frame = None;
    let mut orientation = None;
    let mut exif_seen = false;
    let scan_start = loop {
        let marker = next_marker(r)?;
        match marker {
            0xD8 => return Err(malformed("a second JPEG start-of-image marker")),
            0xD9 => return Err(malformed("the JPEG ends before its first scan")),
            // Standalone markers carry no length.
            0x01 | 0xD0..=0xD7 => continue,
            _ => {}
        }
        let length = u16::from_be_bytes(r.array()?);
        let payload = length
            .checked_sub(2)
            .ok_or_else(|| malformed("a JPEG segment length below 2"))?;
        match marker {
            0xDA => {
                if frame.is_none() {
                    return Err(malformed("a JPEG scan before the frame header"));
                }
                r.skip(payload.into())?;
                break r.position()?;
            }
            // SOFn; C4 (DHT), C8 (JPG) and CC (DAC) share the range.
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                if frame.is_some() {
                    return Err(malformed("more than one JPEG frame header"));
                }
                let sof = r.vec(payload.into())?;
                let (width, height) = parse_sof(marker, &sof, max_pixels)?;
                let components = sof.get(5).copied().unwrap_or(3);
                let progressive = matches!(marker, 0xC2 | 0xC6 | 0xCA | 0xCE);
                frame = Some((width, height, components, progressive));
            }
            0xE1 if !exif_seen && u64::from(payload) <= MAX_METADATA => {
                let app1 = r.vec(payload.into())?;
                if app1.starts_with(b"Exif\0\0") {
                    exif_seen = true;
                    orientation = exif::orientation(&app1);
                }
            }
            _ => r.skip(payload.into())?,
        }
    };
    let (width, height, components, progressive) =
        frame.ok_or_else(|| malformed("no JPEG frame header"))?;
    // Entropy-coded data cannot contain FF D9 (FF is stuffed as FF 00), so
    // the first FF D9 after the scan start is the end-of-image marker;
    // whatever follows it (a motion photo's video) is not the image's.
    const EOI: [u8; 2] = [0xFF, 0xD9];
    let tail = r.tail(TAIL_WINDOW, scan_start)?;
    if !tail.windows(2).any(|w| w == EOI) && !r.find_after(scan_start, &EOI)? {
        return Err(ImagingError::Truncated);
    }
    // One plane per component and the interleaved output; a progressive
    // JPEG keeps every coefficient (two bytes each) until its last scan.
    // An upper bound: DCT scaling usually decodes far less.
    let pixels = u64::from(width) * u64::from(height);
    let planes = pixels * u64::from(components.max(1));
    let decode_bytes = planes * 2 + if progressive { planes * 2 } else { 0 };
    Ok(Header {
        orientation: orientation.unwrap_or(1),
        ..Header::still(ImageKind::Jpeg, width, height, decode_bytes)
    })
}

/// Checks a frame header (SOFn payload) and returns its size.
fn parse_sof(marker: u8, sof: &[u8], max_pixels: u64) -> Result<(u32, u32), ImagingError> {
    let [precision, h1, h0, w1, w0, components, ..] = *sof else {
        return Err(malformed("a JPEG frame header too short"));
    };
    if sof.len() != 6 + 3 * usize::from(components) {
        return Err(malformed(
            "a JPEG frame header length not matching its components",
        ));
    }
    let height = u32::from(u16::from_be_bytes([h1, h0]));
    let width = u32::from(u16::from_be_bytes([w1, w0]));
    if width == 0 {
        return Err(malformed("a JPEG frame width of 0"));
    }
    if height == 0 {
        return Err(ImagingError::Unsupported(
            "JPEG whose height is given by a DNL marker".into(),
        ));
    }
    check_pixels(width, height, max_pixels)?;
    match marker {
        0xC0..=0xC2 => {}
        0xC3 => return Err(ImagingError::Unsupported("lossless JPEG".into())),
        0xC9..=0xCB => return Err(ImagingError::Unsupported("arithmetic-coded JPEG".into())),
        _ => return Err(ImagingError::Unsupported("hierarchical JPEG".into())),
    }
    if precision != 8 {
        return Err(ImagingError::Unsupported(format!(
            "{precision}-bit JPEG (only 8-bit is supported)"
        )));
    }
    if !matches!(components, 1 | 3 | 4) {
        return Err(ImagingError::Unsupported(format!(
            "JPEG with {components} color components"
        )));
    }
    Ok((width, height))
}

/// Finds the next marker code, skipping fill bytes and, like libjpeg, any
/// stray bytes between segments.
fn next_marker<R: Read + Seek>(r: &mut At<R>) -> Result<u8, ImagingError> {
    loop {
        let byte = r.byte()?;
        if byte != 0xFF {
            continue;
        }
        let mut code = 0xFF;
        while code == 0xFF {
            code = r.byte()?;
        }
        if code != 0 {
            return Ok(code);
        }
    }
}
