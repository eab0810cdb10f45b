//! `bearer`: `Authorization: Bearer <token>` authenticates like the session
//! cookie, and responses that issue a session carry `set-auth-token`.

use futures_util::future::BoxFuture;
use percent_encoding::percent_decode_str;
use poem::http::HeaderMap;
use poem::Response;
use poem_openapi::registry::MetaSecurityScheme;

use crate::crypto::sign;
use crate::http::context::{PresentedSessionToken, RequestContext};
use crate::plugin::Plugin;
use crate::state::AppState;

/// The plugin's id: its spec tag, `/plugins` entry, configuration section and client namespace.
pub const ID: &str = "bearer";
pub const DESCRIPTION: &str =
    "`Authorization: Bearer` authenticates like the session cookie; responses that issue a session carry `set-auth-token`.";

/// The name of the security scheme in the spec.
pub const SECURITY_SCHEME: &str = "bearerAuth";

pub struct Bearer;

/// The session token proven by an `Authorization: Bearer` header: either the
/// signed form from `set-auth-token` (verified) or the raw session token
/// (Better Auth's default; the token itself is the secret).
fn token_from_headers(secret: &str, headers: &poem::http::HeaderMap) -> Option<String> {
    let value = headers
        .get(poem::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    if token.is_empty() || token.len() > 512 {
        return None;
    }
    let token = if token.contains('%') {
        percent_decode_str(token).decode_utf8_lossy().into_owned()
    } else {
        token.to_string()
    };
    if token.contains('.') {
        // An invalid signature is ignored: the request proceeds unauthenticated.
        sign::verify_signed(secret, &token)
    } else if token.chars().all(|c| c.is_ascii_alphanumeric()) {
        Some(token)
    } else {
        None
    }
}

impl Plugin for Bearer {
    fn id(&self) -> &'static str {
        ID
    }

    fn description(&self) -> &'static str {
        DESCRIPTION
    }

    fn on_request(&self, state: &AppState, headers: &HeaderMap, ctx: &mut RequestContext) {
        if let Some(token) = token_from_headers(&state.secret, headers) {
            ctx.extensions.insert(PresentedSessionToken(token));
        }
    }

    fn security_scheme(&self) -> Option<(&'static str, MetaSecurityScheme)> {
        Some((
            SECURITY_SCHEME,
            MetaSecurityScheme {
                ty: "http",
                description: Some("The session token (raw, or signed as in the `set-auth-token` header), with the `bearer` plugin."),
                name: None,
                key_in: None,
                scheme: Some("bearer"),
                bearer_format: None,
                flows: None,
                openid_connect_url: None,
            },
        ))
    }

    fn after_response<'a>(
        &'a self,
        _state: &'a AppState,
        ctx: &'a RequestContext,
        _path: &'a str,
        resp: &'a mut Response,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move { add_auth_token_header(ctx, resp) })
    }
}

/// `set-auth-token: <signed token>` when the response issues a session.
fn add_auth_token_header(ctx: &RequestContext, resp: &mut Response) {
    let Some(signed) = ctx.issued_session() else {
        return;
    };
    let Ok(value) = signed.parse() else { return };
    resp.headers_mut().insert("set-auth-token", value);
    crate::http::expose_header(resp, "set-auth-token");
}
