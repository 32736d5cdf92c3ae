//! Every format and colour space against references made by an independent
//! library: Pillow with LittleCMS (tests/fixtures/formats/make.py; its
//! README says how each file and reference was made). A thumbnail 100 px
//! high of each original must match the colour-managed reference within a
//! small error, have its size, orientation and frame count, and come out
//! as JPEG or PNG as the format and its alpha decide.

use std::path::{Path, PathBuf};

use image::{DynamicImage, GenericImageView};
use serde_json::Value;

use super::*;

const HEIGHT: u32 = 100;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/formats")
}

fn read(name: &str) -> Vec<u8> {
    let path = fixtures().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn manifest() -> Vec<Value> {
    let text = String::from_utf8(read("reference/manifest.json")).expect("utf-8");
    match serde_json::from_str(&text).expect("manifest") {
        Value::Array(entries) => entries,
        other => panic!("manifest is not a list: {other}"),
    }
}

/// Pixels are compared as the means of blocks of this size: colour is what
/// is checked, and a JPEG thumbnail's 4:2:0 chroma at the patches' sharp,
/// saturated edges would otherwise dominate (it caps even a plain sRGB
/// original at ~28 dB per pixel).
const BLOCK: u32 = 4;

/// PSNR of block means over the colour channels, where the reference is
/// opaque (Pillow leaves transparent pixels black), and over alpha.
fn psnr(made: &DynamicImage, reference: &DynamicImage) -> f64 {
    let (width, height) = reference.dimensions();
    let (mut sum, mut n) = (0.0f64, 0u64);
    for by in (0..height / BLOCK).map(|b| b * BLOCK) {
        for bx in (0..width / BLOCK).map(|b| b * BLOCK) {
            let mut got = [0.0f64; 4];
            let mut want = [0.0f64; 4];
            let mut transparent = false;
            for y in by..by + BLOCK {
                for x in bx..bx + BLOCK {
                    let (g, w) = (made.get_pixel(x, y).0, reference.get_pixel(x, y).0);
                    transparent |= w[3] < 255;
                    for c in 0..4 {
                        got[c] += f64::from(g[c]);
                        want[c] += f64::from(w[c]);
                    }
                }
            }
            let channels = if transparent { 3..4 } else { 0..4 };
            for c in channels {
                let d = (got[c] - want[c]) / f64::from(BLOCK * BLOCK);
                sum += d * d;
                n += 1;
            }
        }
    }
    let mse = sum / n.max(1) as f64;
    if mse == 0.0 {
        99.0
    } else {
        10.0 * (255.0 * 255.0 / mse).log10()
    }
}

/// What each file must reach, in dB. Without colour management the wide
/// gamut files score 17-28 dB per pixel (tests/fixtures/formats/README.md),
/// so these thresholds prove the conversion; a thumbnail encoded as JPEG is
/// held back by the encoder itself (~38 dB for a plain sRGB original), one
/// encoded as PNG only by resampling (60 dB and more).
fn threshold(file: &str, kind: ImageKind) -> f64 {
    match (file, kind) {
        // moxcms and LittleCMS interpolate a CMYK LUT profile differently
        // (naive CMYK conversion: 17 dB).
        (f, _) if f.starts_with("cmyk.") => 30.0,
        // Lossy sources decoded by another decoder.
        (f, _) if f.ends_with(".heic") || f.ends_with(".avif") => 30.0,
        (_, ImageKind::Png) => 55.0,
        _ => 35.0,
    }
}

#[test]
fn every_format_matches_its_colour_managed_reference() {
    let spec = ThumbnailSpec {
        heights: vec![HEIGHT],
        jpeg_quality: 100,
        max_pixels: 50_000_000,
    };
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for entry in manifest() {
        let file = entry["file"].as_str().expect("file");
        let original = read(file);
        let info = probe_bytes(&original, spec.max_pixels);
        let kind = match sniff(&original[..original.len().min(SNIFF_LEN)]) {
            Ok(kind) => kind,
            Err(e) => panic!("{file}: {e}"),
        };
        if !kind.is_decodable() {
            assert!(
                matches!(info, Err(ImagingError::NotBuilt { .. })),
                "{file}: {info:?}"
            );
            report.push(format!("{file}: not built ({kind:?})"));
            continue;
        }
        let info = info.unwrap_or_else(|e| panic!("{file}: {e}"));
        let number = |k: &str| entry[k].as_u64().unwrap_or_else(|| panic!("{file}: {k}"));
        assert_eq!(
            (u64::from(info.width), u64::from(info.height)),
            (number("width"), number("height")),
            "{file}: size as displayed"
        );
        assert_eq!(
            u64::from(info.frame_count),
            number("frame_count"),
            "{file}: frames"
        );
        let made = make_thumbnails(&original, &spec).unwrap_or_else(|e| panic!("{file}: {e}"));
        let thumbnail = &made[0];
        let expected_kind = match kind {
            ImageKind::Jpeg | ImageKind::Png => kind,
            _ if entry["has_alpha"] == Value::Bool(true) => ImageKind::Png,
            _ => ImageKind::Jpeg,
        };
        assert_eq!(thumbnail.kind, expected_kind, "{file}");
        let reference =
            image::load_from_memory(&read(entry["reference"].as_str().expect("reference")))
                .expect("reference decodes");
        let ours = image::load_from_memory(&thumbnail.bytes).expect("thumbnail decodes");
        assert_eq!(
            ours.dimensions(),
            reference.dimensions(),
            "{file}: thumbnail size"
        );
        let db = psnr(&ours, &reference);
        report.push(format!("{file}: {db:.1} dB"));
        let min = threshold(file, thumbnail.kind);
        if db < min {
            failures.push(format!("{file}: {db:.1} dB < {min}"));
        }
    }
    println!("{}", report.join("\n"));
    assert!(failures.is_empty(), "{failures:#?}\n{}", report.join("\n"));
}

/// A PNG without a profile but with `cHRM` and `gAMA` chunks describing
/// Adobe RGB is converted as its ICC twin is: the same pixels as the Adobe
/// RGB JPEG, taken without colour management, carry the chunks instead.
#[test]
fn png_chromaticities_and_gamma_are_honoured_like_a_profile() {
    let pixels = image::load_from_memory(&read("adobe-rgb.jpg"))
        .expect("decodes")
        .to_rgb8();
    let mut png = Vec::new();
    DynamicImage::ImageRgb8(pixels)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("png");
    let chunk = |kind: &[u8; 4], data: &[u8]| {
        let mut out = u32::try_from(data.len())
            .expect("small")
            .to_be_bytes()
            .to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&super::probe::crc32(&[kind, data]).to_be_bytes());
        out
    };
    // White D65, then red, green, blue: x and y times 100,000.
    let chrm: Vec<u8> = [
        31_270u32, 32_900, 64_000, 33_000, 21_000, 71_000, 15_000, 6_000,
    ]
    .iter()
    .flat_map(|v| v.to_be_bytes())
    .collect();
    // Adobe RGB's gamma is 563/256: gAMA holds its inverse times 100,000.
    let gama = 45_471u32.to_be_bytes();
    let mut tagged = png[..33].to_vec();
    tagged.extend(chunk(b"gAMA", &gama));
    tagged.extend(chunk(b"cHRM", &chrm));
    tagged.extend_from_slice(&png[33..]);

    let spec = ThumbnailSpec {
        heights: vec![HEIGHT],
        jpeg_quality: 100,
        max_pixels: 50_000_000,
    };
    let reference =
        image::load_from_memory(&read("reference/adobe-rgb.jpg.png")).expect("reference");
    let made = |bytes: &[u8]| {
        let thumbnail = make_thumbnails(bytes, &spec).expect("thumbnail").remove(0);
        image::load_from_memory(&thumbnail.bytes).expect("decodes")
    };
    let converted = psnr(&made(&tagged), &reference);
    let plain = psnr(&made(&png), &reference);
    assert!(
        converted > 40.0 && converted > plain + 10.0,
        "with the chunks {converted:.1} dB, without {plain:.1} dB"
    );
}
