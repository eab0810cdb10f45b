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
    /// Clients recently read (by client id), shared by every request.
    #[serde(skip)]
    pub clients: std::sync::Arc<ReadCache<ClientRow>>,
    /// Access tokens recently looked up (by hash), shared by every request.
    #[serde(skip)]
    pub tokens: std::sync::Arc<ReadCache<AccessRow>>,
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
            clients: std::sync::Arc::new(ReadCache::new(10_000)),
            tokens: std::sync::Arc::new(ReadCache::new(100_000)),
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
        ] {
            if !page.starts_with('/') && url::Url::parse(page).is_err() {
                return Err(format!(
                    "{name} must be a path (\"/sign-in\") or an absolute URL, not {page:?}"
                ));
            }
        }
        Ok(self)
    }
}
