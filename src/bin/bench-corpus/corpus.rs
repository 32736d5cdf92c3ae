//! A deterministic, photo-like benchmark corpus: no downloads, the same
//! bytes on every run.
//!
//! Flat colour or a plain gradient compresses to almost nothing and decodes
//! far faster than a photograph, which would flatter every JPEG decoder. The
//! images here mix what makes photos expensive: a smooth sky, fractal value
//! noise (foliage, terrain), hard-edged shapes (buildings, windows) and
//! per-pixel sensor grain. A 4000x3000 q90 JPEG comes out at a few MB, like
//! a phone photo.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use image::ImageEncoder as _;
use image::codecs::png::PngEncoder;

/// Bumped whenever the pictures change, so stale corpora are rebuilt.
const VERSION: &str = "corpus v2\n";

/// One image of the corpus.
#[derive(Clone, Copy, Debug)]
pub struct Item {
    pub width: u32,
    pub height: u32,
    pub png: bool,
    pub seed: u32,
}

impl Item {
    pub fn file_name(&self) -> String {
        let (prefix, ext) = if self.png {
            ("png", "png")
        } else {
            ("jpeg", "jpg")
        };
        format!(
            "{prefix}-{}x{}-{}.{ext}",
            self.width, self.height, self.seed
        )
    }
}

/// JPEG q90 at three sizes (landscape, HD, portrait), and PNG with alpha.
pub fn items() -> Vec<Item> {
    let mut items = Vec::new();
    for (width, height, png) in [
        (4000, 3000, false),
        (1920, 1080, false),
        (1200, 1600, false),
        (2000, 1500, true),
    ] {
        for seed in 1..=4 {
            items.push(Item {
                width,
                height,
                png,
                seed,
            });
        }
    }
    items
}

/// Writes the corpus into `dir` unless it is there already (same version),
/// and returns the paths of all files in `items()` order.
pub fn ensure(dir: &Path) -> io::Result<Vec<PathBuf>> {
    fs::create_dir_all(dir)?;
    let stamp = dir.join("VERSION");
    let fresh = fs::read_to_string(&stamp).is_ok_and(|v| v == VERSION);
    let mut paths = Vec::new();
    for item in items() {
        let path = dir.join(item.file_name());
        if !fresh || !path.exists() {
            let bytes = encode(&item)?;
            fs::write(&path, bytes)?;
        }
        paths.push(path);
    }
    fs::write(stamp, VERSION)?;
    Ok(paths)
}

/// The encoded file for one item.
pub fn encode(item: &Item) -> io::Result<Vec<u8>> {
    let other = |e: &dyn std::fmt::Display| io::Error::other(e.to_string());
    let mut out = Vec::new();
    if item.png {
        let pixels = render(item.width, item.height, item.seed, true);
        PngEncoder::new(&mut out)
            .write_image(
                &pixels,
                item.width,
                item.height,
                image::ExtendedColorType::Rgba8,
            )
            .map_err(|e| other(&e))?;
    } else {
        let pixels = render(item.width, item.height, item.seed, false);
        let w = u16::try_from(item.width).map_err(|e| other(&e))?;
        let h = u16::try_from(item.height).map_err(|e| other(&e))?;
        let mut encoder = jpeg_encoder::Encoder::new(&mut out, 90);
        encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_0);
        encoder
            .encode(&pixels, w, h, jpeg_encoder::ColorType::Rgb)
            .map_err(|e| other(&e))?;
    }
    Ok(out)
}

/// Renders interleaved RGB (or RGBA with a soft-edged cut-out) pixels.
pub fn render(width: u32, height: u32, seed: u32, alpha: bool) -> Vec<u8> {
    let scene = Scene::new(width, height, seed);
    let channels = if alpha { 4 } else { 3 };
    let mut out = Vec::with_capacity(width as usize * height as usize * channels);
    for y in 0..height {
        for x in 0..width {
            let [r, g, b] = scene.colour(x, y);
            out.extend_from_slice(&[to_u8(r), to_u8(g), to_u8(b)]);
            if alpha {
                out.push(to_u8(scene.alpha(x, y)));
            }
        }
    }
    out
}

