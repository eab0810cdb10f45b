//! The native half of the Node package: one client object whose `call`
//! takes a Better Auth route and a JSON body and resolves to the JSON of
//! Better Auth's `{ data, error }` result. Errors are values, never throws,
//! so JavaScript always sees `error.code`, `error.status`, `error.message`.

use gatehouse::{AuthClient, AuthError, Plugin};
use napi_derive::napi;
use serde_json::{json, Value};
use tokio::sync::OnceCell;

/// A connection to one Gatehouse server, with the client's plugin registration.
#[napi]
pub struct NativeClient {
    base_url: String,
    plugins: Vec<String>,
    bearer: bool,
    /// Connected on first use: the plugin check runs before any other request.
    client: OnceCell<Result<AuthClient, Value>>,
}

fn error_value(e: &AuthError) -> Value {
    let message = match e {
        AuthError::Api { message, .. } => message.clone(),
        other => other.to_string(),
    };
    json!({ "code": e.code().as_str(), "status": e.status().unwrap_or(0), "message": message })
}

fn result<T: serde::Serialize>(r: Result<T, AuthError>) -> Value {
    match r {
        Ok(data) => json!({ "data": data, "error": null }),
        Err(e) => json!({ "data": null, "error": error_value(&e) }),
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &str) -> Result<T, AuthError> {
    let text = if body.is_empty() { "{}" } else { body };
    serde_json::from_str(text).map_err(|e| AuthError::Unexpected(format!("invalid arguments: {e}")))
}

#[napi]
impl NativeClient {
    /// `plugins`: server plugin ids this client mirrors (e.g. `["username"]`).
    #[napi(constructor)]
    pub fn new(base_url: String, plugins: Vec<String>, bearer: bool) -> Self {
        NativeClient {
            base_url,
            plugins,
            bearer,
            client: OnceCell::new(),
        }
    }

    async fn connected(&self) -> Result<&AuthClient, Value> {
        let r = self
            .client
            .get_or_init(|| async {
                let mut builder = AuthClient::builder(self.base_url.clone());
                for id in &self.plugins {
                    match id.as_str() {
                        "username" => builder = builder.plugin(Plugin::Username),
                        "bearer" => builder = builder.bearer(),
                        other => {
                            return Err(error_value(&AuthError::PluginNotEnabled {
                                plugin: other.to_string(),
                            }));
                        }
                    }
                }
                if self.bearer {
                    builder = builder.bearer();
                }
                builder.build().await.map_err(|e| error_value(&e))
            })
            .await;
        r.as_ref().map_err(Clone::clone)
    }

    /// Calls one route; resolves to the JSON text of `{ data, error }`.
    #[napi]
    pub async fn call(&self, route: String, body: String) -> String {
        let client = match self.connected().await {
            Ok(c) => c,
            Err(error) => return json!({ "data": null, "error": error }).to_string(),
        };
        let out = match route.as_str() {
            "/sign-up/email" => match parse(&body) {
                Ok(b) => result(client.sign_up_email_with(b).await),
                Err(e) => result::<()>(Err(e)),
            },
            "/sign-in/email" => match parse(&body) {
                Ok(b) => result(client.sign_in_email_with(b).await),
                Err(e) => result::<()>(Err(e)),
            },
            "/get-session" => result(client.get_session().await),
            "/sign-out" => result(client.sign_out().await.map(|_| json!({ "success": true }))),
            "/list-sessions" => result(client.list_sessions().await),
            "/list-accounts" => result(client.list_accounts().await),
            "/update-user" => match parse(&body) {
                Ok(b) => result(
                    client
                        .update_user_with(b)
                        .await
                        .map(|_| json!({ "status": true })),
                ),
                Err(e) => result::<()>(Err(e)),
            },
            "/revoke-session" => match parse::<Value>(&body) {
                Ok(b) => {
                    let token = b["token"].as_str().unwrap_or_default().to_string();
                    result(
                        client
                            .revoke_session(&token)
                            .await
                            .map(|_| json!({ "status": true })),
                    )
                }
                Err(e) => result::<()>(Err(e)),
            },
            "/sign-in/username" => match (client.username(), parse(&body)) {
                (Ok(ns), Ok(b)) => result(ns.sign_in_with(b).await),
                (Err(e), _) | (_, Err(e)) => result::<()>(Err(e)),
            },
            "/is-username-available" => match (client.username(), parse::<Value>(&body)) {
                (Ok(ns), Ok(b)) => result(
                    ns.is_available(b["username"].as_str().unwrap_or_default())
                        .await
                        .map(|available| json!({ "available": available })),
                ),
                (Err(e), _) | (_, Err(e)) => result::<()>(Err(e)),
            },
            other => result::<()>(Err(AuthError::Unexpected(format!("unknown route {other}")))),
        };
        out.to_string()
    }

    /// The stored session token (`token.signature`), if signed in.
    #[napi]
    pub async fn session_token(&self) -> Option<String> {
        self.connected().await.ok().and_then(|c| c.session_token())
    }
}
