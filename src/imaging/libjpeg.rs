//! JPEG decoding with libjpeg-turbo's decoder (as vendored by `mozjpeg-sys`,
//! built from C with the `cc` crate: no system library, no assembler).
//!
//! Why: a thumbnail needs a fraction of a photo's pixels, and libjpeg scales
//! in the inverse DCT to any `n/8` (accurate islow-based reduced IDCTs) with
//! the chroma planes scaled *up* in their IDCT instead of decoded small and
//! upsampled, on the calling thread. That lets the kernel decode a
//! 4000x3000 photo at 1/4 for its 400 px thumbnail at the quality of a full
//! decode resized (see BENCHMARKS.md, "Kernel (issue 14)").
//!
//! Strictness: every libjpeg warning stops the decode (as libjpeg-turbo's
//! `TJFLAG_STOPONWARNING`): corrupt entropy data, a premature end, extraneous
//! bytes. A stopped decode is reported as [`Stop`]; the caller then decodes
//! the file with jpeg-decoder, which accepts or refuses it as before, so a
//! file that libjpeg finds odd is neither lost nor half-decoded.
//! libjpeg's `error_exit` unwinds (`C-unwind`, the library is built with
//! `-fexceptions`) to [`decode`], which frees the decoder on the way out.

use std::ffi::{c_int, c_long, c_uint};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use mozjpeg_sys as ffi;

/// The largest `n` of `n/8` tried before decoding at full size.
const FULL: u32 = 8;

/// A decoded JPEG: 8-bit grey (1 channel) or RGB (3), rows top to bottom.
pub(super) struct Decoded {
    pub width: u32,
    pub height: u32,
    pub channels: u8,
    pub pixels: Vec<u8>,
    /// The embedded ICC profile, reassembled from its APP2 chunks.
    pub icc: Option<Vec<u8>>,
}

/// Why libjpeg did not decode a file.
#[derive(Debug)]
pub(super) enum Stop {
    /// A colour space left to jpeg-decoder (CMYK, YCCK: its conversions and
    /// Adobe handling are the ones the tests pin down).
    ColourSpace,
    /// libjpeg's error or warning, in its own words.
    Libjpeg { code: c_int, message: String },
    /// The output would exceed the caller's bound.
    TooLarge,
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::ColourSpace => f.write_str("colour space left to jpeg-decoder"),
            Stop::Libjpeg { code, message } => write!(f, "libjpeg {code}: {message}"),
            Stop::TooLarge => f.write_str("larger than the pixel limit"),
        }
    }
}

/// The unwinding payload of `error_exit`.
struct Unwound(Stop);

/// The smallest `n` (of `n/8`) whose scaled size is at least `need` on both
/// axes, or 8 (full size). libjpeg rounds scaled sizes up, as here.
pub(super) fn eighths(width: u32, height: u32, need: (u32, u32)) -> u32 {
    let scaled = |len: u32, n: u32| (u64::from(len) * u64::from(n)).div_ceil(8);
    (1..FULL)
        .find(|&n| scaled(width, n) >= u64::from(need.0) && scaled(height, n) >= u64::from(need.1))
        .unwrap_or(FULL)
}

/// Decodes `data` scaled by `n/8` (see [`eighths`]) to grey or RGB.
/// `max_bytes` bounds the output and libjpeg's own large allocations (a
/// progressive file's coefficients).
pub(super) fn decode(data: &[u8], n: u32, max_bytes: u64) -> Result<Decoded, Stop> {
    let mut decoder = Decompress::new()?;
    catching(|| decoder.run(data, n, max_bytes))
    // `decoder` is dropped here, after the unwind: libjpeg frees its pools.
}

/// Runs `f`, turning an unwind from libjpeg's hooks into its [`Stop`].
fn catching<T>(f: impl FnOnce() -> Result<T, Stop>) -> Result<T, Stop> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => match payload.downcast::<Unwound>() {
            Ok(unwound) => Err(unwound.0),
            // Not ours (a bug): let it carry on to the kernel's own guard.
            Err(other) => resume_unwind(other),
        },
    }
}

