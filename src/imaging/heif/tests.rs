//! Against small files with known pixels (tests/fixtures/heif/make.sh: 64x48,
//! left half (220, 40, 40), right half (40, 80, 200)).

use super::*;

const HEIC: &[u8] = include_bytes!("../../../tests/fixtures/heif/halves.heic");
const AVIF: &[u8] = include_bytes!("../../../tests/fixtures/heif/halves.avif");
const HEIC_10BIT: &[u8] = include_bytes!("../../../tests/fixtures/heif/halves10.heic");
const HEIC_ALPHA: &[u8] = include_bytes!("../../../tests/fixtures/heif/alpha.heic");
const AVIF_ALPHA: &[u8] = include_bytes!("../../../tests/fixtures/heif/alpha.avif");
const AVIF_P3_NCLX: &[u8] = include_bytes!("../../../tests/fixtures/heif/p3-nclx.avif");
const HEIC_ROT90: &[u8] = include_bytes!("../../../tests/fixtures/heif/rot90.heic");

const MAX_PIXELS: u64 = 50_000_000;
const LEFT: [u8; 3] = [220, 40, 40];
const RIGHT: [u8; 3] = [40, 80, 200];

/// Mean of each channel over the rectangle [x0, x1) x [y0, y1).
fn mean(raster: &Raster, (x0, y0, x1, y1): (u32, u32, u32, u32)) -> Vec<f64> {
    let channels = raster.data().len() / (raster.width() as usize * raster.height() as usize);
    let mut sums = vec![0u64; channels];
    for y in y0..y1 {
        for x in x0..x1 {
            let at = (y as usize * raster.width() as usize + x as usize) * channels;
            for (c, sum) in sums.iter_mut().enumerate() {
                *sum += u64::from(raster.data()[at + c]);
            }
        }
    }
    let n = f64::from((x1 - x0) * (y1 - y0));
    sums.into_iter().map(|s| s as f64 / n).collect()
}

#[track_caller]
fn assert_colour(raster: &Raster, region: (u32, u32, u32, u32), want: [u8; 3]) {
    let got = mean(raster, region);
    for c in 0..3 {
        assert!(
            (got[c] - f64::from(want[c])).abs() < 12.0,
            "mean of {region:?} is {got:?}, want about {want:?}"
        );
    }
}

/// Away from the edge between the halves, where lossy coding smears.
const LEFT_HALF: (u32, u32, u32, u32) = (2, 2, 26, 46);
const RIGHT_HALF: (u32, u32, u32, u32) = (38, 2, 62, 46);

#[test]
fn inspect_reads_size_and_alpha_from_the_container() {
    for (data, alpha) in [
        (HEIC, false),
        (AVIF, false),
        (HEIC_ALPHA, true),
        (AVIF_ALPHA, true),
    ] {
        let header = inspect(data, MAX_PIXELS).expect("inspect");
        assert_eq!((header.width, header.height), (64, 48));
        assert_eq!(header.has_alpha, alpha);
        // At least the planes and the interleaved output.
        assert!(header.decode_bytes >= 64 * 48 * (3 + 3), "{header:?}");
    }
}

#[test]
fn decode_gives_the_size_and_colours_put_in() {
    for data in [HEIC, AVIF] {
        let decoded = decode(data, MAX_PIXELS).expect("decode");
        let raster = &decoded.raster;
        assert_eq!((raster.width(), raster.height()), (64, 48));
        assert_eq!(raster.layout(), Layout::Rgb);
        assert_colour(raster, LEFT_HALF, LEFT);
        assert_colour(raster, RIGHT_HALF, RIGHT);
        assert_eq!(decoded.icc, None);
        assert_eq!(decoded.nclx_primaries, None);
    }
}

#[test]
fn ten_bit_heic_is_reduced_to_eight_bits() {
    let header = inspect(HEIC_10BIT, MAX_PIXELS).expect("inspect");
    // Two bytes a sample in libheif's planes.
    assert!(header.decode_bytes > inspect(HEIC, MAX_PIXELS).expect("inspect").decode_bytes);
    let decoded = decode(HEIC_10BIT, MAX_PIXELS).expect("decode");
    assert_eq!(decoded.raster.layout(), Layout::Rgb);
    assert_colour(&decoded.raster, LEFT_HALF, LEFT);
    assert_colour(&decoded.raster, RIGHT_HALF, RIGHT);
}

