//! The magic-link plugin over a real SMTP exchange.

use chrono::Duration;
use gatehouse_server::plugins::magic_link::settings::MagicLinkSettings;
use gatehouse_tests::smtp::SmtpSink;
use gatehouse_tests::{email, on_both_backends, Backend, TestServer, PASSWORD};
use serde_json::json;

on_both_backends!(
    magic_link_signs_up_then_in,
    magic_link_failures_and_takeover_guard
);

async fn server(
    b: Backend,
    sink: &SmtpSink,
    configure: impl FnOnce(&mut gatehouse_server::Config) + Send + 'static,
) -> TestServer {
    let url = sink.url();
    TestServer::start_with(b, move |c| {
        c.mail.smtp_url = Some(url);
        c.plugins.push("magic-link".into());
        configure(c);
    })
    .await
}

async fn link_path(sink: &SmtpSink, to: &str, n: usize, base: &str) -> String {
    let link = sink
        .wait_for(to, n)
        .await
        .link("/magic-link/verify?token=")
        .expect("absolute link");
    link.strip_prefix(base).unwrap().to_string()
}

async fn magic_link_signs_up_then_in(b: Backend) {
    let sink = SmtpSink::start().await;
    let s = server(b, &sink, |_| {}).await;
    let addr = email();
    let c = s.client();
    let r = c.post("/sign-in/magic-link", json!({"email": addr.to_uppercase(), "name": "Magic", "newUserCallbackURL": "/welcome"})).await;
    assert_eq!(r.json(), json!({"status": true}));
    let path = link_path(&sink, &addr, 1, &s.base).await;
    assert!(path.contains("&newUserCallbackURL=%2Fwelcome"), "{path}");

    // First use: a new, verified user, a session, and the new-user redirect.
    let r = c.get(&path).await;
    assert_eq!(r.status, 302, "{}", r.text);
    assert_eq!(r.header("location").as_deref(), Some("/welcome"));
    let me = c.get("/get-session").await.json();
    assert_eq!(me["user"]["email"], addr.as_str());
    assert_eq!(me["user"]["name"], "Magic");
    assert_eq!(me["user"]["emailVerified"], true);
    // Reused: the failure goes to the callback with the code.
    let reused = s.client().get(&path).await;
    assert_eq!(reused.status, 302);
    assert_eq!(
        reused.header("location").as_deref(),
        Some("/?error=INVALID_TOKEN")
    );

    // Next time: the same user, JSON without callbacks.
    let other = s.client();
    other
        .post("/sign-in/magic-link", json!({"email": addr}))
        .await;
    let path = link_path(&sink, &addr, 2, &s.base)
        .await
        .replace("&callbackURL=%2F", "");
    let r = other.get(&path).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["user"]["id"], me["user"]["id"]);
    // Better Auth's JSON answer: token, user and the session itself.
    assert_eq!(r.json()["session"]["token"], r.json()["token"]);
    assert_eq!(r.json()["session"]["userId"], me["user"]["id"]);
    assert_eq!(
        other.get("/get-session").await.json()["session"]["token"],
        r.json()["token"]
    );
}

async fn magic_link_failures_and_takeover_guard(b: Backend) {
    let sink = SmtpSink::start().await;
    let s = server(b, &sink, |_| {}).await;

    // Someone pre-registered the address with a password, unverified.
    let addr = email();
    let squatter = s.client();
    squatter
        .post(
            "/sign-up/email",
            json!({"name": "Squatter", "email": addr, "password": PASSWORD}),
        )
        .await;
    s.client()
        .post("/sign-in/magic-link", json!({"email": addr}))
        .await;
    let owner = s.client();
    let r = owner
        .get(
            &link_path(&sink, &addr, 1, &s.base)
                .await
                .replace("&callbackURL=%2F", ""),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        squatter.get("/get-session").await.text,
        "null",
        "the squatter's session is gone"
    );
    s.client()
        .post(
            "/sign-in/email",
            json!({"email": addr, "password": PASSWORD}),
        )
        .await
        .assert_error(401, "INVALID_EMAIL_OR_PASSWORD");

    // Expiry, tampering, error redirects, untrusted callbacks.
    let addr2 = email();
    s.client()
        .post(
            "/sign-in/magic-link",
            json!({"email": addr2, "errorCallbackURL": "/oops"}),
        )
        .await;
    let path = link_path(&sink, &addr2, 1, &s.base).await;
    let r = s.client().get(&path.replacen("token=", "token=x", 1)).await;
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location").as_deref(),
        Some("/oops?error=INVALID_TOKEN")
    );
    // Without any callback a failure still redirects, to "/" (Better Auth's rule).
    s.clock.advance(Duration::minutes(6));
    let r = s
        .client()
        .get(
            &path
                .replace("&errorCallbackURL=%2Foops", "")
                .replace("&callbackURL=%2F", ""),
        )
        .await;
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location").as_deref(),
        Some("/?error=INVALID_TOKEN")
    );
    assert!(r.set_cookie("better-auth.session_token").is_none());
    s.client()
        .post(
            "/sign-in/magic-link",
            json!({"email": addr2, "callbackURL": "https://evil.example"}),
        )
        .await
        .assert_error(403, "INVALID_CALLBACK_URL");

    let closed = server(Backend::Sqlite, &sink, |c| {
        c.set_plugin_settings(
            "magic-link",
            &MagicLinkSettings {
                disable_sign_up: true,
                ..Default::default()
            },
        )
    })
    .await;
    let addr3 = email();
    closed
        .client()
        .post("/sign-in/magic-link", json!({"email": addr3}))
        .await;
    let path = link_path(&sink, &addr3, 1, &closed.base)
        .await
        .replace("&callbackURL=%2F", "");
    let r = closed.client().get(&path).await;
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location").as_deref(),
        Some("/?error=NEW_USER_SIGNUP_DISABLED")
    );

    // Without the plugin there is no such route.
    assert_eq!(
        TestServer::start(Backend::Sqlite)
            .await
            .client()
            .post("/sign-in/magic-link", json!({"email": addr3}))
            .await
            .status,
        404
    );
}
