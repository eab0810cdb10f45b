//! The passkey plugin's ceremony guards over HTTP (the full ceremonies run
//! in headless Chromium: tests/node/passkey.test.mjs): options shape, the
//! single-use, expiring challenge cookie, freshness, unknown credentials.

use chrono::Duration;
use gatehouse_server::plugins::passkey::settings::PasskeySettings;
use gatehouse_tests::{on_both_backends, Backend, TestServer};
use serde_json::{json, Value};

on_both_backends!(ceremony_guards);

const CHALLENGE_COOKIE: &str = "better-auth.better-auth-passkey";

async fn ceremony_guards(b: Backend) {
    let s = TestServer::start_with(b, |c| {
        c.plugins.push("passkey".into());
        c.set_plugin_settings(
            "passkey",
            &PasskeySettings {
                rp_id: Some("localhost".into()),
                origin: Some("http://localhost:5173".into()),
                ..Default::default()
            },
        );
    })
    .await;
    let anon = s.client();
    anon.get("/passkey/generate-register-options")
        .await
        .assert_error(401, "UNAUTHORIZED");

    let c = s.client();
    let (addr, body) = c.sign_up().await;
    let user_id = body["user"]["id"].as_str().unwrap().to_string();
    let r = c.get("/passkey/generate-register-options").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let cookie = r.set_cookie(CHALLENGE_COOKIE).expect("ceremony cookie");
    assert!(
        cookie.contains("Max-Age=300") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let o = r.json();
    assert_eq!(o["rp"], json!({"id": "localhost", "name": "Gatehouse"}));
    assert_eq!(o["user"]["name"], json!(addr));
    assert_ne!(o["user"]["id"], json!(user_id), "the user handle is opaque");
    assert_eq!(o["authenticatorSelection"]["residentKey"], "preferred");
    assert!(o["challenge"].as_str().is_some_and(|c| c.len() >= 43));
    // Better Auth's option values: a 60 s browser timeout, hints, and the
    // email shown; `?name=` names the credential's user, an empty one does not.
    assert_eq!(o["timeout"], 60000);
    assert_eq!(o["hints"], json!([]));
    assert_eq!(o["user"]["displayName"], json!(addr));
    let named = c
        .get("/passkey/generate-register-options?name=Work%20laptop")
        .await
        .json();
    assert_eq!(named["user"]["name"], "Work laptop");
    let r = c.get("/passkey/generate-register-options?name=").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["user"]["name"], json!(addr));
    // A second call gives a new challenge.
    let o2 = c.get("/passkey/generate-register-options").await.json();
    assert_ne!(o2["challenge"], o["challenge"]);
    assert_eq!(
        o2["user"]["id"], o["user"]["id"],
        "the handle is stable per user"
    );

    // A response that does not verify spends the challenge.
    let garbage = json!({"response": {"id": "AAAA", "rawId": "AAAA", "type": "public-key",
        "response": {"clientDataJSON": "AAAA", "attestationObject": "AAAA"}}});
    c.post("/passkey/verify-registration", garbage.clone())
        .await
        .assert_error(400, "FAILED_TO_VERIFY_REGISTRATION");
    c.post("/passkey/verify-registration", garbage)
        .await
        .assert_error(400, "CHALLENGE_NOT_FOUND");

    // Sign-in ceremony: works signed out; unknown credential, bad and stale answers.
    let r = anon.get("/passkey/generate-authenticate-options").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let o = r.json();
    assert_eq!(o["rpId"], "localhost");
    assert_eq!(o["userVerification"], "required");
    assert!(o["allowCredentials"].as_array().is_none_or(Vec::is_empty));
    let unknown = |id: &str| {
        json!({"response": {"id": id, "rawId": id, "type": "public-key", "response": {
            "clientDataJSON": "AAAA", "authenticatorData": "AAAA", "signature": "AAAA", "userHandle": null}}})
    };
    anon.post("/passkey/verify-authentication", unknown("q83vEjRWeJA"))
        .await
        .assert_error(401, "PASSKEY_NOT_FOUND");
    anon.post("/passkey/verify-authentication", unknown("q83vEjRWeJA"))
        .await
        .assert_error(400, "CHALLENGE_NOT_FOUND");
    anon.get("/passkey/generate-authenticate-options").await;
    // A response naming no stored credential is PASSKEY_NOT_FOUND first
    // (Better Auth's order), however malformed the rest.
    anon.post(
        "/passkey/verify-authentication",
        json!({"response": "nope"}),
    )
    .await
    .assert_error(401, "PASSKEY_NOT_FOUND");
    anon.get("/passkey/generate-authenticate-options").await;
    s.clock.advance(Duration::minutes(6));
    anon.post("/passkey/verify-authentication", unknown("q83vEjRWeJA"))
        .await
        .assert_error(400, "CHALLENGE_NOT_FOUND");
    assert_eq!(anon.get("/get-session").await.json(), Value::Null);

    // Management routes: an unknown id is 404 (Better Auth's answer); an
    // empty name is refused before anything is looked up.
    assert_eq!(c.get("/passkey/list-user-passkeys").await.json(), json!([]));
    c.post("/passkey/delete-passkey", json!({"id": "nope"}))
        .await
        .assert_error(404, "PASSKEY_NOT_FOUND");
    c.post(
        "/passkey/update-passkey",
        json!({"id": "nope", "name": "x"}),
    )
    .await
    .assert_error(404, "PASSKEY_NOT_FOUND");
    let r = c
        .post("/passkey/update-passkey", json!({"id": "nope", "name": ""}))
        .await;
    r.assert_error(400, "VALIDATION_ERROR");
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .contains("[body.name] Too small"));

    // Registering needs a fresh session (created within a day).
    s.clock.advance(Duration::hours(25));
    c.get("/passkey/generate-register-options")
        .await
        .assert_error(403, "SESSION_NOT_FRESH");
}
