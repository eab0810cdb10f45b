//! Teams (with `teams = true`): create, update, remove, list, set-active,
//! list-user-teams, list/add/remove team members, and team-scoped roles
//! (`update-team-member-role`, Gatehouse's addition).

use serde_json::json;

use super::access::{self, OrgRoles};
use super::common::{
    audit, caller, check_roles_exist, err, err_at, holds_creator, membership, org_or_active,
    refused, reissue_session_cookie, require_permission, require_teams, roles_for, set_active_team,
    settings, Audit, Caller,
};
use super::dto::{TeamDto, TeamMemberDto};
use super::errors;
use super::store::{self, MemberRow, TeamMemberRow, TeamRow, TeamSeat};
use crate::crypto::token;
use crate::error::{ApiError, ErrorCode};
use crate::http::context::RequestContext;
use crate::state::AppState;

fn org_of(caller: &Caller, given: Option<&str>) -> Result<String, ApiError> {
    org_or_active(given, caller).ok_or_else(|| err(errors::NO_ACTIVE_ORGANIZATION))
}

pub async fn create(
    state: &AppState,
    ctx: &RequestContext,
    name: &str,
    organization_id: Option<&str>,
) -> Result<TeamDto, ApiError> {
    require_teams(state)?;
    let caller = caller(state, ctx).await?;
    let org_id = org_of(&caller, organization_id)?;
    let me = membership(
        state,
        &org_id,
        caller.user_id(),
        err(errors::YOU_ARE_NOT_ALLOWED_TO_INVITE_USERS_TO_THIS_ORGANIZATION),
    )
    .await?;
    require_permission(
        state,
        &me,
        "team",
        "create",
        err(errors::YOU_ARE_NOT_ALLOWED_TO_CREATE_TEAMS_IN_THIS_ORGANIZATION),
    )
    .await?;
    crate::core::validate::check_field_length(state, "name", name)?;
    if let Some(max) = settings(state).maximum_teams {
        if store::list_teams(&state.db, &org_id).await?.len() >= max as usize {
            return Err(err(errors::YOU_HAVE_REACHED_THE_MAXIMUM_NUMBER_OF_TEAMS));
        }
    }
    store::find_org(&state.db, &org_id)
        .await?
        .ok_or_else(|| err(errors::ORGANIZATION_NOT_FOUND))?;
    let now = state.now();
    let team = TeamRow {
        id: token::new_id(),
        name: name.to_string(),
        organization_id: org_id.clone(),
        created_at: now,
        updated_at: Some(now),
        member_count: 0,
    };
    store::insert_team(&state.db, &team).await?;
    audit(
        state,
        ctx,
        Audit {
            actor_id: Some(caller.user_id()),
            action: "organization.create-team",
            target_type: "team",
            target_id: &team.id,
            organization_id: Some(&org_id),
            details: json!({"name": team.name}),
        },
    )
    .await?;
    Ok(TeamDto::from(&team))
}

pub async fn remove(
    state: &AppState,
    ctx: &RequestContext,
    team_id: &str,
    organization_id: Option<&str>,
) -> Result<(), ApiError> {
    require_teams(state)?;
    let caller = caller(state, ctx).await?;
    let org_id = org_of(&caller, organization_id)?;
    let me = store::find_member(&state.db, &org_id, caller.user_id()).await?;
    let me = match me {
        Some(m) if caller.active_team.as_deref() != Some(team_id) => m,
        _ => return Err(err(errors::YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_TEAM)),
    };
    require_permission(
        state,
        &me,
        "team",
        "delete",
        err(errors::YOU_ARE_NOT_ALLOWED_TO_DELETE_TEAMS_IN_THIS_ORGANIZATION),
    )
    .await?;
    let team = store::find_team(&state.db, team_id, Some(&org_id))
        .await?
        .ok_or_else(|| err(errors::TEAM_NOT_FOUND))?;
    if !settings(state).allow_removing_all_teams
        && store::list_teams(&state.db, &org_id).await?.len() <= 1
    {
        return Err(err(errors::UNABLE_TO_REMOVE_LAST_TEAM));
    }
    store::delete_team(&state.db, &team).await?;
    for m in store::list_all_members(&state.db, &org_id).await? {
        // Sessions that had the team active no longer do.
        state.sessions.invalidate_user(&m.user_id);
    }
    audit(
        state,
        ctx,
        Audit {
            actor_id: Some(caller.user_id()),
            action: "organization.remove-team",
            target_type: "team",
            target_id: &team.id,
            organization_id: Some(&org_id),
            details: json!({"name": team.name}),
        },
    )
    .await?;
    Ok(())
}

