//! Password reset by mailed link, over a real SMTP exchange.

use chrono::Duration;
use gatehouse_tests::smtp::SmtpSink;
use gatehouse_tests::{email, on_both_backends, Backend, TestServer, PASSWORD};
use serde_json::json;

on_both_backends!(reset_flow_end_to_end, reset_link_failures);

async fn server(b: Backend, sink: &SmtpSink) -> TestServer {
    let url = sink.url();
    TestServer::start_with(b, move |c| c.mail.smtp_url = Some(url)).await
}

/// The token in a mailed `/reset-password/{token}?callbackURL=` link.
fn token_of(link: &str) -> String {
    link.split("/reset-password/")
        .nth(1)
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_string()
}

async fn reset_flow_end_to_end(b: Backend) {
    let sink = SmtpSink::start().await;
    let s = server(b, &sink).await;
    let (addr, _) = s.client().sign_up().await;
    let other_device = s.client();
    other_device
        .post(
            "/sign-in/email",
            json!({"email": addr, "password": PASSWORD}),
        )
        .await;

    // Known and unknown addresses get the same answer; only the known one gets mail.
    let unknown = email();
    let a = s
        .client()
        .post(
            "/request-password-reset",
            json!({"email": addr, "redirectTo": "/reset"}),
        )
        .await;
    let u = s
        .client()
        .post(
            "/request-password-reset",
            json!({"email": unknown, "redirectTo": "/reset"}),
        )
        .await;
    assert_eq!((a.status, a.text.clone()), (u.status, u.text.clone()));
    assert_eq!(
        a.json()["message"],
        "If this email exists in our system, check your email for the reset link"
    );
    let mail = sink.wait_for(&addr, 1).await;
    assert_eq!(
        mail.subject().as_deref(),
        Some("Reset your password for Gatehouse")
    );
    let link = mail.link("/reset-password/").expect("absolute link");
    assert!(
        link.starts_with(&format!("{}/reset-password/", s.base))
            && link.ends_with("?callbackURL=%2Freset"),
        "{link}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(sink.count_to(&unknown), 0);

    // The link redirects to the app with the token (resolved against the base URL).
    let token = token_of(&link);
    let r = s
        .client()
        .get(&format!("/reset-password/{token}?callbackURL=%2Freset"))
        .await;
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location"),
        Some(format!("{}/reset?token={token}", s.origin))
    );

    s.client()
        .post(
            "/reset-password",
            json!({"newPassword": "short", "token": token}),
        )
        .await
        .assert_error(400, "PASSWORD_TOO_SHORT");
    let done = s
        .client()
        .post(
            "/reset-password",
            json!({"newPassword": "brand-new-password-7", "token": token}),
        )
        .await;
    assert_eq!(done.json(), json!({"status": true}), "{}", done.text);
    assert_eq!(
        other_device.get("/get-session").await.text,
        "null",
        "every session ended"
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
                json!({"email": addr, "password": "brand-new-password-7"})
            )
            .await
            .status,
        200
    );

    // Single use.
    s.client()
        .post(
            "/reset-password",
            json!({"newPassword": "another-password-8", "token": token}),
        )
        .await
        .assert_error(400, "INVALID_TOKEN");

    // The older path does the same.
    let old = s
        .client()
        .post("/forget-password", json!({"email": addr}))
        .await;
    assert_eq!(old.status, 200);
    let second = token_of(
        &sink
            .wait_for(&addr, 2)
            .await
            .link("/reset-password/")
            .unwrap(),
    );
    let via_query = s
        .client()
        .post(
            &format!("/reset-password?token={second}"),
            json!({"newPassword": "via-query-password-9"}),
        )
        .await;
    assert_eq!(via_query.status, 200, "{}", via_query.text);
}

async fn reset_link_failures(b: Backend) {
    let sink = SmtpSink::start().await;
    let s = server(b, &sink).await;
    let (addr, _) = s.client().sign_up().await;
    s.client()
        .post(
            "/request-password-reset",
            json!({"email": addr, "redirectTo": "https://evil.example/reset"}),
        )
        .await
        .assert_error(403, "INVALID_REDIRECT_URL");
    s.client()
        .post("/request-password-reset", json!({"email": addr}))
        .await;
    let token = token_of(
        &sink
            .wait_for(&addr, 1)
            .await
            .link("/reset-password/")
            .unwrap(),
    );

    let r = s
        .client()
        .get("/reset-password/notatoken?callbackURL=%2Freset")
        .await;
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location"),
        Some(format!("{}/reset?error=INVALID_TOKEN", s.origin))
    );
    s.client()
        .get(&format!(
            "/reset-password/{token}?callbackURL=https%3A%2F%2Fevil.example"
        ))
        .await
        .assert_error(403, "INVALID_CALLBACK_URL");
    s.client()
        .get(&format!("/reset-password/{token}"))
        .await
        .assert_error(400, "VALIDATION_ERROR");
    s.client()
        .post(
            "/reset-password",
            json!({"newPassword": "no-token-given-1"}),
        )
        .await
        .assert_error(400, "INVALID_TOKEN");
    s.client()
        .post(
            "/reset-password",
            json!({"newPassword": "tampered-token-1", "token": format!("{token}x")}),
        )
        .await
        .assert_error(400, "INVALID_TOKEN");

    s.clock.advance(Duration::hours(2));
    let r = s
        .client()
        .get(&format!("/reset-password/{token}?callbackURL=%2Freset"))
        .await;
    assert_eq!(
        r.header("location"),
        Some(format!("{}/reset?error=INVALID_TOKEN", s.origin)),
        "expired"
    );
    s.client()
        .post(
            "/reset-password",
            json!({"newPassword": "too-late-password-1", "token": token}),
        )
        .await
        .assert_error(400, "INVALID_TOKEN");
    assert_eq!(
        s.client()
            .post(
                "/sign-in/email",
                json!({"email": addr, "password": PASSWORD})
            )
            .await
            .status,
        200,
        "password unchanged"
    );

    let prod = TestServer::start_with(Backend::Sqlite, |c| {
        c.env = gatehouse_server::config::Environment::Production
    })
    .await;
    prod.client()
        .post("/request-password-reset", json!({"email": addr}))
        .await
        .assert_error(400, "RESET_PASSWORD_DISABLED");
}
