//! The oauth-provider plugin over HTTP: discovery, the authorization code
//! flow with PKCE through the login and consent hand-off, ID tokens verified
//! offline against `/jwks`, userinfo, introspection, revocation, refresh
//! rotation, client credentials, registration, client and consent
//! management, and the security cases (code replay, refresh reuse, another
//! client's code, redirect URI tricks, PKCE downgrades, consent across clients).

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use gatehouse_server::crypto::token::hash_token;
use gatehouse_server::db::store::find_verification;
use gatehouse_server::plugins::oauth_provider::authorize::CODE_PREFIX;
use gatehouse_server::plugins::oauth_provider::server_api::ClientOptions;
use gatehouse_server::plugins::oauth_provider::store as oauth_store;
use gatehouse_tests::{add_sections, on_both_backends, Backend, Client, TestServer};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{json, Map, Value};
use sha2::Digest;

on_both_backends!(
    discovery_documents,
    code_flow_through_login_and_consent,
    code_replay_revokes_what_it_issued,
    refresh_rotates_and_reuse_revokes_the_family,
    client_credentials_grant,
    authorize_refusals,
    token_refusals,
    dynamic_registration,
    clients_belong_to_their_owner,
    consent_is_per_client_and_revocable,
    revocation_and_introspection,
    prompt_and_max_age,
    rp_initiated_logout,
    id_tokens_verify_across_key_rotation,
    native_loopback_redirects_may_change_port,
);

pub(crate) const REDIRECT: &str = "https://app.example/callback";
pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

pub(crate) async fn server(b: Backend, section: &str) -> TestServer {
    TestServer::start_with(b, |c| {
        c.plugins.push("jwt".into());
        c.plugins.push("oauth-provider".into());
        add_sections(c, section);
    })
    .await
}

pub(crate) fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
}

/// A client created by `owner` over HTTP: (client_id, client_secret).
pub(crate) async fn create_client(owner: &Client, meta: Value) -> (String, Option<String>) {
    let r = owner.post("/oauth2/create-client", meta).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
    let v = r.json();
    (
        v["client_id"].as_str().unwrap().to_string(),
        v["client_secret"].as_str().map(str::to_string),
    )
}

pub(crate) async fn confidential(owner: &Client, extra: Value) -> (String, String) {
    let mut meta = json!({
        "redirect_uris": [REDIRECT],
        "client_name": "Test App",
        "grant_types": ["authorization_code", "refresh_token"],
    });
    meta.as_object_mut()
        .unwrap()
        .extend(extra.as_object().cloned().unwrap_or_default());
    let (id, secret) = create_client(owner, meta).await;
    (id, secret.expect("a confidential client gets a secret"))
}

pub(crate) fn authorize_url(client_id: &str, scope: &str, extra: &[(&str, &str)]) -> String {
    let ch = challenge(VERIFIER);
    let mut pairs: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("scope", scope),
        ("state", "st-123"),
        ("code_challenge", &ch),
        ("code_challenge_method", "S256"),
        ("nonce", "n-456"),
    ];
    pairs.extend_from_slice(extra);
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        q.append_pair(k, v);
    }
    format!("/oauth2/authorize?{}", q.finish())
}

pub(crate) fn query_of(location: &str) -> Map<String, Value> {
    let url = url::Url::parse(location)
        .or_else(|_| url::Url::parse(&format!("http://x{location}")))
        .unwrap();
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect()
}

