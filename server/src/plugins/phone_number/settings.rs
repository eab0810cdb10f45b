//! The `[phone_number]` configuration section (Better Auth's option names
//! in snake_case) and `[phone_number.sms]`, where codes are delivered.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::sms::SmsSender;

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PhoneNumberSettings {
    /// Digits per code.
    pub otp_length: usize,
    /// Seconds a code stays valid.
    pub expires_in: i64,
    /// Guesses a code allows; the next one answers `TOO_MANY_ATTEMPTS` and voids it.
    pub allowed_attempts: u32,
    /// Password sign-in refuses a number that was never verified (and sends it a code).
    pub require_verification: bool,
    /// Region for numbers written without `+` and a country code (e.g. `"US"`);
    /// without it only international numbers are accepted.
    pub default_country: Option<String>,
    /// `verify` of an unknown number signs a new user up (Better Auth's
    /// `signUpOnVerification`); without it, that answers `PHONE_NUMBER_NOT_EXIST`.
    pub sign_up_on_verification: Option<SignUpOnVerification>,
    /// Where codes go.
    pub sms: SmsSettings,
    /// `default_country`, parsed.
    #[serde(skip)]
    pub country: Option<phonenumber::country::Id>,
    /// The sender `sms` describes (none: codes cannot be sent).
    #[serde(skip)]
    pub sender: Sender,
}

/// The configured [`SmsSender`], if any.
#[derive(Clone, Default)]
pub struct Sender(pub Option<Arc<dyn SmsSender>>);

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Sender(..)"
        } else {
            "None"
        })
    }
}

impl Default for PhoneNumberSettings {
    fn default() -> Self {
        PhoneNumberSettings {
            otp_length: 6,
            expires_in: 300,
            allowed_attempts: 3,
            require_verification: false,
            default_country: None,
            sign_up_on_verification: None,
            sms: SmsSettings::default(),
            country: None,
            sender: Sender::default(),
        }
    }
}

/// The placeholder identity of a user signed up by verifying a number.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignUpOnVerification {
    /// The temporary email is `<digits of the number>@<temp_email_domain>`.
    pub temp_email_domain: String,
    /// The temporary name; `{phone}` is replaced by the number. Empty: the number itself.
    pub temp_name: String,
}

impl Default for SignUpOnVerification {
    fn default() -> Self {
        SignUpOnVerification {
            temp_email_domain: "phone.invalid".into(),
            temp_name: String::new(),
        }
    }
}

/// `[phone_number.sms]`: the relay that turns codes into text messages.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmsSettings {
    /// The relay's URL; each code is POSTed there as signed JSON. Without
    /// it, development logs codes and production cannot send them.
    pub url: Option<String>,
    /// Key of the HMAC-SHA256 signature on every POST (at least 32 characters).
    #[serde(skip_serializing)]
    pub secret: Option<String>,
    /// Seconds one POST may take.
    pub timeout: Option<u64>,
}
