//! Thumbnails: validate the container, decode once (JPEGs shrink during
//! decoding; animations give their first frame), convert the colours to
//! sRGB, resize to each requested height, orient upright and encode as JPEG
//! or PNG without metadata.

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use fast_image_resize::Resizer;
use image::codecs::bmp::BmpDecoder;
use image::codecs::gif::GifDecoder;
use image::codecs::png::{CompressionType, FilterType, PngDecoder, PngEncoder};
use image::codecs::tiff::TiffDecoder;
use image::codecs::webp::WebPDecoder;
use image::{DynamicImage, ImageDecoder, ImageEncoder, ImageError, Limits};
use jpeg_decoder::PixelFormat;
use jpeg_encoder::{ChromaSubsamplingMethod, ColorType, SamplingFactor};

use super::colour::{self, Colour};
use super::exif;
use super::libjpeg;
use super::probe::{self, Header};
use super::raster::{Layout, Raster};
use super::{ImageKind, ImagingError, Thumbnail, ThumbnailSpec};

/// A smaller thumbnail is resampled from a larger one only when that one is
/// at least this many times its size, so that the second pass stays sharp;
/// otherwise it is made from the decoded source.
const CHAIN_FACTOR: u64 = 2;

/// With jpeg-decoder (the JPEGs libjpeg stops on), DCT-scaled decoding
/// stops at twice the largest thumbnail (numerator, denominator), leaving
/// at least a 2x reduction to Lanczos3, as libvips' shrink-on-load does.
/// Scaling all the way down (e.g. 1600 px high to 400 at 1/4) took 28 %
/// fewer instructions on a 4000x3000 photo but lost up to 1.1 dB PSNR
/// against libvips: jpeg-decoder's reduced IDCTs alias and its scaled
/// chroma is soft (see BENCHMARKS.md).
const DCT_MARGIN: (u64, u64) = (2, 1);

/// libjpeg scales in the IDCT to any `n/8` (its chroma scaled there too,
/// not upsampled), down to 1.5 times the largest thumbnail, leaving Lanczos3
/// the rest. Measured by `bench/compare.sh` (BENCHMARKS.md, "Kernel (issue
/// 14)"): at 1x the 400 px thumbnail of a 1920x1080 photo (decoded at 3/8)
/// lost 0.002 SSIM to libvips, at 1.25x (1/2) 0.001; at 1.5x (5/8) it is
/// libvips' quality, and a 4000x3000 photo is still decoded at 1/4.
const LIBJPEG_MARGIN: (u64, u64) = (3, 2);

/// Headroom over the pixel buffer for a decoder's own allocations (chunk
/// data, the zlib window, row buffers, a GIF's canvas).
const ALLOC_HEADROOM: u64 = 64 * 1024 * 1024;

/// Makes one thumbnail per requested height from an original's bytes.
///
/// The result has one entry per entry of `spec.heights`, in the same order.
/// Each keeps the aspect ratio of the upright (EXIF-oriented) image at the
/// requested height; an original that is not taller than the requested
/// height is re-encoded at its own size instead of being upscaled. JPEG
/// gives JPEG and PNG gives PNG (8-bit, alpha kept); every other format
/// gives JPEG when it is opaque and PNG when any pixel is transparent. An
/// animation gives its first frame. Pixels are converted to sRGB from an
/// embedded ICC profile; no EXIF, ICC or text metadata is written.
/// Truncated files and files over `spec.max_pixels` are refused before any
/// pixel is decoded.
pub fn make_thumbnails(
    original: &[u8],
    spec: &ThumbnailSpec,
) -> Result<Vec<Thumbnail>, ImagingError> {
    make(original, spec, false).map(|(thumbs, _)| thumbs)
}

/// [`make_thumbnails`], and a BlurHash placeholder of the image made from
/// the smallest thumbnail's pixels before they are encoded (`None` when no
/// thumbnail was asked for): the worker no longer decodes its own JPEG
/// again for it.
pub fn make_thumbnails_and_placeholder(
    original: &[u8],
    spec: &ThumbnailSpec,
) -> Result<(Vec<Thumbnail>, Option<String>), ImagingError> {
    make(original, spec, true)
}

