//! Email verification: one-time links mailed to the user, stored hashed in
//! the `verification` table and consumed atomically.

use std::sync::Arc;

use poem_openapi::Object;
use serde_json::json;

use crate::core::dto::User;
use crate::core::links;
use crate::core::ownership::{self, Proof};
use crate::core::session::{create_session, resolve_session, ResolveOptions};
use crate::crypto::token;
use crate::db::models::UserRow;
use crate::db::store;
use crate::error::{codes, ApiError};
use crate::http::context::RequestContext;
use crate::mail::templates;
use crate::state::AppState;

const PURPOSE: &str = "verify-email";
/// A followed link, kept until its expiry so that following it again (a mail
/// scanner's prefetch, then the person's click) answers like the first time.
const FOLLOWED: &str = "verify-email-followed";

#[derive(Debug, Clone, Object)]
pub struct SendVerificationEmailBody {
    pub email: String,
    #[oai(rename = "callbackURL")]
    pub callback_url: Option<String>,
}

#[derive(Debug, Clone, Object)]
pub struct VerifyEmailResponse {
    pub status: bool,
    /// The user when a session exists after verification, else null.
    pub user: Option<User>,
}

/// Whether sign-up mails a link (explicit setting, else follows the requirement).
pub fn send_on_sign_up(state: &AppState) -> bool {
    state
        .config
        .email_verification
        .send_on_sign_up
        .unwrap_or(state.config.email_and_password.require_email_verification)
}

/// Who asked for a verification link, which decides what following it does
/// to an unverified account (see `core::ownership`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requester {
    /// Whoever registered: at sign-up, at a password sign-in, or signed in.
    /// Following the link confirms that registration as made.
    Registrant,
    /// Anyone, by address alone: following the link proves the address and
    /// nothing more.
    Anyone,
}

/// Creates a link for `user` and mails it in the background.
pub async fn send_link(
    state: &Arc<AppState>,
    user: &UserRow,
    callback_url: Option<&str>,
    requester: Requester,
) -> Result<(), ApiError> {
    let value = json!({
        "userId": user.id,
        "email": user.email,
        "registrant": requester == Requester::Registrant,
    })
    .to_string();
    let ttl = state.config.email_verification.expires_in;
    let raw = links::issue(state, PURPOSE, token::random_alphanumeric(32), &value, ttl).await?;
    let url = links::api_url(
        state,
        &format!(
            "/verify-email?token={raw}&callbackURL={}",
            links::enc(callback_url.unwrap_or("/"))
        ),
    );
    links::mail(state, &templates::VERIFY_EMAIL, &user.email, &url);
    Ok(())
}

