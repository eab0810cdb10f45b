//! Better Auth's session cookie cache (`session_data`), in each encoding:
//! get-session answers from the browser's copy without the database, and
//! the copy never outlives a revocation (CVE-2026-134321: Better Auth kept
//! serving revoked sessions from it until it expired).

use gatehouse_tests::{on_both_backends, Backend, Client, TestServer};
use serde_json::json;

on_both_backends!(
    compact_copies_answer_and_never_outlive_a_revocation,
    jwt_copies_answer_and_never_outlive_a_revocation,
    jwe_copies_answer_and_never_outlive_a_revocation,
    the_cache_is_off_by_default,
);

async fn server(b: Backend, strategy: &str) -> TestServer {
    TestServer::start_with(b, |c| {
        c.session.cookie_cache.enabled = true;
        c.session.cookie_cache.strategy = match strategy {
            "jwt" => gatehouse_server::core::cookie_cache::Strategy::Jwt,
            "jwe" => gatehouse_server::core::cookie_cache::Strategy::Jwe,
            _ => gatehouse_server::core::cookie_cache::Strategy::Compact,
        };
        // The in-memory cache off: what answers is the cookie or the database.
        c.session.cache_ttl = 0;
    })
    .await
}

fn session_data(r: &gatehouse_tests::Response) -> Option<String> {
    r.set_cookie("better-auth.session_data")
}

async fn session_id(c: &Client) -> Option<String> {
    c.get("/get-session").await.json()["session"]["id"]
        .as_str()
        .map(str::to_string)
}

async fn check(b: Backend, strategy: &str) {
    let s = server(b, strategy).await;
    let phone = s.client();
    let (email, _) = phone.sign_up().await;
    // Copies are compared with invalidations to the millisecond: let the
    // (manual) clock move past the sign-up.
    s.clock.advance(chrono::Duration::seconds(1));

    // The first get-session reads the database and hands out a copy.
    let r = phone.get("/get-session").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let line = session_data(&r).expect("a session_data cookie");
    assert!(line.contains("Max-Age=300"), "{line}");
    assert!(line.contains("HttpOnly"), "{line}");
    let value = line
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_string();
    match strategy {
        "jwt" => assert_eq!(value.split('.').count(), 3, "{value}"),
        "jwe" => {
            assert_eq!(value.split('.').count(), 5, "{value}");
            assert!(!value.contains(&email), "encrypted");
        }
        _ => assert!(!value.contains('.'), "{value}"),
    }
    let id = r.json()["session"]["id"].as_str().unwrap().to_string();

    // The copy answers without the database: with the row gone behind the
    // server's back, get-session still answers from it...
    s.db()
        .batch_execute(&format!(
            "UPDATE \"session\" SET \"userAgent\" = 'changed' WHERE \"id\" = '{id}'"
        ))
        .await
        .unwrap();
    let r = phone.get("/get-session").await;
    assert_eq!(r.json()["session"]["id"], id.as_str());
    assert_ne!(
        r.json()["session"]["userAgent"],
        "changed",
        "served from the copy"
    );
    // ...unless the caller asks for the store (any value, as Better Auth coerces it).
    let r = phone.get("/get-session?disableCookieCache=false").await;
    assert_eq!(
        r.json()["session"]["userAgent"],
        "changed",
        "read from the database"
    );

    // A tampered copy is ignored: the database answers.
    let signed_token = phone_token_cookie(&s, &email).await;
    let fresh = s.client();
    let tampered = format!(
        "{}{}",
        &value[..value.len() - 2],
        if value.ends_with("AA") { "BB" } else { "AA" }
    );
    let r = fresh
        .request(
            fresh
                .raw()
                .get(format!("{}/get-session", fresh.base))
                .header(
                    "cookie",
                    format!(
                    "better-auth.session_token={signed_token}; better-auth.session_data={tampered}"
                ),
                ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["session"]["userAgent"], "changed", "{}", r.text);

    s.clock.advance(chrono::Duration::seconds(1));

    // Revocation from another device: the phone's copy is still within its
    // max age, yet its session is gone at once, on get-session and on
    // every route that needs a session.
    let desktop = s.client();
    let r = desktop
        .post(
            "/sign-in/email",
            json!({"email": email, "password": gatehouse_tests::PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(session_id(&phone).await.is_some());
    let r = desktop.post("/revoke-other-sessions", json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = phone.get("/get-session").await;
    assert_eq!(r.status, 200);
    assert!(r.json().is_null(), "revoked: {}", r.text);
    let r = phone.get("/list-sessions").await;
    assert_eq!(r.status, 401, "{}", r.text);

    // A profile change is not served stale either.
    let r = desktop.get("/get-session").await;
    assert!(session_data(&r).is_some());
    let r = desktop
        .post("/update-user", json!({"name": "Renamed"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = desktop.get("/get-session").await;
    assert_eq!(r.json()["user"]["name"], "Renamed");

    // Signing out expires the copy.
    let r = desktop.post("/sign-out", json!({})).await;
    let line = session_data(&r).expect("session_data expired");
    assert!(line.contains("Max-Age=0"), "{line}");
    assert!(desktop.get("/get-session").await.json().is_null());
}

/// A second session of the user, as its signed `session_token` cookie value.
async fn phone_token_cookie(s: &TestServer, email: &str) -> String {
    let c = s.client();
    let r = c
        .post(
            "/sign-in/email",
            json!({"email": email, "password": gatehouse_tests::PASSWORD}),
        )
        .await;
    let line = r
        .set_cookie("better-auth.session_token")
        .expect("session cookie");
    let value = line
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_string();
    // That session's row gets the same marker as the phone's.
    s.db()
        .batch_execute("UPDATE \"session\" SET \"userAgent\" = 'changed'")
        .await
        .unwrap();
    value
}

async fn compact_copies_answer_and_never_outlive_a_revocation(b: Backend) {
    check(b, "compact").await;
}

async fn jwt_copies_answer_and_never_outlive_a_revocation(b: Backend) {
    check(b, "jwt").await;
}

async fn jwe_copies_answer_and_never_outlive_a_revocation(b: Backend) {
    check(b, "jwe").await;
}

async fn the_cache_is_off_by_default(b: Backend) {
    let s = TestServer::start(b).await;
    let c = s.client();
    c.sign_up().await;
    let r = c.get("/get-session").await;
    assert_eq!(r.status, 200);
    assert!(
        session_data(&r).is_none(),
        "no session_data cookie by default"
    );
}
