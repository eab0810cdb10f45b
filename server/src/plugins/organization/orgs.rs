//! Organizations: create, check-slug, update, delete, get, get-full, list,
//! set-active.

use serde_json::json;

use super::cache::RenderedJson;
use super::common::{
    allowed, audit, caller, err, err_at, holds_creator, membership, org_or_active,
    reissue_session_cookie, require_permission, set_active_org, set_active_team, settings, Audit,
};
use super::dto::{
    CreateOrganizationBody, CreatedOrganization, FullOrganization, InvitationDto, MemberDto,
    MemberWithUser, OrganizationDto, SetActiveBody, TeamWithCount, UpdateOrganizationBody,
};
use super::errors;
use super::store::{self, MemberRow, OrgChanges, OrgRow, TeamMemberRow, TeamRow};
use crate::core::dto::Nullable;
use crate::core::validate::check_field_length;
use crate::crypto::token;
use crate::error::ApiError;
use crate::http::context::RequestContext;
use crate::state::AppState;

pub async fn create(
    state: &AppState,
    ctx: &RequestContext,
    body: &CreateOrganizationBody,
) -> Result<CreatedOrganization, ApiError> {
    let caller = caller(state, ctx).await?;
    let cfg = settings(state);
    if !cfg.allow_user_to_create_organization {
        return Err(err(
            errors::YOU_ARE_NOT_ALLOWED_TO_CREATE_A_NEW_ORGANIZATION,
        ));
    }
    if let Some(limit) = cfg.organization_limit {
        if store::count_orgs_of_user(&state.db, caller.user_id()).await? >= i64::from(limit) {
            return Err(err(
                errors::YOU_HAVE_REACHED_THE_MAXIMUM_NUMBER_OF_ORGANIZATIONS,
            ));
        }
    }
    check_field_length(state, "name", &body.name)?;
    check_field_length(state, "slug", &body.slug)?;
    if let Some(logo) = &body.logo {
        check_field_length(state, "logo", logo)?;
    }
    if store::find_org_by_slug(&state.db, &body.slug)
        .await?
        .is_some()
    {
        return Err(err(errors::ORGANIZATION_ALREADY_EXISTS));
    }
    let now = state.now();
    let org = OrgRow {
        id: token::new_id(),
        name: body.name.clone(),
        slug: body.slug.clone(),
        logo: body.logo.clone(),
        created_at: now,
        metadata: body
            .metadata
            .as_ref()
            .map(|m| serde_json::to_string(m).unwrap_or_default()),
    };
    let owner = MemberRow {
        id: token::new_id(),
        organization_id: org.id.clone(),
        user_id: caller.user_id().to_string(),
        role: cfg.creator_role.clone(),
        created_at: now,
    };
    let default_team = (cfg.teams && cfg.default_team).then(|| {
        let team = TeamRow {
            id: token::new_id(),
            name: org.name.clone(),
            organization_id: org.id.clone(),
            created_at: now,
            // Never updated yet (Better Auth's default team has no updatedAt).
            updated_at: None,
            member_count: 1,
        };
        let member = TeamMemberRow::new(&team.id, caller.user_id(), None, now);
        (team, member)
    });
    store::create_org(
        &state.db,
        &org,
        &owner,
        default_team.as_ref().map(|(t, m)| (t, m)),
    )
    .await
    .map_err(|e| {
        // The unique index settles concurrent creates with one slug.
        if e.is_unique_violation() {
            err(errors::ORGANIZATION_ALREADY_EXISTS)
        } else {
            ApiError::from(e)
        }
    })?;
    if !body.keep_current_active_organization.unwrap_or(false) {
        set_active_org(state, &caller, Some(&org.id)).await?;
        if let Some((team, _)) = &default_team {
            set_active_team(state, &caller, Some(&team.id)).await?;
        }
    }
    audit(
        state,
        ctx,
        Audit {
            actor_id: Some(caller.user_id()),
            action: "organization.create",
            target_type: "organization",
            target_id: &org.id,
            organization_id: Some(&org.id),
            details: json!({"name": org.name, "slug": org.slug, "role": owner.role}),
        },
    )
    .await?;
    let dto = OrganizationDto::from(&org);
    Ok(CreatedOrganization {
        id: dto.id,
        name: dto.name,
        slug: dto.slug,
        logo: dto.logo,
        created_at: dto.created_at,
        metadata: dto.metadata,
        members: vec![MemberDto::from(&owner)],
    })
}

