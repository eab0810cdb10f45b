//! `two-factor`: TOTP (authenticator apps), codes by email and backup codes
//! as a second factor after a password sign-in, plus trusted devices.
//!
//! A password sign-in of a user with 2FA creates no session: the plugin's
//! [`Plugin::challenge_password_sign_in`] hook answers `twoFactorRedirect`
//! with a signed `two_factor` cookie naming a short-lived challenge, and a
//! `/two-factor/verify-*` route completes it. Secrets and backup codes are
//! sealed with a key derived from the server secret (`crypto::seal`).

pub mod routes;
pub mod server_api;
pub mod service;
pub mod settings;
pub mod store;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use poem_openapi::registry::MetaSchemaRef;
use poem_openapi::types::Type;
use serde_json::{Map, Value};

pub use routes::TwoFactorApi;

use crate::db::models::UserRow;
use crate::db::store::Tx;
use crate::db::{Db, MigrationSet};
use crate::docs::{RouteAuth, RouteDoc};
use crate::error::{codes, ApiError, ErrorCode};
use crate::http::context::RequestContext;
use crate::http::rate_limit::RateLimitRule;
use crate::mail::templates::{MailKind, MailTemplate};
use crate::plugin::{Plugin, SchemaOf, SignInChallenge, UserFields};
use crate::state::AppState;

/// The plugin's id: its spec tag, `/plugins` entry, configuration section and client namespace.
pub const ID: &str = "two-factor";
pub const DESCRIPTION: &str =
    "A second factor after password sign-in: TOTP, emailed codes, backup codes.";

pub struct TwoFactor;

pub const MIGRATIONS: MigrationSet = crate::migration_set!(
    "../migrations/sqlite/two_factor",
    "../migrations/postgres/two_factor"
);

crate::error_codes! {
    OTP_NOT_ENABLED = (400, "OTP not enabled");
    OTP_HAS_EXPIRED = (400, "OTP has expired");
    TOTP_NOT_ENABLED = (400, "TOTP not enabled");
    TWO_FACTOR_NOT_ENABLED = (400, "Two factor isn't enabled");
    BACKUP_CODES_NOT_ENABLED = (400, "Backup codes aren't enabled");
    INVALID_BACKUP_CODE = (401, "Invalid backup code");
    INVALID_CODE = (401, "Invalid code");
    TOO_MANY_ATTEMPTS_REQUEST_NEW_CODE = (400, "Too many attempts. Please request a new code.");
    ACCOUNT_TEMPORARILY_LOCKED = (429, "Too many failed verification attempts. Your account is temporarily locked. Please try again later.");
    INVALID_TWO_FACTOR_COOKIE = (401, "Invalid two factor cookie");
}

