//! What every organization route shares: the caller (session and active
//! organization/team), settings, the organization's roles, permission
//! checks, the no-escalation rule, session updates and the audit trail.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::access::{self, OrgRoles, Statements};
use super::errors;
use super::settings::OrganizationSettings;
use super::store::{self, MemberRow, Refused, TxError};
use crate::core::session::{require_session, AuthSession};
use crate::crypto::token;
use crate::error::{codes, ApiError, ErrorCode};
use crate::http::context::RequestContext;
use crate::state::AppState;

/// The signed-in caller and the session's active organization and team.
pub struct Caller {
    pub auth: AuthSession,
    pub active_org: Option<String>,
    pub active_team: Option<String>,
}

impl Caller {
    pub fn user_id(&self) -> &str {
        &self.auth.user.id
    }
}

/// The session (401 `UNAUTHORIZED` without) and its active ids.
pub async fn caller(state: &AppState, ctx: &RequestContext) -> Result<Caller, ApiError> {
    let auth = require_session(state, ctx).await?;
    // The session's own fields (cached with it; every write to them forgets it).
    let field = |name: &str| {
        auth.session_fields
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let (active_org, active_team) = (field("activeOrganizationId"), field("activeTeamId"));
    Ok(Caller {
        auth,
        active_org,
        active_team,
    })
}

pub fn settings(state: &AppState) -> Arc<OrganizationSettings> {
    state.settings::<OrganizationSettings>()
}

pub fn err(code: ErrorCode) -> ApiError {
    ApiError::new(code)
}

/// `code` with another status than its usual one (Better Auth's, at that call site).
pub fn err_at(code: ErrorCode, status: u16) -> ApiError {
    ApiError::new(code).with_status(status)
}

/// The team routes exist only with `teams = true` (Better Auth registers
/// them only then): 404 otherwise.
pub fn require_teams(state: &AppState) -> Result<(), ApiError> {
    if settings(state).teams {
        Ok(())
    } else {
        Err(err(codes::NOT_FOUND))
    }
}

/// The role routes exist only with `dynamic_access_control = true`: 404 otherwise.
pub fn require_dynamic_roles(state: &AppState) -> Result<(), ApiError> {
    if settings(state).dynamic_access_control {
        Ok(())
    } else {
        Err(err(codes::NOT_FOUND))
    }
}

/// The roles of an organization: configured ones, plus stored ones with
/// dynamic access control. A stored role whose permissions do not parse is
/// an internal error (Better Auth's answer).
pub async fn roles_for(state: &AppState, org_id: &str) -> Result<OrgRoles, ApiError> {
    let cfg = settings(state);
    let stored = if cfg.dynamic_access_control {
        cfg.cache
            .stored_roles(state, org_id, || async {
                let mut stored = BTreeMap::new();
                for r in store::list_roles(&state.db, org_id).await? {
                    let grants: Statements = serde_json::from_str(&r.permission).map_err(|e| {
                        tracing::error!(role = %r.role, error = %e, "stored role has invalid permissions");
                        ApiError::internal()
                    })?;
                    stored.insert(r.role, grants);
                }
                Ok(Arc::new(stored))
            })
            .await?
            .as_ref()
            .clone()
    } else {
        BTreeMap::new()
    };
    Ok(OrgRoles {
        ac: cfg.access_control(),
        stored,
    })
}

/// The caller's membership of `org_id`, or `code`.
pub async fn membership(
    state: &AppState,
    org_id: &str,
    user_id: &str,
    code: ApiError,
) -> Result<MemberRow, ApiError> {
    find_member(state, org_id, user_id).await?.ok_or(code)
}

/// A user's membership of an organization, through the cache.
pub async fn find_member(
    state: &AppState,
    org_id: &str,
    user_id: &str,
) -> Result<Option<MemberRow>, ApiError> {
    settings(state)
        .cache
        .member(state, org_id, user_id, || async {
            Ok(store::find_member(&state.db, org_id, user_id).await?)
        })
        .await
}

/// Whether `member` may do `action` on `resource` (any one of its roles granting it).
pub async fn allowed(
    state: &AppState,
    member: &MemberRow,
    resource: &str,
    action: &str,
) -> Result<bool, ApiError> {
    let roles = roles_for(state, &member.organization_id).await?;
    Ok(roles.authorize(&member.role, &access::request(resource, action)))
}

/// Refuses with `denied` unless `member` may do `action` on `resource`.
pub async fn require_permission(
    state: &AppState,
    member: &MemberRow,
    resource: &str,
    action: &str,
    denied: ApiError,
) -> Result<(), ApiError> {
    if allowed(state, member, resource, action).await? {
        Ok(())
    } else {
        Err(denied)
    }
}

/// Whether a role list holds the creator role.
pub fn holds_creator(state: &AppState, roles: &str) -> bool {
    let creator = &settings(state).creator_role;
    access::role_names(roles).any(|r| r == creator)
}

/// The no-escalation rule: may a holder of `granter` give `granted`? A
/// creator-role member may give any role; anyone else only roles that grant
/// nothing they do not hold themselves, and never the creator role.
pub fn may_grant(state: &AppState, roles: &OrgRoles, granter: &str, granted: &str) -> bool {
    if holds_creator(state, granter) {
        return true;
    }
    !holds_creator(state, granted) && roles.covers(granter, granted)
}

/// Normalised role names of a request (`"admin, member"` or a list), or
/// `ROLE_NOT_FOUND` when none is given.
pub fn role_list(input: &[String]) -> Result<Vec<String>, ApiError> {
    let roles = access::parse_roles(&input.join(","));
    if roles.is_empty() {
        return Err(err(errors::ROLE_NOT_FOUND));
    }
    Ok(roles)
}

/// `ROLE_NOT_FOUND` naming the roles that do not exist in this organization.
pub fn check_roles_exist(roles: &OrgRoles, names: &[String]) -> Result<(), ApiError> {
    let unknown = roles.unknown(names);
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(ApiError::with_message(
            errors::ROLE_NOT_FOUND,
            format!("ROLE_NOT_FOUND: {}", unknown.join(", ")),
        ))
    }
}