pub async fn check_slug(
    state: &AppState,
    ctx: &RequestContext,
    slug: &str,
) -> Result<(), ApiError> {
    caller(state, ctx).await?;
    if store::find_org_by_slug(&state.db, slug).await?.is_some() {
        return Err(err(errors::ORGANIZATION_SLUG_ALREADY_TAKEN));
    }
    Ok(())
}

pub async fn update(
    state: &AppState,
    ctx: &RequestContext,
    body: &UpdateOrganizationBody,
) -> Result<OrganizationDto, ApiError> {
    let caller = caller(state, ctx).await?;
    let org_id = org_or_active(body.organization_id.as_deref(), &caller)
        .ok_or_else(|| err(errors::ORGANIZATION_NOT_FOUND))?;
    let member = membership(
        state,
        &org_id,
        caller.user_id(),
        err_at(errors::USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION, 400),
    )
    .await?;
    require_permission(
        state,
        &member,
        "organization",
        "update",
        err(errors::YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_ORGANIZATION),
    )
    .await?;
    let data = &body.data;
    for (field, value) in [("name", &data.name), ("slug", &data.slug)] {
        if let Some(v) = value {
            check_field_length(state, &format!("data.{field}"), v)?;
        }
    }
    if let poem_openapi::types::MaybeUndefined::Value(logo) = &data.logo {
        check_field_length(state, "data.logo", logo)?;
    }
    if let Some(slug) = &data.slug {
        if let Some(other) = store::find_org_by_slug(&state.db, slug).await? {
            if other.id != org_id {
                return Err(err(errors::ORGANIZATION_SLUG_ALREADY_TAKEN));
            }
        }
    }
    let changes = OrgChanges {
        name: data.name.clone(),
        slug: data.slug.clone(),
        logo: match &data.logo {
            poem_openapi::types::MaybeUndefined::Undefined => None,
            poem_openapi::types::MaybeUndefined::Null => Some(None),
            poem_openapi::types::MaybeUndefined::Value(v) => Some(Some(v.clone())),
        },
        metadata: data
            .metadata
            .as_ref()
            .map(|m| Some(serde_json::to_string(m).unwrap_or_default())),
    };
    let org = store::update_org(&state.db, &org_id, &changes)
        .await
        .map_err(|e| {
            if e.is_unique_violation() {
                err(errors::ORGANIZATION_SLUG_ALREADY_TAKEN)
            } else {
                ApiError::from(e)
            }
        })?
        .ok_or_else(|| err(errors::ORGANIZATION_NOT_FOUND))?;
    audit(
        state,
        ctx,
        Audit {
            actor_id: Some(caller.user_id()),
            action: "organization.update",
            target_type: "organization",
            target_id: &org.id,
            organization_id: Some(&org.id),
            details: json!({
                "name": changes.name,
                "slug": changes.slug,
                "logo": changes.logo,
                "metadata": changes.metadata.is_some(),
            }),
        },
    )
    .await?;
    Ok(OrganizationDto::from(&org))
}

