//! Property tests of the imaging pipeline against hostile input: arbitrary
//! bytes, and valid images of every accepted format (JPEG, PNG, WebP lossy,
//! lossless and animated, GIF still and animated, BMP, TIFF) with bytes
//! flipped, cut, spliced and size fields rewritten. `sniff`, `probe` and `make_thumbnails` must never panic,
//! must refuse what they cannot handle with an error, and must never
//! allocate more than the pixel limit allows, whatever the header claims.
//!
//! A tracking global allocator records the largest single allocation per
//! thread (and process-wide, for the decoder's worker threads). The number
//! of cases is proptest's default (256, or `PROPTEST_CASES`); inputs are at
//! most a few tens of KiB, so the suite runs in seconds.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Cursor;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use image::{DynamicImage, ImageBuffer, ImageFormat, Luma, Rgb, RgbImage, Rgba, RgbaImage};
use image_vault::imaging::{
    ImageKind, ImagingError, SNIFF_LEN, ThumbnailSpec, make_thumbnails, probe, sniff,
};
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// Allocation tracking

struct Tracking;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static THREAD_LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    LARGEST.fetch_max(size, Ordering::Relaxed);
    // A const thread-local without a destructor: no allocation, no recursion.
    let _ = THREAD_LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
}

// SAFETY: forwards every call to the system allocator unchanged.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

/// The pixel limit the properties run with.
const MAX_PIXELS: u64 = 4_000_000;

/// No single allocation may exceed this. The widest legitimate buffer is a
/// 16-bit RGBA PNG at the pixel limit (8 bytes a pixel, 32 MB) plus the PNG
/// decoder's 64 MiB headroom; a decoder trusting a header's size would ask
/// for gigabytes.
const MAX_ALLOCATION: usize = 8 * MAX_PIXELS as usize + (64 << 20) + (16 << 20);

/// Runs `f` and returns its result with the largest allocation it made on
/// this thread.
fn measured<T>(f: impl FnOnce() -> T) -> (T, usize) {
    THREAD_LARGEST.with(|largest| largest.set(0));
    let result = f();
    (result, THREAD_LARGEST.with(Cell::get))
}

// ---------------------------------------------------------------------------
// Seeds: small valid images of each kind and layout we accept

fn encode(image: DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).expect("encode seed");
    out.into_inner()
}

fn gradient(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        Rgb([
            (x * 255 / width) as u8,
            (y * 255 / height) as u8,
            (x ^ y) as u8,
        ])
    })
}

/// A TIFF structure with one IFD entry: orientation 6.
fn exif_orientation_6() -> Vec<u8> {
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
    tiff.extend_from_slice(&[0, 1]); // one entry
    tiff.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0]);
    tiff.extend_from_slice(&[0, 0, 0, 0]); // no next IFD
    tiff
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for &b in bytes {
        crc ^= u32::from(b);
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

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
    chunk.extend_from_slice(kind);
    chunk.extend_from_slice(data);
    let crc = crc32(&chunk[4..]);
    chunk.extend_from_slice(&crc.to_be_bytes());
    chunk
}

