//! The bearer, username and open-api plugins, and plugin gating.

use gatehouse_tests::{email, on_both_backends, Backend, TestServer, PASSWORD};
use serde_json::json;

on_both_backends!(
    bearer_tokens,
    username_sign_up_and_sign_in,
    username_validation,
    open_api_documents,
    gating_follows_registration
);

async fn bearer_tokens(b: Backend) {
    let s = TestServer::start(b).await;
    let c = s.client();
    let r = c
        .post(
            "/sign-up/email",
            json!({"name": "B", "email": email(), "password": PASSWORD}),
        )
        .await;
    let signed = r.header("set-auth-token").expect("set-auth-token header");
    let raw = r.json()["token"].as_str().unwrap().to_string();
    assert!(signed.starts_with(&format!("{raw}.")));
    assert_eq!(
        r.header("access-control-expose-headers").as_deref(),
        Some("set-auth-token")
    );

    let api = s.client_without_origin();
    for auth in [format!("Bearer {signed}"), format!("bearer {raw}")] {
        let r = api
            .request(
                api.raw()
                    .get(format!("{}/get-session", api.base))
                    .header("authorization", auth.clone()),
            )
            .await;
        assert_eq!(r.json()["session"]["token"], raw.as_str(), "{auth}");
    }
    let forged = format!("{raw}.{}", "A".repeat(43) + "=");
    let r = api
        .request(
            api.raw()
                .get(format!("{}/get-session", api.base))
                .header("authorization", format!("Bearer {forged}")),
        )
        .await;
    assert_eq!(r.text, "null", "a bad signature is ignored");

    // Bearer calls carry no cookies, so no Origin is needed.
    let r = api
        .request(
            api.raw()
                .post(format!("{}/update-user", api.base))
                .header("authorization", format!("Bearer {signed}"))
                .json(&json!({"name": "Via Bearer"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        c.get("/get-session").await.json()["user"]["name"],
        "Via Bearer"
    );

    // Without the plugin, the header means nothing.
    let plain = TestServer::start_with(Backend::Sqlite, |c| c.plugins = vec![]).await;
    let pc = plain.client();
    let r = pc
        .post(
            "/sign-up/email",
            json!({"name": "B", "email": email(), "password": PASSWORD}),
        )
        .await;
    assert!(r.header("set-auth-token").is_none());
    let raw = r.json()["token"].as_str().unwrap().to_string();
    let bare = plain.client_without_origin();
    let r = bare
        .request(
            bare.raw()
                .get(format!("{}/get-session", bare.base))
                .header("authorization", format!("Bearer {raw}")),
        )
        .await;
    assert_eq!(r.text, "null");
}

async fn username_sign_up_and_sign_in(b: Backend) {
    let s = TestServer::start(b).await;
    let c = s.client();
    let addr = email();
    let r = c
        .post(
            "/sign-up/email",
            json!({"name": "U", "email": addr, "password": PASSWORD, "username": "Mixed_Case.1"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["user"]["username"], "mixed_case.1");
    assert_eq!(r.json()["user"]["displayUsername"], "Mixed_Case.1");

    let available = |name: &'static str| {
        let c = s.client();
        async move {
            c.post("/is-username-available", json!({"username": name}))
                .await
        }
    };
    assert_eq!(
        available("MIXED_case.1").await.json(),
        json!({"available": false})
    );
    assert_eq!(
        available("someone_else").await.json(),
        json!({"available": true})
    );

    let fresh = s.client();
    let r = fresh
        .post(
            "/sign-in/username",
            json!({"username": "MIXED_CASE.1", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["user"]["email"], addr.as_str());
    assert_eq!(
        fresh.get("/get-session").await.json()["user"]["username"],
        "mixed_case.1"
    );
    s.client()
        .post(
            "/sign-in/username",
            json!({"username": "mixed_case.1", "password": "wrong-password"}),
        )
        .await
        .assert_error(401, "INVALID_USERNAME_OR_PASSWORD");
    s.client()
        .post(
            "/sign-in/username",
            json!({"username": "nobody_here", "password": PASSWORD}),
        )
        .await
        .assert_error(401, "INVALID_USERNAME_OR_PASSWORD");

    // Taken at sign-up: nothing written.
    let addr2 = email();
    s.client()
        .post(
            "/sign-up/email",
            json!({"name": "V", "email": addr2, "password": PASSWORD, "username": "mixed_case.1"}),
        )
        .await
        .assert_error(400, "USERNAME_IS_ALREADY_TAKEN");
    assert!(
        gatehouse_server::db::store::find_user_by_email(s.db(), &addr2)
            .await
            .unwrap()
            .is_none()
    );

    // As in Better Auth, update-user changes each field on its own: a new
    // username keeps the display name, a display name (any text) keeps the username.
    let before = fresh.get("/get-session").await.json();
    assert_eq!(
        fresh
            .post("/update-user", json!({"username": "Renamed_One"}))
            .await
            .status,
        200
    );
    let me = fresh.get("/get-session").await.json();
    assert_eq!(me["user"]["username"], "renamed_one");
    assert_eq!(
        me["user"]["displayUsername"],
        before["user"]["displayUsername"]
    );
    assert_eq!(
        fresh
            .post("/update-user", json!({"displayUsername": "Shown Name"}))
            .await
            .status,
        200
    );
    let me = fresh.get("/get-session").await.json();
    assert_eq!(me["user"]["username"], "renamed_one");
    assert_eq!(me["user"]["displayUsername"], "Shown Name");
    let other = s.client();
    other.sign_up().await;
    other
        .post("/update-user", json!({"username": "renamed_one"}))
        .await
        .assert_error(400, "USERNAME_IS_ALREADY_TAKEN");
}

async fn username_validation(b: Backend) {
    let s = TestServer::start(b).await;
    let c = s.client();
    c.post("/is-username-available", json!({"username": "ab"}))
        .await
        .assert_error(422, "USERNAME_TOO_SHORT");
    c.post(
        "/is-username-available",
        json!({"username": "a".repeat(31)}),
    )
    .await
    .assert_error(422, "USERNAME_TOO_LONG");
    c.post("/is-username-available", json!({"username": "bad name!"}))
        .await
        .assert_error(422, "INVALID_USERNAME");
    c.post(
        "/sign-in/username",
        json!({"username": "no", "password": PASSWORD}),
    )
    .await
    .assert_error(422, "USERNAME_TOO_SHORT");
    // Sign-up and update-user answer 400 (Better Auth's statuses there).
    c.post(
        "/sign-up/email",
        json!({"name": "n", "email": email(), "password": PASSWORD, "username": "bad name"}),
    )
    .await
    .assert_error(400, "INVALID_USERNAME");
    c.post(
        "/sign-up/email",
        json!({"name": "n", "email": email(), "password": PASSWORD, "username": "ab"}),
    )
    .await
    .assert_error(400, "USERNAME_TOO_SHORT");
    c.sign_up().await;
    c.post("/update-user", json!({"username": "a".repeat(31)}))
        .await
        .assert_error(400, "USERNAME_TOO_LONG");
    // A display name that is no valid username is only a display name.
    let r = c
        .post(
            "/sign-up/email",
            json!({"name": "n", "email": email(), "password": PASSWORD, "displayUsername": "Not A Username"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["user"]["username"], serde_json::Value::Null);
    assert_eq!(r.json()["user"]["displayUsername"], "Not A Username");
    c.post(
        "/sign-up/email",
        json!({"name": "n", "email": email(), "password": PASSWORD, "username": 7}),
    )
    .await
    .assert_error(400, "VALIDATION_ERROR");
}

async fn open_api_documents(b: Backend) {
    let s = TestServer::start(b).await;
    let c = s.client();
    let spec = c.get("/open-api/generate-schema").await;
    assert_eq!(spec.status, 200);
    let spec = spec.json();
    assert_eq!(spec["openapi"], "3.0.0");
    assert!(spec["paths"]["/sign-in/username"]["post"].is_object());
    assert_eq!(
        spec["paths"]["/sign-in/email"]["post"]["operationId"],
        "signInEmail"
    );
    let user_props = &spec["components"]["schemas"]["User"]["properties"];
    assert!(user_props["username"].is_object() && user_props["email"].is_object());
    let page = c.get("/reference").await;
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    assert!(
        page.text.len() < 4096,
        "the page is small: {}",
        page.text.len()
    );
    // The page loads the vendored bundle from its own versioned URL.
    let src = page
        .text
        .split("<script src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a script src")
        .to_string();
    assert!(src.starts_with("reference/scalar-standalone-"), "{src}");
    let url = format!("{}/{src}", s.base);
    let gz = c
        .raw()
        .get(&url)
        .header("accept-encoding", "gzip, br")
        .send()
        .await
        .unwrap();
    assert_eq!(gz.status(), 200);
    let h = gz.headers().clone();
    assert_eq!(h["content-encoding"], "gzip");
    assert!(h["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert!(h["cache-control"].to_str().unwrap().contains("immutable"));
    let etag = h["etag"].to_str().unwrap().to_string();
    let body = gz.bytes().await.unwrap();
    assert_eq!(&body[..2], &[0x1f, 0x8b], "gzip magic");
    assert!(body.len() < 2_000_000, "compressed: {} bytes", body.len());
    // Revalidation is answered without a body; a client without gzip gets it plain.
    let again = c
        .raw()
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let plain = c
        .raw()
        .get(&url)
        .header("accept-encoding", "identity")
        .send()
        .await
        .unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    let js = plain.text().await.unwrap();
    assert!(js.contains("createApiReference"), "{} bytes", js.len());
}

async fn gating_follows_registration(b: Backend) {
    let s = TestServer::start_with(b, |c| c.plugins = vec!["open-api".into()]).await;
    let c = s.client();
    let r = c
        .post(
            "/sign-in/username",
            json!({"username": "someone", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 404);
    let spec = c.get("/open-api/generate-schema").await.json();
    assert!(spec["paths"].get("/sign-in/username").is_none());
    assert!(spec["components"]["schemas"]["User"]["properties"]
        .get("username")
        .is_none());
    let (_, body) = c.sign_up().await;
    assert!(
        body["user"].get("username").is_none(),
        "no plugin, no field"
    );
    let ids = c.get("/plugins").await.json();
    assert_eq!(ids["plugins"].as_array().unwrap().len(), 1);

    let none = TestServer::start_with(Backend::Sqlite, |c| c.plugins = vec![]).await;
    assert_eq!(
        none.client().get("/open-api/generate-schema").await.status,
        404
    );
    assert_eq!(none.client().get("/reference").await.status, 404);
    let bundle = format!(
        "/reference/scalar-standalone-{}.js",
        gatehouse_server::plugins::open_api::SCALAR_VERSION
    );
    assert_eq!(none.client().get(&bundle).await.status, 404);
}
