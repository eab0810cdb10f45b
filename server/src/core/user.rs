//! The signed-in user's own account: profile, password, deletion, sessions
//! and linked accounts.

use poem_openapi::Object;

use crate::core::dto::{AccountDto, SessionDto, TokenUserResponse, WithPluginFields};
use crate::core::links;
use crate::core::session::{
    self, create_session, expire_session_cookies, require_fresh_session, require_session,
};
use crate::core::validate::{check_field_length, check_password_length};
use crate::crypto::token;
use crate::db::models::AccountRow;
use crate::db::store;
use crate::error::{codes, ApiError};
use crate::http::context::RequestContext;
use crate::in_transaction;
use crate::state::AppState;
use crate::with_conn;

#[derive(Debug, Clone, Object)]
#[oai(rename = "UpdateUserBody", rename_all = "camelCase")]
pub struct UpdateUserCore {
    pub name: Option<String>,
    /// `null` clears the image.
    pub image: Option<String>,
}

pub type UpdateUserBody = WithPluginFields<UpdateUserCore>;

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ChangePasswordBody {
    pub new_password: String,
    pub current_password: String,
    /// Sign out every other session (a new session replaces the current one).
    pub revoke_other_sessions: Option<bool>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct SetPasswordBody {
    pub new_password: String,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct DeleteUserBody {
    #[oai(rename = "callbackURL")]
    pub callback_url: Option<String>,
    pub password: Option<String>,
    pub token: Option<String>,
}

#[derive(Debug, Clone, Object)]
pub struct RevokeSessionBody {
    /// The session's token, or the handle `list-sessions` returned for it.
    pub token: String,
}

pub async fn update_user(
    state: &AppState,
    ctx: &RequestContext,
    body: &UpdateUserBody,
) -> Result<(), ApiError> {
    let s = require_session(state, ctx).await?;
    if body
        .extra
        .get("email")
        .is_some_and(|v| !v.is_null() && v != "")
    {
        return Err(ApiError::new(codes::EMAIL_CAN_NOT_BE_UPDATED));
    }
    let name = body.core.name.as_deref();
    if let Some(n) = name {
        check_field_length(state, "name", n)?;
    }
    // `image: null` clears it; an absent key leaves it alone.
    let image = match body.extra.get("image") {
        None => None,
        Some(serde_json::Value::Null) => Some(None),
        Some(_) => body.core.image.as_deref().map(Some),
    };
    if let Some(Some(i)) = image {
        check_field_length(state, "image", i)?;
    }
    let mut plugin_values = Vec::new();
    for fields in state.plugins.user_fields() {
        let values = fields.prepare(state, &body.extra, Some(&s.user.id)).await?;
        if !values.is_empty() {
            plugin_values.push((fields, values));
        }
    }
    if name.is_none() && image.is_none() && plugin_values.is_empty() {
        return Err(ApiError::new(codes::NO_FIELDS_TO_UPDATE));
    }
    let now = state.now();
    let written: Result<(), ApiError> = with_conn!(&state.db, |conn| {
        in_transaction!(conn, {
            store::update_user_profile(conn.into(), &s.user.id, name, image, now).await?;
            for (fields, values) in &plugin_values {
                fields.write(conn.into(), &s.user.id, values).await?;
            }
            Ok::<_, ApiError>(())
        })
    });
    written?;
    state.sessions.invalidate_user(&s.user.id);
    // Re-issued like Better Auth does, keeping the remember choice.
    session::set_session_cookies(state, ctx, &s.token, !ctx.dont_remember(state));
    Ok(())
}

pub async fn change_password(
    state: &AppState,
    ctx: &RequestContext,
    body: &ChangePasswordBody,
) -> Result<TokenUserResponse, ApiError> {
    let s = require_session(state, ctx).await?;
    check_password_length(state, &body.new_password)?;
    let account = store::find_user_with_credential(&state.db, &s.user.id)
        .await?
        .filter(|a| a.password.is_some())
        .ok_or_else(|| ApiError::new(codes::CREDENTIAL_ACCOUNT_NOT_FOUND))?;
    let stored = account.password.clone().unwrap_or_default();
    let ok = state
        .hasher
        .verify(&body.current_password, &stored)
        .await?
        .ok();
    if !ok {
        return Err(ApiError::new(codes::INVALID_PASSWORD));
    }
    let hash = state.hasher.hash(&body.new_password).await?;
    store::update_account_password(&state.db, &account.id, &hash, state.now()).await?;
    let mut new_token = None;
    if body.revoke_other_sessions.unwrap_or(false) {
        store::delete_user_sessions(&state.db, &s.user.id, None).await?;
        state.sessions.invalidate_user(&s.user.id);
        let (_, raw) = create_session(state, ctx, &s.user.id, !ctx.dont_remember(state)).await?;
        new_token = Some(raw);
    }
    Ok(TokenUserResponse {
        token: new_token,
        user: s.user_json(),
    })
}

/// Gives a password to a user who has none (e.g. signed up through a social
/// provider). Requires a fresh session.
pub async fn set_password(
    state: &AppState,
    ctx: &RequestContext,
    body: &SetPasswordBody,
) -> Result<(), ApiError> {
    let s = require_fresh_session(state, ctx).await?;
    let existing = store::find_user_with_credential(&state.db, &s.user.id).await?;
    if existing.as_ref().is_some_and(|a| a.password.is_some()) {
        return Err(ApiError::new(codes::PASSWORD_ALREADY_SET));
    }
    check_password_length(state, &body.new_password)?;
    let hash = state.hasher.hash(&body.new_password).await?;
    let now = state.now();
    match existing {
        Some(a) => store::update_account_password(&state.db, &a.id, &hash, now).await?,
        None => {
            let account = AccountRow::credential(&s.user.id, hash, now);
            store::create_account(&state.db, &account).await?;
        }
    }
    Ok(())
}

/// Deletes the caller. A user with a password must confirm it; a user
/// without one needs a fresh session.
pub async fn delete_user(
    state: &AppState,
    ctx: &RequestContext,
    body: &DeleteUserBody,
) -> Result<&'static str, ApiError> {
    if !state.config.user.delete_enabled {
        return Err(ApiError::new(codes::NOT_FOUND));
    }
    let s = require_session(state, ctx).await?;
    if let Some(token) = &body.token {
        delete_with_token(state, &s, token).await?;
        expire_session_cookies(state, ctx);
        return Ok("User deleted");
    }
    let credential = store::find_user_with_credential(&state.db, &s.user.id).await?;
    let email_confirmation = state.config.user.delete_email_confirmation && state.mailer.enabled();
    match (&body.password, credential.and_then(|a| a.password)) {
        (Some(given), Some(stored)) => {
            let ok = state.hasher.verify(given, &stored).await?.ok();
            if !ok {
                return Err(ApiError::new(codes::INVALID_PASSWORD));
            }
        }
        (Some(_), None) => return Err(ApiError::new(codes::CREDENTIAL_ACCOUNT_NOT_FOUND)),
        // The mailed link is the confirmation.
        (None, _) if email_confirmation => {}
        (None, Some(_)) => return Err(ApiError::new(codes::USER_ALREADY_HAS_PASSWORD)),
        (None, None) => {
            if !session::is_fresh(state, &s.session) {
                return Err(ApiError::new(codes::SESSION_EXPIRED));
            }
        }
    }
    if email_confirmation {
        send_delete_link(state, &s.user, body.callback_url.as_deref()).await?;
        return Ok("Verification email sent");
    }
    store::delete_user(&state.db, &s.user.id).await?;
    state.sessions.invalidate_user(&s.user.id);
    expire_session_cookies(state, ctx);
    Ok("User deleted")
}

const DELETE_PURPOSE: &str = "delete-account";

async fn send_delete_link(
    state: &AppState,
    user: &crate::db::models::UserRow,
    callback_url: Option<&str>,
) -> Result<(), ApiError> {
    let ttl = state.config.user.delete_token_expires_in;
    let raw = links::issue(
        state,
        DELETE_PURPOSE,
        token::random_alphanumeric(32),
        &user.id,
        ttl,
    )
    .await?;
    let url = links::api_url(
        state,
        &format!(
            "/delete-user/callback?token={raw}&callbackURL={}",
            links::enc(callback_url.unwrap_or("/"))
        ),
    );
    links::mail(
        state,
        &crate::mail::templates::DELETE_ACCOUNT,
        &user.email,
        &url,
    );
    Ok(())
}

/// Consumes a mailed deletion token of the signed-in user and deletes them.
async fn delete_with_token(
    state: &AppState,
    s: &session::AuthSession,
    raw: &str,
) -> Result<(), ApiError> {
    let invalid = || ApiError::new(codes::INVALID_TOKEN).with_status(404);
    let (owner, expires_at) = links::consume(state, DELETE_PURPOSE, raw)
        .await?
        .ok_or_else(invalid)?;
    if owner != s.user.id || expires_at <= state.now() {
        return Err(invalid());
    }
    store::delete_user(&state.db, &s.user.id).await?;
    state.sessions.invalidate_user(&s.user.id);
    Ok(())
}

/// `GET /delete-user/callback`: the mailed link, opened while signed in.
pub async fn delete_user_callback(
    state: &AppState,
    ctx: &RequestContext,
    raw: &str,
    callback_url: Option<&str>,
) -> Result<(), ApiError> {
    if !state.config.user.delete_enabled {
        return Err(ApiError::new(codes::NOT_FOUND));
    }
    let s = session::resolve_session(
        state,
        ctx,
        session::ResolveOptions {
            disable_refresh: true,
        },
    )
    .await?
    .ok_or_else(|| ApiError::new(codes::FAILED_TO_GET_USER_INFO))?;
    delete_with_token(state, &s, raw).await?;
    expire_session_cookies(state, ctx);
    if let Some(cb) = callback_url {
        ctx.set_redirect(cb, &[]);
    }
    Ok(())
}

/// Active sessions. Only the caller's own session carries its real token;
/// the others carry an opaque handle (their id) so no session secret leaks.
pub async fn list_sessions(
    state: &AppState,
    ctx: &RequestContext,
) -> Result<Vec<SessionDto>, ApiError> {
    let s = require_fresh_session(state, ctx).await?;
    let rows = store::list_active_sessions(&state.db, &s.user.id, state.now()).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let fields = session::load_session_fields(state, &r.id).await?;
        // A plugin may keep a session out of its user's own list.
        if !state.plugins.session_fields().all(|f| f.listed(&fields)) {
            continue;
        }
        let token = if r.id == s.session.id {
            s.token.clone()
        } else {
            r.id.clone()
        };
        out.push(SessionDto::from_row(r, token).with_fields(&fields));
    }
    Ok(out)
}

