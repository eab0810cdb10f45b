//! Linking: when a request that carried an anonymous user's session ends
//! with a new session of another user (any sign-in or sign-up method), the
//! app's `on_link_account` runs (callback or webhook), then the anonymous
//! user is deleted.

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::settings::{AnonymousSettings, LinkAccount};
use super::store;
use crate::core::session::user_json;
use crate::crypto::token;
use crate::db::store as core_store;
use crate::error::ApiError;
use crate::http::context::RequestContext;
use crate::state::AppState;
use poem_openapi::types::ToJSON;

/// The header carrying `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub const SIGNATURE_HEADER: &str = "x-gatehouse-signature";
/// Unix seconds, part of the signed material (receivers refuse old ones).
pub const TIMESTAMP_HEADER: &str = "x-gatehouse-timestamp";

pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

pub async fn link_after_sign_in(state: &AppState, ctx: &RequestContext) -> Result<(), ApiError> {
    let Some(created) = ctx.created_session() else {
        return Ok(());
    };
    let Some(previous) = ctx.session_token(state) else {
        return Ok(());
    };
    if previous == created.token {
        return Ok(());
    }
    let Some((_, anon)) =
        core_store::find_session_with_user(&state.db, &token::hash_token(&previous)).await?
    else {
        return Ok(());
    };
    if anon.id == created.user_id || !store::is_anonymous(&state.db, &anon.id).await? {
        return Ok(());
    }
    let Some(new_user) = core_store::find_user_by_id(&state.db, &created.user_id).await? else {
        return Ok(());
    };
    let link = LinkAccount {
        anonymous_user: user_json(state, &anon).await?.to_json().unwrap_or_default(),
        new_user: user_json(state, &new_user)
            .await?
            .to_json()
            .unwrap_or_default(),
    };
    let settings = state.settings::<AnonymousSettings>();
    if let Err(e) = run_hooks(state, &settings, link).await {
        // Keep the anonymous user: what the app attached to it is not lost.
        tracing::error!(error = %e, "on_link_account failed; the anonymous user is kept");
        return Ok(());
    }
    if !settings.disable_delete_anonymous_user {
        core_store::delete_user(&state.db, &anon.id).await?;
        state.sessions.invalidate_user(&anon.id);
    }
    Ok(())
}

async fn run_hooks(
    state: &AppState,
    settings: &AnonymousSettings,
    link: LinkAccount,
) -> Result<(), String> {
    if let Some(hook) = settings.hook.get() {
        hook(link.clone()).await?;
    }
    if let (Some(url), Some(secret)) = (&settings.on_link_account_url, &settings.webhook_secret) {
        let body = serde_json::json!({
            "type": "anonymous.link_account",
            "anonymousUser": link.anonymous_user,
            "newUser": link.new_user,
        })
        .to_string();
        let timestamp = state.now().and_utc().timestamp();
        let resp = reqwest::Client::new()
            .post(url)
            .timeout(Duration::from_secs(settings.webhook_timeout))
            .header("content-type", "application/json")
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, signature(secret, timestamp, &body))
            .body(body)
            .send()
            .await
            .map_err(|e| format!("webhook {url}: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("webhook {url} answered {}", resp.status()));
        }
    }
    Ok(())
}
