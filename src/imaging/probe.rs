//! Cheap validation of an upload from its container structure alone: magic
//! bytes, the size from the JPEG frame header or the PNG `IHDR`, the EXIF
//! orientation, and whether the file ends where it should. No pixel data is
//! decoded and nothing proportional to the pixel count is allocated.

use std::io::{self, BufReader, Read, Seek, SeekFrom};

use super::exif;
use super::sniff::{SNIFF_LEN, sniff};
use super::{ImageInfo, ImageKind, ImagingError};

/// Bytes allowed after the end marker; some tools append padding or junk.
const TAIL_WINDOW: u64 = 4096;
/// A complete `IEND` chunk: zero length, type, and its (constant) CRC.
const IEND_CHUNK: [u8; 12] = [0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82];
/// Where the first chunk after `IHDR` starts: signature, then 25 bytes of `IHDR`.
const PNG_AFTER_IHDR: u64 = 8 + 25;
/// PNG sizes and chunk lengths are at most 2^31 - 1.
const PNG_MAX_DIMENSION: u32 = 0x7FFF_FFFF;
/// Larger `eXIf` chunks are skipped rather than read.
const MAX_EXIF_CHUNK: u32 = 1 << 20;

/// What inspecting the container found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub kind: ImageKind,
    /// Size as stored, before orientation.
    pub width: u32,
    pub height: u32,
    /// EXIF orientation 1..=8; 1 when there is none.
    pub orientation: u8,
    /// The most memory decoding may take (see [`Header::decode_bytes`]).
    pub decode_bytes: u64,
}

impl Header {
    /// The size as displayed, after the orientation is applied.
    pub(crate) fn oriented_size(&self) -> (u32, u32) {
        if exif::swaps_dimensions(self.orientation) {
            (self.height, self.width)
        } else {
            (self.width, self.height)
        }
    }
}

/// Validates an uploaded file cheaply without decoding pixel data.
///
/// Reads the magic bytes and header, refuses images over `max_pixels` before
/// anything allocates pixels, and refuses truncated files (a JPEG needs an
/// EOI marker within its last 4 KiB, a PNG an `IEND` chunk followed by at
/// most 4 KiB). Only the header and the tail are read, so a file on disk is
/// not read whole. The stream starts at the reader's current position.
pub fn probe<R: Read + Seek>(reader: R, max_pixels: u64) -> Result<ImageInfo, ImagingError> {
    let header = inspect(reader, max_pixels)?;
    let (width, height) = header.oriented_size();
    Ok(ImageInfo {
        kind: header.kind,
        width,
        height,
        decode_bytes: header.decode_bytes,
    })
}

/// The decode memory estimate of an original's header (see
/// [`ImageInfo::decode_bytes`]), for jobs that have the bytes in memory.
pub fn decode_bytes(original: &[u8], max_pixels: u64) -> Result<u64, ImagingError> {
    Ok(inspect(std::io::Cursor::new(original), max_pixels)?.decode_bytes)
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
    match sniff(&prefix)? {
        ImageKind::Jpeg => inspect_jpeg(&mut r, start, max_pixels),
        ImageKind::Png => inspect_png(&mut r, start, max_pixels),
    }
}

