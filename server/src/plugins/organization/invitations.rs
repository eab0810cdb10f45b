//! Invitations by email: invite-member (and resend), accept, reject, cancel,
//! get-invitation, list-invitations, list-user-invitations.

use chrono::Duration;
use serde_json::json;

use super::common::{
    allowed, audit, caller, check_roles_exist, err, holds_creator, may_grant, membership,
    org_or_active, refused, reissue_session_cookie, require_permission, role_list, roles_for,
    set_active_org, set_active_team, settings, Audit,
};
use super::dto::{
    AcceptedInvitation, InvitationDetails, InvitationDto, InviteMemberBody, MemberDto,
    RejectedInvitation, UserInvitation,
};
use super::errors;
use super::store::{self, InvitationRow, MemberRow, OrgRow, TeamMemberRow, TeamSeat};
use crate::core::validate::is_valid_email;
use crate::crypto::token;
use crate::db::models::UserRow;
use crate::db::store as core_store;
use crate::error::{codes, ApiError};
use crate::http::context::RequestContext;
use crate::mail::templates::{self, MailKind, MailTemplate};
use crate::mail::OutgoingMail;
use crate::state::AppState;

/// The invitation mail (`[mail.templates.organization_invitation]` overrides
/// it). Besides `{app}`, `{url}` and `{email}` (the invited address), a
/// template may use `{organization}`, `{inviter}` (the inviter's name and
/// address) and `{role}`.
pub const INVITATION_MAIL: MailKind = MailKind {
    key: "organization_invitation",
    default: default_template,
};

