//! Every format end to end through `uploadImage`: the fixtures of
//! tests/fixtures/formats (made with Pillow, see its README) are uploaded,
//! their thumbnails made by the job and downloaded from their presigned
//! URLs, and the original downloaded byte for byte. Colours against the
//! colour-managed references are checked on the kernel's output
//! (src/imaging/format_tests.rs); here the served thumbnail must be exactly
//! what the kernel makes, at the plan's heights, in JPEG or PNG.

use std::path::Path;

use image_vault::imaging::{self, ImageKind, ThumbnailSpec};
use serde_json::{Value, json};

use crate::support::images::dimensions;
use crate::support::{IMAGE_FIELDS, TestApp, error_code};

const HEIGHTS: [u32; 2] = [100, 50];

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/formats")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn manifest() -> Vec<Value> {
    match serde_json::from_slice(&fixture("reference/manifest.json")).expect("manifest") {
        Value::Array(entries) => entries,
        other => panic!("manifest is not a list: {other}"),
    }
}

fn kind_of(bytes: &[u8]) -> ImageKind {
    imaging::sniff(&bytes[..bytes.len().min(imaging::SNIFF_LEN)]).expect("sniffs")
}

/// A user on a plan with two thumbnail heights below the fixtures' 160 px
/// and originals.
async fn user(t: &TestApp) -> String {
    let root = t.admin("root").await;
    let plan = t
        .gql_ok(
            Some(&root),
            "mutation($input: PlanInput!) { createPlan(input: $input) { id } }",
            json!({ "input": { "name": "Formats", "thumbnailHeights": HEIGHTS, "originalLink": true } }),
        )
        .await["createPlan"]["id"]
        .clone();
    t.create_user("fiona", "Basic", false).await;
    let token = t.login("fiona", crate::support::PASSWORD).await;
    let me = t.gql_ok(Some(&token), "{ me { id } }", json!({})).await;
    t.gql_ok(
        Some(&root),
        "mutation($u: ID!, $p: ID) { setUserPlan(userId: $u, planId: $p) { id } }",
        json!({ "u": me["me"]["id"], "p": plan }),
    )
    .await;
    token
}

#[tokio::test]
async fn every_format_is_accepted_and_gets_its_thumbnails_and_its_original_back() {
    let t = TestApp::new().await;
    let token = user(&t).await;
    let spec = ThumbnailSpec {
        heights: HEIGHTS.to_vec(),
        jpeg_quality: t.app.config.jpeg_quality,
        max_pixels: t.app.config.max_image_pixels,
    };
    let mut uploaded = Vec::new();
    for entry in manifest() {
        let file = entry["file"].as_str().expect("file").to_owned();
        let bytes = fixture(&file);
        let kind = kind_of(&bytes);
        if !kind.is_decodable() {
            continue;
        }
        let image = t.upload(&token, &file, bytes.clone()).await;
        assert_eq!(image["contentType"], kind.content_type(), "{file}");
        assert_eq!(image["width"], entry["width"], "{file}");
        assert_eq!(image["height"], entry["height"], "{file}");
        uploaded.push((file, bytes, kind, entry, image));
    }
    assert!(uploaded.len() >= 30, "{} formats uploaded", uploaded.len());
    t.run_jobs().await;

    let query =
        format!("query($id: ID!) {{ image(id: $id) {{ {IMAGE_FIELDS} animated frameCount }} }}");
    for (file, bytes, kind, entry, image) in uploaded {
        let id = image["id"].as_str().expect("id");
        let image = t.gql_ok(Some(&token), &query, json!({ "id": id })).await["image"].clone();
        assert_eq!(image["frameCount"], entry["frame_count"], "{file}");
        assert_eq!(image["animated"], entry["animated"], "{file}");
        let made = imaging::make_thumbnails(&bytes, &spec).expect("the kernel makes them");
        for thumbnail in image["thumbnails"].as_array().expect("thumbnails") {
            let want = made
                .iter()
                .find(|m| thumbnail["height"] == m.height)
                .expect("a thumbnail of a planned height");
            assert_eq!(thumbnail["status"], "READY", "{file}: {image}");
            let url = thumbnail["url"].as_str().expect("url");
            let (status, served) = t.download(url).await;
            assert_eq!(status, 200, "{file}");
            let (format, width, height) = dimensions(&served);
            assert_eq!(height, want.actual_height, "{file}");
            assert_eq!(
                height, want.height,
                "{file}: the plan's height, not upscaled"
            );
            assert_eq!(width, want.width, "{file}");
            let expected = match kind {
                ImageKind::Png => image::ImageFormat::Png,
                ImageKind::Jpeg => image::ImageFormat::Jpeg,
                _ if entry["has_alpha"] == true => image::ImageFormat::Png,
                _ => image::ImageFormat::Jpeg,
            };
            assert_eq!(format, expected, "{file}");
            assert!(served == want.bytes, "{file}: served what the kernel makes");
        }
        let original = image["originalUrl"].as_str().expect("originalUrl");
        let response = t.http.get(original).send().await.expect("original");
        assert_eq!(
            response.headers()["content-type"],
            kind.content_type(),
            "{file}"
        );
        let served = response.bytes().await.expect("body");
        assert!(served == bytes, "{file}: the original byte for byte");
    }
}

