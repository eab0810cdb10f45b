//! The Rust client drives mailed sign-in end to end (magic link, email OTP):
//! read the mail from a real SMTP exchange, act on it, hold the session.

use gatehouse::{types, AuthClient, ErrorCode, Plugin};
use gatehouse_tests::smtp::SmtpSink;
use gatehouse_tests::{email, Backend, TestServer};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn magic_link_sign_in_through_the_client() {
    let sink = SmtpSink::start().await;
    let smtp = sink.url();
    let server = TestServer::start_with(Backend::Sqlite, move |c| {
        c.mail.smtp_url = Some(smtp);
        c.plugins.push("magic-link".into());
    })
    .await;
    let client = AuthClient::builder(&server.origin)
        .plugin(Plugin::MagicLink)
        .build()
        .await
        .unwrap();
    client.require_plugin("magic-link").unwrap();
    let addr = email();

    let sent = client
        .magic_link()
        .unwrap()
        .sign_in_magic_link(
            types::SignInMagicLinkBody::builder()
                .email(&addr)
                .name(Some("Rusty Link".into())),
        )
        .await
        .unwrap();
    assert!(sent.status);
    let link = sink
        .wait_for(&addr, 1)
        .await
        .link("/magic-link/verify?token=")
        .unwrap();
    let path = link
        .strip_prefix(&server.base)
        .unwrap()
        .replace("&callbackURL=%2F", "");

    let token = path
        .split("token=")
        .nth(1)
        .and_then(|t| t.split('&').next())
        .unwrap()
        .to_string();
    let signed_in = client
        .magic_link()
        .unwrap()
        .verify(None, None, None, token)
        .await
        .unwrap();
    assert_eq!(signed_in.user.email, addr);
    let session = client
        .get_session()
        .await
        .unwrap()
        .expect("the client holds the new session");
    assert_eq!(session.user.name, "Rusty Link");
    assert!(session.user.email_verified);
    assert_eq!(session.session.token, signed_in.token);

    // A spent link redirects to `/?error=INVALID_TOKEN` (Better Auth's
    // answer to a browser); the client reads the code from it.
    let reused = client.request("GET", &path, None).await.unwrap_err();
    assert_eq!(reused.code(), ErrorCode::InvalidToken);
    assert_eq!(reused.status(), Some(302));

    // A server without the plugin: registration fails before any request to its routes.
    let plain = TestServer::start(Backend::Sqlite).await;
    let err = AuthClient::builder(&plain.origin)
        .plugin(Plugin::MagicLink)
        .build()
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::PluginNotEnabled);
}

/// The Rust client drives email-OTP sign-in end to end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_otp_sign_in_through_the_client() {
    let sink = SmtpSink::start().await;
    let smtp = sink.url();
    let server = TestServer::start_with(Backend::Sqlite, move |c| {
        c.mail.smtp_url = Some(smtp);
        c.plugins.push("email-otp".into());
    })
    .await;
    let client = AuthClient::builder(&server.origin)
        .plugin(Plugin::EmailOtp)
        .build()
        .await
        .unwrap();
    let addr = email();
    let sent = client
        .email_otp()
        .unwrap()
        .send_verification_otp(types::SendOtpBody::builder().email(&addr).type_("sign-in"))
        .await
        .unwrap();
    assert!(sent.success);
    let otp = sink
        .wait_for(&addr, 1)
        .await
        .code(6)
        .expect("a 6-digit code");

    let wrong = if otp == "000000" { "111111" } else { "000000" };
    let err = client
        .request(
            "POST",
            "/sign-in/email-otp",
            Some(&json!({"email": addr, "otp": wrong})),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidOtp);
    assert_eq!(err.status(), Some(400));

    let signed_in = client
        .request(
            "POST",
            "/sign-in/email-otp",
            Some(&json!({"email": addr, "otp": otp})),
        )
        .await
        .unwrap();
    assert_eq!(signed_in["user"]["email"], addr.as_str());
    let session = client
        .get_session()
        .await
        .unwrap()
        .expect("the client holds the new session");
    assert_eq!(
        Some(session.session.token.as_str()),
        signed_in["token"].as_str()
    );
    assert!(session.user.email_verified);
}