pub async fn revoke_session(
    state: &AppState,
    ctx: &RequestContext,
    body: &RevokeSessionBody,
) -> Result<(), ApiError> {
    let s = require_session(state, ctx).await?;
    // Someone else's session silently does nothing, as in Better Auth.
    store::delete_user_session(
        &state.db,
        &s.user.id,
        &body.token,
        &token::hash_token(&body.token),
    )
    .await?;
    state.sessions.invalidate_user(&s.user.id);
    Ok(())
}

/// All sessions, the current one included (its cookie stays, as in Better Auth).
pub async fn revoke_sessions(state: &AppState, ctx: &RequestContext) -> Result<(), ApiError> {
    let s = require_session(state, ctx).await?;
    store::delete_user_sessions(&state.db, &s.user.id, None).await?;
    state.sessions.invalidate_user(&s.user.id);
    // The caller's own session went too: its cookies go now (Better Auth 1.7).
    crate::core::session::expire_session_cookies(state, ctx);
    Ok(())
}

pub async fn revoke_other_sessions(state: &AppState, ctx: &RequestContext) -> Result<(), ApiError> {
    let s = require_session(state, ctx).await?;
    store::delete_user_sessions(&state.db, &s.user.id, Some(&s.session.id)).await?;
    state.sessions.invalidate_user(&s.user.id);
    Ok(())
}

pub async fn list_accounts(
    state: &AppState,
    ctx: &RequestContext,
) -> Result<Vec<AccountDto>, ApiError> {
    let s = require_session(state, ctx).await?;
    let rows = store::list_accounts(&state.db, &s.user.id).await?;
    Ok(rows
        .into_iter()
        .map(|a| AccountDto {
            scopes: a
                .scope
                .as_deref()
                .map(|sc| {
                    sc.split(',')
                        .map(|x| x.trim().to_string())
                        .filter(|x| !x.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            id: a.id,
            provider_id: a.provider_id,
            account_id: a.account_id,
            user_id: a.user_id,
            created_at: crate::core::dto::iso(a.created_at),
            updated_at: crate::core::dto::iso(a.updated_at),
        })
        .collect())
}
