//! Typed object keys.
//!
//! Every object name in the bucket (or under the storage directory) comes from
//! a [`StorageKey`], so call sites never format key strings and the fs backend
//! can only ever touch paths that these variants produce: `parse` accepts
//! exactly the strings that `as_path` yields, which rules out path traversal.

use std::fmt;

use uuid::Uuid;

/// Thumbnail MIME types and the file extensions that keys may carry for
/// them. `parse` maps the text of a key back to one of these extensions,
/// which is why the extension can be `&'static str`.
const THUMBNAIL_TYPES: &[(&str, &str)] = &[
    ("image/jpeg", "jpg"),
    ("image/png", "png"),
    ("image/webp", "webp"),
    ("image/gif", "gif"),
    ("image/avif", "avif"),
];

const ORIGINALS: &str = "originals";
const THUMBNAILS: &str = "thumbnails";
const UPLOADS: &str = "uploads";

/// The name of one stored object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StorageKey {
    /// The uploaded bytes of an image, as received.
    Original(Uuid),
    /// One thumbnail of an image at a plan's height.
    Thumbnail {
        image_id: Uuid,
        height: u32,
        ext: &'static str,
    },
    /// The bytes of a direct upload, put there by the client, until
    /// `completeUpload` checks them (named after the upload slot).
    Upload(Uuid),
}

impl StorageKey {
    pub fn original(image_id: Uuid) -> Self {
        StorageKey::Original(image_id)
    }

    /// `ext` is one of the thumbnail extensions without the dot (see
    /// [`ext_for_content_type`]); the backends refuse keys with any other
    /// extension, as they refuse every key that [`parse`](Self::parse) would not
    /// give back.
    pub fn thumbnail(image_id: Uuid, height: u32, ext: &'static str) -> Self {
        StorageKey::Thumbnail {
            image_id,
            height,
            ext,
        }
    }

    /// Whether `parse(as_path())` gives this key back. The variants' fields are
    /// public, so the backends check this before they touch an object.
    pub fn is_canonical(&self) -> bool {
        StorageKey::parse(&self.as_path()).as_ref() == Some(self)
    }

    /// The staging object of a direct upload slot.
    pub fn upload(slot_id: Uuid) -> Self {
        StorageKey::Upload(slot_id)
    }

    /// The image this object belongs to; for an [`Upload`](Self::Upload),
    /// which belongs to no image yet, the slot's id.
    pub fn image_id(&self) -> Uuid {
        match self {
            StorageKey::Original(id) => *id,
            StorageKey::Thumbnail { image_id, .. } => *image_id,
            StorageKey::Upload(slot_id) => *slot_id,
        }
    }

    /// The object name: `originals/{id}`, `thumbnails/{id}/{height}.{ext}`
    /// or `uploads/{slot id}`.
    pub fn as_path(&self) -> String {
        match self {
            StorageKey::Original(id) => format!("{ORIGINALS}/{id}"),
            StorageKey::Upload(id) => format!("{UPLOADS}/{id}"),
            StorageKey::Thumbnail {
                image_id,
                height,
                ext,
            } => format!("{THUMBNAILS}/{image_id}/{height}.{ext}"),
        }
    }

    /// The inverse of [`as_path`](Self::as_path): only canonical names parse
    /// (lower-case hyphenated UUID, no leading zeros, known extension), so
    /// `..`, absolute paths, encoded separators and the like are all refused.
    pub fn parse(path: &str) -> Option<StorageKey> {
        let mut parts = path.split('/');
        let key = match (parts.next()?, parts.next()?, parts.next()) {
            (ORIGINALS, id, None) => StorageKey::Original(Uuid::try_parse(id).ok()?),
            (UPLOADS, id, None) => StorageKey::Upload(Uuid::try_parse(id).ok()?),
            (THUMBNAILS, id, Some(file)) => {
                let (height, ext) = file.split_once('.')?;
                StorageKey::Thumbnail {
                    image_id: Uuid::try_parse(id).ok()?,
                    height: height.parse().ok().filter(|h| *h > 0)?,
                    ext: static_ext(ext)?,
                }
            }
            _ => return None,
        };
        if parts.next().is_some() || key.as_path() != path {
            return None;
        }
        Some(key)
    }
}

impl fmt::Display for StorageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_path())
    }
}

/// The thumbnail extension for an image MIME type (`image/jpeg` -> `jpg`).
pub fn ext_for_content_type(content_type: &str) -> Option<&'static str> {
    THUMBNAIL_TYPES
        .iter()
        .find(|(ty, _)| *ty == content_type)
        .map(|&(_, ext)| ext)
}

