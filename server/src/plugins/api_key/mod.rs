//! `api-key`: API keys on Better Auth's wire (`@better-auth/api-key`):
//! create, get, list, update and delete over HTTP; verification and the
//! expired-key sweep as server-side calls only; several key
//! configurations selected by `configId`; keys owned by users or by
//! organizations; a key in `x-api-key` standing for its owner's session
//! (`enable_session_for_api_keys`). Keys are stored only as SHA-256;
//! `remaining`, refills and the per-key rate limit are spent with
//! conditional updates, so concurrent requests cannot overspend a key.

pub mod dto;
pub mod errors;
pub mod routes;
pub mod server_api;
pub mod service;
pub mod settings;
pub mod store;

use chrono::Duration;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use poem::http::HeaderMap;

pub use routes::ApiKeyApi;
use settings::{ApiKeySettings, References};

use crate::core::session::{load_user_fields, AuthSession};
use crate::crypto::token;
use crate::db::models::SessionRow;
use crate::db::MigrationSet;
use crate::error::{ApiError, ErrorCode};
use crate::http::context::RequestContext;
use crate::plugin::Plugin;
use crate::state::AppState;

/// The plugin's id: its spec tag, `/plugins` entry, configuration section and client namespace.
pub const ID: &str = "api-key";
pub const DESCRIPTION: &str =
    "API keys: create, list, update and delete over HTTP, verification server-side; a key in `x-api-key` can stand for its owner's session.";

pub struct ApiKeyPlugin;

pub const MIGRATIONS: MigrationSet = crate::migration_set!(
    "../migrations/sqlite/api_key",
    "../migrations/postgres/api_key"
);

/// A key found in a request header by `on_request`, for `authenticate`.
#[derive(Clone)]
struct PresentedApiKey {
    key: String,
    /// The configuration whose header carried it.
    config_id: String,
}

impl Plugin for ApiKeyPlugin {
    fn id(&self) -> &'static str {
        ID
    }

    fn description(&self) -> &'static str {
        DESCRIPTION
    }

    fn client_factory(&self) -> Option<&'static str> {
        Some("apiKeyClient")
    }

    fn configure(
        &self,
        section: Option<&toml::Value>,
        config: &crate::config::Config,
    ) -> Result<Option<crate::plugin::Settings>, String> {
        let organization = config
            .plugins
            .iter()
            .any(|p| p == crate::plugins::organization::ID);
        let settings = ApiKeySettings::parse(section, organization)?;
        Ok(Some(crate::plugin::Settings::new(settings)))
    }

    fn migrations(&self) -> Option<&'static MigrationSet> {
        Some(&MIGRATIONS)
    }

    fn error_codes(&self) -> &'static [ErrorCode] {
        errors::ALL
    }

    fn route_docs(&self) -> &'static [crate::docs::RouteDoc] {
        routes::ROUTE_DOCS
    }

    fn on_request(&self, state: &AppState, headers: &HeaderMap, ctx: &mut RequestContext) {
        let settings = state.settings::<ApiKeySettings>();
        for cfg in settings.all().filter(|c| c.enable_session_for_api_keys) {
            for name in cfg.api_key_headers.names() {
                if let Some(value) = headers.get(name.as_str()) {
                    ctx.extensions.insert(PresentedApiKey {
                        // An unreadable value is no key: refused as too short.
                        key: value.to_str().unwrap_or_default().to_string(),
                        config_id: cfg.config_id.clone(),
                    });
                    return;
                }
            }
        }
    }

    fn authenticate<'a>(
        &'a self,
        state: &'a AppState,
        ctx: &'a RequestContext,
    ) -> BoxFuture<'a, Result<Option<AuthSession>, ApiError>> {
        async move {
            let Some(presented) = ctx.extensions.get::<PresentedApiKey>() else {
                return Ok(None);
            };
            session_from_key(state, ctx, presented).await.map(Some)
        }
        .boxed()
    }
}

/// The session a key in the header stands for (Better Auth's synthetic
/// session: id = the key's id, token = the key, expiring with the key).
async fn session_from_key(
    state: &AppState,
    ctx: &RequestContext,
    presented: &PresentedApiKey,
) -> Result<AuthSession, ApiError> {
    let settings = state.settings::<ApiKeySettings>();
    let cfg = settings.resolve(Some(&presented.config_id));
    if presented.key.len() < cfg.default_key_length {
        return Err(ApiError::new(errors::INVALID_API_KEY).with_status(403));
    }
    // The default configuration's header accepts a key of any configuration.
    let expected = (!settings::is_default_config_id(Some(&presented.config_id)))
        .then_some(presented.config_id.as_str());
    // Keys that need no accounting on each use (no `remaining`, no per-key
    // rate limit) are served from the session cache for its TTL, like
    // cookie sessions: their `lastRequest` then moves at most once per TTL.
    let cache_key = service::session_cache_key(&token::hash_token(&presented.key));
    let now = state.now();
    if expected.is_none() {
        if let Some(cached) = state
            .sessions
            .get_authenticated(&cache_key, &presented.key, now)
        {
            return Ok(cached);
        }
    }
    let row = service::validate(state, &presented.key, expected, None).await?;
    let invalid_reference = || ApiError::new(errors::INVALID_REFERENCE_ID_FROM_API_KEY);
    let own = settings.resolve(Some(&row.config_id));
    if cfg.references != References::User || own.references != References::User {
        return Err(invalid_reference());
    }
    let user = crate::db::store::find_user_by_id(&state.db, &row.reference_id)
        .await?
        .ok_or_else(invalid_reference)?;
    let session = SessionRow {
        id: row.id.clone(),
        expires_at: row
            .expires_at
            .unwrap_or_else(|| now + Duration::seconds(state.config.session.expires_in)),
        token_hash: row.key.clone(),
        created_at: now,
        updated_at: now,
        ip_address: ctx.client_ip.map(|ip| ip.to_string()),
        user_agent: ctx.user_agent.clone(),
        user_id: user.id.clone(),
    };
    let authenticated = AuthSession {
        user_fields: load_user_fields(state, &user.id).await?,
        // No session row stands behind it, so no plugin session columns
        // either (Better Auth's synthetic session has none).
        session_fields: Default::default(),
        session,
        user,
        token: presented.key.clone(),
    };
    let rate_limited = own.rate_limit.enabled && row.rate_limit_enabled != Some(false);
    if row.remaining.is_none() && !rate_limited {
        state
            .sessions
            .put_authenticated(cache_key, &authenticated, now);
    }
    Ok(authenticated)
}
