//! The api-key plugin over HTTP: every route, keys stored only as hashes,
//! the server-only properties refused to clients (CVE-2025-61928), the
//! server-side verification order, `x-api-key` sessions (and a banned
//! owner's key refused), atomic usage and rate limits under concurrency,
//! several configurations and organization-owned keys.

use chrono::Duration;
use gatehouse_server::crypto::token::hash_token;
use gatehouse_server::plugins::api_key::dto::{ApiKeyCreateBody, ApiKeyUpdateBody};
use gatehouse_server::plugins::api_key::store as key_store;
use gatehouse_tests::{
    add_sections, email, on_both_backends, Backend, Client, TestServer, PASSWORD,
};
use serde_json::{json, Value};

on_both_backends!(
    api_key_routes_create_get_list_update_delete,
    api_key_create_and_update_rules,
    api_key_server_only_properties_are_refused_over_http,
    api_key_verification_is_server_side_only,
    api_key_header_stands_for_the_owners_session,
    api_key_of_a_banned_user_authenticates_nothing,
    api_key_remaining_and_refill_are_atomic,
    api_key_rate_limit_is_per_key_and_atomic,
    api_key_configurations_by_config_id,
    api_key_organization_owned_keys,
    api_key_cached_sessions_end_with_the_key,
);

async fn server_with(b: Backend, plugins: &[&str], section: &str) -> TestServer {
    let section = section.to_string();
    let plugins: Vec<String> = plugins.iter().map(|p| p.to_string()).collect();
    TestServer::start_with(b, |c| {
        c.plugins.push("api-key".into());
        c.plugins.extend(plugins);
        add_sections(c, &section);
    })
    .await
}

async fn server(b: Backend) -> TestServer {
    server_with(b, &[], "[api_key]\nenable_session_for_api_keys = true\n").await
}

/// Signs up a user; returns (client, id).
async fn user(s: &TestServer) -> (Client, String) {
    let c = s.client();
    let (_, body) = c.sign_up().await;
    (c, body["user"]["id"].as_str().unwrap().to_string())
}

