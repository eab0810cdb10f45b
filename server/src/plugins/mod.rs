//! The plugin registry: the one place that decides which plugins exist.
//!
//! A plugin is a value implementing [`Plugin`] (id, version, migrations,
//! hooks, rate-limit rules, error codes, user fields) plus, if it has routes,
//! a poem-openapi API wrapped in [`Gated`] in [`PluginApis`]. The router, the
//! emitted spec, the migrations run, the rate-limit rules and the plugin list
//! served to clients all come from the same [`PluginRegistry`].

pub mod bearer;
pub mod email_otp;
pub mod magic_link;
pub mod open_api;
pub mod passkey;
pub mod two_factor;
pub mod username;

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures_util::future::BoxFuture;
use poem::{Request, Response};
use poem_openapi::registry::{MetaApi, MetaSchemaRef, Registry};
use poem_openapi::OpenApi;
use serde_json::{Map, Value};

use crate::core::dto::TwoFactorRedirect;
use crate::db::models::UserRow;
use crate::db::store::Tx;
use crate::db::{Db, MigrationSet};
use crate::error::{ApiError, ErrorCode};
use crate::http::context::RequestContext;
use crate::http::rate_limit::RateLimitRule;
use crate::state::AppState;

/// Every plugin's routes, in registration order (a tuple once there are
/// several; nest tuples past 16). A plugin without routes (e.g. `bearer`)
/// has no entry here.
pub type PluginApis = (
    Gated<username::UsernameApi>,
    Gated<magic_link::MagicLinkApi>,
    Gated<email_otp::EmailOtpApi>,
    Gated<two_factor::TwoFactorApi>,
    Gated<passkey::PasskeyApi>,
);

pub fn plugin_apis() -> PluginApis {
    (
        Gated(username::UsernameApi),
        Gated(magic_link::MagicLinkApi),
        Gated(email_otp::EmailOtpApi),
        Gated(two_factor::TwoFactorApi),
        Gated(passkey::PasskeyApi),
    )
}

/// Every built-in plugin. Which of them run is decided by configuration.
pub fn catalog() -> Vec<Arc<dyn Plugin>> {
    vec![
        Arc::new(bearer::Bearer),
        Arc::new(username::Username),
        Arc::new(open_api::OpenApiPlugin),
        Arc::new(magic_link::MagicLink),
        Arc::new(email_otp::EmailOtp),
        Arc::new(two_factor::TwoFactor),
        Arc::new(passkey::Passkey),
    ]
}

/// What a plugin contributes. Every method has a no-op default.
pub trait Plugin: Send + Sync + 'static {
    /// Better Auth's plugin name in kebab-case (`two-factor`, `username`...).
    fn id(&self) -> &'static str;

    fn version(&self) -> &'static str {
        env!("CARGO_PKG_VERSION")
    }

    /// The plugin's own tables/columns; applied after the core migrations.
    fn migrations(&self) -> Option<&'static MigrationSet> {
        None
    }

    fn rate_limit_rules(&self) -> Vec<RateLimitRule> {
        Vec::new()
    }

    /// The error codes this plugin's routes can return.
    fn error_codes(&self) -> &'static [ErrorCode] {
        &[]
    }

    /// The documented contract of this plugin's operations (and the codes it
    /// adds to core operations, e.g. username errors on `signUpEmail`).
    fn route_docs(&self) -> &'static [crate::docs::RouteDoc] {
        &[]
    }

    /// Checks the configuration at start-up, so that nothing the operator
    /// set can fail later at request time. The message names the setting.
    fn check_config(&self, _config: &crate::config::Config) -> Result<(), String> {
        Ok(())
    }

    /// Columns this plugin adds to the user, if any.
    fn user_fields(&self) -> Option<&dyn UserFields> {
        None
    }

    /// Runs after a password sign-in checked out, before any session is
    /// created: a plugin may answer with a challenge instead (two-factor).
    fn challenge_password_sign_in<'a>(
        &'a self,
        _state: &'a Arc<AppState>,
        _ctx: &'a RequestContext,
        _user: &'a UserRow,
        _remember: bool,
    ) -> BoxFuture<'a, Result<Option<TwoFactorRedirect>, ApiError>> {
        Box::pin(async { Ok(None) })
    }

    /// Runs when the owner of an address proves it for an account whose
    /// address was never verified (`core::ownership`): removes the
    /// credentials this plugin holds for the user (passkeys, second factors),
    /// since whoever registered the address may not own it. Runs inside the
    /// caller's transaction.
    fn remove_unproven_credentials<'a>(
        &'a self,
        _tx: Tx<'a>,
        _user_id: &'a str,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(async { Ok(()) })
    }

    /// Runs before routing: may authenticate the request (e.g. bearer tokens).
    fn on_request(&self, _state: &AppState, _req: &Request, _ctx: &mut RequestContext) {}

    /// Runs on every response before it leaves.
    fn on_response(&self, _state: &AppState, _ctx: &RequestContext, _resp: &mut Response) {}

    /// Routes outside the spec (documents, UIs), mounted under the base path.
    fn raw_routes(
        &self,
        _docs: &open_api::SpecDocuments,
        _state: &Arc<AppState>,
    ) -> Vec<(&'static str, poem::endpoint::BoxEndpoint<'static>)> {
        Vec::new()
    }
}