pub async fn update(
    state: &AppState,
    ctx: &RequestContext,
    team_id: &str,
    name: Option<&str>,
    organization_id: Option<&str>,
) -> Result<TeamDto, ApiError> {
    require_teams(state)?;
    let caller = caller(state, ctx).await?;
    let org_id = org_of(&caller, organization_id)?;
    let denied = || err(errors::YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_TEAM);
    let me = membership(state, &org_id, caller.user_id(), denied()).await?;
    require_permission(state, &me, "team", "update", denied()).await?;
    let team = store::find_team(&state.db, team_id, Some(&org_id))
        .await?
        .ok_or_else(|| err(errors::TEAM_NOT_FOUND))?;
    if let Some(n) = name {
        crate::core::validate::check_field_length(state, "data.name", n)?;
    }
    let updated = store::rename_team(&state.db, &team.id, name, state.now())
        .await?
        .ok_or_else(|| err(errors::TEAM_NOT_FOUND))?;
    audit(
        state,
        ctx,
        Audit {
            actor_id: Some(caller.user_id()),
            action: "organization.update-team",
            target_type: "team",
            target_id: &team.id,
            organization_id: Some(&org_id),
            details: json!({"from": team.name, "name": updated.name}),
        },
    )
    .await?;
    Ok(TeamDto::from(&updated))
}

pub async fn list(
    state: &AppState,
    ctx: &RequestContext,
    organization_id: Option<&str>,
) -> Result<Vec<TeamDto>, ApiError> {
    require_teams(state)?;
    let caller = caller(state, ctx).await?;
    let org_id = org_of(&caller, organization_id)?;
    membership(
        state,
        &org_id,
        caller.user_id(),
        err(errors::YOU_ARE_NOT_ALLOWED_TO_ACCESS_THIS_ORGANIZATION),
    )
    .await?;
    Ok(store::list_teams(&state.db, &org_id)
        .await?
        .iter()
        .map(TeamDto::from)
        .collect())
}

pub async fn set_active(
    state: &AppState,
    ctx: &RequestContext,
    team_id: &poem_openapi::types::MaybeUndefined<String>,
) -> Result<Option<TeamDto>, ApiError> {
    use poem_openapi::types::MaybeUndefined;
    require_teams(state)?;
    let caller = caller(state, ctx).await?;
    let team_id = match team_id {
        MaybeUndefined::Null => {
            if caller.active_team.is_some() {
                set_active_team(state, &caller, None).await?;
                reissue_session_cookie(state, ctx, &caller);
            }
            return Ok(None);
        }
        MaybeUndefined::Value(id) if !id.is_empty() => id.clone(),
        _ => match &caller.active_team {
            Some(id) => id.clone(),
            None => return Ok(None),
        },
    };
    let org_id = caller
        .active_org
        .clone()
        .ok_or_else(|| err(errors::NO_ACTIVE_ORGANIZATION))?;
    let team = store::find_team(&state.db, &team_id, Some(&org_id))
        .await?
        .ok_or_else(|| err(errors::TEAM_NOT_FOUND))?;
    store::find_team_member(&state.db, &team.id, caller.user_id())
        .await?
        .ok_or_else(|| err_at(errors::USER_IS_NOT_A_MEMBER_OF_THE_TEAM, 403))?;
    set_active_team(state, &caller, Some(&team.id)).await?;
    reissue_session_cookie(state, ctx, &caller);
    Ok(Some(TeamDto::from(&team)))
}

pub async fn list_for_user(
    state: &AppState,
    ctx: &RequestContext,
    user_id: Option<&str>,
    organization_id: Option<&str>,
) -> Result<Vec<TeamDto>, ApiError> {
    require_teams(state)?;
    let caller = caller(state, ctx).await?;
    let target = user_id
        .filter(|u| !u.is_empty())
        .unwrap_or(caller.user_id())
        .to_string();
    let explicit = organization_id.filter(|o| !o.is_empty());
    let org_id = org_or_active(explicit, &caller);
    let not_member = || err(errors::YOU_ARE_NOT_A_MEMBER_OF_THIS_ORGANIZATION);
    let teams = if target != caller.user_id() {
        let org_id = org_id.ok_or_else(|| err(errors::NO_ACTIVE_ORGANIZATION))?;
        let me = membership(state, &org_id, caller.user_id(), not_member()).await?;
        require_permission(
            state,
            &me,
            "member",
            "update",
            err(errors::YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER),
        )
        .await?;
        membership(
            state,
            &org_id,
            &target,
            err_at(errors::USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION, 400),
        )
        .await?;
        store::list_teams_of_user(&state.db, &target)
            .await?
            .into_iter()
            .filter(|t| t.organization_id == org_id)
            .collect()
    } else if let Some(org_id) = explicit {
        membership(state, org_id, caller.user_id(), not_member()).await?;
        store::list_teams_of_user(&state.db, &target)
            .await?
            .into_iter()
            .filter(|t| t.organization_id == org_id)
            .collect()
    } else {
        // Only teams of organizations the user still belongs to.
        let orgs: Vec<String> = store::list_orgs_of_user(&state.db, &target)
            .await?
            .into_iter()
            .map(|o| o.id)
            .collect();
        store::list_teams_of_user(&state.db, &target)
            .await?
            .into_iter()
            .filter(|t| orgs.contains(&t.organization_id))
            .collect::<Vec<_>>()
    };
    Ok(teams.iter().map(TeamDto::from).collect())
}

