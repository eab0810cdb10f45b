//! Configuration: defaults, then `gatehouse.toml`, then environment overrides.
//! Validated once at start-up; secrets are redacted in `Debug`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::plugin::{section_name, Plugin};

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    #[default]
    Development,
    Production,
}

#[derive(Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Socket address to listen on (`HOST:PORT`; a host name such as
    /// `localhost` is resolved, IPv4 first). Env `GATEHOUSE_LISTEN`.
    #[serde(deserialize_with = "deserialize_listen")]
    pub listen: SocketAddr,
    /// Public base URL. Env `GATEHOUSE_BASE_URL` (alias `BETTER_AUTH_URL`).
    /// Defaults to `http://<listen>`.
    pub base_url: Option<String>,
    /// Path the API is mounted under.
    pub base_path: String,
    /// Signing secret, at least 32 characters in production.
    /// Env `GATEHOUSE_SECRET` (alias `BETTER_AUTH_SECRET`).
    pub secret: Option<String>,
    /// `sqlite://PATH` or `postgres://...`. Env `DATABASE_URL`.
    pub database_url: String,
    /// Connection pool size.
    pub database_pool_size: usize,
    /// Env `GATEHOUSE_ENV`.
    pub env: Environment,
    /// Shown in the API reference.
    pub app_name: String,
    /// Extra trusted origins (globs allowed); the base URL's origin is always
    /// trusted. Env `GATEHOUSE_TRUSTED_ORIGINS` (comma-separated, added).
    pub trusted_origins: Vec<String>,
    /// Plugin ids to enable (kebab-case). Env `GATEHOUSE_PLUGINS` (added).
    pub plugins: Vec<String>,
    /// Maximum request body size in bytes.
    pub max_body_bytes: usize,
    pub session: SessionConfig,
    pub email_and_password: EmailPasswordConfig,
    pub password_hash: PasswordHashConfig,
    pub server: ServerConfig,
    pub cookies: CookieConfig,
    pub rate_limit: RateLimitConfig,
    /// Shared state for several instances (Redis); see [`SecondaryStorageConfig`].
    pub secondary_storage: SecondaryStorageConfig,
    pub ip: IpConfig,
    pub user: UserConfig,
    pub mail: MailConfig,
    pub email_verification: EmailVerificationConfig,
    /// Built-in social providers by id (`[social.github]`); see `social::settings`.
    pub social: BTreeMap<String, crate::social::settings::SocialProviderConfig>,
    /// Linked accounts: token encryption and the linking rules.
    pub account: crate::social::settings::AccountConfig,
    /// Plugin sections (`[my_plugin]`, ...) by section name, as written;
    /// each enabled plugin parses and checks its own at start-up.
    #[serde(skip)]
    pub plugin_sections: toml::Table,
}

#[derive(Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// `smtp://host:port`, `smtp+starttls://user:pass@host:587` or
    /// `smtps://user:pass@host:465`. Env `GATEHOUSE_SMTP_URL`. Unset in
    /// development: messages (with their links) are printed to the log.
    pub smtp_url: Option<String>,
    /// Sender. Env `GATEHOUSE_MAIL_FROM`.
    pub from: String,
    /// Overrides of the built-in templates, by mail kind (`verify_email`,
    /// `reset_password`, and those of the enabled plugins).
    pub templates: BTreeMap<String, MailTemplate>,
}

impl std::fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailConfig")
            .field("smtp_url", &self.smtp_url.as_deref().map(redact_url))
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

/// A message template; `{app}`, `{url}` and `{email}` are filled in.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MailTemplate {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmailVerificationConfig {
    /// Mail a verification link on sign-up; default: follows
    /// `email_and_password.require_email_verification`.
    pub send_on_sign_up: Option<bool>,
    /// Sign the user in when the link is opened.
    pub auto_sign_in_after_verification: bool,
    /// Seconds a link stays valid.
    pub expires_in: i64,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            smtp_url: None,
            from: "Gatehouse <no-reply@localhost>".into(),
            templates: BTreeMap::new(),
        }
    }
}

