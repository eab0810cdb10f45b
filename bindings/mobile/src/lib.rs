//! Kotlin (`dev.gatehouse`) and Swift (`Gatehouse`) bindings over the Rust
//! client. This file is the generic part: the client object, errors whose
//! variants all carry a code, the `TokenStorage` callback (apps keep the
//! session in the Keychain or Keystore) and the one call path. Every record,
//! the plugin list and every namespace with its typed methods are generated
//! from the spec (`src/generated/facade.rs`, `cargo codegen`).

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::OnceCell;

uniffi::setup_scaffolding!();

#[allow(clippy::all, missing_docs, unused_imports)]
#[rustfmt::skip]
#[path = "generated/facade.rs"]
mod generated;
pub use generated::*;

/// Errors; every variant has the wire `code` (e.g. `PLUGIN_NOT_ENABLED`).
#[derive(Debug, Clone, thiserror::Error, uniffi::Error)]
pub enum AuthError {
    /// The server answered with an error body.
    #[error("{status} {code}: {reason}")]
    Api {
        status: u16,
        code: String,
        reason: String,
    },
    /// A registered plugin the server does not have; no request was sent to its routes.
    #[error("{code}: the plugin {plugin} is not enabled on this server")]
    PluginNotEnabled { plugin: String, code: String },
    /// The credentials were right, but a plugin asks for another step first
    /// (e.g. a second factor): `challenge_json` is its answer (`SIGN_IN_CHALLENGE`).
    #[error("{code}: {challenge_json}")]
    ChallengeRequired {
        challenge_json: String,
        code: String,
    },
    /// The server could not be reached (the next call tries again).
    #[error("{code}: {reason}")]
    Network { code: String, reason: String },
    /// Anything else.
    #[error("{code}: {reason}")]
    Unexpected { code: String, reason: String },
}

impl From<gatehouse::AuthError> for AuthError {
    fn from(e: gatehouse::AuthError) -> Self {
        let code = e.code().as_str().to_string();
        match e {
            gatehouse::AuthError::Api {
                status, message, ..
            } => AuthError::Api {
                status,
                code,
                reason: message,
            },
            gatehouse::AuthError::PluginNotEnabled { plugin } => {
                AuthError::PluginNotEnabled { plugin, code }
            }
            gatehouse::AuthError::ChallengeRequired { challenge } => AuthError::ChallengeRequired {
                challenge_json: challenge.to_string(),
                code,
            },
            gatehouse::AuthError::Network(reason) => AuthError::Network { code, reason },
            gatehouse::AuthError::Unexpected(reason) => AuthError::Unexpected { code, reason },
        }
    }
}

fn unexpected(reason: impl std::fmt::Display) -> AuthError {
    AuthError::Unexpected {
        code: "UNEXPECTED".into(),
        reason: reason.to_string(),
    }
}

/// Where the app keeps the session token (Keychain, Keystore, a file...).
#[uniffi::export(with_foreign)]
pub trait TokenStorage: Send + Sync {
    /// The stored token, if any.
    fn load(&self) -> Option<String>;
    /// Replaces it (`None`: signed out).
    fn save(&self, token: Option<String>);
}

/// Adapts the app's storage to the Rust client's store.
struct ForeignStore(Arc<dyn TokenStorage>);

impl std::fmt::Debug for ForeignStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ForeignStore")
    }
}

impl gatehouse::TokenStore for ForeignStore {
    fn load(&self) -> Option<String> {
        self.0.load()
    }
    fn save(&self, token: Option<String>) {
        self.0.save(token)
    }
}

/// A client for one server. Connects on first use, checking that the server
/// has every registered plugin; a failed connection (server down, offline)
/// is not kept: the next call tries again.
#[derive(uniffi::Object)]
pub struct AuthClient {
    base_url: String,
    plugins: Vec<ClientPlugin>,
    bearer: bool,
    storage: Option<Arc<dyn TokenStorage>>,
    client: OnceCell<gatehouse::AuthClient>,
}

impl AuthClient {
    fn create(
        base_url: String,
        plugins: Vec<ClientPlugin>,
        bearer: bool,
        storage: Option<Arc<dyn TokenStorage>>,
    ) -> Arc<Self> {
        Arc::new(AuthClient {
            base_url,
            plugins,
            bearer,
            storage,
            client: OnceCell::new(),
        })
    }

