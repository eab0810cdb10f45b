//! Wire types of the organization routes (Better Auth's JSON shapes).

use std::collections::BTreeMap;

use poem_openapi::types::MaybeUndefined;
use poem_openapi::Object;
use serde_json::Value;

use super::store::{InvitationRow, MemberRow, OrgRow, RoleRow, TeamMemberRow, TeamRow};
use crate::core::dto::iso;
use crate::db::models::UserRow;

/// `{resource: [actions]}`.
pub type Permissions = BTreeMap<String, Vec<String>>;

pub use crate::core::dto::OneOrMany;

fn parse_metadata(text: &Option<String>) -> Option<Value> {
    text.as_deref().and_then(|t| serde_json::from_str(t).ok())
}

/// An organization; `metadata` is the stored JSON, parsed.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Organization", rename_all = "camelCase")]
pub struct OrganizationDto {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub logo: Option<String>,
    pub created_at: String,
    pub metadata: Option<Value>,
}

impl From<&OrgRow> for OrganizationDto {
    fn from(o: &OrgRow) -> Self {
        OrganizationDto {
            id: o.id.clone(),
            name: o.name.clone(),
            slug: o.slug.clone(),
            logo: o.logo.clone(),
            created_at: iso(o.created_at),
            metadata: parse_metadata(&o.metadata),
        }
    }
}

/// A membership: the user's roles (comma-separated) in the organization.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Member", rename_all = "camelCase")]
pub struct MemberDto {
    pub id: String,
    pub organization_id: String,
    pub user_id: String,
    pub role: String,
    pub created_at: String,
}

impl From<&MemberRow> for MemberDto {
    fn from(m: &MemberRow) -> Self {
        MemberDto {
            id: m.id.clone(),
            organization_id: m.organization_id.clone(),
            user_id: m.user_id.clone(),
            role: m.role.clone(),
            created_at: iso(m.created_at),
        }
    }
}

/// The public part of a member's user.
#[derive(Debug, Clone, Object)]
#[oai(rename = "MemberUser")]
pub struct MemberUser {
    pub id: String,
    pub name: String,
    pub email: String,
    pub image: Option<String>,
}

impl From<&UserRow> for MemberUser {
    fn from(u: &UserRow) -> Self {
        MemberUser {
            id: u.id.clone(),
            name: u.name.clone(),
            email: u.email.clone(),
            image: u.image.clone(),
        }
    }
}

/// A membership with its user.
#[derive(Debug, Clone, Object)]
#[oai(rename = "MemberWithUser", rename_all = "camelCase")]
pub struct MemberWithUser {
    pub id: String,
    pub organization_id: String,
    pub user_id: String,
    pub role: String,
    pub created_at: String,
    pub user: MemberUser,
}

impl MemberWithUser {
    pub fn new(m: &MemberRow, u: &UserRow) -> Self {
        MemberWithUser {
            id: m.id.clone(),
            organization_id: m.organization_id.clone(),
            user_id: m.user_id.clone(),
            role: m.role.clone(),
            created_at: iso(m.created_at),
            user: MemberUser::from(u),
        }
    }
}

/// An invitation; `status` is `pending`, `accepted`, `rejected` or `canceled`.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Invitation", rename_all = "camelCase")]
pub struct InvitationDto {
    pub id: String,
    pub organization_id: String,
    pub email: String,
    pub role: Option<String>,
    /// Comma-separated team ids.
    pub team_id: Option<String>,
    pub status: String,
    pub expires_at: String,
    pub created_at: String,
    pub inviter_id: String,
}

impl From<&InvitationRow> for InvitationDto {
    fn from(i: &InvitationRow) -> Self {
        InvitationDto {
            id: i.id.clone(),
            organization_id: i.organization_id.clone(),
            email: i.email.clone(),
            role: i.role.clone(),
            team_id: i.team_id.clone(),
            status: i.status.clone(),
            expires_at: iso(i.expires_at),
            created_at: iso(i.created_at),
            inviter_id: i.inviter_id.clone(),
        }
    }
}

/// An invitation as its recipient sees it.
#[derive(Debug, Clone, Object)]
#[oai(rename = "InvitationDetails", rename_all = "camelCase")]
pub struct InvitationDetails {
    pub id: String,
    pub organization_id: String,
    pub email: String,
    pub role: Option<String>,
    pub team_id: Option<String>,
    pub status: String,
    pub expires_at: String,
    pub created_at: String,
    pub inviter_id: String,
    pub organization_name: String,
    pub organization_slug: String,
    pub inviter_email: String,
}

/// A pending invitation of the signed-in user, with its organization's name.
#[derive(Debug, Clone, Object)]
#[oai(rename = "UserInvitation", rename_all = "camelCase")]
pub struct UserInvitation {
    pub id: String,
    pub organization_id: String,
    pub email: String,
    pub role: Option<String>,
    pub team_id: Option<String>,
    pub status: String,
    pub expires_at: String,
    pub created_at: String,
    pub inviter_id: String,
    pub organization_name: String,
}