impl Default for EmailVerificationConfig {
    fn default() -> Self {
        EmailVerificationConfig {
            send_on_sign_up: None,
            auto_sign_in_after_verification: false,
            expires_in: 3600,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    /// Seconds a session lives (7 days).
    pub expires_in: i64,
    /// Seconds between expiry extensions on get-session (1 day).
    pub update_age: i64,
    /// Seconds after sign-in during which a session counts as fresh (1 day); 0 disables.
    pub fresh_age: i64,
    /// Never slide the expiry.
    pub disable_refresh: bool,
    /// Seconds a resolved session may be served from this instance's memory
    /// (0 disables). Revocations made on another instance take effect here
    /// within this window; local ones immediately.
    pub cache_ttl: i64,
    /// Better Auth's session cookie cache (`session_data`); off by default.
    pub cookie_cache: crate::core::cookie_cache::CookieCacheConfig,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmailPasswordConfig {
    pub enabled: bool,
    pub disable_sign_up: bool,
    pub min_password_length: usize,
    pub max_password_length: usize,
    pub auto_sign_in: bool,
    /// Refuse sign-in until the email is verified (a fresh link is mailed).
    pub require_email_verification: bool,
    /// Seconds a password-reset link stays valid.
    pub reset_password_token_expires_in: i64,
}

/// argon2id cost (the defaults are OWASP's recommended minimum) and how many
/// hashes may run and wait at once.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordHashConfig {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    /// Hashes computed at once, each holding `memory_kib`; default: the
    /// number of cores.
    pub concurrency: Option<usize>,
    /// Hashes allowed to wait for a worker; past that, `503` with
    /// `Retry-After`. Default: 64 per worker.
    pub queue: Option<usize>,
}

/// Connection limits of the HTTP server (the `gatehouse` binary, and
/// [`crate::http::server`] when embedding).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Seconds a client has to send a request's headers, counted from when
    /// the server starts waiting for them (a new connection, or the end of
    /// the previous response).
    pub header_read_timeout: u64,
    /// Seconds a client has to send a request's body once its headers are in.
    pub body_read_timeout: u64,
    /// Seconds an idle kept-alive connection stays open.
    pub keep_alive_timeout: u64,
    /// Connections served at once; further clients wait in the listen
    /// backlog. Default: 4096, or less when the open-file limit is lower.
    pub max_connections: Option<usize>,
    /// Serve `/metrics` (Prometheus) at the origin root.
    pub metrics: bool,
    /// When set, `/metrics` needs `Authorization: Bearer <token>`.
    /// Env `GATEHOUSE_METRICS_TOKEN`.
    pub metrics_token: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CookieConfig {
    pub prefix: String,
    /// Force `Secure` + `__Secure-`; default: on for https base URLs.
    pub secure: Option<bool>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Env `GATEHOUSE_RATE_LIMIT` (`on`/`off`).
    pub enabled: bool,
    /// Default window in seconds.
    pub window: u64,
    /// Default requests per window.
    pub max: u32,
    /// Extra rules; later rules win over earlier ones and over built-ins.
    pub rules: Vec<RateLimitRuleConfig>,
    /// Where counters live: `memory` (this process), `database` (shared
    /// by every instance on the database) or `redis` (shared, through
    /// `[secondary_storage]`). Default: `redis` when secondary storage is
    /// configured, else `memory`. Env `GATEHOUSE_RATE_LIMIT_STORAGE`.
    pub storage: Option<RateLimitStorage>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RateLimitStorage {
    Memory,
    Database,
    Redis,
}

/// Better Auth's `secondaryStorage`: a key-value store every instance
/// shares. Gatehouse speaks Redis: rate-limit counters and the broadcast
/// that makes a revoked session stop working on every instance at once.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecondaryStorageConfig {
    /// `redis://[user:password@]host:port/db`. Env `GATEHOUSE_REDIS_URL`.
    pub url: Option<String>,
    /// Prefix of every key and channel (several deployments on one Redis).
    pub key_prefix: Option<String>,
}

impl SecondaryStorageConfig {
    pub fn prefix(&self) -> &str {
        self.key_prefix.as_deref().unwrap_or("gatehouse:")
    }
}

impl Config {
    /// The rate limiter's storage, with the default applied.
    pub fn rate_limit_storage(&self) -> RateLimitStorage {
        self.rate_limit
            .storage
            .unwrap_or(if self.secondary_storage.url.is_some() {
                RateLimitStorage::Redis
            } else {
                RateLimitStorage::Memory
            })
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitRuleConfig {
    /// Path under the base path; a trailing `*` matches a prefix.
    pub path: String,
    pub window: u64,
    pub max: u32,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct IpConfig {
    /// Headers to read the client IP from (e.g. `x-forwarded-for`); empty
    /// means the TCP peer address. Only honoured from trusted proxies.
    pub headers: Vec<String>,
    /// Proxies (IP or CIDR) whose forwarding headers are believed.
    pub trusted_proxies: Vec<String>,
    /// IPv6 clients are keyed by this prefix length.
    pub ipv6_subnet: u8,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct UserConfig {
    /// Enables `POST /delete-user` (Better Auth: `user.deleteUser.enabled`).
    pub delete_enabled: bool,
    /// Maximum length of `name` and `image`.
    pub max_field_length: usize,
    /// `delete-user` mails a confirmation link instead of deleting at once.
    pub delete_email_confirmation: bool,
    /// Seconds a deletion link stays valid.
    pub delete_token_expires_in: i64,
    /// Enables `POST /change-email` (Better Auth: `user.changeEmail.enabled`).
    pub change_email_enabled: bool,
    /// The current address confirms first; then the new one is verified.
    pub change_email_confirm_old: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:3000".parse().expect("static address"),
            base_url: None,
            base_path: "/api/auth".into(),
            secret: None,
            database_url: "sqlite://gatehouse.db".into(),
            database_pool_size: 16,
            env: Environment::Development,
            app_name: "Gatehouse".into(),
            trusted_origins: vec![],
            plugins: crate::plugins::catalog()
                .iter()
                .filter(|p| p.enabled_by_default())
                .map(|p| p.id().to_string())
                .collect(),
            max_body_bytes: 64 * 1024,
            session: SessionConfig::default(),
            email_and_password: EmailPasswordConfig::default(),
            password_hash: PasswordHashConfig::default(),
            server: ServerConfig::default(),
            cookies: CookieConfig::default(),
            rate_limit: RateLimitConfig::default(),
            secondary_storage: SecondaryStorageConfig::default(),
            ip: IpConfig::default(),
            user: UserConfig::default(),
            mail: MailConfig::default(),
            email_verification: EmailVerificationConfig::default(),
            social: BTreeMap::new(),
            account: Default::default(),
            plugin_sections: toml::Table::new(),
        }
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            expires_in: 7 * 24 * 3600,
            update_age: 24 * 3600,
            fresh_age: 24 * 3600,
            disable_refresh: false,
            cache_ttl: 5,
            cookie_cache: Default::default(),
        }
    }
}

impl Default for EmailPasswordConfig {
    fn default() -> Self {
        EmailPasswordConfig {
            enabled: true,
            disable_sign_up: false,
            min_password_length: 8,
            max_password_length: 128,
            auto_sign_in: true,
            require_email_verification: false,
            reset_password_token_expires_in: 3600,
        }
    }
}

impl Default for PasswordHashConfig {
    fn default() -> Self {
        PasswordHashConfig {
            memory_kib: 19456,
            iterations: 2,
            parallelism: 1,
            concurrency: None,
            queue: None,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            header_read_timeout: 10,
            body_read_timeout: 15,
            // Node's (and so Better Auth's) default.
            keep_alive_timeout: 5,
            max_connections: None,
            metrics: true,
            metrics_token: None,
        }
    }
}

impl Default for CookieConfig {
    fn default() -> Self {
        CookieConfig {
            prefix: "better-auth".into(),
            secure: None,
        }
    }
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            enabled: true,
            window: 60,
            max: 100,
            rules: vec![],
            storage: None,
        }
    }
}

impl Default for IpConfig {
    fn default() -> Self {
        IpConfig {
            headers: vec![],
            trusted_proxies: vec![],
            ipv6_subnet: 64,
        }
    }
}

impl Default for UserConfig {
    fn default() -> Self {
        UserConfig {
            delete_enabled: false,
            max_field_length: 2048,
            delete_email_confirmation: false,
            delete_token_expires_in: 86400,
            change_email_enabled: false,
            change_email_confirm_old: false,
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("base_url", &self.base_url)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("database_url", &redact_url(&self.database_url))
            .field("env", &self.env)
            .field("plugins", &self.plugins)
            .finish_non_exhaustive()
    }
}

/// Hides the password part of a database URL.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("redacted"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("invalid config file {0}: {1}")]
    Parse(PathBuf, String),
    #[error("invalid value for {var}: {message}")]
    Env { var: &'static str, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// A source of environment variables (the process env, or a map in tests).
pub trait EnvSource {
    fn get(&self, key: &str) -> Option<String>;
}

pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn get(&self, key: &str) -> Option<String> {
        std::env::var(key).ok().filter(|v| !v.is_empty())
    }
}

impl<S: std::hash::BuildHasher> EnvSource for std::collections::HashMap<String, String, S> {
    fn get(&self, key: &str) -> Option<String> {
        std::collections::HashMap::get(self, key).cloned()
    }
}

impl Config {
    /// Parses a configuration file. Top-level sections named after a plugin
    /// of `catalog` (`[my_plugin]` for `my-plugin`) are kept as written for
    /// that plugin to parse; everything else must be a core setting.
    pub fn from_toml(text: &str, catalog: &[Arc<dyn Plugin>]) -> Result<Config, String> {
        let mut table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
        let plugin_sections: Vec<String> = catalog.iter().map(|p| section_name(p.id())).collect();
        let mut sections = toml::Table::new();
        for name in &plugin_sections {
            if let Some(v) = table.remove(name) {
                sections.insert(name.clone(), v);
            }
        }
        let mut config = Config::deserialize(toml::Value::Table(table)).map_err(|e| {
            let message = e.message().to_string();
            if message.starts_with("unknown field") {
                format!(
                    "{message}; or a plugin section: {}",
                    plugin_sections.join(", ")
                )
            } else {
                e.to_string()
            }
        })?;
        config.plugin_sections = sections;
        Ok(config)
    }

