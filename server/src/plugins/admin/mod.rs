//! `admin`: user management for operators (create, list, update, roles,
//! bans, impersonation, sessions, passwords), Better Auth's wire; beyond it,
//! roles editable at runtime (`adminRole`), every write in the audit trail,
//! and a bootstrap admin account from `GATEHOUSE_ADMIN_EMAIL`/`_PASSWORD`.

pub mod errors;
pub mod roles;
pub mod routes;
pub mod service;
pub mod settings;
pub mod store;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use poem_openapi::registry::MetaSchemaRef;
use poem_openapi::types::Type;
use serde_json::{Map, Value};

pub use routes::AdminApi;
use settings::AdminSettings;

use crate::core::dto::iso;
use crate::db::store::Tx;
use crate::db::{Db, MigrationSet};
use crate::error::{ApiError, ErrorCode};
use crate::plugin::{Plugin, SessionFields, UserFields};
use crate::state::AppState;

/// The plugin's id: its spec tag, `/plugins` entry, configuration section and client namespace.
pub const ID: &str = "admin";
pub const DESCRIPTION: &str =
    "User management for operators: roles (editable at runtime), bans, impersonation, sessions, audit trail.";

pub struct Admin;

pub const MIGRATIONS: MigrationSet =
    crate::migration_set!("../migrations/sqlite/admin", "../migrations/postgres/admin");

impl Plugin for Admin {
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
        let settings: AdminSettings = crate::plugin::parse_section(section)?;
        Ok(Some(crate::plugin::Settings::new(settings.resolve()?)))
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

    fn user_fields(&self) -> Option<&dyn UserFields> {
        Some(&AdminUserFields)
    }

    fn session_fields(&self) -> Option<&dyn SessionFields> {
        Some(&ImpersonationField)
    }

    fn check_new_session<'a>(
        &'a self,
        state: &'a AppState,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        service::refuse_banned(state, user_id).boxed()
    }

    fn on_start<'a>(&'a self, state: &'a Arc<AppState>) -> BoxFuture<'a, Result<(), String>> {
        service::bootstrap_admin(state).boxed()
    }
}

const ADMIN_USER_KEYS: [&str; 4] = ["role", "banned", "banReason", "banExpires"];

/// `role`, `banned`, `banReason`, `banExpires` on the user: set by admins only.
struct AdminUserFields;

impl UserFields for AdminUserFields {
    fn schema(&self) -> Vec<(&'static str, MetaSchemaRef)> {
        vec![
            ("role", <Option<String> as Type>::schema_ref()),
            ("banned", <Option<bool> as Type>::schema_ref()),
            ("banReason", <Option<String> as Type>::schema_ref()),
            ("banExpires", <Option<String> as Type>::schema_ref()),
        ]
    }

    fn client_settable(&self) -> bool {
        false
    }

    fn prepare<'a>(
        &'a self,
        state: &'a AppState,
        input: &'a Map<String, Value>,
        user_id: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Map<String, Value>, ApiError>> {
        async move {
            if let Some(key) = ADMIN_USER_KEYS.iter().find(|k| input.contains_key(**k)) {
                return Err(ApiError::validation(format!(
                    "[body.{key}] {key} is not allowed to be set"
                )));
            }
            let mut values = Map::new();
            if user_id.is_none() {
                let role = state.settings::<AdminSettings>().default_role.clone();
                values.insert("role".into(), Value::String(role));
            }
            Ok(values)
        }
        .boxed()
    }

    fn write<'a>(
        &'a self,
        tx: Tx<'a>,
        user_id: &'a str,
        values: &'a Map<String, Value>,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        async move {
            if let Some(Value::String(role)) = values.get("role") {
                store::write_role(tx, user_id, role).await?;
            }
            Ok(())
        }
        .boxed()
    }

    fn load<'a>(
        &'a self,
        db: &'a Db,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<Map<String, Value>, ApiError>> {
        async move {
            let f = store::find_fields(db, user_id).await?.unwrap_or_default();
            Ok(fields_json(&f))
        }
        .boxed()
    }
}

/// The admin fields of a user as they appear on the wire user.
pub fn fields_json(f: &store::AdminFields) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert(
        "role".into(),
        f.role.clone().map_or(Value::Null, Value::String),
    );
    out.insert("banned".into(), Value::Bool(f.banned.unwrap_or(false)));
    out.insert(
        "banReason".into(),
        f.ban_reason.clone().map_or(Value::Null, Value::String),
    );
    out.insert(
        "banExpires".into(),
        f.ban_expires.map_or(Value::Null, |t| Value::String(iso(t))),
    );
    out
}

/// `impersonatedBy` on the session; impersonation sessions stay out of the
/// impersonated user's own `list-sessions` (Better Auth's rule).
struct ImpersonationField;

impl SessionFields for ImpersonationField {
    fn schema(&self) -> Vec<(&'static str, MetaSchemaRef)> {
        vec![("impersonatedBy", <Option<String> as Type>::schema_ref())]
    }

    fn load<'a>(
        &'a self,
        db: &'a Db,
        session_id: &'a str,
    ) -> BoxFuture<'a, Result<Map<String, Value>, ApiError>> {
        async move {
            let by = store::find_impersonated_by(db, session_id).await?;
            let mut out = Map::new();
            out.insert(
                "impersonatedBy".into(),
                by.map_or(Value::Null, Value::String),
            );
            Ok(out)
        }
        .boxed()
    }

    fn listed(&self, fields: &Map<String, Value>) -> bool {
        fields.get("impersonatedBy").is_none_or(Value::is_null)
    }
}
