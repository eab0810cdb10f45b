//! Email/password sign-up and sign-in, sign-out. Each function is the single
//! implementation behind both the HTTP route and the server-side API.

use poem_openapi::Object;

use std::sync::Arc;

use crate::core::dto::{
    SignInOutcome, SignInResponse, SignInResult, TokenUserResponse, UserCore, WithPluginFields,
};
use crate::core::email_verification;
use crate::core::session::{create_session, expire_session_cookies, user_json};
use crate::core::validate::{check_field_length, check_password_length, is_valid_email};
use crate::crypto::password::Verified;
use crate::crypto::token;
use crate::db::models::{AccountRow, UserRow};
use crate::db::store;
use crate::error::{codes, ApiError, ErrorCode};
use crate::http::context::RequestContext;
use crate::in_transaction;
use crate::state::AppState;
use crate::with_conn;

#[derive(Debug, Clone, Object)]
#[oai(rename = "SignUpEmailBody", rename_all = "camelCase")]
pub struct SignUpEmailCore {
    pub name: String,
    /// Checked as an address before anything else (`format: email`).
    pub email: String,
    #[oai(validator(min_length = 1))]
    pub password: String,
    pub image: Option<String>,
    #[oai(rename = "callbackURL")]
    pub callback_url: Option<String>,
    pub remember_me: Option<bool>,
}

