//! get-session (refresh, expiry), list/revoke sessions, freshness.

use chrono::Duration;
use gatehouse_tests::{on_both_backends, Backend, TestServer};
use serde_json::json;

on_both_backends!(
    get_session_signed_out_is_null_and_uncached,
    refresh_slides_expiry_after_update_age,
    expired_session_is_gone,
    dont_remember_never_refreshes,
    tampered_cookie_is_ignored,
    list_sessions_hides_other_tokens_and_needs_fresh,
    revoke_session_routes,
    other_instance_revocation_seen_within_cache_ttl,
);

/// A revocation written by another instance (straight to the database here)
/// is honoured once the in-memory session cache entry is older than its TTL.
async fn other_instance_revocation_seen_within_cache_ttl(b: Backend) {
    let s = TestServer::start(b).await;
    let c = s.client();
    c.sign_up().await;
    let id = c.get("/get-session").await.json()["session"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    gatehouse_server::db::store::delete_session(s.db(), &id)
        .await
        .unwrap();
    assert_ne!(
        c.get("/get-session").await.text,
        "null",
        "served from memory within the TTL"
    );
    s.clock.advance(Duration::seconds(6));
    assert_eq!(c.get("/get-session").await.text, "null");
}

fn expires_at(v: &serde_json::Value) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(v["session"]["expiresAt"].as_str().unwrap()).unwrap()
}

async fn get_session_signed_out_is_null_and_uncached(b: Backend) {
    let s = TestServer::start(b).await;
    let r = s.client().get("/get-session").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text, "null");
    assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
    assert_eq!(r.header("pragma").as_deref(), Some("no-cache"));
}

async fn refresh_slides_expiry_after_update_age(b: Backend) {
    let s = TestServer::start(b).await;
    let c = s.client();
    c.sign_up().await;
    let first = c.get("/get-session").await;
    assert!(
        first.set_cookie("better-auth.session_token").is_none(),
        "no refresh within updateAge"
    );
    let before = expires_at(&first.json());

    s.clock.advance(Duration::hours(12));
    let r = c.get("/get-session").await;
    assert_eq!(expires_at(&r.json()), before, "not yet due");

    s.clock.advance(Duration::hours(13));
    // disableRefresh (any non-empty value, as Better Auth coerces it) suppresses it.
    let held = c.get("/get-session?disableRefresh=false").await;
    assert_eq!(expires_at(&held.json()), before);
    assert!(held.set_cookie("better-auth.session_token").is_none());

    let r = c.get("/get-session").await;
    let after = expires_at(&r.json());
    assert_eq!((after - before).num_hours(), 25, "slid by the elapsed time");
    let cookie = r
        .set_cookie("better-auth.session_token")
        .expect("cookie re-issued");
    assert!(cookie.contains("Max-Age=604800"));
    // The token does not change on refresh.
    assert_eq!(
        r.json()["session"]["token"],
        first.json()["session"]["token"]
    );
}

async fn expired_session_is_gone(b: Backend) {
    let s = TestServer::start(b).await;
    let c = s.client();
    let (_, body) = c.sign_up().await;
    s.clock.advance(Duration::days(7) + Duration::seconds(1));
    let r = c.get("/get-session").await;
    assert_eq!(r.text, "null");
    assert!(r
        .set_cookie("better-auth.session_token")
        .unwrap()
        .contains("Max-Age=0"));
    let hash = gatehouse_server::crypto::token::hash_token(body["token"].as_str().unwrap());
    assert!(
        gatehouse_server::db::store::find_session_with_user(s.db(), &hash)
            .await
            .unwrap()
            .is_none()
    );
    c.get("/list-accounts")
        .await
        .assert_error(401, "UNAUTHORIZED");
}

async fn dont_remember_never_refreshes(b: Backend) {
    let s = TestServer::start(b).await;
    let (addr, _) = s.client().sign_up().await;
    let c = s.client();
    c.post(
        "/sign-in/email",
        json!({"email": addr, "password": gatehouse_tests::PASSWORD, "rememberMe": false}),
    )
    .await;
    let before = expires_at(&c.get("/get-session").await.json());
    s.clock.advance(Duration::hours(23));
    let r = c.get("/get-session").await;
    assert_eq!(expires_at(&r.json()), before);
    assert!(r.set_cookie("better-auth.session_token").is_none());
    s.clock.advance(Duration::hours(2));
    assert_eq!(
        c.get("/get-session").await.text,
        "null",
        "one-day session ended"
    );
}

