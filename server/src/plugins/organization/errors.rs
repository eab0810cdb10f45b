//! The `organization` plugin's error codes: Better Auth's
//! (`plugins/organization/error-codes.ts`), with the status each has at most
//! call sites. Where Better Auth answers a code with another status, the
//! route says so with [`ApiError::with_status`](crate::error::ApiError::with_status)
//! and its [`RouteDoc`](crate::docs::RouteDoc) lists the variant ([`at`]).

use crate::error::ErrorCode;

crate::error_codes! {
    YOU_ARE_NOT_ALLOWED_TO_CREATE_A_NEW_ORGANIZATION = (403, "You are not allowed to create a new organization");
    YOU_HAVE_REACHED_THE_MAXIMUM_NUMBER_OF_ORGANIZATIONS = (403, "You have reached the maximum number of organizations");
    ORGANIZATION_ALREADY_EXISTS = (400, "Organization already exists");
    ORGANIZATION_SLUG_ALREADY_TAKEN = (400, "Organization slug already taken");
    ORGANIZATION_NOT_FOUND = (400, "Organization not found");
    USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION = (403, "User is not a member of the organization");
    YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_ORGANIZATION = (403, "You are not allowed to update this organization");
    YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_ORGANIZATION = (403, "You are not allowed to delete this organization");
    ORGANIZATION_DELETION_DISABLED = (404, "Organization deletion is disabled");
    NO_ACTIVE_ORGANIZATION = (400, "No active organization");
    USER_IS_ALREADY_A_MEMBER_OF_THIS_ORGANIZATION = (400, "User is already a member of this organization");
    MEMBER_NOT_FOUND = (400, "Member not found");
    ROLE_NOT_FOUND = (400, "Role not found");
    YOU_ARE_NOT_ALLOWED_TO_CREATE_A_NEW_TEAM = (403, "You are not allowed to create a new team");
    TEAM_ALREADY_EXISTS = (400, "Team already exists");
    TEAM_NOT_FOUND = (400, "Team not found");
    YOU_CANNOT_LEAVE_THE_ORGANIZATION_AS_THE_ONLY_OWNER = (400, "You cannot leave the organization as the only owner");
    YOU_CANNOT_LEAVE_THE_ORGANIZATION_WITHOUT_AN_OWNER = (400, "You cannot leave the organization without an owner");
    YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_MEMBER = (401, "You are not allowed to delete this member");
    YOU_ARE_NOT_ALLOWED_TO_INVITE_USERS_TO_THIS_ORGANIZATION = (403, "You are not allowed to invite users to this organization");
    USER_IS_ALREADY_INVITED_TO_THIS_ORGANIZATION = (400, "User is already invited to this organization");
    INVITATION_NOT_FOUND = (400, "Invitation not found");
    YOU_ARE_NOT_THE_RECIPIENT_OF_THE_INVITATION = (403, "You are not the recipient of the invitation");
    EMAIL_VERIFICATION_REQUIRED_BEFORE_ACCEPTING_OR_REJECTING_INVITATION = (403, "Email verification required before accepting or rejecting invitation");
    EMAIL_VERIFICATION_REQUIRED_FOR_INVITATION = (403, "Email verification required to view or list invitations for the session email");
    YOU_ARE_NOT_ALLOWED_TO_CANCEL_THIS_INVITATION = (403, "You are not allowed to cancel this invitation");
    YOU_ARE_NOT_ALLOWED_TO_LIST_INVITATIONS = (403, "You are not allowed to list invitations for this organization");
    INVITER_IS_NO_LONGER_A_MEMBER_OF_THE_ORGANIZATION = (400, "Inviter is no longer a member of the organization");
    YOU_ARE_NOT_ALLOWED_TO_INVITE_USER_WITH_THIS_ROLE = (403, "You are not allowed to invite a user with this role");
    FAILED_TO_RETRIEVE_INVITATION = (400, "Failed to retrieve invitation");
    YOU_HAVE_REACHED_THE_MAXIMUM_NUMBER_OF_TEAMS = (400, "You have reached the maximum number of teams");
    UNABLE_TO_REMOVE_LAST_TEAM = (400, "Unable to remove last team");
    YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER = (403, "You are not allowed to update this member");
    ORGANIZATION_MEMBERSHIP_LIMIT_REACHED = (403, "Organization membership limit reached");
    YOU_ARE_NOT_ALLOWED_TO_CREATE_TEAMS_IN_THIS_ORGANIZATION = (403, "You are not allowed to create teams in this organization");
    YOU_ARE_NOT_ALLOWED_TO_DELETE_TEAMS_IN_THIS_ORGANIZATION = (403, "You are not allowed to delete teams in this organization");
    YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_TEAM = (403, "You are not allowed to update this team");
    YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_TEAM = (403, "You are not allowed to delete this team");
    INVITATION_LIMIT_REACHED = (403, "Invitation limit reached");
    TEAM_MEMBER_LIMIT_REACHED = (403, "Team member limit reached");
    USER_IS_NOT_A_MEMBER_OF_THE_TEAM = (400, "User is not a member of the team");
    YOU_CAN_NOT_ACCESS_THE_MEMBERS_OF_THIS_TEAM = (403, "You are not allowed to list the members of this team");
    YOU_DO_NOT_HAVE_AN_ACTIVE_TEAM = (400, "You do not have an active team");
    YOU_ARE_NOT_ALLOWED_TO_CREATE_A_NEW_TEAM_MEMBER = (403, "You are not allowed to create a new member");
    YOU_ARE_NOT_ALLOWED_TO_REMOVE_A_TEAM_MEMBER = (403, "You are not allowed to remove a team member");
    YOU_ARE_NOT_ALLOWED_TO_ACCESS_THIS_ORGANIZATION = (403, "You are not allowed to access this organization as an owner");
    YOU_ARE_NOT_A_MEMBER_OF_THIS_ORGANIZATION = (403, "You are not a member of this organization");
    MISSING_AC_INSTANCE = (501, "Dynamic Access Control requires a pre-defined ac instance on the server auth plugin. Read server logs for more information");
    YOU_MUST_BE_IN_AN_ORGANIZATION_TO_CREATE_A_ROLE = (400, "You must be in an organization to create a role");
    YOU_ARE_NOT_ALLOWED_TO_CREATE_A_ROLE = (403, "You are not allowed to create a role");
    YOU_ARE_NOT_ALLOWED_TO_UPDATE_A_ROLE = (403, "You are not allowed to update a role");
    YOU_ARE_NOT_ALLOWED_TO_DELETE_A_ROLE = (403, "You are not allowed to delete a role");
    YOU_ARE_NOT_ALLOWED_TO_READ_A_ROLE = (403, "You are not allowed to read a role");
    YOU_ARE_NOT_ALLOWED_TO_LIST_A_ROLE = (403, "You are not allowed to list a role");
    YOU_ARE_NOT_ALLOWED_TO_GET_A_ROLE = (403, "You are not allowed to get a role");
    TOO_MANY_ROLES = (400, "This organization has too many roles");
    INVALID_RESOURCE = (400, "The provided permission includes an invalid resource");
    ROLE_NAME_IS_ALREADY_TAKEN = (400, "That role name is already taken");
    CANNOT_DELETE_A_PRE_DEFINED_ROLE = (400, "Cannot delete a pre-defined role");
    ROLE_IS_ASSIGNED_TO_MEMBERS = (400, "Cannot delete a role that is assigned to members. Please reassign the members to a different role first");
    INVALID_TEAM_ID = (400, "Team id contains a reserved character");
}

/// `code` answered with another status (for route docs).
pub const fn at(status: u16, code: ErrorCode) -> ErrorCode {
    ErrorCode { status, ..code }
}
