//! Tests for the imaging module; every image is generated here.

use std::io::Cursor;

use image::{
    DynamicImage, GenericImageView, ImageBuffer, ImageFormat, Luma, Rgb, RgbImage, Rgba, RgbaImage,
};

use super::exif::tests::exif_block;
use super::probe::crc32;
use super::*;

const MAX_PIXELS: u64 = 50_000_000;

fn spec(heights: &[u32]) -> ThumbnailSpec {
    ThumbnailSpec {
        heights: heights.to_vec(),
        jpeg_quality: 85,
        max_pixels: MAX_PIXELS,
    }
}

fn gradient(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x * 255 / width) as u8, (y * 255 / height) as u8, 128])
    })
}

fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).expect("encode test image");
    out.into_inner()
}

fn jpeg(width: u32, height: u32) -> Vec<u8> {
    encode(&gradient(width, height).into(), ImageFormat::Jpeg)
}

fn png(image: impl Into<DynamicImage>) -> Vec<u8> {
    encode(&image.into(), ImageFormat::Png)
}

/// Inserts a marker segment right after SOI.
fn with_segment(jpeg: &[u8], marker: u8, payload: &[u8]) -> Vec<u8> {
    let length = u16::try_from(payload.len() + 2).expect("segment fits");
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, marker]);
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn with_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    with_segment(jpeg, 0xE1, &exif_block(false, orientation))
}

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = u32::try_from(data.len())
        .expect("chunk fits")
        .to_be_bytes()
        .to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&crc32(&[kind, data]).to_be_bytes());
    out
}

/// Inserts chunks right after IHDR.
fn with_chunks(png: &[u8], chunks: &[Vec<u8>]) -> Vec<u8> {
    let mut out = png[..33].to_vec();
    for chunk in chunks {
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&png[33..]);
    out
}

fn decoded(bytes: &[u8], format: ImageFormat) -> DynamicImage {
    image::load_from_memory_with_format(bytes, format).expect("thumbnail decodes")
}

fn probe_bytes(bytes: &[u8]) -> Result<ImageInfo, ImagingError> {
    probe(Cursor::new(bytes), MAX_PIXELS)
}

/// xorshift64: deterministic noise without a dependency.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

fn close(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(&x, y)| x.abs_diff(y) <= 60)
}

fn rgb_at(image: &DynamicImage, x: u32, y: u32) -> [u8; 3] {
    let [r, g, b, _] = image.get_pixel(x, y).0;
    [r, g, b]
}

