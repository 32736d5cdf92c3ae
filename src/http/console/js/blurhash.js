// A BlurHash (https://blurha.sh) decoder: the server stores a few DCT
// components per image; this draws them into a small canvas, whose data: URL
// an <img> shows while the thumbnail loads. The algorithm of the reference
// TypeScript decoder (MIT), written out here rather than vendored.

const DIGITS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~';

/** @param {string} s */
function decode83(s) {
  let value = 0;
  for (const c of s) {
    const digit = DIGITS.indexOf(c);
    if (digit < 0) throw new Error('not a blurhash');
    value = value * 83 + digit;
  }
  return value;
}

/** @param {number} v 0..255 */
function toLinear(v) {
  const x = v / 255;
  return x <= 0.04045 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
}

/** @param {number} v linear 0..1 */
function toSrgb(v) {
  const x = Math.max(0, Math.min(1, v));
  return x <= 0.0031308 ? Math.round(x * 12.92 * 255) : Math.round((1.055 * x ** (1 / 2.4) - 0.055) * 255);
}

/** @param {number} v @param {number} exp */
const signPow = (v, exp) => Math.sign(v) * Math.abs(v) ** exp;

/**
 * RGBA pixels of `hash` at `width` x `height`.
 * @param {string} hash @param {number} width @param {number} height
 * @returns {Uint8ClampedArray<ArrayBuffer>}
 */
export function decode(hash, width, height) {
  if (hash.length < 6) throw new Error('not a blurhash');
  const size = decode83(hash[0]);
  const numY = Math.floor(size / 9) + 1;
  const numX = (size % 9) + 1;
  if (hash.length !== 4 + 2 * numX * numY) throw new Error('blurhash has the wrong length');
  const maximum = (decode83(hash[1]) + 1) / 166;
  /** @type {number[][]} */
  const colors = [];
  const dc = decode83(hash.slice(2, 6));
  colors.push([toLinear(dc >> 16), toLinear((dc >> 8) & 255), toLinear(dc & 255)]);
  for (let i = 1; i < numX * numY; i++) {
    const ac = decode83(hash.slice(4 + i * 2, 6 + i * 2));
    colors.push([
      signPow((Math.floor(ac / 361) - 9) / 9, 2) * maximum,
      signPow(((Math.floor(ac / 19) % 19) - 9) / 9, 2) * maximum,
      signPow(((ac % 19) - 9) / 9, 2) * maximum,
    ]);
  }
  const pixels = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let j = 0; j < numY; j++) {
        const cy = Math.cos((Math.PI * y * j) / height);
        for (let i = 0; i < numX; i++) {
          const basis = Math.cos((Math.PI * x * i) / width) * cy;
          const c = colors[i + j * numX];
          r += c[0] * basis;
          g += c[1] * basis;
          b += c[2] * basis;
        }
      }
      const p = 4 * (x + y * width);
      pixels[p] = toSrgb(r);
      pixels[p + 1] = toSrgb(g);
      pixels[p + 2] = toSrgb(b);
      pixels[p + 3] = 255;
    }
  }
  return pixels;
}

/** @type {Map<string, string>} */
const cache = new Map();

/**
 * A PNG data: URL of the placeholder, about 32 px on its long side with the
 * image's aspect ratio; null when `hash` is missing or malformed.
 * @param {string | null | undefined} hash @param {number} imageWidth @param {number} imageHeight
 * @returns {string | null}
 */
export function placeholderUrl(hash, imageWidth, imageHeight) {
  if (!hash) return null;
  const aspect = imageWidth > 0 && imageHeight > 0 ? imageWidth / imageHeight : 1;
  const w = aspect >= 1 ? 32 : Math.max(4, Math.round(32 * aspect));
  const h = aspect >= 1 ? Math.max(4, Math.round(32 / aspect)) : 32;
  const key = `${hash}:${w}x${h}`;
  const hit = cache.get(key);
  if (hit) return hit;
  try {
    const canvas = document.createElement('canvas');
    canvas.width = w;
    canvas.height = h;
    const ctx = canvas.getContext('2d');
    if (!ctx) return null;
    ctx.putImageData(new ImageData(decode(hash, w, h), w, h), 0, 0);
    const url = canvas.toDataURL('image/png');
    cache.set(key, url);
    return url;
  } catch {
    return null;
  }
}