fn to_u8(v: f32) -> u8 {
    v.clamp(0.0, 255.0) as u8
}

/// A hard-edged shape: a building with a window grid, or a disc.
struct Shape {
    x0: f32,
    y0: f32,
    x1: f32,
    y1: f32,
    disc: bool,
    colour: [f32; 3],
}

struct Scene {
    seed: u32,
    /// Noise scale in pixels per lattice cell of the coarsest octave,
    /// proportional to the image so every size looks like the same photo.
    scale: f32,
    width: f32,
    height: f32,
    shapes: Vec<Shape>,
}

impl Scene {
    fn new(width: u32, height: u32, seed: u32) -> Scene {
        let (w, h) = (width as f32, height as f32);
        let mut rng = seed.wrapping_mul(0x9E37_79B9) ^ 0x85EB_CA6B;
        let mut next = move || {
            rng = hash(rng, 0x27D4_EB2F);
            (rng >> 8) as f32 / (1u32 << 24) as f32
        };
        let mut shapes = Vec::new();
        for i in 0..14 {
            let disc = i % 4 == 3;
            let cx = next() * w;
            let size = (0.04 + 0.12 * next()) * w.min(h);
            let (x0, x1, y0, y1) = if disc {
                let cy = next() * h * 0.6;
                (cx - size, cx + size, cy - size, cy + size)
            } else {
                let top = h * (0.3 + 0.35 * next());
                (
                    cx - size * 0.6,
                    cx + size * 0.6,
                    top,
                    h * (0.75 + 0.2 * next()),
                )
            };
            let colour = [
                40.0 + 200.0 * next(),
                40.0 + 180.0 * next(),
                40.0 + 160.0 * next(),
            ];
            shapes.push(Shape {
                x0,
                y0,
                x1,
                y1,
                disc,
                colour,
            });
        }
        Scene {
            seed,
            scale: w.max(h) / 6.0,
            width: w,
            height: h,
            shapes,
        }
    }

    fn colour(&self, x: u32, y: u32) -> [f32; 3] {
        let (fx, fy) = (x as f32, y as f32);
        let (u, v) = (fx / self.width, fy / self.height);
        let terrain = self.fbm(fx, fy, 1.0, 0, 12, 0.6);
        let horizon = 0.45 + 0.15 * (self.fbm(fx, 0.0, 1.0, 1, 3, 0.5) - 0.5);
        let mut rgb = if v < horizon {
            // Sky: a vertical gradient with soft clouds.
            let cloud = (self.fbm(fx * 0.7, fy * 1.6, 1.0, 2, 5, 0.5) - 0.45).max(0.0) * 2.5;
            let base = [
                70.0 + 110.0 * v + 20.0 * u,
                120.0 + 90.0 * v,
                210.0 + 30.0 * v,
            ];
            base.map(|c| c + (245.0 - c) * cloud.min(1.0))
        } else {
            // Ground: foliage and earth from two noise fields, darker far off.
            let detail = self.fbm(fx, fy, 3.0, 3, 12, 0.65);
            let green = terrain * 0.7 + detail * 0.5;
            let shade = 0.55 + 0.6 * (v - horizon);
            [
                (60.0 + 120.0 * (1.0 - green) + 50.0 * detail) * shade,
                (70.0 + 130.0 * green) * shade,
                (30.0 + 60.0 * detail) * shade,
            ]
        };
        for shape in &self.shapes {
            if let Some(c) = shape.colour_at(fx, fy, self.fbm(fx, fy, 4.0, 4, 12, 0.6)) {
                rgb = c;
            }
        }
        // Sensor grain: independent per channel, about +-7.
        let n = hash(hash(x, y), self.seed);
        let grain = |shift: u32| ((n >> shift) & 0xFF) as f32 / 255.0 * 14.0 - 7.0;
        [rgb[0] + grain(0), rgb[1] + grain(8), rgb[2] + grain(16)]
    }

