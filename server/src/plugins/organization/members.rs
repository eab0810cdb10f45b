//! Members: add (server-side), remove, update-member-role, leave,
//! get-active-member, get-active-member-role, list-members.

use serde_json::json;

use super::common::{
    audit, caller, check_roles_exist, err, holds_creator, may_grant, membership, org_or_active,
    refused, require_permission, role_list, roles_for, settings, Audit, Caller,
};
use super::dto::{MemberDto, MemberWithUser, MembersPage};
use super::errors;
use super::orgs::with_users;
use super::store::{
    self, FilterOp, FilterValue, MemberField, MemberFilter, MemberPage, MemberRow, TeamMemberRow,
    TeamSeat,
};
use crate::db::store as core_store;
use crate::error::{codes, ApiError};
use crate::http::context::RequestContext;
use crate::state::AppState;

/// What [`add`] needs: Better Auth's server-only `addMember`.
#[derive(Debug, Clone)]
pub struct AddMember {
    pub user_id: String,
    /// One or more role names.
    pub role: Vec<String>,
    pub organization_id: String,
    /// With teams: a team of the organization the member also joins.
    pub team_id: Option<String>,
}

/// Adds a user to an organization without an invitation (trusted, server-side).
pub async fn add(state: &AppState, input: &AddMember) -> Result<MemberDto, ApiError> {
    let cfg = settings(state);
    if input.organization_id.is_empty() {
        return Err(err(errors::NO_ACTIVE_ORGANIZATION));
    }
    if input.team_id.is_some() && !cfg.teams {
        return Err(ApiError::validation("Teams are not enabled"));
    }
    let user = core_store::find_user_by_id(&state.db, &input.user_id)
        .await?
        .ok_or_else(|| err(codes::USER_NOT_FOUND))?;
    let org_id = &input.organization_id;
    if store::find_member(&state.db, org_id, &user.id)
        .await?
        .is_some()
    {
        return Err(err(errors::USER_IS_ALREADY_A_MEMBER_OF_THIS_ORGANIZATION));
    }
    let org = store::find_org(&state.db, org_id)
        .await?
        .ok_or_else(|| err(errors::ORGANIZATION_NOT_FOUND))?;
    let roles = roles_for(state, &org.id).await?;
    let names = role_list(&input.role)?;
    check_roles_exist(&roles, &names)?;
    let now = state.now();
    let mut seats = Vec::new();
    if let Some(team_id) = &input.team_id {
        store::find_team(&state.db, team_id, Some(&org.id))
            .await?
            .ok_or_else(|| err(errors::TEAM_NOT_FOUND))?;
        seats.push(TeamSeat {
            row: TeamMemberRow::new(team_id, &user.id, None, now),
            maximum: cfg.maximum_members_per_team.map(|m| m as i32),
        });
    }
    let member = MemberRow {
        id: crate::crypto::token::new_id(),
        organization_id: org.id.clone(),
        user_id: user.id.clone(),
        role: names.join(","),
        created_at: now,
    };
    store::add_member(&state.db, &member, &seats, i64::from(cfg.membership_limit))
        .await
        .map_err(refused)?;
    audit(
        state,
        &RequestContext::server_side(),
        Audit {
            actor_id: None,
            action: "organization.add-member",
            target_type: "member",
            target_id: &member.id,
            organization_id: Some(&org.id),
            details: json!({"userId": user.id, "role": member.role, "teamId": input.team_id}),
        },
    )
    .await?;
    Ok(MemberDto::from(&member))
}

/// Finds a member of `org_id` by id or (when it contains `@`) by email.
async fn find_target(
    state: &AppState,
    org_id: &str,
    id_or_email: &str,
) -> Result<Option<MemberRow>, ApiError> {
    if id_or_email.contains('@') {
        let Some(user) =
            core_store::find_user_by_email(&state.db, &id_or_email.to_lowercase()).await?
        else {
            return Ok(None);
        };
        Ok(store::find_member(&state.db, org_id, &user.id).await?)
    } else {
        Ok(store::find_member_by_id(&state.db, id_or_email)
            .await?
            .filter(|m| m.organization_id == org_id))
    }
}

