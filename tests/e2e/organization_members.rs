//! Members: the server-side add, list-members, roles, removal, leaving, the
//! last owner, the membership limit, has-permission and no escalation.

use std::collections::BTreeMap;

use chrono::Duration;
use gatehouse_server::plugins::organization::server_api::AddMember;
use gatehouse_server::plugins::organization::settings::OrganizationSettings;
use gatehouse_tests::{on_both_backends, Backend, Response, TestServer};
use serde_json::{json, Value};

use super::{active, add, audit_actions, create_org, id, member_row, server, sorted, user, User};

on_both_backends!(
    organization_members_list_roles_and_removal,
    organization_membership_limit_and_server_add,
    organization_no_escalation_in_the_organization,
    organization_has_permission,
);

/// Custom statements and roles: `manager` may update members, invite and
/// read roles, `superuser` more, `builder` only a custom statement.
pub fn custom_roles(o: &mut OrganizationSettings) {
    o.statements = BTreeMap::from([(
        "project".to_string(),
        vec!["create".to_string(), "share".to_string()],
    )]);
    let role = |pairs: &[(&str, &[&str])]| {
        pairs
            .iter()
            .map(|(r, a)| (r.to_string(), a.iter().map(|s| s.to_string()).collect()))
            .collect::<BTreeMap<String, Vec<String>>>()
    };
    o.roles = BTreeMap::from([
        (
            "manager".to_string(),
            role(&[
                ("member", &["update"]),
                ("invitation", &["create"]),
                ("ac", &["read"]),
            ]),
        ),
        (
            "superuser".to_string(),
            role(&[
                ("member", &["update", "delete"]),
                ("organization", &["update"]),
                ("invitation", &["create", "cancel"]),
                ("ac", &["read"]),
            ]),
        ),
        ("builder".to_string(), role(&[("project", &["create"])])),
    ]);
}

async fn later(s: &TestServer, org: &str, u: &User, role: &str) -> Value {
    // Distinct creation times give list-members a stable order.
    s.clock.advance(Duration::seconds(1));
    add(s, org, u, role).await
}

async fn set_role(who: &User, member: &Value, role: Value) -> Response {
    who.c
        .post(
            "/organization/update-member-role",
            json!({"memberId": member["id"], "role": role}),
        )
        .await
}

async fn invite_as(who: &User, role: &str) -> Response {
    who.c
        .post(
            "/organization/invite-member",
            json!({"email": gatehouse_tests::email(), "role": role}),
        )
        .await
}