/// A libjpeg decompressor with our error manager; both are boxed because
/// libjpeg keeps pointers to them.
struct Decompress {
    cinfo: Box<ffi::jpeg_decompress_struct>,
    _err: Box<ffi::jpeg_error_mgr>,
}

impl Decompress {
    fn new() -> Result<Self, Stop> {
        // SAFETY: both structs are plain C data for which all-zero is the
        // state libjpeg expects before `jpeg_std_error`/`jpeg_create_*`.
        let mut err: Box<ffi::jpeg_error_mgr> = Box::new(unsafe { std::mem::zeroed() });
        let mut cinfo: Box<ffi::jpeg_decompress_struct> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: `err` outlives `cinfo`'s use of it (both owned by Self,
        // `cinfo` destroyed first in Drop).
        unsafe {
            cinfo.common.err = ffi::jpeg_std_error(&mut err);
        }
        err.error_exit = Some(error_exit);
        err.emit_message = Some(emit_message);
        catching(|| {
            // SAFETY: `cinfo` is zeroed with its error manager set.
            unsafe { ffi::jpeg_create_decompress(&mut *cinfo) };
            Ok(())
        })?;
        Ok(Decompress { cinfo, _err: err })
    }

    fn run(&mut self, data: &[u8], n: u32, max_bytes: u64) -> Result<Decoded, Stop> {
        let len = c_uint::try_from(data.len()).map_err(|_| Stop::TooLarge)?;
        let cinfo = &mut *self.cinfo;
        // SAFETY: `data` outlives the decode (it ends before `run` returns;
        // Drop does not read the source). Every call below may unwind with
        // `Unwound` through `error_exit`, which `decode` catches.
        unsafe {
            // libjpeg's "virtual arrays" (whole-image
            // coefficient buffers) count against this; jmemnobs has no
            // backing store, so a file needing more is an error.
            (*cinfo.common.mem).max_memory_to_use =
                c_long::try_from(max_bytes).unwrap_or(c_long::MAX);
            ffi::jpeg_mem_src(cinfo, data.as_ptr(), len.into());
            ffi::jpeg_save_markers(cinfo, ffi::jpeg_marker::APP0 as c_int + 2, 0xFFFF);
            ffi::jpeg_read_header(cinfo, 1);
        }
        let (out_space, channels) = match cinfo.jpeg_color_space {
            ffi::J_COLOR_SPACE::JCS_GRAYSCALE if cinfo.num_components == 1 => {
                (ffi::J_COLOR_SPACE::JCS_GRAYSCALE, 1u8)
            }
            ffi::J_COLOR_SPACE::JCS_YCbCr | ffi::J_COLOR_SPACE::JCS_RGB
                if cinfo.num_components == 3 =>
            {
                (ffi::J_COLOR_SPACE::JCS_RGB, 3)
            }
            _ => return Err(Stop::ColourSpace),
        };
        cinfo.out_color_space = out_space;
        cinfo.scale_num = n.clamp(1, FULL);
        cinfo.scale_denom = FULL;
        cinfo.dct_method = ffi::J_DCT_METHOD::JDCT_ISLOW;
        cinfo.do_fancy_upsampling = 1;
        // SAFETY: header read, parameters set.
        unsafe { ffi::jpeg_calc_output_dimensions(cinfo) };
        let (width, height) = (cinfo.output_width, cinfo.output_height);
        let row = u64::from(width) * u64::from(channels);
        let total = row * u64::from(height);
        if total > max_bytes || cinfo.output_components != c_int::from(channels) {
            return Err(Stop::TooLarge);
        }
        let row = usize::try_from(row).map_err(|_| Stop::TooLarge)?;
        let total = usize::try_from(total).map_err(|_| Stop::TooLarge)?;
        let icc = icc_profile(cinfo);
        let mut pixels = vec![0u8; total];
        // SAFETY: `pixels` holds `height` rows of `row` bytes; libjpeg writes
        // at most the rows asked for, each `output_width * components` long.
        unsafe {
            ffi::jpeg_start_decompress(cinfo);
            let mut rows: Vec<*mut u8> = pixels
                .chunks_exact_mut(row)
                .map(|r| r.as_mut_ptr())
                .collect();
            while cinfo.output_scanline < height {
                let done = cinfo.output_scanline as usize;
                let left = height - cinfo.output_scanline;
                let got = ffi::jpeg_read_scanlines(cinfo, rows[done..].as_mut_ptr(), left);
                if got == 0 {
                    // Suspension cannot happen with a memory source; treat
                    // it as the end of the data rather than loop.
                    return Err(Stop::Libjpeg {
                        code: ffi::JWRN_JPEG_EOF as c_int,
                        message: "no scanlines returned".into(),
                    });
                }
            }
            ffi::jpeg_finish_decompress(cinfo);
        }
        Ok(Decoded {
            width,
            height,
            channels,
            pixels,
            icc,
        })
    }
}

