//! The `[api_key]` configuration section: the default key configuration,
//! plus named ones under `[api_key.configs.<config_id>]` (Better Auth's
//! array of configurations, selected by `configId`). Each named
//! configuration starts from the defaults, not from the section above it.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use crate::plugin::access::Statements;

/// The configuration id of the section's own settings.
pub const DEFAULT_CONFIG_ID: &str = "default";

/// What owns the keys of a configuration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum References {
    #[default]
    User,
    Organization,
}

/// One header name or several.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Headers {
    One(String),
    Many(Vec<String>),
}

impl Headers {
    pub fn names(&self) -> Vec<String> {
        match self {
            Headers::One(h) => vec![h.to_ascii_lowercase()],
            Headers::Many(hs) => hs.iter().map(|h| h.to_ascii_lowercase()).collect(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimit {
    /// Off: keys are never rate limited (their counters are not kept).
    pub enabled: bool,
    /// Milliseconds of the per-key window (a key's own value wins).
    pub time_window: i64,
    /// Verifications allowed per window (a key's own value wins).
    pub max_requests: i64,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            enabled: true,
            time_window: 86_400_000,
            max_requests: 10,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeyExpiration {
    /// Seconds a new key lives when `create` gives no `expiresIn` (none: forever).
    pub default_expires_in: Option<i64>,
    /// Refuses `expiresIn` from callers (`KEY_DISABLED_EXPIRATION`).
    pub disable_custom_expires_time: bool,
    /// Days: the longest `expiresIn` accepted.
    pub max_expires_in: f64,
    /// Days: the shortest `expiresIn` accepted.
    pub min_expires_in: f64,
}

impl Default for KeyExpiration {
    fn default() -> Self {
        KeyExpiration {
            default_expires_in: None,
            disable_custom_expires_time: false,
            max_expires_in: 365.0,
            min_expires_in: 1.0,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StartingCharacters {
    /// Stores the key's first characters in `start` (for display).
    pub should_store: bool,
    pub characters_length: usize,
}

impl Default for StartingCharacters {
    fn default() -> Self {
        StartingCharacters {
            should_store: true,
            characters_length: 6,
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PermissionsConfig {
    /// `{resource: [actions]}` every new key of this configuration gets
    /// unless the (server-side) create gives its own.
    pub default_permissions: Option<Statements>,
}

/// One key configuration (Better Auth's option names in snake_case).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeyConfig {
    /// Request headers carrying a key (`x-api-key`).
    pub api_key_headers: Headers,
    /// Random letters after the prefix; also the shortest key the header accepts.
    pub default_key_length: usize,
    pub default_prefix: Option<String>,
    pub maximum_prefix_length: usize,
    pub minimum_prefix_length: usize,
    pub maximum_name_length: usize,
    pub minimum_name_length: usize,
    pub require_name: bool,
    pub enable_metadata: bool,
    pub rate_limit: RateLimit,
    pub key_expiration: KeyExpiration,
    pub starting_characters_config: StartingCharacters,
    /// A valid key in the header stands for its owner's session.
    pub enable_session_for_api_keys: bool,
    pub references: References,
    pub permissions: PermissionsConfig,
    /// Set from the section layout, not by the operator.
    #[serde(skip)]
    pub config_id: String,
}

impl Default for KeyConfig {
    fn default() -> Self {
        KeyConfig {
            api_key_headers: Headers::One("x-api-key".into()),
            default_key_length: 64,
            default_prefix: None,
            maximum_prefix_length: 32,
            minimum_prefix_length: 1,
            maximum_name_length: 32,
            minimum_name_length: 1,
            require_name: false,
            enable_metadata: false,
            rate_limit: RateLimit::default(),
            key_expiration: KeyExpiration::default(),
            starting_characters_config: StartingCharacters::default(),
            enable_session_for_api_keys: false,
            references: References::User,
            permissions: PermissionsConfig::default(),
            config_id: DEFAULT_CONFIG_ID.into(),
        }
    }
}

/// A prefix Better Auth accepts: `[a-zA-Z0-9_-]+`.
pub fn is_valid_prefix(p: &str) -> bool {
    !p.is_empty()
        && p.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl KeyConfig {
    fn check(&self, organization_enabled: bool) -> Result<(), String> {
        let at = if self.config_id == DEFAULT_CONFIG_ID {
            String::new()
        } else {
            format!("configs.{}.", self.config_id)
        };
        // Shorter keys would be guessable; Better Auth allows any length.
        if !(16..=256).contains(&self.default_key_length) {
            return Err(format!("{at}default_key_length must be 16 to 256"));
        }
        if self.api_key_headers.names().is_empty()
            || self
                .api_key_headers
                .names()
                .iter()
                .any(|h| poem::http::HeaderName::from_bytes(h.as_bytes()).is_err())
        {
            return Err(format!("{at}api_key_headers must be header names"));
        }
        if self.minimum_prefix_length < 1 || self.minimum_prefix_length > self.maximum_prefix_length
        {
            return Err(format!(
                "{at}minimum_prefix_length must be 1 to maximum_prefix_length"
            ));
        }
        if self.minimum_name_length > self.maximum_name_length {
            return Err(format!(
                "{at}minimum_name_length must not exceed maximum_name_length"
            ));
        }
        if let Some(p) = &self.default_prefix {
            if !is_valid_prefix(p) || p.len() > 64 {
                return Err(format!(
                    "{at}default_prefix must be 1 to 64 of [a-zA-Z0-9_-]"
                ));
            }
        }
        if self.rate_limit.time_window <= 0 || self.rate_limit.max_requests <= 0 {
            return Err(format!(
                "{at}rate_limit.time_window and max_requests must be positive"
            ));
        }
        let e = &self.key_expiration;
        if e.min_expires_in < 0.0 || e.min_expires_in > e.max_expires_in {
            return Err(format!(
                "{at}key_expiration.min_expires_in must be 0 to max_expires_in (days)"
            ));
        }
        if e.default_expires_in.is_some_and(|s| s <= 0) {
            return Err(format!(
                "{at}key_expiration.default_expires_in must be positive (seconds)"
            ));
        }
        if self.references == References::Organization && !organization_enabled {
            return Err(format!(
                "{at}references = \"organization\" needs the organization plugin enabled \
                 (ORGANIZATION_PLUGIN_REQUIRED)"
            ));
        }
        if self.references == References::Organization && self.enable_session_for_api_keys {
            return Err(format!(
                "{at}enable_session_for_api_keys needs references = \"user\": an organization's key has no user"
            ));
        }
        Ok(())
    }
}

/// Every key configuration: the default one first.
#[derive(Debug, Serialize)]
pub struct ApiKeySettings {
    #[serde(flatten)]
    pub default: KeyConfig,
    pub configs: BTreeMap<String, KeyConfig>,
    /// When expired keys were last swept (at most every 10 s, as Better Auth).
    #[serde(skip)]
    pub last_sweep: Mutex<Option<NaiveDateTime>>,
}

impl Default for ApiKeySettings {
    fn default() -> Self {
        ApiKeySettings {
            default: KeyConfig::default(),
            configs: BTreeMap::new(),
            last_sweep: Mutex::new(None),
        }
    }
}

impl ApiKeySettings {
    /// Parses `[api_key]` (with `[api_key.configs.<id>]`) and checks it.
    pub fn parse(
        section: Option<&toml::Value>,
        organization_enabled: bool,
    ) -> Result<Self, String> {
        let mut table = match section {
            None => toml::Table::new(),
            Some(toml::Value::Table(t)) => t.clone(),
            Some(_) => return Err("must be a table".into()),
        };
        let configs = table.remove("configs");
        let mut default: KeyConfig =
            crate::plugin::parse_section(Some(&toml::Value::Table(table)))?;
        default.config_id = DEFAULT_CONFIG_ID.into();
        default.check(organization_enabled)?;
        let mut out = BTreeMap::new();
        match configs {
            None => {}
            Some(toml::Value::Table(t)) => {
                for (id, value) in t {
                    if id.is_empty() || id == DEFAULT_CONFIG_ID || id.len() > 64 {
                        return Err(format!(
                            "configs.{id:?}: a configuration id is 1 to 64 characters, not \"default\" \
                             (the section's own settings are the default configuration)"
                        ));
                    }
                    let mut c: KeyConfig = crate::plugin::parse_section(Some(&value))
                        .map_err(|e| format!("configs.{id}: {e}"))?;
                    c.config_id = id.clone();
                    c.check(organization_enabled)?;
                    out.insert(id, c);
                }
            }
            Some(_) => {
                return Err("configs must be a table of [api_key.configs.<config_id>]".into())
            }
        }
        Ok(ApiKeySettings {
            default,
            configs: out,
            last_sweep: Mutex::new(None),
        })
    }

    /// The configuration of `config_id`; the default one when it is none,
    /// `default` or unknown (Better Auth's fallback).
    pub fn resolve(&self, config_id: Option<&str>) -> &KeyConfig {
        config_id
            .and_then(|id| self.configs.get(id))
            .unwrap_or(&self.default)
    }

    /// Every configuration, the default one first.
    pub fn all(&self) -> impl Iterator<Item = &KeyConfig> {
        std::iter::once(&self.default).chain(self.configs.values())
    }
}

/// Null, missing and `default` all name the default configuration.
pub fn is_default_config_id(id: Option<&str>) -> bool {
    id.is_none_or(|s| s.is_empty() || s == DEFAULT_CONFIG_ID)
}

/// Whether a key's stored configuration matches the one asked for.
pub fn config_id_matches(key: &str, expected: Option<&str>) -> bool {
    if is_default_config_id(Some(key)) && is_default_config_id(expected) {
        return true;
    }
    Some(key) == expected
}