/// has-permission's answer for `u`.
async fn check(u: &User, body: Value) -> bool {
    let r = u.c.post("/organization/has-permission", body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let j = r.json();
    assert_eq!(j["error"], Value::Null, "{j}");
    j["success"].as_bool().unwrap()
}

async fn role_of(s: &TestServer, org: &str, u: &User) -> Option<String> {
    member_row(s, org, &u.id).await.map(|m| m.role)
}

async fn organization_members_list_roles_and_removal(b: Backend) {
    let s = server(b, None, |_| {}).await;
    let owner = user(&s).await;
    let (a, m, n) = (user(&s).await, user(&s).await, user(&s).await);
    let org = id(&create_org(&owner, "crew").await);
    let ma = later(&s, &org, &a, "admin").await;
    let mm = later(&s, &org, &m, "member").await;
    let mn = later(&s, &org, &n, "member").await;

    // list-members: everyone with their users, oldest first by default.
    let r = owner.c.get("/organization/list-members").await.json();
    assert_eq!(r["total"], 4);
    let ids: Vec<&str> = r["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["userId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [&owner.id, &a.id, &m.id, &n.id]);
    assert_eq!(r["members"][1]["user"]["email"], a.email.as_str());
    assert_eq!(r["members"][1]["role"], "admin");
    let page = owner
        .c
        .get("/organization/list-members?limit=2&offset=1")
        .await
        .json();
    assert_eq!(page["total"], 4);
    assert_eq!(page["members"][0]["userId"], a.id.as_str());
    assert_eq!(page["members"].as_array().unwrap().len(), 2);
    let desc = owner
        .c
        .get("/organization/list-members?sortBy=createdAt&sortDirection=desc")
        .await
        .json();
    assert_eq!(desc["members"][0]["userId"], n.id.as_str());
    let members = owner
        .c
        .get("/organization/list-members?filterField=role&filterValue=member")
        .await
        .json();
    assert_eq!(members["total"], 2);
    let not_members = owner
        .c
        .get("/organization/list-members?filterField=role&filterOperator=ne&filterValue=member")
        .await
        .json();
    assert_eq!(not_members["total"], 2);
    let some = owner
        .c
        .get(&format!(
            "/organization/list-members?filterField=userId&filterOperator=in&filterValue={},{}",
            a.id, n.id
        ))
        .await
        .json();
    assert_eq!(some["total"], 2);
    let starts = owner
        .c
        .get("/organization/list-members?filterField=role&filterOperator=starts_with&filterValue=adm")
        .await
        .json();
    assert_eq!(starts["members"][0]["userId"], a.id.as_str());
    for bad in [
        "sortDirection=sideways",
        "sortBy=password",
        "filterField=email&filterValue=x",
        "filterField=role&filterOperator=like&filterValue=x",
        "limit=lots",
    ] {
        owner
            .c
            .get(&format!("/organization/list-members?{bad}"))
            .await
            .assert_error(400, "VALIDATION_ERROR");
    }
    let by_slug = owner
        .c
        .get("/organization/list-members?organizationSlug=crew")
        .await
        .json();
    assert_eq!(by_slug["total"], 4);
    m.c.get("/organization/list-members")
        .await
        .assert_error(400, "NO_ACTIVE_ORGANIZATION");

    // get-active-member and get-active-member-role.
    m.c.get("/organization/get-active-member")
        .await
        .assert_error(400, "NO_ACTIVE_ORGANIZATION");
    m.c.post("/organization/set-active", json!({"organizationId": org}))
        .await;
    let me = m.c.get("/organization/get-active-member").await.json();
    assert_eq!(me["id"], mm["id"]);
    assert_eq!(me["role"], "member");
    assert_eq!(me["user"]["email"], m.email.as_str());
    let r = m.c.get("/organization/get-active-member-role").await.json();
    assert_eq!(r, json!({"role": "member"}));
    let r =
        m.c.get(&format!(
            "/organization/get-active-member-role?userId={}",
            a.id
        ))
        .await
        .json();
    assert_eq!(r, json!({"role": "admin"}));
    let stranger = user(&s).await;
    m.c.get(&format!(
        "/organization/get-active-member-role?userId={}",
        stranger.id
    ))
    .await
    .assert_error(403, "YOU_ARE_NOT_A_MEMBER_OF_THIS_ORGANIZATION");

    // update-member-role.
    m.c.post(
        "/organization/update-member-role",
        json!({"memberId": mn["id"], "role": "admin"}),
    )
    .await
    .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER");
    a.c.post("/organization/set-active", json!({"organizationId": org}))
        .await;
    let r =
        a.c.post(
            "/organization/update-member-role",
            json!({"memberId": mm["id"], "role": ["member", " admin", "member"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["role"], "member,admin");
    assert_eq!(role_of(&s, &org, &m).await.as_deref(), Some("member,admin"));
    let r =
        a.c.post(
            "/organization/update-member-role",
            json!({"memberId": mm["id"], "role": "ghost, admin,phantom"}),
        )
        .await;
    r.assert_error(400, "ROLE_NOT_FOUND");
    assert_eq!(r.json()["message"], "ROLE_NOT_FOUND: ghost, phantom");
    a.c.post(
        "/organization/update-member-role",
        json!({"memberId": mn["id"], "role": []}),
    )
    .await
    .assert_error(400, "VALIDATION_ERROR");
    a.c.post(
        "/organization/update-member-role",
        json!({"memberId": "no-such-member", "role": "member"}),
    )
    .await
    .assert_error(400, "MEMBER_NOT_FOUND");
    // Only the creator role's holders give or touch the creator role.
    a.c.post(
        "/organization/update-member-role",
        json!({"memberId": mn["id"], "role": "owner"}),
    )
    .await
    .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER");
    let owner_member = member_row(&s, &org, &owner.id).await.unwrap();
    a.c.post(
        "/organization/update-member-role",
        json!({"memberId": owner_member.id, "role": "member"}),
    )
    .await
    .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER");
    owner
        .c
        .post(
            "/organization/update-member-role",
            json!({"memberId": owner_member.id, "role": "admin"}),
        )
        .await
        .assert_error(400, "YOU_CANNOT_LEAVE_THE_ORGANIZATION_WITHOUT_AN_OWNER");
    assert_eq!(role_of(&s, &org, &owner).await.as_deref(), Some("owner"));

    // remove-member: by email and by id; never the last owner.
    n.c.post("/organization/set-active", json!({"organizationId": org}))
        .await;
    n.c.post(
        "/organization/remove-member",
        json!({"memberIdOrEmail": mm["id"]}),
    )
    .await
    .assert_error(401, "YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_MEMBER");
    a.c.post(
        "/organization/remove-member",
        json!({"memberIdOrEmail": owner.email}),
    )
    .await
    .assert_error(400, "YOU_CANNOT_LEAVE_THE_ORGANIZATION_AS_THE_ONLY_OWNER");
    owner
        .c
        .post(
            "/organization/remove-member",
            json!({"memberIdOrEmail": owner_member.id}),
        )
        .await
        .assert_error(400, "YOU_CANNOT_LEAVE_THE_ORGANIZATION_AS_THE_ONLY_OWNER");
    a.c.post(
        "/organization/remove-member",
        json!({"memberIdOrEmail": "nobody@example.com"}),
    )
    .await
    .assert_error(400, "MEMBER_NOT_FOUND");
    stranger
        .c
        .post(
            "/organization/remove-member",
            json!({"memberIdOrEmail": mn["id"]}),
        )
        .await
        .assert_error(400, "NO_ACTIVE_ORGANIZATION");
    let r =
        a.c.post(
            "/organization/remove-member",
            json!({"memberIdOrEmail": n.email.to_uppercase()}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["member"]["id"], mn["id"]);
    assert_eq!(r.json()["member"]["userId"], n.id.as_str());
    assert!(member_row(&s, &org, &n.id).await.is_none());
    // The removed member's session no longer has the organization active.
    assert_eq!(active(&n.c).await.0, Value::Null);
    let r = owner
        .c
        .post(
            "/organization/remove-member",
            json!({"memberIdOrEmail": ma["id"]}),
        )
        .await;
    assert_eq!(r.json()["member"]["role"], "admin");
    assert!(member_row(&s, &org, &a.id).await.is_none());

    // leave: members may; the last owner may not, until there is another.
    let r =
        m.c.post("/organization/leave", json!({"organizationId": org}))
            .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["userId"], m.id.as_str());
    assert_eq!(r.json()["user"]["email"], m.email.as_str());
    assert!(member_row(&s, &org, &m.id).await.is_none());
    assert_eq!(active(&m.c).await.0, Value::Null);
    m.c.post("/organization/leave", json!({"organizationId": org}))
        .await
        .assert_error(400, "MEMBER_NOT_FOUND");
    owner
        .c
        .post("/organization/leave", json!({"organizationId": org}))
        .await
        .assert_error(400, "YOU_CANNOT_LEAVE_THE_ORGANIZATION_AS_THE_ONLY_OWNER");
    let heir = later(&s, &org, &stranger, "member").await;
    owner
        .c
        .post(
            "/organization/update-member-role",
            json!({"memberId": heir["id"], "role": "owner"}),
        )
        .await;
    let r = owner
        .c
        .post("/organization/leave", json!({"organizationId": org}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(role_of(&s, &org, &stranger).await.as_deref(), Some("owner"));
    assert_eq!(
        audit_actions(&s, &org).await,
        sorted(&[
            "organization.create",
            "organization.add-member",
            "organization.add-member",
            "organization.add-member",
            "organization.update-member-role",
            "organization.remove-member",
            "organization.remove-member",
            "organization.leave",
            "organization.add-member",
            "organization.update-member-role",
            "organization.leave",
        ])
    );
}

async fn organization_membership_limit_and_server_add(b: Backend) {
    let s = server(b, None, |o| o.membership_limit = 2).await;
    let owner = user(&s).await;
    let (a, c) = (user(&s).await, user(&s).await);
    let org = id(&create_org(&owner, "small").await);
    let api = s.gatehouse.api();
    let input = |u: &User, role: &str| AddMember {
        user_id: u.id.clone(),
        role: vec![role.to_string()],
        organization_id: org.clone(),
        team_id: None,
    };
    let code = |r: Result<_, gatehouse_server::error::ApiError>| r.err().unwrap().code.to_string();
    assert_eq!(
        code(api.organization().add_member(input(&a, "ghost")).await),
        "ROLE_NOT_FOUND"
    );
    assert_eq!(
        code(
            api.organization()
                .add_member(AddMember {
                    user_id: "no-such-user".into(),
                    ..input(&a, "member")
                })
                .await
        ),
        "USER_NOT_FOUND"
    );
    assert_eq!(
        code(
            api.organization()
                .add_member(AddMember {
                    organization_id: "no-such-org".into(),
                    ..input(&a, "member")
                })
                .await
        ),
        "ORGANIZATION_NOT_FOUND"
    );
    assert_eq!(
        code(
            api.organization()
                .add_member(AddMember {
                    team_id: Some("t".into()),
                    ..input(&a, "member")
                })
                .await
        ),
        "VALIDATION_ERROR"
    );
    let m = api
        .organization()
        .add_member(input(&a, "admin"))
        .await
        .unwrap();
    assert_eq!(
        (m.role.as_str(), m.user_id.as_str()),
        ("admin", a.id.as_str())
    );
    assert_eq!(
        code(api.organization().add_member(input(&a, "member")).await),
        "USER_IS_ALREADY_A_MEMBER_OF_THIS_ORGANIZATION"
    );
    assert_eq!(
        code(api.organization().add_member(input(&c, "member")).await),
        "ORGANIZATION_MEMBERSHIP_LIMIT_REACHED"
    );
    assert!(member_row(&s, &org, &c.id).await.is_none());
    // The server-side add is audited without an actor.
    let filter = gatehouse_server::plugin::audit::Filter {
        organization_id: Some(org.clone()),
        action: Some("organization.add-member".into()),
        ..Default::default()
    };
    let (rows, total) = gatehouse_server::plugin::audit::list(s.db(), &filter, 10, 0)
        .await
        .unwrap();
    assert_eq!(total, 1);
    assert_eq!(rows[0].actor_id, None);
    assert_eq!(rows[0].target_id, m.id);
}

async fn organization_no_escalation_in_the_organization(b: Backend) {
    let s = server(b, None, custom_roles).await;
    let owner = user(&s).await;
    let (mgr, target, adm) = (user(&s).await, user(&s).await, user(&s).await);
    let org = id(&create_org(&owner, "guarded").await);
    let m_mgr = later(&s, &org, &mgr, "manager").await;
    let m_target = later(&s, &org, &target, "member").await;
    let m_adm = later(&s, &org, &adm, "admin").await;
    for u in [&mgr, &adm] {
        u.c.post("/organization/set-active", json!({"organizationId": org}))
            .await;
    }

    // A manager (member:update, invitation:create) gives nothing beyond that.
    for role in [
        json!("superuser"),
        json!("admin"),
        json!(["manager", "builder"]),
    ] {
        set_role(&mgr, &m_target, role.clone())
            .await
            .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER");
    }
    set_role(&mgr, &m_mgr, json!("superuser"))
        .await
        .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER");
    // Nor touches a member who holds more than it does.
    set_role(&mgr, &m_adm, json!("member"))
        .await
        .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER");
    assert_eq!(role_of(&s, &org, &target).await.as_deref(), Some("member"));
    assert_eq!(role_of(&s, &org, &mgr).await.as_deref(), Some("manager"));
    assert_eq!(role_of(&s, &org, &adm).await.as_deref(), Some("admin"));
    // What it holds, it may give.
    let r = set_role(&mgr, &m_target, json!("manager")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(role_of(&s, &org, &target).await.as_deref(), Some("manager"));

    // Invitations grant nothing beyond their sender either.
    for role in ["admin", "superuser", "owner"] {
        invite_as(&mgr, role)
            .await
            .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_INVITE_USER_WITH_THIS_ROLE");
    }
    assert_eq!(invite_as(&mgr, "manager").await.status, 200);
    // An admin gives admin, never the creator role, nor roles it lacks.
    invite_as(&adm, "owner")
        .await
        .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_INVITE_USER_WITH_THIS_ROLE");
    invite_as(&adm, "builder")
        .await
        .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_INVITE_USER_WITH_THIS_ROLE");
    assert_eq!(invite_as(&adm, "admin").await.status, 200);
    set_role(&adm, &m_target, json!("owner"))
        .await
        .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER");
    set_role(&adm, &m_target, json!("builder"))
        .await
        .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER");
    set_role(&adm, &m_adm, json!("owner"))
        .await
        .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER");
    assert_eq!(role_of(&s, &org, &adm).await.as_deref(), Some("admin"));
    // The creator role's holder gives any role.
    let r = set_role(&owner, &m_target, json!(["builder", "manager"])).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        role_of(&s, &org, &target).await.as_deref(),
        Some("builder,manager")
    );
    // A manager may not remove a member holding more (the admin).
    mgr.c
        .post(
            "/organization/remove-member",
            json!({"memberIdOrEmail": m_adm["id"]}),
        )
        .await
        .assert_error(401, "YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_MEMBER");
    assert!(member_row(&s, &org, &adm.id).await.is_some());
}

async fn organization_has_permission(b: Backend) {
    let s = server(b, None, custom_roles).await;
    let owner = user(&s).await;
    let m = user(&s).await;
    let org = id(&create_org(&owner, "perm").await);
    later(&s, &org, &m, "manager, builder").await;
    m.c.post(
        "/organization/has-permission",
        json!({"permissions": {"member": ["update"]}}),
    )
    .await
    .assert_error(400, "NO_ACTIVE_ORGANIZATION");
    let with = |p: Value| json!({"organizationId": org, "permissions": p});
    assert!(check(&m, with(json!({"member": ["update"]}))).await);
    assert!(check(&m, with(json!({"project": ["create"]}))).await);
    assert!(
        check(
            &m,
            with(json!({"member": ["update"], "invitation": ["create"]}))
        )
        .await
    );
    // Any ONE role must grant the whole request.
    assert!(
        !check(
            &m,
            with(json!({"member": ["update"], "project": ["create"]}))
        )
        .await
    );
    assert!(!check(&m, with(json!({"member": ["delete"]}))).await);
    assert!(!check(&m, with(json!({"project": ["share"]}))).await);
    assert!(!check(&m, with(json!({"spaceship": ["fly"]}))).await);
    assert!(!check(&m, with(json!({}))).await);
    // The deprecated spelling.
    assert!(
        check(
            &m,
            json!({"organizationId": org, "permission": {"project": ["create"]}})
        )
        .await
    );
    m.c.post(
        "/organization/has-permission",
        json!({"organizationId": org, "permission": {}, "permissions": {}}),
    )
    .await
    .assert_error(400, "VALIDATION_ERROR");
    m.c.post(
        "/organization/has-permission",
        json!({"organizationId": org}),
    )
    .await
    .assert_error(400, "VALIDATION_ERROR");
    // The owner holds every default statement, not custom ones.
    let r = owner
        .c
        .post(
            "/organization/has-permission",
            json!({"permissions": {"organization": ["delete"], "ac": ["read"]}}),
        )
        .await
        .json();
    assert_eq!(r, json!({"error": null, "success": true}));
    let r = owner
        .c
        .post(
            "/organization/has-permission",
            json!({"permissions": {"project": ["create"]}}),
        )
        .await
        .json();
    assert_eq!(r["success"], false);
}
