//! The two-factor routes (all POST, as Better Auth's client sends them).

use std::sync::Arc;

use poem::web::Data;
use poem::Request;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::service::{self, Method};
use crate::core::dto::{StatusResponse, TokenUserResponse};
use crate::core::session::require_session;
use crate::error::{ApiError, ApiResult};
use crate::http::context::request_context;
use crate::plugin::PluginApi;
use crate::state::AppState;

#[derive(Debug, Clone, Object)]
pub struct TwoFactorEnableBody {
    pub password: String,
    /// `totp` (default) or `otp` (codes by email).
    pub method: Option<String>,
    /// Issuer shown by authenticator apps; defaults to the configured one.
    pub issuer: Option<String>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct TwoFactorEnableResponse {
    pub method: String,
    /// `otpauth://` URI for authenticator apps (TOTP only).
    #[oai(rename = "totpURI", skip_serializing_if_is_none)]
    pub totp_uri: Option<String>,
    /// One-time recovery codes (TOTP only); shown once.
    #[oai(skip_serializing_if_is_none)]
    pub backup_codes: Option<Vec<String>>,
}

#[derive(Debug, Clone, Object)]
pub struct TwoFactorPasswordBody {
    pub password: String,
}

#[derive(Debug, Clone, Object)]
pub struct TwoFactorTotpUriResponse {
    #[oai(rename = "totpURI")]
    pub totp_uri: String,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct TwoFactorVerifyCodeBody {
    pub code: String,
    /// Skip the second factor on this device for 30 days.
    pub trust_device: Option<bool>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct TwoFactorVerifyBackupCodeBody {
    pub code: String,
    /// Check the code without creating a session.
    pub disable_session: Option<bool>,
    pub trust_device: Option<bool>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct TwoFactorSendOtpBody {
    pub trust_device: Option<bool>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct TwoFactorBackupCodesResponse {
    pub status: bool,
    pub backup_codes: Vec<String>,
}

/// A password sign-in that needs a second factor: no session yet; the
/// `two_factor` cookie names the pending sign-in, which any
/// `/two-factor/verify-*` route completes.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct TwoFactorRedirect {
    pub two_factor_redirect: bool,
    /// `totp` and/or `otp`; backup codes are always accepted.
    pub two_factor_methods: Vec<String>,
}

pub struct TwoFactorApi;

impl PluginApi for TwoFactorApi {
    const ID: &'static str = super::ID;
    const DESCRIPTION: &'static str = super::DESCRIPTION;
}

/// Codes are digits or `xxxxx-xxxxx`; anything longer is refused unread.
fn bounded(code: &str) -> Result<&str, ApiError> {
    if code.len() > 64 {
        return Err(ApiError::validation(
            "[body.code] Too big: expected string to have <=64 characters",
        ));
    }
    Ok(code)
}

#[OpenApi]
impl TwoFactorApi {
    /// Start 2FA: a TOTP secret and backup codes (password required)
    #[oai(
        path = "/two-factor/enable",
        method = "post",
        operation_id = "twoFactorEnable"
    )]
    async fn enable(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<TwoFactorEnableBody>,
    ) -> ApiResult<TwoFactorEnableResponse> {
        let use_otp = match body.method.as_deref() {
            None | Some("totp") => false,
            Some("otp") => true,
            Some(_) => {
                return Err(ApiError::validation(
                    "[body.method] Invalid option: expected one of \"totp\"|\"otp\"",
                ))
            }
        };
        let ctx = request_context(req);
        let s = require_session(&state, &ctx).await?;
        let out = service::enable(
            &state,
            &ctx,
            &s,
            &body.password,
            use_otp,
            body.issuer.as_deref(),
        )
        .await?;
        Ok(Json(TwoFactorEnableResponse {
            method: if use_otp { "otp" } else { "totp" }.into(),
            totp_uri: out.totp_uri,
            backup_codes: out.backup_codes,
        }))
    }

    /// Turn 2FA off (password required)
    #[oai(
        path = "/two-factor/disable",
        method = "post",
        operation_id = "twoFactorDisable"
    )]
    async fn disable(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<TwoFactorPasswordBody>,
    ) -> ApiResult<StatusResponse> {
        let ctx = request_context(req);
        let s = require_session(&state, &ctx).await?;
        service::disable(&state, &ctx, &s, &body.password).await?;
        Ok(Json(StatusResponse { status: true }))
    }

