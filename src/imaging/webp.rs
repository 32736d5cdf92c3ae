//! WebP output for plans that ask for it: a made thumbnail (JPEG or PNG) is
//! re-encoded as lossy WebP (alpha kept). Thumbnails are small, so decoding
//! one again costs little next to making it.

use super::ImagingError;

/// The largest width or height a WebP image can have.
pub const MAX_DIMENSION: u32 = 16_383;

/// Whether an image of this size can be a WebP.
pub fn fits(width: u32, height: u32) -> bool {
    (1..=MAX_DIMENSION).contains(&width) && (1..=MAX_DIMENSION).contains(&height)
}

/// Re-encodes an encoded thumbnail as WebP at `quality` (1..=100); refuses
/// sizes WebP cannot hold (libwebp would panic on them).
pub fn to_webp(thumbnail: &[u8], quality: u8) -> Result<Vec<u8>, ImagingError> {
    let image = image::load_from_memory(thumbnail)
        .map_err(|e| ImagingError::Decode(format!("re-reading the thumbnail: {e}")))?;
    let (width, height) = (image.width(), image.height());
    if !fits(width, height) {
        return Err(ImagingError::Encode(format!(
            "a {width}x{height} thumbnail is larger than WebP allows ({MAX_DIMENSION} px a side)"
        )));
    }
    let quality = f32::from(quality.clamp(1, 100));
    let encoded = if image.color().has_alpha() {
        let rgba = image.to_rgba8();
        webp::Encoder::from_rgba(rgba.as_raw(), width, height).encode(quality)
    } else {
        let rgb = image.to_rgb8();
        webp::Encoder::from_rgb(rgb.as_raw(), width, height).encode(quality)
    };
    if encoded.is_empty() {
        return Err(ImagingError::Encode(
            "the WebP encoder produced nothing".into(),
        ));
    }
    Ok(encoded.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageFormat, RgbaImage};

    #[test]
    fn png_with_alpha_becomes_a_webp_with_alpha() {
        let img = RgbaImage::from_fn(40, 30, |x, y| {
            image::Rgba([x as u8 * 6, y as u8 * 8, 90, if x < 20 { 255 } else { 40 }])
        });
        let mut png = std::io::Cursor::new(Vec::new());
        img.write_to(&mut png, ImageFormat::Png).expect("png");
        let webp = to_webp(png.get_ref(), 80).expect("webp");
        assert_eq!(&webp[..4], b"RIFF");
        assert_eq!(&webp[8..12], b"WEBP");
        assert!(to_webp(b"not an image", 80).is_err());
    }
}
