//! The phone-number plugin, with its codes delivered to a real HTTP relay:
//! a small server in the test receives the signed POSTs, checks each
//! signature (HMAC-SHA256 over "<timestamp>.<body>") and hands the codes over.

use std::time::Duration;

use chrono::Duration as Span;
use gatehouse_server::config::Environment;
use gatehouse_tests::webhook::{Received, WebhookSink};
use gatehouse_tests::{add_sections, email, on_both_backends, Backend, TestServer, PASSWORD};
use serde_json::{json, Value};

on_both_backends!(
    phone_number_sign_up_by_code_reset_and_sign_in,
    phone_number_code_attempts_expiry_and_concurrency,
    phone_number_user_fields_and_update,
    phone_number_unproven_holder_and_required_verification,
    phone_number_rate_limit_and_production_without_relay,
);

const SMS_SECRET: &str = "sms-relay-secret-0123456789abcdefghij";

/// One text message the relay received.
#[derive(Debug, Clone)]
struct Sms {
    to: String,
    code: String,
    kind: String,
}

/// The relay: a real HTTP receiver; only correctly signed, fresh POSTs count.
struct SmsSink(WebhookSink);

impl SmsSink {
    async fn start() -> SmsSink {
        SmsSink(WebhookSink::start("/sms", 200).await)
    }

    fn url(&self) -> &str {
        &self.0.url
    }

    /// Why each badly signed request failed (none expected).
    fn bad(&self) -> Vec<String> {
        bad_of(&self.0.received())
    }

    fn to(&self, phone: &str) -> Vec<Sms> {
        messages_to(&self.0.received(), phone)
    }

    /// The `n`-th message (from 1) to `phone`, waiting up to ten seconds.
    async fn wait_for(&self, phone: &str, n: usize) -> Sms {
        let sms = self
            .0
            .wait_for(&format!("message #{n} to {phone}"), |all| {
                messages_to(all, phone).get(n - 1).cloned()
            })
            .await;
        assert!(self.bad().is_empty(), "{:?}", self.bad());
        sms
    }
}

fn bad_of(all: &[Received]) -> Vec<String> {
    all.iter()
        .filter_map(|r| r.signed_with(SMS_SECRET).err())
        .collect()
}

fn messages_to(all: &[Received], phone: &str) -> Vec<Sms> {
    all.iter()
        .filter(|r| r.signed_with(SMS_SECRET).is_ok())
        .filter_map(|r| {
            let v: Value = serde_json::from_str(&r.body).ok()?;
            Some(Sms {
                to: v["to"].as_str()?.into(),
                code: v["code"].as_str()?.into(),
                kind: v["kind"].as_str()?.into(),
            })
        })
        .filter(|m| m.to == phone)
        .collect()
}

/// (identifier, codeHash) of every stored code.
async fn stored_codes(s: &TestServer) -> Vec<(String, String)> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use gatehouse_server::plugins::phone_number::store::otps;
    let rows: Result<Vec<(String, String)>, gatehouse_server::db::StorageError> = async {
        gatehouse_server::with_conn!(s.db(), |conn| Ok(otps::table
            .select((otps::identifier, otps::code_hash))
            .load(conn)
            .await?))
    }
    .await;
    rows.unwrap()
}

async fn server(b: Backend, sink: &SmsSink, extra: &str) -> TestServer {
    let section = format!(
        "[phone_number]\n{extra}\n[phone_number.sms]\nurl = \"{}\"\nsecret = \"{SMS_SECRET}\"\n",
        sink.url()
    );
    TestServer::start_with(b, |c| {
        c.plugins.push("phone-number".into());
        add_sections(c, &section);
    })
    .await
}

/// A fresh valid UK mobile number, E.164 (nothing is sent to it: the relay is the test).
fn phone() -> String {
    let n: u32 = rand_digits();
    format!("+4477001{n:05}")
}

