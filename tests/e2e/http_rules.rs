//! Cross-cutting HTTP rules: origin/CSRF, body rules, routing, rate limits,
//! and the small public endpoints.

use gatehouse_tests::{email, on_both_backends, Backend, TestServer, PASSWORD};
use serde_json::json;

on_both_backends!(
    origin_checks,
    body_rules,
    routing_rules,
    rate_limits,
    public_endpoints
);

async fn origin_checks(b: Backend) {
    let s = TestServer::start_with(b, |c| {
        c.trusted_origins = vec!["https://*.trusted.example".into()]
    })
    .await;
    let c = s.client();
    c.sign_up().await;
    let cookie_post = |origin: Option<&str>| {
        let mut req = c
            .raw()
            .post(format!("{}/update-user", c.base))
            .json(&json!({"name": "n"}));
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        req
    };
    // The jar adds the cookie; the client's default Origin is overridden per request.
    let no_origin = s.client_without_origin();
    let (addr, _) = {
        let e = email();
        no_origin
            .post(
                "/sign-up/email",
                json!({"name": "n", "email": e, "password": PASSWORD}),
            )
            .await;
        (e, ())
    };
    no_origin
        .post("/update-user", json!({"name": "x"}))
        .await
        .assert_error(403, "MISSING_OR_NULL_ORIGIN");
    c.request(cookie_post(Some("http://evil.example")))
        .await
        .assert_error(403, "INVALID_ORIGIN");
    c.request(cookie_post(Some("null")))
        .await
        .assert_error(403, "MISSING_OR_NULL_ORIGIN");
    assert_eq!(
        c.request(cookie_post(Some("https://app.trusted.example")))
            .await
            .status,
        200
    );
    assert_eq!(
        c.request(cookie_post(None)).await.status,
        200,
        "the client's own Origin"
    );
    // A trusted Referer stands in for a missing Origin.
    let referer = no_origin
        .request(
            no_origin
                .raw()
                .post(format!("{}/update-user", no_origin.base))
                .header("referer", format!("{}/page", s.origin))
                .json(&json!({"name": "r"})),
        )
        .await;
    assert_eq!(referer.status, 200, "{}", referer.text);

    // Without cookies, curl-style calls pass; browser fetch metadata forces the check.
    let bare = s.client_without_origin();
    assert_eq!(
        bare.post(
            "/sign-in/email",
            json!({"email": addr, "password": PASSWORD})
        )
        .await
        .status,
        200
    );
    // (A fresh jar: with cookies, the plain Origin rule applies first.)
    let bare = s.client_without_origin();
    let cross = bare
        .request(
            bare.raw()
                .post(format!("{}/sign-in/email", bare.base))
                .header("sec-fetch-site", "cross-site")
                .header("sec-fetch-mode", "navigate")
                .json(&json!({"email": addr, "password": PASSWORD})),
        )
        .await;
    cross.assert_error(403, "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED");
    let evil_form = bare
        .request(
            bare.raw()
                .post(format!("{}/sign-in/email", bare.base))
                .header("origin", "http://evil.example")
                .json(&json!({"email": addr, "password": PASSWORD})),
        )
        .await;
    evil_form.assert_error(403, "INVALID_ORIGIN");

    // URL fields must point at trusted origins; relative paths are fine.
    c.post("/sign-out", json!({"callbackURL": "//evil.example/x"}))
        .await
        .assert_error(403, "INVALID_CALLBACK_URL");
    let r = s
        .client()
        .get("/get-session?callbackURL=https://evil.example")
        .await;
    r.assert_error(403, "INVALID_CALLBACK_URL");
    c.post("/sign-out", json!({"callbackURL": 5}))
        .await
        .assert_error(400, "VALIDATION_ERROR");
}