pub async fn list_members(
    state: &AppState,
    ctx: &RequestContext,
    team_id: Option<&str>,
) -> Result<Vec<TeamMemberDto>, ApiError> {
    require_teams(state)?;
    let caller = caller(state, ctx).await?;
    let team_id = team_id
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .or_else(|| caller.active_team.clone())
        .ok_or_else(|| err(errors::YOU_DO_NOT_HAVE_AN_ACTIVE_TEAM))?;
    let team = store::find_team(&state.db, &team_id, None)
        .await?
        .ok_or_else(|| err(errors::TEAM_NOT_FOUND))?;
    let not_in_team = || err(errors::USER_IS_NOT_A_MEMBER_OF_THE_TEAM);
    membership(
        state,
        &team.organization_id,
        caller.user_id(),
        not_in_team(),
    )
    .await?;
    store::find_team_member(&state.db, &team.id, caller.user_id())
        .await?
        .ok_or_else(not_in_team)?;
    Ok(store::list_team_members(&state.db, &team.id)
        .await?
        .iter()
        .map(TeamMemberDto::from)
        .collect())
}

/// The caller's standing for a team-scoped write: its membership, the
/// team (if it is in the organization), and its role list in that team
/// (organization roles plus its team role, either of which may grant).
struct TeamStanding {
    me: MemberRow,
    team: Option<TeamRow>,
    roles: OrgRoles,
    /// `org roles[,team roles]`.
    held: String,
}

async fn standing(
    state: &AppState,
    caller: &Caller,
    org_id: &str,
    team_id: &str,
    not_member: ErrorCode,
) -> Result<TeamStanding, ApiError> {
    let me = membership(state, org_id, caller.user_id(), err(not_member)).await?;
    let team = store::find_team(&state.db, team_id, Some(org_id)).await?;
    let mut held = me.role.clone();
    if let Some(t) = &team {
        if let Some(tm) = store::find_team_member(&state.db, &t.id, caller.user_id()).await? {
            if let Some(r) = tm.role.filter(|r| !r.is_empty()) {
                held = format!("{held},{r}");
            }
        }
    }
    Ok(TeamStanding {
        me,
        team,
        roles: roles_for(state, org_id).await?,
        held,
    })
}

impl TeamStanding {
    fn require(&self, resource: &str, action: &str, denied: ErrorCode) -> Result<(), ApiError> {
        if self
            .roles
            .authorize(&self.held, &access::request(resource, action))
        {
            Ok(())
        } else {
            Err(err(denied))
        }
    }

    /// No escalation inside a team either: the roles given must grant
    /// nothing the granter holds neither in the organization nor in the
    /// team, and only creator-role holders give the creator role.
    fn may_grant(&self, state: &AppState, granted: &str) -> bool {
        if holds_creator(state, &self.me.role) {
            return true;
        }
        !holds_creator(state, granted) && self.roles.covers(&self.held, granted)
    }
}

/// Validated team-role names, joined; `None` for no role.
fn team_role(roles: &OrgRoles, input: Option<&[String]>) -> Result<Option<String>, ApiError> {
    let Some(input) = input else {
        return Ok(None);
    };
    let names = access::parse_roles(&input.join(","));
    if names.is_empty() {
        return Ok(None);
    }
    check_roles_exist(roles, &names)?;
    Ok(Some(names.join(",")))
}