/// How many members hold the creator role.
async fn creator_count(state: &AppState, org_id: &str) -> Result<usize, ApiError> {
    Ok(store::list_all_members(&state.db, org_id)
        .await?
        .iter()
        .filter(|m| holds_creator(state, &m.role))
        .count())
}

pub async fn remove(
    state: &AppState,
    ctx: &RequestContext,
    member_id_or_email: &str,
    organization_id: Option<&str>,
) -> Result<MemberDto, ApiError> {
    let caller = caller(state, ctx).await?;
    let org_id = org_or_active(organization_id, &caller)
        .ok_or_else(|| err(errors::NO_ACTIVE_ORGANIZATION))?;
    let me = membership(
        state,
        &org_id,
        caller.user_id(),
        err(errors::MEMBER_NOT_FOUND),
    )
    .await?;
    let denied = || err(errors::YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_MEMBER);
    require_permission(state, &me, "member", "delete", denied()).await?;
    let target = find_target(state, &org_id, member_id_or_email)
        .await?
        .ok_or_else(|| err(errors::MEMBER_NOT_FOUND))?;
    if holds_creator(state, &target.role)
        && (!holds_creator(state, &me.role) || creator_count(state, &org_id).await? <= 1)
    {
        return Err(err(
            errors::YOU_CANNOT_LEAVE_THE_ORGANIZATION_AS_THE_ONLY_OWNER,
        ));
    }
    // Nobody removes a member who holds more than they do.
    let roles = roles_for(state, &org_id).await?;
    if !may_grant(state, &roles, &me.role, &target.role) {
        return Err(denied());
    }
    store::remove_member(&state.db, &target, &settings(state).creator_role)
        .await
        .map_err(refused)?;
    state.sessions.invalidate_user(&target.user_id);
    audit(
        state,
        ctx,
        Audit {
            actor_id: Some(caller.user_id()),
            action: "organization.remove-member",
            target_type: "member",
            target_id: &target.id,
            organization_id: Some(&org_id),
            details: json!({"userId": target.user_id, "role": target.role}),
        },
    )
    .await?;
    Ok(MemberDto::from(&target))
}

pub async fn update_role(
    state: &AppState,
    ctx: &RequestContext,
    member_id: &str,
    role: &[String],
    organization_id: Option<&str>,
) -> Result<MemberDto, ApiError> {
    let caller = caller(state, ctx).await?;
    let names = super::access::parse_roles(&role.join(","));
    if names.is_empty() {
        return Err(ApiError::validation(
            "[body.role] At least one role is required",
        ));
    }
    let org_id = org_or_active(organization_id, &caller)
        .ok_or_else(|| err(errors::NO_ACTIVE_ORGANIZATION))?;
    let me = membership(
        state,
        &org_id,
        caller.user_id(),
        err(errors::MEMBER_NOT_FOUND),
    )
    .await?;
    let denied = || err(errors::YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER);
    // Creator-role members may always update (Better Auth's `allowCreatorAllPermissions`).
    if !holds_creator(state, &me.role) {
        require_permission(state, &me, "member", "update", denied()).await?;
    }
    let target = if me.id == member_id {
        me.clone()
    } else {
        store::find_member_by_id(&state.db, member_id)
            .await?
            .ok_or_else(|| err(errors::MEMBER_NOT_FOUND))?
    };
    if target.organization_id != org_id {
        return Err(denied());
    }
    let new_role = names.join(",");
    let roles = roles_for(state, &org_id).await?;
    // No escalation: only roles the updater could hold out themselves, for
    // a member holding no more than they do (the creator role only from its holders).
    if !may_grant(state, &roles, &me.role, &target.role)
        || !may_grant(state, &roles, &me.role, &new_role)
    {
        return Err(denied());
    }
    if holds_creator(state, &me.role)
        && me.id == target.id
        && !holds_creator(state, &new_role)
        && creator_count(state, &org_id).await? <= 1
    {
        return Err(err(
            errors::YOU_CANNOT_LEAVE_THE_ORGANIZATION_WITHOUT_AN_OWNER,
        ));
    }
    check_roles_exist(&roles, &names)?;
    let updated =
        store::update_member_role(&state.db, &target, &new_role, &settings(state).creator_role)
            .await
            .map_err(|e| match e {
                store::TxError::Refused(store::Refused::LastOwner) => {
                    err(errors::YOU_CANNOT_LEAVE_THE_ORGANIZATION_WITHOUT_AN_OWNER)
                }
                other => refused(other),
            })?;
    audit(
        state,
        ctx,
        Audit {
            actor_id: Some(caller.user_id()),
            action: "organization.update-member-role",
            target_type: "member",
            target_id: &updated.id,
            organization_id: Some(&org_id),
            details: json!({"userId": updated.user_id, "from": target.role, "to": updated.role}),
        },
    )
    .await?;
    Ok(MemberDto::from(&updated))
}

