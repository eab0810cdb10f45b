//! Who may do what: the caller of an admin route, its roles (configured, or
//! created at runtime and cached), and the checks every route runs first.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use super::settings::AdminSettings;
use super::store;
use crate::core::session::{is_fresh, require_session, AuthSession};
use crate::error::{codes, ApiError, ErrorCode};
use crate::http::context::RequestContext;
use crate::plugin::access::{self, Statements};
use crate::state::AppState;

/// Roles created over HTTP, cached for at most the session-cache window so
/// another instance's change is seen within it; this instance's own writes
/// invalidate at once.
#[derive(Debug, Default)]
pub struct RuntimeRoles {
    cached: RwLock<Option<(Instant, Arc<RoleMap>)>>,
}

/// Role name -> what it grants.
pub type RoleMap = BTreeMap<String, Statements>;

impl RuntimeRoles {
    pub async fn all(&self, state: &AppState) -> Result<Arc<RoleMap>, ApiError> {
        let ttl = Duration::from_secs(state.config.session.cache_ttl.max(0) as u64);
        if let Some((at, roles)) = &*self.cached.read().unwrap_or_else(|e| e.into_inner()) {
            if at.elapsed() < ttl {
                return Ok(roles.clone());
            }
        }
        let mut roles = BTreeMap::new();
        for row in store::list_roles(&state.db).await? {
            // Rows are written by this plugin from checked statements.
            let statements: Statements = serde_json::from_str(&row.permission).unwrap_or_default();
            roles.insert(row.role, statements);
        }
        let roles = Arc::new(roles);
        *self.cached.write().unwrap_or_else(|e| e.into_inner()) =
            Some((Instant::now(), roles.clone()));
        Ok(roles)
    }

    pub fn invalidate(&self) {
        *self.cached.write().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// Every role a user may hold: the configured ones, then those created at runtime.
pub struct RoleBook {
    settings: Arc<AdminSettings>,
    runtime: Arc<RoleMap>,
}

impl RoleBook {
    pub async fn load(state: &AppState) -> Result<RoleBook, ApiError> {
        let settings = state.settings::<AdminSettings>();
        let runtime = settings.runtime.all(state).await?;
        Ok(RoleBook { settings, runtime })
    }

    pub fn get(&self, name: &str) -> Option<&Statements> {
        self.settings
            .access
            .role(name)
            .or_else(|| self.runtime.get(name))
    }

    pub fn is_built_in(&self, name: &str) -> bool {
        self.settings.access.role(name).is_some()
    }

    pub fn runtime(&self) -> &BTreeMap<String, Statements> {
        &self.runtime
    }

    pub fn settings(&self) -> &AdminSettings {
        &self.settings
    }

    /// Better Auth's `hasPermission`: `adminUserIds` always pass; otherwise
    /// any one of the user's roles (the default role when none) must grant it all.
    pub fn allows(&self, user_id: &str, role: Option<&str>, request: &Statements) -> bool {
        if self.settings.admin_user_ids.iter().any(|id| id == user_id) {
            return true;
        }
        let roles = role
            .filter(|r| !r.is_empty())
            .unwrap_or(&self.settings.default_role);
        access::authorize(roles, |name| self.get(name).cloned(), request)
    }

    /// What the roles in `role` grant, one entry per role.
    pub fn held(&self, role: Option<&str>) -> Vec<Statements> {
        let roles = role
            .filter(|r| !r.is_empty())
            .unwrap_or(&self.settings.default_role);
        access::role_names(roles)
            .filter_map(|n| self.get(n).cloned())
            .collect()
    }

    /// Whether `role` (a comma-separated list) makes its holder an admin.
    pub fn is_admin(&self, user_id: &str, role: Option<&str>) -> bool {
        let roles = role
            .filter(|r| !r.is_empty())
            .unwrap_or(&self.settings.default_role);
        self.settings.admin_user_ids.iter().any(|id| id == user_id)
            || access::role_names(roles).any(|r| self.settings.admin_roles.iter().any(|a| a == r))
    }
}

/// `{resource: [actions]}` from literals.
pub fn permission(resource: &str, actions: &[&str]) -> Statements {
    [(
        resource.to_string(),
        actions.iter().map(|a| a.to_string()).collect(),
    )]
    .into()
}

/// The signed-in caller of an admin route, read from the database (not the
/// session cache), so a role change or a ban applies to the very next request.
pub struct Caller {
    pub session: AuthSession,
    pub role: Option<String>,
    /// Set on an impersonation session: the admin behind it.
    pub impersonated_by: Option<String>,
    pub book: RoleBook,
}

impl Caller {
    /// The session (401), fresh (403 `SESSION_NOT_FRESH`), with its current role.
    pub async fn require(state: &AppState, ctx: &RequestContext) -> Result<Caller, ApiError> {
        let session = require_session(state, ctx).await?;
        if !is_fresh(state, &session.session) {
            return Err(ApiError::new(codes::SESSION_NOT_FRESH));
        }
        let fields = store::find_fields(&state.db, &session.user.id)
            .await?
            .ok_or_else(|| ApiError::new(codes::UNAUTHORIZED))?;
        let impersonated_by = store::find_impersonated_by(&state.db, &session.session.id).await?;
        Ok(Caller {
            session,
            role: fields.role,
            impersonated_by,
            book: RoleBook::load(state).await?,
        })
    }

    pub fn id(&self) -> &str {
        &self.session.user.id
    }

    /// Whether the caller may do `request`. An impersonation session may do
    /// nothing here: impersonating never lends admin powers.
    pub fn may(&self, request: &Statements) -> bool {
        self.impersonated_by.is_none() && self.book.allows(self.id(), self.role.as_deref(), request)
    }

    /// `may`, or the route's 403 code.
    pub fn check(
        &self,
        resource: &str,
        actions: &[&str],
        denied: ErrorCode,
    ) -> Result<(), ApiError> {
        if self.may(&permission(resource, actions)) {
            Ok(())
        } else {
            Err(ApiError::new(denied))
        }
    }

    /// Whether the caller holds everything `role` grants (a comma-separated
    /// list): no one hands out more than they hold.
    pub fn covers_roles(&self, roles: &str) -> bool {
        if self
            .book
            .settings
            .admin_user_ids
            .iter()
            .any(|id| id == self.id())
        {
            return true;
        }
        let held = self.book.held(self.role.as_deref());
        access::role_names(roles)
            .all(|r| self.book.get(r).is_some_and(|s| access::covers(&held, s)))
    }

    pub fn covers_statements(&self, statements: &Statements) -> bool {
        self.book
            .settings
            .admin_user_ids
            .iter()
            .any(|id| id == self.id())
            || access::covers(&self.book.held(self.role.as_deref()), statements)
    }
}
