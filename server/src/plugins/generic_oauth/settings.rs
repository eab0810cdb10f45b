//! `[generic_oauth.<provider-id>]`: Better Auth's `genericOAuth` config
//! entries in snake_case, keyed by provider id.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::social::settings::redacted;
use crate::social::ProviderSpec;

/// Every configured provider, by id.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(transparent)]
pub struct GenericOAuthSettings(pub BTreeMap<String, GenericProvider>);

#[derive(Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct GenericProvider {
    pub client_id: String,
    #[serde(serialize_with = "redacted")]
    pub client_secret: Option<String>,
    /// `…/.well-known/openid-configuration`: fills every endpoint and the issuer.
    pub discovery_url: Option<String>,
    /// Explicit endpoints (they win over discovered ones).
    pub authorization_url: Option<String>,
    pub token_url: Option<String>,
    pub user_info_url: Option<String>,
    pub jwks_url: Option<String>,
    pub issuer: Option<String>,
    pub scopes: Vec<String>,
    /// PKCE (S256). Only turn it off for a provider that rejects it.
    pub pkce: bool,
    pub prompt: Option<String>,
    /// `"basic"` (client_secret_basic) or `"post"` (client_secret_post, the default).
    pub authentication: String,
    /// Extra authorization parameters sent on every request.
    pub authorization_url_params: BTreeMap<String, String>,
    pub disable_sign_up: bool,
    pub disable_implicit_sign_up: bool,
    pub override_user_info: bool,
    /// Shown name (default: the id).
    pub name: Option<String>,
}

impl Default for GenericProvider {
    fn default() -> Self {
        GenericProvider {
            client_id: String::new(),
            client_secret: None,
            discovery_url: None,
            authorization_url: None,
            token_url: None,
            user_info_url: None,
            jwks_url: None,
            issuer: None,
            scopes: Vec::new(),
            pkce: true,
            prompt: None,
            authentication: "post".into(),
            authorization_url_params: BTreeMap::new(),
            disable_sign_up: false,
            disable_implicit_sign_up: false,
            override_user_info: false,
            name: None,
        }
    }
}

impl std::fmt::Debug for GenericProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenericProvider")
            .field("client_id", &self.client_id)
            .field("discovery_url", &self.discovery_url)
            .finish_non_exhaustive()
    }
}

impl GenericOAuthSettings {
    /// What can be checked without the network.
    pub fn check(&self) -> Result<(), String> {
        if self.0.is_empty() {
            return Err("no providers: add a [generic_oauth.<provider-id>] section".into());
        }
        for (id, p) in &self.0 {
            let ok_id = !id.is_empty()
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok_id {
                return Err(format!(
                    "[generic_oauth.{id}]: a provider id is letters, digits, '-' and '_'"
                ));
            }
            if crate::social::providers::find(id).is_some() {
                return Err(format!(
                    "[generic_oauth.{id}]: {id} is a built-in provider; configure it as [social.{id}]"
                ));
            }
            if p.client_id.trim().is_empty() {
                return Err(format!("[generic_oauth.{id}]: client_id is required"));
            }
            if p.discovery_url.is_none() && (p.authorization_url.is_none() || p.token_url.is_none())
            {
                return Err(format!(
                    "[generic_oauth.{id}]: set discovery_url, or authorization_url and token_url"
                ));
            }
            if !matches!(p.authentication.as_str(), "basic" | "post") {
                return Err(format!(
                    "[generic_oauth.{id}]: authentication is \"basic\" or \"post\""
                ));
            }
        }
        Ok(())
    }
}

impl GenericProvider {
    pub fn spec(&self, id: &str) -> ProviderSpec {
        ProviderSpec {
            id: id.to_string(),
            name: self.name.clone().unwrap_or_default(),
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
            discovery_url: self.discovery_url.clone(),
            authorization_url: self.authorization_url.clone(),
            token_url: self.token_url.clone(),
            userinfo_url: self.user_info_url.clone(),
            jwks_url: self.jwks_url.clone(),
            issuer: self.issuer.clone(),
            scopes: self.scopes.clone(),
            pkce: self.pkce,
            prompt: self.prompt.clone(),
            token_auth_basic: self.authentication == "basic",
            authorization_params: self
                .authorization_url_params
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            disable_sign_up: self.disable_sign_up,
            disable_implicit_sign_up: self.disable_implicit_sign_up,
            override_user_info_on_sign_in: self.override_user_info,
        }
    }
}