pub type SignUpEmailBody = WithPluginFields<SignUpEmailCore>;

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct SignInEmailBody {
    pub email: String,
    pub password: String,
    #[oai(rename = "callbackURL")]
    pub callback_url: Option<String>,
    /// Defaults to true; false gives a one-day, browser-session cookie.
    pub remember_me: Option<bool>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct SignOutBody {
    #[oai(rename = "callbackURL")]
    pub callback_url: Option<String>,
}

pub async fn sign_up_email(
    state: &Arc<AppState>,
    ctx: &RequestContext,
    body: &SignUpEmailBody,
) -> Result<TokenUserResponse, ApiError> {
    let cfg = &state.config.email_and_password;
    if !cfg.enabled || cfg.disable_sign_up {
        return Err(ApiError::new(codes::EMAIL_PASSWORD_SIGN_UP_DISABLED));
    }
    let input = &body.core;
    if !is_valid_email(&input.email) {
        return Err(ApiError::validation("[body.email] Invalid email address"));
    }
    check_field_length(state, "name", &input.name)?;
    if let Some(image) = &input.image {
        check_field_length(state, "image", image)?;
    }
    check_password_length(state, &input.password)?;
    let email = input.email.to_lowercase();

    // Plugins validate their fields before anything is written.
    let mut plugin_values = Vec::new();
    for fields in state.plugins.user_fields() {
        plugin_values.push((fields, fields.prepare(state, &body.extra, None).await?));
    }

    let existing = store::find_user_by_email(&state.db, &email).await?;
    let hash = state.hasher.hash(&input.password).await?;
    let now = state.now();
    let user = UserRow {
        id: token::new_id(),
        name: input.name.clone(),
        email,
        email_verified: false,
        image: input.image.clone(),
        created_at: now,
        updated_at: now,
    };
    if existing.is_some() {
        if !cfg.auto_sign_in || cfg.require_email_verification {
            // Without auto sign-in nothing reveals whether the email exists:
            // the answer is a synthetic user, after the same hashing work.
            return Ok(TokenUserResponse {
                token: None,
                user: WithPluginFields::new(UserCore::from(&user)),
            });
        }
        return Err(ApiError::new(codes::USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL));
    }
    let account = AccountRow::credential(&user.id, hash, now);

    // User, credential and plugin columns commit together or not at all; the
    // unique email index settles concurrent identical sign-ups.
    let created: Result<(), ApiError> = with_conn!(&state.db, |conn| {
        in_transaction!(conn, {
            store::insert_user(conn.into(), &user).await.map_err(|e| {
                if e.is_unique_violation() {
                    ApiError::new(codes::USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL)
                } else {
                    ApiError::from(e)
                }
            })?;
            store::insert_account(conn.into(), &account).await?;
            for (fields, values) in &plugin_values {
                fields.write(conn.into(), &user.id, values).await?;
            }
            Ok::<_, ApiError>(())
        })
    });
    created?;

    if email_verification::send_on_sign_up(state) && state.mailer.enabled() {
        email_verification::send_link(
            state,
            &user,
            input.callback_url.as_deref(),
            email_verification::Requester::Registrant,
        )
        .await?;
    }
    let user_out = user_json(state, &user).await?;
    if !cfg.auto_sign_in || cfg.require_email_verification {
        return Ok(TokenUserResponse {
            token: None,
            user: user_out,
        });
    }
    let remember = input.remember_me.unwrap_or(true);
    let (_, raw) = create_session(state, ctx, &user.id, remember).await?;
    Ok(TokenUserResponse {
        token: Some(raw),
        user: user_out,
    })
}

/// Checks a password for a looked-up user: the user, or `invalid`. Unknown
/// users cost the same hashing work as wrong passwords, so timing reveals
/// nothing. A hash due for an upgrade (scrypt, weaker parameters) is redone.
pub async fn check_password(
    state: &AppState,
    user: Option<UserRow>,
    password: &str,
    invalid: ErrorCode,
) -> Result<UserRow, ApiError> {
    let credential = match &user {
        Some(u) => store::find_user_with_credential(&state.db, &u.id).await?,
        None => None,
    };
    let (user, account, stored) = match (user, credential) {
        (Some(u), Some(a)) if a.password.is_some() => {
            let stored = a.password.clone().unwrap_or_default();
            (u, a, stored)
        }
        _ => {
            state.hasher.verify_dummy(password).await?;
            return Err(ApiError::new(invalid));
        }
    };
    let verified = state.hasher.verify(password, &stored).await?;
    if !verified.ok() {
        return Err(ApiError::new(invalid));
    }
    if verified == Verified::YesRehash {
        // Imported (scrypt) or weaker hashes move to current argon2id settings.
        match state.hasher.hash(password).await {
            Ok(h) => {
                store::update_account_password(&state.db, &account.id, &h, state.now()).await?
            }
            Err(e) => tracing::warn!(error = %e, "rehash failed; keeping the old hash"),
        }
    }
    Ok(user)
}

/// After a password checked out: a plugin's challenge (another factor
/// before any session exists), else a new session and its raw token.
pub async fn session_or_challenge(
    state: &Arc<AppState>,
    ctx: &RequestContext,
    user: &UserRow,
    remember: bool,
) -> Result<SignInOutcome<String>, ApiError> {
    for plugin in state.plugins.all() {
        if let Some(challenge) = plugin
            .challenge_password_sign_in(state, ctx, user, remember)
            .await?
        {
            return Ok(SignInOutcome::Challenge(challenge));
        }
    }
    let (_, raw) = create_session(state, ctx, &user.id, remember).await?;
    Ok(SignInOutcome::Session(raw))
}

/// Checks a password for a looked-up user and signs them in.
pub async fn sign_in_with_password(
    state: &Arc<AppState>,
    ctx: &RequestContext,
    user: Option<UserRow>,
    password: &str,
    remember_me: Option<bool>,
    callback_url: Option<&str>,
    invalid: ErrorCode,
) -> Result<SignInResult, ApiError> {
    let user = check_password(state, user, password, invalid).await?;
    if state.config.email_and_password.require_email_verification && !user.email_verified {
        // A fresh link goes out; the stale one may have expired.
        if state.mailer.enabled() {
            // The caller just proved the password: the registrant.
            email_verification::send_link(
                state,
                &user,
                callback_url,
                email_verification::Requester::Registrant,
            )
            .await?;
        }
        return Err(ApiError::new(codes::EMAIL_NOT_VERIFIED));
    }
    let raw = match session_or_challenge(state, ctx, &user, remember_me.unwrap_or(true)).await? {
        SignInOutcome::Session(raw) => raw,
        SignInOutcome::Challenge(challenge) => return Ok(SignInOutcome::Challenge(challenge)),
    };
    if let Some(url) = callback_url {
        ctx.set_header("location", url.to_string());
    }
    Ok(SignInOutcome::Session(SignInResponse {
        redirect: callback_url.is_some(),
        token: raw,
        url: callback_url.map(str::to_string),
        user: user_json(state, &user).await?,
    }))
}

pub async fn sign_in_email(
    state: &Arc<AppState>,
    ctx: &RequestContext,
    body: &SignInEmailBody,
) -> Result<SignInResult, ApiError> {
    if !state.config.email_and_password.enabled {
        return Err(ApiError::new(codes::EMAIL_PASSWORD_DISABLED));
    }
    if !is_valid_email(&body.email) {
        return Err(ApiError::new(codes::INVALID_EMAIL));
    }
    let user = store::find_user_by_email(&state.db, &body.email.to_lowercase()).await?;
    sign_in_with_password(
        state,
        ctx,
        user,
        &body.password,
        body.remember_me,
        body.callback_url.as_deref(),
        codes::INVALID_EMAIL_OR_PASSWORD,
    )
    .await
}

/// Deletes the caller's session (if any) and expires every session cookie.
pub async fn sign_out(state: &AppState, ctx: &RequestContext) -> Result<(), ApiError> {
    if let Some(raw) = ctx.session_token(state) {
        let hash = token::hash_token(&raw);
        state.sessions.invalidate_token(&hash);
        if let Err(e) = store::delete_session_by_hash(&state.db, &hash).await {
            tracing::warn!(error = %e, "sign-out could not delete the session");
        }
    }
    expire_session_cookies(state, ctx);
    Ok(())
}