impl Drop for Decompress {
    fn drop(&mut self) {
        // SAFETY: created in `new`; destroying frees every pool, whatever
        // state an unwind left the decoder in (libjpeg's documented recovery
        // after `error_exit`). It does not call `error_exit`.
        unsafe { ffi::jpeg_destroy_decompress(&mut self.cinfo) }
    }
}

/// The ICC profile from the saved APP2 markers (`ICC_PROFILE\0`, sequence
/// number, count, data), or none when the chunks are not one complete,
/// consistent set (as libjpeg's own `jpeg_read_icc_profile` decides).
fn icc_profile(cinfo: &ffi::jpeg_decompress_struct) -> Option<Vec<u8>> {
    const TAG: &[u8] = b"ICC_PROFILE\0";
    let mut chunks: Vec<(u8, u8, &[u8])> = Vec::new();
    let mut marker = cinfo.marker_list;
    while !marker.is_null() {
        // SAFETY: libjpeg's saved-marker list, alive until the decoder is
        // destroyed; `data` holds `data_length` bytes.
        let m = unsafe { &*marker };
        if m.marker == ffi::jpeg_marker::APP0 as u8 + 2 && !m.data.is_null() {
            let data = unsafe { std::slice::from_raw_parts(m.data, m.data_length as usize) };
            if let Some(rest) = data.strip_prefix(TAG)
                && let [seq, count, body @ ..] = rest
            {
                chunks.push((*seq, *count, body));
            }
        }
        marker = m.next;
    }
    let count = chunks.first()?.1;
    if count == 0 || chunks.len() != usize::from(count) || chunks.iter().any(|c| c.1 != count) {
        return None;
    }
    chunks.sort_unstable_by_key(|c| c.0);
    if chunks
        .iter()
        .enumerate()
        .any(|(i, c)| usize::from(c.0) != i + 1)
    {
        return None;
    }
    Some(chunks.iter().flat_map(|c| c.2.iter().copied()).collect())
}

/// libjpeg's fatal errors: unwind to [`decode`] with the message.
unsafe extern "C-unwind" fn error_exit(cinfo: &mut ffi::jpeg_common_struct) {
    let stop = stop_of(cinfo);
    // `resume_unwind`, not `panic!`: no panic hook, no message on stderr for
    // a corrupt upload.
    resume_unwind(Box::new(Unwound(stop)))
}

/// Warnings (`level` -1) stop the decode too; trace messages are ignored.
unsafe extern "C-unwind" fn emit_message(cinfo: &mut ffi::jpeg_common_struct, level: c_int) {
    if level < 0 {
        let stop = stop_of(cinfo);
        resume_unwind(Box::new(Unwound(stop)))
    }
}

