//! `oauth-provider`: Gatehouse as an OAuth 2.1 authorization server and
//! OpenID Connect provider, on the wire of `@better-auth/oauth-provider`.
//! Apps register clients (dynamically, RFC 7591, or from a session), send
//! users to `/oauth2/authorize`, and redeem codes at `/oauth2/token`;
//! services use client credentials; resource servers introspect (RFC 7662).
//! ID tokens are signed with the `jwt` plugin's keys, so they verify
//! against `/jwks` across rotations. Secrets, codes and tokens are stored
//! only as SHA-256; codes and refresh tokens are single use, and a replay
//! revokes what the grant issued.
//!
//! - `authorize`: the authorization request's decisions and the signed
//!   login/consent hand-off.
//! - `tokens`: the grants, ID tokens, and token lookups.
//! - `clients`: registration metadata and client authentication.
//! - `assertion`: `private_key_jwt` client authentication.
//! - `device`: device authorization (RFC 8628).
//! - `metadata`: the discovery documents.

pub mod assertion;
pub mod authorize;
pub mod cache;
pub mod clients;
pub mod device;
pub mod end_session;
pub mod errors;
pub mod metadata;
pub mod routes;
pub mod server_api;
pub mod settings;
pub mod store;

use std::sync::Arc;

use authorize::{Resume, SignedIn};
use futures_util::future::BoxFuture;
use poem::http::StatusCode;
use poem::Response;
use serde_json::{json, Value};

pub use routes::OAuthProviderApi;
use settings::OAuthProviderSettings;

use crate::db::MigrationSet;
use crate::http::context::RequestContext;
use crate::plugin::Plugin;
use crate::plugins::jwt::settings::JwtSettings;
use crate::state::AppState;

pub mod tokens;

/// The plugin's id: its spec tag, `/plugins` entry, configuration section and client namespace.
pub const ID: &str = "oauth-provider";
pub const DESCRIPTION: &str =
    "An OAuth 2.1 authorization server and OpenID Connect provider: authorize, token (authorization code with PKCE, refresh, client credentials, device code, token exchange), JWT access tokens for resource servers, private_key_jwt, introspection, revocation, userinfo, discovery, client registration and consents.";

pub struct OAuthProvider;

pub const MIGRATIONS: MigrationSet = crate::migration_set!(
    "../migrations/sqlite/oauth_provider",
    "../migrations/postgres/oauth_provider"
);

/// The routes that speak OAuth (form bodies, `{error, error_description}`).
/// Not `consent` and `continue`: they are Better Auth endpoints called by
/// the app's own pages, refusing a missing session or a bad body in its
/// `{code, message}` (their own refusals are still OAuth errors).
const OAUTH_PATHS: &[&str] = &[
    "/oauth2/authorize",
    "/oauth2/token",
    "/oauth2/introspect",
    "/oauth2/revoke",
    "/oauth2/userinfo",
    "/oauth2/register",
    "/oauth2/end-session",
    "/oauth2/device-authorization",
    "/oauth2/device",
    "/oauth2/device/approve",
    "/oauth2/device/deny",
];

/// The issuer: the jwt plugin's configured `issuer`, else the base URL
/// with the base path (where the discovery document is served).
pub fn issuer(state: &AppState) -> String {
    state
        .settings::<JwtSettings>()
        .issuer
        .clone()
        .unwrap_or_else(|| format!("{}{}", state.config.base_url(), state.config.base_path))
}

