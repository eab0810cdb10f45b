//! The email-OTP routes.

use std::sync::Arc;

use chrono::{Duration, NaiveDateTime};
use poem::web::Data;
use poem::Request;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use subtle::ConstantTimeEq;

use super::{INVALID_OTP, INVALID_OTP_TYPE, OTP_EXPIRED, TOO_MANY_ATTEMPTS};
use crate::core::dto::{SuccessResponse, TokenUserResponse, User};
use crate::core::links;
use crate::core::ownership::{self, Proof};
use crate::core::session::{create_session, user_json};
use crate::core::validate::{check_password_length, is_valid_email};
use crate::crypto::token;
use crate::db::models::{AccountRow, UserRow};
use crate::db::store;
use crate::error::{codes, ApiError, ApiResult};
use crate::http::context::request_context;
use crate::plugin::PluginApi;
use crate::state::AppState;

#[derive(Debug, Clone, Object)]
pub struct SendOtpBody {
    pub email: String,
    /// `sign-in`, `email-verification` or `forget-password`.
    #[oai(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, Object)]
pub struct CheckOtpBody {
    pub email: String,
    #[oai(rename = "type")]
    pub kind: String,
    pub otp: String,
}

#[derive(Debug, Clone, Object)]
pub struct EmailOtpBody {
    pub email: String,
    pub otp: String,
}

#[derive(Debug, Clone, Object)]
pub struct EmailBody {
    pub email: String,
}

/// `verify-email`'s answer: `token` is a new session's when
/// `autoSignInAfterVerification` is on, else null.
#[derive(Debug, Clone, Object)]
pub struct VerifyEmailOtpResponse {
    pub status: bool,
    pub token: Option<String>,
    pub user: User,
}

#[derive(Debug, Clone, Object)]
pub struct ResetWithOtpBody {
    pub email: String,
    pub otp: String,
    pub password: String,
}

const KINDS: &[&str] = &["sign-in", "email-verification", "forget-password"];

fn identifier(kind: &str, email: &str) -> String {
    format!("email-otp:{kind}:{}", token::hash_token(email))
}

/// Issues a code for (kind, email), replacing any earlier one, and mails it.
async fn issue(state: &AppState, kind: &str, email: &str) -> Result<(), ApiError> {
    let cfg = state.settings::<super::settings::EmailOtpSettings>();
    let otp = token::random_digits(cfg.otp_length);
    let id = identifier(kind, email);
    let now = state.now();
    crate::shared::verification::delete(state, &id).await?;
    crate::shared::verification::create(
        state,
        &id,
        &format!("{}:0", token::hash_token(&otp)),
        now + Duration::seconds(cfg.expires_in),
        now,
    )
    .await?;
    // The code stands alone on its line; {url} carries it in the template.
    links::mail(state, &super::EMAIL_OTP_MAIL, email, &otp);
    Ok(())
}

/// Checks a code; `consume` spends it when right. Each check takes the row
/// atomically and puts it back with the new attempt count, so concurrent
/// guesses cannot exceed the limit. As in Better Auth: every wrong guess is
/// `INVALID_OTP`; once `allowed_attempts` are used, the next check answers
/// `TOO_MANY_ATTEMPTS` and the code is gone (later checks: `INVALID_OTP`).
async fn check(
    state: &AppState,
    kind: &str,
    email: &str,
    otp: &str,
    consume: bool,
) -> Result<(), ApiError> {
    let id = identifier(kind, email);
    let Some((value, expires_at)) = crate::shared::verification::consume(state, &id).await? else {
        return Err(ApiError::new(INVALID_OTP));
    };
    let now = state.now();
    if expires_at <= now {
        // Taken above: an expired code is gone.
        return Err(ApiError::new(OTP_EXPIRED));
    }
    let (hash, attempts) = value
        .rsplit_once(':')
        .ok_or_else(|| ApiError::new(INVALID_OTP))?;
    let attempts: u32 = attempts.parse().unwrap_or(u32::MAX);
    let allowed = state
        .settings::<super::settings::EmailOtpSettings>()
        .allowed_attempts;
    let put_back = |attempts: u32, expires_at: NaiveDateTime| {
        let value = format!("{hash}:{attempts}");
        let id = id.clone();
        async move { crate::shared::verification::create(state, &id, &value, expires_at, now).await }
    };
    if attempts >= allowed {
        // Not put back: the exhausted code stays spent.
        return Err(ApiError::new(TOO_MANY_ATTEMPTS));
    }
    if bool::from(token::hash_token(otp).as_bytes().ct_eq(hash.as_bytes())) {
        if !consume {
            put_back(attempts, expires_at).await?;
        }
        return Ok(());
    }
    put_back(attempts + 1, expires_at).await?;
    Err(ApiError::new(INVALID_OTP))
}

fn normalized(email: &str) -> Result<String, ApiError> {
    if !is_valid_email(email) {
        return Err(ApiError::new(codes::INVALID_EMAIL));
    }
    Ok(email.to_lowercase())
}

fn enabled(state: &AppState) -> Result<(), ApiError> {
    if state.mailer.enabled() {
        Ok(())
    } else {
        Err(ApiError::new(codes::VERIFICATION_EMAIL_NOT_ENABLED))
    }
}

pub struct EmailOtpApi;

impl PluginApi for EmailOtpApi {
    const ID: &'static str = super::ID;
    const DESCRIPTION: &'static str = super::DESCRIPTION;
}

#[OpenApi]
impl EmailOtpApi {
    /// Mail a one-time code
    ///
    /// The answer is the same whether or not the address has an account.
    #[oai(
        path = "/email-otp/send-verification-otp",
        method = "post",
        operation_id = "emailOtpSendVerificationOtp"
    )]
    async fn send_verification_otp(
        &self,
        state: Data<&Arc<AppState>>,
        body: Json<SendOtpBody>,
    ) -> ApiResult<SuccessResponse> {
        enabled(&state)?;
        if !KINDS.contains(&body.kind.as_str()) {
            return Err(ApiError::new(INVALID_OTP_TYPE));
        }
        let email = normalized(&body.email)?;
        let state = state.clone();
        let kind = body.kind.clone();
        tokio::spawn(async move {
            let exists = matches!(
                store::find_user_by_email(&state.db, &email).await,
                Ok(Some(_))
            );
            let wanted = exists
                || (kind == "sign-in"
                    && !state
                        .settings::<super::settings::EmailOtpSettings>()
                        .disable_sign_up);
            if wanted {
                if let Err(e) = issue(&state, &kind, &email).await {
                    tracing::warn!(error = %e, "email OTP not issued");
                }
            }
        });
        Ok(Json(SuccessResponse { success: true }))
    }

    /// Check a code without spending it
    #[oai(
        path = "/email-otp/check-verification-otp",
        method = "post",
        operation_id = "emailOtpCheckVerificationOtp"
    )]
    async fn check_verification_otp(
        &self,
        state: Data<&Arc<AppState>>,
        body: Json<CheckOtpBody>,
    ) -> ApiResult<SuccessResponse> {
        if !KINDS.contains(&body.kind.as_str()) {
            return Err(ApiError::new(INVALID_OTP_TYPE));
        }
        check(
            &state,
            &body.kind,
            &normalized(&body.email)?,
            &body.otp,
            false,
        )
        .await?;
        Ok(Json(SuccessResponse { success: true }))
    }

    /// Sign in with a code (signs up on first use unless disabled)
    #[oai(
        path = "/sign-in/email-otp",
        method = "post",
        operation_id = "signInEmailOtp"
    )]
    async fn sign_in_email_otp(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<EmailOtpBody>,
    ) -> ApiResult<TokenUserResponse> {
        let email = normalized(&body.email)?;
        check(&state, "sign-in", &email, &body.otp, true).await?;
        let now = state.now();
        let ctx = request_context(req);
        let user = match store::find_user_by_email(&state.db, &email).await? {
            // Whoever registered this unverified address may not be its owner.
            Some(u) => ownership::claim_address(&state, Some(&ctx), &u, Proof::SignIn).await?,
            None if state
                .settings::<super::settings::EmailOtpSettings>()
                .disable_sign_up =>
            {
                return Err(ApiError::new(codes::NEW_USER_SIGNUP_DISABLED))
            }
            None => {
                let user = UserRow::verified(email, String::new(), now);
                store::create_user(&state.db, &user).await?;
                user
            }
        };
        let (_, raw) = create_session(&state, &ctx, &user.id, true).await?;
        Ok(Json(TokenUserResponse {
            token: Some(raw),
            user: user_json(&state, &user).await?,
        }))
    }

    /// Verify the email address with a code
    #[oai(
        path = "/email-otp/verify-email",
        method = "post",
        operation_id = "emailOtpVerifyEmail"
    )]
    async fn verify_email(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<EmailOtpBody>,
    ) -> ApiResult<VerifyEmailOtpResponse> {
        let email = normalized(&body.email)?;
        check(&state, "email-verification", &email, &body.otp, true).await?;
        // Whoever holds the code may learn the account exists (Better Auth too).
        let u = store::find_user_by_email(&state.db, &email)
            .await?
            .ok_or_else(|| ApiError::new(codes::USER_NOT_FOUND))?;
        let ctx = request_context(req);
        let user = ownership::claim_address(&state, Some(&ctx), &u, Proof::Verification).await?;
        let token = if state
            .config
            .email_verification
            .auto_sign_in_after_verification
        {
            Some(create_session(&state, &ctx, &user.id, true).await?.1)
        } else {
            None
        };
        Ok(Json(VerifyEmailOtpResponse {
            status: true,
            token,
            user: user_json(&state, &user).await?,
        }))
    }

    /// Mail a password-reset code
    ///
    /// Better Auth 1.7's name for `forget-password/email-otp`; the two are
    /// the same operation.
    #[oai(
        path = "/email-otp/request-password-reset",
        method = "post",
        operation_id = "emailOtpRequestPasswordReset"
    )]
    async fn request_password_reset(
        &self,
        state: Data<&Arc<AppState>>,
        body: Json<EmailBody>,
    ) -> ApiResult<SuccessResponse> {
        self.forget_password(state, body).await
    }

    /// Mail a password-reset code (the name before Better Auth 1.7)
    #[oai(
        path = "/forget-password/email-otp",
        method = "post",
        operation_id = "forgetPasswordEmailOtp"
    )]
    async fn forget_password(
        &self,
        state: Data<&Arc<AppState>>,
        body: Json<EmailBody>,
    ) -> ApiResult<SuccessResponse> {
        enabled(&state)?;
        let email = normalized(&body.email)?;
        let state = state.clone();
        tokio::spawn(async move {
            if let Ok(Some(_)) = store::find_user_by_email(&state.db, &email).await {
                if let Err(e) = issue(&state, "forget-password", &email).await {
                    tracing::warn!(error = %e, "email OTP not issued");
                }
            }
        });
        Ok(Json(SuccessResponse { success: true }))
    }

    /// Set a new password with a code
    ///
    /// Signs out every session of the user.
    #[oai(
        path = "/email-otp/reset-password",
        method = "post",
        operation_id = "emailOtpResetPassword"
    )]
    async fn reset_password(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<ResetWithOtpBody>,
    ) -> ApiResult<SuccessResponse> {
        let email = normalized(&body.email)?;
        check_password_length(&state, &body.password)?;
        // Hashed before the code is spent, so a busy server loses no code.
        let hash = state.hasher.hash(&body.password).await?;
        check(&state, "forget-password", &email, &body.otp, true).await?;
        let user = store::find_user_by_email(&state.db, &email)
            .await?
            .ok_or_else(|| ApiError::new(INVALID_OTP))?;
        // The code proves the address: it ends up verified (as in Better
        // Auth), and whatever a squatter set up before is removed first.
        let user =
            ownership::claim_address(&state, Some(&request_context(req)), &user, Proof::SignIn)
                .await?;
        let now = state.now();
        match store::find_user_with_credential(&state.db, &user.id).await? {
            Some(a) => store::update_account_password(&state.db, &a.id, &hash, now).await?,
            None => {
                store::create_account(&state.db, &AccountRow::credential(&user.id, hash, now))
                    .await?
            }
        }
        store::delete_user_sessions(&state.db, &user.id, None).await?;
        state.sessions.invalidate_user(&user.id);
        Ok(Json(SuccessResponse { success: true }))
    }
}
