//! Gatehouse: an authentication server, wire-compatible with Better Auth.
//!
//! Run it as the `gatehouse` binary, or embed it: build a [`Gatehouse`] from a
//! [`Config`], nest [`Gatehouse::endpoint`] under the base path of your poem
//! app, call [`Gatehouse::api`] for server-side operations, and protect your
//! own routes with [`extract::SessionMiddleware`] / [`extract::CurrentSession`].

pub mod api;
pub mod config;
pub mod core;
pub mod crypto;
pub mod db;
pub mod docs;
pub mod error;
pub mod extract;
pub mod http;
pub mod mail;
pub mod plugin;
pub mod plugins;
pub mod shared;
pub mod social;
pub mod state;

use std::path::PathBuf;
use std::sync::Arc;

use poem::endpoint::BoxEndpoint;
use poem::middleware::CatchPanic;
use poem::{EndpointExt, Route};
use poem_openapi::OpenApiService;

pub use crate::api::ServerApi;
pub use crate::config::Config;
pub use crate::error::{ApiError, ErrorBody};
pub use crate::state::{AppState, Clock, ManualClock, SystemClock};

use crate::config::{Environment, RateLimitStorage};
use crate::core::routes::CoreApi;
use crate::crypto::password::PasswordHasher;
use crate::db::{Db, CORE_MIGRATIONS};
use crate::http::client_ip::ClientIpResolver;
use crate::http::cookies::CookieNames;
use crate::http::origin::TrustedOrigins;
use crate::http::pipeline::Pipeline;
use crate::http::rate_limit::{builtin_rules, CounterStore, RateLimitRule, RateLimiter};
use crate::plugin::{PluginRegistry, SpecDocuments};
use crate::plugins::PluginApis;

/// Every route: the core first (social sign-in included), then each plugin's (gated) API.
pub type AuthApis = (CoreApi, social::routes::SocialApi, PluginApis);

