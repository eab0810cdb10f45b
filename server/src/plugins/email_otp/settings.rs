//! The `[email_otp]` configuration section.

use serde::{Deserialize, Serialize};

/// The `email-otp` plugin.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmailOtpSettings {
    /// Digits per code.
    pub otp_length: usize,
    /// Seconds a code stays valid.
    pub expires_in: i64,
    /// Wrong guesses before the code is void.
    pub allowed_attempts: u32,
    /// Unknown addresses are not signed up by `sign-in/email-otp`.
    pub disable_sign_up: bool,
}

impl Default for EmailOtpSettings {
    fn default() -> Self {
        EmailOtpSettings {
            otp_length: 6,
            expires_in: 300,
            allowed_attempts: 3,
            disable_sign_up: false,
        }
    }
}
