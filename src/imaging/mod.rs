//! Image sniffing, probing, decoding with limits, resizing and encoding.
//!
//! Pure functions: bytes (or a seekable reader) and a spec in, bytes out. No
//! async and no I/O beyond the reader handed in, so jobs can run this inside
//! `spawn_blocking` behind a semaphore. Every input is untrusted: sizes are
//! checked from the header before any pixel buffer exists, and decoders run
//! with allocation limits.

mod exif;
#[cfg(feature = "heif")]
pub(crate) mod heif;
mod probe;
mod raster;
mod sniff;
mod thumbnail;
pub mod webp;

#[cfg(test)]
mod tests;

pub use probe::{decode_bytes, probe};
pub use sniff::{SNIFF_LEN, sniff};
pub use thumbnail::make_thumbnails;

/// The formats we accept. Decided by magic bytes, never by name or declared type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ImageKind {
    Jpeg,
    Png,
}

impl ImageKind {
    pub fn content_type(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "image/jpeg",
            ImageKind::Png => "image/png",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "jpg",
            ImageKind::Png => "png",
        }
    }

    /// Accepts the common aliases and ignores parameters and case, because
    /// clients send `image/jpg` or `image/PNG; charset=binary` in the wild.
    pub fn from_content_type(s: &str) -> Option<ImageKind> {
        let essence = s.split(';').next().unwrap_or_default().trim();
        const JPEG: [&str; 3] = ["image/jpeg", "image/jpg", "image/pjpeg"];
        const PNG: [&str; 2] = ["image/png", "image/x-png"];
        if JPEG.iter().any(|t| t.eq_ignore_ascii_case(essence)) {
            Some(ImageKind::Jpeg)
        } else if PNG.iter().any(|t| t.eq_ignore_ascii_case(essence)) {
            Some(ImageKind::Png)
        } else {
            None
        }
    }
}

/// What `probe` learned from the header.
///
/// `width` and `height` are the size as displayed, i.e. after the EXIF
/// orientation is applied (a portrait photo stored sideways with orientation
/// 6 reports its portrait size), so they agree with the thumbnails' aspect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageInfo {
    pub kind: ImageKind,
    pub width: u32,
    pub height: u32,
    /// An upper bound of the memory that decoding takes, from the header:
    /// what a job reserves from the process's decode budget, and what
    /// `MAX_DECODE_BYTES` refuses (a small file can decode to gigabytes).
    pub decode_bytes: u64,
}

/// Why an image was refused or could not be processed.
///
/// `Empty`, `UnsupportedFormat`, `Malformed`, `Truncated`, `TooManyPixels`
/// and `Unsupported` are the uploader's problem and permanent; `Decode` and
/// `Encode` come from the codecs (corrupt pixel data, or an I/O failure of
/// the reader handed to `probe`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImagingError {
    #[error("the file is empty")]
    Empty,
    #[error("not a JPEG or PNG image")]
    UnsupportedFormat,
    #[error("malformed image: {0}")]
    Malformed(String),
    #[error("the image file is truncated")]
    Truncated,
    #[error("the image has {width}x{height} pixels, more than the {max} allowed")]
    TooManyPixels { width: u32, height: u32, max: u64 },
    #[error(
        "decoding the image would take {} MiB of memory, more than the {} MiB allowed",
        .need >> 20,
        .max >> 20
    )]
    TooMuchMemory { need: u64, max: u64 },
    #[error("unsupported image: {0}")]
    Unsupported(String),
    #[error("decoding the image failed: {0}")]
    Decode(String),
    #[error("encoding the thumbnail failed: {0}")]
    Encode(String),
}

/// How to make thumbnails; built from the user's plan and the server config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThumbnailSpec {
    /// Target heights in pixels, each at least 1.
    pub heights: Vec<u32>,
    /// JPEG quality 1..=100 (values outside are clamped).
    pub jpeg_quality: u8,
    /// Originals with more pixels than this are refused before decoding.
    pub max_pixels: u64,
}

/// One encoded thumbnail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Thumbnail {
    /// The requested height: the key the thumbnail is stored under.
    pub height: u32,
    pub width: u32,
    /// Equals `height` unless the original is smaller (we never upscale).
    pub actual_height: u32,
    /// Always the kind of the original.
    pub kind: ImageKind,
    pub bytes: Vec<u8>,
}
