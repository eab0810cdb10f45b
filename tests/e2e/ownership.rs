//! Account pre-hijacking: someone registers an address they do not own and
//! keeps the session. Every path by which the real owner proves the address
//! (email-OTP sign-in, email-OTP verify-email, the verification link, the
//! magic link) must remove what the squatter set up: sessions, password,
//! second factor, passkeys. A proof that carries the registrant's own
//! session keeps everything.

use gatehouse_server::plugins::passkey::settings::PasskeySettings;
use gatehouse_server::plugins::passkey::store::{self as passkeys, PasskeyRow};
use gatehouse_server::plugins::two_factor::store as two_factor;
use gatehouse_tests::smtp::SmtpSink;
use gatehouse_tests::{email, on_both_backends, Backend, Client, TestServer, PASSWORD};
use serde_json::json;

on_both_backends!(
    otp_sign_in_removes_the_squatter,
    otp_verify_email_removes_the_squatter,
    verification_link_removes_the_squatter,
    magic_link_removes_the_squatter,
    registrant_verifying_keeps_password_and_session,
    registrant_links_and_required_verification_keep_the_password,
);

async fn server(b: Backend, sink: &SmtpSink) -> TestServer {
    server_with(b, sink, |_| {}).await
}

async fn server_with(
    b: Backend,
    sink: &SmtpSink,
    configure: impl FnOnce(&mut gatehouse_server::Config) + Send + 'static,
) -> TestServer {
    let url = sink.url();
    TestServer::start_with(b, move |c| {
        c.mail.smtp_url = Some(url);
        for p in ["email-otp", "magic-link", "two-factor", "passkey"] {
            c.plugins.push(p.into());
        }
        c.set_plugin_settings(
            "passkey",
            &PasskeySettings {
                rp_id: Some("localhost".into()),
                origin: Some("http://localhost:5173".into()),
                ..Default::default()
            },
        );
        configure(c);
    })
    .await
}

struct Squatter {
    client: Client,
    user_id: String,
    addr: String,
}

