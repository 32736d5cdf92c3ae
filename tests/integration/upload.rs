//! Uploads end to end on the real server, for both storage backends.

use serde_json::{Value, json};

use crate::support::images::{self, dimensions};
use crate::support::{Backend, TestApp, error_code, objects, setup};

fn thumbnail(image: &Value, height: i64) -> &Value {
    image["thumbnails"]
        .as_array()
        .expect("thumbnails")
        .iter()
        .find(|t| t["height"] == height)
        .unwrap_or_else(|| panic!("no {height} px thumbnail in {image}"))
}

async fn premium_user_gets_both_thumbnails_and_the_original(backend: Backend) {
    let (t, s3) = setup(backend, &[]).await;
    let token = t.user("paula", "Premium").await;
    let jpeg = images::jpeg(1200, 900);
    let png = images::png_with_alpha(800, 1000);

    let uploaded_jpeg = t.upload(&token, "photo.jpg", jpeg.clone()).await;
    let uploaded_png = t.upload(&token, "drawing.png", png.clone()).await;
    assert_eq!(uploaded_jpeg["contentType"], "image/jpeg");
    assert_eq!(uploaded_jpeg["width"], 1200);
    assert_eq!(uploaded_jpeg["height"], 900);
    assert_eq!(uploaded_png["contentType"], "image/png");
    for t in uploaded_jpeg["thumbnails"].as_array().expect("thumbnails") {
        assert_eq!(t["status"], "PENDING");
        assert!(t["url"].is_null());
    }

    assert_eq!(t.run_jobs().await, 2);

    for (uploaded, original, format, (w, h)) in [
        (
            &uploaded_jpeg,
            &jpeg,
            image::ImageFormat::Jpeg,
            (1200u32, 900u32),
        ),
        (&uploaded_png, &png, image::ImageFormat::Png, (800, 1000)),
    ] {
        let image = t.image(&token, uploaded["id"].as_str().expect("id")).await;
        let heights: Vec<i64> = image["thumbnails"]
            .as_array()
            .expect("thumbnails")
            .iter()
            .map(|t| t["height"].as_i64().expect("height"))
            .collect();
        assert_eq!(heights, vec![200, 400]);
        for height in [200u32, 400] {
            let thumb = thumbnail(&image, i64::from(height));
            assert_eq!(thumb["status"], "READY", "{image}");
            let url = thumb["url"].as_str().expect("url");
            let (status, bytes) = t.download(url).await;
            assert_eq!(status, 200, "{url}");
            let (got_format, got_w, got_h) = dimensions(&bytes);
            assert_eq!(got_format, format);
            assert_eq!(got_h, height);
            let expected_w = (f64::from(w) * f64::from(height) / f64::from(h)).round() as u32;
            assert_eq!(got_w, expected_w, "aspect ratio kept");
            assert_eq!(thumb["width"], expected_w);
        }
        let original_url = image["originalUrl"].as_str().expect("originalUrl");
        let (status, bytes) = t.download(original_url).await;
        assert_eq!(status, 200);
        assert_eq!(&bytes, original, "the original comes back byte for byte");
    }
    // Originals and four thumbnails are stored, nothing else.
    assert_eq!(
        objects(&t, &s3).await.len(),
        6,
        "{:?}",
        objects(&t, &s3).await
    );
}

#[tokio::test]
async fn premium_user_gets_both_thumbnails_and_the_original_fs() {
    premium_user_gets_both_thumbnails_and_the_original(Backend::Fs).await;
}

#[tokio::test]
async fn premium_user_gets_both_thumbnails_and_the_original_s3() {
    premium_user_gets_both_thumbnails_and_the_original(Backend::S3).await;
}

#[tokio::test]
async fn basic_user_sees_one_thumbnail_and_no_original() {
    let t = TestApp::new().await;
    let token = t.user("bea", "Basic").await;
    let uploaded = t.upload(&token, "a.jpg", images::jpeg(640, 480)).await;
    t.run_jobs().await;
    let image = t.image(&token, uploaded["id"].as_str().expect("id")).await;
    assert!(image["originalUrl"].is_null());
    let thumbs = image["thumbnails"].as_array().expect("thumbnails");
    assert_eq!(thumbs.len(), 1);
    assert_eq!(thumbs[0]["height"], 200);
    assert_eq!(thumbs[0]["status"], "READY");
    assert_eq!(thumbs[0]["width"], 267);
}

