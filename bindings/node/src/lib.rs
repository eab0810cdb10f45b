//! The native half of the Node package: a client whose `request` takes a
//! route (method, path, JSON body) and resolves to the JSON of Better Auth's
//! `{ data, error }` result. Errors are values, never throws, so JavaScript
//! always sees `error.code`, `error.status`, `error.message`. Which routes
//! exist is decided in JavaScript from the spec-generated route table.

use gatehouse::{AuthClient, AuthError};
use napi_derive::napi;
use serde_json::{json, Value};
use tokio::sync::OnceCell;

/// A connection to one Gatehouse server, with the client's plugin registration.
#[napi]
pub struct NativeClient {
    base_url: String,
    plugins: Vec<String>,
    /// Connected on first use: the plugin check runs before any other request.
    /// A failed connection is not kept: the next call tries again.
    client: OnceCell<AuthClient>,
}

fn error_value(e: &AuthError) -> Value {
    let message = match e {
        AuthError::Api { message, .. } => message.clone(),
        other => other.to_string(),
    };
    json!({ "code": e.code().as_str(), "status": e.status().unwrap_or(0), "message": message })
}

fn result(r: Result<Value, AuthError>) -> String {
    match r {
        Ok(data) => json!({ "data": data, "error": null }),
        Err(e) => json!({ "data": null, "error": error_value(&e) }),
    }
    .to_string()
}

#[napi]
impl NativeClient {
    /// `plugins`: server plugin ids this client mirrors (e.g. `["username"]`);
    /// `bearer` also switches sessions to `Authorization: Bearer`.
    #[napi(constructor)]
    pub fn new(base_url: String, plugins: Vec<String>) -> Self {
        NativeClient {
            base_url,
            plugins,
            client: OnceCell::new(),
        }
    }

    async fn connected(&self) -> Result<&AuthClient, Value> {
        self.client
            .get_or_try_init(|| async {
                let mut builder = AuthClient::builder(self.base_url.clone());
                for id in &self.plugins {
                    builder = match id.as_str() {
                        "bearer" => builder.bearer(),
                        other => builder.plugin_id(other),
                    };
                }
                builder.build().await.map_err(|e| error_value(&e))
            })
            .await
    }

    /// Calls one route (`method`, `path` under the API base, JSON `body`);
    /// resolves to the JSON text of `{ data, error }`. `plugin`, when given,
    /// must be registered and enabled, or no request is sent.
    #[napi]
    pub async fn request(
        &self,
        method: String,
        path: String,
        body: Option<String>,
        plugin: Option<String>,
    ) -> String {
        let client = match self.connected().await {
            Ok(c) => c,
            Err(error) => return json!({ "data": null, "error": error }).to_string(),
        };
        if let Some(p) = plugin {
            if let Err(e) = client.require_plugin(&p) {
                return result(Err(e));
            }
        }
        let body = match body
            .as_deref()
            .map(serde_json::from_str::<Value>)
            .transpose()
        {
            Ok(b) => b,
            Err(e) => return result(Err(AuthError::Unexpected(format!("invalid body: {e}")))),
        };
        result(client.request(&method, &path, body.as_ref()).await)
    }

    /// The stored session token (`token.signature`), if signed in.
    #[napi]
    pub async fn session_token(&self) -> Option<String> {
        self.connected().await.ok().and_then(|c| c.session_token())
    }
}