pub async fn leave(
    state: &AppState,
    ctx: &RequestContext,
    org_id: &str,
) -> Result<MemberWithUser, ApiError> {
    let caller = caller(state, ctx).await?;
    let me = membership(
        state,
        org_id,
        caller.user_id(),
        err(errors::MEMBER_NOT_FOUND),
    )
    .await?;
    if holds_creator(state, &me.role) && creator_count(state, org_id).await? <= 1 {
        return Err(err(
            errors::YOU_CANNOT_LEAVE_THE_ORGANIZATION_AS_THE_ONLY_OWNER,
        ));
    }
    store::remove_member(&state.db, &me, &settings(state).creator_role)
        .await
        .map_err(refused)?;
    state.sessions.invalidate_user(caller.user_id());
    audit(
        state,
        ctx,
        Audit {
            actor_id: Some(caller.user_id()),
            action: "organization.leave",
            target_type: "member",
            target_id: &me.id,
            organization_id: Some(org_id),
            details: json!({"userId": me.user_id, "role": me.role}),
        },
    )
    .await?;
    Ok(MemberWithUser::new(&me, &caller.auth.user))
}

pub async fn active_member(
    state: &AppState,
    ctx: &RequestContext,
) -> Result<MemberWithUser, ApiError> {
    let caller = caller(state, ctx).await?;
    let org_id = caller
        .active_org
        .clone()
        .ok_or_else(|| err(errors::NO_ACTIVE_ORGANIZATION))?;
    let me = membership(
        state,
        &org_id,
        caller.user_id(),
        err(errors::MEMBER_NOT_FOUND),
    )
    .await?;
    Ok(MemberWithUser::new(&me, &caller.auth.user))
}

/// The organization named by slug, else id, else the active one.
async fn org_by_slug_or_id(
    state: &AppState,
    caller: &Caller,
    id: Option<&str>,
    slug: Option<&str>,
) -> Result<String, ApiError> {
    if let Some(slug) = slug.filter(|s| !s.is_empty()) {
        return Ok(store::find_org_by_slug(&state.db, slug)
            .await?
            .ok_or_else(|| err(errors::ORGANIZATION_NOT_FOUND))?
            .id);
    }
    org_or_active(id, caller).ok_or_else(|| err(errors::NO_ACTIVE_ORGANIZATION))
}