#[tokio::test]
async fn another_users_image_is_invisible_and_cannot_be_deleted() {
    let t = TestApp::new().await;
    let owner = t.user("owner", "Premium").await;
    let other = t.user("other", "Premium").await;
    let uploaded = t
        .upload(&owner, "a.png", images::png_with_alpha(300, 300))
        .await;
    let id = uploaded["id"].as_str().expect("id");
    assert!(t.image(&other, id).await.is_null());
    let list = t
        .gql_ok(
            Some(&other),
            "{ images { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(list["images"]["edges"], json!([]));
    let body = t
        .gql(
            Some(&other),
            "mutation($id: ID!) { deleteImage(id: $id) }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND");
    assert!(
        !t.image(&owner, id).await.is_null(),
        "still there for its owner"
    );
}

async fn expired_presigned_urls_are_refused(backend: Backend) {
    let (t, _s3) = setup(backend, &[("URL_TTL_SECONDS", "60")]).await;
    let token = t.user("exp", "Premium").await;
    let uploaded = t.upload(&token, "a.jpg", images::jpeg(500, 500)).await;
    t.run_jobs().await;
    let id = uploaded["id"].as_str().expect("id");
    match backend {
        Backend::Fs => {
            // The server checks /files signatures against its clock.
            let image = t.image(&token, id).await;
            let url = image["originalUrl"].as_str().expect("url").to_owned();
            assert_eq!(t.download(&url).await.0, 200);
            t.clock.advance(chrono::Duration::seconds(120));
            assert_eq!(t.download(&url).await.0, 403);
            let tampered = url.replace("sig=", "sig=A");
            assert_eq!(t.download(&tampered).await.0, 403);
        }
        Backend::S3 => {
            // S3 checks against real time: sign as if two minutes ago.
            t.clock.advance(chrono::Duration::seconds(-120));
            let image = t.image(&token, id).await;
            let url = image["originalUrl"].as_str().expect("url").to_owned();
            // 403 from AWS, MinIO and s3s; 400 from Garage ("Date is too old").
            let status = t.download(&url).await.0;
            assert!(matches!(status.as_u16(), 400 | 403), "{status} {url}");
        }
    }
}

#[tokio::test]
async fn expired_presigned_urls_are_refused_fs() {
    expired_presigned_urls_are_refused(Backend::Fs).await;
}

#[tokio::test]
async fn expired_presigned_urls_are_refused_s3() {
    expired_presigned_urls_are_refused(Backend::S3).await;
}

async fn bad_files_are_refused_and_leave_nothing_behind(backend: Backend) {
    let (t, s3) = setup(backend, &[("MAX_UPLOAD_BYTES", "200000")]).await;
    let token = t.user("mallory", "Premium").await;
    let mut truncated = images::jpeg(400, 300);
    truncated.truncate(truncated.len() / 2);
    let mut truncated_png = images::png_with_alpha(400, 300);
    truncated_png.truncate(truncated_png.len() - 30);
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "notes.txt",
            b"just some text, not an image".to_vec(),
            200,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            "page.html",
            b"<html><script>alert(1)</script></html>".to_vec(),
            200,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            "logo.svg",
            b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>".to_vec(),
            200,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        ("empty.jpg", Vec::new(), 200, "BAD_USER_INPUT"),
        ("half.jpg", truncated, 200, "BAD_USER_INPUT"),
        ("half.png", truncated_png, 200, "BAD_USER_INPUT"),
        (
            "bomb.png",
            images::png_bomb(100_000, 100_000),
            200,
            "BAD_USER_INPUT",
        ),
        ("huge.png", vec![0x89; 300_000], 413, "PAYLOAD_TOO_LARGE"),
    ];
    for (name, bytes, status, code) in cases {
        let (got_status, body) = t.upload_raw(&token, name, bytes, None).await;
        assert_eq!(got_status.as_u16(), status, "{name}: {body}");
        assert_eq!(error_code(&body), code, "{name}: {body}");
    }
    assert_eq!(t.count("images").await, 0);
    assert_eq!(t.count("jobs").await, 0);
    assert_eq!(objects(&t, &s3).await, Vec::<String>::new());
}

#[tokio::test]
async fn bad_files_are_refused_and_leave_nothing_behind_fs() {
    bad_files_are_refused_and_leave_nothing_behind(Backend::Fs).await;
}

#[tokio::test]
async fn bad_files_are_refused_and_leave_nothing_behind_s3() {
    bad_files_are_refused_and_leave_nothing_behind(Backend::S3).await;
}

#[tokio::test]
async fn upload_without_a_preflight_header_is_refused() {
    let t = TestApp::new().await;
    let token = t.user("csrf", "Basic").await;
    let form = reqwest::multipart::Form::new()
        .text(
            "operations",
            r#"{"query":"mutation($f: Upload!) { uploadImage(file: $f) { id } }","variables":{"f":null}}"#,
        )
        .text("map", r#"{"0": ["variables.f"]}"#)
        .part("0", reqwest::multipart::Part::bytes(images::jpeg(64, 64)).file_name("a.jpg"));
    let resp = t
        .http
        .post(format!("{}/graphql", t.base))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 400);
    assert_eq!(t.count("images").await, 0);
}

