//! Colour: thumbnails are sRGB. An embedded ICC profile (JPEG APP2, PNG
//! `iCCP`, WebP `ICCP`, TIFF, HEIF) converts the pixels with moxcms, the
//! colour-management engine `image` itself uses; a PNG's `gAMA`/`cHRM`
//! chunks without a profile are honoured as browsers do. A file without
//! any of these is taken as sRGB and costs nothing.
//!
//! The conversion runs on the decoded pixels, before resizing (a JPEG is
//! decoded DCT-scaled, so that is at most about four times the largest
//! thumbnail): converting after resizing mixes colours outside sRGB with
//! their neighbours before they are clipped, 31-36 dB from a reference at
//! saturated edges, where converting first is within a codec's error (the
//! fixtures' README, tests/fixtures/formats/, gives the figures).

use std::sync::Arc;

use moxcms::{
    Chromaticity, ColorPrimaries, ColorProfile, DataColorSpace, Layout as CmsLayout, ToneReprCurve,
    Transform8BitExecutor, TransformOptions, XyY,
};

use super::ImagingError;
use super::probe::PngColour;
use super::raster::{Layout, Raster};

/// What an original says about the colours of its pixels.
#[derive(Clone, Debug, Default)]
pub(crate) enum Colour {
    /// No profile, or one that is sRGB already: nothing to do.
    #[default]
    Srgb,
    /// An RGB (or CMYK) space other than sRGB.
    Profile(Box<ColorProfile>),
}

/// `gAMA` values this close to 1/2.2 (with sRGB primaries or none) are
/// taken as sRGB, as browsers do.
const SRGB_GAMMA: std::ops::RangeInclusive<u32> = 45_000..=46_000;

impl Colour {
    /// From an embedded ICC profile. A profile that cannot be read is
    /// ignored (the pixels are taken as sRGB), as browsers do: a broken
    /// profile must not cost the user their upload.
    pub(crate) fn from_icc(icc: &[u8]) -> Colour {
        match ColorProfile::new_from_slice(icc) {
            Ok(profile) if is_srgb(&profile) => Colour::Srgb,
            Ok(profile) => Colour::Profile(Box::new(profile)),
            Err(e) => {
                tracing::debug!(error = ?e, "ignoring an unreadable ICC profile");
                Colour::Srgb
            }
        }
    }

    /// From a PNG's colour chunks, when it has no `iCCP` (whose profile
    /// the decoder hands over).
    pub(crate) fn from_png(chunks: &PngColour) -> Colour {
        if chunks.srgb {
            return Colour::Srgb;
        }
        let primaries = chunks.chromaticities.map(|c| {
            let xy = |i: usize| {
                let value = |j: usize| c.get(j).map_or(0.0, |&v| v as f32 / 100_000.0);
                Chromaticity::new(value(i), value(i + 1))
            };
            (
                xy(0),
                ColorPrimaries {
                    red: xy(2),
                    green: xy(4),
                    blue: xy(6),
                },
            )
        });
        let srgb_primaries = primaries.is_none_or(|(white, p)| {
            let srgb = ColorPrimaries::BT_709;
            let near = |a: Chromaticity, b: Chromaticity| {
                (a.x - b.x).abs() < 0.002 && (a.y - b.y).abs() < 0.002
            };
            near(white, Chromaticity::D65)
                && near(p.red, srgb.red)
                && near(p.green, srgb.green)
                && near(p.blue, srgb.blue)
        });
        let gamma = chunks.gamma;
        if srgb_primaries && gamma.is_none_or(|g| SRGB_GAMMA.contains(&g)) {
            return Colour::Srgb;
        }
        let mut profile = ColorProfile::new_srgb();
        if let Some((white, p)) = primaries.filter(|_| !srgb_primaries) {
            profile
                .update_rgb_colorimetry(XyY::new(f64::from(white.x), f64::from(white.y), 1.0), p);
        }
        if let Some(g) = gamma {
            // gAMA is the encoding exponent; the curve decodes.
            let curve = ToneReprCurve::Parametric(vec![100_000.0 / g as f32]);
            profile.red_trc = Some(curve.clone());
            profile.green_trc = Some(curve.clone());
            profile.blue_trc = Some(curve);
        }
        profile.cicp = None;
        Colour::Profile(Box::new(profile))
    }

    /// From the colour primaries of an nclx box (ITU-T H.273), with the
    /// sRGB tone curve (what phones write for Display P3); primaries this
    /// build does not know are taken as sRGB.
    #[cfg_attr(not(feature = "heif"), allow(dead_code))]
    pub(crate) fn from_cicp_primaries(code: u16) -> Colour {
        let primaries = u8::try_from(code)
            .ok()
            .and_then(|c| moxcms::CicpColorPrimaries::try_from(c).ok())
            .and_then(|c| ColorPrimaries::try_from(c).ok());
        let Some(primaries) = primaries else {
            return Colour::Srgb;
        };
        let mut profile = ColorProfile::new_srgb();
        let white = Chromaticity::D65;
        profile.update_rgb_colorimetry(
            XyY::new(f64::from(white.x), f64::from(white.y), 1.0),
            primaries,
        );
        Colour::Profile(Box::new(profile))
    }

