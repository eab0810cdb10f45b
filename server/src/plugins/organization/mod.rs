//! `organization`: organizations, their members and roles, invitations by
//! email, teams, and per-organization access control (Better Auth's
//! organization plugin, wire-compatible: its routes, JSON, tables and codes).
//!
//! Permissions come from the shared evaluator (`crate::plugin::access`):
//! Better Auth's default statements and roles, merged with `[organization]`
//! statements/roles, plus roles an organization stores (dynamic access
//! control). Every write is in the audit trail (`crate::plugin::audit`).
//!
//! Deliberately stricter than Better Auth, or beyond it:
//! - No escalation: nobody gives a role (to a member, an invitation, a team
//!   member or a stored role) granting anything they do not hold, nor
//!   changes or removes a member holding more than they do; only members
//!   holding the creator role give it (they may give any role).
//! - An invitation is void once its inviter has left, or no longer holds
//!   what it grants; accepting happens once (a conditional update in the
//!   transaction that creates the member), within the membership limit.
//! - A team member may hold a team-scoped role (`teamMember.role`);
//!   `has-permission` with `teamId` and the team-member routes count it.
//! - Team routes (without `teams`) and role routes (without
//!   `dynamic_access_control`) answer 404, as their absence does in Better Auth.
//! - Renaming a stored role that members hold is refused
//!   (`ROLE_IS_ASSIGNED_TO_MEMBERS`) instead of leaving them a dangling name.
//! - `has-permission` honours the deprecated `permission` body too.
//! - `metadata` is returned parsed everywhere, `null` when unset (Better Auth
//!   parses it on create and update only, and omits it there when unset).
//! - An active organization or team never outlives the access it stands for:
//!   deleting an organization, removing a member (or leaving), removing a
//!   team or a team member clear them in every session concerned (Better
//!   Auth clears only the caller's own active organization, never the team).

pub mod access;
pub mod cache;
mod common;
mod docs;
pub mod dto;
pub mod errors;
pub mod invitations;
pub mod members;
mod orgs;
mod roles;
pub mod routes;
pub mod server_api;
pub mod settings;
pub mod store;
mod teams;

pub use routes::OrganizationApi;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use poem_openapi::registry::MetaSchemaRef;
use poem_openapi::types::Type;
use serde_json::{Map, Value};

use crate::db::{Db, MigrationSet};
use crate::docs::RouteDoc;
use crate::error::ApiError;
use crate::error::ErrorCode;
use crate::mail::templates::MailKind;
use crate::plugin::{Plugin, SessionFields};

/// The plugin's id: its spec tag, `/plugins` entry, configuration section and client namespace.
pub const ID: &str = "organization";
pub const DESCRIPTION: &str =
    "Organizations, members, invitations by email, teams and per-organization roles.";

pub struct Organization;

pub const MIGRATIONS: MigrationSet = crate::migration_set!(
    "../migrations/sqlite/organization",
    "../migrations/postgres/organization"
);

impl Plugin for Organization {
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
        let settings: settings::OrganizationSettings = crate::plugin::parse_section(section)?;
        Ok(Some(crate::plugin::Settings::new(settings.validate()?)))
    }

    fn migrations(&self) -> Option<&'static MigrationSet> {
        Some(&MIGRATIONS)
    }

    fn error_codes(&self) -> &'static [ErrorCode] {
        errors::ALL
    }

    fn session_fields(&self) -> Option<&dyn SessionFields> {
        Some(&ActiveFields)
    }

    fn route_docs(&self) -> &'static [RouteDoc] {
        docs::ROUTE_DOCS
    }

    fn mail_templates(&self) -> &'static [MailKind] {
        &[invitations::INVITATION_MAIL]
    }
}

/// `activeOrganizationId` and `activeTeamId` on the session (read-only for
/// clients; written by the set-active routes, create, accept and removals).
struct ActiveFields;

impl SessionFields for ActiveFields {
    fn schema(&self) -> Vec<(&'static str, MetaSchemaRef)> {
        vec![
            ("activeOrganizationId", Option::<String>::schema_ref()),
            ("activeTeamId", Option::<String>::schema_ref()),
        ]
    }

    fn load<'a>(
        &'a self,
        db: &'a Db,
        session_id: &'a str,
    ) -> BoxFuture<'a, Result<Map<String, Value>, ApiError>> {
        async move {
            let (org, team) = store::active_ids(db, session_id).await?;
            let mut out = Map::new();
            out.insert(
                "activeOrganizationId".into(),
                org.map_or(Value::Null, Value::String),
            );
            out.insert(
                "activeTeamId".into(),
                team.map_or(Value::Null, Value::String),
            );
            Ok(out)
        }
        .boxed()
    }
}
