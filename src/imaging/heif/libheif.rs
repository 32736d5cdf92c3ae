//! The few libheif objects the module uses, each owned by a struct that
//! frees it; all of the module's unsafe code is here. libheif-sys 1.14.2's
//! declarations, run against libheif 1.15.

use std::ffi::{CStr, c_int};
use std::marker::PhantomData;
use std::ptr::{self, NonNull};
use std::sync::OnceLock;

use libheif_sys as lh;

use crate::imaging::ImagingError;
use crate::imaging::raster::Layout;

/// A failed libheif call, copied out of libheif's error struct.
#[derive(Debug)]
pub(super) struct Failure {
    pub(super) code: lh::heif_error_code,
    pub(super) subcode: lh::heif_suberror_code,
    pub(super) message: String,
}

impl Failure {
    fn check(error: lh::heif_error) -> Result<(), Failure> {
        if error.code == lh::heif_error_code_heif_error_Ok {
            return Ok(());
        }
        let message = if error.message.is_null() {
            String::new()
        } else {
            // SAFETY: libheif's messages are NUL-terminated strings that live
            // at least as long as the context or handle that returned them.
            unsafe { CStr::from_ptr(error.message) }
                .to_string_lossy()
                .trim()
                .to_owned()
        };
        Err(Failure {
            code: error.code,
            subcode: error.subcode,
            message,
        })
    }

    pub(super) fn message_or(&self, fallback: &str) -> String {
        if self.message.is_empty() {
            format!("{fallback} (libheif error {}.{})", self.code, self.subcode)
        } else {
            self.message.clone()
        }
    }

    /// For a call that returned NULL without saying why.
    fn null(code: lh::heif_error_code, message: &str) -> Failure {
        Failure {
            code,
            subcode: lh::heif_suberror_code_heif_suberror_Unspecified,
            message: message.into(),
        }
    }
}

pub(super) fn have_decoder(format: lh::heif_compression_format) -> bool {
    init();
    // SAFETY: a plain query of libheif's decoder registry.
    unsafe { lh::heif_have_decoder_for_format(format) != 0 }
}

/// heif_init loads decoder plugins (libheif 1.16+; 1.15 has its decoders
/// built in and registered at load). Once per process, never undone.
fn init() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        // SAFETY: heif_init ignores its argument in 1.15 and accepts NULL
        // later; a failure (a plugin that does not load) leaves the decoders
        // that did load, which `check_codec` then asks about.
        let _ = unsafe { lh::heif_init(ptr::null_mut()) };
    });
}

/// Largest side libheif accepts at all (its MAX_IMAGE_WIDTH/HEIGHT).
const LIBHEIF_MAX_SIDE: u32 = 32768;

/// A libheif context reading `data` in place (no copy): it borrows it.
pub(super) struct Context<'a> {
    raw: NonNull<lh::heif_context>,
    data: PhantomData<&'a [u8]>,
}

impl<'a> Context<'a> {
    /// Parses the container: boxes and item properties, no pixels.
    pub(super) fn read(data: &'a [u8]) -> Result<Context<'a>, Failure> {
        init();
        // SAFETY: allocation only; NULL is handled.
        let raw = NonNull::new(unsafe { lh::heif_context_alloc() }).ok_or_else(|| {
            Failure::null(
                lh::heif_error_code_heif_error_Memory_allocation_error,
                "no context",
            )
        })?;
        let context = Context {
            raw,
            data: PhantomData,
        };
        // SAFETY: the context is valid; `data` outlives it (the lifetime),
        // and libheif only reads it. Tiles are decoded one after the other on
        // this thread (0 threads): the jobs' semaphore already counts cores.
        unsafe {
            lh::heif_context_set_max_decoding_threads(context.raw.as_ptr(), 0);
            Failure::check(lh::heif_context_read_from_memory_without_copy(
                context.raw.as_ptr(),
                data.as_ptr().cast(),
                data.len(),
                ptr::null(),
            ))
        }?;
        Ok(context)
    }

    /// Caps the width and height of every canvas libheif allocates from now
    /// on (grids and overlays are checked at decoding time, `>=`).
    pub(super) fn limit_side(&self, side: u32) {
        let limit = side.saturating_add(1).min(LIBHEIF_MAX_SIDE);
        let limit = c_int::try_from(limit).unwrap_or(c_int::MAX);
        // SAFETY: the context is valid; this sets two integers in it.
        unsafe { lh::heif_context_set_maximum_image_size_limit(self.raw.as_ptr(), limit) }
    }

    pub(super) fn primary_image(&self) -> Result<Handle<'_, 'a>, Failure> {
        let mut raw = ptr::null_mut();
        // SAFETY: the context is valid; on success libheif hands us a
        // reference to the handle, released in Drop.
        unsafe {
            Failure::check(lh::heif_context_get_primary_image_handle(
                self.raw.as_ptr(),
                &mut raw,
            ))
        }?;
        let raw = NonNull::new(raw).ok_or_else(|| {
            Failure::null(
                lh::heif_error_code_heif_error_Invalid_input,
                "no primary image",
            )
        })?;
        Ok(Handle {
            raw,
            context: PhantomData,
        })
    }
}

impl Drop for Context<'_> {
    fn drop(&mut self) {
        // SAFETY: allocated by heif_context_alloc, freed once.
        unsafe { lh::heif_context_free(self.raw.as_ptr()) }
    }
}

