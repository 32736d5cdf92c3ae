//! Cheap validation of an upload from its container structure alone: magic
//! bytes, the size from the format's header, the EXIF orientation, the
//! number of frames, and whether the data the structure promises is there.
//! No pixel data is decoded and nothing proportional to the pixel count is
//! allocated. One file per format.

mod bmp;
mod gif;
mod jpeg;
mod png;
pub(crate) mod tiff;
mod webp;

use std::io::{self, BufReader, Read, Seek, SeekFrom};

use super::sniff::{SNIFF_LEN, sniff};
use super::{ImageInfo, ImageKind, ImagingError, exif};

pub(crate) use png::PngColour;

/// Larger metadata blocks (EXIF) are skipped rather than read.
const MAX_METADATA: u64 = 256 << 10;

/// What inspecting the container found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub kind: ImageKind,
    /// Size as stored, before orientation.
    pub width: u32,
    pub height: u32,
    /// EXIF orientation 1..=8; 1 when there is none.
    pub orientation: u8,
    /// The most memory decoding may take (see [`ImageInfo::decode_bytes`]).
    pub decode_bytes: u64,
    /// 1 for a still image.
    pub frame_count: u32,
    /// PNG's colour chunks, read before the image data.
    pub png_colour: Option<PngColour>,
}

impl Header {
    fn still(kind: ImageKind, width: u32, height: u32, decode_bytes: u64) -> Header {
        Header {
            kind,
            width,
            height,
            orientation: 1,
            decode_bytes,
            frame_count: 1,
            png_colour: None,
        }
    }

    /// The size as displayed, after the orientation is applied.
    pub(crate) fn oriented_size(&self) -> (u32, u32) {
        if exif::swaps_dimensions(self.orientation) {
            (self.height, self.width)
        } else {
            (self.width, self.height)
        }
    }

    fn info(&self) -> ImageInfo {
        let (width, height) = self.oriented_size();
        ImageInfo {
            kind: self.kind,
            width,
            height,
            decode_bytes: self.decode_bytes,
            frame_count: self.frame_count,
        }
    }
}

/// Validates an uploaded file cheaply without decoding pixel data.
///
/// Reads the magic bytes and header, refuses images over `max_pixels` before
/// anything allocates pixels, and refuses truncated files: the data that the
/// structure promises (a JPEG's scans up to its end marker, PNG chunks up to
/// `IEND`, GIF blocks up to the trailer, a RIFF or BMP of its declared size,
/// TIFF strips) must be in the file. Data after the image's end (a motion
/// photo's video, padding) is allowed and kept. Mostly the header and the
/// end are read, so a file on disk is not read whole; the stream starts at
/// the reader's current position.
pub fn probe<R: Read + Seek>(reader: R, max_pixels: u64) -> Result<ImageInfo, ImagingError> {
    Ok(inspect(reader, max_pixels)?.info())
}

/// `probe` for an original already in memory (jobs), with the decode memory
/// estimate and the frame count that [`ImageInfo::check`] bounds.
pub fn probe_bytes(original: &[u8], max_pixels: u64) -> Result<ImageInfo, ImagingError> {
    probe(io::Cursor::new(original), max_pixels)
}

/// `probe`, keeping the stored size and the orientation apart.
pub(crate) fn inspect<R: Read + Seek>(reader: R, max_pixels: u64) -> Result<Header, ImagingError> {
    let mut r = BufReader::with_capacity(8 * 1024, reader);
    let start = r.stream_position().map_err(read_error)?;
    let mut prefix = Vec::with_capacity(SNIFF_LEN);
    (&mut r)
        .take(SNIFF_LEN as u64)
        .read_to_end(&mut prefix)
        .map_err(read_error)?;
    let kind = sniff(&prefix)?;
    if !kind.is_decodable() {
        return Err(ImagingError::NotBuilt {
            kind,
            feature: "heif",
        });
    }
    let mut r = At { r, start };
    match kind {
        ImageKind::Jpeg => jpeg::inspect(&mut r, max_pixels),
        ImageKind::Png => png::inspect(&mut r, max_pixels),
        ImageKind::Webp => webp::inspect(&mut r, max_pixels),
        ImageKind::Gif => gif::inspect(&mut r, max_pixels),
        ImageKind::Bmp => bmp::inspect(&mut r, max_pixels),
        ImageKind::Tiff => tiff::inspect(&mut r, max_pixels),
        ImageKind::Heic | ImageKind::Avif => heif(&mut r, kind, max_pixels),
    }
}

#[cfg(feature = "heif")]
fn heif<R: Read + Seek>(
    r: &mut At<R>,
    kind: ImageKind,
    max_pixels: u64,
) -> Result<Header, ImagingError> {
    // libheif reads from memory; a phone photo is a few megabytes.
    let data = r.read_all()?;
    let header = super::heif::inspect(&data, max_pixels)?;
    Ok(Header::still(
        kind,
        header.width,
        header.height,
        header.decode_bytes,
    ))
}

