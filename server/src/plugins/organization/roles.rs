//! Access control routes: has-permission, and the roles an organization
//! stores (with `dynamic_access_control = true`): create, update, delete,
//! list, get.

use serde_json::json;

use super::access::{self, statements_cover, Statements};
use super::common::{
    audit, caller, err, holds_creator, membership, org_or_active, require_dynamic_roles,
    require_permission, roles_for, settings, Audit,
};
use super::dto::{CreatedRole, Permissions, RoleDto, UpdatedRole};
use super::errors;
use super::store::{self, RoleRow};
use crate::crypto::token;
use crate::error::{ApiError, ErrorCode};
use crate::http::context::RequestContext;
use crate::state::AppState;

/// Whether the caller's roles in the organization (and, with `team_id`, its
/// role in that team) grant every action of `request`.
pub async fn has_permission(
    state: &AppState,
    ctx: &RequestContext,
    request: &Statements,
    organization_id: Option<&str>,
    team_id: Option<&str>,
) -> Result<bool, ApiError> {
    let caller = caller(state, ctx).await?;
    let org_id = org_or_active(organization_id, &caller)
        .ok_or_else(|| err(errors::NO_ACTIVE_ORGANIZATION))?;
    let me = membership(
        state,
        &org_id,
        caller.user_id(),
        ApiError::new(errors::USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION).with_status(401),
    )
    .await?;
    let mut held = me.role.clone();
    if let Some(team_id) = team_id.filter(|t| !t.is_empty()) {
        let team = store::find_team(&state.db, team_id, Some(&org_id))
            .await?
            .ok_or_else(|| err(errors::TEAM_NOT_FOUND))?;
        if let Some(r) = store::find_team_member(&state.db, &team.id, caller.user_id())
            .await?
            .and_then(|tm| tm.role)
        {
            held = format!("{held},{r}");
        }
    }
    let roles = roles_for(state, &org_id).await?;
    Ok(!request.is_empty() && roles.authorize(&held, request))
}

/// The caller's membership of the organization of a role route, after the
/// `ac:<action>` check.
async fn ac_member(
    state: &AppState,
    ctx: &RequestContext,
    organization_id: Option<&str>,
    action: &str,
    no_org: ErrorCode,
    denied: ErrorCode,
) -> Result<(String, super::store::MemberRow, String), ApiError> {
    require_dynamic_roles(state)?;
    let caller = caller(state, ctx).await?;
    let org_id = org_or_active(organization_id, &caller).ok_or_else(|| err(no_org))?;
    let me = membership(
        state,
        &org_id,
        caller.user_id(),
        err(errors::YOU_ARE_NOT_A_MEMBER_OF_THIS_ORGANIZATION),
    )
    .await?;
    require_permission(state, &me, "ac", action, err(denied)).await?;
    Ok((org_id, me, caller.user_id().to_string()))
}

/// Role names are stored lower-cased, without commas (role lists are comma-separated).
fn role_name(name: &str, field: &str) -> Result<String, ApiError> {
    let name = name.trim().to_lowercase();
    if name.is_empty() || name.contains(',') {
        return Err(ApiError::validation(format!(
            "[body.{field}] A role name is non-empty and has no comma"
        )));
    }
    Ok(name)
}

/// The permissions a stored role may grant: declared statements only
/// (`INVALID_RESOURCE`), and nothing the caller does not hold (`denied`).
async fn check_grants(
    state: &AppState,
    org_id: &str,
    member_roles: &str,
    permission: &Permissions,
    denied: ErrorCode,
) -> Result<(), ApiError> {
    let roles = roles_for(state, org_id).await?;
    if roles.ac.check_statements(permission).is_err() {
        return Err(err(errors::INVALID_RESOURCE));
    }
    if !holds_creator(state, member_roles)
        && !statements_cover(&roles.held(member_roles), permission)
    {
        return Err(err(denied));
    }
    Ok(())
}