/// Plugin-owned user columns: validated on sign-up and update-user, written
/// in the same transaction as the core write, returned on the user object.
pub trait UserFields: Send + Sync {
    /// JSON properties added to `User`, `SignUpEmailBody` and `UpdateUserBody`.
    fn schema(&self) -> Vec<(&'static str, MetaSchemaRef)>;

    /// False for fields only the server changes (e.g. `twoFactorEnabled`):
    /// they appear on `User` but not in the sign-up and update bodies.
    fn client_settable(&self) -> bool {
        true
    }

    /// Validates and normalises the plugin's fields from a request body.
    /// `user_id` is `None` on sign-up. Returns the values to store (empty: none).
    fn prepare<'a>(
        &'a self,
        state: &'a AppState,
        input: &'a Map<String, Value>,
        user_id: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Map<String, Value>, ApiError>>;

    /// Stores prepared values inside the caller's transaction.
    fn write<'a>(
        &'a self,
        tx: Tx<'a>,
        user_id: &'a str,
        values: &'a Map<String, Value>,
    ) -> BoxFuture<'a, Result<(), ApiError>>;

    /// Loads the fields for the user object.
    fn load<'a>(
        &'a self,
        db: &'a Db,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<Map<String, Value>, ApiError>>;
}

/// A plugin's poem-openapi routes, present only when the plugin is enabled.
pub trait PluginApi: OpenApi {
    const ID: &'static str;
}

/// Wraps a plugin API so that its routes and spec entries exist only inside
/// a [`with_plugins`] scope that enables it. (poem-openapi's `meta` and
/// `register` are associated functions, so the decision must come from a
/// scoped thread-local rather than from `self`.)
pub struct Gated<T>(pub T);

thread_local! {
    static ACTIVE: RefCell<Option<Vec<Arc<dyn Plugin>>>> = const { RefCell::new(None) };
}

/// Runs `f` with `plugins` as the enabled set for spec and router building.
pub fn with_plugins<R>(plugins: &[Arc<dyn Plugin>], f: impl FnOnce() -> R) -> R {
    struct Reset(Option<Vec<Arc<dyn Plugin>>>);
    impl Drop for Reset {
        fn drop(&mut self) {
            let previous = self.0.take();
            ACTIVE.with(|a| *a.borrow_mut() = previous);
        }
    }
    let previous = ACTIVE.with(|a| a.borrow_mut().replace(plugins.to_vec()));
    let _reset = Reset(previous);
    f()
}

pub(crate) fn is_active(id: &str) -> bool {
    ACTIVE.with(|a| {
        a.borrow()
            .as_ref()
            .is_some_and(|ps| ps.iter().any(|p| p.id() == id))
    })
}

/// The route docs of the plugins active in the current scope.
pub(crate) fn active_route_docs() -> Vec<crate::docs::RouteDoc> {
    ACTIVE.with(|a| {
        a.borrow()
            .iter()
            .flatten()
            .flat_map(|p| p.route_docs().iter().copied())
            .collect()
    })
}

/// The user-field schemas of the plugins active in the current scope; for
/// request bodies (`input`), only the fields clients may set.
pub(crate) fn active_user_field_schemas(input: bool) -> Vec<(&'static str, MetaSchemaRef)> {
    ACTIVE.with(|a| {
        a.borrow()
            .iter()
            .flatten()
            .filter_map(|p| p.user_fields())
            .filter(|f| !input || f.client_settable())
            .flat_map(|f| f.schema())
            .collect()
    })
}

