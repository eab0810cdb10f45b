//! The plugin machinery: the [`Plugin`] trait and its hook points, the
//! [`PluginRegistry`] built from configuration, plugin settings
//! ([`settings`]), and the gating that makes a plugin's routes and spec
//! entries exist only when it is enabled. It names no concrete plugin: the
//! built-in plugins are declared once, in `crate::plugins`, with
//! [`declare_plugins!`](crate::declare_plugins).

pub mod access;
pub mod audit;
mod declare;
pub mod settings;

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use futures_util::future::BoxFuture;
use poem::http::HeaderMap;
use poem::Response;
use poem_openapi::registry::{MetaApi, MetaSchemaRef, MetaSecurityScheme, MetaTag, Registry};
use poem_openapi::types::{ToJSON, Type};
use poem_openapi::OpenApi;
use serde_json::{Map, Value};

pub use settings::{parse_section, section_name, Settings, SettingsMap};

use crate::config::Config;
use crate::core::session::AuthSession;
use crate::db::models::UserRow;
use crate::db::store::Tx;
use crate::db::{Db, MigrationSet};
use crate::error::{ApiError, ErrorCode};
use crate::http::context::RequestContext;
use crate::http::rate_limit::RateLimitRule;
use crate::mail::templates::MailKind;
use crate::state::AppState;