#[tokio::test]
async fn images_are_listed_newest_first_in_pages() {
    let t = TestApp::new().await;
    let token = t.user("pager", "Basic").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let img = t
            .upload(&token, &format!("{i}.jpg"), images::jpeg(40, 30))
            .await;
        ids.push(img["id"].as_str().expect("id").to_owned());
    }
    let page = "query($after: String) { images(first: 2, after: $after) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }";
    let first = t.gql_ok(Some(&token), page, json!({ "after": null })).await;
    let edges = first["images"]["edges"].as_array().expect("edges");
    assert_eq!(edges.len(), 2);
    assert_eq!(edges[0]["node"]["id"], ids[2].as_str());
    assert_eq!(edges[1]["node"]["id"], ids[1].as_str());
    assert_eq!(first["images"]["pageInfo"]["hasNextPage"], true);
    let cursor = first["images"]["pageInfo"]["endCursor"].clone();
    let second = t
        .gql_ok(Some(&token), page, json!({ "after": cursor }))
        .await;
    let edges = second["images"]["edges"].as_array().expect("edges");
    assert_eq!(edges.len(), 1);
    assert_eq!(edges[0]["node"]["id"], ids[0].as_str());
    assert_eq!(second["images"]["pageInfo"]["hasNextPage"], false);

    let bad = t
        .gql(
            Some(&token),
            "{ images(first: 1000) { edges { cursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&bad), "BAD_USER_INPUT");
    let bad = t
        .gql(
            Some(&token),
            "{ images(after: \"garbage\") { edges { cursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&bad), "BAD_USER_INPUT");
}

async fn deleting_an_image_removes_rows_and_objects(backend: Backend) {
    let (t, s3) = setup(backend, &[]).await;
    let token = t.user("del", "Premium").await;
    let uploaded = t.upload(&token, "a.jpg", images::jpeg(800, 600)).await;
    t.run_jobs().await;
    assert_eq!(objects(&t, &s3).await.len(), 3);
    let id = uploaded["id"].as_str().expect("id");
    let data = t
        .gql_ok(
            Some(&token),
            "mutation($id: ID!) { deleteImage(id: $id) }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(data["deleteImage"], true);
    assert!(t.image(&token, id).await.is_null());
    assert_eq!(t.count("thumbnails").await, 0);
    t.run_jobs().await;
    assert_eq!(objects(&t, &s3).await, Vec::<String>::new());
    assert_eq!(t.count("jobs").await, 0);
}

#[tokio::test]
async fn deleting_an_image_removes_rows_and_objects_fs() {
    deleting_an_image_removes_rows_and_objects(Backend::Fs).await;
}

#[tokio::test]
async fn deleting_an_image_removes_rows_and_objects_s3() {
    deleting_an_image_removes_rows_and_objects(Backend::S3).await;
}

#[tokio::test]
async fn upload_images_stores_all_or_nothing() {
    let t = TestApp::new().await;
    let token = t.user("multi", "Basic").await;
    let query = "mutation($files: [Upload!]!) { uploadImages(files: $files) { id filename } }";
    let send = |parts: Vec<(&'static str, Vec<u8>)>| {
        let n = parts.len();
        let map: serde_json::Map<String, Value> = (0..n)
            .map(|i| (i.to_string(), json!([format!("variables.files.{i}")])))
            .collect();
        let mut form = reqwest::multipart::Form::new()
            .text(
                "operations",
                json!({ "query": query, "variables": { "files": vec![Value::Null; n] } })
                    .to_string(),
            )
            .text("map", Value::Object(map).to_string());
        for (i, (name, bytes)) in parts.into_iter().enumerate() {
            form = form.part(
                i.to_string(),
                reqwest::multipart::Part::bytes(bytes).file_name(name),
            );
        }
        t.http
            .post(format!("{}/graphql", t.base))
            .bearer_auth(&token)
            .header("apollo-require-preflight", "true")
            .multipart(form)
            .send()
    };
    let body: Value = send(vec![
        ("a.jpg", images::jpeg(50, 50)),
        ("b.txt", b"nope".to_vec()),
    ])
    .await
    .expect("send")
    .json()
    .await
    .expect("json");
    assert_eq!(error_code(&body), "UNSUPPORTED_MEDIA_TYPE");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("b.txt")
    );
    assert_eq!(t.count("images").await, 0);
    assert!(t.fs_objects().is_empty());

    let body: Value = send(vec![
        ("a.jpg", images::jpeg(50, 50)),
        ("b.png", images::png_with_alpha(20, 20)),
    ])
    .await
    .expect("send")
    .json()
    .await
    .expect("json");
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(
        body["data"]["uploadImages"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(t.count("images").await, 2);
}

#[tokio::test]
async fn file_responses_carry_cache_headers_matching_their_expiry() {
    let t = TestApp::builder()
        .var("URL_TTL_SECONDS", "600")
        .build()
        .await;
    let token = t.user("cachey", "Premium").await;
    let img = t.upload(&token, "a.jpg", images::jpeg(400, 300)).await;
    t.run_jobs().await;
    let image = t.image(&token, img["id"].as_str().expect("id")).await;
    let url = image["thumbnails"][0]["url"].as_str().expect("url");
    let resp = t.http.get(url).send().await.expect("get");
    assert_eq!(resp.status(), 200);
    let cache = resp.headers()["cache-control"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let max_age: i64 = cache
        .strip_prefix("private, max-age=")
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("cache-control: {cache}"));
    assert!((600..=750).contains(&max_age), "{cache}");
    let etag = resp.headers()["etag"].clone();
    let again = t
        .http
        .get(url)
        .header("if-none-match", etag.clone())
        .send()
        .await
        .expect("get");
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"], etag);
}