impl<T: PluginApi> OpenApi for Gated<T> {
    fn meta() -> Vec<MetaApi> {
        if is_active(T::ID) {
            T::meta()
        } else {
            Vec::new()
        }
    }

    fn register(registry: &mut Registry) {
        if is_active(T::ID) {
            T::register(registry)
        }
    }

    fn add_routes(
        self,
        route_table: &mut HashMap<
            String,
            HashMap<poem::http::Method, poem::endpoint::BoxEndpoint<'static>>,
        >,
    ) {
        if is_active(T::ID) {
            self.0.add_routes(route_table)
        }
    }
}

/// The enabled plugins, validated.
#[derive(Clone)]
pub struct PluginRegistry {
    plugins: Vec<Arc<dyn Plugin>>,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("unknown plugin {0:?}; known plugins: {1}")]
    Unknown(String, String),
    #[error("plugin {0:?} is registered twice")]
    Duplicate(String),
    #[error("error code {code} is declared by both {first} and {second}")]
    DuplicateErrorCode {
        code: &'static str,
        first: String,
        second: String,
    },
}

impl PluginRegistry {
    /// Resolves ids against the built-in catalog.
    pub fn from_ids(ids: &[String]) -> Result<Self, RegistryError> {
        let catalog = catalog();
        let mut plugins = Vec::new();
        for id in ids {
            let plugin = catalog.iter().find(|p| p.id() == id).ok_or_else(|| {
                RegistryError::Unknown(
                    id.clone(),
                    catalog
                        .iter()
                        .map(|p| p.id())
                        .collect::<Vec<_>>()
                        .join(", "),
                )
            })?;
            plugins.push(plugin.clone());
        }
        Self::new(plugins)
    }

    /// Validates a plugin set: unique ids and unique error codes.
    pub fn new(plugins: Vec<Arc<dyn Plugin>>) -> Result<Self, RegistryError> {
        let mut ids = HashSet::new();
        let mut codes: HashMap<&'static str, String> = crate::error::codes::ALL
            .iter()
            .map(|c| (c.code, "core".to_string()))
            .collect();
        for p in &plugins {
            if !ids.insert(p.id()) {
                return Err(RegistryError::Duplicate(p.id().into()));
            }
            for c in p.error_codes() {
                if let Some(first) = codes.insert(c.code, p.id().into()) {
                    // Plugins may re-declare a core code with the same meaning.
                    if first != "core" {
                        return Err(RegistryError::DuplicateErrorCode {
                            code: c.code,
                            first,
                            second: p.id().into(),
                        });
                    }
                }
            }
        }
        Ok(PluginRegistry { plugins })
    }

    pub fn all(&self) -> &[Arc<dyn Plugin>] {
        &self.plugins
    }

    pub fn is_enabled(&self, id: &str) -> bool {
        self.plugins.iter().any(|p| p.id() == id)
    }

    pub fn user_fields(&self) -> impl Iterator<Item = &dyn UserFields> {
        self.plugins.iter().filter_map(|p| p.user_fields())
    }

    pub fn migrations(&self) -> Vec<&'static MigrationSet> {
        self.plugins.iter().filter_map(|p| p.migrations()).collect()
    }

    pub fn rate_limit_rules(&self) -> Vec<RateLimitRule> {
        self.plugins
            .iter()
            .flat_map(|p| p.rate_limit_rules())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake(&'static str, &'static [ErrorCode]);
    impl Plugin for Fake {
        fn id(&self) -> &'static str {
            self.0
        }
        fn error_codes(&self) -> &'static [ErrorCode] {
            self.1
        }
    }

    const A: &[ErrorCode] = &[ErrorCode {
        code: "SAME_CODE",
        message: "a",
        status: 400,
    }];

    #[test]
    fn duplicate_ids_and_codes_are_refused() {
        let dup = PluginRegistry::new(vec![Arc::new(Fake("x", &[])), Arc::new(Fake("x", &[]))]);
        assert!(matches!(dup, Err(RegistryError::Duplicate(id)) if id == "x"));
        let codes = PluginRegistry::new(vec![Arc::new(Fake("a", A)), Arc::new(Fake("b", A))]);
        let err = codes.err().expect("duplicate code refused").to_string();
        assert!(
            err.contains("SAME_CODE") && err.contains('a') && err.contains('b'),
            "{err}"
        );
    }

    #[test]
    fn unknown_plugin_is_named() {
        let err = PluginRegistry::from_ids(&["nope".into()])
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("nope") && err.contains("username"), "{err}");
    }
}
