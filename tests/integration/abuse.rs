//! Abuse and bad input: hostile files, oversized and malformed requests,
//! query limits, and ids or URLs that belong to someone else. Every refusal
//! is checked for its code and for leaving nothing behind.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use futures_util::StreamExt as _;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::support::images::{self, dimensions};
use crate::support::{IMAGE_FIELDS, TestApp, error_code};

const UPLOAD_ONE: &str = "mutation($file: Upload!) { uploadImage(file: $file) { id contentType } }";
const UPLOAD_MANY: &str = "mutation($files: [Upload!]!) { uploadImages(files: $files) { id } }";

/// No image row, thumbnail, job or stored object exists.
async fn assert_nothing_stored(t: &TestApp, context: &str) {
    assert_eq!(t.count("images").await, 0, "{context}: an image row");
    assert_eq!(t.count("thumbnails").await, 0, "{context}: a thumbnail row");
    assert_eq!(t.count("jobs").await, 0, "{context}: a job");
    assert_eq!(t.fs_objects(), Vec::<String>::new(), "{context}: an object");
}

fn message(body: &Value) -> &str {
    body["errors"][0]["message"].as_str().unwrap_or_default()
}

/// Every error in the body carries `extensions.code`.
fn assert_every_error_has_a_code(body: &Value) {
    let errors = body["errors"].as_array().expect("errors");
    assert!(!errors.is_empty(), "{body}");
    for e in errors {
        assert!(e["extensions"]["code"].is_string(), "no code: {body}");
    }
}