fn inspect_jpeg<R: Read + Seek>(
    r: &mut BufReader<R>,
    start: u64,
    max_pixels: u64,
) -> Result<Header, ImagingError> {
    seek_to(r, start, 2)?;
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
        let length = u16::from_be_bytes(read_array(r)?);
        let payload = length
            .checked_sub(2)
            .ok_or_else(|| malformed("a JPEG segment length below 2"))?;
        match marker {
            0xDA => {
                if frame.is_none() {
                    return Err(malformed("a JPEG scan before the frame header"));
                }
                skip(r, payload.into())?;
                let position = r.stream_position().map_err(read_error)?;
                break position.saturating_sub(start);
            }
            // SOFn; C4 (DHT), C8 (JPG) and CC (DAC) share the range.
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                if frame.is_some() {
                    return Err(malformed("more than one JPEG frame header"));
                }
                let sof = read_vec(r, payload.into())?;
                let (width, height) = parse_sof(marker, &sof, max_pixels)?;
                let components = sof.get(5).copied().unwrap_or(3);
                let progressive = matches!(marker, 0xC2 | 0xC6 | 0xCA | 0xCE);
                frame = Some((width, height, components, progressive));
            }
            0xE1 if !exif_seen => {
                let app1 = read_vec(r, payload.into())?;
                if app1.starts_with(b"Exif\0\0") {
                    exif_seen = true;
                    orientation = exif::orientation(&app1);
                }
            }
            _ => skip(r, payload.into())?,
        }
    };
    let (width, height, components, progressive) =
        frame.ok_or_else(|| malformed("no JPEG frame header"))?;
    // Entropy-coded data cannot contain FF D9 (FF is stuffed as FF 00), so an
    // FF D9 after the scan start is the EOI marker.
    let tail = read_tail(r, start, TAIL_WINDOW, scan_start)?;
    if !tail.windows(2).any(|w| w == [0xFF, 0xD9]) {
        return Err(ImagingError::Truncated);
    }
    // One plane per component and the interleaved output; a progressive
    // JPEG keeps every coefficient (two bytes each) until its last scan.
    // An upper bound: DCT scaling usually decodes far less.
    let pixels = u64::from(width) * u64::from(height);
    let planes = pixels * u64::from(components.max(1));
    let decode_bytes = planes * 2 + if progressive { planes * 2 } else { 0 };
    Ok(Header {
        kind: ImageKind::Jpeg,
        width,
        height,
        orientation: orientation.unwrap_or(1),
        decode_bytes,
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
fn next_marker<R: Read>(r: &mut R) -> Result<u8, ImagingError> {
    loop {
        let [byte] = read_array(r)?;
        if byte != 0xFF {
            continue;
        }
        let mut code = 0xFF;
        while code == 0xFF {
            [code] = read_array(r)?;
        }
        if code != 0 {
            return Ok(code);
        }
    }
}

fn inspect_png<R: Read + Seek>(
    r: &mut BufReader<R>,
    start: u64,
    max_pixels: u64,
) -> Result<Header, ImagingError> {
    seek_to(r, start, 8)?;
    let head: [u8; 8] = read_array(r)?;
    // 13 bytes of data, then the CRC.
    let ihdr: [u8; 17] = read_array(r)?;
    if head != [0, 0, 0, 13, b'I', b'H', b'D', b'R'] {
        return Err(malformed("the first PNG chunk is not a valid IHDR"));
    }
    let [
        w0,
        w1,
        w2,
        w3,
        h0,
        h1,
        h2,
        h3,
        depth,
        color,
        compression,
        filter,
        interlace,
        c0,
        c1,
        c2,
        c3,
    ] = ihdr;
    if crc32(&[b"IHDR", &ihdr[..13]]) != u32::from_be_bytes([c0, c1, c2, c3]) {
        return Err(malformed("a corrupt PNG IHDR chunk (CRC mismatch)"));
    }
    let width = u32::from_be_bytes([w0, w1, w2, w3]);
    let height = u32::from_be_bytes([h0, h1, h2, h3]);
    if width == 0 || height == 0 || width > PNG_MAX_DIMENSION || height > PNG_MAX_DIMENSION {
        return Err(malformed("a PNG size out of range"));
    }
    let valid_depth = match color {
        0 => matches!(depth, 1 | 2 | 4 | 8 | 16),
        3 => matches!(depth, 1 | 2 | 4 | 8),
        2 | 4 | 6 => matches!(depth, 8 | 16),
        _ => false,
    };
    if !valid_depth || compression != 0 || filter != 0 || interlace > 1 {
        return Err(malformed("an invalid PNG color type, bit depth or method"));
    }
    check_pixels(width, height, max_pixels)?;

    // Walk the chunks before the image data for an eXIf orientation.
    let mut orientation = None;
    loop {
        let [l0, l1, l2, l3, t0, t1, t2, t3] = read_array(r)?;
        let length = u32::from_be_bytes([l0, l1, l2, l3]);
        if length > PNG_MAX_DIMENSION {
            return Err(malformed("a PNG chunk length out of range"));
        }
        match &[t0, t1, t2, t3] {
            b"IDAT" => break,
            b"IEND" => return Err(malformed("no PNG image data")),
            b"eXIf" if orientation.is_none() && length <= MAX_EXIF_CHUNK => {
                let data = read_vec(r, u64::from(length))?;
                orientation = exif::orientation(&data);
                skip(r, 4)?;
            }
            _ => skip(r, u64::from(length) + 4)?,
        }
    }
    let tail = read_tail(r, start, TAIL_WINDOW + 12, PNG_AFTER_IHDR)?;
    if !tail.windows(IEND_CHUNK.len()).any(|w| w == IEND_CHUNK) {
        return Err(ImagingError::Truncated);
    }
    // The decoded buffer (palettes expand to RGBA, 16-bit samples take two
    // bytes), and an 8-bit copy of a 16-bit image.
    let channels: u64 = match color {
        0 => 1,
        2 => 3,
        4 => 2,
        _ => 4,
    };
    let pixels = u64::from(width) * u64::from(height);
    let decode_bytes = if depth == 16 {
        pixels * channels * 3
    } else {
        pixels * channels
    };
    Ok(Header {
        kind: ImageKind::Png,
        width,
        height,
        orientation: orientation.unwrap_or(1),
        decode_bytes,
    })
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

/// The last `window` bytes of the stream, but none before `not_before`.
fn read_tail<R: Read + Seek>(
    r: &mut BufReader<R>,
    start: u64,
    window: u64,
    not_before: u64,
) -> Result<Vec<u8>, ImagingError> {
    let end = r.seek(SeekFrom::End(0)).map_err(read_error)?;
    let len = end.saturating_sub(start);
    let from = len.saturating_sub(window).max(not_before);
    if from >= len {
        return Ok(Vec::new());
    }
    seek_to(r, start, from)?;
    read_vec(r, len - from)
}

fn seek_to<R: Read + Seek>(
    r: &mut BufReader<R>,
    start: u64,
    offset: u64,
) -> Result<(), ImagingError> {
    let position = start
        .checked_add(offset)
        .ok_or_else(|| malformed("an offset out of range"))?;
    r.seek(SeekFrom::Start(position)).map_err(read_error)?;
    Ok(())
}

/// Skips forward; keeps the buffer when the target is inside it.
fn skip<R: Read + Seek>(r: &mut BufReader<R>, n: u64) -> Result<(), ImagingError> {
    let n = i64::try_from(n).map_err(|_| malformed("a length out of range"))?;
    r.seek_relative(n).map_err(read_error)
}

fn read_array<const N: usize, R: Read>(r: &mut R) -> Result<[u8; N], ImagingError> {
    let mut buf = [0; N];
    r.read_exact(&mut buf).map_err(read_error)?;
    Ok(buf)
}

/// Reads exactly `len` bytes without trusting `len` for the allocation.
fn read_vec<R: Read>(r: &mut R, len: u64) -> Result<Vec<u8>, ImagingError> {
    let mut buf = Vec::new();
    r.take(len).read_to_end(&mut buf).map_err(read_error)?;
    if (buf.len() as u64) < len {
        return Err(ImagingError::Truncated);
    }
    Ok(buf)
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
