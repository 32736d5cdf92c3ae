//! The fs backend's tests: objects, content types, presigned URLs.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::AsyncReadExt;

use super::*;
use crate::storage::Storage;

struct TestFs {
    storage: Storage,
    _dir: tempfile::TempDir,
}

fn test_fs() -> TestFs {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::fs(FsSettings {
        dir: dir.path().join("objects"),
        public_url: "http://127.0.0.1:8080/".into(),
        signing_key: b"test signing key".to_vec(),
    })
    .unwrap();
    TestFs { storage, _dir: dir }
}

impl TestFs {
    fn store(&self) -> &FsStore {
        self.storage.as_fs().unwrap()
    }
}

fn thumb() -> StorageKey {
    StorageKey::thumbnail(Uuid::now_v7(), 200, "jpg")
}

/// Splits a file URL into what the `/files` handler receives.
fn parse_url(url: &str) -> (String, i64, String) {
    let rest = url.strip_prefix("http://127.0.0.1:8080/files/").unwrap();
    let (path, query) = rest.split_once('?').unwrap();
    let (expires, sig) = query.split_once('&').unwrap();
    let expires = expires.strip_prefix("expires=").unwrap().parse().unwrap();
    let sig = sig.strip_prefix("sig=").unwrap().to_owned();
    (path.to_owned(), expires, sig)
}