fn seeds() -> &'static [Vec<u8>] {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let jpeg = encode(gradient(96, 64).into(), ImageFormat::Jpeg);
        let mut rotated = jpeg[..2].to_vec();
        let app1 = [&b"Exif\0\0"[..], &exif_orientation_6()].concat();
        rotated.extend_from_slice(&[0xFF, 0xE1]);
        rotated.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
        rotated.extend_from_slice(&app1);
        rotated.extend_from_slice(&jpeg[2..]);

        let rgba = RgbaImage::from_fn(48, 32, |x, y| {
            Rgba([x as u8 * 5, y as u8 * 7, 90, (x * 8) as u8])
        });
        let png = encode(rgba.into(), ImageFormat::Png);
        let mut png_exif = png[..33].to_vec();
        png_exif.extend_from_slice(&png_chunk(b"eXIf", &exif_orientation_6()));
        png_exif.extend_from_slice(&png[33..]);

        let deep: ImageBuffer<Rgb<u16>, Vec<u16>> =
            ImageBuffer::from_fn(24, 24, |x, y| Rgb([x as u16 * 2000, y as u16 * 2000, 7]));
        let gray = ImageBuffer::from_fn(30, 20, |x, y| Luma([(x * y) as u8]));
        let small = DynamicImage::ImageRgb8(gradient(40, 30));
        vec![
            jpeg,
            rotated,
            encode(DynamicImage::ImageLuma8(gray.clone()), ImageFormat::Jpeg),
            png,
            png_exif,
            encode(DynamicImage::ImageRgb16(deep), ImageFormat::Png),
            encode(DynamicImage::ImageLuma8(gray.clone()), ImageFormat::Png),
            encode(small.clone(), ImageFormat::Gif),
            encode(small.clone(), ImageFormat::Bmp),
            encode(small.clone(), ImageFormat::Tiff),
            encode(DynamicImage::ImageLuma8(gray), ImageFormat::Tiff),
            encode(small, ImageFormat::WebP),
            // Made by Pillow (tests/fixtures/formats): a lossy WebP and two
            // animations.
            include_bytes!("fixtures/formats/lossy.webp").to_vec(),
            include_bytes!("fixtures/formats/animated.webp").to_vec(),
            include_bytes!("fixtures/formats/animated.gif").to_vec(),
        ]
    })
}

fn spec() -> ThumbnailSpec {
    ThumbnailSpec {
        heights: vec![40, 16],
        jpeg_quality: 80,
        max_pixels: MAX_PIXELS,
    }
}

// ---------------------------------------------------------------------------
// Mutations

#[derive(Clone, Debug)]
enum Mutation {
    /// XOR one byte with a non-zero mask.
    Flip { at: usize, mask: u8 },
    /// Cut the file short.
    Truncate { at: usize },
    /// Copy a run of bytes from another seed over this one.
    Splice {
        at: usize,
        seed: usize,
        from: usize,
        len: usize,
    },
    /// Insert bytes.
    Insert { at: usize, bytes: Vec<u8> },
    /// Remove a run of bytes.
    Remove { at: usize, len: usize },
    /// Write a big-endian 16- or 32-bit value: sizes and lengths.
    Number { at: usize, value: u32, wide: bool },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = 0..100_000usize;
    prop_oneof![
        4 => (at.clone(), 1..=255u8).prop_map(|(at, mask)| Mutation::Flip { at, mask }),
        1 => at.clone().prop_map(|at| Mutation::Truncate { at }),
        2 => (at.clone(), 0..16usize, 0..100_000usize, 1..512usize)
            .prop_map(|(at, seed, from, len)| Mutation::Splice { at, seed, from, len }),
        1 => (at.clone(), proptest::collection::vec(any::<u8>(), 1..64))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        1 => (at.clone(), 1..256usize).prop_map(|(at, len)| Mutation::Remove { at, len }),
        2 => (at, any::<u32>(), any::<bool>())
            .prop_map(|(at, value, wide)| Mutation::Number { at, value, wide }),
    ]
}

fn apply(mut bytes: Vec<u8>, mutation: &Mutation) -> Vec<u8> {
    let position = |at: usize, len: usize| if len == 0 { 0 } else { at % len };
    match *mutation {
        Mutation::Flip { at, mask } => {
            if !bytes.is_empty() {
                let at = position(at, bytes.len());
                bytes[at] ^= mask;
            }
        }
        Mutation::Truncate { at } => bytes.truncate(position(at, bytes.len() + 1)),
        Mutation::Splice {
            at,
            seed,
            from,
            len,
        } => {
            let donor = &seeds()[seed % seeds().len()];
            let from = position(from, donor.len());
            let run = &donor[from..(from + len).min(donor.len())];
            let at = position(at, bytes.len() + 1);
            let end = (at + run.len()).min(bytes.len());
            bytes.splice(at..end, run.iter().copied());
        }
        Mutation::Insert {
            at,
            bytes: ref inserted,
        } => {
            let at = position(at, bytes.len() + 1);
            bytes.splice(at..at, inserted.iter().copied());
        }
        Mutation::Remove { at, len } => {
            let at = position(at, bytes.len() + 1);
            let end = (at + len).min(bytes.len());
            bytes.drain(at..end);
        }
        Mutation::Number { at, value, wide } => {
            let encoded = if wide {
                value.to_be_bytes().to_vec()
            } else {
                (value as u16).to_be_bytes().to_vec()
            };
            if bytes.len() >= encoded.len() {
                let at = position(at, bytes.len() - encoded.len() + 1);
                bytes[at..at + encoded.len()].copy_from_slice(&encoded);
            }
        }
    }
    bytes
}

