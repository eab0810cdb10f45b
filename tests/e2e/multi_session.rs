//! The multi-session plugin over HTTP: one browser (one cookie jar) signed
//! in to several accounts, listing, switching and revoking them, the
//! `maximum_sessions` bound, sign-out ending every session, and forged
//! `_multi-` cookies refused.

use gatehouse_tests::{email, on_both_backends, Backend, Client, TestServer, PASSWORD};
use serde_json::{json, Value};

on_both_backends!(
    one_browser_holds_several_accounts,
    sign_out_ends_every_session,
    the_same_user_replaces_its_session_and_the_maximum_holds,
    forged_multi_session_cookies_are_refused,
    a_reissued_session_cookie_joins_the_set,
);

const SESSION_COOKIE: &str = "better-auth.session_token";

async fn server_with(b: Backend, section: &str) -> TestServer {
    TestServer::with_plugin(b, "multi-session", section).await
}

/// Signs up an account from another client; returns its email.
async fn account(s: &TestServer) -> String {
    let (addr, _) = s.client().sign_up().await;
    addr
}

/// Signs `c` in to `addr`; returns the new session token.
async fn sign_in(c: &Client, addr: &str) -> String {
    let r = c
        .post(
            "/sign-in/email",
            json!({"email": addr, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["token"].as_str().unwrap().to_string()
}

fn emails(list: &Value) -> Vec<String> {
    let mut v: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["user"]["email"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

async fn active_email(c: &Client) -> Option<String> {
    let r = c.get("/get-session").await;
    assert_eq!(r.status, 200);
    r.json()["user"]["email"].as_str().map(str::to_string)
}

/// Whether a session token still authenticates (as a bearer token, from a fresh client).
async fn token_is_live(s: &TestServer, token: &str) -> bool {
    let c = s.client();
    let url = format!("{}/get-session", c.base);
    let r = c.request(c.raw().get(url).bearer_auth(token)).await;
    !r.json().is_null()
}

async fn one_browser_holds_several_accounts(b: Backend) {
    let s = server_with(b, "").await;
    let (a, bb) = (account(&s).await, account(&s).await);
    let browser = s.client();
    assert_eq!(
        browser
            .get("/multi-session/list-device-sessions")
            .await
            .json(),
        json!([])
    );

    let r = browser
        .post("/sign-in/email", json!({"email": a, "password": PASSWORD}))
        .await;
    let token_a = r.json()["token"].as_str().unwrap().to_string();
    let line = r
        .set_cookie(&format!(
            "{SESSION_COOKIE}_multi-{}",
            token_a.to_lowercase()
        ))
        .expect("a _multi- cookie for the new session");
    assert!(
        line.contains("HttpOnly") && line.contains("Path=/") && line.contains("SameSite=Lax"),
        "{line}"
    );
    let token_b = sign_in(&browser, &bb).await;
    assert_eq!(active_email(&browser).await.as_deref(), Some(bb.as_str()));

    let list = browser.get("/multi-session/list-device-sessions").await;
    assert_eq!(list.status, 200);
    let list = list.json();
    let mut expected = vec![a.clone(), bb.clone()];
    expected.sort();
    assert_eq!(emails(&list), expected);
    for entry in list.as_array().unwrap() {
        assert!(entry["session"]["token"].is_string());
        assert_eq!(entry["session"]["userId"], entry["user"]["id"]);
    }

    // Switch to A.
    let r = browser
        .post(
            "/multi-session/set-active",
            json!({"sessionToken": token_a}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["user"]["email"], a.as_str());
    assert_eq!(r.json()["session"]["token"], token_a.as_str());
    assert_eq!(active_email(&browser).await.as_deref(), Some(a.as_str()));

    // An unknown token.
    browser
        .post("/multi-session/set-active", json!({"sessionToken": "nope"}))
        .await
        .assert_error(401, "INVALID_SESSION_TOKEN");

    // Revoking B (not active): B's session ends, A stays active.
    let r = browser
        .post("/multi-session/revoke", json!({"sessionToken": token_b}))
        .await;
    assert_eq!(r.json(), json!({"status": true}));
    assert!(!token_is_live(&s, &token_b).await);
    assert_eq!(active_email(&browser).await.as_deref(), Some(a.as_str()));
    assert_eq!(
        emails(
            &browser
                .get("/multi-session/list-device-sessions")
                .await
                .json()
        ),
        vec![a.clone()]
    );

    // Revoking the active one with none left signs the browser out.
    let r = browser
        .post("/multi-session/revoke", json!({"sessionToken": token_a}))
        .await;
    assert_eq!(r.json(), json!({"status": true}));
    assert!(!token_is_live(&s, &token_a).await);
    assert_eq!(active_email(&browser).await, None);
    browser
        .post("/multi-session/revoke", json!({"sessionToken": token_a}))
        .await
        .assert_error(401, "UNAUTHORIZED");

    // Revoking the active one switches to the next.
    let t1 = sign_in(&browser, &a).await;
    let t2 = sign_in(&browser, &bb).await;
    browser
        .post("/multi-session/revoke", json!({"sessionToken": t2}))
        .await;
    assert_eq!(active_email(&browser).await.as_deref(), Some(a.as_str()));
    assert!(token_is_live(&s, &t1).await);
}

async fn sign_out_ends_every_session(b: Backend) {
    let s = server_with(b, "").await;
    let browser = s.client();
    let mut tokens = Vec::new();
    for _ in 0..3 {
        let addr = account(&s).await;
        tokens.push(sign_in(&browser, &addr).await);
    }
    for t in &tokens {
        assert!(token_is_live(&s, t).await);
    }
    let r = browser.post("/sign-out", json!({})).await;
    assert_eq!(r.status, 200);
    for t in &tokens {
        let name = format!("{SESSION_COOKIE}_multi-{}", t.to_lowercase());
        let line = r
            .set_cookie(&name)
            .unwrap_or_else(|| panic!("{name} expired"));
        assert!(line.contains("Max-Age=0"), "{line}");
        assert!(!token_is_live(&s, t).await, "every session ended");
    }
    assert_eq!(
        browser
            .get("/multi-session/list-device-sessions")
            .await
            .json(),
        json!([])
    );
}

async fn the_same_user_replaces_its_session_and_the_maximum_holds(b: Backend) {
    let s = server_with(b, "[multi_session]\nmaximum_sessions = 2\n").await;
    let browser = s.client();
    let a = account(&s).await;
    let first = sign_in(&browser, &a).await;
    let second = sign_in(&browser, &a).await;
    assert!(
        !token_is_live(&s, &first).await,
        "the browser's older session of the same user ends"
    );
    assert!(token_is_live(&s, &second).await);
    assert_eq!(
        emails(
            &browser
                .get("/multi-session/list-device-sessions")
                .await
                .json()
        ),
        vec![a.clone()]
    );

    let bb = account(&s).await;
    sign_in(&browser, &bb).await;
    let c = account(&s).await;
    let r = browser
        .post("/sign-in/email", json!({"email": c, "password": PASSWORD}))
        .await;
    let token_c = r.json()["token"].as_str().unwrap().to_string();
    assert!(
        r.set_cookie(&format!(
            "{SESSION_COOKIE}_multi-{}",
            token_c.to_lowercase()
        ))
        .is_none(),
        "no third _multi- cookie past maximum_sessions = 2"
    );
    assert_eq!(
        browser
            .get("/multi-session/list-device-sessions")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

async fn forged_multi_session_cookies_are_refused(b: Backend) {
    let s = server_with(b, "").await;
    let victim = s.client();
    let (_, body) = victim.sign_up().await;
    let victim_token = body["token"].as_str().unwrap().to_string();
    let attacker = s.client();
    let r = attacker
        .post(
            "/sign-up/email",
            json!({"name": "Mallory", "email": email(), "password": PASSWORD}),
        )
        .await;
    let attacker_token = r.json()["token"].as_str().unwrap().to_string();
    let attacker_cookie = r
        .set_cookie(&format!(
            "{SESSION_COOKIE}_multi-{}",
            attacker_token.to_lowercase()
        ))
        .unwrap();
    let attacker_value = attacker_cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_string();

    let victim_name = format!("{SESSION_COOKIE}_multi-{}", victim_token.to_lowercase());
    let forged_values = [
        victim_token.clone(),                                 // unsigned
        format!("{victim_token}.c2lnbmF0dXJlLWd1ZXNzZWQ%3D"), // a made-up signature
        attacker_value,                                       // a genuine cookie of another session
    ];
    for value in forged_values {
        let c = s.client();
        let url = format!("{}/multi-session/set-active", c.base);
        let r = c
            .request(
                c.raw()
                    .post(url)
                    .header("origin", &s.origin)
                    .header("cookie", format!("{victim_name}={value}"))
                    .json(&json!({"sessionToken": victim_token})),
            )
            .await;
        r.assert_error(401, "INVALID_SESSION_TOKEN");
        assert!(
            r.set_cookie(SESSION_COOKIE).is_none(),
            "no session cookie for a forged one"
        );
        let url = format!("{}/multi-session/list-device-sessions", c.base);
        let list = c
            .request(
                c.raw()
                    .get(url)
                    .header("cookie", format!("{victim_name}={value}")),
            )
            .await;
        assert_eq!(list.json(), json!([]), "a forged cookie lists nothing");
    }
    assert!(
        token_is_live(&s, &victim_token).await,
        "the victim's session is untouched"
    );
}

/// A route that re-issues the session cookie (update-user) adds the session's
/// `_multi-` cookie when the browser lacks it (a bearer caller), and not
/// again when the browser holds it, as Better Auth does.
async fn a_reissued_session_cookie_joins_the_set(b: Backend) {
    let s = server_with(b, "").await;
    let browser = s.client();
    let a = account(&s).await;
    let token = sign_in(&browser, &a).await;
    let multi = format!("{SESSION_COOKIE}_multi-{}", token.to_lowercase());

    let held = browser.post("/update-user", json!({"name": "Held"})).await;
    assert_eq!(held.status, 200, "{}", held.text);
    assert!(
        held.set_cookie(&multi).is_none(),
        "the browser already holds it"
    );

    let c = s.client();
    let url = format!("{}/update-user", c.base);
    let r = c
        .request(
            c.raw()
                .post(url)
                .bearer_auth(&token)
                .json(&json!({"name": "Bearer"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let line = r
        .set_cookie(&multi)
        .expect("a _multi- cookie for the bearer's session");
    assert!(line.contains("Max-Age=604800"), "{line}");
    assert!(
        token_is_live(&s, &token).await,
        "the session itself goes on"
    );
}
