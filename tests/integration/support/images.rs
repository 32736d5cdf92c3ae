//! Test images made in code: photo-like gradients, not flat colour.

use std::io::Cursor;

use image::{ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};

pub fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let img = RgbImage::from_fn(width, height, |x, y| {
        Rgb([
            (x * 255 / width.max(1)) as u8,
            (y * 255 / height.max(1)) as u8,
            ((x ^ y) & 0xff) as u8,
        ])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Jpeg)
        .expect("encode jpeg");
    out.into_inner()
}

pub fn png_with_alpha(width: u32, height: u32) -> Vec<u8> {
    let img = RgbaImage::from_fn(width, height, |x, y| {
        Rgba([
            (x * 255 / width.max(1)) as u8,
            100,
            (y * 255 / height.max(1)) as u8,
            if x < width / 2 { 255 } else { 64 },
        ])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png)
        .expect("encode png");
    out.into_inner()
}

/// A tiny, valid-looking PNG whose header declares `width` x `height`.
pub fn png_bomb(width: u32, height: u32) -> Vec<u8> {
    let mut png = png_with_alpha(8, 8);
    // IHDR data starts at byte 16: width, height (big endian), then the CRC at 29..33.
    png[16..20].copy_from_slice(&width.to_be_bytes());
    png[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Decodes downloaded bytes and returns (format, width, height).
pub fn dimensions(bytes: &[u8]) -> (ImageFormat, u32, u32) {
    let format = image::guess_format(bytes).expect("a known image format");
    let img = image::load_from_memory(bytes).expect("decodable image");
    (format, img.width(), img.height())
}

/// A tiny, otherwise valid JPEG whose frame header (SOFn) declares
/// `width` x `height`: a JPEG pixel bomb.
pub fn jpeg_bomb(width: u16, height: u16) -> Vec<u8> {
    let mut jpeg = jpeg(16, 16);
    let sof = jpeg_segments(&jpeg)
        .into_iter()
        .find(|&(marker, _)| matches!(marker, 0xC0..=0xC2))
        .map(|(_, at)| at)
        .expect("a frame header");
    // Marker (2), length (2), precision (1), then height and width.
    jpeg[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    jpeg
}

/// A valid JPEG with `comment` in a COM segment right after SOI.
pub fn jpeg_with_comment(width: u32, height: u32, comment: &[u8]) -> Vec<u8> {
    let jpeg = jpeg(width, height);
    let length = u16::try_from(comment.len() + 2).expect("comment fits a segment");
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xFE]);
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(comment);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// (marker, offset of its 0xFF) of each segment before the first scan.
fn jpeg_segments(jpeg: &[u8]) -> Vec<(u8, usize)> {
    let mut out = Vec::new();
    let mut at = 2;
    while at + 4 <= jpeg.len() && jpeg[at] == 0xFF {
        let marker = jpeg[at + 1];
        out.push((marker, at));
        if marker == 0xDA {
            break;
        }
        let length = usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
        at += 2 + length;
    }
    out
}

/// One PNG chunk: length, type, data, CRC.
pub fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut chunk = u32::try_from(data.len())
        .expect("chunk length")
        .to_be_bytes()
        .to_vec();
    chunk.extend_from_slice(kind);
    chunk.extend_from_slice(data);
    let crc = crc32(&chunk[4..]);
    chunk.extend_from_slice(&crc.to_be_bytes());
    chunk
}

/// The chunks of a PNG as (type, data).
fn png_chunks(png: &[u8]) -> Vec<([u8; 4], Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 8;
    while at + 12 <= png.len() {
        let length = u32::from_be_bytes(png[at..at + 4].try_into().expect("4 bytes")) as usize;
        let kind: [u8; 4] = png[at + 4..at + 8].try_into().expect("4 bytes");
        out.push((kind, png[at + 8..at + 8 + length].to_vec()));
        at += 12 + length;
    }
    out
}

/// A valid PNG with a `tEXt` chunk (`keyword`, `text`) right after IHDR.
pub fn png_with_text(width: u32, height: u32, keyword: &str, text: &[u8]) -> Vec<u8> {
    let png = png_with_alpha(width, height);
    let mut data = keyword.as_bytes().to_vec();
    data.push(0);
    data.extend_from_slice(text);
    let mut out = png[..33].to_vec();
    out.extend_from_slice(&png_chunk(b"tEXt", &data));
    out.extend_from_slice(&png[33..]);
    out
}

/// An animated PNG (APNG) of two frames: the default image (also frame 0)
/// is `png_with_alpha(width, height)`; frame 1 repeats its pixel data.
pub fn apng(width: u32, height: u32) -> Vec<u8> {
    let png = png_with_alpha(width, height);
    let chunks = png_chunks(&png);
    let ihdr = &chunks[0].1;
    let idat: Vec<u8> = chunks
        .iter()
        .filter(|(kind, _)| kind == b"IDAT")
        .flat_map(|(_, data)| data.clone())
        .collect();
    let fctl = |sequence: u32| {
        let mut data = sequence.to_be_bytes().to_vec();
        data.extend_from_slice(&width.to_be_bytes());
        data.extend_from_slice(&height.to_be_bytes());
        data.extend_from_slice(&[0; 8]); // x and y offsets
        data.extend_from_slice(&[0, 1, 0, 10, 0, 0]); // 1/10 s, no dispose, source blend
        png_chunk(b"fcTL", &data)
    };
    let mut out = png[..8].to_vec();
    out.extend_from_slice(&png_chunk(b"IHDR", ihdr));
    // Two frames, loop forever.
    out.extend_from_slice(&png_chunk(b"acTL", &[0, 0, 0, 2, 0, 0, 0, 0]));
    out.extend_from_slice(&fctl(0));
    out.extend_from_slice(&png_chunk(b"IDAT", &idat));
    out.extend_from_slice(&fctl(1));
    let mut fdat = 2u32.to_be_bytes().to_vec();
    fdat.extend_from_slice(&idat);
    out.extend_from_slice(&png_chunk(b"fdAT", &fdat));
    out.extend_from_slice(&png_chunk(b"IEND", &[]));
    out
}

/// A 16-bit-per-channel RGB PNG.
pub fn png16(width: u32, height: u32) -> Vec<u8> {
    let img: image::ImageBuffer<Rgb<u16>, Vec<u16>> =
        image::ImageBuffer::from_fn(width, height, |x, y| {
            Rgb([
                (x * 65535 / width.max(1)) as u16,
                (y * 65535 / height.max(1)) as u16,
                ((x * y) & 0xffff) as u16,
            ])
        });
    let mut out = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb16(img)
        .write_to(&mut out, ImageFormat::Png)
        .expect("encode 16-bit png");
    out.into_inner()
}

/// An RGB PNG of pseudo-random pixels: barely compressible, about three
/// bytes a pixel.
pub fn noise_png(width: u32, height: u32) -> Vec<u8> {
    let mut state: u32 = 0x9E37_79B9;
    let img = RgbImage::from_fn(width, height, |_, _| {
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state & 0xff) as u8
        };
        Rgb([next(), next(), next()])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png)
        .expect("encode png");
    out.into_inner()
}
