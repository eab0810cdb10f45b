//! `jwt`: JSON Web Tokens for services that verify sessions offline.
//! `GET /token` and the `set-auth-jwt` header on `get-session` issue a
//! token whose claims are the session's user; `GET /jwks` publishes the
//! public keys (EdDSA by default; ES256, RS256), whose private halves are
//! sealed at rest and rotated on an interval with a grace period.

pub mod keys;
pub mod routes;
pub mod server_api;
pub mod settings;
pub mod store;

use futures_util::future::BoxFuture;
use poem::http::StatusCode;
use poem::Response;
use serde::Serialize;
use serde_json::{Map, Value};

pub use routes::JwtApi;
use settings::JwtSettings;

use crate::core::dto::UserCore;
use crate::core::session::AuthSession;
use crate::db::MigrationSet;
use crate::error::ApiError;
use crate::http::context::RequestContext;
use crate::plugin::Plugin;
use crate::state::AppState;

/// The plugin's id: its spec tag, `/plugins` entry, configuration section and client namespace.
pub const ID: &str = "jwt";
pub const DESCRIPTION: &str =
    "JWTs of the session's user (`GET /token`, the `set-auth-jwt` header on get-session) and the public keys to verify them (`GET /jwks`).";

/// The header `get-session` answers carry the token in.
pub const JWT_HEADER: &str = "set-auth-jwt";

pub struct Jwt;

pub const MIGRATIONS: MigrationSet =
    crate::migration_set!("../migrations/sqlite/jwt", "../migrations/postgres/jwt");

impl Plugin for Jwt {
    fn id(&self) -> &'static str {
        ID
    }

    fn description(&self) -> &'static str {
        DESCRIPTION
    }

    fn configure(
        &self,
        section: Option<&toml::Value>,
        _config: &crate::config::Config,
    ) -> Result<Option<crate::plugin::Settings>, String> {
        let settings: JwtSettings = crate::plugin::parse_section(section)?;
        Ok(Some(crate::plugin::Settings::new(settings.check()?)))
    }

    fn migrations(&self) -> Option<&'static MigrationSet> {
        Some(&MIGRATIONS)
    }

    fn route_docs(&self) -> &'static [crate::docs::RouteDoc] {
        routes::ROUTE_DOCS
    }

    fn after_response<'a>(
        &'a self,
        state: &'a AppState,
        ctx: &'a RequestContext,
        path: &'a str,
        resp: &'a mut Response,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if path != "/get-session" || resp.status() != StatusCode::OK {
                return;
            }
            let settings = state.settings::<JwtSettings>();
            if settings.disable_setting_jwt_header {
                return;
            }
            let Some(session) = ctx.resolved_session() else {
                return;
            };
            match session_token(state, &settings, &session).await {
                Ok(jwt) => {
                    if let Ok(v) = jwt.parse() {
                        resp.headers_mut().insert(JWT_HEADER, v);
                        crate::http::expose_header(resp, JWT_HEADER);
                    }
                }
                Err(e) => tracing::error!(code = %e.code, "could not sign the session's jwt"),
            }
        })
    }
}

/// `iss` of issued tokens: the configured one, else the base URL's origin.
pub fn issuer<'a>(state: &'a AppState, s: &'a JwtSettings) -> &'a str {
    s.issuer
        .as_deref()
        .unwrap_or_else(|| state.origins.base_origin())
}

/// `aud` of issued tokens: the configured one, else the base URL's origin.
pub fn audience<'a>(state: &'a AppState, s: &'a JwtSettings) -> &'a str {
    s.audience
        .as_deref()
        .unwrap_or_else(|| state.origins.base_origin())
}

/// Adds `iat`, `exp`, `iss` and `aud` (unless given) to `claims` and signs them.
pub async fn sign_claims(
    state: &AppState,
    s: &JwtSettings,
    mut claims: Map<String, Value>,
) -> Result<String, ApiError> {
    let iat = state.now().and_utc().timestamp();
    claims.entry("iat").or_insert(Value::from(iat));
    claims
        .entry("exp")
        .or_insert(Value::from(iat + s.expiration_time));
    claims
        .entry("iss")
        .or_insert_with(|| Value::from(issuer(state, s)));
    claims
        .entry("aud")
        .or_insert_with(|| Value::from(audience(state, s)));
    s.keys.sign(state, s, &claims).await
}

/// The token of a session: the wire user (with every plugin's fields) as
/// the payload, `sub` = the user's id. Serialized straight from the user
/// rather than through a JSON tree: it runs on every `get-session`.
pub async fn session_token(
    state: &AppState,
    s: &JwtSettings,
    session: &AuthSession,
) -> Result<String, ApiError> {
    #[derive(Serialize)]
    struct SessionClaims<'a> {
        #[serde(flatten)]
        user: &'a UserCore,
        #[serde(flatten)]
        plugin_fields: Unregistered<'a>,
        sub: &'a str,
        iat: i64,
        exp: i64,
        iss: &'a str,
        aud: &'a str,
    }
    /// Plugin fields, minus any that would shadow a registered claim.
    struct Unregistered<'a>(&'a Map<String, Value>);
    impl Serialize for Unregistered<'_> {
        fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
            const REGISTERED: [&str; 5] = ["sub", "iat", "exp", "iss", "aud"];
            ser.collect_map(
                self.0
                    .iter()
                    .filter(|(k, _)| !REGISTERED.contains(&k.as_str())),
            )
        }
    }
    let user = UserCore::from(&session.user);
    let iat = state.now().and_utc().timestamp();
    let claims = SessionClaims {
        user: &user,
        plugin_fields: Unregistered(&session.user_fields),
        sub: &session.user.id,
        iat,
        exp: iat + s.expiration_time,
        iss: issuer(state, s),
        aud: audience(state, s),
    };
    s.keys.sign(state, s, &claims).await
}