fn auth_apis() -> AuthApis {
    (CoreApi, social::routes::SocialApi, plugins::plugin_apis())
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Plugins(#[from] plugin::RegistryError),
    #[error(transparent)]
    Storage(#[from] db::StorageError),
    #[error("{0}")]
    Other(String),
}

/// The spec and the routes for one plugin set, built in one gating scope so
/// they cannot disagree.
struct Built {
    spec: Arc<String>,
    endpoint: BoxEndpoint<'static>,
}

fn build_service(config: &Config, registry: &PluginRegistry) -> Built {
    plugin::with_plugins(registry.all(), || {
        let service = OpenApiService::new(
            docs::Documented(auth_apis()),
            format!("{} API", config.app_name),
            env!("CARGO_PKG_VERSION"),
        )
        .description("Authentication API, wire-compatible with Better Auth.")
        .license("Apache-2.0")
        .server(format!("{}{}", config.base_url(), config.base_path));
        let spec = Arc::new(docs::finish_document(&service.spec()));
        Built {
            spec,
            endpoint: service.boxed(),
        }
    })
}

/// Validates a configuration the way `serve` does (core settings, then each
/// enabled plugin's section) without touching a database.
pub fn check_config(config: &Config) -> Result<PluginRegistry, StartError> {
    config.validate()?;
    Ok(PluginRegistry::configure(&plugins::catalog(), config)?)
}

/// The OpenAPI document for a configuration's plugin set, without touching
/// a database (settings do not change the spec, so they are not checked).
pub fn openapi_spec(config: &Config) -> Result<String, StartError> {
    let registry = PluginRegistry::resolve(&plugins::catalog(), &config.plugins)?;
    Ok(build_service(config, &registry).spec.to_string())
}

/// A running Gatehouse instance: state, routes and spec.
pub struct Gatehouse {
    state: Arc<AppState>,
    spec: Arc<String>,
    endpoint: Arc<BoxEndpoint<'static>>,
    /// Plugins' routes at the origin root (see `Plugin::root_routes`).
    root_routes: Vec<(String, Arc<BoxEndpoint<'static>>)>,
}

/// Options for [`Gatehouse::build`].
pub struct GatehouseBuilder {
    config: Config,
    clock: Arc<dyn Clock>,
    migrate: bool,
}

impl GatehouseBuilder {
    /// Substitutes the clock (tests, simulations).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Skips running migrations at start (when `gatehouse migrate` runs separately).
    pub fn skip_migrations(mut self) -> Self {
        self.migrate = false;
        self
    }

    pub async fn build(self) -> Result<Gatehouse, StartError> {
        let config = self.config;
        let registry = check_config(&config)?;
        let db = Db::connect(&config.database_url, config.database_pool_size).await?;
        // The database must answer before a development secret is written
        // beside it: a wrong DATABASE_URL leaves no file behind.
        db.batch_execute("SELECT 1").await?;
        if self.migrate {
            run_migrations(&db, &registry).await?;
        }
        let secret = resolve_secret(&config)?;
        // Providers resolve before anything serves: a discovery document
        // that cannot be fetched stops the start here, naming the provider.
        let social = social::SocialRegistry::build(&config.social, registry.social_providers())
            .await
            .map_err(StartError::Other)?;
        let mut rules = builtin_rules();
        rules.extend(registry.rate_limit_rules());
        rules.extend(
            config
                .rate_limit
                .rules
                .iter()
                .map(|r| RateLimitRule::new(&r.path, r.window, r.max)),
        );
        let redis = shared::Redis::connect(&config.secondary_storage)
            .await
            .map_err(|e| StartError::Other(format!("secondary storage: {e}")))?
            .map(Arc::new);
        let store = match (config.rate_limit_storage(), &redis) {
            (RateLimitStorage::Redis, Some(r)) => CounterStore::Redis(r.clone()),
            (RateLimitStorage::Database, _) => CounterStore::Database(db.clone()),
            _ => CounterStore::Memory,
        };
        let limiter = RateLimiter::with_store(
            config.rate_limit.enabled,
            RateLimitRule::new("*", config.rate_limit.window, config.rate_limit.max),
            rules,
            store,
        );
        let state = Arc::new(AppState {
            hasher: PasswordHasher::new(config.password_hash.clone())
                .map_err(|e| StartError::Other(e.to_string()))?,
            cookies: CookieNames::new(&config),
            origins: TrustedOrigins::new(config.base_origin(), &config.trusted_origins),
            client_ip: ClientIpResolver::new(&config.ip).map_err(StartError::Other)?,
            limiter,
            redis,
            sessions: core::session::SessionCache::new(
                config.session.cache_ttl,
                self.clock.clone(),
            ),
            mailer: Arc::new(
                mail::Mailer::from_config(&config.mail, config.env).map_err(StartError::Other)?,
            ),
            plugins: registry,
            social,
            secret,
            db,
            clock: self.clock,
            config,
        });
        shared::revocation::start(&state);
        for plugin in state.plugins.all() {
            plugin
                .on_start(&state)
                .await
                .map_err(|e| StartError::Other(format!("plugin {:?}: {e}", plugin.id())))?;
        }
        let built = build_service(&state.config, &state.plugins);
        let docs = SpecDocuments {
            json: built.spec.clone(),
            title: format!("{} API", state.config.app_name),
        };
        let mut route = Route::new();
        for plugin in state.plugins.all() {
            for (path, ep) in plugin.raw_routes(&docs, &state) {
                route = route.at(path, ep);
            }
        }
        let route = route.nest("/", built.endpoint);
        let inner = route.with(CatchPanic::new()).data(state.clone());
        let bodies = http::body_schema::BodySchemas::from_spec(&built.spec);
        let endpoint = Pipeline {
            state: state.clone(),
            bodies,
            routes: http::metrics::RouteTemplates::from_spec(&built.spec),
            inner,
        }
        .boxed();
        let mut root_routes: Vec<(String, Arc<BoxEndpoint<'static>>)> = Vec::new();
        if state.config.server.metrics {
            root_routes.push((
                "/metrics".into(),
                Arc::new(http::metrics::endpoint(
                    state.config.server.metrics_token.clone(),
                )),
            ));
        }
        root_routes.extend(
            state
                .plugins
                .all()
                .iter()
                .flat_map(|p| p.root_routes(&state))
                .map(|(path, ep)| (path, Arc::new(ep))),
        );
        Ok(Gatehouse {
            state,
            spec: built.spec,
            endpoint: Arc::new(endpoint),
            root_routes,
        })
    }
}

/// Applies the core migrations, then each enabled plugin's.
pub async fn run_migrations(db: &Db, registry: &PluginRegistry) -> Result<usize, StartError> {
    let mut sets = vec![&CORE_MIGRATIONS];
    sets.extend(registry.migrations());
    Ok(db.migrate(&sets).await?)
}

impl Gatehouse {
    pub fn builder(config: Config) -> GatehouseBuilder {
        GatehouseBuilder {
            config,
            clock: Arc::new(SystemClock),
            migrate: true,
        }
    }

    /// The auth API with paths relative to the base path: nest it at
    /// `config.base_path` in your own `Route`.
    pub fn endpoint(&self) -> Arc<BoxEndpoint<'static>> {
        self.endpoint.clone()
    }

    /// A complete app: the auth API nested at the configured base path,
    /// and the plugins' routes at the origin root.
    pub fn app(&self) -> Route {
        self.root_routes()
            .into_iter()
            .fold(Route::new(), |route, (path, ep)| route.at(path, ep))
            .nest(&self.state.config.base_path, self.endpoint.clone())
    }

    /// Routes the enabled plugins serve at the origin root, outside the base
    /// path (e.g. `oauth-provider`'s `/.well-known/openid-configuration`):
    /// an app that nests [`Gatehouse::endpoint`] itself mounts these too.
    pub fn root_routes(&self) -> Vec<(String, Arc<BoxEndpoint<'static>>)> {
        self.root_routes.clone()
    }

    /// Server-side operations that bypass HTTP concerns (rate limits, origins).
    pub fn api(&self) -> ServerApi {
        ServerApi::new(self.state.clone())
    }

    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// The OpenAPI document of exactly the registered plugins.
    pub fn spec_json(&self) -> &str {
        &self.spec
    }
}

/// The configured secret; in development a missing one is generated once and
/// kept (mode 0600) beside the database so sessions survive restarts.
fn resolve_secret(config: &Config) -> Result<String, StartError> {
    if let Some(s) = &config.secret {
        if s.chars().count() < 32 {
            tracing::warn!(
                "the secret is shorter than 32 characters; production mode would refuse it"
            );
        }
        return Ok(s.clone());
    }
    if config.env == Environment::Production {
        return Err(StartError::Other(
            "production mode needs GATEHOUSE_SECRET".into(),
        ));
    }
    let path = dev_secret_path(&config.database_url);
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim().to_string();
        if existing.len() >= 32 {
            tracing::warn!(path = %path.display(), "using the generated development secret; set GATEHOUSE_SECRET in production");
            return Ok(existing);
        }
    }
    let secret = generate_secret();
    write_private_file(&path, &secret)
        .map_err(|e| StartError::Other(format!("cannot write {}: {e}", path.display())))?;
    tracing::warn!(path = %path.display(), "generated a development secret; set GATEHOUSE_SECRET in production");
    Ok(secret)
}

/// 32 random bytes, base64url: what `gatehouse secret` prints.
pub fn generate_secret() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn dev_secret_path(database_url: &str) -> PathBuf {
    match database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
    {
        Some(path) => PathBuf::from(format!("{path}.secret")),
        None => PathBuf::from(".gatehouse-secret"),
    }
}

fn write_private_file(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(contents.as_bytes())
}