pub async fn create(
    state: &AppState,
    ctx: &RequestContext,
    role: &str,
    permission: &Permissions,
    organization_id: Option<&str>,
) -> Result<CreatedRole, ApiError> {
    let denied = errors::YOU_ARE_NOT_ALLOWED_TO_CREATE_A_ROLE;
    let (org_id, me, user_id) = ac_member(
        state,
        ctx,
        organization_id,
        "create",
        errors::YOU_MUST_BE_IN_AN_ORGANIZATION_TO_CREATE_A_ROLE,
        denied,
    )
    .await?;
    let name = role_name(role, "role")?;
    let cfg = settings(state);
    if cfg.is_predefined_role(&name) {
        return Err(err(errors::ROLE_NAME_IS_ALREADY_TAKEN));
    }
    if let Some(max) = cfg.maximum_roles_per_organization {
        if store::count_roles(&state.db, &org_id).await? >= i64::from(max) {
            return Err(err(errors::TOO_MANY_ROLES));
        }
    }
    check_grants(state, &org_id, &me.role, permission, denied).await?;
    if store::find_role(&state.db, &org_id, Some(&name), None)
        .await?
        .is_some()
    {
        return Err(err(errors::ROLE_NAME_IS_ALREADY_TAKEN));
    }
    let row = RoleRow {
        id: token::new_id(),
        organization_id: org_id.clone(),
        role: name,
        permission: serde_json::to_string(permission).unwrap_or_default(),
        created_at: state.now(),
        updated_at: None,
    };
    store::insert_role(&state.db, &row).await.map_err(|e| {
        if e.is_unique_violation() {
            err(errors::ROLE_NAME_IS_ALREADY_TAKEN)
        } else {
            ApiError::from(e)
        }
    })?;
    audit(
        state,
        ctx,
        Audit {
            actor_id: Some(&user_id),
            action: "organization.create-role",
            target_type: "organization_role",
            target_id: &row.id,
            organization_id: Some(&org_id),
            details: json!({"role": row.role, "permission": permission}),
        },
    )
    .await?;
    Ok(CreatedRole {
        success: true,
        role_data: RoleDto::from(&row),
        statements: permission.clone(),
    })
}

/// The stored role a request names (`roleName` first, else `roleId`).
async fn named_role(
    state: &AppState,
    org_id: &str,
    name: Option<&str>,
    id: Option<&str>,
) -> Result<RoleRow, ApiError> {
    let name = name
        .filter(|n| !n.is_empty())
        .map(|n| n.trim().to_lowercase());
    let id = id.filter(|i| !i.is_empty());
    if name.is_none() && id.is_none() {
        return Err(err(errors::ROLE_NOT_FOUND));
    }
    store::find_role(&state.db, org_id, name.as_deref(), id)
        .await?
        .ok_or_else(|| err(errors::ROLE_NOT_FOUND))
}

pub async fn delete(
    state: &AppState,
    ctx: &RequestContext,
    name: Option<&str>,
    id: Option<&str>,
    organization_id: Option<&str>,
) -> Result<(), ApiError> {
    let (org_id, _me, user_id) = ac_member(
        state,
        ctx,
        organization_id,
        "delete",
        errors::NO_ACTIVE_ORGANIZATION,
        errors::YOU_ARE_NOT_ALLOWED_TO_DELETE_A_ROLE,
    )
    .await?;
    if let Some(n) = name.filter(|n| !n.is_empty()) {
        if settings(state).is_predefined_role(&n.trim().to_lowercase())
            || settings(state).is_predefined_role(n)
        {
            return Err(err(errors::CANNOT_DELETE_A_PRE_DEFINED_ROLE));
        }
    }
    let role = named_role(state, &org_id, name, id).await?;
    let deleted = store::delete_role(&state.db, &role)
        .await
        .map_err(super::common::refused)?;
    if !deleted {
        return Err(err(errors::ROLE_IS_ASSIGNED_TO_MEMBERS));
    }
    audit(
        state,
        ctx,
        Audit {
            actor_id: Some(&user_id),
            action: "organization.delete-role",
            target_type: "organization_role",
            target_id: &role.id,
            organization_id: Some(&org_id),
            details: json!({"role": role.role}),
        },
    )
    .await?;
    Ok(())
}

