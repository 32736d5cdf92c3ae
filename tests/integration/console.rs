//! The web console's pages and assets: served from the binary, each with a
//! CSP that allows no inline or foreign script and no eval.
use crate::support::TestApp;
use crate::support::s3::start_s3_server;

/// The directives every console response must carry, whatever the storage.
fn assert_strict(csp: &str, what: &str) {
    for directive in [
        "default-src 'none'",
        "script-src 'self';",
        "style-src 'self';",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(directive), "{what}: {directive} in {csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
    assert!(!csp.contains("unsafe-eval"), "{what}: {csp}");
    let img = csp
        .split(';')
        .find(|d| d.trim().starts_with("img-src"))
        .unwrap_or_default();
    assert!(
        img.contains("'self'") && img.contains("data:") && img.contains("blob:"),
        "{what}: {img}"
    );
}

fn csp_of(r: &reqwest::Response) -> String {
    r.headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn console_pages_and_assets_are_served_with_a_strict_csp() {
    let t = TestApp::builder()
        .var("MAX_UPLOAD_BYTES", "1234567")
        .build()
        .await;
    for (path, script) in [
        ("/", "/console/js/user/main.js"),
        ("/admin", "/console/js/admin/main.js"),
    ] {
        let r = t
            .http
            .get(format!("{}{path}", t.base))
            .send()
            .await
            .expect("page");
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        assert_eq!(r.headers()["referrer-policy"], "no-referrer");
        let csp = csp_of(&r);
        assert_strict(&csp, path);
        let html = r.text().await.expect("html");
        assert!(
            html.contains(&format!(
                "<script type=\"module\" src=\"{script}\"></script>"
            )),
            "{html}"
        );
        // The page knows when to switch to a direct upload.
        assert!(
            html.contains("name=\"image-vault:max-upload-bytes\" content=\"1234567\""),
            "{html}"
        );
        assert!(!html.contains("{{"), "a placeholder is left: {html}");
    }

    for (path, content_type) in [
        ("/console/js/api.js", "text/javascript; charset=utf-8"),
        (
            "/console/js/admin/plans.js",
            "text/javascript; charset=utf-8",
        ),
        (
            "/console/vendor/preact.mjs",
            "text/javascript; charset=utf-8",
        ),
        ("/console/app.css", "text/css; charset=utf-8"),
    ] {
        let r = t
            .http
            .get(format!("{}{path}", t.base))
            .send()
            .await
            .expect("asset");
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["content-type"], content_type, "{path}");
        assert_strict(&csp_of(&r), path);
        let etag = r.headers()["etag"].to_str().expect("etag").to_owned();
        assert!(r.bytes().await.expect("body").len() > 500, "{path}");
        // Revalidation: unchanged assets cost a 304.
        let again = t
            .http
            .get(format!("{}{path}", t.base))
            .header("if-none-match", &etag)
            .send()
            .await
            .expect("revalidate");
        assert_eq!(again.status(), 304, "{path}");
    }

    for path in [
        "/console/vendor/update.sh",
        "/console/vendor/SHA256SUMS",
        "/console/tsconfig.json",
        "/console/index.html",
        "/console/../console.rs",
        "/console/js/nope.js",
    ] {
        let r = t
            .http
            .get(format!("{}{path}", t.base))
            .send()
            .await
            .expect("missing");
        assert_eq!(r.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn with_s3_the_console_may_load_images_from_and_upload_to_the_storage_origin() {
    let s3 = start_s3_server().await;
    let t = TestApp::builder()
        .s3(&s3)
        .var("S3_PUBLIC_ENDPOINT", "https://images.example.com:9443/")
        .build()
        .await;
    let r = t
        .http
        .get(format!("{}/", t.base))
        .send()
        .await
        .expect("page");
    let csp = csp_of(&r);
    assert_strict(&csp, "/ with S3");
    assert!(
        csp.contains("img-src 'self' data: blob: https://images.example.com:9443;"),
        "{csp}"
    );
    assert!(
        csp.contains("connect-src 'self' https://images.example.com:9443;"),
        "{csp}"
    );
}
