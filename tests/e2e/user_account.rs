//! update-user, change-password, set-password, delete-user, list-accounts.

use chrono::Duration;
use gatehouse_server::db::store;
use gatehouse_tests::{on_both_backends, Backend, TestServer, PASSWORD};
use serde_json::json;

on_both_backends!(
    update_user_profile,
    change_password_flows,
    set_password_only_when_missing,
    delete_user_requires_confirmation,
    list_accounts_shows_credential,
    protected_routes_need_a_session,
);

async fn update_user_profile(b: Backend) {
    let s = TestServer::start(b).await;
    let c = s.client();
    c.sign_up().await;
    let r = c
        .post(
            "/update-user",
            json!({"name": "New Name", "image": "https://img.example/a.png"}),
        )
        .await;
    assert_eq!(r.json(), json!({"status": true}));
    let me = c.get("/get-session").await.json();
    assert_eq!(me["user"]["name"], "New Name");
    assert_eq!(me["user"]["image"], "https://img.example/a.png");

    assert_eq!(
        c.post("/update-user", json!({"image": null})).await.status,
        200
    );
    let me = c.get("/get-session").await.json();
    assert!(me["user"]["image"].is_null());
    assert_eq!(me["user"]["name"], "New Name", "absent fields untouched");

    c.post("/update-user", json!({"email": "x@example.com"}))
        .await
        .assert_error(400, "EMAIL_CAN_NOT_BE_UPDATED");
    c.post("/update-user", json!({}))
        .await
        .assert_error(400, "NO_FIELDS_TO_UPDATE");
    c.post("/update-user", json!({"name": "y".repeat(3000)}))
        .await
        .assert_error(400, "VALIDATION_ERROR");
    assert_eq!(
        c.get("/get-session").await.json()["user"]["name"],
        "New Name"
    );
}

