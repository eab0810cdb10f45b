//! `email-otp`: one-time codes by email for sign-in, email verification and
//! password reset. Codes are stored hashed per (purpose, address); a new code
//! replaces the previous one; wrong guesses are counted and the code is void
//! after `allowed_attempts`.

pub mod routes;
pub mod settings;

pub use routes::EmailOtpApi;

use crate::docs::{RouteAuth, RouteDoc};
use crate::error::{codes, ErrorCode};
use crate::http::rate_limit::RateLimitRule;
use crate::mail::templates::{MailKind, MailTemplate};
use crate::plugin::Plugin;

/// The plugin's id: its spec tag, `/plugins` entry, configuration section and client namespace.
pub const ID: &str = "email-otp";
pub const DESCRIPTION: &str = "One-time codes by email: sign-in, verification, password reset.";

pub struct EmailOtp;

pub const INVALID_OTP: ErrorCode = ErrorCode {
    code: "INVALID_OTP",
    message: "Invalid OTP",
    status: 400,
};
pub const OTP_EXPIRED: ErrorCode = ErrorCode {
    code: "OTP_EXPIRED",
    message: "OTP expired",
    status: 400,
};
pub const TOO_MANY_ATTEMPTS: ErrorCode = ErrorCode {
    code: "TOO_MANY_ATTEMPTS",
    message: "Too many attempts",
    status: 403,
};
pub const INVALID_OTP_TYPE: ErrorCode = ErrorCode {
    code: "INVALID_OTP_TYPE",
    message: "Invalid OTP type",
    status: 400,
};
const ALL: &[ErrorCode] = &[
    INVALID_OTP,
    OTP_EXPIRED,
    TOO_MANY_ATTEMPTS,
    INVALID_OTP_TYPE,
];

impl Plugin for EmailOtp {
    fn id(&self) -> &'static str {
        ID
    }

    fn description(&self) -> &'static str {
        DESCRIPTION
    }

    fn client_factory(&self) -> Option<&'static str> {
        Some("emailOTPClient")
    }

    fn form_paths(&self) -> &'static [&'static str] {
        &["/email-otp/send-verification-otp"]
    }

    fn configure(
        &self,
        section: Option<&toml::Value>,
        _config: &crate::config::Config,
    ) -> Result<Option<crate::plugin::Settings>, String> {
        let settings: settings::EmailOtpSettings = crate::plugin::parse_section(section)?;
        Ok(Some(crate::plugin::Settings::new(settings)))
    }

    fn mail_templates(&self) -> &'static [MailKind] {
        &[EMAIL_OTP_MAIL]
    }

    fn error_codes(&self) -> &'static [ErrorCode] {
        ALL
    }

    fn rate_limit_rules(&self) -> Vec<RateLimitRule> {
        [
            "/email-otp/send-verification-otp",
            "/email-otp/check-verification-otp",
            "/email-otp/verify-email",
            "/sign-in/email-otp",
            "/forget-password/email-otp",
            "/email-otp/request-password-reset",
            "/email-otp/reset-password",
        ]
        .iter()
        .map(|p| RateLimitRule::new(p, 60, 3))
        .collect()
    }

    fn route_docs(&self) -> &'static [RouteDoc] {
        &[
            RouteDoc {
                operation_id: "emailOtpSendVerificationOtp",
                auth: RouteAuth::Public,
                errors: &[
                    codes::INVALID_EMAIL,
                    INVALID_OTP_TYPE,
                    codes::VERIFICATION_EMAIL_NOT_ENABLED,
                    codes::CROSS_SITE_NAVIGATION_LOGIN_BLOCKED,
                ],
            },
            RouteDoc {
                operation_id: "emailOtpCheckVerificationOtp",
                auth: RouteAuth::Public,
                errors: &[
                    codes::INVALID_EMAIL,
                    INVALID_OTP,
                    OTP_EXPIRED,
                    TOO_MANY_ATTEMPTS,
                    INVALID_OTP_TYPE,
                ],
            },
            RouteDoc {
                operation_id: "signInEmailOtp",
                auth: RouteAuth::Public,
                errors: &[
                    codes::INVALID_EMAIL,
                    INVALID_OTP,
                    OTP_EXPIRED,
                    TOO_MANY_ATTEMPTS,
                    codes::NEW_USER_SIGNUP_DISABLED,
                    codes::FAILED_TO_CREATE_SESSION,
                ],
            },
            RouteDoc {
                operation_id: "emailOtpVerifyEmail",
                auth: RouteAuth::Public,
                errors: &[
                    INVALID_OTP,
                    OTP_EXPIRED,
                    TOO_MANY_ATTEMPTS,
                    codes::INVALID_EMAIL,
                    codes::USER_NOT_FOUND,
                ],
            },
            RouteDoc {
                operation_id: "forgetPasswordEmailOtp",
                auth: RouteAuth::Public,
                errors: &[codes::VERIFICATION_EMAIL_NOT_ENABLED, codes::INVALID_EMAIL],
            },
            RouteDoc {
                operation_id: "emailOtpRequestPasswordReset",
                auth: RouteAuth::Public,
                errors: &[codes::VERIFICATION_EMAIL_NOT_ENABLED, codes::INVALID_EMAIL],
            },
            RouteDoc {
                operation_id: "emailOtpResetPassword",
                auth: RouteAuth::Public,
                errors: &[
                    codes::INVALID_EMAIL,
                    codes::SERVER_BUSY,
                    INVALID_OTP,
                    OTP_EXPIRED,
                    TOO_MANY_ATTEMPTS,
                    codes::PASSWORD_TOO_SHORT,
                    codes::PASSWORD_TOO_LONG,
                ],
            },
        ]
    }
}

/// The mail this plugin sends (`[mail.templates.email_otp]` overrides it).
pub const EMAIL_OTP_MAIL: MailKind = MailKind {
    key: "email_otp",
    default: default_template,
};

/// `{url}` is the code itself here.
fn default_template() -> MailTemplate {
    MailTemplate {
        subject: "Your {app} code".into(),
        text: "Your {app} code:\n\n{url}\n\nIt expires in a few minutes. If you did not ask for it, ignore this message.\n".into(),
        html: "<p>Your {app} code:</p><p style=\"font-size:24px;letter-spacing:4px\"><b>{url}</b></p><p>It expires in a few minutes.</p>".into(),
    }
}
