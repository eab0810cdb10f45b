//! Linking: when a request that carried an anonymous user's session ends
//! with a new session of another user (any sign-in or sign-up method), the
//! app's `on_link_account` runs (callback or webhook), then the anonymous
//! user is deleted.

use super::settings::{AnonymousSettings, LinkAccount};
use super::store;
use crate::core::session::user_json;
use crate::crypto::token;
use crate::db::store as core_store;
use crate::error::ApiError;
use crate::http::context::RequestContext;
use crate::state::AppState;
use poem_openapi::types::ToJSON;

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
    if let Err(e) = run_hooks(&settings, link).await {
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

async fn run_hooks(settings: &AnonymousSettings, link: LinkAccount) -> Result<(), String> {
    if let Some(hook) = settings.hook.get() {
        hook(link.clone()).await?;
    }
    if let Some(webhook) = &settings.webhook {
        let body = serde_json::json!({
            "type": "anonymous.link_account",
            "anonymousUser": link.anonymous_user,
            "newUser": link.new_user,
        });
        webhook
            .post_json(&body)
            .await
            .map_err(|e| format!("on_link_account_url: {e}"))?;
    }
    Ok(())
}
