//! `/` and `/admin`: the web console, a gallery for users and an
//! administration site, served entirely by this process.
//!
//! Its sources live in `src/http/console/` (HTML, CSS and plain ES modules;
//! Preact and htm vendored under `vendor/` by `update.sh` there) and are
//! embedded in the binary: there is no build step. The console is a client of
//! `/graphql` and `/graphql/ws` like any other, with no endpoint or authority
//! of its own; the API authorizes every action.
//!
//! Every response carries a Content-Security-Policy without `'unsafe-inline'`
//! or `'unsafe-eval'`: only this origin's scripts and styles run, so markup
//! that an attacker gets into a page (a filename, say) cannot run code and
//! read the token the page holds. Images may also come from object storage
//! (presigned URLs), and direct uploads go there.
//!
//! Router: [`routes`], merged into the main router.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest as _, Sha256};

use super::HttpState;
use crate::config::{Config, StorageConfig};

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// The embedded files under `/console/`: path, content type, bytes. A unit
/// test checks that every servable file of the folder is listed.
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("app.css", CSS, include_bytes!("console/app.css")),
    ("js/account.js", JS, include_bytes!("console/js/account.js")),
    ("js/api.js", JS, include_bytes!("console/js/api.js")),
    (
        "js/blurhash.js",
        JS,
        include_bytes!("console/js/blurhash.js"),
    ),
    ("js/errors.js", JS, include_bytes!("console/js/errors.js")),
    ("js/login.js", JS, include_bytes!("console/js/login.js")),
    ("js/session.js", JS, include_bytes!("console/js/session.js")),
    ("js/ui.js", JS, include_bytes!("console/js/ui.js")),
    ("js/usage.js", JS, include_bytes!("console/js/usage.js")),
    (
        "js/user/main.js",
        JS,
        include_bytes!("console/js/user/main.js"),
    ),
    (
        "js/user/gallery.js",
        JS,
        include_bytes!("console/js/user/gallery.js"),
    ),
    (
        "js/user/upload.js",
        JS,
        include_bytes!("console/js/user/upload.js"),
    ),
    (
        "js/user/image.js",
        JS,
        include_bytes!("console/js/user/image.js"),
    ),
    (
        "js/user/card.js",
        JS,
        include_bytes!("console/js/user/card.js"),
    ),
    (
        "js/user/live.js",
        JS,
        include_bytes!("console/js/user/live.js"),
    ),
    (
        "js/user/account.js",
        JS,
        include_bytes!("console/js/user/account.js"),
    ),
    (
        "js/admin/main.js",
        JS,
        include_bytes!("console/js/admin/main.js"),
    ),
    (
        "js/admin/users.js",
        JS,
        include_bytes!("console/js/admin/users.js"),
    ),
    (
        "js/admin/plans.js",
        JS,
        include_bytes!("console/js/admin/plans.js"),
    ),
    (
        "js/admin/user.js",
        JS,
        include_bytes!("console/js/admin/user.js"),
    ),
    (
        "js/admin/images.js",
        JS,
        include_bytes!("console/js/admin/images.js"),
    ),
    (
        "js/admin/operations.js",
        JS,
        include_bytes!("console/js/admin/operations.js"),
    ),
    (
        "js/admin/audit.js",
        JS,
        include_bytes!("console/js/admin/audit.js"),
    ),
    (
        "js/admin/plan-counts.js",
        JS,
        include_bytes!("console/js/admin/plan-counts.js"),
    ),
    (
        "vendor/preact.mjs",
        JS,
        include_bytes!("console/vendor/preact.mjs"),
    ),
    (
        "vendor/hooks.mjs",
        JS,
        include_bytes!("console/vendor/hooks.mjs"),
    ),
    (
        "vendor/htm.mjs",
        JS,
        include_bytes!("console/vendor/htm.mjs"),
    ),
];

const USER_PAGE: &str = include_str!("console/index.html");
const ADMIN_PAGE: &str = include_str!("console/admin.html");

/// Strong validators for the assets, so that a browser revalidates them
/// (`no-cache`: the module graph's relative imports carry no version) and
/// gets a 304 while they are unchanged.
static ETAGS: LazyLock<HashMap<&'static str, String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|(name, _, bytes)| {
            let digest = Sha256::digest(bytes);
            let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
            (*name, format!("\"{hex}\""))
        })
        .collect()
});

/// The console's routes (`/`, `/admin`, `/console/{*path}`).
pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/", get(user_page))
        .route("/admin", get(admin_page))
        .route("/console/{*path}", get(asset))
}

