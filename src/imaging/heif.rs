//! HEIC/HEIF and AVIF through libheif (cargo feature `heif`).
//!
//! Bound to the system libheif (Debian bookworm: 1.15.1, which has libde265
//! for HEVC and dav1d and libaom for AV1 built in) through the raw
//! `libheif-sys` 1.14.2 bindings, a prefix of the 1.15 ABI. The safe
//! `libheif-rs` is not used: its releases that build against 1.15 (0.19,
//! 0.20) keep the context pointer private, so the size limit below cannot
//! be set, and 0.20 frees the decoding options before decoding with them.
//!
//! Limits: reading the container allocates no pixels, and the declared size
//! is checked against `max_pixels` before anything is decoded. libheif 1.15
//! takes a grid's or overlay's canvas from the grid data, not from the
//! checked `ispe`, and bounds it per side only (32768), so before decoding
//! the context's limit is lowered to the larger declared side: a lying grid
//! then gets at most that side squared instead of 32768². What an HEVC or
//! AV1 stream itself declares is up to the decoder; the decoded size is
//! checked against the header afterwards. A file whose top-level boxes run
//! past its end is refused as truncated before libheif reads it.
//!
//! libheif is called only from `libheif.rs`: the unsafe code is there.
//!
//! Colour: an ICC profile is returned as is. Files with only an nclx profile
//! report its primaries when they are not BT.709 (see
//! [`Decoded::nclx_primaries`]); everything else is treated as sRGB.

mod libheif;

use std::panic::{AssertUnwindSafe, catch_unwind};

use libheif_sys as lh;

use self::libheif::{Context, Failure, Handle, have_decoder};
use super::ImagingError;
use super::raster::{Layout, Raster};

/// What the container says about the primary image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HeifHeader {
    /// Size as displayed: after the file's own transformations (irot/imir),
    /// which libheif applies when decoding.
    pub width: u32,
    pub height: u32,
    pub has_alpha: bool,
    /// Upper bound of memory decoding takes (decoded planes + interleaved
    /// output), bytes.
    pub decode_bytes: u64,
}

/// The primary image as 8-bit RGB or RGBA, transformations applied.
#[derive(Clone, Debug)]
pub(crate) struct Decoded {
    pub raster: Raster,
    /// The primary image's ICC profile if any (raw ICC bytes), else None.
    pub icc: Option<Vec<u8>>,
    /// ITU-T H.273 colour primaries of a file that has an nclx profile and
    /// no ICC profile, when they are neither BT.709/sRGB (1) nor unspecified
    /// (2): 9 is BT.2020, 12 is Display P3 (SMPTE EG 432-1). The pixels are
    /// in those primaries; None means sRGB.
    pub nclx_primaries: Option<u16>,
}

/// Reads the container only (no pixel decoding) and refuses what `decode`
/// would refuse before decoding: too many pixels, a malformed or truncated
/// container, a codec this libheif cannot decode.
pub(crate) fn inspect(data: &[u8], max_pixels: u64) -> Result<HeifHeader, ImagingError> {
    guarded(|| {
        let context = open(data, max_pixels)?;
        let handle = context
            .primary_image()
            .map_err(|e| e.in_container(max_pixels))?;
        Ok(check(data, &handle, max_pixels)?.header)
    })?
}

/// Decodes the primary image to 8-bit RGB or RGBA (interleaved),
/// transformations applied, after the checks of [`inspect`]. A 10/12-bit
/// image is reduced to 8 bits.
pub(crate) fn decode(data: &[u8], max_pixels: u64) -> Result<Decoded, ImagingError> {
    guarded(|| {
        let context = open(data, max_pixels)?;
        let handle = context
            .primary_image()
            .map_err(|e| e.in_container(max_pixels))?;
        let checked = check(data, &handle, max_pixels)?;
        context.limit_side(checked.canvas_side);
        let icc = handle.icc_profile();
        let nclx_primaries = match icc {
            Some(_) => None,
            None => handle.nclx_primaries().filter(|p| !matches!(p, 1 | 2)),
        };
        let layout = if checked.header.has_alpha {
            Layout::Rgba
        } else {
            Layout::Rgb
        };
        let image = handle.decode(layout).map_err(Failure::in_decoding)?;
        let (width, height, pixels) = image.interleaved(4 - usize::from(layout == Layout::Rgb))?;
        if (width, height) != (checked.header.width, checked.header.height) {
            return Err(ImagingError::Decode(format!(
                "decoded {width}x{height} pixels, the container declares {}x{}",
                checked.header.width, checked.header.height
            )));
        }
        Ok(Decoded {
            raster: Raster::new(width, height, layout, pixels)?,
            icc,
            nclx_primaries,
        })
    })?
}

