//! The `[admin]` configuration section.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::roles::RuntimeRoles;
use crate::plugin::access::{AccessControl, Statements};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminSettings {
    /// The role a new user gets.
    pub default_role: String,
    /// Roles whose holders count as admins (impersonating them needs
    /// `user: impersonate-admins`).
    pub admin_roles: Vec<String>,
    /// Users who pass every permission check, whatever their role.
    pub admin_user_ids: Vec<String>,
    /// `ban-user` without a reason stores this (Better Auth: "No reason").
    pub default_ban_reason: Option<String>,
    /// Seconds a ban lasts when `ban-user` gives none (none: permanent).
    pub default_ban_expires_in: Option<i64>,
    /// Seconds an impersonation session lasts.
    pub impersonation_session_duration: i64,
    /// Lets anyone with `user: impersonate` impersonate admins too.
    pub allow_impersonating_admins: bool,
    /// The message of the 403 `BANNED_USER` a banned user's sign-in gets.
    pub banned_user_message: String,
    /// At most this many roles created over HTTP.
    pub maximum_roles: usize,
    /// Statements added to the built-in ones (`user`, `session`, `ac`, `audit`).
    pub statements: Statements,
    /// Roles added to (or replacing) the built-in `admin` and `user`.
    pub roles: BTreeMap<String, Statements>,
    /// The account created with the `admin` role on first start, with
    /// `bootstrap_password` (env `GATEHOUSE_ADMIN_EMAIL`/`GATEHOUSE_ADMIN_PASSWORD`
    /// take precedence). Later starts leave an existing account alone.
    pub bootstrap_email: Option<String>,
    #[serde(skip_serializing)]
    pub bootstrap_password: Option<String>,
    /// The statements and roles above, merged with the built-in ones.
    #[serde(skip)]
    pub access: AccessControl,
    /// Roles created over HTTP, cached.
    #[serde(skip)]
    pub runtime: Arc<RuntimeRoles>,
}

impl Default for AdminSettings {
    fn default() -> Self {
        AdminSettings {
            default_role: "user".into(),
            admin_roles: vec!["admin".into()],
            admin_user_ids: Vec::new(),
            default_ban_reason: None,
            default_ban_expires_in: None,
            impersonation_session_duration: 3600,
            allow_impersonating_admins: false,
            banned_user_message: "You have been banned from this application. Please contact support if you believe this is an error.".into(),
            maximum_roles: 100,
            statements: Statements::new(),
            roles: BTreeMap::new(),
            bootstrap_email: None,
            bootstrap_password: None,
            access: AccessControl::default(),
            runtime: Arc::default(),
        }
    }
}

fn statements(pairs: &[(&str, &[&str])]) -> Statements {
    pairs
        .iter()
        .map(|(r, a)| (r.to_string(), a.iter().map(|s| s.to_string()).collect()))
        .collect()
}

/// Better Auth's admin statements, plus `ac` (runtime roles) and `audit`.
pub fn default_statements() -> Statements {
    statements(&[
        (
            "user",
            &[
                "create",
                "list",
                "set-role",
                "ban",
                "impersonate",
                "impersonate-admins",
                "delete",
                "set-password",
                "set-email",
                "set-phone",
                "get",
                "update",
            ],
        ),
        ("session", &["list", "revoke", "delete"]),
        ("ac", &["create", "read", "update", "delete"]),
        ("audit", &["list"]),
    ])
}

/// Better Auth's `admin` (everything but `impersonate-admins`, plus the
/// runtime-role and audit permissions) and `user` (nothing).
pub fn default_roles() -> BTreeMap<String, Statements> {
    let mut admin = default_statements();
    if let Some(user) = admin.get_mut("user") {
        user.retain(|a| a != "impersonate-admins");
    }
    [
        ("admin".to_string(), admin),
        ("user".to_string(), Statements::new()),
    ]
    .into()
}

impl AdminSettings {
    /// Merges the configured statements and roles into the built-in ones and
    /// checks the result; errors name the setting.
    pub fn resolve(mut self) -> Result<Self, String> {
        let mut all = default_statements();
        for (resource, actions) in &self.statements {
            let entry = all.entry(resource.clone()).or_default();
            for a in actions {
                if !entry.contains(a) {
                    entry.push(a.clone());
                }
            }
        }
        let mut roles = default_roles();
        roles.extend(self.roles.clone());
        self.access = AccessControl::new(all, roles).map_err(|e| format!("roles: {e}"))?;
        if let Some(r) = self
            .admin_roles
            .iter()
            .find(|r| self.access.role(r).is_none())
        {
            return Err(format!(
                "admin_roles: {r:?} is not a role; roles: {}",
                self.access
                    .roles()
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if self.access.role(&self.default_role).is_none() {
            return Err(format!(
                "default_role: {:?} is not a role",
                self.default_role
            ));
        }
        if self.impersonation_session_duration <= 0 {
            return Err("impersonation_session_duration must be positive (seconds)".into());
        }
        if let Ok(email) = std::env::var("GATEHOUSE_ADMIN_EMAIL") {
            self.bootstrap_email = Some(email);
        }
        if let Ok(password) = std::env::var("GATEHOUSE_ADMIN_PASSWORD") {
            self.bootstrap_password = Some(password);
        }
        match (&self.bootstrap_email, &self.bootstrap_password) {
            (Some(e), Some(_)) if !crate::core::validate::is_valid_email(&e.trim().to_lowercase()) => {
                Err(format!("bootstrap_email (GATEHOUSE_ADMIN_EMAIL): {e:?} is not an email address"))
            }
            (Some(_), None) | (None, Some(_)) => Err(
                "the bootstrap admin needs both GATEHOUSE_ADMIN_EMAIL and GATEHOUSE_ADMIN_PASSWORD \
                 (or [admin] bootstrap_email and bootstrap_password)"
                    .into(),
            ),
            _ => Ok(self),
        }
    }
}
