//! The jwt plugin over HTTP: `GET /token`, `GET /jwks`, the `set-auth-jwt`
//! header, tokens verified offline by an independent library against the
//! published keys (EdDSA, ES256, RS256), rotation with its grace period, and
//! `verify_jwt` refusing forged algorithms.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::Duration;
use gatehouse_tests::{on_both_backends, Backend, Client, TestServer};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{json, Map, Value};

on_both_backends!(
    tokens_verify_offline_against_jwks,
    keys_are_sealed_at_rest,
    rotation_keeps_old_keys_for_the_grace_period,
    forged_algorithms_and_claims_are_refused,
    es256_and_rs256_keys,
);

async fn server_with(b: Backend, section: &str) -> TestServer {
    TestServer::with_plugin(b, "jwt", section).await
}

async fn jwks(c: &Client) -> JwkSet {
    let r = c.get("/jwks").await;
    assert_eq!(r.status, 200, "{}", r.text);
    serde_json::from_str(&r.text).expect("a JWK set")
}

/// Verifies `token` with the jsonwebtoken crate against the published set,
/// as a resource server would (real time, iss and aud checked).
fn verify_offline(set: &JwkSet, token: &str, alg: Algorithm, origin: &str) -> Map<String, Value> {
    let header = jsonwebtoken::decode_header(token).expect("a JWT header");
    assert_eq!(header.alg, alg);
    let kid = header.kid.expect("kid in the header");
    let jwk = set
        .find(&kid)
        .unwrap_or_else(|| panic!("kid {kid} not in /jwks"));
    let key = DecodingKey::from_jwk(jwk).expect("a usable JWK");
    let mut v = Validation::new(alg);
    v.set_audience(&[origin]);
    v.set_issuer(&[origin]);
    jsonwebtoken::decode::<Map<String, Value>>(token, &key, &v)
        .unwrap_or_else(|e| panic!("offline verification failed: {e}"))
        .claims
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

async fn token(c: &Client) -> String {
    let r = c.get("/token").await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["token"].as_str().unwrap().to_string()
}

async fn tokens_verify_offline_against_jwks(b: Backend) {
    let s = server_with(b, "").await;
    let c = s.client();
    c.get("/token").await.assert_error(401, "UNAUTHORIZED");
    let r = c.get("/get-session").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("set-auth-jwt"), None, "no token without a session");

    let (email, body) = c.sign_up().await;
    let user_id = body["user"]["id"].as_str().unwrap().to_string();
    let t = token(&c).await;
    let set = jwks(&c).await;
    assert_eq!(set.keys.len(), 1);
    let raw: Value = c.get("/jwks").await.json();
    let key = &raw["keys"][0];
    assert_eq!(key["alg"], "EdDSA");
    assert_eq!(key["crv"], "Ed25519");
    assert_eq!(key["kty"], "OKP");
    assert!(key.get("d").is_none(), "no private part: {key}");
    assert_eq!(
        URL_SAFE_NO_PAD
            .decode(key["x"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );

    let claims = verify_offline(&set, &t, Algorithm::EdDSA, &s.origin);
    assert_eq!(claims["sub"], user_id.as_str());
    assert_eq!(claims["id"], user_id.as_str());
    assert_eq!(claims["email"], email.as_str());
    assert_eq!(claims["name"], "Test User");
    assert_eq!(claims["emailVerified"], false);
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert_eq!(exp - iat, 15 * 60, "default lifetime 15 minutes");
    assert_eq!(
        jsonwebtoken::decode_header(&t).unwrap().typ,
        None,
        "header is {{alg, kid}}"
    );

    let r = c.get("/get-session").await;
    assert_eq!(r.status, 200);
    let header = r
        .header("set-auth-jwt")
        .expect("set-auth-jwt on get-session");
    let exposed = r
        .header("access-control-expose-headers")
        .unwrap_or_default();
    assert!(exposed.contains("set-auth-jwt"), "{exposed}");
    let claims = verify_offline(&set, &header, Algorithm::EdDSA, &s.origin);
    assert_eq!(claims["sub"], user_id.as_str());
    // Plugin user fields are claims too (username is enabled in tests).
    assert!(claims.contains_key("username"), "{claims:?}");

    // The server-side calls agree.
    let api = s.gatehouse.api();
    let verified = api.jwt().verify_jwt(&t).await.expect("verifies");
    assert_eq!(verified["sub"], user_id.as_str());
    let custom = api
        .jwt()
        .sign_jwt(
            json!({"sub": "svc", "scope": "read"})
                .as_object()
                .unwrap()
                .clone(),
        )
        .await
        .unwrap();
    let claims = verify_offline(&set, &custom, Algorithm::EdDSA, &s.origin);
    assert_eq!(claims["scope"], "read");

    c.post("/sign-out", json!({})).await;
    c.get("/token").await.assert_error(401, "UNAUTHORIZED");
}

async fn keys_are_sealed_at_rest(b: Backend) {
    let s = server_with(b, "").await;
    let c = s.client();
    c.sign_up().await;
    let t = token(&c).await;
    let rows = gatehouse_server::plugins::jwt::store::live_keys(
        s.db(),
        chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap().into(),
    )
    .await
    .unwrap();
    let rows: Vec<_> = rows
        .into_iter()
        .map(|r| (r.id, r.public_key, r.private_key))
        .collect();
    assert_eq!(rows.len(), 1);
    let (id, public, private) = &rows[0];
    assert_eq!(*id, kid_of(&t));
    let public: Value = serde_json::from_str(public).unwrap();
    assert!(public.get("d").is_none());
    assert!(
        serde_json::from_str::<Value>(private).is_err(),
        "private key stored sealed"
    );
    assert!(private.chars().all(|ch| ch.is_ascii_hexdigit()) && private.len() > 100);
    assert!(!private.contains(public["x"].as_str().unwrap()));
}

async fn rotation_keeps_old_keys_for_the_grace_period(b: Backend) {
    let s = server_with(
        b,
        "[jwt]\nrotation_interval = \"1h\"\ngrace_period = \"2h\"\n",
    )
    .await;
    let c = s.client();
    c.sign_up().await;
    let api = s.gatehouse.api();
    let first = token(&c).await;
    let in_100_days = (chrono::Utc::now() + Duration::days(100)).timestamp();
    let long_lived = api
        .jwt()
        .sign_jwt(
            json!({"sub": "svc", "exp": in_100_days})
                .as_object()
                .unwrap()
                .clone(),
        )
        .await
        .unwrap();
    assert_eq!(kid_of(&long_lived), kid_of(&first));

    s.clock.advance(Duration::seconds(3601));
    let second = token(&c).await;
    assert_ne!(
        kid_of(&second),
        kid_of(&first),
        "a new key after the interval"
    );
    let set = jwks(&c).await;
    assert_eq!(
        set.keys.len(),
        2,
        "the old key stays during the grace period"
    );
    // Both verify offline against the published set.
    verify_offline(&set, &first, Algorithm::EdDSA, &s.origin);
    verify_offline(&set, &second, Algorithm::EdDSA, &s.origin);
    assert!(
        api.jwt().verify_jwt(&long_lived).await.is_ok(),
        "in the grace period"
    );

    // Past the grace period the old key is gone and its tokens fail.
    s.clock.advance(Duration::seconds(7201));
    let err = api
        .jwt()
        .verify_jwt(&long_lived)
        .await
        .expect_err("old key retired");
    assert!(err.to_string().contains("kid"), "{err}");
    let set = jwks(&c).await;
    assert!(
        set.find(&kid_of(&first)).is_none(),
        "old key dropped from /jwks"
    );
    assert!(
        set.find(&kid_of(&second)).is_some(),
        "second key still in its grace period"
    );
    let third = token(&c).await;
    verify_offline(&jwks(&c).await, &third, Algorithm::EdDSA, &s.origin);
}

async fn forged_algorithms_and_claims_are_refused(b: Backend) {
    let s = server_with(b, "").await;
    let c = s.client();
    c.sign_up().await;
    let genuine = token(&c).await;
    let kid = kid_of(&genuine);
    let api = s.gatehouse.api();
    let payload = genuine.split('.').nth(1).unwrap().to_string();

    // alg: none, no signature.
    let none_header = URL_SAFE_NO_PAD.encode(json!({"alg": "none", "kid": kid}).to_string());
    let none = format!("{none_header}.{payload}.");
    assert!(
        api.jwt().verify_jwt(&none).await.is_err(),
        "alg none refused"
    );

    // HS256 keyed with the public key (the classic confusion attack).
    let raw: Value = c.get("/jwks").await.json();
    let public_x = raw["keys"][0]["x"].as_str().unwrap().to_string();
    let claims: Map<String, Value> =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&payload).unwrap()).unwrap();
    for secret in [
        public_x.as_bytes().to_vec(),
        raw["keys"][0].to_string().into_bytes(),
    ] {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some(kid.clone());
        let forged = jsonwebtoken::encode(&h, &claims, &EncodingKey::from_secret(&secret)).unwrap();
        let err = api
            .jwt()
            .verify_jwt(&forged)
            .await
            .expect_err("HS256 refused");
        assert!(err.to_string().contains("alg"), "{err}");
    }

    // A changed payload under the genuine signature.
    let mut altered = claims.clone();
    altered.insert("sub".into(), json!("someone-else"));
    let altered_payload = URL_SAFE_NO_PAD.encode(Value::Object(altered).to_string());
    let parts: Vec<&str> = genuine.split('.').collect();
    let tampered = format!("{}.{altered_payload}.{}", parts[0], parts[2]);
    assert!(
        api.jwt().verify_jwt(&tampered).await.is_err(),
        "tampering refused"
    );

    // Genuine signatures over the wrong issuer, audience or an expired exp.
    let sign = |extra: Value| {
        let api = s.gatehouse.api();
        async move {
            api.jwt()
                .sign_jwt(extra.as_object().unwrap().clone())
                .await
                .unwrap()
        }
    };
    let other_iss = sign(json!({"sub": "x", "iss": "https://elsewhere.example"})).await;
    assert!(api
        .jwt()
        .verify_jwt(&other_iss)
        .await
        .unwrap_err()
        .to_string()
        .contains("iss"));
    let other_aud = sign(json!({"sub": "x", "aud": "https://elsewhere.example"})).await;
    assert!(api
        .jwt()
        .verify_jwt(&other_aud)
        .await
        .unwrap_err()
        .to_string()
        .contains("aud"));
    let expired = sign(json!({"sub": "x", "exp": 1})).await;
    assert!(api
        .jwt()
        .verify_jwt(&expired)
        .await
        .unwrap_err()
        .to_string()
        .contains("expired"));
    // And the genuine token still verifies.
    assert!(api.jwt().verify_jwt(&genuine).await.is_ok());
    // Expiry follows the server clock.
    s.clock.advance(Duration::minutes(16));
    assert!(api
        .jwt()
        .verify_jwt(&genuine)
        .await
        .unwrap_err()
        .to_string()
        .contains("expired"));
}

async fn es256_and_rs256_keys(b: Backend) {
    for (name, alg, kty) in [
        ("ES256", Algorithm::ES256, "EC"),
        ("RS256", Algorithm::RS256, "RSA"),
    ] {
        let s = server_with(
            b.clone(),
            &format!("[jwt]\nalg = \"{name}\"\nexpiration_time = 600\n"),
        )
        .await;
        let c = s.client();
        c.sign_up().await;
        let t = token(&c).await;
        let raw: Value = c.get("/jwks").await.json();
        assert_eq!(raw["keys"][0]["kty"], kty);
        assert_eq!(raw["keys"][0]["alg"], name);
        let claims = verify_offline(&jwks(&c).await, &t, alg, &s.origin);
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            600
        );
        assert!(s.gatehouse.api().jwt().verify_jwt(&t).await.is_ok());
    }
}
