//! `open-api`: the spec at Better Auth's path (`/open-api/generate-schema`)
//! and the Scalar API reference at `/reference`. The reference UI is
//! Scalar's standalone bundle, vendored at a pinned version
//! (`scripts/vendor-scalar.sh`), served from its own versioned, immutable,
//! gzip-compressed URL, so the page is small and works offline.

use std::sync::{Arc, OnceLock};

use poem::endpoint::{make, make_sync, BoxEndpoint};
use poem::http::{header, StatusCode};
use poem::web::Html;
use poem::{EndpointExt, IntoResponse, Request, Response};

use crate::plugin::{Plugin, SpecDocuments};
use crate::state::AppState;

/// The plugin's id: its spec tag, `/plugins` entry, configuration section and client namespace.
pub const ID: &str = "open-api";
pub const DESCRIPTION: &str =
    "The spec at `/open-api/generate-schema` and the Scalar API reference at `/reference`.";

/// The vendored Scalar version (`assets/SCALAR_VERSION`).
pub const SCALAR_VERSION: &str = "1.76.0";
const SCALAR_GZ: &[u8] = include_bytes!("assets/scalar-standalone-1.76.0.js.gz");
/// Under the base path; versioned, so it can be cached for good.
const SCALAR_PATH: &str = "/reference/scalar-standalone-1.76.0.js";

pub struct OpenApiPlugin;

impl Plugin for OpenApiPlugin {
    fn id(&self) -> &'static str {
        ID
    }

    fn description(&self) -> &'static str {
        DESCRIPTION
    }

    fn enabled_by_default(&self) -> bool {
        true
    }

    fn raw_routes(
        &self,
        docs: &SpecDocuments,
        _state: &Arc<AppState>,
    ) -> Vec<(&'static str, BoxEndpoint<'static>)> {
        let json = docs.json.clone();
        let html = Arc::new(reference_page(&docs.title));
        vec![
            (
                "/open-api/generate-schema",
                make_sync(move |_| {
                    Response::builder()
                        .content_type("application/json")
                        .body(json.as_str().to_string())
                })
                .boxed(),
            ),
            (
                "/reference",
                make_sync(move |_| Html(html.as_str().to_string()).into_response()).boxed(),
            ),
            (SCALAR_PATH, make(scalar_bundle).boxed()),
        ]
    }
}

/// The reference page: Scalar's bundle (relative URL, so any base path
/// works) pointed at the spec; no web fonts, so nothing leaves the server.
fn reference_page(title: &str) -> String {
    let title = title
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let script = SCALAR_PATH.trim_start_matches('/');
    format!(
        r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
</head>
<body>
<div id="app"></div>
<script src="{script}"></script>
<script>
Scalar.createApiReference("#app", {{ url: "open-api/generate-schema", withDefaultFonts: false, hideClientButton: true }});
</script>
</body>
</html>
"##
    )
}

/// The bundle, gzipped as vendored when the client accepts gzip (every
/// browser), else decompressed once, off the async threads.
async fn scalar_bundle(req: Request) -> Response {
    if let Some(tag) = req.headers().get(header::IF_NONE_MATCH) {
        if tag.as_bytes() == etag().as_bytes() {
            return StatusCode::NOT_MODIFIED.into_response();
        }
    }
    let gzip_ok = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(accepts_gzip);
    let builder = Response::builder()
        .content_type("text/javascript; charset=utf-8")
        .header(header::CACHE_CONTROL, "public, max-age=31536000, immutable")
        .header(header::ETAG, etag())
        .header(header::VARY, "accept-encoding");
    if gzip_ok {
        builder
            .header(header::CONTENT_ENCODING, "gzip")
            .body(SCALAR_GZ)
    } else {
        match tokio::task::spawn_blocking(plain_bundle).await {
            Ok(plain) => builder.body(plain.as_slice()),
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        }
    }
}

fn etag() -> String {
    format!("\"scalar-{SCALAR_VERSION}\"")
}

fn plain_bundle() -> &'static Vec<u8> {
    static PLAIN: OnceLock<Vec<u8>> = OnceLock::new();
    PLAIN.get_or_init(|| {
        use std::io::Read;
        let mut out = Vec::with_capacity(5 << 20);
        // The asset is checked by a test; a corrupt one serves empty.
        let _ = flate2::read::GzDecoder::new(SCALAR_GZ).read_to_end(&mut out);
        out
    })
}

/// True unless the header refuses gzip (`gzip;q=0`) or does not list it (or `*`).
fn accepts_gzip(header: &str) -> bool {
    header.split(',').any(|part| {
        let mut fields = part.split(';').map(str::trim);
        let coding = fields.next().unwrap_or("");
        let refused = fields.any(|f| f.replace(' ', "") == "q=0" || f == "q=0.0");
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vendored_bundle_is_scalar_at_the_pinned_version() {
        assert_eq!(include_str!("assets/SCALAR_VERSION").trim(), SCALAR_VERSION);
        let js = String::from_utf8(plain_bundle().clone()).expect("utf-8");
        assert!(js.len() > 1_000_000, "{} bytes", js.len());
        assert!(js.contains("createApiReference"));
    }

    #[test]
    fn gzip_negotiation() {
        assert!(accepts_gzip("gzip, deflate, br"));
        assert!(accepts_gzip("br;q=1.0, gzip;q=0.8"));
        assert!(accepts_gzip("*"));
        assert!(!accepts_gzip("identity"));
        assert!(!accepts_gzip("gzip;q=0"));
    }
}
