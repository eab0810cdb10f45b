//! Email verification over a real SMTP exchange: links are read out of the
//! received messages and followed over HTTP.

use chrono::Duration;
use gatehouse_tests::smtp::SmtpSink;
use gatehouse_tests::{email, on_both_backends, Backend, TestServer, PASSWORD};
use serde_json::json;

on_both_backends!(
    sign_up_sends_link_and_link_verifies_once,
    required_verification_blocks_sign_in_and_remails,
    send_verification_email_does_not_reveal_accounts,
    expired_tampered_and_untrusted_links,
);

async fn server(
    b: Backend,
    sink: &SmtpSink,
    configure: impl FnOnce(&mut gatehouse_server::Config),
) -> TestServer {
    let url = sink.url();
    TestServer::start_with(b, move |c| {
        c.mail.smtp_url = Some(url);
        c.mail.from = "Gatehouse Test <auth@example.com>".into();
        configure(c);
    })
    .await
}

/// The path+query of a mailed link, for the test client (which has the base).
fn route_of(link: &str, base: &str) -> String {
    link.strip_prefix(base)
        .unwrap_or_else(|| panic!("{link} is not under {base}"))
        .to_string()
}

async fn sign_up_sends_link_and_link_verifies_once(b: Backend) {
    let sink = SmtpSink::start().await;
    let s = server(b, &sink, |c| {
        c.email_verification.send_on_sign_up = Some(true)
    })
    .await;
    let c = s.client();
    let addr = email();
    let r = c
        .post(
            "/sign-up/email",
            json!({"name": "V", "email": addr, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.json()["token"].is_string(), "auto sign-in still on");

    let mail = sink.wait_for(&addr, 1).await;
    assert_eq!(
        mail.subject().as_deref(),
        Some("Verify your email for Gatehouse")
    );
    let link = mail
        .link("/verify-email?token=")
        .expect("absolute link in the plain text");
    assert!(
        link.starts_with(&format!("{}/verify-email?token=", s.base))
            && link.contains("&callbackURL=%2F"),
        "{link}"
    );

    let path = route_of(&link, &s.base).replace("&callbackURL=%2F", "");
    let verified = c.get(&path).await;
    assert_eq!(verified.status, 200, "{}", verified.text);
    assert_eq!(verified.json()["status"], true);
    assert_eq!(
        verified.json()["user"]["emailVerified"],
        true,
        "signed in: the user comes back"
    );
    assert_eq!(
        c.get("/get-session").await.json()["user"]["emailVerified"],
        true
    );

    // Followed again (a mail scanner fetched it first, or a second click):
    // the address is verified, so the answer is success, with no session
    // and nothing changed, as Better Auth answers.
    let again = s.client();
    let r = again.get(&path).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json(), json!({"status": true, "user": null}));
    assert!(r.set_cookie("better-auth.session_token").is_none());
    let r = again.get(&format!("{path}&callbackURL=%2Fverified")).await;
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location").as_deref(), Some("/verified"));
    // Not once its time is up.
    s.clock.advance(Duration::hours(2));
    s.client()
        .get(&path)
        .await
        .assert_error(401, "INVALID_TOKEN");
}

async fn required_verification_blocks_sign_in_and_remails(b: Backend) {
    let sink = SmtpSink::start().await;
    let s = server(b, &sink, |c| {
        c.email_and_password.require_email_verification = true;
        c.email_verification.auto_sign_in_after_verification = true;
    })
    .await;
    let addr = email();
    let up = s
        .client()
        .post(
            "/sign-up/email",
            json!({"name": "R", "email": addr, "password": PASSWORD}),
        )
        .await;
    assert_eq!(up.status, 200);
    assert!(
        up.json()["token"].is_null(),
        "no session before verification"
    );
    assert!(up.set_cookie("better-auth.session_token").is_none());
    sink.wait_for(&addr, 1).await;

    let c = s.client();
    c.post(
        "/sign-in/email",
        json!({"email": addr, "password": PASSWORD}),
    )
    .await
    .assert_error(403, "EMAIL_NOT_VERIFIED");
    let fresh = sink.wait_for(&addr, 2).await;
    c.post(
        "/sign-in/email",
        json!({"email": addr, "password": "wrong-password"}),
    )
    .await
    .assert_error(401, "INVALID_EMAIL_OR_PASSWORD");
    assert_eq!(sink.count_to(&addr), 2, "a wrong password sends nothing");

    // Following the link with a callback: a 302 there, and a session (auto sign-in).
    let link = fresh.link("/verify-email?token=").unwrap();
    let path = route_of(&link, &s.base).replace("callbackURL=%2F", "callbackURL=%2Fwelcome");
    let r = c.get(&path).await;
    assert_eq!(r.status, 302, "{}", r.text);
    assert_eq!(r.header("location").as_deref(), Some("/welcome"));
    assert!(r.text.is_empty());
    assert!(r
        .set_cookie("better-auth.session_token")
        .unwrap()
        .contains("Max-Age=604800"));
    assert_eq!(
        c.get("/get-session").await.json()["user"]["email"],
        addr.as_str()
    );
    assert_eq!(
        s.client()
            .post(
                "/sign-in/email",
                json!({"email": addr, "password": PASSWORD})
            )
            .await
            .status,
        200
    );

    // The first link was never used, and still works once; then it is spent too.
    let first = sink
        .wait_for(&addr, 1)
        .await
        .link("/verify-email?token=")
        .unwrap();
    let first_path = route_of(&first, &s.base).replace("&callbackURL=%2F", "");
    assert_eq!(s.client().get(&first_path).await.status, 200);
}

async fn send_verification_email_does_not_reveal_accounts(b: Backend) {
    let sink = SmtpSink::start().await;
    let s = server(b, &sink, |_| {}).await;
    let (known, _) = s.client().sign_up().await;
    let unknown = email();
    let a = s
        .client_without_origin()
        .post("/send-verification-email", json!({"email": known}))
        .await;
    let u = s
        .client_without_origin()
        .post("/send-verification-email", json!({"email": unknown}))
        .await;
    assert_eq!(
        (a.status, a.text.clone()),
        (u.status, u.text.clone()),
        "same answer for known and unknown"
    );
    assert_eq!(a.json(), json!({"status": true}));
    sink.wait_for(&known, 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(sink.count_to(&unknown), 0);

    // Signed in: the address must be the user's, and not yet verified.
    let c = s.client();
    let (mine, _) = c.sign_up().await;
    c.post("/send-verification-email", json!({"email": email()}))
        .await
        .assert_error(400, "EMAIL_MISMATCH");
    assert_eq!(
        c.post("/send-verification-email", json!({"email": mine}))
            .await
            .status,
        200
    );
    let link = sink.wait_for(&mine, 1).await.link("/verify-email").unwrap();
    c.get(&route_of(&link, &s.base)).await;
    c.post("/send-verification-email", json!({"email": mine}))
        .await
        .assert_error(400, "EMAIL_ALREADY_VERIFIED");

    // Production without SMTP cannot send: said plainly.
    let off = TestServer::start_with(Backend::Sqlite, |c| {
        c.env = gatehouse_server::config::Environment::Production
    })
    .await;
    off.client()
        .post("/send-verification-email", json!({"email": known}))
        .await
        .assert_error(400, "VERIFICATION_EMAIL_NOT_ENABLED");
}

async fn expired_tampered_and_untrusted_links(b: Backend) {
    let sink = SmtpSink::start().await;
    let s = server(b, &sink, |c| {
        c.email_verification.send_on_sign_up = Some(true)
    })
    .await;
    let (addr, _) = s.client().sign_up().await;
    let link = sink.wait_for(&addr, 1).await.link("/verify-email").unwrap();
    let path = route_of(&link, &s.base);
    let plain = path.replace("&callbackURL=%2F", "");

    let tampered = plain.replacen("token=", "token=x", 1);
    s.client()
        .get(&tampered)
        .await
        .assert_error(401, "INVALID_TOKEN");
    let r = s
        .client()
        .get(&tampered.replace("token=", "callbackURL=%2Fdone&token="))
        .await;
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location").as_deref(),
        Some("/done?error=INVALID_TOKEN")
    );
    s.client()
        .get(&format!(
            "{plain}&callbackURL=https%3A%2F%2Fevil.example%2F"
        ))
        .await
        .assert_error(403, "INVALID_CALLBACK_URL");

    s.clock.advance(Duration::hours(2));
    s.client()
        .get(&plain)
        .await
        .assert_error(401, "TOKEN_EXPIRED");
    // An expired link keeps saying so (Better Auth's links are stateless JWTs).
    s.client()
        .get(&plain)
        .await
        .assert_error(401, "TOKEN_EXPIRED");
}
