//! Roles stored per organization (dynamic access control), and checking of
//! the configured statements and roles at start-up.

use gatehouse_server::config::Config;
use gatehouse_server::plugin::PluginRegistry;
use gatehouse_server::plugins::catalog;
use gatehouse_server::plugins::organization::store;
use gatehouse_tests::{on_both_backends, Backend, Response};
use serde_json::{json, Value};

use super::invitations::sign_up_as;
use super::members::custom_roles;
use super::{add, audit_actions, create_org, id, member_row, server, user, User};

on_both_backends!(
    organization_role_routes_are_off_by_default,
    organization_dynamic_roles,
);

async fn organization_role_routes_are_off_by_default(b: Backend) {
    let s = server(b, None, |_| {}).await;
    let owner = user(&s).await;
    create_org(&owner, "static").await;
    for (path, body) in [
        (
            "create-role",
            json!({"role": "x", "permission": {"member": ["update"]}}),
        ),
        ("update-role", json!({"roleName": "x", "data": {}})),
        ("delete-role", json!({"roleName": "x"})),
    ] {
        owner
            .c
            .post(&format!("/organization/{path}"), body)
            .await
            .assert_error(404, "NOT_FOUND");
    }
    for path in ["list-roles", "get-role?roleName=x"] {
        owner
            .c
            .get(&format!("/organization/{path}"))
            .await
            .assert_error(404, "NOT_FOUND");
    }
}

async fn post(u: &User, path: &str, body: Value) -> Response {
    u.c.post(&format!("/organization/{path}"), body).await
}

