//! The two-factor plugin over HTTP. TOTP codes come from an independent
//! implementation (the `totp-rs` crate, reading the returned `otpauth://`
//! URI); emailed codes come through a real SMTP exchange.

use chrono::Duration;
use gatehouse_server::plugins::two_factor::store;
use gatehouse_tests::smtp::SmtpSink;
use gatehouse_tests::{on_both_backends, Backend, Client, TestServer, PASSWORD};
use serde_json::{json, Value};
use totp_rs::Totp;

on_both_backends!(
    totp_enable_sign_in_and_reuse,
    backup_codes_attempts_and_lockout,
    emailed_code_trusted_device_and_disable,
    otp_method_and_missing_challenge,
    stricter_rate_limit,
);

async fn server(b: Backend, sink: &SmtpSink) -> TestServer {
    let url = sink.url();
    TestServer::start_with(b, move |c| {
        c.mail.smtp_url = Some(url);
        c.plugins.push("two-factor".into());
    })
    .await
}

/// The authenticator app: totp-rs reading the URI the server returned.
struct Authenticator(Totp);

impl Authenticator {
    fn new(uri: &str) -> Self {
        Authenticator(Totp::from_url(uri).unwrap_or_else(|e| panic!("bad URI {uri}: {e:?}")))
    }

    /// The code shown at the server's (manual) clock time.
    fn code(&self, s: &TestServer) -> String {
        let now = s.gatehouse.state().now().and_utc().timestamp() as u64;
        self.0.generate(now).to_string()
    }
}

