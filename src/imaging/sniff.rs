//! Format detection from magic bytes.

use super::{ImageKind, ImagingError};

/// How many leading bytes `sniff` needs to decide.
pub const SNIFF_LEN: usize = 8;

pub(crate) const JPEG_MAGIC: [u8; 3] = [0xFF, 0xD8, 0xFF];
pub(crate) const PNG_MAGIC: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1A, b'\n'];

/// Decides the kind from magic bytes only.
///
/// Pass the first [`SNIFF_LEN`] bytes (or the whole file if shorter). A
/// prefix too short to hold a full signature but matching the start of one
/// is reported as `Truncated`, anything else that matches no signature as
/// `UnsupportedFormat` (SVG, HTML, GIF, WebP, ...).
pub fn sniff(prefix: &[u8]) -> Result<ImageKind, ImagingError> {
    if prefix.is_empty() {
        return Err(ImagingError::Empty);
    }
    for (magic, kind) in [
        (&JPEG_MAGIC[..], ImageKind::Jpeg),
        (&PNG_MAGIC[..], ImageKind::Png),
    ] {
        if prefix.starts_with(magic) {
            return Ok(kind);
        }
        if prefix.len() < magic.len() && magic.starts_with(prefix) {
            return Err(ImagingError::Truncated);
        }
    }
    Err(ImagingError::UnsupportedFormat)
}