/// The origin (`scheme://host[:port]`) of `url`, if it is an http(s) URL
/// made of characters that are safe in a header.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?;
    let safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']');
    (!host.is_empty() && host.chars().all(safe)).then(|| format!("{scheme}://{host}"))
}

/// The policy of every console response. `'self'` covers `/graphql`, the
/// websocket at `/graphql/ws`, and fs-backend files when they are served on
/// the page's own address; object storage (or a `PUBLIC_URL` elsewhere)
/// is named for presigned image URLs and direct-upload PUTs.
fn content_security_policy(config: &Config) -> String {
    let storage = match &config.storage {
        StorageConfig::S3(s3) => origin_of(&s3.public_endpoint),
        StorageConfig::Fs { .. } => origin_of(&config.public_url),
    };
    let extra = storage.map(|o| format!(" {o}")).unwrap_or_default();
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; \
         img-src 'self' data: blob:{extra}; connect-src 'self'{extra}; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
}

fn secure(mut response: Response, config: &Config, cache: &'static str) -> Response {
    let csp = content_security_policy(config);
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    } else {
        // Unreachable (origin_of keeps the value ASCII); never serve without one.
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'"),
        );
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// A page with the server's limits filled in (the upload code needs them to
/// choose between a multipart and a direct upload).
fn page(template: &str, config: &Config) -> Response {
    let html = template
        .replace("{{MAX_UPLOAD_BYTES}}", &config.max_upload_bytes.to_string())
        .replace(
            "{{MAX_DIRECT_UPLOAD_BYTES}}",
            &config.max_direct_upload_bytes.to_string(),
        );
    secure(
        ([(header::CONTENT_TYPE, HTML)], html).into_response(),
        config,
        "no-cache",
    )
}

/// `GET /`: the user's gallery.
pub async fn user_page(State(state): State<HttpState>) -> Response {
    page(USER_PAGE, &state.app.config)
}

/// `GET /admin`: the administration site.
pub async fn admin_page(State(state): State<HttpState>) -> Response {
    page(ADMIN_PAGE, &state.app.config)
}

/// `GET /console/{*path}`: one embedded file (404 otherwise).
pub async fn asset(
    State(state): State<HttpState>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Response {
    let config = &state.app.config;
    let Some((name, content_type, bytes)) = ASSETS.iter().find(|(name, _, _)| *name == path) else {
        return secure(StatusCode::NOT_FOUND.into_response(), config, "no-cache");
    };
    let etag = ETAGS.get(name).cloned().unwrap_or_default();
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, *content_type)], *bytes).into_response()
    };
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    secure(response, config, "no-cache")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_servable_file_is_embedded() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http/console");
        let mut found = Vec::new();
        let mut dirs = vec![root.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("console folder") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                let name = path
                    .strip_prefix(&root)
                    .expect("under root")
                    .to_string_lossy()
                    .replace('\\', "/");
                let servable = [".js", ".mjs", ".css"].iter().any(|e| name.ends_with(e));
                if servable {
                    found.push(name);
                }
            }
        }
        for name in &found {
            assert!(
                ASSETS.iter().any(|(n, _, _)| n == name),
                "{name} is in the console folder but not in ASSETS"
            );
        }
        assert_eq!(found.len(), ASSETS.len(), "ASSETS lists a file twice");
    }

    #[test]
    fn pages_load_only_embedded_assets() {
        for html in [USER_PAGE, ADMIN_PAGE] {
            assert!(!html.contains("http://") && !html.contains("https://"));
            assert!(!html.contains("<style") && !html.contains("style="));
            for src in html
                .split("src=\"")
                .skip(1)
                .chain(html.split("href=\"").skip(1))
            {
                let url = src.split('"').next().unwrap_or_default();
                if let Some(path) = url.strip_prefix("/console/") {
                    assert!(ASSETS.iter().any(|(n, _, _)| *n == path), "{url}");
                } else {
                    assert_eq!(url, "data:,", "unexpected reference {url}");
                }
            }
            // No inline script: every <script> has a src.
            assert_eq!(
                html.matches("<script").count(),
                html.matches("<script type=\"module\" src=").count()
            );
        }
    }

    #[test]
    fn origins_are_parsed_strictly() {
        assert_eq!(
            origin_of("https://s3.example.com:9000/bucket").as_deref(),
            Some("https://s3.example.com:9000")
        );
        assert_eq!(
            origin_of("http://127.0.0.1:8080").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(origin_of("ftp://x"), None);
        assert_eq!(origin_of("http://a b/"), None);
        assert_eq!(origin_of("http://x;script-src *"), None);
    }
}
