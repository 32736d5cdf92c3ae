//! `GET /graphql`: the GraphiQL playground, served entirely by this process.
//!
//! async-graphql's `GraphiQLSource` page loads React and GraphiQL from public
//! CDNs, which a closed network (or a strict corporate proxy) cannot reach:
//! the page then stays at "Loading...". Instead the page below loads the same
//! GraphiQL 4 UMD bundle and React 18 production builds from `/graphql/assets/`,
//! vendored (MIT) under `src/http/playground/` by `update.sh` there and
//! embedded in the binary (about 1.6 MB). A Content-Security-Policy keeps the
//! page from loading anything from elsewhere.
//!
//! Router: `.route("/graphql", get(playground::page).post(..))` and
//! `.route("/graphql/assets/{file}", get(playground::asset))`.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The vendored GraphiQL release; part of the asset URLs, so that a new
/// release is never served from a browser's cache of the old one.
const GRAPHIQL_VERSION: &str = "4.1.2";

/// The vendored files: name, content type, bytes.
const ASSETS: [(&str, &str, &[u8]); 4] = [
    (
        "react.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("playground/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("playground/react-dom.production.min.js"),
    ),
    (
        "graphiql.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("playground/graphiql.min.js"),
    ),
    (
        "graphiql.min.css",
        "text/css; charset=utf-8",
        include_bytes!("playground/graphiql.min.css"),
    ),
];

/// Only this origin: scripts and styles from `/graphql/assets/` (plus the
/// page's own inline ones), fetches to `/graphql`, websockets to `/graphql/ws`
/// (`'self'` covers ws: and wss: to the same host), fonts and icons inlined
/// in the stylesheet as data: URLs.
const CSP: &str = "default-src 'none'; script-src 'self' 'unsafe-inline'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
    connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn page_html() -> String {
    let v = GRAPHIQL_VERSION;
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="robots" content="noindex">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>image-vault GraphiQL</title>
    <link rel="icon" href="data:,">
    <style>
      body {{ height: 100%; margin: 0; width: 100%; overflow: hidden; }}
      #graphiql {{ height: 100vh; }}
    </style>
    <link rel="stylesheet" href="/graphql/assets/graphiql.min.css?v={v}">
    <script src="/graphql/assets/react.production.min.js?v={v}"></script>
    <script src="/graphql/assets/react-dom.production.min.js?v={v}"></script>
    <script src="/graphql/assets/graphiql.min.js?v={v}"></script>
  </head>
  <body>
    <div id="graphiql">Loading...</div>
    <script>
      const url = new URL('/graphql', window.location.origin).toString();
      const ws = new URL('/graphql/ws', window.location.origin);
      ws.protocol = ws.protocol === 'https:' ? 'wss:' : 'ws:';
      // The headers pane's headers go with every request, and into the
      // websocket's connection_init payload: {{"Authorization": "Bearer <token>"}}
      // authenticates both queries and subscriptions.
      ReactDOM.createRoot(document.getElementById('graphiql')).render(
        React.createElement(GraphiQL, {{
          fetcher: GraphiQL.createFetcher({{ url, subscriptionUrl: ws.toString() }}),
          defaultEditorToolsVisibility: true,
          defaultQuery: '# Log in, then put the token in the headers pane below:\n#   {{ "Authorization": "Bearer <token>" }}\n# and ask, e.g.: {{ me {{ username plan {{ name thumbnailHeights }} }} }}\n\nmutation {{\n  login(username: "", password: "") {{ token expiresAt }}\n}}\n',
        }})
      );
    </script>
  </body>
</html>
"#
    )
}

fn with_headers(mut response: Response, cache: &'static str) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// `GET /graphql`: the playground page.
pub async fn page() -> Response {
    let mut response = with_headers(
        (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            page_html(),
        )
            .into_response(),
        "no-cache",
    );
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    response
}

/// `GET /graphql/assets/{file}`: one of the vendored files (404 otherwise).
/// Their URLs carry the GraphiQL version, so browsers may keep them.
pub async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, bytes)) => with_headers(
            ([(header::CONTENT_TYPE, *content_type)], *bytes).into_response(),
            "public, max-age=604800, immutable",
        ),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;

    #[test]
    fn page_loads_nothing_from_elsewhere() {
        let html = page_html();
        assert!(!html.contains("http://") && !html.contains("https://"));
        for (name, _, _) in ASSETS {
            assert!(
                html.contains(&format!("/graphql/assets/{name}?v={GRAPHIQL_VERSION}")),
                "{name} is not loaded by the page"
            );
        }
    }

    #[tokio::test]
    async fn serves_each_asset_and_nothing_else() {
        for (name, content_type, bytes) in ASSETS {
            assert!(bytes.len() > 1000, "{name} looks empty");
            let response = asset(Path(name.to_owned())).await;
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(response.headers()[header::CONTENT_TYPE], content_type);
            let body = to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("body");
            assert_eq!(body.len(), bytes.len());
        }
        for name in ["../playground.rs", "update.sh", "LICENSE.react", ""] {
            let response = asset(Path(name.to_owned())).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{name}");
        }
    }

    #[tokio::test]
    async fn page_has_a_strict_content_security_policy() {
        let response = page().await;
        assert_eq!(response.status(), StatusCode::OK);
        let csp = response.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("ASCII header");
        assert!(csp.starts_with("default-src 'none'"));
        assert!(csp.contains("connect-src 'self'"));
    }
}