fn default_template() -> MailTemplate {
    MailTemplate {
        subject: "You are invited to join {organization} on {app}".into(),
        text: "{inviter} invited {email} to join {organization} on {app} as {role}. To accept, open:\n\n{url}\n\nIf you did not expect this invitation, ignore this message.\n".into(),
        html: "<p>{inviter} invited {email} to join <b>{organization}</b> on {app} as {role}.</p><p><a href=\"{url}\">Accept the invitation</a></p><p>If you did not expect this invitation, ignore this message.</p>".into(),
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The link a mailed invitation carries.
pub fn invitation_url(state: &AppState, id: &str) -> String {
    settings(state)
        .invitation_url
        .replace("{base_url}", &state.config.base_url())
        .replace("{id}", &crate::core::links::enc(id))
}

/// Queues the invitation mail (when mail can be sent at all).
fn send_mail(state: &AppState, inv: &InvitationRow, org: &OrgRow, inviter: &UserRow) {
    if !state.mailer.enabled() {
        return;
    }
    let template = state
        .config
        .mail
        .templates
        .get(INVITATION_MAIL.key)
        .cloned()
        .unwrap_or_else(INVITATION_MAIL.default);
    let inviter_text = format!("{} ({})", inviter.name, inviter.email);
    let role = inv.role.clone().unwrap_or_default();
    let prefill = |t: &str, escape: bool| {
        let e = |s: &str| {
            if escape {
                html_escape(s)
            } else {
                s.to_string()
            }
        };
        t.replace("{organization}", &e(&org.name))
            .replace("{inviter}", &e(&inviter_text))
            .replace("{role}", &e(&role))
    };
    let filled = MailTemplate {
        subject: prefill(&template.subject, false),
        text: prefill(&template.text, false),
        html: prefill(&template.html, true),
    };
    let r = templates::render(
        &filled,
        &state.config.app_name,
        &invitation_url(state, &inv.id),
        &inv.email,
    );
    state.mailer.send_later(OutgoingMail {
        kind: INVITATION_MAIL.key,
        to: inv.email.clone(),
        subject: r.subject,
        text: r.text,
        html: r.html,
    });
}

pub async fn invite(
    state: &AppState,
    ctx: &RequestContext,
    body: &InviteMemberBody,
) -> Result<InvitationDto, ApiError> {
    let caller = caller(state, ctx).await?;
    let cfg = settings(state);
    let org_id = org_or_active(body.organization_id.as_deref(), &caller)
        .ok_or_else(|| err(errors::ORGANIZATION_NOT_FOUND))?;
    let email = body.email.trim().to_lowercase();
    if !is_valid_email(&email) {
        return Err(err(codes::INVALID_EMAIL));
    }
    let me = membership(
        state,
        &org_id,
        caller.user_id(),
        err(errors::MEMBER_NOT_FOUND),
    )
    .await?;
    require_permission(
        state,
        &me,
        "invitation",
        "create",
        err(errors::YOU_ARE_NOT_ALLOWED_TO_INVITE_USERS_TO_THIS_ORGANIZATION),
    )
    .await?;
    let names = role_list(&body.role.0)?;
    let roles = roles_for(state, &org_id).await?;
    check_roles_exist(&roles, &names)?;
    let role = names.join(",");
    // No escalation: an invitation grants nothing its sender could not.
    if !may_grant(state, &roles, &me.role, &role) {
        return Err(err(
            errors::YOU_ARE_NOT_ALLOWED_TO_INVITE_USER_WITH_THIS_ROLE,
        ));
    }
    if let Some(user) = core_store::find_user_by_email(&state.db, &email).await? {
        if store::find_member(&state.db, &org_id, &user.id)
            .await?
            .is_some()
        {
            return Err(err(errors::USER_IS_ALREADY_A_MEMBER_OF_THIS_ORGANIZATION));
        }
    }
    let now = state.now();
    let pending = store::find_pending_invitations(&state.db, &org_id, &email, now).await?;
    let resend = body.resend.unwrap_or(false);
    if !pending.is_empty() && !resend && !cfg.cancel_pending_invitations_on_re_invite {
        return Err(err(errors::USER_IS_ALREADY_INVITED_TO_THIS_ORGANIZATION));
    }
    let org = store::find_org(&state.db, &org_id)
        .await?
        .ok_or_else(|| err(errors::ORGANIZATION_NOT_FOUND))?;
    let expires_at = now + Duration::seconds(cfg.invitation_expires_in);
    if let (Some(existing), true) = (pending.first(), resend) {
        if !may_grant(
            state,
            &roles,
            &me.role,
            existing.role.as_deref().unwrap_or(""),
        ) {
            return Err(err(
                errors::YOU_ARE_NOT_ALLOWED_TO_INVITE_USER_WITH_THIS_ROLE,
            ));
        }
        let inv = store::extend_invitation(&state.db, &existing.id, expires_at)
            .await?
            .ok_or_else(|| err(errors::INVITATION_NOT_FOUND))?;
        send_mail(state, &inv, &org, &caller.auth.user);
        audit(
            state,
            ctx,
            Audit {
                actor_id: Some(caller.user_id()),
                action: "organization.resend-invitation",
                target_type: "invitation",
                target_id: &inv.id,
                organization_id: Some(&org_id),
                details: json!({"email": inv.email, "role": inv.role}),
            },
        )
        .await?;
        return Ok(InvitationDto::from(&inv));
    }
    if cfg.cancel_pending_invitations_on_re_invite {
        for old in &pending {
            if store::set_invitation_status(&state.db, &old.id, Some("pending"), "canceled")
                .await?
                .is_some()
            {
                audit(
                    state,
                    ctx,
                    Audit {
                        actor_id: Some(caller.user_id()),
                        action: "organization.cancel-invitation",
                        target_type: "invitation",
                        target_id: &old.id,
                        organization_id: Some(&org_id),
                        details: json!({"email": old.email, "reason": "re-invited"}),
                    },
                )
                .await?;
            }
        }
    }
    if store::count_pending_invitations(&state.db, &org_id, now).await?
        >= i64::from(cfg.invitation_limit)
    {
        return Err(err(errors::INVITATION_LIMIT_REACHED));
    }
    let team_ids: Vec<String> = match (&body.team_id, cfg.teams) {
        (Some(ids), true) => ids.0.iter().filter(|s| !s.is_empty()).cloned().collect(),
        _ => Vec::new(),
    };
    if team_ids.iter().any(|t| t.contains(',')) {
        return Err(err(errors::INVALID_TEAM_ID));
    }
    for team_id in &team_ids {
        let team = store::find_team(&state.db, team_id, Some(&org_id))
            .await?
            .ok_or_else(|| err(errors::TEAM_NOT_FOUND))?;
        if let Some(max) = cfg.maximum_members_per_team {
            if team.member_count >= max as i32 {
                return Err(err(errors::TEAM_MEMBER_LIMIT_REACHED));
            }
        }
    }
    let inv = InvitationRow {
        id: token::new_id(),
        organization_id: org_id.clone(),
        email,
        role: Some(role),
        team_id: (!team_ids.is_empty()).then(|| team_ids.join(",")),
        status: "pending".into(),
        expires_at,
        created_at: now,
        inviter_id: caller.user_id().to_string(),
    };
    store::insert_invitation(&state.db, &inv).await?;
    send_mail(state, &inv, &org, &caller.auth.user);
    audit(
        state,
        ctx,
        Audit {
            actor_id: Some(caller.user_id()),
            action: "organization.invite-member",
            target_type: "invitation",
            target_id: &inv.id,
            organization_id: Some(&org_id),
            details: json!({"email": inv.email, "role": inv.role, "teamId": inv.team_id}),
        },
    )
    .await?;
    Ok(InvitationDto::from(&inv))
}

/// The recipient's checks: the invitation is pending (and, unless `any_age`,
/// unexpired), addressed to the caller, and (when configured) the caller's
/// address is verified.
fn check_recipient(
    state: &AppState,
    inv: &InvitationRow,
    user: &UserRow,
    verification_code: crate::error::ErrorCode,
) -> Result<(), ApiError> {
    if inv.email.to_lowercase() != user.email.to_lowercase() {
        return Err(err(errors::YOU_ARE_NOT_THE_RECIPIENT_OF_THE_INVITATION));
    }
    if settings(state).require_email_verification_on_invitation && !user.email_verified {
        return Err(err(verification_code));
    }
    Ok(())
}

/// An invitation is void once its sender has left the organization, no
/// longer holds what it grants (it would be an escalation), or grants a
/// role that no longer exists.
async fn check_inviter(state: &AppState, inv: &InvitationRow) -> Result<MemberRow, ApiError> {
    let inviter = store::find_member(&state.db, &inv.organization_id, &inv.inviter_id)
        .await?
        .ok_or_else(|| err(errors::INVITER_IS_NO_LONGER_A_MEMBER_OF_THE_ORGANIZATION))?;
    let roles = roles_for(state, &inv.organization_id).await?;
    let granted = inv.role.as_deref().unwrap_or("");
    // A stored role deleted since is no role to join with.
    check_roles_exist(&roles, &super::access::parse_roles(granted))?;
    if !may_grant(state, &roles, &inviter.role, granted) {
        return Err(err(
            errors::YOU_ARE_NOT_ALLOWED_TO_INVITE_USER_WITH_THIS_ROLE,
        ));
    }
    Ok(inviter)
}

pub async fn accept(
    state: &AppState,
    ctx: &RequestContext,
    invitation_id: &str,
) -> Result<AcceptedInvitation, ApiError> {
    let caller = caller(state, ctx).await?;
    let cfg = settings(state);
    let now = state.now();
    let inv = store::find_invitation(&state.db, invitation_id)
        .await?
        .filter(|i| i.status == "pending" && i.expires_at > now)
        .ok_or_else(|| err(errors::INVITATION_NOT_FOUND))?;
    check_recipient(
        state,
        &inv,
        &caller.auth.user,
        errors::EMAIL_VERIFICATION_REQUIRED_BEFORE_ACCEPTING_OR_REJECTING_INVITATION,
    )?;
    check_inviter(state, &inv).await?;
    let org = store::find_org(&state.db, &inv.organization_id)
        .await?
        .ok_or_else(|| err(errors::ORGANIZATION_NOT_FOUND))?;
    if store::count_members(&state.db, &org.id).await? >= i64::from(cfg.membership_limit) {
        return Err(err(errors::ORGANIZATION_MEMBERSHIP_LIMIT_REACHED));
    }
    let team_ids: Vec<String> = match (&inv.team_id, cfg.teams) {
        (Some(ids), true) => ids
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    let seats: Vec<TeamSeat> = team_ids
        .iter()
        .map(|t| TeamSeat {
            row: TeamMemberRow::new(t, caller.user_id(), None, now),
            maximum: cfg.maximum_members_per_team.map(|m| m as i32),
        })
        .collect();
    let member = MemberRow {
        id: token::new_id(),
        organization_id: org.id.clone(),
        user_id: caller.user_id().to_string(),
        role: inv.role.clone().unwrap_or_else(|| "member".into()),
        created_at: now,
    };
    // The invitation turns accepted once, in the transaction that creates the member.
    let accepted = store::accept_invitation(
        &state.db,
        &inv.id,
        now,
        &member,
        &seats,
        i64::from(cfg.membership_limit),
    )
    .await
    .map_err(refused)?;
    set_active_org(state, &caller, Some(&org.id)).await?;
    if let [only] = team_ids.as_slice() {
        set_active_team(state, &caller, Some(only)).await?;
        reissue_session_cookie(state, ctx, &caller);
    }
    audit(
        state,
        ctx,
        Audit {
            actor_id: Some(caller.user_id()),
            action: "organization.accept-invitation",
            target_type: "invitation",
            target_id: &accepted.id,
            organization_id: Some(&org.id),
            details: json!({"memberId": member.id, "role": member.role, "teamId": accepted.team_id}),
        },
    )
    .await?;
    Ok(AcceptedInvitation {
        invitation: InvitationDto::from(&accepted),
        member: MemberDto::from(&member),
    })
}

pub async fn reject(
    state: &AppState,
    ctx: &RequestContext,
    invitation_id: &str,
) -> Result<RejectedInvitation, ApiError> {
    let caller = caller(state, ctx).await?;
    let inv = store::find_invitation(&state.db, invitation_id)
        .await?
        .filter(|i| i.status == "pending")
        .ok_or_else(|| err(errors::INVITATION_NOT_FOUND))?;
    check_recipient(
        state,
        &inv,
        &caller.auth.user,
        errors::EMAIL_VERIFICATION_REQUIRED_BEFORE_ACCEPTING_OR_REJECTING_INVITATION,
    )?;
    store::find_org(&state.db, &inv.organization_id)
        .await?
        .ok_or_else(|| err(errors::ORGANIZATION_NOT_FOUND))?;
    let rejected = store::set_invitation_status(&state.db, &inv.id, Some("pending"), "rejected")
        .await?
        .ok_or_else(|| err(errors::INVITATION_NOT_FOUND))?;
    audit(
        state,
        ctx,
        Audit {
            actor_id: Some(caller.user_id()),
            action: "organization.reject-invitation",
            target_type: "invitation",
            target_id: &rejected.id,
            organization_id: Some(&rejected.organization_id),
            details: json!({"email": rejected.email}),
        },
    )
    .await?;
    Ok(RejectedInvitation {
        invitation: InvitationDto::from(&rejected),
        member: None,
    })
}

pub async fn cancel(
    state: &AppState,
    ctx: &RequestContext,
    invitation_id: &str,
) -> Result<InvitationDto, ApiError> {
    let caller = caller(state, ctx).await?;
    let inv = store::find_invitation(&state.db, invitation_id)
        .await?
        .ok_or_else(|| err(errors::INVITATION_NOT_FOUND))?;
    let me = membership(
        state,
        &inv.organization_id,
        caller.user_id(),
        err(errors::MEMBER_NOT_FOUND),
    )
    .await?;
    require_permission(
        state,
        &me,
        "invitation",
        "cancel",
        err(errors::YOU_ARE_NOT_ALLOWED_TO_CANCEL_THIS_INVITATION),
    )
    .await?;
    store::find_org(&state.db, &inv.organization_id)
        .await?
        .ok_or_else(|| err(errors::ORGANIZATION_NOT_FOUND))?;
    let canceled = store::set_invitation_status(&state.db, &inv.id, None, "canceled")
        .await?
        .ok_or_else(|| err(errors::INVITATION_NOT_FOUND))?;
    audit(
        state,
        ctx,
        Audit {
            actor_id: Some(caller.user_id()),
            action: "organization.cancel-invitation",
            target_type: "invitation",
            target_id: &canceled.id,
            organization_id: Some(&canceled.organization_id),
            details: json!({"email": canceled.email, "from": inv.status}),
        },
    )
    .await?;
    Ok(InvitationDto::from(&canceled))
}

pub async fn get(
    state: &AppState,
    ctx: &RequestContext,
    id: &str,
) -> Result<InvitationDetails, ApiError> {
    let caller = caller(state, ctx).await?;
    let now = state.now();
    let inv = store::find_invitation(&state.db, id)
        .await?
        .filter(|i| i.status == "pending" && i.expires_at > now)
        .ok_or_else(|| err(errors::INVITATION_NOT_FOUND))?;
    check_recipient(
        state,
        &inv,
        &caller.auth.user,
        errors::EMAIL_VERIFICATION_REQUIRED_FOR_INVITATION,
    )?;
    let org = store::find_org(&state.db, &inv.organization_id)
        .await?
        .ok_or_else(|| err(errors::ORGANIZATION_NOT_FOUND))?;
    let inviter = check_inviter(state, &inv).await?;
    let inviter_user = core_store::find_user_by_id(&state.db, &inviter.user_id)
        .await?
        .ok_or_else(|| err(errors::INVITER_IS_NO_LONGER_A_MEMBER_OF_THE_ORGANIZATION))?;
    let d = InvitationDto::from(&inv);
    Ok(InvitationDetails {
        id: d.id,
        organization_id: d.organization_id,
        email: d.email,
        role: d.role,
        team_id: d.team_id,
        status: d.status,
        expires_at: d.expires_at,
        created_at: d.created_at,
        inviter_id: d.inviter_id,
        organization_name: org.name,
        organization_slug: org.slug,
        inviter_email: inviter_user.email,
    })
}

pub async fn list(
    state: &AppState,
    ctx: &RequestContext,
    organization_id: Option<&str>,
) -> Result<Vec<InvitationDto>, ApiError> {
    let caller = caller(state, ctx).await?;
    let org_id = org_or_active(organization_id, &caller)
        .ok_or_else(|| err(errors::NO_ACTIVE_ORGANIZATION))?;
    let me = membership(
        state,
        &org_id,
        caller.user_id(),
        err(errors::YOU_ARE_NOT_A_MEMBER_OF_THIS_ORGANIZATION),
    )
    .await?;
    // Invitation ids are invitation links: only members who may invite see them.
    if !allowed(state, &me, "invitation", "create").await? {
        return Err(err(errors::YOU_ARE_NOT_ALLOWED_TO_LIST_INVITATIONS));
    }
    let creator = holds_creator(state, &me.role);
    Ok(store::list_invitations(&state.db, &org_id)
        .await?
        .iter()
        .filter(|i| creator || !holds_creator(state, i.role.as_deref().unwrap_or("")))
        .map(InvitationDto::from)
        .collect())
}

pub async fn list_for_user(
    state: &AppState,
    ctx: &RequestContext,
) -> Result<Vec<UserInvitation>, ApiError> {
    let caller = caller(state, ctx).await?;
    // Anyone could sign up with someone else's address: only a verified one
    // sees the invitations sent to it (Better Auth's rule).
    if !caller.auth.user.email_verified {
        return Err(err(errors::EMAIL_VERIFICATION_REQUIRED_FOR_INVITATION));
    }
    Ok(
        store::list_pending_for_email(&state.db, &caller.auth.user.email.to_lowercase())
            .await?
            .iter()
            .map(|(i, o)| UserInvitation::new(i, o))
            .collect(),
    )
}
