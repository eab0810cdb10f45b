//! Password reset by mailed link: request (anonymous, never revealing
//! whether the address exists), a GET that redirects to the app with the
//! token, and the reset itself, which consumes the token and signs out every
//! session of the user.

use std::sync::Arc;

use poem_openapi::Object;

use crate::core::links;
use crate::core::validate::check_password_length;
use crate::crypto::token;
use crate::db::models::AccountRow;
use crate::db::store;
use crate::error::{codes, ApiError};
use crate::http::context::RequestContext;
use crate::mail::templates;
use crate::state::AppState;

const PURPOSE: &str = "reset-password";
const SENT: &str = "If this email exists in our system, check your email for the reset link";

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct RequestPasswordResetBody {
    pub email: String,
    /// Where the link sends the user (with `?token=`); trusted origins only.
    pub redirect_to: Option<String>,
}

#[derive(Debug, Clone, Object)]
pub struct StatusMessageResponse {
    pub status: bool,
    pub message: String,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ResetPasswordBody {
    pub new_password: String,
    /// The token from the link (or `?token=`).
    pub token: Option<String>,
}

/// `POST /request-password-reset` (and the older `/forget-password`).
pub async fn request_reset(
    state: &Arc<AppState>,
    body: &RequestPasswordResetBody,
) -> Result<StatusMessageResponse, ApiError> {
    if !state.mailer.enabled() {
        return Err(ApiError::new(codes::RESET_PASSWORD_DISABLED));
    }
    // Lookup, token and mail all happen after the answer: same shape for everyone.
    let state = state.clone();
    let email = body.email.trim().to_lowercase();
    let redirect_to = body.redirect_to.clone();
    tokio::spawn(async move {
        if let Err(e) = send_link(&state, &email, redirect_to.as_deref()).await {
            tracing::warn!(error = %e, "password reset link not created");
        }
    });
    Ok(StatusMessageResponse {
        status: true,
        message: SENT.into(),
    })
}

async fn send_link(
    state: &Arc<AppState>,
    email: &str,
    redirect_to: Option<&str>,
) -> Result<(), ApiError> {
    let Some(user) = store::find_user_by_email(&state.db, email).await? else {
        return Ok(());
    };
    let ttl = state
        .config
        .email_and_password
        .reset_password_token_expires_in;
    let raw = links::issue(
        state,
        PURPOSE,
        token::random_alphanumeric(24),
        &user.id,
        ttl,
    )
    .await?;
    let url = links::api_url(
        state,
        &format!(
            "/reset-password/{raw}?callbackURL={}",
            links::enc(redirect_to.unwrap_or(""))
        ),
    );
    links::mail(state, &templates::RESET_PASSWORD, &user.email, &url);
    Ok(())
}

/// `GET /reset-password/:token`: 302 to `callbackURL?token=…`, or
/// `callbackURL?error=INVALID_TOKEN`. The token is not consumed here.
pub async fn reset_redirect(
    state: &AppState,
    ctx: &RequestContext,
    raw: &str,
    callback_url: &str,
) -> Result<(), ApiError> {
    // Relative callbacks resolve against the base URL, as Better Auth does.
    let base = url::Url::parse(&format!("{}/", state.config.base_url()))
        .map_err(|_| ApiError::internal())?;
    let target = base
        .join(callback_url)
        .map_err(|_| ApiError::new(codes::INVALID_CALLBACK_URL))?;
    let valid = match links::peek(state, PURPOSE, raw).await? {
        Some((_, expires_at)) => expires_at > state.now(),
        None => false,
    };
    if valid {
        ctx.set_redirect(target.as_str(), &[("token", raw)]);
    } else {
        ctx.set_redirect(target.as_str(), &[("error", "INVALID_TOKEN")]);
    }
    Ok(())
}

/// `POST /reset-password`: sets the new password and ends every session.
pub async fn reset_password(
    state: &AppState,
    body: &ResetPasswordBody,
    query_token: Option<&str>,
) -> Result<(), ApiError> {
    let raw = body
        .token
        .as_deref()
        .or(query_token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::new(codes::INVALID_TOKEN))?;
    check_password_length(state, &body.new_password)?;
    // Hashed before the token is spent, so a busy server loses no link.
    let hash = state.hasher.hash(&body.new_password).await?;
    let (user_id, expires_at) = links::consume(state, PURPOSE, raw)
        .await?
        .ok_or_else(|| ApiError::new(codes::INVALID_TOKEN))?;
    let now = state.now();
    if expires_at <= now {
        return Err(ApiError::new(codes::INVALID_TOKEN));
    }
    let user = store::find_user_by_id(&state.db, &user_id)
        .await?
        .ok_or_else(|| ApiError::new(codes::USER_NOT_FOUND))?;
    match store::find_user_with_credential(&state.db, &user.id).await? {
        Some(account) => store::update_account_password(&state.db, &account.id, &hash, now).await?,
        None => {
            store::create_account(&state.db, &AccountRow::credential(&user.id, hash, now)).await?
        }
    }
    // Whoever held the old password holds no session now.
    store::delete_user_sessions(&state.db, &user.id, None).await?;
    state.sessions.invalidate_user(&user.id);
    Ok(())
}
