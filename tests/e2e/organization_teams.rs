//! Teams: gating, the default team, limits, members, the active team,
//! invitations into teams, and team-scoped roles (no escalation there either).

use gatehouse_server::plugins::organization::store;
use gatehouse_tests::smtp::SmtpSink;
use gatehouse_tests::{email, on_both_backends, Backend, Response, TestServer};
use serde_json::{json, Value};

use super::invitations::{mailed_id, sign_up_as};
use super::members::custom_roles;
use super::{active, add, audit_actions, create_org, id, member_row, server, user, User};

on_both_backends!(
    organization_teams_are_off_by_default,
    organization_teams_lifecycle,
    organization_team_roles_without_escalation,
    organization_team_and_role_route_errors,
);

async fn organization_teams_are_off_by_default(b: Backend) {
    let s = server(b, None, |_| {}).await;
    let owner = user(&s).await;
    let org = create_org(&owner, "teamless").await;
    for (path, body) in [
        ("create-team", json!({"name": "T"})),
        ("remove-team", json!({"teamId": "t"})),
        ("update-team", json!({"teamId": "t", "data": {"name": "U"}})),
        ("set-active-team", json!({"teamId": "t"})),
        (
            "add-team-member",
            json!({"teamId": "t", "userId": owner.id}),
        ),
        (
            "remove-team-member",
            json!({"teamId": "t", "userId": owner.id}),
        ),
        (
            "update-team-member-role",
            json!({"teamId": "t", "userId": owner.id, "role": "member"}),
        ),
    ] {
        owner
            .c
            .post(&format!("/organization/{path}"), body)
            .await
            .assert_error(404, "NOT_FOUND");
    }
    for path in [
        "list-teams",
        "list-user-teams",
        "list-team-members?teamId=t",
    ] {
        owner
            .c
            .get(&format!("/organization/{path}"))
            .await
            .assert_error(404, "NOT_FOUND");
    }
    // No default team, no active team.
    assert_eq!(active(&owner.c).await, (org["id"].clone(), Value::Null));
}

async fn team_post(u: &User, path: &str, body: Value) -> Response {
    u.c.post(&format!("/organization/{path}"), body).await
}