#[test]
fn sniff_decides_by_magic_bytes() {
    assert_eq!(sniff(&jpeg(8, 8)), Ok(ImageKind::Jpeg));
    assert_eq!(sniff(&png(gradient(8, 8))), Ok(ImageKind::Png));
    for (bytes, kind) in [
        (&b"GIF89a\x01\x00\x01\x00"[..], ImageKind::Gif),
        (b"GIF87a\x01\x00\x01\x00", ImageKind::Gif),
        (b"RIFF\0\0\0\0WEBPVP8 ", ImageKind::Webp),
        (b"BM\0\0\0\0", ImageKind::Bmp),
        (b"II*\0\x08\0\0\0", ImageKind::Tiff),
        (b"MM\0*\0\0\0\x08", ImageKind::Tiff),
        (b"\0\0\0\x18ftypheic\0\0\0\0mif1heic", ImageKind::Heic),
        (b"\0\0\0\x18ftypmif1\0\0\0\0mif1heic", ImageKind::Heic),
        (b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf", ImageKind::Avif),
        (b"\0\0\0\x18ftypmif1\0\0\0\0mif1avif", ImageKind::Avif),
    ] {
        assert_eq!(sniff(bytes), Ok(kind), "{bytes:?}");
    }
    for other in [
        &b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"[..],
        b"<?xml version=\"1.0\"?><svg/>",
        b"<!DOCTYPE html><html></html>",
        b"%PDF-1.7\n",
        b"RIFF\0\0\0\0WAVEfmt ",
        // An MP4 video is ISO-BMFF too.
        b"\0\0\0\x18ftypisom\0\0\0\0isomavc1",
    ] {
        assert_eq!(sniff(other), Err(ImagingError::UnsupportedFormat));
    }
    assert_eq!(sniff(b"GIF8"), Err(ImagingError::Truncated));
    assert_eq!(sniff(b"nope"), Err(ImagingError::UnsupportedFormat));
    assert_eq!(sniff(b"RIFF\0\0"), Err(ImagingError::Truncated));
    assert_eq!(sniff(b""), Err(ImagingError::Empty));
    assert_eq!(sniff(&[0xFF, 0xD8]), Err(ImagingError::Truncated));
    assert_eq!(probe_bytes(b""), Err(ImagingError::Empty));
    assert_eq!(
        probe_bytes(b"<svg></svg>"),
        Err(ImagingError::UnsupportedFormat)
    );
}

#[test]
fn kind_maps_content_types_and_extensions() {
    for kind in [
        ImageKind::Jpeg,
        ImageKind::Png,
        ImageKind::Webp,
        ImageKind::Gif,
        ImageKind::Bmp,
        ImageKind::Tiff,
        ImageKind::Heic,
        ImageKind::Avif,
    ] {
        assert_eq!(
            ImageKind::from_content_type(kind.content_type()),
            Some(kind)
        );
    }
    assert_eq!(ImageKind::Jpeg.extension(), "jpg");
    assert_eq!(ImageKind::Png.extension(), "png");
    assert_eq!(
        ImageKind::from_content_type("Image/JPG; charset=binary"),
        Some(ImageKind::Jpeg)
    );
    assert_eq!(
        ImageKind::from_content_type("image/x-ms-bmp"),
        Some(ImageKind::Bmp)
    );
    assert_eq!(ImageKind::from_content_type("image/svg+xml"), None);
    assert_eq!(ImageKind::from_content_type("video/mp4"), None);
}

#[test]
fn probe_walks_past_large_app_segments_to_the_frame_header() {
    let mut bytes = jpeg(640, 480);
    for marker in [0xE2, 0xED, 0xEE] {
        bytes = with_segment(&bytes, marker, &noise(u64::from(marker), 65_533));
    }
    assert!(bytes.len() > 3 * 65_533);
    let info = probe_bytes(&bytes).expect("probe");
    assert_eq!(
        info,
        ImageInfo {
            kind: ImageKind::Jpeg,
            width: 640,
            height: 480,
            // Three planes and the output, one byte each: baseline.
            decode_bytes: 640 * 480 * 3 * 2,
            frame_count: 1,
        }
    );
    let info = probe_bytes(&png(gradient(33, 17))).expect("probe");
    assert_eq!(
        (info.kind, info.width, info.height),
        (ImageKind::Png, 33, 17)
    );
}

#[test]
fn probe_reports_the_upright_size() {
    let bytes = with_orientation(&jpeg(300, 200), 6);
    let info = probe_bytes(&bytes).expect("probe");
    assert_eq!((info.width, info.height), (200, 300));

    let exif = exif_block(true, 8);
    let bytes = with_chunks(&png(gradient(30, 20)), &[png_chunk(b"eXIf", &exif[6..])]);
    let info = probe_bytes(&bytes).expect("probe");
    assert_eq!((info.width, info.height), (20, 30));
}

#[test]
fn probe_refuses_a_png_pixel_bomb_from_its_header() {
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend(png_chunk(b"IHDR", &ihdr));
    bytes.extend(png_chunk(
        b"IDAT",
        &[0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    ));
    bytes.extend(png_chunk(b"IEND", &[]));
    assert!(bytes.len() < 100);
    let refused = ImagingError::TooManyPixels {
        width: 100_000,
        height: 100_000,
        max: MAX_PIXELS,
    };
    assert_eq!(probe_bytes(&bytes), Err(refused.clone()));
    assert_eq!(make_thumbnails(&bytes, &spec(&[200])), Err(refused));
}

#[test]
fn probe_refuses_a_jpeg_pixel_bomb_from_its_header() {
    let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xC0, 0, 17, 8];
    bytes.extend_from_slice(&60_000u16.to_be_bytes());
    bytes.extend_from_slice(&60_000u16.to_be_bytes());
    bytes.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
    bytes.extend_from_slice(&[0xFF, 0xD9]);
    let refused = ImagingError::TooManyPixels {
        width: 60_000,
        height: 60_000,
        max: MAX_PIXELS,
    };
    assert_eq!(probe_bytes(&bytes), Err(refused.clone()));
    assert_eq!(make_thumbnails(&bytes, &spec(&[200])), Err(refused));
}

#[test]
fn probe_refuses_truncated_jpegs() {
    let bytes = jpeg(320, 240);
    for cut in [bytes.len() - 2, bytes.len() * 2 / 3, 200, 20, 3] {
        let truncated = &bytes[..cut];
        assert_eq!(
            probe_bytes(truncated),
            Err(ImagingError::Truncated),
            "cut at {cut}"
        );
        assert_eq!(
            make_thumbnails(truncated, &spec(&[100])),
            Err(ImagingError::Truncated)
        );
    }
}

#[test]
fn probe_refuses_truncated_pngs() {
    let bytes = png(gradient(320, 240));
    for cut in [bytes.len() - 12, bytes.len() - 1, bytes.len() / 2, 40, 20] {
        let truncated = &bytes[..cut];
        assert_eq!(
            probe_bytes(truncated),
            Err(ImagingError::Truncated),
            "cut at {cut}"
        );
        assert_eq!(
            make_thumbnails(truncated, &spec(&[100])),
            Err(ImagingError::Truncated)
        );
    }
}

/// A motion photo's video, or padding: whatever follows the image's end is
/// kept and not taken for truncation, however long.
#[test]
fn probe_allows_any_data_after_the_end() {
    for bytes in [jpeg(64, 48), png(gradient(64, 48))] {
        for trailing in [4000, 3 << 20] {
            let mut padded = bytes.clone();
            padded.extend((0..trailing).map(|i| (i * 7 % 251) as u8));
            assert!(probe_bytes(&padded).is_ok(), "{trailing}");
            let made = make_thumbnails(&padded, &spec(&[20])).expect("thumbnail");
            assert_eq!(made[0].actual_height, 20);
        }
        // Cut inside the image, then followed by data: still truncated.
        let mut cut = bytes[..bytes.len() - 20].to_vec();
        cut.extend(vec![0x11; 8000]);
        assert_eq!(probe_bytes(&cut), Err(ImagingError::Truncated));
    }
}

#[test]
fn probe_refuses_corrupt_headers() {
    let mut bytes = png(gradient(16, 16));
    bytes[20] ^= 0x40; // inside IHDR: the CRC no longer matches
    assert!(matches!(
        probe_bytes(&bytes),
        Err(ImagingError::Malformed(_))
    ));

    // Arithmetic coding: SOF9.
    let mut bytes = jpeg(16, 16);
    let sof = bytes
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("SOF0");
    bytes[sof + 1] = 0xC9;
    assert!(matches!(
        probe_bytes(&bytes),
        Err(ImagingError::Unsupported(_))
    ));
}

#[test]
fn jpeg_thumbnails_have_the_requested_heights() {
    let bytes = jpeg(1200, 900);
    let thumbs = make_thumbnails(&bytes, &spec(&[200, 400])).expect("thumbnails");
    let sizes: Vec<_> = thumbs
        .iter()
        .map(|t| (t.height, t.width, t.actual_height, t.kind))
        .collect();
    assert_eq!(
        sizes,
        [
            (200, 267, 200, ImageKind::Jpeg),
            (400, 533, 400, ImageKind::Jpeg)
        ]
    );
    for thumb in &thumbs {
        let image = decoded(&thumb.bytes, ImageFormat::Jpeg);
        assert_eq!(image.dimensions(), (thumb.width, thumb.actual_height));
        // Content survives: the gradient runs dark to bright left to right.
        let left = rgb_at(&image, 2, thumb.actual_height / 2);
        let right = rgb_at(&image, thumb.width - 3, thumb.actual_height / 2);
        assert!(left[0] < 30 && right[0] > 225, "{left:?} {right:?}");
    }
}

#[test]
fn large_jpegs_are_shrunk_while_decoding_and_chained() {
    let bytes = jpeg(2000, 1500);
    let thumbs = make_thumbnails(&bytes, &spec(&[100, 200])).expect("thumbnails");
    let sizes: Vec<_> = thumbs.iter().map(|t| (t.width, t.actual_height)).collect();
    assert_eq!(sizes, [(133, 100), (267, 200)]);
    for thumb in &thumbs {
        let image = decoded(&thumb.bytes, ImageFormat::Jpeg);
        assert_eq!(image.dimensions(), (thumb.width, thumb.actual_height));
    }
}

#[test]
fn thumbnails_are_never_upscaled() {
    let bytes = jpeg(200, 150);
    let thumbs = make_thumbnails(&bytes, &spec(&[400, 150, 100])).expect("thumbnails");
    let sizes: Vec<_> = thumbs
        .iter()
        .map(|t| (t.height, t.width, t.actual_height))
        .collect();
    assert_eq!(sizes, [(400, 200, 150), (150, 200, 150), (100, 133, 100)]);
    for thumb in &thumbs {
        let image = decoded(&thumb.bytes, ImageFormat::Jpeg);
        assert_eq!(image.dimensions(), (thumb.width, thumb.actual_height));
    }
}

#[test]
fn tiny_images_get_at_least_one_pixel() {
    let thumbs = make_thumbnails(&jpeg(3, 2), &spec(&[1])).expect("thumbnails");
    assert_eq!((thumbs[0].width, thumbs[0].actual_height), (2, 1));
    let thumbs = make_thumbnails(&png(gradient(1, 300)), &spec(&[10])).expect("thumbnails");
    assert_eq!((thumbs[0].width, thumbs[0].actual_height), (1, 10));
    let image = decoded(&thumbs[0].bytes, ImageFormat::Png);
    assert_eq!(image.dimensions(), (1, 10));
}

#[test]
fn exif_orientation_6_turns_the_thumbnail_upright() {
    // Stored landscape, top half red and bottom half blue; orientation 6
    // means "rotate 90° clockwise to display", so blue ends up on the left.
    let stored = RgbImage::from_fn(300, 200, |_, y| {
        if y < 100 {
            Rgb([255, 0, 0])
        } else {
            Rgb([0, 0, 255])
        }
    });
    let bytes = with_orientation(&encode(&stored.into(), ImageFormat::Jpeg), 6);
    let thumbs = make_thumbnails(&bytes, &spec(&[150])).expect("thumbnails");
    assert_eq!((thumbs[0].width, thumbs[0].actual_height), (100, 150));
    let image = decoded(&thumbs[0].bytes, ImageFormat::Jpeg);
    assert_eq!(image.dimensions(), (100, 150));
    assert!(close(rgb_at(&image, 10, 75), [0, 0, 255]));
    assert!(close(rgb_at(&image, 90, 75), [255, 0, 0]));
}

#[test]
fn all_eight_exif_orientations_are_applied() {
    const RED: [u8; 3] = [255, 0, 0];
    const GREEN: [u8; 3] = [0, 255, 0];
    const BLUE: [u8; 3] = [0, 0, 255];
    const WHITE: [u8; 3] = [255, 255, 255];
    // Stored quadrants: top-left red, top-right green, bottom-left blue,
    // bottom-right white.
    let stored = RgbImage::from_fn(96, 64, |x, y| {
        Rgb(match (x < 48, y < 32) {
            (true, true) => RED,
            (false, true) => GREEN,
            (true, false) => BLUE,
            (false, false) => WHITE,
        })
    });
    let original = encode(&stored.into(), ImageFormat::Jpeg);
    // The stored corners that end up at the displayed top-left and top-right.
    let expected = [
        (1, RED, GREEN),
        (2, GREEN, RED),
        (3, WHITE, BLUE),
        (4, BLUE, WHITE),
        (5, RED, BLUE),
        (6, BLUE, RED),
        (7, WHITE, GREEN),
        (8, GREEN, WHITE),
    ];
    for (orientation, top_left, top_right) in expected {
        let bytes = with_orientation(&original, orientation);
        let upright = if orientation >= 5 { (64, 96) } else { (96, 64) };
        let thumbs = make_thumbnails(&bytes, &spec(&[1000, upright.1 / 2])).expect("thumbnails");
        for thumb in &thumbs {
            let image = decoded(&thumb.bytes, ImageFormat::Jpeg);
            let (w, h) = image.dimensions();
            assert_eq!(
                h,
                thumb.actual_height.min(upright.1),
                "orientation {orientation}"
            );
            assert_eq!(w * upright.1, h * upright.0, "orientation {orientation}");
            assert!(
                close(rgb_at(&image, w / 4, h / 4), top_left),
                "orientation {orientation} top-left"
            );
            assert!(
                close(rgb_at(&image, w * 3 / 4, h / 4), top_right),
                "orientation {orientation} top-right"
            );
        }
    }
}

#[test]
fn png_exif_orientation_is_applied() {
    let exif = exif_block(false, 6);
    let bytes = with_chunks(&png(gradient(40, 20)), &[png_chunk(b"eXIf", &exif[6..])]);
    let thumbs = make_thumbnails(&bytes, &spec(&[20])).expect("thumbnails");
    assert_eq!((thumbs[0].width, thumbs[0].actual_height), (10, 20));
    let image = decoded(&thumbs[0].bytes, ImageFormat::Png);
    assert_eq!(image.dimensions(), (10, 20));
}

#[test]
fn png_thumbnails_keep_alpha() {
    // Left half fully transparent, right half opaque red.
    let image = RgbaImage::from_fn(300, 200, |x, _| {
        if x < 150 {
            Rgba([0, 255, 0, 0])
        } else {
            Rgba([255, 0, 0, 255])
        }
    });
    let thumbs = make_thumbnails(&png(image), &spec(&[100])).expect("thumbnails");
    assert_eq!(
        (thumbs[0].width, thumbs[0].actual_height, thumbs[0].kind),
        (150, 100, ImageKind::Png)
    );
    let image = decoded(&thumbs[0].bytes, ImageFormat::Png);
    assert!(image.color().has_alpha());
    assert_eq!(image.get_pixel(10, 50).0[3], 0);
    assert_eq!(image.get_pixel(140, 50).0, [255, 0, 0, 255]);
    // Premultiplied resizing: no green bleeds into the edge.
    let edge = image.get_pixel(76, 50).0;
    assert!(edge[1] < 10, "edge pixel {edge:?}");
}

#[test]
fn sixteen_bit_and_grayscale_pngs_become_8_bit_thumbnails() {
    let rgb16 = ImageBuffer::from_fn(64, 48, |x, y| {
        Rgb([(x * 1000) as u16, (y * 1000) as u16, 65_535u16])
    });
    let rgba16 = DynamicImage::ImageRgb16(rgb16.clone()).to_rgba16();
    let gray = ImageBuffer::from_fn(64, 48, |x, _| Luma([(x * 4) as u8]));
    for original in [
        png(DynamicImage::ImageRgb16(rgb16)),
        png(DynamicImage::ImageRgba16(rgba16)),
        png(DynamicImage::ImageLuma8(gray)),
    ] {
        let thumbs = make_thumbnails(&original, &spec(&[24, 48])).expect("thumbnails");
        for (thumb, size) in thumbs.iter().zip([(32, 24), (64, 48)]) {
            let image = decoded(&thumb.bytes, ImageFormat::Png);
            assert_eq!(image.dimensions(), size);
            assert!(matches!(
                image.color(),
                image::ColorType::L8 | image::ColorType::Rgb8 | image::ColorType::Rgba8
            ));
        }
    }
}

#[test]
fn grayscale_and_cmyk_jpegs_work() {
    let gray = ImageBuffer::from_fn(100, 80, |x, _| Luma([(x * 2) as u8]));
    let bytes = encode(&DynamicImage::ImageLuma8(gray), ImageFormat::Jpeg);
    let thumbs = make_thumbnails(&bytes, &spec(&[40])).expect("gray thumbnails");
    assert_eq!(
        decoded(&thumbs[0].bytes, ImageFormat::Jpeg).dimensions(),
        (50, 40)
    );

    // CMYK all zero except full yellow ink: displays as yellow.
    let cmyk: Vec<u8> = (0..64 * 32).flat_map(|_| [0, 0, 255, 0]).collect();
    let mut bytes = Vec::new();
    jpeg_encoder::Encoder::new(&mut bytes, 90)
        .encode(&cmyk, 64, 32, jpeg_encoder::ColorType::Cmyk)
        .expect("CMYK JPEG");
    let thumbs = make_thumbnails(&bytes, &spec(&[16])).expect("CMYK thumbnails");
    let image = decoded(&thumbs[0].bytes, ImageFormat::Jpeg);
    assert_eq!(image.dimensions(), (32, 16));
    assert!(
        close(rgb_at(&image, 16, 8), [255, 255, 0]),
        "{:?}",
        rgb_at(&image, 16, 8)
    );
}

#[test]
fn metadata_is_stripped() {
    let bytes = with_orientation(&jpeg(64, 48), 1);
    let bytes = with_segment(&bytes, 0xE2, b"ICC_PROFILE\0\x01\x01fake");
    let thumbs = make_thumbnails(&bytes, &spec(&[24, 100])).expect("thumbnails");
    for thumb in &thumbs {
        let has = |needle: &[u8]| thumb.bytes.windows(needle.len()).any(|w| w == needle);
        assert!(!has(b"Exif") && !has(b"ICC_PROFILE"));
    }

    let exif = exif_block(false, 1);
    let bytes = with_chunks(
        &png(gradient(64, 48)),
        &[
            png_chunk(b"eXIf", &exif[6..]),
            png_chunk(b"tEXt", b"Comment\0secret"),
        ],
    );
    let thumbs = make_thumbnails(&bytes, &spec(&[24, 100])).expect("thumbnails");
    for thumb in &thumbs {
        let mut at = 8;
        let mut kinds = Vec::new();
        while let Some(head) = thumb.bytes.get(at..at + 8) {
            let len = u32::from_be_bytes(head[..4].try_into().expect("4 bytes")) as usize;
            kinds.push(head[4..8].to_vec());
            at += 12 + len;
        }
        assert!(
            kinds
                .iter()
                .all(|k| [&b"IHDR"[..], b"IDAT", b"IEND"].contains(&k.as_slice())),
            "{kinds:?}"
        );
    }
}

#[test]
fn heights_map_one_to_one_in_order() {
    let thumbs = make_thumbnails(&jpeg(120, 90), &spec(&[30, 30, 60])).expect("thumbnails");
    let heights: Vec<_> = thumbs.iter().map(|t| t.height).collect();
    assert_eq!(heights, [30, 30, 60]);
    assert_eq!(thumbs[0].bytes, thumbs[1].bytes);
    assert_eq!(make_thumbnails(&jpeg(12, 9), &spec(&[])), Ok(Vec::new()));
    assert!(matches!(
        make_thumbnails(&jpeg(12, 9), &spec(&[0])),
        Err(ImagingError::Unsupported(_))
    ));
}

#[test]
fn garbage_after_a_valid_header_is_an_error() {
    let bytes = jpeg(256, 256);
    // Keep everything up to the end of the SOS header, then noise, then EOI.
    let sos = bytes
        .windows(2)
        .position(|w| w == [0xFF, 0xDA])
        .expect("SOS");
    let sos_len = usize::from(u16::from_be_bytes([bytes[sos + 2], bytes[sos + 3]]));
    let header = &bytes[..sos + 2 + sos_len];
    for seed in 0..16 {
        let mut garbage = header.to_vec();
        garbage.extend(noise(seed, 20_000));
        garbage.extend_from_slice(&[0xFF, 0xD9]);
        let result = make_thumbnails(&garbage, &spec(&[100]));
        assert!(result.is_err(), "seed {seed}: {result:?}");
    }

    let bytes = png(gradient(256, 256));
    for seed in 0..16 {
        let mut garbage = bytes[..33].to_vec();
        garbage.extend(noise(seed, 20_000));
        garbage.extend(png_chunk(b"IEND", &[]));
        let result = make_thumbnails(&garbage, &spec(&[100]));
        assert!(result.is_err(), "seed {seed}: {result:?}");
    }
}

#[test]
fn corrupted_files_never_panic() {
    let originals = [
        jpeg(96, 64),
        with_orientation(&jpeg(64, 96), 6),
        png(gradient(96, 64)),
        png(RgbaImage::from_pixel(40, 30, Rgba([1, 2, 3, 4]))),
    ];
    for (index, original) in originals.iter().enumerate() {
        for round in 0..150u64 {
            let mut bytes = original.clone();
            let edits = noise(round * 31 + index as u64, 8);
            for pair in edits.chunks(2) {
                let at = usize::from(pair[0]) * bytes.len() / 256;
                bytes[at] ^= pair[1] | 1;
            }
            let _ = probe_bytes(&bytes);
            let _ = make_thumbnails(&bytes, &spec(&[16, 48]));
        }
        for cut in (0..original.len()).step_by(97) {
            let _ = probe_bytes(&original[..cut]);
            let _ = make_thumbnails(&original[..cut], &spec(&[16]));
        }
    }
}

#[test]
fn decode_memory_is_estimated_from_the_header() {
    // 16-bit RGBA: eight bytes a pixel decoded, four more for the 8-bit copy.
    let png16 = {
        let image = image::ImageBuffer::<image::Rgba<u16>, _>::from_pixel(
            300,
            200,
            image::Rgba([0u16, 0, 0, 65535]),
        );
        let mut out = std::io::Cursor::new(Vec::new());
        image
            .write_to(&mut out, image::ImageFormat::Png)
            .expect("png");
        out.into_inner()
    };
    let info = probe_bytes(&png16).expect("probe");
    assert_eq!(info.decode_bytes, 300 * 200 * 12);
    assert_eq!(
        super::probe_bytes(&png16, u64::MAX)
            .expect("estimate")
            .decode_bytes,
        info.decode_bytes
    );
    let info = probe_bytes(&png(gradient(33, 17))).expect("probe");
    assert!(info.decode_bytes >= 33 * 17 * 3, "{info:?}");
}

#[test]
fn the_placeholder_comes_from_the_smallest_thumbnails_pixels() {
    // Left half red, right half blue: the placeholder shows the same.
    let img = RgbImage::from_fn(400, 300, |x, _| {
        if x < 200 {
            Rgb([220, 20, 20])
        } else {
            Rgb([20, 20, 220])
        }
    });
    let mut bytes = Vec::new();
    DynamicImage::ImageRgb8(img)
        .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
        .expect("png");
    let (thumbs, placeholder) =
        make_thumbnails_and_placeholder(&bytes, &spec(&[200, 100])).expect("thumbnails");
    assert_eq!(
        thumbs,
        make_thumbnails(&bytes, &spec(&[200, 100])).expect("same")
    );
    let hash = placeholder.expect("a placeholder");
    assert_eq!(hash.len(), 28, "4x3 components: {hash}");
    let pixels = blurhash::decode(&hash, 8, 2, 1.0).expect("decodes");
    let (left, right) = (&pixels[..4], &pixels[7 * 4..8 * 4]);
    assert!(left[0] > 150 && left[2] < 100, "left is red: {left:?}");
    assert!(right[2] > 150 && right[0] < 100, "right is blue: {right:?}");
    assert_eq!(
        make_thumbnails_and_placeholder(&bytes, &spec(&[])).expect("none"),
        (Vec::new(), None)
    );
}