/// POSTs a multipart form with the preflight header and returns (status, body).
async fn post_form(t: &TestApp, token: &str, form: Form) -> (StatusCode, Value) {
    let resp = t
        .http
        .post(format!("{}/graphql", t.base))
        .bearer_auth(token)
        .header("apollo-require-preflight", "true")
        .multipart(form)
        .send()
        .await
        .expect("send multipart");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// POSTs raw bytes as JSON and returns (status, body).
async fn post_json(t: &TestApp, token: Option<&str>, raw: &str) -> (StatusCode, Value) {
    let mut req = t
        .http
        .post(format!("{}/graphql", t.base))
        .header(CONTENT_TYPE, "application/json")
        .body(raw.to_owned());
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.expect("send");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// An upload whose part claims `mime` as its type, whatever the bytes are.
async fn upload_as(
    t: &TestApp,
    token: &str,
    filename: &str,
    mime: &str,
    bytes: Vec<u8>,
) -> (StatusCode, Value) {
    let operations = json!({ "query": UPLOAD_ONE, "variables": { "file": null } });
    let part = Part::bytes(bytes)
        .file_name(filename.to_owned())
        .mime_str(mime)
        .expect("mime");
    let form = Form::new()
        .text("operations", operations.to_string())
        .text("map", r#"{"0": ["variables.file"]}"#)
        .part("0", part);
    post_form(t, token, form).await
}

// ---------------------------------------------------------------------------
// Hostile files

#[tokio::test]
async fn hostile_files_are_refused_by_their_bytes_and_leave_nothing_behind() {
    let t = TestApp::new().await;
    let token = t.user("mallory", "Premium").await;
    let html = b"<html><script>alert(1)</script></html>";
    let whole = images::jpeg(64, 64);
    let mut cut_then_junk = whole[..whole.len() - 40].to_vec();
    cut_then_junk.extend(html.iter().cycle().take(5000));
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        // 3.6 billion pixels declared by a 1 KB file: refused from the header.
        (
            "bomb.jpg",
            "image/jpeg",
            images::jpeg_bomb(60_000, 60_000),
            "BAD_USER_INPUT",
        ),
        // A GIF screen of 65535x65535 in 35 bytes.
        (
            "bomb.gif",
            "image/gif",
            b"GIF89a\xff\xff\xff\xff\x80\x00\x00\xff\xff\xff\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;".to_vec(),
            "BAD_USER_INPUT",
        ),
        // A RIFF that promises more than the file holds.
        (
            "cut.webp",
            "image/webp",
            b"RIFF\xff\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00/\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00".to_vec(),
            "BAD_USER_INPUT",
        ),
        (
            "zero.bmp",
            "image/bmp",
            [&b"BM\x3a\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00\x00\x00"[..], &[0; 40]].concat(),
            "BAD_USER_INPUT",
        ),
        (
            "empty.tiff",
            "image/tiff",
            b"II*\x00\x08\x00\x00\x00\x00\x00".to_vec(),
            "BAD_USER_INPUT",
        ),
        // A video is ISO-BMFF like HEIC, but not an image.
        (
            "clip.heic",
            "image/heic",
            b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2\x00\x00\x00\x08free".to_vec(),
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        // An SVG with a prolog and a script, sent as if it were a JPEG.
        (
            "logo.jpg",
            "image/jpeg",
            b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>".to_vec(),
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            "doc.pdf",
            "application/pdf",
            b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n".to_vec(),
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        // HTML first, a JPEG after it: the magic bytes decide, not the content.
        (
            "page.jpg",
            "image/jpeg",
            [&html[..], &images::jpeg(32, 32)].concat(),
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        // A JPEG cut inside its scan, followed by what looks like more.
        ("cut.jpg", "image/jpeg", cut_then_junk, "BAD_USER_INPUT"),
    ];
    for (name, mime, bytes, code) in cases {
        let (status, body) = upload_as(&t, &token, name, mime, bytes).await;
        assert_eq!(status, 200, "{name}: {body}");
        assert_eq!(error_code(&body), code, "{name}: {body}");
        assert!(body["data"].is_null(), "{name}: {body}");
        if name == "bomb.jpg" {
            assert!(message(&body).contains("60000x60000"), "{body}");
        }
    }
    assert_nothing_stored(&t, "hostile files").await;
}

#[tokio::test]
async fn animated_and_16_bit_pngs_are_accepted_and_get_8_bit_still_thumbnails() {
    let t = TestApp::new().await;
    let token = t.user("penny", "Premium").await;
    let apng = images::apng(300, 240);
    assert!(apng.windows(4).any(|w| w == b"acTL"), "really animated");
    let png16 = images::png16(300, 240);
    assert_eq!(png16[24], 16, "really 16 bits per channel");

    for (name, bytes) in [("anim.png", apng), ("deep.png", png16)] {
        let uploaded = t.upload(&token, name, bytes).await;
        assert_eq!(uploaded["contentType"], "image/png", "{name}");
        assert_eq!(
            (&uploaded["width"], &uploaded["height"]),
            (&json!(300), &json!(240))
        );
        t.run_jobs().await;
        let image = t.image(&token, uploaded["id"].as_str().expect("id")).await;
        for thumb in image["thumbnails"].as_array().expect("thumbnails") {
            assert_eq!(thumb["status"], "READY", "{name}: {image}");
            let (status, bytes) = t.download(thumb["url"].as_str().expect("url")).await;
            assert_eq!(status, 200);
            let (format, w, h) = dimensions(&bytes);
            assert_eq!(format, image::ImageFormat::Png, "{name}");
            // 200 px high, aspect kept; the 400 px one is not upscaled.
            let expected = if thumb["height"] == 200 {
                (250, 200)
            } else {
                (300, 240)
            };
            assert_eq!((w, h), expected, "{name}");
            assert_eq!(bytes[24], 8, "{name}: an 8-bit thumbnail");
            assert!(
                !bytes.windows(4).any(|w| w == b"acTL" || w == b"fdAT"),
                "{name}: the thumbnail is a still image (the first frame)"
            );
        }
    }
}

#[tokio::test]
async fn a_file_that_is_both_image_and_html_is_served_only_as_an_image() {
    let t = TestApp::new().await;
    let token = t.user("polly", "Premium").await;
    let html = b"<html><body><script>alert(document.cookie)</script></body></html>";
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "comment.html",
            images::jpeg_with_comment(120, 90, html),
            "image/jpeg",
        ),
        (
            "text.html",
            images::png_with_text(120, 90, "Comment", html),
            "image/png",
        ),
        (
            "trailer.html",
            [&images::jpeg(120, 90)[..], html].concat(),
            "image/jpeg",
        ),
        (
            "trailer.htm",
            [&images::png_with_alpha(120, 90)[..], html].concat(),
            "image/png",
        ),
    ];
    for (name, bytes, content_type) in cases {
        // The client says it is HTML; the bytes say it is an image.
        let (status, body) = upload_as(&t, &token, name, "text/html", bytes.clone()).await;
        assert_eq!(status, 200, "{name}: {body}");
        let uploaded = &body["data"]["uploadImage"];
        assert_eq!(uploaded["contentType"], content_type, "{name}: {body}");
        t.run_jobs().await;
        let image = t.image(&token, uploaded["id"].as_str().expect("id")).await;

        let original = image["originalUrl"].as_str().expect("originalUrl");
        let resp = t.http.get(original).send().await.expect("get original");
        assert_eq!(resp.status(), 200, "{name}");
        let headers = resp.headers().clone();
        assert_eq!(headers[CONTENT_TYPE], content_type, "{name}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{name}");
        assert!(
            headers["content-security-policy"]
                .to_str()
                .unwrap_or_default()
                .contains("sandbox"),
            "{name}"
        );
        assert_eq!(
            resp.bytes().await.expect("body"),
            bytes,
            "{name}: byte for byte"
        );

        for thumb in image["thumbnails"].as_array().expect("thumbnails") {
            assert_eq!(thumb["status"], "READY", "{name}: {image}");
            let resp = t
                .http
                .get(thumb["url"].as_str().expect("url"))
                .send()
                .await
                .expect("get thumbnail");
            assert_eq!(resp.headers()[CONTENT_TYPE], content_type, "{name}");
            assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
            let bytes = resp.bytes().await.expect("body");
            assert!(
                !bytes.windows(7).any(|w| w == b"<script"),
                "{name}: metadata and trailers are not copied into thumbnails"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Request bodies

const MIB: usize = 1 << 20;
/// The test bodies are sent in chunks of this size...
const CHUNK: usize = 64 * 1024;
/// ...this many of them: 100 MiB, a hundred times the 1 MiB limit. Socket
/// buffers take a few MiB before the client sees the answer (about 4 MiB
/// here), so a server that stops reading leaves most of it unpulled.
const CHUNKS: usize = 1600;

/// A multipart upload whose file part never ends (well, after 100 MiB),
/// counting how many chunks the HTTP client has pulled from it.
/// Returns the content type, the body and its length.
fn endless_upload(pulled: Arc<AtomicUsize>) -> (String, reqwest::Body, usize) {
    let boundary = "abuse-boundary-7c1f";
    let operations = json!({ "query": UPLOAD_ONE, "variables": { "file": null } });
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{operations}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{{\"0\": [\"variables.file\"]}}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"big.jpg\"\r\n\
         Content-Type: image/jpeg\r\n\r\n"
    );
    let length = head.len() + CHUNKS * CHUNK;
    let filler = Bytes::from(vec![0xA5; CHUNK]);
    let chunks = std::iter::once(Bytes::from(head)).chain(std::iter::repeat_n(filler, CHUNKS));
    let stream = futures_util::stream::iter(chunks).map(move |chunk| {
        pulled.fetch_add(1, Ordering::SeqCst);
        Ok::<_, std::io::Error>(chunk)
    });
    (
        format!("multipart/form-data; boundary={boundary}"),
        reqwest::Body::wrap_stream(stream),
        length,
    )
}

/// Sends the endless upload and returns the status and body the server
/// answered, or the transport error when the server closed first.
async fn send_endless(
    t: &TestApp,
    token: &str,
    declare_length: bool,
) -> (Result<(StatusCode, Value), String>, usize) {
    let pulled = Arc::new(AtomicUsize::new(0));
    let (content_type, body, length) = endless_upload(pulled.clone());
    let mut req = t
        .http
        .post(format!("{}/graphql", t.base))
        .bearer_auth(token)
        .header("apollo-require-preflight", "true")
        .header(CONTENT_TYPE, content_type)
        .body(body);
    if declare_length {
        req = req.header(CONTENT_LENGTH, length.to_string());
    }
    let result = match req.send().await {
        Ok(resp) => {
            let status = resp.status();
            Ok((status, resp.json().await.unwrap_or(Value::Null)))
        }
        Err(e) => Err(format!("{e:?}")),
    };
    (result, pulled.load(Ordering::SeqCst))
}

#[tokio::test]
async fn a_body_declared_over_the_limit_is_refused_before_it_is_read() {
    let t = TestApp::builder()
        .var("MAX_UPLOAD_BYTES", MIB.to_string())
        .build()
        .await;
    let token = t.user("big", "Basic").await;
    let (result, pulled) = send_endless(&t, &token, true).await;
    let (status, body) = result.expect("the client sees the answer");
    assert_eq!(status, 413, "{body}");
    assert_eq!(error_code(&body), "PAYLOAD_TOO_LARGE", "{body}");
    assert!(
        pulled < CHUNKS / 4,
        "the client sent {pulled} of {CHUNKS} chunks"
    );
    assert_nothing_stored(&t, "declared too large").await;
}

#[tokio::test]
async fn a_chunked_body_is_cut_off_at_the_limit_without_reading_the_rest() {
    let t = TestApp::builder()
        .var("MAX_UPLOAD_BYTES", MIB.to_string())
        .build()
        .await;
    let token = t.user("stream", "Basic").await;
    let (result, pulled) = send_endless(&t, &token, false).await;
    let (status, body) = result.expect("the client sees the answer");
    assert_eq!(status, 413, "{body}");
    assert_eq!(error_code(&body), "PAYLOAD_TOO_LARGE", "{body}");
    assert!(
        pulled < CHUNKS / 4,
        "the client sent {pulled} of {CHUNKS} chunks"
    );
    assert_nothing_stored(&t, "chunked too large").await;
}

/// A multipart form of `files` parts, mapped to `variables.files.{i}`.
fn many_files_form(n: usize) -> Form {
    let map: serde_json::Map<String, Value> = (0..n)
        .map(|i| (i.to_string(), json!([format!("variables.files.{i}")])))
        .collect();
    let operations =
        json!({ "query": UPLOAD_MANY, "variables": { "files": vec![Value::Null; n] } });
    let mut form = Form::new()
        .text("operations", operations.to_string())
        .text("map", Value::Object(map).to_string());
    for i in 0..n {
        form = form.part(
            i.to_string(),
            Part::bytes(images::jpeg(16, 16)).file_name(format!("{i}.jpg")),
        );
    }
    form
}

#[tokio::test]
async fn more_files_than_the_per_request_limit_are_refused() {
    let t = TestApp::builder()
        .var("MAX_FILES_PER_REQUEST", "3")
        .build()
        .await;
    let token = t.user("many", "Basic").await;

    let (status, body) = post_form(&t, &token, many_files_form(4)).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(error_code(&body), "PAYLOAD_TOO_LARGE", "{body}");
    assert!(message(&body).contains("at most 3 files"), "{body}");
    assert_nothing_stored(&t, "too many files").await;

    // One part mapped to more paths than the limit is as many files.
    let operations =
        json!({ "query": UPLOAD_MANY, "variables": { "files": vec![Value::Null; 4] } });
    let form = Form::new()
        .text("operations", operations.to_string())
        .text(
            "map",
            json!({ "0": (0..4).map(|i| format!("variables.files.{i}")).collect::<Vec<_>>() })
                .to_string(),
        )
        .part("0", Part::bytes(images::jpeg(16, 16)).file_name("a.jpg"));
    let (status, body) = post_form(&t, &token, form).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(error_code(&body), "PAYLOAD_TOO_LARGE", "{body}");
    assert_nothing_stored(&t, "one part, too many paths").await;

    // Parts that the map does not name count too: they are still received.
    let operations = json!({ "query": UPLOAD_ONE, "variables": { "file": null } });
    let mut form = Form::new()
        .text("operations", operations.to_string())
        .text("map", r#"{"0": ["variables.file"]}"#);
    for i in 0..10 {
        form = form.part(
            i.to_string(),
            Part::bytes(images::jpeg(16, 16)).file_name(format!("{i}.jpg")),
        );
    }
    let (status, body) = post_form(&t, &token, form).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(error_code(&body), "PAYLOAD_TOO_LARGE", "{body}");
    assert_nothing_stored(&t, "unmapped parts").await;

    // The limit itself is allowed.
    let (status, body) = post_form(&t, &token, many_files_form(3)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(t.count("images").await, 3);
}

#[tokio::test]
async fn a_multipart_map_naming_a_missing_part_is_refused() {
    let t = TestApp::new().await;
    let token = t.user("mapper", "Basic").await;
    let operations = json!({ "query": UPLOAD_MANY, "variables": { "files": [null, null] } });
    let form = Form::new()
        .text("operations", operations.to_string())
        .text(
            "map",
            r#"{"0": ["variables.files.0"], "1": ["variables.files.1"]}"#,
        )
        .part("0", Part::bytes(images::jpeg(16, 16)).file_name("a.jpg"));
    let (status, body) = post_form(&t, &token, form).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert!(message(&body).contains("missing"), "{body}");
    assert_nothing_stored(&t, "missing part").await;

    // A map entry for a variable the operation does not have leaves the
    // real one null: refused by GraphQL validation of the variables.
    let operations = json!({ "query": UPLOAD_ONE, "variables": { "file": null } });
    let form = Form::new()
        .text("operations", operations.to_string())
        .text("map", r#"{"0": ["variables.other"]}"#)
        .part("0", Part::bytes(images::jpeg(16, 16)).file_name("a.jpg"));
    let (status, body) = post_form(&t, &token, form).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert_nothing_stored(&t, "wrong path").await;

    // No map at all.
    let form = Form::new()
        .text("operations", operations.to_string())
        .part("0", Part::bytes(images::jpeg(16, 16)).file_name("a.jpg"));
    let (status, body) = post_form(&t, &token, form).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert_nothing_stored(&t, "no map").await;
}

/// The multipart spec lets one part fill several variables; each becomes
/// its own image with the part's bytes. A part name sent twice is only
/// mapped once: the first such part is used and the other is dropped.
#[tokio::test]
async fn duplicate_parts_and_paths_in_a_multipart_map_are_handled_exactly() {
    let t = TestApp::new().await;
    let token = t.user("dupe", "Premium").await;
    let jpeg = images::jpeg(80, 60);

    let operations = json!({ "query": UPLOAD_MANY, "variables": { "files": [null, null] } });
    let form = Form::new()
        .text("operations", operations.to_string())
        .text(
            "map",
            r#"{"0": ["variables.files.0", "variables.files.1"]}"#,
        )
        .part("0", Part::bytes(jpeg.clone()).file_name("a.jpg"));
    let (status, body) = post_form(&t, &token, form).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    let ids: Vec<&str> = body["data"]["uploadImages"]
        .as_array()
        .expect("images")
        .iter()
        .map(|i| i["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids.len(), 2);
    for id in &ids {
        let image = t.image(&token, id).await;
        assert_eq!(
            (&image["width"], &image["height"]),
            (&json!(80), &json!(60))
        );
        let (status, bytes) = t
            .download(image["originalUrl"].as_str().expect("url"))
            .await;
        assert_eq!(status, 200);
        assert_eq!(bytes, jpeg, "each image has the part's bytes");
    }

    let png = images::png_with_alpha(30, 20);
    let operations = json!({ "query": UPLOAD_ONE, "variables": { "file": null } });
    let form = Form::new()
        .text("operations", operations.to_string())
        .text("map", r#"{"0": ["variables.file"]}"#)
        .part("0", Part::bytes(png.clone()).file_name("first.png"))
        .part(
            "0",
            Part::bytes(images::jpeg(40, 40)).file_name("second.jpg"),
        );
    let (status, body) = post_form(&t, &token, form).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["uploadImage"]["contentType"], "image/png",
        "{body}"
    );
    assert_eq!(t.count("images").await, 3);
}

#[tokio::test]
async fn malformed_and_non_object_json_bodies_are_refused_with_a_code() {
    let t = TestApp::new().await;
    let token = t.user("json", "Basic").await;
    for raw in [
        r#"{"query": "{ me { id } }""#,
        "{ me { id } }",
        "",
        "42",
        "null",
        r#""{ me { id } }""#,
        "[1, 2]",
        r#"{"query": 42}"#,
        r#"{"query": "{ me { id } }", "variables": [1]}"#,
    ] {
        let (status, body) = post_json(&t, Some(&token), raw).await;
        assert_eq!(status, 400, "{raw:?}: {body}");
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{raw:?}: {body}");
        assert_every_error_has_a_code(&body);
    }
    // Valid JSON but not valid GraphQL: a GraphQL error, with a code too.
    for raw in [
        r#"{"query": "{ me { id }"}"#,
        r#"{"query": "{ nope }"}"#,
        "{}",
        "[]",
    ] {
        let (status, body) = post_json(&t, Some(&token), raw).await;
        assert!(status == 200 || status == 400, "{raw:?}: {status} {body}");
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{raw:?}: {body}");
        assert_every_error_has_a_code(&body);
    }
}

#[tokio::test]
async fn batched_operations_are_refused() {
    let t = TestApp::new().await;
    let token = t.user("batch", "Basic").await;
    let batch = json!([{ "query": "{ me { id } }" }, { "query": "{ me { id } }" }]);
    let (status, body) = post_json(&t, Some(&token), &batch.to_string()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert!(message(&body).contains("batch"), "{body}");

    // A batch of one is still a batch.
    let one = json!([{ "query": "{ me { id } }" }]);
    let (status, body) = post_json(&t, Some(&token), &one.to_string()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
}

// ---------------------------------------------------------------------------
// Query limits and introspection

#[tokio::test]
async fn a_query_deeper_than_the_limit_is_refused_before_it_runs() {
    let t = TestApp::new().await;
    let token = t.user("deep", "Basic").await;
    // Introspection types are the only cycle in the schema.
    let nest = |levels: usize| {
        let mut q = "name".to_owned();
        for _ in 0..levels {
            q = format!("ofType {{ {q} }}");
        }
        format!("{{ __type(name: \"Query\") {{ fields {{ type {{ {q} }} }} }} }}")
    };
    let body = t.gql(Some(&token), &nest(5), json!({})).await;
    assert!(body.get("errors").is_none(), "a shallow one works: {body}");

    let body = t
        .gql(
            Some(&token),
            &nest(image_vault::graphql::MAX_DEPTH),
            json!({}),
        )
        .await;
    assert!(body["data"].is_null(), "{body}");
    assert!(message(&body).contains("nested too deep"), "{body}");
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
}

#[tokio::test]
async fn a_heavily_aliased_query_is_refused_before_it_runs() {
    let t = TestApp::new().await;
    let token = t.user("alias", "Enterprise").await;
    let image = t.upload(&token, "a.jpg", images::jpeg(32, 32)).await;
    let id = image["id"].as_str().expect("id");

    let me: String = (0..500).map(|i| format!("a{i}: me {{ id }} ")).collect();
    let body = t.gql(Some(&token), &format!("{{ {me} }}"), json!({})).await;
    assert!(body["data"].is_null(), "{body}");
    assert!(message(&body).contains("too complex"), "{body}");
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");

    // Had it run, each alias would have made a link.
    let links: String = (0..500)
        .map(|i| format!("l{i}: createExpiringLink(imageId: $id, expiresIn: 600) {{ id }} "))
        .collect();
    let body = t
        .gql(
            Some(&token),
            &format!("mutation($id: ID!) {{ {links} }}"),
            json!({ "id": id }),
        )
        .await;
    assert!(body["data"].is_null(), "{body}");
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(t.count("expiring_links").await, 0, "nothing ran");

    // The queries that clients really send stay well inside the limit.
    let full = format!(
        "{{ me {{ id username isAdmin plan {{ id name thumbnailHeights originalLink expiringLinks }} }} \
         images(first: 100) {{ edges {{ cursor node {{ {IMAGE_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} }} \
         expiringLinks(first: 100) {{ edges {{ cursor node {{ id url expiresAt createdAt image {{ {IMAGE_FIELDS} }} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"
    );
    t.gql_ok(Some(&token), &full, json!({})).await;
}

const INTROSPECT: &str = "{ __schema { types { name } } }";

#[tokio::test]
async fn introspection_works_by_default() {
    let t = TestApp::new().await;
    let data = t.gql_ok(None, INTROSPECT, json!({})).await;
    let names: Vec<&str> = data["__schema"]["types"]
        .as_array()
        .expect("types")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(names.contains(&"Image"), "{names:?}");
}

#[tokio::test]
async fn introspection_is_refused_when_disabled() {
    let t = TestApp::builder()
        .var("INTROSPECTION", "false")
        .build()
        .await;
    let token = t.user("closed", "Basic").await;
    for query in [
        INTROSPECT,
        "{ __type(name: \"Image\") { name fields { name } } }",
    ] {
        let body = t.gql(Some(&token), query, json!({})).await;
        assert_eq!(error_code(&body), "FORBIDDEN", "{query}: {body}");
        assert!(message(&body).contains("introspection"), "{query}: {body}");
        assert!(body["data"].is_null(), "{body}");
    }
    // Everything else still works.
    let data = t
        .gql_ok(Some(&token), "{ me { username } }", json!({}))
        .await;
    assert_eq!(data["me"]["username"], "closed");
}

// ---------------------------------------------------------------------------
// Other users' ids and URLs

/// Every operation that takes an id answers for another user's id exactly
/// as for an id that does not exist, so ids cannot be probed.
#[tokio::test]
async fn another_users_ids_answer_exactly_like_ids_that_do_not_exist() {
    let t = TestApp::new().await;
    let owner = t.user("owner", "Enterprise").await;
    let intruder = t.user("intruder", "Enterprise").await;
    let image = t.upload(&owner, "a.jpg", images::jpeg(64, 48)).await;
    let image_id = image["id"].as_str().expect("id").to_owned();
    let link = t
        .gql_ok(
            Some(&owner),
            "mutation($id: ID!) { createExpiringLink(imageId: $id, expiresIn: 600) { id } }",
            json!({ "id": image_id }),
        )
        .await;
    let link_id = link["createExpiringLink"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    // The intruder has data of their own, so empty answers are not vacuous.
    let mine = t.upload(&intruder, "b.jpg", images::jpeg(64, 48)).await;
    t.gql_ok(
        Some(&intruder),
        "mutation($id: ID!) { createExpiringLink(imageId: $id, expiresIn: 600) { id } }",
        json!({ "id": mine["id"] }),
    )
    .await;

    enum Target {
        Image,
        Link,
    }
    let cases = [
        (
            "image",
            Target::Image,
            "query($id: ID!) { image(id: $id) { id filename } }",
            None,
        ),
        (
            "deleteImage",
            Target::Image,
            "mutation($id: ID!) { deleteImage(id: $id) }",
            Some("NOT_FOUND"),
        ),
        (
            "createExpiringLink",
            Target::Image,
            "mutation($id: ID!) { createExpiringLink(imageId: $id, expiresIn: 600) { id url } }",
            Some("NOT_FOUND"),
        ),
        (
            "expiringLinks",
            Target::Image,
            "query($id: ID!) { expiringLinks(imageId: $id) { edges { node { id } } pageInfo { hasNextPage } } }",
            None,
        ),
        (
            "deleteExpiringLink",
            Target::Link,
            "mutation($id: ID!) { deleteExpiringLink(id: $id) }",
            Some("NOT_FOUND"),
        ),
    ];
    for (name, target, query, code) in cases {
        let foreign = match target {
            Target::Image => image_id.as_str(),
            Target::Link => link_id.as_str(),
        };
        let random = uuid::Uuid::now_v7().to_string();
        let for_foreign = t
            .gql(Some(&intruder), query, json!({ "id": foreign }))
            .await;
        let for_random = t.gql(Some(&intruder), query, json!({ "id": random })).await;
        assert_eq!(for_foreign, for_random, "{name}: answers differ");
        match code {
            Some(code) => {
                assert_eq!(error_code(&for_foreign), code, "{name}: {for_foreign}");
                assert!(for_foreign["data"].is_null(), "{name}: {for_foreign}");
            }
            None => assert!(for_foreign.get("errors").is_none(), "{name}: {for_foreign}"),
        }
    }

    // Nothing of the owner's was touched, nothing was made for the intruder.
    assert!(!t.image(&owner, &image_id).await.is_null());
    let links = t
        .gql_ok(
            Some(&owner),
            "{ expiringLinks { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        links["expiringLinks"]["edges"],
        json!([{ "node": { "id": link_id } }])
    );
    assert_eq!(t.count("expiring_links").await, 2);
    assert_eq!(t.count("images").await, 2);
}

#[tokio::test]
async fn file_urls_with_an_altered_key_expiry_or_signature_are_refused() {
    let t = TestApp::new().await;
    let token = t.user("signer", "Premium").await;
    let first = t.upload(&token, "a.jpg", images::jpeg(300, 300)).await;
    let second = t.upload(&token, "b.jpg", images::jpeg(300, 301)).await;
    t.run_jobs().await;
    let first = t.image(&token, first["id"].as_str().expect("id")).await;
    let second = t.image(&token, second["id"].as_str().expect("id")).await;
    let url = first["originalUrl"].as_str().expect("url").to_owned();
    let other = second["originalUrl"].as_str().expect("url").to_owned();
    let thumb = first["thumbnails"][0]["url"]
        .as_str()
        .expect("url")
        .to_owned();
    assert_eq!(t.download(&url).await.0, 200);
    assert_eq!(t.download(&thumb).await.0, 200);

    let (path, query) = url.split_once('?').expect("query string");
    let (other_path, other_query) = other.split_once('?').expect("query string");
    let (thumb_path, _) = thumb.split_once('?').expect("query string");
    let expires: i64 = query
        .split('&')
        .find_map(|p| p.strip_prefix("expires="))
        .and_then(|v| v.parse().ok())
        .expect("expires");
    let sig = query
        .split('&')
        .find_map(|p| p.strip_prefix("sig="))
        .expect("sig");
    let other_sig = other_query
        .split('&')
        .find_map(|p| p.strip_prefix("sig="))
        .expect("sig");
    let files = format!("{}/files", t.base);
    let cases = [
        ("another image's key", format!("{other_path}?{query}")),
        ("a thumbnail's key", format!("{thumb_path}?{query}")),
        (
            "a later expiry",
            format!("{path}?expires={}&sig={sig}", expires + 1),
        ),
        (
            "a far expiry",
            format!("{path}?expires={}&sig={sig}", expires + 86_400 * 365),
        ),
        (
            "another URL's signature",
            format!("{path}?expires={expires}&sig={other_sig}"),
        ),
        ("no signature", format!("{path}?expires={expires}")),
        (
            "an empty signature",
            format!("{path}?expires={expires}&sig="),
        ),
        ("no expiry", format!("{path}?sig={sig}")),
        ("no query", path.to_owned()),
        (
            "a key outside the store",
            format!("{files}/originals/..%2F..%2Fetc%2Fpasswd?{query}"),
        ),
        (
            "a content-type sidecar",
            format!("{path}.content-type?{query}"),
        ),
    ];
    for (what, url) in cases {
        assert_eq!(t.download(&url).await.0, 403, "{what}: {url}");
    }
}
