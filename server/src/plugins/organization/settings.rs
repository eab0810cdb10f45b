//! The `[organization]` configuration section.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::access::{self, AccessControl};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct OrganizationSettings {
    /// Whether signed-in users may create organizations (`allowUserToCreateOrganization`).
    pub allow_user_to_create_organization: bool,
    /// Organizations a user may belong to before `create` is refused; none: no limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_limit: Option<u32>,
    /// Members an organization may have (`membershipLimit`).
    pub membership_limit: u32,
    /// Pending invitations an organization may have (`invitationLimit`).
    pub invitation_limit: u32,
    /// Seconds an invitation stays valid (`invitationExpiresIn`, 48 hours).
    pub invitation_expires_in: i64,
    /// The role the creator of an organization gets; only members holding it
    /// may grant it (`creatorRole`).
    pub creator_role: String,
    /// Only a verified address may see, accept or reject an invitation
    /// (`requireEmailVerificationOnInvitation`).
    pub require_email_verification_on_invitation: bool,
    /// Inviting an address with a pending invitation cancels that one instead
    /// of refusing (`cancelPendingInvitationsOnReInvite`).
    pub cancel_pending_invitations_on_re_invite: bool,
    /// `delete` answers 404 `ORGANIZATION_DELETION_DISABLED` (`disableOrganizationDeletion`).
    pub disable_organization_deletion: bool,
    /// The link mailed with an invitation: `{base_url}` (the configured base
    /// URL) and `{id}` (the invitation id) are replaced. The page it opens
    /// calls `accept-invitation` with the id.
    pub invitation_url: String,
    /// Teams inside organizations (`teams.enabled`); their routes answer 404 without.
    pub teams: bool,
    /// With teams: a team named after the organization, holding its creator,
    /// is made with each organization (`teams.defaultTeam.enabled`).
    pub default_team: bool,
    /// With teams: teams an organization may have; none: no limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_teams: Option<u32>,
    /// With teams: members a team may have; none: no limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_members_per_team: Option<u32>,
    /// With teams: `remove-team` may remove an organization's last team.
    pub allow_removing_all_teams: bool,
    /// Roles stored per organization (`organizationRole`), managed through the
    /// role routes (`dynamicAccessControl.enabled`); those routes answer 404 without.
    pub dynamic_access_control: bool,
    /// With dynamic access control: stored roles an organization may have; none: no limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_roles_per_organization: Option<u32>,
    /// Resources and their actions, added to Better Auth's defaults
    /// (`organization`, `member`, `invitation`, `team`, `ac`):
    /// `[organization.statements]` `project = ["create", "share"]`.
    pub statements: BTreeMap<String, Vec<String>>,
    /// Roles (resource -> actions), replacing a default role of the same name
    /// (`owner`, `admin`, `member`) or adding one:
    /// `[organization.roles.auditor]` `project = ["share"]`. They may name
    /// only declared statements.
    pub roles: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    /// The statements and roles, checked and merged at start-up.
    #[serde(skip)]
    compiled: Option<Arc<AccessControl>>,
    /// Memberships, stored roles and full organizations, briefly cached.
    #[serde(skip)]
    pub cache: Arc<super::cache::OrgCache>,
}

impl Default for OrganizationSettings {
    fn default() -> Self {
        OrganizationSettings {
            allow_user_to_create_organization: true,
            organization_limit: None,
            membership_limit: 100,
            invitation_limit: 100,
            invitation_expires_in: 48 * 3600,
            creator_role: "owner".into(),
            require_email_verification_on_invitation: false,
            cancel_pending_invitations_on_re_invite: false,
            disable_organization_deletion: false,
            invitation_url: "{base_url}/accept-invitation/{id}".into(),
            teams: false,
            default_team: true,
            maximum_teams: None,
            maximum_members_per_team: None,
            allow_removing_all_teams: false,
            dynamic_access_control: false,
            maximum_roles_per_organization: None,
            statements: BTreeMap::new(),
            roles: BTreeMap::new(),
            compiled: None,
            cache: Arc::default(),
        }
    }
}

impl OrganizationSettings {
    /// Checks the section and compiles the access control; errors name the setting.
    pub fn validate(mut self) -> Result<Self, String> {
        if self.membership_limit == 0 {
            return Err("membership_limit must be at least 1".into());
        }
        if self.invitation_expires_in <= 0 {
            return Err("invitation_expires_in must be a positive number of seconds".into());
        }
        if !self.invitation_url.contains("{id}") {
            return Err(format!(
                "invitation_url {:?} must contain {{id}} (the invitation id)",
                self.invitation_url
            ));
        }
        let ac = self.build_access_control()?;
        if ac.role(&self.creator_role).is_none() {
            let mut names: Vec<String> = access::default_roles().into_keys().collect();
            names.extend(self.roles.keys().cloned());
            names.sort();
            names.dedup();
            return Err(format!(
                "creator_role {:?} is not a role; roles: {}",
                self.creator_role,
                names.join(", ")
            ));
        }
        self.compiled = Some(Arc::new(ac));
        Ok(self)
    }

    fn build_access_control(&self) -> Result<AccessControl, String> {
        let mut statements = access::default_statements();
        for (resource, actions) in &self.statements {
            let entry = statements.entry(resource.clone()).or_default();
            for a in actions {
                if !entry.contains(a) {
                    entry.push(a.clone());
                }
            }
        }
        let mut roles = access::default_roles();
        for (name, grants) in &self.roles {
            if name.trim().is_empty() || name.contains(',') {
                return Err(format!(
                    "roles.{name:?}: a role name is non-empty and has no comma"
                ));
            }
            roles.insert(name.clone(), grants.clone());
        }
        AccessControl::new(statements, roles).map_err(|e| format!("roles: {e}"))
    }

    /// The compiled statements and roles.
    pub fn access_control(&self) -> Arc<AccessControl> {
        match &self.compiled {
            Some(ac) => ac.clone(),
            None => Arc::new(
                self.build_access_control()
                    .unwrap_or_else(|_| access::defaults()),
            ),
        }
    }

    /// Roles every organization has (the defaults and the configured ones).
    pub fn is_predefined_role(&self, name: &str) -> bool {
        self.access_control().role(name).is_some()
    }
}
