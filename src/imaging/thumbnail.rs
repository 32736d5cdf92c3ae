//! Thumbnails: validate the container, decode once (JPEGs shrink during
//! decoding), resize to each requested height, orient upright and re-encode
//! in the original's format without metadata.

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use fast_image_resize::Resizer;
use image::codecs::png::{CompressionType, FilterType, PngDecoder, PngEncoder};
use image::{DynamicImage, ImageDecoder, ImageEncoder, ImageError, Limits};
use jpeg_decoder::PixelFormat;
use jpeg_encoder::{ChromaSubsamplingMethod, ColorType, SamplingFactor};

use super::exif;
use super::probe::{self, Header};
use super::raster::{Layout, Raster, cmyk_to_rgb};
use super::{ImageKind, ImagingError, Thumbnail, ThumbnailSpec};

/// A smaller thumbnail is resampled from a larger one only when that one is
/// at least this many times its size, so that the second pass stays sharp;
/// otherwise it is made from the decoded source.
const CHAIN_FACTOR: u64 = 2;

/// DCT-scaled decoding stops at twice the largest thumbnail (numerator,
/// denominator), leaving at least a 2x reduction to Lanczos3, as libvips'
/// shrink-on-load does. Scaling all the way down (e.g. 1600 px high to 400
/// at 1/4) took 28 % fewer instructions on a 4000x3000 photo but lost up to
/// 1.1 dB PSNR against libvips: jpeg-decoder's reduced IDCTs alias and its
/// scaled chroma is soft (see BENCHMARKS.md).
const DCT_MARGIN: (u64, u64) = (2, 1);

/// Headroom over the pixel buffer for the PNG decoder's own allocations
/// (chunk data, the zlib window, row buffers).
const PNG_ALLOC_HEADROOM: u64 = 64 * 1024 * 1024;

/// Makes one thumbnail per requested height from an original's bytes.
///
/// The result has one entry per entry of `spec.heights`, in the same order.
/// Each keeps the aspect ratio of the upright (EXIF-oriented) image at the
/// requested height; an original that is not taller than the requested
/// height is re-encoded at its own size instead of being upscaled. JPEG
/// gives JPEG and PNG gives PNG (8-bit, alpha kept); no EXIF, ICC or text
/// metadata is written. Truncated files and files over `spec.max_pixels` are
/// refused before any pixel is decoded.
pub fn make_thumbnails(
    original: &[u8],
    spec: &ThumbnailSpec,
) -> Result<Vec<Thumbnail>, ImagingError> {
    let header = probe::inspect(Cursor::new(original), spec.max_pixels)?;
    if spec.heights.contains(&0) {
        return Err(ImagingError::Unsupported(
            "a thumbnail height of 0 was requested".into(),
        ));
    }
    let source = match header.kind {
        ImageKind::Jpeg => Source::Jpeg {
            data: original,
            header,
        },
        ImageKind::Png => Source::png(original, &header, spec.max_pixels)?,
    };
    let orientation = source.orientation();
    let swap = exif::swaps_dimensions(orientation);
    let (width, height) = if swap {
        (header.height, header.width)
    } else {
        (header.width, header.height)
    };

    // Distinct output sizes, largest first.
    let mut sizes: Vec<(u32, u32)> = spec
        .heights
        .iter()
        .map(|&h| target_size(width, height, h))
        .collect();
    sizes.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
    sizes.dedup();
    let Some(&largest) = sizes.first() else {
        return Ok(Vec::new());
    };
    let stored = |(w, h): (u32, u32)| if swap { (h, w) } else { (w, h) };

    let decoded = source.decode(stored(largest), spec.max_pixels)?;
    let stored_sizes: Vec<(u32, u32)> = sizes.iter().map(|&s| stored(s)).collect();
    let rasters = resize_all(&decoded, &stored_sizes)?;
    drop(decoded);

    let orientation = exif::to_image_orientation(orientation);
    let mut encoded = Vec::with_capacity(sizes.len());
    for (&size, raster) in sizes.iter().zip(rasters) {
        let raster = raster.oriented(orientation)?;
        if (raster.width(), raster.height()) != size {
            return Err(ImagingError::Encode(format!(
                "made {}x{} instead of {}x{}",
                raster.width(),
                raster.height(),
                size.0,
                size.1
            )));
        }
        let bytes = match header.kind {
            ImageKind::Jpeg => encode_jpeg(&raster, spec.jpeg_quality)?,
            ImageKind::Png => encode_png(&raster)?,
        };
        encoded.push((size, bytes));
    }

    spec.heights
        .iter()
        .map(|&requested| {
            let size = target_size(width, height, requested);
            let (_, bytes) = encoded
                .iter()
                .find(|(s, _)| *s == size)
                .ok_or_else(|| ImagingError::Encode("a planned size was not made".into()))?;
            Ok(Thumbnail {
                height: requested,
                width: size.0,
                actual_height: size.1,
                kind: header.kind,
                bytes: bytes.clone(),
            })
        })
        .collect()
}

