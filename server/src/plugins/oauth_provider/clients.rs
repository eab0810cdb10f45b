//! Clients: registration metadata (RFC 7591) checked and stored, secrets
//! generated and hashed, and client authentication at the token,
//! introspection and revocation endpoints (`client_secret_basic`,
//! `client_secret_post`, `none`, and `private_key_jwt` through `assertion`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use poem::http::HeaderMap;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use super::errors::OAuthError;
use super::settings::OAuthProviderSettings;
use super::store::{self, ClientRow};
use crate::crypto::token;
use crate::state::AppState;

pub const AUTH_NONE: &str = "none";
pub const AUTH_BASIC: &str = "client_secret_basic";
pub const AUTH_POST: &str = "client_secret_post";
pub const GRANT_CODE: &str = "authorization_code";
pub const GRANT_REFRESH: &str = "refresh_token";
pub const GRANT_CLIENT_CREDENTIALS: &str = "client_credentials";
/// RFC 7523 §2.2: the client signs an assertion with a key it registered.
pub const AUTH_PRIVATE_KEY_JWT: &str = "private_key_jwt";
pub const GRANT_DEVICE: &str = "urn:ietf:params:oauth:grant-type:device_code";
pub const GRANT_TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const GRANTS: &[&str] = &[
    GRANT_CODE,
    GRANT_REFRESH,
    GRANT_CLIENT_CREDENTIALS,
    GRANT_DEVICE,
    GRANT_TOKEN_EXCHANGE,
];

/// `len` letters `[a-zA-Z]` (Better Auth's client id and secret shape).
pub fn random_letters(len: usize) -> String {
    const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| LETTERS[rng.random_range(0..LETTERS.len())] as char)
        .collect()
}

/// RFC 7591 client metadata, as `register` and `create-client` take it.
#[derive(Debug, Clone, Default, Deserialize, Serialize, poem_openapi::Object)]
#[serde(default)]
pub struct OAuthClientMetadata {
    /// Exact redirect URIs (https; http only on a loopback address, for native clients; custom schemes for native clients).
    #[oai(skip_serializing_if_is_none)]
    pub redirect_uris: Option<Vec<String>>,
    #[oai(skip_serializing_if_is_none)]
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// `client_secret_basic` (the default), `client_secret_post`, `private_key_jwt` (with `jwks` or `jwks_uri`), or `none` (a public client, PKCE required).
    #[oai(skip_serializing_if_is_none)]
    pub token_endpoint_auth_method: Option<String>,
    /// `private_key_jwt`: the client's public keys, a JWK Set (`{"keys": [...]}`).
    #[oai(skip_serializing_if_is_none)]
    pub jwks: Option<Value>,
    /// `private_key_jwt`: where the client publishes its JWK Set (https).
    #[oai(skip_serializing_if_is_none)]
    pub jwks_uri: Option<String>,
    /// `authorization_code` (the default), `refresh_token`, `client_credentials`,
    /// `urn:ietf:params:oauth:grant-type:device_code`, and (not at open registration)
    /// `urn:ietf:params:oauth:grant-type:token-exchange`.
    #[oai(skip_serializing_if_is_none)]
    pub grant_types: Option<Vec<String>>,
    /// `code` only.
    #[oai(skip_serializing_if_is_none)]
    pub response_types: Option<Vec<String>>,
    #[oai(skip_serializing_if_is_none)]
    pub client_name: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub client_uri: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub logo_uri: Option<String>,
    /// Space-separated scopes the client may request (default: the server's default scopes).
    #[oai(skip_serializing_if_is_none)]
    pub scope: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub contacts: Option<Vec<String>>,
    #[oai(skip_serializing_if_is_none)]
    pub tos_uri: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub policy_uri: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub software_id: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub software_version: Option<String>,
    /// `web` (the default) or `native`.
    #[oai(skip_serializing_if_is_none)]
    pub application_type: Option<String>,
    /// Whether a confidential client must use PKCE too (default true).
    #[oai(skip_serializing_if_is_none)]
    pub require_pkce: Option<bool>,
    /// Free-form data the registering app keeps with the client.
    #[oai(skip_serializing_if_is_none)]
    pub metadata: Option<Value>,
}