#[cfg(not(feature = "heif"))]
fn heif<R: Read + Seek>(_: &mut At<R>, kind: ImageKind, _: u64) -> Result<Header, ImagingError> {
    Err(ImagingError::NotBuilt {
        kind,
        feature: "heif",
    })
}

/// A buffered reader over a file that starts at `start` of the stream:
/// offsets are from the file's first byte.
pub(crate) struct At<R> {
    r: BufReader<R>,
    start: u64,
}

impl<R: Read + Seek> At<R> {
    /// The current offset in the file.
    fn position(&mut self) -> Result<u64, ImagingError> {
        let position = self.r.stream_position().map_err(read_error)?;
        Ok(position.saturating_sub(self.start))
    }

    fn len(&mut self) -> Result<u64, ImagingError> {
        let end = self.r.seek(SeekFrom::End(0)).map_err(read_error)?;
        Ok(end.saturating_sub(self.start))
    }

    fn seek_to(&mut self, offset: u64) -> Result<(), ImagingError> {
        let position = self
            .start
            .checked_add(offset)
            .ok_or_else(|| malformed("an offset out of range"))?;
        self.r.seek(SeekFrom::Start(position)).map_err(read_error)?;
        Ok(())
    }

    /// Skips forward; keeps the buffer when the target is inside it.
    fn skip(&mut self, n: u64) -> Result<(), ImagingError> {
        let n = i64::try_from(n).map_err(|_| malformed("a length out of range"))?;
        self.r.seek_relative(n).map_err(read_error)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ImagingError> {
        let mut buf = [0; N];
        self.r.read_exact(&mut buf).map_err(read_error)?;
        Ok(buf)
    }

    fn byte(&mut self) -> Result<u8, ImagingError> {
        let [b] = self.array()?;
        Ok(b)
    }

    /// Reads exactly `len` bytes without trusting `len` for the allocation.
    fn vec(&mut self, len: u64) -> Result<Vec<u8>, ImagingError> {
        let mut buf = Vec::new();
        (&mut self.r)
            .take(len)
            .read_to_end(&mut buf)
            .map_err(read_error)?;
        if (buf.len() as u64) < len {
            return Err(ImagingError::Truncated);
        }
        Ok(buf)
    }

    /// The last `window` bytes of the file, but none before `not_before`.
    fn tail(&mut self, window: u64, not_before: u64) -> Result<Vec<u8>, ImagingError> {
        let len = self.len()?;
        let from = len.saturating_sub(window).max(not_before);
        if from >= len {
            return Ok(Vec::new());
        }
        self.seek_to(from)?;
        self.vec(len - from)
    }

    /// Whether `pattern` occurs at or after `from`, reading forward in blocks.
    fn find_after(&mut self, from: u64, pattern: &[u8]) -> Result<bool, ImagingError> {
        self.seek_to(from)?;
        let mut block = vec![0u8; 64 * 1024];
        let keep = pattern.len().saturating_sub(1);
        let mut filled = 0;
        loop {
            let n = self.r.read(&mut block[filled..]).map_err(read_error)?;
            if n == 0 {
                return Ok(false);
            }
            let end = filled + n;
            if block[..end].windows(pattern.len()).any(|w| w == pattern) {
                return Ok(true);
            }
            // Keep the last bytes: the pattern may straddle two blocks.
            let tail = end.saturating_sub(keep);
            block.copy_within(tail..end, 0);
            filled = end - tail;
        }
    }

    #[cfg(feature = "heif")]
    fn read_all(&mut self) -> Result<Vec<u8>, ImagingError> {
        self.seek_to(0)?;
        let mut data = Vec::new();
        self.r.read_to_end(&mut data).map_err(read_error)?;
        Ok(data)
    }

    /// The reader itself, for a decoder that reads the header.
    fn inner(&mut self) -> &mut BufReader<R> {
        &mut self.r
    }
}

pub(crate) fn check_pixels(width: u32, height: u32, max: u64) -> Result<(), ImagingError> {
    if u64::from(width) * u64::from(height) > max {
        return Err(ImagingError::TooManyPixels { width, height, max });
    }
    Ok(())
}

/// CRC-32 as used by PNG, over the concatenated parts; only ever run over a
/// few bytes, so bitwise.
pub(crate) fn crc32(parts: &[&[u8]]) -> u32 {
    let mut crc = u32::MAX;
    for &byte in parts.iter().copied().flatten() {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn read_error(e: io::Error) -> ImagingError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        ImagingError::Truncated
    } else {
        ImagingError::Decode(format!("reading the image failed: {e}"))
    }
}

fn malformed(what: &str) -> ImagingError {
    ImagingError::Malformed(what.to_owned())
}
