//! Sign-in with other identity providers: social sign-in, generic OAuth,
//! ID-token sign-in and linked accounts.
//! - `providers`: the built-in providers as data (endpoints, scopes, quirks,
//!   profile mapping); `settings`: `[social.<id>]` and `[account]`;
//! - [`SocialRegistry`]: the providers this server offers, resolved once at
//!   start-up (built-ins from `[social.*]`, others from plugins such as
//!   `generic-oauth`, whose discovery documents are fetched then);
//! - `oauth`: the authorization URL, the code exchange, refreshes and the
//!   profile calls; `id_token`: ID-token verification against cached JWKS;
//! - `flow_state`: the state of a redirect flow (verification row + signed cookie);
//! - `linking`: the one decision of which user a provider identity becomes;
//!   `flow`: sign-in/social, the callback and link-social carry it out;
//! - `accounts`: unlink, provider tokens (sealed at rest), account info;
//! - `routes`: the HTTP surface (tag `core`).
pub mod accounts;
pub mod flow;
pub mod flow_state;
pub mod id_token;
pub mod linking;
pub mod loopback;
pub mod oauth;
pub mod providers;
pub mod routes;
pub mod settings;
pub mod store;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use self::id_token::Jwks;
use self::providers::{ProfileShape, ProviderRecord, Quirks, TokenAuth};
use self::settings::SocialProviderConfig;

/// The callback path under the base path; `{id}` follows.
pub const CALLBACK_PREFIX: &str = "/callback/";

/// A provider that is not built in, as a plugin configures it (e.g.
/// `generic-oauth`): from a discovery document or explicit endpoints.
#[derive(Clone, Debug, Default)]
pub struct ProviderSpec {
    pub id: String,
    pub name: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub discovery_url: Option<String>,
    pub authorization_url: Option<String>,
    pub token_url: Option<String>,
    pub userinfo_url: Option<String>,
    pub jwks_url: Option<String>,
    pub issuer: Option<String>,
    pub scopes: Vec<String>,
    pub pkce: bool,
    pub prompt: Option<String>,
    pub token_auth_basic: bool,
    pub authorization_params: Vec<(String, String)>,
    pub disable_sign_up: bool,
    pub disable_implicit_sign_up: bool,
    pub override_user_info_on_sign_in: bool,
}

/// A provider ready for use: every URL resolved.
#[derive(Debug)]
pub struct OAuthProvider {
    pub id: String,
    pub name: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    /// Extra accepted ID-token audiences.
    pub audiences: Vec<String>,
    pub authorization_url: String,
    pub token_url: String,
    pub userinfo_url: Option<String>,
    pub emails_url: Option<String>,
    pub jwks: Option<Jwks>,
    /// Accepted `iss` values; empty: ID tokens are not checked against one.
    pub issuers: Vec<String>,
    /// Microsoft's multi-tenant endpoints: `iss` must name the token's own `tid`.
    pub tenant_issuer_template: Option<String>,
    pub scopes: Vec<String>,
    pub scope_separator: &'static str,
    /// Always S256; on for every built-in (see the README's security notes).
    pub pkce: bool,
    /// An OIDC nonce is bound to each redirect flow.
    pub nonce: bool,
    pub id_token_sign_in: bool,
    pub authorization_params: Vec<(String, String)>,
    pub token_auth: TokenAuth,
    pub profile: ProfileShape,
    pub quirks: Quirks,
    /// Plain OAuth 2 from a plugin: the account id is the profile's `id`.
    pub generic: bool,
    pub disable_sign_up: bool,
    pub disable_implicit_sign_up: bool,
    pub override_user_info_on_sign_in: bool,
}

/// The providers this server offers, and the client that talks to them.
pub struct SocialRegistry {
    providers: BTreeMap<String, Arc<OAuthProvider>>,
    pub http: reqwest::Client,
}

impl std::fmt::Debug for SocialRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.providers.keys()).finish()
    }
}

