//! The oauth-provider plugin's second set of grants over HTTP: device
//! authorization (RFC 8628) with the code bound to the user who entered it
//! (CVE-2026-45337), JWT access tokens for resource servers (RFC 8707,
//! RFC 9068), token exchange (RFC 8693) and `private_key_jwt` client
//! authentication (RFC 7523) with single-use `jti`.

use gatehouse_server::crypto::token::hash_token;
use gatehouse_server::plugins::oauth_provider::store as oauth_store;
use gatehouse_server::state::Clock;
use gatehouse_tests::{on_both_backends, Backend, Client, TestServer};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{json, Map, Value};

use crate::oauth_provider::{
    assert_oauth_error, authorize_url, code_for, confidential, create_client, form, introspect,
    redeem, server,
};

on_both_backends!(
    device_flow_binds_the_code_to_who_entered_it,
    device_codes_expire_and_can_be_denied,
    jwt_access_tokens_for_resource_servers,
    token_exchange_narrows_and_delegates,
    private_key_jwt_with_inline_keys,
    private_key_jwt_with_a_jwks_uri,
);

const DEVICE: &str = "urn:ietf:params:oauth:grant-type:device_code";
const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
const ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const API: &str = "https://api.example";

/// A client key pair (Ed25519) and its public x, fixed for the tests.
const CLIENT_KEY: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEINQfAxD3NX7TVYiRQarynF2viL6i3KlDR1WneG44qJD+
-----END PRIVATE KEY-----";
const CLIENT_KEY_X: &str = "eJLTW82N2rEuz5OIPF-R0ondeAUTKZ8nMFm51vLBFN0";
/// A key the client never registered.
const OTHER_KEY: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJOYxq/G/h1A+ZOzMK/Pqf7RWiNMRaCutJoyWXyBwyak
-----END PRIVATE KEY-----";

fn client_jwks() -> Value {
    json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": CLIENT_KEY_X, "kid": "k1", "alg": "EdDSA", "use": "sig"}]})
}

async fn device_client(owner: &Client) -> String {
    let (id, secret) = create_client(
        owner,
        json!({
            "token_endpoint_auth_method": "none",
            "application_type": "native",
            "grant_types": [DEVICE],
            "client_name": "Living-room TV",
        }),
    )
    .await;
    assert!(secret.is_none());
    id
}