impl UserInvitation {
    pub fn new(i: &InvitationRow, org: &OrgRow) -> Self {
        UserInvitation {
            id: i.id.clone(),
            organization_id: i.organization_id.clone(),
            email: i.email.clone(),
            role: i.role.clone(),
            team_id: i.team_id.clone(),
            status: i.status.clone(),
            expires_at: iso(i.expires_at),
            created_at: iso(i.created_at),
            inviter_id: i.inviter_id.clone(),
            organization_name: org.name.clone(),
        }
    }
}

/// A team.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Team", rename_all = "camelCase")]
pub struct TeamDto {
    pub id: String,
    pub name: String,
    pub organization_id: String,
    pub created_at: String,
    pub updated_at: Option<String>,
}

impl From<&TeamRow> for TeamDto {
    fn from(t: &TeamRow) -> Self {
        TeamDto {
            id: t.id.clone(),
            name: t.name.clone(),
            organization_id: t.organization_id.clone(),
            created_at: iso(t.created_at),
            updated_at: t.updated_at.map(iso),
        }
    }
}

/// A team with its member count (in the full organization).
#[derive(Debug, Clone, Object)]
#[oai(rename = "TeamWithCount", rename_all = "camelCase")]
pub struct TeamWithCount {
    pub id: String,
    pub name: String,
    pub organization_id: String,
    pub created_at: String,
    pub updated_at: Option<String>,
    pub member_count: i32,
}

impl From<&TeamRow> for TeamWithCount {
    fn from(t: &TeamRow) -> Self {
        TeamWithCount {
            id: t.id.clone(),
            name: t.name.clone(),
            organization_id: t.organization_id.clone(),
            created_at: iso(t.created_at),
            updated_at: t.updated_at.map(iso),
            member_count: t.member_count,
        }
    }
}

/// A team membership; `role` is its team-scoped role, if any.
#[derive(Debug, Clone, Object)]
#[oai(rename = "TeamMember", rename_all = "camelCase")]
pub struct TeamMemberDto {
    pub id: String,
    pub team_id: String,
    pub user_id: String,
    pub created_at: Option<String>,
    pub role: Option<String>,
}

impl From<&TeamMemberRow> for TeamMemberDto {
    fn from(t: &TeamMemberRow) -> Self {
        TeamMemberDto {
            id: t.id.clone(),
            team_id: t.team_id.clone(),
            user_id: t.user_id.clone(),
            created_at: t.created_at.map(iso),
            role: t.role.clone(),
        }
    }
}

/// A role stored for one organization.
#[derive(Debug, Clone, Object)]
#[oai(rename = "OrganizationRole", rename_all = "camelCase")]
pub struct RoleDto {
    pub id: String,
    pub organization_id: String,
    pub role: String,
    pub permission: Permissions,
    pub created_at: String,
    pub updated_at: Option<String>,
}

impl From<&RoleRow> for RoleDto {
    fn from(r: &RoleRow) -> Self {
        RoleDto {
            id: r.id.clone(),
            organization_id: r.organization_id.clone(),
            role: r.role.clone(),
            permission: serde_json::from_str(&r.permission).unwrap_or_default(),
            created_at: iso(r.created_at),
            updated_at: r.updated_at.map(iso),
        }
    }
}

// ---- responses ----

/// A created organization with its first member.
#[derive(Debug, Clone, Object)]
#[oai(rename = "CreatedOrganization", rename_all = "camelCase")]
pub struct CreatedOrganization {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub logo: Option<String>,
    pub created_at: String,
    pub metadata: Option<Value>,
    pub members: Vec<MemberDto>,
}

/// An organization with its members, the invitations the caller may see
/// and, with teams, its teams.
#[derive(Debug, Clone, Object)]
#[oai(rename = "FullOrganization", rename_all = "camelCase")]
pub struct FullOrganization {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub logo: Option<String>,
    pub created_at: String,
    pub metadata: Option<Value>,
    pub members: Vec<MemberWithUser>,
    pub invitations: Vec<InvitationDto>,
    #[oai(skip_serializing_if_is_none)]
    pub teams: Option<Vec<TeamWithCount>>,
}

#[derive(Debug, Clone, Object)]
pub struct MemberResponse {
    pub member: MemberDto,
}

#[derive(Debug, Clone, Object)]
pub struct MembersPage {
    pub members: Vec<MemberWithUser>,
    pub total: i64,
}

#[derive(Debug, Clone, Object)]
pub struct RoleResponse {
    pub role: String,
}

#[derive(Debug, Clone, Object)]
pub struct AcceptedInvitation {
    pub invitation: InvitationDto,
    pub member: MemberDto,
}

