//! The anonymous plugin over HTTP: guest sign-in, the `isAnonymous` flag,
//! linking on later sign-in/sign-up (the library callback and the signed
//! webhook), a failing hook keeping the guest, and delete-anonymous-user.

use std::sync::{Arc, Mutex};

use gatehouse_server::plugins::anonymous::settings::LinkAccount;
use gatehouse_tests::webhook::WebhookSink;
use gatehouse_tests::{email, on_both_backends, Backend, Client, TestServer, PASSWORD};
use serde_json::{json, Value};

on_both_backends!(
    guests_get_a_flagged_user_and_session,
    linking_runs_the_callback_then_deletes_the_guest,
    a_failing_hook_keeps_the_guest,
    the_webhook_is_signed_and_awaited,
    delete_anonymous_user_rules,
);

async fn server_with(b: Backend, section: &str) -> TestServer {
    TestServer::with_plugin(b, "anonymous", section).await
}

async fn guest(c: &Client) -> Value {
    let r = c.post("/sign-in/anonymous", json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

async fn user_exists(s: &TestServer, id: &str) -> bool {
    gatehouse_server::db::store::find_user_by_id(s.db(), id)
        .await
        .unwrap()
        .is_some()
}

async fn guests_get_a_flagged_user_and_session(b: Backend) {
    let s = server_with(b, "").await;
    let c = s.client();
    let body = guest(&c).await;
    let user = &body["user"];
    assert_eq!(user["isAnonymous"], true);
    assert_eq!(user["name"], "Anonymous");
    assert_eq!(user["emailVerified"], false);
    let id = user["id"].as_str().unwrap();
    assert_eq!(
        user["email"].as_str().unwrap(),
        format!("{}@anonymous.placeholder.invalid", id.to_lowercase())
    );
    assert!(body["token"].is_string());
    let session = c.get("/get-session").await.json();
    assert_eq!(session["user"]["id"], id);
    assert_eq!(session["user"]["isAnonymous"], true);

    c.post("/sign-in/anonymous", json!({}))
        .await
        .assert_error(400, "ANONYMOUS_USERS_CANNOT_SIGN_IN_AGAIN_ANONYMOUSLY");
    c.post("/update-user", json!({"isAnonymous": false}))
        .await
        .assert_error(400, "VALIDATION_ERROR");
    assert_eq!(
        c.get("/get-session").await.json()["user"]["isAnonymous"],
        true
    );

    // Ordinary users are not anonymous.
    let other = s.client();
    let (_, signed_up) = other.sign_up().await;
    assert_eq!(signed_up["user"]["isAnonymous"], false);

    // A configured domain.
    let s2 = server_with(
        Backend::Sqlite,
        "[anonymous]\nemail_domain_name = \"guests.example.com\"\n",
    )
    .await;
    let body = guest(&s2.client()).await;
    let id = body["user"]["id"].as_str().unwrap().to_lowercase();
    assert_eq!(
        body["user"]["email"],
        format!("temp-{id}@guests.example.com")
    );
}

type Seen = Arc<Mutex<Vec<LinkAccount>>>;

fn record_links(s: &TestServer, fail: bool) -> Seen {
    let seen: Seen = Arc::default();
    let sink = seen.clone();
    s.gatehouse
        .api()
        .anonymous()
        .on_link_account(move |link| {
            let sink = sink.clone();
            Box::pin(async move {
                sink.lock().unwrap().push(link);
                if fail {
                    Err("the cart service is down".to_string())
                } else {
                    Ok(())
                }
            })
        })
        .unwrap();
    seen
}

async fn linking_runs_the_callback_then_deletes_the_guest(b: Backend) {
    let s = server_with(b, "").await;
    let seen = record_links(&s, false);

    // Guest -> sign-up.
    let c = s.client();
    let anon = guest(&c).await;
    let anon_id = anon["user"]["id"].as_str().unwrap().to_string();
    let addr = email();
    let r = c
        .post(
            "/sign-up/email",
            json!({"name": "Shopper", "email": addr, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let new_id = r.json()["user"]["id"].as_str().unwrap().to_string();
    {
        let links = seen.lock().unwrap();
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].anonymous_user["id"], anon_id.as_str());
        assert_eq!(links[0].anonymous_user["isAnonymous"], true);
        assert_eq!(links[0].new_user["id"], new_id.as_str());
        assert_eq!(links[0].new_user["email"], addr.as_str());
    }
    assert!(!user_exists(&s, &anon_id).await, "the guest is deleted");
    let session = c.get("/get-session").await.json();
    assert_eq!(session["user"]["id"], new_id.as_str());
    assert_eq!(session["user"]["isAnonymous"], false);

    // Guest -> sign-in of an existing account (email, then username).
    let c2 = s.client();
    let anon2 = guest(&c2).await["user"]["id"].as_str().unwrap().to_string();
    let r = c2
        .post(
            "/sign-in/email",
            json!({"email": addr, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(!user_exists(&s, &anon2).await);
    assert_eq!(seen.lock().unwrap().len(), 2);
    assert_eq!(seen.lock().unwrap()[1].new_user["id"], new_id.as_str());

    let named = s.client();
    let uname = format!(
        "shopper{}",
        gatehouse_tests::random_suffix(6).to_lowercase()
    );
    let r = named.post("/update-user", json!({"username": uname})).await;
    assert_eq!(r.status, 401, "signed out");
    named
        .post(
            "/sign-in/email",
            json!({"email": addr, "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        named
            .post("/update-user", json!({"username": uname}))
            .await
            .status,
        200
    );
    let c3 = s.client();
    let anon3 = guest(&c3).await["user"]["id"].as_str().unwrap().to_string();
    let r = c3
        .post(
            "/sign-in/username",
            json!({"username": uname, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(!user_exists(&s, &anon3).await);

    // A plain sign-in (no guest) runs nothing.
    let before = seen.lock().unwrap().len();
    s.client()
        .post(
            "/sign-in/email",
            json!({"email": addr, "password": PASSWORD}),
        )
        .await;
    assert_eq!(seen.lock().unwrap().len(), before);
}

async fn a_failing_hook_keeps_the_guest(b: Backend) {
    let s = server_with(b, "").await;
    let seen = record_links(&s, true);
    let c = s.client();
    let anon_id = guest(&c).await["user"]["id"].as_str().unwrap().to_string();
    let (_, body) = c.sign_up().await;
    assert!(body["token"].is_string(), "the sign-up itself succeeds");
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert!(
        user_exists(&s, &anon_id).await,
        "nothing the app attached is lost"
    );
}

const WEBHOOK_SECRET: &str = "webhook-secret-0123456789";

async fn the_webhook_is_signed_and_awaited(b: Backend) {
    for (status, deleted) in [(200u16, true), (500, false)] {
        let hook = WebhookSink::start("/hooks/link", status).await;
        let s = server_with(
            b.clone(),
            &format!(
                "[anonymous]\non_link_account_url = \"{}\"\nwebhook_secret = \"{WEBHOOK_SECRET}\"\n",
                hook.url
            ),
        )
        .await;
        let c = s.client();
        let anon_id = guest(&c).await["user"]["id"].as_str().unwrap().to_string();
        let (addr, _) = c.sign_up().await;
        let got = hook.received();
        assert_eq!(got.len(), 1, "the webhook ran before the answer");
        got[0]
            .signed_with(WEBHOOK_SECRET)
            .expect("HMAC over timestamp.body");
        assert!(got[0].signed_with("another-secret-0123456789").is_err());
        let json: Value = serde_json::from_str(&got[0].body).unwrap();
        assert_eq!(json["type"], "anonymous.link_account");
        assert_eq!(json["anonymousUser"]["id"], anon_id.as_str());
        assert_eq!(json["newUser"]["email"], addr.as_str());
        assert_eq!(user_exists(&s, &anon_id).await, !deleted, "status {status}");
    }
}

async fn delete_anonymous_user_rules(b: Backend) {
    let s = server_with(b.clone(), "").await;
    let c = s.client();
    c.post("/delete-anonymous-user", json!({}))
        .await
        .assert_error(401, "UNAUTHORIZED");
    let anon_id = guest(&c).await["user"]["id"].as_str().unwrap().to_string();
    let r = c.post("/delete-anonymous-user", json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json(), json!({"success": true}));
    let line = r
        .set_cookie("better-auth.session_token")
        .expect("cookie cleared");
    assert!(line.contains("Max-Age=0"), "{line}");
    assert!(!user_exists(&s, &anon_id).await);
    assert!(c.get("/get-session").await.json().is_null());

    let member = s.client();
    member.sign_up().await;
    member
        .post("/delete-anonymous-user", json!({}))
        .await
        .assert_error(403, "USER_IS_NOT_ANONYMOUS");

    let s2 = server_with(b, "[anonymous]\ndisable_delete_anonymous_user = true\n").await;
    let c2 = s2.client();
    let kept = guest(&c2).await["user"]["id"].as_str().unwrap().to_string();
    c2.post("/delete-anonymous-user", json!({}))
        .await
        .assert_error(400, "DELETE_ANONYMOUS_USER_DISABLED");
    // With deletion disabled, linking keeps the guest too.
    c2.sign_up().await;
    assert!(user_exists(&s2, &kept).await);
}
