//! The admin routes: Better Auth's `/admin/*` wire, then the runtime-role
//! and audit routes Gatehouse adds. Handlers are thin; `service` does the work.

use std::collections::BTreeMap;
use std::sync::Arc;

use poem::web::Data;
use poem::Request;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use serde_json::Value;

use super::errors as e;
use super::service;
use crate::core::dto::{OneOrMany, SessionDto, StatusResponse, SuccessResponse, User};
use crate::docs::{RouteAuth, RouteDoc};
use crate::error::{codes, ApiResult, ErrorCode};
use crate::http::context::request_context;
use crate::plugin::PluginApi;
use crate::state::AppState;

#[derive(Debug, Clone, Object)]
pub struct CreateUserBody {
    pub email: String,
    /// Without one, the user has no password (links, codes or passkeys only).
    pub password: Option<String>,
    pub name: String,
    pub role: Option<OneOrMany>,
    /// Extra user fields: `emailVerified`, `image`, `role`, `banned`, `banReason`, `banExpires`.
    pub data: Option<BTreeMap<String, Value>>,
}

#[derive(Debug, Clone, Object)]
pub struct UserEnvelope {
    pub user: User,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct AdminUpdateUserBody {
    pub user_id: String,
    /// The fields to change (`name`, `email`, `emailVerified`, `image`,
    /// `role`, `banned`, `banReason`, `banExpires`, and plugin user fields).
    pub data: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Object)]