/// Checks `[social.*]` without the network: known ids, a client id each.
pub fn check_config(social: &BTreeMap<String, SocialProviderConfig>) -> Result<(), String> {
    for (id, c) in social {
        if providers::find(id).is_none() {
            let known: Vec<&str> = providers::PROVIDERS.iter().map(|p| p.id).collect();
            return Err(format!(
                "[social.{id}]: unknown provider; built-in providers: {} (any other OAuth 2 \
                 or OpenID provider goes under the generic-oauth plugin)",
                known.join(", ")
            ));
        }
        if c.client_id.trim().is_empty() {
            return Err(format!(
                "[social.{id}]: client_id is required (or GATEHOUSE_SOCIAL_{}_CLIENT_ID)",
                id.to_ascii_uppercase()
            ));
        }
        for (name, url) in [
            ("authorization_url", &c.authorization_url),
            ("token_url", &c.token_url),
            ("userinfo_url", &c.userinfo_url),
            ("emails_url", &c.emails_url),
            ("jwks_url", &c.jwks_url),
        ] {
            if let Some(u) = url {
                check_url(&format!("[social.{id}] {name}"), u)?;
            }
        }
    }
    Ok(())
}

fn check_url(what: &str, url: &str) -> Result<(), String> {
    match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(()),
        _ => Err(format!("{what}: {url:?} is not an http(s) URL")),
    }
}

impl SocialRegistry {
    /// Resolves the configured built-ins and the plugins' providers; fetches
    /// discovery documents. Any failure stops the start, naming the provider.
    pub async fn build(
        social: &BTreeMap<String, SocialProviderConfig>,
        specs: Vec<ProviderSpec>,
    ) -> Result<SocialRegistry, String> {
        let http = crate::http::outbound::client(Duration::from_secs(15))?;
        let mut providers = BTreeMap::new();
        for (id, c) in social {
            let record = providers::find(id).ok_or_else(|| format!("unknown provider {id}"))?;
            providers.insert(id.clone(), Arc::new(builtin(record, c)));
        }
        for spec in specs {
            if providers.contains_key(&spec.id) {
                return Err(format!(
                    "provider {:?} is configured twice (a built-in and a plugin's)",
                    spec.id
                ));
            }
            let p = generic(&http, spec).await?;
            providers.insert(p.id.clone(), Arc::new(p));
        }
        Ok(SocialRegistry { providers, http })
    }

    pub fn get(&self, id: &str) -> Option<Arc<OAuthProvider>> {
        self.providers.get(id).cloned()
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.providers.keys().map(String::as_str)
    }
}

