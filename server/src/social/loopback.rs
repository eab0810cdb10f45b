//! Social sign-in for desktop and command-line apps (RFC 8252's loopback
//! redirect). Gatehouse's own addition; Better Auth has no such routes.
//!
//! The app listens on `http://127.0.0.1:<port>/...` and opens the user's
//! browser at `GET /sign-in/social/loopback` with that address, a random
//! `state` and a PKCE challenge of its own. The browser runs the ordinary
//! redirect flow (its state cookie binds it as usual), but the callback sets
//! no session in the browser: it redirects to the app's address with a
//! one-time `code`, and the app trades the code and its verifier for a
//! session at `POST /sign-in/social/loopback/token`. Anyone who sees the code
//! (another local program, the browser's history) cannot redeem it without
//! the verifier, which never leaves the app.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::Duration;
use poem_openapi::Object;
use serde::{Deserialize, Serialize};

use super::flow::{self, SocialSignInResponse};
use super::flow_state;
use crate::core::session::{create_session, user_json};
use crate::crypto::token;
use crate::db::store;
use crate::error::{codes, ApiError};
use crate::http::context::RequestContext;
use crate::state::AppState;

/// How long the app has to redeem a code.
const CODE_LIFETIME_SECONDS: i64 = 120;
const CODE_PREFIX: &str = "loopback-code:";
const MAX_REDIRECT_LEN: usize = 2048;
const MAX_STATE_LEN: usize = 512;

/// Where the browser hands the result to the app (kept in the flow's row).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoopbackTarget {
    #[serde(rename = "redirectURI")]
    pub redirect_uri: String,
    #[serde(rename = "codeChallenge")]
    pub code_challenge: String,
    /// The app's own state, echoed back so it can tell its answer apart.
    pub state: String,
}

/// What `GET /sign-in/social/loopback` reads from its query.
pub struct LoopbackStart {
    pub provider: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub state: Option<String>,
    pub login_hint: Option<String>,
}

/// `POST /sign-in/social/loopback/token`.
#[derive(Debug, Clone, Object)]
pub struct LoopbackTokenBody {
    /// The `code` the browser brought to the app's loopback address.
    #[oai(validator(min_length = 1, max_length = 256))]
    pub code: String,
    /// The PKCE verifier whose S256 challenge started the flow.
    #[oai(rename = "codeVerifier", validator(min_length = 43, max_length = 128))]
    pub code_verifier: String,
    /// The same loopback address the flow started with.
    #[oai(rename = "redirectURI", validator(max_length = 2048))]
    pub redirect_uri: String,
}

/// The one-time code's row.
#[derive(Serialize, Deserialize)]
struct Handoff {
    #[serde(rename = "userId")]
    user_id: String,
    #[serde(rename = "codeChallenge")]
    code_challenge: String,
    #[serde(rename = "redirectURI")]
    redirect_uri: String,
}

/// A loopback address as RFC 8252 §7.3 has it: `http`, an IP literal of the
/// loopback interface (not `localhost`, which a hosts file or DNS may point
/// elsewhere), an explicit port, no credentials and no fragment.
pub fn check_redirect_uri(raw: &str) -> Result<url::Url, ApiError> {
    let refuse = |why: &str| {
        ApiError::with_message(
            codes::INVALID_LOOPBACK_REDIRECT,
            format!("Invalid loopback redirect: {why}"),
        )
    };
    if raw.len() > MAX_REDIRECT_LEN {
        return Err(refuse("too long"));
    }
    let url = url::Url::parse(raw).map_err(|_| refuse("not a URL"))?;
    if url.scheme() != "http" {
        return Err(refuse("the scheme must be http"));
    }
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        _ => false,
    };
    if !loopback {
        return Err(refuse("the host must be 127.0.0.1 or [::1]"));
    }
    if url.port().is_none() {
        return Err(refuse("the port must be given"));
    }
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err(refuse("no credentials or fragment"));
    }
    Ok(url)
}

