//! `organization`: organizations, their members and roles, invitations by
//! email, teams, and per-organization access control (Better Auth's
//! organization plugin, wire-compatible).

pub mod access;
mod common;
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

use crate::db::MigrationSet;
use crate::error::ErrorCode;
use crate::mail::templates::MailKind;
use crate::plugin::Plugin;

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

    fn mail_templates(&self) -> &'static [MailKind] {
        &[invitations::INVITATION_MAIL]
    }
}