/// Follows authorize (with consent when asked) to the code at the redirect URI.
pub(crate) async fn code_for(user: &Client, url: &str) -> String {
    let r = user.get(url).await;
    assert_eq!(r.status, 302, "{}", r.text);
    let mut location = r.header("location").unwrap();
    if location.contains("/consent?") {
        let oauth_query = location.split_once('?').unwrap().1.to_string();
        let r = user
            .post(
                "/oauth2/consent",
                json!({"accept": true, "oauth_query": oauth_query}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json()["redirect"], true);
        location = r.json()["url"].as_str().unwrap().to_string();
    }
    assert!(location.starts_with(REDIRECT), "{location}");
    let q = query_of(&location);
    assert_eq!(q["state"], "st-123");
    q["code"].as_str().unwrap().to_string()
}

pub(crate) fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

/// A form post to `path` with Basic client authentication (when given).
pub(crate) async fn form(
    c: &Client,
    path: &str,
    auth: Option<(&str, &str)>,
    fields: &[(&str, &str)],
) -> gatehouse_tests::Response {
    let mut req = c
        .raw()
        .post(format!("{}{path}", c.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(fields)
                .finish(),
        );
    if let Some((id, secret)) = auth {
        req = req.header("authorization", basic(id, secret));
    }
    c.request(req).await
}

pub(crate) async fn redeem(
    c: &Client,
    id: &str,
    secret: &str,
    code: &str,
) -> gatehouse_tests::Response {
    form(
        c,
        "/oauth2/token",
        Some((id, secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await
}

#[track_caller]
pub(crate) fn assert_oauth_error(r: &gatehouse_tests::Response, status: u16, error: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.json()["error"], error, "{}", r.text);
    assert!(
        r.json()["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{}",
        r.text
    );
}

pub(crate) async fn introspect(c: &Client, id: &str, secret: &str, token: &str) -> Value {
    let r = form(
        c,
        "/oauth2/introspect",
        Some((id, secret)),
        &[("token", token)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

async fn discovery_documents(b: Backend) {
    let s = server(
        b,
        "[oauth_provider]\nallow_dynamic_client_registration = true\n",
    )
    .await;
    let c = s.client();
    let issuer = format!("{}/api/auth", s.origin);
    let r = c.get("/.well-known/openid-configuration").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.header("cache-control").as_deref(),
        Some("public, max-age=15, stale-while-revalidate=15, stale-if-error=86400")
    );
    let doc = r.json();
    assert_eq!(doc["issuer"], issuer);
    assert_eq!(
        doc["authorization_endpoint"],
        format!("{issuer}/oauth2/authorize")
    );
    assert_eq!(doc["token_endpoint"], format!("{issuer}/oauth2/token"));
    assert_eq!(
        doc["userinfo_endpoint"],
        format!("{issuer}/oauth2/userinfo")
    );
    assert_eq!(doc["jwks_uri"], format!("{issuer}/jwks"));
    assert_eq!(
        doc["registration_endpoint"],
        format!("{issuer}/oauth2/register")
    );
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        doc["end_session_endpoint"],
        format!("{issuer}/oauth2/end-session")
    );
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["EdDSA"])
    );
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    assert!(
        !doc.to_string().contains("\"none\"]")
            || doc["token_endpoint_auth_methods_supported"][0] == "none"
    );
    assert!(
        !doc["id_token_signing_alg_values_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "none"),
        "alg none is never advertised"
    );

    // Only GET and HEAD: under the base path another method is an unknown
    // route (404, as for every route there); at the root, 405.
    let r = c.post("/.well-known/openid-configuration", json!({})).await;
    assert_eq!(r.status, 404, "{}", r.text);
    // At the origin root, too, and RFC 8414's path-suffixed form.
    let http = gatehouse_tests::http_client().build().unwrap();
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
        "/.well-known/oauth-authorization-server/api/auth",
    ] {
        let post = http
            .post(format!("{}{path}", s.origin))
            .send()
            .await
            .unwrap();
        assert_eq!(post.status(), 405, "{path}");
        let r = http
            .get(format!("{}{path}", s.origin))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["issuer"], issuer, "{path}");
        // With `openid` among the scopes (the default) both are the
        // OpenID document, as Better Auth serves them.
        assert_eq!(v, doc, "{path}");
    }
    assert_eq!(doc["acr_values_supported"], json!(["0"]));
    assert_eq!(doc["backchannel_logout_supported"], false);
}

async fn code_flow_through_login_and_consent(b: Backend) {
    let s = server(b, "").await;
    let user = s.client();
    let (_, signed_up) = user.sign_up().await;
    let user_id = signed_up["user"]["id"].as_str().unwrap().to_string();
    let (id, secret) = confidential(&user, json!({})).await;
    let url = authorize_url(&id, "openid profile email offline_access", &[]);

    // Signed out: to the login page, with the request signed.
    let browser = s.client();
    let r = browser.get(&url).await;
    assert_eq!(r.status, 302, "{}", r.text);
    let login = r.header("location").unwrap();
    assert!(
        login.starts_with(&format!("{}/sign-in?", s.origin)),
        "{login}"
    );
    let q = query_of(&login);
    assert_eq!(q["client_id"], id.as_str());
    assert!(
        q.contains_key("sig") && q.contains_key("exp") && q.contains_key("ba_iat"),
        "{login}"
    );
    // A fetch caller gets the same as JSON.
    let r = browser
        .request(
            browser
                .raw()
                .get(format!("{}{url}", browser.base))
                .header("accept", "application/json"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["redirect"], true);
    assert!(r.json()["url"].as_str().unwrap().contains("/sign-in?"));

    // Signed in: to the consent page; a tampered query is refused.
    let r = user.get(&url).await;
    let consent = r.header("location").unwrap();
    assert!(
        consent.starts_with(&format!("{}/consent?", s.origin)),
        "{consent}"
    );
    let oauth_query = consent.split_once('?').unwrap().1.to_string();
    let tampered = oauth_query.replace("offline_access", "offline_accesz");
    let r = user
        .post(
            "/oauth2/consent",
            json!({"accept": true, "oauth_query": tampered}),
        )
        .await;
    assert_oauth_error(&r, 400, "invalid_signature");
    // A consent cannot grant what the client did not ask for.
    let r = user
        .post(
            "/oauth2/consent",
            json!({"accept": true, "scope": "openid admin", "oauth_query": oauth_query}),
        )
        .await;
    assert_oauth_error(&r, 400, "invalid_request");
    // Another user cannot use the hand-off without a session: Better
    // Auth's session middleware answers, in its own shape.
    let r = browser
        .post(
            "/oauth2/consent",
            json!({"accept": true, "oauth_query": oauth_query}),
        )
        .await;
    r.assert_error(401, "UNAUTHORIZED");
    let r = user
        .post(
            "/oauth2/consent",
            json!({"accept": true, "oauth_query": oauth_query}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let back = r.json()["url"].as_str().unwrap().to_string();
    let q = query_of(&back);
    assert_eq!(q["state"], "st-123");
    assert_eq!(q["iss"], format!("{}/api/auth", s.origin), "RFC 9207 iss");
    let code = q["code"].as_str().unwrap().to_string();
    assert_eq!(code.len(), 32);

    // The code is stored only as its hash.
    let hashed = format!("{CODE_PREFIX}{}", hash_token(&code));
    assert!(find_verification(s.db(), &hashed).await.unwrap().is_some());
    let raw = format!("{CODE_PREFIX}{code}");
    assert!(find_verification(s.db(), &raw).await.unwrap().is_none());

    let r = redeem(&user, &id, &secret, &code).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
    assert_eq!(r.header("pragma").as_deref(), Some("no-cache"));
    let t = r.json();
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["expires_in"], 3600);
    assert_eq!(t["scope"], "openid profile email offline_access");
    let access = t["access_token"].as_str().unwrap().to_string();
    assert!(t["refresh_token"].as_str().is_some());

    // The ID token verifies offline against /jwks, with the OIDC claims.
    let set: JwkSet = serde_json::from_str(&user.get("/jwks").await.text).unwrap();
    let id_token = t["id_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(id_token).unwrap();
    assert_eq!(header.alg, Algorithm::EdDSA);
    let key = DecodingKey::from_jwk(set.find(&header.kid.unwrap()).unwrap()).unwrap();
    let mut v = Validation::new(Algorithm::EdDSA);
    v.set_audience(&[&id]);
    v.set_issuer(&[format!("{}/api/auth", s.origin)]);
    let claims = jsonwebtoken::decode::<Map<String, Value>>(id_token, &key, &v)
        .expect("the ID token verifies")
        .claims;
    assert_eq!(claims["sub"], user_id.as_str());
    assert_eq!(claims["nonce"], "n-456");
    // Better Auth's ID token claims: acr "0", no azp; no sid for a client
    // the operator has not allowed to end sessions.
    assert_eq!(claims["acr"], "0");
    assert!(claims.get("azp").is_none(), "{claims:?}");
    assert!(claims.get("sid").is_none(), "{claims:?}");
    assert_eq!(claims["email_verified"], false);
    assert!(claims["auth_time"].as_i64().is_some());
    let digest = sha2::Sha512::digest(access.as_bytes());
    assert_eq!(claims["at_hash"], URL_SAFE_NO_PAD.encode(&digest[..32]));

    // userinfo with the access token.
    let anon = s.client_without_origin();
    let r = anon
        .request(
            anon.raw()
                .get(format!("{}/oauth2/userinfo", anon.base))
                .bearer_auth(&access),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["sub"], user_id.as_str());
    assert_eq!(r.json()["name"], "Test User");
    assert!(r.json()["email"].as_str().unwrap().contains('@'));
    let r = anon
        .request(
            anon.raw()
                .get(format!("{}/oauth2/userinfo", anon.base))
                .bearer_auth("nope"),
        )
        .await;
    assert_oauth_error(&r, 401, "invalid_token");
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));

    let info = introspect(&anon, &id, &secret, &access).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["client_id"], id.as_str());
    assert_eq!(info["azp"], id.as_str());
    assert_eq!(info["token_type"], "Bearer");
    assert_eq!(info["sub"], user_id.as_str());
    assert_eq!(info["scope"], "openid profile email offline_access");

    // Consent is remembered: the next request goes straight back with a code.
    let r = user.get(&url).await;
    assert_eq!(r.status, 302);
    assert!(r.header("location").unwrap().starts_with(REDIRECT));
    // prompt=consent asks again.
    let r = user
        .get(&authorize_url(&id, "openid", &[("prompt", "consent")]))
        .await;
    assert!(r.header("location").unwrap().contains("/consent?"));
    // Declining sends access_denied back to the client.
    let q = r
        .header("location")
        .unwrap()
        .split_once('?')
        .unwrap()
        .1
        .to_string();
    let r = user
        .post(
            "/oauth2/consent",
            json!({"accept": false, "oauth_query": q}),
        )
        .await;
    let back = query_of(r.json()["url"].as_str().unwrap());
    assert_eq!(back["error"], "access_denied");
    assert_eq!(back["state"], "st-123");
}

async fn code_replay_revokes_what_it_issued(b: Backend) {
    let s = server(b, "").await;
    let user = s.client();
    user.sign_up().await;
    let (id, secret) = confidential(&user, json!({})).await;
    let code = code_for(&user, &authorize_url(&id, "openid offline_access", &[])).await;
    let first = redeem(&user, &id, &secret, &code).await.json();
    let access = first["access_token"].as_str().unwrap();
    let refresh = first["refresh_token"].as_str().unwrap();
    assert_eq!(
        introspect(&user, &id, &secret, access).await["active"],
        true
    );

    let again = redeem(&user, &id, &secret, &code).await;
    assert_oauth_error(&again, 400, "invalid_grant");
    assert!(again.text.contains("already used"), "{}", again.text);
    assert_eq!(
        introspect(&user, &id, &secret, access).await["active"],
        false
    );
    assert_eq!(
        introspect(&user, &id, &secret, refresh).await["active"],
        false
    );
    let r = form(
        &user,
        "/oauth2/token",
        Some((&id, &secret)),
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_oauth_error(&r, 400, "invalid_grant");

    // Concurrent redemptions: exactly one wins.
    let code = code_for(&user, &authorize_url(&id, "openid", &[])).await;
    let go = || redeem(&user, &id, &secret, &code);
    let (r1, r2, r3, r4, r5, r6) = tokio::join!(go(), go(), go(), go(), go(), go());
    let results = [r1, r2, r3, r4, r5, r6];
    assert_eq!(results.iter().filter(|r| r.status == 200).count(), 1);
}

async fn refresh_rotates_and_reuse_revokes_the_family(b: Backend) {
    let s = server(b, "").await;
    let user = s.client();
    user.sign_up().await;
    let (id, secret) = confidential(&user, json!({})).await;
    let code = code_for(
        &user,
        &authorize_url(&id, "openid email offline_access", &[]),
    )
    .await;
    let t0 = redeem(&user, &id, &secret, &code).await.json();
    let r0 = t0["refresh_token"].as_str().unwrap().to_string();

    let refresh = |rt: String, scope: Option<&'static str>| {
        let user = &user;
        let (id, secret) = (id.clone(), secret.clone());
        async move {
            let mut fields = vec![
                ("grant_type", "refresh_token".to_string()),
                ("refresh_token", rt),
            ];
            if let Some(sc) = scope {
                fields.push(("scope", sc.to_string()));
            }
            let f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            form(user, "/oauth2/token", Some((&id, &secret)), &f).await
        }
    };
    let r = refresh(r0.clone(), Some("openid")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let t1 = r.json();
    assert_eq!(t1["scope"], "openid", "narrowed");
    let r1 = t1["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(r1, r0, "rotated");
    assert!(t1["id_token"].as_str().is_some());
    // The new refresh token still carries the original grant.
    let r = refresh(r1.clone(), Some("openid email")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r2 = r.json()["refresh_token"].as_str().unwrap().to_string();
    let a2 = r.json()["access_token"].as_str().unwrap().to_string();
    // Asking beyond the grant is refused.
    let r = refresh(r2.clone(), Some("openid profile")).await;
    assert_oauth_error(&r, 400, "invalid_scope");

    // Reusing the spent r0 revokes the whole family, r2 and its access token included.
    let r = refresh(r0, None).await;
    assert_oauth_error(&r, 400, "invalid_grant");
    assert_eq!(introspect(&user, &id, &secret, &a2).await["active"], false);
    let r = refresh(r2, None).await;
    assert_oauth_error(&r, 400, "invalid_grant");

    // Another client cannot use a refresh token.
    let (other, other_secret) = confidential(&user, json!({})).await;
    let code = code_for(&user, &authorize_url(&id, "openid offline_access", &[])).await;
    let rt = redeem(&user, &id, &secret, &code).await.json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = form(
        &user,
        "/oauth2/token",
        Some((&other, &other_secret)),
        &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
    )
    .await;
    assert_oauth_error(&r, 400, "invalid_grant");
    // ... and the owner's token still works.
    assert_eq!(refresh(rt, None).await.status, 200);
}

async fn client_credentials_grant(b: Backend) {
    let s = server(b, "[oauth_provider]\nscopes = [\"openid\", \"profile\", \"email\", \"offline_access\", \"read:reports\"]\n").await;
    let owner = s.client();
    owner.sign_up().await;
    let (id, secret) = create_client(
        &owner,
        json!({"grant_types": ["client_credentials"], "scope": "read:reports openid"}),
    )
    .await;
    let secret = secret.unwrap();
    let anon = s.client_without_origin();
    let r = form(
        &anon,
        "/oauth2/token",
        Some((&id, &secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let t = r.json();
    assert_eq!(
        t["scope"], "read:reports",
        "user scopes are not given to a machine"
    );
    assert!(t.get("refresh_token").is_none() && t.get("id_token").is_none());
    let info = introspect(&anon, &id, &secret, t["access_token"].as_str().unwrap()).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["sub"], id.as_str());
    let r = form(
        &anon,
        "/oauth2/token",
        Some((&id, &secret)),
        &[("grant_type", "client_credentials"), ("scope", "openid")],
    )
    .await;
    assert_oauth_error(&r, 400, "invalid_scope");
    // The authorization_code grant is not this client's.
    let r = form(
        &anon,
        "/oauth2/token",
        Some((&id, &secret)),
        &[("grant_type", "authorization_code"), ("code", "x")],
    )
    .await;
    assert_oauth_error(&r, 400, "unauthorized_client");
    // A public client cannot register for it.
    let r = owner
        .post(
            "/oauth2/create-client",
            json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"}),
        )
        .await;
    assert_oauth_error(&r, 400, "invalid_client_metadata");
    // client_secret_post: the credentials in the body.
    let (post_id, post_secret) = create_client(
        &owner,
        json!({"grant_types": ["client_credentials"], "scope": "read:reports", "token_endpoint_auth_method": "client_secret_post"}),
    )
    .await;
    let post_secret = post_secret.unwrap();
    let fields = [
        ("grant_type", "client_credentials"),
        ("client_id", post_id.as_str()),
        ("client_secret", post_secret.as_str()),
    ];
    let r = form(&anon, "/oauth2/token", None, &fields).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = form(
        &anon,
        "/oauth2/token",
        Some((&post_id, &post_secret)),
        &fields[..1],
    )
    .await;
    assert_oauth_error(&r, 401, "invalid_client");
}

async fn authorize_refusals(b: Backend) {
    let s = server(b, "").await;
    let user = s.client();
    user.sign_up().await;
    let (id, _) = confidential(&user, json!({})).await;

    // Not redirectable: answered here, as JSON.
    let r = user
        .get(&authorize_url("no-such-client", "openid", &[]))
        .await;
    assert_oauth_error(&r, 400, "invalid_client");
    for bad in [
        "https://app.example/callback#frag",
        "https://app.example/callback/../evil",
        "https://app.example@evil.example/callback",
        "https://evil.example/callback",
        "javascript:alert(1)",
        "https://app.example/callback?x=1",
        "https://APP.example/callback",
    ] {
        let url = authorize_url(&id, "openid", &[]).replace(
            &format!("redirect_uri={}", urlencode(REDIRECT)),
            &format!("redirect_uri={}", urlencode(bad)),
        );
        let r = user.get(&url).await;
        assert_oauth_error(&r, 400, "invalid_redirect_uri");
        assert!(r.header("location").is_none(), "{bad}: never redirected");
    }

    // Redirected to the client with the error.
    let error_of = |r: gatehouse_tests::Response| {
        assert_eq!(r.status, 302, "{}", r.text);
        let loc = r.header("location").unwrap();
        assert!(loc.starts_with(REDIRECT), "{loc}");
        let q = query_of(&loc);
        assert_eq!(q["state"], "st-123");
        assert!(q["iss"].as_str().is_some());
        q["error"].as_str().unwrap().to_string()
    };
    let plain = authorize_url(&id, "openid", &[])
        .replace("code_challenge_method=S256", "code_challenge_method=plain");
    assert_eq!(error_of(user.get(&plain).await), "invalid_request");
    let no_method = authorize_url(&id, "openid", &[]).replace("&code_challenge_method=S256", "");
    assert_eq!(error_of(user.get(&no_method).await), "invalid_request");
    assert_eq!(
        error_of(user.get(&authorize_url(&id, "openid admin", &[])).await),
        "invalid_scope"
    );
    let token_flow =
        authorize_url(&id, "openid", &[]).replace("response_type=code", "response_type=token");
    assert_eq!(
        error_of(user.get(&token_flow).await),
        "unsupported_response_type"
    );

    // PKCE: a public client always needs it; a confidential one by default.
    let (public_id, _) = create_client(
        &user,
        json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none", "require_pkce": false}),
    )
    .await;
    let strip = |u: String| {
        let ch = challenge(VERIFIER);
        u.replace(
            &format!("&code_challenge={ch}&code_challenge_method=S256"),
            "",
        )
    };
    assert_eq!(
        error_of(
            user.get(&strip(authorize_url(&public_id, "openid", &[])))
                .await
        ),
        "invalid_request"
    );
    assert_eq!(
        error_of(user.get(&strip(authorize_url(&id, "openid", &[]))).await),
        "invalid_request"
    );
    // A confidential client that opted out, asking openid with a nonce, may skip it.
    let (relaxed, relaxed_secret) = confidential(&user, json!({"require_pkce": false})).await;
    let code = code_for(&user, &strip(authorize_url(&relaxed, "openid", &[]))).await;
    let r = form(
        &user,
        "/oauth2/token",
        Some((&relaxed, &relaxed_secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // ... but offline_access without a nonce still needs PKCE.
    let no_nonce =
        strip(authorize_url(&relaxed, "openid offline_access", &[])).replace("&nonce=n-456", "");
    assert_eq!(error_of(user.get(&no_nonce).await), "invalid_request");

    // prompt=none without a session: login_required, back at the client.
    let browser = s.client();
    assert_eq!(
        error_of(
            browser
                .get(&authorize_url(&id, "openid", &[("prompt", "none")]))
                .await
        ),
        "login_required"
    );
    // prompt=none with a consent still missing: consent_required.
    let (asks, _) = confidential(&user, json!({})).await;
    assert_eq!(
        error_of(
            user.get(&authorize_url(&asks, "openid", &[("prompt", "none")]))
                .await
        ),
        "consent_required"
    );
    // A repeated parameter is refused.
    let r = user
        .get(&format!(
            "{}&state=again",
            authorize_url(&id, "openid", &[])
        ))
        .await;
    assert_oauth_error(&r, 400, "invalid_request");
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn token_refusals(b: Backend) {
    let s = server(b, "").await;
    let user = s.client();
    user.sign_up().await;
    let (id, secret) = confidential(&user, json!({})).await;
    let (other, other_secret) = confidential(&user, json!({})).await;
    let anon = s.client_without_origin();

    // The pipeline's own refusals speak OAuth here too.
    let r = form(&anon, "/oauth2/token", Some((&id, &secret)), &[]).await;
    assert_oauth_error(&r, 400, "invalid_request");
    let r = anon
        .request(
            anon.raw()
                .post(format!("{}/oauth2/token", anon.base))
                .header("content-type", "text/plain")
                .body("x"),
        )
        .await;
    assert_oauth_error(&r, 415, "invalid_request");
    let r = form(
        &anon,
        "/oauth2/token",
        Some((&id, &secret)),
        &[("grant_type", "password")],
    )
    .await;
    assert_oauth_error(&r, 400, "unsupported_grant_type");

    // Client authentication.
    let r = form(
        &anon,
        "/oauth2/token",
        Some((&id, "wrong")),
        &[("grant_type", "authorization_code"), ("code", "x")],
    )
    .await;
    assert_oauth_error(&r, 401, "invalid_client");
    assert!(r.header("www-authenticate").unwrap().starts_with("Basic"));
    let r = form(
        &anon,
        "/oauth2/token",
        None,
        &[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("client_id", &id),
        ],
    )
    .await;
    assert_oauth_error(&r, 401, "invalid_client");
    let r = form(
        &anon,
        "/oauth2/token",
        Some((&id, &secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_oauth_error(&r, 400, "invalid_request");
    // The registered method only (client_secret_basic here).
    let r = form(
        &anon,
        "/oauth2/token",
        None,
        &[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("client_id", &id),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_oauth_error(&r, 400, "invalid_client");

    // Another client's code.
    let code = code_for(&user, &authorize_url(&id, "openid", &[])).await;
    let r = redeem(&anon, &other, &other_secret, &code).await;
    assert_oauth_error(&r, 400, "invalid_grant");
    // A wrong redirect_uri, a wrong verifier, a missing verifier.
    for (uri, verifier) in [
        ("https://app.example/other", VERIFIER),
        (REDIRECT, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX"),
        (REDIRECT, ""),
    ] {
        let code = code_for(&user, &authorize_url(&id, "openid", &[])).await;
        let mut fields = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", uri),
        ];
        if !verifier.is_empty() {
            fields.push(("code_verifier", verifier));
        }
        let r = form(&anon, "/oauth2/token", Some((&id, &secret)), &fields).await;
        assert_oauth_error(&r, 400, "invalid_grant");
    }
    // An expired code.
    let code = code_for(&user, &authorize_url(&id, "openid", &[])).await;
    s.clock.advance(chrono::Duration::seconds(601));
    assert_oauth_error(
        &redeem(&anon, &id, &secret, &code).await,
        400,
        "invalid_grant",
    );
}

async fn dynamic_registration(b: Backend) {
    let closed = server(b.clone(), "").await;
    let c = closed.client_without_origin();
    let r = c
        .post("/oauth2/register", json!({"redirect_uris": [REDIRECT]}))
        .await;
    assert_oauth_error(&r, 403, "access_denied");

    let s = server(
        b.clone(),
        "[oauth_provider]\nallow_dynamic_client_registration = true\n",
    )
    .await;
    let anon = s.client_without_origin();
    let r = anon
        .post(
            "/oauth2/register",
            json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}),
        )
        .await;
    assert_oauth_error(&r, 401, "login_required");
    let user = s.client();
    user.sign_up().await;
    let r = user
        .post(
            "/oauth2/register",
            json!({"redirect_uris": [REDIRECT], "client_name": "Reg"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let v = r.json();
    let id = v["client_id"].as_str().unwrap();
    let secret = v["client_secret"].as_str().unwrap();
    assert_eq!(id.len(), 32);
    assert!(id.chars().all(|c| c.is_ascii_alphabetic()));
    assert_eq!(v["client_secret_expires_at"], 0);
    assert_eq!(v["token_endpoint_auth_method"], "client_secret_basic");
    // Shown once: get-client has no secret, the database only its hash.
    let got = user
        .get(&format!("/oauth2/get-client?client_id={id}"))
        .await
        .json();
    assert!(got.get("client_secret").is_none(), "{got}");
    let row = oauth_store::client(s.db(), id).await.unwrap().unwrap();
    assert_eq!(
        row.client_secret.as_deref(),
        Some(hash_token(secret).as_str()),
        "stored hashed"
    );

    for (bad, error) in [
        (
            json!({"redirect_uris": ["http://app.example/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["http://127.0.0.1:8080/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["https://app.example/cb#x"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["https://u:p@app.example/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["javascript:alert(1)"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["myapp:/cb"], "application_type": "native"}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "grant_types": ["password"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt_x"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "scope": "openid admin"}),
            "invalid_scope",
        ),
        (json!({}), "invalid_redirect_uri"),
    ] {
        let r = user.post("/oauth2/register", bad.clone()).await;
        assert_oauth_error(&r, 400, error);
    }
    // Native clients: plain http on loopback, and reverse-domain schemes.
    let r = user
        .post("/oauth2/register", json!({"redirect_uris": ["http://127.0.0.1:8080/cb", "com.example.app:/cb"], "application_type": "native", "token_endpoint_auth_method": "none"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(
        r.json().get("client_secret").is_none(),
        "a public client has no secret"
    );

    // Open registration: public clients only.
    let open = server(b, "[oauth_provider]\nallow_dynamic_client_registration = true\nallow_unauthenticated_client_registration = true\n").await;
    let anon = open.client_without_origin();
    let r = anon
        .post("/oauth2/register", json!({"redirect_uris": [REDIRECT]}))
        .await;
    assert_oauth_error(&r, 400, "invalid_client_metadata");
    let r = anon
        .post(
            "/oauth2/register",
            json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(r.json().get("user_id").is_none());
}

async fn clients_belong_to_their_owner(b: Backend) {
    let s = server(b, "").await;
    let alice = s.client();
    alice.sign_up().await;
    let bob = s.client();
    bob.sign_up().await;
    let (id, secret) = confidential(&alice, json!({})).await;

    assert_eq!(
        alice
            .get("/oauth2/get-clients")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(bob.get("/oauth2/get-clients").await.json(), json!([]));
    // Better Auth's answer, in OAuth's shape: 404 not_found.
    let not_found = |r: gatehouse_tests::Response| {
        assert_oauth_error(&r, 404, "not_found");
        assert_eq!(r.json()["error_description"], "client not found");
    };
    not_found(bob.get(&format!("/oauth2/get-client?client_id={id}")).await);
    not_found(
        bob.post(
            "/oauth2/update-client",
            json!({"client_id": id, "update": {"redirect_uris": ["https://evil.example/cb"]}}),
        )
        .await,
    );
    not_found(
        bob.post("/oauth2/client/rotate-secret", json!({"client_id": id}))
            .await,
    );
    not_found(
        bob.post("/oauth2/delete-client", json!({"client_id": id}))
            .await,
    );
    s.client()
        .get("/oauth2/get-clients")
        .await
        .assert_error(401, "UNAUTHORIZED");
    // Any signed-in user may see what a consent page shows.
    let p = bob
        .get(&format!("/oauth2/public-client?client_id={id}"))
        .await
        .json();
    assert_eq!(p["client_name"], "Test App");
    // Better Auth's shape: the key is there, its registered URIs are not.
    assert_eq!(p["redirect_uris"], json!([]));

    let r = alice
        .post("/oauth2/update-client", json!({"client_id": id, "update": {"redirect_uris": ["https://app.example/new"], "client_name": "Renamed", "token_endpoint_auth_method": "none"}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json()["redirect_uris"],
        json!(["https://app.example/new"])
    );
    assert_eq!(
        r.json()["token_endpoint_auth_method"],
        "client_secret_basic",
        "fixed at creation"
    );
    // An update that names one field keeps the rest.
    let r = alice
        .post(
            "/oauth2/update-client",
            json!({"client_id": id, "update": {"client_name": "Only the name"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["client_name"], "Only the name");
    assert_eq!(
        r.json()["redirect_uris"],
        json!(["https://app.example/new"])
    );
    assert_eq!(
        r.json()["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );

    let rotated = alice
        .post("/oauth2/client/rotate-secret", json!({"client_id": id}))
        .await
        .json();
    let new_secret = rotated["client_secret"].as_str().unwrap();
    let anon = s.client_without_origin();
    let cc = |secret: String| {
        let anon = &anon;
        let id = id.clone();
        async move {
            form(
                anon,
                "/oauth2/introspect",
                Some((&id, &secret)),
                &[("token", "x")],
            )
            .await
        }
    };
    assert_oauth_error(&cc(secret.clone()).await, 401, "invalid_client");
    assert_eq!(cc(new_secret.to_string()).await.status, 200);

    assert_eq!(
        alice
            .post("/oauth2/delete-client", json!({"client_id": id}))
            .await
            .json()["success"],
        true
    );
    assert_oauth_error(&cc(new_secret.to_string()).await, 401, "invalid_client");
}

async fn consent_is_per_client_and_revocable(b: Backend) {
    let s = server(b, "").await;
    let user = s.client();
    user.sign_up().await;
    let (a, _) = confidential(&user, json!({})).await;
    let (b_id, _) = confidential(&user, json!({})).await;
    code_for(&user, &authorize_url(&a, "openid profile", &[])).await;

    // A consent page opened for client A cannot be replayed for B: the query is signed.
    let r = user.get(&authorize_url(&b_id, "openid profile", &[])).await;
    let loc = r.header("location").unwrap();
    assert!(loc.contains("/consent?"), "B still asks: {loc}");
    let forged = loc.split_once('?').unwrap().1.replace(&b_id, &a);
    let r = user
        .post(
            "/oauth2/consent",
            json!({"accept": true, "oauth_query": forged}),
        )
        .await;
    assert_oauth_error(&r, 400, "invalid_signature");
    // A wider request for A asks again.
    let r = user
        .get(&authorize_url(&a, "openid profile email", &[]))
        .await;
    assert!(r.header("location").unwrap().contains("/consent?"));

    let consents = user.get("/oauth2/get-consents").await.json();
    let list = consents.as_array().unwrap();
    assert_eq!(list.len(), 1, "{consents}");
    assert_eq!(list[0]["clientId"], a.as_str());
    assert_eq!(list[0]["scopes"], json!(["openid", "profile"]));
    let cid = list[0]["id"].as_str().unwrap().to_string();
    let other = s.client();
    other.sign_up().await;
    let r = other.get(&format!("/oauth2/get-consent?id={cid}")).await;
    assert_oauth_error(&r, 404, "not_found");
    assert_eq!(r.json()["error_description"], "no consent");
    let r = other
        .post("/oauth2/delete-consent", json!({"id": cid}))
        .await;
    assert_oauth_error(&r, 404, "not_found");

    // A consent can only be narrowed.
    let r = user
        .post(
            "/oauth2/update-consent",
            json!({"id": cid, "update": {"scopes": ["openid", "email"]}}),
        )
        .await;
    assert_oauth_error(&r, 400, "invalid_request");
    let r = user
        .post(
            "/oauth2/update-consent",
            json!({"id": cid, "update": {"scopes": ["openid"]}}),
        )
        .await;
    assert_eq!(r.json()["scopes"], json!(["openid"]));
    assert!(user
        .get(&authorize_url(&a, "openid profile", &[]))
        .await
        .header("location")
        .unwrap()
        .contains("/consent?"));
    assert!(user
        .get(&authorize_url(&a, "openid", &[]))
        .await
        .header("location")
        .unwrap()
        .starts_with(REDIRECT));

    user.post("/oauth2/delete-consent", json!({"id": cid}))
        .await;
    assert!(user
        .get(&authorize_url(&a, "openid", &[]))
        .await
        .header("location")
        .unwrap()
        .contains("/consent?"));
    assert_eq!(user.get("/oauth2/get-consents").await.json(), json!([]));
}

async fn revocation_and_introspection(b: Backend) {
    let s = server(b, "").await;
    let user = s.client();
    user.sign_up().await;
    let (id, secret) = confidential(&user, json!({})).await;
    let (other, other_secret) = confidential(&user, json!({})).await;
    let anon = s.client_without_origin();
    let t = redeem(
        &anon,
        &id,
        &secret,
        &code_for(&user, &authorize_url(&id, "openid offline_access", &[])).await,
    )
    .await
    .json();
    let access = t["access_token"].as_str().unwrap().to_string();
    let refresh = t["refresh_token"].as_str().unwrap().to_string();

    // A client learns about its own tokens only (as in Better Auth).
    assert_eq!(
        introspect(&anon, &other, &other_secret, &access).await,
        json!({"active": false})
    );
    let r = form(
        &anon,
        "/oauth2/introspect",
        Some((&id, &secret)),
        &[("token", &refresh), ("token_type_hint", "refresh_token")],
    )
    .await;
    // RFC 7662's token_type is RFC 6749's token type (Better Auth's too).
    assert_eq!(r.json()["token_type"], "Bearer");
    assert_eq!(r.json()["active"], true);
    assert!(r.json().get("azp").is_none());
    assert_eq!(
        introspect(&anon, &id, &secret, "unknown").await,
        json!({"active": false})
    );

    // Only the client the token was issued to may revoke it.
    let r = form(
        &anon,
        "/oauth2/revoke",
        Some((&other, &other_secret)),
        &[("token", &access)],
    )
    .await;
    assert_oauth_error(&r, 400, "unauthorized_client");
    assert_eq!(
        introspect(&anon, &id, &secret, &access).await["active"],
        true
    );
    let r = form(
        &anon,
        "/oauth2/revoke",
        Some((&id, &secret)),
        &[("token", &access)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        introspect(&anon, &id, &secret, &access).await["active"],
        false
    );
    // Unknown or already revoked: still 200.
    assert_eq!(
        form(
            &anon,
            "/oauth2/revoke",
            Some((&id, &secret)),
            &[("token", &access)]
        )
        .await
        .status,
        200
    );
    // Revoking the refresh token ends the access tokens issued with it.
    let t = form(
        &anon,
        "/oauth2/token",
        Some((&id, &secret)),
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await
    .json();
    let a2 = t["access_token"].as_str().unwrap().to_string();
    let r2 = t["refresh_token"].as_str().unwrap().to_string();
    form(
        &anon,
        "/oauth2/revoke",
        Some((&id, &secret)),
        &[("token", &r2), ("token_type_hint", "refresh_token")],
    )
    .await;
    assert_eq!(introspect(&anon, &id, &secret, &a2).await["active"], false);
    // Expiry.
    let t = redeem(
        &anon,
        &id,
        &secret,
        &code_for(&user, &authorize_url(&id, "openid", &[])).await,
    )
    .await
    .json();
    let a3 = t["access_token"].as_str().unwrap().to_string();
    s.clock.advance(chrono::Duration::seconds(3601));
    assert_eq!(introspect(&anon, &id, &secret, &a3).await["active"], false);
}

async fn prompt_and_max_age(b: Backend) {
    let s = server(b, "").await;
    let user = s.client();
    let (email, _) = user.sign_up().await;
    let (id, _) = confidential(&user, json!({})).await;
    code_for(&user, &authorize_url(&id, "openid", &[])).await;

    // max_age: a sign-in older than it goes back to the login page.
    s.clock.advance(chrono::Duration::seconds(120));
    let r = user
        .get(&authorize_url(&id, "openid", &[("max_age", "60")]))
        .await;
    let login = r.header("location").unwrap();
    assert!(login.contains("/sign-in?"), "{login}");
    assert!(user
        .get(&authorize_url(&id, "openid", &[("max_age", "600")]))
        .await
        .header("location")
        .unwrap()
        .starts_with(REDIRECT));
    let r = user
        .get(&authorize_url(
            &id,
            "openid",
            &[("max_age", "60"), ("prompt", "none")],
        ))
        .await;
    assert_eq!(
        query_of(&r.header("location").unwrap())["error"],
        "login_required"
    );

    // prompt=login: the login page; coming back with the signed query after a
    // new sign-in gets the code, coming back without one does not.
    let r = user
        .get(&authorize_url(&id, "openid", &[("prompt", "login")]))
        .await;
    let login = r.header("location").unwrap();
    let signed = login.split_once('?').unwrap().1.to_string();
    let r = user.get(&format!("/oauth2/authorize?{signed}")).await;
    assert!(
        r.header("location").unwrap().contains("/sign-in?"),
        "no new sign-in yet"
    );
    s.clock.advance(chrono::Duration::seconds(1));
    let r = user
        .post(
            "/sign-in/email",
            json!({"email": email, "password": gatehouse_tests::PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = user.get(&format!("/oauth2/authorize?{signed}")).await;
    assert!(
        r.header("location").unwrap().starts_with(REDIRECT),
        "{:?}",
        r.header("location")
    );
    // Better Auth's client sends the signed query along with the sign-in:
    // the answer is where the browser goes next, here the code.
    s.clock.advance(chrono::Duration::seconds(1));
    let r = user
        .get(&authorize_url(&id, "openid", &[("prompt", "login")]))
        .await;
    let signed = r
        .header("location")
        .unwrap()
        .split_once('?')
        .unwrap()
        .1
        .to_string();
    s.clock.advance(chrono::Duration::seconds(1));
    let r = user
        .post(
            "/sign-in/email",
            json!({"email": email, "password": gatehouse_tests::PASSWORD, "oauth_query": signed}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.set_cookie("better-auth.session_token").is_some(),
        "signed in"
    );
    assert_eq!(r.json()["redirect"], true);
    assert!(
        r.json()["url"].as_str().unwrap().starts_with(REDIRECT),
        "{}",
        r.text
    );
    let r = user
        .post("/sign-in/email", json!({"email": email, "password": gatehouse_tests::PASSWORD, "oauth_query": format!("{signed}x")}))
        .await;
    assert_oauth_error(&r, 400, "invalid_signature");
    // A tampered signed query is refused.
    let r = user
        .get(&format!(
            "/oauth2/authorize?{}",
            signed.replace("prompt=login", "prompt=none")
        ))
        .await;
    assert_oauth_error(&r, 400, "invalid_signature");

    // select_account goes to the login page; continue with `selected` resumes.
    let r = user
        .get(&authorize_url(
            &id,
            "openid",
            &[("prompt", "select_account")],
        ))
        .await;
    let q = r
        .header("location")
        .unwrap()
        .split_once('?')
        .unwrap()
        .1
        .to_string();
    let r = user
        .post("/oauth2/continue", json!({"oauth_query": q}))
        .await;
    assert_oauth_error(&r, 400, "invalid_request");
    let r = user
        .post(
            "/oauth2/continue",
            json!({"selected": true, "oauth_query": q}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json()["url"].as_str().unwrap().starts_with(REDIRECT));
    s.client()
        .post(
            "/oauth2/continue",
            json!({"selected": true, "oauth_query": q}),
        )
        .await
        .assert_error(401, "UNAUTHORIZED");
}

#[test]
fn needs_the_jwt_plugin() {
    let mut c = gatehouse_tests::test_config();
    c.plugins.push("oauth-provider".into());
    let err = gatehouse_server::plugin::PluginRegistry::configure(
        &gatehouse_server::plugins::catalog(),
        &c,
    )
    .err()
    .expect("refused without jwt")
    .to_string();
    assert!(
        err.contains("\"oauth-provider\" needs plugin \"jwt\""),
        "{err}"
    );
    c.plugins.push("jwt".into());
    assert!(gatehouse_server::plugin::PluginRegistry::configure(
        &gatehouse_server::plugins::catalog(),
        &c
    )
    .is_ok());
}

async fn rp_initiated_logout(b: Backend) {
    let s = server(b, "").await;
    let user = s.client();
    user.sign_up().await;
    let (id, secret) = confidential(
        &user,
        json!({"post_logout_redirect_uris": ["https://app.example/bye"]}),
    )
    .await;
    let t = redeem(
        &user,
        &id,
        &secret,
        &code_for(&user, &authorize_url(&id, "openid", &[])).await,
    )
    .await
    .json();
    let id_token = t["id_token"].as_str().unwrap().to_string();
    let end = |q: &[(&str, &str)]| {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        ser.extend_pairs(q);
        format!("/oauth2/end-session?{}", ser.finish())
    };
    let claims_of = |token: &str| -> Value {
        let payload = token.split('.').nth(1).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    };

    // Until the operator allows it, a client cannot sign users out (Better
    // Auth's rule), and its ID tokens name no session.
    assert!(claims_of(&id_token).get("sid").is_none());
    let r = user.get(&end(&[("id_token_hint", &id_token)])).await;
    assert_oauth_error(&r, 401, "invalid_client");
    assert_eq!(
        r.json()["error_description"],
        "The client is not allowed to initiate logout"
    );
    assert!(user.get("/get-session").await.json()["user"].is_object());
    let api = s.gatehouse.api();
    let allow = ClientOptions {
        enable_end_session: Some(true),
        ..ClientOptions::default()
    };
    assert!(!api
        .oauth_provider()
        .update_client("no-such-client", allow)
        .await
        .unwrap());
    assert!(api
        .oauth_provider()
        .update_client(&id, allow)
        .await
        .unwrap());
    let t = redeem(
        &user,
        &id,
        &secret,
        &code_for(&user, &authorize_url(&id, "openid", &[])).await,
    )
    .await
    .json();
    let id_token = t["id_token"].as_str().unwrap().to_string();
    let session_id = user.get("/get-session").await.json()["session"]["id"].clone();
    assert_eq!(claims_of(&id_token)["sid"], session_id);

    // Without the ID token, nobody is signed out (a planted link cannot do it).
    let r = user.get(&end(&[("client_id", &id)])).await;
    assert_oauth_error(&r, 400, "invalid_request");
    // A forged or foreign token, an unregistered destination: refused.
    let r = user.get(&end(&[("id_token_hint", "a.b.c")])).await;
    assert_oauth_error(&r, 400, "invalid_request");
    let r = user
        .get(&end(&[
            ("id_token_hint", &id_token),
            ("post_logout_redirect_uri", "https://evil.example/"),
        ]))
        .await;
    assert_oauth_error(&r, 400, "invalid_redirect_uri");
    // Another user's browser keeps its session.
    let other = s.client();
    other.sign_up().await;
    let r = other.get(&end(&[("id_token_hint", &id_token)])).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(other.get("/get-session").await.json()["user"].is_object());
    assert!(
        user.get("/get-session").await.json()["user"].is_object(),
        "still signed in"
    );

    // A hint from another session of the same user ends nothing: the
    // browser signed in again since (a planted link with an old token).
    let (email, _) = {
        let r = user.get("/get-session").await.json();
        (r["user"]["email"].as_str().unwrap().to_string(), ())
    };
    let phone = s.client();
    let r = phone
        .post(
            "/sign-in/email",
            json!({"email": email, "password": gatehouse_tests::PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = phone.get(&end(&[("id_token_hint", &id_token)])).await;
    assert_oauth_error(&r, 400, "invalid_request");
    assert!(phone.get("/get-session").await.json()["user"].is_object());

    // The ID token has expired (10 hours): still a valid hint (RP-Initiated
    // Logout §2), and a fetch caller gets where to go as JSON.
    s.clock.advance(chrono::Duration::hours(11));
    let r = user
        .request(
            user.raw()
                .get(format!(
                    "{}{}",
                    user.base,
                    end(&[
                        ("id_token_hint", &id_token),
                        ("post_logout_redirect_uri", "https://app.example/bye"),
                        ("state", "bye-0"),
                    ])
                ))
                .header("accept", "application/json"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json(),
        json!({"redirect": true, "url": "https://app.example/bye?state=bye-0"})
    );
    assert_eq!(user.get("/get-session").await.json(), Value::Null);

    // A browser (no JSON asked for) is redirected.
    let again = s.client();
    let r = again
        .post(
            "/sign-in/email",
            json!({"email": email, "password": gatehouse_tests::PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let t = redeem(
        &again,
        &id,
        &secret,
        &code_for(&again, &authorize_url(&id, "openid", &[])).await,
    )
    .await
    .json();
    let id_token = t["id_token"].as_str().unwrap().to_string();
    let r = again
        .get(&end(&[
            ("id_token_hint", &id_token),
            ("post_logout_redirect_uri", "https://app.example/bye"),
            ("state", "bye-1"),
        ]))
        .await;
    assert_eq!(r.status, 302, "{}", r.text);
    assert_eq!(
        r.header("location").as_deref(),
        Some("https://app.example/bye?state=bye-1")
    );
    assert_eq!(
        again.get("/get-session").await.json(),
        Value::Null,
        "signed out"
    );
}

/// Verifies an ID token offline against the published keys, by its `kid`.
fn verify_id_token(set: &JwkSet, token: &str, issuer: &str, audience: &str) -> Map<String, Value> {
    let header = jsonwebtoken::decode_header(token).unwrap();
    let jwk = set
        .find(header.kid.as_deref().unwrap())
        .expect("the token's kid is published");
    let mut v = Validation::new(header.alg);
    v.set_audience(&[audience]);
    v.set_issuer(&[issuer]);
    jsonwebtoken::decode::<Map<String, Value>>(token, &DecodingKey::from_jwk(jwk).unwrap(), &v)
        .expect("verifies")
        .claims
}

async fn id_tokens_verify_across_key_rotation(b: Backend) {
    let s = server(b, "[jwt]\nrotation_interval = 3600\ngrace_period = 86400\n").await;
    let user = s.client();
    user.sign_up().await;
    let (id, secret) = confidential(&user, json!({})).await;
    let issuer = format!("{}/api/auth", s.origin);
    let first = redeem(
        &user,
        &id,
        &secret,
        &code_for(&user, &authorize_url(&id, "openid", &[])).await,
    )
    .await
    .json()["id_token"]
        .as_str()
        .unwrap()
        .to_string();
    s.clock.advance(chrono::Duration::hours(2));
    let second = redeem(
        &user,
        &id,
        &secret,
        &code_for(&user, &authorize_url(&id, "openid", &[])).await,
    )
    .await
    .json()["id_token"]
        .as_str()
        .unwrap()
        .to_string();
    let kid = |t: &str| jsonwebtoken::decode_header(t).unwrap().kid.unwrap();
    assert_ne!(kid(&first), kid(&second), "signed with the rotated-in key");
    let set: JwkSet = serde_json::from_str(&user.get("/jwks").await.text).unwrap();
    assert_eq!(set.keys.len(), 2, "the old key stays for the grace period");
    for t in [&first, &second] {
        assert_eq!(verify_id_token(&set, t, &issuer, &id)["aud"], id.as_str());
    }
}

async fn native_loopback_redirects_may_change_port(b: Backend) {
    let s = server(b, "").await;
    let user = s.client();
    user.sign_up().await;
    let (id, _) = create_client(
        &user,
        json!({"redirect_uris": ["http://127.0.0.1:8080/cb"], "application_type": "native", "token_endpoint_auth_method": "none"}),
    )
    .await;
    let url = |redirect: &str| {
        authorize_url(&id, "openid", &[]).replace(
            &format!("redirect_uri={}", urlencode(REDIRECT)),
            &format!("redirect_uri={}", urlencode(redirect)),
        )
    };
    // RFC 8252 §7.3: the app listens on whatever port it got.
    let r = user.get(&url("http://127.0.0.1:53682/cb")).await;
    assert_eq!(r.status, 302, "{}", r.text);
    assert!(r.header("location").unwrap().contains("/consent?"));
    for bad in [
        "http://127.0.0.1:53682/other",
        "http://localhost:8080/cb",
        "http://127.0.0.1:53682/cb#x",
    ] {
        assert_oauth_error(&user.get(&url(bad)).await, 400, "invalid_redirect_uri");
    }
}