/// A client as `register`, `create-client` and `get-client` answer.
#[derive(Debug, Clone, Serialize, poem_openapi::Object)]
pub struct OAuthClientResponse {
    pub client_id: String,
    /// Only in the answer that created or rotated it: never shown again.
    #[oai(skip_serializing_if_is_none)]
    pub client_secret: Option<String>,
    pub client_id_issued_at: i64,
    /// 0: the secret does not expire. Present for confidential clients.
    #[oai(skip_serializing_if_is_none)]
    pub client_secret_expires_at: Option<i64>,
    pub redirect_uris: Vec<String>,
    #[oai(skip_serializing_if_is_none)]
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub token_endpoint_auth_method: String,
    #[oai(skip_serializing_if_is_none)]
    pub jwks: Option<Value>,
    #[oai(skip_serializing_if_is_none)]
    pub jwks_uri: Option<String>,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    #[oai(skip_serializing_if_is_none)]
    pub client_name: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub client_uri: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub logo_uri: Option<String>,
    pub scope: String,
    #[oai(skip_serializing_if_is_none)]
    pub contacts: Option<Vec<String>>,
    #[oai(skip_serializing_if_is_none)]
    pub tos_uri: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub policy_uri: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub software_id: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub software_version: Option<String>,
    pub application_type: String,
    pub require_pkce: bool,
    pub skip_consent: bool,
    /// Whether the client may end sessions: set by the operator only, and
    /// shown once set (as Better Auth does).
    #[oai(skip_serializing_if_is_none)]
    pub enable_end_session: Option<bool>,
    /// Always false: access tokens are not DPoP-bound here.
    pub dpop_bound_access_tokens: bool,
    pub disabled: bool,
    #[oai(skip_serializing_if_is_none)]
    pub user_id: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub metadata: Option<Value>,
}

pub fn list(text: &Option<String>) -> Vec<String> {
    text.as_deref()
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or_default()
}

fn to_text(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}

impl ClientRow {
    pub fn is_public(&self) -> bool {
        self.token_endpoint_auth_method.as_deref() == Some(AUTH_NONE)
    }

    /// Whether the client authenticates with a secret (and so has one).
    pub fn uses_secret(&self) -> bool {
        !matches!(
            self.token_endpoint_auth_method.as_deref(),
            Some(AUTH_NONE) | Some(AUTH_PRIVATE_KEY_JWT)
        )
    }

    pub fn is_native(&self) -> bool {
        self.application_type.as_deref() == Some("native")
    }

    pub fn redirect_uri_list(&self) -> Vec<String> {
        serde_json::from_str(&self.redirect_uris).unwrap_or_default()
    }

    pub fn scope_list(&self) -> Vec<String> {
        list(&self.scopes)
    }

    pub fn grant_type_list(&self) -> Vec<String> {
        let l = list(&self.grant_types);
        if l.is_empty() {
            vec![GRANT_CODE.to_string()]
        } else {
            l
        }
    }

    pub fn allows_grant(&self, grant: &str) -> bool {
        self.grant_type_list().iter().any(|g| g == grant)
            // Refresh tokens come with authorization codes that ask for offline_access.
            || (grant == GRANT_REFRESH && self.grant_type_list().iter().any(|g| g == GRANT_CODE))
    }

    pub fn to_response(&self, secret: Option<String>) -> OAuthClientResponse {
        let public = !self.uses_secret();
        OAuthClientResponse {
            client_id: self.client_id.clone(),
            client_secret: secret,
            client_id_issued_at: self.created_at.and_utc().timestamp(),
            client_secret_expires_at: (!public).then_some(0),
            redirect_uris: self.redirect_uri_list(),
            post_logout_redirect_uris: self
                .post_logout_redirect_uris
                .as_ref()
                .map(|_| list(&self.post_logout_redirect_uris)),
            token_endpoint_auth_method: self
                .token_endpoint_auth_method
                .clone()
                .unwrap_or_else(|| AUTH_BASIC.into()),
            jwks: self
                .jwks
                .as_deref()
                .and_then(|j| serde_json::from_str(j).ok()),
            jwks_uri: self.jwks_uri.clone(),
            grant_types: self.grant_type_list(),
            response_types: {
                let l = list(&self.response_types);
                if l.is_empty() {
                    vec!["code".into()]
                } else {
                    l
                }
            },
            client_name: self.name.clone(),
            client_uri: self.uri.clone(),
            logo_uri: self.icon.clone(),
            scope: self.scope_list().join(" "),
            contacts: self.contacts.as_ref().map(|_| list(&self.contacts)),
            tos_uri: self.tos.clone(),
            policy_uri: self.policy.clone(),
            software_id: self.software_id.clone(),
            software_version: self.software_version.clone(),
            application_type: self
                .application_type
                .clone()
                .unwrap_or_else(|| "web".into()),
            require_pkce: self.require_pkce.unwrap_or(true),
            skip_consent: self.skip_consent.unwrap_or(false),
            enable_end_session: self.enable_end_session,
            dpop_bound_access_tokens: false,
            disabled: self.disabled.unwrap_or(false),
            user_id: self.user_id.clone(),
            metadata: self
                .metadata
                .as_deref()
                .and_then(|m| serde_json::from_str(m).ok()),
        }
    }
}