fn is_s256_challenge(c: &str) -> bool {
    c.len() == 43
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Checks the request and returns the loopback address (for errors) and the
/// provider's authorization URL. Failures before the address is known are
/// JSON errors; later ones the caller redirects to the app.
pub async fn start(
    state: &Arc<AppState>,
    ctx: &RequestContext,
    q: LoopbackStart,
) -> Result<String, (Option<String>, ApiError)> {
    let redirect_uri = q
        .redirect_uri
        .ok_or_else(|| (None, ApiError::validation("redirect_uri is required")))?;
    check_redirect_uri(&redirect_uri).map_err(|e| (None, e))?;
    let app_state = q.state.unwrap_or_default();
    if app_state.is_empty() || app_state.len() > MAX_STATE_LEN {
        return Err((
            None,
            ApiError::validation("state is required (1 to 512 characters)"),
        ));
    }
    let back = Some(redirect_uri.clone());
    let challenge = q.code_challenge.unwrap_or_default();
    if q.code_challenge_method.as_deref().unwrap_or("S256") != "S256"
        || !is_s256_challenge(&challenge)
    {
        return Err((
            back,
            ApiError::validation(
                "code_challenge must be an S256 challenge (code_challenge_method=S256)",
            ),
        ));
    }
    let provider = q
        .provider
        .ok_or_else(|| (back.clone(), ApiError::validation("provider is required")))?;
    flow::start_loopback(
        state,
        ctx,
        &provider,
        q.login_hint.as_deref(),
        LoopbackTarget {
            redirect_uri,
            code_challenge: challenge,
            state: app_state,
        },
    )
    .await
    .map_err(|e| (back, e))
}

/// The callback's success for a loopback flow: a one-time code for the app,
/// sent to its address (no session in the browser).
pub async fn hand_off(
    state: &AppState,
    ctx: &RequestContext,
    target: &LoopbackTarget,
    user_id: &str,
) -> Result<(), ApiError> {
    // A refusal (a ban, ...) reaches the app now, not at redemption.
    for plugin in state.plugins.all() {
        plugin.check_new_session(state, user_id).await?;
    }
    let code = flow_state::random(43);
    let value = serde_json::to_string(&Handoff {
        user_id: user_id.to_string(),
        code_challenge: target.code_challenge.clone(),
        redirect_uri: target.redirect_uri.clone(),
    })
    .map_err(|_| ApiError::internal())?;
    let now = state.now();
    // Only the code's hash is stored: a read of the table redeems nothing.
    crate::shared::verification::create(
        state,
        &format!("{CODE_PREFIX}{}", token::hash_token(&code)),
        &value,
        now + Duration::seconds(CODE_LIFETIME_SECONDS),
        now,
    )
    .await?;
    ctx.set_redirect(
        &target.redirect_uri,
        &[("code", &code), ("state", &target.state)],
    );
    Ok(())
}

/// Redeems a code once: the verifier must match the flow's challenge and the
/// address its redirect. A wrong verifier spends the code.
pub async fn redeem(
    state: &Arc<AppState>,
    ctx: &RequestContext,
    body: &LoopbackTokenBody,
) -> Result<SocialSignInResponse, ApiError> {
    let invalid = || ApiError::new(codes::INVALID_LOOPBACK_CODE);
    let row = crate::shared::verification::consume(
        state,
        &format!("{CODE_PREFIX}{}", token::hash_token(&body.code)),
    )
    .await?;
    let Some((value, expires_at)) = row else {
        return Err(invalid());
    };
    if expires_at < state.now() {
        return Err(invalid());
    }
    let handoff: Handoff = serde_json::from_str(&value).map_err(|_| invalid())?;
    let challenge = token::hash_token(&body.code_verifier);
    let same_challenge: bool =
        subtle::ConstantTimeEq::ct_eq(challenge.as_bytes(), handoff.code_challenge.as_bytes())
            .into();
    if !same_challenge || handoff.redirect_uri != body.redirect_uri {
        return Err(invalid());
    }
    let user = store::find_user_by_id(&state.db, &handoff.user_id)
        .await?
        .ok_or_else(invalid)?;
    let (_, token) = create_session(state, ctx, &user.id, true).await?;
    Ok(SocialSignInResponse {
        redirect: false,
        url: None,
        token: Some(token),
        user: Some(user_json(state, &user).await?),
    })
}

#[cfg(test)]
mod tests {
    use super::check_redirect_uri;

    #[test]
    fn only_loopback_ip_literals_with_a_port() {
        for ok in [
            "http://127.0.0.1:49152/callback",
            "http://127.0.0.1:8080",
            "http://[::1]:9000/cb?x=1",
        ] {
            assert!(check_redirect_uri(ok).is_ok(), "{ok}");
        }
        for bad in [
            "https://127.0.0.1:8080/cb",
            "http://localhost:8080/cb",
            "http://127.0.0.1/cb",
            "http://evil.example:8080/cb",
            "http://10.0.0.1:8080/cb",
            "http://user:pw@127.0.0.1:8080/cb",
            "http://127.0.0.1:8080/cb#frag",
            "myapp://callback",
            "not a url",
        ] {
            assert_eq!(
                check_redirect_uri(bad).unwrap_err().code,
                "INVALID_LOOPBACK_REDIRECT",
                "{bad}"
            );
        }
    }
}