#[test]
fn alpha_comes_out_as_rgba() {
    for data in [HEIC_ALPHA, AVIF_ALPHA] {
        let raster = decode(data, MAX_PIXELS).expect("decode").raster;
        assert_eq!(raster.layout(), Layout::Rgba);
        assert_colour(&raster, (2, 2, 26, 20), LEFT);
        let opaque = mean(&raster, (2, 2, 62, 20))[3];
        let transparent = mean(&raster, (2, 28, 62, 46))[3];
        assert!(opaque > 245.0, "top alpha {opaque}");
        assert!(transparent < 10.0, "bottom alpha {transparent}");
    }
}

#[test]
fn rotation_in_the_container_is_applied() {
    let header = inspect(HEIC_ROT90, MAX_PIXELS).expect("inspect");
    assert_eq!((header.width, header.height), (48, 64));
    let raster = decode(HEIC_ROT90, MAX_PIXELS).expect("decode").raster;
    assert_eq!((raster.width(), raster.height()), (48, 64));
    // 90 degrees anticlockwise: the right half goes to the top.
    assert_colour(&raster, (2, 2, 46, 26), RIGHT);
    assert_colour(&raster, (2, 38, 46, 62), LEFT);
}

#[test]
fn nclx_display_p3_primaries_are_reported() {
    let decoded = decode(AVIF_P3_NCLX, MAX_PIXELS).expect("decode");
    assert_eq!(decoded.icc, None);
    assert_eq!(decoded.nclx_primaries, Some(12));
}

#[test]
fn too_many_pixels_are_refused_before_decoding() {
    let max = 64 * 48 - 1;
    let too_many = ImagingError::TooManyPixels {
        width: 64,
        height: 48,
        max,
    };
    for data in [HEIC, AVIF] {
        assert_eq!(inspect(data, max), Err(too_many.clone()));
        assert_eq!(decode(data, max).map(|_| ()), Err(too_many.clone()));
    }
    // A rotated image has its displayed size, not a square of its sides.
    assert!(inspect(HEIC_ROT90, 48 * 64).is_ok());
    let rotated = inspect(HEIC_ROT90, max).map(|_| ());
    assert!(
        matches!(
            rotated,
            Err(ImagingError::TooManyPixels {
                width: 48,
                height: 64,
                ..
            })
        ),
        "{rotated:?}"
    );
}

#[test]
fn truncated_files_are_refused_as_truncated() {
    for data in [HEIC, AVIF, HEIC_ALPHA, AVIF_ALPHA] {
        for len in [32, data.len() / 2, data.len() - 1] {
            let cut = &data[..len];
            let what = format!("{len} of {} bytes", data.len());
            assert_eq!(
                inspect(cut, MAX_PIXELS),
                Err(ImagingError::Truncated),
                "{what}"
            );
            let decoded = decode(cut, MAX_PIXELS).map(|_| ());
            assert_eq!(decoded, Err(ImagingError::Truncated), "{what}");
        }
    }
}

#[test]
fn box_sizes_past_the_end_mean_truncated() {
    assert!(!box_overruns(HEIC));
    assert!(box_overruns(&HEIC[..HEIC.len() - 1]));
    let ftyp = &HEIC[..28];
    assert!(!box_overruns(ftyp));
    // Part of a box header.
    assert!(box_overruns(&HEIC[..32]));
    // A 64-bit size, and a box that runs to the end.
    let large = [ftyp, &[0, 0, 0, 1], b"mdat", &100u64.to_be_bytes(), &[0; 4]].concat();
    assert!(box_overruns(&large));
    assert!(!box_overruns(
        &[ftyp, &[0, 0, 0, 0], b"mdat", &[0; 40]].concat()
    ));
    // Not HEIF, or malformed: left to libheif.
    assert!(!box_overruns(b"\x89PNG\r\n\x1a\n and more"));
    assert!(!box_overruns(&[ftyp, &[0, 0, 0, 4], b"mdat"].concat()));
}

/// The 'mdat' box's body: the coded data.
fn mdat_body(data: &[u8]) -> std::ops::Range<usize> {
    let at = data.windows(4).position(|w| w == b"mdat").expect("mdat");
    let size = u32::from_be_bytes(data[at - 4..at].try_into().expect("4 bytes")) as usize;
    at + 4..at - 4 + size
}