impl ClientRow {
    /// The registered metadata, as an update starts from it.
    pub fn metadata_of(&self) -> OAuthClientMetadata {
        let r = self.to_response(None);
        OAuthClientMetadata {
            redirect_uris: Some(r.redirect_uris),
            post_logout_redirect_uris: r.post_logout_redirect_uris,
            token_endpoint_auth_method: Some(r.token_endpoint_auth_method),
            jwks: r.jwks,
            jwks_uri: r.jwks_uri,
            grant_types: Some(r.grant_types),
            response_types: Some(r.response_types),
            client_name: r.client_name,
            client_uri: r.client_uri,
            logo_uri: r.logo_uri,
            scope: Some(r.scope),
            contacts: r.contacts,
            tos_uri: r.tos_uri,
            policy_uri: r.policy_uri,
            software_id: r.software_id,
            software_version: r.software_version,
            application_type: Some(r.application_type),
            require_pkce: Some(r.require_pkce),
            metadata: r.metadata,
        }
    }
}

/// `base` with every field `update` names replaced.
pub fn merge(base: OAuthClientMetadata, update: &OAuthClientMetadata) -> OAuthClientMetadata {
    let u = update.clone();
    OAuthClientMetadata {
        redirect_uris: u.redirect_uris.or(base.redirect_uris),
        post_logout_redirect_uris: u
            .post_logout_redirect_uris
            .or(base.post_logout_redirect_uris),
        token_endpoint_auth_method: u
            .token_endpoint_auth_method
            .or(base.token_endpoint_auth_method),
        jwks: u.jwks.or(base.jwks),
        jwks_uri: u.jwks_uri.or(base.jwks_uri),
        grant_types: u.grant_types.or(base.grant_types),
        response_types: u.response_types.or(base.response_types),
        client_name: u.client_name.or(base.client_name),
        client_uri: u.client_uri.or(base.client_uri),
        logo_uri: u.logo_uri.or(base.logo_uri),
        scope: u.scope.or(base.scope),
        contacts: u.contacts.or(base.contacts),
        tos_uri: u.tos_uri.or(base.tos_uri),
        policy_uri: u.policy_uri.or(base.policy_uri),
        software_id: u.software_id.or(base.software_id),
        software_version: u.software_version.or(base.software_version),
        application_type: u.application_type.or(base.application_type),
        require_pkce: u.require_pkce.or(base.require_pkce),
        metadata: u.metadata.or(base.metadata),
    }
}

fn metadata_error(d: impl Into<String>) -> OAuthError {
    OAuthError::new(400, "invalid_client_metadata", d)
}

fn redirect_error(d: impl Into<String>) -> OAuthError {
    OAuthError::new(400, "invalid_redirect_uri", d)
}

const MAX_URIS: usize = 20;
const MAX_TEXT: usize = 2048;