/// An image item of a context.
pub(super) struct Handle<'c, 'a> {
    raw: NonNull<lh::heif_image_handle>,
    context: PhantomData<&'c Context<'a>>,
}

impl Handle<'_, '_> {
    fn ptr(&self) -> *const lh::heif_image_handle {
        self.raw.as_ptr()
    }

    /// After the file's crop and rotation, as libheif will decode it.
    pub(super) fn size(&self) -> (u32, u32) {
        // SAFETY: getters on a valid handle.
        let (w, h) = unsafe {
            (
                lh::heif_image_handle_get_width(self.ptr()),
                lh::heif_image_handle_get_height(self.ptr()),
            )
        };
        (non_negative(w), non_negative(h))
    }

    /// The coded size ('ispe'), before transformations.
    pub(super) fn ispe_size(&self) -> (u32, u32) {
        // SAFETY: getters on a valid handle.
        let (w, h) = unsafe {
            (
                lh::heif_image_handle_get_ispe_width(self.ptr()),
                lh::heif_image_handle_get_ispe_height(self.ptr()),
            )
        };
        (non_negative(w), non_negative(h))
    }

    pub(super) fn has_alpha(&self) -> bool {
        // SAFETY: a getter on a valid handle.
        unsafe { lh::heif_image_handle_has_alpha_channel(self.ptr()) != 0 }
    }

    /// From the codec configuration ('hvcC', 'av1C'); -1 for other codecs.
    pub(super) fn luma_bits(&self) -> i32 {
        // SAFETY: a getter on a valid handle.
        unsafe { lh::heif_image_handle_get_luma_bits_per_pixel(self.ptr()) }
    }

    pub(super) fn icc_profile(&self) -> Option<Vec<u8>> {
        // SAFETY: a getter on a valid handle; 0 when there is no ICC profile.
        let size = unsafe { lh::heif_image_handle_get_raw_color_profile_size(self.ptr()) };
        if size == 0 {
            return None;
        }
        let mut icc = vec![0u8; size];
        // SAFETY: `icc` has the `size` bytes libheif copies into it.
        unsafe {
            Failure::check(lh::heif_image_handle_get_raw_color_profile(
                self.ptr(),
                icc.as_mut_ptr().cast(),
            ))
        }
        .ok()?;
        Some(icc)
    }

    /// The primaries of the item's nclx 'colr' box, if it has one.
    pub(super) fn nclx_primaries(&self) -> Option<u16> {
        let mut nclx = ptr::null_mut();
        // SAFETY: on success libheif allocates the profile, which is read
        // once and freed here.
        unsafe {
            Failure::check(lh::heif_image_handle_get_nclx_color_profile(
                self.ptr(),
                &mut nclx,
            ))
            .ok()?;
            let nclx = NonNull::new(nclx)?;
            let primaries = nclx.as_ref().color_primaries;
            lh::heif_nclx_color_profile_free(nclx.as_ptr());
            u16::try_from(primaries).ok()
        }
    }

