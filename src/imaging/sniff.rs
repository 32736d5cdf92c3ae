//! Format detection from magic bytes.

use super::{ImageKind, ImagingError};

/// How many leading bytes `sniff` needs to decide (an ISO-BMFF `ftyp` box
/// lists its compatible brands after the major one).
pub const SNIFF_LEN: usize = 64;

pub(crate) const JPEG_MAGIC: [u8; 3] = [0xFF, 0xD8, 0xFF];
pub(crate) const PNG_MAGIC: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1A, b'\n'];

/// A signature byte, or any byte (the RIFF size).
#[derive(Clone, Copy)]
enum Byte {
    Is(u8),
    Any,
}

use Byte::{Any, Is};

const fn bytes<const N: usize>(s: &[u8; N]) -> [Byte; N] {
    let mut out = [Any; N];
    let mut i = 0;
    while i < N {
        out[i] = Is(s[i]);
        i += 1;
    }
    out
}

const JPEG: [Byte; 3] = bytes(&JPEG_MAGIC);
const PNG: [Byte; 8] = bytes(&PNG_MAGIC);
const GIF87: [Byte; 6] = bytes(b"GIF87a");
const GIF89: [Byte; 6] = bytes(b"GIF89a");
const TIFF_LE: [Byte; 4] = bytes(b"II*\0");
const TIFF_BE: [Byte; 4] = bytes(b"MM\0*");
const BIGTIFF_LE: [Byte; 4] = bytes(b"II+\0");
const BIGTIFF_BE: [Byte; 4] = bytes(b"MM\0+");
const BMP: [Byte; 2] = bytes(b"BM");
const WEBP: [Byte; 12] = [
    Is(b'R'),
    Is(b'I'),
    Is(b'F'),
    Is(b'F'),
    Any,
    Any,
    Any,
    Any,
    Is(b'W'),
    Is(b'E'),
    Is(b'B'),
    Is(b'P'),
];
/// An ISO-BMFF file starts with its `ftyp` box: size, `ftyp`, major brand.
const FTYP: [Byte; 8] = [Any, Any, Any, Any, Is(b'f'), Is(b't'), Is(b'y'), Is(b'p')];

const SIGNATURES: &[(&[Byte], Option<ImageKind>)] = &[
    (&JPEG, Some(ImageKind::Jpeg)),
    (&PNG, Some(ImageKind::Png)),
    (&GIF87, Some(ImageKind::Gif)),
    (&GIF89, Some(ImageKind::Gif)),
    (&TIFF_LE, Some(ImageKind::Tiff)),
    (&TIFF_BE, Some(ImageKind::Tiff)),
    (&BIGTIFF_LE, Some(ImageKind::Tiff)),
    (&BIGTIFF_BE, Some(ImageKind::Tiff)),
    (&BMP, Some(ImageKind::Bmp)),
    (&WEBP, Some(ImageKind::Webp)),
    // Decided by the brands, below.
    (&FTYP, None),
];

const HEIC_BRANDS: &[&[u8; 4]] = &[
    b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs",
];
const AVIF_BRANDS: &[&[u8; 4]] = &[b"avif", b"avis"];
/// Generic HEIF brands: the codec is in the compatible brands.
const HEIF_BRANDS: &[&[u8; 4]] = &[b"mif1", b"msf1", b"mif2"];

/// Decides the kind from magic bytes only.
///
/// Pass the first [`SNIFF_LEN`] bytes (or the whole file if shorter). A
/// prefix too short to hold a full signature but matching the start of one
/// is reported as `Truncated`, anything else that matches no signature as
/// `UnsupportedFormat` (SVG, HTML, PDF, ...). HEIC and AVIF are recognised
/// in every build, so that a build without the `heif` feature can say why it
/// refuses them.
pub fn sniff(prefix: &[u8]) -> Result<ImageKind, ImagingError> {
    if prefix.is_empty() {
        return Err(ImagingError::Empty);
    }
    let matches = |signature: &[Byte], bytes: &[u8]| {
        signature
            .iter()
            .zip(bytes)
            .all(|(s, b)| matches!(s, Any) || matches!(s, Is(v) if v == b))
    };
    for &(signature, kind) in SIGNATURES {
        if prefix.len() < signature.len() {
            // The start of a signature, if it has a fixed byte in the prefix
            // (four bytes of anything are not the start of an ISO-BMFF box).
            let fixed = signature[..prefix.len()].iter().any(|b| matches!(b, Is(_)));
            if fixed && matches(signature, prefix) {
                return Err(ImagingError::Truncated);
            }
            continue;
        }
        if !matches(signature, prefix) {
            continue;
        }
        return match kind {
            Some(kind) => Ok(kind),
            None => isobmff_kind(prefix),
        };
    }
    Err(ImagingError::UnsupportedFormat)
}

/// HEIC or AVIF from an `ftyp` box's major and compatible brands.
fn isobmff_kind(prefix: &[u8]) -> Result<ImageKind, ImagingError> {
    let Some(size) = prefix.first_chunk::<4>().map(|s| u32::from_be_bytes(*s)) else {
        return Err(ImagingError::Truncated);
    };
    let end = usize::try_from(size)
        .unwrap_or(usize::MAX)
        .min(prefix.len());
    let brands = prefix.get(8..end).unwrap_or_default();
    let (major, compatible) = match brands.split_first_chunk::<4>() {
        // Four bytes of minor version follow the major brand.
        Some((major, rest)) => (major, rest.get(4..).unwrap_or_default()),
        None => return Err(ImagingError::Truncated),
    };
    let (compatible, _) = compatible.as_chunks::<4>();
    let is = |set: &[&[u8; 4]], brand: &[u8; 4]| set.contains(&brand);
    if is(AVIF_BRANDS, major) {
        return Ok(ImageKind::Avif);
    }
    if is(HEIC_BRANDS, major) {
        return Ok(ImageKind::Heic);
    }
    if compatible.iter().any(|b| is(AVIF_BRANDS, b)) {
        return Ok(ImageKind::Avif);
    }
    if is(HEIF_BRANDS, major) || compatible.iter().any(|b| is(HEIC_BRANDS, b)) {
        return Ok(ImageKind::Heic);
    }
    // Another ISO-BMFF file: MP4, QuickTime, 3GP.
    Err(ImagingError::UnsupportedFormat)
}