#[test]
fn corrupt_coded_data_is_an_error_or_a_picture_of_the_right_size() {
    // libde265 conceals damage rather than fail on much of it, as browsers
    // do (dav1d fails): what matters is no panic, no crash, no wrong size.
    for data in [HEIC, AVIF, HEIC_ALPHA, AVIF_ALPHA] {
        let body = mdat_body(data);
        let mut corrupt = data.to_vec();
        let middle = (body.start + body.end) / 2;
        for b in &mut corrupt[middle - 8..middle + 8] {
            *b = !*b;
        }
        match decode(&corrupt, MAX_PIXELS) {
            Ok(decoded) => {
                assert_eq!((decoded.raster.width(), decoded.raster.height()), (64, 48));
            }
            Err(e) => assert!(matches!(e, ImagingError::Decode(_)), "{e:?}"),
        }
    }
}

#[test]
fn what_is_not_heif_is_refused() {
    assert_eq!(inspect(b"", MAX_PIXELS), Err(ImagingError::Empty));
    let garbage = inspect(b"\x89PNG\r\n\x1a\n not heif at all", MAX_PIXELS);
    assert!(
        matches!(
            garbage,
            Err(ImagingError::UnsupportedFormat | ImagingError::Malformed(_))
        ),
        "{garbage:?}"
    );
    // The file type box and nothing else.
    let ftyp_only = inspect(&HEIC[..28], MAX_PIXELS);
    assert!(
        matches!(ftyp_only, Err(ImagingError::Malformed(_))),
        "{ftyp_only:?}"
    );
}

#[test]
fn brands_come_from_the_leading_ftyp_box() {
    assert!(brands(HEIC).contains(&b"heic"));
    assert!(brands(AVIF).contains(&b"avif"));
    assert!(!brands(AVIF).contains(&b"heic"));
    assert!(brands(b"").is_empty());
    // Cut inside the major brand.
    assert!(brands(b"\0\0\0\x10ftypav").is_empty());
}

#[test]
fn libheif_size_messages_are_parsed() {
    assert_eq!(
        parse_size("Image size 40000x100 exceeds the maximum image size 32768x32768"),
        Some((40000, 100))
    );
    assert_eq!(parse_size("something else"), None);
}

#[test]
fn this_libheif_decodes_hevc_and_av1() {
    assert!(have_decoder(
        lh::heif_compression_format_heif_compression_HEVC
    ));
    assert!(have_decoder(
        lh::heif_compression_format_heif_compression_AV1
    ));
}

/// The shared format fixtures (tests/fixtures/formats/README.md): 240x160,
/// the top-left 30x30 patch the only white one; alpha.avif has a fully
/// transparent disc of radius 28 around (165, 60).
mod format_fixtures {
    use super::*;

    const HEIC: &[u8] = include_bytes!("../../../tests/fixtures/formats/heic.heic");
    const AVIF: &[u8] = include_bytes!("../../../tests/fixtures/formats/avif.avif");
    const AVIF_ALPHA: &[u8] = include_bytes!("../../../tests/fixtures/formats/alpha.avif");

    const WHITE_PATCH: (u32, u32, u32, u32) = (4, 4, 26, 26);

    #[test]
    fn heic_and_avif_with_a_display_p3_profile_decode_with_it() {
        for data in [HEIC, AVIF] {
            let header = inspect(data, MAX_PIXELS).expect("inspect");
            assert_eq!(
                (header.width, header.height, header.has_alpha),
                (240, 160, false)
            );
            let decoded = decode(data, MAX_PIXELS).expect("decode");
            assert_eq!(
                (decoded.raster.width(), decoded.raster.height()),
                (240, 160)
            );
            assert_colour(&decoded.raster, WHITE_PATCH, [255, 255, 255]);
            let icc = decoded.icc.expect("an ICC profile");
            assert_eq!(&icc[36..40], b"acsp", "an ICC profile's signature");
            assert_eq!(decoded.nclx_primaries, None);
        }
    }

    #[test]
    fn avif_alpha_keeps_the_transparent_disc() {
        let header = inspect(AVIF_ALPHA, MAX_PIXELS).expect("inspect");
        assert_eq!(
            (header.width, header.height, header.has_alpha),
            (240, 160, true)
        );
        let decoded = decode(AVIF_ALPHA, MAX_PIXELS).expect("decode");
        let raster = &decoded.raster;
        assert_eq!(raster.layout(), Layout::Rgba);
        assert!(
            mean(raster, (155, 50, 175, 70))[3] < 10.0,
            "inside the disc"
        );
        assert!(mean(raster, WHITE_PATCH)[3] > 245.0, "the white patch");
        // Its nclx says BT.709 primaries: sRGB, nothing to report.
        assert_eq!((decoded.icc, decoded.nclx_primaries), (None, None));
    }
}
