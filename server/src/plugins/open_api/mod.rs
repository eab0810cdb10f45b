//! `open-api`: the spec at Better Auth's path (`/open-api/generate-schema`)
//! and the Scalar API reference at `/reference`.

use std::sync::Arc;

use poem::endpoint::{make_sync, BoxEndpoint};
use poem::web::Html;
use poem::{EndpointExt, IntoResponse};

use crate::plugins::Plugin;
use crate::state::AppState;

pub struct OpenApiPlugin;

/// The spec document and its Scalar page, built once at start-up.
pub struct SpecDocuments {
    pub json: Arc<String>,
    pub scalar_html: Arc<String>,
}

impl Plugin for OpenApiPlugin {
    fn id(&self) -> &'static str {
        "open-api"
    }

    fn raw_routes(
        &self,
        docs: &SpecDocuments,
        _state: &Arc<AppState>,
    ) -> Vec<(&'static str, BoxEndpoint<'static>)> {
        let json = docs.json.clone();
        let html = docs.scalar_html.clone();
        vec![
            (
                "/open-api/generate-schema",
                make_sync(move |_| {
                    poem::Response::builder()
                        .content_type("application/json")
                        .body(json.as_str().to_string())
                })
                .boxed(),
            ),
            (
                "/reference",
                make_sync(move |_| Html(html.as_str().to_string()).into_response()).boxed(),
            ),
        ]
    }
}