fn make(
    original: &[u8],
    spec: &ThumbnailSpec,
    with_placeholder: bool,
) -> Result<(Vec<Thumbnail>, Option<String>), ImagingError> {
    let header = probe::inspect(Cursor::new(original), spec.max_pixels)?;
    if spec.heights.contains(&0) {
        return Err(ImagingError::Unsupported(
            "a thumbnail height of 0 was requested".into(),
        ));
    }
    let orientation = header.orientation;
    let swap = exif::swaps_dimensions(orientation);
    let (width, height) = header.oriented_size();

    // Distinct output sizes, largest first.
    let mut sizes: Vec<(u32, u32)> = spec
        .heights
        .iter()
        .map(|&h| target_size(width, height, h))
        .collect();
    sizes.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
    sizes.dedup();
    let Some(&largest) = sizes.first() else {
        return Ok((Vec::new(), None));
    };
    let stored = |(w, h): (u32, u32)| if swap { (h, w) } else { (w, h) };

    let decoded = decode(original, &header, stored(largest), spec.max_pixels)?;
    let kind = match header.kind {
        ImageKind::Jpeg | ImageKind::Png => header.kind,
        _ if decoded.is_translucent() => ImageKind::Png,
        _ => ImageKind::Jpeg,
    };
    let decoded = if kind == ImageKind::Jpeg {
        decoded.without_alpha()
    } else {
        decoded
    };
    let stored_sizes: Vec<(u32, u32)> = sizes.iter().map(|&s| stored(s)).collect();
    let rasters = resize_all(&decoded, &stored_sizes)?;
    drop(decoded);

    let orientation = exif::to_image_orientation(orientation);
    let mut encoded = Vec::with_capacity(sizes.len());
    let mut placeholder = None;
    let smallest = sizes.len() - 1;
    for (i, (&size, raster)) in sizes.iter().zip(rasters).enumerate() {
        let raster = raster.oriented(orientation)?;
        if with_placeholder && i == smallest {
            placeholder = raster.blurhash();
        }
        if (raster.width(), raster.height()) != size {
            return Err(ImagingError::Encode(format!(
                "made {}x{} instead of {}x{}",
                raster.width(),
                raster.height(),
                size.0,
                size.1
            )));
        }
        let bytes = match kind {
            ImageKind::Png => encode_png(&raster)?,
            _ => encode_jpeg(&raster, spec.jpeg_quality)?,
        };
        encoded.push((size, bytes));
    }

    let thumbs = spec
        .heights
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
                kind,
                bytes: bytes.clone(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((thumbs, placeholder))
}

/// Decodes to at least `need` pixels (stored orientation) per axis, in
/// sRGB.
fn decode(
    data: &[u8],
    header: &Header,
    need: (u32, u32),
    max_pixels: u64,
) -> Result<Raster, ImagingError> {
    let (mut raster, colour) = match header.kind {
        ImageKind::Jpeg => decode_jpeg(data, header, need, max_pixels)?,
        ImageKind::Png => {
            let limits = limits(header, max_pixels);
            let decoder = guarded(|| PngDecoder::with_limits(Cursor::new(data), limits))?
                .map_err(image_error)?;
            let (raster, icc) = decode_with(decoder, max_pixels)?;
            let colour = match (icc, &header.png_colour) {
                (Some(icc), _) => Colour::from_icc(&icc),
                (None, Some(chunks)) => Colour::from_png(chunks),
                (None, None) => Colour::Srgb,
            };
            (raster, colour)
        }
        ImageKind::Webp => with_icc(decode_via(WebPDecoder::new, data, header, max_pixels)?),
        ImageKind::Gif => with_icc(decode_via(GifDecoder::new, data, header, max_pixels)?),
        ImageKind::Bmp => with_icc(decode_via(BmpDecoder::new, data, header, max_pixels)?),
        ImageKind::Tiff => guarded(|| decode_tiff(data, header, max_pixels))??,
        ImageKind::Heic | ImageKind::Avif => decode_heif(data, header, max_pixels)?,
    };
    colour.to_srgb(&mut raster)?;
    Ok(raster)
}

#[cfg(feature = "heif")]
fn decode_heif(data: &[u8], _: &Header, max_pixels: u64) -> Result<(Raster, Colour), ImagingError> {
    let decoded = guarded(|| super::heif::decode(data, max_pixels))??;
    let colour = match (&decoded.icc, decoded.nclx_primaries) {
        (Some(icc), _) => Colour::from_icc(icc),
        (None, Some(primaries)) => Colour::from_cicp_primaries(primaries),
        (None, None) => Colour::Srgb,
    };
    Ok((decoded.raster, colour))
}

#[cfg(not(feature = "heif"))]
fn decode_heif(_: &[u8], header: &Header, _: u64) -> Result<(Raster, Colour), ImagingError> {
    Err(ImagingError::NotBuilt {
        kind: header.kind,
        feature: "heif",
    })
}

/// TIFF through `image`, but for its ICC profile, and for CMYK, which
/// `image` turns into RGB by the naive formula: its inks go through their
/// profile here.
fn decode_tiff(
    data: &[u8],
    header: &Header,
    max_pixels: u64,
) -> Result<(Raster, Colour), ImagingError> {
    use probe::tiff::{icc_profile, tiff_error};
    let mut decoder = tiff::decoder::Decoder::new(Cursor::new(data)).map_err(tiff_error)?;
    let icc = icc_profile(&mut decoder);
    let colour = icc.as_deref().map_or(Colour::Srgb, Colour::from_icc);
    if decoder.colortype().map_err(tiff_error)? == tiff::ColorType::CMYK(8) {
        let mut limits = tiff::decoder::Limits::default();
        limits.decoding_buffer_size =
            usize::try_from(alloc_limit(max_pixels)).unwrap_or(usize::MAX);
        let mut decoder = decoder.with_limits(limits);
        let (width, height) = decoder.dimensions().map_err(tiff_error)?;
        probe::check_pixels(width, height, max_pixels)?;
        let tiff::decoder::DecodingResult::U8(cmyk) = decoder.read_image().map_err(tiff_error)?
        else {
            return Err(ImagingError::Decode(
                "a CMYK TIFF gave no 8-bit samples".into(),
            ));
        };
        let rgb = colour::cmyk_to_srgb(&cmyk, &colour);
        return Ok((Raster::new(width, height, Layout::Rgb, rgb)?, Colour::Srgb));
    }
    let (raster, _) = decode_via(TiffDecoder::new, data, header, max_pixels)?;
    Ok((raster, colour))
}

fn with_icc((raster, icc): (Raster, Option<Vec<u8>>)) -> (Raster, Colour) {
    let colour = icc.as_deref().map_or(Colour::Srgb, Colour::from_icc);
    (raster, colour)
}

/// The decoder limits for an original whose header said its size.
fn limits(header: &Header, max_pixels: u64) -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(header.width);
    limits.max_image_height = Some(header.height);
    limits.max_alloc = Some(alloc_limit(max_pixels));
    limits
}