    pub(super) fn decode(&self, layout: Layout) -> Result<Image, Failure> {
        let chroma = match layout {
            Layout::Rgba => lh::heif_chroma_heif_chroma_interleaved_RGBA,
            _ => lh::heif_chroma_heif_chroma_interleaved_RGB,
        };
        let options = DecodingOptions::new()?;
        let mut raw = ptr::null_mut();
        // SAFETY: a valid handle and options allocated by libheif; on
        // success libheif hands us the image, released in Drop.
        unsafe {
            Failure::check(lh::heif_decode_image(
                self.ptr(),
                &mut raw,
                lh::heif_colorspace_heif_colorspace_RGB,
                chroma,
                options.raw.as_ptr(),
            ))
        }?;
        NonNull::new(raw).map(|raw| Image { raw }).ok_or_else(|| {
            Failure::null(
                lh::heif_error_code_heif_error_Decoder_plugin_error,
                "no image",
            )
        })
    }
}

impl Drop for Handle<'_, '_> {
    fn drop(&mut self) {
        // SAFETY: the reference libheif handed us, released once.
        unsafe { lh::heif_image_handle_release(self.ptr()) }
    }
}

fn non_negative(n: c_int) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

/// Decoding options from libheif's allocator (the struct grows between
/// versions): 10/12-bit images come out as 8 bits.
struct DecodingOptions {
    raw: NonNull<lh::heif_decoding_options>,
}

impl DecodingOptions {
    fn new() -> Result<DecodingOptions, Failure> {
        // SAFETY: allocation only; NULL is handled.
        let raw = NonNull::new(unsafe { lh::heif_decoding_options_alloc() }).ok_or_else(|| {
            Failure::null(
                lh::heif_error_code_heif_error_Memory_allocation_error,
                "no options",
            )
        })?;
        let mut options = DecodingOptions { raw };
        // SAFETY: libheif filled in a struct of at least `version`'s fields;
        // convert_hdr_to_8bit is a version 2 field.
        unsafe {
            let o = options.raw.as_mut();
            if o.version >= 2 {
                o.convert_hdr_to_8bit = 1;
            }
        }
        Ok(options)
    }
}

impl Drop for DecodingOptions {
    fn drop(&mut self) {
        // SAFETY: allocated by heif_decoding_options_alloc, freed once.
        unsafe { lh::heif_decoding_options_free(self.raw.as_ptr()) }
    }
}

/// A decoded image (independent of the context once decoded).
pub(super) struct Image {
    raw: NonNull<lh::heif_image>,
}

impl Image {
    /// The interleaved 8-bit plane, copied out without its row padding.
    pub(super) fn interleaved(&self, channels: usize) -> Result<(u32, u32, Vec<u8>), ImagingError> {
        let channel = lh::heif_channel_heif_channel_interleaved;
        let image = self.raw.as_ptr();
        let mut stride: c_int = 0;
        // SAFETY: getters on a valid image; the plane pointer is NULL when
        // the image has no interleaved plane, and is valid for
        // `stride * height` bytes while the image lives.
        let (width, height, bits, plane) = unsafe {
            (
                lh::heif_image_get_width(image, channel),
                lh::heif_image_get_height(image, channel),
                lh::heif_image_get_bits_per_pixel_range(image, channel),
                lh::heif_image_get_plane_readonly(image, channel, &mut stride),
            )
        };
        let bad = |what: &str| ImagingError::Decode(format!("libheif returned {what}"));
        if plane.is_null() || bits != 8 {
            return Err(bad("no 8-bit interleaved plane"));
        }
        let (Ok(w), Ok(h), Ok(stride)) = (
            usize::try_from(width),
            usize::try_from(height),
            usize::try_from(stride),
        ) else {
            return Err(bad("a negative size"));
        };
        let row = w.checked_mul(channels).ok_or_else(|| bad("a huge row"))?;
        let total = row.checked_mul(h).ok_or_else(|| bad("a huge image"))?;
        if stride < row {
            return Err(bad("rows shorter than the image"));
        }
        let mut pixels = Vec::new();
        pixels
            .try_reserve_exact(total)
            .map_err(|_| ImagingError::Decode("out of memory for the decoded image".into()))?;
        for y in 0..h {
            // SAFETY: row `y` starts at `y * stride` and has `row <= stride`
            // bytes, inside the plane's `stride * height` bytes.
            let line = unsafe { std::slice::from_raw_parts(plane.add(y * stride), row) };
            pixels.extend_from_slice(line);
        }
        Ok((non_negative(width), non_negative(height), pixels))
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        // SAFETY: the image libheif handed us, released once.
        unsafe { lh::heif_image_release(self.raw.as_ptr()) }
    }
}
