//! `generic-oauth`: any OAuth 2 or OpenID provider, from its discovery URL
//! alone or from explicit endpoints, signed in with and linked through the
//! core's `sign-in/social`, `link-social` and `callback/<id>` routes (Better
//! Auth's `genericOAuth`). Configured as `[generic_oauth.<provider-id>]`.
//! Discovery runs at start-up; a provider that cannot be discovered stops it.

mod settings;

use crate::plugin::{Plugin, SettingsMap};
use crate::social::ProviderSpec;

pub use settings::{GenericOAuthSettings, GenericProvider};

pub const ID: &str = "generic-oauth";

pub struct GenericOAuth;

impl Plugin for GenericOAuth {
    fn id(&self) -> &'static str {
        ID
    }

    fn description(&self) -> &'static str {
        "Sign in with any OAuth 2 or OpenID Connect provider (discovery or explicit endpoints)."
    }

    fn client_factory(&self) -> Option<&'static str> {
        Some("genericOAuthClient")
    }

    fn configure(
        &self,
        section: Option<&toml::Value>,
        _config: &crate::config::Config,
    ) -> Result<Option<crate::plugin::Settings>, String> {
        let settings: GenericOAuthSettings = crate::plugin::parse_section(section)?;
        settings.check()?;
        Ok(Some(crate::plugin::Settings::new(settings)))
    }

    fn social_providers(&self, settings: &SettingsMap) -> Vec<ProviderSpec> {
        let Some(s) = settings.get::<GenericOAuthSettings>() else {
            return Vec::new();
        };
        s.0.iter().map(|(id, p)| p.spec(id)).collect()
    }
}
