//! TIFF: the first image's directory (read by the `tiff` crate that
//! `image` decodes with): size, samples, orientation, and strips or tiles
//! that lie inside the file. Later pages are ignored (thumbnails show the
//! first).

use std::io::{self, BufReader, Read, Seek, SeekFrom};

use tiff::decoder::Decoder;
use tiff::tags::Tag;
use tiff::{TiffError, TiffFormatError};

use super::{At, Header, check_pixels, malformed};
use crate::imaging::{ImageKind, ImagingError};

pub(super) fn inspect<R: Read + Seek>(
    r: &mut At<R>,
    max_pixels: u64,
) -> Result<Header, ImagingError> {
    let len = r.len()?;
    // The size first, from the directory itself: the decoder lays out the
    // strips of the size it reads before it can be asked.
    if let Some((width, height)) = declared_size(r)? {
        check_pixels(width, height, max_pixels)?;
    }
    r.seek_to(0)?;
    let start = r.start;
    // The decoder reads no tag value over 1 MiB (its default limit): the
    // strip tables of big images fit, a claimed gigabyte is refused.
    let mut decoder = Decoder::new(Shifted {
        r: r.inner(),
        start,
    })
    .map_err(tiff_error)?;
    let (width, height) = decoder.dimensions().map_err(tiff_error)?;
    if width == 0 || height == 0 {
        return Err(malformed("a TIFF of zero size"));
    }
    check_pixels(width, height, max_pixels)?;
    let colour = decoder.colortype().map_err(tiff_error)?;
    let orientation = decoder
        .find_tag_unsigned::<u16>(Tag::Orientation)
        .map_err(tiff_error)?
        .and_then(|o| u8::try_from(o).ok())
        .filter(|o| (1..=8).contains(o))
        .unwrap_or(1);
    let (offsets, counts) = match decoder.get_chunk_type() {
        tiff::decoder::ChunkType::Strip => (Tag::StripOffsets, Tag::StripByteCounts),
        tiff::decoder::ChunkType::Tile => (Tag::TileOffsets, Tag::TileByteCounts),
    };
    let offsets = decoder
        .find_tag_unsigned_vec::<u64>(offsets)
        .map_err(tiff_error)?
        .ok_or_else(|| malformed("a TIFF without image data"))?;
    let counts = decoder
        .find_tag_unsigned_vec::<u64>(counts)
        .map_err(tiff_error)?
        .ok_or_else(|| malformed("a TIFF without the sizes of its strips"))?;
    if offsets.is_empty() || offsets.len() != counts.len() {
        return Err(malformed("a TIFF whose strips do not match their sizes"));
    }
    let end = offsets
        .iter()
        .zip(&counts)
        .map(|(&o, &c)| o.saturating_add(c))
        .max()
        .unwrap_or(0);
    if end > len {
        return Err(ImagingError::Truncated);
    }
    // The decoded samples, and the 8-bit RGBA they become.
    let bytes_per_pixel =
        u64::from(colour.num_samples()) * u64::from(colour.bit_depth()).div_ceil(8);
    let pixels = u64::from(width) * u64::from(height);
    let decode_bytes = pixels * (bytes_per_pixel + 4);
    Ok(Header {
        orientation,
        ..Header::still(ImageKind::Tiff, width, height, decode_bytes)
    })
}

/// ImageWidth and ImageLength of a classic TIFF's first directory, read
/// entry by entry (`None` for BigTIFF, whose decoder reads them first); a
/// value stored outside the directory (an ICC profile, a strip table) that
/// does not fit in the file is truncation.
fn declared_size<R: Read + Seek>(r: &mut At<R>) -> Result<Option<(u32, u32)>, ImagingError> {
    r.seek_to(0)?;
    let [b0, b1, m0, m1] = r.array()?;
    let little = [b0, b1] == *b"II";
    let u16_of = |b: [u8; 2]| {
        if little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        }
    };
    let u32_of = |b: [u8; 4]| {
        if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    if u16_of([m0, m1]) != 42 {
        return Ok(None);
    }
    let ifd = u32_of(r.array()?);
    let len = r.len()?;
    r.seek_to(u64::from(ifd))?;
    let count = u16_of(r.array()?);
    let (mut width, mut height) = (None, None);
    for _ in 0..count {
        let [t0, t1, k0, k1, c0, c1, c2, c3, v0, v1, v2, v3] = r.array()?;
        let size_of_type: u64 = match u16_of([k0, k1]) {
            1 | 2 | 6 | 7 => 1,
            3 | 8 => 2,
            4 | 9 | 11 | 13 => 4,
            5 | 10 | 12 => 8,
            _ => 0,
        };
        let bytes = size_of_type * u64::from(u32_of([c0, c1, c2, c3]));
        if bytes > 4 && u64::from(u32_of([v0, v1, v2, v3])) + bytes > len {
            return Err(ImagingError::Truncated);
        }
        let value = match u16_of([k0, k1]) {
            // SHORT: the value is in the first two bytes.
            3 => u32::from(u16_of([v0, v1])),
            4 => u32_of([v0, v1, v2, v3]),
            _ => continue,
        };
        match u16_of([t0, t1]) {
            256 => width = Some(value),
            257 => height = Some(value),
            _ => {}
        }
    }
    Ok(width.zip(height))
}

/// The file seen from its first byte, for a decoder that seeks to absolute
/// offsets when the stream holds something before it.
struct Shifted<'a, R> {
    r: &'a mut BufReader<R>,
    start: u64,
}

impl<R: Read> Read for Shifted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.r.read(buf)
    }
}

impl<R: Seek> Seek for Shifted<'_, R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let pos = match pos {
            SeekFrom::Start(n) => SeekFrom::Start(
                self.start
                    .checked_add(n)
                    .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?,
            ),
            other => other,
        };
        let at = self.r.seek(pos)?;
        Ok(at.saturating_sub(self.start))
    }
}

pub(crate) fn tiff_error(e: TiffError) -> ImagingError {
    match e {
        TiffError::IoError(io) if io.kind() == io::ErrorKind::UnexpectedEof => {
            ImagingError::Truncated
        }
        TiffError::FormatError(TiffFormatError::InconsistentSizesEncountered) => {
            ImagingError::Truncated
        }
        TiffError::UnsupportedError(u) => ImagingError::Unsupported(format!("TIFF: {u}")),
        TiffError::IoError(io) => ImagingError::Decode(format!("reading the TIFF failed: {io}")),
        other => ImagingError::Malformed(format!("TIFF: {other}")),
    }
}

/// The first image's ICC profile (tag 34675, usually of type UNDEFINED,
/// which `image` does not read).
pub(crate) fn icc_profile<R: Read + Seek>(decoder: &mut Decoder<R>) -> Option<Vec<u8>> {
    use tiff::decoder::ifd::Value;
    match decoder.find_tag(Tag::IccProfile).ok()?? {
        Value::List(items) => items
            .into_iter()
            .map(|v| match v {
                Value::Byte(b) => Some(b),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}
