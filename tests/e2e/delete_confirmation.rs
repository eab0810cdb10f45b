//! Deleting an account with an emailed confirmation link, over real SMTP.

use gatehouse_server::db::store;
use gatehouse_tests::smtp::SmtpSink;
use gatehouse_tests::{on_both_backends, Backend, TestServer, PASSWORD};
use serde_json::json;

on_both_backends!(delete_user_confirmed_by_mail);

async fn delete_user_confirmed_by_mail(b: Backend) {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let s = TestServer::start_with(b, move |c| {
        c.mail.smtp_url = Some(url);
        c.user.delete_enabled = true;
        c.user.delete_email_confirmation = true;
    })
    .await;
    let c = s.client();
    let (addr, body) = c.sign_up().await;
    let user_id = body["user"]["id"].as_str().unwrap().to_string();

    c.post("/delete-user", json!({"password": "not-the-password"}))
        .await
        .assert_error(400, "INVALID_PASSWORD");
    let r = c
        .post("/delete-user", json!({"callbackURL": "/goodbye"}))
        .await;
    assert_eq!(
        r.json(),
        json!({"success": true, "message": "Verification email sent"})
    );
    assert!(
        store::find_user_by_id(s.db(), &user_id)
            .await
            .unwrap()
            .is_some(),
        "nothing deleted yet"
    );

    let mail = sink.wait_for(&addr, 1).await;
    let link = mail
        .link("/delete-user/callback?token=")
        .expect("absolute link");
    assert!(link.ends_with("&callbackURL=%2Fgoodbye"), "{link}");
    let path = link.strip_prefix(&s.base).unwrap().to_string();

    // The link needs the user's own session.
    s.client()
        .get(&path)
        .await
        .assert_error(404, "FAILED_TO_GET_USER_INFO");
    let other = s.client();
    other.sign_up().await;
    other.get(&path).await.assert_error(404, "INVALID_TOKEN");
    assert!(
        store::find_user_by_id(s.db(), &user_id)
            .await
            .unwrap()
            .is_some(),
        "a stranger's session spent nothing but the token"
    );

    // A fresh link, opened by the owner: deleted, cookies expired, 302 to the callback.
    c.post("/delete-user", json!({"callbackURL": "/goodbye"}))
        .await;
    let path = sink
        .wait_for(&addr, 2)
        .await
        .link("/delete-user/callback")
        .unwrap()
        .strip_prefix(&s.base)
        .unwrap()
        .to_string();
    let done = c.get(&path).await;
    assert_eq!(done.status, 302, "{}", done.text);
    assert_eq!(done.header("location").as_deref(), Some("/goodbye"));
    assert!(done
        .set_cookie("better-auth.session_token")
        .unwrap()
        .contains("Max-Age=0"));
    assert!(store::find_user_by_id(s.db(), &user_id)
        .await
        .unwrap()
        .is_none());
    s.client()
        .post(
            "/sign-in/email",
            json!({"email": addr, "password": PASSWORD}),
        )
        .await
        .assert_error(401, "INVALID_EMAIL_OR_PASSWORD");
}