pub async fn active_member_role(
    state: &AppState,
    ctx: &RequestContext,
    user_id: Option<&str>,
    id: Option<&str>,
    slug: Option<&str>,
) -> Result<String, ApiError> {
    let caller = caller(state, ctx).await?;
    let org_id = org_by_slug_or_id(state, &caller, id, slug).await?;
    let not_member = || err(errors::YOU_ARE_NOT_A_MEMBER_OF_THIS_ORGANIZATION);
    let me = membership(state, &org_id, caller.user_id(), not_member()).await?;
    match user_id.filter(|u| !u.is_empty()) {
        None => Ok(me.role),
        Some(other) => Ok(membership(state, &org_id, other, not_member()).await?.role),
    }
}

/// The query of `list-members`.
#[derive(Debug, Default, Clone)]
pub struct ListMembers {
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    pub sort_by: Option<String>,
    pub sort_direction: Option<String>,
    pub filter_field: Option<String>,
    pub filter_value: Option<String>,
    pub filter_operator: Option<String>,
    pub organization_id: Option<String>,
    pub organization_slug: Option<String>,
}

fn query_error(field: &str, message: String) -> ApiError {
    ApiError::validation(format!("[query.{field}] {message}"))
}

fn member_field(field: &str, name: &str) -> Result<MemberField, ApiError> {
    MemberField::parse(name).ok_or_else(|| {
        query_error(
            field,
            format!(
                "Invalid option: expected one of \"id\"|\"userId\"|\"role\"|\"createdAt\"|\"organizationId\", got {name:?}"
            ),
        )
    })
}

fn filter_of(q: &ListMembers) -> Result<Option<MemberFilter>, ApiError> {
    let Some(field) = q.filter_field.as_deref().filter(|f| !f.is_empty()) else {
        return Ok(None);
    };
    let field = member_field("filterField", field)?;
    let op = match q.filter_operator.as_deref() {
        None | Some("") => FilterOp::Eq,
        Some(o) => FilterOp::parse(o).ok_or_else(|| {
            query_error(
                "filterOperator",
                format!("Invalid option: expected one of {}", FilterOp::NAMES),
            )
        })?,
    };
    let raw = q.filter_value.clone().unwrap_or_default();
    let value = if field == MemberField::CreatedAt {
        let t = chrono::DateTime::parse_from_rfc3339(&raw)
            .map_err(|_| query_error("filterValue", "Invalid date-time".into()))?;
        FilterValue::Time(t.naive_utc())
    } else if matches!(op, FilterOp::In | FilterOp::NotIn) {
        FilterValue::Text(raw.split(',').map(|s| s.trim().to_string()).collect())
    } else {
        FilterValue::Text(vec![raw])
    };
    Ok(Some(MemberFilter { field, op, value }))
}

pub async fn list(
    state: &AppState,
    ctx: &RequestContext,
    q: &ListMembers,
) -> Result<MembersPage, ApiError> {
    let caller = caller(state, ctx).await?;
    let org_id = org_by_slug_or_id(
        state,
        &caller,
        q.organization_id.as_deref(),
        q.organization_slug.as_deref(),
    )
    .await?;
    membership(
        state,
        &org_id,
        caller.user_id(),
        err(errors::YOU_ARE_NOT_A_MEMBER_OF_THIS_ORGANIZATION),
    )
    .await?;
    let descending = match q.sort_direction.as_deref() {
        None | Some("") | Some("asc") => false,
        Some("desc") => true,
        Some(_) => {
            return Err(query_error(
                "sortDirection",
                "Invalid option: expected one of \"asc\"|\"desc\"".into(),
            ))
        }
    };
    let page = MemberPage {
        limit: q
            .limit
            .filter(|l| *l > 0)
            .unwrap_or(i64::from(settings(state).membership_limit)),
        offset: q.offset.unwrap_or(0).max(0),
        sort_by: match q.sort_by.as_deref().filter(|s| !s.is_empty()) {
            Some(s) => Some(member_field("sortBy", s)?),
            None => None,
        },
        descending,
        filter: filter_of(q)?,
    };
    let (rows, total) = store::list_members_page(&state.db, &org_id, &page).await?;
    Ok(MembersPage {
        members: with_users(state, &rows).await?,
        total,
    })
}