#[derive(Debug, Clone, Object)]
pub struct RejectedInvitation {
    pub invitation: InvitationDto,
    /// Always `null`.
    pub member: Option<MemberDto>,
}

#[derive(Debug, Clone, Object)]
pub struct PermissionResult {
    /// Always `null`.
    pub error: Option<String>,
    pub success: bool,
}

#[derive(Debug, Clone, Object)]
pub struct MessageResponse {
    pub message: String,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct CreatedRole {
    pub success: bool,
    pub role_data: RoleDto,
    /// The permissions the role grants.
    pub statements: Permissions,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct UpdatedRole {
    pub success: bool,
    pub role_data: RoleDto,
}

// ---- request bodies ----

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct CreateOrganizationBody {
    #[oai(validator(min_length = 1))]
    pub name: String,
    #[oai(validator(min_length = 1))]
    pub slug: String,
    pub logo: Option<String>,
    /// Any JSON object; stored as JSON text.
    pub metadata: Option<BTreeMap<String, Value>>,
    /// Leave the session's active organization as it is.
    pub keep_current_active_organization: Option<bool>,
}

#[derive(Debug, Clone, Object)]
pub struct CheckSlugBody {
    pub slug: String,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct UpdateOrganizationData {
    #[oai(validator(min_length = 1))]
    pub name: Option<String>,
    #[oai(validator(min_length = 1))]
    pub slug: Option<String>,
    /// `null` removes the logo.
    pub logo: MaybeUndefined<String>,
    pub metadata: Option<BTreeMap<String, Value>>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct UpdateOrganizationBody {
    pub data: UpdateOrganizationData,
    /// Defaults to the active organization.
    pub organization_id: Option<String>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct OrganizationIdBody {
    pub organization_id: String,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct SetActiveBody {
    /// `null` clears the active organization; absent: the slug, else the current one.
    pub organization_id: MaybeUndefined<String>,
    pub organization_slug: Option<String>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct InviteMemberBody {
    pub email: String,
    /// One role or several.
    pub role: OneOrMany,
    /// Defaults to the active organization.
    pub organization_id: Option<String>,
    /// Send the pending invitation again (with a new expiry) instead of refusing.
    pub resend: Option<bool>,
    /// With teams: the team(s) joined on acceptance.
    pub team_id: Option<OneOrMany>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct InvitationIdBody {
    pub invitation_id: String,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct RemoveMemberBody {
    /// A member id, or the member's email address.
    pub member_id_or_email: String,
    pub organization_id: Option<String>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct UpdateMemberRoleBody {
    pub role: OneOrMany,
    pub member_id: String,
    pub organization_id: Option<String>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct HasPermissionBody {
    /// `{resource: [actions]}`; every action is needed.
    pub permissions: Option<Permissions>,
    /// Deprecated spelling of `permissions`.
    pub permission: Option<Permissions>,
    pub organization_id: Option<String>,
    /// Gatehouse: also count the caller's role in this team.
    pub team_id: Option<String>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct CreateTeamBody {
    #[oai(validator(min_length = 1))]
    pub name: String,
    pub organization_id: Option<String>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct RemoveTeamBody {
    pub team_id: String,
    pub organization_id: Option<String>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct UpdateTeamData {
    #[oai(validator(min_length = 1))]
    pub name: Option<String>,
    pub organization_id: Option<String>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct UpdateTeamBody {
    pub team_id: String,
    pub data: UpdateTeamData,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct SetActiveTeamBody {
    /// `null` clears the active team; absent: the current one.
    pub team_id: MaybeUndefined<String>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct AddTeamMemberBody {
    pub team_id: String,
    pub user_id: String,
    pub organization_id: Option<String>,
    /// Gatehouse: a team-scoped role.
    pub role: Option<OneOrMany>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct RemoveTeamMemberBody {
    pub team_id: String,
    pub user_id: String,
    pub organization_id: Option<String>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct UpdateTeamMemberRoleBody {
    pub team_id: String,
    pub user_id: String,
    /// The team-scoped role(s); `null` removes it.
    pub role: MaybeUndefined<OneOrMany>,
    pub organization_id: Option<String>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct CreateRoleBody {
    pub role: String,
    pub permission: Permissions,
    pub organization_id: Option<String>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct RoleRefBody {
    pub role_name: Option<String>,
    pub role_id: Option<String>,
    pub organization_id: Option<String>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct UpdateRoleData {
    pub permission: Option<Permissions>,
    /// A new name.
    pub role_name: Option<String>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct UpdateRoleBody {
    pub role_name: Option<String>,
    pub role_id: Option<String>,
    pub organization_id: Option<String>,
    pub data: UpdateRoleData,
}