async fn ok(r: Response) -> Value {
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

async fn in_team(s: &TestServer, team: &str, u: &User) -> Option<store::TeamMemberRow> {
    store::find_team_member(s.db(), team, &u.id).await.unwrap()
}

async fn organization_teams_lifecycle(b: Backend) {
    let sink = SmtpSink::start().await;
    let s = server(b, Some(&sink), |o| {
        o.teams = true;
        o.maximum_teams = Some(3);
        o.maximum_members_per_team = Some(2);
    })
    .await;
    let owner = user(&s).await;
    let org_json = create_org(&owner, "squads").await;
    let org = id(&org_json);
    let (m1, m2, m3) = (user(&s).await, user(&s).await, user(&s).await);
    for u in [&m1, &m2, &m3] {
        add(&s, &org, u, "member").await;
        u.c.post("/organization/set-active", json!({"organizationId": org}))
            .await;
    }

    // The default team: named after the organization, holding its creator, active.
    let teams = owner.c.get("/organization/list-teams").await.json();
    assert_eq!(teams.as_array().unwrap().len(), 1);
    let default = id(&teams[0]);
    assert_eq!(teams[0]["name"], "Org squads");
    assert!(teams[0].get("memberCount").is_none());
    // Never updated (Better Auth's default team has no updatedAt either).
    assert_eq!(teams[0]["updatedAt"], Value::Null);
    assert_eq!(active(&owner.c).await, (json!(org), json!(default)));
    let full = owner
        .c
        .get("/organization/get-full-organization")
        .await
        .json();
    assert_eq!(full["teams"][0]["memberCount"], 1);
    assert!(in_team(&s, &default, &owner).await.is_some());

    // Creating, within the limit.
    let red = ok(team_post(&owner, "create-team", json!({"name": "Red"})).await).await;
    assert_eq!(red["name"], "Red");
    assert_eq!(red["organizationId"], org.as_str());
    let red_id = id(&red);
    team_post(&m1, "create-team", json!({"name": "Mine"}))
        .await
        .assert_error(
            403,
            "YOU_ARE_NOT_ALLOWED_TO_CREATE_TEAMS_IN_THIS_ORGANIZATION",
        );
    let outsider = user(&s).await;
    team_post(
        &outsider,
        "create-team",
        json!({"name": "X", "organizationId": org}),
    )
    .await
    .assert_error(
        403,
        "YOU_ARE_NOT_ALLOWED_TO_INVITE_USERS_TO_THIS_ORGANIZATION",
    );
    team_post(&outsider, "create-team", json!({"name": "X"}))
        .await
        .assert_error(400, "NO_ACTIVE_ORGANIZATION");
    let blue = ok(team_post(&owner, "create-team", json!({"name": "Blue"})).await).await;
    team_post(&owner, "create-team", json!({"name": "Green"}))
        .await
        .assert_error(400, "YOU_HAVE_REACHED_THE_MAXIMUM_NUMBER_OF_TEAMS");
    assert_eq!(store::list_teams(s.db(), &org).await.unwrap().len(), 3);

    // Renaming.
    let renamed = ok(team_post(
        &owner,
        "update-team",
        json!({"teamId": red_id, "data": {"name": "Crimson"}}),
    )
    .await)
    .await;
    assert_eq!(renamed["name"], "Crimson");
    assert_eq!(
        store::find_team(s.db(), &red_id, None)
            .await
            .unwrap()
            .unwrap()
            .name,
        "Crimson"
    );
    team_post(
        &m1,
        "update-team",
        json!({"teamId": red_id, "data": {"name": "Nope"}}),
    )
    .await
    .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_TEAM");
    team_post(
        &owner,
        "update-team",
        json!({"teamId": "no-such-team", "data": {"name": "Nope"}}),
    )
    .await
    .assert_error(400, "TEAM_NOT_FOUND");

    // Members, within the team's seats.
    let tm = ok(team_post(
        &owner,
        "add-team-member",
        json!({"teamId": red_id, "userId": m1.id}),
    )
    .await)
    .await;
    assert_eq!(tm["teamId"], red_id.as_str());
    assert_eq!(tm["userId"], m1.id.as_str());
    assert_eq!(tm["role"], Value::Null);
    // Adding again: the same membership.
    let again = ok(team_post(
        &owner,
        "add-team-member",
        json!({"teamId": red_id, "userId": m1.id}),
    )
    .await)
    .await;
    assert_eq!(again["id"], tm["id"]);
    team_post(
        &m1,
        "add-team-member",
        json!({"teamId": red_id, "userId": m2.id}),
    )
    .await
    .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_CREATE_A_NEW_TEAM_MEMBER");
    team_post(
        &owner,
        "add-team-member",
        json!({"teamId": red_id, "userId": outsider.id}),
    )
    .await
    .assert_error(400, "USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION");
    ok(team_post(
        &owner,
        "add-team-member",
        json!({"teamId": red_id, "userId": m2.id}),
    )
    .await)
    .await;
    team_post(
        &owner,
        "add-team-member",
        json!({"teamId": red_id, "userId": m3.id}),
    )
    .await
    .assert_error(403, "TEAM_MEMBER_LIMIT_REACHED");
    assert!(in_team(&s, &red_id, &m3).await.is_none());
    let count = |t: &str| {
        let t = t.to_string();
        let db = s.db().clone();
        async move {
            store::find_team(&db, &t, None)
                .await
                .unwrap()
                .unwrap()
                .member_count
        }
    };
    assert_eq!(count(&red_id).await, 2);

    // Listing a team's members: only from inside it.
    let listed =
        m1.c.get(&format!("/organization/list-team-members?teamId={red_id}"))
            .await
            .json();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    m3.c.get(&format!("/organization/list-team-members?teamId={red_id}"))
        .await
        .assert_error(400, "USER_IS_NOT_A_MEMBER_OF_THE_TEAM");
    m1.c.get("/organization/list-team-members")
        .await
        .assert_error(400, "YOU_DO_NOT_HAVE_AN_ACTIVE_TEAM");
    m1.c.get("/organization/list-team-members?teamId=no-such-team")
        .await
        .assert_error(400, "TEAM_NOT_FOUND");

    // The active team.
    let r = team_post(&m1, "set-active-team", json!({"teamId": red_id})).await;
    // The session cookie is sent again, as Better Auth does (same session).
    assert!(r.set_cookie("better-auth.session_token").is_some());
    let r = ok(r).await;
    assert_eq!(r["id"], red_id.as_str());
    assert_eq!(active(&m1.c).await.1, json!(red_id));
    let listed = m1.c.get("/organization/list-team-members").await.json();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    team_post(&m3, "set-active-team", json!({"teamId": red_id}))
        .await
        .assert_error(403, "USER_IS_NOT_A_MEMBER_OF_THE_TEAM");
    team_post(&m3, "set-active-team", json!({"teamId": "no-such-team"}))
        .await
        .assert_error(400, "TEAM_NOT_FOUND");
    team_post(&outsider, "set-active-team", json!({"teamId": red_id}))
        .await
        .assert_error(400, "NO_ACTIVE_ORGANIZATION");
    let r = team_post(&m1, "set-active-team", json!({"teamId": null})).await;
    assert_eq!(r.text, "null");
    assert_eq!(active(&m1.c).await.1, Value::Null);

    // The teams of a user.
    let mine = m1.c.get("/organization/list-user-teams").await.json();
    assert_eq!(mine.as_array().unwrap().len(), 1);
    assert_eq!(mine[0]["id"], red_id.as_str());
    let theirs = owner
        .c
        .get(&format!("/organization/list-user-teams?userId={}", m1.id))
        .await
        .json();
    assert_eq!(theirs[0]["id"], red_id.as_str());
    m2.c.get(&format!("/organization/list-user-teams?userId={}", m1.id))
        .await
        .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER");
    owner
        .c
        .get(&format!(
            "/organization/list-user-teams?userId={}",
            outsider.id
        ))
        .await
        .assert_error(400, "USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION");

    // Removing team members frees their seats.
    team_post(
        &m1,
        "remove-team-member",
        json!({"teamId": red_id, "userId": m2.id}),
    )
    .await
    .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_REMOVE_A_TEAM_MEMBER");
    let r = ok(team_post(
        &owner,
        "remove-team-member",
        json!({"teamId": red_id, "userId": m2.id}),
    )
    .await)
    .await;
    assert_eq!(r, json!({"message": "Team member removed successfully."}));
    assert!(in_team(&s, &red_id, &m2).await.is_none());
    team_post(
        &owner,
        "remove-team-member",
        json!({"teamId": red_id, "userId": m2.id}),
    )
    .await
    .assert_error(400, "USER_IS_NOT_A_MEMBER_OF_THE_TEAM");
    assert_eq!(count(&red_id).await, 1);
    ok(team_post(
        &owner,
        "add-team-member",
        json!({"teamId": red_id, "userId": m3.id}),
    )
    .await)
    .await;
    // Leaving the organization leaves its teams.
    m3.c.post("/organization/leave", json!({"organizationId": org}))
        .await;
    assert!(in_team(&s, &red_id, &m3).await.is_none());
    assert_eq!(count(&red_id).await, 1);

    // Invitations into teams: joined on acceptance, made active when only one.
    let addr = email();
    owner
        .c
        .post(
            "/organization/invite-member",
            json!({"email": addr, "role": "member", "teamId": "a,b"}),
        )
        .await
        .assert_error(400, "INVALID_TEAM_ID");
    owner
        .c
        .post(
            "/organization/invite-member",
            json!({"email": addr, "role": "member", "teamId": ["no-such-team"]}),
        )
        .await
        .assert_error(400, "TEAM_NOT_FOUND");
    let inv = ok(owner
        .c
        .post(
            "/organization/invite-member",
            json!({"email": addr, "role": "member", "teamId": [id(&blue)]}),
        )
        .await)
    .await;
    assert_eq!(inv["teamId"], blue["id"]);
    let invitee = sign_up_as(&s, &addr).await;
    let inv_id = mailed_id(&sink, &s, &addr, 1).await;
    ok(invitee
        .c
        .post(
            "/organization/accept-invitation",
            json!({"invitationId": inv_id}),
        )
        .await)
    .await;
    assert!(in_team(&s, &id(&blue), &invitee).await.is_some());
    assert_eq!(active(&invitee.c).await, (json!(org), blue["id"].clone()));
    // A full team: refused when inviting, and when accepting.
    let late = email();
    ok(owner
        .c
        .post(
            "/organization/invite-member",
            json!({"email": late, "role": "member", "teamId": red_id}),
        )
        .await)
    .await;
    ok(team_post(
        &owner,
        "add-team-member",
        json!({"teamId": red_id, "userId": m2.id}),
    )
    .await)
    .await;
    owner
        .c
        .post(
            "/organization/invite-member",
            json!({"email": email(), "role": "member", "teamId": red_id}),
        )
        .await
        .assert_error(403, "TEAM_MEMBER_LIMIT_REACHED");
    let late_user = sign_up_as(&s, &late).await;
    let late_id = mailed_id(&sink, &s, &late, 1).await;
    late_user
        .c
        .post(
            "/organization/accept-invitation",
            json!({"invitationId": late_id}),
        )
        .await
        .assert_error(403, "TEAM_MEMBER_LIMIT_REACHED");
    // Nothing of the acceptance remains.
    assert!(member_row(&s, &org, &late_user.id).await.is_none());
    assert_eq!(
        store::find_invitation(s.db(), &late_id)
            .await
            .unwrap()
            .unwrap()
            .status,
        "pending"
    );
    assert_eq!(count(&red_id).await, 2);

    // Removing teams: not one's active team, never the last one.
    team_post(&owner, "remove-team", json!({"teamId": default}))
        .await
        .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_TEAM");
    team_post(&m1, "remove-team", json!({"teamId": id(&blue)}))
        .await
        .assert_error(
            403,
            "YOU_ARE_NOT_ALLOWED_TO_DELETE_TEAMS_IN_THIS_ORGANIZATION",
        );
    let r = ok(team_post(&owner, "remove-team", json!({"teamId": id(&blue)})).await).await;
    assert_eq!(r, json!({"message": "Team removed successfully."}));
    assert!(store::find_team(s.db(), &id(&blue), None)
        .await
        .unwrap()
        .is_none());
    assert!(in_team(&s, &id(&blue), &invitee).await.is_none());
    // The invitee's session no longer has the removed team active.
    assert_eq!(active(&invitee.c).await.1, Value::Null);
    team_post(&owner, "remove-team", json!({"teamId": id(&blue)}))
        .await
        .assert_error(400, "TEAM_NOT_FOUND");
    ok(team_post(&owner, "remove-team", json!({"teamId": red_id})).await).await;
    team_post(&owner, "set-active-team", json!({"teamId": null})).await;
    team_post(&owner, "remove-team", json!({"teamId": default}))
        .await
        .assert_error(400, "UNABLE_TO_REMOVE_LAST_TEAM");
    assert!(member_row(&s, &org, &invitee.id).await.is_some());

    let actions = audit_actions(&s, &org).await;
    for (action, n) in [
        ("organization.create-team", 2),
        ("organization.update-team", 1),
        ("organization.add-team-member", 4),
        ("organization.remove-team-member", 1),
        ("organization.remove-team", 2),
    ] {
        assert_eq!(
            actions.iter().filter(|a| *a == action).count(),
            n,
            "{action}: {actions:?}"
        );
    }
}

async fn has(u: &User, org: &str, team: Option<&str>, p: Value) -> Response {
    u.c.post(
        "/organization/has-permission",
        json!({"organizationId": org, "teamId": team, "permissions": p}),
    )
    .await
}

async fn organization_team_roles_without_escalation(b: Backend) {
    let s = server(b, None, |o| {
        custom_roles(o);
        o.teams = true;
    })
    .await;
    let owner = user(&s).await;
    let org = id(&create_org(&owner, "scoped").await);
    let (lead, dev, other) = (user(&s).await, user(&s).await, user(&s).await);
    for u in [&lead, &dev, &other] {
        add(&s, &org, u, "member").await;
        u.c.post("/organization/set-active", json!({"organizationId": org}))
            .await;
    }
    let t = id(&ok(team_post(&owner, "create-team", json!({"name": "T"})).await).await);
    let u = id(&ok(team_post(&owner, "create-team", json!({"name": "U"})).await).await);
    for who in [&lead, &dev] {
        ok(team_post(
            &owner,
            "add-team-member",
            json!({"teamId": t, "userId": who.id}),
        )
        .await)
        .await;
    }
    ok(team_post(
        &owner,
        "add-team-member",
        json!({"teamId": u, "userId": dev.id}),
    )
    .await)
    .await;

    // The owner makes `lead` a manager of team T only.
    let r = ok(team_post(
        &owner,
        "update-team-member-role",
        json!({"teamId": t, "userId": lead.id, "role": "manager"}),
    )
    .await)
    .await;
    assert_eq!(r["role"], "manager");
    assert_eq!(
        in_team(&s, &t, &lead).await.unwrap().role.as_deref(),
        Some("manager")
    );
    assert_eq!(member_row(&s, &org, &lead.id).await.unwrap().role, "member");
    team_post(
        &owner,
        "update-team-member-role",
        json!({"teamId": t, "userId": lead.id, "role": "ghost"}),
    )
    .await
    .assert_error(400, "ROLE_NOT_FOUND");
    team_post(
        &owner,
        "update-team-member-role",
        json!({"teamId": t, "userId": other.id, "role": "member"}),
    )
    .await
    .assert_error(400, "USER_IS_NOT_A_MEMBER_OF_THE_TEAM");
    team_post(
        &owner,
        "update-team-member-role",
        json!({"teamId": t, "userId": lead.id}),
    )
    .await
    .assert_error(400, "VALIDATION_ERROR");

    // has-permission in the team: the team role counts there, and only there.
    let update = json!({"member": ["update"]});
    assert_eq!(
        has(&lead, &org, None, update.clone()).await.json()["success"],
        false
    );
    assert_eq!(
        has(&lead, &org, Some(&t), update.clone()).await.json()["success"],
        true
    );
    assert_eq!(
        has(&lead, &org, Some(&u), update.clone()).await.json()["success"],
        false
    );
    has(&lead, &org, Some("no-such-team"), update.clone())
        .await
        .assert_error(400, "TEAM_NOT_FOUND");
    // Org roles still grant on their own with a team.
    assert_eq!(
        has(&owner, &org, Some(&t), json!({"organization": ["delete"]}))
            .await
            .json()["success"],
        true
    );

    // In T, the lead may give what it holds there, and nothing more.
    let r = ok(team_post(
        &lead,
        "update-team-member-role",
        json!({"teamId": t, "userId": dev.id, "role": "manager"}),
    )
    .await)
    .await;
    assert_eq!(r["role"], "manager");
    for role in [
        json!("admin"),
        json!("superuser"),
        json!("owner"),
        json!(["manager", "builder"]),
    ] {
        team_post(
            &lead,
            "update-team-member-role",
            json!({"teamId": t, "userId": dev.id, "role": role}),
        )
        .await
        .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER");
    }
    team_post(
        &lead,
        "update-team-member-role",
        json!({"teamId": t, "userId": lead.id, "role": "superuser"}),
    )
    .await
    .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER");
    // Outside T the lead holds nothing.
    team_post(
        &lead,
        "update-team-member-role",
        json!({"teamId": u, "userId": dev.id, "role": "member"}),
    )
    .await
    .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER");
    // Nor does a team role reach the organization.
    lead.c
        .post(
            "/organization/update-member-role",
            json!({"memberId": member_row(&s, &org, &dev.id).await.unwrap().id, "role": "manager"}),
        )
        .await
        .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER");
    assert_eq!(member_row(&s, &org, &dev.id).await.unwrap().role, "member");
    assert_eq!(
        in_team(&s, &t, &dev).await.unwrap().role.as_deref(),
        Some("manager")
    );
    assert_eq!(
        in_team(&s, &t, &lead).await.unwrap().role.as_deref(),
        Some("manager")
    );

    // Adding with a team role: the same rule.
    team_post(
        &lead,
        "add-team-member",
        json!({"teamId": t, "userId": other.id, "role": "admin"}),
    )
    .await
    .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_CREATE_A_NEW_TEAM_MEMBER");
    assert!(in_team(&s, &t, &other).await.is_none());
    let r = ok(team_post(
        &owner,
        "add-team-member",
        json!({"teamId": t, "userId": other.id, "role": ["builder"]}),
    )
    .await)
    .await;
    assert_eq!(r["role"], "builder");
    assert_eq!(
        has(&other, &org, Some(&t), json!({"project": ["create"]}))
            .await
            .json()["success"],
        true
    );
    // A team member holding more than the lead is out of its reach.
    team_post(
        &lead,
        "update-team-member-role",
        json!({"teamId": t, "userId": other.id, "role": null}),
    )
    .await
    .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER");
    // Clearing a team role.
    let r = ok(team_post(
        &owner,
        "update-team-member-role",
        json!({"teamId": t, "userId": other.id, "role": null}),
    )
    .await)
    .await;
    assert_eq!(r["role"], Value::Null);
    assert_eq!(in_team(&s, &t, &other).await.unwrap().role, None);
    let actions = audit_actions(&s, &org).await;
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "organization.update-team-member-role")
            .count(),
        3
    );
}