fn stop_of(cinfo: &mut ffi::jpeg_common_struct) -> Stop {
    // SAFETY: libjpeg calls the error hooks with its error manager set.
    let err = unsafe { &*cinfo.err };
    let code = err.msg_code;
    let mut buffer = [0u8; 80];
    if let Some(format) = err.format_message {
        // The binding declares the buffer `&[u8; 80]`, but libjpeg writes
        // into it: call it through the C signature, a pointer.
        // SAFETY: same ABI (a pointer either way); libjpeg writes at most
        // JMSG_LENGTH_MAX (80) bytes, NUL included.
        unsafe {
            let format: unsafe extern "C-unwind" fn(&mut ffi::jpeg_common_struct, *mut u8) =
                std::mem::transmute(format);
            format(cinfo, buffer.as_mut_ptr());
        }
    }
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    Stop::Libjpeg {
        code,
        message: String::from_utf8_lossy(&buffer[..end]).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use image::{DynamicImage, ImageFormat, RgbImage};

    use super::*;

    /// A photo-like picture: gradients, hard edges and per-pixel grain.
    fn picture(width: u32, height: u32) -> RgbImage {
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        RgbImage::from_fn(width, height, |x, y| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let grain = (state >> 60) as u32;
            let edge = if (x / 37 + y / 23) % 2 == 0 { 60 } else { 0 };
            image::Rgb([
                ((x * 200 / width) + edge + grain) as u8,
                ((y * 200 / height) + grain) as u8,
                (((x + y) * 100 / (width + height)) + edge) as u8,
            ])
        })
    }

    fn jpeg(image: DynamicImage) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, ImageFormat::Jpeg).expect("encode");
        out.into_inner()
    }

    fn psnr(a: &[u8], b: &[u8]) -> f64 {
        assert_eq!(a.len(), b.len());
        let mse = a
            .iter()
            .zip(b)
            .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
            .sum::<f64>()
            / a.len() as f64;
        10.0 * (255.0 * 255.0 / mse.max(1e-9)).log10()
    }

    const LIMIT: u64 = 1 << 30;

    #[test]
    fn a_full_decode_matches_jpeg_decoder() {
        let bytes = jpeg(picture(321, 203).into());
        let ours = decode(&bytes, 8, LIMIT).expect("decode");
        assert_eq!((ours.width, ours.height, ours.channels), (321, 203, 3));
        let mut reference = jpeg_decoder::Decoder::new(bytes.as_slice());
        let pixels = reference.decode().expect("jpeg-decoder");
        // Both are IJG-accurate integer IDCTs with fancy upsampling; they
        // differ by rounding only.
        let db = psnr(&ours.pixels, &pixels);
        assert!(db > 40.0, "{db:.1} dB");
    }

    #[test]
    fn scaled_decodes_are_the_picture_made_smaller() {
        let image = picture(800, 600);
        let bytes = jpeg(image.clone().into());
        for n in [1, 2, 3, 4, 6] {
            let ours = decode(&bytes, n, LIMIT).expect("decode");
            let (w, h) = ((800 * n).div_ceil(8), (600 * n).div_ceil(8));
            assert_eq!((ours.width, ours.height), (w, h), "{n}/8");
            let small =
                image::imageops::resize(&image, w, h, image::imageops::FilterType::Triangle);
            let db = psnr(&ours.pixels, small.as_raw());
            assert!(db > 25.0, "{n}/8: {db:.1} dB");
        }
    }

    #[test]
    fn the_scale_is_the_smallest_that_covers_the_need() {
        assert_eq!(eighths(4000, 3000, (533, 400)), 2);
        assert_eq!(eighths(1920, 1080, (711, 400)), 3);
        assert_eq!(eighths(1200, 1600, (300, 400)), 2);
        assert_eq!(eighths(100, 100, (100, 100)), 8);
        assert_eq!(eighths(8, 8, (1, 1)), 1);
    }

    #[test]
    fn grey_stays_grey() {
        let grey = DynamicImage::ImageRgb8(picture(64, 48)).grayscale();
        let ours = decode(&jpeg(grey), 8, LIMIT).expect("decode");
        assert_eq!((ours.width, ours.height, ours.channels), (64, 48, 1));
        assert_eq!(ours.pixels.len(), 64 * 48);
    }

    #[test]
    fn warnings_and_errors_stop_the_decode() {
        let bytes = jpeg(picture(256, 256).into());
        // A premature end: libjpeg would pad with grey and warn.
        let cut = &bytes[..bytes.len() / 2];
        match decode(cut, 4, LIMIT) {
            Err(Stop::Libjpeg { code, message }) => {
                assert_eq!(code, ffi::JWRN_JPEG_EOF as c_int, "{message}");
                assert!(message.contains("Premature end"), "{message}");
            }
            other => panic!("{:?}", other.map(|d| d.width)),
        }
        // Corrupt entropy data.
        let mut corrupt = bytes.clone();
        let sos = corrupt
            .windows(2)
            .position(|w| w == [0xFF, 0xDA])
            .expect("SOS");
        for (i, b) in corrupt[sos + 20..bytes.len() - 2].iter_mut().enumerate() {
            if i % 7 == 0 {
                *b = 0xFF;
            }
        }
        assert!(matches!(
            decode(&corrupt, 4, LIMIT),
            Err(Stop::Libjpeg { .. })
        ));
        // Not a JPEG at all: an error, not a crash.
        assert!(matches!(
            decode(b"not a jpeg", 8, LIMIT),
            Err(Stop::Libjpeg { .. })
        ));
        assert!(matches!(decode(&[], 8, LIMIT), Err(Stop::Libjpeg { .. })));
    }

    #[test]
    fn cmyk_is_left_to_jpeg_decoder() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/formats/cmyk.jpg"
        );
        let bytes = std::fs::read(path).expect("fixture");
        assert!(matches!(decode(&bytes, 8, LIMIT), Err(Stop::ColourSpace)));
    }

    #[test]
    fn the_output_bound_is_kept() {
        let bytes = jpeg(picture(256, 256).into());
        assert!(matches!(
            decode(&bytes, 8, 256 * 256 * 3 - 1),
            Err(Stop::TooLarge)
        ));
        assert!(decode(&bytes, 8, 256 * 256 * 3).is_ok());
    }

    #[test]
    fn an_icc_profile_split_over_chunks_is_reassembled() {
        let bytes = jpeg(picture(32, 32).into());
        let profile: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
        let (first, second) = profile.split_at(60_000);
        let chunk = |seq: u8, body: &[u8]| {
            let mut payload = b"ICC_PROFILE\0".to_vec();
            payload.extend_from_slice(&[seq, 2]);
            payload.extend_from_slice(body);
            let mut segment = vec![0xFF, 0xE2];
            segment.extend_from_slice(
                &u16::try_from(payload.len() + 2)
                    .expect("fits")
                    .to_be_bytes(),
            );
            segment.extend(payload);
            segment
        };
        // Out of order on purpose.
        let mut with_icc = bytes[..2].to_vec();
        with_icc.extend(chunk(2, second));
        with_icc.extend(chunk(1, first));
        with_icc.extend_from_slice(&bytes[2..]);
        let ours = decode(&with_icc, 8, LIMIT).expect("decode");
        assert_eq!(ours.icc.as_deref(), Some(profile.as_slice()));
        // One chunk of two: no profile rather than half of one.
        let mut half = bytes[..2].to_vec();
        half.extend(chunk(1, first));
        half.extend_from_slice(&bytes[2..]);
        assert_eq!(decode(&half, 8, LIMIT).expect("decode").icc, None);
    }
}
