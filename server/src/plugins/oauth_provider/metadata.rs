//! The discovery documents: OpenID Connect Discovery 1.0
//! (`/.well-known/openid-configuration`) and RFC 8414
//! (`/.well-known/oauth-authorization-server`), with Better Auth's fields
//! and cache header. Served under the base path and at the origin root.

use std::sync::Arc;

use poem::endpoint::BoxEndpoint;
use poem::http::{Method, StatusCode};
use poem::{EndpointExt, Response};
use serde_json::{json, Value};

use super::settings::OAuthProviderSettings;
use crate::plugins::jwt::settings::JwtSettings;
use crate::state::AppState;

pub const OPENID_CONFIGURATION: &str = "/.well-known/openid-configuration";
pub const AUTHORIZATION_SERVER: &str = "/.well-known/oauth-authorization-server";

/// Better Auth's: short enough for key and endpoint changes to spread fast.
const CACHE_CONTROL: &str = "public, max-age=15, stale-while-revalidate=15, stale-if-error=86400";

/// RFC 8414's document; `openid` adds the OpenID Connect fields. As in
/// Better Auth, both documents are the OpenID one when `openid` is among
/// the scopes.
pub fn document(state: &AppState, openid: bool) -> Value {
    let s = state.settings::<OAuthProviderSettings>();
    let openid = openid || s.scopes.iter().any(|x| x == "openid");
    let jwt = state.settings::<JwtSettings>();
    let base = format!("{}{}", state.config.base_url(), state.config.base_path);
    let alg = jwt.alg.name();
    let mut doc = json!({
        "issuer": super::issuer(state),
        "authorization_endpoint": format!("{base}/oauth2/authorize"),
        "token_endpoint": format!("{base}/oauth2/token"),
        "jwks_uri": format!("{base}/jwks"),
        "introspection_endpoint": format!("{base}/oauth2/introspect"),
        "revocation_endpoint": format!("{base}/oauth2/revoke"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "device_authorization_endpoint": format!("{base}/oauth2/device-authorization"),
        "grant_types_supported": [
            "authorization_code", "client_credentials", "refresh_token",
            super::clients::GRANT_DEVICE, super::clients::GRANT_TOKEN_EXCHANGE
        ],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": super::assertion::ALGORITHM_NAMES,
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "introspection_endpoint_auth_signing_alg_values_supported": super::assertion::ALGORITHM_NAMES,
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "revocation_endpoint_auth_signing_alg_values_supported": super::assertion::ALGORITHM_NAMES,
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "end_session_endpoint": format!("{base}/oauth2/end-session"),
        // No back-channel logout here (Better Auth's has it).
        "backchannel_logout_supported": false,
        "backchannel_logout_session_supported": false,
        "scopes_supported": s.scopes,
    });
    if s.allow_dynamic_client_registration {
        doc["registration_endpoint"] = format!("{base}/oauth2/register").into();
    }
    if openid {
        let extra = json!({
            "userinfo_endpoint": format!("{base}/oauth2/userinfo"),
            // Better Auth's list, in its order.
            "claims_supported": [
                "sub", "iss", "aud", "exp", "iat", "sid", "scope", "azp",
                "name", "picture", "given_name", "family_name", "email", "email_verified"
            ],
            "claims_parameter_supported": false,
            "subject_types_supported": ["public"],
            "acr_values_supported": ["0"],
            "id_token_signing_alg_values_supported": [alg],
            "request_parameter_supported": false,
            "request_uri_parameter_supported": false,
            "prompt_values_supported": ["login", "consent", "create", "select_account", "none"],
        });
        if let (Some(d), Some(e)) = (doc.as_object_mut(), extra.as_object()) {
            d.extend(e.clone());
        }
    }
    doc
}

/// A GET endpoint answering with one of the documents.
pub fn endpoint(state: &Arc<AppState>, openid: bool) -> BoxEndpoint<'static> {
    let state = state.clone();
    poem::endpoint::make(move |req: poem::Request| {
        let state = state.clone();
        async move {
            if !matches!(*req.method(), Method::GET | Method::HEAD) {
                return Response::builder()
                    .status(StatusCode::METHOD_NOT_ALLOWED)
                    .header("allow", "GET, HEAD")
                    .finish();
            }
            Response::builder()
                .content_type("application/json")
                .header("cache-control", CACHE_CONTROL)
                .header("access-control-allow-origin", "*")
                .body(document(&state, openid).to_string())
        }
    })
    .with(poem::middleware::CatchPanic::new())
    .boxed()
}