impl StorageKey {
    /// The content type that the key's own name tells: a thumbnail's, by its
    /// extension. The fs store keeps no content-type file for such an object
    /// when it is stored with this type.
    pub fn implied_content_type(&self) -> Option<&'static str> {
        match self {
            StorageKey::Thumbnail { ext, .. } => THUMBNAIL_TYPES
                .iter()
                .find(|(_, e)| e == ext)
                .map(|&(ty, _)| ty),
            StorageKey::Original(_) | StorageKey::Upload(_) => None,
        }
    }
}

fn static_ext(ext: &str) -> Option<&'static str> {
    THUMBNAIL_TYPES
        .iter()
        .map(|&(_, known)| known)
        .find(|known| *known == ext)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]
mod tests {
    use super::*;

    fn id() -> Uuid {
        Uuid::parse_str("01890a5d-ac96-774b-bcce-b302099a8057").unwrap()
    }

    #[test]
    fn paths_round_trip() {
        let keys = [
            StorageKey::original(id()),
            StorageKey::thumbnail(id(), 200, "jpg"),
            StorageKey::thumbnail(id(), 4000, "png"),
            StorageKey::upload(id()),
        ];
        for key in keys {
            assert_eq!(StorageKey::parse(&key.as_path()), Some(key));
        }
        assert_eq!(
            StorageKey::original(id()).as_path(),
            "originals/01890a5d-ac96-774b-bcce-b302099a8057"
        );
        assert_eq!(
            StorageKey::thumbnail(id(), 200, "jpg").as_path(),
            "thumbnails/01890a5d-ac96-774b-bcce-b302099a8057/200.jpg"
        );
        assert_eq!(
            StorageKey::upload(id()).as_path(),
            "uploads/01890a5d-ac96-774b-bcce-b302099a8057"
        );
    }

    #[test]
    fn non_canonical_and_traversal_paths_are_refused() {
        let id = id();
        let simple = id.simple();
        let upper = id.to_string().to_uppercase();
        let refused = [
            String::new(),
            "originals".to_owned(),
            "originals/".to_owned(),
            format!("/originals/{id}"),
            format!("originals/{id}/"),
            format!("originals//{id}"),
            format!("originals/{simple}"),
            format!("originals/{upper}"),
            format!("originals/{{{id}}}"),
            format!("originals/{id}/../../etc/passwd"),
            "../etc/passwd".to_owned(),
            format!("originals/../originals/{id}"),
            format!("originals/{id}%2F..%2F.."),
            format!("thumbnails/{id}/../200.jpg"),
            format!("thumbnails/{id}/200.jpg/.."),
            format!("thumbnails/{id}/200"),
            format!("thumbnails/{id}/0200.jpg"),
            format!("thumbnails/{id}/+200.jpg"),
            format!("thumbnails/{id}/0.jpg"),
            format!("thumbnails/{id}/200.exe"),
            format!("thumbnails/{id}/200.jpg.jpg"),
            format!("thumbnails/{id}/200.JPG"),
            format!("thumbnails/{id}\\..\\200.jpg"),
            format!("thumbnails/{id}"),
            format!("other/{id}"),
            format!("uploads/{id}/"),
            format!("uploads/{upper}"),
            format!("uploads/{simple}"),
            format!("uploads/{id}/x"),
            format!("uploads/../originals/{id}"),
            "uploads".to_owned(),
        ];
        for path in refused {
            assert_eq!(StorageKey::parse(&path), None, "{path:?} must not parse");
        }
    }

    #[test]
    fn hand_built_keys_with_bad_parts_are_not_canonical() {
        assert!(StorageKey::thumbnail(id(), 200, "jpg").is_canonical());
        assert!(StorageKey::original(id()).is_canonical());
        assert!(StorageKey::upload(id()).is_canonical());
        assert!(!StorageKey::thumbnail(id(), 200, "exe").is_canonical());
        assert!(!StorageKey::thumbnail(id(), 200, "/../../x").is_canonical());
        assert!(!StorageKey::thumbnail(id(), 0, "jpg").is_canonical());
    }

    #[test]
    fn every_content_type_extension_is_a_known_extension() {
        for ct in [
            "image/jpeg",
            "image/png",
            "image/webp",
            "image/gif",
            "image/avif",
        ] {
            let ext = ext_for_content_type(ct).unwrap();
            assert_eq!(static_ext(ext), Some(ext));
            let key = StorageKey::thumbnail(Uuid::nil(), 200, ext);
            assert_eq!(key.implied_content_type(), Some(ct));
        }
        assert_eq!(ext_for_content_type("text/html"), None);
        assert_eq!(
            StorageKey::original(Uuid::nil()).implied_content_type(),
            None
        );
        assert_eq!(StorageKey::upload(Uuid::nil()).implied_content_type(), None);
    }
}