fn open(data: &[u8], max_pixels: u64) -> Result<Context<'_>, ImagingError> {
    if data.is_empty() {
        return Err(ImagingError::Empty);
    }
    if box_overruns(data) {
        return Err(ImagingError::Truncated);
    }
    Context::read(data).map_err(|e| e.in_container(max_pixels))
}

/// The header, and the larger side of the canvas libheif decodes into
/// (before cropping and rotation).
struct Checked {
    header: HeifHeader,
    canvas_side: u32,
}

fn check(data: &[u8], handle: &Handle<'_, '_>, max_pixels: u64) -> Result<Checked, ImagingError> {
    let (width, height) = handle.size();
    if width == 0 || height == 0 {
        return Err(ImagingError::Malformed("the image has no size".into()));
    }
    check_pixels(width, height, max_pixels)?;
    // What libheif allocates is the coded size ('ispe'), before a crop
    // ('clap') and rotation; the displayed size where there is no ispe.
    let (canvas_width, canvas_height) = match handle.ispe_size() {
        (0, _) | (_, 0) => (width, height),
        ispe => ispe,
    };
    check_pixels(canvas_width, canvas_height, max_pixels)?;
    check_codec(data, handle)?;
    let has_alpha = handle.has_alpha();
    Ok(Checked {
        header: HeifHeader {
            width,
            height,
            has_alpha,
            decode_bytes: decode_bytes(canvas_width, canvas_height, handle.luma_bits(), has_alpha),
        },
        canvas_side: canvas_width.max(canvas_height),
    })
}

fn check_pixels(width: u32, height: u32, max: u64) -> Result<(), ImagingError> {
    if u64::from(width) * u64::from(height) > max {
        return Err(ImagingError::TooManyPixels { width, height, max });
    }
    Ok(())
}