impl Plugin for OAuthProvider {
    fn id(&self) -> &'static str {
        ID
    }

    fn description(&self) -> &'static str {
        DESCRIPTION
    }

    fn requires(&self) -> &'static [&'static str] {
        &[crate::plugins::jwt::ID]
    }

    fn configure(
        &self,
        section: Option<&toml::Value>,
        _config: &crate::config::Config,
    ) -> Result<Option<crate::plugin::Settings>, String> {
        let settings: OAuthProviderSettings = crate::plugin::parse_section(section)?;
        Ok(Some(crate::plugin::Settings::new(settings.check()?)))
    }

    fn migrations(&self) -> Option<&'static MigrationSet> {
        Some(&MIGRATIONS)
    }

    // No codes of Better Auth's `{code, message}` kind: this plugin's own
    // refusals are OAuth errors (see `errors`).

    fn route_docs(&self) -> &'static [crate::docs::RouteDoc] {
        routes::ROUTE_DOCS
    }

    /// `gatehouse oauth-provider client <client_id> --enable-end-session true`
    /// and `--skip-consent true`: see `server_api`.
    fn command<'a>(
        &'a self,
        api: &'a crate::api::ServerApi,
        args: &'a [String],
    ) -> Option<BoxFuture<'a, Result<String, String>>> {
        Some(Box::pin(server_api::run_command(api, args)))
    }

    /// Better Auth's limits for these routes (per client address and minute);
    /// `[rate_limit] rules` can change them.
    fn rate_limit_rules(&self) -> Vec<crate::http::rate_limit::RateLimitRule> {
        use crate::http::rate_limit::RateLimitRule;
        vec![
            RateLimitRule::new("/oauth2/token", 60, 20),
            RateLimitRule::new("/oauth2/authorize", 60, 30),
            RateLimitRule::new("/oauth2/introspect", 60, 100),
            RateLimitRule::new("/oauth2/revoke", 60, 30),
            RateLimitRule::new("/oauth2/register", 60, 5),
            RateLimitRule::new("/oauth2/userinfo", 60, 60),
            RateLimitRule::new("/oauth2/device-authorization", 60, 10),
            // Guessing user codes: a few tries per minute per address.
            RateLimitRule::new("/oauth2/device", 60, 10),
        ]
    }

    fn oauth_paths(&self) -> &'static [&'static str] {
        OAUTH_PATHS
    }

    /// Better Auth's `oauthProviderClient` sends the signed query of the
    /// login page along with the sign-in (`oauth_query` in any JSON body):
    /// once that request created a session, its answer becomes where the
    /// browser goes next in the authorization (`{redirect, url}`), as if
    /// `/oauth2/continue` had been called.
    fn after_response<'a>(
        &'a self,
        state: &'a AppState,
        ctx: &'a RequestContext,
        path: &'a str,
        resp: &'a mut Response,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if path.starts_with("/oauth2/") || !resp.status().is_success() {
                return;
            }
            let Some(query) = ctx
                .body
                .as_ref()
                .and_then(|b| b.get("oauth_query"))
                .and_then(Value::as_str)
            else {
                return;
            };
            let Some(created) = ctx.created_session() else {
                return;
            };
            let s = state.settings::<OAuthProviderSettings>();
            let outcome = match authorize::verify_signed_query(state, query) {
                Ok((params, issued)) => {
                    let session = SignedIn {
                        user_id: created.user_id,
                        session_id: created.session_id,
                        auth_time: state.now().and_utc().timestamp(),
                        auth_time_ms: state.now().and_utc().timestamp_millis(),
                    };
                    let resume = Resume {
                        issued_at: Some(issued),
                        post_login: true,
                        ..Resume::default()
                    };
                    authorize::authorize(state, &s, Some(session), params, resume, None).await
                }
                Err(e) => Err(e),
            };
            let (status, body) = match outcome {
                Ok(url) => (StatusCode::OK, json!({"redirect": true, "url": url})),
                Err(e) => (
                    e.status,
                    json!({"error": e.error, "error_description": e.description}),
                ),
            };
            resp.set_status(status);
            resp.headers_mut()
                .remove(poem::http::header::CONTENT_LENGTH);
            resp.headers_mut().insert(
                poem::http::header::CONTENT_TYPE,
                poem::http::HeaderValue::from_static("application/json"),
            );
            resp.set_body(body.to_string());
        })
    }

    fn raw_routes(
        &self,
        _docs: &crate::plugin::SpecDocuments,
        state: &Arc<AppState>,
    ) -> Vec<(&'static str, poem::endpoint::BoxEndpoint<'static>)> {
        vec![
            (
                metadata::OPENID_CONFIGURATION,
                metadata::endpoint(state, true),
            ),
            (
                metadata::AUTHORIZATION_SERVER,
                metadata::endpoint(state, false),
            ),
        ]
    }

    fn root_routes(
        &self,
        state: &Arc<AppState>,
    ) -> Vec<(String, poem::endpoint::BoxEndpoint<'static>)> {
        let base = state.config.base_path.trim_end_matches('/');
        let mut routes = vec![
            (
                metadata::OPENID_CONFIGURATION.to_string(),
                metadata::endpoint(state, true),
            ),
            (
                metadata::AUTHORIZATION_SERVER.to_string(),
                metadata::endpoint(state, false),
            ),
        ];
        if !base.is_empty() {
            // RFC 8414 §3: an issuer with a path has its metadata at
            // `/.well-known/oauth-authorization-server{path}`.
            routes.push((
                format!("{}{base}", metadata::AUTHORIZATION_SERVER),
                metadata::endpoint(state, false),
            ));
        }
        routes
    }
}