    /// The TOTP URI again, for another authenticator (password required)
    #[oai(
        path = "/two-factor/get-totp-uri",
        method = "post",
        operation_id = "twoFactorGetTotpUri"
    )]
    async fn get_totp_uri(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<TwoFactorPasswordBody>,
    ) -> ApiResult<TwoFactorTotpUriResponse> {
        let s = require_session(&state, &request_context(req)).await?;
        let totp_uri = service::totp_uri_for(&state, &s, &body.password).await?;
        Ok(Json(TwoFactorTotpUriResponse { totp_uri }))
    }

    /// Check a TOTP code: completes a pending sign-in, or `enable`
    #[oai(
        path = "/two-factor/verify-totp",
        method = "post",
        operation_id = "twoFactorVerifyTotp"
    )]
    async fn verify_totp(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<TwoFactorVerifyCodeBody>,
    ) -> ApiResult<TokenUserResponse> {
        let ctx = request_context(req);
        let trust = body.trust_device.unwrap_or(false);
        let out = service::verify(
            &state,
            &ctx,
            Method::Totp,
            bounded(&body.code)?,
            trust,
            true,
        )
        .await?;
        Ok(Json(out))
    }

    /// Email a one-time code to the user signing in (or signed in)
    #[oai(
        path = "/two-factor/send-otp",
        method = "post",
        operation_id = "twoFactorSendOtp"
    )]
    async fn send_otp(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        _body: Json<TwoFactorSendOtpBody>,
    ) -> ApiResult<StatusResponse> {
        service::send_otp(&state, &request_context(req)).await?;
        Ok(Json(StatusResponse { status: true }))
    }

    /// Check an emailed code: completes a pending sign-in
    #[oai(
        path = "/two-factor/verify-otp",
        method = "post",
        operation_id = "twoFactorVerifyOtp"
    )]
    async fn verify_otp(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<TwoFactorVerifyCodeBody>,
    ) -> ApiResult<TokenUserResponse> {
        let ctx = request_context(req);
        let trust = body.trust_device.unwrap_or(false);
        let out =
            service::verify(&state, &ctx, Method::Otp, bounded(&body.code)?, trust, true).await?;
        Ok(Json(out))
    }

    /// Replace the backup codes (password required); shown once
    #[oai(
        path = "/two-factor/generate-backup-codes",
        method = "post",
        operation_id = "twoFactorGenerateBackupCodes"
    )]
    async fn generate_backup_codes(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<TwoFactorPasswordBody>,
    ) -> ApiResult<TwoFactorBackupCodesResponse> {
        let s = require_session(&state, &request_context(req)).await?;
        let backup_codes = service::generate_backup_codes(&state, &s, &body.password).await?;
        Ok(Json(TwoFactorBackupCodesResponse {
            status: true,
            backup_codes,
        }))
    }

    /// Spend a backup code: completes a pending sign-in
    #[oai(
        path = "/two-factor/verify-backup-code",
        method = "post",
        operation_id = "twoFactorVerifyBackupCode"
    )]
    async fn verify_backup_code(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<TwoFactorVerifyBackupCodeBody>,
    ) -> ApiResult<TokenUserResponse> {
        let ctx = request_context(req);
        let trust = body.trust_device.unwrap_or(false);
        let session = !body.disable_session.unwrap_or(false);
        let out = service::verify(
            &state,
            &ctx,
            Method::BackupCode,
            bounded(&body.code)?,
            trust,
            session,
        )
        .await?;
        Ok(Json(out))
    }
}