async fn organization_team_and_role_route_errors(b: Backend) {
    let s = server(b, None, |o| {
        custom_roles(o);
        o.teams = true;
        o.dynamic_access_control = true;
    })
    .await;
    let owner = user(&s).await;
    let org = id(&create_org(&owner, "errors").await);
    let team = id(&owner.c.get("/organization/list-teams").await.json()[0]);
    let builder = user(&s).await;
    add(&s, &org, &builder, "builder").await;
    builder
        .c
        .post("/organization/set-active", json!({"organizationId": org}))
        .await;
    let outsider = user(&s).await;
    let stranger = user(&s).await;

    // No active organization.
    for (path, body) in [
        ("remove-team", json!({"teamId": team})),
        (
            "update-team",
            json!({"teamId": team, "data": {"name": "N"}}),
        ),
        (
            "add-team-member",
            json!({"teamId": team, "userId": owner.id}),
        ),
        (
            "remove-team-member",
            json!({"teamId": team, "userId": owner.id}),
        ),
        (
            "update-team-member-role",
            json!({"teamId": team, "userId": owner.id, "role": "member"}),
        ),
        (
            "update-member-role",
            json!({"memberId": "m", "role": "member"}),
        ),
        ("delete-role", json!({"roleName": "x"})),
        ("update-role", json!({"roleName": "x", "data": {}})),
    ] {
        team_post(&outsider, path, body)
            .await
            .assert_error(400, "NO_ACTIVE_ORGANIZATION");
    }
    for path in [
        "list-teams".to_string(),
        format!("list-user-teams?userId={}", owner.id),
        "get-role?roleName=x".to_string(),
    ] {
        outsider
            .c
            .get(&format!("/organization/{path}"))
            .await
            .assert_error(400, "NO_ACTIVE_ORGANIZATION");
    }

    // Naming an organization one does not belong to.
    outsider
        .c
        .get(&format!("/organization/list-teams?organizationId={org}"))
        .await
        .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_ACCESS_THIS_ORGANIZATION");
    outsider
        .c
        .get(&format!(
            "/organization/list-user-teams?organizationId={org}"
        ))
        .await
        .assert_error(403, "YOU_ARE_NOT_A_MEMBER_OF_THIS_ORGANIZATION");
    for (path, body) in [
        (
            "add-team-member",
            json!({"teamId": team, "userId": owner.id, "organizationId": org}),
        ),
        (
            "remove-team-member",
            json!({"teamId": team, "userId": owner.id, "organizationId": org}),
        ),
        (
            "update-team-member-role",
            json!({"teamId": team, "userId": owner.id, "role": "member", "organizationId": org}),
        ),
    ] {
        team_post(&outsider, path, body)
            .await
            .assert_error(400, "USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION");
    }
    for (path, body) in [
        (
            "delete-role",
            json!({"roleName": "x", "organizationId": org}),
        ),
        (
            "update-role",
            json!({"roleName": "x", "organizationId": org, "data": {}}),
        ),
    ] {
        team_post(&outsider, path, body)
            .await
            .assert_error(403, "YOU_ARE_NOT_A_MEMBER_OF_THIS_ORGANIZATION");
    }
    outsider
        .c
        .get(&format!(
            "/organization/get-role?roleName=x&organizationId={org}"
        ))
        .await
        .assert_error(403, "YOU_ARE_NOT_A_MEMBER_OF_THIS_ORGANIZATION");

    // Unknown teams, roles and users.
    for (path, body) in [
        (
            "add-team-member",
            json!({"teamId": "no-such-team", "userId": owner.id}),
        ),
        (
            "remove-team-member",
            json!({"teamId": "no-such-team", "userId": owner.id}),
        ),
        (
            "update-team-member-role",
            json!({"teamId": "no-such-team", "userId": owner.id, "role": "member"}),
        ),
    ] {
        team_post(&owner, path, body)
            .await
            .assert_error(400, "TEAM_NOT_FOUND");
    }
    team_post(
        &owner,
        "add-team-member",
        json!({"teamId": team, "userId": builder.id, "role": "ghost"}),
    )
    .await
    .assert_error(400, "ROLE_NOT_FOUND");
    team_post(
        &owner,
        "remove-team-member",
        json!({"teamId": team, "userId": stranger.id}),
    )
    .await
    .assert_error(400, "USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION");
    owner
        .c
        .get("/organization/list-members?organizationSlug=no-such-slug")
        .await
        .assert_error(400, "ORGANIZATION_NOT_FOUND");
    owner
        .c
        .post("/organization/delete", json!({"organizationId": ""}))
        .await
        .assert_error(400, "ORGANIZATION_NOT_FOUND");
    team_post(
        &owner,
        "create-role",
        json!({"role": "pilot", "permission": {"spaceship": ["fly"]}}),
    )
    .await
    .assert_error(400, "INVALID_RESOURCE");
    team_post(
        &owner,
        "create-role",
        json!({"role": "pilot", "permission": {"member": ["fly"]}}),
    )
    .await
    .assert_error(400, "INVALID_RESOURCE");

    // A role without `ac:read` lists and reads no roles.
    builder
        .c
        .get("/organization/list-roles")
        .await
        .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_LIST_A_ROLE");
    builder
        .c
        .get("/organization/get-role?roleName=x")
        .await
        .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_READ_A_ROLE");

    // A session whose active organization it does not belong to (set
    // behind the server's back): no active member.
    let session_id = stranger.c.get("/get-session").await.json()["session"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    store::set_active_org(s.db(), &session_id, Some(&org))
        .await
        .unwrap();
    s.clock.advance(chrono::Duration::seconds(60));
    stranger
        .c
        .get("/organization/get-active-member")
        .await
        .assert_error(400, "MEMBER_NOT_FOUND");
}
