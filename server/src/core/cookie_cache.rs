//! Better Auth's session cookie cache (`session_data`): `get-session`
//! answers from a signed (or encrypted) copy of `{session, user}` the
//! browser holds, without a database round trip. Off by default
//! (`[session.cookie_cache] enabled`).
//!
//! Encodings (`strategy`), as Better Auth's: `compact` (base64url JSON of
//! `{session: P, expiresAt, signature}`, HMAC-SHA256 under the secret),
//! `jwt` (HS256 under the secret) and `jwe` (`dir`, AES-256-GCM under a key
//! derived from the secret with HKDF-SHA256; Better Auth writes
//! A256CBC-HS512 and also reads A256GCM).
//!
//! Revocation-honest, unlike Better Auth's (CVE-2026-134321: revoked
//! sessions kept working from the cookie until it expired):
//! - only `get-session` reads it; every other route consults the store;
//! - a copy written before its session or user was last invalidated
//!   (sign-out, revocation, ban, password or profile change, deletion, on
//!   this instance or broadcast from another) is ignored, and so is one
//!   written before this instance started or its broadcast listener last
//!   reconnected, since revocations may have been missed then.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use poem_openapi::types::{ParseFromJSON, ToJSON};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::dto::SessionWithUser;
use super::session::AuthSession;
use crate::crypto::{sign, token};
use crate::http::context::RequestContext;
use crate::state::AppState;

/// Cookie values above this are not written (Better Auth chunks them; a
/// session this large is an application storing too much in plugin fields).
const MAX_COOKIE_BYTES: usize = 4050;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    #[default]
    Compact,
    Jwt,
    Jwe,
}

/// `[session.cookie_cache]`: Better Auth's `session.cookieCache`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CookieCacheConfig {
    pub enabled: bool,
    /// Seconds a copy is trusted (300).
    pub max_age: i64,
    pub strategy: Strategy,
    /// Bumping it discards every copy in browsers.
    pub version: String,
}

impl Default for CookieCacheConfig {
    fn default() -> Self {
        CookieCacheConfig {
            enabled: false,
            max_age: 300,
            strategy: Strategy::Compact,
            version: "1".into(),
        }
    }
}

fn now_ms(state: &AppState) -> i64 {
    state.now().and_utc().timestamp_millis()
}

/// `P`: what every strategy carries.
fn payload(state: &AppState, s: &AuthSession) -> Map<String, Value> {
    let mut p = Map::new();
    p.insert(
        "session".into(),
        s.session_json().to_json().unwrap_or(Value::Null),
    );
    p.insert(
        "user".into(),
        s.user_json().to_json().unwrap_or(Value::Null),
    );
    p.insert("updatedAt".into(), now_ms(state).into());
    p.insert(
        "version".into(),
        state.config.session.cookie_cache.version.clone().into(),
    );
    p
}

fn hmac_b64(secret: &str, message: &str) -> String {
    URL_SAFE_NO_PAD.encode(sign::hmac_sha256(secret.as_bytes(), message.as_bytes()))
}

/// The JWE key: HKDF-SHA256 of the secret (Better Auth's salt and info).
fn jwe_key(secret: &str) -> [u8; 32] {
    use ring::hkdf;
    struct Len;
    impl hkdf::KeyType for Len {
        fn len(&self) -> usize {
            32
        }
    }
    let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, b"better-auth-session");
    let prk = salt.extract(secret.as_bytes());
    let info = [&b"BetterAuth.js Generated Encryption Key"[..]];
    let mut out = [0u8; 32];
    if let Ok(okm) = prk.expand(&info, Len) {
        let _ = okm.fill(&mut out);
    }
    out
}

fn jwe_kid(key: &[u8; 32]) -> String {
    // RFC 7638 thumbprint of {"k":..,"kty":"oct"} (members in lexical order).
    let jwk = format!(r#"{{"k":"{}","kty":"oct"}}"#, URL_SAFE_NO_PAD.encode(key));
    URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, jwk.as_bytes()))
}

fn encode(state: &AppState, mut p: Map<String, Value>, expires_at_ms: i64) -> Option<String> {
    let secret = &state.secret;
    match state.config.session.cookie_cache.strategy {
        Strategy::Compact => {
            let mut signed = p.clone();
            signed.insert("expiresAt".into(), expires_at_ms.into());
            let signature = hmac_b64(secret, &Value::Object(signed).to_string());
            let outer = json!({"session": p, "expiresAt": expires_at_ms, "signature": signature});
            Some(URL_SAFE_NO_PAD.encode(outer.to_string()))
        }
        Strategy::Jwt => {
            p.insert("iat".into(), (now_ms(state) / 1000).into());
            p.insert("exp".into(), (expires_at_ms / 1000).into());
            jsonwebtoken::encode(
                &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
                &p,
                &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
            )
            .ok()
        }
        Strategy::Jwe => {
            use ring::aead;
            p.insert("iat".into(), (now_ms(state) / 1000).into());
            p.insert("exp".into(), (expires_at_ms / 1000).into());
            p.insert("jti".into(), token::new_id().into());
            let key_bytes = jwe_key(secret);
            let header = json!({"alg": "dir", "enc": "A256GCM", "kid": jwe_kid(&key_bytes)});
            let header_b64 = URL_SAFE_NO_PAD.encode(header.to_string());
            let key =
                aead::LessSafeKey::new(aead::UnboundKey::new(&aead::AES_256_GCM, &key_bytes).ok()?);
            let mut iv = [0u8; 12];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut iv);
            let mut data = Value::Object(p).to_string().into_bytes();
            let tag = key
                .seal_in_place_separate_tag(
                    aead::Nonce::assume_unique_for_key(iv),
                    aead::Aad::from(header_b64.as_bytes()),
                    &mut data,
                )
                .ok()?;
            Some(format!(
                "{header_b64}..{}.{}.{}",
                URL_SAFE_NO_PAD.encode(iv),
                URL_SAFE_NO_PAD.encode(&data),
                URL_SAFE_NO_PAD.encode(tag.as_ref())
            ))
        }
    }
}

