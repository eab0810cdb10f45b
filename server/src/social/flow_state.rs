//! The state of one redirect flow (sign-in or link), as Better Auth 1.7
//! keeps it: a verification row `auth-state:<state>` holding the flow's data
//! for 10 minutes, and the signed `state` cookie binding it to the browser
//! that started it. The callback needs both, and uses them once.

use chrono::Duration;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::http::context::RequestContext;
use crate::state::AppState;

/// Better Auth's alphabet for state, verifier and nonce.
const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
const ROW_LIFETIME_MINUTES: i64 = 10;
const COOKIE_MAX_AGE: i64 = 300;
const PREFIX: &str = "auth-state:";

pub fn random(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Who a link flow links to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinkTarget {
    #[serde(rename = "userId")]
    pub user_id: String,
    pub email: String,
}

/// What the callback needs to finish the flow (Better Auth's key names).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FlowData {
    #[serde(rename = "callbackURL")]
    pub callback_url: String,
    #[serde(rename = "codeVerifier")]
    pub code_verifier: String,
    #[serde(rename = "errorURL", skip_serializing_if = "Option::is_none")]
    pub error_url: Option<String>,
    #[serde(rename = "newUserURL", skip_serializing_if = "Option::is_none")]
    pub new_user_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<LinkTarget>,
    /// Milliseconds since the epoch.
    #[serde(rename = "expiresAt")]
    pub expires_at: i64,
    #[serde(rename = "requestSignUp", skip_serializing_if = "Option::is_none")]
    pub request_sign_up: Option<bool>,
    #[serde(rename = "idTokenNonce", skip_serializing_if = "Option::is_none")]
    pub id_token_nonce: Option<String>,
    #[serde(rename = "oauthState")]
    pub oauth_state: String,
    /// A desktop app's loopback hand-off (Gatehouse's own; see `loopback`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loopback: Option<super::loopback::LoopbackTarget>,
    /// The app's `additionalData`, round-tripped.
    #[serde(flatten)]
    pub additional: Map<String, Value>,
}

/// Why a callback's state was refused (all are `state_mismatch` on the wire
/// but the missing one).
#[derive(Debug, PartialEq, Eq)]
pub enum StateError {
    /// No such flow (used, expired and swept, or never started).
    NotFound,
    /// The browser finishing the flow is not the one that started it.
    OtherBrowser,
    Expired,
}

/// A new flow: the state, its PKCE verifier and nonce. Stores the row and
/// queues the cookie.
pub async fn start(
    state: &AppState,
    ctx: &RequestContext,
    mut data: FlowData,
) -> Result<FlowData, ApiError> {
    let oauth_state = random(32);
    let now = state.now();
    data.oauth_state = oauth_state.clone();
    data.code_verifier = random(128);
    data.expires_at = (now + Duration::minutes(ROW_LIFETIME_MINUTES))
        .and_utc()
        .timestamp_millis();
    let value = serde_json::to_string(&data).map_err(|_| ApiError::internal())?;
    crate::shared::verification::create(
        state,
        &format!("{PREFIX}{oauth_state}"),
        &value,
        now + Duration::minutes(ROW_LIFETIME_MINUTES),
        now,
    )
    .await?;
    let name = cookie_name(state);
    ctx.set_cookie(
        &name,
        state.cookies.set_cookie(
            &name,
            &crate::crypto::sign::sign_value(&state.secret, &oauth_state),
            Some(COOKIE_MAX_AGE),
        ),
    );
    Ok(data)
}

pub fn cookie_name(state: &AppState) -> String {
    state.cookies.name("state")
}

/// Takes the flow for `oauth_state`: the signed cookie must name it (checked
/// before the row is touched, so another browser cannot burn it), then the
/// row is deleted in the same statement that reads it, so it works once.
pub async fn take(
    state: &AppState,
    ctx: &RequestContext,
    oauth_state: &str,
) -> Result<FlowData, StateError> {
    let name = cookie_name(state);
    let from_cookie = ctx.signed_cookie(state, &name);
    let same = from_cookie.as_deref().is_some_and(|c| {
        subtle::ConstantTimeEq::ct_eq(c.as_bytes(), oauth_state.as_bytes()).into()
    });
    if !same {
        return Err(StateError::OtherBrowser);
    }
    ctx.set_cookie(&name, state.cookies.expire(&name));
    let row = crate::shared::verification::consume(state, &format!("{PREFIX}{oauth_state}"))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "reading an OAuth state failed");
            StateError::NotFound
        })?;
    let Some((value, _)) = row else {
        return Err(StateError::NotFound);
    };
    let data: FlowData = serde_json::from_str(&value).map_err(|_| StateError::NotFound)?;
    if data.oauth_state != oauth_state {
        return Err(StateError::NotFound);
    }
    if data.expires_at < state.now().and_utc().timestamp_millis() {
        return Err(StateError::Expired);
    }
    Ok(data)
}
