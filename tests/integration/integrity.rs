//! No orphans: objects without rows are swept once they are old enough.

use image_vault::jobs::orphans::sweep_orphans;
use image_vault::storage::StorageKey;
use uuid::Uuid;

use crate::support::s3::start_s3_server;
use crate::support::{Backend, TestApp, images};

async fn orphans_are_swept_after_the_grace_period(backend: Backend) {
    let s3 = match backend {
        Backend::S3 => Some(start_s3_server().await),
        Backend::Fs => None,
    };
    let mut builder = TestApp::builder();
    if let Some(s3) = &s3 {
        builder = builder.s3(s3);
    }
    let t = builder.build().await;
    let objects = || async {
        match &s3 {
            Some(s3) => s3.object_keys().await,
            None => t.fs_objects(),
        }
    };
    let token = t.user("keeper", "Premium").await;
    let img = t.upload(&token, "a.jpg", images::jpeg(500, 400)).await;
    t.run_jobs().await;
    let image_id: Uuid = img["id"].as_str().expect("id").parse().expect("uuid");
    let legit = objects().await;
    assert_eq!(legit.len(), 3);

    // What crashes leave behind: an original whose rows never committed, a
    // thumbnail of a height no row has, a thumbnail of a vanished image.
    let orphans = [
        StorageKey::original(Uuid::now_v7()),
        StorageKey::thumbnail(image_id, 999, "jpg"),
        StorageKey::thumbnail(Uuid::now_v7(), 200, "png"),
    ];
    for key in &orphans {
        t.app
            .storage
            .put_bytes(key, images::jpeg(8, 8).into(), "image/jpeg")
            .await
            .expect("put");
    }
    // Young objects are left alone: their upload may still be committing.
    assert_eq!(sweep_orphans(&t.app).await.expect("sweep"), 0);
    assert_eq!(objects().await.len(), 6);

    t.clock.advance(chrono::Duration::hours(2));
    assert_eq!(sweep_orphans(&t.app).await.expect("sweep"), 3);
    assert_eq!(objects().await, legit);
    assert_eq!(sweep_orphans(&t.app).await.expect("sweep"), 0);
    // Back to real time: S3 refuses URLs signed in the future.
    t.clock.advance(chrono::Duration::hours(-2));
    let image = t.image(&token, &image_id.to_string()).await;
    for th in image["thumbnails"].as_array().expect("thumbnails") {
        let (status, _) = t.download(th["url"].as_str().expect("url")).await;
        assert_eq!(status, 200, "live thumbnails survive");
    }
}

#[tokio::test]
async fn orphans_are_swept_after_the_grace_period_fs() {
    orphans_are_swept_after_the_grace_period(Backend::Fs).await;
}

#[tokio::test]
async fn orphans_are_swept_after_the_grace_period_s3() {
    orphans_are_swept_after_the_grace_period(Backend::S3).await;
}