    /// Sets a plugin's section as a value of its settings type (what an
    /// embedding application does instead of writing TOML).
    pub fn set_plugin_settings<T: Serialize>(&mut self, plugin_id: &str, settings: &T) {
        let value = toml::Value::try_from(settings).expect("plugin settings serialise to TOML");
        self.plugin_sections.insert(section_name(plugin_id), value);
    }

    /// The effective configuration as TOML, secrets redacted, with each
    /// enabled plugin's effective section (what `gatehouse info` prints).
    pub fn describe(&self, plugins: &crate::plugin::PluginRegistry) -> String {
        let mut table = match toml::Value::try_from(self) {
            Ok(toml::Value::Table(t)) => t,
            _ => toml::Table::new(),
        };
        if self.secret.is_some() {
            table.insert("secret".into(), "<redacted>".into());
        }
        if let (Some(_), Some(toml::Value::Table(sv))) =
            (&self.server.metrics_token, table.get_mut("server"))
        {
            sv.insert("metrics_token".into(), "<redacted>".into());
        }
        table.insert("database_url".into(), redact_url(&self.database_url).into());
        if let (Some(url), Some(toml::Value::Table(st))) = (
            &self.secondary_storage.url,
            table.get_mut("secondary_storage"),
        ) {
            st.insert("url".into(), redact_url(url).into());
        }
        if let (Some(url), Some(toml::Value::Table(mail))) =
            (&self.mail.smtp_url, table.get_mut("mail"))
        {
            mail.insert("smtp_url".into(), redact_url(url).into());
        }
        for (id, shown) in plugins.settings().shown() {
            table.insert(section_name(id), toml::Value::Table(shown.clone()));
        }
        toml::to_string_pretty(&table).unwrap_or_default()
    }