async fn device_start(anon: &Client, id: &str, scope: &str) -> Value {
    let r = form(
        anon,
        "/oauth2/device-authorization",
        None,
        &[("client_id", id), ("scope", scope)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
    r.json()
}

async fn poll(anon: &Client, id: &str, device_code: &str) -> gatehouse_tests::Response {
    form(
        anon,
        "/oauth2/token",
        None,
        &[
            ("grant_type", DEVICE),
            ("device_code", device_code),
            ("client_id", id),
        ],
    )
    .await
}

fn enter_path(user_code: &str) -> String {
    format!("/oauth2/device?user_code={}", user_code.replace(' ', "%20"))
}

async fn device_flow_binds_the_code_to_who_entered_it(b: Backend) {
    let s = server(b, "").await;
    let alice = s.client();
    let (_, alice_up) = alice.sign_up().await;
    let alice_id = alice_up["user"]["id"].as_str().unwrap().to_string();
    let mallory = s.client();
    mallory.sign_up().await;
    let id = device_client(&alice).await;
    let anon = s.client_without_origin();

    let d = device_start(&anon, &id, "openid profile offline_access").await;
    let user_code = d["user_code"].as_str().unwrap().to_string();
    let device_code = d["device_code"].as_str().unwrap().to_string();
    assert_eq!(user_code.len(), 9, "XXXX-XXXX");
    assert_eq!(d["interval"], 5);
    assert_eq!(d["expires_in"], 1800);
    assert_eq!(d["verification_uri"], format!("{}/device", s.origin));
    assert_eq!(
        d["verification_uri_complete"],
        format!("{}/device?user_code={user_code}", s.origin)
    );
    // Stored only as hashes.
    assert!(
        oauth_store::device_code_by_device(s.db(), &hash_token(&device_code))
            .await
            .unwrap()
            .is_some()
    );
    assert!(oauth_store::device_code_by_device(s.db(), &device_code)
        .await
        .unwrap()
        .is_none());

    // Polling: pending, then slow_down for polling too fast (interval + 5).
    assert_oauth_error(
        &poll(&anon, &id, &device_code).await,
        400,
        "authorization_pending",
    );
    assert_oauth_error(&poll(&anon, &id, &device_code).await, 400, "slow_down");
    let row = oauth_store::device_code_by_device(s.db(), &hash_token(&device_code))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.poll_interval, 10);
    s.clock.advance(chrono::Duration::seconds(6));
    assert_oauth_error(&poll(&anon, &id, &device_code).await, 400, "slow_down");
    s.clock.advance(chrono::Duration::seconds(16));
    assert_oauth_error(
        &poll(&anon, &id, &device_code).await,
        400,
        "authorization_pending",
    );

    // Signed out, the device page cannot look the code up.
    let r = s.client().get(&enter_path(&user_code)).await;
    assert_oauth_error(&r, 401, "login_required");
    // Alice enters it (typed loosely) and sees what the device asks for.
    let typed = user_code.to_lowercase().replace('-', " ");
    let r = alice.get(&enter_path(&typed)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["status"], "pending");
    assert_eq!(r.json()["client_id"], id.as_str());
    assert_eq!(r.json()["client_name"], "Living-room TV");
    assert_eq!(r.json()["scope"], "openid profile offline_access");
    assert_eq!(r.json()["user_code"], user_code.as_str());

    // CVE-2026-45337: another signed-in user can neither take the code
    // over nor approve it, and the attempt changes nothing.
    let r = mallory.get(&enter_path(&user_code)).await;
    assert_oauth_error(&r, 403, "access_denied");
    let r = mallory
        .post("/oauth2/device/approve", json!({"userCode": user_code}))
        .await;
    assert_oauth_error(&r, 403, "access_denied");
    let r = mallory
        .post("/oauth2/device/deny", json!({"userCode": user_code}))
        .await;
    assert_oauth_error(&r, 403, "access_denied");
    let row = oauth_store::device_code_by_device(s.db(), &hash_token(&device_code))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, "pending");
    assert_eq!(row.user_id.as_deref(), Some(alice_id.as_str()));
    s.clock.advance(chrono::Duration::seconds(16));
    assert_oauth_error(
        &poll(&anon, &id, &device_code).await,
        400,
        "authorization_pending",
    );

    // Alice approves; the next poll gets tokens for her, once.
    let r = alice
        .post("/oauth2/device/approve", json!({"userCode": user_code}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["success"], true);
    let r = alice
        .post("/oauth2/device/deny", json!({"userCode": user_code}))
        .await;
    assert_oauth_error(&r, 400, "invalid_request");
    s.clock.advance(chrono::Duration::seconds(16));
    let r = poll(&anon, &id, &device_code).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let t = r.json();
    assert_eq!(t["scope"], "openid profile offline_access");
    assert!(t["refresh_token"].as_str().is_some());
    assert!(t["id_token"].as_str().is_some());
    let r = anon
        .request(
            anon.raw()
                .get(format!("{}/oauth2/userinfo", anon.base))
                .bearer_auth(t["access_token"].as_str().unwrap()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["sub"], alice_id.as_str());
    s.clock.advance(chrono::Duration::seconds(16));
    assert_oauth_error(&poll(&anon, &id, &device_code).await, 400, "invalid_grant");

    // Another client cannot redeem this client's device code.
    let other = device_client(&alice).await;
    let d = device_start(&anon, &id, "openid").await;
    let r = poll(&anon, &other, d["device_code"].as_str().unwrap()).await;
    assert_oauth_error(&r, 400, "invalid_grant");
    // A client not registered for the grant gets no device code.
    let (web, web_secret) = confidential(&alice, json!({})).await;
    let r = form(
        &anon,
        "/oauth2/device-authorization",
        Some((&web, &web_secret)),
        &[("scope", "openid")],
    )
    .await;
    assert_oauth_error(&r, 400, "unauthorized_client");
    // Nor a scope beyond the client's.
    let r = form(
        &anon,
        "/oauth2/device-authorization",
        None,
        &[("client_id", &id), ("scope", "openid admin")],
    )
    .await;
    assert_oauth_error(&r, 400, "invalid_scope");
}

async fn device_codes_expire_and_can_be_denied(b: Backend) {
    let s = server(
        b,
        "[oauth_provider]\ndevice_code_expires_in = 600\ndevice_code_interval = 2\n",
    )
    .await;
    let alice = s.client();
    alice.sign_up().await;
    let id = device_client(&alice).await;
    let anon = s.client_without_origin();

    let d = device_start(&anon, &id, "openid").await;
    assert_eq!(d["interval"], 2);
    let code = d["device_code"].as_str().unwrap();
    let r = alice
        .post("/oauth2/device/deny", json!({"userCode": d["user_code"]}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_oauth_error(&poll(&anon, &id, code).await, 400, "access_denied");

    let d = device_start(&anon, &id, "openid").await;
    let code = d["device_code"].as_str().unwrap();
    s.clock.advance(chrono::Duration::seconds(601));
    assert_oauth_error(&poll(&anon, &id, code).await, 400, "expired_token");
    let r = alice
        .get(&enter_path(d["user_code"].as_str().unwrap()))
        .await;
    assert_oauth_error(&r, 400, "expired_token");
    let r = alice.get(&enter_path("BCDF-GHJK")).await;
    assert_oauth_error(&r, 400, "invalid_request");
    assert_oauth_error(&poll(&anon, &id, "not-a-code").await, 400, "invalid_grant");
}

async fn jwks(c: &Client) -> JwkSet {
    serde_json::from_str(&c.get("/jwks").await.text).unwrap()
}

/// Verifies an access token as a resource server would, offline.
fn verify_access_token(
    set: &JwkSet,
    token: &str,
    issuer: &str,
    audience: &str,
) -> Map<String, Value> {
    let header = jsonwebtoken::decode_header(token).expect("a JWT");
    assert_eq!(header.typ.as_deref(), Some("at+jwt"), "RFC 9068 §2.1");
    let key = DecodingKey::from_jwk(set.find(&header.kid.unwrap()).unwrap()).unwrap();
    let mut v = Validation::new(header.alg);
    v.set_audience(&[audience]);
    v.set_issuer(&[issuer]);
    jsonwebtoken::decode::<Map<String, Value>>(token, &key, &v)
        .expect("the access token verifies")
        .claims
}

async fn jwt_access_tokens_for_resource_servers(b: Backend) {
    let s = server(
        b,
        "[oauth_provider]\nvalid_audiences = [\"https://api.example\", \"https://billing.example\"]\nscopes = [\"openid\", \"profile\", \"email\", \"offline_access\", \"read:reports\"]\n",
    )
    .await;
    let issuer = format!("{}/api/auth", s.origin);
    let owner = s.client();
    let (_, up) = owner.sign_up().await;
    let user_id = up["user"]["id"].as_str().unwrap().to_string();
    let anon = s.client_without_origin();
    let set = jwks(&owner).await;

    // Client credentials for a resource: a JWT the API verifies offline.
    let (m2m, m2m_secret) = create_client(
        &owner,
        json!({"grant_types": ["client_credentials"], "scope": "read:reports"}),
    )
    .await;
    let m2m_secret = m2m_secret.unwrap();
    let r = form(
        &anon,
        "/oauth2/token",
        Some((&m2m, &m2m_secret)),
        &[("grant_type", "client_credentials"), ("resource", API)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let token = r.json()["access_token"].as_str().unwrap().to_string();
    let claims = verify_access_token(&set, &token, &issuer, API);
    assert_eq!(claims["sub"], m2m.as_str());
    assert_eq!(claims["client_id"], m2m.as_str());
    assert_eq!(claims["scope"], "read:reports");
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    // Introspection answers for it too, with its audience; revocation works.
    let info = introspect(&anon, &m2m, &m2m_secret, &token).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["aud"], API);
    let r = form(
        &anon,
        "/oauth2/revoke",
        Some((&m2m, &m2m_secret)),
        &[("token", &token)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        introspect(&anon, &m2m, &m2m_secret, &token).await["active"],
        false
    );
    // An audience this server does not serve is refused.
    let r = form(
        &anon,
        "/oauth2/token",
        Some((&m2m, &m2m_secret)),
        &[
            ("grant_type", "client_credentials"),
            ("resource", "https://evil.example"),
        ],
    )
    .await;
    assert_oauth_error(&r, 400, "invalid_target");
    // Without a resource the token stays opaque.
    let r = form(
        &anon,
        "/oauth2/token",
        Some((&m2m, &m2m_secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert!(!r.json()["access_token"].as_str().unwrap().contains('.'));

    // The code flow with `resource` at authorize: the token is for that API
    // only (another resource at the token endpoint is refused), and still
    // opens userinfo.
    let (id, secret) = confidential(&owner, json!({})).await;
    let r = owner
        .get(&authorize_url(
            &id,
            "openid profile",
            &[("resource", "https://nope.example")],
        ))
        .await;
    let location = r.header("location").unwrap();
    assert!(location.contains("error=invalid_target"), "{location}");
    let code = code_for(
        &owner,
        &authorize_url(&id, "openid profile", &[("resource", API)]),
    )
    .await;
    let r = form(
        &anon,
        "/oauth2/token",
        Some((&id, &secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", crate::oauth_provider::REDIRECT),
            ("code_verifier", crate::oauth_provider::VERIFIER),
            ("resource", "https://billing.example"),
        ],
    )
    .await;
    assert_oauth_error(&r, 400, "invalid_target");
    let code = code_for(
        &owner,
        &authorize_url(&id, "openid profile", &[("resource", API)]),
    )
    .await;
    let r = redeem(&anon, &id, &secret, &code).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let token = r.json()["access_token"].as_str().unwrap().to_string();
    let claims = verify_access_token(&set, &token, &issuer, API);
    assert_eq!(claims["sub"], user_id.as_str());
    assert_eq!(claims["azp"], id.as_str());
    assert!(claims["sid"].as_str().is_some());
    let r = anon
        .request(
            anon.raw()
                .get(format!("{}/oauth2/userinfo", anon.base))
                .bearer_auth(&token),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["sub"], user_id.as_str());
}

/// An operator-provisioned service client (its id is in `token_exchange_clients`).
async fn insert_service_client(s: &TestServer, client_id: &str, secret: &str) {
    let now = s.clock.now_utc().naive_utc();
    let row = oauth_store::ClientRow {
        id: format!("row-{client_id}"),
        client_id: client_id.into(),
        client_secret: Some(hash_token(secret)),
        disabled: Some(false),
        skip_consent: None,
        enable_end_session: None,
        scopes: Some(json!(["openid", "profile", "email", "offline_access"]).to_string()),
        client_credentials_scopes: None,
        user_id: None,
        created_at: now,
        updated_at: now,
        name: Some("Reports service".into()),
        uri: None,
        icon: None,
        contacts: None,
        tos: None,
        policy: None,
        software_id: None,
        software_version: None,
        redirect_uris: "[]".into(),
        post_logout_redirect_uris: None,
        token_endpoint_auth_method: Some("client_secret_basic".into()),
        application_type: Some("web".into()),
        grant_types: Some(json!([EXCHANGE, "client_credentials"]).to_string()),
        response_types: Some("[\"code\"]".into()),
        require_pkce: Some(true),
        metadata: None,
        jwks: None,
        jwks_uri: None,
    };
    oauth_store::insert_client(s.db(), &row).await.unwrap();
}

async fn exchange(
    anon: &Client,
    who: (&str, &str),
    subject: &str,
    extra: &[(&str, &str)],
) -> gatehouse_tests::Response {
    let mut fields = vec![
        ("grant_type", EXCHANGE),
        ("subject_token", subject),
        ("subject_token_type", ACCESS_TOKEN),
    ];
    fields.extend_from_slice(extra);
    form(anon, "/oauth2/token", Some(who), &fields).await
}

async fn token_exchange_narrows_and_delegates(b: Backend) {
    let s = server(
        b,
        "[oauth_provider]\nvalid_audiences = [\"https://api.example\", \"https://billing.example\"]\ntoken_exchange_clients = [\"reports-service\", \"billing-service\"]\n",
    )
    .await;
    let issuer = format!("{}/api/auth", s.origin);
    insert_service_client(&s, "reports-service", "reports-secret").await;
    insert_service_client(&s, "billing-service", "billing-secret").await;
    let user = s.client();
    let (_, up) = user.sign_up().await;
    let user_id = up["user"]["id"].as_str().unwrap().to_string();
    let anon = s.client_without_origin();
    let set = jwks(&user).await;

    // The user's token from a web app: openid profile email.
    let (app, app_secret) = confidential(&user, json!({})).await;
    let code = code_for(&user, &authorize_url(&app, "openid profile email", &[])).await;
    let r = redeem(&anon, &app, &app_secret, &code).await;
    let subject = r.json()["access_token"].as_str().unwrap().to_string();
    let subject_exp = r.json()["expires_at"].as_i64().unwrap();

    // The reports service exchanges it for a narrower token for the API.
    s.clock.advance(chrono::Duration::seconds(60));
    let svc = ("reports-service", "reports-secret");
    let r = exchange(
        &anon,
        svc,
        &subject,
        &[("scope", "profile"), ("audience", API)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let t = r.json();
    assert_eq!(t["issued_token_type"], ACCESS_TOKEN);
    assert_eq!(t["scope"], "profile");
    assert!(t.get("refresh_token").is_none() && t.get("id_token").is_none());
    assert!(
        t["expires_at"].as_i64().unwrap() <= subject_exp,
        "no longer than the subject"
    );
    let exchanged = t["access_token"].as_str().unwrap().to_string();
    let claims = verify_access_token(&set, &exchanged, &issuer, API);
    assert_eq!(claims["sub"], user_id.as_str());
    assert_eq!(claims["act"], json!({"sub": "reports-service"}));
    assert_eq!(claims["client_id"], "reports-service");
    let info = introspect(&anon, svc.0, svc.1, &exchanged).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["act"]["sub"], "reports-service");
    assert_eq!(info["scope"], "profile");

    // Delegation chains: billing exchanges the exchanged token.
    let billing = ("billing-service", "billing-secret");
    let r = exchange(
        &anon,
        billing,
        &exchanged,
        &[("resource", "https://billing.example")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let chained = r.json()["access_token"].as_str().unwrap().to_string();
    let claims = verify_access_token(&set, &chained, &issuer, "https://billing.example");
    assert_eq!(
        claims["act"],
        json!({"sub": "billing-service", "act": {"sub": "reports-service"}})
    );
    assert_eq!(claims["scope"], "profile");

    // No escalation beyond the subject token's scopes.
    let r = exchange(&anon, billing, &exchanged, &[("scope", "profile email")]).await;
    assert_oauth_error(&r, 400, "invalid_scope");
    let r = exchange(&anon, svc, &subject, &[("scope", "offline_access")]).await;
    assert_oauth_error(&r, 400, "invalid_scope");
    // Nor to an audience this server does not serve.
    let r = exchange(
        &anon,
        svc,
        &subject,
        &[("audience", "https://evil.example")],
    )
    .await;
    assert_oauth_error(&r, 400, "invalid_target");
    // Only allowed clients exchange: the web app may not (even registered
    // for the grant, it is not in token_exchange_clients).
    let (other, other_secret) = confidential(
        &user,
        json!({"grant_types": ["authorization_code", EXCHANGE]}),
    )
    .await;
    let r = exchange(&anon, (&other, &other_secret), &subject, &[]).await;
    assert_oauth_error(&r, 400, "unauthorized_client");
    let r = exchange(&anon, (&app, &app_secret), &subject, &[]).await;
    assert_oauth_error(&r, 400, "unauthorized_client");
    // Malformed requests.
    let r = form(
        &anon,
        "/oauth2/token",
        Some(svc),
        &[
            ("grant_type", EXCHANGE),
            ("subject_token", &subject),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:id_token",
            ),
        ],
    )
    .await;
    assert_oauth_error(&r, 400, "invalid_request");
    let r = exchange(
        &anon,
        svc,
        &subject,
        &[("actor_token", "x"), ("actor_token_type", ACCESS_TOKEN)],
    )
    .await;
    assert_oauth_error(&r, 400, "invalid_request");
    let r = exchange(&anon, svc, "not-a-token", &[]).await;
    assert_oauth_error(&r, 400, "invalid_grant");

    // Revoking the subject token's grant (a replayed code) takes the
    // exchanged tokens with it.
    let r = redeem(&anon, &app, &app_secret, &code).await;
    assert_oauth_error(&r, 400, "invalid_grant");
    assert_eq!(
        introspect(&anon, svc.0, svc.1, &exchanged).await["active"],
        false
    );
    let r = exchange(&anon, svc, &subject, &[]).await;
    assert_oauth_error(&r, 400, "invalid_grant");
}

/// The DER inside a one-block PEM.
fn pem_der(pem: &str) -> Vec<u8> {
    use base64::Engine;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

fn assertion(
    key_pem: &str,
    client_id: &str,
    aud: &str,
    exp_in: i64,
    jti: &str,
    now: i64,
) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("k1".into());
    jsonwebtoken::encode(
        &header,
        &json!({"iss": client_id, "sub": client_id, "aud": aud, "jti": jti, "iat": now, "exp": now + exp_in}),
        &EncodingKey::from_ed_der(&pem_der(key_pem)),
    )
    .unwrap()
}

async fn with_assertion(
    anon: &Client,
    path: &str,
    a: &str,
    fields: &[(&str, &str)],
) -> gatehouse_tests::Response {
    let mut all = vec![
        ("client_assertion_type", ASSERTION),
        ("client_assertion", a),
    ];
    all.extend_from_slice(fields);
    form(anon, path, None, &all).await
}

async fn private_key_jwt_client(s: &TestServer, owner: &Client, keys: Value) -> String {
    let mut meta = json!({
        "token_endpoint_auth_method": "private_key_jwt",
        "grant_types": ["client_credentials"],
        "scope": "openid",
    });
    meta.as_object_mut()
        .unwrap()
        .extend(keys.as_object().cloned().unwrap());
    let r = owner.post("/oauth2/create-client", meta).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(
        r.json().get("client_secret").is_none(),
        "no secret: {}",
        r.text
    );
    assert_eq!(r.json()["token_endpoint_auth_method"], "private_key_jwt");
    let _ = s;
    r.json()["client_id"].as_str().unwrap().to_string()
}

async fn private_key_jwt_with_inline_keys(b: Backend) {
    let s = server(b, "").await;
    let owner = s.client();
    owner.sign_up().await;
    let anon = s.client_without_origin();
    let token_endpoint = format!("{}/api/auth/oauth2/token", s.origin);
    let issuer = format!("{}/api/auth", s.origin);
    let now = || s.clock.now_utc().timestamp();

    // Registration: keys required, public ones only, one way of giving them.
    for (meta, why) in [
        (json!({}), "no keys"),
        (
            json!({"jwks": {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": CLIENT_KEY_X, "d": "c2VjcmV0"}]}}),
            "a private key",
        ),
        (
            json!({"jwks": client_jwks(), "jwks_uri": "https://keys.example/jwks"}),
            "both",
        ),
        (json!({"jwks_uri": "ftp://keys.example/jwks"}), "not https"),
    ] {
        let mut m = json!({"token_endpoint_auth_method": "private_key_jwt", "grant_types": ["client_credentials"]});
        m.as_object_mut()
            .unwrap()
            .extend(meta.as_object().cloned().unwrap());
        let r = owner.post("/oauth2/create-client", m).await;
        assert_eq!(r.status, 400, "{why}: {}", r.text);
    }
    let r = owner
        .post(
            "/oauth2/create-client",
            json!({"grant_types": ["client_credentials"], "jwks": client_jwks()}),
        )
        .await;
    assert_eq!(r.status, 400, "jwks without private_key_jwt: {}", r.text);

    let id = private_key_jwt_client(&s, &owner, json!({"jwks": client_jwks()})).await;
    let a = assertion(CLIENT_KEY, &id, &token_endpoint, 120, "jti-1", now());
    let r = with_assertion(
        &anon,
        "/oauth2/token",
        &a,
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let token = r.json()["access_token"].as_str().unwrap().to_string();
    // The same assertion again: its jti is spent.
    let r = with_assertion(
        &anon,
        "/oauth2/token",
        &a,
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_oauth_error(&r, 401, "invalid_client");
    // The issuer is an accepted audience too, and introspection takes assertions.
    let a = assertion(CLIENT_KEY, &id, &issuer, 120, "jti-2", now());
    let r = with_assertion(&anon, "/oauth2/introspect", &a, &[("token", &token)]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["active"], true);

    for (a, why) in [
        (
            assertion(OTHER_KEY, &id, &token_endpoint, 120, "jti-3", now()),
            "an unregistered key",
        ),
        (
            assertion(
                CLIENT_KEY,
                &id,
                "https://elsewhere.example/token",
                120,
                "jti-4",
                now(),
            ),
            "another audience",
        ),
        (
            assertion(CLIENT_KEY, &id, &token_endpoint, -10, "jti-5", now()),
            "expired",
        ),
        (
            assertion(CLIENT_KEY, &id, &token_endpoint, 7200, "jti-6", now()),
            "lives too long",
        ),
        (
            assertion(
                CLIENT_KEY,
                "someone-else",
                &token_endpoint,
                120,
                "jti-7",
                now(),
            ),
            "another client",
        ),
    ] {
        let r = with_assertion(
            &anon,
            "/oauth2/token",
            &a,
            &[("grant_type", "client_credentials")],
        )
        .await;
        assert_oauth_error(&r, 401, "invalid_client");
        assert!(!r.text.contains("access_token"), "{why}");
    }
    // alg none: an unsigned assertion.
    use base64::Engine;
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let unsigned = format!(
        "{}.{}.",
        b64(json!({"alg": "none"})),
        b64(
            json!({"iss": id, "sub": id, "aud": token_endpoint, "jti": "jti-8", "exp": now() + 60})
        )
    );
    let r = with_assertion(
        &anon,
        "/oauth2/token",
        &unsigned,
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_oauth_error(&r, 401, "invalid_client");
    // A wrong assertion type, and a secret alongside, are refused.
    let a = assertion(CLIENT_KEY, &id, &token_endpoint, 120, "jti-9", now());
    let r = form(
        &anon,
        "/oauth2/token",
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", "jwt"),
            ("client_assertion", &a),
        ],
    )
    .await;
    assert_oauth_error(&r, 400, "invalid_request");
    // The client cannot fall back to a secret it does not have.
    let r = form(
        &anon,
        "/oauth2/token",
        Some((&id, "guess")),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_oauth_error(&r, 401, "invalid_client");
    // A secret client cannot authenticate with an assertion.
    let (web, _) = create_client(&owner, json!({"grant_types": ["client_credentials"]})).await;
    let a = assertion(CLIENT_KEY, &web, &token_endpoint, 120, "jti-10", now());
    let r = with_assertion(
        &anon,
        "/oauth2/token",
        &a,
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_oauth_error(&r, 401, "invalid_client");
}

async fn private_key_jwt_with_a_jwks_uri(b: Backend) {
    let s = server(b, "").await;
    let owner = s.client();
    owner.sign_up().await;
    let anon = s.client_without_origin();
    let token_endpoint = format!("{}/api/auth/oauth2/token", s.origin);
    let now = || s.clock.now_utc().timestamp();

    // The client publishes its keys; the server fetches them.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let body = client_jwks().to_string();
    let app = poem::Route::new().at(
        "/jwks.json",
        poem::endpoint::make_sync(move |_| {
            poem::Response::builder()
                .content_type("application/json")
                .body(body.clone())
        }),
    );
    let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).unwrap();
    tokio::spawn(async move {
        let _ = poem::Server::new_with_acceptor(acceptor).run(app).await;
    });
    let uri = format!("http://{addr}/jwks.json");
    let id = private_key_jwt_client(&s, &owner, json!({"jwks_uri": uri})).await;
    let r = owner
        .get(&format!("/oauth2/get-client?client_id={id}"))
        .await;
    assert_eq!(r.json()["jwks_uri"], uri.as_str());

    let a = assertion(CLIENT_KEY, &id, &token_endpoint, 120, "uri-jti-1", now());
    let r = with_assertion(
        &anon,
        "/oauth2/token",
        &a,
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let a = assertion(OTHER_KEY, &id, &token_endpoint, 120, "uri-jti-2", now());
    let r = with_assertion(
        &anon,
        "/oauth2/token",
        &a,
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_oauth_error(&r, 401, "invalid_client");
}