fn builtin(record: &ProviderRecord, c: &SocialProviderConfig) -> OAuthProvider {
    let tenant = c.tenant_id.clone().unwrap_or_else(|| "common".into());
    let fill = |u: &str| -> String {
        if record.quirks.tenant_in_urls {
            u.replace("{tenant}", &tenant)
        } else {
            u.to_string()
        }
    };
    let multi_tenant = record.quirks.tenant_in_urls
        && matches!(tenant.as_str(), "common" | "organizations" | "consumers");
    let (issuers, tenant_issuer_template) = match &c.issuers {
        Some(list) => (list.clone(), None),
        None if multi_tenant => (
            Vec::new(),
            record
                .issuers
                .first()
                .map(|s| s.replace("{tenant}", "{tid}")),
        ),
        None => (record.issuers.iter().map(|s| fill(s)).collect(), None),
    };
    let mut scopes: Vec<String> = if c.disable_default_scope {
        Vec::new()
    } else {
        record
            .default_scopes
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    for s in &c.scopes {
        if !scopes.contains(s) {
            scopes.push(s.clone());
        }
    }
    let mut authorization_params: Vec<(String, String)> = record
        .extra_authorization_params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if let Some(p) = &c.prompt {
        authorization_params.push(("prompt".into(), p.clone()));
    }
    let jwks_url = c.jwks_url.clone().or_else(|| record.jwks_url.map(&fill));
    OAuthProvider {
        id: record.id.to_string(),
        name: record.name.to_string(),
        client_id: c.client_id.clone(),
        client_secret: c.client_secret.clone(),
        audiences: c.additional_audiences.clone(),
        authorization_url: c
            .authorization_url
            .clone()
            .unwrap_or_else(|| fill(record.authorization_url)),
        token_url: c
            .token_url
            .clone()
            .unwrap_or_else(|| fill(record.token_url)),
        userinfo_url: c
            .userinfo_url
            .clone()
            .or_else(|| record.userinfo_url.map(&fill)),
        emails_url: c
            .emails_url
            .clone()
            .or_else(|| record.emails_url.map(&fill)),
        jwks: jwks_url.map(Jwks::new),
        issuers,
        tenant_issuer_template,
        scopes,
        scope_separator: record.scope_separator,
        pkce: true,
        nonce: false,
        id_token_sign_in: record.id_token_sign_in && !c.disable_id_token_sign_in,
        authorization_params,
        token_auth: record.token_auth,
        profile: record.profile,
        quirks: record.quirks,
        generic: false,
        disable_sign_up: c.disable_sign_up,
        disable_implicit_sign_up: c.disable_implicit_sign_up,
        override_user_info_on_sign_in: c.override_user_info_on_sign_in,
    }
}

/// The fields of an OpenID discovery document that are used.
#[derive(serde::Deserialize)]
struct Discovery {
    issuer: Option<String>,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    userinfo_endpoint: Option<String>,
    jwks_uri: Option<String>,
}

async fn generic(http: &reqwest::Client, spec: ProviderSpec) -> Result<OAuthProvider, String> {
    let what = format!("generic-oauth provider {:?}", spec.id);
    let discovered = match &spec.discovery_url {
        None => None,
        Some(url) => {
            let resp = http
                .get(url)
                .header("accept", "application/json")
                .send()
                .await
                .map_err(|e| format!("{what}: discovery at {url} failed: {}", e.without_url()))?;
            if !resp.status().is_success() {
                return Err(format!(
                    "{what}: discovery at {url} answered {}",
                    resp.status()
                ));
            }
            let doc: Discovery = resp.json().await.map_err(|e| {
                format!(
                    "{what}: discovery at {url} is not a discovery document: {}",
                    e.without_url()
                )
            })?;
            Some(doc)
        }
    };
    let pick = |explicit: &Option<String>, found: Option<&Option<String>>| {
        explicit.clone().or_else(|| found.and_then(|f| f.clone()))
    };
    let d = discovered.as_ref();
    let authorization_url = pick(
        &spec.authorization_url,
        d.map(|d| &d.authorization_endpoint),
    )
    .ok_or_else(|| format!("{what}: no authorization_url (and no discovery_url providing one)"))?;
    let token_url = pick(&spec.token_url, d.map(|d| &d.token_endpoint))
        .ok_or_else(|| format!("{what}: no token_url (and no discovery_url providing one)"))?;
    let userinfo_url = pick(&spec.userinfo_url, d.map(|d| &d.userinfo_endpoint));
    let jwks_url = pick(&spec.jwks_url, d.map(|d| &d.jwks_uri));
    let issuer = pick(&spec.issuer, d.map(|d| &d.issuer));
    for (name, u) in [
        ("authorization_url", Some(&authorization_url)),
        ("token_url", Some(&token_url)),
        ("userinfo_url", userinfo_url.as_ref()),
        ("jwks_url", jwks_url.as_ref()),
    ] {
        if let Some(u) = u {
            check_url(&format!("{what}: {name}"), u)?;
        }
    }
    if userinfo_url.is_none() && jwks_url.is_none() {
        return Err(format!(
            "{what}: neither a userinfo_url nor a jwks_url: no way to learn who signed in"
        ));
    }
    let oidc = jwks_url.is_some();
    let mut scopes = spec.scopes.clone();
    if oidc && !scopes.iter().any(|s| s == "openid") {
        scopes.insert(0, "openid".into());
    }
    let mut authorization_params = spec.authorization_params.clone();
    if let Some(p) = &spec.prompt {
        authorization_params.push(("prompt".into(), p.clone()));
    }
    Ok(OAuthProvider {
        name: if spec.name.is_empty() {
            spec.id.clone()
        } else {
            spec.name.clone()
        },
        id: spec.id,
        client_id: spec.client_id,
        client_secret: spec.client_secret,
        audiences: Vec::new(),
        authorization_url,
        token_url,
        userinfo_url,
        emails_url: None,
        jwks: jwks_url.map(Jwks::new),
        issuers: issuer.into_iter().collect(),
        tenant_issuer_template: None,
        scopes,
        scope_separator: " ",
        pkce: spec.pkce,
        nonce: oidc,
        id_token_sign_in: oidc,
        authorization_params,
        token_auth: if spec.token_auth_basic {
            TokenAuth::Basic
        } else {
            TokenAuth::Post
        },
        profile: ProfileShape::OidcClaims,
        quirks: Quirks::default(),
        generic: !oidc,
        disable_sign_up: spec.disable_sign_up,
        disable_implicit_sign_up: spec.disable_implicit_sign_up,
        override_user_info_on_sign_in: spec.override_user_info_on_sign_in,
    })
}
