//! The `[oauth_provider]` configuration section: Better Auth's
//! `oauthProvider` options in snake_case. Lifetimes are seconds.

use serde::{Deserialize, Serialize};

use super::cache::ReadCache;
use super::store::{AccessRow, ClientRow};

/// Scopes every server knows; others come from `scopes`.
pub const OPENID: &str = "openid";
pub const OFFLINE_ACCESS: &str = "offline_access";

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct OAuthProviderSettings {
    /// The app's sign-in page (a path on the base URL's origin, or an
    /// absolute URL): authorize sends the user there with the signed query.
    pub login_page: String,
    /// The app's consent page, reached the same way.
    pub consent_page: String,
    /// `POST /oauth2/register` (RFC 7591) is open.
    pub allow_dynamic_client_registration: bool,
    /// ... also without a session (then only public clients may register,
    /// since nobody would own a secret).
    pub allow_unauthenticated_client_registration: bool,
    /// The scopes clients may ask for.
    pub scopes: Vec<String>,
    /// Scopes a client gets when it registers without naming any.
    pub default_scopes: Vec<String>,
    pub code_expires_in: i64,
    pub access_token_expires_in: i64,
    /// Client-credentials (machine-to-machine) access tokens.
    pub m2m_access_token_expires_in: i64,
    pub refresh_token_expires_in: i64,
    pub id_token_expires_in: i64,
    /// How long a signed login/consent hand-off stays valid.
    pub hand_off_expires_in: i64,
    /// Resource servers a client may address a token to (`resource`,
    /// RFC 8707; `audience` in token exchange). Such tokens are JWTs
    /// (RFC 9068). Empty: the base URL alone.
    pub valid_audiences: Vec<String>,
    /// Clients allowed to exchange tokens (RFC 8693), by `client_id`: an
    /// operator's decision, since an exchanged token reaches resource
    /// servers the subject token did not. The client must also list the
    /// grant type in its `grant_types`.
    pub token_exchange_clients: Vec<String>,
    /// The app's page where a user enters a device's user code (RFC 8628
    /// `verification_uri`): a path on the base URL's origin, or an absolute URL.
    pub device_page: String,
    /// How long a device code waits for the user.
    pub device_code_expires_in: i64,
    /// Seconds a device waits between polls (it grows by 5 on `slow_down`).
    pub device_code_interval: i64,
    /// Clients recently read (by client id), shared by every request.
    #[serde(skip)]
    pub clients: std::sync::Arc<ReadCache<ClientRow>>,
    /// Access tokens recently looked up (by hash), shared by every request.
    #[serde(skip)]
    pub tokens: std::sync::Arc<ReadCache<AccessRow>>,
    /// `private_key_jwt` clients' fetched JWK Sets (by `jwks_uri`).
    #[serde(skip)]
    pub jwks: std::sync::Arc<super::assertion::JwksCache>,
}

impl Default for OAuthProviderSettings {
    fn default() -> Self {
        let scopes: Vec<String> = [OPENID, "profile", "email", OFFLINE_ACCESS]
            .map(String::from)
            .to_vec();
        OAuthProviderSettings {
            login_page: "/sign-in".into(),
            consent_page: "/consent".into(),
            allow_dynamic_client_registration: false,
            allow_unauthenticated_client_registration: false,
            default_scopes: scopes.clone(),
            scopes,
            code_expires_in: 600,
            access_token_expires_in: 3600,
            m2m_access_token_expires_in: 3600,
            refresh_token_expires_in: 30 * 24 * 3600,
            id_token_expires_in: 36_000,
            hand_off_expires_in: 600,
            valid_audiences: Vec::new(),
            token_exchange_clients: Vec::new(),
            device_page: "/device".into(),
            device_code_expires_in: 1800,
            device_code_interval: 5,
            clients: std::sync::Arc::new(ReadCache::new(10_000)),
            tokens: std::sync::Arc::new(ReadCache::new(100_000)),
            jwks: Default::default(),
        }
    }
}

impl OAuthProviderSettings {
    pub fn check(self) -> Result<Self, String> {
        for (name, v) in [
            ("code_expires_in", self.code_expires_in),
            ("access_token_expires_in", self.access_token_expires_in),
            (
                "m2m_access_token_expires_in",
                self.m2m_access_token_expires_in,
            ),
            ("refresh_token_expires_in", self.refresh_token_expires_in),
            ("id_token_expires_in", self.id_token_expires_in),
            ("hand_off_expires_in", self.hand_off_expires_in),
            ("device_code_expires_in", self.device_code_expires_in),
            ("device_code_interval", self.device_code_interval),
        ] {
            if v <= 0 {
                return Err(format!("{name} must be a positive number of seconds"));
            }
        }
        if !self.scopes.iter().any(|s| s == OPENID) {
            return Err("scopes must include \"openid\"".into());
        }
        if let Some(s) = self
            .default_scopes
            .iter()
            .find(|s| !self.scopes.contains(s))
        {
            return Err(format!("default_scopes: {s:?} is not in scopes"));
        }
        for (name, page) in [
            ("login_page", &self.login_page),
            ("consent_page", &self.consent_page),
            ("device_page", &self.device_page),
        ] {
            if !page.starts_with('/') && url::Url::parse(page).is_err() {
                return Err(format!(
                    "{name} must be a path (\"/sign-in\") or an absolute URL, not {page:?}"
                ));
            }
        }
        if self.device_code_interval > 3600 {
            return Err("device_code_interval must be at most 3600 seconds".into());
        }
        for a in &self.valid_audiences {
            if url::Url::parse(a).is_err() {
                return Err(format!("valid_audiences: {a:?} is not an absolute URI"));
            }
        }
        Ok(self)
    }

    /// The audiences tokens may be addressed to.
    pub fn audiences(&self, state: &crate::state::AppState) -> Vec<String> {
        if self.valid_audiences.is_empty() {
            vec![state.config.base_url()]
        } else {
            self.valid_audiences.clone()
        }
    }
}