    /// Loads `file` (if given, or `GATEHOUSE_CONFIG`), then applies env overrides.
    pub fn load(file: Option<&Path>, env: &dyn EnvSource) -> Result<Config, ConfigError> {
        let path = file
            .map(Path::to_path_buf)
            .or_else(|| env.get("GATEHOUSE_CONFIG").map(PathBuf::from));
        let mut config = match path {
            Some(path) => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| ConfigError::Read(path.clone(), e))?;
                Config::from_toml(&text, &crate::plugins::catalog())
                    .map_err(|e| ConfigError::Parse(path, e))?
            }
            None => Config::default(),
        };
        config.apply_env(env)?;
        Ok(config)
    }

    pub fn apply_env(&mut self, env: &dyn EnvSource) -> Result<(), ConfigError> {
        if let Some(v) = env.get("GATEHOUSE_LISTEN") {
            self.listen = parse_listen(&v).map_err(|message| ConfigError::Env {
                var: "GATEHOUSE_LISTEN",
                message,
            })?;
        }
        if let Some(v) = env
            .get("GATEHOUSE_BASE_URL")
            .or_else(|| env.get("BETTER_AUTH_URL"))
        {
            self.base_url = Some(v);
        }
        if let Some(v) = env
            .get("GATEHOUSE_SECRET")
            .or_else(|| env.get("BETTER_AUTH_SECRET"))
        {
            self.secret = Some(v);
        }
        if let Some(v) = env.get("DATABASE_URL") {
            self.database_url = v;
        }
        if let Some(v) = env.get("GATEHOUSE_ENV") {
            self.env = match v.as_str() {
                "development" => Environment::Development,
                "production" => Environment::Production,
                _ => {
                    return Err(ConfigError::Env {
                        var: "GATEHOUSE_ENV",
                        message: format!("expected development or production, got {v:?}"),
                    })
                }
            };
        }
        if let Some(v) = env.get("GATEHOUSE_SMTP_URL") {
            self.mail.smtp_url = Some(v);
        }
        if let Some(v) = env.get("GATEHOUSE_MAIL_FROM") {
            self.mail.from = v;
        }
        if let Some(v) = env.get("GATEHOUSE_TRUSTED_ORIGINS") {
            self.trusted_origins.extend(split_list(&v));
        }
        if let Some(v) = env.get("GATEHOUSE_METRICS_TOKEN") {
            self.server.metrics_token = Some(v);
        }
        if let Some(v) = env.get("GATEHOUSE_REDIS_URL") {
            self.secondary_storage.url = Some(v);
        }
        if let Some(v) = env.get("GATEHOUSE_RATE_LIMIT_STORAGE") {
            self.rate_limit.storage = Some(match v.as_str() {
                "memory" => RateLimitStorage::Memory,
                "database" => RateLimitStorage::Database,
                "redis" => RateLimitStorage::Redis,
                _ => {
                    return Err(ConfigError::Env {
                        var: "GATEHOUSE_RATE_LIMIT_STORAGE",
                        message: format!("expected memory, database or redis, got {v:?}"),
                    })
                }
            });
        }
        if let Some(v) = env.get("GATEHOUSE_RATE_LIMIT") {
            self.rate_limit.enabled = match v.as_str() {
                "on" | "true" | "1" => true,
                "off" | "false" | "0" => false,
                _ => {
                    return Err(ConfigError::Env {
                        var: "GATEHOUSE_RATE_LIMIT",
                        message: format!("expected on or off, got {v:?}"),
                    })
                }
            };
        }
        // Provider credentials from the environment; a built-in provider
        // named there is turned on without a section.
        for record in crate::social::providers::PROVIDERS {
            let prefix = format!(
                "GATEHOUSE_SOCIAL_{}_",
                record.id.to_ascii_uppercase().replace('-', "_")
            );
            let id = env.get(&format!("{prefix}CLIENT_ID"));
            let secret = env.get(&format!("{prefix}CLIENT_SECRET"));
            if id.is_none() && secret.is_none() {
                continue;
            }
            let entry = self.social.entry(record.id.to_string()).or_default();
            if let Some(id) = id {
                entry.client_id = id;
            }
            if secret.is_some() {
                entry.client_secret = secret;
            }
        }
        if let Some(v) = env.get("GATEHOUSE_PLUGINS") {
            for id in split_list(&v) {
                if !self.plugins.contains(&id) {
                    self.plugins.push(id);
                }
            }
        }
        Ok(())
    }

