//! Changing the email address through mailed links, over real SMTP.

use gatehouse_tests::smtp::SmtpSink;
use gatehouse_tests::{email, on_both_backends, Backend, TestServer, PASSWORD};
use serde_json::json;

on_both_backends!(
    change_email_verified_at_new_address,
    change_email_confirmed_by_old_address
);

async fn server(b: Backend, sink: &SmtpSink, confirm_old: bool) -> TestServer {
    let url = sink.url();
    TestServer::start_with(b, move |c| {
        c.mail.smtp_url = Some(url);
        c.user.change_email_enabled = true;
        c.user.change_email_confirm_old = confirm_old;
    })
    .await
}

async fn change_email_verified_at_new_address(b: Backend) {
    let sink = SmtpSink::start().await;
    let s = server(b, &sink, false).await;
    let c = s.client();
    let (old, _) = c.sign_up().await;
    let new = email();

    c.post("/change-email", json!({"newEmail": old.to_uppercase()}))
        .await
        .assert_error(400, "EMAIL_IS_THE_SAME");
    c.post("/change-email", json!({"newEmail": "nope"}))
        .await
        .assert_error(400, "VALIDATION_ERROR");
    c.post(
        "/change-email",
        json!({"newEmail": new, "callbackURL": "https://evil.example"}),
    )
    .await
    .assert_error(403, "INVALID_CALLBACK_URL");
    s.client()
        .post("/change-email", json!({"newEmail": new}))
        .await
        .assert_error(401, "UNAUTHORIZED");

    // An address someone else holds: the same answer, and no mail.
    let (taken, _) = s.client().sign_up().await;
    assert_eq!(
        c.post("/change-email", json!({"newEmail": taken}))
            .await
            .json(),
        json!({"status": true})
    );

    assert_eq!(
        c.post("/change-email", json!({"newEmail": new.to_uppercase()}))
            .await
            .json(),
        json!({"status": true})
    );
    let link = sink
        .wait_for(&new, 1)
        .await
        .link("/verify-email?token=")
        .unwrap();
    assert_eq!(
        c.get("/get-session").await.json()["user"]["email"],
        old.as_str(),
        "unchanged until the link is opened"
    );
    let r = c.get(link.strip_prefix(&s.base).unwrap()).await;
    assert_eq!(r.status, 302, "{}", r.text);
    let me = c.get("/get-session").await.json();
    assert_eq!(me["user"]["email"], new.as_str());
    assert_eq!(me["user"]["emailVerified"], true);
    assert_eq!(sink.count_to(&taken), 0);
    s.client()
        .post(
            "/sign-in/email",
            json!({"email": old, "password": PASSWORD}),
        )
        .await
        .assert_error(401, "INVALID_EMAIL_OR_PASSWORD");
    assert_eq!(
        s.client()
            .post(
                "/sign-in/email",
                json!({"email": new, "password": PASSWORD})
            )
            .await
            .status,
        200
    );

    let off = TestServer::start(Backend::Sqlite).await;
    let oc = off.client();
    oc.sign_up().await;
    oc.post("/change-email", json!({"newEmail": email()}))
        .await
        .assert_error(400, "CHANGE_EMAIL_DISABLED");
}

async fn change_email_confirmed_by_old_address(b: Backend) {
    let sink = SmtpSink::start().await;
    let s = server(b, &sink, true).await;
    let c = s.client();
    let (old, _) = c.sign_up().await;
    let new = email();
    c.post("/change-email", json!({"newEmail": new})).await;
    let confirm = sink.wait_for(&old, 1).await;
    assert_eq!(
        confirm.subject().as_deref(),
        Some("Confirm changing your Gatehouse email")
    );
    assert_eq!(
        sink.count_to(&new),
        0,
        "nothing to the new address before the old one approves"
    );
    let path = confirm
        .link("/verify-email?token=")
        .unwrap()
        .strip_prefix(&s.base)
        .unwrap()
        .replace("&callbackURL=%2F", "");
    assert_eq!(s.client().get(&path).await.json()["status"], true);
    assert_eq!(
        c.get("/get-session").await.json()["user"]["email"],
        old.as_str()
    );

    let verify = sink
        .wait_for(&new, 1)
        .await
        .link("/verify-email?token=")
        .unwrap();
    let path = verify
        .strip_prefix(&s.base)
        .unwrap()
        .replace("&callbackURL=%2F", "");
    let r = c.get(&path).await;
    assert_eq!(r.json()["user"]["email"], new.as_str(), "{}", r.text);
    s.client()
        .get(&path)
        .await
        .assert_error(401, "INVALID_TOKEN");
}