/// The output size for a requested height: the aspect ratio kept, width
/// rounded and at least 1, and never larger than the original.
fn target_size(width: u32, height: u32, requested: u32) -> (u32, u32) {
    if requested >= height || height == 0 {
        return (width, height);
    }
    let (w, h, r) = (u64::from(width), u64::from(height), u64::from(requested));
    let scaled = (w * r + h / 2) / h;
    let scaled = u32::try_from(scaled)
        .unwrap_or(width)
        .clamp(1, width.max(1));
    (scaled, requested)
}

/// Makes every size (given in stored orientation, largest first) from the
/// decoded source, or from an already made larger size when that is at
/// least `CHAIN_FACTOR` times larger.
fn resize_all(source: &Raster, sizes: &[(u32, u32)]) -> Result<Vec<Raster>, ImagingError> {
    let mut resizer = Resizer::new();
    let mut made: Vec<Raster> = Vec::with_capacity(sizes.len());
    for &(width, height) in sizes {
        // One pixel of slack: widths are rounded, so the 400 px high
        // thumbnail of a 4:3 photo is 533 wide and its 200 px one 267.
        let big_enough = |r: &&Raster| {
            u64::from(r.width()) + 1 >= CHAIN_FACTOR * u64::from(width)
                && u64::from(r.height()) + 1 >= CHAIN_FACTOR * u64::from(height)
        };
        // `made` is largest first, so the last fitting one is the cheapest.
        let from = made.iter().rev().find(big_enough).unwrap_or(source);
        let raster = if (from.width(), from.height()) == (width, height) {
            from.clone()
        } else {
            from.resize(&mut resizer, width, height)?
        };
        made.push(raster);
    }
    Ok(made)
}

/// An original on its way to pixels.
enum Source<'a> {
    Jpeg {
        data: &'a [u8],
        header: Header,
    },
    Png {
        decoder: Box<PngDecoder<Cursor<&'a [u8]>>>,
        orientation: u8,
    },
}

impl<'a> Source<'a> {
    fn png(data: &'a [u8], header: &Header, max_pixels: u64) -> Result<Self, ImagingError> {
        let mut limits = Limits::default();
        limits.max_image_width = Some(header.width);
        limits.max_image_height = Some(header.height);
        limits.max_alloc = Some(png_alloc_limit(max_pixels));
        let decoder =
            guarded(|| PngDecoder::with_limits(Cursor::new(data), limits))?.map_err(image_error)?;
        // The orientation `probe` read, as for JPEGs: the size recorded at
        // upload and the thumbnails' aspect must come from one EXIF parser
        // (the decoder's disagrees with ours on malformed blocks).
        let orientation = header.orientation;
        Ok(Source::Png {
            decoder: Box::new(decoder),
            orientation,
        })
    }

    fn orientation(&self) -> u8 {
        match self {
            Source::Jpeg { header, .. } => header.orientation,
            Source::Png { orientation, .. } => *orientation,
        }
    }

    /// Decodes to at least `need` pixels (stored orientation) per axis.
    fn decode(self, need: (u32, u32), max_pixels: u64) -> Result<Raster, ImagingError> {
        match self {
            Source::Jpeg { data, header } => decode_jpeg(data, &header, need, max_pixels),
            Source::Png { decoder, .. } => {
                let (width, height) = decoder.dimensions();
                probe::check_pixels(width, height, max_pixels)?;
                if decoder.total_bytes() > png_alloc_limit(max_pixels) {
                    return Err(ImagingError::TooManyPixels {
                        width,
                        height,
                        max: max_pixels,
                    });
                }
                let image =
                    guarded(|| DynamicImage::from_decoder(*decoder))?.map_err(image_error)?;
                Raster::from_dynamic(image)
            }
        }
    }
}