pub struct ListUsersResponse {
    pub users: Vec<User>,
    pub total: i64,
    #[oai(skip_serializing_if_is_none)]
    pub limit: Option<i64>,
    #[oai(skip_serializing_if_is_none)]
    pub offset: Option<i64>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct UserIdBody {
    pub user_id: String,
}

#[derive(Debug, Clone, Object)]
pub struct SessionsEnvelope {
    pub sessions: Vec<SessionDto>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct SetRoleBody {
    pub user_id: String,
    pub role: OneOrMany,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct BanUserBody {
    pub user_id: String,
    pub ban_reason: Option<String>,
    /// Seconds until the ban lifts itself; none: the configured default, else permanent.
    pub ban_expires_in: Option<i64>,
}

#[derive(Debug, Clone, Object)]
pub struct SessionAndUser {
    pub session: SessionDto,
    pub user: User,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct RevokeUserSessionBody {
    /// The session's token, or the handle `list-user-sessions` returned as its `token`.
    pub session_token: String,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct SetUserPasswordBody {
    pub new_password: String,
    pub user_id: String,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct UserHasPermissionBody {
    /// `{resource: [actions]}`; every action must be granted by one of the roles.
    pub permissions: Option<BTreeMap<String, Vec<String>>>,
    /// Deprecated spelling of `permissions` (Better Auth refuses it alone, so does this).
    pub permission: Option<BTreeMap<String, Vec<String>>>,
    /// Server-side only: over HTTP the answer is for the caller.
    pub user_id: Option<String>,
    /// Server-side only: over HTTP the answer is for the caller.
    pub role: Option<String>,
}

#[derive(Debug, Clone, Object)]
pub struct AdminPermissionResult {
    /// Always `null` (Better Auth's shape).
    pub error: Option<String>,
    pub success: bool,
}

#[derive(Debug, Clone, Object)]
pub struct RoleBody {
    /// 1 to 64 letters, digits, `-` or `_`.
    pub role: String,
    /// `{resource: [actions]}` the role grants.
    pub permission: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Object)]
pub struct RoleNameBody {
    pub role: String,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct AdminRole {
    pub role: String,
    pub permission: BTreeMap<String, Vec<String>>,
    /// Defined in the configuration (or built in): not changeable over HTTP.
    pub built_in: bool,
}

#[derive(Debug, Clone, Object)]
pub struct RoleResult {
    pub success: bool,
    pub role: AdminRole,
}

#[derive(Debug, Clone, Object)]
pub struct RolesEnvelope {
    pub roles: Vec<AdminRole>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct AuditEntry {
    pub id: String,
    /// The signed-in user who acted; `null` for server-side calls and start-up.
    pub actor_id: Option<String>,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub organization_id: Option<String>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub details: BTreeMap<String, Value>,
    pub created_at: String,
}

#[derive(Debug, Clone, Object)]
pub struct AuditLogPage {
    pub entries: Vec<AuditEntry>,
    pub total: i64,
}

/// The listing's query, as Better Auth's client sends it.
#[derive(Debug, Clone, Default)]
pub struct ListUsersParams {
    pub search_value: Option<String>,
    pub search_field: Option<String>,
    pub search_operator: Option<String>,
    pub limit: Option<String>,
    pub offset: Option<String>,
    pub sort_by: Option<String>,
    pub sort_direction: Option<String>,
    pub filter_field: Option<String>,
    pub filter_value: Option<String>,
    pub filter_operator: Option<String>,
}

pub struct AdminApi;

impl PluginApi for AdminApi {
    const ID: &'static str = super::ID;
    const DESCRIPTION: &'static str = super::DESCRIPTION;
}

const fn status(code: ErrorCode, status: u16) -> ErrorCode {
    ErrorCode { status, ..code }
}
const USER_NOT_FOUND: ErrorCode = status(codes::USER_NOT_FOUND, 404);
const FRESH: ErrorCode = codes::SESSION_NOT_FRESH;

macro_rules! doc {
    ($id:literal, $($code:expr),* $(,)?) => {
        RouteDoc { operation_id: $id, auth: RouteAuth::Session, errors: &[FRESH, $($code),*] }
    };
}

pub const ROUTE_DOCS: &[RouteDoc] = &[
    doc!(
        "createUser",
        e::YOU_ARE_NOT_ALLOWED_TO_CREATE_USERS,
        e::YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE,
        e::YOU_ARE_NOT_ALLOWED_TO_BAN_USERS,
        e::YOU_ARE_NOT_ALLOWED_TO_SET_NON_EXISTENT_VALUE,
        e::INVALID_ROLE_TYPE,
        codes::INVALID_EMAIL,
        codes::PASSWORD_TOO_SHORT,
        codes::PASSWORD_TOO_LONG,
        status(codes::USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL, 400),
        codes::SERVER_BUSY,
    ),
    doc!(
        "getUser",
        e::YOU_ARE_NOT_ALLOWED_TO_GET_USER,
        USER_NOT_FOUND
    ),
    doc!(
        "adminUpdateUser",
        e::YOU_ARE_NOT_ALLOWED_TO_UPDATE_USERS,
        e::NO_DATA_TO_UPDATE,
        e::PASSWORD_CANNOT_BE_UPDATED_VIA_UPDATE_USER,
        e::USER_ID_CANNOT_BE_UPDATED,
        e::YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE,
        e::YOU_ARE_NOT_ALLOWED_TO_SET_NON_EXISTENT_VALUE,
        e::INVALID_ROLE_TYPE,
        e::YOU_ARE_NOT_ALLOWED_TO_BAN_USERS,
        e::YOU_CANNOT_BAN_YOURSELF,
        e::YOU_ARE_NOT_ALLOWED_TO_SET_USERS_EMAIL,
        codes::INVALID_EMAIL,
        status(codes::USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL, 400),
        USER_NOT_FOUND,
    ),
    doc!("listUsers", e::YOU_ARE_NOT_ALLOWED_TO_LIST_USERS),
    doc!(
        "adminListUserSessions",
        e::YOU_ARE_NOT_ALLOWED_TO_LIST_USERS_SESSIONS
    ),
    doc!(
        "setUserRole",
        e::YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE,
        e::YOU_ARE_NOT_ALLOWED_TO_SET_NON_EXISTENT_VALUE,
        USER_NOT_FOUND,
    ),
    doc!(
        "banUser",
        e::YOU_ARE_NOT_ALLOWED_TO_BAN_USERS,
        e::YOU_CANNOT_BAN_YOURSELF,
        USER_NOT_FOUND,
    ),
    doc!(
        "unbanUser",
        e::YOU_ARE_NOT_ALLOWED_TO_BAN_USERS,
        USER_NOT_FOUND
    ),
    doc!(
        "impersonateUser",
        e::YOU_ARE_NOT_ALLOWED_TO_IMPERSONATE_USERS,
        e::YOU_CANNOT_IMPERSONATE_ADMINS,
        e::BANNED_USER,
        USER_NOT_FOUND,
        codes::FAILED_TO_CREATE_SESSION,
    ),
    RouteDoc {
        operation_id: "stopImpersonating",
        auth: RouteAuth::Session,
        errors: &[e::NOT_IMPERSONATING, e::ADMIN_SESSION_NOT_FOUND],
    },
    doc!(
        "revokeUserSession",
        e::YOU_ARE_NOT_ALLOWED_TO_REVOKE_USERS_SESSIONS
    ),
    doc!(
        "revokeUserSessions",
        e::YOU_ARE_NOT_ALLOWED_TO_REVOKE_USERS_SESSIONS
    ),
    doc!(
        "removeUser",
        e::YOU_ARE_NOT_ALLOWED_TO_DELETE_USERS,
        e::YOU_CANNOT_REMOVE_YOURSELF,
        USER_NOT_FOUND,
    ),
    doc!(
        "setUserPassword",
        e::YOU_ARE_NOT_ALLOWED_TO_SET_USERS_PASSWORD,
        codes::PASSWORD_TOO_SHORT,
        codes::PASSWORD_TOO_LONG,
        USER_NOT_FOUND,
        codes::SERVER_BUSY,
    ),
    RouteDoc {
        operation_id: "userHasPermission",
        auth: RouteAuth::Session,
        errors: &[e::INVALID_PERMISSION_CHECK],
    },
    doc!(
        "createAdminRole",
        e::YOU_ARE_NOT_ALLOWED_TO_CREATE_ROLES,
        e::INVALID_ROLE_NAME,
        e::ADMIN_ROLE_ALREADY_EXISTS,
        e::INVALID_PERMISSION,
        e::ROLE_EXCEEDS_YOUR_PERMISSIONS,
        e::TOO_MANY_ADMIN_ROLES,
    ),
    doc!(
        "updateAdminRole",
        e::YOU_ARE_NOT_ALLOWED_TO_UPDATE_ROLES,
        e::CANNOT_CHANGE_A_BUILT_IN_ROLE,
        e::ADMIN_ROLE_NOT_FOUND,
        e::INVALID_PERMISSION,
        e::ROLE_EXCEEDS_YOUR_PERMISSIONS,
    ),
    doc!(
        "deleteAdminRole",
        e::YOU_ARE_NOT_ALLOWED_TO_DELETE_ROLES,
        e::CANNOT_CHANGE_A_BUILT_IN_ROLE,
        e::ADMIN_ROLE_NOT_FOUND,
        e::ADMIN_ROLE_IS_ASSIGNED,
    ),
    doc!("listAdminRoles", e::YOU_ARE_NOT_ALLOWED_TO_READ_ROLES),
    doc!(
        "getAdminRole",
        e::YOU_ARE_NOT_ALLOWED_TO_READ_ROLES,
        e::ADMIN_ROLE_NOT_FOUND
    ),
    doc!("listAuditLogs", e::YOU_ARE_NOT_ALLOWED_TO_LIST_AUDIT_LOGS),
];

#[OpenApi]
impl AdminApi {
    /// Create a user
    ///
    /// Needs `user: create` (and `user: set-role` to choose a role, which
    /// must grant nothing the caller lacks). Returns `{user}`.
    #[oai(
        path = "/admin/create-user",
        method = "post",
        operation_id = "createUser"
    )]
    async fn create_user(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<CreateUserBody>,
    ) -> ApiResult<UserEnvelope> {
        Ok(Json(
            service::create_user(&state, &request_context(req), body.0).await?,
        ))
    }

    /// Get a user
    #[oai(path = "/admin/get-user", method = "get", operation_id = "getUser")]
    async fn get_user(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        id: Query<String>,
    ) -> ApiResult<User> {
        Ok(Json(
            service::get_user(&state, &request_context(req), &id).await?,
        ))
    }

    /// Update a user
    ///
    /// Returns the user. A ban set here revokes the user's sessions, as `ban-user` does.
    #[oai(
        path = "/admin/update-user",
        method = "post",
        operation_id = "adminUpdateUser"
    )]
    async fn update_user(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<AdminUpdateUserBody>,
    ) -> ApiResult<User> {
        Ok(Json(
            service::update_user(&state, &request_context(req), body.0).await?,
        ))
    }

    /// List users
    ///
    /// Search (`searchValue` in `searchField` with `searchOperator`), one
    /// filter, sort and paging, as Better Auth. An unknown field lists nothing.
    #[allow(clippy::too_many_arguments)]
    #[oai(path = "/admin/list-users", method = "get", operation_id = "listUsers")]
    async fn list_users(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        #[oai(name = "searchValue")] search_value: Query<Option<String>>,
        #[oai(name = "searchField")] search_field: Query<Option<String>>,
        #[oai(name = "searchOperator")] search_operator: Query<Option<String>>,
        limit: Query<Option<String>>,
        offset: Query<Option<String>>,
        #[oai(name = "sortBy")] sort_by: Query<Option<String>>,
        #[oai(name = "sortDirection")] sort_direction: Query<Option<String>>,
        #[oai(name = "filterField")] filter_field: Query<Option<String>>,
        #[oai(name = "filterValue")] filter_value: Query<Option<String>>,
        #[oai(name = "filterOperator")] filter_operator: Query<Option<String>>,
    ) -> ApiResult<ListUsersResponse> {
        let params = ListUsersParams {
            search_value: search_value.0,
            search_field: search_field.0,
            search_operator: search_operator.0,
            limit: limit.0,
            offset: offset.0,
            sort_by: sort_by.0,
            sort_direction: sort_direction.0,
            filter_field: filter_field.0,
            filter_value: filter_value.0,
            filter_operator: filter_operator.0,
        };
        Ok(Json(
            service::list_users(&state, &request_context(req), params).await?,
        ))
    }

    /// List a user's sessions
    ///
    /// Each session's `token` is an opaque handle (`revoke-user-session` takes it):
    /// session tokens are stored hashed and never served.
    #[oai(
        path = "/admin/list-user-sessions",
        method = "post",
        operation_id = "adminListUserSessions"
    )]
    async fn list_user_sessions(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<UserIdBody>,
    ) -> ApiResult<SessionsEnvelope> {
        Ok(Json(
            service::list_user_sessions(&state, &request_context(req), &body.user_id).await?,
        ))
    }