async fn ok(r: Response) -> Value {
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

async fn organization_dynamic_roles(b: Backend) {
    let s = server(b, None, |o| {
        custom_roles(o);
        o.dynamic_access_control = true;
        o.maximum_roles_per_organization = Some(2);
    })
    .await;
    let owner = user(&s).await;
    let (adm, m, outsider) = (user(&s).await, user(&s).await, user(&s).await);
    let org = id(&create_org(&owner, "dynamic").await);
    add(&s, &org, &adm, "admin").await;
    let mm = add(&s, &org, &m, "member").await;
    for u in [&adm, &m] {
        u.c.post("/organization/set-active", json!({"organizationId": org}))
            .await;
    }

    // Creating: the owner (creator role) may give anything declared.
    let r = ok(post(
        &owner,
        "create-role",
        json!({"role": "Reviewer", "permission": {"project": ["share"]}}),
    )
    .await)
    .await;
    assert_eq!(r["success"], true);
    assert_eq!(r["roleData"]["role"], "reviewer");
    assert_eq!(r["roleData"]["organizationId"], org.as_str());
    assert_eq!(r["roleData"]["permission"], json!({"project": ["share"]}));
    assert_eq!(r["statements"], json!({"project": ["share"]}));
    let reviewer = r["roleData"].clone();
    let row = store::find_role(s.db(), &org, Some("reviewer"), None)
        .await
        .unwrap()
        .unwrap();
    let stored: Value = serde_json::from_str(&row.permission).unwrap();
    assert_eq!(stored, json!({"project": ["share"]}));

    s.clock.advance(chrono::Duration::seconds(1));
    // No escalation: an admin creates only roles within what it holds.
    post(
        &adm,
        "create-role",
        json!({"role": "boss", "permission": {"organization": ["delete"]}}),
    )
    .await
    .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_CREATE_A_ROLE");
    post(
        &adm,
        "create-role",
        json!({"role": "boss", "permission": {"project": ["share"]}}),
    )
    .await
    .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_CREATE_A_ROLE");
    let support = ok(post(
        &adm,
        "create-role",
        json!({"role": "support", "permission": {"member": ["update"]}}),
    )
    .await)
    .await["roleData"]
        .clone();
    post(
        &m,
        "create-role",
        json!({"role": "mine", "permission": {"ac": ["read"]}}),
    )
    .await
    .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_CREATE_A_ROLE");
    for (name, code) in [
        ("support", "TOO_MANY_ROLES"),
        ("admin", "ROLE_NAME_IS_ALREADY_TAKEN"),
        ("Manager", "ROLE_NAME_IS_ALREADY_TAKEN"),
    ] {
        post(
            &owner,
            "create-role",
            json!({"role": name, "permission": {"member": ["update"]}}),
        )
        .await
        .assert_error(400, code);
    }
    outsider
        .c
        .post(
            "/organization/create-role",
            json!({"role": "x", "permission": {"member": ["update"]}}),
        )
        .await
        .assert_error(400, "YOU_MUST_BE_IN_AN_ORGANIZATION_TO_CREATE_A_ROLE");
    outsider
        .c
        .post(
            "/organization/create-role",
            json!({"role": "x", "permission": {"member": ["update"]}, "organizationId": org}),
        )
        .await
        .assert_error(403, "YOU_ARE_NOT_A_MEMBER_OF_THIS_ORGANIZATION");

    // Reading (`ac:read`: every default role).
    let list = m.c.get("/organization/list-roles").await.json();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["role"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["reviewer", "support"]);
    assert_eq!(list[1]["permission"], json!({"member": ["update"]}));
    let got =
        m.c.get("/organization/get-role?roleName=support")
            .await
            .json();
    assert_eq!(got["id"], support["id"]);
    let got =
        m.c.get(&format!("/organization/get-role?roleId={}", id(&reviewer)))
            .await
            .json();
    assert_eq!(got["role"], "reviewer");
    for q in ["roleName=ghost", "roleId=ghost", ""] {
        m.c.get(&format!("/organization/get-role?{q}"))
            .await
            .assert_error(400, "ROLE_NOT_FOUND");
    }
    outsider
        .c
        .get(&format!("/organization/list-roles?organizationId={org}"))
        .await
        .assert_error(403, "YOU_ARE_NOT_A_MEMBER_OF_THIS_ORGANIZATION");
    outsider
        .c
        .get("/organization/list-roles")
        .await
        .assert_error(400, "NO_ACTIVE_ORGANIZATION");

    // A stored role is a role: assignable, and it grants.
    let r = ok(owner
        .c
        .post(
            "/organization/update-member-role",
            json!({"memberId": mm["id"], "role": ["member", "support"]}),
        )
        .await)
    .await;
    assert_eq!(r["role"], "member,support");
    assert!(can(&m, json!({"member": ["update"]})).await);
    assert!(!can(&m, json!({"member": ["delete"]})).await);
    let inv = owner
        .c
        .post(
            "/organization/invite-member",
            json!({"email": gatehouse_tests::email(), "role": "support"}),
        )
        .await;
    assert_eq!(inv.status, 200, "{}", inv.text);

    // Updating: within what the updater holds.
    post(
        &m,
        "update-role",
        json!({"roleName": "support", "data": {"permission": {"member": ["update", "delete"]}}}),
    )
    .await
    .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_UPDATE_A_ROLE");
    post(
        &adm,
        "update-role",
        json!({"roleName": "support", "data": {"permission": {"organization": ["delete"]}}}),
    )
    .await
    .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_UPDATE_A_ROLE");
    post(
        &adm,
        "update-role",
        json!({"roleName": "support", "data": {"permission": {"spaceship": ["fly"]}}}),
    )
    .await
    .assert_error(400, "INVALID_RESOURCE");
    let r = ok(post(
        &adm,
        "update-role",
        json!({"roleName": "support", "data": {"permission": {"member": ["update", "delete"]}}}),
    )
    .await)
    .await;
    assert_eq!(r["success"], true);
    assert_eq!(
        r["roleData"]["permission"],
        json!({"member": ["update", "delete"]})
    );
    assert!(r["roleData"]["updatedAt"].is_string());
    assert!(can(&m, json!({"member": ["delete"]})).await);
    post(
        &owner,
        "update-role",
        json!({"roleId": id(&reviewer), "data": {"roleName": "owner"}}),
    )
    .await
    .assert_error(400, "ROLE_NAME_IS_ALREADY_TAKEN");
    post(
        &owner,
        "update-role",
        json!({"roleName": "support", "data": {"roleName": "helpdesk"}}),
    )
    .await
    .assert_error(400, "ROLE_IS_ASSIGNED_TO_MEMBERS");
    let r = ok(post(
        &owner,
        "update-role",
        json!({"roleId": id(&reviewer), "data": {"roleName": "Critic"}}),
    )
    .await)
    .await;
    assert_eq!(r["roleData"]["role"], "critic");
    post(
        &owner,
        "update-role",
        json!({"roleName": "ghost", "data": {}}),
    )
    .await
    .assert_error(400, "ROLE_NOT_FOUND");

    // Deleting: not predefined ones, not assigned ones.
    post(&owner, "delete-role", json!({"roleName": "owner"}))
        .await
        .assert_error(400, "CANNOT_DELETE_A_PRE_DEFINED_ROLE");
    post(&owner, "delete-role", json!({"roleName": "manager"}))
        .await
        .assert_error(400, "CANNOT_DELETE_A_PRE_DEFINED_ROLE");
    post(&owner, "delete-role", json!({"roleName": "support"}))
        .await
        .assert_error(400, "ROLE_IS_ASSIGNED_TO_MEMBERS");
    post(&owner, "delete-role", json!({"roleName": "ghost"}))
        .await
        .assert_error(400, "ROLE_NOT_FOUND");
    post(&owner, "delete-role", json!({}))
        .await
        .assert_error(400, "ROLE_NOT_FOUND");
    post(&m, "delete-role", json!({"roleName": "critic"}))
        .await
        .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_DELETE_A_ROLE");
    let r = ok(post(&owner, "delete-role", json!({"roleId": id(&reviewer)})).await).await;
    assert_eq!(r, json!({"success": true}));
    assert!(store::find_role(s.db(), &org, Some("critic"), None)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        member_row(&s, &org, &m.id).await.unwrap().role,
        "member,support"
    );

    // An invitation to a stored role deleted since cannot be accepted.
    ok(post(
        &owner,
        "create-role",
        json!({"role": "temp", "permission": {"ac": ["read"]}}),
    )
    .await)
    .await;
    let addr = gatehouse_tests::email();
    let inv = ok(owner
        .c
        .post(
            "/organization/invite-member",
            json!({"email": addr, "role": "temp"}),
        )
        .await)
    .await;
    ok(post(&owner, "delete-role", json!({"roleName": "temp"})).await).await;
    let invitee = sign_up_as(&s, &addr).await;
    invitee
        .c
        .post(
            "/organization/accept-invitation",
            json!({"invitationId": id(&inv)}),
        )
        .await
        .assert_error(400, "ROLE_NOT_FOUND");
    assert!(member_row(&s, &org, &invitee.id).await.is_none());

    // Stored roles belong to their organization only.
    let other = id(&create_org(&outsider, "elsewhere").await);
    let stranger_member = add(&s, &other, &adm, "member").await;
    outsider
        .c
        .post(
            "/organization/update-member-role",
            json!({"memberId": stranger_member["id"], "role": "support"}),
        )
        .await
        .assert_error(400, "ROLE_NOT_FOUND");
    assert_eq!(
        outsider.c.get("/organization/list-roles").await.json(),
        json!([])
    );

    let actions = audit_actions(&s, &org).await;
    for (action, n) in [
        ("organization.create-role", 3),
        ("organization.update-role", 2),
        ("organization.delete-role", 2),
    ] {
        assert_eq!(
            actions.iter().filter(|a| *a == action).count(),
            n,
            "{action}: {actions:?}"
        );
    }
}

async fn can(u: &User, p: Value) -> bool {
    u.c.post("/organization/has-permission", json!({"permissions": p}))
        .await
        .json()["success"]
        .as_bool()
        .unwrap()
}

fn configure(toml: &str) -> Result<(), String> {
    let mut c = Config::from_toml(toml, &catalog())?;
    c.plugins = vec!["organization".into()];
    PluginRegistry::configure(&catalog(), &c)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[test]
fn organization_configured_roles_are_checked_at_start() {
    configure(
        "[organization.statements]\nproject = [\"create\"]\n[organization.roles.pm]\nproject = [\"create\"]\nmember = [\"update\"]\n",
    )
    .expect("valid custom statements and roles");
    let err = configure("[organization.roles.pm]\nproject = [\"create\"]\n").unwrap_err();
    assert!(
        err.contains("[organization]") && err.contains("\"pm\"") && err.contains("project"),
        "{err}"
    );
    let err = configure("[organization.roles.pm]\nmember = [\"fly\"]\n").unwrap_err();
    assert!(err.contains("\"fly\""), "{err}");
    let err = configure("[organization]\ncreator_role = \"boss\"\n").unwrap_err();
    assert!(
        err.contains("creator_role") && err.contains("owner"),
        "{err}"
    );
    let err = configure("[organization]\ntems = true\n").unwrap_err();
    assert!(err.contains("tems") && err.contains("teams"), "{err}");
    let err = configure("[organization]\ninvitation_url = \"https://x/join\"\n").unwrap_err();
    assert!(err.contains("invitation_url"), "{err}");
}