/// Signs up and enables TOTP; returns (client, email, user id, app, backup codes).
async fn enabled_user(s: &TestServer) -> (Client, String, String, Authenticator, Vec<String>) {
    let c = s.client();
    let (addr, body) = c.sign_up().await;
    let user_id = body["user"]["id"].as_str().unwrap().to_string();
    let r = c
        .post("/two-factor/enable", json!({"password": PASSWORD}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let j = r.json();
    let app = Authenticator::new(j["totpURI"].as_str().unwrap());
    let codes: Vec<String> = serde_json::from_value(j["backupCodes"].clone()).unwrap();
    let r = c
        .post("/two-factor/verify-totp", json!({"code": app.code(s)}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // The next code must come from a later step: this one is spent.
    s.clock.advance(Duration::seconds(30));
    (c, addr, user_id, app, codes)
}

async fn sign_in(_s: &TestServer, c: &Client, addr: &str) -> Value {
    let r = c
        .post(
            "/sign-in/email",
            json!({"email": addr, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

async fn session_user(c: &Client) -> Value {
    c.get("/get-session").await.json()["user"].clone()
}

async fn totp_enable_sign_in_and_reuse(b: Backend) {
    let sink = SmtpSink::start().await;
    let s = server(b, &sink).await;
    let c = s.client();
    let (addr, body) = c.sign_up().await;
    let user_id = body["user"]["id"].as_str().unwrap().to_string();
    assert_eq!(body["user"]["twoFactorEnabled"], json!(false));

    c.post("/two-factor/enable", json!({"password": "wrong-password"}))
        .await
        .assert_error(400, "INVALID_PASSWORD");
    let j = c
        .post("/two-factor/enable", json!({"password": PASSWORD}))
        .await
        .json();
    assert_eq!(j["method"], "totp");
    let uri = j["totpURI"].as_str().unwrap();
    assert!(
        uri.starts_with(&format!(
            "otpauth://totp/Gatehouse:{}?secret=",
            addr.replace('@', "%40")
        )) && uri.ends_with("&issuer=Gatehouse&digits=6&period=30"),
        "{uri}"
    );
    let codes = j["backupCodes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    for code in codes {
        let code = code.as_str().unwrap();
        assert!(code.len() == 11 && code.as_bytes()[5] == b'-', "{code}");
    }
    let app = Authenticator::new(uri);

    // The secret is stored sealed, never as the key the URI carries.
    let row = store::find(s.db(), &user_id).await.unwrap().unwrap();
    let key = String::from_utf8(app.0.secret().as_bytes().to_vec()).unwrap();
    assert_eq!(key.len(), 32);
    assert!(!row.secret.contains(&key) && row.secret.len() > 100);
    assert!(!row.backup_codes.contains(codes[0].as_str().unwrap()));
    assert_eq!(row.verified, Some(false));

    // Not active until a first code is verified: sign-in still gives a session.
    assert_eq!(session_user(&c).await["twoFactorEnabled"], json!(false));
    let before = s.client();
    assert!(sign_in(&s, &before, &addr).await["token"].is_string());

    let first = app.code(&s);
    let r = c
        .post("/two-factor/verify-totp", json!({"code": first}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Better Auth's answer: the user as the request found it; the session
    // moves to a new one (the old token is gone), which has 2FA on.
    assert_eq!(r.json()["user"]["twoFactorEnabled"], json!(false));
    let old_token = r.json()["token"].as_str().unwrap().to_string();
    assert!(r
        .set_cookie("better-auth.session_token")
        .is_some_and(|c| !c.contains(&old_token)));
    assert_eq!(session_user(&c).await["twoFactorEnabled"], json!(true));
    assert_ne!(
        c.get("/get-session").await.json()["session"]["token"],
        json!(old_token)
    );
    // The same code again, in the same 30-second step: refused.
    c.post("/two-factor/verify-totp", json!({"code": first}))
        .await
        .assert_error(401, "INVALID_CODE");

    // A password sign-in now yields a challenge and no session.
    let c2 = s.client();
    let r = c2
        .post(
            "/sign-in/email",
            json!({"email": addr, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!({"twoFactorRedirect": true, "twoFactorMethods": ["totp", "otp"]})
    );
    let cookie = r
        .set_cookie("better-auth.two_factor")
        .expect("challenge cookie");
    assert!(
        cookie.contains("Max-Age=600") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    assert!(r
        .set_cookie("better-auth.session_token")
        .is_some_and(|l| l.contains("Max-Age=0")));
    assert_eq!(c2.get("/get-session").await.json(), Value::Null);

    let wrong = if first == "000000" {
        "111111"
    } else {
        "000000"
    };
    c2.post("/two-factor/verify-totp", json!({"code": wrong}))
        .await
        .assert_error(401, "INVALID_CODE");
    // The code already used above is spent for this step, for every device.
    c2.post("/two-factor/verify-totp", json!({"code": first}))
        .await
        .assert_error(401, "INVALID_CODE");

    s.clock.advance(Duration::seconds(30));
    let r = c2
        .post("/two-factor/verify-totp", json!({"code": app.code(&s)}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let j = r.json();
    assert!(j["token"].as_str().is_some_and(|t| t.len() == 32));
    assert_eq!(j["user"]["email"], json!(addr));
    assert!(r
        .set_cookie("better-auth.two_factor")
        .is_some_and(|l| l.contains("Max-Age=0")));
    assert!(r
        .set_cookie("better-auth.session_token")
        .is_some_and(|l| l.contains("Max-Age=604800")));
    assert_eq!(session_user(&c2).await["id"], json!(user_id));

    // Username sign-in goes through the same gate.
    let c3 = s.client();
    let username = format!("u{}", &user_id[..8].to_lowercase());
    let r = c.post("/update-user", json!({"username": username})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = c3
        .post(
            "/sign-in/username",
            json!({"username": username, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.json()["twoFactorRedirect"], json!(true), "{}", r.text);
}

async fn backup_codes_attempts_and_lockout(b: Backend) {
    let sink = SmtpSink::start().await;
    let s = server(b, &sink).await;
    let (c, addr, user_id, app, codes) = enabled_user(&s).await;

    let c2 = s.client();
    sign_in(&s, &c2, &addr).await;
    let r = c2
        .post("/two-factor/verify-backup-code", json!({"code": codes[0]}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(session_user(&c2).await["id"], json!(user_id));

    // Single use.
    let c3 = s.client();
    sign_in(&s, &c3, &addr).await;
    c3.post("/two-factor/verify-backup-code", json!({"code": codes[0]}))
        .await
        .assert_error(401, "INVALID_BACKUP_CODE");
    let r = c3
        .post("/two-factor/verify-backup-code", json!({"code": codes[1]}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let left = s
        .gatehouse
        .api()
        .two_factor()
        .view_backup_codes(&user_id)
        .await
        .unwrap();
    assert_eq!(left.len(), 8);
    assert!(!left.contains(&codes[0]) && !left.contains(&codes[1]));
    assert_eq!(left, codes[2..].to_vec());

    // Regenerating replaces the whole set.
    c.post(
        "/two-factor/generate-backup-codes",
        json!({"password": "nope-nope"}),
    )
    .await
    .assert_error(400, "INVALID_PASSWORD");
    let fresh = c
        .post(
            "/two-factor/generate-backup-codes",
            json!({"password": PASSWORD}),
        )
        .await
        .json();
    assert_eq!(fresh["status"], json!(true));
    let fresh: Vec<String> = serde_json::from_value(fresh["backupCodes"].clone()).unwrap();
    assert_eq!(fresh.len(), 10);
    let c4 = s.client();
    sign_in(&s, &c4, &addr).await;
    c4.post("/two-factor/verify-backup-code", json!({"code": codes[2]}))
        .await
        .assert_error(401, "INVALID_BACKUP_CODE");

    // Five wrong codes spend the challenge (c4 already has one failure).
    for _ in 0..4 {
        c4.post("/two-factor/verify-totp", json!({"code": "000000x"}))
            .await
            .assert_error(401, "INVALID_CODE");
    }
    c4.post("/two-factor/verify-totp", json!({"code": app.code(&s)}))
        .await
        .assert_error(400, "TOO_MANY_ATTEMPTS_REQUEST_NEW_CODE");
    c4.post("/two-factor/verify-totp", json!({"code": app.code(&s)}))
        .await
        .assert_error(401, "INVALID_TWO_FACTOR_COOKIE");

    // Ten consecutive failures (5 above, 5 here) lock the account for 15 minutes.
    let c5 = s.client();
    sign_in(&s, &c5, &addr).await;
    for _ in 0..5 {
        c5.post(
            "/two-factor/verify-backup-code",
            json!({"code": "xxxxx-xxxxx"}),
        )
        .await
        .assert_error(401, "INVALID_BACKUP_CODE");
    }
    let row = store::find(s.db(), &user_id).await.unwrap().unwrap();
    assert!(row.locked_until.is_some());
    let c6 = s.client();
    sign_in(&s, &c6, &addr).await;
    c6.post("/two-factor/verify-totp", json!({"code": app.code(&s)}))
        .await
        .assert_error(429, "ACCOUNT_TEMPORARILY_LOCKED");
    s.clock.advance(Duration::minutes(16));
    let c7 = s.client();
    sign_in(&s, &c7, &addr).await;
    let r = c7
        .post("/two-factor/verify-totp", json!({"code": app.code(&s)}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

async fn emailed_code_trusted_device_and_disable(b: Backend) {
    let sink = SmtpSink::start().await;
    let s = server(b, &sink).await;
    let (c, addr, _user_id, _app, _codes) = enabled_user(&s).await;

    let c2 = s.client();
    sign_in(&s, &c2, &addr).await;
    // No code yet.
    c2.post("/two-factor/verify-otp", json!({"code": "123456"}))
        .await
        .assert_error(400, "OTP_HAS_EXPIRED");
    assert_eq!(
        c2.post("/two-factor/send-otp", json!({})).await.json(),
        json!({"status": true})
    );
    let mail = sink.wait_for(&addr, 1).await;
    let code = mail
        .code(6)
        .unwrap_or_else(|| panic!("no code in {}", mail.decoded()));
    let wrong = if code == "000000" { "111111" } else { "000000" };
    c2.post("/two-factor/verify-otp", json!({"code": wrong}))
        .await
        .assert_error(401, "INVALID_CODE");
    let r = c2
        .post(
            "/two-factor/verify-otp",
            json!({"code": code, "trustDevice": true}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let trust = r
        .set_cookie("better-auth.trust_device")
        .expect("trust cookie");
    assert!(trust.contains("Max-Age=2592000"), "{trust}");
    // Spent.
    c2.post("/sign-out", json!({})).await;

    // The trusted device signs in without a second factor (cookie rotated)...
    let j = sign_in(&s, &c2, &addr).await;
    assert!(j["token"].is_string(), "{j}");
    // ...another device still needs it.
    let c3 = s.client();
    assert_eq!(
        sign_in(&s, &c3, &addr).await["twoFactorRedirect"],
        json!(true)
    );

    // An emailed code expires.
    c3.post("/two-factor/send-otp", json!({})).await;
    let late = sink.wait_for(&addr, 2).await.code(6).unwrap();
    s.clock.advance(Duration::minutes(4));
    c3.post("/two-factor/verify-otp", json!({"code": late}))
        .await
        .assert_error(400, "OTP_HAS_EXPIRED");

    // A password change voids trusted devices.
    let r = c2
        .post(
            "/change-password",
            json!({"currentPassword": PASSWORD, "newPassword": "another-password-1"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    c2.post("/sign-out", json!({})).await;
    let r = c2
        .post(
            "/sign-in/email",
            json!({"email": addr, "password": "another-password-1"}),
        )
        .await;
    assert_eq!(r.json()["twoFactorRedirect"], json!(true), "{}", r.text);

    // Disabling needs the password; afterwards sign-in is one step again.
    c.post("/two-factor/disable", json!({"password": PASSWORD}))
        .await
        .assert_error(400, "INVALID_PASSWORD");
    assert_eq!(
        c.post(
            "/two-factor/disable",
            json!({"password": "another-password-1"})
        )
        .await
        .json(),
        json!({"status": true})
    );
    assert_eq!(session_user(&c).await["twoFactorEnabled"], json!(false));
    let c4 = s.client();
    let r = c4
        .post(
            "/sign-in/email",
            json!({"email": addr, "password": "another-password-1"}),
        )
        .await;
    assert!(r.json()["token"].is_string(), "{}", r.text);
}

async fn otp_method_and_missing_challenge(b: Backend) {
    let sink = SmtpSink::start().await;
    let s = server(b, &sink).await;
    let anon = s.client();
    anon.post("/two-factor/verify-totp", json!({"code": "123456"}))
        .await
        .assert_error(401, "INVALID_TWO_FACTOR_COOKIE");
    anon.post("/two-factor/enable", json!({"password": PASSWORD}))
        .await
        .assert_error(401, "UNAUTHORIZED");

    let c = s.client();
    let (addr, _) = c.sign_up().await;
    c.post(
        "/two-factor/enable",
        json!({"password": PASSWORD, "method": "sms"}),
    )
    .await
    .assert_error(400, "VALIDATION_ERROR");
    let j = c
        .post(
            "/two-factor/enable",
            json!({"password": PASSWORD, "method": "otp"}),
        )
        .await
        .json();
    assert_eq!(j, json!({"method": "otp"}));
    assert_eq!(session_user(&c).await["twoFactorEnabled"], json!(true));
    // Clients cannot set the flag themselves.
    c.post("/update-user", json!({"twoFactorEnabled": false}))
        .await
        .assert_error(400, "VALIDATION_ERROR");

    let c2 = s.client();
    assert_eq!(
        sign_in(&s, &c2, &addr).await,
        json!({"twoFactorRedirect": true, "twoFactorMethods": ["otp"]})
    );
    // TOTP was never set up: refused without counting as a wrong code.
    c2.post("/two-factor/verify-totp", json!({"code": "123456"}))
        .await
        .assert_error(400, "TOTP_NOT_ENABLED");
    c2.post("/two-factor/send-otp", json!({})).await;
    let code = sink.wait_for(&addr, 1).await.code(6).unwrap();
    let r = c2
        .post("/two-factor/verify-otp", json!({"code": code}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["user"]["email"], json!(addr));
}

/// Better Auth's rule for `/two-factor/*`: 3 requests per 10 seconds.
async fn stricter_rate_limit(b: Backend) {
    let s = TestServer::start_with(b, |c| {
        c.plugins.push("two-factor".into());
        c.rate_limit.enabled = true;
    })
    .await;
    let c = s.client();
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(
            c.post("/two-factor/verify-totp", json!({"code": "123456"}))
                .await
                .status,
        );
    }
    assert_eq!(statuses, [401, 401, 401, 429]);
}