async fn create(c: &Client, body: Value) -> Value {
    let r = c.post("/api-key/create", body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

/// A GET with `x-api-key` from a client without cookies.
async fn with_key(s: &TestServer, path: &str, key: &str) -> gatehouse_tests::Response {
    let c = s.client_without_origin();
    c.request(
        c.raw()
            .get(format!("{}{path}", s.base))
            .header("x-api-key", key),
    )
    .await
}

/// A key made server-side with any property (the owner is `user_id`).
async fn server_key(s: &TestServer, user_id: &str, body: ApiKeyCreateBody) -> (String, String) {
    let created = s
        .gatehouse
        .api()
        .api_key()
        .create_api_key(
            ApiKeyCreateBody {
                user_id: Some(user_id.into()),
                ..body
            },
            None,
        )
        .await
        .expect("server-side create");
    (created.api_key.id, created.key)
}

async fn api_key_routes_create_get_list_update_delete(b: Backend) {
    let s = server(b).await;
    let (c, me) = user(&s).await;
    let k = create(&c, json!({"name": "k1", "prefix": "gh_"})).await;
    let key = k["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("gh_"), "{key}");
    assert_eq!(key.len(), 3 + 64);
    assert!(key[3..].chars().all(|ch| ch.is_ascii_alphabetic()));
    assert_eq!(k["start"], key[..6]);
    assert_eq!(k["name"], "k1");
    assert_eq!(k["prefix"], "gh_");
    assert_eq!(k["referenceId"], me);
    assert_eq!(k["configId"], "default");
    assert_eq!(k["enabled"], true);
    assert_eq!(k["rateLimitEnabled"], true);
    assert_eq!(k["rateLimitTimeWindow"], 86_400_000);
    assert_eq!(k["rateLimitMax"], 10);
    assert_eq!(k["requestCount"], 0);
    for null in [
        "remaining",
        "refillAmount",
        "refillInterval",
        "lastRefillAt",
        "lastRequest",
        "expiresAt",
        "permissions",
        "metadata",
    ] {
        assert!(k[null].is_null(), "{null}: {k}");
    }
    // Stored: the SHA-256 only; the key is nowhere in the row.
    let row = key_store::find_by_id(s.db(), &id(&k))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.key, hash_token(&key));
    assert!(!format!("{row:?}").contains(&key[3..]));

    let got = c.get(&format!("/api-key/get?id={}", id(&k))).await;
    assert_eq!(got.status, 200, "{}", got.text);
    let got = got.json();
    assert!(got.get("key").is_none(), "{got}");
    assert_eq!(got["name"], "k1");
    assert!(!got.to_string().contains(&key[3..]));

    create(&c, json!({"name": "k2"})).await;
    let list = c.get("/api-key/list").await.json();
    assert_eq!(list["total"], 2);
    assert_eq!(list["apiKeys"].as_array().unwrap().len(), 2);
    assert!(list.get("limit").is_none() && list.get("offset").is_none());
    assert!(!list.to_string().contains(&key[3..]));
    assert!(list["apiKeys"][0].get("key").is_none());
    let page = c
        .get("/api-key/list?limit=1&offset=1&sortBy=name&sortDirection=desc")
        .await
        .json();
    assert_eq!(page["total"], 2);
    assert_eq!(page["limit"], 1);
    assert_eq!(page["offset"], 1);
    assert_eq!(page["apiKeys"][0]["name"], "k1");
    c.get("/api-key/list?limit=-1")
        .await
        .assert_error(400, "VALIDATION_ERROR");

    let up = c
        .post(
            "/api-key/update",
            json!({"keyId": id(&k), "name": "renamed", "enabled": false}),
        )
        .await;
    assert_eq!(up.status, 200, "{}", up.text);
    assert_eq!(up.json()["name"], "renamed");
    assert_eq!(up.json()["enabled"], false);
    assert!(up.json().get("key").is_none());
    let row = key_store::find_by_id(s.db(), &id(&k))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.name.as_deref(), Some("renamed"));
    assert_eq!(row.enabled, Some(false));

    // Someone else's key does not exist for them.
    let (other, _) = user(&s).await;
    other
        .get(&format!("/api-key/get?id={}", id(&k)))
        .await
        .assert_error(404, "KEY_NOT_FOUND");
    other
        .post("/api-key/update", json!({"keyId": id(&k), "name": "x"}))
        .await
        .assert_error(404, "KEY_NOT_FOUND");
    other
        .post("/api-key/delete", json!({"keyId": id(&k)}))
        .await
        .assert_error(404, "KEY_NOT_FOUND");
    assert_eq!(other.get("/api-key/list").await.json()["total"], 0);

    // Signed out.
    let anon = s.client();
    anon.post("/api-key/create", json!({}))
        .await
        .assert_error(401, "UNAUTHORIZED_SESSION");
    anon.get(&format!("/api-key/get?id={}", id(&k)))
        .await
        .assert_error(401, "UNAUTHORIZED");
    anon.get("/api-key/list")
        .await
        .assert_error(401, "UNAUTHORIZED");
    anon.post("/api-key/update", json!({"keyId": id(&k), "name": "x"}))
        .await
        .assert_error(401, "UNAUTHORIZED_SESSION");
    anon.post("/api-key/delete", json!({"keyId": id(&k)}))
        .await
        .assert_error(401, "UNAUTHORIZED");

    let del = c.post("/api-key/delete", json!({"keyId": id(&k)})).await;
    assert_eq!(del.status, 200, "{}", del.text);
    assert_eq!(del.json(), json!({"success": true}));
    assert!(key_store::find_by_id(s.db(), &id(&k))
        .await
        .unwrap()
        .is_none());
    c.get(&format!("/api-key/get?id={}", id(&k)))
        .await
        .assert_error(404, "KEY_NOT_FOUND");
}

async fn api_key_create_and_update_rules(b: Backend) {
    // Metadata is off by default.
    let plain = server(b.clone()).await;
    let (c, _) = user(&plain).await;
    c.post("/api-key/create", json!({"metadata": {"a": 1}}))
        .await
        .assert_error(400, "METADATA_DISABLED");

    let s = server_with(
        b,
        &[],
        "[api_key]\nenable_metadata = true\nrequire_name = true\n",
    )
    .await;
    let (c, _) = user(&s).await;
    c.post("/api-key/create", json!({}))
        .await
        .assert_error(400, "NAME_REQUIRED");
    c.post("/api-key/create", json!({"name": "x".repeat(33)}))
        .await
        .assert_error(400, "INVALID_NAME_LENGTH");
    c.post("/api-key/create", json!({"name": "n", "metadata": "text"}))
        .await
        .assert_error(400, "INVALID_METADATA_TYPE");
    c.post("/api-key/create", json!({"name": "n", "expiresIn": 3600}))
        .await
        .assert_error(400, "EXPIRES_IN_IS_TOO_SMALL");
    c.post(
        "/api-key/create",
        json!({"name": "n", "expiresIn": 400 * 86400}),
    )
    .await
    .assert_error(400, "EXPIRES_IN_IS_TOO_LARGE");
    c.post(
        "/api-key/create",
        json!({"name": "n", "prefix": "p".repeat(33)}),
    )
    .await
    .assert_error(400, "INVALID_PREFIX_LENGTH");
    c.post("/api-key/create", json!({"name": "n", "prefix": "a b"}))
        .await
        .assert_error(400, "VALIDATION_ERROR");
    assert_eq!(c.get("/api-key/list").await.json()["total"], 0);

    let now = s.gatehouse.state().now();
    let k = create(
        &c,
        json!({"name": "n", "expiresIn": 2 * 86400, "metadata": {"plan": "pro", "n": 3}}),
    )
    .await;
    assert_eq!(k["metadata"], json!({"plan": "pro", "n": 3}));
    let expected = (now + Duration::days(2))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    assert!(
        k["expiresAt"].as_str().unwrap().starts_with(&expected),
        "{k}"
    );
    let got = c.get(&format!("/api-key/get?id={}", id(&k))).await.json();
    assert_eq!(got["metadata"], json!({"plan": "pro", "n": 3}));

    c.post("/api-key/update", json!({"keyId": id(&k)}))
        .await
        .assert_error(400, "NO_VALUES_TO_UPDATE");
    c.post("/api-key/update", json!({"keyId": id(&k), "metadata": 5}))
        .await
        .assert_error(400, "INVALID_METADATA_TYPE");
    c.post("/api-key/update", json!({"keyId": id(&k), "expiresIn": 60}))
        .await
        .assert_error(400, "EXPIRES_IN_IS_TOO_SMALL");
    let up = c
        .post(
            "/api-key/update",
            json!({"keyId": id(&k), "expiresIn": null, "metadata": {"plan": "team"}}),
        )
        .await;
    assert_eq!(up.status, 200, "{}", up.text);
    assert!(up.json()["expiresAt"].is_null());
    assert_eq!(up.json()["metadata"], json!({"plan": "team"}));
    let row = key_store::find_by_id(s.db(), &id(&k))
        .await
        .unwrap()
        .unwrap();
    assert!(row.expires_at.is_none());
    assert_eq!(row.metadata.as_deref(), Some(r#"{"plan":"team"}"#));
}

async fn api_key_server_only_properties_are_refused_over_http(b: Backend) {
    let s = server(b).await;
    let (attacker, _) = user(&s).await;
    let (victim, victim_id) = user(&s).await;
    let k = create(&attacker, json!({"name": "mine"})).await;
    for (prop, value) in [
        ("remaining", json!(1000)),
        ("refillAmount", json!(10)),
        ("refillInterval", json!(1000)),
        ("rateLimitTimeWindow", json!(1)),
        ("rateLimitMax", json!(100000)),
        ("rateLimitEnabled", json!(false)),
        ("permissions", json!({"admin": ["*"]})),
    ] {
        let mut body = json!({"name": "x"});
        body[prop] = value.clone();
        attacker
            .post("/api-key/create", body)
            .await
            .assert_error(400, "SERVER_ONLY_PROPERTY");
        let mut body = json!({"keyId": id(&k)});
        body[prop] = value;
        attacker
            .post("/api-key/update", body)
            .await
            .assert_error(400, "SERVER_ONLY_PROPERTY");
    }
    // CVE-2025-61928: a key for someone else, signed in or not.
    attacker
        .post(
            "/api-key/create",
            json!({"name": "evil", "userId": victim_id}),
        )
        .await
        .assert_error(401, "UNAUTHORIZED_SESSION");
    s.client()
        .post("/api-key/create", json!({"userId": victim_id}))
        .await
        .assert_error(401, "UNAUTHORIZED_SESSION");
    attacker
        .post(
            "/api-key/update",
            json!({"keyId": id(&k), "userId": victim_id, "name": "x"}),
        )
        .await
        .assert_error(401, "UNAUTHORIZED_SESSION");
    assert_eq!(victim.get("/api-key/list").await.json()["total"], 0);
    assert!(key_store::list_by_reference(s.db(), &victim_id)
        .await
        .unwrap()
        .is_empty());
    // Nothing changed on the attacker's key either.
    let row = key_store::find_by_id(s.db(), &id(&k))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.remaining, None);
    assert_eq!(row.rate_limit_max, Some(10));
    assert_eq!(row.permissions, None);
    assert_eq!(row.name.as_deref(), Some("mine"));
}

async fn api_key_verification_is_server_side_only(b: Backend) {
    let s = server_with(b, &[], "").await;
    let (c, me) = user(&s).await;
    let k = create(&c, json!({"name": "v"})).await;
    let key = k["key"].as_str().unwrap();
    // No HTTP route verifies keys.
    for path in ["/api-key/verify", "/api-key/delete-all-expired-api-keys"] {
        assert_eq!(c.post(path, json!({"key": key})).await.status, 404);
    }
    let api = s.gatehouse.api();
    let v = api.api_key().verify_api_key(key, None, None).await.unwrap();
    assert!(v.valid && v.error.is_none());
    let vk = v.key.unwrap();
    assert_eq!(vk.id, id(&k));
    assert_eq!(vk.request_count, 1);
    assert!(vk.last_request.is_some());
    let bad = api
        .api_key()
        .verify_api_key(&"x".repeat(64), None, None)
        .await
        .unwrap();
    assert!(!bad.valid && bad.key.is_none());
    assert_eq!(bad.error.unwrap().code, "INVALID_API_KEY");
    // Another configuration's keys only.
    let other = api
        .api_key()
        .verify_api_key(key, None, Some("other"))
        .await
        .unwrap();
    assert_eq!(other.error.unwrap().code, "INVALID_API_KEY");

    // Permissions: granted ones pass, others answer KEY_NOT_FOUND.
    let perms = json!({"files": ["read", "write"]});
    let (_, pk) = server_key(
        &s,
        &me,
        ApiKeyCreateBody {
            permissions: serde_json::from_value(perms).unwrap(),
            ..Default::default()
        },
    )
    .await;
    let want = |v: Value| serde_json::from_value(v).unwrap();
    let ok = api
        .api_key()
        .verify_api_key(&pk, Some(&want(json!({"files": ["read"]}))), None)
        .await
        .unwrap();
    assert!(ok.valid);
    assert_eq!(
        serde_json::to_value(ok.key.unwrap().permissions).unwrap(),
        json!({"files": ["read", "write"]})
    );
    for asked in [json!({"files": ["delete"]}), json!({"users": ["read"]})] {
        let no = api
            .api_key()
            .verify_api_key(&pk, Some(&want(asked)), None)
            .await
            .unwrap();
        assert_eq!(no.error.unwrap().code, "KEY_NOT_FOUND");
    }
    let none = api
        .api_key()
        .verify_api_key(key, Some(&want(json!({"files": ["read"]}))), None)
        .await
        .unwrap();
    assert_eq!(none.error.unwrap().code, "KEY_NOT_FOUND");

    // Disabled, then expired (and deleted).
    c.post(
        "/api-key/update",
        json!({"keyId": id(&k), "enabled": false}),
    )
    .await;
    let off = api.api_key().verify_api_key(key, None, None).await.unwrap();
    assert_eq!(off.error.unwrap().code, "KEY_DISABLED");
    let e = create(&c, json!({"expiresIn": 86400})).await;
    s.clock.advance(Duration::days(1) + Duration::seconds(1));
    let gone = api
        .api_key()
        .verify_api_key(e["key"].as_str().unwrap(), None, None)
        .await
        .unwrap();
    assert_eq!(gone.error.unwrap().code, "KEY_EXPIRED");
    assert!(key_store::find_by_id(s.db(), &id(&e))
        .await
        .unwrap()
        .is_none());

    // The sweep removes expired keys and leaves the rest.
    let e2 = create(&c, json!({"expiresIn": 86400})).await;
    s.clock.advance(Duration::days(2));
    assert_eq!(
        api.api_key().delete_all_expired_api_keys().await.unwrap(),
        1
    );
    assert!(key_store::find_by_id(s.db(), &id(&e2))
        .await
        .unwrap()
        .is_none());
    assert!(key_store::find_by_id(s.db(), &id(&k))
        .await
        .unwrap()
        .is_some());

    // Server-side update may set server-only properties.
    let up = api
        .api_key()
        .update_api_key(
            ApiKeyUpdateBody {
                key_id: id(&k),
                user_id: Some(me.clone()),
                remaining: Some(7),
                rate_limit_max: Some(99),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!((up.remaining, up.rate_limit_max), (Some(7), Some(99)));
    let (_, stranger) = user(&s).await;
    let refused = api
        .api_key()
        .update_api_key(
            ApiKeyUpdateBody {
                key_id: id(&k),
                user_id: Some(stranger),
                remaining: Some(1),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code, "KEY_NOT_FOUND");
}

async fn api_key_header_stands_for_the_owners_session(b: Backend) {
    let s = server(b.clone()).await;
    let (c, me) = user(&s).await;
    let k = create(&c, json!({"name": "sess"})).await;
    let key = k["key"].as_str().unwrap();
    let r = with_key(&s, "/get-session", key).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let body = r.json();
    assert_eq!(body["session"]["id"], id(&k));
    assert_eq!(body["session"]["token"], key);
    assert_eq!(body["session"]["userId"], me);
    assert_eq!(body["user"]["id"], me);
    assert!(body["session"]["expiresAt"].is_string());
    // The key's session reaches the plugin's own routes.
    let list = with_key(&s, "/api-key/list", key).await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.json()["total"], 1);
    // Each use is counted.
    let row = key_store::find_by_id(s.db(), &id(&k))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.request_count, Some(2));

    with_key(&s, "/get-session", "abc")
        .await
        .assert_error(403, "INVALID_API_KEY");
    with_key(&s, "/get-session", &"Q".repeat(64))
        .await
        .assert_error(401, "INVALID_API_KEY");
    c.post(
        "/api-key/update",
        json!({"keyId": id(&k), "enabled": false}),
    )
    .await;
    with_key(&s, "/get-session", key)
        .await
        .assert_error(401, "KEY_DISABLED");
    let e = create(&c, json!({"expiresIn": 86400})).await;
    s.clock.advance(Duration::days(1) + Duration::seconds(1));
    with_key(&s, "/get-session", e["key"].as_str().unwrap())
        .await
        .assert_error(401, "KEY_EXPIRED");

    // Without enable_session_for_api_keys the header means nothing.
    let off = server_with(b, &[], "").await;
    let (c, _) = user(&off).await;
    let k = create(&c, json!({})).await;
    let r = with_key(&off, "/get-session", k["key"].as_str().unwrap()).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text, "null");
}

async fn api_key_of_a_banned_user_authenticates_nothing(b: Backend) {
    let admin_email = email();
    let section = format!(
        "[api_key]\nenable_session_for_api_keys = true\n[admin]\nbootstrap_email = \"{admin_email}\"\nbootstrap_password = \"{PASSWORD}\"\n"
    );
    let s = server_with(b, &["admin"], &section).await;
    let (c, me) = user(&s).await;
    let k = create(&c, json!({})).await;
    let key = k["key"].as_str().unwrap();
    assert_eq!(with_key(&s, "/get-session", key).await.status, 200);
    let admin = s.client();
    let r = admin
        .post(
            "/sign-in/email",
            json!({"email": admin_email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = admin.post("/admin/ban-user", json!({"userId": me})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    with_key(&s, "/get-session", key)
        .await
        .assert_error(403, "BANNED_USER");
    with_key(&s, "/api-key/list", key)
        .await
        .assert_error(403, "BANNED_USER");
    admin.post("/admin/unban-user", json!({"userId": me})).await;
    assert_eq!(with_key(&s, "/get-session", key).await.status, 200);
}

/// Sends `n` concurrent get-session requests with `key`; returns the statuses and bodies.
async fn burst(s: &TestServer, key: &str, n: usize) -> Vec<(u16, Value)> {
    let mut tasks = Vec::new();
    for _ in 0..n {
        let url = format!("{}/get-session", s.base);
        let key = key.to_string();
        tasks.push(tokio::spawn(async move {
            let r = gatehouse_tests::http_client()
                .build()
                .unwrap()
                .get(url)
                .header("x-api-key", key)
                .send()
                .await
                .expect("request");
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            (status, body)
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.expect("task"));
    }
    out
}

async fn api_key_remaining_and_refill_are_atomic(b: Backend) {
    let s = server(b).await;
    let (_, me) = user(&s).await;
    let (kid, key) = server_key(
        &s,
        &me,
        ApiKeyCreateBody {
            remaining: Some(10),
            rate_limit_enabled: Some(false),
            ..Default::default()
        },
    )
    .await;
    let results = burst(&s, &key, 50).await;
    let ok = results.iter().filter(|(st, _)| *st == 200).count();
    assert_eq!(ok, 10, "{results:?}");
    for (st, body) in results.iter().filter(|(st, _)| *st != 200) {
        // Used up: refused, and the key is deleted (later requests find no key).
        assert!(
            (*st == 429 && body["code"] == "USAGE_EXCEEDED")
                || (*st == 401 && body["code"] == "INVALID_API_KEY"),
            "{st} {body}"
        );
    }
    let row = key_store::find_by_id(s.db(), &kid).await.unwrap();
    assert!(row.is_none_or(|r| r.remaining == Some(0)));
    let again = with_key(&s, "/get-session", &key).await;
    assert!(again.status == 429 || again.status == 401, "{}", again.text);
    assert!(key_store::find_by_id(s.db(), &kid).await.unwrap().is_none());

    // A refilling key: used up, then refilled once the interval has passed.
    let (rid, rkey) = server_key(
        &s,
        &me,
        ApiKeyCreateBody {
            remaining: Some(2),
            refill_amount: Some(3),
            refill_interval: Some(60_000),
            rate_limit_enabled: Some(false),
            ..Default::default()
        },
    )
    .await;
    for _ in 0..2 {
        assert_eq!(with_key(&s, "/get-session", &rkey).await.status, 200);
    }
    with_key(&s, "/get-session", &rkey)
        .await
        .assert_error(429, "USAGE_EXCEEDED");
    assert!(key_store::find_by_id(s.db(), &rid).await.unwrap().is_some());
    s.clock.advance(Duration::seconds(61));
    let results = burst(&s, &rkey, 20).await;
    assert_eq!(
        results.iter().filter(|(st, _)| *st == 200).count(),
        3,
        "{results:?}"
    );
    let row = key_store::find_by_id(s.db(), &rid).await.unwrap().unwrap();
    assert_eq!(row.remaining, Some(0));
    assert!(row.last_refill_at.is_some());
}

async fn api_key_rate_limit_is_per_key_and_atomic(b: Backend) {
    let s = server(b).await;
    let (_, me) = user(&s).await;
    let (kid, key) = server_key(
        &s,
        &me,
        ApiKeyCreateBody {
            rate_limit_max: Some(5),
            rate_limit_time_window: Some(60_000),
            ..Default::default()
        },
    )
    .await;
    let (_, other) = server_key(&s, &me, ApiKeyCreateBody::default()).await;
    let results = burst(&s, &key, 30).await;
    assert_eq!(
        results.iter().filter(|(st, _)| *st == 200).count(),
        5,
        "{results:?}"
    );
    for (st, body) in results.iter().filter(|(st, _)| *st != 200) {
        assert_eq!(*st, 429, "{body}");
        assert_eq!(body["code"], "RATE_LIMITED", "{body}");
        assert_eq!(body["message"], "Rate limit exceeded.");
        let wait = body["details"]["tryAgainIn"].as_i64().unwrap();
        assert!(wait > 0 && wait <= 60_000, "{body}");
    }
    let row = key_store::find_by_id(s.db(), &kid).await.unwrap().unwrap();
    assert_eq!(row.request_count, Some(5));
    // Other keys have their own window.
    assert_eq!(with_key(&s, "/get-session", &other).await.status, 200);
    s.clock.advance(Duration::seconds(30));
    let r = with_key(&s, "/get-session", &key).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.json()["details"]["tryAgainIn"], 30_000);
    s.clock.advance(Duration::seconds(31));
    assert_eq!(with_key(&s, "/get-session", &key).await.status, 200);
    let row = key_store::find_by_id(s.db(), &kid).await.unwrap().unwrap();
    assert_eq!(row.request_count, Some(1));
}

async fn api_key_configurations_by_config_id(b: Backend) {
    let s = server_with(
        b.clone(),
        &[],
        "[api_key]\nenable_session_for_api_keys = true\n\
         [api_key.configs.public]\ndefault_prefix = \"pk_\"\ndefault_key_length = 40\n\
         rate_limit = { enabled = false }\nkey_expiration = { default_expires_in = 172800 }\n",
    )
    .await;
    let (c, me) = user(&s).await;
    let d = create(&c, json!({"name": "d"})).await;
    let p = create(&c, json!({"name": "p", "configId": "public"})).await;
    assert_eq!(p["configId"], "public");
    assert_eq!(p["prefix"], "pk_");
    let pkey = p["key"].as_str().unwrap();
    assert!(pkey.starts_with("pk_") && pkey.len() == 3 + 40);
    assert!(p["expiresAt"].is_string());
    // An unknown configId falls back to the default configuration.
    let u = create(&c, json!({"configId": "nope"})).await;
    assert_eq!(u["configId"], "default");

    c.get(&format!("/api-key/get?id={}", id(&p)))
        .await
        .assert_error(404, "KEY_NOT_FOUND");
    let got = c
        .get(&format!("/api-key/get?id={}&configId=public", id(&p)))
        .await;
    assert_eq!(got.status, 200, "{}", got.text);
    c.get(&format!("/api-key/get?id={}&configId=public", id(&d)))
        .await
        .assert_error(404, "KEY_NOT_FOUND");
    let all = c.get("/api-key/list").await.json();
    assert_eq!(all["total"], 3);
    let row = key_store::find_by_id(s.db(), &id(&p))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.rate_limit_enabled, Some(false));
    let public = c.get("/api-key/list?configId=public").await.json();
    assert_eq!(public["total"], 1);
    assert_eq!(public["apiKeys"][0]["id"], id(&p));
    c.post("/api-key/delete", json!({"keyId": id(&p)}))
        .await
        .assert_error(404, "KEY_NOT_FOUND");
    // The header is the default configuration's: shorter than its length is refused
    // before any lookup (Better Auth's rule).
    with_key(&s, "/get-session", pkey)
        .await
        .assert_error(403, "INVALID_API_KEY");
    // It accepts keys of any configuration; rate limits follow the key's.
    let (_, long) = server_key(
        &s,
        &me,
        ApiKeyCreateBody {
            config_id: Some("public".into()),
            prefix: Some("x".repeat(30)),
            ..Default::default()
        },
    )
    .await;
    for _ in 0..12 {
        assert_eq!(with_key(&s, "/get-session", &long).await.status, 200);
    }
    let r = c
        .post(
            "/api-key/delete",
            json!({"keyId": id(&p), "configId": "public"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // Start-up refuses a bad configuration, naming the setting.
    for (plugins, text, needle) in [
        (
            vec!["api-key"],
            "[api_key]\nreferences = \"organization\"\n",
            "ORGANIZATION_PLUGIN_REQUIRED",
        ),
        (
            vec!["api-key"],
            "[api_key.configs.x]\nreferences = \"organization\"\n",
            "configs.x.references",
        ),
        (vec!["api-key"], "[api_key]\nnope = 1\n", "nope"),
        (
            vec!["api-key"],
            "[api_key]\ndefault_key_length = 8\n",
            "default_key_length",
        ),
        (
            vec!["api-key"],
            "[api_key.configs.default]\nrequire_name = true\n",
            "default",
        ),
    ] {
        let mut config = gatehouse_tests::test_config();
        config.plugins.extend(plugins.iter().map(|p| p.to_string()));
        config.database_url = "sqlite::memory:".into();
        add_sections(&mut config, text);
        let err = gatehouse_server::Gatehouse::builder(config)
            .build()
            .await
            .err()
            .unwrap_or_else(|| panic!("{text} accepted"))
            .to_string();
        assert!(err.contains(needle), "{text}: {err}");
    }
}

async fn api_key_organization_owned_keys(b: Backend) {
    let s = server_with(
        b,
        &["organization"],
        "[api_key]\nenable_session_for_api_keys = true\n\
         [api_key.configs.org]\nreferences = \"organization\"\n",
    )
    .await;
    let (owner, _) = user(&s).await;
    let r = owner
        .post(
            "/organization/create",
            json!({"name": "Acme", "slug": format!("acme-{}", gatehouse_tests::random_suffix(6).to_lowercase())}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let org = id(&r.json());
    let personal = create(&owner, json!({"name": "mine"})).await;

    owner
        .post("/api-key/create", json!({"configId": "org"}))
        .await
        .assert_error(400, "ORGANIZATION_ID_REQUIRED");
    let k = create(
        &owner,
        json!({"configId": "org", "organizationId": org, "name": "team"}),
    )
    .await;
    assert_eq!(k["referenceId"], org);
    assert_eq!(k["configId"], "org");

    let listed = owner
        .get(&format!("/api-key/list?organizationId={org}"))
        .await
        .json();
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["apiKeys"][0]["id"], id(&k));
    let mine = owner.get("/api-key/list").await.json();
    assert_eq!(mine["total"], 1);
    assert_eq!(mine["apiKeys"][0]["id"], id(&personal));
    let got = owner
        .get(&format!("/api-key/get?id={}&configId=org", id(&k)))
        .await;
    assert_eq!(got.status, 200, "{}", got.text);

    // Outsiders and plain members.
    let (outsider, _) = user(&s).await;
    outsider
        .post(
            "/api-key/create",
            json!({"configId": "org", "organizationId": org}),
        )
        .await
        .assert_error(403, "USER_NOT_MEMBER_OF_ORGANIZATION");
    outsider
        .get(&format!("/api-key/list?organizationId={org}"))
        .await
        .assert_error(403, "USER_NOT_MEMBER_OF_ORGANIZATION");
    outsider
        .get(&format!("/api-key/get?id={}&configId=org", id(&k)))
        .await
        .assert_error(403, "USER_NOT_MEMBER_OF_ORGANIZATION");
    let (member, member_id) = user(&s).await;
    s.gatehouse
        .api()
        .organization()
        .add_member(
            gatehouse_server::plugins::organization::server_api::AddMember {
                user_id: member_id,
                role: vec!["member".into()],
                organization_id: org.clone(),
                team_id: None,
            },
        )
        .await
        .expect("member added");
    member
        .get(&format!("/api-key/list?organizationId={org}"))
        .await
        .assert_error(403, "INSUFFICIENT_API_KEY_PERMISSIONS");
    member
        .post(
            "/api-key/delete",
            json!({"keyId": id(&k), "configId": "org"}),
        )
        .await
        .assert_error(403, "INSUFFICIENT_API_KEY_PERMISSIONS");

    // An organization's key stands for no user.
    with_key(&s, "/get-session", k["key"].as_str().unwrap())
        .await
        .assert_error(401, "INVALID_REFERENCE_ID_FROM_API_KEY");

    let r = owner
        .post(
            "/api-key/delete",
            json!({"keyId": id(&k), "configId": "org"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// A key without per-use accounting (no `remaining`, rate limit off) is
/// served from the session cache; disabling or deleting it, or a change to
/// its owner, still takes effect on the very next request.
async fn api_key_cached_sessions_end_with_the_key(b: Backend) {
    let s = server_with(
        b,
        &[],
        "[api_key]\nenable_session_for_api_keys = true\nrate_limit = { enabled = false }\n",
    )
    .await;
    let (c, me) = user(&s).await;
    let k = create(&c, json!({"name": "cached"})).await;
    let key = k["key"].as_str().unwrap();
    let last_request = || async {
        key_store::find_by_id(s.db(), &id(&k))
            .await
            .unwrap()
            .unwrap()
            .last_request
    };
    let r = with_key(&s, "/get-session", key).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["user"]["id"], me);
    let first = last_request().await.expect("the first use is recorded");
    // Within the cache's TTL (5 s) later uses are served from it: nothing written.
    s.clock.advance(Duration::seconds(2));
    let r = with_key(&s, "/get-session", key).await;
    assert_eq!(r.json()["user"]["id"], me);
    assert_eq!(last_request().await, Some(first));
    // Past the TTL the key is verified (and recorded) again.
    s.clock.advance(Duration::seconds(4));
    let r = with_key(&s, "/get-session", key).await;
    assert_eq!(r.json()["user"]["id"], me);
    assert!(last_request().await.unwrap() > first);

    // A profile change shows at once.
    let renamed = c.post("/update-user", json!({"name": "Renamed"})).await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    let r = with_key(&s, "/get-session", key).await;
    assert_eq!(r.json()["user"]["name"], "Renamed");

    let off = c
        .post(
            "/api-key/update",
            json!({"keyId": id(&k), "enabled": false}),
        )
        .await;
    assert_eq!(off.status, 200, "{}", off.text);
    with_key(&s, "/get-session", key)
        .await
        .assert_error(401, "KEY_DISABLED");

    let k2 = create(&c, json!({"name": "deleted"})).await;
    let key2 = k2["key"].as_str().unwrap();
    assert_eq!(with_key(&s, "/get-session", key2).await.status, 200);
    let del = c.post("/api-key/delete", json!({"keyId": id(&k2)})).await;
    assert_eq!(del.status, 200, "{}", del.text);
    with_key(&s, "/get-session", key2)
        .await
        .assert_error(401, "INVALID_API_KEY");
}