pub async fn add_member(
    state: &AppState,
    ctx: &RequestContext,
    team_id: &str,
    user_id: &str,
    organization_id: Option<&str>,
    role: Option<&[String]>,
) -> Result<TeamMemberDto, ApiError> {
    require_teams(state)?;
    let caller = caller(state, ctx).await?;
    let org_id = org_of(&caller, organization_id)?;
    let s = standing(
        state,
        &caller,
        &org_id,
        team_id,
        errors::at(400, errors::USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION),
    )
    .await?;
    s.require(
        "member",
        "update",
        errors::YOU_ARE_NOT_ALLOWED_TO_CREATE_A_NEW_TEAM_MEMBER,
    )?;
    membership(
        state,
        &org_id,
        user_id,
        err_at(errors::USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION, 400),
    )
    .await?;
    let team = s.team.clone().ok_or_else(|| err(errors::TEAM_NOT_FOUND))?;
    let role = team_role(&s.roles, role)?;
    if let Some(r) = &role {
        if !s.may_grant(state, r) {
            return Err(err(errors::YOU_ARE_NOT_ALLOWED_TO_CREATE_A_NEW_TEAM_MEMBER));
        }
    }
    let seat = TeamSeat {
        row: TeamMemberRow::new(&team.id, user_id, role, state.now()),
        maximum: settings(state).maximum_members_per_team.map(|m| m as i32),
    };
    let (added, created) = store::add_team_member(&state.db, &seat)
        .await
        .map_err(refused)?;
    if !created {
        return Ok(TeamMemberDto::from(&added));
    }
    audit(
        state,
        ctx,
        Audit {
            actor_id: Some(caller.user_id()),
            action: "organization.add-team-member",
            target_type: "team_member",
            target_id: &added.id,
            organization_id: Some(&org_id),
            details: json!({"teamId": team.id, "userId": user_id, "role": added.role}),
        },
    )
    .await?;
    Ok(TeamMemberDto::from(&added))
}

pub async fn remove_member(
    state: &AppState,
    ctx: &RequestContext,
    team_id: &str,
    user_id: &str,
    organization_id: Option<&str>,
) -> Result<(), ApiError> {
    require_teams(state)?;
    let caller = caller(state, ctx).await?;
    let org_id = org_of(&caller, organization_id)?;
    let s = standing(
        state,
        &caller,
        &org_id,
        team_id,
        errors::at(400, errors::USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION),
    )
    .await?;
    s.require(
        "member",
        "delete",
        errors::YOU_ARE_NOT_ALLOWED_TO_REMOVE_A_TEAM_MEMBER,
    )?;
    membership(
        state,
        &org_id,
        user_id,
        err_at(errors::USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION, 400),
    )
    .await?;
    let team = s.team.clone().ok_or_else(|| err(errors::TEAM_NOT_FOUND))?;
    let target = store::find_team_member(&state.db, &team.id, user_id)
        .await?
        .ok_or_else(|| err(errors::USER_IS_NOT_A_MEMBER_OF_THE_TEAM))?;
    if let Some(r) = &target.role {
        // Nobody removes a team member holding more than they do.
        if !s.may_grant(state, r) {
            return Err(err(errors::YOU_ARE_NOT_ALLOWED_TO_REMOVE_A_TEAM_MEMBER));
        }
    }
    if !store::remove_team_member(&state.db, &team.id, user_id).await? {
        return Err(err(errors::USER_IS_NOT_A_MEMBER_OF_THE_TEAM));
    }
    state.sessions.invalidate_user(user_id);
    audit(
        state,
        ctx,
        Audit {
            actor_id: Some(caller.user_id()),
            action: "organization.remove-team-member",
            target_type: "team_member",
            target_id: &target.id,
            organization_id: Some(&org_id),
            details: json!({"teamId": team.id, "userId": user_id}),
        },
    )
    .await?;
    Ok(())
}

pub async fn update_member_role(
    state: &AppState,
    ctx: &RequestContext,
    team_id: &str,
    user_id: &str,
    role: Option<&[String]>,
    organization_id: Option<&str>,
) -> Result<TeamMemberDto, ApiError> {
    require_teams(state)?;
    let caller = caller(state, ctx).await?;
    let org_id = org_of(&caller, organization_id)?;
    let s = standing(
        state,
        &caller,
        &org_id,
        team_id,
        errors::at(400, errors::USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION),
    )
    .await?;
    let denied = errors::YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER;
    s.require("member", "update", denied)?;
    let team = s.team.clone().ok_or_else(|| err(errors::TEAM_NOT_FOUND))?;
    let target = store::find_team_member(&state.db, &team.id, user_id)
        .await?
        .ok_or_else(|| err(errors::USER_IS_NOT_A_MEMBER_OF_THE_TEAM))?;
    let role = team_role(&s.roles, role)?;
    let current = target.role.clone().unwrap_or_default();
    if !s.may_grant(state, &current) || !s.may_grant(state, role.as_deref().unwrap_or("")) {
        return Err(err(denied));
    }
    let updated = store::set_team_member_role(&state.db, &team.id, user_id, role.as_deref())
        .await?
        .ok_or_else(|| err(errors::USER_IS_NOT_A_MEMBER_OF_THE_TEAM))?;
    audit(
        state,
        ctx,
        Audit {
            actor_id: Some(caller.user_id()),
            action: "organization.update-team-member-role",
            target_type: "team_member",
            target_id: &updated.id,
            organization_id: Some(&org_id),
            details: json!({"teamId": team.id, "userId": user_id, "from": target.role, "to": updated.role}),
        },
    )
    .await?;
    Ok(TeamMemberDto::from(&updated))
}
