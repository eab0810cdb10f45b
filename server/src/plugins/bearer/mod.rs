//! `bearer`: `Authorization: Bearer <token>` authenticates like the session
//! cookie, and responses that issue a session carry `set-auth-token`.

use percent_encoding::percent_decode_str;
use poem::{Request, Response};

use crate::crypto::sign;
use crate::http::context::RequestContext;
use crate::plugins::Plugin;
use crate::state::AppState;

pub struct Bearer;

/// The session token proven by an `Authorization: Bearer` header: either the
/// signed form from `set-auth-token` (verified) or the raw session token
/// (Better Auth's default; the token itself is the secret).
pub fn token_from_headers(secret: &str, headers: &poem::http::HeaderMap) -> Option<String> {
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
        "bearer"
    }

    fn on_request(&self, state: &AppState, req: &Request, ctx: &mut RequestContext) {
        ctx.bearer_token = token_from_headers(&state.secret, req.headers());
    }

    fn on_response(&self, _state: &AppState, ctx: &RequestContext, resp: &mut Response) {
        let Some(signed) = ctx.issued_session() else {
            return;
        };
        let Ok(value) = signed.parse() else { return };
        resp.headers_mut().insert("set-auth-token", value);
        let expose = match resp
            .headers()
            .get("access-control-expose-headers")
            .and_then(|v| v.to_str().ok())
        {
            Some(existing) if !existing.is_empty() => format!("{existing}, set-auth-token"),
            _ => "set-auth-token".to_string(),
        };
        if let Ok(v) = expose.parse() {
            resp.headers_mut()
                .insert("access-control-expose-headers", v);
        }
    }
}