/// Opens one of `image`'s decoders on the original, with the limits of its
/// header, and decodes with it.
fn decode_via<'a, D: ImageDecoder>(
    open: impl FnOnce(Cursor<&'a [u8]>) -> Result<D, ImageError>,
    data: &'a [u8],
    header: &Header,
    max_pixels: u64,
) -> Result<(Raster, Option<Vec<u8>>), ImagingError> {
    let mut decoder = guarded(|| open(Cursor::new(data)))?.map_err(image_error)?;
    decoder
        .set_limits(limits(header, max_pixels))
        .map_err(image_error)?;
    decode_with(decoder, max_pixels)
}

/// Decodes the (first) image with `image`, with the embedded ICC profile.
fn decode_with<D: ImageDecoder>(
    mut decoder: D,
    max_pixels: u64,
) -> Result<(Raster, Option<Vec<u8>>), ImagingError> {
    let (width, height) = decoder.dimensions();
    probe::check_pixels(width, height, max_pixels)?;
    if decoder.total_bytes() > alloc_limit(max_pixels) {
        return Err(ImagingError::TooManyPixels {
            width,
            height,
            max: max_pixels,
        });
    }
    // A profile that cannot be read is ignored, as browsers do.
    let icc = decoder.icc_profile().ok().flatten();
    let image = guarded(|| DynamicImage::from_decoder(decoder))?.map_err(image_error)?;
    Ok((Raster::from_dynamic(image)?, icc))
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

/// Decodes a JPEG scaled in the DCT: with libjpeg to the smallest `n/8`
/// that gives `LIBJPEG_MARGIN` times `need` pixels per axis; where libjpeg
/// stops (a colour space it leaves to us, or any warning), with
/// jpeg-decoder as before.
fn decode_jpeg(
    data: &[u8],
    header: &Header,
    need: (u32, u32),
    max_pixels: u64,
) -> Result<(Raster, Colour), ImagingError> {
    let margin = |v: u32| {
        u32::try_from(u64::from(v) * LIBJPEG_MARGIN.0 / LIBJPEG_MARGIN.1).unwrap_or(u32::MAX)
    };
    let n = libjpeg::eighths(
        header.width,
        header.height,
        (margin(need.0), margin(need.1)),
    );
    match libjpeg::decode(data, n, alloc_limit(max_pixels)) {
        Ok(decoded) => {
            let layout = if decoded.channels == 1 {
                Layout::Luma
            } else {
                Layout::Rgb
            };
            let colour = decoded
                .icc
                .as_deref()
                .map_or(Colour::Srgb, Colour::from_icc);
            let raster = Raster::new(decoded.width, decoded.height, layout, decoded.pixels)?;
            return Ok((raster, colour));
        }
        Err(stop) => tracing::debug!(%stop, "libjpeg stopped; decoding with jpeg-decoder"),
    }
    decode_jpeg_decoder(data, header, need, max_pixels)
}

/// Decodes a JPEG with jpeg-decoder, DCT-scaled to the smallest of 1/8,
/// 1/4, 1/2 and 1 that still gives `DCT_MARGIN` times `need` pixels per
/// axis.
fn decode_jpeg_decoder(
    data: &[u8],
    header: &Header,
    need: (u32, u32),
    max_pixels: u64,
) -> Result<(Raster, Colour), ImagingError> {
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
    let (pixels, info, icc) = guarded(|| -> Result<_, jpeg_decoder::Error> {
        let pixels = decoder.decode()?;
        Ok((pixels, decoder.info(), decoder.icc_profile()))
    })?
    .map_err(jpeg_error)?;
    let info = info.ok_or_else(|| ImagingError::Decode("no frame header decoded".into()))?;
    let colour = icc.as_deref().map_or(Colour::Srgb, Colour::from_icc);
    let (layout, pixels, colour) = match info.pixel_format {
        PixelFormat::L8 => (Layout::Luma, pixels, colour),
        PixelFormat::RGB24 => (Layout::Rgb, pixels, colour),
        // CMYK goes to sRGB here, through its profile when it has one.
        PixelFormat::CMYK32 => (
            Layout::Rgb,
            colour::cmyk_to_srgb(&pixels, &colour),
            Colour::Srgb,
        ),
        PixelFormat::L16 => return Err(ImagingError::Unsupported("16-bit JPEG".into())),
    };
    let raster = Raster::new(info.width.into(), info.height.into(), layout, pixels)?;
    Ok((raster, colour))
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

/// What a decoder may allocate: 16-bit RGBA (8 bytes a pixel) is the
/// widest output, plus headroom.
fn alloc_limit(max_pixels: u64) -> u64 {
    max_pixels.saturating_mul(8).saturating_add(ALLOC_HEADROOM)
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