    /// The public base URL without a trailing slash.
    pub fn base_url(&self) -> String {
        match &self.base_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => format!("http://{}", self.listen),
        }
    }

    /// The origin (`scheme://host[:port]`) of the base URL.
    pub fn base_origin(&self) -> String {
        url::Url::parse(&self.base_url())
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_else(|_| self.base_url())
    }

    pub fn secure_cookies(&self) -> bool {
        self.cookies
            .secure
            .unwrap_or_else(|| self.base_url().starts_with("https://"))
    }

    /// Checks invariants that would otherwise fail at request time.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if url::Url::parse(&self.base_url()).is_err() {
            return Err(ConfigError::Invalid(format!(
                "base URL {:?} is not a valid URL (set GATEHOUSE_BASE_URL)",
                self.base_url()
            )));
        }
        if !self.base_path.starts_with('/') || self.base_path.ends_with('/') {
            return Err(ConfigError::Invalid(
                "base_path must start with '/' and not end with one".into(),
            ));
        }
        if self.env == Environment::Production {
            match &self.secret {
                Some(s) if s.chars().count() >= 32 => {}
                _ => {
                    return Err(ConfigError::Invalid(
                        "production mode needs a secret of at least 32 characters: \
                         set GATEHOUSE_SECRET (or BETTER_AUTH_SECRET); `gatehouse secret` prints one"
                            .into(),
                    ))
                }
            }
        }
        let ep = &self.email_and_password;
        if ep.min_password_length == 0 || ep.min_password_length > ep.max_password_length {
            return Err(ConfigError::Invalid(
                "email_and_password: need 0 < min_password_length <= max_password_length".into(),
            ));
        }
        if self.session.cookie_cache.max_age <= 0 {
            return Err(ConfigError::Invalid(
                "session.cookie_cache.max_age must be a positive number of seconds".into(),
            ));
        }
        if self.session.expires_in <= 0 || self.session.update_age < 0 || self.session.fresh_age < 0
        {
            return Err(ConfigError::Invalid(
                "session durations must be positive".into(),
            ));
        }
        let sv = &self.server;
        if sv.header_read_timeout == 0
            || sv.body_read_timeout == 0
            || sv.keep_alive_timeout == 0
            || sv.max_connections == Some(0)
        {
            return Err(ConfigError::Invalid(
                "server: header_read_timeout, body_read_timeout, keep_alive_timeout \
                 and max_connections must be > 0"
                    .into(),
            ));
        }
        if self.password_hash.concurrency == Some(0) {
            return Err(ConfigError::Invalid(
                "password_hash.concurrency must be > 0".into(),
            ));
        }
        if self.rate_limit.window == 0 || self.rate_limit.max == 0 {
            return Err(ConfigError::Invalid(
                "rate_limit window and max must be > 0".into(),
            ));
        }
        if self.rate_limit.storage == Some(RateLimitStorage::Redis)
            && self.secondary_storage.url.is_none()
        {
            return Err(ConfigError::Invalid(
                "rate_limit.storage = \"redis\" needs [secondary_storage] url (or GATEHOUSE_REDIS_URL)"
                    .into(),
            ));
        }
        if let Some(url) = &self.secondary_storage.url {
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                return Err(ConfigError::Invalid(
                    "secondary_storage.url must be a redis:// or rediss:// URL".into(),
                ));
            }
        }
        crate::social::check_config(&self.social).map_err(ConfigError::Invalid)?;
        Ok(())
    }
}

