//! The organization plugin over HTTP: organizations (here), members,
//! invitations (mailed over SMTP), teams and roles (the `organization_*`
//! files), each on SQLite and PostgreSQL, with the database state checked
//! through the plugin's own store.

#[path = "organization_invitations.rs"]
mod invitations;
#[path = "organization_members.rs"]
mod members;
#[path = "organization_roles.rs"]
mod roles;
#[path = "organization_teams.rs"]
mod teams;

use std::sync::Arc;

use gatehouse_server::plugin::audit;
use gatehouse_server::plugins::organization::server_api::AddMember;
use gatehouse_server::plugins::organization::settings::OrganizationSettings;
use gatehouse_server::plugins::organization::store;
use gatehouse_server::Config;
use gatehouse_tests::smtp::SmtpSink;
use gatehouse_tests::{on_both_backends, Backend, Client, TestServer};
use serde_json::{json, Value};

on_both_backends!(
    organization_lifecycle,
    organization_settings_limits,
    organization_parallel_creates_with_one_slug,
    organization_non_member_reads_clear_the_active_organization,
    organization_admin_of_one_cannot_act_on_another,
);

/// A server with the organization plugin (settings changed by `tune`) and
/// mail to `sink`.
pub async fn server(
    b: Backend,
    sink: Option<&SmtpSink>,
    tune: impl FnOnce(&mut OrganizationSettings) + Send + 'static,
) -> TestServer {
    let url = sink.map(SmtpSink::url);
    TestServer::start_with(b, move |c: &mut Config| {
        c.mail.smtp_url = url;
        c.plugins.push("organization".into());
        let mut settings = OrganizationSettings::default();
        tune(&mut settings);
        c.set_plugin_settings("organization", &settings);
    })
    .await
}

/// A signed-up user: its client, address and id.
pub struct User {
    pub c: Client,
    pub email: String,
    pub id: String,
}

pub async fn user(s: &TestServer) -> User {
    let c = s.client();
    let (email, body) = c.sign_up().await;
    User {
        c,
        email,
        id: body["user"]["id"].as_str().unwrap().to_string(),
    }
}