async fn tampered_cookie_is_ignored(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, body) = s.client().sign_up().await;
    let tok = body["token"].as_str().unwrap();
    let forged_sig =
        gatehouse_server::crypto::sign::sign_value("some-other-secret-of-enough-length!!", tok);
    let c = s.client();
    for cookie in [tok.to_string(), forged_sig, format!("{tok}.AAAA")] {
        let r = c
            .request(c.raw().get(format!("{}/get-session", c.base)).header(
                "cookie",
                format!(
                    "better-auth.session_token={}",
                    gatehouse_server::http::cookies::encode_uri_component(&cookie)
                ),
            ))
            .await;
        assert_eq!(r.text, "null", "cookie {cookie:?} must not authenticate");
    }
}

async fn list_sessions_hides_other_tokens_and_needs_fresh(b: Backend) {
    let s = TestServer::start(b).await;
    let (addr, first) = s.client().sign_up().await;
    let other_token = first["token"].as_str().unwrap().to_string();
    let c = s.client();
    let mine = c
        .post(
            "/sign-in/email",
            json!({"email": addr, "password": gatehouse_tests::PASSWORD}),
        )
        .await
        .json();
    let my_token = mine["token"].as_str().unwrap();

    let r = c.get("/list-sessions").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let list = r.json();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    let tokens: Vec<&str> = list.iter().map(|x| x["token"].as_str().unwrap()).collect();
    assert!(tokens.contains(&my_token), "own token shown");
    assert!(
        !tokens.contains(&other_token.as_str()),
        "another session's bearer secret must not leak"
    );
    let handle = list.iter().find(|x| x["token"] != my_token).unwrap();
    assert_eq!(handle["token"], handle["id"]);

    s.clock.advance(Duration::hours(25));
    c.get("/list-sessions")
        .await
        .assert_error(403, "SESSION_NOT_FRESH");
    s.client()
        .get("/list-sessions")
        .await
        .assert_error(401, "UNAUTHORIZED");
}

async fn revoke_session_routes(b: Backend) {
    let s = TestServer::start(b).await;
    let a = s.client();
    let (addr, _) = a.sign_up().await;
    let b2 = s.client();
    b2.post(
        "/sign-in/email",
        json!({"email": addr, "password": gatehouse_tests::PASSWORD}),
    )
    .await;
    let c3 = s.client();
    c3.post(
        "/sign-in/email",
        json!({"email": addr, "password": gatehouse_tests::PASSWORD}),
    )
    .await;

    // Revoke b2's session by the handle list-sessions gave a.
    let b2_id = b2.get("/get-session").await.json()["session"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = a.post("/revoke-session", json!({"token": b2_id})).await;
    assert_eq!(r.json(), json!({"status": true}));
    assert_eq!(b2.get("/get-session").await.text, "null");

    // Someone else's session: silently untouched.
    let stranger = s.client();
    stranger.sign_up().await;
    let c3_token = c3.get("/get-session").await.json()["session"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        stranger
            .post("/revoke-session", json!({"token": c3_token}))
            .await
            .json(),
        json!({"status": true})
    );
    assert_ne!(c3.get("/get-session").await.text, "null");

    // Revoke by raw token too.
    assert_eq!(
        a.post("/revoke-session", json!({"token": c3_token}))
            .await
            .status,
        200
    );
    assert_eq!(c3.get("/get-session").await.text, "null");

    let d = s.client();
    d.post(
        "/sign-in/email",
        json!({"email": addr, "password": gatehouse_tests::PASSWORD}),
    )
    .await;
    assert_eq!(
        a.post("/revoke-other-sessions", json!({})).await.json(),
        json!({"status": true})
    );
    assert_eq!(d.get("/get-session").await.text, "null");
    assert_ne!(a.get("/get-session").await.text, "null");

    let r = a.post("/revoke-sessions", json!({})).await;
    assert_eq!(r.json(), json!({"status": true}));
    // The caller's own cookie is expired in the same answer.
    assert!(r
        .set_cookie("better-auth.session_token")
        .is_some_and(|c| c.contains("Max-Age=0")));
    assert_eq!(a.get("/get-session").await.text, "null");

    s.client()
        .post("/revoke-sessions", json!({}))
        .await
        .assert_error(401, "UNAUTHORIZED");
    s.client()
        .post("/revoke-session", json!({}))
        .await
        .assert_error(400, "VALIDATION_ERROR");
}
