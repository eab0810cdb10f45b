//! `phone-number`: sign-in by phone number and password, one-time codes by
//! text message (verification, sign-in and sign-up by code, password reset),
//! and `phoneNumber` (E.164, unique) / `phoneNumberVerified` on the user.
//! A number reaches the user only through a code sent to it. Codes go out
//! through an [`sms::SmsSender`]: a signed POST to a relay, or the log in
//! development.

pub mod errors;
pub mod otp;
pub mod routes;
pub mod settings;
pub mod sms;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use poem_openapi::registry::MetaSchemaRef;
use poem_openapi::types::Type;
use serde_json::{Map, Value};

pub use routes::PhoneNumberApi;

use crate::config::Environment;
use crate::db::store::Tx;
use crate::db::{Db, MigrationSet};
use crate::docs::{RouteAuth, RouteDoc};
use crate::error::{codes, ApiError, ErrorCode};
use crate::http::rate_limit::RateLimitRule;
use crate::http::webhook::SignedPoster;
use crate::plugin::{Plugin, UserFields};
use crate::state::AppState;
use settings::{PhoneNumberSettings, Sender};

/// The plugin's id: its spec tag, `/plugins` entry, configuration section and client namespace.
pub const ID: &str = "phone-number";
pub const DESCRIPTION: &str =
    "Phone numbers: sign-in by number and password, codes by text message, verification and password reset.";

pub struct PhoneNumber;

pub const MIGRATIONS: MigrationSet = crate::migration_set!(
    "../migrations/sqlite/phone_number",
    "../migrations/postgres/phone_number"
);

/// A number as E.164 (`+14155550123`), or `INVALID_PHONE_NUMBER`. Numbers
/// are parsed and checked against libphonenumber's metadata; national forms
/// need `default_country`. Extensions are refused: a text cannot reach one.
pub fn normalize(state: &AppState, raw: &str) -> Result<String, ApiError> {
    let invalid = || ApiError::new(errors::INVALID_PHONE_NUMBER);
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 64 {
        return Err(invalid());
    }
    let country = state.settings::<PhoneNumberSettings>().country;
    let number = phonenumber::parse(country, raw).map_err(|_| invalid())?;
    if number.extension().is_some() || !phonenumber::is_valid(&number) {
        return Err(invalid());
    }
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
}

impl Plugin for PhoneNumber {
    fn id(&self) -> &'static str {
        ID
    }

    fn description(&self) -> &'static str {
        DESCRIPTION
    }

    fn configure(
        &self,
        section: Option<&toml::Value>,
        config: &crate::config::Config,
    ) -> Result<Option<crate::plugin::Settings>, String> {
        let mut s: PhoneNumberSettings = crate::plugin::parse_section(section)?;
        if !(4..=12).contains(&s.otp_length) {
            return Err("otp_length must be between 4 and 12".into());
        }
        if s.expires_in <= 0 {
            return Err("expires_in must be a positive number of seconds".into());
        }
        if s.allowed_attempts == 0 {
            return Err("allowed_attempts must be at least 1".into());
        }
        if let Some(c) = &s.default_country {
            s.country = Some(c.to_ascii_uppercase().parse().map_err(|_| {
                format!("default_country {c:?} is not a region code (e.g. \"US\", \"GB\")")
            })?);
        }
        if let Some(signup) = &s.sign_up_on_verification {
            let domain = &signup.temp_email_domain;
            if domain.is_empty() || domain.contains('@') || !domain.contains('.') {
                return Err(format!(
                    "sign_up_on_verification.temp_email_domain {domain:?} is not a domain"
                ));
            }
        }
        s.sender =
            match &s.sms.url {
                Some(url) => {
                    let secret =
                        s.sms.secret.as_deref().filter(|k| k.len() >= 32).ok_or(
                            "sms.secret (at least 32 characters) is required with sms.url",
                        )?;
                    let timeout = Duration::from_secs(s.sms.timeout.unwrap_or(10).max(1));
                    let poster = SignedPoster::new(url, secret, timeout)
                        .map_err(|e| format!("sms.url {e}"))?;
                    Sender(Some(Arc::new(sms::HttpSender(poster))))
                }
                None if config.env == Environment::Development => {
                    Sender(Some(Arc::new(sms::LogSender { reveal_codes: true })))
                }
                // Production without a relay: `send-otp` answers SEND_OTP_NOT_IMPLEMENTED.
                None => Sender(None),
            };
        Ok(Some(crate::plugin::Settings::new(s)))
    }

    fn migrations(&self) -> Option<&'static MigrationSet> {
        Some(&MIGRATIONS)
    }

    fn error_codes(&self) -> &'static [ErrorCode] {
        errors::ALL
    }

    fn rate_limit_rules(&self) -> Vec<RateLimitRule> {
        vec![RateLimitRule::new("/phone-number*", 60, 10)]
    }

    fn user_fields(&self) -> Option<&dyn UserFields> {
        Some(self)
    }

    fn route_docs(&self) -> &'static [RouteDoc] {
        const OTP: [ErrorCode; 4] = [
            errors::OTP_NOT_FOUND,
            errors::OTP_EXPIRED,
            errors::INVALID_OTP,
            errors::TOO_MANY_ATTEMPTS,
        ];
        &[
            RouteDoc {
                operation_id: "signInPhoneNumber",
                auth: RouteAuth::Public,
                errors: &[
                    codes::SERVER_BUSY,
                    errors::INVALID_PHONE_NUMBER,
                    errors::INVALID_PHONE_NUMBER_OR_PASSWORD,
                    errors::PHONE_NUMBER_NOT_VERIFIED,
                    codes::PASSWORD_TOO_LONG,
                    codes::FAILED_TO_CREATE_SESSION,
                ],
            },
            RouteDoc {
                operation_id: "phoneNumberSendOtp",
                auth: RouteAuth::Public,
                errors: &[
                    errors::INVALID_PHONE_NUMBER,
                    errors::SEND_OTP_NOT_IMPLEMENTED,
                ],
            },
            RouteDoc {
                operation_id: "phoneNumberVerify",
                auth: RouteAuth::Public,
                errors: &[
                    errors::INVALID_PHONE_NUMBER,
                    OTP[0],
                    OTP[1],
                    OTP[2],
                    OTP[3],
                    errors::PHONE_NUMBER_EXIST,
                    errors::PHONE_NUMBER_NOT_EXIST,
                    codes::USER_NOT_FOUND,
                    codes::FAILED_TO_CREATE_USER,
                    codes::FAILED_TO_CREATE_SESSION,
                ],
            },
            RouteDoc {
                operation_id: "phoneNumberRequestPasswordReset",
                auth: RouteAuth::Public,
                errors: &[errors::INVALID_PHONE_NUMBER],
            },
            RouteDoc {
                operation_id: "phoneNumberResetPassword",
                auth: RouteAuth::Public,
                errors: &[
                    codes::SERVER_BUSY,
                    errors::INVALID_PHONE_NUMBER,
                    OTP[0],
                    OTP[1],
                    OTP[2],
                    OTP[3],
                    errors::UNEXPECTED_ERROR,
                    errors::PHONE_NUMBER_PENDING_VERIFICATION,
                    codes::PASSWORD_TOO_SHORT,
                    codes::PASSWORD_TOO_LONG,
                ],
            },
            // The number on core operations: set only by verifying it.
            RouteDoc {
                operation_id: "signUpEmail",
                auth: RouteAuth::Public,
                errors: &[errors::PHONE_NUMBER_CANNOT_BE_SET],
            },
            RouteDoc {
                operation_id: "updateUser",
                auth: RouteAuth::Session,
                errors: &[errors::PHONE_NUMBER_CANNOT_BE_UPDATED],
            },
        ]
    }
}