/// What a plugin contributes. Every method but [`Plugin::id`] has a no-op default.
pub trait Plugin: Send + Sync + 'static {
    /// Better Auth's plugin name in kebab-case (`my-plugin`): the spec tag,
    /// the `/plugins` entry, the configuration section (`[my_plugin]`) and
    /// the client namespace all follow from it. One constant in the plugin's
    /// folder, `ID`.
    fn id(&self) -> &'static str;

    /// One line: what the plugin does (the spec tag's description, `gatehouse info`).
    fn description(&self) -> &'static str {
        ""
    }

    fn version(&self) -> &'static str {
        env!("CARGO_PKG_VERSION")
    }

    /// Better Auth's name for the client plugin factory, when it is not
    /// `<camelCaseId>Client` (generated clients use it; the spec's tag says it).
    fn client_factory(&self) -> Option<&'static str> {
        None
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
    /// adds to core operations, e.g. its own errors on `signUpEmail`).
    fn route_docs(&self) -> &'static [crate::docs::RouteDoc] {
        &[]
    }

    /// Parses the plugin's configuration section (`None` when the file has
    /// none) and checks it against the rest of the configuration, so that
    /// nothing the operator set can fail later at request time. Errors name
    /// the setting. The value returned is what the plugin's code reads back
    /// with [`AppState::settings`]. A plugin without settings refuses any section.
    fn configure(
        &self,
        section: Option<&toml::Value>,
        _config: &Config,
    ) -> Result<Option<Settings>, String> {
        match section {
            None => Ok(None),
            Some(_) => Err(format!("plugin {:?} has no settings", self.id())),
        }
    }

    /// The mails this plugin sends; each can be overridden under
    /// `[mail.templates.<key>]`.
    fn mail_templates(&self) -> &'static [MailKind] {
        &[]
    }

    /// Enabled when the configuration does not list plugins.
    fn enabled_by_default(&self) -> bool {
        false
    }

    /// Paths (under the base path) that accept HTML form posts and so get the
    /// form-CSRF check.
    fn form_paths(&self) -> &'static [&'static str] {
        &[]
    }

    /// A security scheme this plugin adds to every operation that needs a
    /// session (e.g. an `Authorization` header scheme), by its name in the spec.
    fn security_scheme(&self) -> Option<(&'static str, MetaSecurityScheme)> {
        None
    }

    /// The schema of the challenge [`Plugin::challenge_password_sign_in`]
    /// answers with, added to the sign-in result's `oneOf`.
    fn sign_in_challenge(&self) -> Option<SchemaOf> {
        None
    }

    /// Columns this plugin adds to the user, if any.
    fn user_fields(&self) -> Option<&dyn UserFields> {
        None
    }

    /// Columns this plugin adds to the session, if any.
    fn session_fields(&self) -> Option<&dyn SessionFields> {
        None
    }

    /// Runs before any session is created for `user_id` (every sign-in
    /// method creates its session through `core::session::create_session`):
    /// an error refuses the session and is the answer.
    fn check_new_session<'a>(
        &'a self,
        _state: &'a AppState,
        _user_id: &'a str,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(async { Ok(()) })
    }

    /// Sign-in providers this plugin adds to the built-in ones (e.g.
    /// `generic-oauth`'s), from its parsed `settings`. Resolved (and
    /// discovered) at start-up by `social::SocialRegistry`.
    fn social_providers(&self, _settings: &SettingsMap) -> Vec<crate::social::ProviderSpec> {
        Vec::new()
    }

    /// Runs once at start-up, after the migrations (e.g. creating a
    /// bootstrap account). An error stops the start with its message.
    fn on_start<'a>(&'a self, _state: &'a Arc<AppState>) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }

    /// Runs after a password sign-in checked out, before any session is
    /// created: a plugin may answer with a challenge instead (a second factor).
    fn challenge_password_sign_in<'a>(
        &'a self,
        _state: &'a Arc<AppState>,
        _ctx: &'a RequestContext,
        _user: &'a UserRow,
        _remember: bool,
    ) -> BoxFuture<'a, Result<Option<SignInChallenge>, ApiError>> {
        Box::pin(async { Ok(None) })
    }

    /// Runs when the owner of an address proves it for an account whose
    /// address was never verified (`core::ownership`): removes the
    /// credentials this plugin holds for the user (security keys, second factors),
    /// since whoever registered the address may not own it. Runs inside the
    /// caller's transaction.
    fn remove_unproven_credentials<'a>(
        &'a self,
        _tx: Tx<'a>,
        _user_id: &'a str,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(async { Ok(()) })
    }

    /// Runs before routing, and for server-side calls made with request
    /// headers: may authenticate the request (e.g. a token in a header) by putting
    /// data in the context's extensions.
    fn on_request(&self, _state: &AppState, _headers: &HeaderMap, _ctx: &mut RequestContext) {}

    /// Authenticates a request by something other than the session cookie
    /// (an API key header, say): the session it stands for, or `None` to
    /// leave the request to the cookie. Asked once per request, before the
    /// cookie; an error is the answer of any route that reads the session.
    /// Every plugin's `check_new_session` still applies to the user.
    fn authenticate<'a>(
        &'a self,
        _state: &'a AppState,
        _ctx: &'a RequestContext,
    ) -> BoxFuture<'a, Result<Option<AuthSession>, ApiError>> {
        Box::pin(async { Ok(None) })
    }

    /// Runs on every response before it leaves, with the route's path
    /// under the base path: may add headers and cookies, and do I/O (the
    /// request's created or resolved session is on `ctx`).
    fn after_response<'a>(
        &'a self,
        _state: &'a AppState,
        _ctx: &'a RequestContext,
        _path: &'a str,
        _resp: &'a mut Response,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }

    /// The plugin's operator commands, run as `gatehouse <plugin-id>
    /// <args>...` on the server's configuration and database: what only
    /// the operator may do, never over HTTP (Better Auth's server-only
    /// calls). `args` follow the plugin id; the answer is what to print, or
    /// why the command failed (its usage included). `None`: no commands.
    fn command<'a>(
        &'a self,
        _api: &'a crate::api::ServerApi,
        _args: &'a [String],
    ) -> Option<BoxFuture<'a, Result<String, String>>> {
        None
    }

    /// Other plugins this one needs enabled (by id), e.g. `oauth-provider`
    /// signs its ID tokens with `jwt`'s keys. A registration without them
    /// is refused at start-up, naming what to add.
    fn requires(&self) -> &'static [&'static str] {
        &[]
    }

    /// Paths (under the base path) that speak OAuth 2 rather than Better
    /// Auth's JSON (RFC 6749 §5.2): they take form-urlencoded bodies as
    /// well as JSON, and the pipeline's own refusals there (body rules,
    /// validation, origin) are `{"error", "error_description"}`, the shape
    /// every OAuth client library reads.
    fn oauth_paths(&self) -> &'static [&'static str] {
        &[]
    }

    /// Routes at the origin root, outside the base path and its pipeline:
    /// documents that specifications place there (RFC 8414's
    /// `/.well-known/oauth-authorization-server`). `Gatehouse::app` mounts
    /// them; an app that nests `Gatehouse::endpoint` itself mounts
    /// `Gatehouse::root_routes`.
    fn root_routes(
        &self,
        _state: &Arc<AppState>,
    ) -> Vec<(String, poem::endpoint::BoxEndpoint<'static>)> {
        Vec::new()
    }

    /// Routes outside the spec (documents, UIs), mounted under the base path.
    fn raw_routes(
        &self,
        _docs: &SpecDocuments,
        _state: &Arc<AppState>,
    ) -> Vec<(&'static str, poem::endpoint::BoxEndpoint<'static>)> {
        Vec::new()
    }
}

