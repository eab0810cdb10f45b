//! The phone-number routes.

use std::sync::Arc;

use poem::web::Data;
use poem::Request;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use serde_json::{Map, Value};

use super::settings::PhoneNumberSettings;
use super::sms::SmsKind;
use super::store::{self, PhoneUser};
use super::{errors, normalize, otp};
use crate::core::auth::{check_password, session_or_challenge};
use crate::core::dto::{SignInOutcome, SignInSession, StatusResponse, User, WithPluginFields};
use crate::core::session::{
    create_session, require_session, resolve_session, user_json, ResolveOptions,
};
use crate::core::validate::{check_password_length, js_length};
use crate::db::models::{AccountRow, UserRow};
use crate::db::store as core_store;
use crate::error::{codes, ApiError, ApiResult};
use crate::http::context::{request_context, RequestContext};
use crate::plugin::PluginApi;
use crate::state::AppState;
use crate::{in_transaction, with_conn};

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct PhoneNumberSignInBody {
    /// The number, international (`+14155550123`) or, with `default_country`, national.
    pub phone_number: String,
    pub password: String,
    /// Defaults to true; false gives a one-day, browser-session cookie.
    pub remember_me: Option<bool>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct PhoneNumberBody {
    pub phone_number: String,
}

/// `verify`'s body; other plugins' user fields are taken too when the
/// number signs a new user up.
#[derive(Debug, Clone, Object)]
#[oai(rename = "PhoneNumberVerifyBody", rename_all = "camelCase")]
pub struct PhoneNumberVerifyCore {
    pub phone_number: String,
    pub code: String,
    /// No session is created (the number is only marked verified).
    pub disable_session: Option<bool>,
    /// Gives the number to the signed-in user instead.
    pub update_phone_number: Option<bool>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct PhoneNumberResetPasswordBody {
    pub otp: String,
    pub phone_number: String,
    pub new_password: String,
}

#[derive(Debug, Clone, Object)]
pub struct PhoneNumberMessageResponse {
    /// `code sent`.
    pub message: String,
}

/// `verify`'s answer: `token` is the session's (none with `disableSession`).
#[derive(Debug, Clone, Object)]
pub struct PhoneNumberVerifyResponse {
    pub status: bool,
    pub token: Option<String>,
    pub user: User,
}

/// A phone sign-in's session.
#[derive(Debug, Clone, Object)]
pub struct PhoneNumberSignInResponse {
    pub token: String,
    pub user: User,
}

impl SignInSession for PhoneNumberSignInResponse {
    const RESULT_NAME: &'static str = "PhoneNumberSignInResult";
    const RESULT_DESCRIPTION: &'static str =
        "What a phone sign-in answers: a session, or a plugin's challenge (e.g. a second factor).";
}

fn settings(state: &AppState) -> Arc<PhoneNumberSettings> {
    state.settings::<PhoneNumberSettings>()
}

/// Marks a number verified for the account holding it. When that account
/// never proved the number (it came from elsewhere, e.g. a database shared
/// with Better Auth, whose admins can set numbers), whoever set it up may
/// not own it: unless the request carries that account's own session, its
/// sessions, password, linked accounts and plugin credentials go first, in
/// the same transaction, as `core::ownership` does for addresses.
async fn prove_number(
    state: &AppState,
    ctx: &RequestContext,
    holder: &PhoneUser,
    phone: &str,
) -> Result<(), ApiError> {
    let user_id = holder.user.id.as_str();
    let now = state.now();
    if holder.verified {
        return Ok(());
    }
    let registrant = resolve_session(
        state,
        ctx,
        ResolveOptions {
            disable_refresh: true,
        },
    )
    .await?
    .is_some_and(|s| s.user.id == user_id);
    let plugins = state.plugins.all().to_vec();
    let done: Result<(), ApiError> = with_conn!(&state.db, |conn| {
        in_transaction!(conn, {
            if !registrant {
                core_store::remove_sign_in_credentials(conn.into(), user_id).await?;
                for plugin in &plugins {
                    plugin
                        .remove_unproven_credentials(conn.into(), user_id)
                        .await?;
                }
            }
            store::set_verified_phone_in(conn.into(), user_id, phone, now).await?;
            Ok::<_, ApiError>(())
        })
    });
    done?;
    if !registrant {
        tracing::info!(
            user_id,
            "phone number proven by its owner; earlier credentials removed"
        );
    }
    state.sessions.invalidate_user(user_id);
    Ok(())
}

/// Signs a new user up with a verified number (`sign_up_on_verification`):
/// a placeholder email and name, plus other plugins' fields from the body.
async fn sign_up(
    state: &AppState,
    phone: &str,
    extra: &Map<String, Value>,
) -> Result<UserRow, ApiError> {
    let cfg = settings(state);
    let Some(signup) = &cfg.sign_up_on_verification else {
        return Err(ApiError::new(errors::PHONE_NUMBER_NOT_EXIST));
    };
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    let email = format!("{digits}@{}", signup.temp_email_domain).to_lowercase();
    let name = if signup.temp_name.is_empty() {
        phone.to_string()
    } else {
        signup.temp_name.replace("{phone}", phone)
    };
    let rest: Map<String, Value> = extra
        .iter()
        .filter(|(k, _)| {
            ![
                "phoneNumber",
                "code",
                "disableSession",
                "updatePhoneNumber",
                "phoneNumberVerified",
            ]
            .contains(&k.as_str())
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut plugin_values = Vec::new();
    for fields in state.plugins.user_fields() {
        plugin_values.push((fields, fields.prepare(state, &rest, None).await?));
    }
    let mut user = UserRow::verified(email, name, state.now());
    // The email is a placeholder, not an address anyone proved.
    user.email_verified = false;
    let now = state.now();
    let created: Result<(), ApiError> = with_conn!(&state.db, |conn| {
        in_transaction!(conn, {
            core_store::insert_user(conn.into(), &user)
                .await
                .map_err(|e| {
                    if e.is_unique_violation() {
                        ApiError::new(codes::FAILED_TO_CREATE_USER)
                    } else {
                        ApiError::from(e)
                    }
                })?;
            for (fields, values) in &plugin_values {
                fields.write(conn.into(), &user.id, values).await?;
            }
            store::set_verified_phone_in(conn.into(), &user.id, phone, now)
                .await
                .map_err(|e| {
                    // A concurrent verification of the same number won.
                    if e.is_unique_violation() {
                        ApiError::new(errors::PHONE_NUMBER_EXIST)
                    } else {
                        ApiError::from(e)
                    }
                })?;
            Ok::<_, ApiError>(())
        })
    });
    created?;
    Ok(user)
}

pub struct PhoneNumberApi;

impl PluginApi for PhoneNumberApi {
    const ID: &'static str = super::ID;
    const DESCRIPTION: &'static str = super::DESCRIPTION;
}

#[OpenApi]
impl PhoneNumberApi {
    /// Sign in with phone number and password
    ///
    /// An unknown number and a wrong password get the same answer, after the
    /// same hashing work. With `require_verification`, a number never verified
    /// is refused (after the password checked out) and sent a code.
    #[oai(
        path = "/sign-in/phone-number",
        method = "post",
        operation_id = "signInPhoneNumber"
    )]
    async fn sign_in_phone_number(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<PhoneNumberSignInBody>,
    ) -> ApiResult<SignInOutcome<PhoneNumberSignInResponse>> {
        let phone = normalize(&state, &body.phone_number)?;
        if js_length(&body.password) > state.config.email_and_password.max_password_length {
            return Err(ApiError::new(codes::PASSWORD_TOO_LONG));
        }
        let holder = store::find_user_by_phone(&state.db, &phone).await?;
        let verified = holder.as_ref().is_some_and(|h| h.verified);
        let user = check_password(
            &state,
            holder.map(|h| h.user),
            &body.password,
            errors::INVALID_PHONE_NUMBER_OR_PASSWORD,
        )
        .await?;
        if settings(&state).require_verification && !verified {
            if otp::can_send(&state) {
                otp::issue(&state, SmsKind::PhoneVerification, &phone).await?;
            }
            return Err(ApiError::new(errors::PHONE_NUMBER_NOT_VERIFIED));
        }
        let ctx = request_context(req);
        let remember = body.remember_me.unwrap_or(true);
        Ok(Json(
            match session_or_challenge(&state, &ctx, &user, remember).await? {
                SignInOutcome::Session(token) => {
                    SignInOutcome::Session(PhoneNumberSignInResponse {
                        token,
                        user: user_json(&state, &user).await?,
                    })
                }
                SignInOutcome::Challenge(c) => SignInOutcome::Challenge(c),
            },
        ))
    }

    /// Text a one-time code to a number
    ///
    /// Any valid number gets one (the code signs in or signs up on `verify`).
    #[oai(
        path = "/phone-number/send-otp",
        method = "post",
        operation_id = "phoneNumberSendOtp"
    )]
    async fn send_otp(
        &self,
        state: Data<&Arc<AppState>>,
        body: Json<PhoneNumberBody>,
    ) -> ApiResult<PhoneNumberMessageResponse> {
        if !otp::can_send(&state) {
            return Err(ApiError::new(errors::SEND_OTP_NOT_IMPLEMENTED));
        }
        let phone = normalize(&state, &body.phone_number)?;
        otp::issue(&state, SmsKind::PhoneVerification, &phone).await?;
        Ok(Json(PhoneNumberMessageResponse {
            message: "code sent".into(),
        }))
    }

    /// Verify a number with its code
    ///
    /// Marks the number verified and signs its user in (unless
    /// `disableSession`); an unknown number signs a new user up when
    /// `sign_up_on_verification` is set. With `updatePhoneNumber`, the
    /// number goes to the signed-in user instead.
    #[oai(
        path = "/phone-number/verify",
        method = "post",
        operation_id = "phoneNumberVerify"
    )]
    async fn verify(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<WithPluginFields<PhoneNumberVerifyCore>>,
    ) -> ApiResult<PhoneNumberVerifyResponse> {
        let input = &body.core;
        let phone = normalize(&state, &input.phone_number)?;
        let ctx = request_context(req);
        if input.update_phone_number.unwrap_or(false) {
            // Checked before the code is spent: a signed-out caller keeps it.
            let session = require_session(&state, &ctx)
                .await
                .map_err(|_| ApiError::new(codes::USER_NOT_FOUND).with_status(401))?;
            otp::verify(&state, SmsKind::PhoneVerification, &phone, &input.code).await?;
            if store::find_user_by_phone(&state.db, &phone)
                .await?
                .is_some()
            {
                return Err(ApiError::new(errors::PHONE_NUMBER_EXIST));
            }
            store::set_verified_phone(&state.db, &session.user.id, &phone, state.now())
                .await
                .map_err(|e| {
                    if e.is_unique_violation() {
                        ApiError::new(errors::PHONE_NUMBER_EXIST)
                    } else {
                        ApiError::from(e)
                    }
                })?;
            state.sessions.invalidate_user(&session.user.id);
            return Ok(Json(PhoneNumberVerifyResponse {
                status: true,
                token: Some(session.token.clone()),
                user: user_json(&state, &session.user).await?,
            }));
        }
        otp::verify(&state, SmsKind::PhoneVerification, &phone, &input.code).await?;
        let user = match store::find_user_by_phone(&state.db, &phone).await? {
            Some(holder) => {
                prove_number(&state, &ctx, &holder, &phone).await?;
                holder.user
            }
            None => sign_up(&state, &phone, &body.extra).await?,
        };
        let token = if input.disable_session.unwrap_or(false) {
            None
        } else {
            Some(create_session(&state, &ctx, &user.id, true).await?.1)
        };
        let user = core_store::find_user_by_id(&state.db, &user.id)
            .await?
            .unwrap_or(user);
        Ok(Json(PhoneNumberVerifyResponse {
            status: true,
            token,
            user: user_json(&state, &user).await?,
        }))
    }

    /// Text a password-reset code
    ///
    /// The answer is the same whether or not the number has an account.
    #[oai(
        path = "/phone-number/request-password-reset",
        method = "post",
        operation_id = "phoneNumberRequestPasswordReset"
    )]
    async fn request_password_reset(
        &self,
        state: Data<&Arc<AppState>>,
        body: Json<PhoneNumberBody>,
    ) -> ApiResult<StatusResponse> {
        let phone = normalize(&state, &body.phone_number)?;
        let state = Arc::clone(&state);
        // In the background, so the time taken tells nothing either.
        tokio::spawn(async move {
            let eligible = match store::find_user_by_phone(&state.db, &phone).await {
                Ok(Some(h)) => h.verified || !settings(&state).require_verification,
                _ => false,
            };
            // A code is stored either way (as Better Auth does), so guesses at
            // `reset-password` answer alike for numbers with and without an account.
            let issued = if eligible && otp::can_send(&state) {
                otp::issue(&state, SmsKind::PasswordReset, &phone).await
            } else {
                otp::store_new_code(&state, SmsKind::PasswordReset, &phone)
                    .await
                    .map(|_| ())
            };
            if let Err(e) = issued {
                tracing::warn!(error = %e, "password-reset code not issued");
            }
        });
        Ok(Json(StatusResponse { status: true }))
    }

    /// Set a new password with a texted code
    ///
    /// Signs out every session of the user.
    #[oai(
        path = "/phone-number/reset-password",
        method = "post",
        operation_id = "phoneNumberResetPassword"
    )]
    async fn reset_password(
        &self,
        state: Data<&Arc<AppState>>,
        body: Json<PhoneNumberResetPasswordBody>,
    ) -> ApiResult<StatusResponse> {
        check_password_length(&state, &body.new_password)?;
        let phone = normalize(&state, &body.phone_number)?;
        // Hashed before the code is spent, so a busy server loses no code.
        let hash = state.hasher.hash(&body.new_password).await?;
        otp::verify(&state, SmsKind::PasswordReset, &phone, &body.otp).await?;
        let holder = store::find_user_by_phone(&state.db, &phone)
            .await?
            .ok_or_else(|| ApiError::new(errors::UNEXPECTED_ERROR))?;
        if settings(&state).require_verification && !holder.verified {
            return Err(ApiError::new(errors::PHONE_NUMBER_PENDING_VERIFICATION));
        }
        let user_id = holder.user.id.as_str();
        let now = state.now();
        match core_store::find_user_with_credential(&state.db, user_id).await? {
            Some(a) => core_store::update_account_password(&state.db, &a.id, &hash, now).await?,
            None => {
                core_store::create_account(&state.db, &AccountRow::credential(user_id, hash, now))
                    .await?
            }
        }
        core_store::delete_user_sessions(&state.db, user_id, None).await?;
        state.sessions.invalidate_user(user_id);
        Ok(Json(StatusResponse { status: true }))
    }
}
