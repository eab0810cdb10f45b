//! The admin plugin over HTTP: the bootstrap account, every route and its
//! permission code, bans on every sign-in path, impersonation, roles created
//! at runtime, escalation guards and the audit trail.

use chrono::Duration;
use gatehouse_tests::{
    add_sections, email, on_both_backends, Backend, Client, TestServer, PASSWORD,
};
use serde_json::{json, Value};

on_both_backends!(
    bootstrap_admin_is_created_once,
    routes_need_a_session_an_admin_role_and_a_fresh_session,
    create_get_update_and_remove_users,
    list_users_searches_filters_sorts_and_pages,
    ban_revokes_sessions_and_refuses_every_sign_in,
    impersonation_is_bounded_and_reversible,
    roles_created_at_runtime_take_effect_at_once,
    sessions_passwords_and_permission_checks,
    audit_trail_records_privileged_writes,
    role_limits_and_the_email_permission,
);

const ADMIN_PASSWORD: &str = "admin-password-42";

fn admin_section(admin_email: &str, extra: &str) -> String {
    format!(
        "[admin]\nbootstrap_email = \"{admin_email}\"\nbootstrap_password = \"{ADMIN_PASSWORD}\"\n{extra}"
    )
}

/// A server with the admin plugin and a bootstrap admin; returns it with the admin's email.
async fn server_with(b: Backend, extra: &str) -> (TestServer, String) {
    let admin_email = email();
    let section = admin_section(&admin_email, extra);
    let s = TestServer::start_with(b, |c| {
        c.plugins.push("admin".into());
        add_sections(c, &section);
    })
    .await;
    (s, admin_email)
}

async fn server(b: Backend) -> (TestServer, String) {
    server_with(b, "").await
}