/// A motion photo: a JPEG followed by its video. The video is not
/// truncation, and it stays with the original.
#[tokio::test]
async fn a_motion_photo_keeps_its_video_and_gets_thumbnails() {
    let t = TestApp::new().await;
    let token = user(&t).await;
    let bytes = fixture("motion-photo.jpg");
    let jpeg_end = fixture("srgb.jpg").len();
    assert!(
        bytes.len() > jpeg_end + 100_000,
        "the video follows the JPEG"
    );
    let image = t.upload(&token, "PXL_motion.jpg", bytes.clone()).await;
    assert_eq!(image["byteSize"], bytes.len());
    t.run_jobs().await;
    let image = t.image(&token, image["id"].as_str().expect("id")).await;
    for thumbnail in image["thumbnails"].as_array().expect("thumbnails") {
        assert_eq!(thumbnail["status"], "READY", "{image}");
    }
    let (_, served) = t
        .download(image["originalUrl"].as_str().expect("originalUrl"))
        .await;
    assert!(served == bytes, "the whole file, video included");
}

/// Cut short, every new format is refused at upload and nothing is kept;
/// with pixel data corrupted in the middle, it is refused at upload or its
/// thumbnails fail with a reason, never served and never a crash.
#[tokio::test]
async fn truncated_and_corrupt_files_of_every_format_lose_nothing() {
    let t = TestApp::new().await;
    let token = user(&t).await;
    let files = [
        "lossy.webp",
        "lossless.webp",
        "animated.webp",
        "animated.gif",
        "palette-transparent.gif",
        "rgb24.bmp",
        "palette8.bmp",
        "rgb8.tif",
        "grey16.tif",
        "cmyk.tif",
        "animated.png",
        "adobe-rgb-progressive.jpg",
        "heic.heic",
        "avif.avif",
    ];
    for file in files {
        let bytes = fixture(file);
        if !kind_of(&bytes).is_decodable() {
            continue;
        }
        let (status, body) = t
            .upload_raw(&token, file, bytes[..bytes.len() / 2].to_vec(), None)
            .await;
        assert_eq!(status, 200, "{file}");
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{file}: {body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("truncated")),
            "{file}: {body}"
        );
    }
    assert_eq!(
        t.count("images").await,
        0,
        "nothing kept of truncated files"
    );

    for file in files {
        let mut bytes = fixture(file);
        if !kind_of(&bytes).is_decodable() {
            continue;
        }
        // Past the headers, into the pixel data.
        let middle = bytes.len() * 2 / 3;
        for b in &mut bytes[middle..middle + 64] {
            *b ^= 0x5A;
        }
        let (status, body) = t.upload_raw(&token, file, bytes, None).await;
        assert_eq!(status, 200, "{file}: {body}");
        if body.get("errors").is_some() {
            assert_eq!(error_code(&body), "BAD_USER_INPUT", "{file}: {body}");
            continue;
        }
        let id = body["data"]["uploadImage"]["id"]
            .as_str()
            .expect("id")
            .to_owned();
        t.run_jobs().await;
        let image = t.image(&token, &id).await;
        for thumbnail in image["thumbnails"].as_array().expect("thumbnails") {
            // Some decoders conceal damage (libde265, GIF's LZW): a
            // picture is then made, which is fine; what may not happen is
            // a thumbnail left pending or a crash.
            assert!(
                thumbnail["status"] == "READY" || thumbnail["status"] == "FAILED",
                "{file}: {image}"
            );
        }
    }
}

/// A build without the `heif` feature recognises HEIC and AVIF and says
/// which feature it lacks.
#[cfg(not(feature = "heif"))]
#[tokio::test]
async fn heic_and_avif_are_refused_naming_the_feature_without_it() {
    let t = TestApp::new().await;
    let token = user(&t).await;
    for (file, name) in [("heic.heic", "HEIC"), ("avif.avif", "AVIF")] {
        let (_, body) = t.upload_raw(&token, file, fixture(file), None).await;
        assert_eq!(error_code(&body), "UNSUPPORTED_MEDIA_TYPE", "{body}");
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(name) && message.contains("`heif`"),
            "{message}"
        );
    }
    assert_eq!(t.count("images").await, 0);
}

/// Too many frames for `MAX_FRAMES` is refused from the structure.
#[tokio::test]
async fn an_animation_over_the_frame_limit_is_refused_before_decoding() {
    let t = TestApp::builder().var("MAX_FRAMES", "2").build().await;
    let token = user(&t).await;
    for file in ["animated.gif", "animated.webp", "animated.png"] {
        let (_, body) = t.upload_raw(&token, file, fixture(file), None).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{file}: {body}");
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains("3 frames"), "{file}: {message}");
    }
    // A still image passes.
    t.upload(&token, "still.webp", fixture("lossy.webp")).await;
}
