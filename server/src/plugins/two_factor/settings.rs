//! The `[two_factor]` configuration section.

use serde::{Deserialize, Serialize};

/// The `two-factor` plugin.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TwoFactorSettings {
    /// Issuer shown by authenticator apps; defaults to `app_name`.
    pub issuer: Option<String>,
    /// TOTP counts as enabled at `enable`, without a first verified code.
    pub skip_verification_on_enable: bool,
    /// Seconds a password sign-in waits for its second factor.
    pub challenge_max_age: i64,
    /// Seconds a device marked trusted skips the second factor.
    pub trust_device_max_age: i64,
    /// Seconds an emailed code stays valid.
    pub otp_expires_in: i64,
    /// Wrong codes allowed per sign-in challenge (and per emailed code).
    pub allowed_attempts: u32,
    /// Consecutive wrong codes after which the account is locked.
    pub lockout_threshold: u32,
    /// Seconds the lock lasts.
    pub lockout_secs: i64,
    /// Backup codes per set.
    pub backup_code_count: usize,
}

impl Default for TwoFactorSettings {
    fn default() -> Self {
        TwoFactorSettings {
            issuer: None,
            skip_verification_on_enable: false,
            challenge_max_age: 600,
            trust_device_max_age: 30 * 24 * 3600,
            otp_expires_in: 180,
            allowed_attempts: 5,
            lockout_threshold: 10,
            lockout_secs: 15 * 60,
            backup_code_count: 10,
        }
    }
}