fn rand_digits() -> u32 {
    gatehouse_tests::random_suffix(8)
        .bytes()
        .fold(0u32, |a, b| a.wrapping_mul(31).wrapping_add(u32::from(b)))
        % 100_000
}

const SIGN_UP: &str = "default_country = \"GB\"\n[phone_number.sign_up_on_verification]\ntemp_email_domain = \"phone.example.com\"";

async fn phone_number_sign_up_by_code_reset_and_sign_in(b: Backend) {
    let sink = SmsSink::start().await;
    let s = server(b, &sink, SIGN_UP).await;
    let number = phone();
    let c = s.client();

    // Garbage and impossible numbers are refused before anything is sent.
    for bad in ["not-a-number", "12345", "+44 1", "+1 415 555 2671 ext. 9"] {
        c.post("/phone-number/send-otp", json!({"phoneNumber": bad}))
            .await
            .assert_error(400, "INVALID_PHONE_NUMBER");
    }

    // A national form is normalised to E.164 with default_country = GB.
    let national = format!("0{} {}", &number[3..7], &number[7..]);
    let r = c
        .post("/phone-number/send-otp", json!({"phoneNumber": national}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json(), json!({"message": "code sent"}));
    let sms = sink.wait_for(&number, 1).await;
    assert_eq!(sms.kind, "phone-verification");
    assert_eq!(sms.code.len(), 6);
    assert!(sms.code.chars().all(|c| c.is_ascii_digit()));

    // The code is stored keyed-hashed, never in clear.
    let rows = stored_codes(&s).await;
    assert_eq!(rows.len(), 1);
    assert!(
        !rows[0].0.contains(&number) && !rows[0].1.contains(&sms.code),
        "stored in clear: {rows:?}"
    );

    // Verifying an unknown number signs a user up with placeholders.
    let r = c
        .post(
            "/phone-number/verify",
            json!({"phoneNumber": number, "code": sms.code}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let body = r.json();
    assert_eq!(body["status"], true);
    assert!(body["token"].as_str().is_some_and(|t| !t.is_empty()));
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    assert_eq!(body["user"]["email"], format!("{digits}@phone.example.com"));
    assert_eq!(body["user"]["name"], number.as_str());
    assert_eq!(body["user"]["emailVerified"], false);
    assert_eq!(body["user"]["phoneNumber"], number.as_str());
    assert_eq!(body["user"]["phoneNumberVerified"], true);
    let session = c.get("/get-session").await.json();
    assert_eq!(session["user"]["phoneNumber"], number.as_str());
    assert_eq!(session["user"]["phoneNumberVerified"], true);

    // Spent: the same code again finds nothing.
    s.client()
        .post(
            "/phone-number/verify",
            json!({"phoneNumber": number, "code": sms.code}),
        )
        .await
        .assert_error(400, "OTP_NOT_FOUND");

    // Verification without a session.
    let quiet = s.client();
    quiet
        .post("/phone-number/send-otp", json!({"phoneNumber": number}))
        .await;
    let sms = sink.wait_for(&number, 2).await;
    let r = quiet
        .post(
            "/phone-number/verify",
            json!({"phoneNumber": number, "code": sms.code, "disableSession": true}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["token"], Value::Null);
    assert!(r.json().as_object().unwrap().contains_key("token"));
    assert!(r.set_cookie("better-auth.session_token").is_none());
    assert_eq!(quiet.get("/get-session").await.json(), Value::Null);

    // No password yet: the phone sign-in fails like a wrong password.
    quiet
        .post(
            "/sign-in/phone-number",
            json!({"phoneNumber": number, "password": PASSWORD}),
        )
        .await
        .assert_error(401, "INVALID_PHONE_NUMBER_OR_PASSWORD");

    // A password by reset code; every session ends.
    let r = quiet
        .post(
            "/phone-number/request-password-reset",
            json!({"phoneNumber": number}),
        )
        .await;
    assert_eq!(r.json(), json!({"status": true}));
    let reset = sink.wait_for(&number, 3).await;
    assert_eq!(reset.kind, "password-reset");
    quiet
        .post(
            "/phone-number/reset-password",
            json!({"phoneNumber": number, "otp": reset.code, "newPassword": "short"}),
        )
        .await
        .assert_error(400, "PASSWORD_TOO_SHORT");
    // A verification code is not a reset code.
    quiet
        .post(
            "/phone-number/reset-password",
            json!({"phoneNumber": number, "otp": sms.code, "newPassword": PASSWORD}),
        )
        .await
        .assert_error(400, "INVALID_OTP");
    let r = quiet
        .post(
            "/phone-number/reset-password",
            json!({"phoneNumber": number, "otp": reset.code, "newPassword": PASSWORD}),
        )
        .await;
    assert_eq!(r.json(), json!({"status": true}), "{}", r.text);
    assert_eq!(c.get("/get-session").await.json(), Value::Null);

    // Unknown numbers: the same answer, and no message.
    let ghost = phone();
    let r = quiet
        .post(
            "/phone-number/request-password-reset",
            json!({"phoneNumber": ghost}),
        )
        .await;
    assert_eq!(r.json(), json!({"status": true}));
    // Guesses answer as for a number with an account (a code is stored either way).
    quiet
        .post(
            "/phone-number/request-password-reset",
            json!({"phoneNumber": number}),
        )
        .await;
    let pending = sink.wait_for(&number, 4).await.code;
    for who in [&ghost, &number] {
        // Generous: under a full parallel run the background store waits
        // its turn behind other tests' password hashing.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let r = loop {
            let r = quiet
                .post(
                    "/phone-number/reset-password",
                    json!({"phoneNumber": who, "otp": if pending == "000000" { "111111" } else { "000000" }, "newPassword": PASSWORD}),
                )
                .await;
            // The unknown number's code is stored in the background.
            if r.code() != "OTP_NOT_FOUND" || std::time::Instant::now() > deadline {
                break r;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        r.assert_error(400, "INVALID_OTP");
    }

    // Sign-in by number and password, in any notation.
    let r = c
        .post(
            "/sign-in/phone-number",
            json!({"phoneNumber": national, "password": PASSWORD, "rememberMe": false}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let body = r.json();
    assert_eq!(
        body.as_object().unwrap().keys().collect::<Vec<_>>(),
        vec!["token", "user"]
    );
    assert_eq!(body["user"]["phoneNumber"], number.as_str());
    let cookie = r.set_cookie("better-auth.session_token").unwrap();
    assert!(!cookie.contains("Max-Age"), "rememberMe false: {cookie}");
    assert_eq!(
        c.get("/get-session").await.json()["user"]["phoneNumber"],
        number.as_str()
    );
    for (who, password) in [
        (number.as_str(), "wrong-password-1"),
        (ghost.as_str(), PASSWORD),
    ] {
        s.client()
            .post(
                "/sign-in/phone-number",
                json!({"phoneNumber": who, "password": password}),
            )
            .await
            .assert_error(401, "INVALID_PHONE_NUMBER_OR_PASSWORD");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(sink.to(&ghost).is_empty());
    assert!(sink.bad().is_empty());
}

async fn phone_number_code_attempts_expiry_and_concurrency(b: Backend) {
    let sink = SmsSink::start().await;
    let s = server(b, &sink, "").await;
    let number = phone();
    let c = s.client();
    let verify = |code: &str| json!({"phoneNumber": number, "code": code});
    let wrong = |code: &str| if code == "000000" { "111111" } else { "000000" }.to_string();

    // No code yet.
    c.post("/phone-number/verify", verify("123456"))
        .await
        .assert_error(400, "OTP_NOT_FOUND");

    // Three wrong guesses are allowed; the fourth, even the right code, is refused.
    c.post("/phone-number/send-otp", json!({"phoneNumber": number}))
        .await;
    let code = sink.wait_for(&number, 1).await.code;
    for _ in 0..3 {
        c.post("/phone-number/verify", verify(&wrong(&code)))
            .await
            .assert_error(400, "INVALID_OTP");
    }
    c.post("/phone-number/verify", verify(&code))
        .await
        .assert_error(403, "TOO_MANY_ATTEMPTS");
    c.post("/phone-number/verify", verify(&code))
        .await
        .assert_error(400, "OTP_NOT_FOUND");

    // Expired after expires_in (300 s).
    c.post("/phone-number/send-otp", json!({"phoneNumber": number}))
        .await;
    let code = sink.wait_for(&number, 2).await.code;
    s.clock.advance(Span::seconds(301));
    c.post("/phone-number/verify", verify(&code))
        .await
        .assert_error(400, "OTP_EXPIRED");
    c.post("/phone-number/verify", verify(&code))
        .await
        .assert_error(400, "OTP_NOT_FOUND");

    // A new code replaces the previous one.
    c.post("/phone-number/send-otp", json!({"phoneNumber": number}))
        .await;
    let first = sink.wait_for(&number, 3).await.code;
    c.post("/phone-number/send-otp", json!({"phoneNumber": number}))
        .await;
    let second = sink.wait_for(&number, 4).await.code;
    if first != second {
        c.post("/phone-number/verify", verify(&first))
            .await
            .assert_error(400, "INVALID_OTP");
    }

    // Parallel wrong guesses: at most allowed_attempts of them are ever
    // compared, and the right code afterwards is refused.
    c.post("/phone-number/send-otp", json!({"phoneNumber": number}))
        .await;
    let code = sink.wait_for(&number, 5).await.code;
    let guesses: Vec<_> = (0..12)
        .map(|i| {
            let client = s.client();
            let body = verify(&format!(
                "{:06}",
                (code.parse::<u32>().unwrap() + 1 + i) % 1_000_000
            ));
            tokio::spawn(async move { client.post("/phone-number/verify", body).await })
        })
        .collect();
    let mut compared = 0;
    for g in guesses {
        let r = g.await.unwrap();
        match (r.status, r.code().as_str()) {
            (400, "INVALID_OTP") => compared += 1,
            (403, "TOO_MANY_ATTEMPTS") | (400, "OTP_NOT_FOUND") => {}
            other => panic!("unexpected answer {other:?}: {}", r.text),
        }
    }
    assert_eq!(compared, 3, "guesses compared");
    let r = c.post("/phone-number/verify", verify(&code)).await;
    assert!(
        (r.status == 403 && r.code() == "TOO_MANY_ATTEMPTS")
            || (r.status == 400 && r.code() == "OTP_NOT_FOUND"),
        "the right code after the attempts ran out: {} {}",
        r.status,
        r.text
    );
    assert_eq!(c.get("/get-session").await.json(), Value::Null);

    // Concurrent right guesses: one spends the code (and, with no user for
    // the number and no sign-up on verification, learns that), the rest lose.
    c.post("/phone-number/send-otp", json!({"phoneNumber": number}))
        .await;
    let code = sink.wait_for(&number, 6).await.code;
    let tries: Vec<_> = (0..3)
        .map(|_| {
            let client = s.client();
            let body = verify(&code);
            tokio::spawn(async move { client.post("/phone-number/verify", body).await })
        })
        .collect();
    let mut spent = 0;
    for t in tries {
        let r = t.await.unwrap();
        match r.code().as_str() {
            "PHONE_NUMBER_NOT_EXIST" => spent += 1,
            "INVALID_OTP" | "OTP_NOT_FOUND" => {}
            other => panic!("unexpected {other}: {}", r.text),
        }
    }
    assert_eq!(spent, 1);
}

async fn phone_number_user_fields_and_update(b: Backend) {
    let sink = SmsSink::start().await;
    let s = server(b, &sink, "").await;
    let c = s.client();

    // Sign-up and update-user cannot set a number or its verification.
    c.post(
        "/sign-up/email",
        json!({"name": "N", "email": email(), "password": PASSWORD, "phoneNumber": "+447700900001"}),
    )
    .await
    .assert_error(400, "PHONE_NUMBER_CANNOT_BE_SET");
    let (_, user) = c.sign_up().await;
    assert_eq!(user["user"]["phoneNumber"], Value::Null);
    assert_eq!(user["user"]["phoneNumberVerified"], Value::Null);
    c.post("/update-user", json!({"phoneNumber": "+447700900001"}))
        .await
        .assert_error(400, "PHONE_NUMBER_CANNOT_BE_UPDATED");
    c.post("/update-user", json!({"phoneNumberVerified": true}))
        .await
        .assert_error(400, "VALIDATION_ERROR");

    // The number comes with a code, to the signed-in user.
    let number = phone();
    c.post("/phone-number/send-otp", json!({"phoneNumber": number}))
        .await;
    let code = sink.wait_for(&number, 1).await.code;
    let body = json!({"phoneNumber": number, "code": code, "updatePhoneNumber": true});
    // Signed out: refused before the code is spent.
    s.client()
        .post("/phone-number/verify", body.clone())
        .await
        .assert_error(401, "USER_NOT_FOUND");
    let r = c.post("/phone-number/verify", body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["user"]["id"], user["user"]["id"]);
    assert_eq!(r.json()["user"]["phoneNumber"], number.as_str());
    assert_eq!(r.json()["user"]["phoneNumberVerified"], true);
    assert_eq!(r.json()["token"], user["token"]);
    let me = c.get("/get-session").await.json();
    assert_eq!(me["user"]["phoneNumber"], number.as_str());

    // Another user proving the same number cannot take it.
    let other = s.client();
    other.sign_up().await;
    other
        .post("/phone-number/send-otp", json!({"phoneNumber": number}))
        .await;
    let code = sink.wait_for(&number, 2).await.code;
    other
        .post(
            "/phone-number/verify",
            json!({"phoneNumber": number, "code": code, "updatePhoneNumber": true}),
        )
        .await
        .assert_error(400, "PHONE_NUMBER_EXIST");

    // Clearing the number clears its verification.
    let r = c.post("/update-user", json!({"phoneNumber": null})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let me = c.get("/get-session").await.json();
    assert_eq!(me["user"]["phoneNumber"], Value::Null);
    assert_eq!(me["user"]["phoneNumberVerified"], false);

    // Without sign_up_on_verification an unknown number has no user.
    let stranger = phone();
    s.client()
        .post("/phone-number/send-otp", json!({"phoneNumber": stranger}))
        .await;
    let code = sink.wait_for(&stranger, 1).await.code;
    s.client()
        .post(
            "/phone-number/verify",
            json!({"phoneNumber": stranger, "code": code}),
        )
        .await
        .assert_error(400, "PHONE_NUMBER_NOT_EXIST");
}

/// Gives a user a number it never proved (what a database shared with
/// Better Auth may hold: its admins can set numbers).
async fn give_unproven_number(s: &TestServer, user_id: &str, number: &str) {
    s.db()
        .batch_execute(&format!(
            "UPDATE \"user\" SET \"phoneNumber\" = '{number}', \"phoneNumberVerified\" = FALSE WHERE \"id\" = '{user_id}'"
        ))
        .await
        .expect("update");
}

async fn phone_number_unproven_holder_and_required_verification(b: Backend) {
    let sink = SmsSink::start().await;
    let s = server(b, &sink, "require_verification = true").await;

    // Someone registered with a number they do not own.
    let squatter = s.client();
    let (_, u) = squatter.sign_up().await;
    let id = u["user"]["id"].as_str().unwrap().to_string();
    let number = phone();
    give_unproven_number(&s, &id, &number).await;

    // Password sign-in of an unverified number: the right password gets
    // PHONE_NUMBER_NOT_VERIFIED and a code; a wrong one learns nothing.
    let c = s.client();
    c.post(
        "/sign-in/phone-number",
        json!({"phoneNumber": number, "password": "wrong-password-1"}),
    )
    .await
    .assert_error(401, "INVALID_PHONE_NUMBER_OR_PASSWORD");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(sink.to(&number).is_empty());
    squatter
        .post(
            "/sign-in/phone-number",
            json!({"phoneNumber": number, "password": PASSWORD}),
        )
        .await
        .assert_error(401, "PHONE_NUMBER_NOT_VERIFIED");
    let sms = sink.wait_for(&number, 1).await;
    assert_eq!(sms.kind, "phone-verification");

    // No reset code for an unverified number when verification is required.
    c.post(
        "/phone-number/request-password-reset",
        json!({"phoneNumber": number}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(sink.to(&number).len(), 1);

    // The number's owner proves it: what the squatter set up is gone.
    let owner = s.client();
    let r = owner
        .post(
            "/phone-number/verify",
            json!({"phoneNumber": number, "code": sms.code}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["user"]["id"], id.as_str());
    assert_eq!(r.json()["user"]["phoneNumberVerified"], true);
    assert_eq!(squatter.get("/get-session").await.json(), Value::Null);
    assert_eq!(
        owner.get("/get-session").await.json()["user"]["id"],
        id.as_str()
    );
    let email = u["user"]["email"].as_str().unwrap();
    s.client()
        .post(
            "/sign-in/email",
            json!({"email": email, "password": PASSWORD}),
        )
        .await
        .assert_error(401, "INVALID_EMAIL_OR_PASSWORD");

    // A holder proving its own number in its own session keeps everything.
    let keeper = s.client();
    let (keeper_email, k) = keeper.sign_up().await;
    let kid = k["user"]["id"].as_str().unwrap().to_string();
    let own = phone();
    give_unproven_number(&s, &kid, &own).await;
    keeper
        .post("/phone-number/send-otp", json!({"phoneNumber": own}))
        .await;
    let code = sink.wait_for(&own, 1).await.code;
    let r = keeper
        .post(
            "/phone-number/verify",
            json!({"phoneNumber": own, "code": code, "disableSession": true}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        keeper.get("/get-session").await.json()["user"]["phoneNumberVerified"],
        true
    );
    let r = s
        .client()
        .post(
            "/sign-in/email",
            json!({"email": keeper_email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = s
        .client()
        .post(
            "/sign-in/phone-number",
            json!({"phoneNumber": own, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

async fn phone_number_rate_limit_and_production_without_relay(b: Backend) {
    let sink = SmsSink::start().await;
    let section = format!(
        "[phone_number.sms]\nurl = \"{}\"\nsecret = \"{SMS_SECRET}\"\n",
        sink.url()
    );
    let s = TestServer::start_with(b.clone(), |c| {
        c.plugins.push("phone-number".into());
        c.rate_limit.enabled = true;
        add_sections(c, &section);
    })
    .await;
    let c = s.client();
    let number = phone();
    for i in 0..10 {
        let r = c
            .post("/phone-number/send-otp", json!({"phoneNumber": number}))
            .await;
        assert_eq!(r.status, 200, "request {i}: {}", r.text);
    }
    let r = c
        .post("/phone-number/send-otp", json!({"phoneNumber": number}))
        .await;
    assert_eq!(r.status, 429, "{}", r.text);
    drop(s);

    // In production without a relay nothing can be sent: Better Auth's 501.
    let s = TestServer::start_with(b, |c| {
        c.plugins.push("phone-number".into());
        c.env = Environment::Production;
    })
    .await;
    s.client()
        .post("/phone-number/send-otp", json!({"phoneNumber": number}))
        .await
        .assert_error(501, "SEND_OTP_NOT_IMPLEMENTED");
}