    /// Opaque in a soft-edged blob, transparent outside, for PNG cut-outs.
    fn alpha(&self, x: u32, y: u32) -> f32 {
        let (u, v) = (x as f32 / self.width - 0.5, y as f32 / self.height - 0.5);
        let r =
            (u * u + v * v).sqrt() + 0.15 * (self.fbm(x as f32, y as f32, 1.0, 5, 3, 0.5) - 0.5);
        ((0.42 - r) * 2000.0).clamp(0.0, 255.0)
    }

    /// Fractal value noise in about 0..1: up to `octaves` octaves, each
    /// `gain` times weaker and twice finer than the last, the coarsest
    /// `zoom` times finer than the scene scale, none finer than 2 pixels.
    fn fbm(&self, x: f32, y: f32, zoom: f32, layer: u32, octaves: u32, gain: f32) -> f32 {
        let (mut sum, mut amp, mut norm) = (0.0, 0.5, 0.0);
        let mut freq = zoom / self.scale;
        for octave in 0..octaves {
            if freq > 0.5 {
                break;
            }
            let salt = self.seed ^ (layer << 8) ^ octave;
            sum += amp * value_noise(x * freq, y * freq, salt);
            norm += amp;
            amp *= gain;
            freq *= 2.0;
        }
        sum / norm
    }
}

impl Shape {
    fn colour_at(&self, x: f32, y: f32, texture: f32) -> Option<[f32; 3]> {
        if x < self.x0 || x >= self.x1 || y < self.y0 || y >= self.y1 {
            return None;
        }
        let (cx, cy) = ((self.x0 + self.x1) / 2.0, (self.y0 + self.y1) / 2.0);
        let (rx, ry) = ((self.x1 - self.x0) / 2.0, (self.y1 - self.y0) / 2.0);
        let (dx, dy) = ((x - cx) / rx, (y - cy) / ry);
        if self.disc {
            let d = dx * dx + dy * dy;
            if d > 1.0 {
                return None;
            }
            // A lit sphere: brighter towards the upper left.
            let light = 0.5 + 0.5 * (1.0 - d).sqrt() - 0.25 * (dx + dy);
            return Some(self.colour.map(|c| c * light.clamp(0.2, 1.3)));
        }
        // A facade with a grid of windows, shaded left to right.
        let cell = rx / 4.0;
        let (wx, wy) = (
            ((x - self.x0) / cell).fract(),
            ((y - self.y0) / cell).fract(),
        );
        let window = (0.25..0.75).contains(&wx) && (0.2..0.7).contains(&wy);
        let light = 0.75 + 0.25 * dx + 0.3 * (texture - 0.5);
        Some(if window {
            [
                30.0 + 60.0 * texture,
                40.0 + 50.0 * texture,
                60.0 + 40.0 * texture,
            ]
        } else {
            self.colour.map(|c| c * light)
        })
    }
}

/// Bilinear value noise with smoothstep between lattice points, 0..1.
fn value_noise(x: f32, y: f32, salt: u32) -> f32 {
    let (x0, y0) = (x.floor(), y.floor());
    let (tx, ty) = (x - x0, y - y0);
    let (ix, iy) = (x0 as i32 as u32, y0 as i32 as u32);
    let corner = |dx: u32, dy: u32| {
        let h = hash(hash(ix.wrapping_add(dx), iy.wrapping_add(dy)), salt);
        (h >> 8) as f32 / (1u32 << 24) as f32
    };
    let smooth = |t: f32| t * t * (3.0 - 2.0 * t);
    let (sx, sy) = (smooth(tx), smooth(ty));
    let top = corner(0, 0) + (corner(1, 0) - corner(0, 0)) * sx;
    let bottom = corner(0, 1) + (corner(1, 1) - corner(0, 1)) * sx;
    top + (bottom - top) * sy
}

/// A small integer hash (murmur3-style finaliser over two words).
fn hash(a: u32, b: u32) -> u32 {
    let mut h = a.wrapping_mul(0xCC9E_2D51) ^ b.wrapping_mul(0x1B87_3593);
    h ^= h >> 16;
    h = h.wrapping_mul(0x85EB_CA6B);
    h ^= h >> 13;
    h = h.wrapping_mul(0xC2B2_AE35);
    h ^ (h >> 16)
}