fn is_loopback_host(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// A redirect URI a client may register: absolute, no fragment, no
/// credentials; https, or for native clients plain http on a loopback
/// address or a private-use scheme (RFC 8252). Never a scheme that runs
/// code or reads files.
pub fn check_redirect_uri(uri: &str, native: bool) -> Result<(), OAuthError> {
    if uri.len() > MAX_TEXT {
        return Err(redirect_error("A redirect URI is too long"));
    }
    let url = url::Url::parse(uri)
        .map_err(|_| redirect_error(format!("{uri:?} is not an absolute URL")))?;
    if url.fragment().is_some() || uri.contains('#') {
        return Err(redirect_error("A redirect URI cannot have a fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(redirect_error("A redirect URI cannot carry credentials"));
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "http" if native && is_loopback_host(&url) => Ok(()),
        "http" => Err(redirect_error(
            "Plain http redirect URIs are allowed only on a loopback address, for native clients",
        )),
        "javascript" | "data" | "vbscript" | "file" | "blob" | "about" | "ws" | "wss" | "https" => {
            Err(redirect_error(format!(
                "{uri:?} is not an acceptable redirect URI"
            )))
        }
        // A private-use scheme (`com.example.app:/callback`): native apps only.
        s if native && s.contains('.') => Ok(()),
        _ => Err(redirect_error(format!(
            "{uri:?}: custom schemes are for native clients, in reverse-domain form"
        ))),
    }
}

/// Whether a requested redirect URI is the registered one: the same
/// string, except that a native client's plain-http loopback URI may name
/// any port (RFC 8252 §7.3: the app listens where the system lets it).
pub fn redirect_matches(registered: &str, requested: &str, native: bool) -> bool {
    if registered == requested {
        return true;
    }
    if !native || requested.contains('#') {
        return false;
    }
    let (Ok(r), Ok(q)) = (url::Url::parse(registered), url::Url::parse(requested)) else {
        return false;
    };
    r.scheme() == "http"
        && q.scheme() == "http"
        && is_loopback_host(&r)
        && r.host() == q.host()
        && r.path() == q.path()
        && r.query() == q.query()
        && q.username().is_empty()
        && q.password().is_none()
}

/// A checked client row (new: `existing` is `None`) from metadata.
pub fn build_row(
    state: &AppState,
    s: &OAuthProviderSettings,
    meta: &OAuthClientMetadata,
    existing: Option<&ClientRow>,
    owner: Option<String>,
) -> Result<ClientRow, OAuthError> {
    let application_type = meta
        .application_type
        .clone()
        .unwrap_or_else(|| "web".into());
    if application_type != "web" && application_type != "native" {
        return Err(metadata_error("application_type must be web or native"));
    }
    let native = application_type == "native";
    let method = match existing {
        // The authentication method is fixed at creation: a public client
        // cannot be turned into one with a secret nobody was shown.
        Some(row) => row
            .token_endpoint_auth_method
            .clone()
            .unwrap_or_else(|| AUTH_BASIC.into()),
        None => meta
            .token_endpoint_auth_method
            .clone()
            .unwrap_or_else(|| AUTH_BASIC.into()),
    };
    if ![AUTH_NONE, AUTH_BASIC, AUTH_POST, AUTH_PRIVATE_KEY_JWT].contains(&method.as_str()) {
        return Err(metadata_error(format!(
            "token_endpoint_auth_method {method:?} is not supported: none, client_secret_basic, client_secret_post or private_key_jwt"
        )));
    }
    let (jwks, jwks_uri) = super::assertion::check_client_keys(
        method == AUTH_PRIVATE_KEY_JWT,
        state.config.base_url().starts_with("http://"),
        meta.jwks.as_ref(),
        meta.jwks_uri.as_deref(),
    )?;
    let grant_types = meta
        .grant_types
        .clone()
        .unwrap_or_else(|| vec![GRANT_CODE.into()]);
    for g in &grant_types {
        if !GRANTS.contains(&g.as_str()) {
            return Err(metadata_error(format!("grant type {g:?} is not supported")));
        }
    }
    for confidential_only in [GRANT_CLIENT_CREDENTIALS, GRANT_TOKEN_EXCHANGE] {
        if method == AUTH_NONE && grant_types.iter().any(|g| g == confidential_only) {
            return Err(metadata_error(format!(
                "A public client (token_endpoint_auth_method none) cannot use {confidential_only}"
            )));
        }
    }
    let response_types = meta
        .response_types
        .clone()
        .unwrap_or_else(|| vec!["code".into()]);
    if response_types.iter().any(|r| r != "code") {
        return Err(metadata_error("response_types: only \"code\" is supported"));
    }
    let redirect_uris = meta.redirect_uris.clone().unwrap_or_default();
    let uses_redirects = grant_types.iter().any(|g| g == GRANT_CODE);
    if uses_redirects && redirect_uris.is_empty() {
        return Err(redirect_error(
            "redirect_uris is required for authorization_code",
        ));
    }
    if redirect_uris.len() > MAX_URIS {
        return Err(redirect_error("Too many redirect URIs"));
    }
    for uri in &redirect_uris {
        check_redirect_uri(uri, native)?;
    }
    let post_logout = meta.post_logout_redirect_uris.clone();
    for uri in post_logout.iter().flatten() {
        check_redirect_uri(uri, native)?;
    }
    let scopes: Vec<String> = match &meta.scope {
        Some(text) => text.split_whitespace().map(String::from).collect(),
        None => s.default_scopes.clone(),
    };
    if let Some(bad) = scopes.iter().find(|sc| !s.scopes.contains(sc)) {
        return Err(OAuthError::invalid_scope(format!(
            "Scope {bad:?} is not offered by this server"
        )));
    }
    for (name, v) in [
        ("client_name", &meta.client_name),
        ("client_uri", &meta.client_uri),
        ("logo_uri", &meta.logo_uri),
        ("tos_uri", &meta.tos_uri),
        ("policy_uri", &meta.policy_uri),
        ("software_id", &meta.software_id),
        ("software_version", &meta.software_version),
    ] {
        if v.as_ref().is_some_and(|t| t.len() > MAX_TEXT) {
            return Err(metadata_error(format!("{name} is too long")));
        }
    }
    for (name, v) in [
        ("client_uri", &meta.client_uri),
        ("logo_uri", &meta.logo_uri),
        ("tos_uri", &meta.tos_uri),
        ("policy_uri", &meta.policy_uri),
    ] {
        if let Some(t) = v {
            let ok = url::Url::parse(t).is_ok_and(|u| matches!(u.scheme(), "https" | "http"));
            if !ok {
                return Err(metadata_error(format!("{name} must be an http(s) URL")));
            }
        }
    }
    let metadata = match &meta.metadata {
        None | Some(Value::Null) => None,
        Some(v @ Value::Object(_)) => Some(v.to_string()),
        Some(_) => return Err(metadata_error("metadata must be an object")),
    };
    if metadata.as_ref().is_some_and(|m| m.len() > 8 * MAX_TEXT) {
        return Err(metadata_error("metadata is too large"));
    }
    let now = state.now();
    Ok(ClientRow {
        id: existing.map_or_else(token::new_id, |r| r.id.clone()),
        client_id: existing.map_or_else(|| random_letters(32), |r| r.client_id.clone()),
        client_secret: existing.and_then(|r| r.client_secret.clone()),
        disabled: existing.map_or(Some(false), |r| r.disabled),
        skip_consent: existing.and_then(|r| r.skip_consent),
        enable_end_session: existing.and_then(|r| r.enable_end_session),
        scopes: Some(to_text(&scopes)),
        client_credentials_scopes: existing.and_then(|r| r.client_credentials_scopes.clone()),
        user_id: existing.map_or(owner, |r| r.user_id.clone()),
        created_at: existing.map_or(now, |r| r.created_at),
        updated_at: now,
        name: meta.client_name.clone(),
        uri: meta.client_uri.clone(),
        icon: meta.logo_uri.clone(),
        contacts: meta.contacts.as_ref().map(|c| to_text(c)),
        tos: meta.tos_uri.clone(),
        policy: meta.policy_uri.clone(),
        software_id: meta.software_id.clone(),
        software_version: meta.software_version.clone(),
        redirect_uris: to_text(&redirect_uris),
        post_logout_redirect_uris: post_logout.as_ref().map(|l| to_text(l)),
        token_endpoint_auth_method: Some(method),
        application_type: Some(application_type),
        grant_types: Some(to_text(&grant_types)),
        response_types: Some(to_text(&response_types)),
        require_pkce: meta.require_pkce.or(Some(true)),
        metadata,
        jwks,
        jwks_uri,
    })
}

/// A new secret for a confidential client: the plain value (shown once)
/// and what is stored. Secrets are 32 random letters (about 182 bits), so
/// one SHA-256 is enough to make the stored value useless: a slow password
/// hash protects guessable secrets, which these are not.
pub fn new_secret() -> (String, String) {
    let secret = random_letters(32);
    let stored = token::hash_token(&secret);
    (secret, stored)
}

/// The client a token-endpoint style request authenticates as:
/// `Authorization: Basic` (RFC 6749 §2.3.1, form-encoded id and secret),
/// `client_id` + `client_secret` in the body, or `client_id` alone for a
/// public client. One method per request.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    body: &Map<String, Value>,
) -> Result<ClientRow, OAuthError> {
    let field = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("basic")
                .then(|| rest.trim().to_string())
        });
    if let Some(assertion) = field("client_assertion") {
        if basic.is_some() || field("client_secret").is_some() {
            return Err(OAuthError::invalid_request(
                "Use one client authentication method, not several",
            ));
        }
        if field("client_assertion_type").as_deref() != Some(super::assertion::ASSERTION_TYPE) {
            return Err(OAuthError::invalid_request(format!(
                "client_assertion_type must be {}",
                super::assertion::ASSERTION_TYPE
            )));
        }
        return super::assertion::authenticate(state, &assertion, field("client_id").as_deref())
            .await;
    }
    let (client_id, secret, method) = if let Some(b64) = basic {
        if field("client_secret").is_some() {
            return Err(OAuthError::invalid_request(
                "Use one client authentication method, not several",
            ));
        }
        let decoded = STANDARD
            .decode(b64)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| OAuthError::invalid_client("Malformed Basic credentials"))?;
        let (id, secret) = decoded
            .split_once(':')
            .ok_or_else(|| OAuthError::invalid_client("Malformed Basic credentials"))?;
        let dec = |s: &str| {
            percent_encoding::percent_decode_str(&s.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        };
        let id = dec(id);
        if field("client_id").is_some_and(|b| b != id) {
            return Err(OAuthError::invalid_request(
                "client_id in the body differs from the authenticated client",
            ));
        }
        (id, Some(dec(secret)), AUTH_BASIC)
    } else {
        let id = field("client_id")
            .ok_or_else(|| OAuthError::invalid_client("Client authentication is required"))?;
        match field("client_secret") {
            Some(secret) => (id, Some(secret), AUTH_POST),
            None => (id, None, AUTH_NONE),
        }
    };
    let unknown = || OAuthError::invalid_client("Client authentication failed");
    let client = state
        .settings::<OAuthProviderSettings>()
        .clients
        .get_or_load(state, &client_id, store::client(&state.db, &client_id))
        .await?
        .ok_or_else(unknown)?;
    if client.disabled.unwrap_or(false) {
        return Err(OAuthError::invalid_client("The client is disabled"));
    }
    match (method, client.is_public()) {
        (AUTH_NONE, true) => Ok(client),
        (AUTH_NONE, false) => Err(unknown()),
        (_, true) => Err(OAuthError::invalid_client(
            "A public client authenticates with client_id alone",
        )),
        (_, false) => {
            let registered = client
                .token_endpoint_auth_method
                .as_deref()
                .unwrap_or(AUTH_BASIC);
            if registered != method {
                let d = format!("client registered for {registered} cannot use {method}");
                return Err(if method == AUTH_BASIC {
                    OAuthError::invalid_client(d)
                } else {
                    OAuthError::new(400, "invalid_client", d)
                });
            }
            let presented = token::hash_token(secret.as_deref().unwrap_or_default());
            let stored = client.client_secret.clone().unwrap_or_default();
            if bool::from(presented.as_bytes().ct_eq(stored.as_bytes())) && !stored.is_empty() {
                Ok(client)
            } else {
                Err(unknown())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::redirect_matches;

    #[test]
    fn loopback_ports_vary_for_native_clients_only() {
        let reg = "http://127.0.0.1:8080/cb";
        assert!(redirect_matches(reg, "http://127.0.0.1:51234/cb", true));
        assert!(!redirect_matches(reg, "http://127.0.0.1:51234/cb", false));
        assert!(!redirect_matches(reg, "http://127.0.0.1:51234/other", true));
        assert!(!redirect_matches(reg, "http://127.0.0.2:8080/cb", true));
        assert!(!redirect_matches(reg, "http://u@127.0.0.1:9/cb", true));
        assert!(!redirect_matches(reg, "http://127.0.0.1:9/cb#x", true));
        assert!(!redirect_matches(
            "https://app.example/cb",
            "https://app.example:444/cb",
            true
        ));
        assert!(redirect_matches(
            "https://app.example/cb",
            "https://app.example/cb",
            false
        ));
    }
}
