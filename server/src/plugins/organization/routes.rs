//! The organization routes (Better Auth's paths and methods; the client's
//! method names are the operationIds without the `organization` prefix).

use std::sync::Arc;

use poem::web::Data;
use poem::Request;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::OpenApi;

use super::cache::RenderedJson;
use super::dto::*;
use super::members::ListMembers;
use super::{invitations, members, orgs, roles, teams};
use crate::core::dto::{Nullable, StatusResponse, SuccessResponse};
use crate::error::{ApiError, ApiResult};
use crate::http::context::request_context;
use crate::plugin::PluginApi;
use crate::state::AppState;

pub struct OrganizationApi;

impl PluginApi for OrganizationApi {
    const ID: &'static str = super::ID;
    const DESCRIPTION: &'static str = super::DESCRIPTION;
}

fn opt(q: &Query<Option<String>>) -> Option<&str> {
    q.0.as_deref()
}

#[OpenApi]
impl OrganizationApi {
    /// Create an organization (the caller becomes its creator-role member)
    ///
    /// Sets it as the session's active organization unless
    /// `keepCurrentActiveOrganization`.
    #[oai(
        path = "/organization/create",
        method = "post",
        operation_id = "organizationCreate"
    )]
    async fn create(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<CreateOrganizationBody>,
    ) -> ApiResult<CreatedOrganization> {
        Ok(Json(
            orgs::create(&state, &request_context(req), &body).await?,
        ))
    }

    /// Check that a slug is free
    #[oai(
        path = "/organization/check-slug",
        method = "post",
        operation_id = "organizationCheckSlug"
    )]
    async fn check_slug(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<CheckSlugBody>,
    ) -> ApiResult<StatusResponse> {
        orgs::check_slug(&state, &request_context(req), &body.slug).await?;
        Ok(Json(StatusResponse { status: true }))
    }

    /// Update an organization (`organization:update`)
    #[oai(
        path = "/organization/update",
        method = "post",
        operation_id = "organizationUpdate"
    )]
    async fn update(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<UpdateOrganizationBody>,
    ) -> ApiResult<OrganizationDto> {
        Ok(Json(
            orgs::update(&state, &request_context(req), &body).await?,
        ))
    }

    /// Delete an organization (`organization:delete`)
    #[oai(
        path = "/organization/delete",
        method = "post",
        operation_id = "organizationDelete"
    )]
    async fn delete(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<OrganizationIdBody>,
    ) -> ApiResult<OrganizationDto> {
        Ok(Json(
            orgs::delete(&state, &request_context(req), &body.organization_id).await?,
        ))
    }

    /// An organization the caller belongs to (by id or slug; default: the active one)
    ///
    /// `null` when none is named and none is active. A non-member gets 403
    /// and loses its active organization.
    #[oai(
        path = "/organization/get-organization",
        method = "get",
        operation_id = "organizationGetOrganization"
    )]
    async fn get_organization(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        #[oai(name = "organizationId")] organization_id: Query<Option<String>>,
        #[oai(name = "organizationSlug")] organization_slug: Query<Option<String>>,
    ) -> ApiResult<Nullable<OrganizationDto>> {
        let ctx = request_context(req);
        let org = orgs::get(&state, &ctx, opt(&organization_id), opt(&organization_slug)).await?;
        Ok(Json(Nullable(org)))
    }

    /// An organization with its members, invitations and teams
    ///
    /// Invitations only for members who may invite. `null` when none is
    /// named and none is active.
    #[oai(
        path = "/organization/get-full-organization",
        method = "get",
        operation_id = "organizationGetFullOrganization"
    )]
    async fn get_full_organization(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        #[oai(name = "organizationId")] organization_id: Query<Option<String>>,
        #[oai(name = "organizationSlug")] organization_slug: Query<Option<String>>,
        #[oai(name = "membersLimit")] members_limit: Query<Option<u32>>,
    ) -> Result<RenderedJson<Nullable<FullOrganization>>, ApiError> {
        // Served from the organization cache, rendered once per write.
        let ctx = request_context(req);
        let body = orgs::get_full(
            &state,
            &ctx,
            opt(&organization_id),
            opt(&organization_slug),
            members_limit.0,
        )
        .await?;
        Ok(RenderedJson::new(body))
    }

    /// Set (or, with `organizationId: null`, clear) the session's active organization
    #[oai(
        path = "/organization/set-active",
        method = "post",
        operation_id = "organizationSetActive"
    )]
    async fn set_active(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<SetActiveBody>,
    ) -> ApiResult<Nullable<OrganizationDto>> {
        let org = orgs::set_active(&state, &request_context(req), &body).await?;
        Ok(Json(Nullable(org)))
    }

    /// The organizations the caller belongs to
    #[oai(
        path = "/organization/list",
        method = "get",
        operation_id = "organizationList"
    )]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
    ) -> ApiResult<Vec<OrganizationDto>> {
        Ok(Json(orgs::list(&state, &request_context(req)).await?))
    }

    /// Invite an address (`invitation:create`); the invitation is mailed
    ///
    /// Nobody invites with a role granting more than they hold; only
    /// creator-role members invite with the creator role.
    #[oai(
        path = "/organization/invite-member",
        method = "post",
        operation_id = "organizationInviteMember"
    )]
    async fn invite_member(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<InviteMemberBody>,
    ) -> ApiResult<InvitationDto> {
        Ok(Json(
            invitations::invite(&state, &request_context(req), &body).await?,
        ))
    }

    /// Accept an invitation addressed to the caller (once)
    #[oai(
        path = "/organization/accept-invitation",
        method = "post",
        operation_id = "organizationAcceptInvitation"
    )]
    async fn accept_invitation(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<InvitationIdBody>,
    ) -> ApiResult<AcceptedInvitation> {
        Ok(Json(
            invitations::accept(&state, &request_context(req), &body.invitation_id).await?,
        ))
    }

    /// Reject an invitation addressed to the caller
    #[oai(
        path = "/organization/reject-invitation",
        method = "post",
        operation_id = "organizationRejectInvitation"
    )]
    async fn reject_invitation(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<InvitationIdBody>,
    ) -> ApiResult<RejectedInvitation> {
        Ok(Json(
            invitations::reject(&state, &request_context(req), &body.invitation_id).await?,
        ))
    }

    /// Cancel an invitation (`invitation:cancel`)
    #[oai(
        path = "/organization/cancel-invitation",
        method = "post",
        operation_id = "organizationCancelInvitation"
    )]
    async fn cancel_invitation(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<InvitationIdBody>,
    ) -> ApiResult<InvitationDto> {
        Ok(Json(
            invitations::cancel(&state, &request_context(req), &body.invitation_id).await?,
        ))
    }

    /// A pending invitation addressed to the caller, with its organization and inviter
    #[oai(
        path = "/organization/get-invitation",
        method = "get",
        operation_id = "organizationGetInvitation"
    )]
    async fn get_invitation(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        id: Query<String>,
    ) -> ApiResult<InvitationDetails> {
        Ok(Json(
            invitations::get(&state, &request_context(req), &id).await?,
        ))
    }

    /// An organization's invitations (members who may invite)
    #[oai(
        path = "/organization/list-invitations",
        method = "get",
        operation_id = "organizationListInvitations"
    )]
    async fn list_invitations(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        #[oai(name = "organizationId")] organization_id: Query<Option<String>>,
    ) -> ApiResult<Vec<InvitationDto>> {
        Ok(Json(
            invitations::list(&state, &request_context(req), opt(&organization_id)).await?,
        ))
    }

    /// The pending invitations addressed to the caller (verified address)
    #[oai(
        path = "/organization/list-user-invitations",
        method = "get",
        operation_id = "organizationListUserInvitations"
    )]
    async fn list_user_invitations(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
    ) -> ApiResult<Vec<UserInvitation>> {
        Ok(Json(
            invitations::list_for_user(&state, &request_context(req)).await?,
        ))
    }

    /// Remove a member, by member id or email (`member:delete`)
    #[oai(
        path = "/organization/remove-member",
        method = "post",
        operation_id = "organizationRemoveMember"
    )]
    async fn remove_member(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<RemoveMemberBody>,
    ) -> ApiResult<MemberResponse> {
        let member = members::remove(
            &state,
            &request_context(req),
            &body.member_id_or_email,
            body.organization_id.as_deref(),
        )
        .await?;
        Ok(Json(MemberResponse { member }))
    }

    /// Change a member's roles (`member:update`, no escalation)
    #[oai(
        path = "/organization/update-member-role",
        method = "post",
        operation_id = "organizationUpdateMemberRole"
    )]
    async fn update_member_role(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<UpdateMemberRoleBody>,
    ) -> ApiResult<MemberDto> {
        Ok(Json(
            members::update_role(
                &state,
                &request_context(req),
                &body.member_id,
                &body.role.0,
                body.organization_id.as_deref(),
            )
            .await?,
        ))
    }

    /// The caller's membership of the active organization
    #[oai(
        path = "/organization/get-active-member",
        method = "get",
        operation_id = "organizationGetActiveMember"
    )]
    async fn get_active_member(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
    ) -> ApiResult<MemberWithUser> {
        Ok(Json(
            members::active_member(&state, &request_context(req)).await?,
        ))
    }

    /// Leave an organization (not as its last creator-role member)
    #[oai(
        path = "/organization/leave",
        method = "post",
        operation_id = "organizationLeave"
    )]
    async fn leave(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<OrganizationIdBody>,
    ) -> ApiResult<MemberWithUser> {
        Ok(Json(
            members::leave(&state, &request_context(req), &body.organization_id).await?,
        ))
    }

    /// A page of an organization's members, with their users
    ///
    /// `filterOperator`: `eq` (default), `ne`, `lt`, `lte`, `gt`, `gte`,
    /// `in`/`not_in` (comma-separated values), `contains`, `starts_with`,
    /// `ends_with`; fields `id`, `userId`, `role`, `createdAt`, `organizationId`.
    #[oai(
        path = "/organization/list-members",
        method = "get",
        operation_id = "organizationListMembers"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn list_members(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        limit: Query<Option<i64>>,
        offset: Query<Option<i64>>,
        #[oai(name = "sortBy")] sort_by: Query<Option<String>>,
        #[oai(name = "sortDirection")] sort_direction: Query<Option<String>>,
        #[oai(name = "filterField")] filter_field: Query<Option<String>>,
        #[oai(name = "filterValue")] filter_value: Query<Option<String>>,
        #[oai(name = "filterOperator")] filter_operator: Query<Option<String>>,
        #[oai(name = "organizationId")] organization_id: Query<Option<String>>,
        #[oai(name = "organizationSlug")] organization_slug: Query<Option<String>>,
    ) -> ApiResult<MembersPage> {
        let q = ListMembers {
            limit: limit.0,
            offset: offset.0,
            sort_by: sort_by.0,
            sort_direction: sort_direction.0,
            filter_field: filter_field.0,
            filter_value: filter_value.0,
            filter_operator: filter_operator.0,
            organization_id: organization_id.0,
            organization_slug: organization_slug.0,
        };
        Ok(Json(
            members::list(&state, &request_context(req), &q).await?,
        ))
    }

    /// The roles of the caller (or of `userId`) in an organization
    #[oai(
        path = "/organization/get-active-member-role",
        method = "get",
        operation_id = "organizationGetActiveMemberRole"
    )]
    async fn get_active_member_role(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        #[oai(name = "userId")] user_id: Query<Option<String>>,
        #[oai(name = "organizationId")] organization_id: Query<Option<String>>,
        #[oai(name = "organizationSlug")] organization_slug: Query<Option<String>>,
    ) -> ApiResult<RoleResponse> {
        let role = members::active_member_role(
            &state,
            &request_context(req),
            opt(&user_id),
            opt(&organization_id),
            opt(&organization_slug),
        )
        .await?;
        Ok(Json(RoleResponse { role }))
    }

    /// Whether the caller's roles grant every listed action
    ///
    /// Any one of the member's roles must grant the whole request. With
    /// `teamId`, the caller's role in that team counts too.
    #[oai(
        path = "/organization/has-permission",
        method = "post",
        operation_id = "organizationHasPermission"
    )]
    async fn has_permission(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<HasPermissionBody>,
    ) -> ApiResult<PermissionResult> {
        let request =
            match (&body.permissions, &body.permission) {
                (Some(p), None) | (None, Some(p)) => p,
                _ => return Err(ApiError::validation(
                    "[body] Invalid input: exactly one of permissions or permission is required",
                )),
            };
        let success = roles::has_permission(
            &state,
            &request_context(req),
            request,
            body.organization_id.as_deref(),
            body.team_id.as_deref(),
        )
        .await?;
        Ok(Json(PermissionResult {
            error: None,
            success,
        }))
    }

    /// Create a team (`team:create`)
    #[oai(
        path = "/organization/create-team",
        method = "post",
        operation_id = "organizationCreateTeam"
    )]
    async fn create_team(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<CreateTeamBody>,
    ) -> ApiResult<TeamDto> {
        Ok(Json(
            teams::create(
                &state,
                &request_context(req),
                &body.name,
                body.organization_id.as_deref(),
            )
            .await?,
        ))
    }

    /// Remove a team (`team:delete`)
    #[oai(
        path = "/organization/remove-team",
        method = "post",
        operation_id = "organizationRemoveTeam"
    )]
    async fn remove_team(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<RemoveTeamBody>,
    ) -> ApiResult<MessageResponse> {
        teams::remove(
            &state,
            &request_context(req),
            &body.team_id,
            body.organization_id.as_deref(),
        )
        .await?;
        Ok(Json(MessageResponse {
            message: "Team removed successfully.".into(),
        }))
    }

    /// Rename a team (`team:update`)
    #[oai(
        path = "/organization/update-team",
        method = "post",
        operation_id = "organizationUpdateTeam"
    )]
    async fn update_team(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<UpdateTeamBody>,
    ) -> ApiResult<TeamDto> {
        Ok(Json(
            teams::update(
                &state,
                &request_context(req),
                &body.team_id,
                body.data.name.as_deref(),
                body.data.organization_id.as_deref(),
            )
            .await?,
        ))
    }

    /// An organization's teams
    #[oai(
        path = "/organization/list-teams",
        method = "get",
        operation_id = "organizationListTeams"
    )]
    async fn list_teams(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        #[oai(name = "organizationId")] organization_id: Query<Option<String>>,
    ) -> ApiResult<Vec<TeamDto>> {
        Ok(Json(
            teams::list(&state, &request_context(req), opt(&organization_id)).await?,
        ))
    }

    /// Set (or, with `teamId: null`, clear) the session's active team
    #[oai(
        path = "/organization/set-active-team",
        method = "post",
        operation_id = "organizationSetActiveTeam"
    )]
    async fn set_active_team(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<SetActiveTeamBody>,
    ) -> ApiResult<Nullable<TeamDto>> {
        let team = teams::set_active(&state, &request_context(req), &body.team_id).await?;
        Ok(Json(Nullable(team)))
    }

    /// The teams of the caller (or, with `member:update`, of another member)
    #[oai(
        path = "/organization/list-user-teams",
        method = "get",
        operation_id = "organizationListUserTeams"
    )]
    async fn list_user_teams(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        #[oai(name = "userId")] user_id: Query<Option<String>>,
        #[oai(name = "organizationId")] organization_id: Query<Option<String>>,
    ) -> ApiResult<Vec<TeamDto>> {
        Ok(Json(
            teams::list_for_user(
                &state,
                &request_context(req),
                opt(&user_id),
                opt(&organization_id),
            )
            .await?,
        ))
    }

    /// The members of a team the caller is in (default: the active team)
    #[oai(
        path = "/organization/list-team-members",
        method = "get",
        operation_id = "organizationListTeamMembers"
    )]
    async fn list_team_members(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        #[oai(name = "teamId")] team_id: Query<Option<String>>,
    ) -> ApiResult<Vec<TeamMemberDto>> {
        Ok(Json(
            teams::list_members(&state, &request_context(req), opt(&team_id)).await?,
        ))
    }

    /// Add a member of the organization to a team (`member:update`)
    ///
    /// `role`: an optional team-scoped role, granting nothing the caller does not hold.
    #[oai(
        path = "/organization/add-team-member",
        method = "post",
        operation_id = "organizationAddTeamMember"
    )]
    async fn add_team_member(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<AddTeamMemberBody>,
    ) -> ApiResult<TeamMemberDto> {
        Ok(Json(
            teams::add_member(
                &state,
                &request_context(req),
                &body.team_id,
                &body.user_id,
                body.organization_id.as_deref(),
                body.role.as_ref().map(|r| r.0.as_slice()),
            )
            .await?,
        ))
    }

    /// Remove a member from a team (`member:delete`)
    #[oai(
        path = "/organization/remove-team-member",
        method = "post",
        operation_id = "organizationRemoveTeamMember"
    )]
    async fn remove_team_member(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<RemoveTeamMemberBody>,
    ) -> ApiResult<MessageResponse> {
        teams::remove_member(
            &state,
            &request_context(req),
            &body.team_id,
            &body.user_id,
            body.organization_id.as_deref(),
        )
        .await?;
        Ok(Json(MessageResponse {
            message: "Team member removed successfully.".into(),
        }))
    }

    /// Set or clear a team member's team-scoped role (`member:update`, no escalation)
    #[oai(
        path = "/organization/update-team-member-role",
        method = "post",
        operation_id = "organizationUpdateTeamMemberRole"
    )]
    async fn update_team_member_role(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<UpdateTeamMemberRoleBody>,
    ) -> ApiResult<TeamMemberDto> {
        use poem_openapi::types::MaybeUndefined;
        let role = match &body.role {
            MaybeUndefined::Undefined => {
                return Err(ApiError::validation(
                    "[body.role] Invalid input: expected string, received undefined",
                ))
            }
            MaybeUndefined::Null => None,
            MaybeUndefined::Value(r) => Some(r.0.as_slice()),
        };
        Ok(Json(
            teams::update_member_role(
                &state,
                &request_context(req),
                &body.team_id,
                &body.user_id,
                role,
                body.organization_id.as_deref(),
            )
            .await?,
        ))
    }

    /// Store a role for an organization (`ac:create`, no escalation)
    #[oai(
        path = "/organization/create-role",
        method = "post",
        operation_id = "organizationCreateRole"
    )]
    async fn create_role(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<CreateRoleBody>,
    ) -> ApiResult<CreatedRole> {
        Ok(Json(
            roles::create(
                &state,
                &request_context(req),
                &body.role,
                &body.permission,
                body.organization_id.as_deref(),
            )
            .await?,
        ))
    }

    /// Delete a stored role no member holds (`ac:delete`)
    #[oai(
        path = "/organization/delete-role",
        method = "post",
        operation_id = "organizationDeleteRole"
    )]
    async fn delete_role(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<RoleRefBody>,
    ) -> ApiResult<SuccessResponse> {
        roles::delete(
            &state,
            &request_context(req),
            body.role_name.as_deref(),
            body.role_id.as_deref(),
            body.organization_id.as_deref(),
        )
        .await?;
        Ok(Json(SuccessResponse { success: true }))
    }

    /// An organization's stored roles (`ac:read`)
    #[oai(
        path = "/organization/list-roles",
        method = "get",
        operation_id = "organizationListRoles"
    )]
    async fn list_roles(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        #[oai(name = "organizationId")] organization_id: Query<Option<String>>,
    ) -> ApiResult<Vec<RoleDto>> {
        Ok(Json(
            roles::list(&state, &request_context(req), opt(&organization_id)).await?,
        ))
    }

    /// One stored role, by name or id (`ac:read`)
    #[oai(
        path = "/organization/get-role",
        method = "get",
        operation_id = "organizationGetRole"
    )]
    async fn get_role(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        #[oai(name = "roleName")] role_name: Query<Option<String>>,
        #[oai(name = "roleId")] role_id: Query<Option<String>>,
        #[oai(name = "organizationId")] organization_id: Query<Option<String>>,
    ) -> ApiResult<RoleDto> {
        Ok(Json(
            roles::get(
                &state,
                &request_context(req),
                opt(&role_name),
                opt(&role_id),
                opt(&organization_id),
            )
            .await?,
        ))
    }

    /// Rename or re-permission a stored role (`ac:update`, no escalation)
    #[oai(
        path = "/organization/update-role",
        method = "post",
        operation_id = "organizationUpdateRole"
    )]
    async fn update_role(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<UpdateRoleBody>,
    ) -> ApiResult<UpdatedRole> {
        Ok(Json(
            roles::update(
                &state,
                &request_context(req),
                body.role_name.as_deref(),
                body.role_id.as_deref(),
                body.organization_id.as_deref(),
                body.data.permission.as_ref(),
                body.data.role_name.as_deref(),
            )
            .await?,
        ))
    }
}