    /// Converts a decoded RGB or RGBA raster to sRGB in place. Grey images are
    /// left as they are (a grey profile moves them little, and the
    /// thumbnail stays grey), and so are profiles that do not fit the
    /// pixels (an RGB profile on CMYK data).
    pub(crate) fn to_srgb(&self, raster: &mut Raster) -> Result<(), ImagingError> {
        let Colour::Profile(profile) = self else {
            return Ok(());
        };
        if profile.color_space != DataColorSpace::Rgb {
            return Ok(());
        }
        let layout = match raster.layout() {
            Layout::Rgb => CmsLayout::Rgb,
            Layout::Rgba => CmsLayout::Rgba,
            Layout::Luma | Layout::LumaAlpha => return Ok(()),
        };
        let Some(transform) = transform(profile, layout, layout) else {
            return Ok(());
        };
        let source = raster.data().to_vec();
        transform
            .transform(&source, raster.data_mut())
            .map_err(|e| ImagingError::Decode(format!("converting the colours failed: {e:?}")))
    }
}

/// CMYK pixels (0 = no ink, as jpeg-decoder returns them) to sRGB: through
/// the profile when there is a CMYK one, else by the usual naive formula
/// (what browsers do without a profile).
pub(crate) fn cmyk_to_srgb(cmyk: &[u8], colour: &Colour) -> Vec<u8> {
    if let Colour::Profile(profile) = colour
        && profile.color_space == DataColorSpace::Cmyk
        && let Some(transform) = transform(profile, CmsLayout::Rgba, CmsLayout::Rgb)
    {
        let mut rgb = vec![0; cmyk.len() / 4 * 3];
        if transform.transform(cmyk, &mut rgb).is_ok() {
            return rgb;
        }
    }
    naive_cmyk_to_rgb(cmyk)
}

/// The naive CMYK to RGB conversion.
pub(crate) fn naive_cmyk_to_rgb(cmyk: &[u8]) -> Vec<u8> {
    let (pixels, _) = cmyk.as_chunks::<4>();
    let ink = |channel: u8, k: u8| -> u8 {
        let value = u16::from(255 - channel) * u16::from(255 - k) / 255;
        u8::try_from(value).unwrap_or(u8::MAX)
    };
    pixels
        .iter()
        .flat_map(|&[c, m, y, k]| [ink(c, k), ink(m, k), ink(y, k)])
        .collect()
}

fn transform(
    profile: &ColorProfile,
    from: CmsLayout,
    to: CmsLayout,
) -> Option<Arc<Transform8BitExecutor>> {
    let srgb = ColorProfile::new_srgb();
    // Perceptual, as browsers and libvips do (for matrix profiles it is
    // the same as relative colorimetric).
    let options = TransformOptions {
        rendering_intent: moxcms::RenderingIntent::Perceptual,
        ..TransformOptions::default()
    };
    match profile.create_transform_8bit(from, &srgb, to, options) {
        Ok(transform) => Some(transform),
        Err(e) => {
            tracing::debug!(error = ?e, "ignoring an ICC profile that cannot convert to sRGB");
            None
        }
    }
}

/// Whether a profile is sRGB (most camera and phone JPEGs embed one):
/// sRGB's colorants and tone curves, so converting would change nothing
/// and is skipped.
fn is_srgb(profile: &ColorProfile) -> bool {
    if !profile.is_matrix_shaper() || profile.lut_a_to_b_perceptual.is_some() {
        return false;
    }
    let srgb = ColorProfile::new_srgb();
    let near = |a: moxcms::Xyzd, b: moxcms::Xyzd| {
        (a.x - b.x).abs() < 0.002 && (a.y - b.y).abs() < 0.002 && (a.z - b.z).abs() < 0.002
    };
    near(profile.red_colorant, srgb.red_colorant)
        && near(profile.green_colorant, srgb.green_colorant)
        && near(profile.blue_colorant, srgb.blue_colorant)
        && [&profile.red_trc, &profile.green_trc, &profile.blue_trc]
            .into_iter()
            .all(|trc| trc.as_ref().is_some_and(is_srgb_curve))
}

/// Compares a tone curve with sRGB's at a few points.
fn is_srgb_curve(curve: &ToneReprCurve) -> bool {
    let srgb = |v: f32| {
        if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    (0..=16).all(|i| {
        let v = i as f32 / 16.0;
        evaluate(curve, v).is_some_and(|y| (y - srgb(v)).abs() < 0.004)
    })
}

/// An ICC curve's value at `v` in 0..=1: a sampled table or one of the
/// parametric functions of ICC.1 (10.18).
fn evaluate(curve: &ToneReprCurve, v: f32) -> Option<f32> {
    match curve {
        ToneReprCurve::Lut(table) => match table.len() {
            0 => Some(v),
            // One entry: a gamma as u8.8 fixed point.
            1 => Some(v.powf(f32::from(table[0]) / 256.0)),
            n => {
                let x = v * (n - 1) as f32;
                let i = (x.floor() as usize).min(n - 2);
                let t = x - i as f32;
                let (a, b) = (f32::from(table[i]), f32::from(table[i + 1]));
                Some((a + (b - a) * t) / 65535.0)
            }
        },
        ToneReprCurve::Parametric(p) => match *p.as_slice() {
            [g] => Some(v.powf(g)),
            [g, a, b] => Some(if v >= -b / a {
                (a * v + b).powf(g)
            } else {
                0.0
            }),
            [g, a, b, c] => Some(if v >= -b / a {
                (a * v + b).powf(g) + c
            } else {
                c
            }),
            [g, a, b, c, d] => Some(if v >= d { (a * v + b).powf(g) } else { c * v }),
            [g, a, b, c, d, e, f] => Some(if v >= d {
                (a * v + b).powf(g) + e
            } else {
                c * v + f
            }),
            _ => None,
        },
    }
}