async fn change_password_flows(b: Backend) {
    let s = TestServer::start(b).await;
    let c = s.client();
    let (addr, _) = c.sign_up().await;
    let other = s.client();
    other
        .post(
            "/sign-in/email",
            json!({"email": addr, "password": PASSWORD}),
        )
        .await;

    c.post(
        "/change-password",
        json!({"currentPassword": "wrong-one!!", "newPassword": "new-password-1"}),
    )
    .await
    .assert_error(400, "INVALID_PASSWORD");
    c.post(
        "/change-password",
        json!({"currentPassword": PASSWORD, "newPassword": "short"}),
    )
    .await
    .assert_error(400, "PASSWORD_TOO_SHORT");
    c.post("/change-password", json!({"newPassword": "x"}))
        .await
        .assert_error(400, "VALIDATION_ERROR");

    let r = c
        .post(
            "/change-password",
            json!({"currentPassword": PASSWORD, "newPassword": "new-password-1"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json()["token"].is_null());
    assert_eq!(r.json()["user"]["email"], addr.as_str());
    assert_ne!(
        other.get("/get-session").await.text,
        "null",
        "others kept without revokeOtherSessions"
    );

    s.client()
        .post(
            "/sign-in/email",
            json!({"email": addr, "password": PASSWORD}),
        )
        .await
        .assert_error(401, "INVALID_EMAIL_OR_PASSWORD");
    assert_eq!(
        s.client()
            .post(
                "/sign-in/email",
                json!({"email": addr, "password": "new-password-1"})
            )
            .await
            .status,
        200
    );

    let r = c
        .post("/change-password", json!({"currentPassword": "new-password-1", "newPassword": "new-password-2", "revokeOtherSessions": true}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let new_token = r.json()["token"].as_str().unwrap().to_string();
    assert_eq!(
        other.get("/get-session").await.text,
        "null",
        "other sessions revoked"
    );
    assert_eq!(
        c.get("/get-session").await.json()["session"]["token"],
        new_token.as_str(),
        "caller moved to a new session"
    );
}

async fn set_password_only_when_missing(b: Backend) {
    let s = TestServer::start(b).await;
    let c = s.client();
    c.sign_up().await;
    c.post("/set-password", json!({"newPassword": "another-password"}))
        .await
        .assert_error(400, "PASSWORD_ALREADY_SET");

    // A user without a credential password (e.g. social-only).
    let c2 = s.client();
    let (addr, body) = c2.sign_up().await;
    let user_id = body["user"]["id"].as_str().unwrap();
    let acct = store::find_user_with_credential(s.db(), user_id)
        .await
        .unwrap()
        .unwrap();
    let cleared: Result<(), gatehouse_server::db::StorageError> = async {
        gatehouse_server::with_conn!(s.db(), |conn| {
            use diesel::prelude::*;
            use diesel_async::RunQueryDsl;
            use gatehouse_server::db::schema::accounts;
            diesel::delete(accounts::table.find(&acct.id))
                .execute(conn)
                .await?;
            Ok(())
        })
    }
    .await;
    cleared.unwrap();
    c2.post("/set-password", json!({"newPassword": "tiny"}))
        .await
        .assert_error(400, "PASSWORD_TOO_SHORT");
    assert_eq!(
        c2.post("/set-password", json!({"newPassword": "fresh-password-9"}))
            .await
            .json(),
        json!({"status": true})
    );
    assert_eq!(
        s.client()
            .post(
                "/sign-in/email",
                json!({"email": addr, "password": "fresh-password-9"})
            )
            .await
            .status,
        200
    );

    s.clock.advance(Duration::days(2));
    let c3 = s.client();
    c3.sign_up().await;
    s.clock.advance(Duration::days(2));
    c3.post("/set-password", json!({"newPassword": "whatever-123"}))
        .await
        .assert_error(403, "SESSION_NOT_FRESH");
}

async fn delete_user_requires_confirmation(b: Backend) {
    let disabled = TestServer::start(b.clone()).await;
    let c = disabled.client();
    c.sign_up().await;
    c.post("/delete-user", json!({"password": PASSWORD}))
        .await
        .assert_error(404, "NOT_FOUND");

    let s = TestServer::start_with(b, |c| c.user.delete_enabled = true).await;
    let c = s.client();
    let (addr, body) = c.sign_up().await;
    let user_id = body["user"]["id"].as_str().unwrap().to_string();
    c.post("/delete-user", json!({}))
        .await
        .assert_error(400, "USER_ALREADY_HAS_PASSWORD");
    c.post("/delete-user", json!({"password": "not-the-password"}))
        .await
        .assert_error(400, "INVALID_PASSWORD");
    assert!(store::find_user_by_id(s.db(), &user_id)
        .await
        .unwrap()
        .is_some());

    let r = c.post("/delete-user", json!({"password": PASSWORD})).await;
    assert_eq!(
        r.json(),
        json!({"success": true, "message": "User deleted"})
    );
    assert!(r
        .set_cookie("better-auth.session_token")
        .unwrap()
        .contains("Max-Age=0"));
    assert!(store::find_user_by_id(s.db(), &user_id)
        .await
        .unwrap()
        .is_none());
    assert!(store::list_accounts(s.db(), &user_id)
        .await
        .unwrap()
        .is_empty());
    s.client()
        .post(
            "/sign-in/email",
            json!({"email": addr, "password": PASSWORD}),
        )
        .await
        .assert_error(401, "INVALID_EMAIL_OR_PASSWORD");
}

async fn list_accounts_shows_credential(b: Backend) {
    let s = TestServer::start(b).await;
    let c = s.client();
    let (_, body) = c.sign_up().await;
    let r = c.get("/list-accounts").await;
    assert_eq!(r.status, 200);
    let list = r.json();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["providerId"], "credential");
    assert_eq!(list[0]["accountId"], body["user"]["id"]);
    assert_eq!(list[0]["scopes"], json!([]));
    assert!(list[0].get("password").is_none(), "secrets never returned");
}

async fn protected_routes_need_a_session(b: Backend) {
    let s = TestServer::start(b).await;
    let c = s.client();
    for (path, body) in [
        ("/update-user", json!({"name": "x"})),
        (
            "/change-password",
            json!({"currentPassword": "a", "newPassword": "bbbbbbbbbb"}),
        ),
        ("/set-password", json!({"newPassword": "bbbbbbbbbb"})),
        ("/revoke-session", json!({"token": "x"})),
        ("/revoke-other-sessions", json!({})),
    ] {
        c.post(path, body).await.assert_error(401, "UNAUTHORIZED");
    }
    for path in ["/list-sessions", "/list-accounts"] {
        c.get(path).await.assert_error(401, "UNAUTHORIZED");
    }
}