/// libheif 1.15 decodes HEVC ('hvc1') and AV1 ('av01') items, and grids of
/// them; it knows the bit depth of exactly those. Which of the two a file
/// uses is only said by its brands, which is enough to name the decoder
/// that is missing (a build of libheif without one; plugins in 1.16+).
fn check_codec(data: &[u8], handle: &Handle<'_, '_>) -> Result<(), ImagingError> {
    if handle.luma_bits() < 0 {
        return Err(ImagingError::Unsupported(
            "a HEIF image coded with neither HEVC nor AV1".into(),
        ));
    }
    const CODECS: [(&str, lh::heif_compression_format, &[&[u8; 4]]); 2] = [
        (
            "HEVC (HEIC)",
            lh::heif_compression_format_heif_compression_HEVC,
            &[b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"],
        ),
        (
            "AV1 (AVIF)",
            lh::heif_compression_format_heif_compression_AV1,
            &[b"avif", b"avis"],
        ),
    ];
    let brands = brands(data);
    for (codec, format, codec_brands) in CODECS {
        if codec_brands.iter().any(|b| brands.contains(b)) && !have_decoder(format) {
            return Err(ImagingError::Unsupported(format!(
                "{codec}: this server's libheif has no {codec} decoder"
            )));
        }
    }
    Ok(())
}

/// The major and compatible brands of the leading 'ftyp' box.
fn brands(data: &[u8]) -> Vec<&[u8; 4]> {
    let Some(header) = data.get(..8) else {
        return Vec::new();
    };
    if &header[4..8] != b"ftyp" {
        return Vec::new();
    }
    let size = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    let end = usize::try_from(size).map_or(data.len(), |s| s.min(data.len()));
    let Some(body) = data.get(8..end) else {
        return Vec::new();
    };
    // Major brand, minor version, then the compatible brands.
    let major = body.get(..4).into_iter();
    let compatible = body.get(8..).unwrap_or_default().chunks_exact(4);
    major
        .chain(compatible)
        .filter_map(|b| b.try_into().ok())
        .collect()
}

/// Planes as libheif holds them (4:4:4 at worst, which grids always are;
/// two bytes a sample above 8 bits): the decoder's output, libheif's copy
/// and the RGB conversion or rotation of it can be alive at once; then the
/// interleaved output and our copy of it.
fn decode_bytes(width: u32, height: u32, luma_bits: i32, has_alpha: bool) -> u64 {
    let pixels = u64::from(width) * u64::from(height);
    let sample_bytes = if luma_bits > 8 { 2 } else { 1 };
    let planes = pixels * (3 + u64::from(has_alpha)) * sample_bytes;
    let interleaved = pixels * (3 + u64::from(has_alpha));
    planes * 3 + interleaved * 2
}

/// Runs libheif so that a panic in this module's glue turns into an error
/// for this one image instead of unwinding through the caller.
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, ImagingError> {
    catch_unwind(AssertUnwindSafe(f))
        .map_err(|_| ImagingError::Decode("the HEIF decoder panicked".into()))
}

impl Failure {
    /// While reading the container: everything but a truncation, a codec
    /// or feature libheif lacks, or its own size limit is a malformed file.
    fn in_container(self, max_pixels: u64) -> ImagingError {
        match (self.code, self.subcode) {
            (_, lh::heif_suberror_code_heif_suberror_End_of_data) => ImagingError::Truncated,
            (_, lh::heif_suberror_code_heif_suberror_Security_limit_exceeded) => {
                match parse_size(&self.message) {
                    Some((width, height)) if u64::from(width) * u64::from(height) > max_pixels => {
                        ImagingError::TooManyPixels {
                            width,
                            height,
                            max: max_pixels,
                        }
                    }
                    _ => ImagingError::Unsupported(self.message_or("larger than libheif allows")),
                }
            }
            (lh::heif_error_code_heif_error_Unsupported_filetype, _) => {
                ImagingError::UnsupportedFormat
            }
            (lh::heif_error_code_heif_error_Unsupported_feature, _) => {
                ImagingError::Unsupported(self.message_or("unsupported HEIF feature"))
            }
            (lh::heif_error_code_heif_error_Memory_allocation_error, _) => {
                ImagingError::Decode(self.message_or("out of memory reading the HEIF container"))
            }
            _ => ImagingError::Malformed(self.message_or("unreadable HEIF container")),
        }
    }

    /// While decoding pixels: corrupt data, unless the data ended early or
    /// the file needs what libheif lacks.
    fn in_decoding(self) -> ImagingError {
        match (self.code, self.subcode) {
            (_, lh::heif_suberror_code_heif_suberror_End_of_data) => ImagingError::Truncated,
            (lh::heif_error_code_heif_error_Unsupported_feature, _) => {
                ImagingError::Unsupported(self.message_or("unsupported HEIF feature"))
            }
            _ => ImagingError::Decode(self.message_or("HEIF decoding failed")),
        }
    }
}

/// "Image size 40000x100 exceeds the maximum image size 32768x32768": the
/// only place libheif 1.15 says which size it refused.
fn parse_size(message: &str) -> Option<(u32, u32)> {
    let rest = message.strip_prefix("Image size ")?;
    let size = rest.split_whitespace().next()?;
    let (width, height) = size.split_once('x')?;
    Some((width.parse().ok()?, height.parse().ok()?))
}

/// Whether a top-level box of what starts as a HEIF file claims more bytes
/// than there are, or a box header is cut: the file was cut short. libheif
/// itself only notices where it reads, and says "no 'meta' box" when the
/// cut is inside the 'meta' box.
fn box_overruns(data: &[u8]) -> bool {
    if data.get(4..8) != Some(&b"ftyp"[..]) {
        return false; // Not HEIF: libheif says what it is not.
    }
    let mut rest = data;
    while !rest.is_empty() {
        if rest.len() < 8 {
            return true;
        }
        let Some((size, after)) = rest.split_first_chunk::<4>() else {
            return false;
        };
        let size = match u32::from_be_bytes(*size) {
            // The box runs to the end of the file.
            0 => return false,
            // A 64-bit size after the type.
            1 => match after.get(4..12).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
                Some(large) => u64::from_be_bytes(large),
                None => return true,
            },
            size => u64::from(size),
        };
        if size < 8 {
            return false; // Malformed: libheif will say so.
        }
        match usize::try_from(size).ok().and_then(|size| rest.get(size..)) {
            Some(next) => rest = next,
            None => return true,
        }
    }
    false
}

#[cfg(test)]
mod tests;
