//! Image sniffing, probing, decoding with limits, resizing and encoding.
//!
//! Pure functions: bytes (or a seekable reader) and a spec in, bytes out. No
//! async and no I/O beyond the reader handed in, so jobs can run this inside
//! `spawn_blocking` behind a semaphore. Every input is untrusted: sizes are
//! checked from the header before any pixel buffer exists, and decoders run
//! with allocation limits.

mod colour;
mod exif;
#[cfg(feature = "heif")]
mod heif;
mod libjpeg;
mod probe;
mod raster;
mod sniff;
mod thumbnail;
pub mod webp;

#[cfg(test)]
mod format_tests;
#[cfg(test)]
mod tests;

pub use probe::{probe, probe_bytes};
pub use sniff::{SNIFF_LEN, sniff};
pub use thumbnail::{make_thumbnails, make_thumbnails_and_placeholder};

/// The formats we accept. Decided by magic bytes, never by name or declared type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ImageKind {
    Jpeg,
    Png,
    Webp,
    Gif,
    Bmp,
    Tiff,
    /// HEIC/HEIF (HEVC in an ISO-BMFF container); decoded only with the
    /// cargo feature `heif`.
    Heic,
    /// AVIF (AV1 in an ISO-BMFF container); decoded only with `heif`.
    Avif,
}

impl ImageKind {
    pub fn content_type(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "image/jpeg",
            ImageKind::Png => "image/png",
            ImageKind::Webp => "image/webp",
            ImageKind::Gif => "image/gif",
            ImageKind::Bmp => "image/bmp",
            ImageKind::Tiff => "image/tiff",
            ImageKind::Heic => "image/heic",
            ImageKind::Avif => "image/avif",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "jpg",
            ImageKind::Png => "png",
            ImageKind::Webp => "webp",
            ImageKind::Gif => "gif",
            ImageKind::Bmp => "bmp",
            ImageKind::Tiff => "tif",
            ImageKind::Heic => "heic",
            ImageKind::Avif => "avif",
        }
    }

    /// The format's everyday name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "JPEG",
            ImageKind::Png => "PNG",
            ImageKind::Webp => "WebP",
            ImageKind::Gif => "GIF",
            ImageKind::Bmp => "BMP",
            ImageKind::Tiff => "TIFF",
            ImageKind::Heic => "HEIC",
            ImageKind::Avif => "AVIF",
        }
    }

    /// Whether this build decodes the format (HEIC and AVIF need the cargo
    /// feature `heif`).
    pub fn is_decodable(self) -> bool {
        !matches!(self, ImageKind::Heic | ImageKind::Avif) || cfg!(feature = "heif")
    }

    /// Accepts the common aliases and ignores parameters and case, because
    /// clients send `image/jpg` or `image/PNG; charset=binary` in the wild.
    pub fn from_content_type(s: &str) -> Option<ImageKind> {
        let essence = s.split(';').next().unwrap_or_default().trim();
        const ALIASES: &[(&str, ImageKind)] = &[
            ("image/jpeg", ImageKind::Jpeg),
            ("image/jpg", ImageKind::Jpeg),
            ("image/pjpeg", ImageKind::Jpeg),
            ("image/png", ImageKind::Png),
            ("image/x-png", ImageKind::Png),
            ("image/apng", ImageKind::Png),
            ("image/webp", ImageKind::Webp),
            ("image/gif", ImageKind::Gif),
            ("image/bmp", ImageKind::Bmp),
            ("image/x-bmp", ImageKind::Bmp),
            ("image/x-ms-bmp", ImageKind::Bmp),
            ("image/tiff", ImageKind::Tiff),
            ("image/tif", ImageKind::Tiff),
            ("image/heic", ImageKind::Heic),
            ("image/heif", ImageKind::Heic),
            ("image/heic-sequence", ImageKind::Heic),
            ("image/heif-sequence", ImageKind::Heic),
            ("image/avif", ImageKind::Avif),
        ];
        ALIASES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(essence))
            .map(|&(_, kind)| kind)
    }
}

/// The formats this build accepts, for messages.
pub fn accepted_formats() -> &'static str {
    if cfg!(feature = "heif") {
        "JPEG, PNG, WebP, GIF, BMP, TIFF, HEIC and AVIF"
    } else {
        "JPEG, PNG, WebP, GIF, BMP and TIFF"
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
    /// Frames of an animation (GIF, animated WebP, APNG); 1 for a still.
    /// Thumbnails are made from the first frame.
    pub frame_count: u32,
}

impl ImageInfo {
    pub fn animated(&self) -> bool {
        self.frame_count > 1
    }

    /// The limits that need the server's configuration, checked from the
    /// header before anything is decoded.
    pub fn check(&self, max_decode_bytes: u64, max_frames: u32) -> Result<(), ImagingError> {
        if self.decode_bytes > max_decode_bytes {
            return Err(ImagingError::TooMuchMemory {
                need: self.decode_bytes,
                max: max_decode_bytes,
            });
        }
        if self.frame_count > max_frames {
            return Err(ImagingError::TooManyFrames {
                frames: self.frame_count,
                max: max_frames,
            });
        }
        Ok(())
    }
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
    #[error("not a supported image ({})", accepted_formats())]
    UnsupportedFormat,
    /// A format this build recognises but was built without.
    #[error(
        "{} images are not supported by this server: it was built without the cargo feature `{feature}`",
        .kind.name()
    )]
    NotBuilt {
        kind: ImageKind,
        feature: &'static str,
    },
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
    #[error("the animation has {frames} frames, more than the {max} allowed")]
    TooManyFrames { frames: u32, max: u32 },
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
    /// JPEG or PNG: the original's kind for JPEG and PNG originals;
    /// otherwise JPEG when opaque and PNG when any pixel is transparent.
    pub kind: ImageKind,
    pub bytes: Vec<u8>,
}