pub async fn delete(
    state: &AppState,
    ctx: &RequestContext,
    org_id: &str,
) -> Result<OrganizationDto, ApiError> {
    if settings(state).disable_organization_deletion {
        return Err(err(errors::ORGANIZATION_DELETION_DISABLED));
    }
    let caller = caller(state, ctx).await?;
    if org_id.is_empty() {
        return Err(err(errors::ORGANIZATION_NOT_FOUND));
    }
    let member = membership(
        state,
        org_id,
        caller.user_id(),
        err_at(errors::USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION, 400),
    )
    .await?;
    require_permission(
        state,
        &member,
        "organization",
        "delete",
        err(errors::YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_ORGANIZATION),
    )
    .await?;
    let org = store::find_org(&state.db, org_id)
        .await?
        .ok_or_else(|| err(errors::ORGANIZATION_NOT_FOUND))?;
    let cleared = store::delete_org(&state.db, org_id)
        .await?
        .ok_or_else(|| err(errors::ORGANIZATION_NOT_FOUND))?;
    // Sessions that had it active no longer do.
    for user_id in cleared {
        state.sessions.invalidate_user(&user_id);
    }
    audit(
        state,
        ctx,
        Audit {
            actor_id: Some(caller.user_id()),
            action: "organization.delete",
            target_type: "organization",
            target_id: &org.id,
            organization_id: Some(&org.id),
            details: json!({"name": org.name, "slug": org.slug}),
        },
    )
    .await?;
    Ok(OrganizationDto::from(&org))
}

/// The organization named by slug, else id, else the active one; `None`
/// when nothing names one. A non-member reading it has the active
/// organization cleared and gets 403 (Better Auth's answer).
async fn readable(
    state: &AppState,
    caller: &super::common::Caller,
    id: Option<&str>,
    slug: Option<&str>,
) -> Result<Option<(OrgRow, MemberRow)>, ApiError> {
    let org = match (slug.filter(|s| !s.is_empty()), org_or_active(id, caller)) {
        (Some(slug), _) => store::find_org_by_slug(&state.db, slug).await?,
        (None, Some(id)) => store::find_org(&state.db, &id).await?,
        (None, None) => return Ok(None),
    };
    let org = org.ok_or_else(|| err(errors::ORGANIZATION_NOT_FOUND))?;
    match super::common::find_member(state, &org.id, caller.user_id()).await? {
        Some(m) => Ok(Some((org, m))),
        None => {
            set_active_org(state, caller, None).await?;
            Err(err(errors::USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION))
        }
    }
}

pub async fn get(
    state: &AppState,
    ctx: &RequestContext,
    id: Option<&str>,
    slug: Option<&str>,
) -> Result<Option<OrganizationDto>, ApiError> {
    let caller = caller(state, ctx).await?;
    Ok(readable(state, &caller, id, slug)
        .await?
        .map(|(org, _)| OrganizationDto::from(&org)))
}

pub async fn get_full(
    state: &AppState,
    ctx: &RequestContext,
    id: Option<&str>,
    slug: Option<&str>,
    members_limit: Option<u32>,
) -> Result<bytes::Bytes, ApiError> {
    let caller = caller(state, ctx).await?;
    let org_id = match (slug.filter(|s| !s.is_empty()), org_or_active(id, &caller)) {
        (Some(slug), _) => {
            store::find_org_by_slug(&state.db, slug)
                .await?
                .ok_or_else(|| err(errors::ORGANIZATION_NOT_FOUND))?
                .id
        }
        (None, Some(id)) => id,
        (None, None) => {
            return Ok(RenderedJson::<Nullable<FullOrganization>>::render(
                &Nullable(None),
            ))
        }
    };
    let cfg = settings(state);
    // The organization with all its members, invitations and teams: read
    // once, served from the cache until the next write (see `cache`).
    let parts = cfg
        .cache
        .full(state, &org_id, || load_full(state, &org_id, cfg.teams))
        .await?;
    let Some(me) = super::common::find_member(state, &org_id, caller.user_id()).await? else {
        set_active_org(state, &caller, None).await?;
        return Err(err(errors::USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION));
    };
    let limit = members_limit
        .filter(|l| *l > 0)
        .unwrap_or(cfg.membership_limit) as usize;
    // Invitation ids are invitation links: only members who may invite see them,
    // and invitations to the creator role only members holding it.
    let sees = if allowed(state, &me, "invitation", "create").await? {
        if holds_creator(state, &me.role) {
            2
        } else {
            1
        }
    } else {
        0
    };
    cfg.cache
        .rendered(state, (org_id, limit, sees), || async {
            let invitations = parts
                .invitations
                .iter()
                .filter(|(role, _)| {
                    sees == 2 || (sees == 1 && !holds_creator(state, role.as_deref().unwrap_or("")))
                })
                .map(|(_, i)| i.clone())
                .collect();
            let dto = OrganizationDto::from(&parts.org);
            let full = Nullable(Some(FullOrganization {
                id: dto.id,
                name: dto.name,
                slug: dto.slug,
                logo: dto.logo,
                created_at: dto.created_at,
                metadata: dto.metadata,
                members: parts.members.iter().take(limit).cloned().collect(),
                invitations,
                teams: parts.teams.clone(),
            }));
            Ok(RenderedJson::render(&full))
        })
        .await
}

