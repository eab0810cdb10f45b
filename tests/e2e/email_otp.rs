//! The email-otp plugin over a real SMTP exchange: codes are read out of
//! the received messages.

use chrono::Duration;
use gatehouse_tests::smtp::SmtpSink;
use gatehouse_tests::{email, on_both_backends, Backend, TestServer, PASSWORD};
use serde_json::json;

on_both_backends!(otp_sign_in_and_verification, otp_lockout_expiry_and_reset);

async fn server(b: Backend, sink: &SmtpSink) -> TestServer {
    let url = sink.url();
    TestServer::start_with(b, move |c| {
        c.mail.smtp_url = Some(url);
        c.plugins.push("email-otp".into());
    })
    .await
}

/// The code: a line of digits on its own in the plain-text part.
async fn code(sink: &SmtpSink, to: &str, n: usize) -> String {
    let mail = sink.wait_for(to, n).await;
    mail.code(6)
        .unwrap_or_else(|| panic!("no code in {}", mail.decoded()))
}

async fn otp_sign_in_and_verification(b: Backend) {
    let sink = SmtpSink::start().await;
    let s = server(b, &sink).await;
    let addr = email();
    let c = s.client();
    s.client()
        .post(
            "/email-otp/send-verification-otp",
            json!({"email": addr, "type": "bogus"}),
        )
        .await
        .assert_error(400, "INVALID_OTP_TYPE");
    assert_eq!(
        c.post(
            "/email-otp/send-verification-otp",
            json!({"email": addr, "type": "sign-in"})
        )
        .await
        .json(),
        json!({"success": true})
    );
    let otp = code(&sink, &addr, 1).await;

    // Checking does not spend it; signing in does, and creates the user.
    let check = json!({"email": addr, "type": "sign-in", "otp": otp});
    assert_eq!(
        c.post("/email-otp/check-verification-otp", check.clone())
            .await
            .json(),
        json!({"success": true})
    );
    let r = c
        .post("/sign-in/email-otp", json!({"email": addr, "otp": otp}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["user"]["emailVerified"], true);
    assert_eq!(
        c.get("/get-session").await.json()["user"]["email"],
        addr.as_str()
    );
    s.client()
        .post("/sign-in/email-otp", json!({"email": addr, "otp": otp}))
        .await
        .assert_error(400, "INVALID_OTP");

    // Email verification of a password account by code.
    let v = s.client();
    let (other, _) = v.sign_up().await;
    v.post(
        "/email-otp/send-verification-otp",
        json!({"email": other, "type": "email-verification"}),
    )
    .await;
    let otp = code(&sink, &other, 1).await;
    let r = v
        .post(
            "/email-otp/verify-email",
            json!({"email": other, "otp": otp}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Better Auth's answer: status, the session token when auto sign-in
    // after verification is on (it is not here), and the user.
    assert_eq!(r.json()["status"], true);
    assert_eq!(r.json()["token"], serde_json::Value::Null);
    assert_eq!(r.json()["user"]["email"], other.as_str());
    assert_eq!(r.json()["user"]["emailVerified"], true);
    assert_eq!(
        v.get("/get-session").await.json()["user"]["emailVerified"],
        true
    );

    // Unknown addresses: the same answer, no mail (verification and reset kinds).
    let ghost = email();
    let a = s
        .client()
        .post(
            "/email-otp/send-verification-otp",
            json!({"email": ghost, "type": "email-verification"}),
        )
        .await;
    let b2 = s
        .client()
        .post(
            "/email-otp/send-verification-otp",
            json!({"email": other, "type": "email-verification"}),
        )
        .await;
    assert_eq!((a.status, a.text), (b2.status, b2.text));
    sink.wait_for(&other, 2).await;
    assert_eq!(sink.count_to(&ghost), 0);
}

async fn otp_lockout_expiry_and_reset(b: Backend) {
    let sink = SmtpSink::start().await;
    let s = server(b, &sink).await;
    let (addr, _) = s.client().sign_up().await;
    let signed_in = s.client();
    signed_in
        .post(
            "/sign-in/email",
            json!({"email": addr, "password": PASSWORD}),
        )
        .await;

    s.client()
        .post("/forget-password/email-otp", json!({"email": addr}))
        .await;
    let otp = code(&sink, &addr, 1).await;
    let wrong = if otp == "000000" { "111111" } else { "000000" };
    let reset = |otp: &str| json!({"email": addr, "otp": otp, "password": "reset-by-code-1"});
    s.client()
        .post("/email-otp/reset-password", reset(wrong))
        .await
        .assert_error(400, "INVALID_OTP");
    s.client()
        .post("/email-otp/reset-password", reset(wrong))
        .await
        .assert_error(400, "INVALID_OTP");
    s.client()
        .post("/email-otp/reset-password", reset(wrong))
        .await
        .assert_error(400, "INVALID_OTP");
    // Three wrong guesses used it up: even the right code is refused, once
    // with TOO_MANY_ATTEMPTS, and then the code is gone (Better Auth's order).
    s.client()
        .post("/email-otp/reset-password", reset(&otp))
        .await
        .assert_error(403, "TOO_MANY_ATTEMPTS");
    s.client()
        .post("/email-otp/reset-password", reset(&otp))
        .await
        .assert_error(400, "INVALID_OTP");
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

    // A new code replaces the void one (asked for by Better Auth 1.7's name
    // for the route); it works, and every session ends.
    assert_eq!(
        s.client()
            .post("/email-otp/request-password-reset", json!({"email": addr}))
            .await
            .json(),
        json!({"success": true})
    );
    let otp = code(&sink, &addr, 2).await;
    s.client()
        .post(
            "/email-otp/reset-password",
            json!({"email": addr, "otp": otp, "password": "short"}),
        )
        .await
        .assert_error(400, "PASSWORD_TOO_SHORT");
    assert_eq!(
        s.client()
            .post("/email-otp/reset-password", reset(&otp))
            .await
            .json(),
        json!({"success": true})
    );
    assert_eq!(signed_in.get("/get-session").await.text, "null");
    let r = s
        .client()
        .post(
            "/sign-in/email",
            json!({"email": addr, "password": "reset-by-code-1"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json()["user"]["emailVerified"],
        true,
        "the code proved the address"
    );

    // Expiry.
    s.client()
        .post(
            "/email-otp/send-verification-otp",
            json!({"email": addr, "type": "sign-in"}),
        )
        .await;
    let otp = code(&sink, &addr, 3).await;
    s.clock.advance(Duration::minutes(6));
    s.client()
        .post("/sign-in/email-otp", json!({"email": addr, "otp": otp}))
        .await
        .assert_error(400, "OTP_EXPIRED");
}