/// Creates an organization as `u`; returns its JSON.
pub async fn create_org(u: &User, slug: &str) -> Value {
    let r =
        u.c.post(
            "/organization/create",
            json!({"name": format!("Org {slug}"), "slug": slug}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

pub fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

/// Adds `u` to `org` with `role` through the server-side call.
pub async fn add(s: &TestServer, org: &str, u: &User, role: &str) -> Value {
    let m = s
        .gatehouse
        .api()
        .organization()
        .add_member(AddMember {
            user_id: u.id.clone(),
            role: vec![role.to_string()],
            organization_id: org.to_string(),
            team_id: None,
        })
        .await
        .unwrap_or_else(|e| panic!("add_member: {e}"));
    json!({"id": m.id, "role": m.role, "userId": m.user_id})
}

/// The session's active organization and team, as get-session shows them.
pub async fn active(c: &Client) -> (Value, Value) {
    let s = c.get("/get-session").await.json();
    (
        s["session"]["activeOrganizationId"].clone(),
        s["session"]["activeTeamId"].clone(),
    )
}

/// The audit actions recorded for an organization, sorted (the manual
/// clock gives many the same time).
pub async fn audit_actions(s: &TestServer, org: &str) -> Vec<String> {
    let filter = audit::Filter {
        organization_id: Some(org.to_string()),
        ..Default::default()
    };
    let (rows, _) = audit::list(s.db(), &filter, 1000, 0).await.unwrap();
    let mut out: Vec<String> = rows.iter().map(|r| r.action.clone()).collect();
    out.sort();
    out
}

/// `actions`, sorted, to compare with [`audit_actions`].
pub fn sorted(actions: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = actions.iter().map(|a| a.to_string()).collect();
    out.sort();
    out
}

/// The database member row of `user` in `org`, if any.
pub async fn member_row(s: &TestServer, org: &str, user: &str) -> Option<store::MemberRow> {
    store::find_member(s.db(), org, user).await.unwrap()
}

async fn organization_lifecycle(b: Backend) {
    let s = server(b, None, |_| {}).await;
    let owner = user(&s).await;

    // Signed out: 401.
    s.client()
        .post("/organization/create", json!({"name": "X", "slug": "x"}))
        .await
        .assert_error(401, "UNAUTHORIZED");
    // Nothing active yet: get-organization answers null.
    assert_eq!(
        owner.c.get("/organization/get-organization").await.text,
        "null"
    );

    let r = owner
        .c
        .post(
            "/organization/create",
            json!({"name": "Acme", "slug": "acme", "logo": "https://x/l.png", "metadata": {"plan": "pro", "seats": 3}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let org = r.json();
    let org_id = id(&org);
    assert_eq!(org["name"], "Acme");
    assert_eq!(org["slug"], "acme");
    assert_eq!(org["logo"], "https://x/l.png");
    assert_eq!(org["metadata"], json!({"plan": "pro", "seats": 3}));
    assert!(org["createdAt"].as_str().unwrap().ends_with('Z'));
    let members = org["members"].as_array().unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0]["userId"], owner.id.as_str());
    assert_eq!(members[0]["role"], "owner");
    assert_eq!(members[0]["organizationId"], org_id.as_str());
    // The creator's session now has it active (teams off: no active team).
    assert_eq!(active(&owner.c).await, (json!(org_id), Value::Null));
    // Stored: metadata as JSON text, the creator as owner.
    let row = store::find_org(s.db(), &org_id).await.unwrap().unwrap();
    let stored: Value = serde_json::from_str(row.metadata.as_deref().unwrap()).unwrap();
    assert_eq!(stored, json!({"plan": "pro", "seats": 3}));
    assert_eq!(
        member_row(&s, &org_id, &owner.id).await.unwrap().role,
        "owner"
    );

    // Slugs are unique.
    owner
        .c
        .post("/organization/check-slug", json!({"slug": "acme"}))
        .await
        .assert_error(400, "ORGANIZATION_SLUG_ALREADY_TAKEN");
    let r = owner
        .c
        .post("/organization/check-slug", json!({"slug": "free-slug"}))
        .await;
    assert_eq!(r.json(), json!({"status": true}));
    s.client()
        .post("/organization/check-slug", json!({"slug": "free-slug"}))
        .await
        .assert_error(401, "UNAUTHORIZED");
    owner
        .c
        .post(
            "/organization/create",
            json!({"name": "Again", "slug": "acme"}),
        )
        .await
        .assert_error(400, "ORGANIZATION_ALREADY_EXISTS");
    owner
        .c
        .post("/organization/create", json!({"name": "", "slug": "empty"}))
        .await
        .assert_error(400, "VALIDATION_ERROR");

    // A second one, keeping the first active.
    s.clock.advance(chrono::Duration::seconds(1));
    let r = owner
        .c
        .post(
            "/organization/create",
            json!({"name": "Beta", "slug": "beta", "keepCurrentActiveOrganization": true}),
        )
        .await;
    let beta = r.json();
    assert_eq!(beta["metadata"], Value::Null);
    assert_eq!(active(&owner.c).await.0, json!(org_id));

    // Reading: active by default, by id, by slug.
    let got = owner.c.get("/organization/get-organization").await.json();
    assert_eq!(got["id"], org_id.as_str());
    assert_eq!(got["metadata"], json!({"plan": "pro", "seats": 3}));
    assert!(got.get("members").is_none());
    let by_id = owner
        .c
        .get(&format!(
            "/organization/get-organization?organizationId={}",
            id(&beta)
        ))
        .await
        .json();
    assert_eq!(by_id["slug"], "beta");
    let by_slug = owner
        .c
        .get("/organization/get-organization?organizationSlug=beta")
        .await
        .json();
    assert_eq!(by_slug["id"], beta["id"]);
    owner
        .c
        .get("/organization/get-organization?organizationSlug=nope")
        .await
        .assert_error(400, "ORGANIZATION_NOT_FOUND");
    let list = owner.c.get("/organization/list").await.json();
    let slugs: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["acme", "beta"]);

    // Update: name, slug, logo cleared, metadata replaced.
    let r = owner
        .c
        .post(
            "/organization/update",
            json!({"data": {"name": "Acme Inc", "slug": "acme-inc", "logo": null, "metadata": {"plan": "team"}}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let updated = r.json();
    assert_eq!(updated["name"], "Acme Inc");
    assert_eq!(updated["slug"], "acme-inc");
    assert_eq!(updated["logo"], Value::Null);
    assert_eq!(updated["metadata"], json!({"plan": "team"}));
    let row = store::find_org(s.db(), &org_id).await.unwrap().unwrap();
    assert_eq!((row.slug.as_str(), row.logo), ("acme-inc", None));
    owner
        .c
        .post(
            "/organization/update",
            json!({"data": {"slug": "beta"}, "organizationId": org_id}),
        )
        .await
        .assert_error(400, "ORGANIZATION_SLUG_ALREADY_TAKEN");

    // The full organization: members with their users, invitations, no teams.
    let invited = gatehouse_tests::email();
    owner
        .c
        .post(
            "/organization/invite-member",
            json!({"email": invited, "role": "member"}),
        )
        .await;
    let full = owner
        .c
        .get("/organization/get-full-organization")
        .await
        .json();
    assert_eq!(full["id"], org_id.as_str());
    assert_eq!(full["members"][0]["user"]["email"], owner.email.as_str());
    assert_eq!(full["members"][0]["user"]["name"], "Test User");
    assert!(full["members"][0]["user"].get("emailVerified").is_none());
    assert_eq!(full["invitations"][0]["email"], invited.as_str());
    assert!(full.get("teams").is_none(), "{full}");
    let second = user(&s).await;
    add(&s, &org_id, &second, "member").await;
    let limited = owner
        .c
        .get("/organization/get-full-organization?membersLimit=1")
        .await
        .json();
    assert_eq!(limited["members"].as_array().unwrap().len(), 1);
    // A plain member does not see invitation ids (they are invitation links).
    let seen = second
        .c
        .get(&format!(
            "/organization/get-full-organization?organizationId={org_id}"
        ))
        .await
        .json();
    assert_eq!(seen["members"].as_array().unwrap().len(), 2);
    assert_eq!(seen["invitations"], json!([]));

    // Set-active: by slug, by id, absent (the current one), null clears.
    let r = owner
        .c
        .post(
            "/organization/set-active",
            json!({"organizationSlug": "beta"}),
        )
        .await;
    assert_eq!(r.json()["id"], beta["id"]);
    // The session cookie is sent again, as Better Auth does (same session).
    assert!(
        r.set_cookie("better-auth.session_token").is_some(),
        "{:?}",
        r.set_cookies()
    );
    assert_eq!(active(&owner.c).await.0, beta["id"]);
    let r = owner.c.post("/organization/set-active", json!({})).await;
    assert_eq!(r.json()["id"], beta["id"]);
    let r = owner
        .c
        .post(
            "/organization/set-active",
            json!({"organizationId": org_id}),
        )
        .await;
    assert_eq!(r.json()["slug"], "acme-inc");
    let r = owner
        .c
        .post("/organization/set-active", json!({"organizationId": null}))
        .await;
    assert_eq!(r.text, "null");
    assert!(r.set_cookie("better-auth.session_token").is_some());
    assert_eq!(active(&owner.c).await.0, Value::Null);
    let r = owner
        .c
        .post(
            "/organization/set-active",
            json!({"organizationSlug": "nope"}),
        )
        .await;
    r.assert_error(400, "ORGANIZATION_NOT_FOUND");
    assert!(r.set_cookie("better-auth.session_token").is_none());
    owner
        .c
        .post(
            "/organization/update",
            json!({"data": {"name": "No active"}}),
        )
        .await
        .assert_error(400, "ORGANIZATION_NOT_FOUND");

    // Delete: members may not; the owner may; everything goes.
    owner
        .c
        .post(
            "/organization/set-active",
            json!({"organizationId": org_id}),
        )
        .await;
    second
        .c
        .post(
            "/organization/set-active",
            json!({"organizationId": org_id}),
        )
        .await;
    second
        .c
        .post("/organization/delete", json!({"organizationId": org_id}))
        .await
        .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_ORGANIZATION");
    second
        .c
        .post("/organization/update", json!({"data": {"name": "Mine"}}))
        .await
        .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_ORGANIZATION");
    let r = owner
        .c
        .post("/organization/delete", json!({"organizationId": org_id}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["slug"], "acme-inc");
    assert!(store::find_org(s.db(), &org_id).await.unwrap().is_none());
    assert!(member_row(&s, &org_id, &owner.id).await.is_none());
    assert!(store::list_invitations(s.db(), &org_id)
        .await
        .unwrap()
        .is_empty());
    // Every session that had it active no longer does.
    assert_eq!(active(&owner.c).await.0, Value::Null);
    assert_eq!(active(&second.c).await.0, Value::Null);
    owner
        .c
        .post("/organization/delete", json!({"organizationId": org_id}))
        .await
        .assert_error(400, "USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION");

    // Every write is in the audit trail.
    assert_eq!(
        audit_actions(&s, &org_id).await,
        sorted(&[
            "organization.create",
            "organization.update",
            "organization.invite-member",
            "organization.add-member",
            "organization.delete"
        ])
    );
    let (rows, _) = audit::list(
        s.db(),
        &audit::Filter {
            organization_id: Some(org_id.clone()),
            action: Some("organization.delete".into()),
            ..Default::default()
        },
        10,
        0,
    )
    .await
    .unwrap();
    assert_eq!(rows[0].actor_id.as_deref(), Some(owner.id.as_str()));
    assert_eq!(rows[0].target_id, org_id);
    assert_eq!(rows[0].ip_address.as_deref(), Some("127.0.0.1"));
}

async fn organization_settings_limits(b: Backend) {
    let s = server(b.clone(), None, |o| {
        o.allow_user_to_create_organization = false;
    })
    .await;
    let u = user(&s).await;
    u.c.post("/organization/create", json!({"name": "A", "slug": "a"}))
        .await
        .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_CREATE_A_NEW_ORGANIZATION");
    drop(s);

    let s = server(b, None, |o| {
        o.organization_limit = Some(1);
        o.disable_organization_deletion = true;
    })
    .await;
    let u = user(&s).await;
    let org = create_org(&u, "one").await;
    u.c.post("/organization/create", json!({"name": "B", "slug": "two"}))
        .await
        .assert_error(403, "YOU_HAVE_REACHED_THE_MAXIMUM_NUMBER_OF_ORGANIZATIONS");
    assert!(store::find_org_by_slug(s.db(), "two")
        .await
        .unwrap()
        .is_none());
    u.c.post("/organization/delete", json!({"organizationId": id(&org)}))
        .await
        .assert_error(404, "ORGANIZATION_DELETION_DISABLED");
    assert!(store::find_org(s.db(), &id(&org)).await.unwrap().is_some());
}

async fn organization_parallel_creates_with_one_slug(b: Backend) {
    let s = server(b, None, |_| {}).await;
    let u = user(&s).await;
    let c = Arc::new(u.c);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            c.post(
                "/organization/create",
                json!({"name": format!("Racer {i}"), "slug": "contested"}),
            )
            .await
        }));
    }
    let mut won = Vec::new();
    for t in tasks {
        let r = t.await.unwrap();
        match r.status {
            200 => won.push(r.json()),
            _ => r.assert_error(400, "ORGANIZATION_ALREADY_EXISTS"),
        }
    }
    assert_eq!(won.len(), 1, "exactly one create wins");
    let org = store::find_org_by_slug(s.db(), "contested")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(org.id, id(&won[0]));
    // One organization, one membership: no half-created losers.
    assert_eq!(
        store::list_orgs_of_user(s.db(), &u.id).await.unwrap().len(),
        1
    );
    assert_eq!(store::count_members(s.db(), &org.id).await.unwrap(), 1);
}

async fn organization_non_member_reads_clear_the_active_organization(b: Backend) {
    let s = server(b, None, |_| {}).await;
    let a = user(&s).await;
    let outsider = user(&s).await;
    let org_a = id(&create_org(&a, "alpha").await);
    let org_b = id(&create_org(&outsider, "bravo").await);
    assert_eq!(active(&outsider.c).await.0, json!(org_b));

    for path in [
        format!("/organization/get-organization?organizationId={org_a}"),
        format!("/organization/get-full-organization?organizationId={org_a}"),
        "/organization/get-full-organization?organizationSlug=alpha".to_string(),
    ] {
        outsider
            .c
            .post("/organization/set-active", json!({"organizationId": org_b}))
            .await;
        assert_eq!(active(&outsider.c).await.0, json!(org_b));
        outsider
            .c
            .get(&path)
            .await
            .assert_error(403, "USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION");
        // Better Auth's answer: the reader's active organization is cleared.
        assert_eq!(active(&outsider.c).await.0, Value::Null, "{path}");
    }
    outsider
        .c
        .post("/organization/set-active", json!({"organizationId": org_b}))
        .await;
    outsider
        .c
        .post("/organization/set-active", json!({"organizationId": org_a}))
        .await
        .assert_error(403, "USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION");
    assert_eq!(active(&outsider.c).await.0, Value::Null);
    outsider
        .c
        .get(&format!(
            "/organization/list-members?organizationId={org_a}"
        ))
        .await
        .assert_error(403, "YOU_ARE_NOT_A_MEMBER_OF_THIS_ORGANIZATION");
    outsider
        .c
        .get(&format!(
            "/organization/get-active-member-role?organizationId={org_a}"
        ))
        .await
        .assert_error(403, "YOU_ARE_NOT_A_MEMBER_OF_THIS_ORGANIZATION");
    outsider
        .c
        .get(&format!(
            "/organization/list-invitations?organizationId={org_a}"
        ))
        .await
        .assert_error(403, "YOU_ARE_NOT_A_MEMBER_OF_THIS_ORGANIZATION");
    outsider
        .c
        .post(
            "/organization/has-permission",
            json!({"organizationId": org_a, "permissions": {"member": ["create"]}}),
        )
        .await
        .assert_error(401, "USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION");
    // The outsider is not a member of A in the database either.
    assert!(member_row(&s, &org_a, &outsider.id).await.is_none());
}

async fn organization_admin_of_one_cannot_act_on_another(b: Backend) {
    let s = server(b, None, |_| {}).await;
    let owner_a = user(&s).await;
    let admin_a = user(&s).await;
    let owner_b = user(&s).await;
    let member_b = user(&s).await;
    let org_a = id(&create_org(&owner_a, "org-a").await);
    let org_b = id(&create_org(&owner_b, "org-b").await);
    add(&s, &org_a, &admin_a, "admin").await;
    let mb = add(&s, &org_b, &member_b, "member").await;
    let inv_b = owner_b
        .c
        .post(
            "/organization/invite-member",
            json!({"email": gatehouse_tests::email(), "role": "member"}),
        )
        .await
        .json();
    admin_a
        .c
        .post("/organization/set-active", json!({"organizationId": org_a}))
        .await;
    let c = &admin_a.c;

    // Naming B directly: not a member of B.
    c.post(
        "/organization/update",
        json!({"organizationId": org_b, "data": {"name": "Taken"}}),
    )
    .await
    .assert_error(400, "USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION");
    c.post("/organization/delete", json!({"organizationId": org_b}))
        .await
        .assert_error(400, "USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION");
    c.post(
        "/organization/remove-member",
        json!({"organizationId": org_b, "memberIdOrEmail": id(&mb)}),
    )
    .await
    .assert_error(400, "MEMBER_NOT_FOUND");
    c.post(
        "/organization/invite-member",
        json!({"organizationId": org_b, "email": gatehouse_tests::email(), "role": "member"}),
    )
    .await
    .assert_error(400, "MEMBER_NOT_FOUND");
    c.post(
        "/organization/cancel-invitation",
        json!({"invitationId": id(&inv_b)}),
    )
    .await
    .assert_error(400, "MEMBER_NOT_FOUND");
    // Through A (where the admin may act), on B's member: refused.
    c.post(
        "/organization/remove-member",
        json!({"memberIdOrEmail": id(&mb)}),
    )
    .await
    .assert_error(400, "MEMBER_NOT_FOUND");
    c.post(
        "/organization/remove-member",
        json!({"memberIdOrEmail": member_b.email}),
    )
    .await
    .assert_error(400, "MEMBER_NOT_FOUND");
    c.post(
        "/organization/update-member-role",
        json!({"memberId": id(&mb), "role": "admin"}),
    )
    .await
    .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER");

    // B is untouched.
    let row = store::find_org(s.db(), &org_b).await.unwrap().unwrap();
    assert_eq!(row.name, "Org org-b");
    assert_eq!(
        member_row(&s, &org_b, &member_b.id).await.unwrap().role,
        "member"
    );
    let inv = store::find_invitation(s.db(), &id(&inv_b))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(inv.status, "pending");
    assert_eq!(store::count_members(s.db(), &org_b).await.unwrap(), 2);
}