async fn body_rules(b: Backend) {
    let s = TestServer::start(b).await;
    let c = s.client();
    let post_raw = |path: &str, ct: Option<&str>, body: Vec<u8>| {
        let mut req = c.raw().post(format!("{}{path}", c.base)).body(body);
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        req
    };
    let r = c
        .request(post_raw(
            "/sign-in/email",
            Some("application/json"),
            b"{bad".to_vec(),
        ))
        .await;
    r.assert_error(400, "BAD_REQUEST");
    assert_eq!(r.json()["message"], "Invalid JSON in request body");
    let r = c
        .request(post_raw(
            "/update-user",
            Some("text/plain"),
            b"hello".to_vec(),
        ))
        .await;
    r.assert_error(415, "UNSUPPORTED_MEDIA_TYPE");
    assert_eq!(
        r.json()["message"],
        "Content-Type \"text/plain\" is not allowed. Allowed types: application/json"
    );
    c.request(post_raw("/update-user", None, b"{}".to_vec()))
        .await
        .assert_error(415, "UNSUPPORTED_MEDIA_TYPE");
    c.request(post_raw(
        "/sign-in/email",
        Some("application/json"),
        b"[1,2]".to_vec(),
    ))
    .await
    .assert_error(400, "BODY_MUST_BE_AN_OBJECT");
    let huge = format!("{{\"name\":\"{}\"}}", "a".repeat(70 * 1024));
    c.request(post_raw(
        "/sign-up/email",
        Some("application/json"),
        huge.into_bytes(),
    ))
    .await
    .assert_error(413, "PAYLOAD_TOO_LARGE");
    // An empty body is `{}`: fine where nothing is required.
    assert_eq!(
        c.request(post_raw("/sign-out", Some("application/json"), vec![]))
            .await
            .status,
        200
    );

    // HTML forms may post credentials.
    let addr = email();
    let form = format!(
        "name=Form+User&email={}&password={PASSWORD}",
        addr.replace('@', "%40")
    );
    let r = c
        .request(post_raw(
            "/sign-up/email",
            Some("application/x-www-form-urlencoded"),
            form.into_bytes(),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["user"]["name"], "Form User");
    // ...but only where Better Auth allows forms.
    c.request(post_raw(
        "/update-user",
        Some("application/x-www-form-urlencoded"),
        b"name=x".to_vec(),
    ))
    .await
    .assert_error(415, "UNSUPPORTED_MEDIA_TYPE");
}

async fn routing_rules(b: Backend) {
    let s = TestServer::start(b).await;
    let c = s.client();
    for (method, path) in [
        ("GET", "/nope"),
        ("DELETE", "/get-session"),
        ("GET", "/get-session/"),
        ("GET", "//get-session"),
        ("GET", "/get%2Dsession"),
        ("POST", "/ok"),
    ] {
        let req = c
            .raw()
            .request(method.parse().unwrap(), format!("{}{path}", c.base));
        let r = c.request(req).await;
        assert_eq!(r.status, 404, "{method} {path}");
        assert!(r.text.is_empty(), "{method} {path}: empty 404 body");
    }
    let r = c
        .request(c.raw().get(format!("{}/api/auth", s.origin)))
        .await;
    assert_eq!(r.status, 404);
}

async fn rate_limits(b: Backend) {
    let s = TestServer::start_with(b, |c| c.rate_limit.enabled = true).await;
    let c = s.client();
    let body = json!({"email": email(), "password": PASSWORD});
    for _ in 0..3 {
        c.post("/sign-in/email", body.clone())
            .await
            .assert_error(401, "INVALID_EMAIL_OR_PASSWORD");
    }
    let r = c.post("/sign-in/email", body.clone()).await;
    r.assert_error(429, "TOO_MANY_REQUESTS");
    let retry: u64 = r
        .header("x-retry-after")
        .expect("X-Retry-After")
        .parse()
        .unwrap();
    assert!((1..=10).contains(&retry), "retry after {retry}");
    // Non-canonical spellings share the bucket: they are limited, not routed.
    for path in ["//sign-in/email", "/sign-in/email/", "/sign-in%2Femail"] {
        let req = c.raw().post(format!("{}{path}", c.base)).json(&body);
        assert_eq!(c.request(req).await.status, 429, "{path}");
    }
    // Other paths have their own (larger) budget.
    assert_eq!(c.get("/ok").await.status, 200);

    // Operator rules override built-ins.
    let strict = TestServer::start_with(Backend::Sqlite, |c| {
        c.rate_limit.enabled = true;
        c.rate_limit.rules = vec![gatehouse_server::config::RateLimitRuleConfig {
            path: "/ok".into(),
            window: 60,
            max: 2,
        }];
    })
    .await;
    let sc = strict.client();
    assert_eq!(sc.get("/ok").await.status, 200);
    assert_eq!(sc.get("/ok").await.status, 200);
    sc.get("/ok").await.assert_error(429, "TOO_MANY_REQUESTS");
}

async fn public_endpoints(b: Backend) {
    let s = TestServer::start(b).await;
    let c = s.client();
    assert_eq!(c.get("/ok").await.json(), json!({"ok": true}));
    let r = c.get("/error?error=state_mismatch").await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert!(r.text.contains("state_mismatch"));
    let r = c.get("/error?error=%3Cscript%3E").await;
    assert!(!r.text.contains("<script>") && r.text.contains("UNKNOWN"));
    let plugins = c.get("/plugins").await.json();
    let ids: Vec<&str> = plugins["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["open-api", "username", "bearer"]);
    assert!(plugins["plugins"][0]["version"].as_str().is_some());
}
