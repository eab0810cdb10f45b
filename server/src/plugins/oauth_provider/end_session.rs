//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): a client
//! sends the browser here with the ID token it holds; the browser's session
//! of that user ends, and the browser goes to a registered
//! `post_logout_redirect_uri` with the client's `state`.
//!
//! The ID token is required: a logout link without one could be planted
//! on any page to sign users out (a logout CSRF), and Gatehouse has no
//! confirmation page of its own to ask the user instead. For the same
//! reason a hint naming another session (`sid`) than the browser's ends
//! nothing. An expired ID token is still a valid hint (the spec's §2): it
//! only says who signed in, and clients log out long after ID tokens expire.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;

use super::authorize::Params;
use super::errors::OAuthError;
use super::settings::OAuthProviderSettings;
use crate::core::session::{resolve_session, ResolveOptions};
use crate::http::context::RequestContext;
use crate::plugins::jwt::settings::JwtSettings;
use crate::state::AppState;

/// Ends the session and returns where to send the browser, if anywhere.
pub async fn end_session(
    state: &AppState,
    s: &OAuthProviderSettings,
    ctx: &RequestContext,
    params: &Params,
) -> Result<Option<String>, OAuthError> {
    let hint = params.get("id_token_hint").ok_or_else(|| {
        OAuthError::invalid_request("id_token_hint is required: the ID token this client holds")
    })?;
    let invalid = || OAuthError::invalid_request("id_token_hint is not an ID token issued here");
    // The audience names the client; the signature check below vouches for it.
    let payload = hint.split('.').nth(1).ok_or_else(invalid)?;
    let unverified: Value = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(invalid)?;
    let audience = unverified["aud"].as_str().ok_or_else(invalid)?.to_string();
    let jwt = state.settings::<JwtSettings>();
    let claims = jwt
        .keys
        .verify_allowing_expired(state, &jwt, hint, &super::issuer(state), &audience)
        .await
        .map_err(|_| invalid())?;
    if params.get("client_id").is_some_and(|c| *c != audience) {
        return Err(OAuthError::invalid_request(
            "client_id is not the ID token's audience",
        ));
    }
    let client = s
        .clients
        .get_or_load(state, &audience, super::store::client(&state.db, &audience))
        .await?
        .ok_or_else(invalid)?;
    if client.disabled.unwrap_or(false) {
        return Err(OAuthError::new(
            400,
            "invalid_client",
            "The client is disabled",
        ));
    }
    // As Better Auth: only clients the operator enabled may sign users out
    // (`gatehouse oauth-provider client <id> --enable-end-session true`).
    if !client.enable_end_session.unwrap_or(false) {
        return Err(OAuthError::of(super::errors::CLIENT_NOT_ALLOWED_TO_LOG_OUT));
    }
    let redirect = match params.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => {
            let registered = super::clients::list(&client.post_logout_redirect_uris);
            if !registered.iter().any(|r| r == uri) {
                return Err(OAuthError::new(
                    400,
                    "invalid_redirect_uri",
                    "post_logout_redirect_uri is not registered for this client",
                ));
            }
            let st = params.get("state").map(String::as_str);
            let query: Vec<(&str, &str)> = st.map(|v| vec![("state", v)]).unwrap_or_default();
            Some(crate::http::redirect::location(uri, &query).unwrap_or_else(|| uri.clone()))
        }
    };
    // Only the session of the user the token names: a client cannot sign
    // out whoever else uses the browser.
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let sid = claims.get("sid").and_then(Value::as_str);
    if let Some(session) = resolve_session(state, ctx, ResolveOptions::default()).await? {
        if session.user.id == sub {
            if sid.is_some_and(|sid| sid != session.session.id) {
                return Err(OAuthError::invalid_request(
                    "id_token_hint is from another session of this user: nothing was ended",
                ));
            }
            crate::core::auth::sign_out(state, ctx).await?;
        }
    }
    Ok(redirect)
}