/// Decodes a JPEG with DCT scaling to the smallest of 1/8, 1/4, 1/2 and 1
/// that still gives `DCT_MARGIN` times `need` pixels per axis: most of the
/// work of a full decode is skipped for thumbnails of large photos.
fn decode_jpeg(
    data: &[u8],
    header: &Header,
    need: (u32, u32),
    max_pixels: u64,
) -> Result<Raster, ImagingError> {
    let scaled = |len: u32, eighths: u32| (len * eighths).div_ceil(8);
    let margin = |need: u32| u64::from(need) * DCT_MARGIN.0 / DCT_MARGIN.1;
    let eighths = [1, 2, 4].into_iter().find(|&n| {
        u64::from(scaled(header.width, n)) >= margin(need.0)
            && u64::from(scaled(header.height, n)) >= margin(need.1)
    });

    let mut decoder = jpeg_decoder(data, max_pixels);
    if let Some(n) = eighths {
        let to_u16 =
            |v: u32| u16::try_from(v).map_err(|_| ImagingError::Malformed("JPEG size".into()));
        let request = (
            to_u16(scaled(header.width, n))?,
            to_u16(scaled(header.height, n))?,
        );
        let (w, h) = decoder.scale(request.0, request.1).map_err(jpeg_error)?;
        // jpeg-decoder picks a scale that satisfies one axis; tiny images
        // can end up short on the other, so decode those at full size.
        if u32::from(w) < need.0 || u32::from(h) < need.1 {
            decoder = jpeg_decoder(data, max_pixels);
        }
    }
    let (pixels, info) = guarded(|| -> Result<_, jpeg_decoder::Error> {
        let pixels = decoder.decode()?;
        Ok((pixels, decoder.info()))
    })?
    .map_err(jpeg_error)?;
    let info = info.ok_or_else(|| ImagingError::Decode("no frame header decoded".into()))?;
    let (layout, pixels) = match info.pixel_format {
        PixelFormat::L8 => (Layout::Luma, pixels),
        PixelFormat::RGB24 => (Layout::Rgb, pixels),
        PixelFormat::CMYK32 => (Layout::Rgb, cmyk_to_rgb(&pixels)),
        PixelFormat::L16 => return Err(ImagingError::Unsupported("16-bit JPEG".into())),
    };
    Raster::new(info.width.into(), info.height.into(), layout, pixels)
}

/// jpeg-decoder 0.3 has no switch to stay on the calling thread: with its
/// default `rayon` feature it hands rows to rayon's global pool (no per-image
/// thread spawns). The output buffer is bounded by `max_pixels`.
fn jpeg_decoder(data: &[u8], max_pixels: u64) -> jpeg_decoder::Decoder<&[u8]> {
    let mut decoder = jpeg_decoder::Decoder::new(data);
    let max_bytes = usize::try_from(max_pixels.saturating_mul(4)).unwrap_or(usize::MAX);
    decoder.set_max_decoding_buffer_size(max_bytes);
    decoder
}

fn encode_jpeg(raster: &Raster, quality: u8) -> Result<Vec<u8>, ImagingError> {
    let color = match raster.layout() {
        Layout::Luma => ColorType::Luma,
        Layout::Rgb => ColorType::Rgb,
        Layout::Rgba => ColorType::Rgba,
        Layout::LumaAlpha => {
            return Err(ImagingError::Encode("JPEG cannot hold alpha".into()));
        }
    };
    let too_big = |_| ImagingError::Encode("too large for JPEG".into());
    let width = u16::try_from(raster.width()).map_err(too_big)?;
    let height = u16::try_from(raster.height()).map_err(too_big)?;
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, quality.clamp(1, 100));
    encoder.set_sampling_factor(SamplingFactor::R_4_2_0);
    // The default keeps the top-left pixel of each 2x2 block: aliased
    // chroma, up to 0.8 dB PSNR below libvips and Pillow. Averaging (what
    // libjpeg does) costs about 1.5 % more instructions.
    encoder.set_chroma_subsampling_method(ChromaSubsamplingMethod::Average);
    encoder
        .encode(raster.data(), width, height, color)
        .map_err(|e| ImagingError::Encode(e.to_string()))?;
    Ok(out)
}

/// Balanced rather than fast compression: thumbnails are encoded once and
/// served many times, and it made them 30-60 % smaller for ~20 ms more on a
/// 2000x1500 original.
fn encode_png(raster: &Raster) -> Result<Vec<u8>, ImagingError> {
    let mut out = Vec::new();
    PngEncoder::new_with_quality(&mut out, CompressionType::Default, FilterType::Adaptive)
        .write_image(
            raster.data(),
            raster.width(),
            raster.height(),
            raster.layout().color_type(),
        )
        .map_err(|e| ImagingError::Encode(e.to_string()))?;
    Ok(out)
}

fn png_alloc_limit(max_pixels: u64) -> u64 {
    // 16-bit RGBA is the widest PNG output: 8 bytes per pixel.
    max_pixels
        .saturating_mul(8)
        .saturating_add(PNG_ALLOC_HEADROOM)
}

/// Runs a third-party decoder so that a bug in it turns into an error for
/// this one image instead of unwinding through the caller.
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, ImagingError> {
    catch_unwind(AssertUnwindSafe(f))
        .map_err(|_| ImagingError::Decode("the decoder panicked".into()))
}

fn jpeg_error(e: jpeg_decoder::Error) -> ImagingError {
    match e {
        jpeg_decoder::Error::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            ImagingError::Truncated
        }
        jpeg_decoder::Error::Unsupported(feature) => {
            ImagingError::Unsupported(format!("JPEG feature {feature:?}"))
        }
        other => ImagingError::Decode(other.to_string()),
    }
}

fn image_error(e: ImageError) -> ImagingError {
    match e {
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            ImagingError::Truncated
        }
        ImageError::Unsupported(u) => ImagingError::Unsupported(u.to_string()),
        other => ImagingError::Decode(other.to_string()),
    }
}