fn unix(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

#[tokio::test]
async fn put_get_delete_round_trip() {
    let fs = test_fs();
    let key = thumb();
    fs.storage
        .put_bytes(&key, Bytes::from_static(b"thumb"), "image/jpeg")
        .await
        .unwrap();
    assert!(fs.storage.exists(&key).await.unwrap());
    assert_eq!(fs.storage.get(&key).await.unwrap(), &b"thumb"[..]);

    let mut object = fs.store().open(&key).await.unwrap();
    assert_eq!(object.size, 5);
    assert_eq!(object.content_type, "image/jpeg");
    let mut read = Vec::new();
    object.file.read_to_end(&mut read).await.unwrap();
    assert_eq!(read, b"thumb");

    fs.storage.delete(&key).await.unwrap();
    assert!(!fs.storage.exists(&key).await.unwrap());
    assert!(matches!(
        fs.storage.get(&key).await,
        Err(StorageError::NotFound)
    ));
    assert!(matches!(
        fs.store().open(&key).await,
        Err(StorageError::NotFound)
    ));
    // The per-image folder goes with its last thumbnail.
    let image_dir = fs
        .store()
        .dir()
        .join(format!("thumbnails/{}", key.image_id()));
    assert!(!image_dir.exists());
}

#[tokio::test]
async fn delete_of_absent_object_is_ok_and_get_is_not_found() {
    let fs = test_fs();
    let key = StorageKey::original(Uuid::now_v7());
    fs.storage.delete(&key).await.unwrap();
    assert!(matches!(
        fs.storage.get(&key).await,
        Err(StorageError::NotFound)
    ));
    assert!(!fs.storage.exists(&key).await.unwrap());
}

#[tokio::test]
async fn put_file_copies_the_file_and_leaves_no_temporary_files() {
    let fs = test_fs();
    let key = StorageKey::original(Uuid::now_v7());
    let content: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let src = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(src.path(), &content).unwrap();

    fs.storage
        .put_file(&key, src.path(), "image/png")
        .await
        .unwrap();
    // Overwriting replaces the object.
    fs.storage
        .put_file(&key, src.path(), "image/png")
        .await
        .unwrap();

    assert_eq!(fs.storage.get(&key).await.unwrap(), content);
    let names: Vec<_> = std::fs::read_dir(fs.store().dir().join("originals"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let id = key.image_id();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&id.to_string()));
    assert!(names.contains(&format!("{id}.content-type")));
}

#[tokio::test]
async fn a_thumbnail_of_the_type_its_key_tells_has_no_content_type_file() {
    let fs = test_fs();
    let key = thumb();
    let dir = fs
        .store()
        .dir()
        .join(format!("thumbnails/{}", key.image_id()));
    let names = || -> Vec<String> {
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    };
    let stored = key.as_path();
    let file = stored.rsplit('/').next().unwrap().to_owned();

    fs.storage
        .put_bytes(&key, Bytes::from_static(b"a"), "image/jpeg")
        .await
        .unwrap();
    assert_eq!(names(), vec![file.clone()]);
    assert_eq!(
        fs.store().open(&key).await.unwrap().content_type,
        "image/jpeg"
    );

    // Another type than the key's is kept beside it and served...
    fs.storage
        .put_bytes(&key, Bytes::from_static(b"b"), "image/png")
        .await
        .unwrap();
    assert_eq!(names(), vec![file.clone(), format!("{file}.content-type")]);
    assert_eq!(
        fs.store().open(&key).await.unwrap().content_type,
        "image/png"
    );

    // ...and removed when the key's own type is stored again.
    fs.storage
        .put_bytes(&key, Bytes::from_static(b"c"), "image/jpeg")
        .await
        .unwrap();
    assert_eq!(names(), vec![file]);
    assert_eq!(
        fs.store().open(&key).await.unwrap().content_type,
        "image/jpeg"
    );
}

#[tokio::test]
async fn put_file_of_missing_source_fails_without_creating_the_object() {
    let fs = test_fs();
    let key = StorageKey::original(Uuid::now_v7());
    let missing = fs.store().dir().join("no-such-file");
    assert!(
        fs.storage
            .put_file(&key, &missing, "image/png")
            .await
            .is_err()
    );
    assert!(!fs.storage.exists(&key).await.unwrap());
}

#[tokio::test]
async fn presigned_url_verifies_and_is_stable() {
    let fs = test_fs();
    let key = thumb();
    let lifetime = Duration::from_secs(3600);
    let now = SystemTime::now();
    let url = fs
        .storage
        .presign_get_at(&key, lifetime, now)
        .await
        .unwrap();
    let again = fs
        .storage
        .presign_get_at(&key, lifetime, now)
        .await
        .unwrap();
    assert_eq!(url, again);
    assert_eq!(url, fs.storage.presign_get(&key, lifetime).await.unwrap());

    let (path, expires, sig) = parse_url(&url);
    assert_eq!(path, key.as_path());
    assert!(expires - unix(now) >= 3600 && expires - unix(now) <= 4500);
    assert!(fs.store().verify(&path, expires, &sig, unix(now)));
    assert_eq!(
        fs.store().authorize(&path, expires, &sig, unix(now)),
        Some(key)
    );
}

#[tokio::test]
async fn tampered_or_expired_urls_are_refused() {
    let fs = test_fs();
    let key = thumb();
    let now = SystemTime::now();
    let url = fs
        .storage
        .presign_get_at(&key, Duration::from_secs(60), now)
        .await
        .unwrap();
    let (path, expires, sig) = parse_url(&url);
    let store = fs.store();
    let now = unix(now);

    assert!(
        !store.verify(&path, expires + 3600, &sig, now),
        "longer expiry"
    );
    let other = thumb().as_path();
    assert!(!store.verify(&other, expires, &sig, now), "other key");
    let mut flipped = sig.clone().into_bytes();
    flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    assert!(
        !store.verify(&path, expires, &flipped, now),
        "changed signature"
    );
    assert!(
        !store.verify(&path, expires, &sig[..10], now),
        "short signature"
    );
    assert!(!store.verify(&path, expires, "", now), "no signature");
    assert!(!store.verify(&path, expires, "not base64!", now), "garbage");

    assert!(
        store.verify(&path, expires, &sig, expires),
        "valid until expiry"
    );
    assert!(!store.verify(&path, expires, &sig, expires + 1), "expired");

    // A URL signed with another key is refused.
    let other_store = FsStore::new(FsSettings {
        dir: store.dir().to_owned(),
        public_url: "http://127.0.0.1:8080".into(),
        signing_key: b"another key".to_vec(),
    })
    .unwrap();
    assert!(!other_store.verify(&path, expires, &sig, now));
}

#[tokio::test]
async fn traversal_keys_are_refused() {
    let fs = test_fs();
    let store = fs.store();
    // Even a correctly signed traversal path does not authorize anything.
    let evil = "originals/../../../etc/passwd";
    let expires = unix(SystemTime::now()) + 60;
    let sig = URL_SAFE_NO_PAD.encode(store.mac(evil, expires).finalize().into_bytes());
    assert!(store.verify(evil, expires, &sig, expires - 1));
    assert_eq!(store.authorize(evil, expires, &sig, expires - 1), None);

    // Hand-built keys with a path in the extension never reach the disk.
    let bad = StorageKey::thumbnail(Uuid::now_v7(), 200, "/../../../../x");
    let put = fs
        .storage
        .put_bytes(&bad, Bytes::from_static(b"x"), "text/plain");
    assert!(matches!(put.await, Err(StorageError::Other(_))));
    assert!(matches!(
        fs.storage.get(&bad).await,
        Err(StorageError::Other(_))
    ));
    assert!(matches!(
        fs.storage.delete(&bad).await,
        Err(StorageError::Other(_))
    ));
    assert!(
        fs.storage
            .presign_get(&bad, Duration::from_secs(60))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn check_reports_a_missing_directory() {
    let fs = test_fs();
    fs.storage.check().await.unwrap();
    std::fs::remove_dir_all(fs.store().dir()).unwrap();
    assert!(matches!(
        fs.storage.check().await,
        Err(StorageError::Unavailable(_))
    ));
    assert_eq!(fs.storage.backend_name(), "fs");
}