/// Registers `addr` with a password, enrols a second factor and a passkey,
/// and keeps the session: everything an intruder would leave behind.
async fn squat(s: &TestServer) -> Squatter {
    let addr = email();
    let client = s.client();
    let r = client
        .post(
            "/sign-up/email",
            json!({"name": "Squatter", "email": addr, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["user"]["emailVerified"], false);
    let user_id = r.json()["user"]["id"].as_str().unwrap().to_string();
    let r = client
        .post("/two-factor/enable", json!({"password": PASSWORD}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    passkeys::insert(
        s.db(),
        &PasskeyRow {
            id: format!("pk-{user_id}"),
            name: Some("squatter's key".into()),
            public_key: "e30".into(),
            user_id: user_id.clone(),
            credential_id: format!("cred-{user_id}"),
            counter: 0,
            device_type: "singleDevice".into(),
            backed_up: false,
            transports: None,
            created_at: None,
            aaguid: None,
        },
    )
    .await
    .unwrap();
    assert!(two_factor::find(s.db(), &user_id).await.unwrap().is_some());
    Squatter {
        client,
        user_id,
        addr,
    }
}

/// Nothing the squatter set up works any more, and the address is verified.
async fn assert_squatter_gone(s: &TestServer, sq: &Squatter) {
    assert_eq!(
        sq.client.get("/get-session").await.text,
        "null",
        "the squatter's session is gone"
    );
    s.client()
        .post(
            "/sign-in/email",
            json!({"email": sq.addr, "password": PASSWORD}),
        )
        .await
        .assert_error(401, "INVALID_EMAIL_OR_PASSWORD");
    assert!(
        two_factor::find(s.db(), &sq.user_id)
            .await
            .unwrap()
            .is_none(),
        "the squatter's second factor is gone"
    );
    assert!(
        !two_factor::is_enabled(s.db(), &sq.user_id).await.unwrap(),
        "twoFactorEnabled is off"
    );
    assert!(
        passkeys::list(s.db(), &sq.user_id)
            .await
            .unwrap()
            .is_empty(),
        "the squatter's passkeys are gone"
    );
    let user = gatehouse_server::db::store::find_user_by_id(s.db(), &sq.user_id)
        .await
        .unwrap()
        .expect("the account itself stays, now the owner's");
    assert!(user.email_verified);
}

/// The path (under the API base) of the link in the `n`th mail to `to`,
/// without its default `callbackURL`, so the answer is JSON.
async fn mailed_link(s: &TestServer, sink: &SmtpSink, to: &str, n: usize, needle: &str) -> String {
    let link = sink
        .wait_for(to, n)
        .await
        .link(needle)
        .unwrap_or_else(|| panic!("no {needle} link"));
    link.strip_prefix(&s.base)
        .unwrap()
        .replace("&callbackURL=%2F", "")
}

async fn otp(sink: &SmtpSink, to: &str, n: usize) -> String {
    let mail = sink.wait_for(to, n).await;
    mail.code(6)
        .unwrap_or_else(|| panic!("no code in {}", mail.decoded()))
}

/// Asks for a code of `kind` for `addr` as `c` and reads the `n`th mail.
async fn mailed_code(c: &Client, sink: &SmtpSink, addr: &str, kind: &str, n: usize) -> String {
    c.post(
        "/email-otp/send-verification-otp",
        json!({"email": addr, "type": kind}),
    )
    .await;
    otp(sink, addr, n).await
}

async fn otp_sign_in_removes_the_squatter(b: Backend) {
    let sink = SmtpSink::start().await;
    let s = server(b, &sink).await;
    let sq = squat(&s).await;

    let owner = s.client();
    let code = mailed_code(&owner, &sink, &sq.addr, "sign-in", 1).await;
    let r = owner
        .post("/sign-in/email-otp", json!({"email": sq.addr, "otp": code}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["user"]["id"], sq.user_id.as_str());
    assert_eq!(r.json()["user"]["emailVerified"], true);

    assert_squatter_gone(&s, &sq).await;
    // The owner's own new session is the one that works.
    assert_eq!(
        owner.get("/get-session").await.json()["user"]["id"],
        sq.user_id.as_str()
    );
}

async fn otp_verify_email_removes_the_squatter(b: Backend) {
    let sink = SmtpSink::start().await;
    let s = server(b, &sink).await;
    let sq = squat(&s).await;

    let owner = s.client();
    let code = mailed_code(&owner, &sink, &sq.addr, "email-verification", 1).await;
    let r = owner
        .post(
            "/email-otp/verify-email",
            json!({"email": sq.addr, "otp": code}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_squatter_gone(&s, &sq).await;
}

async fn verification_link_removes_the_squatter(b: Backend) {
    let sink = SmtpSink::start().await;
    let s = server(b, &sink).await;
    let sq = squat(&s).await;

    // The owner asks for a link (signed out) and follows it from a browser
    // that holds no session of the account.
    let owner = s.client();
    owner
        .post("/send-verification-email", json!({"email": sq.addr}))
        .await;
    let path = mailed_link(&s, &sink, &sq.addr, 1, "/verify-email?token=").await;
    let r = owner.get(&path).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["status"], true);
    assert_squatter_gone(&s, &sq).await;
}

async fn magic_link_removes_the_squatter(b: Backend) {
    let sink = SmtpSink::start().await;
    let s = server(b, &sink).await;
    let sq = squat(&s).await;

    let owner = s.client();
    owner
        .post("/sign-in/magic-link", json!({"email": sq.addr}))
        .await;
    let path = mailed_link(&s, &sink, &sq.addr, 1, "/magic-link/verify?token=").await;
    let r = owner.get(&path).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["user"]["id"], sq.user_id.as_str());
    assert_squatter_gone(&s, &sq).await;
}

async fn registrant_verifying_keeps_password_and_session(b: Backend) {
    let sink = SmtpSink::start().await;
    let s = server(b, &sink).await;

    // By link, from the browser that signed up.
    let sq = squat(&s).await;
    sq.client
        .post("/send-verification-email", json!({"email": sq.addr}))
        .await;
    let path = mailed_link(&s, &sink, &sq.addr, 1, "/verify-email?token=").await;
    assert_eq!(sq.client.get(&path).await.status, 200);
    let me = sq.client.get("/get-session").await.json();
    assert_eq!(me["user"]["emailVerified"], true);
    assert!(two_factor::find(s.db(), &sq.user_id)
        .await
        .unwrap()
        .is_some());

    // By email-OTP verify-email, with the registrant's session.
    let other = squat(&s).await;
    let code = mailed_code(&other.client, &sink, &other.addr, "email-verification", 1).await;
    let r = other
        .client
        .post(
            "/email-otp/verify-email",
            json!({"email": other.addr, "otp": code}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        other.client.get("/get-session").await.json()["user"]["emailVerified"],
        true
    );
    for who in [&sq, &other] {
        let r = s
            .client()
            .post(
                "/sign-in/email",
                json!({"email": who.addr, "password": PASSWORD}),
            )
            .await;
        // The password still signs in (the enrolment is not yet activated
        // by a first code, so no challenge).
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json()["user"]["id"], who.user_id.as_str());
    }
}

async fn registrant_links_and_required_verification_keep_the_password(b: Backend) {
    // The link mailed at sign-up confirms that registration, even when it
    // is opened on another device (no session there).
    let sink = SmtpSink::start().await;
    let s = server_with(b.clone(), &sink, |c| {
        c.email_verification.send_on_sign_up = Some(true)
    })
    .await;
    let addr = email();
    let r = s
        .client()
        .post(
            "/sign-up/email",
            json!({"name": "R", "email": addr, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200);
    let laptop_session = r.json()["token"].as_str().unwrap().to_string();
    let path = mailed_link(&s, &sink, &addr, 1, "/verify-email?token=").await;
    let phone = s.client();
    assert_eq!(phone.get(&path).await.json()["status"], true);
    let r = s
        .client()
        .post(
            "/sign-in/email",
            json!({"email": addr, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["user"]["emailVerified"], true);
    let bearer = s
        .client()
        .request(
            s.client()
                .raw()
                .get(format!("{}/get-session", s.base))
                .bearer_auth(&laptop_session),
        )
        .await;
    assert_eq!(
        bearer.json()["user"]["email"],
        addr.as_str(),
        "the sign-up session stays"
    );

    // With required verification nobody could use the account before the
    // code, so confirming by address keeps the password it was made with.
    let sink = SmtpSink::start().await;
    let s = server_with(b, &sink, |c| {
        c.email_and_password.require_email_verification = true
    })
    .await;
    let addr = email();
    let r = s
        .client()
        .post(
            "/sign-up/email",
            json!({"name": "R", "email": addr, "password": PASSWORD}),
        )
        .await;
    assert!(r.json()["token"].is_null());
    let c = s.client();
    let code = mailed_code(&c, &sink, &addr, "email-verification", 2).await;
    let r = c
        .post(
            "/email-otp/verify-email",
            json!({"email": addr, "otp": code}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = s
        .client()
        .post(
            "/sign-in/email",
            json!({"email": addr, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["user"]["emailVerified"], true);
}
