//! The Rust client drives a two-factor sign-in end to end: enable TOTP, sign
//! in (answered with `ChallengeRequired`), finish with a TOTP code, an
//! emailed code (real SMTP) and a backup code, trust the device.

use chrono::Duration;
use gatehouse::{types, AuthClient, AuthError, ErrorCode, Plugin};
use gatehouse_tests::smtp::SmtpSink;
use gatehouse_tests::{Backend, TestServer, PASSWORD};
use serde_json::json;
use totp_rs::Totp;

fn code(server: &TestServer, app: &Totp) -> String {
    let now = server.gatehouse.state().now().and_utc().timestamp() as u64;
    app.generate(now).to_string()
}

fn code_body(code: &str, trust_device: bool) -> types::builder::TwoFactorVerifyCodeBody {
    types::TwoFactorVerifyCodeBody::builder()
        .code(code)
        .trust_device(Some(trust_device))
}

async fn client(server: &TestServer) -> AuthClient {
    AuthClient::builder(&server.origin)
        .plugin(Plugin::TwoFactor)
        .build()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_factor_sign_in_through_the_client() {
    let sink = SmtpSink::start().await;
    let smtp = sink.url();
    let server = TestServer::start_with(Backend::Sqlite, move |c| {
        c.mail.smtp_url = Some(smtp);
        c.plugins.push("two-factor".into());
    })
    .await;
    let addr = gatehouse_tests::email();
    let owner = client(&server).await;
    owner
        .sign_up_email("Two Step", &addr, PASSWORD)
        .await
        .unwrap();
    let tf = owner.two_factor().unwrap();
    let setup = tf
        .enable(types::TwoFactorEnableBody::builder().password(PASSWORD))
        .await
        .unwrap();
    let uri = setup.totp_uri.expect("a TOTP URI");
    assert_eq!(setup.backup_codes.len(), 10);
    let app = Totp::from_url(&uri).unwrap();
    let first = tf
        .verify_totp(code_body(&code(&server, &app), false))
        .await
        .unwrap();
    assert_eq!(first.user.email, addr);
    server.clock.advance(Duration::seconds(30));

    // Sign-in on another client: a typed challenge, no session yet.
    let phone = client(&server).await;
    let err = phone.sign_in_email(&addr, PASSWORD).await.unwrap_err();
    match &err {
        AuthError::ChallengeRequired { challenge } => {
            assert_eq!(challenge["twoFactorRedirect"], json!(true));
            assert_eq!(challenge["twoFactorMethods"], json!(["totp", "otp"]));
        }
        other => panic!("expected ChallengeRequired, got {other:?}"),
    }
    assert_eq!(err.code(), ErrorCode::SignInChallenge);
    assert!(phone.get_session().await.unwrap().is_none());
    let wrong = phone
        .two_factor()
        .unwrap()
        .verify_totp(code_body("000000x", false))
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), ErrorCode::InvalidCode);
    assert_eq!(wrong.status(), Some(401));
    let done = phone
        .two_factor()
        .unwrap()
        .verify_totp(code_body(&code(&server, &app), false))
        .await
        .unwrap();
    let session = phone.get_session().await.unwrap().expect("signed in");
    assert_eq!(Some(session.session.token), done.token);
    assert_eq!(session.user.email, addr);

    // By email, trusting the device: the next sign-in needs no second factor.
    let laptop = client(&server).await;
    assert!(matches!(
        laptop.sign_in_email(&addr, PASSWORD).await,
        Err(AuthError::ChallengeRequired { .. })
    ));
    laptop
        .two_factor()
        .unwrap()
        .send_otp(types::TwoFactorSendOtpBody::builder())
        .await
        .unwrap();
    let mailed = sink.wait_for(&addr, 1).await.code(6).expect("a code");
    laptop
        .two_factor()
        .unwrap()
        .verify_otp(code_body(&mailed, true))
        .await
        .unwrap();
    laptop.sign_out().await.unwrap();
    let again = laptop.sign_in_email(&addr, PASSWORD).await.unwrap();
    assert_eq!(again.user.email, addr);

    // A backup code works once.
    let tablet = client(&server).await;
    let _ = tablet.sign_in_email(&addr, PASSWORD).await.unwrap_err();
    let backup = &setup.backup_codes[0];
    tablet
        .two_factor()
        .unwrap()
        .verify_backup_code(
            types::TwoFactorVerifyBackupCodeBody::builder()
                .code(backup)
                .trust_device(Some(false)),
        )
        .await
        .unwrap();
    let other = client(&server).await;
    let _ = other.sign_in_email(&addr, PASSWORD).await.unwrap_err();
    let reused = other
        .two_factor()
        .unwrap()
        .verify_backup_code(
            types::TwoFactorVerifyBackupCodeBody::builder()
                .code(backup)
                .trust_device(Some(false)),
        )
        .await
        .unwrap_err();
    assert_eq!(reused.code(), ErrorCode::InvalidBackupCode);

    // Disabled: one step again.
    owner
        .two_factor()
        .unwrap()
        .disable(types::TwoFactorPasswordBody::builder().password(PASSWORD))
        .await
        .unwrap();
    let plain = client(&server).await;
    assert!(plain.sign_in_email(&addr, PASSWORD).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_factor_namespace_mirrors_registration() {
    let server = TestServer::start(Backend::Sqlite).await;
    let err = AuthClient::builder(&server.origin)
        .plugin(Plugin::TwoFactor)
        .build()
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::PluginNotEnabled);
    let plain = AuthClient::builder(&server.origin).build().await.unwrap();
    assert!(matches!(
        plain.two_factor(),
        Err(AuthError::PluginNotEnabled { plugin }) if plugin == "two-factor"
    ));
}