/// A seed with one to eight mutations applied.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    (
        0..seeds().len(),
        proptest::collection::vec(mutation(), 1..8),
    )
        .prop_map(|(seed, mutations)| mutations.iter().fold(seeds()[seed].clone(), apply))
}

/// Arbitrary bytes, most of them behind a signature so that they get past
/// the sniffing.
fn arbitrary() -> impl Strategy<Value = Vec<u8>> {
    let magic = prop_oneof![
        Just(Vec::new()),
        Just(vec![0xFF, 0xD8, 0xFF]),
        Just(b"\x89PNG\r\n\x1a\n".to_vec()),
        Just(b"GIF89a".to_vec()),
        Just(b"RIFF\xf0\x0f\0\0WEBPVP8L".to_vec()),
        Just(b"BM".to_vec()),
        Just(b"II*\0".to_vec()),
    ];
    (magic, proptest::collection::vec(any::<u8>(), 0..4096))
        .prop_map(|(magic, rest)| [magic, rest].concat())
}

// ---------------------------------------------------------------------------
// The properties

/// Everything that one input must satisfy.
fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    let sniffed = sniff(&bytes[..bytes.len().min(SNIFF_LEN)]);

    let (probed, largest) = measured(|| probe(Cursor::new(bytes), MAX_PIXELS));
    // The TIFF decoder reads tag values (strip tables) of up to 1 MiB.
    prop_assert!(largest <= 2 << 20, "probe allocated {largest} bytes");
    if let Ok(info) = &probed {
        prop_assert_eq!(Ok(info.kind), sniffed.clone());
        prop_assert!(u64::from(info.width) * u64::from(info.height) <= MAX_PIXELS);
        prop_assert!(info.width > 0 && info.height > 0);
    }

    let spec = spec();
    let (made, largest) = measured(|| make_thumbnails(bytes, &spec));
    prop_assert!(
        largest <= MAX_ALLOCATION,
        "make_thumbnails allocated {largest} bytes"
    );
    // Decoders may also allocate on worker threads of their own; this one
    // is process-wide, so a failure may come from a case run alongside.
    let anywhere = LARGEST.load(Ordering::Relaxed);
    prop_assert!(
        anywhere <= MAX_ALLOCATION,
        "an allocation of {anywhere} bytes somewhere"
    );
    match made {
        Ok(thumbnails) => {
            // What makes thumbnails passes the upload check too.
            let info = probed.map_err(|e| TestCaseError::fail(format!("probe refused: {e}")))?;
            prop_assert_eq!(thumbnails.len(), spec.heights.len());
            for (thumbnail, &requested) in thumbnails.iter().zip(&spec.heights) {
                prop_assert_eq!(thumbnail.height, requested);
                match info.kind {
                    ImageKind::Jpeg | ImageKind::Png => prop_assert_eq!(thumbnail.kind, info.kind),
                    _ => prop_assert!(matches!(thumbnail.kind, ImageKind::Jpeg | ImageKind::Png)),
                }
                prop_assert!(thumbnail.actual_height <= requested.min(info.height));
                prop_assert!(thumbnail.width >= 1 && thumbnail.width <= info.width);
                prop_assert_eq!(sniff(&thumbnail.bytes), Ok(thumbnail.kind));
            }
        }
        Err(ImagingError::TooManyPixels { width, height, max }) => {
            prop_assert!(u64::from(width) * u64::from(height) > max);
        }
        Err(_) => {}
    }
    Ok(())
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_or_allocate_unboundedly(bytes in arbitrary()) {
        check(&bytes)?;
    }

    #[test]
    fn mutated_images_never_panic_or_allocate_unboundedly(bytes in mutated()) {
        check(&bytes)?;
    }

    /// A frame header or IHDR may claim any size: the limit is enforced from
    /// the header, before anything the size of the image is allocated.
    #[test]
    fn declared_sizes_are_checked_before_decoding(
        seed in 0..11usize,
        width in 1..=65_535u32,
        height in 1..=65_535u32,
    ) {
        let mut bytes = seeds()[seed].clone();
        match sniff(&bytes[..SNIFF_LEN]).expect("a seed sniffs") {
            ImageKind::Jpeg => {
                let sof = (2..bytes.len() - 1)
                    .find(|&i| bytes[i] == 0xFF && matches!(bytes[i + 1], 0xC0..=0xC2))
                    .expect("a frame header");
                bytes[sof + 5..sof + 7].copy_from_slice(&(height as u16).to_be_bytes());
                bytes[sof + 7..sof + 9].copy_from_slice(&(width as u16).to_be_bytes());
            }
            ImageKind::Png => {
                bytes[16..20].copy_from_slice(&width.to_be_bytes());
                bytes[20..24].copy_from_slice(&height.to_be_bytes());
                let crc = crc32(&bytes[12..29]);
                bytes[29..33].copy_from_slice(&crc.to_be_bytes());
            }
            ImageKind::Gif => {
                // The logical screen; the frame inside it keeps its size.
                bytes[6..8].copy_from_slice(&(width as u16).to_le_bytes());
                bytes[8..10].copy_from_slice(&(height as u16).to_le_bytes());
            }
            ImageKind::Bmp => {
                bytes[18..22].copy_from_slice(&width.to_le_bytes());
                bytes[22..26].copy_from_slice(&height.to_le_bytes());
            }
            ImageKind::Tiff => {
                // Little-endian, as `image` writes it: the directory's
                // ImageWidth and ImageLength entries.
                let ifd = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
                let count = u16::from_le_bytes([bytes[ifd], bytes[ifd + 1]]) as usize;
                for entry in (0..count).map(|i| ifd + 2 + 12 * i) {
                    let tag = u16::from_le_bytes([bytes[entry], bytes[entry + 1]]);
                    let kind = u16::from_le_bytes([bytes[entry + 2], bytes[entry + 3]]);
                    let value = match tag {
                        256 => width,
                        257 => height,
                        _ => continue,
                    };
                    if kind == 3 {
                        bytes[entry + 8..entry + 10].copy_from_slice(&(value as u16).to_le_bytes());
                    } else {
                        bytes[entry + 8..entry + 12].copy_from_slice(&value.to_le_bytes());
                    }
                }
            }
            other => panic!("no size rewriting for {other:?}"),
        }
        let over = u64::from(width) * u64::from(height) > MAX_PIXELS;
        let probed = probe(Cursor::new(&bytes), MAX_PIXELS);
        prop_assert_eq!(
            matches!(probed, Err(ImagingError::TooManyPixels { .. })),
            over,
            "{:?}", probed
        );
        check(&bytes)?;
    }
}

#[test]
fn the_seeds_are_valid_images() {
    for (index, seed) in seeds().iter().enumerate() {
        let thumbnails =
            make_thumbnails(seed, &spec()).unwrap_or_else(|e| panic!("seed {index}: {e}"));
        assert_eq!(thumbnails.len(), 2, "seed {index}");
    }
    // The seeds of the size test, in its order.
    let kinds: Vec<ImageKind> = seeds()[..11]
        .iter()
        .map(|s| sniff(&s[..SNIFF_LEN]).expect("sniffs"))
        .collect();
    for kind in [ImageKind::Gif, ImageKind::Bmp, ImageKind::Tiff] {
        assert!(kinds.contains(&kind), "{kinds:?}");
    }
}

#[test]
fn the_allocation_tracker_sees_large_buffers() {
    let (buffer, largest) = measured(|| vec![0u8; 10 << 20]);
    assert!(largest >= buffer.len(), "{largest}");
}
