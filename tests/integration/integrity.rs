//! No orphans: objects without rows are swept once they are old enough.

use image_vault::jobs::orphans::sweep_orphans;
use image_vault::storage::StorageKey;
use uuid::Uuid;

use crate::support::s3::start_s3_server;
use crate::support::{Backend, TestApp, images, objects, setup};

async fn orphans_are_swept_after_the_grace_period(backend: Backend) {
    let (t, s3) = setup(backend, &[]).await;
    let objects = || objects(&t, &s3);
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

/// A burst of uploads under injected faults (storage outages, requests cut
/// off mid-body, workers dying with jobs claimed, a crash between storing
/// an object and committing its rows): afterwards every row has its object,
/// and after the orphan sweep every object has its row.
#[tokio::test]
async fn a_burst_of_uploads_under_faults_leaves_rows_and_objects_consistent() {
    use std::collections::BTreeSet;

    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use image_vault::db::schema;
    use image_vault::jobs::queue;

    let mut s3 = start_s3_server().await;
    if !s3.can_stop() {
        eprintln!("skipped: needs a stoppable S3 server");
        return;
    }
    let t = TestApp::builder().s3(&s3).build().await;
    let token = t.user("burst", "Premium").await;
    // A fixed pseudo-random sequence: the same faults every run.
    let mut seed: u32 = 0x2545_f491;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed % 10
    };
    let mut ok = 0;
    let mut kinds = [0u32; 5];
    for i in 0..30u32 {
        let bytes = images::jpeg(120 + i, 90);
        let kind = next();
        kinds[usize::try_from(kind.min(4)).unwrap_or(4)] += 1;
        match kind {
            0 | 1 => {
                // Storage down during the upload.
                s3.stop().await;
                let (_, body) = t.upload_raw(&token, "down.jpg", bytes, None).await;
                assert!(body.get("errors").is_some(), "{body}");
                s3.restart().await;
            }
            2 => {
                // The client goes away halfway through the body.
                let half = bytes[..bytes.len() / 2].to_vec();
                let stream = futures_util::stream::iter(vec![
                    Ok::<_, std::io::Error>(half),
                    Err(std::io::Error::other("client vanished")),
                ]);
                let form = reqwest::multipart::Form::new()
                    .text(
                        "operations",
                        r#"{"query":"mutation($f: Upload!) { uploadImage(file: $f) { id } }","variables":{"f":null}}"#,
                    )
                    .text("map", r#"{"0": ["variables.f"]}"#)
                    .part(
                        "0",
                        reqwest::multipart::Part::stream(reqwest::Body::wrap_stream(stream))
                            .file_name("cut.jpg"),
                    );
                // Whatever the client sees (usually a broken connection), the
                // server must store nothing for it: checked below.
                let _ = t
                    .http
                    .post(format!("{}/graphql", t.base))
                    .bearer_auth(&token)
                    .header("apollo-require-preflight", "true")
                    .multipart(form)
                    .send()
                    .await;
            }
            3 => {
                // A worker claims the job and dies.
                t.upload(&token, "claimed.jpg", bytes).await;
                let mut conn = t.app.db.get().await.expect("conn");
                let now = t.clock.now();
                queue::claim(
                    &mut conn,
                    "doomed",
                    now,
                    now + chrono::Duration::seconds(60),
                )
                .await
                .expect("claim");
                ok += 1;
            }
            4 => {
                // A crash after the object was stored, before the rows: an orphan.
                t.app
                    .storage
                    .put_bytes(
                        &StorageKey::original(Uuid::now_v7()),
                        bytes.into(),
                        "image/jpeg",
                    )
                    .await
                    .expect("put");
            }
            _ => {
                t.upload(&token, "fine.jpg", bytes).await;
                ok += 1;
            }
        }
    }
    assert!(
        kinds.iter().all(|&n| n > 0),
        "every kind of fault happened: {kinds:?}"
    );
    // Workers come back; dead workers' leases run out.
    t.run_jobs().await;
    t.clock.advance(chrono::Duration::minutes(5));
    t.run_jobs().await;

    let mut conn = t.app.db.get().await.expect("conn");
    let sources: Vec<Uuid> = schema::images::table
        .select(schema::images::source_id)
        .load(&mut conn)
        .await
        .expect("images");
    assert_eq!(sources.len(), ok, "every accepted upload, and nothing else");
    let ready: Vec<(Uuid, i32, Option<String>)> = schema::thumbnails::table
        .inner_join(schema::images::table)
        .filter(schema::thumbnails::status.eq("ready"))
        .select((
            schema::images::source_id,
            schema::thumbnails::height,
            schema::thumbnails::content_type,
        ))
        .load(&mut conn)
        .await
        .expect("thumbnails");
    assert_eq!(ready.len(), 2 * ok, "every thumbnail made");
    let mut expected: BTreeSet<String> = sources
        .iter()
        .map(|s| StorageKey::original(*s).as_path())
        .collect();
    for (source, height, content_type) in &ready {
        let ext =
            image_vault::storage::ext_for_content_type(content_type.as_deref().unwrap_or_default())
                .expect("known type");
        expected.insert(
            StorageKey::thumbnail(*source, u32::try_from(*height).expect("height"), ext).as_path(),
        );
    }
    let stored: BTreeSet<String> = s3.object_keys().await.into_iter().collect();
    let missing: Vec<_> = expected.difference(&stored).collect();
    assert!(missing.is_empty(), "rows without objects: {missing:?}");

    // What crashes left behind goes with the orphan sweep, and only that.
    t.clock.advance(chrono::Duration::hours(2));
    sweep_orphans(&t.app).await.expect("sweep");
    let stored: BTreeSet<String> = s3.object_keys().await.into_iter().collect();
    assert_eq!(stored, expected);
}
