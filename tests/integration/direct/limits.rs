//! Direct-upload limits under attack (issue 10): the open-slot limit under
//! parallel calls, parallel PUTs to one fs slot, and S3 upload URLs used
//! again after completion.

use std::time::Duration;

use bytes::Bytes;
use reqwest::StatusCode;
use serde_json::json;

use super::{CREATE, complete_ok, create, put};
use crate::support::{Backend, TestApp, error_code, images, objects, setup};

#[tokio::test]
async fn parallel_calls_never_open_more_slots_than_the_limit() {
    let t = TestApp::new().await;
    let token = t.user("greedy", "Basic").await;
    let mut calls = Vec::new();
    for i in 0..40 {
        calls.push(t.gql(
            Some(&token),
            CREATE,
            json!({ "f": format!("{i}.jpg"), "n": 1000, "t": "image/jpeg" }),
        ));
    }
    let results = futures_util::future::join_all(calls).await;
    let opened = results.iter().filter(|b| b.get("errors").is_none()).count();
    let refused = results
        .iter()
        .filter(|b| error_code(b) == "TOO_MANY_REQUESTS")
        .count();
    assert_eq!((opened, refused), (20, 20));
    assert_eq!(t.count("upload_slots").await, 20);
}

#[tokio::test]
async fn a_second_put_to_one_fs_slot_is_refused_while_the_first_runs() {
    let t = TestApp::new().await;
    let token = t.user("twice", "Basic").await;
    let jpeg = images::jpeg(800, 600);
    let target = create(&t, &token, "a.jpg", &jpeg, "image/jpeg").await;
    let url = target["url"].as_str().expect("url").to_owned();

    // The first PUT sends half its body, then waits to be told to go on.
    let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
    let half = jpeg.len() / 2;
    let (head, rest) = (
        Bytes::from(jpeg[..half].to_vec()),
        Bytes::from(jpeg[half..].to_vec()),
    );
    let body = futures_util::stream::unfold((Some(head), Some(go_rx), Some(rest)), |state| async {
        match state {
            (Some(head), go, rest) => Some((Ok::<_, std::io::Error>(head), (None, go, rest))),
            (None, Some(go), rest) => {
                let _ = go.await;
                rest.map(|r| (Ok(r), (None, None, None)))
            }
            _ => None,
        }
    });
    let first = {
        let http = t.http.clone();
        let url = url.clone();
        let len = jpeg.len();
        tokio::spawn(async move {
            http.put(url)
                .header("content-type", "image/jpeg")
                .header("content-length", len.to_string())
                .body(reqwest::Body::wrap_stream(body))
                .send()
                .await
                .expect("first PUT")
                .status()
        })
    };
    // Wait until the first PUT holds the slot (its temporary file exists),
    // then try a second.
    let uploads = t.storage_dir.path().join("uploads");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let staging = std::fs::read_dir(&uploads)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().ends_with(".tmp"));
        if staging {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the first PUT never started"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let second = put(&t, &target, jpeg.clone()).await;
    assert_eq!(second, StatusCode::CONFLICT, "a parallel PUT was let in");
    let _ = go_tx.send(());
    assert_eq!(first.await.expect("task"), StatusCode::OK);
    complete_ok(&t, &token, &target["id"]).await;
}

async fn an_upload_url_stores_nothing_after_completion(backend: Backend) {
    let (t, s3) = setup(backend, &[]).await;
    let token = t.user("again", "Basic").await;
    let jpeg = images::jpeg(320, 240);
    let target = create(&t, &token, "a.jpg", &jpeg, "image/jpeg").await;
    if let Some(s3) = &s3 {
        assert!(
            target["headers"]
                .as_array()
                .expect("headers")
                .contains(&json!({ "name": "if-none-match", "value": "*" })),
            "{target}"
        );
        if !honours_if_none_match(s3).await {
            eprintln!("SKIPPED: this S3 server ignores If-None-Match on PutObject");
            return;
        }
    }
    assert_eq!(put(&t, &target, jpeg.clone()).await, StatusCode::OK);
    // Once stored, the URL takes no second body, even before completion.
    let refused = put(&t, &target, jpeg.clone()).await;
    assert!(
        matches!(refused, StatusCode::PRECONDITION_FAILED | StatusCode::OK),
        "{refused}"
    );
    let image = complete_ok(&t, &token, &target["id"]).await;
    let before = objects(&t, &s3).await;
    let status = put(&t, &target, jpeg.clone()).await;
    assert!(
        matches!(
            status,
            StatusCode::PRECONDITION_FAILED | StatusCode::CONFLICT
        ),
        "a completed upload's URL answered {status}"
    );
    assert_eq!(objects(&t, &s3).await, before, "nothing stored");
    if let Some(s3) = &s3 {
        // What stays at the key is an empty tombstone, swept with the slot.
        let key = format!("uploads/{}", target["id"].as_str().expect("id"));
        let head = s3
            .client()
            .head_object()
            .bucket(&s3.bucket)
            .key(&key)
            .send()
            .await
            .expect("tombstone");
        assert_eq!(head.content_length(), Some(0));
    }
    assert!(image["id"].is_string());
}

/// Whether the S3 server refuses a PutObject with `If-None-Match: *` over
/// an existing object, as AWS, MinIO and s3s do.
async fn honours_if_none_match(s3: &crate::support::s3::TestS3) -> bool {
    let client = s3.client();
    let put = |body: &'static [u8]| {
        client
            .put_object()
            .bucket(&s3.bucket)
            .key("probe/if-none-match")
            .if_none_match("*")
            .body(body.to_vec().into())
            .send()
    };
    let first = put(b"a").await.is_ok();
    let second = put(b"b").await.is_err();
    let _ = client
        .delete_object()
        .bucket(&s3.bucket)
        .key("probe/if-none-match")
        .send()
        .await;
    first && second
}

#[tokio::test]
async fn an_upload_url_stores_nothing_after_completion_fs() {
    an_upload_url_stores_nothing_after_completion(Backend::Fs).await;
}

#[tokio::test]
async fn an_upload_url_stores_nothing_after_completion_s3() {
    an_upload_url_stores_nothing_after_completion(Backend::S3).await;
}