/// The spec document, built once at start-up, for plugins that serve it.
pub struct SpecDocuments {
    pub json: Arc<String>,
    /// The API's title (`<app name> API`).
    pub title: String,
}

/// A schema a plugin contributes to a core type, taken from a poem-openapi type.
#[derive(Clone, Copy)]
pub struct SchemaOf {
    pub schema_ref: fn() -> MetaSchemaRef,
    pub register: fn(&mut Registry),
}

impl SchemaOf {
    pub fn of<T: Type>() -> Self {
        SchemaOf {
            schema_ref: T::schema_ref,
            register: T::register,
        }
    }
}

/// A plugin's answer instead of a session (see [`Plugin::sign_in_challenge`]).
#[derive(Debug, Clone)]
pub struct SignInChallenge(pub Value);

impl SignInChallenge {
    pub fn new<T: ToJSON>(value: &T) -> Self {
        SignInChallenge(value.to_json().unwrap_or(Value::Null))
    }
}

/// Plugin-owned user columns: validated on sign-up and update-user, written
/// in the same transaction as the core write, returned on the user object.
pub trait UserFields: Send + Sync {
    /// JSON properties added to `User`, `SignUpEmailBody` and `UpdateUserBody`.
    fn schema(&self) -> Vec<(&'static str, MetaSchemaRef)>;

    /// False for fields only the server changes (e.g. an "enabled" flag):
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

/// Plugin-owned session columns (e.g. the active organization): loaded
/// with the session, returned on the session object.
pub trait SessionFields: Send + Sync {
    /// JSON properties added to `Session`.
    fn schema(&self) -> Vec<(&'static str, MetaSchemaRef)>;

    /// Loads the fields of one session.
    fn load<'a>(
        &'a self,
        db: &'a Db,
        session_id: &'a str,
    ) -> BoxFuture<'a, Result<Map<String, Value>, ApiError>>;

    /// Whether a session with these fields appears in its user's own
    /// `list-sessions` (an impersonation session, say, does not).
    fn listed(&self, _fields: &Map<String, Value>) -> bool {
        true
    }
}

/// A plugin's poem-openapi routes, present only when the plugin is enabled.
/// Every operation is tagged with the plugin's id (whatever the API's own
/// attributes say), so the spec's tags are exactly `core` and plugin ids.
pub trait PluginApi: OpenApi {
    /// The plugin's id (the same constant its [`Plugin::id`] returns).
    const ID: &'static str;
    /// The spec tag's description.
    const DESCRIPTION: &'static str;
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

fn is_active(id: &str) -> bool {
    ACTIVE.with(|a| {
        a.borrow()
            .as_ref()
            .is_some_and(|ps| ps.iter().any(|p| p.id() == id))
    })
}

/// The plugins active in the current scope.
pub(crate) fn active_plugins() -> Vec<Arc<dyn Plugin>> {
    ACTIVE.with(|a| a.borrow().clone().unwrap_or_default())
}

/// The route docs of the plugins active in the current scope.
pub(crate) fn active_route_docs() -> Vec<crate::docs::RouteDoc> {
    active_plugins()
        .iter()
        .flat_map(|p| p.route_docs().iter().copied())
        .collect()
}

/// The user-field schemas of the plugins active in the current scope; for
/// request bodies (`input`), only the fields clients may set.
pub(crate) fn active_user_field_schemas(input: bool) -> Vec<(&'static str, MetaSchemaRef)> {
    active_plugins()
        .iter()
        .filter_map(|p| p.user_fields())
        .filter(|f| !input || f.client_settable())
        .flat_map(|f| f.schema())
        .collect()
}

/// The session-field schemas of the plugins active in the current scope.
pub(crate) fn active_session_field_schemas() -> Vec<(&'static str, MetaSchemaRef)> {
    active_plugins()
        .iter()
        .filter_map(|p| p.session_fields())
        .flat_map(|f| f.schema())
        .collect()
}

impl<T: PluginApi> OpenApi for Gated<T> {
    fn meta() -> Vec<MetaApi> {
        if !is_active(T::ID) {
            return Vec::new();
        }
        let mut apis = T::meta();
        for op in apis
            .iter_mut()
            .flat_map(|a| a.paths.iter_mut())
            .flat_map(|p| p.operations.iter_mut())
        {
            op.tags = vec![T::ID];
        }
        apis
    }

    fn register(registry: &mut Registry) {
        if is_active(T::ID) {
            T::register(registry);
            registry.tags.insert(MetaTag {
                name: T::ID,
                description: Some(T::DESCRIPTION),
                external_docs: None,
            });
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

/// The enabled plugins, validated and configured.
#[derive(Clone)]
pub struct PluginRegistry {
    plugins: Vec<Arc<dyn Plugin>>,
    settings: SettingsMap,
    form_paths: Arc<HashSet<&'static str>>,
    oauth_paths: Arc<HashSet<&'static str>>,
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
    #[error("mail template {key:?} is declared by both {first} and {second}")]
    DuplicateMailKind {
        key: &'static str,
        first: String,
        second: String,
    },
    #[error("plugin {plugin:?} needs plugin {needs:?}: add {needs:?} to `plugins` (or GATEHOUSE_PLUGINS)")]
    MissingRequirement { plugin: String, needs: &'static str },
    #[error("{0}")]
    Config(String),
}

/// Paths under the base path that accept HTML form posts, besides plugins'.
const CORE_FORM_PATHS: &[&str] = &["/sign-in/email", "/sign-up/email"];

impl PluginRegistry {
    /// Resolves `config.plugins` against `catalog`, then has each plugin
    /// parse and check its section. A section for an unknown plugin, or for
    /// one that is not enabled, is an error naming it and the valid choices.
    pub fn configure(catalog: &[Arc<dyn Plugin>], config: &Config) -> Result<Self, RegistryError> {
        let mut registry = Self::resolve(catalog, &config.plugins)?;
        for name in config.plugin_sections.keys() {
            match catalog.iter().find(|p| section_name(p.id()) == *name) {
                None => {
                    return Err(RegistryError::Config(format!(
                        "unknown configuration section [{name}]: no plugin has that id; plugin sections: {}",
                        catalog
                            .iter()
                            .map(|p| section_name(p.id()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )))
                }
                Some(p) if !registry.is_enabled(p.id()) => {
                    return Err(RegistryError::Config(format!(
                        "configuration section [{name}] is for plugin {:?}, which is not enabled; \
                         add it to `plugins` (or GATEHOUSE_PLUGINS) or remove the section; enabled: {}",
                        p.id(),
                        registry.ids().join(", ")
                    )))
                }
                Some(_) => {}
            }
        }
        let mut settings = SettingsMap::default();
        for p in &registry.plugins {
            let name = section_name(p.id());
            let configured = p
                .configure(config.plugin_sections.get(&name), config)
                .map_err(|e| RegistryError::Config(format!("[{name}] {e}")))?;
            if let Some(s) = configured {
                settings.insert(p.id(), s);
            }
        }
        registry.settings = settings;
        registry.check_mail_templates(config)?;
        Ok(registry)
    }

    /// The plugins named by `ids`, with their default settings: enough to
    /// describe them (the spec), not to serve.
    pub fn resolve(catalog: &[Arc<dyn Plugin>], ids: &[String]) -> Result<Self, RegistryError> {
        let known = || {
            catalog
                .iter()
                .map(|p| p.id())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut plugins = Vec::new();
        for id in ids {
            let plugin = catalog
                .iter()
                .find(|p| p.id() == id)
                .ok_or_else(|| RegistryError::Unknown(id.clone(), known()))?;
            plugins.push(plugin.clone());
        }
        Self::new(plugins)
    }

    /// Validates a plugin set: unique ids, error codes and mail kinds.
    /// Settings are the plugins' defaults until [`PluginRegistry::configure`].
    pub fn new(plugins: Vec<Arc<dyn Plugin>>) -> Result<Self, RegistryError> {
        let mut ids = HashSet::new();
        let mut codes: HashMap<&'static str, String> = crate::error::codes::ALL
            .iter()
            .map(|c| (c.code, "core".to_string()))
            .collect();
        let mut kinds: HashMap<&'static str, String> = crate::mail::templates::CORE_KINDS
            .iter()
            .map(|k| (k.key, "core".to_string()))
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
            for k in p.mail_templates() {
                if let Some(first) = kinds.insert(k.key, p.id().into()) {
                    return Err(RegistryError::DuplicateMailKind {
                        key: k.key,
                        first,
                        second: p.id().into(),
                    });
                }
            }
        }
        for p in &plugins {
            if let Some(needs) = p.requires().iter().find(|id| !ids.contains(*id)) {
                return Err(RegistryError::MissingRequirement {
                    plugin: p.id().into(),
                    needs,
                });
            }
        }
        let oauth_paths = plugins
            .iter()
            .flat_map(|p| p.oauth_paths().iter().copied())
            .collect();
        let form_paths = CORE_FORM_PATHS
            .iter()
            .copied()
            .chain(plugins.iter().flat_map(|p| p.form_paths().iter().copied()))
            .collect();
        Ok(PluginRegistry {
            plugins,
            settings: SettingsMap::default(),
            form_paths: Arc::new(form_paths),
            oauth_paths: Arc::new(oauth_paths),
        })
    }

    /// Every `[mail.templates.<key>]` must name a mail the core or an enabled plugin sends.
    fn check_mail_templates(&self, config: &Config) -> Result<(), RegistryError> {
        let valid: BTreeSet<&str> = self.mail_kinds().map(|k| k.key).collect();
        for key in config.mail.templates.keys() {
            if !valid.contains(key.as_str()) {
                return Err(RegistryError::Config(format!(
                    "unknown mail template [mail.templates.{key}]; with the enabled plugins: {}",
                    valid.into_iter().collect::<Vec<_>>().join(", ")
                )));
            }
        }
        Ok(())
    }

    pub fn all(&self) -> &[Arc<dyn Plugin>] {
        &self.plugins
    }

    pub fn ids(&self) -> Vec<&'static str> {
        self.plugins.iter().map(|p| p.id()).collect()
    }

    pub fn is_enabled(&self, id: &str) -> bool {
        self.plugins.iter().any(|p| p.id() == id)
    }

    /// The settings a plugin's `configure` produced.
    pub fn settings(&self) -> &SettingsMap {
        &self.settings
    }

    /// The mails the core and the enabled plugins send.
    pub fn mail_kinds(&self) -> impl Iterator<Item = &'static MailKind> + '_ {
        crate::mail::templates::CORE_KINDS
            .iter()
            .chain(self.plugins.iter().flat_map(|p| p.mail_templates().iter()))
    }

    pub fn is_form_path(&self, path: &str) -> bool {
        self.form_paths.contains(path)
    }

    pub fn is_oauth_path(&self, path: &str) -> bool {
        self.oauth_paths.contains(path)
    }

    pub fn user_fields(&self) -> impl Iterator<Item = &dyn UserFields> {
        self.plugins.iter().filter_map(|p| p.user_fields())
    }

    pub fn session_fields(&self) -> impl Iterator<Item = &dyn SessionFields> {
        self.plugins.iter().filter_map(|p| p.session_fields())
    }

    pub fn migrations(&self) -> Vec<&'static MigrationSet> {
        self.plugins.iter().filter_map(|p| p.migrations()).collect()
    }

    /// Every enabled plugin's sign-in providers.
    pub fn social_providers(&self) -> Vec<crate::social::ProviderSpec> {
        self.all()
            .iter()
            .flat_map(|p| p.social_providers(self.settings()))
            .collect()
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

    struct NeedsFake;
    impl Plugin for NeedsFake {
        fn id(&self) -> &'static str {
            "needs-x"
        }
        fn requires(&self) -> &'static [&'static str] {
            &["x"]
        }
    }

    #[test]
    fn a_missing_requirement_is_named() {
        let err = PluginRegistry::new(vec![Arc::new(NeedsFake)])
            .err()
            .expect("refused")
            .to_string();
        assert!(err.contains("\"needs-x\" needs plugin \"x\""), "{err}");
        // In any order, once both are there.
        let ok = PluginRegistry::new(vec![Arc::new(NeedsFake), Arc::new(Fake("x", &[]))]);
        assert!(ok.is_ok());
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

    fn catalog() -> Vec<Arc<dyn Plugin>> {
        vec![
            Arc::new(Fake("one-thing", &[])),
            Arc::new(Fake("other", &[])),
        ]
    }

    fn config(plugins: &[&str], toml_text: &str) -> Config {
        let mut c = Config::from_toml(toml_text, &catalog()).expect("parses");
        c.plugins = plugins.iter().map(|s| s.to_string()).collect();
        c
    }

    fn configure_err(c: &Config) -> String {
        PluginRegistry::configure(&catalog(), c)
            .err()
            .expect("refused")
            .to_string()
    }

    #[test]
    fn unknown_plugin_is_named_with_the_choices() {
        let err = configure_err(&config(&["nope"], ""));
        assert!(
            err.contains("\"nope\"") && err.contains("one-thing, other"),
            "{err}"
        );
    }

    #[test]
    fn a_section_for_a_disabled_plugin_is_refused() {
        let err = configure_err(&config(&["other"], "[one_thing]\nx = 1\n"));
        assert!(
            err.contains("[one_thing]")
                && err.contains("\"one-thing\"")
                && err.contains("not enabled"),
            "{err}"
        );
    }

    #[test]
    fn a_plugin_without_settings_refuses_its_section() {
        let err = configure_err(&config(&["one-thing"], "[one_thing]\nx = 1\n"));
        assert!(
            err.contains("[one_thing]") && err.contains("no settings"),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_mail_template_is_named_with_the_choices() {
        let err = configure_err(&config(
            &[],
            "[mail.templates.nope]\nsubject = \"s\"\ntext = \"t\"\nhtml = \"h\"\n",
        ));
        assert!(
            err.contains("nope") && err.contains("verify_email"),
            "{err}"
        );
    }
}
