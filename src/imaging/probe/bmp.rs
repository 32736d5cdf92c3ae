//! BMP: the file and DIB headers, and pixel data as long as the size,
//! depth and compression say.

use std::io::{Read, Seek};

use super::{At, Header, check_pixels, malformed};
use crate::imaging::{ImageKind, ImagingError};

const BI_RGB: u32 = 0;
const BI_RLE8: u32 = 1;
const BI_RLE4: u32 = 2;
const BI_BITFIELDS: u32 = 3;
const BI_ALPHABITFIELDS: u32 = 6;

pub(super) fn inspect<R: Read + Seek>(
    r: &mut At<R>,
    max_pixels: u64,
) -> Result<Header, ImagingError> {
    r.seek_to(10)?;
    let data_offset = u64::from(u32::from_le_bytes(r.array()?));
    let dib_size = u32::from_le_bytes(r.array()?);
    let (width, height, bits, compression, image_size) = match dib_size {
        // OS/2 BITMAPCOREHEADER: 16-bit sizes, no compression.
        12 => {
            let [w0, w1, h0, h1, _, _, b0, b1] = r.array()?;
            (
                i64::from(u16::from_le_bytes([w0, w1])),
                i64::from(u16::from_le_bytes([h0, h1])),
                u16::from_le_bytes([b0, b1]),
                BI_RGB,
                0,
            )
        }
        40 | 52 | 56 | 64 | 108 | 124 => {
            let width = i32::from_le_bytes(r.array()?);
            let height = i32::from_le_bytes(r.array()?);
            let [_, _, b0, b1] = r.array()?;
            let compression = u32::from_le_bytes(r.array()?);
            let image_size = u32::from_le_bytes(r.array()?);
            (
                i64::from(width),
                i64::from(height),
                u16::from_le_bytes([b0, b1]),
                compression,
                image_size,
            )
        }
        _ => return Err(malformed("an unknown BMP header")),
    };
    // A negative height means the rows are stored top-down.
    let to_u32 = |v: i64| u32::try_from(v.unsigned_abs()).ok().filter(|&v| v > 0);
    let (Some(w), Some(h)) = (to_u32(width), to_u32(height)) else {
        return Err(malformed("a BMP size out of range"));
    };
    if width < 0 {
        return Err(malformed("a BMP of negative width"));
    }
    check_pixels(w, h, max_pixels)?;
    if !matches!(bits, 1 | 4 | 8 | 16 | 24 | 32) {
        return Err(malformed("a BMP bit depth out of range"));
    }
    let expected = match compression {
        BI_RGB | BI_BITFIELDS | BI_ALPHABITFIELDS => {
            let stride = (u64::from(bits) * u64::from(w)).div_ceil(32) * 4;
            Some(stride * u64::from(h))
        }
        // The size of run-length data is in the header (0: unknown; then
        // decoding decides).
        BI_RLE8 | BI_RLE4 => Some(u64::from(image_size)),
        other => {
            return Err(ImagingError::Unsupported(format!(
                "BMP compression {other} (embedded JPEG or PNG)"
            )));
        }
    };
    if let Some(expected) = expected
        && r.len()? < data_offset.saturating_add(expected)
    {
        return Err(ImagingError::Truncated);
    }
    // The decoder's RGBA output, and the conversion to our layout.
    let decode_bytes = u64::from(w) * u64::from(h) * 4 * 2;
    Ok(Header::still(ImageKind::Bmp, w, h, decode_bytes))
}