/// `HOST:PORT` to a socket address: an IP literal as is, a host name
/// resolved (the first IPv4 address, else the first of any kind).
pub fn parse_listen(v: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    if let Ok(addr) = v.parse() {
        return Ok(addr);
    }
    let bad = || format!("expected HOST:PORT (e.g. 127.0.0.1:3000 or localhost:3000), got {v:?}");
    if !v
        .rsplit_once(':')
        .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
    {
        return Err(bad());
    }
    let addrs: Vec<SocketAddr> = v
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {v:?}: {e}"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(bad)
}

fn deserialize_listen<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    let text = String::deserialize(d)?;
    parse_listen(&text).map_err(serde::de::Error::custom)
}

fn split_list(v: &str) -> impl Iterator<Item = String> + '_ {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn better_auth_aliases_apply() {
        let c = Config::load(
            None,
            &env(&[
                ("BETTER_AUTH_SECRET", "s3cret"),
                ("BETTER_AUTH_URL", "https://a.example"),
            ]),
        )
        .unwrap();
        assert_eq!(c.secret.as_deref(), Some("s3cret"));
        assert_eq!(c.base_url(), "https://a.example");
        assert!(c.secure_cookies());
    }

    #[test]
    fn gatehouse_names_win_over_aliases() {
        let c = Config::load(
            None,
            &env(&[("BETTER_AUTH_SECRET", "a"), ("GATEHOUSE_SECRET", "b")]),
        )
        .unwrap();
        assert_eq!(c.secret.as_deref(), Some("b"));
    }

    #[test]
    fn production_refuses_short_secret_and_names_the_variable() {
        let c = Config::load(
            None,
            &env(&[
                ("GATEHOUSE_ENV", "production"),
                ("GATEHOUSE_SECRET", "short"),
            ]),
        )
        .unwrap();
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("GATEHOUSE_SECRET"), "{err}");
    }

    #[test]
    fn plugins_from_env_are_added() {
        let defaults = Config::default().plugins;
        let c = Config::load(None, &env(&[("GATEHOUSE_PLUGINS", "some-plugin, other")])).unwrap();
        let mut expected = defaults.clone();
        expected.extend(["some-plugin".to_string(), "other".to_string()]);
        assert_eq!(c.plugins, expected);
    }

    #[test]
    fn social_credentials_from_env_turn_a_provider_on() {
        let c = Config::load(
            None,
            &env(&[
                ("GATEHOUSE_SOCIAL_GITHUB_CLIENT_ID", "gh-id"),
                ("GATEHOUSE_SOCIAL_GITHUB_CLIENT_SECRET", "gh-secret"),
            ]),
        )
        .unwrap();
        let gh = &c.social["github"];
        assert_eq!(gh.client_id, "gh-id");
        assert_eq!(gh.client_secret.as_deref(), Some("gh-secret"));
        assert!(!c.social.contains_key("google"));
        // `gatehouse info` never shows the secret.
        let shown = toml::Value::try_from(&c).unwrap().to_string();
        assert!(
            !shown.contains("gh-secret") && shown.contains("<redacted>"),
            "{shown}"
        );
    }

    #[test]
    fn bad_env_values_are_rejected() {
        assert!(Config::load(None, &env(&[("GATEHOUSE_RATE_LIMIT", "maybe")])).is_err());
        assert!(Config::load(None, &env(&[("GATEHOUSE_LISTEN", "nope")])).is_err());
        let c = Config::load(None, &env(&[("GATEHOUSE_LISTEN", "localhost:3456")])).unwrap();
        assert_eq!(c.listen, "127.0.0.1:3456".parse().unwrap());
        let c: Config = toml::from_str("listen = \"localhost:3457\"").unwrap();
        assert_eq!(c.listen.port(), 3457);
        assert!(c.listen.ip().is_loopback());
    }
}