async fn sign_in(c: &Client, email: &str, password: &str) -> Value {
    let r = c
        .post(
            "/sign-in/email",
            json!({"email": email, "password": password}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

async fn admin_client(s: &TestServer, admin_email: &str) -> Client {
    let c = s.client();
    sign_in(&c, admin_email, ADMIN_PASSWORD).await;
    c
}

/// Signs up a user; returns (client, email, id).
async fn user(s: &TestServer) -> (Client, String, String) {
    let c = s.client();
    let (addr, body) = c.sign_up().await;
    let id = body["user"]["id"].as_str().unwrap().to_string();
    (c, addr, id)
}

async fn call(c: &Client, path: &str, body: &Option<Value>) -> gatehouse_tests::Response {
    match body {
        Some(b) => c.post(path, b.clone()).await,
        None => c.get(path).await,
    }
}

async fn has_permission(c: &Client, perms: Value) -> gatehouse_tests::Response {
    c.post("/admin/has-permission", json!({"permissions": perms}))
        .await
}

async fn session_user(c: &Client) -> Value {
    c.get("/get-session").await.json()["user"].clone()
}

async fn bootstrap_admin_is_created_once(b: Backend) {
    let (s, admin_email) = server(b.clone()).await;
    let admin = admin_client(&s, &admin_email).await;
    let me = session_user(&admin).await;
    assert_eq!(me["email"], admin_email);
    assert_eq!(me["role"], "admin");
    assert_eq!(me["emailVerified"], true);
    assert_eq!(me["banned"], false);
    // A user signing up gets the default role.
    let (u, _, _) = user(&s).await;
    assert_eq!(session_user(&u).await["role"], "user");

    // A second start on the same database, with another password, leaves it alone.
    let url = s.gatehouse.state().config.database_url.clone();
    let section = format!(
        "[admin]\nbootstrap_email = \"{admin_email}\"\nbootstrap_password = \"another-password-9\"\n"
    );
    let again = TestServer::start_with(b, |c| {
        c.plugins.push("admin".into());
        add_sections(c, &section);
        c.database_url = url;
    })
    .await;
    let c = again.client();
    sign_in(&c, &admin_email, ADMIN_PASSWORD).await;
    c.post(
        "/sign-in/email",
        json!({"email": admin_email, "password": "another-password-9"}),
    )
    .await
    .assert_error(401, "INVALID_EMAIL_OR_PASSWORD");
    let r = c
        .get(&format!(
            "/admin/list-users?filterField=email&filterValue={admin_email}"
        ))
        .await;
    assert_eq!(r.json()["total"], 1, "{}", r.text);
}

async fn routes_need_a_session_an_admin_role_and_a_fresh_session(b: Backend) {
    let (s, admin_email) = server(b).await;
    let (u, _, uid) = user(&s).await;
    let anon = s.client();
    let body = json!({"userId": uid});
    let cases: Vec<(&str, Option<Value>, &str)> = vec![
        (
            "/admin/create-user",
            Some(json!({"email": email(), "name": "N", "password": PASSWORD})),
            "YOU_ARE_NOT_ALLOWED_TO_CREATE_USERS",
        ),
        (
            "/admin/get-user?id=x",
            None,
            "YOU_ARE_NOT_ALLOWED_TO_GET_USER",
        ),
        (
            "/admin/update-user",
            Some(json!({"userId": uid, "data": {"name": "x"}})),
            "YOU_ARE_NOT_ALLOWED_TO_UPDATE_USERS",
        ),
        (
            "/admin/list-users",
            None,
            "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS",
        ),
        (
            "/admin/list-user-sessions",
            Some(body.clone()),
            "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS_SESSIONS",
        ),
        (
            "/admin/set-role",
            Some(json!({"userId": uid, "role": "admin"})),
            "YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE",
        ),
        (
            "/admin/ban-user",
            Some(body.clone()),
            "YOU_ARE_NOT_ALLOWED_TO_BAN_USERS",
        ),
        (
            "/admin/unban-user",
            Some(body.clone()),
            "YOU_ARE_NOT_ALLOWED_TO_BAN_USERS",
        ),
        (
            "/admin/impersonate-user",
            Some(body.clone()),
            "YOU_ARE_NOT_ALLOWED_TO_IMPERSONATE_USERS",
        ),
        (
            "/admin/revoke-user-session",
            Some(json!({"sessionToken": "x"})),
            "YOU_ARE_NOT_ALLOWED_TO_REVOKE_USERS_SESSIONS",
        ),
        (
            "/admin/revoke-user-sessions",
            Some(body.clone()),
            "YOU_ARE_NOT_ALLOWED_TO_REVOKE_USERS_SESSIONS",
        ),
        (
            "/admin/remove-user",
            Some(body.clone()),
            "YOU_ARE_NOT_ALLOWED_TO_DELETE_USERS",
        ),
        (
            "/admin/set-user-password",
            Some(json!({"userId": uid, "newPassword": "new-password-1"})),
            "YOU_ARE_NOT_ALLOWED_TO_SET_USERS_PASSWORD",
        ),
        (
            "/admin/create-role",
            Some(json!({"role": "r", "permission": {"user": ["get"]}})),
            "YOU_ARE_NOT_ALLOWED_TO_CREATE_ROLES",
        ),
        (
            "/admin/update-role",
            Some(json!({"role": "r", "permission": {"user": ["get"]}})),
            "YOU_ARE_NOT_ALLOWED_TO_UPDATE_ROLES",
        ),
        (
            "/admin/delete-role",
            Some(json!({"role": "r"})),
            "YOU_ARE_NOT_ALLOWED_TO_DELETE_ROLES",
        ),
        (
            "/admin/list-roles",
            None,
            "YOU_ARE_NOT_ALLOWED_TO_READ_ROLES",
        ),
        (
            "/admin/get-role?role=admin",
            None,
            "YOU_ARE_NOT_ALLOWED_TO_READ_ROLES",
        ),
        (
            "/admin/list-audit-logs",
            None,
            "YOU_ARE_NOT_ALLOWED_TO_LIST_AUDIT_LOGS",
        ),
    ];
    for (path, body, code) in &cases {
        call(&anon, path, body)
            .await
            .assert_error(401, "UNAUTHORIZED");
        call(&u, path, body).await.assert_error(403, code);
    }
    // Nothing changed for the user.
    let me = session_user(&u).await;
    assert_eq!(me["role"], "user");
    assert_eq!(me["name"], "Test User");

    // An admin whose session is older than `fresh_age` must sign in again.
    let admin = admin_client(&s, &admin_email).await;
    assert_eq!(admin.get("/admin/list-users").await.status, 200);
    s.clock.advance(Duration::seconds(
        s.gatehouse.state().config.session.fresh_age + 1,
    ));
    admin
        .get("/admin/list-users")
        .await
        .assert_error(403, "SESSION_NOT_FRESH");
}

async fn create_get_update_and_remove_users(b: Backend) {
    let (s, admin_email) = server(b).await;
    let admin = admin_client(&s, &admin_email).await;
    let addr = email();
    let r = admin
        .post(
            "/admin/create-user",
            json!({"email": addr.to_uppercase(), "name": "Made", "password": PASSWORD, "role": ["user"], "data": {"emailVerified": true}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let made = r.json()["user"].clone();
    let id = made["id"].as_str().unwrap().to_string();
    assert_eq!(made["email"], addr);
    assert_eq!(made["role"], "user");
    assert_eq!(made["emailVerified"], true);
    // The created user signs in with the password given.
    let c = s.client();
    sign_in(&c, &addr, PASSWORD).await;

    admin
        .post(
            "/admin/create-user",
            json!({"email": addr, "name": "Again", "password": PASSWORD}),
        )
        .await
        .assert_error(400, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL");
    admin
        .post(
            "/admin/create-user",
            json!({"email": "not-an-email", "name": "X"}),
        )
        .await
        .assert_error(400, "INVALID_EMAIL");
    admin
        .post(
            "/admin/create-user",
            json!({"email": email(), "name": "X", "role": "nope"}),
        )
        .await
        .assert_error(400, "YOU_ARE_NOT_ALLOWED_TO_SET_NON_EXISTENT_VALUE");
    admin
        .post(
            "/admin/create-user",
            json!({"email": email(), "name": "X", "password": "short"}),
        )
        .await
        .assert_error(400, "PASSWORD_TOO_SHORT");

    let r = admin.get(&format!("/admin/get-user?id={id}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["email"], addr);
    admin
        .get("/admin/get-user?id=missing")
        .await
        .assert_error(404, "USER_NOT_FOUND");

    let r = admin
        .post(
            "/admin/update-user",
            json!({"userId": id, "data": {"name": "Renamed", "role": "admin", "image": "https://img.example/a.png"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["name"], "Renamed");
    assert_eq!(r.json()["role"], "admin");
    // The change shows on the user's own session at once.
    let me = session_user(&c).await;
    assert_eq!(
        (me["name"].clone(), me["role"].clone()),
        (json!("Renamed"), json!("admin"))
    );
    for (data, status, code) in [
        (json!({}), 400, "NO_DATA_TO_UPDATE"),
        (
            json!({"password": "x"}),
            400,
            "PASSWORD_CANNOT_BE_UPDATED_VIA_UPDATE_USER",
        ),
        (json!({"id": "x"}), 400, "USER_ID_CANNOT_BE_UPDATED"),
        (json!({"role": 7}), 400, "INVALID_ROLE_TYPE"),
        (
            json!({"role": "ghost"}),
            400,
            "YOU_ARE_NOT_ALLOWED_TO_SET_NON_EXISTENT_VALUE",
        ),
        (
            json!({"email": admin_email}),
            400,
            "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL",
        ),
        (json!({"email": "bad"}), 400, "INVALID_EMAIL"),
    ] {
        admin
            .post("/admin/update-user", json!({"userId": id, "data": data}))
            .await
            .assert_error(status, code);
    }
    let admin_id = session_user(&admin).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    admin
        .post(
            "/admin/update-user",
            json!({"userId": admin_id, "data": {"banned": true}}),
        )
        .await
        .assert_error(400, "YOU_CANNOT_BAN_YOURSELF");
    admin
        .post(
            "/admin/update-user",
            json!({"userId": "missing", "data": {"name": "x"}}),
        )
        .await
        .assert_error(404, "USER_NOT_FOUND");

    admin
        .post("/admin/remove-user", json!({"userId": admin_id}))
        .await
        .assert_error(400, "YOU_CANNOT_REMOVE_YOURSELF");
    let r = admin
        .post("/admin/remove-user", json!({"userId": id}))
        .await;
    assert_eq!(
        (r.status, r.json()["success"].clone()),
        (200, json!(true)),
        "{}",
        r.text
    );
    assert!(
        c.get("/get-session").await.json().is_null(),
        "the removed user's session is gone"
    );
    admin
        .get(&format!("/admin/get-user?id={id}"))
        .await
        .assert_error(404, "USER_NOT_FOUND");
    admin
        .post("/admin/remove-user", json!({"userId": id}))
        .await
        .assert_error(404, "USER_NOT_FOUND");
}

async fn list_users_searches_filters_sorts_and_pages(b: Backend) {
    let (s, admin_email) = server(b).await;
    let admin = admin_client(&s, &admin_email).await;
    let tag = gatehouse_tests::random_suffix(8).to_lowercase();
    let mut ids = Vec::new();
    for (i, name) in ["Carol", "alice", "Bob"].iter().enumerate() {
        let r = admin
            .post(
                "/admin/create-user",
                json!({"email": format!("{tag}-{i}@list.example"), "name": format!("{name} {tag}"), "password": PASSWORD}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        ids.push(r.json()["user"]["id"].as_str().unwrap().to_string());
    }
    let names = |r: &gatehouse_tests::Response| -> Vec<String> {
        r.json()["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| {
                u["name"]
                    .as_str()
                    .unwrap()
                    .split(' ')
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    let r = admin
        .get(&format!(
            "/admin/list-users?searchValue={tag}&searchField=email&sortBy=name&sortDirection=asc"
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["total"], 3);
    // Case-sensitive sort, as the databases compare text.
    assert_eq!(names(&r), ["Bob", "Carol", "alice"]);
    let r = admin
        .get(&format!(
            "/admin/list-users?searchValue={tag}&sortBy=name&sortDirection=desc&limit=2&offset=1"
        ))
        .await;
    assert_eq!(r.json()["total"], 3);
    assert_eq!(r.json()["limit"], 2);
    assert_eq!(r.json()["offset"], 1);
    assert_eq!(names(&r), ["Carol", "Bob"]);
    // Search is case-insensitive on both backends.
    let r = admin
        .get(&format!("/admin/list-users?searchValue=ALICE%20{tag}&searchField=name&searchOperator=starts_with"))
        .await;
    assert_eq!(names(&r), ["alice"]);
    let r = admin
        .get(&format!(
            "/admin/list-users?filterField=id&filterOperator=in&filterValue={},{}",
            ids[0], ids[2]
        ))
        .await;
    assert_eq!(r.json()["total"], 2, "{}", r.text);
    let r = admin
        .get("/admin/list-users?filterField=role&filterValue=admin")
        .await;
    assert_eq!(r.json()["total"], 1);
    assert_eq!(r.json()["users"][0]["email"], admin_email);
    let r = admin
        .get("/admin/list-users?filterField=banned&filterValue=false")
        .await;
    assert_eq!(r.json()["total"], 4, "{}", r.text);
    // An unknown field lists nothing, as Better Auth.
    let r = admin.get("/admin/list-users?sortBy=nope").await;
    assert_eq!((r.status, r.json()["total"].clone()), (200, json!(0)));
    assert!(r.json().get("limit").is_none());
    admin
        .get("/admin/list-users?searchValue=x&searchField=password")
        .await
        .assert_error(400, "VALIDATION_ERROR");
}

async fn ban_revokes_sessions_and_refuses_every_sign_in(b: Backend) {
    let (s, admin_email) = server(b).await;
    let admin = admin_client(&s, &admin_email).await;
    let (u, addr, uid) = user(&s).await;
    let r = u
        .post(
            "/update-user",
            json!({"username": format!("u{}", gatehouse_tests::random_suffix(8).to_lowercase())}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let username = session_user(&u).await["username"]
        .as_str()
        .unwrap()
        .to_string();
    // Warm this instance's session cache, so the ban must clear it.
    assert!(!u.get("/get-session").await.json().is_null());

    let r = admin
        .post(
            "/admin/ban-user",
            json!({"userId": uid, "banReason": "spam", "banExpiresIn": 3600}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let banned = r.json()["user"].clone();
    assert_eq!(banned["banned"], true);
    assert_eq!(banned["banReason"], "spam");
    assert!(banned["banExpires"].is_string());
    assert!(
        u.get("/get-session").await.json().is_null(),
        "sessions revoked at once"
    );
    let r = admin
        .post("/admin/list-user-sessions", json!({"userId": uid}))
        .await;
    assert_eq!(r.json()["sessions"], json!([]));

    let refused = |r: gatehouse_tests::Response| {
        r.assert_error(403, "BANNED_USER");
        assert_eq!(
            r.json()["message"],
            "You have been banned from this application. Please contact support if you believe this is an error."
        );
    };
    refused(
        u.post(
            "/sign-in/email",
            json!({"email": addr, "password": PASSWORD}),
        )
        .await,
    );
    refused(
        u.post(
            "/sign-in/username",
            json!({"username": username, "password": PASSWORD}),
        )
        .await,
    );
    admin
        .post(
            "/admin/ban-user",
            json!({"userId": session_user(&admin).await["id"]}),
        )
        .await
        .assert_error(400, "YOU_CANNOT_BAN_YOURSELF");
    admin
        .post("/admin/ban-user", json!({"userId": "missing"}))
        .await
        .assert_error(404, "USER_NOT_FOUND");

    // An expired ban lifts itself at the next sign-in.
    s.clock.advance(Duration::seconds(3601));
    let admin = admin_client(&s, &admin_email).await;
    sign_in(&u, &addr, PASSWORD).await;
    let me = session_user(&u).await;
    assert_eq!(
        (me["banned"].clone(), me["banReason"].clone()),
        (json!(false), Value::Null)
    );

    // A permanent ban with the default reason, then lifted by an admin.
    let r = admin.post("/admin/ban-user", json!({"userId": uid})).await;
    assert_eq!(r.json()["user"]["banReason"], "No reason");
    assert!(r.json()["user"]["banExpires"].is_null());
    s.clock.advance(Duration::days(400));
    let admin = admin_client(&s, &admin_email).await;
    refused(
        u.post(
            "/sign-in/email",
            json!({"email": addr, "password": PASSWORD}),
        )
        .await,
    );
    let r = admin
        .post("/admin/unban-user", json!({"userId": uid}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["user"]["banned"], false);
    sign_in(&u, &addr, PASSWORD).await;
}

async fn impersonation_is_bounded_and_reversible(b: Backend) {
    let (s, admin_email) = server(b).await;
    let admin = admin_client(&s, &admin_email).await;
    let admin_id = session_user(&admin).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (u, _, uid) = user(&s).await;

    let r = admin
        .post("/admin/impersonate-user", json!({"userId": uid}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let j = r.json();
    assert_eq!(j["user"]["id"], uid);
    assert_eq!(j["session"]["impersonatedBy"], admin_id);
    let created =
        chrono::DateTime::parse_from_rfc3339(j["session"]["createdAt"].as_str().unwrap()).unwrap();
    let expires =
        chrono::DateTime::parse_from_rfc3339(j["session"]["expiresAt"].as_str().unwrap()).unwrap();
    assert_eq!((expires - created).num_seconds(), 3600);
    let admin_cookie = r
        .set_cookie("better-auth.admin_session")
        .expect("admin_session cookie");
    assert!(admin_cookie.contains("HttpOnly"), "{admin_cookie}");
    let session_cookie = r
        .set_cookie("better-auth.session_token")
        .expect("session cookie");
    assert!(
        !session_cookie.contains("Max-Age"),
        "not remembered: {session_cookie}"
    );

    // The admin's client now acts as the user.
    let now = admin.get("/get-session").await.json();
    assert_eq!(now["user"]["id"], uid);
    assert_eq!(now["session"]["impersonatedBy"], admin_id);
    // Impersonating lends no admin powers.
    admin
        .get("/admin/list-users")
        .await
        .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS");
    // The user's own list does not show the impersonation session.
    let mine = u.get("/list-sessions").await.json();
    assert_eq!(mine.as_array().unwrap().len(), 1, "{mine}");
    assert!(mine[0]["impersonatedBy"].is_null());

    let r = admin.post("/admin/stop-impersonating", json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["user"]["id"], admin_id);
    assert!(r
        .set_cookie("better-auth.admin_session")
        .unwrap()
        .contains("Max-Age=0"));
    assert_eq!(session_user(&admin).await["id"], admin_id);
    admin
        .post("/admin/stop-impersonating", json!({}))
        .await
        .assert_error(400, "NOT_IMPERSONATING");

    // Another admin is off limits without `impersonate-admins`.
    let r = admin
        .post(
            "/admin/create-user",
            json!({"email": email(), "name": "Other admin", "role": "admin"}),
        )
        .await;
    let other = r.json()["user"]["id"].as_str().unwrap().to_string();
    admin
        .post("/admin/impersonate-user", json!({"userId": other}))
        .await
        .assert_error(403, "YOU_CANNOT_IMPERSONATE_ADMINS");
    admin
        .post("/admin/impersonate-user", json!({"userId": "missing"}))
        .await
        .assert_error(404, "USER_NOT_FOUND");

    // The impersonation session ends on its own after an hour.
    admin
        .post("/admin/impersonate-user", json!({"userId": uid}))
        .await;
    s.clock.advance(Duration::seconds(3601));
    assert!(admin.get("/get-session").await.json().is_null());
}

async fn roles_created_at_runtime_take_effect_at_once(b: Backend) {
    let (s, admin_email) = server(b).await;
    let admin = admin_client(&s, &admin_email).await;
    let (u, _, uid) = user(&s).await;
    let (_, _, victim) = user(&s).await;

    let r = admin
        .post(
            "/admin/create-role",
            json!({"role": "support", "permission": {"user": ["list", "get", "set-role"]}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json()["role"]["permission"]["user"],
        json!(["list", "get", "set-role"])
    );
    admin
        .post(
            "/admin/create-role",
            json!({"role": "support", "permission": {"user": ["list"]}}),
        )
        .await
        .assert_error(400, "ADMIN_ROLE_ALREADY_EXISTS");
    admin
        .post(
            "/admin/create-role",
            json!({"role": "bad", "permission": {"rockets": ["launch"]}}),
        )
        .await
        .assert_error(400, "INVALID_PERMISSION");
    admin
        .post(
            "/admin/create-role",
            json!({"role": "god", "permission": {"user": ["impersonate-admins"]}}),
        )
        .await
        .assert_error(403, "ROLE_EXCEEDS_YOUR_PERMISSIONS");
    admin
        .post(
            "/admin/create-role",
            json!({"role": "has space", "permission": {"user": ["list"]}}),
        )
        .await
        .assert_error(400, "INVALID_ROLE_NAME");

    u.get("/admin/list-users")
        .await
        .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS");
    let r = admin
        .post("/admin/set-role", json!({"userId": uid, "role": "support"}))
        .await;
    assert_eq!(r.json()["user"]["role"], "support");
    // The very next request sees the new role.
    assert_eq!(u.get("/admin/list-users").await.status, 200);
    u.post("/admin/ban-user", json!({"userId": victim}))
        .await
        .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_BAN_USERS");
    // No escalation: support may set roles, but not hand out more than it holds.
    for target in [&uid, &victim] {
        u.post(
            "/admin/set-role",
            json!({"userId": target, "role": "admin"}),
        )
        .await
        .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE");
    }
    let r = u
        .post(
            "/admin/set-role",
            json!({"userId": victim, "role": "support"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    let r = admin.get("/admin/list-roles").await;
    let roles: Vec<(String, bool)> = r.json()["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["role"].as_str().unwrap().to_string(),
                x["builtIn"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        [
            ("admin".into(), true),
            ("user".into(), true),
            ("support".into(), false)
        ]
    );
    let r = admin.get("/admin/get-role?role=support").await;
    assert_eq!(r.json()["builtIn"], false);
    admin
        .get("/admin/get-role?role=ghost")
        .await
        .assert_error(404, "ADMIN_ROLE_NOT_FOUND");

    // Narrowing the role applies at once.
    let r = admin
        .post(
            "/admin/update-role",
            json!({"role": "support", "permission": {"user": ["get"]}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    u.get("/admin/list-users")
        .await
        .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS");
    admin
        .post(
            "/admin/update-role",
            json!({"role": "admin", "permission": {"user": ["get"]}}),
        )
        .await
        .assert_error(400, "CANNOT_CHANGE_A_BUILT_IN_ROLE");
    admin
        .post(
            "/admin/update-role",
            json!({"role": "ghost", "permission": {"user": ["get"]}}),
        )
        .await
        .assert_error(404, "ADMIN_ROLE_NOT_FOUND");
    admin
        .post("/admin/delete-role", json!({"role": "user"}))
        .await
        .assert_error(400, "CANNOT_CHANGE_A_BUILT_IN_ROLE");
    admin
        .post("/admin/delete-role", json!({"role": "support"}))
        .await
        .assert_error(400, "ADMIN_ROLE_IS_ASSIGNED");
    for id in [&uid, &victim] {
        admin
            .post("/admin/set-role", json!({"userId": id, "role": "user"}))
            .await;
    }
    let r = admin
        .post("/admin/delete-role", json!({"role": "support"}))
        .await;
    assert_eq!(r.json()["success"], true, "{}", r.text);
    admin
        .post("/admin/delete-role", json!({"role": "support"}))
        .await
        .assert_error(404, "ADMIN_ROLE_NOT_FOUND");
}

async fn sessions_passwords_and_permission_checks(b: Backend) {
    let (s, admin_email) = server(b).await;
    let admin = admin_client(&s, &admin_email).await;
    let (u, addr, uid) = user(&s).await;
    // A second later, so the listing (oldest first) has a known order.
    s.clock.advance(Duration::seconds(1));
    let second = s.client();
    sign_in(&second, &addr, PASSWORD).await;

    let r = admin
        .post("/admin/list-user-sessions", json!({"userId": uid}))
        .await;
    let sessions = r.json()["sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2, "{}", r.text);
    assert!(sessions.iter().all(|x| x["userId"] == uid));
    // Handles, never the tokens themselves.
    let handle = sessions[1]["token"].as_str().unwrap().to_string();
    assert_eq!(handle, sessions[1]["id"].as_str().unwrap());
    let r = admin
        .post(
            "/admin/revoke-user-session",
            json!({"sessionToken": handle}),
        )
        .await;
    assert_eq!(r.json()["success"], true);
    assert!(second.get("/get-session").await.json().is_null());
    assert!(!u.get("/get-session").await.json().is_null());
    let r = admin
        .post("/admin/revoke-user-sessions", json!({"userId": uid}))
        .await;
    assert_eq!(r.json()["success"], true);
    assert!(u.get("/get-session").await.json().is_null());

    let r = admin
        .post(
            "/admin/set-user-password",
            json!({"userId": uid, "newPassword": "brand-new-pass-1"}),
        )
        .await;
    assert_eq!(r.json()["status"], true, "{}", r.text);
    u.post(
        "/sign-in/email",
        json!({"email": addr, "password": PASSWORD}),
    )
    .await
    .assert_error(401, "INVALID_EMAIL_OR_PASSWORD");
    sign_in(&u, &addr, "brand-new-pass-1").await;
    admin
        .post(
            "/admin/set-user-password",
            json!({"userId": uid, "newPassword": "short"}),
        )
        .await
        .assert_error(400, "PASSWORD_TOO_SHORT");
    admin
        .post(
            "/admin/set-user-password",
            json!({"userId": "missing", "newPassword": "long-enough-1"}),
        )
        .await
        .assert_error(404, "USER_NOT_FOUND");
    // A passwordless user gets a password account.
    let r = admin
        .post(
            "/admin/create-user",
            json!({"email": email(), "name": "No password"}),
        )
        .await;
    let nopw = r.json()["user"].clone();
    admin
        .post(
            "/admin/set-user-password",
            json!({"userId": nopw["id"], "newPassword": "now-i-have-one"}),
        )
        .await;
    sign_in(
        &s.client(),
        nopw["email"].as_str().unwrap(),
        "now-i-have-one",
    )
    .await;

    let r = has_permission(&admin, json!({"user": ["impersonate-admins"]})).await;
    assert_eq!(r.json()["success"], false);
    let r = has_permission(&u, json!({"user": ["list"]})).await;
    assert_eq!(r.json()["success"], false);
    admin
        .post(
            "/admin/has-permission",
            json!({"permission": {"user": ["list"]}}),
        )
        .await
        .assert_error(400, "INVALID_PERMISSION_CHECK");
    s.client()
        .post(
            "/admin/has-permission",
            json!({"permissions": {"user": ["list"]}}),
        )
        .await
        .assert_error(401, "UNAUTHORIZED");
}

async fn audit_trail_records_privileged_writes(b: Backend) {
    let (s, admin_email) = server(b).await;
    let admin = admin_client(&s, &admin_email).await;
    let admin_id = session_user(&admin).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, _, uid) = user(&s).await;
    // Each step a second apart: the trail is ordered by time.
    let tick = || s.clock.advance(Duration::seconds(1));
    let steps = [
        ("/admin/impersonate-user", json!({"userId": uid})),
        ("/admin/stop-impersonating", json!({})),
        ("/admin/set-role", json!({"userId": uid, "role": "admin"})),
        (
            "/admin/ban-user",
            json!({"userId": uid, "banReason": "abuse"}),
        ),
    ];
    for (path, body) in steps {
        let r = admin.post(path, body).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        tick();
    }

    let r = admin
        .get(&format!("/admin/list-audit-logs?targetId={uid}"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let entries = r.json()["entries"].as_array().unwrap().clone();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    // Newest first.
    assert_eq!(
        actions,
        [
            "admin.ban-user",
            "admin.set-role",
            "admin.stop-impersonating",
            "admin.impersonate-user",
        ],
        "{}",
        r.text
    );
    let ban = &entries[0];
    assert_eq!(ban["actorId"], admin_id);
    assert_eq!(ban["targetType"], "user");
    assert_eq!(ban["ipAddress"], "127.0.0.1");
    assert_eq!(ban["details"]["reason"], "abuse");
    assert_eq!(
        entries[1]["details"],
        json!({"from": "user", "to": "admin"})
    );
    let r = admin
        .get("/admin/list-audit-logs?action=admin.bootstrap")
        .await;
    assert_eq!(r.json()["total"], 1);
    assert!(r.json()["entries"][0]["actorId"].is_null());
    let r = admin
        .get("/admin/list-audit-logs?action=admin.&limit=2")
        .await;
    assert_eq!(r.json()["entries"].as_array().unwrap().len(), 2);
    assert_eq!(r.json()["total"], 5);
}

async fn role_limits_and_the_email_permission(b: Backend) {
    let (s, admin_email) = server_with(b, "maximum_roles = 1\n").await;
    let admin = admin_client(&s, &admin_email).await;
    let (u, _, uid) = user(&s).await;
    let (_, _, other) = user(&s).await;
    let r = admin
        .post(
            "/admin/create-role",
            json!({"role": "editor", "permission": {"user": ["update"]}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    admin
        .post(
            "/admin/create-role",
            json!({"role": "second", "permission": {"user": ["get"]}}),
        )
        .await
        .assert_error(400, "TOO_MANY_ADMIN_ROLES");
    admin
        .post("/admin/set-role", json!({"userId": uid, "role": "editor"}))
        .await;
    // `update` without `set-email`: names change, addresses do not.
    let r = u
        .post(
            "/admin/update-user",
            json!({"userId": other, "data": {"name": "Edited"}}),
        )
        .await;
    assert_eq!(r.json()["name"], "Edited", "{}", r.text);
    u.post(
        "/admin/update-user",
        json!({"userId": other, "data": {"email": email()}}),
    )
    .await
    .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_SET_USERS_EMAIL");
    u.post(
        "/admin/update-user",
        json!({"userId": other, "data": {"emailVerified": true}}),
    )
    .await
    .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_SET_USERS_EMAIL");
    u.post(
        "/admin/update-user",
        json!({"userId": other, "data": {"banned": true}}),
    )
    .await
    .assert_error(403, "YOU_ARE_NOT_ALLOWED_TO_BAN_USERS");

    // Stopping an impersonation needs the admin's session, kept in the
    // signed admin_session cookie: without it, nothing changes.
    let r = admin
        .post("/admin/impersonate-user", json!({"userId": other}))
        .await;
    let token = r.json()["session"]["token"].as_str().unwrap().to_string();
    let bare = s.client();
    let r = bare
        .request(
            bare.raw()
                .post(format!("{}/admin/stop-impersonating", s.base))
                .header("origin", &s.origin)
                .bearer_auth(&token)
                .json(&json!({})),
        )
        .await;
    r.assert_error(400, "ADMIN_SESSION_NOT_FOUND");
    let still = admin.get("/get-session").await.json();
    assert_eq!(still["user"]["id"], other);
}
