//! The job queue under one user's flood, poison inputs and memory-hungry
//! decodes.

use std::time::Duration;

use image::ImageFormat;
use image_vault::jobs::{WorkerPool, run_one};
use serde_json::{Value, json};

use crate::support::process::wait_until;
use crate::support::{TestApp, error_code, images};

const UPLOAD_MANY: &str = "mutation($files: [Upload!]!) { uploadImages(files: $files) { id } }";

/// Uploads `files` in one multipart request; returns the ids.
async fn upload_many(t: &TestApp, token: &str, files: Vec<(String, Vec<u8>)>) -> Vec<String> {
    let n = files.len();
    let operations =
        json!({ "query": UPLOAD_MANY, "variables": { "files": vec![Value::Null; n] } });
    let map: serde_json::Map<String, Value> = (0..n)
        .map(|i| (i.to_string(), json!([format!("variables.files.{i}")])))
        .collect();
    let mut form = reqwest::multipart::Form::new()
        .text("operations", operations.to_string())
        .text("map", Value::Object(map).to_string());
    for (i, (name, bytes)) in files.into_iter().enumerate() {
        form = form.part(
            i.to_string(),
            reqwest::multipart::Part::bytes(bytes).file_name(name),
        );
    }
    let body: Value = t
        .http
        .post(format!("{}/graphql", t.base))
        .bearer_auth(token)
        .header("apollo-require-preflight", "true")
        .multipart(form)
        .send()
        .await
        .expect("upload")
        .json()
        .await
        .expect("json");
    body["data"]["uploadImages"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_owned())
        .collect()
}

async fn status(t: &TestApp, token: &str, id: &str) -> Value {
    t.image(token, id).await["thumbnails"][0]["status"].clone()
}

#[tokio::test]
async fn one_users_backlog_does_not_hold_up_another_users_first_image() {
    let t = TestApp::new().await;
    let flood = t.user("flood", "Basic").await;
    let other = t.user("other", "Basic").await;
    for batch in 0..3 {
        let files = (0..10)
            .map(|i| {
                let n = batch * 10 + i;
                (format!("{n}.jpg"), images::jpeg(40 + n, 30))
            })
            .collect();
        upload_many(&t, &flood, files).await;
    }
    let first = t.upload(&other, "mine.jpg", images::jpeg(64, 48)).await;
    let id = first["id"].as_str().expect("id");

    // Jobs run one at a time, as one worker would take them.
    let mut ran = 0;
    while status(&t, &other, id).await != "READY" {
        assert!(
            run_one(&t.app, "w").await.expect("run").is_some(),
            "the queue ran dry before the other user's image was made"
        );
        ran += 1;
    }
    assert!(
        ran <= 2,
        "the other user's only image waited behind {} of the flood's jobs",
        ran - 1
    );
    // And the flood is done too, in its turn.
    t.run_jobs().await;
    assert_eq!(t.count("jobs").await, 0);
}

#[tokio::test]
async fn a_panorama_too_wide_for_webp_gets_a_thumbnail_at_the_first_attempt() {
    let t = TestApp::new().await;
    let admin = t.admin("root").await;
    t.gql_ok(
        Some(&admin),
        "mutation { createPlan(input: { name: \"Web\", thumbnailHeights: [200], thumbnailFormat: WEBP }) { id } }",
        json!({}),
    )
    .await;
    let token = t.user("wide", "Web").await;
    // 200 px high is 20,000 px wide: more than WebP's 16,383.
    let image = t
        .upload(&token, "pano.jpg", images::jpeg(40_000, 400))
        .await;
    let id = image["id"].as_str().expect("id");
    assert_eq!(t.run_jobs().await, 1, "one attempt, no retries");
    let image = t.image(&token, id).await;
    let thumb = &image["thumbnails"][0];
    assert_eq!(thumb["status"], "READY", "{image}");
    assert_eq!(thumb["width"], 20_000);
    let (status, bytes) = t.download(thumb["url"].as_str().expect("url")).await;
    assert_eq!(status, 200);
    let (format, w, h) = images::dimensions(&bytes);
    assert_eq!((format, w, h), (ImageFormat::Jpeg, 20_000, 200));

    // An ordinary photo on the same plan still gets WebP.
    let image = t.upload(&token, "ok.jpg", images::jpeg(800, 600)).await;
    t.run_jobs().await;
    let image = t.image(&token, image["id"].as_str().expect("id")).await;
    let (_, bytes) = t
        .download(image["thumbnails"][0]["url"].as_str().expect("url"))
        .await;
    assert_eq!(image::guess_format(&bytes).ok(), Some(ImageFormat::WebP));
}

/// A 16-bit RGB PNG of zeros: tiny on disk, nine bytes a pixel to decode.
fn png16_zeros(width: u32, height: u32) -> Vec<u8> {
    let img: image::ImageBuffer<image::Rgb<u16>, Vec<u16>> = image::ImageBuffer::new(width, height);
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb16(img)
        .write_to(&mut out, ImageFormat::Png)
        .expect("encode");
    out.into_inner()
}

#[tokio::test]
async fn an_image_that_would_take_too_much_memory_to_decode_is_refused_at_upload() {
    let t = TestApp::builder()
        .var("MAX_DECODE_BYTES", (64u64 << 20).to_string())
        .build()
        .await;
    let token = t.user("bomber", "Basic").await;
    // 3000 x 3000 x 9 bytes = 77 MiB to decode, from a file of a few KB.
    let bomb = png16_zeros(3000, 3000);
    assert!(bomb.len() < 1 << 20, "{}", bomb.len());
    let (status, body) = t.upload_raw(&token, "zeros.png", bomb, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("77 MiB of memory"), "{message}");
    assert_eq!(t.count("images").await, 0);
    assert!(t.fs_objects().is_empty());
    // A smaller one of the same kind is fine.
    t.upload(&token, "small.png", png16_zeros(1000, 1000)).await;
}

#[tokio::test]
async fn decoding_jobs_share_the_process_memory_budget() {
    // One 1500x1500 16-bit decode reserves 20 MiB: two never fit in 30.
    let t = TestApp::builder()
        .var("DECODE_MEMORY_BUDGET", (30u64 << 20).to_string())
        .var("MAX_DECODE_BYTES", (30u64 << 20).to_string())
        .build()
        .await;
    let token = t.user("heavy", "Basic").await;
    let mut ids = Vec::new();
    for i in 0..4 {
        let png = png16_zeros(1500, 1500 + i);
        let image = t.upload(&token, "z.png", png).await;
        ids.push(image["id"].as_str().expect("id").to_owned());
    }
    let pool = WorkerPool::start(t.app.clone(), 4);
    for id in &ids {
        wait_until("thumbnail READY", Duration::from_secs(60), || async {
            let now = status(&t, &token, id).await;
            if now == "READY" {
                Ok(())
            } else {
                Err(now.to_string())
            }
        })
        .await;
    }
    pool.shutdown(Duration::from_secs(10)).await;
    let peak = t.app.decode_budget.peak();
    assert!(peak >= 20 << 20, "jobs reserved only {peak} bytes");
    assert!(peak <= 30 << 20, "jobs held {} MiB at once", peak >> 20);
}