pub async fn list(
    state: &AppState,
    ctx: &RequestContext,
    organization_id: Option<&str>,
) -> Result<Vec<RoleDto>, ApiError> {
    let (org_id, _, _) = ac_member(
        state,
        ctx,
        organization_id,
        "read",
        errors::NO_ACTIVE_ORGANIZATION,
        errors::YOU_ARE_NOT_ALLOWED_TO_LIST_A_ROLE,
    )
    .await?;
    Ok(store::list_roles(&state.db, &org_id)
        .await?
        .iter()
        .map(RoleDto::from)
        .collect())
}

pub async fn get(
    state: &AppState,
    ctx: &RequestContext,
    name: Option<&str>,
    id: Option<&str>,
    organization_id: Option<&str>,
) -> Result<RoleDto, ApiError> {
    let (org_id, _, _) = ac_member(
        state,
        ctx,
        organization_id,
        "read",
        errors::NO_ACTIVE_ORGANIZATION,
        errors::YOU_ARE_NOT_ALLOWED_TO_READ_A_ROLE,
    )
    .await?;
    Ok(RoleDto::from(&named_role(state, &org_id, name, id).await?))
}

pub async fn update(
    state: &AppState,
    ctx: &RequestContext,
    name: Option<&str>,
    id: Option<&str>,
    organization_id: Option<&str>,
    permission: Option<&Permissions>,
    new_name: Option<&str>,
) -> Result<UpdatedRole, ApiError> {
    let denied = errors::YOU_ARE_NOT_ALLOWED_TO_UPDATE_A_ROLE;
    let (org_id, me, user_id) = ac_member(
        state,
        ctx,
        organization_id,
        "update",
        errors::NO_ACTIVE_ORGANIZATION,
        denied,
    )
    .await?;
    let role = named_role(state, &org_id, name, id).await?;
    if let Some(p) = permission {
        check_grants(state, &org_id, &me.role, p, denied).await?;
    }
    let new_name = match new_name.filter(|n| !n.is_empty()) {
        Some(n) => {
            let n = role_name(n, "data.roleName")?;
            if n != role.role {
                if settings(state).is_predefined_role(&n)
                    || store::find_role(&state.db, &org_id, Some(&n), None)
                        .await?
                        .is_some()
                {
                    return Err(err(errors::ROLE_NAME_IS_ALREADY_TAKEN));
                }
                // Members holding the role by its old name would silently lose it.
                if store::list_all_members(&state.db, &org_id)
                    .await?
                    .iter()
                    .any(|m| access::role_names(&m.role).any(|r| r == role.role))
                {
                    return Err(err(errors::ROLE_IS_ASSIGNED_TO_MEMBERS));
                }
            }
            Some(n)
        }
        None => None,
    };
    let permission_text = permission.map(|p| serde_json::to_string(p).unwrap_or_default());
    let updated = store::update_role(
        &state.db,
        &role.id,
        new_name.as_deref(),
        permission_text.as_deref(),
        state.now(),
    )
    .await
    .map_err(|e| {
        if e.is_unique_violation() {
            err(errors::ROLE_NAME_IS_ALREADY_TAKEN)
        } else {
            ApiError::from(e)
        }
    })?
    .ok_or_else(|| err(errors::ROLE_NOT_FOUND))?;
    audit(
        state,
        ctx,
        Audit {
            actor_id: Some(&user_id),
            action: "organization.update-role",
            target_type: "organization_role",
            target_id: &updated.id,
            organization_id: Some(&org_id),
            details: json!({"from": role.role, "role": updated.role, "permission": permission}),
        },
    )
    .await?;
    Ok(UpdatedRole {
        success: true,
        role_data: RoleDto::from(&updated),
    })
}
