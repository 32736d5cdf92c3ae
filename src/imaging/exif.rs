//! Just enough EXIF to read the orientation tag, with every read bounds-checked.

use image::metadata::Orientation;

const ORIENTATION_TAG: u16 = 0x0112;
const TYPE_SHORT: u16 = 3;
const TYPE_LONG: u16 = 4;
const EXIF_PREFIX: &[u8] = b"Exif\0\0";

/// The EXIF orientation (1..=8) from a TIFF structure, as found in a JPEG
/// APP1 segment (with its `Exif\0\0` prefix) or a PNG `eXIf` chunk (without).
///
/// `None` when the tag is absent or anything is malformed: a broken EXIF
/// block is common and must not make an otherwise fine image fail.
pub(crate) fn orientation(data: &[u8]) -> Option<u8> {
    let tiff = data.strip_prefix(EXIF_PREFIX).unwrap_or(data);
    let big_endian = match tiff.get(0..4)? {
        [b'I', b'I', 42, 0] => false,
        [b'M', b'M', 0, 42] => true,
        _ => return None,
    };
    let tiff = Tiff {
        data: tiff,
        big_endian,
    };
    let ifd0 = usize::try_from(tiff.u32(4)?).ok()?;
    let count = tiff.u16(ifd0)?;
    let entries = ifd0.checked_add(2)?;
    for index in 0..usize::from(count) {
        let entry = entries.checked_add(index.checked_mul(12)?)?;
        if tiff.u16(entry)? != ORIENTATION_TAG {
            continue;
        }
        let value_at = entry.checked_add(8)?;
        let value = match tiff.u16(entry.checked_add(2)?)? {
            TYPE_SHORT => u32::from(tiff.u16(value_at)?),
            TYPE_LONG => tiff.u32(value_at)?,
            _ => return None,
        };
        return u8::try_from(value).ok().filter(|v| (1..=8).contains(v));
    }
    None
}

/// Whether applying this orientation swaps width and height.
pub(crate) fn swaps_dimensions(orientation: u8) -> bool {
    (5..=8).contains(&orientation)
}

/// The `image` crate's name for an EXIF orientation value.
pub(crate) fn to_image_orientation(orientation: u8) -> Orientation {
    Orientation::from_exif(orientation).unwrap_or(Orientation::NoTransforms)
}

struct Tiff<'a> {
    data: &'a [u8],
    big_endian: bool,
}

impl Tiff<'_> {
    fn bytes<const N: usize>(&self, at: usize) -> Option<[u8; N]> {
        let end = at.checked_add(N)?;
        self.data.get(at..end)?.try_into().ok()
    }

    fn u16(&self, at: usize) -> Option<u16> {
        let b = self.bytes::<2>(at)?;
        Some(if self.big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }

    fn u32(&self, at: usize) -> Option<u32> {
        let b = self.bytes::<4>(at)?;
        Some(if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal TIFF block with one IFD0 entry holding the orientation.
    pub(crate) fn exif_block(big_endian: bool, orientation: u16) -> Vec<u8> {
        let mut v = EXIF_PREFIX.to_vec();
        v.extend_from_slice(if big_endian { b"MM\0*" } else { b"II*\0" });
        let u16b = |n: u16| {
            if big_endian {
                n.to_be_bytes()
            } else {
                n.to_le_bytes()
            }
        };
        let u32b = |n: u32| {
            if big_endian {
                n.to_be_bytes()
            } else {
                n.to_le_bytes()
            }
        };
        v.extend_from_slice(&u32b(8));
        v.extend_from_slice(&u16b(1));
        v.extend_from_slice(&u16b(ORIENTATION_TAG));
        v.extend_from_slice(&u16b(TYPE_SHORT));
        v.extend_from_slice(&u32b(1));
        v.extend_from_slice(&u16b(orientation));
        v.extend_from_slice(&[0, 0]);
        v.extend_from_slice(&u32b(0));
        v
    }

    #[test]
    fn reads_orientation_in_both_byte_orders() {
        for value in 1..=8 {
            assert_eq!(
                orientation(&exif_block(false, value)),
                u8::try_from(value).ok()
            );
            assert_eq!(
                orientation(&exif_block(true, value)),
                u8::try_from(value).ok()
            );
        }
        let without_prefix = exif_block(true, 6);
        assert_eq!(orientation(&without_prefix[EXIF_PREFIX.len()..]), Some(6));
    }

    #[test]
    fn ignores_out_of_range_and_broken_blocks() {
        assert_eq!(orientation(&exif_block(false, 0)), None);
        assert_eq!(orientation(&exif_block(false, 9)), None);
        let block = exif_block(false, 6);
        for len in 0..block.len() - 6 {
            assert_eq!(orientation(&block[..len]), None, "prefix of {len} bytes");
        }
        // IFD offset pointing far outside the block.
        let mut far = exif_block(false, 6);
        far[10..14].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(orientation(&far), None);
    }
}
