//! Decoded 8-bit pixels and what we do to them: resize and orient.

use fast_image_resize::images::{Image as ResizedImage, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::metadata::Orientation;
use image::{DynamicImage, ExtendedColorType, ImageBuffer};

use super::ImagingError;

/// Channel layout of 8-bit interleaved pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    Luma,
    LumaAlpha,
    Rgb,
    Rgba,
}

impl Layout {
    fn channels(self) -> usize {
        match self {
            Layout::Luma => 1,
            Layout::LumaAlpha => 2,
            Layout::Rgb => 3,
            Layout::Rgba => 4,
        }
    }

    fn pixel_type(self) -> PixelType {
        match self {
            Layout::Luma => PixelType::U8,
            Layout::LumaAlpha => PixelType::U8x2,
            Layout::Rgb => PixelType::U8x3,
            Layout::Rgba => PixelType::U8x4,
        }
    }

    pub(crate) fn color_type(self) -> ExtendedColorType {
        match self {
            Layout::Luma => ExtendedColorType::L8,
            Layout::LumaAlpha => ExtendedColorType::La8,
            Layout::Rgb => ExtendedColorType::Rgb8,
            Layout::Rgba => ExtendedColorType::Rgba8,
        }
    }
}

/// An 8-bit image whose buffer length always matches its size and layout.
#[derive(Clone, Debug)]
pub(crate) struct Raster {
    width: u32,
    height: u32,
    layout: Layout,
    data: Vec<u8>,
}

impl Raster {
    pub(crate) fn new(
        width: u32,
        height: u32,
        layout: Layout,
        data: Vec<u8>,
    ) -> Result<Raster, ImagingError> {
        let expected = usize::try_from(width)
            .ok()
            .zip(usize::try_from(height).ok())
            .and_then(|(w, h)| w.checked_mul(h)?.checked_mul(layout.channels()));
        if expected != Some(data.len()) {
            return Err(ImagingError::Decode(format!(
                "decoder returned {} bytes for a {width}x{height} image",
                data.len()
            )));
        }
        Ok(Raster {
            width,
            height,
            layout,
            data,
        })
    }

    /// Takes a decoded image as is when it is 8-bit, and converts it to 8
    /// bits per channel otherwise (16-bit PNG), keeping alpha.
    pub(crate) fn from_dynamic(image: DynamicImage) -> Result<Raster, ImagingError> {
        let (width, height) = (image.width(), image.height());
        let (layout, data) = match image {
            DynamicImage::ImageLuma8(b) => (Layout::Luma, b.into_raw()),
            DynamicImage::ImageLumaA8(b) => (Layout::LumaAlpha, b.into_raw()),
            DynamicImage::ImageRgb8(b) => (Layout::Rgb, b.into_raw()),
            DynamicImage::ImageRgba8(b) => (Layout::Rgba, b.into_raw()),
            DynamicImage::ImageLuma16(_) => (Layout::Luma, image.to_luma8().into_raw()),
            DynamicImage::ImageLumaA16(_) => (Layout::LumaAlpha, image.to_luma_alpha8().into_raw()),
            other if other.color().has_alpha() => (Layout::Rgba, other.to_rgba8().into_raw()),
            other => (Layout::Rgb, other.to_rgb8().into_raw()),
        };
        Raster::new(width, height, layout, data)
    }

    pub(crate) fn width(&self) -> u32 {
        self.width
    }

    pub(crate) fn height(&self) -> u32 {
        self.height
    }

    pub(crate) fn layout(&self) -> Layout {
        self.layout
    }

    pub(crate) fn data(&self) -> &[u8] {
        &self.data
    }

    pub(crate) fn data_mut(&mut self) -> &mut [u8] {
        &mut self.data
    }

    /// Whether any pixel is less than fully opaque.
    pub(crate) fn is_translucent(&self) -> bool {
        let channels = self.layout.channels();
        match self.layout {
            Layout::Luma | Layout::Rgb => false,
            Layout::LumaAlpha | Layout::Rgba => self
                .data
                .iter()
                .skip(channels - 1)
                .step_by(channels)
                .any(|&a| a < u8::MAX),
        }
    }

    /// Drops an alpha channel (for an opaque image that becomes a JPEG).
    pub(crate) fn without_alpha(self) -> Raster {
        let (layout, keep) = match self.layout {
            Layout::Luma | Layout::Rgb => return self,
            Layout::LumaAlpha => (Layout::Luma, 1),
            Layout::Rgba => (Layout::Rgb, 3),
        };
        let channels = self.layout.channels();
        let data = self
            .data
            .chunks_exact(channels)
            .flat_map(|pixel| pixel.iter().take(keep).copied())
            .collect();
        Raster {
            width: self.width,
            height: self.height,
            layout,
            data,
        }
    }

    /// Resamples with Lanczos3; fast_image_resize premultiplies alpha itself
    /// for the layouts with alpha, so transparent pixels do not bleed colour.
    pub(crate) fn resize(
        &self,
        resizer: &mut Resizer,
        width: u32,
        height: u32,
    ) -> Result<Raster, ImagingError> {
        let pixel_type = self.layout.pixel_type();
        let src = ImageRef::new(self.width, self.height, &self.data, pixel_type)
            .map_err(|e| ImagingError::Encode(format!("resizing failed: {e}")))?;
        let mut dst = ResizedImage::new(width, height, pixel_type);
        let options = ResizeOptions::new()
            .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
            .use_alpha(true);
        resizer
            .resize(&src, &mut dst, &options)
            .map_err(|e| ImagingError::Encode(format!("resizing failed: {e}")))?;
        Raster::new(width, height, self.layout, dst.into_vec())
    }

    /// Applies an EXIF orientation so the pixels are upright.
    pub(crate) fn oriented(self, orientation: Orientation) -> Result<Raster, ImagingError> {
        if orientation == Orientation::NoTransforms {
            return Ok(self);
        }
        let mut image = self.into_dynamic()?;
        image.apply_orientation(orientation);
        Raster::from_dynamic(image)
    }

    /// A BlurHash (4x3 components) of these pixels, from a copy of at most
    /// 32x32: a few dozen bytes that clients paint while the image loads.
    pub(crate) fn blurhash(&self) -> Option<String> {
        let small = self
            .clone()
            .into_dynamic()
            .ok()?
            .thumbnail(32, 32)
            .to_rgba8();
        blurhash::encode(4, 3, small.width(), small.height(), small.as_raw()).ok()
    }

    fn into_dynamic(self) -> Result<DynamicImage, ImagingError> {
        let Raster {
            width,
            height,
            layout,
            data,
        } = self;
        let image = match layout {
            Layout::Luma => {
                ImageBuffer::from_raw(width, height, data).map(DynamicImage::ImageLuma8)
            }
            Layout::LumaAlpha => {
                ImageBuffer::from_raw(width, height, data).map(DynamicImage::ImageLumaA8)
            }
            Layout::Rgb => ImageBuffer::from_raw(width, height, data).map(DynamicImage::ImageRgb8),
            Layout::Rgba => {
                ImageBuffer::from_raw(width, height, data).map(DynamicImage::ImageRgba8)
            }
        };
        image.ok_or_else(|| ImagingError::Encode("pixel buffer does not match its size".into()))
    }
}