/// Everything `get-full-organization` shows of an organization, from the database.
async fn load_full(
    state: &AppState,
    org_id: &str,
    teams: bool,
) -> Result<std::sync::Arc<super::cache::FullParts>, ApiError> {
    let org = store::find_org(&state.db, org_id)
        .await?
        .ok_or_else(|| err(errors::ORGANIZATION_NOT_FOUND))?;
    let rows = store::list_all_members(&state.db, org_id).await?;
    let members = with_users(state, &rows).await?;
    let invitations = store::list_invitations(&state.db, org_id)
        .await?
        .iter()
        .map(|i| (i.role.clone(), InvitationDto::from(i)))
        .collect();
    let teams = if teams {
        Some(
            store::list_teams(&state.db, org_id)
                .await?
                .iter()
                .map(TeamWithCount::from)
                .collect(),
        )
    } else {
        None
    };
    Ok(std::sync::Arc::new(super::cache::FullParts {
        org,
        members,
        invitations,
        teams,
    }))
}

/// Members with their users (a member whose user is gone is skipped).
pub async fn with_users(
    state: &AppState,
    rows: &[MemberRow],
) -> Result<Vec<MemberWithUser>, ApiError> {
    let ids: Vec<String> = rows.iter().map(|m| m.user_id.clone()).collect();
    let users: std::collections::HashMap<String, crate::db::models::UserRow> =
        store::find_users(&state.db, &ids)
            .await?
            .into_iter()
            .map(|u| (u.id.clone(), u))
            .collect();
    Ok(rows
        .iter()
        .filter_map(|m| Some(MemberWithUser::new(m, users.get(&m.user_id)?)))
        .collect())
}

pub async fn list(
    state: &AppState,
    ctx: &RequestContext,
) -> Result<Vec<OrganizationDto>, ApiError> {
    let caller = caller(state, ctx).await?;
    Ok(store::list_orgs_of_user(&state.db, caller.user_id())
        .await?
        .iter()
        .map(OrganizationDto::from)
        .collect())
}

pub async fn set_active(
    state: &AppState,
    ctx: &RequestContext,
    body: &SetActiveBody,
) -> Result<Option<OrganizationDto>, ApiError> {
    use poem_openapi::types::MaybeUndefined;
    let caller = caller(state, ctx).await?;
    let slug = body.organization_slug.as_deref().filter(|s| !s.is_empty());
    let org_id = match (&body.organization_id, slug) {
        (MaybeUndefined::Null, _) => {
            if caller.active_org.is_some() {
                set_active_org(state, &caller, None).await?;
                reissue_session_cookie(state, ctx, &caller);
            }
            return Ok(None);
        }
        (MaybeUndefined::Value(id), _) if !id.is_empty() => id.clone(),
        (_, Some(slug)) => {
            store::find_org_by_slug(&state.db, slug)
                .await?
                .ok_or_else(|| err(errors::ORGANIZATION_NOT_FOUND))?
                .id
        }
        _ => match &caller.active_org {
            Some(id) => id.clone(),
            None => return Ok(None),
        },
    };
    if store::find_member(&state.db, &org_id, caller.user_id())
        .await?
        .is_none()
    {
        set_active_org(state, &caller, None).await?;
        return Err(err(errors::USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION));
    }
    let org = store::find_org(&state.db, &org_id)
        .await?
        .ok_or_else(|| err(errors::ORGANIZATION_NOT_FOUND))?;
    set_active_org(state, &caller, Some(&org.id)).await?;
    reissue_session_cookie(state, ctx, &caller);
    Ok(Some(OrganizationDto::from(&org)))
}