/// `POST /send-verification-email`. Signed out, the answer never depends on
/// whether the address exists: the lookup and sending happen after it.
pub async fn send_verification_email(
    state: &Arc<AppState>,
    ctx: &RequestContext,
    body: &SendVerificationEmailBody,
) -> Result<(), ApiError> {
    if !state.mailer.enabled() {
        return Err(ApiError::new(codes::VERIFICATION_EMAIL_NOT_ENABLED));
    }
    let email = body.email.trim().to_lowercase();
    if let Some(s) = resolve_session(
        state,
        ctx,
        ResolveOptions {
            disable_refresh: true,
        },
    )
    .await?
    {
        if s.user.email != email {
            return Err(ApiError::new(codes::EMAIL_MISMATCH));
        }
        if s.user.email_verified {
            return Err(ApiError::new(codes::EMAIL_ALREADY_VERIFIED));
        }
        return send_link(
            state,
            &s.user,
            body.callback_url.as_deref(),
            Requester::Registrant,
        )
        .await;
    }
    let state = state.clone();
    let callback = body.callback_url.clone();
    tokio::spawn(async move {
        match store::find_user_by_email(&state.db, &email).await {
            Ok(Some(user)) if !user.email_verified => {
                if let Err(e) =
                    send_link(&state, &user, callback.as_deref(), Requester::Anyone).await
                {
                    tracing::warn!(error = %e, "verification link not created");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "verification lookup failed"),
        }
    });
    Ok(())
}

/// `GET /verify-email`: consumes the link, marks the email verified, signs
/// the user in when configured. Redirects to `callbackURL` when given
/// (with `?error=CODE` on failure).
pub async fn verify_email(
    state: &Arc<AppState>,
    ctx: &RequestContext,
    raw_token: &str,
    callback_url: Option<&str>,
) -> Result<VerifyEmailResponse, ApiError> {
    let outcome = verify(state, ctx, raw_token).await;
    match (outcome, callback_url) {
        (Ok(user), Some(cb)) => {
            ctx.set_redirect(cb, &[]);
            Ok(VerifyEmailResponse { status: true, user })
        }
        (Ok(user), None) => Ok(VerifyEmailResponse { status: true, user }),
        (Err(e), Some(cb)) => {
            ctx.set_redirect(cb, &[("error", e.code.as_ref())]);
            Ok(VerifyEmailResponse {
                status: false,
                user: None,
            })
        }
        (Err(e), None) => Err(e),
    }
}

/// A verification link followed before: while it has not expired and its
/// address is verified, the answer is the first one's without a session
/// (Better Auth's answer for an already verified address). Nothing changes.
async fn followed_again(state: &AppState, raw_token: &str) -> Result<Option<User>, ApiError> {
    let invalid = || ApiError::new(codes::INVALID_TOKEN).with_status(401);
    let (value, expires_at) = links::peek(state, FOLLOWED, raw_token)
        .await?
        .ok_or_else(invalid)?;
    if expires_at <= state.now() {
        return Err(invalid());
    }
    let value: serde_json::Value = serde_json::from_str(&value).map_err(|_| invalid())?;
    let user = match value["userId"].as_str() {
        Some(id) => store::find_user_by_id(&state.db, id).await?,
        None => None,
    };
    match user {
        Some(u) if u.email_verified && Some(u.email.as_str()) == value["email"].as_str() => {
            Ok(None)
        }
        _ => Err(invalid()),
    }
}

async fn verify(
    state: &Arc<AppState>,
    ctx: &RequestContext,
    raw_token: &str,
) -> Result<Option<User>, ApiError> {
    let invalid = || ApiError::new(codes::INVALID_TOKEN).with_status(401);
    if raw_token.is_empty() || raw_token.len() > 128 {
        return Err(invalid());
    }
    // A verification link, or a change-email link (they share this route).
    let (value, expires_at, change) = match links::consume(state, PURPOSE, raw_token).await? {
        Some((v, e)) => (v, e, false),
        None => match links::consume(state, crate::core::change_email::PURPOSE, raw_token).await? {
            Some((v, e)) => (v, e, true),
            None => return followed_again(state, raw_token).await,
        },
    };
    if expires_at <= state.now() {
        // Put back as it was: an expired link keeps saying so, like Better
        // Auth's stateless one, rather than turning into an unknown token.
        let purpose = if change {
            crate::core::change_email::PURPOSE
        } else {
            PURPOSE
        };
        let ttl = (expires_at - state.now()).num_seconds();
        links::issue(state, purpose, raw_token.to_string(), &value, ttl).await?;
        return Err(ApiError::new(codes::TOKEN_EXPIRED).with_status(401));
    }
    if !change {
        let ttl = (expires_at - state.now()).num_seconds();
        links::issue(state, FOLLOWED, raw_token.to_string(), &value, ttl).await?;
    }
    if change {
        let user_id = crate::core::change_email::apply(state, &value).await?;
        let current = resolve_session(
            state,
            ctx,
            ResolveOptions {
                disable_refresh: true,
            },
        )
        .await?;
        return match (current, store::find_user_by_id(&state.db, &user_id).await?) {
            (Some(s), Some(user)) if s.user.id == user.id => {
                // The session now carries the new address: its cookie is
                // issued again, as Better Auth does.
                crate::core::session::set_session_cookies(
                    state,
                    ctx,
                    &s.token,
                    !ctx.dont_remember(state),
                );
                Ok(Some(crate::core::session::user_json(state, &user).await?))
            }
            (Some(_), Some(user)) => Ok(Some(crate::core::session::user_json(state, &user).await?)),
            _ => Ok(None),
        };
    }
    let value: serde_json::Value = serde_json::from_str(&value).map_err(|_| invalid())?;
    let (Some(user_id), Some(email)) = (value["userId"].as_str(), value["email"].as_str()) else {
        return Err(invalid());
    };
    let user = store::find_user_by_id(&state.db, user_id)
        .await?
        .ok_or_else(|| ApiError::new(codes::USER_NOT_FOUND).with_status(401))?;
    if user.email != email {
        // The address changed since the link was sent.
        return Err(invalid());
    }
    // Whoever registered this unverified address may not be its owner.
    let proof = if value["registrant"].as_bool() == Some(true) {
        Proof::Registrant
    } else {
        Proof::Verification
    };
    let user = ownership::claim_address(state, Some(ctx), &user, proof).await?;
    let current = resolve_session(
        state,
        ctx,
        ResolveOptions {
            disable_refresh: true,
        },
    )
    .await?;
    if current.is_none()
        && state
            .config
            .email_verification
            .auto_sign_in_after_verification
    {
        create_session(state, ctx, &user.id, true).await?;
    }
    match current {
        Some(_) => Ok(Some(
            crate::core::session::user_json(
                state,
                &store::find_user_by_id(&state.db, &user.id)
                    .await?
                    .unwrap_or(user),
            )
            .await?,
        )),
        None if state
            .config
            .email_verification
            .auto_sign_in_after_verification =>
        {
            let fresh = store::find_user_by_id(&state.db, &user.id)
                .await?
                .unwrap_or(user);
            Ok(Some(crate::core::session::user_json(state, &fresh).await?))
        }
        None => Ok(None),
    }
}