/// Sets the caller's active organization (and forgets the cached session).
pub async fn set_active_org(
    state: &AppState,
    caller: &Caller,
    org_id: Option<&str>,
) -> Result<(), ApiError> {
    store::set_active_org(&state.db, &caller.auth.session.id, org_id).await?;
    forget_session(state, caller);
    Ok(())
}

/// Sets the caller's active team (and forgets the cached session).
pub async fn set_active_team(
    state: &AppState,
    caller: &Caller,
    team_id: Option<&str>,
) -> Result<(), ApiError> {
    store::set_active_team(&state.db, &caller.auth.session.id, team_id).await?;
    forget_session(state, caller);
    Ok(())
}

/// Sends the caller's session cookie again, keeping the remember choice, as
/// Better Auth does after changing the session's active organization or team
/// (with the bearer plugin, `set-auth-token` too).
pub fn reissue_session_cookie(state: &AppState, ctx: &RequestContext, caller: &Caller) {
    crate::core::session::set_session_cookies(
        state,
        ctx,
        &caller.auth.token,
        !ctx.dont_remember(state),
    );
}

/// The session row changed: drop it from this instance's session cache.
pub fn forget_session(state: &AppState, caller: &Caller) {
    state
        .sessions
        .invalidate_token(&token::hash_token(&caller.auth.token));
}

/// Maps a refused transactional write to Better Auth's error.
pub fn refused(e: TxError) -> ApiError {
    match e {
        TxError::Storage(s) => ApiError::from(s),
        TxError::Refused(r) => match r {
            Refused::OrganizationGone => err(errors::ORGANIZATION_NOT_FOUND),
            Refused::NotPending => err(errors::INVITATION_NOT_FOUND),
            Refused::AlreadyMember => err(errors::USER_IS_ALREADY_A_MEMBER_OF_THIS_ORGANIZATION),
            Refused::MembershipLimit => err(errors::ORGANIZATION_MEMBERSHIP_LIMIT_REACHED),
            Refused::TeamGone => err(errors::TEAM_NOT_FOUND),
            Refused::TeamMemberLimit => err(errors::TEAM_MEMBER_LIMIT_REACHED),
            Refused::LastOwner => err(errors::YOU_CANNOT_LEAVE_THE_ORGANIZATION_AS_THE_ONLY_OWNER),
            Refused::MemberGone => err(errors::MEMBER_NOT_FOUND),
        },
    }
}

/// One audit-trail entry for an organization write.
pub struct Audit<'a> {
    pub actor_id: Option<&'a str>,
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: &'a str,
    pub organization_id: Option<&'a str>,
    pub details: Value,
}

/// Records an organization write in the audit trail.
/// Every organization write comes through here, after it is done: the
/// organization cache is emptied at once.
pub async fn audit(
    state: &AppState,
    ctx: &RequestContext,
    entry: Audit<'_>,
) -> Result<(), ApiError> {
    settings(state).cache.invalidate();
    crate::plugin::audit::record(
        state,
        ctx,
        crate::plugin::audit::Entry {
            actor_id: entry.actor_id,
            action: entry.action,
            target_type: entry.target_type,
            target_id: entry.target_id,
            organization_id: entry.organization_id,
            details: entry.details,
        },
    )
    .await
}

/// The organization id of a request: given, else the active one.
pub fn org_or_active(given: Option<&str>, caller: &Caller) -> Option<String> {
    given
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .or_else(|| caller.active_org.clone())
}
