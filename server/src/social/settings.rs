//! `[social.<provider>]` and `[account]`: Better Auth's `socialProviders` and
//! `account` options, in snake_case.

use serde::{Deserialize, Serialize};

/// One built-in provider, turned on by its section (`[social.github]`).
/// `client_id` and `client_secret` may come from the environment instead:
/// `GATEHOUSE_SOCIAL_<PROVIDER>_CLIENT_ID` / `_CLIENT_SECRET`.
#[derive(Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SocialProviderConfig {
    pub client_id: String,
    /// Shown as `<redacted>` by `gatehouse info`.
    #[serde(serialize_with = "redacted")]
    pub client_secret: Option<String>,
    /// Scopes requested on top of the provider's defaults.
    pub scopes: Vec<String>,
    /// Request only `scopes`, not the provider's defaults.
    pub disable_default_scope: bool,
    /// Endpoint overrides (enterprise proxies, self-hosted GitLab, test doubles).
    pub authorization_url: Option<String>,
    pub token_url: Option<String>,
    pub userinfo_url: Option<String>,
    pub emails_url: Option<String>,
    pub jwks_url: Option<String>,
    /// Accepted ID-token issuers, replacing the provider's.
    pub issuers: Option<Vec<String>>,
    /// Microsoft: the tenant (`common`, `organizations`, `consumers` or an id).
    pub tenant_id: Option<String>,
    /// Sent as `prompt` on every authorization request.
    pub prompt: Option<String>,
    /// Other client ids whose ID tokens are accepted too (a mobile app's own
    /// client id next to the web client's).
    pub additional_audiences: Vec<String>,
    /// No new users through this provider.
    pub disable_sign_up: bool,
    /// New users only when the sign-in asks for it (`requestSignUp`).
    pub disable_implicit_sign_up: bool,
    /// Refuse `signIn.social({idToken})` for this provider.
    pub disable_id_token_sign_in: bool,
    /// Refresh the user's name and image from the provider on every sign-in.
    pub override_user_info_on_sign_in: bool,
}

impl std::fmt::Debug for SocialProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocialProviderConfig")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountConfig {
    /// Provider tokens are sealed (XChaCha20-Poly1305 under the secret) at
    /// rest. On by default; Better Auth's `encryptOAuthTokens` is off by default.
    pub encrypt_oauth_tokens: bool,
    pub account_linking: AccountLinkingConfig,
}

impl Default for AccountConfig {
    fn default() -> Self {
        AccountConfig {
            encrypt_oauth_tokens: true,
            account_linking: AccountLinkingConfig::default(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountLinkingConfig {
    /// Implicit linking by email at sign-in, and `link-social`.
    pub enabled: bool,
    /// Providers whose addresses count as verified even when they do not say so.
    pub trusted_providers: Vec<String>,
    /// `link-social` may add an identity whose address differs from the user's.
    pub allow_different_emails: bool,
    /// No implicit link to a user whose own address was never proven.
    pub require_local_email_verified: bool,
    /// `unlink-account` may remove the last way to sign in.
    pub allow_unlinking_all: bool,
}

impl Default for AccountLinkingConfig {
    fn default() -> Self {
        AccountLinkingConfig {
            enabled: true,
            trusted_providers: Vec::new(),
            allow_different_emails: false,
            require_local_email_verified: true,
            allow_unlinking_all: false,
        }
    }
}

/// Serializes a secret as `<redacted>` (what `gatehouse info` prints).
pub fn redacted<S: serde::Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(_) => s.serialize_some("<redacted>"),
        None => s.serialize_none(),
    }
}