impl Plugin for TwoFactor {
    fn id(&self) -> &'static str {
        ID
    }

    fn description(&self) -> &'static str {
        DESCRIPTION
    }

    fn configure(
        &self,
        section: Option<&toml::Value>,
        _config: &crate::config::Config,
    ) -> Result<Option<crate::plugin::Settings>, String> {
        let settings: settings::TwoFactorSettings = crate::plugin::parse_section(section)?;
        Ok(Some(crate::plugin::Settings::new(settings)))
    }

    fn mail_templates(&self) -> &'static [MailKind] {
        &[OTP_MAIL]
    }

    fn migrations(&self) -> Option<&'static MigrationSet> {
        Some(&MIGRATIONS)
    }

    fn error_codes(&self) -> &'static [ErrorCode] {
        ALL
    }

    fn remove_unproven_credentials<'a>(
        &'a self,
        tx: Tx<'a>,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        // Trusted devices bind the enrolment, so they go with it.
        async move { Ok(store::remove_in(tx, user_id).await?) }.boxed()
    }

    fn rate_limit_rules(&self) -> Vec<RateLimitRule> {
        // Better Auth's rule: 3 requests per 10 seconds on every 2FA route.
        vec![RateLimitRule::new("/two-factor/*", 10, 3)]
    }

    fn user_fields(&self) -> Option<&dyn UserFields> {
        Some(&TwoFactorEnabledField)
    }

    fn challenge_password_sign_in<'a>(
        &'a self,
        state: &'a Arc<AppState>,
        ctx: &'a RequestContext,
        user: &'a UserRow,
        remember: bool,
    ) -> BoxFuture<'a, Result<Option<SignInChallenge>, ApiError>> {
        Box::pin(async move {
            let redirect = service::challenge_sign_in(state, ctx, user, remember).await?;
            Ok(redirect.as_ref().map(SignInChallenge::new))
        })
    }

    fn sign_in_challenge(&self) -> Option<SchemaOf> {
        Some(SchemaOf::of::<routes::TwoFactorRedirect>())
    }

    fn route_docs(&self) -> &'static [RouteDoc] {
        const PASSWORD: &[ErrorCode] = &[codes::INVALID_PASSWORD, TWO_FACTOR_NOT_ENABLED];
        const VERIFY: &[ErrorCode] = &[
            INVALID_CODE,
            INVALID_TWO_FACTOR_COOKIE,
            TOO_MANY_ATTEMPTS_REQUEST_NEW_CODE,
            ACCOUNT_TEMPORARILY_LOCKED,
            TOTP_NOT_ENABLED,
            TWO_FACTOR_NOT_ENABLED,
        ];
        &[
            RouteDoc {
                operation_id: "twoFactorEnable",
                auth: RouteAuth::Session,
                errors: &[
                    codes::SERVER_BUSY,
                    codes::INVALID_PASSWORD,
                    codes::VALIDATION_ERROR,
                ],
            },
            RouteDoc {
                operation_id: "twoFactorDisable",
                auth: RouteAuth::Session,
                errors: &[codes::SERVER_BUSY, codes::INVALID_PASSWORD],
            },
            RouteDoc {
                operation_id: "twoFactorGetTotpUri",
                auth: RouteAuth::Session,
                errors: &[
                    codes::SERVER_BUSY,
                    codes::INVALID_PASSWORD,
                    TOTP_NOT_ENABLED,
                ],
            },
            RouteDoc {
                operation_id: "twoFactorVerifyTotp",
                auth: RouteAuth::Optional,
                errors: VERIFY,
            },
            RouteDoc {
                operation_id: "twoFactorSendOtp",
                auth: RouteAuth::Optional,
                errors: &[
                    INVALID_TWO_FACTOR_COOKIE,
                    OTP_NOT_ENABLED,
                    TWO_FACTOR_NOT_ENABLED,
                    TOO_MANY_ATTEMPTS_REQUEST_NEW_CODE,
                ],
            },
            RouteDoc {
                operation_id: "twoFactorVerifyOtp",
                auth: RouteAuth::Optional,
                errors: &[
                    INVALID_CODE,
                    OTP_HAS_EXPIRED,
                    INVALID_TWO_FACTOR_COOKIE,
                    TOO_MANY_ATTEMPTS_REQUEST_NEW_CODE,
                    ACCOUNT_TEMPORARILY_LOCKED,
                    TWO_FACTOR_NOT_ENABLED,
                ],
            },
            RouteDoc {
                operation_id: "twoFactorGenerateBackupCodes",
                auth: RouteAuth::Session,
                errors: PASSWORD,
            },
            RouteDoc {
                operation_id: "twoFactorVerifyBackupCode",
                auth: RouteAuth::Optional,
                errors: &[
                    codes::SERVER_BUSY,
                    INVALID_BACKUP_CODE,
                    BACKUP_CODES_NOT_ENABLED,
                    INVALID_TWO_FACTOR_COOKIE,
                    TOO_MANY_ATTEMPTS_REQUEST_NEW_CODE,
                    ACCOUNT_TEMPORARILY_LOCKED,
                    TWO_FACTOR_NOT_ENABLED,
                ],
            },
        ]
    }
}

/// `twoFactorEnabled` on the user: read-only for clients (changed only by
/// `enable`, the first verified code, and `disable`).
struct TwoFactorEnabledField;

impl UserFields for TwoFactorEnabledField {
    fn schema(&self) -> Vec<(&'static str, MetaSchemaRef)> {
        vec![("twoFactorEnabled", Option::<bool>::schema_ref())]
    }

    fn client_settable(&self) -> bool {
        false
    }

    fn prepare<'a>(
        &'a self,
        _state: &'a AppState,
        input: &'a Map<String, Value>,
        _user_id: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Map<String, Value>, ApiError>> {
        async move {
            if input.contains_key("twoFactorEnabled") {
                return Err(ApiError::validation(
                    "[body.twoFactorEnabled] twoFactorEnabled is not allowed to be set",
                ));
            }
            Ok(Map::new())
        }
        .boxed()
    }

    fn write<'a>(
        &'a self,
        _tx: Tx<'a>,
        _user_id: &'a str,
        _values: &'a Map<String, Value>,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        async { Ok(()) }.boxed()
    }

    fn load<'a>(
        &'a self,
        db: &'a Db,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<Map<String, Value>, ApiError>> {
        async move {
            let enabled = store::is_enabled(db, user_id).await?;
            let mut out = Map::new();
            out.insert("twoFactorEnabled".into(), Value::Bool(enabled));
            Ok(out)
        }
        .boxed()
    }
}

/// The mail this plugin sends (`[mail.templates.two_factor_otp]` overrides it).
pub const OTP_MAIL: MailKind = MailKind {
    key: "two_factor_otp",
    default: default_template,
};

/// `{url}` is the code itself here.
fn default_template() -> MailTemplate {
    MailTemplate {
        subject: "Your {app} sign-in code".into(),
        text: "Your {app} verification code:\n\n{url}\n\nIt expires in a few minutes. If you did not try to sign in, change your password.\n".into(),
        html: "<p>Your {app} verification code:</p><p style=\"font-size:24px;letter-spacing:4px\"><b>{url}</b></p><p>It expires in a few minutes. If you did not try to sign in, change your password.</p>".into(),
    }
}