/// `phoneNumber` and `phoneNumberVerified` on the user. Neither is set by
/// sign-up or update-user: a number comes only from `/phone-number/verify`.
/// Update-user may clear it (`phoneNumber: null`), as in Better Auth.
impl UserFields for PhoneNumber {
    fn schema(&self) -> Vec<(&'static str, MetaSchemaRef)> {
        vec![
            ("phoneNumber", <Option<String> as Type>::schema_ref()),
            ("phoneNumberVerified", <Option<bool> as Type>::schema_ref()),
        ]
    }

    fn client_settable(&self) -> bool {
        false
    }

    fn prepare<'a>(
        &'a self,
        _state: &'a AppState,
        input: &'a Map<String, Value>,
        user_id: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Map<String, Value>, ApiError>> {
        async move {
            if input
                .get("phoneNumberVerified")
                .is_some_and(|v| !v.is_null() && v != &Value::Bool(false))
            {
                return Err(ApiError::validation(
                    "[body.phoneNumberVerified] phoneNumberVerified is not allowed to be set",
                ));
            }
            let mut values = Map::new();
            match (input.get("phoneNumber"), user_id) {
                (None | Some(Value::Null), None) | (None, Some(_)) => {}
                (Some(_), None) => return Err(ApiError::new(errors::PHONE_NUMBER_CANNOT_BE_SET)),
                // Clearing the number also clears its verification.
                (Some(Value::Null), Some(_)) => {
                    values.insert("phoneNumber".into(), Value::Null);
                }
                (Some(_), Some(_)) => {
                    return Err(ApiError::new(errors::PHONE_NUMBER_CANNOT_BE_UPDATED))
                }
            }
            Ok(values)
        }
        .boxed()
    }

    fn write<'a>(
        &'a self,
        tx: Tx<'a>,
        user_id: &'a str,
        values: &'a Map<String, Value>,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        async move {
            if values.contains_key("phoneNumber") {
                store::write_fields(tx, user_id, None, Some(false)).await?;
            }
            Ok(())
        }
        .boxed()
    }

    fn load<'a>(
        &'a self,
        db: &'a Db,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<Map<String, Value>, ApiError>> {
        async move {
            let (phone, verified) = store::find_fields(db, user_id)
                .await?
                .unwrap_or((None, None));
            let mut out = Map::new();
            out.insert(
                "phoneNumber".into(),
                phone.map_or(Value::Null, Value::String),
            );
            out.insert(
                "phoneNumberVerified".into(),
                verified.map_or(Value::Null, Value::Bool),
            );
            Ok(out)
        }
        .boxed()
    }
}