/// `P` and its expiry (ms) from a cookie value, if it is ours and intact.
fn decode(state: &AppState, value: &str) -> Option<(Map<String, Value>, i64)> {
    let secret = &state.secret;
    match state.config.session.cookie_cache.strategy {
        Strategy::Compact => {
            let outer: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(value).ok()?).ok()?;
            let p = outer.get("session")?.as_object()?.clone();
            let expires_at = outer.get("expiresAt")?.as_i64()?;
            let mut signed = p.clone();
            signed.insert("expiresAt".into(), expires_at.into());
            let expected = hmac_b64(secret, &Value::Object(signed).to_string());
            let given = outer.get("signature")?.as_str()?;
            sign::constant_time_eq(expected.as_bytes(), given.as_bytes()).then_some((p, expires_at))
        }
        Strategy::Jwt => {
            let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
            v.validate_exp = false;
            v.required_spec_claims = Default::default();
            let data = jsonwebtoken::decode::<Map<String, Value>>(
                value,
                &jsonwebtoken::DecodingKey::from_secret(secret.as_bytes()),
                &v,
            )
            .ok()?;
            let exp = data.claims.get("exp")?.as_i64()? * 1000;
            Some((data.claims, exp))
        }
        Strategy::Jwe => {
            use ring::aead;
            let mut parts = value.split('.');
            let (h, k, iv, ct, tag) = (
                parts.next()?,
                parts.next()?,
                parts.next()?,
                parts.next()?,
                parts.next()?,
            );
            if !k.is_empty() || parts.next().is_some() {
                return None;
            }
            let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
            if header.get("alg")?.as_str()? != "dir" || header.get("enc")?.as_str()? != "A256GCM" {
                return None;
            }
            let key = aead::LessSafeKey::new(
                aead::UnboundKey::new(&aead::AES_256_GCM, &jwe_key(secret)).ok()?,
            );
            let iv: [u8; 12] = URL_SAFE_NO_PAD.decode(iv).ok()?.try_into().ok()?;
            let mut data = URL_SAFE_NO_PAD.decode(ct).ok()?;
            data.extend(URL_SAFE_NO_PAD.decode(tag).ok()?);
            let plain = key
                .open_in_place(
                    aead::Nonce::assume_unique_for_key(iv),
                    aead::Aad::from(h.as_bytes()),
                    &mut data,
                )
                .ok()?;
            let claims: Map<String, Value> = serde_json::from_slice(plain).ok()?;
            let exp = claims.get("exp")?.as_i64()? * 1000;
            Some((claims, exp))
        }
    }
}

/// Queues a fresh copy of `s` for the browser (`get-session` only).
pub fn write(state: &AppState, ctx: &RequestContext, s: &AuthSession) {
    let cfg = &state.config.session.cookie_cache;
    let remember = !ctx.dont_remember(state);
    // A browser-session sign-in gets a short-lived copy without Max-Age (Better Auth: 60 s).
    let lifetime = if remember { cfg.max_age } else { 60 };
    let expires_at = now_ms(state) + lifetime * 1000;
    let Some(value) = encode(state, payload(state, s), expires_at) else {
        return;
    };
    let names = &state.cookies;
    if value.len() > MAX_COOKIE_BYTES {
        ctx.set_cookie(&names.session_data, names.expire(&names.session_data));
        return;
    }
    ctx.set_cookie(
        &names.session_data,
        names.set_cookie(&names.session_data, &value, remember.then_some(cfg.max_age)),
    );
}

/// The session the browser's copy holds, when it may be trusted: ours,
/// for this very session token, of the current version, unexpired, and
/// written after anything that invalidated its session or user. An
/// unusable copy is expired.
pub fn read(state: &AppState, ctx: &RequestContext, raw_token: &str) -> Option<SessionWithUser> {
    let names = &state.cookies;
    let value = ctx.cookies.get(&names.session_data)?;
    let fresh = decode(state, value).and_then(|(p, expires_at)| {
        let now = now_ms(state);
        let session = p.get("session")?;
        let user = p.get("user")?;
        let updated_at = p.get("updatedAt")?.as_i64()?;
        let session_expires = session
            .get("expiresAt")
            .and_then(Value::as_str)
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())?
            .timestamp_millis();
        let usable = expires_at > now
            && session_expires > now
            && session.get("token")?.as_str()? == raw_token
            && p.get("version")?.as_str()? == state.config.session.cookie_cache.version
            && !state.sessions.invalidated_since(
                &token::hash_token(raw_token),
                user.get("id")?.as_str()?,
                updated_at,
            );
        usable.then(|| (session.clone(), user.clone()))
    });
    let Some((session, user)) = fresh else {
        ctx.set_cookie(&names.session_data, names.expire(&names.session_data));
        return None;
    };
    Some(SessionWithUser {
        session: ParseFromJSON::parse_from_json(Some(session)).ok()?,
        user: ParseFromJSON::parse_from_json(Some(user)).ok()?,
    })
}