    async fn connected(&self) -> Result<&gatehouse::AuthClient, AuthError> {
        self.client
            .get_or_try_init(|| async {
                let mut b = gatehouse::AuthClient::builder(self.base_url.clone());
                if let Some(s) = &self.storage {
                    b = b.token_store(Arc::new(ForeignStore(s.clone())));
                }
                if self.bearer {
                    b = b.bearer();
                }
                for p in &self.plugins {
                    b = b.plugin_id(p.id());
                }
                b.build().await.map_err(AuthError::from)
            })
            .await
    }

    /// `PluginNotEnabled` unless `plugin` is registered here and enabled on the server.
    pub(crate) async fn require_plugin(&self, plugin: &str) -> Result<(), AuthError> {
        Ok(self.connected().await?.require_plugin(plugin)?)
    }

    /// The one call path of the generated namespaces: the plugin check,
    /// then the Rust client's `request` (session, cookie jar, typed errors).
    pub(crate) async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        plugin: Option<&str>,
    ) -> Result<Value, AuthError> {
        let client = self.connected().await?;
        if let Some(p) = plugin {
            client.require_plugin(p)?;
        }
        Ok(client.request(method, path, body).await?)
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl AuthClient {
    /// `base_url`: `http://host:port` (the API lives under `/api/auth`);
    /// `plugins`: the server plugins this client mirrors.
    #[uniffi::constructor]
    pub fn new(
        base_url: String,
        plugins: Vec<ClientPlugin>,
        storage: Option<Arc<dyn TokenStorage>>,
    ) -> Arc<Self> {
        Self::create(base_url, plugins, false, storage)
    }

    /// As `new`, with the session sent as `Authorization: Bearer` (the
    /// server's `bearer` plugin).
    #[uniffi::constructor]
    pub fn with_bearer(
        base_url: String,
        plugins: Vec<ClientPlugin>,
        storage: Option<Arc<dyn TokenStorage>>,
    ) -> Arc<Self> {
        Self::create(base_url, plugins, true, storage)
    }

    /// The stored session token (`token.signature`), if signed in.
    pub async fn session_token(&self) -> Result<Option<String>, AuthError> {
        Ok(self.connected().await?.session_token())
    }

    /// Any route by method and path (under the API base), JSON in and out:
    /// the escape hatch beside the typed namespaces (the generated `*Json`
    /// functions call it). `plugin`, when given, must be registered here and
    /// enabled on the server, or no request is sent.
    pub async fn request(
        &self,
        method: String,
        path: String,
        body_json: Option<String>,
        plugin: Option<String>,
    ) -> Result<String, AuthError> {
        let body = body_json
            .as_deref()
            .map(serde_json::from_str::<Value>)
            .transpose()
            .map_err(|e| AuthError::Unexpected {
                code: "INVALID_BODY".into(),
                reason: e.to_string(),
            })?;
        Ok(self
            .call(&method, &path, body.as_ref(), plugin.as_deref())
            .await?
            .to_string())
    }
}

/// A JSON answer as the generated record (or list, or optional record).
pub(crate) fn decode<T: DeserializeOwned>(value: Value) -> Result<T, AuthError> {
    serde_json::from_value(value).map_err(|e| unexpected(format!("response: {e}")))
}

/// `path?k=v&...` with the given values, `encodeURIComponent`-encoded.
pub(crate) fn with_query(path: String, query: &[(&str, Option<&str>)]) -> String {
    let pairs: Vec<String> = query
        .iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k}={}", gatehouse::encode_uri_component(v))))
        .collect();
    if pairs.is_empty() {
        path
    } else {
        format!("{path}?{}", pairs.join("&"))
    }
}

/// Free-form JSON members (WebAuthn options, metadata) are JSON text on the
/// foreign side.
pub(crate) mod json_text {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(text: &str, s: S) -> Result<S::Ok, S::Error> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(serde::ser::Error::custom)?;
        value.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Ok(serde_json::Value::deserialize(d)?.to_string())
    }
}

#[allow(dead_code)] // used once a spec has an optional free-form member
pub(crate) mod json_text_opt {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(text: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
        match text {
            Some(t) => super::json_text::serialize(t, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        Ok((!value.is_null()).then(|| value.to_string()))
    }
}
