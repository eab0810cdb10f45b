//! The `[passkey]` configuration section.

use serde::{Deserialize, Serialize};

/// The `passkey` plugin (WebAuthn relying party).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasskeySettings {
    /// Relying-party id (a registrable domain); defaults to the base URL's host.
    #[serde(alias = "rpID")]
    pub rp_id: Option<String>,
    /// Shown by authenticators; defaults to `app_name`.
    #[serde(alias = "rpName")]
    pub rp_name: Option<String>,
    /// The web origin ceremonies must come from; defaults to the base URL's origin.
    pub origin: Option<String>,
}
