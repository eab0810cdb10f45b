//! The `[magic_link]` configuration section.

use serde::{Deserialize, Serialize};

/// The `magic-link` plugin.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MagicLinkSettings {
    /// Seconds a link stays valid.
    pub expires_in: i64,
    /// Unknown addresses are refused instead of signed up.
    pub disable_sign_up: bool,
}

impl Default for MagicLinkSettings {
    fn default() -> Self {
        MagicLinkSettings {
            expires_in: 300,
            disable_sign_up: false,
        }
    }
}
