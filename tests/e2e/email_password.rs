//! sign-up/email, sign-in/email, sign-out.

use gatehouse_server::crypto::{password, token};
use gatehouse_server::db::models::{AccountRow, UserRow};
use gatehouse_server::db::store;
use gatehouse_tests::{email, on_both_backends, Backend, TestServer, PASSWORD};
use serde_json::json;

on_both_backends!(
    sign_up_creates_user_session_and_cookie,
    sign_up_rejects_bad_input,
    sign_up_duplicate_and_concurrent,
    sign_in_success_and_failures,
    sign_in_remember_me_false_and_callback,
    sign_out_ends_the_session,
    scrypt_hash_from_better_auth_is_accepted_and_upgraded,
    auto_sign_in_off_hides_existing_accounts,
);

async fn sign_up_creates_user_session_and_cookie(b: Backend) {
    let s = TestServer::start(b).await;
    let c = s.client();
    let r = c
        .post(
            "/sign-up/email",
            json!({"name": "Alice", "email": "Alice@Example.COM", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let body = r.json();
    assert_eq!(body["user"]["email"], "alice@example.com");
    assert_eq!(body["user"]["name"], "Alice");
    assert_eq!(body["user"]["emailVerified"], false);
    assert!(body["user"]["image"].is_null());
    let tok = body["token"].as_str().unwrap();
    assert_eq!(tok.len(), 32);
    assert!(body["user"]["createdAt"].as_str().unwrap().ends_with('Z'));

    // Cookie attributes: signed, percent-encoded, HttpOnly, Lax, Path=/, 7 days.
    let cookie = r
        .set_cookie("better-auth.session_token")
        .expect("session cookie");
    let expected_value = gatehouse_server::http::cookies::encode_uri_component(
        &gatehouse_server::crypto::sign::sign_value(gatehouse_tests::TEST_SECRET, tok),
    );
    assert_eq!(
        cookie,
        format!("better-auth.session_token={expected_value}; Max-Age=604800; Path=/; HttpOnly; SameSite=Lax")
    );

    // Stored hashed: the raw token is not in the database, its hash is.
    assert!(store::find_session_with_user(s.db(), tok)
        .await
        .unwrap()
        .is_none());
    let (session, user) = store::find_session_with_user(s.db(), &token::hash_token(tok))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.email, "alice@example.com");
    assert_eq!(session.user_id, user.id);
    let account = store::find_user_with_credential(s.db(), &user.id)
        .await
        .unwrap()
        .unwrap();
    assert!(account.password.unwrap().starts_with("$argon2id$v=19$"));
    assert_eq!(account.account_id, user.id);

    let me = c.get("/get-session").await.json();
    assert_eq!(me["user"]["id"], user.id.as_str());
    assert_eq!(me["session"]["token"], tok);
}

async fn sign_up_rejects_bad_input(b: Backend) {
    let s = TestServer::start(b).await;
    let c = s.client();
    let r = c
        .post(
            "/sign-up/email",
            json!({"name": "A", "email": "not-an-email", "password": PASSWORD}),
        )
        .await;
    r.assert_error(400, "VALIDATION_ERROR");
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .contains("[body.email]"));
    let r = c
        .post(
            "/sign-up/email",
            json!({"email": email(), "password": PASSWORD}),
        )
        .await;
    r.assert_error(400, "VALIDATION_ERROR");
    assert_eq!(
        r.json()["message"],
        "[body.name] Invalid input: expected string, received undefined"
    );
    let r = c
        .post(
            "/sign-up/email",
            json!({"name": 5, "email": email(), "password": PASSWORD, "rememberMe": "yes"}),
        )
        .await;
    r.assert_error(400, "VALIDATION_ERROR");
    assert_eq!(
        r.json()["message"],
        "[body.name] Invalid input: expected string, received number; [body.rememberMe] Invalid input: expected boolean, received string"
    );
    c.post(
        "/sign-up/email",
        json!({"name": "A", "email": email(), "password": "short"}),
    )
    .await
    .assert_error(400, "PASSWORD_TOO_SHORT");
    c.post(
        "/sign-up/email",
        json!({"name": "A", "email": email(), "password": "x".repeat(129)}),
    )
    .await
    .assert_error(400, "PASSWORD_TOO_LONG");
    c.post(
        "/sign-up/email",
        json!({"name": "x".repeat(5000), "email": email(), "password": PASSWORD}),
    )
    .await
    .assert_error(400, "VALIDATION_ERROR");
    // Nothing was written by any of the failures.
    assert!(store::find_user_by_email(s.db(), "not-an-email")
        .await
        .unwrap()
        .is_none());

    let closed = TestServer::start_with(Backend::Sqlite, |c| {
        c.email_and_password.disable_sign_up = true
    })
    .await;
    closed
        .client()
        .post(
            "/sign-up/email",
            json!({"name": "A", "email": email(), "password": PASSWORD}),
        )
        .await
        .assert_error(400, "EMAIL_PASSWORD_SIGN_UP_DISABLED");
}

async fn sign_up_duplicate_and_concurrent(b: Backend) {
    let s = TestServer::start(b).await;
    let (addr, _) = s.client().sign_up().await;
    s.client()
        .post(
            "/sign-up/email",
            json!({"name": "B", "email": addr.to_uppercase(), "password": PASSWORD}),
        )
        .await
        .assert_error(422, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL");

    // Ten identical sign-ups at once: exactly one user.
    let racer = email();
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let c = s.client();
        let racer = racer.clone();
        tasks.push(tokio::spawn(async move {
            c.post(
                "/sign-up/email",
                json!({"name": "R", "email": racer, "password": PASSWORD}),
            )
            .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        let r = t.await.unwrap();
        match r.status {
            200 => ok += 1,
            _ => r.assert_error(422, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL"),
        }
    }
    assert_eq!(ok, 1);
    let user = store::find_user_by_email(s.db(), &racer)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store::list_accounts(s.db(), &user.id).await.unwrap().len(),
        1
    );
}

async fn sign_in_success_and_failures(b: Backend) {
    let s = TestServer::start(b).await;
    let (addr, _) = s.client().sign_up().await;
    let c = s.client();
    let r = c
        .post(
            "/sign-in/email",
            json!({"email": addr.to_uppercase(), "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let body = r.json();
    assert_eq!(body["redirect"], false);
    assert!(body.get("url").is_none());
    assert_eq!(body["user"]["email"], addr.as_str());
    assert!(r
        .set_cookie("better-auth.session_token")
        .unwrap()
        .contains("Max-Age=604800"));
    assert_eq!(
        c.get("/get-session").await.json()["session"]["token"],
        body["token"]
    );

    let wrong = s
        .client()
        .post(
            "/sign-in/email",
            json!({"email": addr, "password": "wrong-password"}),
        )
        .await;
    wrong.assert_error(401, "INVALID_EMAIL_OR_PASSWORD");
    let unknown = s
        .client()
        .post(
            "/sign-in/email",
            json!({"email": email(), "password": PASSWORD}),
        )
        .await;
    unknown.assert_error(401, "INVALID_EMAIL_OR_PASSWORD");
    assert_eq!(
        wrong.text, unknown.text,
        "unknown and wrong answers must be identical"
    );
    assert!(wrong.set_cookies().is_empty());
    s.client()
        .post(
            "/sign-in/email",
            json!({"email": "nope", "password": PASSWORD}),
        )
        .await
        .assert_error(400, "INVALID_EMAIL");
    s.client()
        .post("/sign-in/email", json!({"email": addr}))
        .await
        .assert_error(400, "VALIDATION_ERROR");

    let off =
        TestServer::start_with(Backend::Sqlite, |c| c.email_and_password.enabled = false).await;
    off.client()
        .post(
            "/sign-in/email",
            json!({"email": addr, "password": PASSWORD}),
        )
        .await
        .assert_error(400, "EMAIL_PASSWORD_DISABLED");
}

async fn sign_in_remember_me_false_and_callback(b: Backend) {
    let s = TestServer::start(b).await;
    let (addr, _) = s.client().sign_up().await;
    let c = s.client();
    let r = c
        .post("/sign-in/email", json!({"email": addr, "password": PASSWORD, "rememberMe": false, "callbackURL": "/dash"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["redirect"], true);
    assert_eq!(r.json()["url"], "/dash");
    assert_eq!(r.header("location").as_deref(), Some("/dash"));
    let session_cookie = r.set_cookie("better-auth.session_token").unwrap();
    assert!(
        !session_cookie.contains("Max-Age"),
        "browser-session cookie: {session_cookie}"
    );
    let dont = r
        .set_cookie("better-auth.dont_remember")
        .expect("dont_remember cookie");
    assert!(dont.starts_with("better-auth.dont_remember=true.") && !dont.contains("Max-Age"));
    // The DB session lasts one day, not seven.
    let me = c.get("/get-session").await.json();
    let expires =
        chrono::DateTime::parse_from_rfc3339(me["session"]["expiresAt"].as_str().unwrap()).unwrap();
    let created =
        chrono::DateTime::parse_from_rfc3339(me["session"]["createdAt"].as_str().unwrap()).unwrap();
    assert_eq!((expires - created).num_seconds(), 86400);

    s.client()
        .post(
            "/sign-in/email",
            json!({"email": addr, "password": PASSWORD, "callbackURL": "https://evil.example/x"}),
        )
        .await
        .assert_error(403, "INVALID_CALLBACK_URL");
}

async fn sign_out_ends_the_session(b: Backend) {
    let s = TestServer::start(b).await;
    let c = s.client();
    let (_, body) = c.sign_up().await;
    let tok = body["token"].as_str().unwrap().to_string();
    let r = c.post("/sign-out", json!({})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"success": true}));
    for name in [
        "better-auth.session_token",
        "better-auth.session_data",
        "better-auth.dont_remember",
    ] {
        assert_eq!(
            r.set_cookie(name).unwrap(),
            format!("{name}=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax")
        );
    }
    assert!(
        store::find_session_with_user(s.db(), &token::hash_token(&tok))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(c.get("/get-session").await.text, "null");
    // Signing out without a session still succeeds.
    assert_eq!(s.client().post("/sign-out", json!({})).await.status, 200);
}

async fn scrypt_hash_from_better_auth_is_accepted_and_upgraded(b: Backend) {
    let s = TestServer::start(b).await;
    let now = chrono::Utc::now().naive_utc();
    let user = UserRow {
        id: token::new_id(),
        name: "Imported".into(),
        email: email(),
        email_verified: true,
        image: None,
        created_at: now,
        updated_at: now,
    };
    // Better Auth's scrypt format, as its own database would hold it.
    let account = AccountRow::credential(
        &user.id,
        password::hash_scrypt_better_auth(PASSWORD, "00112233445566778899aabbccddeeff"),
        now,
    );
    let inserted: Result<(), gatehouse_server::db::StorageError> = async {
        gatehouse_server::with_conn!(s.db(), |conn| {
            store::insert_user(conn.into(), &user).await?;
            store::insert_account(conn.into(), &account).await?;
            Ok(())
        })
    }
    .await;
    inserted.unwrap();

    s.client()
        .post(
            "/sign-in/email",
            json!({"email": user.email, "password": "not-it-at-all"}),
        )
        .await
        .assert_error(401, "INVALID_EMAIL_OR_PASSWORD");
    let r = s
        .client()
        .post(
            "/sign-in/email",
            json!({"email": user.email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let stored = store::find_user_with_credential(s.db(), &user.id)
        .await
        .unwrap()
        .unwrap()
        .password
        .unwrap();
    assert!(
        stored.starts_with("$argon2id$"),
        "rehashed on sign-in: {stored}"
    );
    let again = s
        .client()
        .post(
            "/sign-in/email",
            json!({"email": user.email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(again.status, 200);
}

async fn auto_sign_in_off_hides_existing_accounts(b: Backend) {
    let s = TestServer::start_with(b, |c| c.email_and_password.auto_sign_in = false).await;
    let addr = email();
    let first = s
        .client()
        .post(
            "/sign-up/email",
            json!({"name": "A", "email": addr, "password": PASSWORD}),
        )
        .await;
    assert_eq!(first.status, 200);
    assert!(first.json()["token"].is_null());
    assert!(first.set_cookie("better-auth.session_token").is_none());
    let second = s
        .client()
        .post(
            "/sign-up/email",
            json!({"name": "A", "email": addr, "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        second.status, 200,
        "duplicates look like successes: {}",
        second.text
    );
    assert_ne!(first.json()["user"]["id"], second.json()["user"]["id"]);
}