    /// Set a user's role
    ///
    /// Takes effect on the user's next request. The role must exist and grant
    /// nothing the caller lacks.
    #[oai(
        path = "/admin/set-role",
        method = "post",
        operation_id = "setUserRole"
    )]
    async fn set_role(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<SetRoleBody>,
    ) -> ApiResult<UserEnvelope> {
        Ok(Json(
            service::set_role(&state, &request_context(req), body.0).await?,
        ))
    }

    /// Ban a user
    ///
    /// Revokes every session of the user at once; every sign-in method then
    /// answers 403 `BANNED_USER` until the ban lifts (or is lifted).
    #[oai(path = "/admin/ban-user", method = "post", operation_id = "banUser")]
    async fn ban_user(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<BanUserBody>,
    ) -> ApiResult<UserEnvelope> {
        Ok(Json(
            service::ban_user(&state, &request_context(req), body.0).await?,
        ))
    }

    /// Lift a user's ban
    #[oai(
        path = "/admin/unban-user",
        method = "post",
        operation_id = "unbanUser"
    )]
    async fn unban_user(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<UserIdBody>,
    ) -> ApiResult<UserEnvelope> {
        Ok(Json(
            service::unban_user(&state, &request_context(req), &body.user_id).await?,
        ))
    }

    /// Impersonate a user
    ///
    /// Signs the caller in as the user for at most an hour (configurable);
    /// the admin's session waits in the signed `admin_session` cookie.
    #[oai(
        path = "/admin/impersonate-user",
        method = "post",
        operation_id = "impersonateUser"
    )]
    async fn impersonate_user(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<UserIdBody>,
    ) -> ApiResult<SessionAndUser> {
        Ok(Json(
            service::impersonate_user(&state, &request_context(req), &body.user_id).await?,
        ))
    }

    /// Stop impersonating
    ///
    /// Ends the impersonation session and restores the admin's.
    #[oai(
        path = "/admin/stop-impersonating",
        method = "post",
        operation_id = "stopImpersonating"
    )]
    async fn stop_impersonating(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
    ) -> ApiResult<SessionAndUser> {
        Ok(Json(
            service::stop_impersonating(&state, &request_context(req)).await?,
        ))
    }

    /// Revoke one session of any user
    #[oai(
        path = "/admin/revoke-user-session",
        method = "post",
        operation_id = "revokeUserSession"
    )]
    async fn revoke_user_session(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<RevokeUserSessionBody>,
    ) -> ApiResult<SuccessResponse> {
        service::revoke_user_session(&state, &request_context(req), &body.session_token).await?;
        Ok(Json(SuccessResponse { success: true }))
    }

    /// Revoke every session of a user
    #[oai(
        path = "/admin/revoke-user-sessions",
        method = "post",
        operation_id = "revokeUserSessions"
    )]
    async fn revoke_user_sessions(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<UserIdBody>,
    ) -> ApiResult<SuccessResponse> {
        service::revoke_user_sessions(&state, &request_context(req), &body.user_id).await?;
        Ok(Json(SuccessResponse { success: true }))
    }

    /// Delete a user
    ///
    /// With their sessions and accounts. Cannot be undone.
    #[oai(
        path = "/admin/remove-user",
        method = "post",
        operation_id = "removeUser"
    )]
    async fn remove_user(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<UserIdBody>,
    ) -> ApiResult<SuccessResponse> {
        service::remove_user(&state, &request_context(req), &body.user_id).await?;
        Ok(Json(SuccessResponse { success: true }))
    }

    /// Set a user's password
    #[oai(
        path = "/admin/set-user-password",
        method = "post",
        operation_id = "setUserPassword"
    )]
    async fn set_user_password(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<SetUserPasswordBody>,
    ) -> ApiResult<StatusResponse> {
        service::set_user_password(&state, &request_context(req), body.0).await?;
        Ok(Json(StatusResponse { status: true }))
    }

    /// Check the caller's permissions
    ///
    /// `{error: null, success}`: whether one of the caller's roles grants every listed action.
    #[oai(
        path = "/admin/has-permission",
        method = "post",
        operation_id = "userHasPermission"
    )]
    async fn has_permission(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<UserHasPermissionBody>,
    ) -> ApiResult<AdminPermissionResult> {
        let success = service::has_permission(&state, &request_context(req), body.0).await?;
        Ok(Json(AdminPermissionResult {
            error: None,
            success,
        }))
    }

    /// Create a role
    ///
    /// Stored; takes effect on the next request. Needs `ac: create`; the role
    /// may grant only what the caller holds.
    #[oai(
        path = "/admin/create-role",
        method = "post",
        operation_id = "createAdminRole"
    )]
    async fn create_role(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<RoleBody>,
    ) -> ApiResult<RoleResult> {
        Ok(Json(
            service::create_role(&state, &request_context(req), body.0).await?,
        ))
    }

    /// Change a role's permissions
    ///
    /// Needs `ac: update`. Roles from the configuration cannot be changed here.
    #[oai(
        path = "/admin/update-role",
        method = "post",
        operation_id = "updateAdminRole"
    )]
    async fn update_role(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<RoleBody>,
    ) -> ApiResult<RoleResult> {
        Ok(Json(
            service::update_role(&state, &request_context(req), body.0).await?,
        ))
    }

    /// Delete a role
    ///
    /// Needs `ac: delete`; refused while any user holds it.
    #[oai(
        path = "/admin/delete-role",
        method = "post",
        operation_id = "deleteAdminRole"
    )]
    async fn delete_role(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<RoleNameBody>,
    ) -> ApiResult<SuccessResponse> {
        service::delete_role(&state, &request_context(req), &body.role).await?;
        Ok(Json(SuccessResponse { success: true }))
    }

    /// List roles
    ///
    /// The configured roles, then those created over HTTP. Needs `ac: read`.
    #[oai(
        path = "/admin/list-roles",
        method = "get",
        operation_id = "listAdminRoles"
    )]
    async fn list_roles(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
    ) -> ApiResult<RolesEnvelope> {
        Ok(Json(
            service::list_roles(&state, &request_context(req)).await?,
        ))
    }

    /// Get a role
    #[oai(
        path = "/admin/get-role",
        method = "get",
        operation_id = "getAdminRole"
    )]
    async fn get_role(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        role: Query<String>,
    ) -> ApiResult<AdminRole> {
        Ok(Json(
            service::get_role(&state, &request_context(req), &role).await?,
        ))
    }

    /// List the audit trail
    ///
    /// Admin and organization writes, newest first: who did what, to whom,
    /// when, from where. Filters are exact; `action` ending in `.` matches a
    /// prefix (`admin.`). Needs `audit: list`.
    #[allow(clippy::too_many_arguments)]
    #[oai(
        path = "/admin/list-audit-logs",
        method = "get",
        operation_id = "listAuditLogs"
    )]
    async fn list_audit_logs(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        #[oai(name = "actorId")] actor_id: Query<Option<String>>,
        #[oai(name = "targetId")] target_id: Query<Option<String>>,
        #[oai(name = "organizationId")] organization_id: Query<Option<String>>,
        action: Query<Option<String>>,
        limit: Query<Option<i64>>,
        offset: Query<Option<i64>>,
    ) -> ApiResult<AuditLogPage> {
        let filter = crate::plugin::audit::Filter {
            actor_id: actor_id.0,
            target_id: target_id.0,
            organization_id: organization_id.0,
            action: action.0,
            since: None,
            until: None,
        };
        Ok(Json(
            service::list_audit_logs(&state, &request_context(req), filter, limit.0, offset.0)
                .await?,
        ))
    }
}
